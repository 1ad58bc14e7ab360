//! The `echo` example: a two-way WebSocket API that says back what it receives.
//! The load tool measures the gateway with it, and its `boom` route shows that a
//! panicking service is a 500 and the connection keeps working.

use fabric::prelude::*;
use fabric::websocket::WebSocketAdapter;

/// Anything to say back.
#[derive(Debug, Deserialize, Input)]
pub struct EchoInput {
    /// The text to echo
    #[serde(default)]
    pub text: String,
}

/// Says the text back.
#[fabric_service(alias = "echo", description = "Say the text back")]
pub async fn echo(input: EchoInput, _ctx: Context) -> Result<Value, Error> {
    Ok(json!({ "text": input.text }))
}

/// Panics, to show what a bug in a service does to the connection: nothing.
#[fabric_service(alias = "boom", description = "Panic on purpose")]
pub async fn boom(input: EchoInput, _ctx: Context) -> Result<Value, Error> {
    panic!("boom: {}", input.text);
}

/// `echo` and `boom` as two-way routes: API Gateway (and the local gateway) return
/// each result to the sender, no Management API call needed.
pub fn adapter() -> WebSocketAdapter {
    fabric_websocket(
        WebSocketRouter::new()
            .service(echo)
            .service(boom)
            .fallback(echo),
    )
    .two_way(true)
}
