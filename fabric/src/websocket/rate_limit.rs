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

    /// The bucket's key when it is known without a store lookup: a connection's,
    /// or a user's from the authorizer (or of a connection that has no store).
    fn bucket_key_now(&self, ws: &WebSocket) -> Option<BucketKey> {
        if self.key == LimitKey::User {
            if let Some(user) = ws.authorizer.get("principalId").and_then(|v| v.as_str()) {
                return Some(BucketKey::new("user:", user));
            }
            if ws.store.is_some() {
                return None;
            }
        }
        Some(BucketKey::new("connection:", ws.connection_id()))
    }

    async fn bucket_key(&self, ws: &WebSocket) -> BucketKey {
        if let Some(key) = self.bucket_key_now(ws) {
            return key;
        }
        if let Some(store) = &ws.store {
            if let Ok(Some(connection)) = store.get(ws.connection_id()).await {
                if let Some(user) = connection.user_id() {
                    return BucketKey::new("user:", user);
                }
            }
        }
        BucketKey::new("connection:", ws.connection_id())
    }

    /// [`check`](Self::check) when it needs no waiting (a known key and buckets
    /// in memory); `None` when it does, with no token taken.
    fn check_now(&self, ws: &WebSocket, received: Instant) -> Option<Result<(), Refusal>> {
        let key = self.bucket_key_now(ws)?;
        let taken = self.buckets.take_now(key.as_str(), self.limit, received)?;
        Some(self.judge(ws, taken))
    }

    /// Takes a token for the message; the 429 when there is none, and whether the
    /// connection has used up its violations.
    async fn check(&self, ws: &WebSocket, received: Instant) -> Result<(), Refusal> {
        let key = self.bucket_key(ws).await;
        let taken = match self.buckets.take_now(key.as_str(), self.limit, received) {
            Some(taken) => taken,
            None => self.buckets.take(key.as_str(), self.limit).await,
        };
        self.judge(ws, taken)
    }

    /// What taking a token means for the message.
    fn judge(&self, ws: &WebSocket, taken: Result<Take, Error>) -> Result<(), Refusal> {
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
                    disconnect: self.count_violation(ws.connection_id()),
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
/// ids, since every message builds one, and copied into place in two pieces.
enum BucketKey {
    Inline {
        len: usize,
        bytes: [u8; BucketKey::INLINE],
    },
    Owned(String),
}

impl BucketKey {
    /// Room for `connection:` and any API Gateway connection id, or a long user id.
    const INLINE: usize = 96;

    fn new(kind: &str, id: &str) -> BucketKey {
        let len = kind.len() + id.len();
        if len > Self::INLINE {
            return BucketKey::Owned(format!("{kind}{id}"));
        }
        let mut bytes = [0; Self::INLINE];
        bytes[..kind.len()].copy_from_slice(kind.as_bytes());
        bytes[kind.len()..len].copy_from_slice(id.as_bytes());
        BucketKey::Inline { len, bytes }
    }

    fn as_str(&self) -> &str {
        match self {
            // Two pieces of text joined are text.
            BucketKey::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..*len]).unwrap_or_default()
            }
            BucketKey::Owned(key) => key,
        }
    }
}

/// A message refused by a rate limit.
pub(super) struct Refusal {
    pub(super) error: Error,
    pub(super) disconnect: bool,
}

/// Checks every limit in turn, for a message that arrived at `received`, without
/// waiting while each can be (a connection's bucket in memory, as on the local
/// gateway): `Ok` with the limits left to [`check_all`], from the first that must
/// wait. The first refusal wins. Kept apart from the waiting check so a message's
/// future builds no check's future when none is needed.
pub(super) fn check_now<'a>(
    limits: &'a [RateLimit],
    ws: &WebSocket,
    received: Instant,
) -> Result<&'a [RateLimit], Refusal> {
    for (index, limit) in limits.iter().enumerate() {
        match limit.check_now(ws, received) {
            Some(checked) => checked?,
            None => return Ok(&limits[index..]),
        }
    }
    Ok(&[])
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

#[cfg(test)]
mod tests {
    use super::BucketKey;

    #[test]
    fn a_bucket_key_reads_back_whole_for_short_and_long_ids() {
        let short = BucketKey::new("connection:", "Bq7ZkfvLIAMCLbQ=");
        assert!(matches!(short, BucketKey::Inline { .. }));
        assert_eq!(short.as_str(), "connection:Bq7ZkfvLIAMCLbQ=");
        let exact = "u".repeat(BucketKey::INLINE - "user:".len());
        let fitting = BucketKey::new("user:", &exact);
        assert!(
            matches!(fitting, BucketKey::Inline { .. }),
            "a key that fits stays inline"
        );
        assert_eq!(fitting.as_str(), format!("user:{exact}"));
        let long = "é".repeat(BucketKey::INLINE);
        let owned = BucketKey::new("user:", &long);
        assert!(matches!(owned, BucketKey::Owned(_)));
        assert_eq!(owned.as_str(), format!("user:{long}"));
    }
}
