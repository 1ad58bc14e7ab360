//! A [`Context`] as a service sees it while serving a WebSocket message, with no
//! sockets and no AWS: `ctx.websocket()`, `ctx.join(..)` and `ctx.send_message(..)`
//! work, and every post is recorded.

use std::sync::Arc;

use chrono::Utc;
use serde_json::Value;

use super::management::RecordingManagementApi;
use crate::store::SharedStore;
use crate::websocket::{EventText, EventType, LazyManagement, WebSocket};
use crate::{Context, State};

/// The connection a test [`Context`] is a message of: its id, the adapter's state
/// and connection store, and the Management API its posts reach.
///
/// ```
/// use fabric::testing::TestConnection;
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
    authorizer: Value,
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
            authorizer: Value::Null,
        }
    }

    /// The event's `requestContext.authorizer`, as a Lambda authorizer on `$connect`
    /// leaves it on every event of the connection (`principalId` and string values).
    ///
    /// ```
    /// use fabric::testing::TestConnection;
    /// let (ctx, _) = TestConnection::new("c1").authorizer(serde_json::json!({"principalId": "ada"})).context();
    /// assert_eq!(ctx.websocket().unwrap().authorizer()["principalId"], "ada");
    /// ```
    pub fn authorizer(mut self, context: Value) -> TestConnection {
        self.authorizer = context;
        self
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
            text: EventText::new([
                Some(&self.route_key),
                Some(&self.connection_id),
                Some("test-request"),
                Some("test"),
                Some("127.0.0.1"),
                Some("test"),
                Some("127.0.0.1"),
                None,
            ]),
            connected_at: Utc::now().timestamp_millis(),
            headers: Default::default(),
            query: Default::default(),
            authorizer: self.authorizer.clone(),
            management: LazyManagement::ready(Arc::new(self.management.clone())),
            broadcast_concurrency: 64,
            store: self.store.clone(),
        });
        let ctx = Context::builder(ws.request_id())
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
/// let (ctx, _posts) = fabric::testing::test_context("c1");
/// assert_eq!(ctx.connection_id(), Some("c1"));
/// ```
pub fn test_context(connection_id: &str) -> (Context, RecordingManagementApi) {
    TestConnection::new(connection_id).context()
}
