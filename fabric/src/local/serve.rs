//! The accept loop both local servers share (the HTTP server and the gateway's
//! HTTP side): HTTP/1.1 with upgrades, a deadline for each request's head, and
//! graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

use hyper::body::{Body, Incoming};
use hyper::header::{CONNECTION, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::parse_error::{ErrorStyle, ParseErrorBodies};
use crate::BoxError;

/// How long a client may take to send a request's head (a handshake's, on the
/// gateway) before the connection is closed: a client that never finishes would
/// otherwise hold its socket for good, and enough of them exhaust the process'
/// file descriptors.
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves HTTP/1.1 on `listener` until `stop` completes: each connection gets the
/// service `make_service` makes for its peer. Unparsable requests are answered
/// in `style`. Then open requests may finish, for up to `grace`.
pub(crate) async fn serve_http1<M, S, B>(
    listener: TcpListener,
    mut make_service: M,
    style: ErrorStyle,
    stop: impl Future<Output = ()> + Send,
    grace: Duration,
) where
    M: FnMut(SocketAddr) -> S,
    S: Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let connections = TaskTracker::new();
    let stopping = CancellationToken::new();
    let mut stop = pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: keep serving.
                    tracing::warn!(error = %err, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // Small messages are the whole traffic: Nagle's delay would dominate latency.
        let _ = stream.set_nodelay(true);
        let service = make_service(peer);
        let stopping = stopping.clone();
        connections.spawn(serve_connection(stream, service, style, stopping));
    }
    drop(listener);
    stopping.cancel();
    connections.close();
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("open requests did not finish in time; stopping anyway");
    }
}

/// Serves one connection's requests (and its upgrade) until it ends, or until
/// `stopping`, when the request in progress may finish.
pub(crate) async fn serve_connection<I, S, B>(
    io: I,
    service: S,
    style: ErrorStyle,
    stopping: CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let io = TokioIo::new(ParseErrorBodies::new(io, style));
    let service = hyper::service::service_fn(move |request| {
        let response = service.call(request);
        async move {
            let mut response = response.await?;
            // A body refused for its size is left unread: the connection cannot
            // carry another request, so the client must not reuse it.
            if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            Ok::<_, S::Error>(response)
        }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .serve_connection(io, service)
        .with_upgrades();
    let mut connection = pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        () = stopping.cancelled() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(err) = ended {
        tracing::debug!(error = %err, "connection closed with an error");
    }
}
