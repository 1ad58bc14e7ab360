//! Token buckets for rate limits: [`TokenBuckets`], kept in memory by
//! [`MemoryBuckets`] for one instance, or in DynamoDB by `DynamoDbBuckets` across
//! instances.
//!
//! Each bucket is kept as one number, its *theoretical arrival time* (GCRA, the
//! generic cell rate algorithm): the instant at which the bucket would be full
//! again. Taking a token moves it one interval (`1 / rate`) later; a take is refused
//! while it lies more than `burst - 1` intervals ahead of now. That is exactly a
//! token bucket of `burst` tokens refilled at `rate` per second, and one number is
//! what lets DynamoDB update it with one conditional write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use crate::Error;

/// A token bucket's shape: `rate` tokens per second, at most `burst` at once.
///
/// ```
/// use std::time::Duration;
/// use fabric::store::BucketLimit;
/// let limit = BucketLimit::new(10.0, 20);
/// assert_eq!(limit.interval(), Duration::from_millis(100));
/// assert_eq!(limit.burst(), 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketLimit {
    rate: f64,
    burst: u32,
    // Worked out once: every message's take uses both.
    interval_micros: i64,
    tolerance_micros: i64,
}

impl BucketLimit {
    /// `rate` tokens per second (at least one a day), `burst` tokens at most (at
    /// least 1).
    pub fn new(rate: f64, burst: u32) -> BucketLimit {
        let rate = if rate.is_finite() { rate } else { 1.0 };
        let (rate, burst) = (rate.max(1.0 / 86_400.0), burst.max(1));
        let interval_micros = ((1_000_000.0 / rate).round() as i64).max(1);
        BucketLimit {
            rate,
            burst,
            interval_micros,
            tolerance_micros: interval_micros.saturating_mul(i64::from(burst) - 1),
        }
    }

    /// Tokens per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Most tokens at once.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Time to refill one token.
    pub fn interval(&self) -> Duration {
        Duration::from_micros(self.interval_micros() as u64)
    }

    pub(crate) fn interval_micros(&self) -> i64 {
        self.interval_micros
    }

    /// How far ahead of now the arrival time may be for a take to pass.
    pub(crate) fn tolerance_micros(&self) -> i64 {
        self.tolerance_micros
    }

    /// GCRA: given the stored arrival time (`None` for a new bucket) and now, the
    /// new arrival time, or how long to wait.
    pub(crate) fn take_at(&self, stored: Option<i64>, now: i64) -> Result<i64, Duration> {
        let tat = stored.map_or(now, |tat| tat.max(now));
        let ahead = tat - now;
        if ahead > self.tolerance_micros() {
            let wait = ahead - self.tolerance_micros();
            return Err(Duration::from_micros(wait as u64));
        }
        Ok(tat + self.interval_micros())
    }
}

/// What a take from a bucket gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// A token was taken.
    Allowed,
    /// The bucket is empty; a token is back after `retry_after`.
    Limited {
        /// When the next token is there.
        retry_after: Duration,
    },
}

impl Take {
    /// Whether a token was taken.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Take::Allowed)
    }
}

/// Named token buckets, each created full on its first take.
///
/// ```
/// use fabric::store::{BucketLimit, MemoryBuckets, Take, TokenBuckets};
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let buckets = MemoryBuckets::new();
/// let limit = BucketLimit::new(1.0, 2);
/// assert!(buckets.take("conn:a", limit).await?.is_allowed());
/// assert!(buckets.take("conn:a", limit).await?.is_allowed());
/// assert!(matches!(buckets.take("conn:a", limit).await?, Take::Limited { .. }));
/// assert!(buckets.take("conn:b", limit).await?.is_allowed(), "buckets are separate");
/// # Ok::<_, fabric::Error>(()) }).unwrap();
/// ```
#[async_trait]
pub trait TokenBuckets: Send + Sync + 'static {
    /// Takes one token from the bucket `key` of shape `limit`.
    async fn take(&self, key: &str, limit: BucketLimit) -> Result<Take, Error>;

    /// [`take`](Self::take) at `at` (when the message arrived, as the monotonic
    /// clock read it), for buckets that answer without waiting (in memory): every
    /// message takes a token, and this skips the boxed future and a reading of the
    /// clock. `None`, the default, means only `take` can answer.
    ///
    /// ```
    /// use std::time::Instant;
    /// use fabric::store::{BucketLimit, MemoryBuckets, TokenBuckets};
    /// let (buckets, limit) = (MemoryBuckets::new(), BucketLimit::new(1.0, 1));
    /// assert!(buckets.take_now("conn:a", limit, Instant::now()).unwrap().unwrap().is_allowed());
    /// assert!(!buckets.take_now("conn:a", limit, Instant::now()).unwrap().unwrap().is_allowed());
    /// ```
    fn take_now(&self, key: &str, limit: BucketLimit, at: Instant) -> Option<Result<Take, Error>> {
        let _ = (key, limit, at);
        None
    }

    /// Whether the buckets live in the table `FABRIC_RATE_LIMIT_TABLE` names, which
    /// the deploy template then declares and grants ([`EnvBuckets`] and
    /// `DynamoDbBuckets::from_env`); `false` for buckets that bring their own place.
    fn in_rate_limit_table(&self) -> bool {
        false
    }
}

/// Buckets chosen when the first message is limited: in DynamoDB, in the table
/// `FABRIC_RATE_LIMIT_TABLE` names (as the template sets it on Lambda; feature
/// `dynamodb`), shared by every instance; else in this process's memory, as on the
/// local gateway. Nothing is read when the adapter is built, so printing the
/// template needs no environment.
///
/// ```
/// use fabric::prelude::*;
/// use fabric::store::{EnvBuckets, TokenBuckets};
/// use fabric::websocket::RateLimit;
/// # #[derive(Deserialize, Input)] struct In {}
/// # #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
/// let limit = RateLimit::per_user(10.0, 20).buckets(EnvBuckets::new());
/// assert!(limit.in_rate_limit_table(), "the template makes the table");
/// let adapter = fabric_websocket(svc).rate_limit(limit);
/// # let _ = adapter;
/// ```
#[derive(Default)]
pub struct EnvBuckets {
    chosen: std::sync::OnceLock<SharedBuckets>,
}

impl std::fmt::Debug for EnvBuckets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvBuckets")
            .field("chosen", &self.chosen.get().is_some())
            .finish()
    }
}

impl EnvBuckets {
    /// Buckets not chosen yet.
    pub fn new() -> EnvBuckets {
        EnvBuckets::default()
    }

    fn choose() -> SharedBuckets {
        let Some(table) = crate::env::var(super::layout::RATE_LIMIT_TABLE_VARIABLE) else {
            return Arc::new(MemoryBuckets::new());
        };
        #[cfg(feature = "dynamodb")]
        {
            let _ = table;
            match super::DynamoDbBuckets::from_env() {
                Ok(buckets) => Arc::new(buckets),
                Err(err) => {
                    tracing::error!(error = %err, "rate limit buckets kept in memory");
                    Arc::new(MemoryBuckets::new())
                }
            }
        }
        #[cfg(not(feature = "dynamodb"))]
        {
            tracing::warn!(
                table,
                "FABRIC_RATE_LIMIT_TABLE is set but fabric was built without `dynamodb`: buckets kept in memory"
            );
            Arc::new(MemoryBuckets::new())
        }
    }
}

#[async_trait]
impl TokenBuckets for EnvBuckets {
    async fn take(&self, key: &str, limit: BucketLimit) -> Result<Take, Error> {
        self.chosen
            .get_or_init(EnvBuckets::choose)
            .take(key, limit)
            .await
    }

    fn take_now(&self, key: &str, limit: BucketLimit, at: Instant) -> Option<Result<Take, Error>> {
        self.chosen
            .get_or_init(EnvBuckets::choose)
            .take_now(key, limit, at)
    }

    fn in_rate_limit_table(&self) -> bool {
        true
    }
}

/// Token buckets shared between adapters.
pub type SharedBuckets = Arc<dyn TokenBuckets>;

/// Buckets past this many are swept of full ones (which hold no state).
const SWEEP_AT: usize = 10_000;

/// Token buckets in this process's memory: exact for one instance (the local
/// gateway, a container), per instance on Lambda.
#[derive(Debug, Default)]
pub struct MemoryBuckets {
    arrivals: Mutex<HashMap<String, i64, foldhash::fast::RandomState>>,
}

impl MemoryBuckets {
    /// No buckets yet.
    pub fn new() -> MemoryBuckets {
        MemoryBuckets::default()
    }
}

#[async_trait]
impl TokenBuckets for MemoryBuckets {
    async fn take(&self, key: &str, limit: BucketLimit) -> Result<Take, Error> {
        Ok(self.take_in_memory(key, limit, crate::clock::wall_micros()))
    }

    fn take_now(&self, key: &str, limit: BucketLimit, at: Instant) -> Option<Result<Take, Error>> {
        Some(Ok(self.take_in_memory(
            key,
            limit,
            crate::clock::epoch_micros(at),
        )))
    }
}

impl MemoryBuckets {
    fn take_in_memory(&self, key: &str, limit: BucketLimit, now: i64) -> Take {
        // A poisoned lock only means another take panicked; the map is still whole.
        let mut arrivals = self
            .arrivals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if arrivals.len() >= SWEEP_AT {
            arrivals.retain(|_, tat| *tat > now);
        }
        // A known bucket is updated in place: no key is copied per message.
        let (stored, slot) = match arrivals.get_mut(key) {
            Some(slot) => (Some(*slot), Some(slot)),
            None => (None, None),
        };
        match limit.take_at(stored, now) {
            Ok(tat) => {
                match slot {
                    Some(slot) => *slot = tat,
                    None => {
                        arrivals.insert(key.to_owned(), tat);
                    }
                }
                Take::Allowed
            }
            Err(retry_after) => Take::Limited { retry_after },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn env_buckets_without_a_table_limit_in_memory() {
        // The test process names no FABRIC_RATE_LIMIT_TABLE: the local gateway's case.
        assert!(crate::env::var("FABRIC_RATE_LIMIT_TABLE").is_none());
        let buckets = EnvBuckets::new();
        let limit = BucketLimit::new(0.001, 1);
        assert!(buckets.take("conn:a", limit).await.unwrap().is_allowed());
        assert!(!buckets.take("conn:a", limit).await.unwrap().is_allowed());
        assert!(buckets.take("conn:b", limit).await.unwrap().is_allowed());
        // Memory answers without waiting, through the buckets it chose.
        let taken = |key| {
            buckets
                .take_now(key, limit, Instant::now())
                .unwrap()
                .unwrap()
        };
        assert!(!taken("conn:b").is_allowed(), "the same bucket as `take`'s");
        assert!(taken("conn:c").is_allowed());
        assert!(buckets.in_rate_limit_table());
        assert!(!MemoryBuckets::new().in_rate_limit_table());
    }

    #[test]
    fn a_full_bucket_gives_burst_tokens_then_one_per_interval() {
        let limit = BucketLimit::new(10.0, 20);
        let mut tat = None;
        let now = 1_000_000_000;
        for _ in 0..20 {
            tat = Some(limit.take_at(tat, now).expect("within the burst"));
        }
        let wait = limit.take_at(tat, now).unwrap_err();
        assert_eq!(wait, Duration::from_millis(100));
        // One interval later exactly one more token is there.
        let later = now + 100_000;
        tat = Some(limit.take_at(tat, later).expect("refilled"));
        assert!(limit.take_at(tat, later).is_err());
    }

    #[test]
    fn a_quiet_bucket_refills_to_its_burst_and_no_further() {
        let limit = BucketLimit::new(10.0, 3);
        let now = 5_000_000;
        let tat = Some(now - 60_000_000);
        let mut tat = tat;
        for _ in 0..3 {
            tat = Some(limit.take_at(tat, now).expect("full again"));
        }
        assert!(limit.take_at(tat, now).is_err());
    }

    #[test]
    fn odd_limits_are_clamped_not_panicking() {
        let limit = BucketLimit::new(f64::NAN, 0);
        assert_eq!(limit.burst(), 1);
        assert!(limit.take_at(None, 0).is_ok());
        let slow = BucketLimit::new(0.0, 1);
        assert!(slow.interval() <= Duration::from_secs(86_400));
    }
}
