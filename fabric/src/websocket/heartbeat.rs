//! The built-in heartbeat: `{"action":"ping"}` is answered `{"action":"pong"}`.
//!
//! API Gateway closes a WebSocket connection after 10 minutes without a message
//! (and any connection after 2 hours); WebSocket ping control frames are not
//! forwarded to routes, so browsers, which cannot send them, keep a connection
//! open with a small message instead. Every Fabric WebSocket API answers one
//! unless a route named `ping` is the user's own, or the adapter turns it off with
//! [`heartbeat(false)`](super::WebSocketAdapter::heartbeat).

use super::router::WebSocketRouter;

/// The route key, and the `action` value, of a heartbeat.
pub const PING_ACTION: &str = "ping";

/// The frame a heartbeat is answered with.
pub const PONG_FRAME: &str = r#"{"action":"pong"}"#;

/// Whether a message (its selected route `selected`, arriving on `route_key`) is a
/// heartbeat the built-in ping answers: no service of `router` is routed by name to
/// `ping`.
pub(super) fn is_ping(router: &WebSocketRouter, route_key: &str, selected: Option<&str>) -> bool {
    let asked = match route_key {
        "$default" => selected,
        key => Some(key),
    };
    asked == Some(PING_ACTION) && !router.has_route(PING_ACTION)
}
