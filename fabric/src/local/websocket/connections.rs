//! The gateway's connection table: who is connected, since when, and how to reach
//! each connection's task.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use tokio::sync::mpsc;

/// How many frames may wait for a slow client before posts are throttled (429).
const OUTBOUND_QUEUE: usize = 1024;

/// What a connection's task is asked to do from outside it.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// Send a message (a Management API post).
    Message(Vec<u8>),
    /// Close with this code; the `$disconnect` event carries `reason`.
    Close { code: u16, reason: &'static str },
}

/// One connection, from `$connect` on.
#[derive(Debug)]
pub(crate) struct Connection {
    pub id: Arc<str>,
    /// Epoch milliseconds.
    pub connected_at: i64,
    last_active_at: AtomicI64,
    pub source_ip: String,
    pub user_agent: Option<String>,
    /// False while `$connect` runs: API Gateway answers 410 for such a connection.
    open: AtomicBool,
    outbound: mpsc::Sender<Outbound>,
    /// What the authorizer allowed on `$connect`: every later event carries it.
    authorizer: OnceLock<HashMap<String, serde_json::Value>>,
}

impl Connection {
    pub(super) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// Records the authorizer's `requestContext.authorizer` for every later event.
    pub(super) fn set_authorizer(&self, fields: HashMap<String, serde_json::Value>) {
        let _ = self.authorizer.set(fields);
    }

    /// The authorizer's fields, when the connection was authorized.
    pub(super) fn authorizer(&self) -> Option<&HashMap<String, serde_json::Value>> {
        self.authorizer.get()
    }

    pub(super) fn mark_open(&self) {
        self.open.store(true, Ordering::Release);
    }

    /// Records activity now (a message in either direction).
    pub(super) fn touch(&self) {
        self.last_active_at.store(now_millis(), Ordering::Relaxed);
    }

    pub(super) fn last_active_at(&self) -> i64 {
        self.last_active_at.load(Ordering::Relaxed)
    }

    /// Queues `message` for the connection's task.
    pub(super) fn send(&self, message: Outbound) -> Result<(), Unreachable> {
        self.outbound.try_send(message).map_err(|err| match err {
            mpsc::error::TrySendError::Full(_) => Unreachable::Busy,
            mpsc::error::TrySendError::Closed(_) => Unreachable::Gone,
        })
    }
}

impl Connection {
    /// Asks the connection's task to close with `code`; behind a full queue the
    /// request waits its turn rather than being dropped.
    pub(super) fn close(&self, code: u16, reason: &'static str) -> Result<(), Unreachable> {
        match self.outbound.try_send(Outbound::Close { code, reason }) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(Unreachable::Gone),
            Err(mpsc::error::TrySendError::Full(close)) => {
                let outbound = self.outbound.clone();
                tokio::spawn(async move { outbound.send(close).await });
                Ok(())
            }
        }
    }
}

/// Why a queued message could not be handed to a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreachable {
    /// The connection's task has ended.
    Gone,
    /// The client is not reading fast enough.
    Busy,
}

/// Every connection, by id.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    connections: RwLock<HashMap<Arc<str>, Arc<Connection>>>,
}

impl Registry {
    /// Registers a new connection (not yet open) with a fresh id, and gives back
    /// the receiving end of its queue.
    pub(super) fn register(
        &self,
        source_ip: String,
        user_agent: Option<String>,
    ) -> (Arc<Connection>, mpsc::Receiver<Outbound>) {
        let (sender, receiver) = mpsc::channel(OUTBOUND_QUEUE);
        let now = now_millis();
        let mut connections = self.connections.write().unwrap_or_else(|p| p.into_inner());
        let id = loop {
            let id: Arc<str> = new_id().into();
            if !connections.contains_key(&id) {
                break id;
            }
        };
        let connection = Arc::new(Connection {
            id: id.clone(),
            connected_at: now,
            last_active_at: AtomicI64::new(now),
            source_ip,
            user_agent,
            open: AtomicBool::new(false),
            outbound: sender,
            authorizer: OnceLock::new(),
        });
        connections.insert(id, connection.clone());
        (connection, receiver)
    }

    /// The connection `id`, open or still connecting.
    pub(super) fn get(&self, id: &str) -> Option<Arc<Connection>> {
        self.read().get(id).cloned()
    }

    /// Forgets `connection` (and not a later one that happens to reuse the id).
    pub(super) fn remove(&self, connection: &Arc<Connection>) -> bool {
        let mut connections = self.connections.write().unwrap_or_else(|p| p.into_inner());
        match connections.get(&connection.id) {
            Some(current) if Arc::ptr_eq(current, connection) => {
                connections.remove(&connection.id);
                true
            }
            _ => false,
        }
    }

    /// The ids of the open connections.
    #[cfg(fuzzing)]
    pub(super) fn ids(&self) -> Vec<String> {
        self.read()
            .values()
            .filter(|connection| connection.is_open())
            .map(|connection| connection.id.to_string())
            .collect()
    }

    /// How many connections there are, open or connecting.
    pub(super) fn len(&self) -> usize {
        self.read().len()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Arc<str>, Arc<Connection>>> {
        self.connections.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// An id shaped like API Gateway's (`Bq7ZkfvLIAMCLbQ=`): 11 random bytes in
/// standard base64, so ids contain `+`, `/` and `=` and exercise the percent-encoding
/// of `@connections/{id}` paths as the real ones do.
pub(crate) fn new_id() -> String {
    thread_local! {
        static STATE: std::cell::Cell<u64> = std::cell::Cell::new(seed());
    }
    // wyrand: a few instructions per id (every event takes one or two), seeded per
    // thread from the process' random keys. Ids only need to be unique and unguessable
    // enough for a development gateway; the registry checks uniqueness.
    let next = || {
        STATE.with(|state| {
            let s = state.get().wrapping_add(0xa076_1d64_78bd_642f);
            state.set(s);
            let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
            ((t >> 64) ^ t) as u64
        })
    };
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&next().to_le_bytes());
    bytes[8..].copy_from_slice(&next().to_le_bytes());
    base64::engine::general_purpose::STANDARD.encode(&bytes[..11])
}

/// A distinct seed for each thread.
fn seed() -> u64 {
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    static THREADS: AtomicU64 = AtomicU64::new(0);
    let keys = KEYS.get_or_init(RandomState::new);
    keys.hash_one(THREADS.fetch_add(1, Ordering::Relaxed))
}

pub(crate) fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

/// Epoch milliseconds as the Management API writes times: ISO-8601, UTC, millis.
pub(crate) fn iso8601(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_api_gateway_ids_and_do_not_repeat() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| new_id()).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(100) {
            assert_eq!(id.len(), 16, "{id}");
            assert!(id.ends_with('='), "{id}");
        }
        assert!(
            ids.iter().any(|id| id.contains('+') || id.contains('/')),
            "some ids need percent-encoding"
        );
    }

    #[test]
    fn a_removed_connection_does_not_take_a_newer_one_with_it() {
        let registry = Registry::default();
        let (first, _rx) = registry.register("127.0.0.1".into(), None);
        assert!(!first.is_open());
        assert!(registry.remove(&first));
        assert!(!registry.remove(&first));
        assert!(registry.get(&first.id).is_none());
        assert_eq!(iso8601(1_795_310_400_000), "2026-11-22T01:20:00.000Z");
    }
}
