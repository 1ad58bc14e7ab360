//! The Management API side of the local gateway: `POST`, `GET` and `DELETE` on
//! `@connections/{id}`, answered as API Gateway answers the AWS SDKs.

use std::sync::Arc;

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
    match connection.send(Outbound::Message(body.to_vec())) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(Unreachable::Gone) => gone(),
        Err(Unreachable::Busy) => aws_error(
            StatusCode::TOO_MANY_REQUESTS,
            "LimitExceededException",
            "The client is not reading its messages fast enough",
        ),
    }
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
    // Gone for the Management API at once, as on AWS, while the close goes out.
    shared.registry.remove(&connection);
    match connection.close(1000, "Connection Closed Normally") {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => gone(),
    }
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
    id.and_then(|id| shared.registry.get(id))
        .filter(|connection| connection.is_open())
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
