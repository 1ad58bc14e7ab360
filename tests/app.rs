//! Apps of several functions: the chat app served whole by one local process, each
//! route reaching its own function, one store shared; each function's binary on
//! Lambda serving only its own routes; and bad apps refused with one line.

mod support;

use std::sync::Arc;
use std::time::Duration;

use fabric::app::App;
use fabric::local::Gateway;
use fabric::prelude::*;
use fabric::store::ConnectionStore;
use fabric::store::{MemoryStore, SharedStore};
use fabric::websocket::{Sweep, WebSocketAdapter};
use fabric_examples::chat_app;
use support::http_server::RecordingServer;
use support::lambda_runtime::{LambdaRuntime, Outcome};
use support::process::{exit_of, free_port, interrupt, spawn_binary};
use support::ws_client::WsClient;

/// Waits up to 30 s for the first line, and gives back the rest.
async fn ready_line(
    lines: std::sync::mpsc::Receiver<String>,
) -> (String, std::sync::mpsc::Receiver<String>) {
    tokio::task::spawn_blocking(move || {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("a ready line");
        (line, lines)
    })
    .await
    .unwrap()
}

/// The HTTP status a refused handshake got.
async fn refusal(url: &str) -> u16 {
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("the handshake was accepted"),
    }
}

#[tokio::test]
async fn the_chat_app_serves_each_route_from_its_own_function() {
    let port = free_port();
    let (child, lines) = spawn_binary(env!("CARGO_BIN_EXE_chat-app"), port, &[], &[]);
    let (ready, lines) = ready_line(lines).await;
    assert!(ready.starts_with("Fabric local gateway ready: "), "{ready}");
    for (key, function) in [
        ("$connect", "chat-connect"),
        ("$disconnect", "chat-disconnect"),
        ("$default", "chat-default"),
        ("sendMessage", "chat-send"),
    ] {
        assert!(
            ready.contains(&format!("{key} → {function}")),
            "the ready line names {function}: {ready}"
        );
    }

    let base = format!("ws://127.0.0.1:{port}/");
    // chat-authorizer refuses a connection without a valid JWT, as API Gateway would.
    assert_eq!(refusal(&base).await, 401);
    assert_eq!(refusal(&format!("{base}?token=nope")).await, 401);
    let forged = chat_app::mint_token("ada").unwrap().replace('.', ".x");
    assert_eq!(refusal(&format!("{base}?token={forged}")).await, 401);

    let ada_token = chat_app::mint_token("ada").unwrap();
    let bob_token = chat_app::mint_token("bob").unwrap();
    let mut ada = WsClient::connect(&format!("{base}?token={ada_token}")).await;
    let mut bob = WsClient::connect(&format!("{base}?token={bob_token}")).await;
    for client in [&mut ada, &mut bob] {
        client
            .send_json(json!({"action": "join", "room": "general"}))
            .await;
        assert_eq!(client.next_json().await["joined"], "general");
    }
    // A join made through chat-default is seen by chat-send's broadcast.
    ada.send_json(json!({"action": "sendMessage", "room": "general", "content": "hi"}))
        .await;
    let to_ada = ada.next_json().await;
    let to_bob = bob.next_json().await;
    assert_eq!(to_ada, to_bob);
    assert_eq!(to_bob["content"], "hi");
    assert_eq!(to_bob["room"], "general");
    // `from` is the token's user, not a connection id.
    assert_eq!(to_bob["from"], "ada");

    // Validation happens in chat-send, with the usual error frame.
    ada.send_json(json!({"action": "sendMessage", "room": "general"}))
        .await;
    let error = ada.next_json().await;
    assert_eq!(error["errors"][0]["status"], 400);
    assert_eq!(error["errors"][0]["source"]["pointer"], "/content");
    // An action no route claims reaches chat-default, which knows join and leave.
    ada.send_json(json!({"action": "dance", "room": "general"}))
        .await;
    assert_eq!(ada.next_json().await["errors"][0]["status"], 400);

    bob.vanish();
    tokio::time::sleep(Duration::from_millis(300)).await;
    interrupt(&child);
    assert!(exit_of(child).await.success());
    std::thread::sleep(Duration::from_millis(200));
    let logs = lines.try_iter().collect::<Vec<_>>().join("\n");
    for line in [
        "chat-connect $connect",
        "chat-default $default",
        "chat-send sendMessage",
        "chat-disconnect $disconnect",
        "chat-disconnect: connection closed",
        // The sweep is no route, and the gateway does not run it.
        "Not run here: chat-sweep, the sweep of API `Chat` (rate(15 minutes) on Lambda)",
    ] {
        assert!(logs.contains(line), "a log line with `{line}`:\n{logs}");
    }
}

/// The chat app on a gateway in this process, its store kept in `store`.
async fn chat_app_on(store: SharedStore) -> fabric::local::RunningGateway {
    let app = chat_app::app().store(move || Ok(store.clone()));
    Gateway::from_app(&app, "Chat")
        .unwrap()
        .bind("127.0.0.1:0")
        .await
        .unwrap()
}

async fn eventually(what: &str, check: impl Fn() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for: {what}");
}

#[tokio::test]
async fn the_functions_share_one_store_and_chat_disconnect_empties_it() {
    let memory = Arc::new(MemoryStore::new());
    let gateway = chat_app_on(memory.clone()).await;
    let token = chat_app::mint_token("ada").unwrap();
    let url = format!("{}/?token={token}", gateway.ws_url());
    let mut ada = WsClient::connect(&url).await;
    // chat-connect saved the connection in the shared store.
    eventually("the connection is tracked", || memory.len() == 1).await;
    ada.send_json(json!({"action": "join", "room": "general"}))
        .await;
    assert_eq!(ada.next_json().await["joined"], "general");
    let members = memory.members("general").await.unwrap();
    assert_eq!(
        members.len(),
        1,
        "chat-default joined it in the shared store"
    );

    ada.send_json(json!({"action": "sendMessage", "room": "general", "content": "hi"}))
        .await;
    assert_eq!(ada.next_json().await["from"], "ada");

    ada.vanish();
    eventually("chat-disconnect forgot the connection", || {
        memory.is_empty()
    })
    .await;
    assert!(memory.members("general").await.unwrap().is_empty());
    gateway.shutdown().await;
}

#[tokio::test]
async fn a_message_no_function_serves_gets_api_gateways_forbidden() {
    let app = App::new("Partial")
        .websocket_api("Chat", |api| api.route("sendMessage", "send"))
        .function("send", fabric_websocket(chat_app::send_routes()));
    let gateway = Gateway::from_app(&app, "Chat")
        .unwrap()
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    // No `$connect` route: every connection is accepted; no `$default`: a message
    // no route matches is refused by API Gateway itself.
    let mut client = WsClient::connect(&gateway.ws_url()).await;
    client.send_json(json!({"action": "dance"})).await;
    let refusal = client.next_json().await;
    assert_eq!(refusal["message"], "Forbidden");
    assert!(refusal["connectionId"].is_string() && refusal["requestId"].is_string());
    gateway.shutdown().await;
}

#[tokio::test]
async fn on_lambda_chat_authorizer_allows_a_minted_token_and_refuses_others() {
    let runtime = LambdaRuntime::start().await;
    let _authorizer = runtime.spawn_function(env!("CARGO_BIN_EXE_chat-authorizer"), &[]);
    let mut event: Value = serde_json::from_str(&support::fixture(
        "apigw/example-apigw-v2-custom-authorizer-websocket-request.json",
    ))
    .unwrap();
    event["queryStringParameters"]["token"] = json!(chat_app::mint_token("ada").unwrap());
    let id = runtime.invoke(&event.to_string());
    let Outcome::Response(allowed) = runtime.outcome(&id).await else {
        panic!("chat-authorizer refused a minted token");
    };
    assert_eq!(allowed["principalId"], "ada");
    assert_eq!(allowed["context"], json!({"user": "ada"}));
    assert_eq!(allowed["policyDocument"]["Statement"][0]["Effect"], "Allow");

    // A forged token: API Gateway's 401 is the `Unauthorized` error.
    let forged = chat_app::mint_token("ada").unwrap().replace('.', ".x");
    event["queryStringParameters"]["token"] = json!(forged);
    let id = runtime.invoke(&event.to_string());
    let Outcome::Error(error) = runtime.outcome(&id).await else {
        panic!("chat-authorizer allowed a forged token");
    };
    assert_eq!(error["errorMessage"], "Unauthorized", "{error}");
}

#[tokio::test]
async fn on_lambda_each_function_serves_only_its_own_routes() {
    let runtime = LambdaRuntime::start().await;
    let management = RecordingServer::ok().await;
    let _connect = runtime.spawn_function(
        env!("CARGO_BIN_EXE_chat-connect"),
        &[("FABRIC_MANAGEMENT_ENDPOINT", &management.url)],
    );
    let fixture = support::fixture("apigw/websocket-connect.json");
    let id = runtime.invoke(&fixture);
    let Outcome::Response(response) = runtime.outcome(&id).await else {
        panic!("chat-connect failed");
    };
    // chat-authorizer checked the token before API Gateway invoked chat-connect,
    // which only saves the connection.
    assert_eq!(response["statusCode"], 200, "{response}");
    // A message is not chat-connect's: no service of its answers it.
    let id = runtime.invoke(&support::fixture("apigw/websocket-message.json"));
    let Outcome::Response(response) = runtime.outcome(&id).await else {
        panic!("chat-connect failed");
    };
    assert_eq!(response["statusCode"], 404, "{response}");
    // The error frame was posted to the caller, as every one-way error is.
    let posted = &management.requests()[0];
    assert!(
        posted.body_text().contains("No service answers"),
        "{}",
        posted.body_text()
    );
}

/// What a bad app's binary printed, and its exit status.
async fn bad_app(kind: &str, args: &[&str]) -> (Option<i32>, Vec<String>) {
    let (child, lines) = spawn_binary(
        env!("CARGO_BIN_EXE_bad-app"),
        free_port(),
        args,
        &[("BAD_APP", kind)],
    );
    let status = exit_of(child).await;
    std::thread::sleep(Duration::from_millis(100));
    (status.code(), lines.try_iter().collect())
}

#[tokio::test]
async fn a_bad_app_fails_at_start_and_at_print_template_with_one_line() {
    for (kind, message) in [
        (
            "two-functions",
            "fabric: route `sendMessage` of API `Chat` is served by two functions: `chat-send` and `chat-default`",
        ),
        (
            "no-routes",
            "fabric: function `chat-typing` serves no route: route a key of an API to it (.route(key, \"chat-typing\")) or make it an API's handler (.handler(\"chat-typing\"))",
        ),
        (
            "two-stores",
            "fabric: functions `connect` and `disconnect` of API `Chat` track connections in different stores: give them the app's store (.track_connections() and App::store) or one SharedStore",
        ),
    ] {
        for args in [&[][..], &["--print-template"][..]] {
            let (code, output) = bad_app(kind, args).await;
            assert_eq!(code, Some(1), "{kind} {args:?}: {output:?}");
            assert_eq!(output, vec![message.to_owned()], "{kind} {args:?}");
        }
    }
}

#[test]
fn every_kind_of_mistake_is_named() {
    let tracker = || WebSocketAdapter::new().track_connections();
    let cases: Vec<(App, &str)> = vec![
        (App::new("Empty"), "the app `Empty` has no functions"),
        (
            App::new("Twice")
                .websocket_api("Chat", |api| api.handler("a"))
                .function("a", WebSocketAdapter::new())
                .function("a", WebSocketAdapter::new()),
            "the app `Twice` has two functions named `a`",
        ),
        (
            App::new("Alike")
                .websocket_api("Chat", |api| api.handler("chat-send"))
                .function("chat-send", WebSocketAdapter::new())
                .function("chat_send", WebSocketAdapter::new()),
            "functions `chat-send` and `chat_send` differ only in case and punctuation, so their resources would share a name",
        ),
        (
            App::new("Typo")
                .websocket_api("Chat", |api| api.route("$connect", "conect"))
                .function("connect", WebSocketAdapter::new()),
            "API `Chat` names the function `conect`, which the app does not have (its functions: connect)",
        ),
        (
            App::new("Reserved")
                .websocket_api("Chat", |api| api.route("$ping", "a"))
                .function("a", WebSocketAdapter::new()),
            "route `$ping` of API `Chat`: the reserved routes are `$connect`, `$disconnect` and `$default`",
        ),
        (
            App::new("NoService")
                .websocket_api("Chat", |api| api.route("typing", "a"))
                .function("a", WebSocketAdapter::new()),
            "function `a` cannot serve route `typing` of API `Chat`: its router has no service for it and no fallback",
        ),
        (
            App::new("Untracked")
                .websocket_api("Chat", |api| {
                    api.route("$connect", "connect")
                        .route("$disconnect", "gone")
                        .route("$default", "talk")
                })
                .function("connect", WebSocketAdapter::new())
                .function("gone", tracker())
                .function(
                    "talk",
                    fabric_websocket(chat_app::membership).track_connections(),
                ),
            "`$connect` of API `Chat` is served by `connect`, which does not track connections while `gone` does: add .track_connections() to `connect`",
        ),
        (
            App::new("NoDisconnect")
                .websocket_api("Chat", |api| api.route("$connect", "connect"))
                .function("connect", tracker()),
            "API `Chat` tracks connections (function `connect`), so a function that tracks them must serve `$disconnect`",
        ),
        (
            App::new("Selections")
                .websocket_api("Chat", |api| {
                    api.route_selection("$request.body.type").handler("a")
                })
                .function(
                    "a",
                    WebSocketAdapter::new().route_selection("$request.body.kind"),
                ),
            "function `a` selects routes by `$request.body.kind`, but API `Chat` by `$request.body.type`",
        ),
        (
            App::new("Mixed")
                .websocket_api("Chat", |api| api.handler("web"))
                .function("web", fabric_http(fabric_examples::division::division)),
            "API `Chat` is a WebSocket API, but function `web` does not serve WebSocket events",
        ),
        (
            App::new("TwoApis")
                .websocket_api("A", |api| api.route("$default", "f"))
                .websocket_api("B", |api| api.route("$connect", "f"))
                .function("f", WebSocketAdapter::new()),
            "function `f` serves routes of two APIs; give each API functions of its own",
        ),
        (
            App::new("Paths")
                .http_api("Api", |api| api.handler("a").handler("b"))
                .function("a", fabric_http(fabric_examples::division::division))
                .function("b", fabric_http(fabric_examples::division::division)),
            "GET /division of API `Api` is served by two functions: `a` and `b`",
        ),
        (
            App::new("SweepTypo")
                .websocket_api("Chat", |api| api.handler("chat"))
                .function("chat", tracker())
                .function("sweep", Sweep::app_store().sweeps("Chta")),
            "function `sweep` sweeps the API `Chta`, which the app does not have (its APIs: Chat)",
        ),
        (
            App::new("SweepHttp")
                .websocket_api("Chat", |api| api.handler("chat"))
                .http_api("Api", |api| api.handler("web"))
                .function("chat", tracker())
                .function("web", fabric_http(fabric_examples::division::division))
                .function("sweep", Sweep::app_store().sweeps("Api")),
            "function `sweep` sweeps the API `Api`, an HTTP API: only a WebSocket API has connections to sweep",
        ),
        (
            App::new("SweepNothing")
                .websocket_api("Chat", |api| api.handler("chat"))
                .function("chat", tracker())
                .function("sweep", Sweep::app_store()),
            "function `sweep` is a sweep of no API: name the WebSocket API whose connections it checks with .sweeps(\"api\")",
        ),
        (
            App::new("Bad name")
                .websocket_api("Chat", |api| api.handler("a"))
                .function("a", WebSocketAdapter::new()),
            "the app name `Bad name` must be letters, digits, `-` and `_`, starting with a letter or digit (at most 64)",
        ),
    ];
    for (app, expected) in cases {
        assert_eq!(app.describe().unwrap_err().to_string(), expected);
    }
}

#[test]
fn a_single_adapter_is_an_app_of_one_function() {
    let app = App::single("chat", fabric_examples::chat::adapter());
    let description = app.describe().unwrap();
    assert_eq!(description.functions.len(), 1);
    let function = &description.functions[0];
    assert_eq!(function.name, "chat");
    assert_eq!(function.api.as_deref(), Some("chat"));
    assert!(function.uses_store && function.posts);
}
