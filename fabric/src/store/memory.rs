//! [`MemoryStore`]: connections and rooms in the process' memory.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    Connection, ConnectionPage, ConnectionStore, MAX_PAGE, Member, check_room, not_connected,
};
use crate::Error;

/// How often expired records are swept out, at the latest.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Connections and rooms kept in memory: the default store, right for the local
/// gateway (one process sees every connection) and for tests. Expired records are
/// never returned and are swept out as new connections arrive.
///
/// ```
/// use fabric::prelude::*;
/// use fabric::store::MemoryStore;
///
/// let adapter = fabric::websocket::fabric_websocket(fabric::WebSocketRouter::new())
///     .store(MemoryStore::new());
/// # let _ = adapter;
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    connections: HashMap<String, Connection>,
    /// user id → their connection ids
    by_user: HashMap<String, BTreeSet<String>>,
    /// room → member connection id → member
    rooms: HashMap<String, BTreeMap<String, Membership>>,
    /// connection id → its rooms
    memberships: HashMap<String, BTreeSet<String>>,
    last_sweep: Option<Instant>,
}

#[derive(Debug, Clone)]
struct Membership {
    user_id: Option<String>,
    expires_at: DateTime<Utc>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// How many connections are tracked, expired ones not yet swept out included.
    ///
    /// ```
    /// assert_eq!(fabric::store::MemoryStore::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.lock().connections.len()
    }

    /// Whether no connection is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing here panics while holding the lock, but a poisoned map is still
        // consistent: every change is one call.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    fn live(&self, connection_id: &str, now: DateTime<Utc>) -> Option<&Connection> {
        self.connections
            .get(connection_id)
            .filter(|c| !c.is_expired_at(now))
    }

    /// The unexpired members of `room`, by connection id.
    fn live_members(
        &self,
        room: &str,
        now: DateTime<Utc>,
    ) -> impl Iterator<Item = (&String, &Membership)> {
        self.rooms
            .get(room)
            .into_iter()
            .flatten()
            .filter(move |(_, m)| m.expires_at > now)
    }

    fn remove_connection(&mut self, connection_id: &str) {
        if let Some(old) = self.connections.remove(connection_id) {
            self.unindex_user(&old);
        }
        self.leave_all(connection_id);
    }

    fn unindex_user(&mut self, connection: &Connection) {
        let Some(user) = connection.user_id() else {
            return;
        };
        if let Some(ids) = self.by_user.get_mut(user) {
            ids.remove(connection.connection_id());
            if ids.is_empty() {
                self.by_user.remove(user);
            }
        }
    }

    fn leave(&mut self, room: &str, connection_id: &str) {
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(connection_id);
            if members.is_empty() {
                self.rooms.remove(room);
            }
        }
        if let Some(rooms) = self.memberships.get_mut(connection_id) {
            rooms.remove(room);
            if rooms.is_empty() {
                self.memberships.remove(connection_id);
            }
        }
    }

    fn leave_all(&mut self, connection_id: &str) {
        for room in self.memberships.remove(connection_id).unwrap_or_default() {
            self.leave(&room, connection_id);
        }
    }

    /// Drops expired connections, at most once per [`SWEEP_EVERY`], so that memory
    /// stays bounded even when `$disconnect` never comes.
    fn sweep(&mut self, now: DateTime<Utc>) {
        if self.last_sweep.is_some_and(|at| at.elapsed() < SWEEP_EVERY) {
            return;
        }
        self.last_sweep = Some(Instant::now());
        let expired: Vec<String> = self
            .connections
            .values()
            .filter(|c| c.is_expired_at(now))
            .map(|c| c.connection_id().to_owned())
            .collect();
        for id in expired {
            self.remove_connection(&id);
        }
    }
}

#[async_trait]
impl ConnectionStore for MemoryStore {
    async fn save(&self, connection: &Connection) -> Result<(), Error> {
        connection.check()?;
        let now = Utc::now();
        let mut inner = self.lock();
        inner.sweep(now);
        let id = connection.connection_id().to_owned();
        if let Some(old) = inner.connections.insert(id.clone(), connection.clone()) {
            inner.unindex_user(&old);
        }
        if let Some(user) = connection.user_id() {
            inner.by_user.entry(user.to_owned()).or_default().insert(id);
        }
        Ok(())
    }

    async fn list_page(&self, after: Option<&str>, limit: usize) -> Result<ConnectionPage, Error> {
        let limit = limit.clamp(1, MAX_PAGE);
        let now = Utc::now();
        let inner = self.lock();
        // By connection id, so a cursor stays valid while connections come and go.
        let mut ids: Vec<&String> = inner
            .connections
            .iter()
            .filter(|(id, c)| {
                after.is_none_or(|after| id.as_str() > after) && !c.is_expired_at(now)
            })
            .map(|(id, _)| id)
            .collect();
        ids.sort_unstable();
        let more = ids.len() > limit;
        let connections: Vec<Connection> = ids
            .into_iter()
            .take(limit)
            .filter_map(|id| inner.connections.get(id).cloned())
            .collect();
        let next = more
            .then(|| connections.last().map(|c| c.connection_id().to_owned()))
            .flatten();
        Ok(ConnectionPage { connections, next })
    }

    async fn get(&self, connection_id: &str) -> Result<Option<Connection>, Error> {
        Ok(self.lock().live(connection_id, Utc::now()).cloned())
    }

    async fn delete(&self, connection_id: &str) -> Result<(), Error> {
        self.lock().remove_connection(connection_id);
        Ok(())
    }

    async fn user_connections(&self, user_id: &str) -> Result<Vec<Connection>, Error> {
        let now = Utc::now();
        let inner = self.lock();
        let mut connections: Vec<Connection> = inner
            .by_user
            .get(user_id)
            .into_iter()
            .flatten()
            .filter_map(|id| inner.live(id, now).cloned())
            .collect();
        connections.sort_by(super::oldest_first);
        Ok(connections)
    }

    async fn join(&self, room: &str, connection_id: &str) -> Result<(), Error> {
        check_room(room)?;
        let mut inner = self.lock();
        let connection = inner
            .live(connection_id, Utc::now())
            .ok_or_else(|| not_connected(connection_id))?;
        let membership = Membership {
            user_id: connection.user_id().map(str::to_owned),
            expires_at: connection.expires_at(),
        };
        inner
            .rooms
            .entry(room.to_owned())
            .or_default()
            .insert(connection_id.to_owned(), membership);
        inner
            .memberships
            .entry(connection_id.to_owned())
            .or_default()
            .insert(room.to_owned());
        Ok(())
    }

    async fn leave(&self, room: &str, connection_id: &str) -> Result<(), Error> {
        check_room(room)?;
        self.lock().leave(room, connection_id);
        Ok(())
    }

    async fn is_member(&self, room: &str, connection_id: &str) -> Result<bool, Error> {
        check_room(room)?;
        let inner = self.lock();
        let mut members = inner.live_members(room, Utc::now());
        Ok(members.any(|(id, _)| id == connection_id))
    }

    async fn members(&self, room: &str) -> Result<Vec<Member>, Error> {
        check_room(room)?;
        Ok(self
            .lock()
            .live_members(room, Utc::now())
            .map(|(id, m)| Member {
                connection_id: id.clone(),
                user_id: m.user_id.clone(),
            })
            .collect())
    }

    async fn rooms(&self, connection_id: &str) -> Result<Vec<String>, Error> {
        let now = Utc::now();
        let inner = self.lock();
        if inner.live(connection_id, now).is_none() {
            return Ok(Vec::new());
        }
        Ok(inner
            .memberships
            .get(connection_id)
            .map(|rooms| rooms.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn leave_all(&self, connection_id: &str) -> Result<(), Error> {
        self.lock().leave_all(connection_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn expired_connections_are_swept_out_on_the_next_save() {
        let store = MemoryStore::new();
        let long_ago = Utc::now() - chrono::TimeDelta::hours(3);
        store
            .save(&Connection::new("old", long_ago).user("ada"))
            .await
            .unwrap();
        store
            .lock()
            .memberships
            .insert("old".into(), BTreeSet::from(["r".to_owned()]));
        store.lock().last_sweep = None;
        store
            .save(&Connection::new("new", Utc::now()))
            .await
            .unwrap();
        let inner = store.lock();
        assert!(!inner.connections.contains_key("old"));
        assert!(inner.by_user.is_empty());
        assert!(inner.memberships.is_empty());
    }
}
