//! The echo example: `cargo run --bin echo` serves it on the local gateway.

#[tokio::main]
async fn main() -> Result<(), fabric::BoxError> {
    fabric::run(fabric_examples::echo::adapter()).await
}
