//! `bare-echo`: a plain tokio-tungstenite echo server, the floor `wsload` compares
//! the local gateway with. No events, no routing: each text frame goes straight back.
//!
//! `cargo run --release --bin bare-echo -- --port 3002`

use clap::{Arg, Command, value_parser};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let matches = Command::new("bare-echo")
        .about("A bare tokio-tungstenite echo server")
        .arg(
            Arg::new("port")
                .long("port")
                .value_parser(value_parser!(u16))
                .default_value("3002"),
        )
        .get_matches();
    let port = *matches.get_one::<u16>("port").expect("defaulted");
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("bare echo server ready: ws://127.0.0.1:{port}");
    // The same small read buffer as the gateway, so memory compares like for like.
    let config = WebSocketConfig::default().read_buffer_size(2 * 1024);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let Ok(mut socket) =
                tokio_tungstenite::accept_async_with_config(stream, Some(config)).await
            else {
                return;
            };
            while let Some(Ok(message)) = socket.next().await {
                if message.is_text() && socket.send(message).await.is_err() {
                    break;
                }
            }
        });
    }
}
