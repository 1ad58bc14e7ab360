//! The connections of a [`TestGateway`](super::TestGateway) and the Management API
//! its functions post to: posts reach open connections, `DELETE` closes them, and
//! a connection still in `$connect` or gone is a 410, as on API Gateway.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::websocket::{ConnectionInfo, MAX_MESSAGE_BYTES, ManagementApi, ManagementError};

/// The `$disconnect` reason of a connection closed with `DELETE @connections/{id}`.
pub(super) const CLOSED_BY_DELETE: &str = "Connection Closed Normally";

/// The gateway's connections, shared with the Management API its adapters post to.
#[derive(Debug, Default)]
pub(super) struct Hub {
    pub(super) state: Mutex<HubState>,
}

#[derive(Debug, Default)]
pub(super) struct HubState {
    pub(super) connections: HashMap<String, Connection>,
    /// Deleted through the Management API, their `$disconnect` not yet run.
    /// With each, the authorizer's fields its `$disconnect` carries.
    pub(super) deleted: Vec<(String, Option<serde_json::Value>)>,
    pub(super) issued: u64,
}

#[derive(Debug)]
pub(super) struct Connection {
    pub(super) inbox: Arc<Inbox>,
    /// False while `$connect` runs: API Gateway answers 410 for such a connection.
    pub(super) open: bool,
    pub(super) connected_at: DateTime<Utc>,
    pub(super) last_active_at: DateTime<Utc>,
    pub(super) source_ip: Option<String>,
    pub(super) user_agent: Option<String>,
    /// `requestContext.authorizer` from `$connect`, on every later event.
    pub(super) authorizer: Option<serde_json::Value>,
}

impl HubState {
    /// The connection, if it is open: one still in `$connect` or gone is API
    /// Gateway's 410.
    fn open(&self, id: &str) -> Result<&Connection, ManagementError> {
        match self.connections.get(id) {
            Some(connection) if connection.open => Ok(connection),
            _ => Err(ManagementError::Gone),
        }
    }
}

impl Hub {
    pub(super) fn lock(&self) -> MutexGuard<'_, HubState> {
        // A test that panicked mid-call still left a usable gateway.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new connection, not yet open, with an id shaped like API Gateway's.
    pub(super) fn register(&self) -> (String, Arc<Inbox>) {
        let mut state = self.lock();
        state.issued += 1;
        let mut bytes = [0u8; 11];
        bytes[3..].copy_from_slice(&state.issued.to_be_bytes());
        let id = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes);
        let inbox = Arc::new(Inbox::default());
        let now = Utc::now();
        state.connections.insert(
            id.clone(),
            Connection {
                inbox: inbox.clone(),
                open: false,
                connected_at: now,
                last_active_at: now,
                source_ip: None,
                user_agent: None,
                authorizer: None,
            },
        );
        (id, inbox)
    }

    pub(super) fn with_connection(&self, id: &str, change: impl FnOnce(&mut Connection)) {
        if let Some(connection) = self.lock().connections.get_mut(id) {
            change(connection);
        }
    }
}

/// What one client has been sent, and how its connection ended.
#[derive(Debug, Default)]
pub(super) struct Inbox {
    pub(super) state: Mutex<InboxState>,
}

#[derive(Debug, Default)]
pub(super) struct InboxState {
    pub(super) frames: Vec<String>,
    pub(super) closed: Option<(u16, String)>,
}

impl Inbox {
    pub(super) fn lock(&self) -> MutexGuard<'_, InboxState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn push(&self, frame: String) {
        self.lock().frames.push(frame);
    }

    pub(super) fn close(&self, code: u16, reason: &str) {
        self.lock().closed.get_or_insert((code, reason.to_owned()));
    }
}

/// The Management API of a [`TestGateway`]: posts reach the named open connection.
#[derive(Debug)]
pub(super) struct HubApi(pub(super) Arc<Hub>);

#[async_trait]
impl ManagementApi for HubApi {
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), ManagementError> {
        if data.len() > MAX_MESSAGE_BYTES {
            return Err(ManagementError::PayloadTooLarge(data.len()));
        }
        let state = self.0.lock();
        let connection = state.open(connection_id)?;
        connection
            .inbox
            .push(String::from_utf8_lossy(data).into_owned());
        Ok(())
    }

    async fn get(&self, connection_id: &str) -> Result<ConnectionInfo, ManagementError> {
        let state = self.0.lock();
        let connection = state.open(connection_id)?;
        Ok(ConnectionInfo {
            connected_at: connection.connected_at,
            last_active_at: connection.last_active_at,
            source_ip: connection.source_ip.clone(),
            user_agent: connection.user_agent.clone(),
        })
    }

    async fn delete(&self, connection_id: &str) -> Result<(), ManagementError> {
        let mut state = self.0.lock();
        state
            .open(connection_id)?
            .inbox
            .close(1000, CLOSED_BY_DELETE);
        let authorizer = state
            .connections
            .remove(connection_id)
            .and_then(|connection| connection.authorizer);
        state.deleted.push((connection_id.to_owned(), authorizer));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connection_in_connect_is_gone_until_open_and_a_delete_closes_it_once() {
        let hub = Arc::new(Hub::default());
        let api = HubApi(hub.clone());
        let (id, inbox) = hub.register();

        // Still in `$connect`: every call is a 410 and the connection stays.
        assert_eq!(api.post(&id, b"early").await, Err(ManagementError::Gone));
        assert_eq!(api.get(&id).await.err(), Some(ManagementError::Gone));
        assert_eq!(api.delete(&id).await, Err(ManagementError::Gone));
        assert!(hub.lock().connections.contains_key(&id));
        assert!(inbox.lock().frames.is_empty());

        hub.with_connection(&id, |connection| connection.open = true);
        api.post(&id, b"hello").await.unwrap();
        assert_eq!(api.get(&id).await.unwrap().source_ip, None);
        assert_eq!(inbox.lock().frames, ["hello"]);

        api.delete(&id).await.unwrap();
        assert_eq!(
            inbox.lock().closed,
            Some((1000, CLOSED_BY_DELETE.to_owned()))
        );
        assert_eq!(hub.lock().deleted, [(id.clone(), None)]);
        assert_eq!(api.delete(&id).await, Err(ManagementError::Gone));
        assert_eq!(api.post(&id, b"late").await, Err(ManagementError::Gone));
    }
}
