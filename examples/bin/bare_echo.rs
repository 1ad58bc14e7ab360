//! `bare-echo`: a plain tokio-tungstenite echo server, the floor `wsload` compares
//! the local gateway with. No events, no routing: each text frame goes straight back.
//! With `--chat`, the chat example's `join` protocol: each frame is parsed as JSON
//! and answered with `{"joined": room, "connectionId": ...}`, as the chat service
//! posts it (the floor for `wsload --mode chat`).
//!
//! `cargo run --release --bin bare-echo -- --port 3002 [--chat]`

use clap::{Arg, ArgAction, Command, value_parser};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
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
        .arg(Arg::new("chat").long("chat").action(ArgAction::SetTrue))
        .get_matches();
    let chat = matches.get_flag("chat");
    let port = *matches.get_one::<u16>("port").expect("defaulted");
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("bare echo server ready: ws://127.0.0.1:{port}");
    // The same small read buffer as the gateway, so memory compares like for like.
    let config = WebSocketConfig::default().read_buffer_size(2 * 1024);
    let mut connections = 0u64;
    loop {
        let (stream, _) = listener.accept().await?;
        connections += 1;
        let connection_id = format!("bare{connections:08}=");
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let Ok(mut socket) =
                tokio_tungstenite::accept_async_with_config(stream, Some(config)).await
            else {
                return;
            };
            while let Some(Ok(message)) = socket.next().await {
                if !message.is_text() {
                    continue;
                }
                let reply = if chat {
                    match joined(&message, &connection_id) {
                        Some(reply) => reply,
                        None => continue,
                    }
                } else {
                    message
                };
                if socket.send(reply).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// The chat service's answer to a `join`, or nothing for a frame that is not one.
fn joined(message: &Message, connection_id: &str) -> Option<Message> {
    let request: serde_json::Value = serde_json::from_slice(&message.clone().into_data()).ok()?;
    let room = request.get("room")?.as_str()?;
    let reply = serde_json::json!({ "joined": room, "connectionId": connection_id });
    Some(Message::text(reply.to_string()))
}
