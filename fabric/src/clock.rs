//! The wall clock, read from the monotonic one: an event reads the clock once when
//! it arrives and once when it ends, and what needs the wall-clock time (a rate
//! limit's bucket, the EMF timestamp) takes it from those readings.

use std::cell::Cell;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The wall clock at `at`, in epoch microseconds: from this thread's last reading
/// of the wall clock, paired with the monotonic one and taken again after a
/// second. Within a second the two clocks drift apart by far less than a
/// millisecond.
pub(crate) fn epoch_micros(at: Instant) -> i64 {
    thread_local! {
        static ANCHOR: Cell<Option<(Instant, i64)>> = const { Cell::new(None) };
    }
    ANCHOR.with(|anchor| {
        if let Some((instant, micros)) = anchor.get() {
            if let Some(since) = at.checked_duration_since(instant) {
                if since < Duration::from_secs(1) {
                    let since = i64::try_from(since.as_micros()).unwrap_or_default();
                    return micros.saturating_add(since);
                }
            }
        }
        let (instant, micros) = (Instant::now(), wall_micros());
        anchor.set(Some((instant, micros)));
        // `at` lies at or before `instant`.
        let before = i64::try_from(instant.saturating_duration_since(at).as_micros());
        micros.saturating_sub(before.unwrap_or_default())
    })
}

/// The wall clock now, in epoch microseconds, read afresh.
pub(crate) fn wall_micros() -> i64 {
    // The clock alone: no calendar date is needed.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
        })
}
