//! The heap allocations of the `websocket` bench's events, counted by a wrapping
//! global allocator. A bench of its own: counting costs atomic operations on every
//! allocation, which the timing bench must not pay.
//!
//! Run with `cargo bench -p fabric --bench websocket_allocations`.

use std::hint::black_box;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

#[path = "websocket/adapters.rs"]
mod adapters;

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

fn main() {
    let event = adapters::event();
    for (name, adapter) in adapters::adapters(&event) {
        let (count, bytes) = allocations_per_call(|| {
            black_box(adapters::handle(&adapter, &event));
        });
        println!("{name}: {count:.1} allocations ({bytes:.0} bytes) per event");
    }
    let (count, bytes) = allocations_per_call(|| {
        black_box(adapters::emf_document());
    });
    println!("websocket/emf_document: {count:.1} allocations ({bytes:.0} bytes)");
    let (count, bytes) = allocations_per_call(|| {
        black_box(serde_json::from_str::<serde_json::Value>(&event).expect("valid JSON"));
    });
    println!(
        "reading the event as a serde_json::Value alone: {count:.1} allocations ({bytes:.0} bytes)"
    );
}
