//! A WebSocket client for tests against the local gateway: JSON in, JSON out.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Long enough for a loaded 2-core machine, short enough to fail fast.
const WAIT: Duration = Duration::from_secs(10);

pub(crate) struct WsClient(WebSocketStream<MaybeTlsStream<TcpStream>>);

impl WsClient {
    /// Connects to `url`; panics if the handshake is refused.
    pub(crate) async fn connect(url: &str) -> WsClient {
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .unwrap_or_else(|err| panic!("connect to {url}: {err}"));
        WsClient(stream)
    }

    /// Sends `message` as one text frame.
    pub(crate) async fn send_json(&mut self, message: Value) {
        self.0
            .send(Message::text(message.to_string()))
            .await
            .expect("send a frame");
    }

    /// The next text frame, as JSON; panics after 10 s or on a close.
    pub(crate) async fn next_json(&mut self) -> Value {
        loop {
            let frame = tokio::time::timeout(WAIT, self.0.next())
                .await
                .expect("a frame within 10 s")
                .expect("the connection is open")
                .expect("no WebSocket error");
            match frame {
                Message::Text(text) => return serde_json::from_str(&text).expect("JSON"),
                Message::Close(close) => panic!("closed: {close:?}"),
                _ => {}
            }
        }
    }

    /// Drops the TCP connection without a close frame, as a crashed client does.
    pub(crate) fn vanish(self) {
        drop(self.0);
    }
}
