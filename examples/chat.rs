//! The `chat` example: rooms over an API Gateway WebSocket API (DESIGN.md §1).
//!
//! Clients connect with `?token=...` (checked against `CHAT_TOKEN`, default
//! `dev-token`), then send `{"action": "join", "room": "general"}`,
//! `{"action": "message", "room": "general", "content": "hi"}` and
//! `{"action": "leave", "room": "general"}`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use fabric::prelude::*;
use fabric::websocket::{Accept, Disconnect, WebSocketAdapter, fabric_websocket};

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

/// Who is in which room. Kept in memory: one process serves every connection on the
/// local gateway; on Lambda, use the connection store.
#[derive(Debug, Default)]
pub struct Rooms {
    members: Mutex<HashMap<String, BTreeSet<String>>>,
}

impl Rooms {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, BTreeSet<String>>) -> T) -> T {
        f(&mut self.members.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Adds a connection to a room.
    pub fn join(&self, room: &str, connection_id: &str) {
        self.with(|rooms| {
            rooms
                .entry(room.to_owned())
                .or_default()
                .insert(connection_id.to_owned())
        });
    }

    /// Removes a connection from a room.
    pub fn leave(&self, room: &str, connection_id: &str) {
        self.with(|rooms| {
            if let Some(members) = rooms.get_mut(room) {
                members.remove(connection_id);
                if members.is_empty() {
                    rooms.remove(room);
                }
            }
        });
    }

    /// Removes a connection from every room.
    pub fn forget(&self, connection_id: &str) {
        self.with(|rooms| {
            rooms.retain(|_, members| {
                members.remove(connection_id);
                !members.is_empty()
            })
        });
    }

    /// The connections in a room.
    pub fn members(&self, room: &str) -> Vec<String> {
        self.with(|rooms| {
            rooms
                .get(room)
                .map(|m| m.iter().cloned().collect())
                .unwrap_or_default()
        })
    }
}

/// Join rooms and talk in them.
#[fabric_service(alias = "chat", description = "Join rooms and talk in them")]
pub async fn chat(input: ChatInput, ctx: Context) -> Result<Value, Error> {
    let ws = ctx
        .websocket()
        .ok_or_else(|| Error::bad_request("chat needs a WebSocket connection"))?;
    let rooms = ctx.state::<Rooms>()?;
    let me = ws.connection_id();
    let room = input.room;
    match input.action {
        Action::Join => {
            rooms.join(&room, me);
            ctx.send_message(json!({ "joined": room })).await?;
            Ok(json!({ "joined": room }))
        }
        Action::Leave => {
            rooms.leave(&room, me);
            ctx.send_message(json!({ "left": room })).await?;
            Ok(json!({ "left": room }))
        }
        Action::Message => {
            let content = input.content.filter(|c| !c.is_empty()).ok_or_else(|| {
                Error::bad_request(r#"Validation failed for field "content": is required when action is "message""#)
                    .with_pointer("/content")
            })?;
            let members = rooms.members(&room);
            if !members.iter().any(|m| m == me) {
                return Err(Error::forbidden(format!(
                    "Join the room \"{room}\" before sending messages to it"
                )));
            }
            let message = json!({ "room": room, "from": me, "content": content });
            let report = ws.broadcast(&members, &message).await?;
            for gone in report.gone() {
                rooms.forget(gone);
            }
            Ok(json!({ "delivered": report.delivered().len() }))
        }
    }
}

/// Accepts a connection whose `token` query parameter equals `CHAT_TOKEN` (default
/// `dev-token`); anything else is a 401 and no connection.
pub async fn check_token(ctx: Context) -> Result<Accept, Error> {
    let expected = std::env::var("CHAT_TOKEN").unwrap_or_else(|_| "dev-token".to_owned());
    let given = ctx.websocket().and_then(|ws| ws.query_param("token"));
    match given {
        Some(token) if token == expected => Ok(Accept::new()),
        Some(_) => Err(Error::unauthorized("The token is not valid")),
        None => Err(Error::unauthorized("Connect with ?token=<token>")),
    }
}

/// Takes a closed connection out of every room.
pub async fn forget_connection(ctx: Context, _info: Disconnect) {
    if let (Ok(rooms), Some(id)) = (ctx.state::<Rooms>(), ctx.connection_id()) {
        rooms.forget(id);
    }
}

/// The chat adapter the `chat` binary serves.
pub fn adapter() -> WebSocketAdapter {
    fabric_websocket(chat)
        .on_connect(check_token)
        .on_disconnect(forget_connection)
        .state(Rooms::default())
        .local_page(PAGE)
}

/// The chat page the local gateway serves at `http://127.0.0.1:3001/`.
pub const PAGE: &str = include_str!("chat.html");
