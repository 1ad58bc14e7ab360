//! The chat app of four functions on one local gateway: `cargo run --bin chat-app`
//! (ws://127.0.0.1:3001, token `dev-token`, the page at http://127.0.0.1:3001/);
//! `--print-template` prints the whole app's template.

/// Broadcasts allocate on every worker thread; mimalloc keeps that cheap.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), fabric::BoxError> {
    fabric::run(fabric_examples::chat_app::app()).await
}
