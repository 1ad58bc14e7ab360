//! Rate limits on messages: a token bucket per connection or per user, checked
//! before a message reaches its service. A message over the limit gets a 429 error
//! frame with `meta.retryAfterMs`; the connection stays open unless
//! [`disconnect_after`](RateLimit::disconnect_after) violations were reached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::request::WebSocket;
use crate::Error;
use crate::store::{BucketLimit, MemoryBuckets, SharedBuckets, Take, TokenBuckets};

/// Whose messages share a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKey {
    /// Each connection has its own bucket.
    Connection,
    /// The connections of one user share a bucket: the user is the authorizer's
    /// `principalId`, else the user id `$connect` saved in the connection store;
    /// a connection with neither is limited on its own.
    User,
}

/// A rate limit on a WebSocket adapter's messages: `rate` per second, `burst` at
/// once, per connection or per user, in memory (one instance) or in shared
/// buckets such as `DynamoDbBuckets` (every instance).
///
/// ```
/// use fabric::prelude::*;
/// use fabric::websocket::RateLimit;
/// # #[derive(Deserialize, Input)] struct In {}
/// # #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
/// let adapter = fabric_websocket(svc)
///     .rate_limit(RateLimit::per_connection(10.0, 20).disconnect_after(100));
/// # let _ = adapter;
/// ```
#[derive(Clone)]
pub struct RateLimit {
    limit: BucketLimit,
    key: LimitKey,
    buckets: SharedBuckets,
    disconnect_after: Option<u32>,
    violations: Arc<Mutex<HashMap<String, u32>>>,
}

impl RateLimit {
    /// `rate` messages per second per connection, `burst` at once.
    pub fn per_connection(rate: f64, burst: u32) -> RateLimit {
        RateLimit::new(BucketLimit::new(rate, burst), LimitKey::Connection)
    }

    /// `rate` messages per second per user (all their connections), `burst` at once.
    pub fn per_user(rate: f64, burst: u32) -> RateLimit {
        RateLimit::new(BucketLimit::new(rate, burst), LimitKey::User)
    }

    fn new(limit: BucketLimit, key: LimitKey) -> RateLimit {
        RateLimit {
            limit,
            key,
            buckets: Arc::new(MemoryBuckets::new()),
            disconnect_after: None,
            violations: Arc::default(),
        }
    }

    /// A limit written `rate/burst` (`"10/20"`), per connection; `None` for `off`,
    /// `0` or an empty text. For limits read from the environment.
    ///
    /// ```
    /// use fabric::websocket::RateLimit;
    /// let limit = RateLimit::parse("10/20").unwrap().unwrap();
    /// assert_eq!((limit.rate(), limit.burst()), (10.0, 20));
    /// assert!(RateLimit::parse("off").unwrap().is_none());
    /// assert!(RateLimit::parse("ten").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Option<RateLimit>, Error> {
        let text = text.trim();
        if text.is_empty() || text == "off" || text == "0" {
            return Ok(None);
        }
        let invalid = || {
            Error::bad_request(format!(
                "Invalid rate limit {text:?}: write rate/burst, such as 10/20, or off"
            ))
        };
        let (rate, burst) = text.split_once('/').ok_or_else(invalid)?;
        let rate: f64 = rate.trim().parse().map_err(|_| invalid())?;
        let burst: u32 = burst.trim().parse().map_err(|_| invalid())?;
        if !(rate.is_finite() && rate > 0.0 && burst > 0) {
            return Err(invalid());
        }
        Ok(Some(RateLimit::per_connection(rate, burst)))
    }

    /// Keeps the buckets in `buckets` (shared by every instance when they are in
    /// DynamoDB) instead of this process's memory.
    pub fn buckets(mut self, buckets: impl TokenBuckets) -> RateLimit {
        self.buckets = Arc::new(buckets);
        self
    }

    /// Whether its buckets live in the rate limit table the template declares (see
    /// [`EnvBuckets`](crate::store::EnvBuckets)).
    pub fn in_rate_limit_table(&self) -> bool {
        self.buckets.in_rate_limit_table()
    }

    /// Like [`buckets`](RateLimit::buckets), for buckets shared with other limits.
    pub fn shared_buckets(mut self, buckets: SharedBuckets) -> RateLimit {
        self.buckets = buckets;
        self
    }

    /// Closes a connection (through the Management API) at its `violations`-th
    /// refused message. Violations are counted in this instance's memory.
    pub fn disconnect_after(mut self, violations: u32) -> RateLimit {
        self.disconnect_after = Some(violations.max(1));
        self
    }

    /// Messages per second.
    pub fn rate(&self) -> f64 {
        self.limit.rate()
    }

    /// Messages at once.
    pub fn burst(&self) -> u32 {
        self.limit.burst()
    }

    /// Whose messages share a bucket.
    pub fn key(&self) -> LimitKey {
        self.key
    }

    async fn bucket_key(&self, ws: &WebSocket) -> BucketKey {
        if self.key == LimitKey::User {
            if let Some(user) = ws.authorizer.get("principalId").and_then(|v| v.as_str()) {
                return BucketKey::new("user:", user);
            }
            if let Some(store) = &ws.store {
                if let Ok(Some(connection)) = store.get(&ws.connection_id).await {
                    if let Some(user) = connection.user_id() {
                        return BucketKey::new("user:", user);
                    }
                }
            }
        }
        BucketKey::new("connection:", &ws.connection_id)
    }

    /// Takes a token for the message; the 429 when there is none, and whether the
    /// connection has used up its violations.
    async fn check(&self, ws: &WebSocket, received: Instant) -> Result<(), Refusal> {
        let key = self.bucket_key(ws).await;
        let taken = match self.buckets.take_now(key.as_str(), self.limit, received) {
            Some(taken) => taken,
            None => self.buckets.take(key.as_str(), self.limit).await,
        };
        match taken {
            Ok(Take::Allowed) => Ok(()),
            Ok(Take::Limited { retry_after }) => {
                let error = Error::too_many_requests(format!(
                    "Rate limit exceeded: at most {} messages a second, {} at once",
                    self.limit.rate(),
                    self.limit.burst()
                ))
                .with_retry_after(retry_after);
                Err(Refusal {
                    error,
                    disconnect: self.count_violation(&ws.connection_id),
                })
            }
            Err(err) => {
                // A limiter that cannot be reached must not take the API down.
                tracing::warn!(error = %err, "rate limit not checked");
                Ok(())
            }
        }
    }

    fn count_violation(&self, connection_id: &str) -> bool {
        let Some(most) = self.disconnect_after else {
            return false;
        };
        let mut violations = self
            .violations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if violations.len() >= 10_000 {
            violations.clear();
        }
        let count = violations.entry(connection_id.to_owned()).or_default();
        *count += 1;
        if *count >= most {
            violations.remove(connection_id);
            return true;
        }
        false
    }
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit")
            .field("rate", &self.limit.rate())
            .field("burst", &self.limit.burst())
            .field("key", &self.key)
            .field("disconnect_after", &self.disconnect_after)
            .finish_non_exhaustive()
    }
}

/// A bucket's key, `connection:<id>` or `user:<id>`: on the stack for the usual
/// ids, since every message builds one.
struct BucketKey(smallvec::SmallVec<[u8; 96]>);

impl BucketKey {
    fn new(kind: &str, id: &str) -> BucketKey {
        let mut key = smallvec::SmallVec::new();
        key.extend_from_slice(kind.as_bytes());
        key.extend_from_slice(id.as_bytes());
        BucketKey(key)
    }

    fn as_str(&self) -> &str {
        // Two pieces of text joined are text.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// A message refused by a rate limit.
pub(super) struct Refusal {
    pub(super) error: Error,
    pub(super) disconnect: bool,
}

/// Checks every limit in turn, for a message that arrived at `received`; the first
/// refusal wins.
pub(super) async fn check_all(
    limits: &[RateLimit],
    ws: &WebSocket,
    received: Instant,
) -> Result<(), Refusal> {
    for limit in limits {
        limit.check(ws, received).await?;
    }
    Ok(())
}
