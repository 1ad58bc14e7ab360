//! The chat example: `cargo run --bin chat` starts the local gateway on
//! ws://127.0.0.1:3001; on Lambda the same binary answers API Gateway events.
//! Set `FABRIC_CONNECTIONS_TABLE` to keep connections and rooms in DynamoDB
//! (create the tables with `cargo run --bin create-tables`).

/// A broadcast's SDK calls allocate on every worker thread; mimalloc keeps that
/// cheap where glibc's allocator contends (see `roomload`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), fabric::BoxError> {
    fabric::run(fabric_examples::chat::adapter()).await
}
