//! The connections of a [`TestGateway`](super::TestGateway) and the Management API
//! its functions post to: posts reach open connections, `DELETE` closes them, and
//! a connection still in `$connect` or gone is a 410, as on API Gateway.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::gateway::CLOSED_BY_DELETE;
use crate::websocket::{ConnectionInfo, MAX_MESSAGE_BYTES, ManagementApi, ManagementError};

/// The gateway's connections, shared with the Management API its adapters post to.
#[derive(Debug, Default)]
pub(super) struct Hub {
    pub(super) state: Mutex<HubState>,
}

#[derive(Debug, Default)]
pub(super) struct HubState {
    pub(super) connections: HashMap<String, Connection>,
    /// Deleted through the Management API, their `$disconnect` not yet run.
    pub(super) deleted: Vec<String>,
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
        match state.connections.get(connection_id) {
            Some(connection) if connection.open => {
                connection
                    .inbox
                    .push(String::from_utf8_lossy(data).into_owned());
                Ok(())
            }
            _ => Err(ManagementError::Gone),
        }
    }

    async fn get(&self, connection_id: &str) -> Result<ConnectionInfo, ManagementError> {
        let state = self.0.lock();
        match state.connections.get(connection_id) {
            Some(connection) if connection.open => Ok(ConnectionInfo {
                connected_at: connection.connected_at,
                last_active_at: connection.last_active_at,
                source_ip: connection.source_ip.clone(),
                user_agent: connection.user_agent.clone(),
            }),
            _ => Err(ManagementError::Gone),
        }
    }

    async fn delete(&self, connection_id: &str) -> Result<(), ManagementError> {
        let mut state = self.0.lock();
        match state.connections.remove(connection_id) {
            Some(connection) if connection.open => {
                connection.inbox.close(1000, CLOSED_BY_DELETE);
                state.deleted.push(connection_id.to_owned());
                Ok(())
            }
            Some(connecting) => {
                state
                    .connections
                    .insert(connection_id.to_owned(), connecting);
                Err(ManagementError::Gone)
            }
            None => Err(ManagementError::Gone),
        }
    }
}
