//! `chat-sweep`, the chat app's stale-connection sweep (see `examples/chat_app.rs`):
//! on Lambda, run by its EventBridge schedule; off Lambda, one run against the
//! app's store (`FABRIC_CONNECTIONS_TABLE`, or an empty in-memory store) and
//! `FABRIC_MANAGEMENT_ENDPOINT`, its report on stdout.

#[tokio::main]
async fn main() -> Result<(), fabric::BoxError> {
    fabric::run(fabric_examples::chat_app::app().serve("chat-sweep")).await
}
