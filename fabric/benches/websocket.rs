//! A MESSAGE event through `fabric_websocket`: parse the API Gateway event, route,
//! coerce, validate, call the service (which posts one message), build the
//! response. Management API posts go to a sink that accepts at once, so the bench
//! measures Fabric, not a network.
//!
//! Run with `cargo bench -p fabric --bench websocket`. Before timing, it prints the
//! heap allocations one event makes (counted by a wrapping global allocator), next
//! to those of reading the same event as a generic JSON value alone.
//! `message_event_rate_limited` is the same event with a rate limit that never
//! refuses, `message_event_metrics_rate_limited` with metrics on as well, and
//! `message_event_identity` a service that also reads `ctx.identity()` from the
//! connection store (in memory), as the chat does for `from`.

use std::hint::black_box;
use std::sync::Arc;

use async_trait::async_trait;
use criterion::{Criterion, criterion_group, criterion_main};
use fabric::prelude::*;
use fabric::websocket::{ConnectionInfo, ManagementApi, ManagementError, WebSocketAdapter};
use futures_util::FutureExt;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

// The chat example's own input; the bench's service skips the rooms, which need a
// store, and measures the pipeline around them.
#[path = "../../examples/chat.rs"]
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

fn event() -> String {
    let fixture = include_str!("../../tests/fixtures/apigw/websocket-message.json");
    let mut event: Value = serde_json::from_str(fixture).unwrap();
    event["body"] = json!(r#"{"action":"message","room":"general","content":"hello"}"#);
    event.to_string()
}

/// Allocations and bytes per call of `run`, over many calls.
fn allocations_per_call(mut run: impl FnMut()) -> (f64, f64) {
    const CALLS: usize = 1000;
    run(); // one-time setup (the setup hooks' cells, the clients) is not per event
    let region = Region::new(ALLOCATOR);
    for _ in 0..CALLS {
        run();
    }
    let stats = region.change();
    (
        stats.allocations as f64 / CALLS as f64,
        stats.bytes_allocated as f64 / CALLS as f64,
    )
}

/// Prints the allocations one event through `adapter` makes.
fn print_event_allocations(name: &str, adapter: &WebSocketAdapter, event: &str) {
    let (count, bytes) = allocations_per_call(|| {
        black_box(
            adapter
                .handle_json(event)
                .now_or_never()
                .expect("nothing waits"),
        );
    });
    println!("{name}: {count:.1} allocations ({bytes:.0} bytes) per event");
}

/// Times one MESSAGE event through `adapter`, which must answer 200 without waiting.
fn time_message_event(c: &mut Criterion, name: &str, adapter: &WebSocketAdapter, event: &str) {
    c.bench_function(name, |b| {
        b.iter(|| {
            let response = adapter
                .handle_json(black_box(event))
                .now_or_never()
                .expect("nothing waits");
            assert_eq!(response.status_code, 200);
            black_box(response)
        })
    });
}

fn message_event(c: &mut Criterion) {
    let adapter = fabric_websocket(chat).management_api(Arc::new(Discard));
    let event = event();
    print_event_allocations("websocket/message_event", &adapter, &event);
    let (read_count, read_bytes) = allocations_per_call(|| {
        black_box(serde_json::from_str::<Value>(&event).expect("valid JSON"));
    });
    println!(
        "reading the event as a serde_json::Value alone: {read_count:.1} allocations \
         ({read_bytes:.0} bytes)"
    );
    time_message_event(c, "websocket/message_event", &adapter, &event);
}

/// The same event with metrics on, as Lambda pays for them: every event's EMF
/// document written (to a sink here, to stdout on Lambda). `emf_document` is the
/// document of a typical MESSAGE event alone.
fn message_event_metrics(c: &mut Criterion) {
    let adapter = fabric_websocket(chat)
        .management_api(Arc::new(Discard))
        .metrics("FabricBench")
        .metrics_writer(std::io::sink());
    let event = event();
    print_event_allocations("websocket/message_event_metrics", &adapter, &event);
    time_message_event(c, "websocket/message_event_metrics", &adapter, &event);
    c.bench_function("websocket/emf_document", |b| {
        b.iter(|| {
            let metrics = fabric::metrics::Metrics::new("FabricBench")
                .with_writer(fabric::metrics::EmfWriter::new(std::io::sink()))
                .dimension("service", "chat")
                .dimension("transport", "websocket")
                .dimension("route", "$default");
            metrics.property("requestId", "Jkw3UFw9IAMFyvg=");
            metrics.property("connectionId", "Jkw3Ud7nIAMCEfg=");
            for name in ["Invocations", "MessagesPosted", "ColdStart"] {
                metrics.add(name, 1.0);
            }
            metrics.add_with_unit("Duration", fabric::metrics::Unit::Milliseconds, 0.012);
            metrics.flush();
            black_box(metrics)
        })
    });
}

/// The same event through an adapter with a per-connection rate limit (in memory)
/// that never refuses, in the same run, so the two figures compare.
fn message_event_rate_limited(c: &mut Criterion) {
    let limit = fabric::websocket::RateLimit::per_connection(1e9, u32::MAX);
    let adapter = fabric_websocket(chat)
        .management_api(Arc::new(Discard))
        .rate_limit(limit);
    let event = event();
    time_message_event(c, "websocket/message_event_rate_limited", &adapter, &event);
}

/// Metrics and a never-refusing rate limit together, as the chat runs.
fn message_event_metrics_rate_limited(c: &mut Criterion) {
    let limit = fabric::websocket::RateLimit::per_connection(1e9, u32::MAX);
    let adapter = fabric_websocket(chat)
        .management_api(Arc::new(Discard))
        .metrics("FabricBench")
        .metrics_writer(std::io::sink())
        .rate_limit(limit);
    let event = event();
    time_message_event(
        c,
        "websocket/message_event_metrics_rate_limited",
        &adapter,
        &event,
    );
}

/// The event's connection saved with a user in a memory store, and a service
/// that reads it: the added cost of identity on the store path.
fn message_event_identity(c: &mut Criterion) {
    use fabric::store::{Connection, MemoryStore, SharedStore};
    let store: SharedStore = Arc::new(MemoryStore::new());
    let event = event();
    let connection_id: Value =
        serde_json::from_str::<Value>(&event).unwrap()["requestContext"]["connectionId"].clone();
    let connection =
        Connection::new(connection_id.as_str().unwrap(), chrono::Utc::now()).user("ada");
    store
        .save(&connection)
        .now_or_never()
        .expect("memory does not wait")
        .unwrap();
    let adapter = fabric_websocket(chat_identity)
        .management_api(Arc::new(Discard))
        .shared_store(store);
    print_event_allocations("websocket/message_event_identity", &adapter, &event);
    time_message_event(c, "websocket/message_event_identity", &adapter, &event);
}

criterion_group!(
    benches,
    message_event,
    message_event_identity,
    message_event_rate_limited,
    message_event_metrics,
    message_event_metrics_rate_limited
);
criterion_main!(benches);
