//! `wsload`: opens many WebSocket connections and measures what a server does with
//! them: connections/s, echo round trips/s, p50/p99 latency, and the server's memory.
//! `--mode chat` speaks the chat example's one-way protocol instead: each round trip
//! is a `join` answered by the `joined` the service posts through the Management API.
//!
//! ```text
//! cargo run --release --bin chat -- --port 3001 &          # one-way: join → joined
//! cargo run --release --bin wsload -- --url 'ws://127.0.0.1:3001/?token=dev-token' \
//!     --connections 200 --messages 100 --mode chat --pid $(pgrep -n chat)
//! cargo run --release --bin bare-echo -- --port 3002 --chat &   # the floor, same protocol
//! cargo run --release --bin wsload -- --url ws://127.0.0.1:3002/ --connections 200 \
//!     --messages 100 --mode chat
//! cargo run --release --bin echo -- --port 3001 &          # the gateway (two-way echo)
//! cargo run --release --bin wsload -- --url ws://127.0.0.1:3001/ --connections 1000 \
//!     --messages 100 --mode echo --pid $(pgrep -n echo)
//! cargo run --release --bin wsload -- --url ws://127.0.0.1:3001/ --connections 10000 \
//!     --mode idle --hold 5 --pid $(pgrep -n echo)
//! ```
//!
//! Each connection is one file descriptor on both sides: 10,000 connections need
//! `ulimit -n` above 10,000 in both shells.

use std::time::{Duration, Instant};

use clap::{Arg, ArgAction, Command, value_parser};
use fabric_examples::load::memory_of;
use futures_util::{SinkExt, StreamExt, stream};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Options {
    url: String,
    connections: usize,
    messages: usize,
    size: usize,
    /// Round trips (echo or chat); otherwise idle connections.
    round_trips: bool,
    chat: bool,
    hold: Duration,
    pid: Option<u32>,
    connect_concurrency: usize,
}

fn options() -> Options {
    let matches = Command::new("wsload")
        .about("Load a WebSocket server: N connections, M echo round trips each")
        .arg(
            Arg::new("url")
                .long("url")
                .default_value("ws://127.0.0.1:3001/"),
        )
        .arg(
            Arg::new("connections")
                .long("connections")
                .short('c')
                .value_parser(value_parser!(usize))
                .default_value("1000"),
        )
        .arg(
            Arg::new("messages")
                .long("messages")
                .short('m')
                .value_parser(value_parser!(usize))
                .default_value("100")
                .help("Round trips per connection, in echo and chat modes"),
        )
        .arg(
            Arg::new("size")
                .long("size")
                .value_parser(value_parser!(usize))
                .default_value("64")
                .help("Message size in bytes"),
        )
        .arg(
            Arg::new("mode")
                .long("mode")
                .value_parser(["echo", "chat", "idle"])
                .default_value("echo"),
        )
        .arg(
            Arg::new("hold")
                .long("hold")
                .value_parser(value_parser!(u64))
                .default_value("3")
                .help("Seconds to hold idle connections open before measuring"),
        )
        .arg(
            Arg::new("pid")
                .long("pid")
                .value_parser(value_parser!(u32))
                .help("The server's process id, to report its memory"),
        )
        .arg(
            Arg::new("connect-concurrency")
                .long("connect-concurrency")
                .value_parser(value_parser!(usize))
                .default_value("100"),
        )
        .arg(Arg::new("quiet").long("quiet").action(ArgAction::SetTrue))
        .get_matches();
    Options {
        url: matches
            .get_one::<String>("url")
            .cloned()
            .expect("defaulted"),
        connections: *matches.get_one("connections").expect("defaulted"),
        messages: *matches.get_one("messages").expect("defaulted"),
        size: *matches.get_one("size").expect("defaulted"),
        round_trips: matches.get_one::<String>("mode").map(String::as_str) != Some("idle"),
        chat: matches.get_one::<String>("mode").map(String::as_str) == Some("chat"),
        hold: Duration::from_secs(*matches.get_one::<u64>("hold").expect("defaulted")),
        pid: matches.get_one::<u32>("pid").copied(),
        connect_concurrency: *matches.get_one("connect-concurrency").expect("defaulted"),
    }
}

/// CPU time (user + system) a process has used, in seconds, from /proc: robust to
/// other load on the machine, unlike wall-clock rates.
fn cpu_seconds_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and
    // 15th fields of the whole line, in clock ticks (100 a second on Linux).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[index]) / 1000.0
}

#[tokio::main]
async fn main() {
    let options = options();
    let before = options.pid.and_then(memory_of);
    if let Some((rss, _)) = before {
        println!("server memory before: {rss:.1} MiB resident");
    }

    let started = Instant::now();
    let clients: Vec<Client> = stream::iter(0..options.connections)
        .map(|_| {
            let url = options.url.clone();
            async move {
                let (client, _) = tokio_tungstenite::connect_async(url).await?;
                if let MaybeTlsStream::Plain(tcp) = client.get_ref() {
                    let _ = tcp.set_nodelay(true);
                }
                Ok::<_, tokio_tungstenite::tungstenite::Error>(client)
            }
        })
        .buffer_unordered(options.connect_concurrency)
        .filter_map(|result| async move {
            result
                .map_err(|err| eprintln!("connect failed: {err}"))
                .ok()
        })
        .collect()
        .await;
    let connect_time = started.elapsed();
    println!(
        "connected {} of {} in {:.2} s: {:.0} connections/s",
        clients.len(),
        options.connections,
        connect_time.as_secs_f64(),
        clients.len() as f64 / connect_time.as_secs_f64()
    );

    if !options.round_trips {
        tokio::time::sleep(options.hold).await;
        if let Some((rss, peak)) = options.pid.and_then(memory_of) {
            let base = before.map_or(0.0, |(b, _)| b);
            println!(
                "server memory with {} idle connections: {rss:.1} MiB resident (peak {peak:.1} MiB), {:.1} KiB per connection",
                clients.len(),
                (rss - base) * 1024.0 / clients.len().max(1) as f64
            );
        }
        drop(clients);
        return;
    }

    let text = if options.chat {
        r#"{"action":"join","room":"load"}"#.to_owned()
    } else {
        format!(
            r#"{{"action":"echo","text":"{}"}}"#,
            "x".repeat(options.size.saturating_sub(28))
        )
    };
    let messages = options.messages;
    let cpu_before = options.pid.and_then(cpu_seconds_of);
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            let text = text.clone();
            tokio::spawn(async move {
                let mut rtts = Vec::with_capacity(messages);
                for _ in 0..messages {
                    let sent = Instant::now();
                    if client.send(Message::text(text.clone())).await.is_err() {
                        break;
                    }
                    loop {
                        match client.next().await {
                            Some(Ok(Message::Text(_))) => break,
                            Some(Ok(_)) => continue,
                            _ => return rtts,
                        }
                    }
                    rtts.push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                }
                let _ = client.close(None).await;
                rtts
            })
        })
        .collect();
    let mut rtts = Vec::new();
    for task in tasks {
        rtts.extend(task.await.unwrap_or_default());
    }
    let elapsed = started.elapsed();
    rtts.sort_unstable();
    println!(
        "{} round trips of {} bytes in {:.2} s: {:.0} messages/s, p50 {:.2} ms, p99 {:.2} ms",
        rtts.len(),
        text.len(),
        elapsed.as_secs_f64(),
        rtts.len() as f64 / elapsed.as_secs_f64(),
        percentile(&rtts, 0.50),
        percentile(&rtts, 0.99),
    );
    if let (Some(before), Some(after)) = (cpu_before, options.pid.and_then(cpu_seconds_of)) {
        println!(
            "server CPU: {:.2} s, {:.1} µs per round trip",
            after - before,
            (after - before) * 1e6 / rtts.len().max(1) as f64
        );
    }
    if let Some((rss, peak)) = options.pid.and_then(memory_of) {
        println!("server memory: {rss:.1} MiB resident, peak {peak:.1} MiB");
    }
}
