//! The connection store: one conformance suite, run against `MemoryStore` and
//! against `DynamoDbStore` on a real DynamoDB-compatible server (moto, which
//! `.ci/run` starts), plus the adapter's automatic tracking and the chat example.
//!
//! Each behaviour is one `async fn(SharedStore)`; `conformance!` runs every one of
//! them against both stores.

mod support;

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use fabric::local::Gateway;
use fabric::prelude::*;
use fabric::store::{Connection, ConnectionStore, DynamoDbStore, Member, MemoryStore, SharedStore};
use fabric::websocket::{Accept, WebSocketAdapter};
use fabric_examples::chat;
use support::events::{body_of, connect, disconnect, envelope, message};
use support::http_server::{RecordingServer, Reply};
use support::ws_client::WsClient;

macro_rules! conformance {
    ($($behaviour:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $behaviour() {
                    super::$behaviour(std::sync::Arc::new(fabric::store::MemoryStore::new())).await;
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test]
                async fn $behaviour() {
                    if let Some(store) = crate::support::dynamodb::store(stringify!($behaviour)).await {
                        super::$behaviour(std::sync::Arc::new(store)).await;
                    }
                }
            )*
        }
    };
}

conformance!(
    save_get_delete,
    expired_records_are_never_returned,
    rooms,
    invalid_names_are_refused,
    user_listing,
    deletes_are_idempotent,
    gone_members_are_pruned_during_a_room_broadcast,
    concurrent_joins_from_100_tasks,
    the_adapter_tracks_connections,
    rooms_through_the_local_gateway,
);

fn now() -> chrono::DateTime<Utc> {
    Utc::now()
}

fn ids(members: &[Member]) -> Vec<&str> {
    members.iter().map(|m| m.connection_id.as_str()).collect()
}

async fn save_get_delete(store: SharedStore) {
    let metadata = json!({
        "plan": "pro", "seats": 12, "ratio": 0.25, "big": -9007199254740993_i64, "beta": true,
        "nothing": null, "tags": ["a", 1, false], "nested": {"name": "Ada ✓", "empty": ""},
    });
    let connection = Connection::new("Bq7ZkfvLIAMCLbQ=", now())
        .user("ada")
        .with_metadata_map(metadata.as_object().unwrap().clone());
    store.save(&connection).await.unwrap();
    assert_eq!(
        store.get("Bq7ZkfvLIAMCLbQ=").await.unwrap(),
        Some(connection.clone()),
        "reads back exactly as saved"
    );
    assert_eq!(store.get("someone-else").await.unwrap(), None);
    assert_eq!(store.get("").await.unwrap(), None);

    // Saving again replaces the record: the user index follows.
    let renamed = connection.clone().user("grace");
    store.save(&renamed).await.unwrap();
    assert_eq!(
        store
            .get("Bq7ZkfvLIAMCLbQ=")
            .await
            .unwrap()
            .unwrap()
            .user_id(),
        Some("grace")
    );
    assert!(store.user_connections("ada").await.unwrap().is_empty());
    assert_eq!(store.user_connections("grace").await.unwrap(), [renamed]);

    store.delete("Bq7ZkfvLIAMCLbQ=").await.unwrap();
    assert_eq!(store.get("Bq7ZkfvLIAMCLbQ=").await.unwrap(), None);
    assert!(store.user_connections("grace").await.unwrap().is_empty());

    let invalid = Connection::new("", now());
    assert_eq!(store.save(&invalid).await.unwrap_err().status(), 500);
    let nameless = Connection::new("c1", now()).user("");
    assert_eq!(store.save(&nameless).await.unwrap_err().status(), 500);
}

async fn expired_records_are_never_returned(store: SharedStore) {
    let long_ago = now() - TimeDelta::hours(3);
    store
        .save(&Connection::new("old", long_ago).user("ada"))
        .await
        .unwrap();
    assert_eq!(store.get("old").await.unwrap(), None);
    assert!(store.user_connections("ada").await.unwrap().is_empty());
    let err = store.join("lobby", "old").await.unwrap_err();
    assert_eq!(err.status(), 410, "{err}");

    // A membership expires with its connection, even before TTL clean-up runs.
    let soon = Connection::new("brief", now())
        .user("ada")
        .expires(now() + TimeDelta::seconds(2));
    store.save(&soon).await.unwrap();
    store.join("lobby", "brief").await.unwrap();
    assert_eq!(ids(&store.members("lobby").await.unwrap()), ["brief"]);
    let wait = (soon.expires_at() - now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(1100)).await;
    assert!(store.members("lobby").await.unwrap().is_empty());
    assert!(!store.is_member("lobby", "brief").await.unwrap());
    assert!(store.rooms("brief").await.unwrap().is_empty());
    assert_eq!(store.get("brief").await.unwrap(), None);
    assert!(store.user_connections("ada").await.unwrap().is_empty());
}

async fn rooms(store: SharedStore) {
    for (id, user) in [("c2", Some("bob")), ("c1", Some("ada")), ("c3", None)] {
        let mut connection = Connection::new(id, now());
        if let Some(user) = user {
            connection = connection.user(user);
        }
        store.save(&connection).await.unwrap();
    }
    for id in ["c2", "c1", "c3"] {
        store.join("general", id).await.unwrap();
    }
    store.join("general", "c1").await.unwrap();
    store.join("random", "c1").await.unwrap();
    store.join("café ☕", "c1").await.unwrap();

    assert_eq!(
        store.members("general").await.unwrap(),
        [
            Member {
                connection_id: "c1".into(),
                user_id: Some("ada".into())
            },
            Member {
                connection_id: "c2".into(),
                user_id: Some("bob".into())
            },
            Member {
                connection_id: "c3".into(),
                user_id: None
            },
        ],
        "sorted by connection id, joining twice is one membership"
    );
    assert_eq!(
        store.rooms("c1").await.unwrap(),
        ["café ☕", "general", "random"]
    );
    assert!(store.is_member("random", "c1").await.unwrap());
    assert!(!store.is_member("random", "c2").await.unwrap());
    assert!(store.members("empty").await.unwrap().is_empty());

    store.leave("general", "c2").await.unwrap();
    store.leave("general", "c2").await.unwrap();
    store.leave("random", "c3").await.unwrap();
    assert_eq!(ids(&store.members("general").await.unwrap()), ["c1", "c3"]);

    // Leaving every room keeps the record; deleting takes it out of every room.
    store.leave_all("c1").await.unwrap();
    assert!(store.rooms("c1").await.unwrap().is_empty());
    assert!(store.members("random").await.unwrap().is_empty());
    assert!(store.get("c1").await.unwrap().is_some());
    store.join("random", "c1").await.unwrap();
    store.delete("c3").await.unwrap();
    assert!(store.members("general").await.unwrap().is_empty());
    assert_eq!(ids(&store.members("random").await.unwrap()), ["c1"]);

    let err = store.join("general", "never-connected").await.unwrap_err();
    assert_eq!(err.status(), 410);
    assert_eq!(
        err.detail(),
        r#"The connection "never-connected" is not connected"#
    );
}

async fn invalid_names_are_refused(store: SharedStore) {
    store.save(&Connection::new("c1", now())).await.unwrap();
    let long = "r".repeat(257);
    for room in ["", long.as_str(), "tab\there", "line\nbreak"] {
        let join = store.join(room, "c1").await.unwrap_err();
        assert_eq!(join.status(), 400, "{room:?}");
        assert!(
            join.detail().starts_with("Invalid room name"),
            "{}",
            join.detail()
        );
        assert_eq!(store.members(room).await.unwrap_err().status(), 400);
        assert_eq!(store.leave(room, "c1").await.unwrap_err().status(), 400);
        assert_eq!(store.is_member(room, "c1").await.unwrap_err().status(), 400);
    }
    assert!(store.rooms("c1").await.unwrap().is_empty());
    store.join(&"r".repeat(256), "c1").await.unwrap();
}

async fn user_listing(store: SharedStore) {
    let start = now() - TimeDelta::minutes(10);
    let at = |minutes: i64| start + TimeDelta::minutes(minutes);
    for (id, user, minute) in [
        ("tab-2", Some("ada"), 5),
        ("phone", Some("ada"), 1),
        ("laptop", Some("bob"), 2),
        ("tab-1", Some("ada"), 3),
        ("anonymous", None, 4),
    ] {
        let mut connection = Connection::new(id, at(minute));
        if let Some(user) = user {
            connection = connection.user(user);
        }
        store.save(&connection).await.unwrap();
    }
    let ada: Vec<String> = store
        .user_connections("ada")
        .await
        .unwrap()
        .iter()
        .map(|c| c.connection_id().to_owned())
        .collect();
    assert_eq!(ada, ["phone", "tab-1", "tab-2"], "oldest first");
    let bob = store.user_connections("bob").await.unwrap();
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0].connected_at(), at(2).trunc_subsecs_ms());
    assert!(store.user_connections("nobody").await.unwrap().is_empty());
    assert!(store.user_connections("").await.unwrap().is_empty());

    store.delete("tab-1").await.unwrap();
    assert_eq!(store.user_connections("ada").await.unwrap().len(), 2);
}

/// Millisecond precision, as the stores keep `connected_at`.
trait TruncMs {
    fn trunc_subsecs_ms(self) -> Self;
}

impl TruncMs for chrono::DateTime<Utc> {
    fn trunc_subsecs_ms(self) -> Self {
        chrono::SubsecRound::trunc_subsecs(self, 3)
    }
}

async fn deletes_are_idempotent(store: SharedStore) {
    store.delete("never-saved").await.unwrap();
    store.leave_all("never-saved").await.unwrap();
    store.delete("").await.unwrap();

    // In more rooms than one DynamoDB batch write takes.
    store.save(&Connection::new("busy", now())).await.unwrap();
    let rooms: Vec<String> = (0..60).map(|i| format!("room-{i:02}")).collect();
    for room in &rooms {
        store.join(room, "busy").await.unwrap();
    }
    assert_eq!(store.rooms("busy").await.unwrap(), rooms);
    store.delete("busy").await.unwrap();
    store.delete("busy").await.unwrap();
    store.leave_all("busy").await.unwrap();
    assert!(store.rooms("busy").await.unwrap().is_empty());
    for room in &rooms {
        assert!(store.members(room).await.unwrap().is_empty(), "{room}");
    }
}

#[derive(Debug, Deserialize, Input)]
struct Announce {
    room: Option<String>,
    user: Option<String>,
}

/// Broadcasts to a room or to a user's connections; answers the report.
#[fabric_service]
async fn announce(input: Announce, ctx: Context) -> Result<Value, Error> {
    let report = match (input.room, input.user) {
        (Some(room), _) => ctx.broadcast_room(&room, json!({"news": room})).await?,
        (None, Some(user)) => ctx.send_to_user(&user, json!({"for": user})).await?,
        (None, None) => return Err(Error::bad_request("room or user")),
    };
    Ok(json!({"delivered": report.delivered(), "gone": report.gone()}))
}

async fn gone_members_are_pruned_during_a_room_broadcast(store: SharedStore) {
    // A real Management API stand-in: ids starting with "gone" have closed.
    let server = RecordingServer::start(|request, _| {
        if request.last_segment().starts_with("gone") {
            Reply::aws_error(410, "GoneException")
        } else {
            Reply::status(200)
        }
    })
    .await;
    let adapter = fabric_websocket(announce)
        .management_endpoint(&server.url)
        .shared_store(store.clone())
        .broadcast_concurrency(8);
    let members = ["live-1", "gone-1", "live-2", "gone-2", "live-3"];
    for id in members {
        store
            .save(&Connection::new(id, now()).user("ada"))
            .await
            .unwrap();
        store.join("lobby", id).await.unwrap();
        store.join("other", id).await.unwrap();
    }

    let first = adapter
        .handle(message("live-1", "$default", r#"{"room": "lobby"}"#))
        .await;
    assert_eq!(
        body_of(&first)["data"],
        json!({"delivered": ["live-1", "live-2", "live-3"], "gone": ["gone-1", "gone-2"]})
    );
    assert_eq!(
        ids(&store.members("lobby").await.unwrap()),
        ["live-1", "live-2", "live-3"]
    );
    assert_eq!(store.get("gone-1").await.unwrap(), None);
    assert!(
        store.rooms("gone-2").await.unwrap().is_empty(),
        "out of every room"
    );
    assert_eq!(store.members("other").await.unwrap().len(), 3);

    let second = adapter
        .handle(message("live-1", "$default", r#"{"room": "lobby"}"#))
        .await;
    assert_eq!(body_of(&second)["data"]["gone"], json!([]));
    assert_eq!(server.posts_to("gone-1").len(), 1, "never posted to again");
    assert_eq!(server.posts_to("live-2").len(), 2);

    // Sending to a user prunes the same way.
    store
        .save(&Connection::new("gone-3", now()).user("ada"))
        .await
        .unwrap();
    let to_user = adapter
        .handle(message("live-1", "$default", r#"{"user": "ada"}"#))
        .await;
    assert_eq!(body_of(&to_user)["data"]["gone"], json!(["gone-3"]));
    assert_eq!(store.user_connections("ada").await.unwrap().len(), 3);
}

async fn concurrent_joins_from_100_tasks(store: SharedStore) {
    let connections: Vec<String> = (0..100).map(|i| format!("c{i:03}")).collect();
    for id in &connections {
        store.save(&Connection::new(id, now())).await.unwrap();
    }
    store.save(&Connection::new("hub", now())).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, id) in connections.iter().cloned().enumerate() {
        let store = store.clone();
        tasks.spawn(async move {
            store.join("crowd", &id).await?;
            store.join(&format!("topic-{i:03}"), "hub").await
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.unwrap().unwrap();
    }
    assert_eq!(
        ids(&store.members("crowd").await.unwrap()),
        connections.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(store.rooms("hub").await.unwrap().len(), 100);
    store.delete("hub").await.unwrap();
    assert!(store.rooms("hub").await.unwrap().is_empty());
    assert!(store.members("topic-042").await.unwrap().is_empty());
}

#[derive(Debug, Deserialize, Input)]
struct RoomInput {
    room: String,
}

#[fabric_service]
async fn enter(input: RoomInput, ctx: Context) -> Result<Value, Error> {
    ctx.join(&input.room).await?;
    Ok(json!({"rooms": ctx.rooms().await?}))
}

async fn the_adapter_tracks_connections(store: SharedStore) {
    let server = RecordingServer::ok().await;
    let adapter = fabric_websocket(enter)
        .management_endpoint(&server.url)
        .shared_store(store.clone())
        .connection_ttl(Duration::from_secs(600))
        .on_connect(|ctx: Context| async move {
            let ws = ctx.websocket().unwrap();
            match ws.query_param("user") {
                Some("mallory") => Err(Error::forbidden("not you")),
                Some(user) => Ok(Accept::new().user(user).metadata("plan", "pro")),
                None => Ok(Accept::new()),
            }
        });
    assert_eq!(
        adapter.route_keys(),
        ["$connect", "$disconnect", "$default"]
    );

    let before = now().trunc_subsecs_ms();
    let accepted = adapter
        .handle(connect("conn-a", json!({"user": "ada"})))
        .await;
    assert_eq!(accepted.status_code, 200);
    let saved = store
        .get("conn-a")
        .await
        .unwrap()
        .expect("saved on $connect");
    assert_eq!(saved.user_id(), Some("ada"));
    assert_eq!(saved.metadata_map()["plan"], "pro");
    assert!(saved.connected_at() >= before - TimeDelta::seconds(1));
    assert_eq!(
        (saved.expires_at() - saved.connected_at()).num_seconds(),
        600,
        "connection_ttl"
    );

    let refused = adapter
        .handle(connect("conn-m", json!({"user": "mallory"})))
        .await;
    assert_eq!(refused.status_code, 403);
    assert_eq!(
        store.get("conn-m").await.unwrap(),
        None,
        "refused, not saved"
    );

    assert_eq!(
        adapter
            .handle(connect("conn-b", Value::Null))
            .await
            .status_code,
        200
    );
    assert_eq!(store.get("conn-b").await.unwrap().unwrap().user_id(), None);

    let joined = adapter
        .handle(message("conn-a", "$default", r#"{"room": "lobby"}"#))
        .await;
    assert_eq!(body_of(&joined)["data"], json!({"rooms": ["lobby"]}));
    let bad = adapter
        .handle(message("conn-a", "$default", r#"{"room": "tab\there"}"#))
        .await;
    assert_eq!(bad.status_code, 400);
    assert!(
        envelope(&server.posts_to("conn-a")[0]).errors[0]
            .detail
            .starts_with("Invalid room name")
    );

    // A message from a connection the store does not know (opened before the
    // store was added, or already closed) cannot join: 410.
    let unknown = adapter
        .handle(message("conn-z", "$default", r#"{"room": "lobby"}"#))
        .await;
    assert_eq!(unknown.status_code, 410);

    assert_eq!(adapter.handle(disconnect("conn-a")).await.status_code, 200);
    assert_eq!(store.get("conn-a").await.unwrap(), None);
    assert!(store.members("lobby").await.unwrap().is_empty());
    assert_eq!(
        adapter.handle(disconnect("conn-a")).await.status_code,
        200,
        "a second $disconnect is harmless"
    );
}

/// Polls `check` until it holds, for what the gateway does after a socket closes.
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, check: impl Fn() -> F) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The whole path: real clients, the local gateway, its `$connect` and
/// `$disconnect` events, and broadcasts posted back to it through the AWS SDK.
async fn rooms_through_the_local_gateway(store: SharedStore) {
    let adapter = fabric_websocket(WebSocketRouter::new().service(enter).service(announce))
        .shared_store(store.clone())
        .reply(true);
    let gateway = Gateway::new(adapter).bind("127.0.0.1:0").await.unwrap();
    let url = format!("{}/local", gateway.ws_url());
    let mut ann = WsClient::connect(&url).await;
    let mut ben = WsClient::connect(&url).await;
    for client in [&mut ann, &mut ben] {
        client
            .send_json(json!({"action": "enter", "room": "lobby"}))
            .await;
        assert_eq!(
            client.next_json().await,
            json!({"data": {"rooms": ["lobby"]}})
        );
    }
    let members = store.members("lobby").await.unwrap();
    assert_eq!(members.len(), 2);

    // Ben's client crashes: no close frame. The gateway's $disconnect takes him
    // out of the store, so the next broadcast meets no gone connection.
    ben.vanish();
    eventually("ben's $disconnect", || async {
        store.members("lobby").await.unwrap().len() == 1
    })
    .await;
    let ann_id = store.members("lobby").await.unwrap()[0]
        .connection_id
        .clone();
    ann.send_json(json!({"action": "announce", "room": "lobby"}))
        .await;
    assert_eq!(ann.next_json().await, json!({"news": "lobby"}));
    assert_eq!(
        ann.next_json().await,
        json!({"data": {"delivered": [ann_id], "gone": []}})
    );

    // API Gateway delivers $disconnect on a best-effort basis: a connection whose
    // $disconnect never came stays in the store. This one the gateway never saw;
    // the broadcast's 410 from the gateway prunes it.
    store
        .save(&Connection::new("lost-disconnect", now()))
        .await
        .unwrap();
    store.join("lobby", "lost-disconnect").await.unwrap();
    ann.send_json(json!({"action": "announce", "room": "lobby"}))
        .await;
    assert_eq!(ann.next_json().await, json!({"news": "lobby"}));
    assert_eq!(
        ann.next_json().await,
        json!({"data": {"delivered": [ann_id], "gone": ["lost-disconnect"]}})
    );
    assert_eq!(store.get("lost-disconnect").await.unwrap(), None);
    assert_eq!(
        ids(&store.members("lobby").await.unwrap()),
        [ann_id.as_str()]
    );
    gateway.shutdown().await;
    assert!(
        store.members("lobby").await.unwrap().is_empty(),
        "shutting down closes every connection, and $disconnect forgets it"
    );
}

/// The Management API finds the caller gone while the error frame is posted: the
/// caller is deleted from the store.
#[tokio::test]
async fn a_caller_found_gone_while_replying_is_forgotten() {
    let server = RecordingServer::start(|_, _| Reply::aws_error(410, "GoneException")).await;
    let store: SharedStore = Arc::new(MemoryStore::new());
    let adapter = fabric_websocket(enter)
        .management_endpoint(&server.url)
        .shared_store(store.clone())
        .reply(true);
    assert_eq!(
        adapter.handle(connect("c1", Value::Null)).await.status_code,
        200
    );
    adapter
        .handle(message("c1", "$default", r#"{"room": "lobby"}"#))
        .await;
    assert_eq!(server.posts_to("c1").len(), 1);
    assert_eq!(store.get("c1").await.unwrap(), None);
    assert!(store.members("lobby").await.unwrap().is_empty());
}

#[tokio::test]
async fn an_unreachable_store_rejects_the_handshake_with_503() {
    // Nothing listens on port 1: every DynamoDB call fails to connect.
    let client = DynamoDbStore::sdk_client(Some("http://127.0.0.1:1"));
    let store = DynamoDbStore::new(client, "connections", "connections-rooms");
    let adapter = fabric_websocket(enter).store(store);
    let response = adapter.handle(connect("c1", Value::Null)).await;
    assert_eq!(response.status_code, 503);
    assert_eq!(
        envelope(&body_of(&response).to_string()).errors[0].detail,
        "The service is temporarily unavailable",
        "the detail stays in the logs"
    );
    // $disconnect still answers 200: API Gateway ignores it anyway.
    assert_eq!(adapter.handle(disconnect("c1")).await.status_code, 200);
}

#[tokio::test]
async fn without_a_store_the_room_methods_say_how_to_add_one() {
    let adapter = fabric_websocket(enter).scrub_errors(false);
    assert_eq!(adapter.route_keys(), ["$disconnect", "$default"]);
    let response = adapter
        .handle(message("c1", "$default", r#"{"room": "lobby"}"#))
        .await;
    assert_eq!(response.status_code, 500);
    assert_eq!(
        envelope(&body_of(&response).to_string()).errors[0].detail,
        "no connection store configured: add .store(MemoryStore::new()) to the adapter"
    );
}

#[tokio::test]
async fn a_missing_table_is_a_500_that_names_it() {
    let Some(store) = support::dynamodb::store("missing_table").await else {
        return;
    };
    let missing = DynamoDbStore::new(store.client().clone(), "no-such-table", "no-such-rooms");
    let err = missing.get("c1").await.unwrap_err();
    assert_eq!(err.status(), 500);
    assert!(
        err.detail().contains("\"no-such-table\""),
        "{}",
        err.detail()
    );
    assert!(err.detail().contains("create_tables"), "{}", err.detail());
    // Creating tables twice is fine.
    store.create_tables().await.unwrap();
}

fn chat_adapter(server: &RecordingServer, store: &SharedStore) -> WebSocketAdapter {
    chat::with_store(store.clone()).management_endpoint(&server.url)
}

#[tokio::test]
async fn the_chat_example_keeps_its_rooms_in_the_store() {
    let server = RecordingServer::ok().await;
    let store: SharedStore = Arc::new(MemoryStore::new());
    let chat = chat_adapter(&server, &store);
    for (id, user) in [("ann", "ann"), ("ben", "ben")] {
        let response = chat
            .handle(connect(id, json!({"token": "dev-token", "user": user})))
            .await;
        assert_eq!(response.status_code, 200);
    }
    let say = |id: &str, body: Value| chat.handle(message(id, "$default", &body.to_string()));
    say("ann", json!({"action": "join", "room": "general"})).await;
    say("ben", json!({"action": "join", "room": "general"})).await;
    let joined: Vec<Value> = server
        .posts_to("ann")
        .iter()
        .map(|text| serde_json::from_str(text).unwrap())
        .collect();
    assert_eq!(
        joined,
        [json!({"joined": "general", "connectionId": "ann", "from": "ann"})]
    );
    assert_eq!(
        store.members("general").await.unwrap()[1]
            .user_id
            .as_deref(),
        Some("ben")
    );

    let sent = say(
        "ann",
        json!({"action": "message", "room": "general", "content": "hi"}),
    )
    .await;
    assert_eq!(body_of(&sent)["data"], json!({"delivered": 2}));
    let expected = json!({"room": "general", "from": "ann", "content": "hi"});
    let last =
        |id: &str| -> Value { serde_json::from_str(server.posts_to(id).last().unwrap()).unwrap() };
    assert_eq!(last("ben"), expected);
    assert_eq!(last("ann"), expected);

    say("ben", json!({"action": "leave", "room": "general"})).await;
    assert_eq!(last("ben"), json!({"left": "general"}));
    let outside = say(
        "ben",
        json!({"action": "message", "room": "general", "content": "hello?"}),
    )
    .await;
    assert_eq!(outside.status_code, 403);

    assert_eq!(chat.handle(disconnect("ann")).await.status_code, 200);
    assert!(store.members("general").await.unwrap().is_empty());
    assert_eq!(store.get("ann").await.unwrap(), None);
}
