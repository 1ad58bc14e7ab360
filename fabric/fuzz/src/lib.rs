//! What the fuzz targets share: a chat adapter and an HTTP router like the
//! examples', an input struct with every field type Fabric coerces, the in-memory
//! gateway, and one runtime whose clock is paused, so the gateway's timers cost
//! no waiting.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, LazyLock};

use fabric::http::{HttpRouter, Method, Route};
use fabric::local::{Gateway, MemoryGateway};
use fabric::prelude::*;
use fabric::store::MemoryStore;
use fabric::websocket::{ConnectionInfo, ManagementApi, ManagementError, WebSocketAdapter};

/// Runs `future` to completion on the targets' one runtime.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("a runtime");
    }
    RUNTIME.with(|runtime| runtime.block_on(future))
}

/// A Management API that takes every post and keeps none: millions of inputs
/// must not fill memory, and nothing may leave the process.
#[derive(Debug)]
pub struct Discard;

#[fabric::async_trait]
impl ManagementApi for Discard {
    async fn post(&self, _id: &str, data: &[u8]) -> Result<(), ManagementError> {
        // Every post a service makes is JSON.
        serde_json::from_slice::<Value>(data).expect("posts are JSON");
        Ok(())
    }
    async fn get(&self, _id: &str) -> Result<ConnectionInfo, ManagementError> {
        Err(ManagementError::Gone)
    }
    async fn delete(&self, _id: &str) -> Result<(), ManagementError> {
        Err(ManagementError::Gone)
    }
}

/// join, leave or message.
#[derive(Debug, Clone, Copy, Deserialize, Input)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Join a room
    Join,
    /// Leave a room
    Leave,
    /// Say something
    Message,
}

/// A chat message, as the chat example takes it.
#[derive(Debug, Deserialize, Validate, Input)]
pub struct ChatInput {
    /// What to do
    pub action: Action,
    /// The room
    #[validate(length(min = 1, max = 64))]
    pub room: String,
    /// The text
    pub content: Option<String>,
}

/// The chat example's service, posting to rooms.
#[fabric_service(alias = "chat")]
pub async fn chat(input: ChatInput, ctx: Context) -> Result<Value, Error> {
    match input.action {
        Action::Join => {
            ctx.join(&input.room).await?;
            ctx.send_message(json!({"joined": input.room})).await?;
        }
        Action::Leave => ctx.leave(&input.room).await?,
        Action::Message => {
            let content = input.content.unwrap_or_default();
            ctx.broadcast_room(&input.room, json!({"content": content}))
                .await?;
        }
    }
    Ok(json!({"ok": true}))
}

/// A chat adapter: `$connect` wants `?token=t`, connections and rooms in a memory
/// store, results posted back, posts discarded.
pub fn chat_adapter(store: Arc<MemoryStore>) -> WebSocketAdapter {
    fabric_websocket(WebSocketRouter::new().service(chat).fallback(everything))
        .on_connect(|ctx: Context| async move {
            match ctx.websocket().and_then(|ws| ws.query_param("token")) {
                Some("t") => Ok(Accept::new().user("fuzz").metadata("plan", "pro")),
                _ => Err(Error::unauthorized("a token is required")),
            }
        })
        .shared_store(store)
        .management_api(Arc::new(Discard))
        .reply(true)
}

/// One of a fixed set of names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Input)]
#[serde(rename_all = "kebab-case")]
pub enum Colour {
    /// Red
    DeepRed,
    /// Green
    Green,
}

/// A nested object.
#[derive(Debug, Deserialize, Validate, Input)]
pub struct Inner {
    /// A number
    pub n: u8,
    /// A word
    pub word: Option<String>,
}

/// Every field type Fabric coerces.
#[derive(Debug, Deserialize, Validate, Input)]
pub struct Everything {
    /// bool
    pub flag: bool,
    /// i8
    pub tiny: Option<i8>,
    /// i16
    pub small: Option<i16>,
    /// i32
    pub medium: Option<i32>,
    /// i64
    pub big: i64,
    /// isize
    pub size: Option<isize>,
    /// u8
    pub byte: Option<u8>,
    /// u16
    pub port: Option<u16>,
    /// u32
    #[input(default = 7)]
    pub count: u32,
    /// u64
    pub huge: Option<u64>,
    /// usize
    pub index: Option<usize>,
    /// f32
    pub ratio: Option<f32>,
    /// f64
    pub amount: f64,
    /// String
    #[validate(length(max = 64))]
    pub name: String,
    /// Vec of integers
    pub numbers: Vec<i32>,
    /// Vec of strings
    pub tags: Option<Vec<String>>,
    /// A set
    pub unique: Option<HashSet<String>>,
    /// A map
    pub scores: Option<HashMap<String, u16>>,
    /// An ordered map
    pub labels: Option<BTreeMap<String, String>>,
    /// A nested object
    pub inner: Option<Inner>,
    /// A list of objects
    pub items: Option<Vec<Inner>>,
    /// A choice
    pub colour: Option<Colour>,
    /// A list of choices
    pub colours: Option<Vec<Colour>>,
    /// A UTC time
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    /// A time with its offset
    pub local: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Anything
    pub extra: Option<Value>,
    /// Boxed
    pub boxed: Option<Box<u16>>,
}

/// Takes [`Everything`] and says what it got.
#[fabric_service(alias = "everything")]
pub async fn everything(input: Everything, _ctx: Context) -> Result<Value, Error> {
    Ok(json!({"name": input.name, "numbers": input.numbers.len()}))
}

/// Divides; a route with a path parameter.
#[derive(Debug, Deserialize, Validate, Input)]
pub struct Division {
    /// The dividend
    #[input(default = 12)]
    pub numerator: f64,
    /// The divisor
    #[input(default = 3)]
    pub denominator: f64,
}

/// Divides two numbers.
#[fabric_service(alias = "division")]
pub async fn division(input: Division, _ctx: Context) -> Result<f64, Error> {
    if input.denominator == 0.0 {
        return Err(Error::invalid_field("denominator", "must not be zero"));
    }
    Ok(input.numerator / input.denominator)
}

/// The HTTP router the events go to: default routes, a path parameter, a POST-only
/// route, and the service that takes every field type.
pub static ROUTER: LazyLock<HttpRouter> = LazyLock::new(|| {
    HttpRouter::new()
        .route(division)
        .route(
            Route::new(division)
                .path("/divide/:numerator")
                .methods([Method::POST]),
        )
        .route(everything)
});

/// A gateway for the chat adapter over in-memory connections, and its store.
pub static GATEWAY: LazyLock<(MemoryGateway, Arc<MemoryStore>)> = LazyLock::new(|| {
    let store = Arc::new(MemoryStore::new());
    let gateway = Gateway::new(chat_adapter(store.clone())).in_memory();
    (gateway, store)
});

/// A handshake for the chat gateway, as a browser sends one.
pub const HANDSHAKE: &[u8] = b"GET /?token=t HTTP/1.1\r\nHost: 127.0.0.1:3001\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// Lets the gateway finish what a closed connection left (its `$disconnect`),
/// then checks that nothing of it is left: no connection, no store entry.
pub async fn assert_all_closed() {
    let (gateway, store) = &*GATEWAY;
    for _ in 0..10_000 {
        if gateway.connection_count() == 0 && store.is_empty() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    panic!(
        "a closed connection was left behind: {} in the gateway, {} in the store",
        gateway.connection_count(),
        store.len()
    );
}

/// An answer's status line, which every answer of the gateway starts with.
pub fn assert_http_answer(output: &[u8]) {
    if output.is_empty() {
        return; // closed without an answer (a head that never completed)
    }
    assert!(
        output.starts_with(b"HTTP/1.1 ") || output.starts_with(b"HTTP/1.0 "),
        "the gateway answered with something that is not HTTP: {:?}",
        String::from_utf8_lossy(&output[..output.len().min(200)])
    );
}
