//! The API Gateway Management API: post to, look up and close connections.
//!
//! [`ManagementApi`] is the seam; `SdkManagementApi` is the real client
//! (`aws-sdk-apigatewaymanagement`), and `ManagementClients` creates one per
//! endpoint, once per process, choosing the endpoint the way API Gateway needs.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Error;

/// The largest message API Gateway delivers: 128 KB.
pub const MAX_MESSAGE_BYTES: usize = 131_072;

/// What the Management API knows about a live connection (`GET @connections/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionInfo {
    /// When the connection was opened.
    pub connected_at: DateTime<Utc>,
    /// When the connection last sent or received a message.
    pub last_active_at: DateTime<Utc>,
    /// The client's IP address.
    pub source_ip: Option<String>,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
}

/// Why a Management API call failed.
///
/// ```
/// use fabric::websocket::ManagementError;
/// let gone = ManagementError::Gone;
/// assert!(gone.is_gone());
/// assert_eq!(fabric::Error::from(gone).status(), 410);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ManagementError {
    /// 410: the connection is closed (or still inside `$connect`).
    #[error("the connection is gone")]
    Gone,
    /// 403: the caller may not manage this API's connections.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// 413: the message is over 128 KB.
    #[error("the message is {0} bytes, over the 131072-byte limit")]
    PayloadTooLarge(usize),
    /// 429: throttled, after retries.
    #[error("throttled: {0}")]
    Throttled(String),
    /// Anything else: network failures, 5xx answers, configuration.
    #[error("{0}")]
    Other(String),
}

impl ManagementError {
    /// Whether the connection is gone and should be forgotten.
    pub fn is_gone(&self) -> bool {
        matches!(self, ManagementError::Gone)
    }
}

impl From<ManagementError> for Error {
    fn from(err: ManagementError) -> Error {
        let detail = err.to_string();
        match err {
            ManagementError::Gone => Error::gone(detail),
            ManagementError::Forbidden(_) => Error::forbidden(detail),
            ManagementError::PayloadTooLarge(_) => Error::payload_too_large(detail),
            ManagementError::Throttled(_) => Error::too_many_requests(detail),
            ManagementError::Other(_) => Error::bad_gateway(detail),
        }
    }
}

/// Posts to, looks up and closes WebSocket connections.
///
/// Implemented by the real SDK client; implement it yourself to send through
/// something else (a test double for a fault you cannot otherwise produce, a queue).
///
/// ```
/// use async_trait::async_trait;
/// use fabric::websocket::{ConnectionInfo, ManagementApi, ManagementError};
///
/// /// Drops every message; for benchmarks.
/// struct Discard;
///
/// #[async_trait]
/// impl ManagementApi for Discard {
///     async fn post(&self, _id: &str, _data: &[u8]) -> Result<(), ManagementError> { Ok(()) }
///     async fn get(&self, _id: &str) -> Result<ConnectionInfo, ManagementError> {
///         Err(ManagementError::Gone)
///     }
///     async fn delete(&self, _id: &str) -> Result<(), ManagementError> { Ok(()) }
/// }
/// ```
#[async_trait]
pub trait ManagementApi: Send + Sync + 'static {
    /// `POST @connections/{id}`: sends `data` as one text message.
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), ManagementError>;
    /// `GET @connections/{id}`.
    async fn get(&self, connection_id: &str) -> Result<ConnectionInfo, ManagementError>;
    /// `DELETE @connections/{id}`: closes the connection.
    async fn delete(&self, connection_id: &str) -> Result<(), ManagementError>;
}
