//! The chat as an application of four functions behind one WebSocket API, one
//! connection table shared: the layout where each route has a Lambda of its own.
//!
//! | Route | Function | Does |
//! |---|---|---|
//! | `$connect` | `chat-connect` | checks `?token=` (as the `chat` example does) |
//! | `$disconnect` | `chat-disconnect` | logs the close; the store forgets the connection |
//! | `$default` | `chat-default` | `{"action": "join" \| "leave", "room": ...}` |
//! | `sendMessage` | `chat-send` | `{"action": "sendMessage", "room": ..., "content": ...}` broadcasts to the room |
//!
//! Each function is a binary of one line (`examples/bin/chat_*.rs`); `cargo run --bin
//! chat-app` serves the whole app on the local gateway, and `--print-template` prints
//! its template.

use std::sync::OnceLock;

use fabric::app::App;
use fabric::prelude::*;
use fabric::store;
use fabric::websocket::{Disconnect, WebSocketAdapter};

use crate::chat::check_token;

/// What `chat-default` answers: joining and leaving rooms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Input)]
#[serde(rename_all = "lowercase")]
pub enum Membership {
    /// Join a room
    Join,
    /// Leave a room
    Leave,
}

/// A `$default` message: join or leave a room.
#[derive(Debug, Deserialize, Validate, Input)]
pub struct MembershipInput {
    /// join or leave
    pub action: Membership,
    /// Room name
    #[validate(length(min = 1, max = 64))]
    pub room: String,
}

/// Joins or leaves a room (`$default`, in `chat-default`).
#[fabric_service(alias = "membership", description = "Join or leave a room")]
pub async fn membership(input: MembershipInput, ctx: Context) -> Result<Value, Error> {
    let reply = match input.action {
        Membership::Join => {
            ctx.join(&input.room).await?;
            // The connection id tells a client which messages are its own.
            json!({ "joined": input.room, "connectionId": ctx.connection_id() })
        }
        Membership::Leave => {
            ctx.leave(&input.room).await?;
            json!({ "left": input.room })
        }
    };
    ctx.send_message(&reply).await?;
    Ok(reply)
}

/// A `sendMessage` message.
#[derive(Debug, Deserialize, Validate, Input)]
pub struct SendInput {
    /// Room name
    #[validate(length(min = 1, max = 64))]
    pub room: String,
    /// What to say
    #[validate(length(min = 1, max = 16000))]
    pub content: String,
}

/// Sends a message to everyone in a room (`sendMessage`, in `chat-send`).
#[fabric_service(alias = "sendMessage", description = "Say something in a room")]
pub async fn send_message(input: SendInput, ctx: Context) -> Result<Value, Error> {
    if !ctx.in_room(&input.room).await? {
        return Err(Error::forbidden(format!(
            "Join the room \"{}\" before sending messages to it",
            input.room
        )));
    }
    let from = ctx.connection_id().unwrap_or_default();
    let message = json!({ "room": input.room, "from": from, "content": input.content });
    let report = ctx.broadcast_room(&input.room, &message).await?;
    Ok(json!({ "delivered": report.delivered().len() }))
}

/// `chat-disconnect`'s hook: one log line per close; the store forgets the
/// connection and its rooms by itself.
async fn closed(ctx: Context, info: Disconnect) {
    tracing::info!(
        connection_id = ctx.connection_id().unwrap_or_default(),
        code = info.status_code,
        "chat-disconnect: connection closed"
    );
}

/// The application: its API, its store and its four functions.
pub fn app() -> App {
    app_with(send_routes())
}

/// What `chat-send` serves: the `sendMessage` route.
pub fn send_routes() -> WebSocketRouter {
    WebSocketRouter::new().service(send_message)
}

/// The application with `send` as `chat-send`'s routes: every custom route key of a
/// function is a route of the API, so a route added here reaches the template.
pub fn app_with(send: WebSocketRouter) -> App {
    App::new("ChatApp")
        .description("The chat as four functions behind one WebSocket API")
        .store(store::from_env)
        .websocket_api("Chat", |api| {
            api.route("$connect", "chat-connect")
                .route("$disconnect", "chat-disconnect")
                .route("$default", "chat-default")
                .route("sendMessage", "chat-send")
                .local_page(page())
        })
        .function(
            "chat-connect",
            WebSocketAdapter::new()
                .on_connect(check_token)
                .secrets_from(crate::chat::chat_token())
                .metrics("FabricChat")
                .track_connections(),
        )
        .function(
            "chat-disconnect",
            WebSocketAdapter::new()
                .on_disconnect(closed)
                .track_connections(),
        )
        .function(
            "chat-default",
            fabric_websocket(membership).track_connections(),
        )
        .function("chat-send", fabric_websocket(send).track_connections())
}

/// The chat page, sending its messages on the `sendMessage` route.
pub fn page() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| {
        crate::chat::PAGE.replace(r#"action: "message""#, r#"action: "sendMessage""#)
    })
}
