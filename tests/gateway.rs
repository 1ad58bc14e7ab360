//! The local gateway: real WebSocket clients (tokio-tungstenite) and the real AWS SDK
//! against gateways running in this process, and the real `chat` binary.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fabric::local::{Gateway, RunningGateway};
use fabric::prelude::*;
use fabric::websocket::{
    Disconnect, ManagementApi, ManagementError, SdkManagementApi, WebSocketAdapter,
};
use fabric_examples::{chat, echo};
use futures_util::{SinkExt, StreamExt};
use support::process::{exit_of, free_port, interrupt, spawn_binary};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Long enough for a loaded 2-core machine, short enough to fail fast.
const WAIT: Duration = Duration::from_secs(10);

async fn start(adapter: WebSocketAdapter) -> RunningGateway {
    gateway(adapter).await.0
}

async fn gateway(adapter: WebSocketAdapter) -> (RunningGateway, SdkManagementApi) {
    let running = Gateway::new(adapter).bind("127.0.0.1:0").await.unwrap();
    let api = SdkManagementApi::new(&running.management_url());
    (running, api)
}

async fn connect(gateway: &RunningGateway, path_and_query: &str) -> Client {
    try_connect(gateway, path_and_query, &[]).await.unwrap().0
}

/// Connects with extra handshake headers; gives back the handshake response too.
async fn try_connect(
    gateway: &RunningGateway,
    path_and_query: &str,
    headers: &[(&'static str, &str)],
) -> Result<
    (
        Client,
        tokio_tungstenite::tungstenite::handshake::client::Response,
    ),
    WsError,
> {
    let mut request = format!("{}{path_and_query}", gateway.ws_url())
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(*name, value.parse().unwrap());
    }
    tokio_tungstenite::connect_async(request).await
}

/// The HTTP status a refused handshake got.
async fn refused_status(gateway: &RunningGateway, path_and_query: &str) -> u16 {
    match try_connect(gateway, path_and_query, &[]).await {
        Err(WsError::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("the handshake was accepted"),
    }
}

async fn send(client: &mut Client, message: Value) {
    client
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
}

/// The next text frame, as JSON.
async fn next_json(client: &mut Client) -> Value {
    loop {
        let frame = tokio::time::timeout(WAIT, client.next())
            .await
            .expect("no frame in time")
            .expect("the connection ended")
            .expect("a WebSocket error");
        match frame {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Close(close) => panic!("closed: {close:?}"),
            _ => {}
        }
    }
}

/// Asserts no text frame arrives within `within`.
async fn assert_silent(client: &mut Client, within: Duration) {
    if let Ok(Some(Ok(Message::Text(text)))) = tokio::time::timeout(within, client.next()).await {
        panic!("unexpected frame {text}");
    }
}

/// The close code and reason the server sent.
async fn close_of(client: &mut Client) -> (u16, String) {
    loop {
        match tokio::time::timeout(WAIT, client.next())
            .await
            .expect("no close in time")
        {
            Some(Ok(Message::Close(Some(frame)))) => {
                return (u16::from(frame.code), frame.reason.to_string());
            }
            Some(Ok(Message::Close(None))) => return (1005, String::new()),
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// One plain HTTP/1.1 request; the whole response as text.
async fn raw_http(gateway: &RunningGateway, method: &str, path: &str, body: &str) -> String {
    let addr = gateway.local_addr();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

/// Polls `check` until it holds.
async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------
// A probe service: says which connection, route and request it ran for.

#[derive(Debug, Deserialize, Input)]
struct Probe {
    #[serde(default)]
    delay_ms: u64,
    #[serde(default)]
    seq: u64,
}

#[fabric_service]
async fn whoami(input: Probe, ctx: Context) -> Result<Value, Error> {
    tokio::time::sleep(Duration::from_millis(input.delay_ms)).await;
    let ws = ctx.websocket().unwrap();
    Ok(json!({
        "connectionId": ws.connection_id(), "routeKey": ws.route_key(), "seq": input.seq,
        "stage": ws.stage(), "domainName": ws.domain_name(), "sourceIp": ws.source_ip(),
    }))
}

/// What the probe's hooks saw.
#[derive(Default)]
struct Seen {
    disconnects: Mutex<Vec<(String, Disconnect)>>,
    connect_posts: Mutex<Vec<Result<(), u16>>>,
}

impl Seen {
    fn disconnects(&self) -> Vec<(String, Disconnect)> {
        self.disconnects.lock().unwrap().clone()
    }

    fn disconnect_of(&self, id: &str) -> Option<Disconnect> {
        self.disconnects()
            .into_iter()
            .find(|(seen, _)| seen == id)
            .map(|(_, info)| info)
    }

    /// The `$disconnect` of `id`, once it has run.
    async fn disconnected(&self, id: &str) -> Disconnect {
        eventually("$disconnect", || self.disconnect_of(id).is_some()).await;
        self.disconnect_of(id).unwrap()
    }
}

/// Two-way probe routes, with hooks recording `$disconnect`s.
fn probe(seen: &Arc<Seen>) -> WebSocketAdapter {
    let record = seen.clone();
    fabric_websocket(
        WebSocketRouter::new()
            .route("whoami", whoami)
            .fallback(whoami),
    )
    .two_way(true)
    .on_disconnect(move |ctx: Context, info: Disconnect| {
        let record = record.clone();
        async move {
            let id = ctx.connection_id().unwrap_or_default().to_owned();
            record.disconnects.lock().unwrap().push((id, info));
        }
    })
}

/// The id of `client`'s connection.
async fn id_of(client: &mut Client) -> String {
    send(client, json!({"action": "whoami"})).await;
    let reply = next_json(client).await;
    reply["data"]["connectionId"].as_str().unwrap().to_owned()
}

// ---------------------------------------------------------------------------
// The chat example, end to end over real sockets.

#[tokio::test]
async fn chat_tokens_are_checked_on_the_handshake() {
    let gateway = start(chat::adapter()).await;
    assert_eq!(refused_status(&gateway, "/?token=wrong").await, 401);
    assert_eq!(refused_status(&gateway, "/").await, 401);
    assert_eq!(
        gateway.connection_count(),
        0,
        "a refused client is not registered"
    );
    let mut client = connect(&gateway, "/?token=dev-token").await;
    send(&mut client, json!({"action": "join", "room": "general"})).await;
    assert_eq!(next_json(&mut client).await["joined"], "general");
    assert_eq!(gateway.connection_count(), 1);
    gateway.shutdown().await;
}

#[tokio::test]
async fn chat_rooms_deliver_to_members_until_they_leave() {
    chat_rooms(start(chat::adapter()).await).await;
}

/// The same conversation with every post signed and sent over HTTP by the AWS SDK,
/// as on Lambda, instead of the gateway's in-process Management API.
#[tokio::test]
async fn chat_rooms_deliver_the_same_through_the_sdk() {
    let gateway = Gateway::new(chat::adapter())
        .sdk_management(true)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    chat_rooms(gateway).await;
}

async fn chat_rooms(gateway: RunningGateway) {
    let mut alice = connect(&gateway, "/?token=dev-token").await;
    let mut bob = connect(&gateway, "/local?token=dev-token").await;
    let mut ids = Vec::new();
    for client in [&mut alice, &mut bob] {
        send(client, json!({"action": "join", "room": "general"})).await;
        let joined = next_json(client).await;
        assert_eq!(joined["joined"], "general");
        ids.push(joined["connectionId"].as_str().unwrap().to_owned());
    }

    send(
        &mut alice,
        json!({"action": "message", "room": "general", "content": "hi bob"}),
    )
    .await;
    let to_alice = next_json(&mut alice).await;
    let to_bob = next_json(&mut bob).await;
    assert_eq!(to_alice, to_bob);
    assert_eq!(to_bob["content"], "hi bob");
    assert_eq!(to_bob["room"], "general");
    let alice_id = to_bob["from"].as_str().unwrap().to_owned();
    // The join told alice her id: her page tells her own messages apart by it.
    assert_eq!(alice_id, ids[0]);

    send(
        &mut bob,
        json!({"action": "message", "room": "general", "content": "hi alice"}),
    )
    .await;
    assert_eq!(next_json(&mut alice).await["content"], "hi alice");
    let bob_id = next_json(&mut bob).await["from"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(alice_id, bob_id);
    assert_eq!(bob_id, ids[1]);

    send(&mut alice, json!({"action": "leave", "room": "general"})).await;
    assert_eq!(next_json(&mut alice).await, json!({"left": "general"}));
    send(
        &mut bob,
        json!({"action": "message", "room": "general", "content": "anyone?"}),
    )
    .await;
    assert_eq!(next_json(&mut bob).await["content"], "anyone?");
    assert_silent(&mut alice, Duration::from_millis(300)).await;
    gateway.shutdown().await;
}

#[tokio::test]
async fn a_bad_message_is_an_error_frame_and_the_connection_stays_open() {
    let gateway = start(chat::adapter()).await;
    let mut client = connect(&gateway, "/?token=dev-token").await;

    send(&mut client, json!({"action": "message", "room": "general"})).await;
    let error = next_json(&mut client).await;
    assert_eq!(error["errors"][0]["status"], 400, "{error}");
    assert_eq!(
        error["errors"][0]["detail"],
        r#"Validation failed for field "content": is required when action is "message""#
    );
    client.send(Message::text("not json at all")).await.unwrap();
    assert_eq!(next_json(&mut client).await["errors"][0]["status"], 400);
    send(&mut client, json!({"action": "dance", "room": "general"})).await;
    assert_eq!(next_json(&mut client).await["errors"][0]["status"], 400);

    send(&mut client, json!({"action": "join", "room": "still-here"})).await;
    assert_eq!(next_json(&mut client).await["joined"], "still-here");
    gateway.shutdown().await;
}

// ---------------------------------------------------------------------------
// Quotas and closes.

#[tokio::test]
async fn binary_frames_close_with_1003_and_run_disconnect() {
    let seen = Arc::new(Seen::default());
    let gateway = start(probe(&seen)).await;
    let mut client = connect(&gateway, "/").await;
    let id = id_of(&mut client).await;
    client.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(close_of(&mut client).await.0, 1003);
    assert_eq!(seen.disconnected(&id).await.status_code, Some(1003));
    gateway.shutdown().await;
}

#[tokio::test]
async fn frames_over_32_kb_and_messages_over_128_kb_close_with_1009() {
    let seen = Arc::new(Seen::default());
    let gateway = start(probe(&seen)).await;

    // One 40 KB frame: over the frame limit.
    let mut client = connect(&gateway, "/").await;
    let id = id_of(&mut client).await;
    let big = format!(r#"{{"action":"whoami","pad":"{}"}}"#, "x".repeat(40 * 1024));
    client.send(Message::text(big)).await.unwrap();
    assert_eq!(
        close_of(&mut client).await,
        (1009, "Message too big".to_owned())
    );
    assert_eq!(seen.disconnected(&id).await.status_code, Some(1009));

    // A message of 30 KB frames: fine up to 128 KB, closed past it.
    let mut client = connect(&gateway, "/").await;
    let fragments = |count: usize| {
        let mut frames = Vec::new();
        frames.push(Frame::message(
            format!(r#"{{"action":"whoami","seq":{count},"pad":""#),
            OpCode::Data(Data::Text),
            false,
        ));
        for _ in 0..count {
            frames.push(Frame::message(
                "y".repeat(30 * 1024),
                OpCode::Data(Data::Continue),
                false,
            ));
        }
        frames.push(Frame::message(r#""}"#, OpCode::Data(Data::Continue), true));
        frames
    };
    for frame in fragments(3) {
        client.send(Message::Frame(frame)).await.unwrap();
    }
    assert_eq!(
        next_json(&mut client).await["data"]["seq"],
        3,
        "90 KB in 4 frames is fine"
    );
    for frame in fragments(5) {
        if client.send(Message::Frame(frame)).await.is_err() {
            break;
        }
    }
    assert_eq!(close_of(&mut client).await.0, 1009);
    gateway.shutdown().await;
}

#[tokio::test]
async fn idle_connections_close_with_1001_and_run_disconnect() {
    let seen = Arc::new(Seen::default());
    let gateway = Gateway::new(probe(&seen))
        .idle_timeout(Duration::from_millis(1200))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let mut client = connect(&gateway, "/").await;
    let id = id_of(&mut client).await;
    // Activity keeps it open past the timeout.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        send(&mut client, json!({})).await;
        next_json(&mut client).await;
    }
    let idle_since = Instant::now();
    assert_eq!(
        close_of(&mut client).await,
        (1001, "Idle timeout".to_owned())
    );
    assert!(idle_since.elapsed() >= Duration::from_millis(1000));
    let info = seen.disconnected(&id).await;
    assert_eq!(info.status_code, Some(1001));
    assert_eq!(info.reason.as_deref(), Some("Idle timeout"));
    gateway.shutdown().await;
}

#[tokio::test]
async fn connections_end_at_their_max_lifetime_however_busy() {
    let seen = Arc::new(Seen::default());
    let gateway = Gateway::new(probe(&seen))
        .max_lifetime(Duration::from_millis(1500))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let mut client = connect(&gateway, "/").await;
    let id = id_of(&mut client).await;
    let started = Instant::now();
    let ending = loop {
        client.send(Message::text("{}")).await.ok();
        match tokio::time::timeout(WAIT, client.next()).await.unwrap() {
            Some(Ok(Message::Close(Some(frame)))) => {
                break (u16::from(frame.code), frame.reason.to_string());
            }
            Some(Ok(_)) => tokio::time::sleep(Duration::from_millis(100)).await,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(ending, (1001, "Max connection duration".to_owned()));
    assert!(started.elapsed() < Duration::from_secs(5));
    let info = seen.disconnected(&id).await;
    assert_eq!(info.reason.as_deref(), Some("Max connection duration"));
    gateway.shutdown().await;
}

#[tokio::test]
async fn a_client_close_reaches_disconnect_with_its_code_and_reason() {
    let seen = Arc::new(Seen::default());
    let gateway = start(probe(&seen)).await;
    let mut client = connect(&gateway, "/").await;
    let id = id_of(&mut client).await;
    client
        .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
            code: 4000.into(),
            reason: "done here".into(),
        }))
        .await
        .unwrap();
    assert_eq!(
        close_of(&mut client).await,
        (4000, "done here".to_owned()),
        "the server completes the closing handshake"
    );
    let info = seen.disconnected(&id).await;
    assert_eq!(
        (info.status_code, info.reason.as_deref()),
        (Some(4000), Some("done here"))
    );

    // Messages sent just before the close are still handled, before `$disconnect`.
    let record = Arc::new(Seen::default());
    let closing = start(chat::adapter().on_disconnect({
        let record = record.clone();
        move |ctx: Context, info: Disconnect| {
            let record = record.clone();
            async move {
                let id = ctx.connection_id().unwrap_or_default().to_owned();
                record.disconnects.lock().unwrap().push((id, info));
            }
        }
    }))
    .await;
    let mut listener = connect(&closing, "/?token=dev-token").await;
    send(
        &mut listener,
        json!({"action": "join", "room": "last-words"}),
    )
    .await;
    let listener_id = next_json(&mut listener).await;
    assert_eq!(listener_id["joined"], "last-words");
    let mut leaver = connect(&closing, "/?token=dev-token").await;
    send(&mut leaver, json!({"action": "join", "room": "last-words"})).await;
    send(
        &mut leaver,
        json!({"action": "message", "room": "last-words", "content": "bye"}),
    )
    .await;
    leaver.close(None).await.unwrap();
    assert_eq!(next_json(&mut listener).await["content"], "bye");
    eventually("$disconnect", || record.disconnects().len() == 1).await;
    closing.shutdown().await;

    // A client that vanishes without a close frame: 1006.
    let mut client = connect(&gateway, "/").await;
    let id = id_of(&mut client).await;
    drop(client);
    assert_eq!(seen.disconnected(&id).await.status_code, Some(1006));
    eventually("unregistered", || gateway.connection_count() == 0).await;
    gateway.shutdown().await;
}

// ---------------------------------------------------------------------------
// Events, routes, protocols and the integration.

#[tokio::test]
async fn route_selection_names_the_matched_route_key() {
    let seen = Arc::new(Seen::default());
    let gateway = start(probe(&seen)).await;
    let mut client = connect(&gateway, "/").await;
    send(&mut client, json!({"action": "whoami"})).await;
    let routed = next_json(&mut client).await;
    assert_eq!(routed["data"]["routeKey"], "whoami");
    assert_eq!(routed["data"]["stage"], "local");
    assert_eq!(routed["data"]["sourceIp"], "127.0.0.1");
    assert_eq!(
        routed["data"]["domainName"],
        gateway.local_addr().to_string(),
        "events point back at the gateway"
    );
    for other in [
        json!({"action": "dance"}),
        json!({"action": 7}),
        json!({"seq": 1}),
    ] {
        send(&mut client, other).await;
        assert_eq!(next_json(&mut client).await["data"]["routeKey"], "$default");
    }
    gateway.shutdown().await;

    // A custom selection expression.
    let adapter = probe(&seen).route_selection("$request.body.meta.kind");
    let gateway = start(adapter).await;
    let mut client = connect(&gateway, "/").await;
    send(&mut client, json!({"meta": {"kind": "whoami"}})).await;
    assert_eq!(next_json(&mut client).await["data"]["routeKey"], "whoami");
    send(&mut client, json!({"action": "whoami"})).await;
    assert_eq!(next_json(&mut client).await["data"]["routeKey"], "$default");
    gateway.shutdown().await;
}

#[tokio::test]
async fn the_connect_event_is_complete_and_only_the_chosen_protocol_is_echoed() {
    let events = Arc::new(Mutex::new(Vec::<Value>::new()));
    let record = events.clone();
    let adapter = probe(&Arc::new(Seen::default())).on_connect(move |ctx: Context| {
        let record = record.clone();
        async move {
            let ws = ctx.websocket().unwrap();
            record.lock().unwrap().push(json!({
                "route": ws.route_key(), "event": ws.event_type().as_str(), "agent": ws.user_agent(),
                "ip": ws.source_ip(), "token": ws.query_param("token"), "origin": ws.header("origin"),
                "forwarded": ws.header("x-forwarded-for"), "connectedAt": ws.connected_at(),
                "protocols": ws.requested_protocols(), "stage": ws.stage(), "api": ws.api_id(),
            }));
            let offered = ws.requested_protocols().contains(&"chat.v2");
            Ok(if offered { fabric::websocket::Accept::new().protocol("chat.v2") } else { fabric::websocket::Accept::new() })
        }
    });
    let gateway = start(adapter).await;
    let (_client, response) = try_connect(
        &gateway,
        "/?token=a%20b",
        &[
            ("sec-websocket-protocol", "chat.v1, chat.v2"),
            ("user-agent", "gateway-test/1.0"),
            ("origin", "http://localhost:8080"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v2");
    let (_plain, response) = try_connect(&gateway, "/local", &[]).await.unwrap();
    assert!(response.headers().get("sec-websocket-protocol").is_none());

    let seen = events.lock().unwrap().clone();
    let first = &seen[0];
    assert_eq!(first["route"], "$connect");
    assert_eq!(first["event"], "CONNECT");
    assert_eq!(first["agent"], "gateway-test/1.0");
    assert_eq!(first["ip"], "127.0.0.1");
    assert_eq!(first["token"], "a b");
    assert_eq!(first["origin"], "http://localhost:8080");
    assert_eq!(first["forwarded"], "127.0.0.1");
    assert_eq!(first["protocols"], json!(["chat.v1", "chat.v2"]));
    assert_eq!(
        (first["stage"].as_str(), first["api"].as_str()),
        (Some("local"), Some("local"))
    );
    let now = chrono::Utc::now().timestamp_millis();
    assert!((now - first["connectedAt"].as_i64().unwrap()).abs() < 60_000);
    assert_eq!(seen[1]["token"], Value::Null);
    gateway.shutdown().await;
}

#[tokio::test]
async fn two_way_routes_send_the_result_back_and_survive_a_panicking_service() {
    let gateway = start(echo::adapter()).await;
    let mut client = connect(&gateway, "/").await;
    send(&mut client, json!({"action": "echo", "text": "hello"})).await;
    assert_eq!(
        next_json(&mut client).await,
        json!({"data": {"text": "hello"}})
    );
    send(&mut client, json!({"action": "boom", "text": "bug"})).await;
    let error = next_json(&mut client).await;
    assert_eq!(error["errors"][0]["status"], 500);
    send(&mut client, json!({"text": "after"})).await;
    assert_eq!(
        next_json(&mut client).await,
        json!({"data": {"text": "after"}})
    );
    gateway.shutdown().await;

    // A one-way adapter returns nothing: only posts reach the client.
    let gateway = start(fabric_websocket(echo::echo)).await;
    let mut client = connect(&gateway, "/").await;
    send(&mut client, json!({"text": "quiet"})).await;
    assert_silent(&mut client, Duration::from_millis(300)).await;
    gateway.shutdown().await;
}

fn read_configuration() -> u8 {
    panic!("no configuration")
}

#[tokio::test]
async fn a_failed_invocation_sends_api_gateways_internal_server_error() {
    // The adapter catches service panics itself; a panicking setup hook is the one
    // failure that escapes it, as it would crash a Lambda invocation.
    let adapter = fabric_websocket(echo::echo)
        .two_way(true)
        .setup(|| async { Ok::<u8, fabric::BoxError>(read_configuration()) });
    let gateway = start(adapter).await;
    let mut client = connect(&gateway, "/").await;
    send(&mut client, json!({"text": "hi"})).await;
    let failure = next_json(&mut client).await;
    assert_eq!(failure["message"], "Internal server error");
    assert!(failure["connectionId"].as_str().unwrap().ends_with('='));
    assert!(failure["requestId"].is_string());
    send(&mut client, json!({"text": "again"})).await;
    assert_eq!(
        next_json(&mut client).await["message"],
        "Internal server error"
    );
    gateway.shutdown().await;
}

#[tokio::test]
async fn a_slow_event_gets_the_integration_timeout_message() {
    let gateway = Gateway::new(probe(&Arc::new(Seen::default())))
        .integration_timeout(Duration::from_millis(300))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let mut client = connect(&gateway, "/").await;
    send(&mut client, json!({"delay_ms": 2000})).await;
    assert_eq!(
        next_json(&mut client).await["message"],
        "Endpoint request timed out"
    );
    send(&mut client, json!({"seq": 5})).await;
    assert_eq!(next_json(&mut client).await["data"]["seq"], 5);
    gateway.shutdown().await;
}

#[tokio::test]
async fn messages_on_one_connection_run_in_order_and_connections_run_concurrently() {
    let gateway = start(probe(&Arc::new(Seen::default()))).await;
    let mut client = connect(&gateway, "/").await;
    // Earlier messages take longer: out-of-order handling would reorder replies.
    for seq in 0..8u64 {
        send(&mut client, json!({"seq": seq, "delay_ms": (8 - seq) * 15})).await;
    }
    for seq in 0..8u64 {
        assert_eq!(next_json(&mut client).await["data"]["seq"], seq);
    }

    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(connect(&gateway, "/").await);
    }
    let started = Instant::now();
    for client in &mut clients {
        send(client, json!({"delay_ms": 600})).await;
    }
    for client in &mut clients {
        next_json(client).await;
    }
    assert!(
        started.elapsed() < Duration::from_millis(1800),
        "four 600 ms events on four connections took {:?}",
        started.elapsed()
    );
    gateway.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_every_connection_with_1001_and_runs_disconnect() {
    let seen = Arc::new(Seen::default());
    let gateway = start(probe(&seen)).await;
    let mut clients = Vec::new();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let mut client = connect(&gateway, "/").await;
        ids.push(id_of(&mut client).await);
        clients.push(client);
    }
    let url = gateway.ws_url();
    gateway.shutdown().await;
    let mut reasons: Vec<_> = seen
        .disconnects()
        .into_iter()
        .map(|(id, info)| (id, info.status_code, info.reason))
        .collect();
    reasons.sort();
    ids.sort();
    let expected: Vec<_> = ids
        .iter()
        .map(|id| (id.clone(), Some(1001), Some("Going away".to_owned())))
        .collect();
    assert_eq!(
        reasons, expected,
        "every $disconnect ran before shutdown returned"
    );
    for client in &mut clients {
        assert_eq!(close_of(client).await, (1001, "Going away".to_owned()));
    }
    assert!(
        tokio_tungstenite::connect_async(url).await.is_err(),
        "nothing listens any more"
    );
}

#[tokio::test]
async fn the_page_and_unknown_paths_answer_plain_http() {
    let gateway = start(chat::adapter()).await;
    let get = |path: &'static str| raw_http(&gateway, "GET", path, "");
    let page = get("/").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("text/html"));
    assert!(
        page.contains("?token="),
        "the chat page connects with a token"
    );
    assert!(get("/local").await.starts_with("HTTP/1.1 426"));
    assert!(get("/elsewhere/x/y").await.starts_with("HTTP/1.1 403"));
    assert_eq!(refused_status(&gateway, "/prod?token=dev-token").await, 403);

    let console = start(fabric_websocket(echo::echo)).await;
    let response = raw_http(&console, "GET", "/", "").await;
    assert!(response.contains("WebSocket console"), "the default page");
    gateway.shutdown().await;
    console.shutdown().await;
}

// ---------------------------------------------------------------------------
// The Management API, through the real AWS SDK.

#[tokio::test]
async fn posts_through_the_sdk_reach_the_client_whatever_the_id_looks_like() {
    let seen = Arc::new(Seen::default());
    let (gateway, api) = gateway(probe(&seen)).await;
    let mut clients = Vec::new();
    for _ in 0..24 {
        let mut client = connect(&gateway, "/").await;
        let id = id_of(&mut client).await;
        clients.push((id, client));
    }
    assert!(
        clients
            .iter()
            .any(|(id, _)| id.contains('/') || id.contains('+')),
        "ids exercise percent-encoding"
    );
    for (id, client) in &mut clients {
        api.post(id, format!(r#"{{"to":"{id}"}}"#).as_bytes())
            .await
            .unwrap_or_else(|err| panic!("post to {id}: {err}"));
        assert_eq!(next_json(client).await, json!({"to": id}));
    }
    // The stage-less path works too.
    let base = gateway
        .management_url()
        .trim_end_matches("/local")
        .to_owned();
    let (id, client) = &mut clients[0];
    SdkManagementApi::new(&base)
        .post(id, b"{\"n\":1}")
        .await
        .unwrap();
    assert_eq!(next_json(client).await, json!({"n": 1}));
    let other_stage = SdkManagementApi::new(&format!("{base}/prod"));
    assert!(matches!(
        other_stage.post(id, b"{}").await,
        Err(ManagementError::Forbidden(_))
    ));
    gateway.shutdown().await;
}

#[tokio::test]
async fn get_connection_gives_identity_and_moving_iso_timestamps() {
    let (gateway, api) = gateway(probe(&Arc::new(Seen::default()))).await;
    let (mut client, _) = try_connect(&gateway, "/", &[("user-agent", "sdk-test/2.0")])
        .await
        .unwrap();
    let id = id_of(&mut client).await;
    let first = api.get(&id).await.unwrap();
    assert_eq!(first.source_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(first.user_agent.as_deref(), Some("sdk-test/2.0"));
    assert!(first.last_active_at >= first.connected_at);
    tokio::time::sleep(Duration::from_millis(50)).await;
    send(&mut client, json!({})).await;
    next_json(&mut client).await;
    let later = api.get(&id).await.unwrap();
    assert_eq!(later.connected_at, first.connected_at);
    assert!(
        later.last_active_at > first.last_active_at,
        "lastActiveAt moves"
    );

    // The raw answer: ISO-8601 strings, as the SDKs parse them.
    let path = format!("/local/@connections/{}", percent_encode(&id));
    let raw = raw_http(&gateway, "GET", &path, "").await;
    let body: Value = serde_json::from_str(raw.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let connected_at = body["connectedAt"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(connected_at).is_ok(),
        "{connected_at}"
    );
    assert!(connected_at.ends_with('Z'));
    assert_eq!(body["identity"]["userAgent"], "sdk-test/2.0");
    gateway.shutdown().await;
}

fn percent_encode(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn delete_closes_the_socket_and_runs_disconnect() {
    let seen = Arc::new(Seen::default());
    let (gateway, api) = gateway(probe(&seen)).await;
    let mut client = connect(&gateway, "/").await;
    let id = id_of(&mut client).await;
    api.delete(&id).await.unwrap();
    assert_eq!(close_of(&mut client).await.0, 1000);
    assert_eq!(api.get(&id).await, Err(ManagementError::Gone));
    assert_eq!(api.delete(&id).await, Err(ManagementError::Gone));
    assert_eq!(seen.disconnected(&id).await.status_code, Some(1000));
    gateway.shutdown().await;
}

#[tokio::test]
async fn unknown_ids_and_oversized_posts_get_the_sdks_errors() {
    let (gateway, api) = gateway(probe(&Arc::new(Seen::default()))).await;
    assert_eq!(
        api.post("bm8tc3VjaC1pZA==", b"{}").await,
        Err(ManagementError::Gone)
    );
    assert_eq!(
        api.get("bm8tc3VjaC1pZA==").await,
        Err(ManagementError::Gone)
    );

    let mut client = connect(&gateway, "/").await;
    let id = id_of(&mut client).await;
    let fits = vec![b'x'; 131_072];
    api.post(&id, &fits).await.unwrap();
    match tokio::time::timeout(WAIT, client.next()).await.unwrap() {
        Some(Ok(Message::Text(text))) => assert_eq!(text.len(), 131_072),
        other => panic!("{other:?}"),
    }
    let too_big = vec![b'x'; 131_073];
    assert_eq!(
        api.post(&id, &too_big).await,
        Err(ManagementError::PayloadTooLarge(131_073))
    );
    let way_too_big = vec![b'x'; 1 << 20];
    assert!(matches!(
        api.post(&id, &way_too_big).await,
        Err(ManagementError::PayloadTooLarge(_))
    ));
    // A refused post leaves the client able to post again.
    api.post(&id, b"after").await.unwrap();
    match tokio::time::timeout(WAIT, client.next()).await.unwrap() {
        Some(Ok(Message::Text(text))) => assert_eq!(text, "after"),
        other => panic!("{other:?}"),
    }

    // The raw answer names the exception as API Gateway does.
    let raw = raw_http(&gateway, "POST", "/local/@connections/nope", "{}").await;
    assert!(raw.starts_with("HTTP/1.1 410"), "{raw}");
    assert!(
        raw.to_lowercase()
            .contains("x-amzn-errortype: goneexception"),
        "{raw}"
    );
    assert!(raw.contains(r#""message""#), "{raw}");
    gateway.shutdown().await;
}

#[tokio::test]
async fn a_post_during_connect_is_gone_and_a_refused_connection_never_exists() {
    let seen = Arc::new(Seen::default());
    let record = seen.clone();
    let refused_ids = Arc::new(Mutex::new(Vec::<String>::new()));
    let refused = refused_ids.clone();
    let adapter = probe(&seen).on_connect(move |ctx: Context| {
        let record = record.clone();
        let refused = refused.clone();
        async move {
            let ws = ctx.websocket().unwrap();
            // API Gateway: the connection does not exist until $connect returns.
            let posted = ws.send_to(ws.connection_id(), json!({"early": true})).await;
            record
                .connect_posts
                .lock()
                .unwrap()
                .push(posted.map_err(|e| e.status()));
            if ws.query_param("token") == Some("no") {
                refused.lock().unwrap().push(ws.connection_id().to_owned());
                return Err(Error::unauthorized("no entry"));
            }
            Ok(fabric::websocket::Accept::new())
        }
    });
    let (gateway, api) = gateway(adapter).await;
    let mut client = connect(&gateway, "/").await;
    assert_eq!(*seen.connect_posts.lock().unwrap(), vec![Err(410)]);
    assert_eq!(
        id_of(&mut client).await.len(),
        16,
        "the connection works after $connect"
    );
    assert_silent(&mut client, Duration::from_millis(200)).await;

    assert_eq!(refused_status(&gateway, "/?token=no").await, 401);
    let refused_id = refused_ids.lock().unwrap()[0].clone();
    assert_eq!(api.get(&refused_id).await, Err(ManagementError::Gone));
    assert_eq!(gateway.connection_count(), 1);
    assert!(
        seen.disconnect_of(&refused_id).is_none(),
        "no $disconnect for a refused connection"
    );
    gateway.shutdown().await;
}

/// Posts from a service: twenty in order to its own connection, then one over
/// 128 KB and one to an unknown id, whose statuses it posts last.
#[fabric_service]
async fn poster(_input: Probe, ctx: Context) -> Result<Value, Error> {
    let ws = ctx.websocket().unwrap();
    let me = ws.connection_id().to_owned();
    for n in 0..20 {
        ws.send_to(&me, json!({ "n": n })).await?;
    }
    let too_large = ws.send_to(&me, json!("x".repeat(131_071))).await;
    let unknown = ws.send_to("bm8tc3VjaC1pZA==", json!({})).await;
    let statuses: Vec<u16> = [too_large, unknown]
        .into_iter()
        .map(|result| result.map_or_else(|err| err.status(), |()| 200))
        .collect();
    ws.send_to(&me, json!({ "statuses": statuses })).await?;
    Ok(Value::Null)
}

async fn posts_in_order_then_413_and_410(through_sdk: bool) {
    let gateway = Gateway::new(fabric_websocket(poster))
        .sdk_management(through_sdk)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let mut client = connect(&gateway, "/").await;
    send(&mut client, json!({})).await;
    for n in 0..20 {
        assert_eq!(next_json(&mut client).await, json!({ "n": n }));
    }
    assert_eq!(
        next_json(&mut client).await,
        json!({ "statuses": [413, 410] })
    );
    gateway.shutdown().await;
}

#[tokio::test]
async fn in_process_posts_keep_order_and_answer_413_and_410() {
    posts_in_order_then_413_and_410(false).await;
}

#[tokio::test]
async fn sdk_posts_keep_order_and_answer_413_and_410() {
    posts_in_order_then_413_and_410(true).await;
}

// ---------------------------------------------------------------------------
// The real binary.

/// Starts the chat binary on `port` with `args` and `env`; gives back the child and
/// its output lines.
fn spawn_chat(
    port: u16,
    args: &[&str],
    env: &[(&str, &str)],
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    spawn_binary(env!("CARGO_BIN_EXE_chat"), port, args, env)
}

#[tokio::test]
async fn the_chat_binary_serves_until_ctrl_c_and_exits_cleanly() {
    let port = free_port();
    // This run posts through the SDK, over HTTP back into the gateway.
    let (child, lines) = spawn_chat(
        port,
        &["--verbose"],
        &[("FABRIC_STAGE", "dev"), ("FABRIC_LOCAL_MANAGEMENT", "sdk")],
    );
    let ready = tokio::task::spawn_blocking(move || {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("a ready line");
        (line, lines)
    });
    let (line, lines) = ready.await.unwrap();
    assert!(line.contains(&format!("ws://127.0.0.1:{port}")), "{line}");
    assert!(
        line.contains(&format!("http://127.0.0.1:{port}/dev")),
        "{line}"
    );

    let url = format!("ws://127.0.0.1:{port}/dev?token=dev-token");
    let (mut client, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    send(&mut client, json!({"action": "join", "room": "general"})).await;
    assert_eq!(next_json(&mut client).await["joined"], "general");
    send(
        &mut client,
        json!({"action": "message", "room": "general", "content": "hello"}),
    )
    .await;
    assert_eq!(next_json(&mut client).await["content"], "hello");

    interrupt(&child);
    assert_eq!(close_of(&mut client).await.0, 1001);
    let status = exit_of(child).await;
    assert!(status.success(), "exit status {status:?}");
    std::thread::sleep(Duration::from_millis(200));
    let logs: Vec<String> = lines.try_iter().collect();
    let logs = logs.join("\n");
    assert!(logs.contains("$connect"), "one line per event: {logs}");
    assert!(logs.contains("$disconnect"), "{logs}");
    assert!(logs.contains("200"), "{logs}");
    assert!(
        logs.contains(r#""eventType": "CONNECT""#),
        "--verbose prints events: {logs}"
    );
    assert!(logs.contains(r#""stage": "dev""#), "{logs}");
}

#[tokio::test]
async fn the_division_ws_binary_posts_results_and_errors_back() {
    let port = free_port();
    let (child, lines) = spawn_binary(env!("CARGO_BIN_EXE_division-ws"), port, &[], &[]);
    let ready = tokio::task::spawn_blocking(move || lines.recv_timeout(Duration::from_secs(30)));
    let line = ready.await.unwrap().expect("a ready line");
    assert!(line.contains(&format!("ws://127.0.0.1:{port}")), "{line}");

    let url = format!("ws://127.0.0.1:{port}/");
    let (mut client, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    send(&mut client, json!({"numerator": "14", "denominator": "7"})).await;
    assert_eq!(next_json(&mut client).await, json!({"data": 2.0}));
    send(&mut client, json!({})).await;
    assert_eq!(next_json(&mut client).await, json!({"data": 4.0}));
    send(&mut client, json!({"denominator": 0})).await;
    let frame = next_json(&mut client).await;
    assert_eq!(frame["errors"][0]["status"], 400);
    assert_eq!(frame["errors"][0]["source"]["pointer"], "/denominator");

    interrupt(&child);
    assert!(exit_of(child).await.success());
}

#[tokio::test]
async fn a_taken_port_is_a_clear_message_and_a_failed_exit() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (child, lines) = spawn_chat(port, &[], &[]);
    let status = exit_of(child).await;
    assert!(!status.success());
    std::thread::sleep(Duration::from_millis(100));
    let output: Vec<String> = lines.try_iter().collect();
    assert_eq!(
        output,
        vec![format!(
            "fabric: port {port} is in use: stop the other process or pass --port / FABRIC_PORT"
        )]
    );
}

#[tokio::test]
async fn bad_settings_are_a_clear_message_and_a_failed_exit() {
    for (name, value, message) in [
        (
            "FABRIC_IDLE_TIMEOUT",
            "soon",
            "fabric: FABRIC_IDLE_TIMEOUT must be a number of seconds, got `soon`",
        ),
        (
            "FABRIC_STAGE",
            "my stage",
            "fabric: the stage `my stage` must be letters, digits, `-` and `_`, starting with a letter or digit (at most 64)",
        ),
    ] {
        let (child, lines) = spawn_chat(free_port(), &[], &[(name, value)]);
        let status = exit_of(child).await;
        assert_eq!(status.code(), Some(1), "{name}");
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(
            lines.try_iter().collect::<Vec<_>>(),
            vec![message.to_owned()]
        );
    }
}

#[tokio::test]
async fn an_endpoint_variable_that_takes_posts_elsewhere_is_pointed_out() {
    let (child, lines) = spawn_chat(
        free_port(),
        &[],
        &[("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")],
    );
    let first_two = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        for _ in 0..2 {
            seen.push(lines.recv_timeout(Duration::from_secs(30)).unwrap());
        }
        seen.join("\n")
    })
    .await
    .unwrap();
    assert!(
        first_two.contains("the service posts to http://127.0.0.1:4566"),
        "{first_two}"
    );
    assert!(
        first_two.contains("Fabric local gateway ready"),
        "{first_two}"
    );
    interrupt(&child);
    assert!(exit_of(child).await.success());
}

#[tokio::test]
async fn a_client_that_gives_up_during_connect_still_gets_its_disconnect() {
    let seen = Arc::new(Seen::default());
    let connecting = Arc::new(Mutex::new(Vec::<String>::new()));
    let record = connecting.clone();
    let adapter = probe(&seen).on_connect(move |ctx: Context| {
        let record = record.clone();
        async move {
            record
                .lock()
                .unwrap()
                .push(ctx.connection_id().unwrap().to_owned());
            tokio::time::sleep(Duration::from_millis(500)).await;
            Ok(fabric::websocket::Accept::new())
        }
    });
    let gateway = start(adapter).await;
    let impatient = tokio::time::timeout(
        Duration::from_millis(100),
        tokio_tungstenite::connect_async(gateway.ws_url()),
    )
    .await;
    assert!(impatient.is_err(), "the client gave up first");
    eventually("$connect ran", || connecting.lock().unwrap().len() == 1).await;
    let id = connecting.lock().unwrap()[0].clone();
    let info = seen.disconnected(&id).await;
    assert_eq!(info.status_code, Some(1006));
    eventually("unregistered", || gateway.connection_count() == 0).await;
    gateway.shutdown().await;
}
