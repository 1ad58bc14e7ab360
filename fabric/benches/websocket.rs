//! A MESSAGE event through `fabric_websocket`: parse the API Gateway event, route,
//! coerce, validate, call the service (which posts one message), build the
//! response. Management API posts go to a sink that accepts at once, so the bench
//! measures Fabric, not a network. The configurations (plain, identity, rate
//! limit, metrics) are listed in `websocket/adapters.rs`; `emf_document` is the
//! metrics of a typical event alone.
//!
//! Run with `cargo bench -p fabric --bench websocket`. It runs on the system
//! allocator, as a Lambda function does; `cargo bench -p fabric --bench
//! websocket_allocations` counts the allocations of the same events.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "websocket/adapters.rs"]
mod adapters;

fn message_events(c: &mut Criterion) {
    let event = adapters::event();
    for (name, adapter) in adapters::adapters(&event) {
        c.bench_function(name, |b| {
            b.iter(|| black_box(adapters::handle(&adapter, &event)))
        });
    }
    c.bench_function("websocket/emf_document", |b| {
        b.iter(|| black_box(adapters::emf_document()))
    });
}

criterion_group!(benches, message_events);
criterion_main!(benches);
