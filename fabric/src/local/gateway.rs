//! The WebSocket side of the local gateway: the handshake with `$connect`, one task
//! per connection, route selection, and `$disconnect` on every close.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::future::Future;
use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body as EventBody;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::header::{
    CONNECTION, CONTENT_TYPE, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL,
    SEC_WEBSOCKET_VERSION, UPGRADE, USER_AGENT,
};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::connections::{Connection, Outbound, Registry};
use super::events::Api;
use crate::panic::{CatchPanic, catch_panic};
use crate::websocket::WebSocketAdapter;

/// API Gateway's frame limit: 32 KB; a larger frame closes the connection with 1009.
///
/// ```
/// assert_eq!(fabric::local::MAX_FRAME_BYTES, 32_768);
/// ```
pub const MAX_FRAME_BYTES: usize = 32 * 1024;
/// API Gateway's message limit: 128 KB, for a message of several frames and for a
/// Management API post.
///
/// ```
/// assert_eq!(fabric::local::MAX_MESSAGE_BYTES, 131_072);
/// ```
pub const MAX_MESSAGE_BYTES: usize = crate::websocket::MAX_MESSAGE_BYTES;
/// How many complete messages of one connection may wait for the one being handled
/// before the gateway stops reading from that client.
const MAX_QUEUED_MESSAGES: usize = 64;
/// Per-connection read buffer: small, so idle connections are cheap (tungstenite's
/// default is 128 KiB); it grows for a large frame.
const READ_BUFFER_BYTES: usize = 2 * 1024;

/// The settings of a gateway, fixed once it is bound.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub idle_timeout: Duration,
    pub max_lifetime: Duration,
    pub integration_timeout: Duration,
    pub verbose: bool,
}

/// Everything the gateway's handlers and connection tasks share.
pub(crate) struct Shared {
    pub adapter: Arc<WebSocketAdapter>,
    pub api: Api,
    pub port: u16,
    pub settings: Settings,
    pub registry: Registry,
    /// The adapter's own route keys (not `$`-prefixed), for route selection.
    custom_keys: Vec<String>,
    /// Without a `$connect` route API Gateway accepts every connection.
    has_connect_route: bool,
    page: &'static str,
    log: EventLog,
    /// Cancelled on shutdown: every connection closes with 1001.
    pub closing: CancellationToken,
    /// The connection tasks, awaited on shutdown.
    pub sessions: TaskTracker,
}

impl Shared {
    pub fn new(
        adapter: WebSocketAdapter,
        api: Api,
        port: u16,
        settings: Settings,
        page: &'static str,
    ) -> Shared {
        let keys = adapter.route_keys();
        Shared {
            has_connect_route: keys.iter().any(|k| k == "$connect"),
            custom_keys: keys.into_iter().filter(|k| !k.starts_with('$')).collect(),
            adapter: Arc::new(adapter),
            api,
            port,
            settings,
            registry: Registry::default(),
            page,
            log: EventLog::new(),
            closing: CancellationToken::new(),
            sessions: TaskTracker::new(),
        }
    }

    /// The route key API Gateway would pick for a text frame.
    fn route_key(&self, body: &str) -> String {
        if self.custom_keys.is_empty() {
            return "$default".to_owned();
        }
        let keys: Vec<&str> = self.custom_keys.iter().map(String::as_str).collect();
        self.adapter.selection().route_key(body, &keys).to_owned()
    }

    /// Starts the adapter on `event`, on its own task: a panic that escapes the
    /// adapter is a failed invocation (API Gateway's "Internal server error"), not a
    /// dead connection.
    fn invoke(&self, event: Box<ApiGatewayWebsocketProxyRequest>) -> Invocation {
        let context = &event.request_context;
        let meta = EventMeta {
            route_key: context.route_key.clone().unwrap_or_default(),
            connection_id: context.connection_id.clone().unwrap_or_default(),
            request_id: context.request_id.clone().unwrap_or_default(),
            started: Instant::now(),
        };
        if self.settings.verbose {
            let json = super::events::to_json(&event);
            tracing::info!(target: "fabric::local", "{} {} event\n{json}", meta.route_key, meta.connection_id);
        }
        let adapter = self.adapter.clone();
        Invocation {
            handler: Some(catch_panic(|| {
                Box::pin(async move { adapter.handle(*event).await }) as BoxFuture<'static, _>
            })),
            deadline: Box::pin(tokio::time::sleep(self.settings.integration_timeout)),
            meta: Some(meta),
            log: self.log,
        }
    }
}

/// What API Gateway's integration gave back.
// Made once per event and moved once; boxing the response would cost more.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Outcome {
    Answered(ApiGatewayProxyResponse),
    /// The invocation failed (a panic escaped the adapter).
    Failed,
    /// Over the integration timeout; the handler is left to finish on its own, as a
    /// Lambda would.
    TimedOut,
}

struct EventMeta {
    route_key: String,
    connection_id: String,
    request_id: String,
    started: Instant,
}

/// One adapter call in flight, polled by the task that awaits it (a connection's
/// session): no task spawn per message. Logs its line when it completes.
struct Invocation {
    handler: Option<CatchPanic<BoxFuture<'static, ApiGatewayProxyResponse>>>,
    deadline: Pin<Box<tokio::time::Sleep>>,
    meta: Option<EventMeta>,
    log: EventLog,
}

struct Finished {
    outcome: Outcome,
    request_id: String,
}

impl Future for Invocation {
    type Output = Finished;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Finished> {
        let this = &mut *self;
        let handler = this
            .handler
            .as_mut()
            .expect("Invocation polled after completion");
        // A panic that escapes the adapter is a failed invocation (API Gateway's
        // "Internal server error"), not a dead connection.
        let outcome = match Pin::new(handler).poll(cx) {
            Poll::Ready(Ok(response)) => Outcome::Answered(response),
            Poll::Ready(Err(_panic)) => Outcome::Failed,
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(()) => {
                    // Over the integration timeout: the client hears so, and the
                    // handler finishes on its own, as a Lambda would.
                    if let Some(handler) = this.handler.take() {
                        tokio::spawn(handler);
                    }
                    Outcome::TimedOut
                }
            },
        };
        this.handler = None;
        let meta = this
            .meta
            .take()
            .expect("Invocation polled after completion");
        this.log.line(&meta, &outcome);
        Poll::Ready(Finished {
            outcome,
            request_id: meta.request_id,
        })
    }
}

/// The one log line per event: route, connection, status, latency (and the error's
/// detail for a 4xx/5xx), the status coloured on a terminal.
#[derive(Debug, Clone, Copy)]
struct EventLog {
    colour: bool,
}

impl EventLog {
    fn new() -> EventLog {
        EventLog {
            colour: std::io::stderr().is_terminal(),
        }
    }

    fn line(&self, meta: &EventMeta, outcome: &Outcome) {
        if !tracing::enabled!(target: "fabric::local", tracing::Level::INFO) {
            return;
        }
        let latency = meta.started.elapsed();
        let (status, colour, detail) = match outcome {
            Outcome::Answered(response) => {
                let code = response.status_code;
                let colour = match code {
                    200..=399 => "32",
                    400..=499 => "33",
                    _ => "31",
                };
                let detail = if code >= 400 {
                    error_detail(response)
                } else {
                    String::new()
                };
                (code.to_string(), colour, detail)
            }
            Outcome::Failed => ("ERR".to_owned(), "31", " Internal server error".to_owned()),
            Outcome::TimedOut => (
                "TIMEOUT".to_owned(),
                "31",
                " Endpoint request timed out".to_owned(),
            ),
        };
        let route = &meta.route_key;
        let id = &meta.connection_id;
        let latency = Latency(latency);
        if self.colour {
            tracing::info!(target: "fabric::local", "\x1b[1m{route}\x1b[0m {id} \x1b[{colour}m{status}\x1b[0m {latency}{detail}");
        } else {
            tracing::info!(target: "fabric::local", "{route} {id} {status} {latency}{detail}");
        }
    }
}

/// A latency as people read it: `850µs`, `12.3ms`, `1.20s`. Cheaper than
/// `Duration`'s `Debug`, and this runs once per event.
struct Latency(Duration);

impl std::fmt::Display for Latency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let micros = self.0.as_micros();
        match micros {
            0..1_000 => write!(f, "{micros}µs"),
            1_000..1_000_000 => write!(f, "{}.{}ms", micros / 1_000, micros % 1_000 / 100),
            _ => write!(f, "{:.2}s", self.0.as_secs_f64()),
        }
    }
}

/// The first error's detail from an error envelope body, for the log line.
fn error_detail(response: &ApiGatewayProxyResponse) -> String {
    let Some(EventBody::Text(text)) = &response.body else {
        return String::new();
    };
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|body| body["errors"][0]["detail"].as_str().map(str::to_owned))
        .map(|detail| format!(" {detail}"))
        .unwrap_or_default()
}

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
    if parts.method != Method::GET
        || parts
            .headers
            .get(SEC_WEBSOCKET_VERSION)
            .map(|v| v.as_bytes())
            != Some(b"13")
    {
        return plain(
            StatusCode::BAD_REQUEST,
            "A WebSocket handshake is a GET with Sec-WebSocket-Version: 13",
        );
    }
    let Some(key) = parts.headers.get(SEC_WEBSOCKET_KEY).cloned() else {
        return plain(StatusCode::BAD_REQUEST, "Sec-WebSocket-Key is missing");
    };
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
            let event =
                shared
                    .api
                    .connect(&connection, parts.headers, parts.uri.query(), shared.port);
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
    Session {
        shared,
        connection,
        socket,
        outbound,
    }
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
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (status, text).into_response()
}

/// The `$disconnect` reason of a connection that ended without a close frame.
const ABNORMAL: &str = "Connection closed abnormally";

type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// One open connection: reads frames, hands complete messages to the adapter one
/// at a time, writes posts and two-way replies, and enforces the quotas.
struct Session {
    shared: Arc<Shared>,
    connection: Arc<Connection>,
    socket: Socket,
    outbound: mpsc::Receiver<Outbound>,
}

/// How a connection ended: the close code and the `$disconnect` reason.
type Ending = (u16, Cow<'static, str>);

impl Session {
    async fn run(self) {
        let Session {
            shared,
            connection,
            mut socket,
            mut outbound,
        } = self;
        let settings = &shared.settings;
        let idle = tokio::time::sleep(settings.idle_timeout);
        let lifetime = tokio::time::sleep(settings.max_lifetime);
        tokio::pin!(idle, lifetime);
        let mut queue: VecDeque<String> = VecDeque::new();
        let mut in_flight: Option<Invocation> = None;

        let (code, reason): Ending = loop {
            tokio::select! {
                biased;
                () = shared.closing.cancelled() => {
                    break close(&mut socket, 1001, "Going away").await;
                }
                Some(message) = outbound.recv() => match message {
                    Outbound::Message(data) => {
                        connection.touch();
                        idle.as_mut().reset(tokio::time::Instant::now() + settings.idle_timeout);
                        if socket.send(frame_of(data)).await.is_err() {
                            break (1006, ABNORMAL.into());
                        }
                    }
                    Outbound::Close { code, reason } => break close(&mut socket, code, reason).await,
                },
                finished = async { in_flight.as_mut().expect("guarded").await }, if in_flight.is_some() => {
                    in_flight = None;
                    if let Some(reply) = reply_for(&shared, &connection, finished) {
                        if socket.send(Message::text(reply)).await.is_err() {
                            break (1006, ABNORMAL.into());
                        }
                    }
                    in_flight = queue.pop_front().map(|body| start(&shared, &connection, body));
                }
                frame = socket.next(), if queue.len() < MAX_QUEUED_MESSAGES => match frame {
                    Some(Ok(Message::Text(text))) => {
                        connection.touch();
                        idle.as_mut().reset(tokio::time::Instant::now() + settings.idle_timeout);
                        let body = text.as_str().to_owned();
                        if in_flight.is_none() {
                            in_flight = Some(start(&shared, &connection, body));
                        } else {
                            queue.push_back(body);
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        break close(&mut socket, 1003, "Binary frames are not supported").await;
                    }
                    Some(Ok(Message::Close(frame))) => {
                        // Tungstenite queued the echo of the client's close frame on
                        // reading it; flushing sends it and completes the handshake.
                        let _ = socket.flush().await;
                        break match frame {
                            Some(frame) => (u16::from(frame.code), frame.reason.as_str().to_owned().into()),
                            None => (1005, "Client-side close frame status not set".into()),
                        };
                    }
                    Some(Ok(_)) => {} // pings are answered by tungstenite
                    Some(Err(WsError::Capacity(_))) => {
                        break close(&mut socket, 1009, "Message too big").await;
                    }
                    Some(Err(WsError::Utf8(_))) => {
                        break close(&mut socket, 1007, "Invalid UTF-8 in a text frame").await;
                    }
                    Some(Err(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake))) => {
                        break (1006, ABNORMAL.into());
                    }
                    Some(Err(WsError::Protocol(_))) => {
                        break close(&mut socket, 1002, "Protocol error").await;
                    }
                    Some(Err(err)) => {
                        tracing::debug!(target: "fabric::local", error = %err, "the connection failed");
                        break (1006, ABNORMAL.into());
                    }
                    None => break (1006, ABNORMAL.into()),
                },
                () = &mut idle => break close(&mut socket, 1001, "Idle timeout").await,
                () = &mut lifetime => break close(&mut socket, 1001, "Max connection duration").await,
            }
        };
        drop(socket);
        shared.registry.remove(&connection);
        // Messages that arrived before the close are still handled, in order; their
        // replies have nowhere to go.
        if let Some(invocation) = in_flight {
            invocation.await;
        }
        for body in queue {
            start(&shared, &connection, body).await;
        }
        Session::disconnected(&shared, &connection, code, &reason).await;
    }

    /// Runs `$disconnect` for a connection that is gone.
    async fn disconnected(shared: &Shared, connection: &Arc<Connection>, code: u16, reason: &str) {
        shared.registry.remove(connection);
        let event = shared.api.disconnect(connection, code, reason);
        shared.invoke(event).await;
    }
}

/// Starts a MESSAGE event for a text frame.
fn start(shared: &Shared, connection: &Connection, body: String) -> Invocation {
    let route_key = shared.route_key(&body);
    shared.invoke(shared.api.message(connection, &route_key, body))
}

/// What the client receives after a message was handled: the body for a two-way
/// API, API Gateway's error message when the integration failed, else nothing.
fn reply_for(shared: &Shared, connection: &Connection, finished: Finished) -> Option<String> {
    let failure = |message: &str| {
        json!({
            "message": message,
            "connectionId": &*connection.id,
            "requestId": finished.request_id,
        })
        .to_string()
    };
    match finished.outcome {
        Outcome::Answered(response) if shared.adapter.is_two_way() => match response.body {
            Some(EventBody::Text(text)) => Some(text),
            Some(EventBody::Binary(bytes)) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            _ => None,
        },
        Outcome::Answered(_) => None,
        Outcome::Failed => Some(failure("Internal server error")),
        Outcome::TimedOut => Some(failure("Endpoint request timed out")),
    }
}

/// A post as a frame: text when it is UTF-8 (as every JSON post is), else binary.
fn frame_of(data: Vec<u8>) -> Message {
    match String::from_utf8(data) {
        Ok(text) => Message::text(text),
        Err(err) => Message::binary(err.into_bytes()),
    }
}

/// Sends a close frame and lets the client answer it before the socket is dropped:
/// closing a socket with unread input resets it, and the client would never see
/// the code. After a frame the protocol cannot parse (1002, 1007, 1009) the rest of
/// the input is discarded unread; otherwise the client's own close frame ends the
/// wait at once.
async fn close(socket: &mut Socket, code: u16, reason: &'static str) -> Ending {
    let frame = CloseFrame {
        code: code.into(),
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
    let unparsable = matches!(code, 1002 | 1007 | 1009);
    let drain = async {
        // A client that stays silent for this long is not going to answer.
        let quiet = Duration::from_millis(200);
        if unparsable {
            let io = socket.get_mut();
            // On the heap: a buffer in this future would sit in every idle session.
            let mut scratch = vec![0u8; 4096];
            while let Ok(Ok(1..)) = tokio::time::timeout(quiet, io.read(&mut scratch)).await {}
        } else {
            while let Ok(Some(Ok(_))) = tokio::time::timeout(quiet, socket.next()).await {}
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
    (code, reason.into())
}

/// The address the gateway's events name as their `domainName`, from the address
/// it listens on: a loopback address, so the adapter posts back here over plain HTTP.
pub(crate) fn domain_name(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        addr.ip()
    };
    SocketAddr::new(ip, addr.port()).to_string()
}
