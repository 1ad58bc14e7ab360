//! The adapters and the event the `websocket` benches run: the timing bench and
//! the allocation count share them, so both measure the same thing.

use std::hint::black_box;
use std::sync::Arc;

use async_trait::async_trait;
use fabric::prelude::*;
use fabric::websocket::{ConnectionInfo, ManagementApi, ManagementError, WebSocketAdapter};
use futures_util::FutureExt;

// The chat example's own input; the bench's service skips the rooms, which need a
// store, and measures the pipeline around them.
#[path = "../../../examples/chat.rs"]
#[allow(
    dead_code,
    unreachable_pub,
    reason = "only the input type is used here"
)]
mod example;

use example::ChatInput;

#[fabric_service(alias = "chat")]
async fn chat(input: ChatInput, ctx: Context) -> Result<Value, Error> {
    ctx.send_message(json!({ "joined": input.room })).await?;
    Ok(json!({ "ok": true }))
}

/// `chat`, reading the caller's identity first (the store path: no authorizer);
/// it posts the same message, so the difference is the reading alone.
#[fabric_service(alias = "chat")]
async fn chat_identity(input: ChatInput, ctx: Context) -> Result<Value, Error> {
    let identity = ctx.identity().await?.expect("the connection has a user");
    black_box(&identity.user_id);
    ctx.send_message(json!({ "joined": input.room })).await?;
    Ok(json!({ "ok": true }))
}

/// A Management API that accepts every post at once, so the benches measure
/// Fabric, not a network.
struct Discard;

#[async_trait]
impl ManagementApi for Discard {
    async fn post(&self, _id: &str, data: &[u8]) -> Result<(), ManagementError> {
        black_box(data);
        Ok(())
    }
    async fn get(&self, _id: &str) -> Result<ConnectionInfo, ManagementError> {
        Err(ManagementError::Gone)
    }
    async fn delete(&self, _id: &str) -> Result<(), ManagementError> {
        Ok(())
    }
}

/// A MESSAGE event from API Gateway, as Lambda hands it over.
pub(crate) fn event() -> String {
    let fixture = include_str!("../../../tests/fixtures/apigw/websocket-message.json");
    let mut event: Value = serde_json::from_str(fixture).unwrap();
    event["body"] = json!(r#"{"action":"message","room":"general","content":"hello"}"#);
    event.to_string()
}

/// A rate limit (in memory) that never refuses: the bench pays for checking it.
fn never_refusing_limit() -> fabric::websocket::RateLimit {
    fabric::websocket::RateLimit::per_connection(1e9, u32::MAX)
}

/// Each configuration measured, by the name its figures print under:
/// - `message_event`: the plain event (the service posts one message);
/// - `message_event_identity`: a service that also reads `ctx.identity()` from the
///   connection store (in memory), as the chat does for `from`;
/// - `message_event_rate_limited`: a rate limit that never refuses;
/// - `message_event_metrics`: metrics on, every event's EMF document written, as
///   on Lambda (to a sink here, to stdout there);
/// - `message_event_metrics_rate_limited`: both, as the chat runs.
pub(crate) fn adapters(event: &str) -> Vec<(&'static str, WebSocketAdapter)> {
    let plain = || fabric_websocket(chat).management_api(Arc::new(Discard));
    let metrics = || {
        plain()
            .metrics("FabricBench")
            .metrics_writer(std::io::sink())
    };
    vec![
        ("websocket/message_event", plain()),
        ("websocket/message_event_identity", identity_adapter(event)),
        (
            "websocket/message_event_rate_limited",
            plain().rate_limit(never_refusing_limit()),
        ),
        ("websocket/message_event_metrics", metrics()),
        (
            "websocket/message_event_metrics_rate_limited",
            metrics().rate_limit(never_refusing_limit()),
        ),
    ]
}

/// The event's connection saved with a user in a memory store, and a service that
/// reads it.
fn identity_adapter(event: &str) -> WebSocketAdapter {
    use fabric::store::{Connection, MemoryStore, SharedStore};
    let store: SharedStore = Arc::new(MemoryStore::new());
    let connection_id: Value =
        serde_json::from_str::<Value>(event).unwrap()["requestContext"]["connectionId"].clone();
    let connection =
        Connection::new(connection_id.as_str().unwrap(), chrono::Utc::now()).user("ada");
    store
        .save(&connection)
        .now_or_never()
        .expect("memory does not wait")
        .unwrap();
    fabric_websocket(chat_identity)
        .management_api(Arc::new(Discard))
        .shared_store(store)
}

/// Handles `event`, which must be answered 200 without waiting.
pub(crate) fn handle(
    adapter: &WebSocketAdapter,
    event: &str,
) -> fabric::websocket::ApiGatewayProxyResponse {
    let response = adapter
        .handle_json(black_box(event))
        .now_or_never()
        .expect("nothing waits");
    assert_eq!(response.status_code, 200);
    response
}

/// The metrics of a typical MESSAGE event, collected and written as one EMF
/// document, as a transport does.
pub(crate) fn emf_document() -> fabric::metrics::Metrics {
    let metrics = fabric::metrics::Metrics::new("FabricBench")
        .with_writer(fabric::metrics::EmfWriter::new(std::io::sink()))
        .dimension("service", "chat")
        .dimension("transport", "websocket")
        .dimension("route", "$default")
        .with_property("requestId", "Jkw3UFw9IAMFyvg=")
        .with_property("connectionId", "Jkw3Ud7nIAMCEfg=");
    for name in ["Invocations", "MessagesPosted"] {
        metrics.add(name, 1.0);
    }
    metrics.add_with_unit("Duration", fabric::metrics::Unit::Milliseconds, 0.012);
    metrics.flush();
    metrics
}
