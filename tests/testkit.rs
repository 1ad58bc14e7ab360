//! The test kit, `fabric::testing`: its events are the JSON AWS sends (checked
//! against the real fixtures), and its in-process gateway serves the examples as
//! API Gateway and the local gateway do.

mod support;

use fabric::prelude::*;
use fabric::testing::{HttpEvent, TestGateway, WebSocketEvent};
use fabric_examples::{chat, chat_app, echo};
use support::fixture;

fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

/// The names of an object's members, sorted.
fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

#[test]
fn websocket_events_are_the_json_api_gateway_sends() {
    let agent = "Mozilla/5.0 (X11; Linux x86_64)";
    let at = |event: WebSocketEvent| {
        event
            .api_id("k3x9q2abcd")
            .stage("production")
            .user_agent(agent)
            .connected_at(1_795_310_400_000)
    };
    let connect = at(WebSocketEvent::connect("Bq7ZkfvLIAMCLbQ="))
        .header("Origin", "https://chat.example.com")
        .header(
            "Sec-WebSocket-Extensions",
            "permessage-deflate; client_max_window_bits",
        )
        .header(
            "X-Amzn-Trace-Id",
            "Root=1-6740a1b2-3c4d5e6f7a8b9c0d1e2f3a4b",
        )
        .query("token", "s3cret-token")
        .request_id("Bq7ZkGZtIAMFr3g=")
        .request_time_epoch(1_795_310_400_012);
    assert_eq!(
        connect.to_json(),
        fixture_json("apigw/websocket-connect.json")
    );

    let body = r#"{"action":"chat","room":"general","content":"hello"}"#;
    let message = at(WebSocketEvent::message("Bq7ZkfvLIAMCLbQ=", body))
        .request_id("Bq7aLHDcoAMFdHw=")
        .message_id("Bq7aLeHfIAMCLbQ=")
        .request_time_epoch(1_795_310_403_207);
    assert_eq!(
        message.to_json(),
        fixture_json("apigw/websocket-message.json")
    );

    let disconnect =
        WebSocketEvent::disconnect("AAAA1234=", 1005, "Client-side close frame status not set")
            .api_id("abcd1234")
            .stage("prod")
            .source_ip("192.0.2.1")
            .connected_at(1_707_503_007_396)
            .request_time_epoch(1_707_503_008_941)
            .request_id("ABCD1234=");
    assert_eq!(
        disconnect.to_json(),
        fixture_json("apigw/example-apigw-websocket-request-disconnect-route.json")
    );

    // The text is what Lambda hands over, and the typed event reads the same.
    let typed = connect.to_request();
    assert_eq!(typed.request_context.route_key.as_deref(), Some("$connect"));
    assert_eq!(
        serde_json::from_str::<Value>(&connect.to_string()).unwrap(),
        connect.to_json()
    );
}

#[tokio::test]
async fn http_events_have_the_shape_of_each_source_and_read_the_same() {
    let rest = HttpEvent::rest_api("POST", "/hello/world")
        .header("Content-Type", "application/json")
        .query("name", "me")
        .text_body("{\r\n\t\"a\": 1\r\n}")
        .authorizer(json!({"principalId": "admin"}))
        .to_json();
    let real = fixture_json("apigw/example-apigw-request.json");
    // The fixture predates `isBase64Encoded`, which REST API events now carry.
    let mut expected = keys(&real);
    expected.push("isBase64Encoded".to_owned());
    expected.sort();
    assert_eq!(keys(&rest), expected);
    for (path, built) in [
        ("requestContext", &rest["requestContext"]),
        ("identity", &rest["requestContext"]["identity"]),
    ] {
        let real = if path == "identity" {
            &real["requestContext"]["identity"]
        } else {
            &real["requestContext"]
        };
        for key in keys(built) {
            assert!(
                real.get(&key).is_some(),
                "{path}.{key} is not in the fixture"
            );
        }
    }

    let v2 = HttpEvent::http_api("GET", "/dump")
        .query("foo", "bar")
        .header("User-Agent", "Custom User Agent String")
        .to_json();
    let real = fixture_json("apigw/example-apigw-v2-request-no-authorizer.json");
    for key in keys(&v2) {
        let real = fixture_json("apigw/example-apigw-sam-http-request.json");
        assert!(
            real.get(&key).is_some(),
            "{key} is not in the HTTP API fixture"
        );
    }
    assert_eq!(
        keys(&v2["requestContext"]["http"]),
        keys(&real["requestContext"]["http"])
    );
    assert_eq!(v2["rawQueryString"], "foo=bar");

    let alb = HttpEvent::alb("GET", "/").query("key", "hello").to_json();
    let real = fixture_json("apigw/example-alb-lambda-target-request-headers-only.json");
    for key in keys(&alb) {
        assert!(
            key == "body" || real.get(&key).is_some(),
            "{key} is not in the ALB fixture"
        );
    }
    assert_eq!(
        alb["requestContext"]["elb"].as_object().unwrap().len(),
        real["requestContext"]["elb"].as_object().unwrap().len()
    );

    let url = HttpEvent::function_url("GET", "/").to_json();
    assert!(
        url["requestContext"]["domainName"]
            .as_str()
            .unwrap()
            .contains(".lambda-url.")
    );
    assert_eq!(url["requestContext"]["stage"], "$default");

    // Every source reads as the same request: query, repeated values, cookies,
    // the stage off the path, base64 bodies.
    let router = fabric_http(fabric_examples::division::division);
    for event in [
        HttpEvent::rest_api("GET", "/division")
            .query("numerator", "14")
            .query("denominator", "7"),
        HttpEvent::http_api("GET", "/division")
            .stage("prod")
            .query("numerator", "14")
            .query("denominator", "7")
            .cookie("a=1"),
        HttpEvent::function_url("POST", "/division")
            .header("content-type", "application/json")
            .binary_body(br#"{"numerator": 14, "denominator": 7}"#),
        HttpEvent::alb("POST", "/division")
            .header("content-type", "application/x-www-form-urlencoded")
            .text_body("numerator=14&denominator=7"),
    ] {
        let response: Value =
            serde_json::from_str(&router.invoke_lambda(&event.to_string()).await.unwrap()).unwrap();
        assert_eq!(response["statusCode"], 200, "{event}");
        assert_eq!(response["body"], r#"{"data":2.0}"#, "{event}");
    }
}

async fn chat_gateway() -> TestGateway {
    TestGateway::new(chat::adapter())
}

#[tokio::test]
async fn the_test_gateway_runs_connect_rooms_broadcasts_and_disconnect() {
    let gateway = chat_gateway().await;
    let refused = gateway.connect().await.unwrap_err();
    assert_eq!(refused.status, 401);
    assert_eq!(
        refused.body.unwrap()["errors"][0]["detail"],
        "Connect with ?token=<token>"
    );
    assert_eq!(gateway.connection_count(), 0);

    let token = |event: WebSocketEvent| event.query("token", "dev-token");
    let ada = gateway.connect_with(token).await.unwrap();
    let bob = gateway.connect_with(token).await.unwrap();
    for client in [&ada, &bob] {
        let answer = client
            .send(json!({"action": "join", "room": "general"}))
            .await;
        assert_eq!(answer.status, 200);
    }
    assert_eq!(
        ada.take_received(),
        [
            json!({"joined": "general", "connectionId": ada.connection_id(), "from": ada.connection_id()})
        ]
    );
    bob.take_received();

    ada.send(json!({"action": "message", "room": "general", "content": "hi"}))
        .await;
    let heard = json!({"room": "general", "from": ada.connection_id(), "content": "hi"});
    assert_eq!(ada.take_received(), std::slice::from_ref(&heard));
    assert_eq!(bob.take_received(), [heard]);

    // Errors are posted back as error frames; the service keeps serving.
    let answer = bob.send_text("not json").await;
    assert_eq!(answer.status, 400);
    assert_eq!(bob.take_received()[0]["errors"][0]["status"], 400);

    // A vanished client is forgotten by the store, and no longer hears the room.
    bob.vanish().await;
    assert_eq!(gateway.connection_count(), 1);
    ada.send(json!({"action": "message", "room": "general", "content": "alone?"}))
        .await;
    assert_eq!(ada.take_received().len(), 1);
    ada.disconnect().await;
    assert_eq!(gateway.connection_count(), 0);
}

#[fabric_service(alias = "kick")]
async fn kick(_input: echo::EchoInput, ctx: Context) -> Result<(), Error> {
    let ws = ctx.websocket().expect("a WebSocket message");
    ws.disconnect(ws.connection_id()).await?;
    // Once deleted, the connection is gone for the Management API too.
    match ctx.send_message("too late").await {
        Err(err) if err.status() == 410 => Ok(()),
        other => panic!("a post to a deleted connection answered {other:?}"),
    }
}

#[tokio::test]
async fn management_deletes_close_the_client_and_two_way_routes_answer_it() {
    let gateway = TestGateway::new(fabric_websocket(kick));
    let client = gateway.connect().await.unwrap();
    client.send(json!({})).await;
    assert!(!client.is_open());
    assert_eq!(
        client.close_status(),
        Some((1000, "Connection Closed Normally".to_owned()))
    );
    assert_eq!(gateway.connection_count(), 0);

    let echoes = TestGateway::new(echo::adapter());
    let client = echoes.connect().await.unwrap();
    let answer = client.send(json!({"action": "echo", "text": "hi"})).await;
    assert_eq!(answer.status, 200);
    // A panicking route is a 500 the client hears, and the next message is served.
    client.send(json!({"action": "boom", "text": "x"})).await;
    client.send(json!({"text": "after"})).await;
    let received = client.received();
    assert_eq!(received[0], json!({"data": {"text": "hi"}}));
    assert_eq!(received[1]["errors"][0]["status"], 500);
    assert_eq!(received[2], json!({"data": {"text": "after"}}));
}

#[tokio::test]
async fn an_apps_api_routes_each_key_to_its_function_with_one_store() {
    let gateway = TestGateway::from_app(&chat_app::app(), "Chat").unwrap();
    assert!(TestGateway::from_app(&chat_app::app(), "Other").is_err());
    // chat-authorizer runs on the handshake, as API Gateway runs it.
    assert_eq!(gateway.connect().await.unwrap_err().status, 401);
    let bad = |event: WebSocketEvent| event.query("token", "dev-token");
    assert_eq!(gateway.connect_with(bad).await.unwrap_err().status, 401);
    let ada_token = chat_app::mint_token("ada").unwrap();
    let bob_token = chat_app::mint_token("bob").unwrap();
    let ada = gateway
        .connect_with(|event| event.query("token", &ada_token))
        .await
        .unwrap();
    let bob = gateway
        .connect_with(|event| event.query("token", &bob_token))
        .await
        .unwrap();
    // chat-default joins; chat-send, another function, sees the join in the store.
    for client in [&ada, &bob] {
        client
            .send(json!({"action": "join", "room": "general"}))
            .await;
    }
    let answer = bob
        .send(json!({"action": "sendMessage", "room": "general", "content": "hey"}))
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(ada.received()[1]["content"], "hey");
    // The authorizer's user is on every later event: chat-send knows who spoke.
    assert_eq!(ada.received()[1]["from"], "bob");
    let err = ada
        .send(json!({"action": "dance", "room": "general"}))
        .await;
    assert_eq!(err.status, 400);
    assert!(
        gateway
            .connection_ids()
            .contains(&ada.connection_id().to_owned())
    );
}

#[test]
fn readme_shows_the_first_service_test_as_it_runs() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let test = include_str!("first_service_test.rs");
    assert!(
        readme.contains(&format!("```rust\n{test}```")),
        "README's first service test differs from tests/first_service_test.rs"
    );
}
