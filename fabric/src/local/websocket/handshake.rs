//! The HTTP side of the gateway's WebSocket endpoint: the page, the handshake with
//! `$connect`, and API Gateway's refusals.

use std::net::SocketAddr;
use std::sync::Arc;

use aws_lambda_events::encodings::Body as EventBody;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::header::{
    CONNECTION, CONTENT_TYPE, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL,
    SEC_WEBSOCKET_VERSION, UPGRADE, USER_AGENT,
};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::connections::{Connection, Outbound};
use super::invocation::Outcome;
use super::session::{ABNORMAL, Session};
use super::shared::Shared;
use super::{MAX_FRAME_BYTES, MAX_MESSAGE_BYTES};
use crate::websocket::ConnectVerdict;

/// Per-connection read buffer: small, so idle connections are cheap (tungstenite's
/// default is 128 KiB); it grows for a large frame.
const READ_BUFFER_BYTES: usize = 2 * 1024;

/// `GET /`: a WebSocket upgrade, or the page for a browser.
pub(crate) async fn root(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    if !is_upgrade(request.headers()) {
        return Html(shared.page).into_response();
    }
    accept(shared, peer, request).await
}

/// `GET /{stage}`: a WebSocket upgrade on the stage's own URL.
pub(crate) async fn staged(
    State(shared): State<Arc<Shared>>,
    Path(stage): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    if stage != shared.api.stage {
        return forbidden();
    }
    if !is_upgrade(request.headers()) {
        return (
            StatusCode::UPGRADE_REQUIRED,
            [(UPGRADE, "websocket")],
            "Upgrade to a WebSocket to use this stage\n",
        )
            .into_response();
    }
    accept(shared, peer, request).await
}

/// What API Gateway answers for a path or stage it does not have.
pub(crate) fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        [("x-amzn-ErrorType", "ForbiddenException")],
        axum::Json(json!({"message": "Forbidden"})),
    )
        .into_response()
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    let has_token = |name, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value
                .to_str()
                .unwrap_or_default()
                .split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(token))
        })
    };
    has_token(CONNECTION, "upgrade") && has_token(UPGRADE, "websocket")
}

/// The handshake: `$connect` decides, before the client gets its 101.
async fn accept(shared: Arc<Shared>, peer: SocketAddr, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    if shared.closing.is_cancelled() {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "The gateway is shutting down",
        );
    }
    if parts.method != Method::GET {
        return plain(StatusCode::BAD_REQUEST, "A WebSocket handshake is a GET");
    }
    if parts
        .headers
        .get(SEC_WEBSOCKET_VERSION)
        .map(|v| v.as_bytes())
        != Some(b"13")
    {
        // RFC 6455 §4.4: name the version this server speaks.
        return (
            StatusCode::UPGRADE_REQUIRED,
            [(SEC_WEBSOCKET_VERSION, "13")],
            "This server speaks WebSocket version 13 (RFC 6455)\n",
        )
            .into_response();
    }
    let Some(key) = parts.headers.get(SEC_WEBSOCKET_KEY).cloned() else {
        return plain(StatusCode::BAD_REQUEST, "Sec-WebSocket-Key is missing");
    };
    if !is_handshake_key(key.as_bytes()) {
        return plain(
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Key must be 16 bytes in base64 (RFC 6455 §4.1)",
        );
    }
    let Some(on_upgrade) = parts.extensions.remove::<hyper::upgrade::OnUpgrade>() else {
        return plain(
            StatusCode::BAD_REQUEST,
            "This connection cannot be upgraded",
        );
    };
    let user_agent = parts
        .headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (connection, outbound) = shared.registry.register(peer.ip().to_string(), user_agent);

    // The connection's life runs on its own task from here, so that it completes
    // even if this request is dropped (the client gave up during `$connect`): an
    // accepted `$connect` is then always followed by a `$disconnect`.
    let (decided, decision) = tokio::sync::oneshot::channel::<Result<_, Response>>();
    let task_shared = shared.clone();
    shared.sessions.spawn(async move {
        let shared = task_shared;
        let mut protocol = None;
        if shared.has_connect_route {
            let mut event =
                shared
                    .api
                    .connect(&connection, parts.headers, parts.uri.query(), shared.port);
            if let Some(authorizer) = shared.routes.authorizer() {
                let method_arn = shared.api.connect_arn();
                let verdict = tokio::time::timeout(
                    shared.settings.integration_timeout,
                    authorizer.check_connect(&event, method_arn),
                )
                .await
                .unwrap_or(ConnectVerdict::Refuse(500));
                match verdict {
                    ConnectVerdict::Allow(fields) => {
                        connection.set_authorizer(fields.clone());
                        event.request_context.authorizer.fields = fields;
                    }
                    ConnectVerdict::Refuse(status) => {
                        shared.registry.remove(&connection);
                        let _ = decided.send(Err(refused_by_authorizer(status)));
                        return;
                    }
                }
            }
            match shared.invoke(event).await.outcome {
                Outcome::Answered(response) if (200..300).contains(&response.status_code) => {
                    protocol = response.headers.get(SEC_WEBSOCKET_PROTOCOL).cloned();
                }
                outcome => {
                    shared.registry.remove(&connection);
                    let _ = decided.send(Err(rejection(outcome)));
                    return;
                }
            }
        }
        let _ = decided.send(Ok(protocol));
        // A task of its own: this one's future also holds the `$connect` state, and
        // an idle connection should cost no more than its session.
        let sessions = shared.sessions.clone();
        sessions.spawn(open(shared, connection, outbound, on_upgrade));
    });
    let protocol = match decision.await {
        Ok(Ok(protocol)) => protocol,
        Ok(Err(rejection)) => return rejection,
        Err(_) => return rejection(Outcome::Failed),
    };

    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut response = Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(CONNECTION, "upgrade")
        .header(UPGRADE, "websocket")
        .header(SEC_WEBSOCKET_ACCEPT, accept);
    if let Some(protocol) = protocol {
        response = response.header(SEC_WEBSOCKET_PROTOCOL, protocol);
    }
    response
        .body(Body::empty())
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "bad handshake response"))
}

/// The accepted connection once its 101 is sent: the session, or `$disconnect` if
/// the client left first.
async fn open(
    shared: Arc<Shared>,
    connection: Arc<Connection>,
    outbound: mpsc::Receiver<Outbound>,
    on_upgrade: hyper::upgrade::OnUpgrade,
) {
    let upgraded = on_upgrade.await;
    if let Err(err) = &upgraded {
        tracing::debug!(target: "fabric::local", error = %err, "the upgrade failed");
    }
    let Ok(upgraded) = upgraded else {
        // The client left before its 101 arrived.
        Session::disconnected(&shared, &connection, 1006, ABNORMAL).await;
        return;
    };
    let config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_frame_size(Some(MAX_FRAME_BYTES))
        .max_message_size(Some(MAX_MESSAGE_BYTES));
    let socket =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    connection.mark_open();
    Session::new(shared, connection, socket, outbound)
        .run()
        .await;
}

/// A refused handshake: the `$connect` result's status and body, as API Gateway
/// answers it; only `Sec-WebSocket-Protocol` of its headers would ever reach a client.
fn rejection(outcome: Outcome) -> Response {
    match outcome {
        Outcome::Answered(response) => {
            let status = u16::try_from(response.status_code)
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .filter(|s| !s.is_informational())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let body = match response.body {
                Some(EventBody::Text(text)) => text,
                Some(EventBody::Binary(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
                _ => String::new(),
            };
            (status, [(CONTENT_TYPE, "application/json")], body).into_response()
        }
        Outcome::Failed => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"message": "Internal server error"})),
        )
            .into_response(),
        Outcome::TimedOut => (
            StatusCode::GATEWAY_TIMEOUT,
            axum::Json(json!({"message": "Endpoint request timed out"})),
        )
            .into_response(),
        Outcome::NoRoute => forbidden(),
    }
}

/// API Gateway's answer when the authorizer refuses (or fails on) a handshake.
fn refused_by_authorizer(status: u16) -> Response {
    let message = ConnectVerdict::refusal_message(status);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, axum::Json(json!({ "message": message }))).into_response()
}

/// A `Sec-WebSocket-Key` as RFC 6455 §4.1 has it: 16 bytes, base64-encoded.
fn is_handshake_key(key: &[u8]) -> bool {
    use base64::Engine as _;
    let key = key.trim_ascii();
    key.len() == 24
        && base64::engine::general_purpose::STANDARD
            .decode(key)
            .is_ok_and(|bytes| bytes.len() == 16)
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (status, text).into_response()
}
