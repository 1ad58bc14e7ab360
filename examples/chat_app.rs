//! The chat as an application of five functions behind one WebSocket API, one
//! connection table shared: the layout where each route has a Lambda of its own.
//!
//! | Route | Function | Does |
//! |---|---|---|
//! | (authorizer) | `chat-authorizer` | checks the HS256 JWT of `?token=` (secret `CHAT_JWT_SECRET`); the user is its `sub` |
//! | `$connect` | `chat-connect` | saves the connection, behind `chat-authorizer` |
//! | `$disconnect` | `chat-disconnect` | logs the close; the store forgets the connection |
//! | `$default` | `chat-default` | `{"action": "join" \| "leave", "room": ...}` |
//! | `sendMessage` | `chat-send` | `{"action": "sendMessage", "room": ..., "content": ...}` broadcasts to the room |
//! | (every 15 minutes) | `chat-sweep` | forgets the stored connections API Gateway no longer has |
//!
//! A development token: `cargo run --bin mint-token -- alice` (signed with
//! `CHAT_JWT_SECRET`, default [`DEV_JWT_SECRET`]).
//!
//! Each function is a binary of one line (`examples/bin/chat_*.rs`); `cargo run --bin
//! chat-app` serves the whole app on the local gateway, and `--print-template` prints
//! its template.

use std::sync::OnceLock;
use std::time::Duration;

use fabric::app::App;
use fabric::jwt::JwtVerifier;
use fabric::prelude::*;
use fabric::secrets::{Secrets, SecretsBuilder};
use fabric::store;
use fabric::websocket::{
    Authorized, AuthorizerAdapter, AuthorizerRequest, Disconnect, IdentitySource, Sweep,
    WebSocketAdapter, fabric_authorizer,
};

use crate::chat::sender;

/// The development secret the chat's tokens are signed with when `CHAT_JWT_SECRET`
/// is not set: fine on a laptop, never in a deployment.
pub const DEV_JWT_SECRET: &str = "dev-secret-change-me";

/// `CHAT_JWT_SECRET`, or the development default: what [`mint_token`] signs with.
pub fn jwt_secret() -> String {
    fabric::env::var("CHAT_JWT_SECRET").unwrap_or_else(|| DEV_JWT_SECRET.to_owned())
}

/// `CHAT_JWT_SECRET` as `chat-authorizer`'s secret: `SECRET_CHAT_JWT_SECRET` names a
/// Secrets Manager secret (as the template sets it on Lambda), else
/// `CHAT_JWT_SECRET` is the value, else the development default.
pub fn jwt_secret_source() -> SecretsBuilder {
    Secrets::builder(["CHAT_JWT_SECRET"]).lookup(|name| {
        fabric::env::var(name)
            .or_else(|| (name == "CHAT_JWT_SECRET").then(|| DEV_JWT_SECRET.to_owned()))
    })
}

/// What `chat-authorizer` lets every event of the connection see.
#[derive(Debug, Serialize)]
pub struct ChatCaller {
    /// The user, the token's `sub`.
    pub user: String,
}

/// `chat-authorizer`: `?token=` must be an HS256 JWT signed with `CHAT_JWT_SECRET`
/// whose `sub` is the user; a missing token is API Gateway's 401 before this runs,
/// a bad one (expired, bad signature) a 401 with the reason in the log.
pub fn authorizer() -> AuthorizerAdapter {
    fabric_authorizer(
        [IdentitySource::Query("token".into())],
        |request: AuthorizerRequest| {
            async move {
                // Made per request from the cached secret, so a rotated one applies
                // once the secret's time to live has passed.
                let secret = request.secret("CHAT_JWT_SECRET").await?;
                let verifier = JwtVerifier::hs256(secret.expose());
                let token = request.query_param("token").unwrap_or_default();
                let claims: Value = verifier.verify(token).await?;
                let user = claims["sub"].as_str().unwrap_or_default().to_owned();
                if user.is_empty() {
                    return Err(Error::unauthorized("the token has no `sub`"));
                }
                Ok(Authorized {
                    principal_id: user.clone(),
                    context: ChatCaller { user },
                })
            }
        },
    )
    .secrets_from(jwt_secret_source())
}

/// A development token for `user`: HS256 with `CHAT_JWT_SECRET` (or the default),
/// valid for 12 hours.
pub fn mint_token(user: &str) -> Result<String, Error> {
    let expires = chrono::Utc::now().timestamp() + 12 * 3600;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "sub": user, "exp": expires }),
        &jsonwebtoken::EncodingKey::from_secret(jwt_secret().as_bytes()),
    )
    .map_err(Error::internal)
}

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
            // `from` (and the connection id) tells a client which messages are its own.
            json!({ "joined": input.room, "connectionId": ctx.connection_id(), "from": sender(&ctx).await? })
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
    let from = sender(&ctx).await?;
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

/// The application: its API, its store, its five functions and its sweep.
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
                .authorizer("chat-authorizer")
                .local_page(page())
        })
        .function(
            "chat-connect",
            WebSocketAdapter::new()
                .metrics("FabricChat")
                .track_connections(),
        )
        .function("chat-authorizer", authorizer())
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
        .function(
            "chat-sweep",
            Sweep::app_store()
                .sweeps("Chat")
                .every(Duration::from_secs(15 * 60)),
        )
}

/// The chat page, sending its messages on the `sendMessage` route, its token field
/// filled with a development token for `guest` (paste a minted one to be someone
/// else).
pub fn page() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| {
        let token = mint_token("guest").unwrap_or_default();
        crate::chat::PAGE
            .replace(r#"action: "message""#, r#"action: "sendMessage""#)
            .replace(r#"value="dev-token""#, &format!(r#"value="{token}""#))
    })
}
