//! What each configuration of the `websocket` bench adds to the plain MESSAGE
//! event, measured in interleaved batches: a batch of plain events, then a batch
//! of each configuration, over and over. A shared machine's speed drifts over
//! seconds, so figures taken one after the other (as criterion does) differ by
//! more than the costs compared; batches a few milliseconds apart see the same
//! machine, and the median of their differences is the cost.
//!
//! Run with `cargo bench -p fabric --bench websocket_overhead` (add `-- ROUNDS`,
//! default 400).

use std::hint::black_box;
use std::time::Instant;

#[path = "websocket/adapters.rs"]
#[allow(
    dead_code,
    reason = "the EMF document alone is not an event to compare"
)]
mod adapters;

/// Events per batch: long enough for the clock, short against the drift.
const BATCH: u32 = 2000;

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(400);
    let event = adapters::event();
    let adapters = adapters::adapters(&event);
    let batch = |adapter: &fabric::websocket::WebSocketAdapter| {
        let started = Instant::now();
        for _ in 0..BATCH {
            black_box(adapters::handle(adapter, &event));
        }
        started.elapsed().as_secs_f64() * 1e6 / f64::from(BATCH)
    };
    // Warm every adapter (setup, caches) before anything counts.
    for (_, adapter) in &adapters {
        batch(adapter);
    }
    let mut times = vec![Vec::with_capacity(rounds); adapters.len()];
    for _ in 0..rounds {
        for (index, (_, adapter)) in adapters.iter().enumerate() {
            times[index].push(batch(adapter));
        }
    }
    let plain = times[0].clone();
    println!("{} rounds of {BATCH} events per configuration", rounds);
    for ((name, _), series) in adapters.iter().zip(&mut times) {
        let mut added: Vec<f64> = series.iter().zip(&plain).map(|(t, p)| t - p).collect();
        let time = median(series);
        if added.iter().all(|d| *d == 0.0) {
            println!("{name}: {time:.3} µs per event");
        } else {
            let cost = median(&mut added);
            println!("{name}: {time:.3} µs per event, {cost:+.3} µs against plain");
        }
    }
}
