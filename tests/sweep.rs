//! The stale-connection sweep against real stores (MemoryStore, DynamoDbStore on
//! moto), with live connections on the real local gateway (GetConnection answers
//! 200 through its Management API, asked with the real SDK) and gone ones (410);
//! and the chat app's sweep function served by its binaries, off Lambda and on.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use fabric::local::{Gateway, RunningGateway};
use fabric::store::{Connection, ConnectionStore, MemoryStore, SharedStore};
use fabric::websocket::{Bound, SdkManagementApi, Sweep, fabric_sweep};
use serde_json::{Value, json};
use support::http_server::{RecordingServer, Reply};
use support::lambda_runtime::{LambdaRuntime, Outcome};
use support::process::{exit_of, free_port, spawn_binary};
use support::ws_client::WsClient;

/// A gateway tracking connections in `store`, and `live` clients connected to it.
async fn gateway_with(store: SharedStore, live: usize) -> (RunningGateway, Vec<WsClient>) {
    let adapter = fabric_examples::echo::adapter().shared_store(store.clone());
    let gateway = Gateway::new(adapter).bind("127.0.0.1:0").await.unwrap();
    let mut clients = Vec::new();
    for _ in 0..live {
        clients.push(WsClient::connect(&gateway.ws_url()).await);
    }
    // `$connect` saves each connection before its handshake completes.
    let listed = store.list_page(None, 1000).await.unwrap().connections.len();
    assert_eq!(listed, live, "the gateway saved every live connection");
    (gateway, clients)
}

/// Saves `count` connections API Gateway no longer has (opened an hour ago), each
/// in two rooms.
async fn gone(store: &SharedStore, count: usize) -> Vec<String> {
    let an_hour_ago = Utc::now() - TimeDelta::hours(1);
    let mut ids = Vec::new();
    for index in 0..count {
        let id = format!("gone-{index:02}=");
        store
            .save(&Connection::new(&id, an_hour_ago).user("ghost"))
            .await
            .unwrap();
        store.join("general", &id).await.unwrap();
        store.join(&format!("room-{index}"), &id).await.unwrap();
        ids.push(id);
    }
    ids
}

fn sweep_of(store: &SharedStore, gateway: &RunningGateway) -> Sweep {
    Sweep::new(store.clone())
        .management(Arc::new(SdkManagementApi::new(&gateway.management_url())))
        .quiet_for(Duration::ZERO)
        .page_size(2)
}

async fn ids(store: &SharedStore) -> Vec<String> {
    let mut ids: Vec<String> = store
        .list_page(None, 1000)
        .await
        .unwrap()
        .connections
        .iter()
        .map(|c| c.connection_id().to_owned())
        .collect();
    ids.sort();
    ids
}

/// Gone connections and their rooms are deleted, live ones kept, every page read.
async fn deletes_the_gone_and_keeps_the_live(store: SharedStore) {
    let (gateway, mut clients) = gateway_with(store.clone(), 3).await;
    let live = ids(&store).await;
    let gone_ids = gone(&store, 5).await;

    let report = sweep_of(&store, &gateway).run_once().await;
    assert_eq!(report.checked, 8, "{report:?}");
    assert_eq!(report.live, 3, "{report:?}");
    assert_eq!(report.deleted, 5, "{report:?}");
    assert_eq!(report.memberships_deleted, 10, "{report:?}");
    assert_eq!(report.errors, 0, "{report:?}");
    assert_eq!(report.stopped_by, None, "{report:?}");
    assert!(report.pages >= 4, "8 connections in pages of 2: {report:?}");

    assert_eq!(
        ids(&store).await,
        live,
        "only the live connections are left"
    );
    let members = store.members("general").await.unwrap();
    assert!(members.is_empty(), "{members:?}");
    for (index, id) in gone_ids.iter().enumerate() {
        assert!(store.get(id).await.unwrap().is_none());
        assert!(store.rooms(id).await.unwrap().is_empty());
        assert!(
            store
                .members(&format!("room-{index}"))
                .await
                .unwrap()
                .is_empty()
        );
    }
    // The live connections still work through the gateway.
    clients[0]
        .send_json(json!({"action": "echo", "text": "still here"}))
        .await;
    let answer = clients[0].next_json().await;
    assert!(answer.to_string().contains("still here"), "{answer}");
    gateway.shutdown().await;
}

/// A run checks at most `max_checked`; the next run goes on from there.
async fn a_bounded_run_stops_and_the_next_goes_on(store: SharedStore) {
    let (gateway, _clients) = gateway_with(store.clone(), 2).await;
    gone(&store, 5).await;
    let sweep = sweep_of(&store, &gateway).max_checked(3);

    let first = sweep.run_once().await;
    assert_eq!(first.checked, 3, "{first:?}");
    assert_eq!(first.stopped_by, Some(Bound::MaxChecked), "{first:?}");
    assert!(!first.resumed);
    let second = sweep.run_once().await;
    assert!(second.resumed, "{second:?}");
    assert_eq!(second.checked, 3, "{second:?}");
    let third = sweep.run_once().await;
    assert_eq!(
        first.checked + second.checked + third.checked,
        7,
        "{third:?}"
    );
    assert_eq!(third.stopped_by, None, "{third:?}");
    assert_eq!(first.deleted + second.deleted + third.deleted, 5);
    assert_eq!(ids(&store).await.len(), 2, "the live ones are left");
    gateway.shutdown().await;
}

/// Connections opened within the quiet period are not asked about.
async fn recent_connections_are_not_checked(store: SharedStore) {
    let (gateway, _clients) = gateway_with(store.clone(), 1).await;
    gone(&store, 2).await;
    // Gone too, but opened a moment ago: left for a later run.
    store
        .save(&Connection::new("recent=", Utc::now()))
        .await
        .unwrap();
    let report = sweep_of(&store, &gateway)
        .quiet_for(Duration::from_secs(600))
        .run_once()
        .await;
    assert_eq!(report.listed, 4, "{report:?}");
    assert_eq!(report.recent, 2, "the live one and `recent=`: {report:?}");
    assert_eq!(report.deleted, 2, "{report:?}");
    assert!(store.get("recent=").await.unwrap().is_some());
    gateway.shutdown().await;
}

#[tokio::test]
async fn memory_store_gone_connections_and_their_rooms_are_deleted() {
    deletes_the_gone_and_keeps_the_live(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn memory_store_a_bounded_run_is_continued_by_the_next() {
    a_bounded_run_stops_and_the_next_goes_on(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn memory_store_recent_connections_wait_for_the_quiet_period() {
    recent_connections_are_not_checked(Arc::new(MemoryStore::new())).await;
}

#[tokio::test]
async fn dynamodb_store_gone_connections_and_their_rooms_are_deleted() {
    let Some(store) = support::dynamodb::store("sweep-gone").await else {
        return;
    };
    deletes_the_gone_and_keeps_the_live(Arc::new(store)).await;
}

#[tokio::test]
async fn dynamodb_store_a_bounded_run_is_continued_by_the_next() {
    let Some(store) = support::dynamodb::store("sweep-bound").await else {
        return;
    };
    a_bounded_run_stops_and_the_next_goes_on(Arc::new(store)).await;
}

#[tokio::test]
async fn dynamodb_store_recent_connections_wait_for_the_quiet_period() {
    let Some(store) = support::dynamodb::store("sweep-recent").await else {
        return;
    };
    recent_connections_are_not_checked(Arc::new(store)).await;
}

/// Whether the environment names a Management API endpoint (tests do not set one).
fn management_endpoint_in_env() -> bool {
    [
        "FABRIC_MANAGEMENT_ENDPOINT",
        "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI",
        "AWS_ENDPOINT_URL",
    ]
    .iter()
    .any(|name| std::env::var_os(name).is_some())
}

#[tokio::test]
async fn without_a_management_endpoint_the_run_fails_with_one_clear_line() {
    if management_endpoint_in_env() {
        return;
    }
    let report = fabric_sweep(MemoryStore::new()).run_once().await;
    assert_eq!(
        report.failure.as_deref(),
        Some("the sweep needs the Management API endpoint: set FABRIC_MANAGEMENT_ENDPOINT")
    );
    assert_eq!(report.checked, 0);
}

#[tokio::test]
async fn pages_list_every_connection_once() {
    let store = MemoryStore::new();
    for index in 0..7 {
        store
            .save(&Connection::new(format!("c{index}"), Utc::now()))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store.list_page(cursor.as_deref(), 3).await.unwrap();
        assert!(page.connections.len() <= 3);
        seen.extend(
            page.connections
                .iter()
                .map(|c| c.connection_id().to_owned()),
        );
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["c0", "c1", "c2", "c3", "c4", "c5", "c6"]);
}

/// Runs an app binary off Lambda to its end: its exit code, and the report it
/// printed (its one JSON line).
async fn one_run(binary: &str, env: &[(&str, &str)]) -> (Option<i32>, Value, Vec<String>) {
    let (child, lines) = spawn_binary(binary, free_port(), &[], env);
    let status = exit_of(child).await;
    std::thread::sleep(Duration::from_millis(100));
    let output: Vec<String> = lines.try_iter().collect();
    let report = output
        .iter()
        .find_map(|line| {
            serde_json::from_str::<Value>(line)
                .ok()
                .filter(|v| v.get("listed").is_some())
        })
        .unwrap_or_else(|| panic!("a report line: {output:?}"));
    (status.code(), report, output)
}

#[tokio::test]
async fn the_chat_apps_sweep_function_runs_once_off_lambda_and_prints_its_report() {
    let management = RecordingServer::ok().await;
    // No FABRIC_CONNECTIONS_TABLE: the app's store is an empty one in memory.
    let (code, report, output) = one_run(
        env!("CARGO_BIN_EXE_chat-sweep"),
        &[("FABRIC_MANAGEMENT_ENDPOINT", &management.url)],
    )
    .await;
    assert_eq!(code, Some(0), "{output:?}");
    assert_eq!(report["pages"], 1, "{report}");
    assert_eq!(report["listed"], 0, "{report}");
    assert!(report.get("failure").is_none(), "{report}");
    // One run, not the whole app: no gateway started.
    assert!(
        !output
            .iter()
            .any(|line| line.contains("local gateway ready")),
        "{output:?}"
    );
}

#[tokio::test]
async fn without_a_management_endpoint_the_apps_sweep_exits_1_with_its_report() {
    if management_endpoint_in_env() {
        return;
    }
    let (code, report, output) = one_run(env!("CARGO_BIN_EXE_chat-sweep"), &[]).await;
    assert_eq!(code, Some(1), "{output:?}");
    assert_eq!(
        report["failure"],
        "the sweep needs the Management API endpoint: set FABRIC_MANAGEMENT_ENDPOINT"
    );
}

#[tokio::test]
async fn chat_app_with_its_sweep_selected_deletes_the_gone_connections_of_its_tables() {
    let Some(endpoint) = support::dynamodb::server("app_sweep").await else {
        return;
    };
    let table = support::dynamodb::unique_table("app-sweep");
    let rooms = format!("{table}-rooms");
    let store = fabric::store::DynamoDbStore::new(
        fabric::store::DynamoDbStore::sdk_client(Some(&endpoint)),
        &table,
        &rooms,
    );
    store.create_tables().await.unwrap();
    let store: SharedStore = Arc::new(store);
    let gone_ids = gone(&store, 2).await;
    store
        .save(&Connection::new("live=", Utc::now() - TimeDelta::hours(1)))
        .await
        .unwrap();
    // API Gateway's answers: the live connection is there, the others are gone.
    let management = RecordingServer::start(|request, _| {
        if request.last_segment() == "live=" {
            Reply::json(
                200,
                r#"{"connectedAt":"2025-01-01T00:00:00Z","lastActiveAt":"2025-01-01T00:00:00Z","identity":{"sourceIp":"127.0.0.1","userAgent":"test"}}"#,
            )
        } else {
            Reply::aws_error(410, "GoneException")
        }
    })
    .await;

    let (code, report, output) = one_run(
        env!("CARGO_BIN_EXE_chat-app"),
        &[
            ("FABRIC_FUNCTION", "chat-sweep"),
            ("FABRIC_CONNECTIONS_TABLE", &table),
            ("FABRIC_ROOMS_TABLE", &rooms),
            ("AWS_ENDPOINT_URL_DYNAMODB", &endpoint),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("FABRIC_MANAGEMENT_ENDPOINT", &management.url),
        ],
    )
    .await;
    assert_eq!(code, Some(0), "{output:?}");
    assert_eq!(report["checked"], 3, "{report}");
    assert_eq!(report["live"], 1, "{report}");
    assert_eq!(report["deleted"], 2, "{report}");
    assert_eq!(report["membershipsDeleted"], 4, "{report}");
    assert_eq!(report["errors"], 0, "{report}");
    let asked: Vec<String> = management
        .requests()
        .iter()
        .map(|request| format!("{} {}", request.method, request.last_segment()))
        .collect();
    assert_eq!(asked.len(), 3, "{asked:?}");
    assert!(
        asked.iter().all(|call| call.starts_with("GET ")),
        "{asked:?}"
    );
    assert_eq!(
        ids(&store).await,
        ["live="],
        "the tables keep the live one only"
    );
    for id in gone_ids {
        assert!(store.rooms(&id).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn on_lambda_the_chat_apps_sweep_answers_each_scheduled_event_with_its_report() {
    let runtime = LambdaRuntime::start().await;
    let management = RecordingServer::ok().await;
    let _sweep = runtime.spawn_function(
        env!("CARGO_BIN_EXE_chat-sweep"),
        &[("FABRIC_MANAGEMENT_ENDPOINT", &management.url)],
    );
    // What EventBridge sends on a schedule; the sweep does not read it.
    let event = json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2025-01-01T00:15:00Z",
        "region": "eu-west-1",
        "resources": ["arn:aws:events:eu-west-1:123456789012:rule/ChatSweepSchedule"],
        "detail": {}
    });
    for _ in 0..2 {
        let id = runtime.invoke(&event.to_string());
        let Outcome::Response(report) = runtime.outcome(&id).await else {
            panic!("chat-sweep failed");
        };
        assert_eq!(report["listed"], 0, "{report}");
        assert!(report.get("failure").is_none(), "{report}");
    }
}
