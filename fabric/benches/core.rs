//! The service core on the chat input of the design notes: raw JSON text → coerced,
//! validated input → service call → serialized `{"data": ...}` body.
//!
//! Run with `cargo bench -p fabric --bench core`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use fabric::prelude::*;
use fabric::{MessageSink, input};
use futures_util::FutureExt;

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

#[fabric_service(alias = "chat", description = "Join rooms and talk in them")]
async fn chat(input: ChatInput, ctx: Context) -> Result<Value, Error> {
    ctx.send_message(json!({ "joined": input.room })).await?;
    Ok(json!({ "ok": true }))
}

/// Accepts every message at once, so the bench measures Fabric and not a transport.
struct Discard;

#[fabric::async_trait]
impl MessageSink for Discard {
    async fn send(&self, _message: String) -> Result<(), Error> {
        Ok(())
    }
}

const BODY: &str = r#"{"action":"message","room":"general","content":"hello"}"#;

fn pipeline(c: &mut Criterion) {
    let sink: std::sync::Arc<dyn MessageSink> = std::sync::Arc::new(Discard);
    let state = State::new();
    c.bench_function("core/chat_message", |b| {
        b.iter(|| {
            let raw = input::from_json_text(black_box(BODY)).unwrap();
            let ctx = Context::builder("Bq7aLHDcoAMFdHw=")
                .shared_sink(sink.clone())
                .state(state.clone())
                .build();
            let output = chat
                .call(raw, ctx)
                .now_or_never()
                .expect("the chat service never waits")
                .unwrap();
            black_box(output.data_envelope())
        })
    });
    c.bench_function("core/chat_invalid", |b| {
        b.iter(|| {
            let raw = input::from_json_text(black_box(r#"{"action":"dance","room":""}"#)).unwrap();
            let err = chat
                .call(raw, Context::builder("r").build())
                .now_or_never()
                .unwrap()
                .unwrap_err();
            black_box(err.envelope_json(true))
        })
    });
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
