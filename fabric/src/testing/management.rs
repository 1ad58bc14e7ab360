//! A Management API that keeps every post, for tests of services that post.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::Utc;
use serde_json::Value;

use crate::websocket::{ConnectionInfo, ManagementApi, ManagementError};

/// A Management API that records what it is asked to do: every post, by connection,
/// in order, and every deletion. Connections marked [gone](Self::mark_gone) (or
/// deleted) answer 410, as on AWS.
///
/// ```
/// use fabric::testing::RecordingManagementApi;
/// use fabric::websocket::{ManagementApi, ManagementError};
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
