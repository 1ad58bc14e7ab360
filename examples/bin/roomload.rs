//! `roomload`: times a chat room broadcast through the local gateway. N clients
//! connect and join one room; one of them sends a message, which the chat service
//! broadcasts with `ctx.broadcast_room` — N posts through the AWS SDK to the
//! gateway's Management API — and the time until the last client has it is
//! reported, per round.
//!
//! ```text
//! cargo run --release --bin roomload -- --members 5000            # gateway in-process
//! cargo run --release --bin chat -- --port 3001 &                   # or a separate one
//! cargo run --release --bin roomload -- --members 5000 --url 'ws://127.0.0.1:3001/?token=dev-token'
//! ```
//!
//! Each client is a file descriptor on both sides: 5,000 members need `ulimit -n`
//! above 10,000 when the gateway runs in-process.

use std::time::{Duration, Instant};

use clap::{Arg, Command, value_parser};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt, stream};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

const ROOM: &str = "roomload";

/// A broadcast's SDK calls allocate on every worker thread; mimalloc keeps that
/// cheap where glibc's allocator contends (see `roomload`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), fabric::BoxError> {
    let matches =
        Command::new("roomload")
            .about("Time a chat room broadcast to N members through the local gateway")
            .arg(Arg::new("url").long("url").help(
                "A running chat gateway, with its token (default: start one in this process)",
            ))
            .arg(
                Arg::new("members")
                    .long("members")
                    .short('n')
                    .value_parser(value_parser!(usize))
                    .default_value("5000"),
            )
            .arg(
                Arg::new("concurrency")
                    .long("concurrency")
                    .value_parser(value_parser!(usize))
                    .help("Posts in flight per broadcast, for the in-process gateway (default: the adapter's)"),
            )
            .arg(
                Arg::new("rounds")
                    .long("rounds")
                    .value_parser(value_parser!(usize))
                    .default_value("5"),
            )
            .get_matches();
    let members: usize = *matches.get_one("members").expect("defaulted");
    let rounds: usize = *matches.get_one("rounds").expect("defaulted");
    let mut gateway = None;
    let url = match matches.get_one::<String>("url") {
        Some(url) => url.clone(),
        None => {
            let mut adapter = fabric_examples::chat::adapter();
            if let Some(concurrency) = matches.get_one::<usize>("concurrency") {
                adapter = adapter.broadcast_concurrency(*concurrency);
            }
            let running = fabric::local::Gateway::new(adapter)
                .bind("127.0.0.1:0")
                .await?;
            let url = format!("{}/?token=dev-token", running.ws_url());
            gateway = Some(running);
            url
        }
    };

    let started = Instant::now();
    let clients: Vec<Client> = stream::iter(0..members)
        .map(|_| join(&url))
        .buffer_unordered(200)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    println!(
        "{members} members joined room {ROOM:?} in {:.2} s",
        started.elapsed().as_secs_f64()
    );

    // Every client's frames arrive on one channel, stamped on arrival.
    let (arrived, mut arrivals) = mpsc::unbounded_channel::<Instant>();
    let mut sender: Option<SplitSink<Client, Message>> = None;
    for client in clients {
        let (sink, mut frames) = client.split();
        sender.get_or_insert(sink);
        let arrived = arrived.clone();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = frames.next().await {
                if frame.is_text() && arrived.send(Instant::now()).is_err() {
                    return;
                }
            }
        });
    }
    let mut sender = sender.ok_or("no member joined")?;

    let mut times = Vec::new();
    for round in 1..=rounds {
        let message =
            json!({"action": "message", "room": ROOM, "content": format!("round {round}")});
        let cpu_before = cpu_time();
        let sent = Instant::now();
        sender.send(Message::text(message.to_string())).await?;
        let mut last = sent;
        for _ in 0..members {
            last = tokio::time::timeout(Duration::from_secs(30), arrivals.recv())
                .await
                .map_err(|_| "a member did not get the broadcast within 30 s")?
                .ok_or("the clients stopped")?;
        }
        let elapsed = last - sent;
        let cpu = match (cpu_before, cpu_time()) {
            (Some(before), Some(after)) => format!(
                " ({:.0} ms of CPU in this process)",
                (after - before).as_secs_f64() * 1000.0
            ),
            _ => String::new(),
        };
        println!(
            "round {round}: all {members} members had the message after {:.0} ms{cpu}",
            elapsed.as_secs_f64() * 1000.0
        );
        times.push(elapsed);
    }
    times.sort();
    if let Some(median) = times.get(times.len() / 2) {
        println!(
            "median {:.0} ms, best {:.0} ms, worst {:.0} ms",
            median.as_secs_f64() * 1000.0,
            times[0].as_secs_f64() * 1000.0,
            times[times.len() - 1].as_secs_f64() * 1000.0
        );
    }
    drop(sender);
    if let Some(gateway) = gateway {
        gateway.shutdown().await;
    }
    Ok(())
}

/// One client in the room: connected, joined, the `{"joined"}` answer read.
async fn join(url: &str) -> Result<Client, fabric::BoxError> {
    // Small reads: the default 128 KiB read buffer is zeroed on every read, which
    // would make the 5,000 clients, not the gateway, the bottleneck.
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let (mut client, _) =
        tokio_tungstenite::connect_async_with_config(url, Some(config), true).await?;
    let join = json!({"action": "join", "room": ROOM});
    client.send(Message::text(join.to_string())).await?;
    while let Some(frame) = client.next().await {
        if let Message::Text(text) = frame? {
            let answer: Value = serde_json::from_str(&text)?;
            if answer["joined"] == ROOM {
                return Ok(client);
            }
            return Err(format!("joining answered {answer}").into());
        }
    }
    Err("the gateway closed the connection while joining".into())
}

/// This process' user + system CPU time so far, from /proc (Linux), at the
/// kernel's tick resolution (usually 10 ms). The machine may be shared: CPU time
/// says what a round cost when the wall clock is disturbed by other work.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}
