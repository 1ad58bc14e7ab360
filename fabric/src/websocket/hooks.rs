//! What the `$connect` and `$disconnect` hooks take and give.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde_json::Value;

use crate::{Context, Error};

/// A `$connect` hook's yes: the connection is accepted.
///
/// ```
/// use fabric::websocket::Accept;
/// let accept = Accept::new().protocol("chat.v1").user("alice");
/// assert_eq!(accept.chosen_protocol(), Some("chat.v1"));
/// assert_eq!(accept.user_id(), Some("alice"));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Accept {
    pub(super) protocol: Option<String>,
    pub(super) user_id: Option<String>,
    pub(super) metadata: serde_json::Map<String, Value>,
}

impl Accept {
    /// Accepts the connection.
    pub fn new() -> Accept {
        Accept::default()
    }

    /// Chooses one of the subprotocols the client offered; it is echoed in
    /// `Sec-WebSocket-Protocol`, the only `$connect` header that reaches the client.
    pub fn protocol(mut self, protocol: impl Into<String>) -> Accept {
        self.protocol = Some(protocol.into());
        self
    }

    /// Ties the connection to a user, for the connection store.
    pub fn user(mut self, user_id: impl Into<String>) -> Accept {
        self.user_id = Some(user_id.into());
        self
    }

    /// Keeps a value with the connection in the connection store.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Accept {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The chosen subprotocol.
    pub fn chosen_protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The user the connection belongs to.
    pub fn user_id(&self) -> Option<&str> {
        self.user_id.as_deref()
    }

    /// The values kept with the connection.
    pub fn metadata_map(&self) -> &serde_json::Map<String, Value> {
        &self.metadata
    }
}

/// How a connection ended, given to the `$disconnect` hook.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disconnect {
    /// The WebSocket close code (1000 normal, 1001 going away, 1005 none given, ...).
    pub status_code: Option<i64>,
    /// API Gateway's text for why it closed.
    pub reason: Option<String>,
}

pub(super) type ConnectHook =
    Arc<dyn Fn(Context) -> BoxFuture<'static, Result<Accept, Error>> + Send + Sync>;
pub(super) type DisconnectHook =
    Arc<dyn Fn(Context, Disconnect) -> BoxFuture<'static, ()> + Send + Sync>;
