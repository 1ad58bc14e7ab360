//! Heartbeats and rate limits through the local gateway, with real WebSocket
//! clients (tokio-tungstenite).

mod support;

use std::time::{Duration, Instant};

use fabric::local::{Gateway, RunningGateway};
use fabric::prelude::*;
use fabric::store::{DynamoDbBuckets, DynamoDbStore, MemoryStore};
use fabric::websocket::{Accept, RateLimit, WebSocketAdapter, WebSocketRouter};
use futures_util::{SinkExt, StreamExt};
use support::ws_client::WsClient;
use tokio_tungstenite::tungstenite::Message;

#[derive(Deserialize, Input)]
struct Say {
    text: String,
}

#[fabric_service(alias = "say")]
async fn say(input: Say, _ctx: Context) -> Result<Value, Error> {
    Ok(json!({ "said": input.text }))
}

#[derive(Deserialize, Input)]
struct Anything {}

#[fabric_service(alias = "ping")]
async fn own_ping(_input: Anything, _ctx: Context) -> Result<Value, Error> {
    Ok(json!({ "mine": true }))
}

async fn start(adapter: WebSocketAdapter) -> RunningGateway {
    Gateway::new(adapter).bind("127.0.0.1:0").await.unwrap()
}

async fn start_idle(adapter: WebSocketAdapter, idle: Duration) -> RunningGateway {
    Gateway::new(adapter)
        .idle_timeout(idle)
        .bind("127.0.0.1:0")
        .await
        .unwrap()
}

#[tokio::test]
async fn ping_is_answered_with_pong_and_other_messages_still_reach_the_service() {
    let gateway = start(fabric_websocket(say).reply(true)).await;
    let mut client = WsClient::connect(&gateway.ws_url()).await;
    client.send_json(json!({"action": "ping"})).await;
    assert_eq!(client.next_json().await, json!({"action": "pong"}));
    client.send_json(json!({"text": "hi"})).await;
    assert_eq!(client.next_json().await, json!({"data": {"said": "hi"}}));
}

#[tokio::test]
async fn a_users_own_ping_route_wins_and_the_switch_turns_pong_off() {
    let own = fabric_websocket(WebSocketRouter::new().service(own_ping)).reply(true);
    let gateway = start(own).await;
    let mut client = WsClient::connect(&gateway.ws_url()).await;
    client.send_json(json!({"action": "ping"})).await;
    assert_eq!(client.next_json().await, json!({"data": {"mine": true}}));

    let off = start(fabric_websocket(say).reply(true).heartbeat(false)).await;
    let mut client = WsClient::connect(&off.ws_url()).await;
    client.send_json(json!({"action": "ping"})).await;
    let answer = client.next_json().await;
    assert_eq!(
        answer["errors"][0]["status"], 400,
        "the service saw it: {answer}"
    );
}

#[tokio::test]
async fn pings_keep_a_connection_past_a_short_idle_timeout() {
    let idle = Duration::from_millis(800);
    let gateway = start_idle(fabric_websocket(say), idle).await;
    let mut client = WsClient::connect(&gateway.ws_url()).await;
    let started = Instant::now();
    while started.elapsed() < idle * 3 {
        tokio::time::sleep(idle / 3).await;
        client.send_json(json!({"action": "ping"})).await;
        assert_eq!(client.next_json().await, json!({"action": "pong"}));
    }

    // WebSocket ping control frames count as activity too.
    let (mut raw, _) = tokio_tungstenite::connect_async(gateway.ws_url())
        .await
        .unwrap();
    let started = Instant::now();
    while started.elapsed() < idle * 3 {
        tokio::time::sleep(idle / 3).await;
        raw.send(Message::Ping(vec![1].into())).await.unwrap();
        let pong = tokio::time::timeout(Duration::from_secs(5), raw.next())
            .await
            .expect("a pong in time");
        assert!(matches!(pong, Some(Ok(Message::Pong(_)))), "got {pong:?}");
    }

    // Without pings the same timeout closes the connection.
    tokio::time::sleep(idle * 2).await;
    let closed = tokio::time::timeout(Duration::from_secs(5), raw.next())
        .await
        .expect("a close in time");
    match closed {
        Some(Ok(Message::Close(Some(frame)))) => {
            assert_eq!(u16::from(frame.code), 1001);
            assert_eq!(frame.reason.as_str(), "Idle timeout");
        }
        other => panic!("expected the idle close, got {other:?}"),
    }
}

#[tokio::test]
async fn a_burst_over_the_limit_gets_429_frames_and_the_connection_survives() {
    let adapter = fabric_websocket(say)
        .reply(true)
        .rate_limit(RateLimit::per_connection(10.0, 20));
    let gateway = start(adapter).await;
    let mut client = WsClient::connect(&gateway.ws_url()).await;
    let mut other = WsClient::connect(&gateway.ws_url()).await;

    let (mut passed, mut limited) = (0, 0);
    for frame in answers(&mut client, said(200)).await {
        if frame.get("data").is_some() {
            passed += 1;
        } else {
            let error = &frame["errors"][0];
            assert_eq!(error["status"], 429, "{frame}");
            assert_eq!(error["title"], "Too Many Requests");
            let wait = error["meta"]["retryAfterMs"]
                .as_u64()
                .expect("a retry hint");
            assert!(wait > 0 && wait <= 100, "retryAfterMs {wait}");
            limited += 1;
        }
    }
    // The burst passes, plus what refilled while the 200 were handled.
    assert!((20..60).contains(&passed), "{passed} passed");
    assert_eq!(passed + limited, 200);

    // Another connection has its own bucket.
    other.send_json(json!({"text": "fresh"})).await;
    assert_eq!(other.next_json().await, json!({"data": {"said": "fresh"}}));

    // A moment later the same connection is served again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    client.send_json(json!({"text": "later"})).await;
    assert_eq!(client.next_json().await, json!({"data": {"said": "later"}}));
}

#[tokio::test]
async fn a_connection_over_its_violations_is_closed() {
    let adapter = fabric_websocket(say)
        .reply(true)
        .rate_limit(RateLimit::per_connection(1.0, 2).disconnect_after(3));
    let gateway = start(adapter).await;
    let (mut raw, _) = tokio_tungstenite::connect_async(gateway.ws_url())
        .await
        .unwrap();
    for n in 0..5 {
        let text = json!({"text": format!("m{n}")}).to_string();
        raw.send(Message::text(text)).await.unwrap();
    }
    let mut limited = 0;
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), raw.next())
            .await
            .expect("frames in time");
        match frame {
            Some(Ok(Message::Text(text))) => {
                if text.contains("429") {
                    limited += 1;
                }
            }
            Some(Ok(Message::Close(_))) | None => break,
            Some(Ok(_)) => {}
            Some(Err(err)) => panic!("{err}"),
        }
    }
    assert_eq!(limited, 3, "closed at the third violation");
}

/// The user named by `?user=`.
async fn user_from_query(ctx: Context) -> Result<Accept, Error> {
    let user = ctx
        .websocket()
        .and_then(|ws| ws.query_param("user"))
        .ok_or_else(|| Error::unauthorized("?user= is required"))?
        .to_owned();
    Ok(Accept::new().user(user))
}

/// Sends every message at once, then reads one answer for each, in order.
async fn answers(client: &mut WsClient, messages: impl IntoIterator<Item = Value>) -> Vec<Value> {
    let mut sent = 0;
    for message in messages {
        client.send_json(message).await;
        sent += 1;
    }
    let mut answers = Vec::with_capacity(sent);
    for _ in 0..sent {
        answers.push(client.next_json().await);
    }
    answers
}

/// `count` messages for `say`: m0, m1, …
fn said(count: usize) -> impl Iterator<Item = Value> {
    (0..count).map(|n| json!({"text": format!("m{n}")}))
}

/// Sends `count` messages and counts the answers that passed.
async fn passed_of(client: &mut WsClient, count: usize) -> usize {
    let mut passed = 0;
    for frame in answers(client, said(count)).await {
        if frame.get("data").is_some() {
            passed += 1;
        } else {
            assert_eq!(frame["errors"][0]["status"], 429, "{frame}");
        }
    }
    passed
}

#[tokio::test]
async fn a_dynamodb_bucket_is_shared_by_two_adapters() {
    let Some(endpoint) = support::dynamodb::server("limits_dynamodb").await else {
        return;
    };
    let table = support::dynamodb::unique_table("buckets");
    let buckets = DynamoDbBuckets::new(DynamoDbStore::sdk_client(Some(&endpoint)), table);
    buckets.create_table().await.unwrap();
    // Two adapters as two Lambda instances: each with its own memory, one table of
    // buckets. 0.5/s: nothing refills during the test.
    let instance = || {
        fabric_websocket(say)
            .reply(true)
            .on_connect(user_from_query)
            .store(MemoryStore::new())
            .rate_limit(RateLimit::per_user(0.5, 10).buckets(buckets.clone()))
    };
    let first = start(instance()).await;
    let second = start(instance()).await;
    let mut ada_first = WsClient::connect(&format!("{}/?user=ada", first.ws_url())).await;
    let mut ada_second = WsClient::connect(&format!("{}/?user=ada", second.ws_url())).await;
    let mut bob_second = WsClient::connect(&format!("{}/?user=bob", second.ws_url())).await;

    assert_eq!(passed_of(&mut ada_first, 6).await, 6);
    // Ada's other connection, on the other instance, has only what is left.
    assert_eq!(passed_of(&mut ada_second, 8).await, 4);
    assert_eq!(passed_of(&mut ada_first, 2).await, 0);
    // Bob's bucket is his own.
    assert_eq!(passed_of(&mut bob_second, 3).await, 3);
}

/// A connection's limit answers at once, a user's looked up in the store waits:
/// each message takes one token from each bucket, never two from the first.
#[tokio::test]
async fn a_connection_limit_and_a_user_limit_looked_up_in_the_store_both_apply_once() {
    // 0.5/s: nothing refills during the test.
    let adapter = fabric_websocket(say)
        .reply(true)
        .on_connect(user_from_query)
        .store(MemoryStore::new())
        .rate_limit(RateLimit::per_connection(0.5, 5))
        .rate_limit(RateLimit::per_user(0.5, 8));
    let gateway = start(adapter).await;
    let mut first = WsClient::connect(&format!("{}/?user=ada", gateway.ws_url())).await;
    let mut second = WsClient::connect(&format!("{}/?user=ada", gateway.ws_url())).await;
    // The connection's bucket of 5 runs out first; Ada's has 3 left.
    assert_eq!(passed_of(&mut first, 6).await, 5);
    assert_eq!(passed_of(&mut second, 6).await, 3);
}

/// A limiter that cannot answer (here a bucket table that was never created) lets
/// messages through rather than refusing every one, as a broken limiter must not
/// take the API down; the failure is logged as "rate limit not checked".
#[tokio::test]
async fn messages_pass_when_the_bucket_table_cannot_be_reached() {
    let Some(endpoint) = support::dynamodb::server("limits_missing_table").await else {
        return;
    };
    let missing = support::dynamodb::unique_table("never-created");
    let buckets = DynamoDbBuckets::new(DynamoDbStore::sdk_client(Some(&endpoint)), missing);
    let adapter = fabric_websocket(say)
        .reply(true)
        .rate_limit(RateLimit::per_connection(0.5, 1).buckets(buckets));
    let gateway = start(adapter).await;
    let mut client = WsClient::connect(&gateway.ws_url()).await;
    // A burst of 1 would refuse 4 of these 5 if the limiter answered.
    assert_eq!(passed_of(&mut client, 5).await, 5);
}

#[tokio::test]
async fn concurrent_takes_from_one_dynamodb_bucket_never_exceed_its_burst() {
    let Some(endpoint) = support::dynamodb::server("limits_race").await else {
        return;
    };
    let table = support::dynamodb::unique_table("race");
    let buckets = DynamoDbBuckets::new(DynamoDbStore::sdk_client(Some(&endpoint)), table);
    buckets.create_table().await.unwrap();
    let limit = fabric::store::BucketLimit::new(0.2, 15);
    let takes = (0..40).map(|_| {
        let buckets = buckets.clone();
        tokio::spawn(async move {
            use fabric::store::TokenBuckets;
            buckets.take("shared", limit).await.unwrap().is_allowed()
        })
    });
    let mut allowed = 0;
    for take in takes.collect::<Vec<_>>() {
        if take.await.unwrap() {
            allowed += 1;
        }
    }
    assert!(allowed <= 15, "{allowed} tokens from a bucket of 15");
    assert!(
        allowed >= 10,
        "only {allowed}: races should mostly be settled"
    );
}

#[tokio::test]
async fn the_chat_answers_ping_and_limits_each_connection_to_10_a_second_burst_20() {
    if std::env::var_os("CHAT_RATE_LIMIT").is_some() {
        eprintln!("SKIPPED: CHAT_RATE_LIMIT is set; this test checks the default");
        return;
    }
    let gateway = start(fabric_examples::chat::adapter()).await;
    let url = format!("{}/?token=dev-token", gateway.ws_url());
    let mut client = WsClient::connect(&url).await;
    client.send_json(json!({"action": "ping"})).await;
    assert_eq!(client.next_json().await, json!({"action": "pong"}));
    let joins = std::iter::repeat_n(json!({"action": "join", "room": "general"}), 60);
    let (mut joined, mut limited) = (0, 0);
    for frame in answers(&mut client, joins).await {
        if frame.get("joined").is_some() {
            joined += 1;
        } else {
            assert_eq!(frame["errors"][0]["status"], 429, "{frame}");
            limited += 1;
        }
    }
    // The ping took one of the 20; ~10 a second refill while the joins run.
    assert!(
        (19..=40).contains(&joined),
        "{joined} joined, {limited} refused"
    );
    // The connection is still served once the bucket refills.
    tokio::time::sleep(Duration::from_millis(300)).await;
    client.send_json(json!({"action": "ping"})).await;
    assert_eq!(client.next_json().await, json!({"action": "pong"}));
}

#[tokio::test]
async fn the_local_gateway_applies_the_stage_throttling_as_api_gateway_does() {
    let throttled = fabric_websocket(say).reply(true).stage_throttling(1, 3);
    let gateway = start(throttled).await;
    let mut client = WsClient::connect(&gateway.ws_url()).await;
    let mut other = WsClient::connect(&gateway.ws_url()).await;
    let (passed, throttled) = passed_and_throttled(answers(&mut client, said(8)).await);
    assert_eq!((passed, throttled), (3, 5));
    // The stage's bucket is shared: another connection is throttled too.
    other.send_json(json!({"text": "x"})).await;
    assert_eq!(other.next_json().await["message"], "Too Many Requests");
    // One second refills one request.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    other.send_json(json!({"text": "y"})).await;
    assert_eq!(other.next_json().await, json!({"data": {"said": "y"}}));
}

#[tokio::test]
async fn the_local_gateway_throttles_a_route_by_its_own_limits_and_leaves_the_others() {
    let adapter = fabric_websocket(WebSocketRouter::new().service(say).fallback(say))
        .reply(true)
        .route_throttling("say", 1, 2);
    let gateway = start(adapter).await;
    let mut client = WsClient::connect(&gateway.ws_url()).await;
    let to_say = (0..6).map(|n| json!({"action": "say", "text": format!("s{n}")}));
    let (passed, throttled) = passed_and_throttled(answers(&mut client, to_say).await);
    assert_eq!((passed, throttled), (2, 4), "the route's burst of 2 passes");
    // `$default` has no limits of its own, and the stage none: all pass.
    let passed_default = answers(&mut client, said(6))
        .await
        .iter()
        .filter(|frame| frame.get("data").is_some())
        .count();
    assert_eq!(passed_default, 6);
    // The connection stays open, and a second refills one message of the route.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    client
        .send_json(json!({"action": "say", "text": "later"}))
        .await;
    assert_eq!(client.next_json().await, json!({"data": {"said": "later"}}));
}

/// How many answers passed (`data`) and how many API Gateway throttled, each
/// throttled one checked to be its `{"message": "Too Many Requests", ...}`.
fn passed_and_throttled(frames: Vec<Value>) -> (usize, usize) {
    let mut counts = (0, 0);
    for frame in frames {
        if frame.get("data").is_some() {
            counts.0 += 1;
        } else {
            assert_eq!(frame["message"], "Too Many Requests", "{frame}");
            assert!(frame["connectionId"].is_string() && frame["requestId"].is_string());
            counts.1 += 1;
        }
    }
    counts
}

/// The real `chat` binary with `FABRIC_RATE_LIMIT_TABLE` naming a table on moto
/// (made as the template declares it): its per-connection buckets (10/s, burst 20,
/// `EnvBuckets`) are items of that table, not memory.
#[tokio::test]
async fn the_chat_binary_keeps_its_buckets_in_the_table_fabric_rate_limit_table_names() {
    use fabric::app::App;
    use fabric::deploy::{BuildOptions, Template};
    use support::process::{KillOnDrop, free_port, ready_line, spawn_binary};

    let Some(endpoint) = support::dynamodb::server("limits_env_table").await else {
        return;
    };
    let template = Template::from_app(
        &App::single("chat", fabric_examples::chat::adapter())
            .describe()
            .unwrap(),
        &BuildOptions::default(),
    )
    .to_value();
    let client = DynamoDbStore::sdk_client(Some(&endpoint));
    let table = support::dynamodb::unique_table("env-buckets");
    support::dynamodb::create_table_from_template(&client, &table, &template, "ChatRateLimitTable")
        .await;

    let port = free_port();
    let (child, lines) = spawn_binary(
        env!("CARGO_BIN_EXE_chat"),
        port,
        &[],
        &[
            ("FABRIC_RATE_LIMIT_TABLE", &table),
            ("AWS_ENDPOINT_URL_DYNAMODB", &endpoint),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ],
    );
    let _chat = KillOnDrop(child);
    let (ready, _lines) = ready_line(lines).await;
    assert!(ready.starts_with("Fabric local gateway ready: "), "{ready}");

    let mut ws = WsClient::connect(&format!("ws://127.0.0.1:{port}/?token=dev-token")).await;
    // 60 at once, three times the burst: the first 20 pass, the refill (10 a second)
    // lets a few more through while they are taken, the rest are 429s.
    let started = Instant::now();
    let joins = (0..60).map(|n| json!({"action": "join", "room": format!("r{n}")}));
    let frames = answers(&mut ws, joins).await;
    let refilled = (started.elapsed().as_secs_f64() * 10.0).ceil() as usize + 1;
    let joined: Vec<&Value> = frames
        .iter()
        .filter(|f| f.get("joined").is_some())
        .collect();
    let limited: Vec<&Value> = frames
        .iter()
        .filter(|f| f["errors"][0]["status"] == 429)
        .collect();
    assert_eq!(joined.len() + limited.len(), 60, "{frames:?}");
    assert!(
        (20..=20 + refilled).contains(&joined.len()),
        "the burst of 20 and at most {refilled} refilled: {} passed",
        joined.len()
    );
    assert!(!limited.is_empty(), "{frames:?}");
    assert!(
        limited[0]["errors"][0]["meta"]["retryAfterMs"].is_number(),
        "{}",
        limited[0]
    );
    let connection_id = joined[0]["connectionId"].as_str().unwrap().to_owned();

    // Still open: once a token has come back, a join passes again.
    tokio::time::sleep(Duration::from_millis(300)).await;
    ws.send_json(json!({"action": "join", "room": "after"}))
        .await;
    assert_eq!(ws.next_json().await["joined"], "after");

    // The bucket is an item of the table: the table, not memory, was used.
    let items = client
        .scan()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let buckets: Vec<String> = items
        .iter()
        .filter_map(|item| item.get("bucket")?.as_s().ok().cloned())
        .collect();
    assert!(
        buckets.iter().any(|bucket| bucket.contains(&connection_id)),
        "a bucket of connection {connection_id} in {table}: {buckets:?}"
    );
}
