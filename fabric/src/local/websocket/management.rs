//! The Management API side of the local gateway: `POST`, `GET` and `DELETE` on
//! `@connections/{id}`, answered as API Gateway answers the AWS SDKs, and the same
//! three calls in process ([`InProcess`]) for the gateway's own functions.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::MAX_MESSAGE_BYTES;
use super::connections::{Connection, Outbound, Unreachable, iso8601};
use super::handshake::forbidden;
use super::shared::Shared;
use crate::websocket::{ConnectionInfo, ManagementApi, ManagementError};

/// The `{stage}` and `{id}` of the path, percent-decoded by the router.
type PathParams = Path<Vec<(String, String)>>;

/// `POST @connections/{id}`: sends the body to the connection as one message.
pub(crate) async fn post(
    State(shared): State<Arc<Shared>>,
    Path(params): PathParams,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let connection = match target(&shared, &params) {
        Ok(connection) => connection,
        Err(refusal) => return refusal.into_response(),
    };
    let body = match body {
        Ok(body) if body.len() <= MAX_MESSAGE_BYTES => body,
        Ok(_) => return too_large(),
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return too_large();
        }
        Err(rejection) => return rejection.into_response(),
    };
    match deliver(&connection, body.to_vec()) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(Unreachable::Gone) => gone(),
        Err(Unreachable::Busy) => aws_error(
            StatusCode::TOO_MANY_REQUESTS,
            "LimitExceededException",
            "The client is not reading its messages fast enough",
        ),
    }
}

/// Queues a post for the connection's task: posts keep their order, as each is
/// queued before its call returns.
fn deliver(connection: &Connection, body: Vec<u8>) -> Result<(), Unreachable> {
    connection.send(Outbound::Message(body))
}

/// `GET @connections/{id}`: when it connected, when it was last active, who it is.
pub(crate) async fn get(State(shared): State<Arc<Shared>>, Path(params): PathParams) -> Response {
    match target(&shared, &params) {
        Ok(connection) => axum::Json(json!({
            "connectedAt": iso8601(connection.connected_at),
            "identity": {
                "sourceIp": connection.source_ip,
                "userAgent": connection.user_agent,
            },
            "lastActiveAt": iso8601(connection.last_active_at()),
        }))
        .into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// `DELETE @connections/{id}`: closes the connection (1000); `$disconnect` follows.
pub(crate) async fn delete(
    State(shared): State<Arc<Shared>>,
    Path(params): PathParams,
) -> Response {
    let connection = match target(&shared, &params) {
        Ok(connection) => connection,
        Err(refusal) => return refusal.into_response(),
    };
    match disconnect(&shared, &connection) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => gone(),
    }
}

/// Closes a connection (1000); `$disconnect` follows.
fn disconnect(shared: &Shared, connection: &Arc<Connection>) -> Result<(), Unreachable> {
    // Gone for the Management API at once, as on AWS, while the close goes out.
    shared.registry.remove(connection);
    connection.close(1000, "Connection Closed Normally")
}

/// The open connection `id`, or none: unknown, closed, or still inside `$connect`.
fn open_connection(shared: &Shared, id: &str) -> Option<Arc<Connection>> {
    shared
        .registry
        .get(id)
        .filter(|connection| connection.is_open())
}

/// The open connection a request names, or the error API Gateway answers: 403 for
/// another stage, 410 for an unknown id or one still inside `$connect`.
fn target(shared: &Shared, params: &[(String, String)]) -> Result<Arc<Connection>, Refusal> {
    let mut id = None;
    for (name, value) in params {
        match name.as_str() {
            "stage" if *value != shared.api.stage => return Err(Refusal::OtherStage),
            "id" => id = Some(value.as_str()),
            _ => {}
        }
    }
    id.and_then(|id| open_connection(shared, id))
        .ok_or(Refusal::Gone)
}

/// Why a request names no open connection.
enum Refusal {
    OtherStage,
    Gone,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::OtherStage => forbidden(),
            Refusal::Gone => gone(),
        }
    }
}

fn gone() -> Response {
    aws_error(StatusCode::GONE, "GoneException", "The connection is gone")
}

fn too_large() -> Response {
    aws_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "PayloadTooLargeException",
        "The message is over the 131072-byte limit",
    )
}

/// An error as the Management API sends it: the status, the exception's name in
/// `x-amzn-ErrorType`, and a JSON body with a message.
fn aws_error(status: StatusCode, error_type: &'static str, message: &str) -> Response {
    (
        status,
        [("x-amzn-ErrorType", error_type)],
        axum::Json(json!({ "message": message })),
    )
        .into_response()
}

/// The gateway's Management API for its own functions, without HTTP: the same
/// answers as the HTTP side (410 for an unknown, closed or still-connecting id, 413
/// over 128 KB, 429 after retries for a client that does not read), posts queued in
/// call order. The gateway serves its endpoint with it unless
/// `FABRIC_LOCAL_MANAGEMENT=sdk` sends every post through the AWS SDK over HTTP.
#[derive(Debug)]
pub(crate) struct InProcess {
    pub(crate) shared: Arc<Shared>,
}

/// The SDK client's retries of a throttled post: 4 attempts, backing off from 50 ms.
const THROTTLED_ATTEMPTS: u32 = 4;
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

#[async_trait]
impl ManagementApi for InProcess {
    async fn post(&self, connection_id: &str, data: &[u8]) -> Result<(), ManagementError> {
        let connection =
            open_connection(&self.shared, connection_id).ok_or(ManagementError::Gone)?;
        if data.len() > MAX_MESSAGE_BYTES {
            return Err(ManagementError::PayloadTooLarge(data.len()));
        }
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=THROTTLED_ATTEMPTS {
            match deliver(&connection, data.to_vec()) {
                Ok(()) => return Ok(()),
                Err(Unreachable::Gone) => return Err(ManagementError::Gone),
                Err(Unreachable::Busy) if attempt < THROTTLED_ATTEMPTS => {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
                Err(Unreachable::Busy) => break,
            }
        }
        Err(ManagementError::Throttled(
            "The client is not reading its messages fast enough".to_owned(),
        ))
    }

    async fn get(&self, connection_id: &str) -> Result<ConnectionInfo, ManagementError> {
        let connection =
            open_connection(&self.shared, connection_id).ok_or(ManagementError::Gone)?;
        let time = |millis: i64| {
            chrono::DateTime::from_timestamp_millis(millis)
                .ok_or_else(|| ManagementError::Other("a connection time out of range".into()))
        };
        Ok(ConnectionInfo {
            connected_at: time(connection.connected_at)?,
            last_active_at: time(connection.last_active_at())?,
            source_ip: Some(connection.source_ip.clone()),
            user_agent: connection.user_agent.clone(),
        })
    }

    async fn delete(&self, connection_id: &str) -> Result<(), ManagementError> {
        let connection =
            open_connection(&self.shared, connection_id).ok_or(ManagementError::Gone)?;
        disconnect(&self.shared, &connection).map_err(|_| ManagementError::Gone)
    }
}
