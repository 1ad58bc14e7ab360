//! `chat-disconnect`, one function of the chat app (see `examples/chat_app.rs`): on Lambda
//! it serves only its own routes; locally it runs the whole app, as `chat-app` does.

#[tokio::main]
async fn main() -> Result<(), fabric::BoxError> {
    fabric::run(fabric_examples::chat_app::app().serve("chat-disconnect")).await
}
