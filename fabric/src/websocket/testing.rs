//! Services under test as they run over a WebSocket, with no sockets and no AWS: a
//! [`Context`] whose `ctx.websocket()`, `ctx.join(..)` and `ctx.send_message(..)`
//! work, and a [`RecordingManagementApi`] that keeps every post.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::Utc;
use serde_json::Value;

use super::management::{ConnectionInfo, ManagementApi, ManagementError};
use super::request::{EventType, WebSocket};
use crate::store::SharedStore;
use crate::{Context, State};

/// A Management API that records what it is asked to do: every post, by connection,
/// in order, and every deletion. Connections marked [gone](Self::mark_gone) (or
/// deleted) answer 410, as on AWS.
///
/// ```
/// use fabric::websocket::{ManagementApi, ManagementError, RecordingManagementApi};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let api = RecordingManagementApi::new();
/// api.post("a", br#"{"hi":1}"#).await.unwrap();
/// api.mark_gone("b");
/// assert_eq!(api.post("b", b"{}").await, Err(ManagementError::Gone));
/// assert_eq!(api.posts_to("a"), vec![serde_json::json!({"hi": 1})]);
/// # })
/// ```
#[derive(Debug, Clone, Default)]
pub struct RecordingManagementApi {
    recorded: Arc<Mutex<Recorded>>,
}

#[derive(Debug, Default)]
struct Recorded {
    posts: Vec<(String, String)>,
    deleted: Vec<String>,
    gone: HashSet<String>,
}

impl RecordingManagementApi {
    /// A Management API for which every connection is open.
    pub fn new() -> RecordingManagementApi {
        RecordingManagementApi::default()
    }

    /// From now on, `connection_id` is gone: posts to it are 410s.
    pub fn mark_gone(&self, connection_id: &str) {
        self.lock().gone.insert(connection_id.to_owned());
    }

    /// Every post so far: the connection and the text, in order.
    pub fn raw_posts(&self) -> Vec<(String, String)> {
        self.lock().posts.clone()
    }

    /// The posts delivered to `connection_id`, parsed as JSON (non-JSON posts read
    /// as JSON strings).
    pub fn posts_to(&self, connection_id: &str) -> Vec<Value> {
        self.lock()
            .posts
            .iter()
            .filter(|(id, _)| id == connection_id)
            .map(|(_, text)| {
                serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()))
            })
            .collect()
    }

    /// The connections closed with `DELETE @connections/{id}`, in order.
    pub fn deleted(&self) -> Vec<String> {
        self.lock().deleted.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Recorded> {
        // A test that panicked mid-call still left a usable record.
        self.recorded.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl ManagementApi for RecordingManagementApi {
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), ManagementError> {
        let mut recorded = self.lock();
        if recorded.gone.contains(connection_id) {
            return Err(ManagementError::Gone);
        }
        let text = String::from_utf8_lossy(data).into_owned();
        recorded.posts.push((connection_id.to_owned(), text));
        Ok(())
    }

    async fn get(&self, connection_id: &str) -> Result<ConnectionInfo, ManagementError> {
        if self.lock().gone.contains(connection_id) {
            return Err(ManagementError::Gone);
        }
        let now = Utc::now();
        Ok(ConnectionInfo {
            connected_at: now,
            last_active_at: now,
            source_ip: Some("127.0.0.1".to_owned()),
            user_agent: None,
        })
    }

    async fn delete(&self, connection_id: &str) -> Result<(), ManagementError> {
        let mut recorded = self.lock();
        if !recorded.gone.insert(connection_id.to_owned()) {
            return Err(ManagementError::Gone);
        }
        recorded.deleted.push(connection_id.to_owned());
        Ok(())
    }
}

/// The connection a test [`Context`] is a message of: its id, the adapter's state
/// and connection store, and the Management API its posts reach.
///
/// ```
/// use fabric::websocket::TestConnection;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (ctx, posts) = TestConnection::new("c1").route_key("join").context();
/// assert_eq!(ctx.websocket().unwrap().route_key(), "join");
/// ctx.send_message(serde_json::json!({"joined": "general"})).await.unwrap();
/// assert_eq!(posts.posts_to("c1"), vec![serde_json::json!({"joined": "general"})]);
/// # })
/// ```
#[derive(Clone)]
pub struct TestConnection {
    connection_id: String,
    route_key: String,
    state: State,
    store: Option<SharedStore>,
    management: RecordingManagementApi,
}

impl std::fmt::Debug for TestConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestConnection")
            .field("connection_id", &self.connection_id)
            .field("route_key", &self.route_key)
            .field("store", &self.store.is_some())
            .finish_non_exhaustive()
    }
}

impl TestConnection {
    /// A MESSAGE on `$default` from the connection `connection_id`.
    pub fn new(connection_id: &str) -> TestConnection {
        TestConnection {
            connection_id: connection_id.to_owned(),
            route_key: "$default".to_owned(),
            state: State::new(),
            store: None,
            management: RecordingManagementApi::new(),
        }
    }

    /// The route key the message arrived on.
    pub fn route_key(mut self, route_key: &str) -> TestConnection {
        self.route_key = route_key.to_owned();
        self
    }

    /// A shared value for `ctx.state::<T>()`.
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> TestConnection {
        self.state = self.state.with(value);
        self
    }

    /// The connection store behind `ctx.join(..)`, `ctx.broadcast_room(..)`, ...
    pub fn store(mut self, store: SharedStore) -> TestConnection {
        self.store = Some(store);
        self
    }

    /// Posts go to `management` (to share one between several connections).
    pub fn management(mut self, management: RecordingManagementApi) -> TestConnection {
        self.management = management;
        self
    }

    /// The context of one message, and the Management API its posts reach.
    pub fn context(&self) -> (Context, RecordingManagementApi) {
        let mut state = self.state.clone();
        if let Some(store) = &self.store {
            state = state.with(store.clone());
        }
        let ws = Arc::new(WebSocket {
            event_type: EventType::Message,
            route_key: self.route_key.clone(),
            connection_id: self.connection_id.clone(),
            request_id: "test-request".to_owned(),
            stage: "test".to_owned(),
            domain_name: "127.0.0.1".to_owned(),
            api_id: "test".to_owned(),
            source_ip: Some("127.0.0.1".to_owned()),
            user_agent: None,
            connected_at: Utc::now().timestamp_millis(),
            headers: Default::default(),
            query: Default::default(),
            authorizer: Value::Null,
            management: Arc::new(self.management.clone()),
            broadcast_concurrency: 64,
            store: self.store.clone(),
        });
        let ctx = Context::builder(ws.request_id.clone())
            .shared_sink(ws.clone())
            .shared_extension(ws)
            .state(state)
            .build();
        (ctx, self.management.clone())
    }
}

/// The context of a message from `connection_id`, with no store: see
/// [`TestConnection`] for more.
///
/// ```
/// let (ctx, _posts) = fabric::websocket::test_context("c1");
/// assert_eq!(ctx.connection_id(), Some("c1"));
/// ```
pub fn test_context(connection_id: &str) -> (Context, RecordingManagementApi) {
    TestConnection::new(connection_id).context()
}
