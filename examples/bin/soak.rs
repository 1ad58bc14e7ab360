//! `soak`: the chat under churn. N clients connect and join rooms; each round some
//! drop abruptly (a TCP reset, no close frame), as many new ones connect and join,
//! and members send to their rooms. At the end it checks that every live member
//! received every message sent to its room while it was a member, that nothing
//! reached anyone else, and that no dropped connection is left in the gateway, in
//! the store or in any room; and it reports the gateway's resident memory before
//! and after.
//!
//! ```text
//! ulimit -n 65536      # two descriptors per connection when the gateway is in-process
//! cargo run --release --bin soak -- --connections 10000 --rooms 100 --rounds 5
//! cargo run --release --bin soak -- --store dynamodb --dynamodb-endpoint http://127.0.0.1:8000
//! cargo run --release --bin chat -- --port 3001 &       # or a separate gateway:
//! cargo run --release --bin soak -- --url 'ws://127.0.0.1:3001/?token=dev-token' --pid $(pgrep -nx chat)
//! ```
//!
//! Exit status 0 when nothing was lost or left behind, 1 otherwise.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Arg, Command, value_parser};
use fabric::local::{Gateway, RunningGateway};
use fabric::store::{DynamoDbStore, MemoryStore, SharedStore};
use fabric::websocket::{ManagementApi, ManagementError, SdkManagementApi};
use fabric_examples::chat;
use fabric_examples::load::memory_of;
use futures_util::{SinkExt, StreamExt, stream};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A broadcast's thousands of posts allocate on every worker thread (see roomload).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Options {
    connections: usize,
    rooms: usize,
    rounds: usize,
    drop_percent: usize,
    messages: usize,
    url: Option<String>,
    store: String,
    dynamodb_endpoint: Option<String>,
    pid: Option<u32>,
    seed: u64,
    wait: Duration,
}

fn options() -> Options {
    let number = |name: &'static str, default: &'static str, help: &'static str| {
        Arg::new(name)
            .long(name)
            .value_parser(value_parser!(usize))
            .default_value(default)
            .help(help)
    };
    let matches = Command::new("soak")
        .about("The chat under churn: joins, abrupt drops, rejoins, broadcasts; then every delivery and every leftover checked")
        .arg(number("connections", "1000", "Clients connected at any time"))
        .arg(number("rooms", "20", "Rooms the clients join, at random"))
        .arg(number("rounds", "5", "Rounds of drop, rejoin, broadcast"))
        .arg(number("drop-percent", "10", "Share of the clients dropped each round"))
        .arg(number("messages", "100", "Messages sent each round"))
        .arg(Arg::new("url").long("url").help(
            "A running chat gateway (with ?token=...); without it the gateway runs in this process",
        ))
        .arg(
            Arg::new("store")
                .long("store")
                .value_parser(["memory", "dynamodb"])
                .default_value("memory")
                .help("The in-process gateway's connection store"),
        )
        .arg(Arg::new("dynamodb-endpoint").long("dynamodb-endpoint").help(
            "The DynamoDB server for --store dynamodb (default FABRIC_TEST_DYNAMODB_ENDPOINT)",
        ))
        .arg(
            Arg::new("pid")
                .long("pid")
                .value_parser(value_parser!(u32))
                .help("The separate gateway's process id, for its memory"),
        )
        .arg(
            Arg::new("seed")
                .long("seed")
                .value_parser(value_parser!(u64))
                .default_value("1"),
        )
        .arg(
            Arg::new("wait")
                .long("wait")
                .value_parser(value_parser!(u64))
                .default_value("60")
                .help("Seconds without a delivery, or for clean-up, before counting"),
        )
        .get_matches();
    let get = |name: &str| *matches.get_one::<usize>(name).expect("defaulted");
    Options {
        connections: get("connections").max(1),
        rooms: get("rooms").max(1),
        rounds: get("rounds"),
        drop_percent: get("drop-percent").min(100),
        messages: get("messages"),
        url: matches.get_one::<String>("url").cloned(),
        store: matches
            .get_one::<String>("store")
            .cloned()
            .expect("defaulted"),
        dynamodb_endpoint: matches
            .get_one::<String>("dynamodb-endpoint")
            .cloned()
            .or_else(|| std::env::var("FABRIC_TEST_DYNAMODB_ENDPOINT").ok()),
        pid: matches.get_one::<u32>("pid").copied(),
        seed: *matches.get_one::<u64>("seed").expect("defaulted"),
        wait: Duration::from_secs(*matches.get_one::<u64>("wait").expect("defaulted")),
    }
}

/// A small deterministic generator (xorshift), so a seed replays a run.
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// What one client's task is asked to do.
enum Order {
    Send(String),
    /// A TCP reset: no close frame, as a crashed client or a lost network leaves.
    Drop,
    /// A close frame, and the close handshake.
    Close(oneshot::Sender<()>),
}

/// A connected client that joined `room`.
struct Client {
    id: String,
    room: String,
    joined_round: usize,
    commands: mpsc::UnboundedSender<Order>,
    received: Arc<Mutex<Vec<String>>>,
}

/// Counts every chat message any client received, to know when a round's
/// deliveries are in.
static DELIVERED: AtomicUsize = AtomicUsize::new(0);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Connects, joins `room`, learns the connection id from the join's answer, and
/// leaves a task reading every message and obeying commands.
async fn join(url: String, room: String, round: usize) -> Result<Client, String> {
    let (mut socket, _) = tokio_tungstenite::connect_async(&url)
        .await
        .map_err(|err| format!("connect: {err}"))?;
    let join = json!({"action": "join", "room": room}).to_string();
    socket
        .send(Message::text(join))
        .await
        .map_err(|err| format!("send the join: {err}"))?;
    let id = loop {
        match tokio::time::timeout(Duration::from_secs(30), socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                let answer: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
                match answer["connectionId"].as_str() {
                    Some(id) if answer["joined"] == room => break id.to_owned(),
                    _ => return Err(format!("joining answered {answer}")),
                }
            }
            Ok(Some(Ok(_))) => {}
            other => return Err(format!("no answer to the join: {other:?}")),
        }
    };
    let (commands, orders) = mpsc::unbounded_channel();
    let received = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(run_client(socket, orders, received.clone()));
    Ok(Client {
        id,
        room,
        joined_round: round,
        commands,
        received,
    })
}

async fn run_client(
    mut socket: Socket,
    mut orders: mpsc::UnboundedReceiver<Order>,
    received: Arc<Mutex<Vec<String>>>,
) {
    loop {
        tokio::select! {
            frame = socket.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let frame: Value = serde_json::from_str(&text).unwrap_or_default();
                    if let Some(content) = frame["content"].as_str() {
                        let room = frame["room"].as_str().unwrap_or_default();
                        received.lock().unwrap().push(format!("{room}|{content}"));
                        DELIVERED.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            },
            order = orders.recv() => match order {
                Some(Order::Send(text)) => {
                    if socket.send(Message::text(text)).await.is_err() {
                        return;
                    }
                }
                Some(Order::Drop) | None => {
                    if let MaybeTlsStream::Plain(tcp) = socket.get_ref() {
                        // Tokio warns that a linger blocks the dropping thread; a
                        // zero linger never does: the kernel resets at once.
                        #[allow(deprecated)]
                        let _ = tcp.set_linger(Some(Duration::ZERO));
                    }
                    return; // dropping the socket with linger 0 sends a reset
                }
                Some(Order::Close(done)) => {
                    let _ = socket.close(None).await;
                    while let Ok(Some(Ok(_))) =
                        tokio::time::timeout(Duration::from_secs(5), socket.next()).await
                    {}
                    let _ = done.send(());
                    return;
                }
            },
        }
    }
}

/// Connects `count` clients to random rooms, 200 at a time.
async fn join_many(
    url: &str,
    count: usize,
    rooms: usize,
    round: usize,
    random: &mut Random,
) -> Vec<Client> {
    let picks: Vec<String> = (0..count)
        .map(|_| format!("room-{}", random.below(rooms)))
        .collect();
    let results: Vec<Result<Client, String>> = stream::iter(picks)
        .map(|room| join(url.to_owned(), room, round))
        .buffer_unordered(200)
        .collect()
        .await;
    let mut clients = Vec::new();
    for result in results {
        match result {
            Ok(client) => clients.push(client),
            Err(err) => eprintln!("a client could not join: {err}"),
        }
    }
    clients
}

/// Where the gateway is, and what can be asked about what it left behind.
struct Target {
    url: String,
    management: SdkManagementApi,
    store: Option<SharedStore>,
    running: Option<RunningGateway>,
    pid: u32,
}

async fn target(options: &Options) -> Result<Target, fabric::BoxError> {
    if let Some(url) = &options.url {
        let base = url.split('?').next().unwrap_or_default();
        let management = base
            .replacen("ws://", "http://", 1)
            .trim_end_matches('/')
            .to_owned();
        let store = match std::env::var_os("FABRIC_CONNECTIONS_TABLE") {
            Some(_) => Some(Arc::new(DynamoDbStore::from_env()?) as SharedStore),
            None => None,
        };
        let pid = options
            .pid
            .ok_or("--url needs the gateway's --pid for its memory")?;
        return Ok(Target {
            url: url.clone(),
            management: SdkManagementApi::new(&format!("{management}/local")),
            store,
            running: None,
            pid,
        });
    }
    let store: SharedStore = match options.store.as_str() {
        "dynamodb" => {
            let endpoint = options.dynamodb_endpoint.clone().ok_or(
                "--store dynamodb needs --dynamodb-endpoint or FABRIC_TEST_DYNAMODB_ENDPOINT",
            )?;
            let table = format!("soak-{}-{}", std::process::id(), chrono_millis());
            let store = DynamoDbStore::new(
                DynamoDbStore::sdk_client(Some(&endpoint)),
                &table,
                format!("{table}-rooms"),
            );
            store.create_tables().await?;
            Arc::new(store)
        }
        _ => Arc::new(MemoryStore::new()),
    };
    let running = Gateway::new(chat::with_store(store.clone()))
        .bind("127.0.0.1:0")
        .await?;
    Ok(Target {
        url: format!("{}/?token=dev-token", running.ws_url()),
        management: SdkManagementApi::new(&running.management_url()),
        store: Some(store),
        running: Some(running),
        pid: std::process::id(),
    })
}

fn chrono_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

/// What went wrong, counted.
#[derive(Default)]
struct Findings {
    lost: usize,
    misdelivered: usize,
    gateway_leaks: usize,
    store_leaks: usize,
    membership_leaks: usize,
    missing_members: usize,
}

/// Checks, until `wait` runs out or all is well, that dropped connections are gone
/// everywhere and live ones are where they should be.
async fn leftovers(
    target: &Target,
    live: &[Client],
    dropped: &[String],
    wait: Duration,
) -> Findings {
    let deadline = Instant::now() + wait;
    loop {
        let mut findings = Findings::default();
        let gone = stream::iter(dropped.iter().cloned())
            .map(|id| async move { target.management.get(&id).await })
            .buffer_unordered(64)
            .collect::<Vec<_>>()
            .await;
        findings.gateway_leaks = gone
            .iter()
            .filter(|answer| !matches!(answer, Err(ManagementError::Gone)))
            .count();
        if let Some(store) = &target.store {
            for id in dropped {
                if store.get(id).await.ok().flatten().is_some() {
                    findings.store_leaks += 1;
                }
            }
            let mut by_room: BTreeMap<&str, HashSet<&str>> = BTreeMap::new();
            for client in live {
                by_room.entry(&client.room).or_default().insert(&client.id);
            }
            let dropped: HashSet<&str> = dropped.iter().map(String::as_str).collect();
            for (room, expected) in &by_room {
                let members = store.members(room).await.unwrap_or_default();
                let ids: HashSet<&str> = members.iter().map(|m| m.connection_id.as_str()).collect();
                findings.membership_leaks += ids.iter().filter(|id| dropped.contains(*id)).count();
                findings.missing_members += expected.difference(&ids).count();
            }
        }
        let clean = findings.gateway_leaks
            + findings.store_leaks
            + findings.membership_leaks
            + findings.missing_members
            == 0;
        if clean || Instant::now() > deadline {
            return findings;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::main]
async fn main() -> Result<(), fabric::BoxError> {
    let options = options();
    let mut random = Random(options.seed.max(1));
    let target = target(&options).await?;
    let (rss_before, _) = memory_of(target.pid).unwrap_or_default();
    println!("gateway memory before: {rss_before:.1} MiB resident");
    let started = Instant::now();

    let mut live = join_many(
        &target.url,
        options.connections,
        options.rooms,
        0,
        &mut random,
    )
    .await;
    let mut opened = live.len();
    let mut dropped: Vec<String> = Vec::new();
    // (room, content, round) of every message sent.
    let mut sent: Vec<(String, String, usize)> = Vec::new();
    let mut expected_deliveries = 0usize;
    for round in 0..=options.rounds {
        if round > 0 {
            let count = live.len() * options.drop_percent / 100;
            for _ in 0..count {
                let client = live.swap_remove(random.below(live.len()));
                let _ = client.commands.send(Order::Drop);
                dropped.push(client.id);
            }
            let joined = join_many(&target.url, count, options.rooms, round, &mut random).await;
            opened += joined.len();
            live.extend(joined);
        }
        let mut members: HashMap<&str, usize> = HashMap::new();
        for client in &live {
            *members.entry(&client.room).or_default() += 1;
        }
        let mut round_sent = Vec::new();
        for seq in 0..options.messages {
            let sender = &live[random.below(live.len())];
            let content = format!("r{round}-m{seq}-{}", sender.id);
            let text = json!({"action": "message", "room": sender.room, "content": content});
            let _ = sender.commands.send(Order::Send(text.to_string()));
            expected_deliveries += members[sender.room.as_str()];
            round_sent.push((sender.room.clone(), content, round));
        }
        sent.extend(round_sent);
        // A slow gateway is not a lossy one: wait while deliveries still arrive, and
        // give up only after `wait` without one.
        let mut last = (DELIVERED.load(Ordering::Relaxed), Instant::now());
        while last.0 < expected_deliveries && last.1.elapsed() < options.wait {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let delivered = DELIVERED.load(Ordering::Relaxed);
            if delivered > last.0 {
                last = (delivered, Instant::now());
            }
        }
        println!(
            "round {round}: {} live, {} dropped so far, {}/{} deliveries",
            live.len(),
            dropped.len(),
            DELIVERED.load(Ordering::Relaxed),
            expected_deliveries
        );
    }

    let mut findings = leftovers(&target, &live, &dropped, options.wait).await;
    for client in &live {
        let expected: HashSet<String> = sent
            .iter()
            .filter(|(room, _, round)| *room == client.room && *round >= client.joined_round)
            .map(|(room, content, _)| format!("{room}|{content}"))
            .collect();
        let received = client.received.lock().unwrap().clone();
        let unique: HashSet<String> = received.iter().cloned().collect();
        findings.lost += expected.difference(&unique).count();
        findings.misdelivered +=
            unique.difference(&expected).count() + (received.len() - unique.len());
    }
    let elapsed = started.elapsed();

    // Everyone leaves; what the gateway holds then is what connections left behind.
    let closing: Vec<_> = live
        .drain(..)
        .map(|client| {
            let (done, closed) = oneshot::channel();
            let _ = client.commands.send(Order::Close(done));
            closed
        })
        .collect();
    for closed in closing {
        let _ = closed.await;
    }
    if let Some(running) = &target.running {
        let deadline = Instant::now() + options.wait;
        while running.connection_count() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Idle pooled connections of the Management API client close after a while.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss_after, peak) = memory_of(target.pid).unwrap_or_default();

    println!(
        "{opened} connections opened, {} dropped abruptly, {} messages sent, {expected_deliveries} deliveries expected, in {:.1}s",
        dropped.len(),
        sent.len(),
        elapsed.as_secs_f64()
    );
    println!("lost messages: {}", findings.lost);
    println!("misdelivered messages: {}", findings.misdelivered);
    println!(
        "leaked connections in the gateway: {}",
        findings.gateway_leaks
    );
    println!("leaked connections in the store: {}", findings.store_leaks);
    println!("leaked room memberships: {}", findings.membership_leaks);
    println!(
        "live members missing from their room: {}",
        findings.missing_members
    );
    println!(
        "gateway memory: {rss_before:.1} MiB before, {rss_after:.1} MiB after every connection closed (peak {peak:.1} MiB)"
    );
    if let Some(running) = target.running {
        running.shutdown().await;
    }
    let failed = findings.lost
        + findings.misdelivered
        + findings.gateway_leaks
        + findings.store_leaks
        + findings.membership_leaks
        + findings.missing_members;
    if failed > 0 {
        eprintln!("soak failed: {failed} problems");
        std::process::exit(1);
    }
    Ok(())
}
