//! Off Lambda: the local WebSocket gateway.

use crate::BoxError;
use crate::websocket::WebSocketAdapter;

/// Serves a WebSocket adapter on the local gateway.
pub async fn serve_websocket(_adapter: WebSocketAdapter) -> Result<(), BoxError> {
    Err("the local gateway is not built yet".into())
}
