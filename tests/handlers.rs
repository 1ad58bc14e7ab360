//! Handlers without a typed input: a raw handler that gets the frame's text (real
//! WebSocket clients against the local gateway), and an existing
//! `aws_lambda_events` handler behind a Fabric adapter, fed the real fixtures.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fabric::local::Gateway;
use fabric::prelude::*;
use fabric::testing::RecordingManagementApi;
use fabric::websocket::{
    ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest, Body, RawHandler, WebSocketAdapter,
};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

use support::events::{body_of, connect, message};

#[derive(Debug, Deserialize, Validate, Input)]
struct Join {
    room: String,
}

/// A typed service next to the raw handlers.
#[fabric_service]
async fn join(input: Join, ctx: Context) -> Result<(), Error> {
    ctx.send_message(json!({"joined": input.room})).await
}

/// Answers every frame no route claims with what it heard, exactly as sent.
fn heard() -> RawHandler {
    RawHandler::new("heard", |text: String, ctx: Context| async move {
        match text.as_str() {
            "fail" => Err(Error::forbidden("not that")),
            "panic" => panic!("the raw handler panicked"),
            _ => ctx.send_message(json!({ "heard": text })).await,
        }
    })
}

/// `{"action": "shout", ...}` to its own raw route: the whole text, upper-cased.
fn shout() -> RawHandler {
    RawHandler::new("shout", |text: String, ctx: Context| async move {
        ctx.send_message(text.to_uppercase()).await
    })
}

#[tokio::test]
async fn a_raw_handler_gets_frames_that_are_not_json_on_the_local_gateway() {
    let routes = WebSocketRouter::new()
        .service(join)
        .raw_route("shout", shout())
        .raw_fallback(heard());
    let gateway = Gateway::new(fabric_websocket(routes))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let (mut client, _) = tokio_tungstenite::connect_async(gateway.ws_url())
        .await
        .unwrap();
    let mut say = async |text: &str| -> String {
        client.send(Message::text(text)).await.unwrap();
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), client.next())
                .await
                .expect("an answer in time")
                .expect("the connection is open")
                .unwrap();
            if let Message::Text(text) = frame {
                return text.to_string();
            }
        }
    };

    // Not JSON: the raw fallback gets it rather than a 400.
    assert_eq!(say("ping").await, r#"{"heard":"ping"}"#);
    assert_eq!(
        say("PRIVMSG #general :hi").await,
        r#"{"heard":"PRIVMSG #general :hi"}"#
    );
    // JSON reaches a raw handler as sent, spacing and all.
    assert_eq!(
        say(r#"{ "action" : "dance" }"#).await,
        r#"{"heard":"{ \"action\" : \"dance\" }"}"#
    );
    // A raw route is chosen by the route selection like any route.
    assert_eq!(
        say(r#"{"action":"shout","text":"hey"}"#).await,
        r#""{\"ACTION\":\"SHOUT\",\"TEXT\":\"HEY\"}""#
    );
    // Typed services and the built-in heartbeat are untouched.
    assert_eq!(
        say(r#"{"action":"join","room":"general"}"#).await,
        r#"{"joined":"general"}"#
    );
    assert_eq!(say(r#"{"action":"ping"}"#).await, r#"{"action":"pong"}"#);
    // A raw handler's errors and panics are error frames; the connection stays.
    let refused: Value = serde_json::from_str(&say("fail").await).unwrap();
    assert_eq!(refused["errors"][0]["status"], 403);
    assert_eq!(refused["errors"][0]["detail"], "not that");
    let panicked: Value = serde_json::from_str(&say("panic").await).unwrap();
    assert_eq!(panicked["errors"][0]["status"], 500);
    assert_eq!(say("still here").await, r#"{"heard":"still here"}"#);
    gateway.shutdown().await;
}

#[tokio::test]
async fn without_a_raw_handler_text_that_is_not_json_is_still_a_400_frame() {
    let api = Arc::new(RecordingManagementApi::new());
    let adapter = fabric_websocket(join).management_api(api.clone());
    let response = adapter.handle(message("c1", "$default", "ping")).await;
    assert_eq!(response.status_code, 400);
    assert_eq!(api.posts_to("c1")[0]["errors"][0]["status"], 400);
}

/// An existing handler written against `aws_lambda_events`: it keeps every event
/// it gets and answers with its own status, header and body.
fn old_handler(
    seen: Arc<Mutex<Vec<ApiGatewayWebsocketProxyRequest>>>,
) -> impl Fn(
    ApiGatewayWebsocketProxyRequest,
) -> std::future::Ready<Result<ApiGatewayProxyResponse, String>>
+ Send
+ Sync
+ 'static {
    move |event: ApiGatewayWebsocketProxyRequest| {
        let route = event.request_context.route_key.clone().unwrap_or_default();
        seen.lock().unwrap().push(event.clone());
        let answer = match event.body.as_deref() {
            Some("explode") => panic!("the old handler panicked"),
            Some("fail") => Err("the database is down".to_owned()),
            _ => {
                let mut response = ApiGatewayProxyResponse::default();
                response.status_code = 202;
                response
                    .headers
                    .insert("x-handled-by", "legacy".parse().unwrap());
                response.body = Some(Body::Text(format!("legacy answered {route}")));
                Ok(response)
            }
        };
        std::future::ready(answer)
    }
}

fn adapter_with_old_handler(
    seen: &Arc<Mutex<Vec<ApiGatewayWebsocketProxyRequest>>>,
    api: &Arc<RecordingManagementApi>,
) -> WebSocketAdapter {
    fabric_websocket(WebSocketRouter::new().service(join))
        .management_api(api.clone())
        .legacy(old_handler(seen.clone()))
}

#[tokio::test]
async fn a_legacy_handler_serves_the_real_fixture_events_unchanged() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let api = Arc::new(RecordingManagementApi::new());
    let adapter = adapter_with_old_handler(&seen, &api);

    // The message fixture's `chat` action has no Fabric route: the old handler gets
    // the event exactly as Lambda delivered it, and its response goes back as is.
    let fixture = support::fixture("apigw/websocket-message.json");
    let response = adapter.handle_json(&fixture).await;
    assert_eq!(response.status_code, 202);
    assert_eq!(response.headers["x-handled-by"], "legacy");
    assert_eq!(
        response.body,
        Some(Body::Text("legacy answered $default".into()))
    );
    let delivered: ApiGatewayWebsocketProxyRequest = serde_json::from_str(&fixture).unwrap();
    let got = seen.lock().unwrap().pop().expect("the old handler ran");
    assert_eq!(
        serde_json::to_value(&got).unwrap(),
        serde_json::to_value(&delivered).unwrap()
    );

    // So does `$connect`: this adapter has no hook and tracks no connections.
    let fixture = support::fixture("apigw/websocket-connect.json");
    assert_eq!(adapter.handle_json(&fixture).await.status_code, 202);
    let got = seen.lock().unwrap().pop().expect("the old handler ran");
    assert_eq!(got.request_context.route_key.as_deref(), Some("$connect"));

    // A route already moved to Fabric never reaches the old handler.
    let joined = adapter
        .handle(message(
            "c1",
            "$default",
            r#"{"action":"join","room":"general"}"#,
        ))
        .await;
    assert_eq!(joined.status_code, 200);
    assert_eq!(api.posts_to("c1"), [json!({"joined": "general"})]);
    assert!(seen.lock().unwrap().is_empty());
    // Nor does a heartbeat: Fabric answers it.
    let pong = adapter
        .handle(message("c1", "$default", r#"{"action":"ping"}"#))
        .await;
    assert_eq!(body_of(&pong), json!({"action": "pong"}));
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_legacy_handlers_error_or_panic_is_a_500_and_the_adapter_keeps_serving() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let api = Arc::new(RecordingManagementApi::new());
    let adapter = adapter_with_old_handler(&seen, &api);
    for body in ["fail", "explode"] {
        let response = adapter.handle(message("c1", "$default", body)).await;
        assert_eq!(response.status_code, 500, "{body}");
        let text = format!("{:?}", response.body);
        // The reason is logged, never sent to the client.
        assert!(!text.contains("database"), "{text}");
    }
    assert_eq!(
        adapter
            .handle(message("c1", "$default", "hello"))
            .await
            .status_code,
        202
    );
    // An adapter that answers `$connect` itself keeps it from the old handler.
    let hooked = adapter_with_old_handler(&seen, &api)
        .on_connect(|_ctx| async { Ok(fabric::websocket::Accept::new()) });
    seen.lock().unwrap().clear();
    let accepted = hooked.handle(connect("c2", json!({}))).await;
    assert_eq!(accepted.status_code, 200);
    assert!(seen.lock().unwrap().is_empty());
}
