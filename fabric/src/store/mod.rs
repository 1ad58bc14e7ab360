//! Connection tracking and rooms: who is connected, which user each connection
//! belongs to, and who is in which room.
//!
//! This module is the data layer alone: it knows no transport. A [`ConnectionStore`]
//! keeps [`Connection`] records and room memberships. Give one to a WebSocket
//! adapter (`fabric_websocket(..).store(..)`, or `.track_connections()` for the one
//! the environment names) and Fabric keeps it up to date by itself:
//!
//! - `$connect`: once the `on_connect` hook accepts (or when there is none), the
//!   connection is saved, with the user id and metadata of its `Accept`, to expire
//!   2 hours later (API Gateway's longest connection);
//! - `$disconnect`: the connection and its room memberships are deleted;
//! - a post that finds a connection gone (410) deletes it, so stale connections never
//!   pile up and slow broadcasts down.
//!
//! Services use it through their `Context`, over a WebSocket: `ctx.join(room)`,
//! `ctx.leave(room)`, `ctx.broadcast_room(room, message)`,
//! `ctx.user_connections(user)`, `ctx.send_to_user(user, message)`.
//!
//! Two stores come with Fabric: [`MemoryStore`], for the local gateway and tests (one
//! process sees every connection), and, with the `dynamodb` cargo feature,
//! `DynamoDbStore`, for Lambda, where every invocation may run in another process.
//! [`from_env`] picks one from the environment.
//!
//! ```
//! use fabric::prelude::*;
//! use fabric::store::MemoryStore;
//! use fabric::websocket::fabric_websocket;
//!
//! #[derive(Deserialize, Input)]
//! struct Say { room: String, text: String }
//!
//! #[fabric_service]
//! async fn say(input: Say, ctx: Context) -> Result<usize, Error> {
//!     ctx.join(&input.room).await?;
//!     let report = ctx.broadcast_room(&input.room, json!({"text": input.text})).await?;
//!     Ok(report.delivered().len())
//! }
//!
//! let adapter = fabric_websocket(say).store(MemoryStore::new());
//! # let _ = adapter;
//! ```

mod buckets;
#[cfg(feature = "dynamodb")]
mod dynamodb;
pub mod layout;
mod memory;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Error;

pub use buckets::{BucketLimit, EnvBuckets, MemoryBuckets, SharedBuckets, Take, TokenBuckets};
#[cfg(feature = "dynamodb")]
pub use dynamodb::DynamoDbStore;
#[cfg(feature = "dynamodb")]
pub use dynamodb::buckets::DynamoDbBuckets;
pub use memory::MemoryStore;

/// The most connections one [`ConnectionStore::list_page`] call returns, whatever
/// limit it is asked for.
pub const MAX_PAGE: usize = 1000;

/// How long a connection is kept by default: API Gateway closes every WebSocket
/// connection after 2 hours.
pub const DEFAULT_TTL: Duration = Duration::from_secs(2 * 60 * 60);

/// The longest room name, in bytes.
pub const MAX_ROOM_BYTES: usize = 256;

/// The longest user id, in bytes.
pub const MAX_USER_ID_BYTES: usize = 1024;

/// One tracked WebSocket connection.
///
/// Times are kept at the precision the stores keep them: `connected_at` to the
/// millisecond, `expires_at` to the second (rounded up), so a record reads back
/// exactly as it was saved.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use fabric::store::Connection;
///
/// let at = Utc.timestamp_millis_opt(1_795_310_400_123).unwrap();
/// let connection = Connection::new("abc=", at).user("alice").metadata("plan", "pro");
/// assert_eq!(connection.user_id(), Some("alice"));
/// assert_eq!(connection.expires_at().timestamp(), 1_795_310_400 + 2 * 3600 + 1);
/// assert_eq!(connection.metadata_map()["plan"], "pro");
/// assert!(!connection.is_expired_at(at));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    connection_id: String,
    connected_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
    #[serde(default)]
    metadata: Map<String, Value>,
}

impl Connection {
    /// The user and the metadata, moved out: identity reads them once per event, so
    /// they are not copied.
    pub(crate) fn into_user_and_metadata(self) -> (Option<String>, Map<String, Value>) {
        (self.user_id, self.metadata)
    }

    /// A connection opened at `connected_at`, expiring [`DEFAULT_TTL`] later.
    pub fn new(connection_id: impl Into<String>, connected_at: DateTime<Utc>) -> Connection {
        let connected_at = connected_at.trunc_subsecs(3);
        Connection {
            connection_id: connection_id.into(),
            connected_at,
            expires_at: expiry(connected_at, DEFAULT_TTL),
            user_id: None,
            metadata: Map::new(),
        }
    }

    /// The connection expires `ttl` after it opened.
    pub fn ttl(mut self, ttl: Duration) -> Connection {
        self.expires_at = expiry(self.connected_at, ttl);
        self
    }

    /// The connection expires at `expires_at` (rounded up to the second).
    pub fn expires(mut self, expires_at: DateTime<Utc>) -> Connection {
        self.expires_at = round_up_to_second(expires_at);
        self
    }

    /// Ties the connection to a user.
    pub fn user(mut self, user_id: impl Into<String>) -> Connection {
        self.user_id = Some(user_id.into());
        self
    }

    /// Keeps a value with the connection.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Connection {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Replaces every kept value.
    pub fn with_metadata_map(mut self, metadata: Map<String, Value>) -> Connection {
        self.metadata = metadata;
        self
    }

    /// The API Gateway connection id.
    pub fn connection_id(&self) -> &str {
        &self.connection_id
    }

    /// When the connection opened (to the millisecond).
    pub fn connected_at(&self) -> DateTime<Utc> {
        self.connected_at
    }

    /// When the store forgets the connection (to the second).
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// The user the connection belongs to.
    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    /// The values kept with the connection (from `$connect`'s `Accept`).
    pub fn metadata_map(&self) -> &Map<String, Value> {
        &self.metadata
    }

    /// Whether the connection has expired at `now`.
    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }

    /// A 500 when the record cannot be stored: an empty id, or an empty or
    /// oversized user id (developer errors, from the `$connect` hook).
    pub(crate) fn check(&self) -> Result<(), Error> {
        check_connection_id(&self.connection_id)?;
        if let Some(user) = &self.user_id {
            check_user_id(user).map_err(|err| Error::internal_message(err.detail().to_owned()))?;
        }
        Ok(())
    }
}

/// One member of a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// The member's connection.
    pub connection_id: String,
    /// The user of that connection, when `$connect` named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// Where connections and room memberships are kept.
///
/// Every method is safe to call from many tasks at once. Deletes are idempotent.
/// Reads never return expired connections or memberships, even where the backing
/// store deletes expired items lazily (DynamoDB's TTL can take a day or two).
///
/// Lists are sorted: members by connection id, a user's connections by
/// `connected_at`, a connection's rooms by name.
///
/// ```
/// use fabric::store::{Connection, ConnectionStore, MemoryStore};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// store.save(&Connection::new("c1", chrono::Utc::now()).user("ada")).await?;
/// store.join("general", "c1").await?;
/// assert_eq!(store.members("general").await?[0].user_id.as_deref(), Some("ada"));
///
/// store.delete("c1").await?;
/// assert!(store.members("general").await?.is_empty(), "a deleted connection is in no room");
/// assert_eq!(store.join("general", "c1").await.unwrap_err().status(), 410);
/// # Ok::<_, fabric::Error>(()) }).unwrap();
/// ```
#[async_trait]
pub trait ConnectionStore: Send + Sync + 'static {
    /// Saves a connection, replacing any record with the same id (its room
    /// memberships are kept).
    async fn save(&self, connection: &Connection) -> Result<(), Error>;

    /// The connection `connection_id`, unless unknown or expired.
    async fn get(&self, connection_id: &str) -> Result<Option<Connection>, Error>;

    /// Forgets the connection and takes it out of every room.
    async fn delete(&self, connection_id: &str) -> Result<(), Error>;

    /// The open connections of `user_id`, oldest first.
    async fn user_connections(&self, user_id: &str) -> Result<Vec<Connection>, Error>;

    /// Adds a saved connection to `room` (again is fine). A 410 when the connection
    /// is not saved or has expired; a 400 for an invalid room name.
    async fn join(&self, room: &str, connection_id: &str) -> Result<(), Error>;

    /// Takes the connection out of `room`, if it was in.
    async fn leave(&self, room: &str, connection_id: &str) -> Result<(), Error>;

    /// Whether the connection is in `room`.
    async fn is_member(&self, room: &str, connection_id: &str) -> Result<bool, Error>;

    /// The members of `room`, by connection id.
    async fn members(&self, room: &str) -> Result<Vec<Member>, Error>;

    /// The rooms the connection is in, by name.
    async fn rooms(&self, connection_id: &str) -> Result<Vec<String>, Error>;

    /// Takes the connection out of every room; its record stays.
    async fn leave_all(&self, connection_id: &str) -> Result<(), Error>;

    /// One page of the unexpired connections, at most `limit` of them (at least 1),
    /// starting after the cursor `after` (`None`: from the start). The page's
    /// [`next`](ConnectionPage::next) is the cursor of the page after it; `None`
    /// once every connection was listed. For the stale-connection sweep: a full
    /// listing, off the hot path. A page may hold fewer than `limit` connections
    /// while more follow (expired records are skipped).
    async fn list_page(&self, after: Option<&str>, limit: usize) -> Result<ConnectionPage, Error>;
}

/// One page of [`ConnectionStore::list_page`].
///
/// ```
/// use fabric::store::{Connection, ConnectionStore, MemoryStore};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// for id in ["a", "b", "c"] {
///     store.save(&Connection::new(id, chrono::Utc::now())).await?;
/// }
/// let first = store.list_page(None, 2).await?;
/// assert_eq!(first.connections.len(), 2);
/// let rest = store.list_page(first.next.as_deref(), 2).await?;
/// assert_eq!(rest.connections[0].connection_id(), "c");
/// assert_eq!(rest.next, None);
/// # Ok::<_, fabric::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionPage {
    /// The connections on this page.
    pub connections: Vec<Connection>,
    /// The cursor to pass as `after` for the next page; `None` on the last page.
    pub next: Option<String>,
}

/// The store [`from_env`] picks, shared.
pub type SharedStore = Arc<dyn ConnectionStore>;

/// The store the environment asks for: `DynamoDbStore::from_env()` when
/// `FABRIC_CONNECTIONS_TABLE` is set (needs the `dynamodb` cargo feature), else a
/// [`MemoryStore`] — which on Lambda only sees its own instance's connections, so
/// that case is logged as a warning.
///
/// ```
/// # if std::env::var_os("FABRIC_CONNECTIONS_TABLE").is_none() {
/// let store = fabric::store::from_env().unwrap();
/// # let _ = store;
/// # }
/// ```
pub fn from_env() -> Result<SharedStore, Error> {
    if crate::env::var("FABRIC_CONNECTIONS_TABLE").is_none() {
        if crate::env::on_lambda() {
            tracing::warn!(
                "FABRIC_CONNECTIONS_TABLE is not set: connections are tracked in memory, per Lambda instance"
            );
        }
        return Ok(Arc::new(MemoryStore::new()));
    }
    #[cfg(feature = "dynamodb")]
    {
        Ok(Arc::new(DynamoDbStore::from_env()?))
    }
    #[cfg(not(feature = "dynamodb"))]
    {
        Err(Error::internal_message(
            "FABRIC_CONNECTIONS_TABLE is set but fabric was built without its `dynamodb` feature",
        ))
    }
}

/// Checks a room name: 1 to [`MAX_ROOM_BYTES`] bytes, no control characters.
///
/// ```
/// use fabric::store::check_room;
/// assert!(check_room("general").is_ok());
/// assert_eq!(check_room("").unwrap_err().detail(), r#"Invalid room name "": must not be empty"#);
/// assert_eq!(check_room("a\nb").unwrap_err().status(), 400);
/// ```
pub fn check_room(room: &str) -> Result<(), Error> {
    check_key(room, MAX_ROOM_BYTES)
        .map_err(|reason| Error::bad_request(format!("Invalid room name {room:?}: {reason}")))
}

fn check_user_id(user_id: &str) -> Result<(), Error> {
    check_key(user_id, MAX_USER_ID_BYTES)
        .map_err(|reason| Error::bad_request(format!("Invalid user id {user_id:?}: {reason}")))
}

fn check_connection_id(connection_id: &str) -> Result<(), Error> {
    if connection_id.is_empty() {
        return Err(Error::internal_message("a connection id must not be empty"));
    }
    Ok(())
}

/// Store keys: non-empty (DynamoDB refuses empty key strings), bounded, and free of
/// control characters (which only ever arrive by mistake, and garble logs).
fn check_key(key: &str, max_bytes: usize) -> Result<(), String> {
    if key.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if key.len() > max_bytes {
        return Err(format!(
            "is {} bytes, over the {max_bytes}-byte limit",
            key.len()
        ));
    }
    if key.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    Ok(())
}

/// The order of a user's connections.
fn oldest_first(a: &Connection, b: &Connection) -> std::cmp::Ordering {
    (a.connected_at, &a.connection_id).cmp(&(b.connected_at, &b.connection_id))
}

/// The 410 of joining a connection the store does not know.
fn not_connected(connection_id: &str) -> Error {
    Error::gone(format!("The connection {connection_id:?} is not connected"))
}

/// `ttl` after `start`; a TTL past the calendar's end means never.
fn expiry(start: DateTime<Utc>, ttl: Duration) -> DateTime<Utc> {
    let end = TimeDelta::from_std(ttl)
        .ok()
        .and_then(|ttl| start.checked_add_signed(ttl))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    round_up_to_second(end)
}

fn round_up_to_second(at: DateTime<Utc>) -> DateTime<Utc> {
    let whole = at.trunc_subsecs(0);
    if whole == at {
        at
    } else {
        whole
            .checked_add_signed(TimeDelta::seconds(1))
            .unwrap_or(whole)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn times_are_kept_at_store_precision() {
        let at = Utc.timestamp_nanos(1_795_310_400_123_456_789);
        let connection = Connection::new("c", at);
        assert_eq!(
            connection.connected_at().timestamp_subsec_nanos(),
            123_000_000
        );
        assert_eq!(
            connection.expires_at().timestamp(),
            1_795_310_400 + 7200 + 1
        );
        assert_eq!(connection.expires_at().timestamp_subsec_nanos(), 0);
        let exact =
            Connection::new("c", Utc.timestamp_opt(100, 0).unwrap()).ttl(Duration::from_secs(5));
        assert_eq!(exact.expires_at().timestamp(), 105);
        let huge = Connection::new("c", at).ttl(Duration::MAX);
        assert!(huge.expires_at() > at);
    }

    #[test]
    fn keys_are_checked() {
        assert!(check_room(&"r".repeat(MAX_ROOM_BYTES)).is_ok());
        let long = check_room(&"r".repeat(MAX_ROOM_BYTES + 1)).unwrap_err();
        assert!(
            long.detail()
                .ends_with("is 257 bytes, over the 256-byte limit"),
            "{}",
            long.detail()
        );
        assert!(check_room("café ☕ #1").is_ok());
        assert!(Connection::new("", Utc::now()).check().is_err());
        assert_eq!(
            Connection::new("c", Utc::now())
                .user("")
                .check()
                .unwrap_err()
                .status(),
            500
        );
        assert!(Connection::new("c", Utc::now()).user("ada").check().is_ok());
    }
}
