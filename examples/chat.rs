//! The `chat` example: rooms over an API Gateway WebSocket API.
//!
//! Clients connect with `?token=...` (checked against `CHAT_TOKEN`, default
//! `dev-token`), then send `{"action": "join", "room": "general"}`,
//! `{"action": "message", "room": "general", "content": "hi"}` and
//! `{"action": "leave", "room": "general"}`.
//!
//! `{"action": "ping"}` is answered `{"action": "pong"}` (send one every 5 to 9
//! minutes to stay under API Gateway's 10-minute idle timeout). Each connection may
//! send 10 messages a second, 20 at once; more get a 429 error frame with
//! `meta.retryAfterMs`. `CHAT_RATE_LIMIT` changes that (`rate/burst`, e.g. `5/10`,
//! or `off`).
//!
//! Rooms live in the connection store: in memory on the local gateway, in DynamoDB
//! when `FABRIC_CONNECTIONS_TABLE` names the connections table (see README,
//! "Connection tracking and rooms").

use fabric::prelude::*;
use fabric::secrets::{Secrets, SecretsBuilder};
use fabric::store::{EnvBuckets, SharedStore};
use fabric::websocket::{Accept, RateLimit, WebSocketAdapter, fabric_websocket};

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Input)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Join a room
    Join,
    /// Leave a room
    Leave,
    /// Say something in a room
    Message,
}

/// What a chat client sends.
#[derive(Debug, Deserialize, Validate, Input)]
pub struct ChatInput {
    /// join, leave or message
    pub action: Action,
    /// Room name
    #[validate(length(min = 1, max = 64))]
    pub room: String,
    /// Text, for action = message
    #[validate(length(max = 16000))]
    pub content: Option<String>,
}

/// Join rooms and talk in them.
#[fabric_service(alias = "chat", description = "Join rooms and talk in them")]
pub async fn chat(input: ChatInput, ctx: Context) -> Result<Value, Error> {
    let room = input.room;
    match input.action {
        Action::Join => {
            ctx.join(&room).await?;
            // `from` (and the connection id) tells a client which messages are its own.
            let joined = json!({ "joined": room, "connectionId": ctx.connection_id(), "from": sender(&ctx).await? });
            ctx.send_message(&joined).await?;
            Ok(joined)
        }
        Action::Leave => {
            ctx.leave(&room).await?;
            ctx.send_message(json!({ "left": room })).await?;
            Ok(json!({ "left": room }))
        }
        Action::Message => {
            let content = input.content.filter(|c| !c.is_empty()).ok_or_else(|| {
                Error::invalid_field("content", r#"is required when action is "message""#)
            })?;
            if !ctx.in_room(&room).await? {
                return Err(Error::forbidden(format!(
                    "Join the room \"{room}\" before sending messages to it"
                )));
            }
            let message = json!({ "room": room, "from": sender(&ctx).await?, "content": content });
            let report = ctx.broadcast_room(&room, &message).await?;
            Ok(json!({ "delivered": report.delivered().len() }))
        }
    }
}

/// Who sent a message: the caller's user (`ctx.identity()`: an authorizer's
/// principal, or the user `$connect` saved), else the connection id.
pub async fn sender(ctx: &Context) -> Result<String, Error> {
    Ok(match ctx.identity().await? {
        Some(identity) => identity.user_id,
        None => ctx.connection_id().unwrap_or_default().to_owned(),
    })
}

/// Accepts a connection whose `token` query parameter equals `CHAT_TOKEN` (default
/// `dev-token`); anything else is a 401 and no connection. An optional `user`
/// parameter ties the connection to that user in the connection store.
pub async fn check_token(ctx: Context) -> Result<Accept, Error> {
    let expected = ctx.secret("CHAT_TOKEN").await?;
    let expected = expected.expose();
    let ws = ctx.websocket();
    let given = ws.and_then(|ws| ws.query_param("token"));
    let accept = match given {
        Some(token) if token == expected => Accept::new(),
        Some(_) => return Err(Error::unauthorized("The token is not valid")),
        None => return Err(Error::unauthorized("Connect with ?token=<token>")),
    };
    Ok(match ws.and_then(|ws| ws.query_param("user")) {
        Some(user) if !user.is_empty() => accept.user(user),
        _ => accept,
    })
}

/// `CHAT_TOKEN` as a secret: `SECRET_CHAT_TOKEN` names a Secrets Manager secret
/// (as the template sets it on Lambda), else `CHAT_TOKEN` is the value, else
/// `dev-token` for trying it locally.
pub fn chat_token() -> SecretsBuilder {
    Secrets::builder(["CHAT_TOKEN"]).lookup(|name| {
        fabric::env::var(name).or_else(|| (name == "CHAT_TOKEN").then(|| "dev-token".to_owned()))
    })
}

/// The chat adapter the `chat` binary serves: rooms in DynamoDB when
/// `FABRIC_CONNECTIONS_TABLE` names a table, in memory otherwise (the store is
/// chosen when serving starts).
pub fn adapter() -> WebSocketAdapter {
    limited(
        fabric_websocket(chat)
            .on_connect(check_token)
            .secrets_from(chat_token())
            .metrics("FabricChat")
            .track_connections()
            .local_page(PAGE),
    )
}

/// The chat adapter, keeping connections and rooms in `store`.
pub fn with_store(store: SharedStore) -> WebSocketAdapter {
    limited(
        fabric_websocket(chat)
            .on_connect(check_token)
            .secrets_from(chat_token())
            .metrics("FabricChat")
            .shared_store(store)
            .local_page(PAGE),
    )
}

/// The chat's rate limit per connection when `CHAT_RATE_LIMIT` is unset.
pub const DEFAULT_RATE_LIMIT: &str = "10/20";

/// The chat's rate limit: `CHAT_RATE_LIMIT` (`rate/burst` or `off`), default
/// [`DEFAULT_RATE_LIMIT`]; an unreadable value is logged and the default kept.
pub fn rate_limit() -> Option<RateLimit> {
    let default = || RateLimit::parse(DEFAULT_RATE_LIMIT).ok().flatten();
    match std::env::var("CHAT_RATE_LIMIT") {
        Ok(text) => RateLimit::parse(&text).unwrap_or_else(|err| {
            tracing::warn!(error = %err, "CHAT_RATE_LIMIT ignored");
            default()
        }),
        Err(_) => default(),
    }
}

/// The limit's buckets are in the rate limit table on Lambda (the template makes
/// it), shared by every instance; in memory on the local gateway.
fn limited(adapter: WebSocketAdapter) -> WebSocketAdapter {
    match rate_limit() {
        Some(limit) => adapter.rate_limit(limit.buckets(EnvBuckets::new())),
        None => adapter,
    }
}

/// The chat page the local gateway serves at `http://127.0.0.1:3001/`.
pub const PAGE: &str = include_str!("chat.html");
