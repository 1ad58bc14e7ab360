//! A test kit for services, with no sockets and no AWS: the events AWS sends, an
//! in-process API Gateway to connect clients to, a Management API that records
//! posts, and a [`Context`](crate::Context) on which `ctx.websocket()` works.
//!
//! - [`WebSocketEvent`] and [`HttpEvent`] build every event Fabric reads —
//!   WebSocket CONNECT, MESSAGE and DISCONNECT; REST API (payload 1.0), HTTP API
//!   (payload 2.0), function URL and ALB requests — as the JSON AWS sends, for
//!   [`WebSocketAdapter::handle_json`](crate::websocket::WebSocketAdapter::handle_json)
//!   and [`HttpRouter::invoke_lambda`](crate::http::HttpRouter::invoke_lambda).
//! - [`TestGateway`] serves a WebSocket adapter, or an app's WebSocket API, in the
//!   test's process: [`TestClient`]s connect, send, read what was posted to them,
//!   and disconnect, each event going through the adapter as Lambda's JSON.
//! - [`RecordingManagementApi`] keeps every post, by connection.
//! - [`TestConnection`] and [`test_context`] give the context of one message, to
//!   call a service's typed function directly.
//!
//! A service's first test:
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use fabric::prelude::*;
//! use fabric::store::MemoryStore;
//! use fabric::testing::TestGateway;
//!
//! #[derive(Deserialize, Input)]
//! struct Join { room: String }
//!
//! #[fabric_service]
//! async fn join(input: Join, ctx: Context) -> Result<(), Error> {
//!     ctx.join(&input.room).await?;
//!     ctx.send_message(json!({"joined": input.room})).await
//! }
//!
//! let gateway = TestGateway::new(fabric_websocket(join).store(MemoryStore::new()));
//! let client = gateway.connect().await.unwrap();
//! client.send(json!({"room": "general"})).await;
//! client.send(json!({"room": ""})).await;
//! let received = client.received();
//! assert_eq!(received[0], json!({"joined": "general"}));
//! assert_eq!(received[1]["errors"][0]["status"], 400);
//! # })
//! ```

#[cfg(feature = "websocket")]
mod connection;
#[cfg(feature = "websocket")]
mod gateway;
#[cfg(feature = "http")]
mod http_events;
#[cfg(feature = "websocket")]
mod hub;
#[cfg(feature = "websocket")]
mod management;
#[cfg(feature = "websocket")]
mod websocket_events;

#[cfg(feature = "websocket")]
pub use connection::{TestConnection, test_context};
#[cfg(feature = "websocket")]
pub use gateway::{Answer, Refused, TestClient, TestGateway};
#[cfg(feature = "http")]
pub use http_events::HttpEvent;
#[cfg(feature = "websocket")]
pub use management::RecordingManagementApi;
#[cfg(feature = "websocket")]
pub use websocket_events::WebSocketEvent;

use chrono::DateTime;
use serde_json::{Map, Value, json};

/// `name: last value` and `name: [values]`, as API Gateway writes headers and query
/// parameters; names keep the case they were given.
fn insert_pairs(
    event: &mut Map<String, Value>,
    single: &str,
    multi: &str,
    pairs: &[(String, String)],
) {
    let mut one = Map::new();
    let mut all = Map::new();
    for (name, value) in pairs {
        one.insert(name.clone(), json!(value));
        match all.entry(name.clone()).or_insert_with(|| json!([])) {
            Value::Array(values) => values.push(json!(value)),
            _ => unreachable!("multi-value entries are arrays"),
        }
    }
    event.insert(single.to_owned(), Value::Object(one));
    event.insert(multi.to_owned(), Value::Object(all));
}

/// `22/Nov/2026:01:20:00 +0000`.
fn request_time(millis: i64) -> String {
    DateTime::from_timestamp_millis(millis)
        .unwrap_or_default()
        .format("%d/%b/%Y:%H:%M:%S +0000")
        .to_string()
}
