//! One open connection: frames in, messages to the functions one at a time, posts
//! and replies out, the quotas, and `$disconnect` at the end.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::encodings::Body as EventBody;
use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::connections::{Connection, Outbound};
use super::invocation::{Finished, Invocation, Outcome};
use super::shared::Shared;

/// How many complete messages of one connection may wait for the one being handled
/// before the gateway stops reading from that client.
const MAX_QUEUED_MESSAGES: usize = 64;

/// The `$disconnect` reason of a connection that ended without a close frame.
pub(super) const ABNORMAL: &str = "Connection closed abnormally";

pub(super) type Socket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// One open connection: reads frames, hands complete messages to the adapter one
/// at a time, writes posts and two-way replies, and enforces the quotas.
pub(super) struct Session {
    shared: Arc<Shared>,
    connection: Arc<Connection>,
    socket: Socket,
    outbound: mpsc::Receiver<Outbound>,
}

/// How a connection ended: the close code and the `$disconnect` reason.
type Ending = (u16, Cow<'static, str>);

impl Session {
    pub(super) fn new(
        shared: Arc<Shared>,
        connection: Arc<Connection>,
        socket: Socket,
        outbound: mpsc::Receiver<Outbound>,
    ) -> Session {
        Session {
            shared,
            connection,
            socket,
            outbound,
        }
    }

    pub(super) async fn run(self) {
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
                    if let Some(reply) = reply_for(&connection, finished) {
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
                        if !shared.admits(&body) {
                            if socket.send(Message::text(throttled(&connection))).await.is_err() {
                                break (1006, ABNORMAL.into());
                            }
                            continue;
                        }
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
                    Some(Ok(_)) => {
                        // Pings are answered by tungstenite; like any frame they
                        // count as activity for the idle timeout.
                        connection.touch();
                        idle.as_mut().reset(tokio::time::Instant::now() + settings.idle_timeout);
                    }
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
    pub(super) async fn disconnected(
        shared: &Shared,
        connection: &Arc<Connection>,
        code: u16,
        reason: &str,
    ) {
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

/// API Gateway's answer to a message over the stage's throttling; the function
/// never sees it.
fn throttled(connection: &Connection) -> String {
    json!({
        "message": "Too Many Requests",
        "connectionId": &*connection.id,
        "requestId": super::connections::new_id(),
    })
    .to_string()
}

/// What the client receives after a message was handled: the body for a two-way
/// API, API Gateway's error message when the integration failed, else nothing.
fn reply_for(connection: &Connection, finished: Finished) -> Option<String> {
    let failure = |message: &str| {
        json!({
            "message": message,
            "connectionId": &*connection.id,
            "requestId": finished.request_id,
        })
        .to_string()
    };
    match finished.outcome {
        Outcome::Answered(response) if finished.two_way => match response.body {
            Some(EventBody::Text(text)) => Some(text),
            Some(EventBody::Binary(bytes)) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            _ => None,
        },
        Outcome::Answered(_) => None,
        Outcome::Failed => Some(failure("Internal server error")),
        Outcome::TimedOut => Some(failure("Endpoint request timed out")),
        Outcome::NoRoute => Some(failure("Forbidden")),
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
