//! `chat-authorizer`, the chat app's Lambda authorizer (see `examples/chat_app.rs`):
//! on Lambda it checks each handshake's JWT; locally it runs the whole app.

#[tokio::main]
async fn main() -> Result<(), fabric::BoxError> {
    fabric::run(fabric_examples::chat_app::app().serve("chat-authorizer")).await
}
