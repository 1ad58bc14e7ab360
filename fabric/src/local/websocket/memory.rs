//! The gateway over in-memory connections, for the fuzz targets (built only with
//! `cfg(fuzzing)`, which `cargo fuzz` sets): the same router, handshake, sessions
//! and Management API as over TCP, with no sockets, so each input costs
//! microseconds.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio_util::sync::CancellationToken;

use super::super::parse_error::ErrorStyle;
use super::super::serve::serve_connection;
use super::shared::Shared;
use super::{Gateway, peer_service, router};

/// A gateway whose clients are in-memory streams.
#[derive(Debug)]
pub struct MemoryGateway {
    app: axum::Router,
    shared: Arc<Shared>,
}

/// A client connection kept open: its stream, for more bytes.
#[derive(Debug)]
pub struct MemoryClient {
    stream: DuplexStream,
}

impl Gateway {
    /// This gateway, served over in-memory connections.
    pub fn in_memory(self) -> MemoryGateway {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 3001));
        let shared = self.into_shared(addr);
        MemoryGateway {
            app: router(shared.clone()),
            shared,
        }
    }
}

impl MemoryGateway {
    /// A new client connection.
    pub fn connect(&self) -> MemoryClient {
        let (client, server) = tokio::io::duplex(256 * 1024);
        let peer = SocketAddr::from((Ipv4Addr::LOCALHOST, 40000));
        let service = peer_service(self.app.clone(), peer);
        tokio::spawn(serve_connection(
            server,
            service,
            ErrorStyle::Message,
            CancellationToken::new(),
        ));
        MemoryClient { stream: client }
    }

    /// Sends `bytes` on a new connection, reads until the gateway has said all it
    /// will (a second of quiet), then ends the client's side and reads until the
    /// gateway closes the connection. On a paused clock the waits cost nothing.
    /// The client half-closes only once answered: hyper drops a request whose
    /// client half-closed before the answer.
    pub async fn exchange(&self, bytes: &[u8]) -> Vec<u8> {
        let mut client = self.connect();
        client.write(bytes).await;
        let mut output = client.read_for(Duration::from_secs(1)).await;
        output.extend(client.finish().await);
        output
    }

    /// How many connections are open or inside `$connect`.
    pub fn connection_count(&self) -> usize {
        self.shared.registry.len()
    }

    /// The ids of the open connections.
    pub fn connection_ids(&self) -> Vec<String> {
        self.shared.registry.ids()
    }
}

impl MemoryClient {
    /// Writes `bytes` (all of them, unless the gateway closed the connection).
    pub async fn write(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes).await;
    }

    /// Reads what the gateway has written so far, waiting up to `wait` for more.
    pub async fn read_for(&mut self, wait: Duration) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buffer = vec![0u8; 16 * 1024];
        while let Ok(Ok(n @ 1..)) = tokio::time::timeout(wait, self.stream.read(&mut buffer)).await
        {
            out.extend_from_slice(&buffer[..n]);
        }
        out
    }

    /// Ends the client's side and reads until the gateway closes the connection.
    pub async fn finish(mut self) -> Vec<u8> {
        let _ = self.stream.shutdown().await;
        let mut out = Vec::new();
        let _ =
            tokio::time::timeout(Duration::from_secs(60), self.stream.read_to_end(&mut out)).await;
        out
    }
}
