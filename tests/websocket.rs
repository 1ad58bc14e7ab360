//! `fabric_websocket` on API Gateway events: real fixtures, built events, the real
//! AWS SDK against a local Management API, and the real Lambda loop of an example
//! binary against a local Runtime API.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use fabric::WebSocketRouter;
use fabric::prelude::*;
use fabric::store::MemoryStore;
use fabric::websocket::{
    Accept, ApiGatewayWebsocketProxyRequest, Disconnect, ManagementApi, ManagementError,
    SdkManagementApi, WebSocketAdapter,
};
use fabric_examples::{chat, echo};
use support::events::{body_of, connect, envelope, message};
use support::http_server::{RecordingServer, Reply};
use support::lambda_runtime::{LambdaRuntime, Outcome};

fn chat_on(server: &RecordingServer) -> WebSocketAdapter {
    chat::with_store(Arc::new(MemoryStore::new())).management_endpoint(&server.url)
}

#[tokio::test]
async fn every_websocket_fixture_gets_the_answer_api_gateway_expects() {
    let server = RecordingServer::ok().await;
    let adapter = chat_on(&server);

    // CONNECT with a token other than CHAT_TOKEN's default.
    let response = adapter
        .handle_json(&support::fixture("apigw/websocket-connect.json"))
        .await;
    assert_eq!(response.status_code, 401);
    assert_eq!(
        envelope(&body_of(&response).to_string()).errors[0].title,
        "Unauthorized"
    );

    // MESSAGE whose action is not one of the chat's: a 400 listing them, posted back.
    let response = adapter
        .handle_json(&support::fixture("apigw/websocket-message.json"))
        .await;
    assert_eq!(response.status_code, 400);
    let posted = server.posts_to("Bq7ZkfvLIAMCLbQ=");
    assert_eq!(posted.len(), 1);
    assert_eq!(
        envelope(&posted[0]).errors[0].detail,
        r#"Invalid value for field "action": expected one of "join", "leave", "message", got "chat""#
    );

    // The runtime crate's CONNECT fixture (no token) and the authorizer request.
    for name in [
        "apigw/example-apigw-websocket-request.json",
        "apigw/example-apigw-v2-custom-authorizer-websocket-request.json",
    ] {
        let response = adapter.handle_json(&support::fixture(name)).await;
        assert_eq!(response.status_code, 401, "{name}");
    }

    let response = adapter
        .handle_json(&support::fixture(
            "apigw/example-apigw-websocket-request-disconnect-route.json",
        ))
        .await;
    assert_eq!(response.status_code, 200);
    assert_eq!(
        server.requests().len(),
        1,
        "only the error frame was posted"
    );
}

#[tokio::test]
async fn connect_runs_the_hook_and_never_the_service() {
    let server = RecordingServer::ok().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let adapter = fabric_websocket(echo::echo)
        .management_endpoint(&server.url)
        .on_connect(move |ctx: Context| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                let ws = ctx.websocket().unwrap();
                match ws.query_param("token") {
                    Some("good") => Ok(Accept::new().protocol("chat.v2")),
                    _ => Err(Error::unauthorized("bad token")),
                }
            }
        });

    let rejected = adapter
        .handle(connect("c-bad", json!({"token": "nope"})))
        .await;
    assert_eq!(rejected.status_code, 401);
    let accepted = adapter
        .handle(connect("c-good", json!({"token": "good"})))
        .await;
    assert_eq!(accepted.status_code, 200);
    assert_eq!(
        accepted.headers.get("sec-websocket-protocol").unwrap(),
        "chat.v2"
    );
    assert!(accepted.body.is_none());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(
        server.requests().is_empty(),
        "nothing is posted on $connect"
    );

    // The chat example's own check.
    let chat = chat_on(&server);
    assert_eq!(
        chat.handle(connect("c1", json!({"token": "wrong"})))
            .await
            .status_code,
        401
    );
    assert_eq!(
        chat.handle(connect("c1", Value::Null)).await.status_code,
        401
    );
    assert_eq!(
        chat.handle(connect("c1", json!({"token": "dev-token"})))
            .await
            .status_code,
        200
    );
}

#[tokio::test]
async fn the_context_carries_the_event_details() {
    let server = RecordingServer::ok().await;
    let seen = Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let record = seen.clone();
    let adapter = fabric_websocket(echo::echo)
        .management_endpoint(&server.url)
        .on_connect(move |ctx: Context| {
            let record = record.clone();
            async move {
                let ws = ctx.websocket().unwrap();
                record.lock().unwrap().push(json!({
                    "event": ws.event_type().as_str(), "route": ws.route_key(), "connection": ws.connection_id(),
                    "request": ctx.request_id(), "stage": ws.stage(), "domain": ws.domain_name(), "api": ws.api_id(),
                    "ip": ws.source_ip(), "agent": ws.user_agent(), "origin": ws.header("origin"),
                    "token": ws.query_param("token"), "connected_at": ws.connected_at(),
                }));
                Ok(Accept::new())
            }
        });
    let event: ApiGatewayWebsocketProxyRequest =
        serde_json::from_str(&support::fixture("apigw/websocket-connect.json")).unwrap();
    assert_eq!(adapter.handle(event).await.status_code, 200);
    assert_eq!(
        seen.lock().unwrap()[0],
        json!({
            "event": "CONNECT", "route": "$connect", "connection": "Bq7ZkfvLIAMCLbQ=", "request": "Bq7ZkGZtIAMFr3g=",
            "stage": "production", "domain": "k3x9q2abcd.execute-api.us-east-1.amazonaws.com", "api": "k3x9q2abcd",
            "ip": "203.0.113.7", "agent": "Mozilla/5.0 (X11; Linux x86_64)", "origin": "https://chat.example.com",
            "token": "s3cret-token", "connected_at": 1795310400000_i64,
        })
    );
}

#[derive(Debug, Deserialize, Input)]
struct Room {
    room: String,
}

#[fabric_service]
async fn join(input: Room, _ctx: Context) -> Result<Value, Error> {
    Ok(json!({"joined": input.room}))
}

#[fabric_service]
async fn leave(input: Room, _ctx: Context) -> Result<Value, Error> {
    Ok(json!({"left": input.room}))
}

#[tokio::test]
async fn a_router_dispatches_by_route_key_then_action_then_fallback() {
    let server = RecordingServer::ok().await;
    let routed = |router: WebSocketRouter| {
        fabric_websocket(router)
            .management_endpoint(&server.url)
            .reply(true)
    };
    let adapter = routed(
        WebSocketRouter::new()
            .service(join)
            .service(leave)
            .fallback(echo::echo),
    );

    let custom = adapter
        .handle(message("c1", "leave", r#"{"room":"a"}"#))
        .await;
    assert_eq!(body_of(&custom), json!({"data": {"left": "a"}}));
    let by_action = adapter
        .handle(message("c1", "$default", r#"{"action":"join","room":"b"}"#))
        .await;
    assert_eq!(body_of(&by_action), json!({"data": {"joined": "b"}}));
    let fallback = adapter
        .handle(message(
            "c1",
            "$default",
            r#"{"action":"dance","text":"hi"}"#,
        ))
        .await;
    assert_eq!(body_of(&fallback), json!({"data": {"text": "hi"}}));
    assert_eq!(
        server.posts_to("c1").len(),
        3,
        "reply(true) posts every result"
    );
    assert_eq!(
        adapter.route_keys(),
        ["$disconnect", "$default", "join", "leave"]
    );

    let strict = routed(WebSocketRouter::new().service(join));
    let missing = strict
        .handle(message("c2", "$default", r#"{"action":"dance"}"#))
        .await;
    assert_eq!(missing.status_code, 404);
    assert_eq!(
        envelope(&server.posts_to("c2")[0]).errors[0].detail,
        r#"No service answers the route "dance""#
    );
}

#[tokio::test]
async fn bodies_are_decoded_checked_and_refused_clearly() {
    let server = RecordingServer::ok().await;
    let adapter = fabric_websocket(echo::echo)
        .management_endpoint(&server.url)
        .reply(true);

    let mut encoded = message("c1", "$default", "eyJ0ZXh0IjoiYmFzZTY0In0=");
    encoded.is_base64_encoded = true;
    assert_eq!(
        body_of(&adapter.handle(encoded).await),
        json!({"data": {"text": "base64"}})
    );

    let mut broken = message("c1", "$default", "%%%");
    broken.is_base64_encoded = true;
    assert_eq!(adapter.handle(broken).await.status_code, 400);

    for (body, detail_start) in [
        ("hello there", "Input must be an object, got invalid JSON"),
        ("[1,2,3]", "Input must be an object"),
        ("", "Input must be an object, got invalid JSON"),
    ] {
        let response = adapter.handle(message("c2", "$default", body)).await;
        assert_eq!(response.status_code, 400, "{body:?}");
        let posted = server.posts_to("c2");
        let frame = envelope(posted.last().unwrap());
        assert!(
            frame.errors[0].detail.starts_with(detail_start),
            "{body:?}: {}",
            frame.errors[0].detail
        );
    }

    let huge = format!(r#"{{"text":"{}"}}"#, "x".repeat(140_000));
    let response = adapter.handle(message("c3", "$default", &huge)).await;
    assert_eq!(response.status_code, 413);
    assert_eq!(
        envelope(&server.posts_to("c3")[0]).errors[0].title,
        "Payload Too Large"
    );
}

#[tokio::test]
async fn a_missing_request_context_is_a_clear_400_not_a_crash() {
    let adapter = fabric_websocket(echo::echo);
    let response = adapter
        .handle_json(r#"{"body": "{\"text\":\"hi\"}"}"#)
        .await;
    assert_eq!(response.status_code, 400);
    let detail = &envelope(&body_of(&response).to_string()).errors[0].detail;
    assert!(detail.contains("requestContext"), "{detail}");
    for garbage in ["", "null", "[]", "{\"requestContext\": 5}"] {
        assert_eq!(
            adapter.handle_json(garbage).await.status_code,
            400,
            "{garbage:?}"
        );
    }
}

#[derive(Debug, Deserialize, Input)]
struct Size {
    bytes: usize,
}

#[fabric_service]
async fn big_reply(input: Size, ctx: Context) -> Result<(), Error> {
    ctx.send_message("x".repeat(input.bytes)).await
}

#[tokio::test]
async fn posts_over_128_kb_are_refused_before_calling_aws() {
    let server = RecordingServer::ok().await;
    let adapter = fabric_websocket(big_reply).management_endpoint(&server.url);
    let fits = adapter
        .handle(message("c1", "$default", r#"{"bytes": 131000}"#))
        .await;
    assert_eq!(fits.status_code, 200);
    assert_eq!(
        server.posts_to("c1")[0].len(),
        131_002,
        "a JSON string of 131000 characters"
    );
    let too_big = adapter
        .handle(message("c2", "$default", r#"{"bytes": 131071}"#))
        .await;
    assert_eq!(too_big.status_code, 413);
    let posted = server.posts_to("c2");
    assert_eq!(posted.len(), 1, "only the error frame reached the API");
    assert_eq!(envelope(&posted[0]).errors[0].status, 413);
}

#[tokio::test]
async fn errors_are_posted_results_only_with_reply_and_two_way_posts_nothing() {
    let server = RecordingServer::ok().await;
    let quiet = fabric_websocket(echo::echo).management_endpoint(&server.url);
    let ok = quiet
        .handle(message("quiet", "$default", r#"{"text":"hi"}"#))
        .await;
    assert_eq!(body_of(&ok), json!({"data": {"text": "hi"}}));
    assert!(server.posts_to("quiet").is_empty());

    let two_way = fabric_websocket(echo::echo)
        .management_endpoint(&server.url)
        .reply(true)
        .two_way(true);
    let ok = two_way
        .handle(message("two-way", "$default", r#"{"text":"hi"}"#))
        .await;
    assert_eq!(body_of(&ok), json!({"data": {"text": "hi"}}));
    let bad = two_way.handle(message("two-way", "$default", "nope")).await;
    assert_eq!(bad.status_code, 400);
    assert!(
        server.posts_to("two-way").is_empty(),
        "a two-way route returns, it does not post"
    );
}

#[tokio::test]
async fn a_panicking_service_is_a_500_frame_and_the_next_message_is_served() {
    let server = RecordingServer::ok().await;
    let adapter = echo::adapter()
        .management_endpoint(&server.url)
        .two_way(false);
    let response = adapter
        .handle(message(
            "c1",
            "$default",
            r#"{"action":"boom","text":"bug"}"#,
        ))
        .await;
    assert_eq!(response.status_code, 500);
    let frame = envelope(&server.posts_to("c1")[0]);
    assert_eq!(
        frame.errors[0].detail, "An internal error occurred",
        "5xx details are scrubbed"
    );
    let next = adapter
        .handle(message(
            "c1",
            "$default",
            r#"{"action":"echo","text":"still here"}"#,
        ))
        .await;
    assert_eq!(body_of(&next), json!({"data": {"text": "still here"}}));

    let unscrubbed = echo::adapter().scrub_errors(false);
    let response = unscrubbed
        .handle(message(
            "c1",
            "$default",
            r#"{"action":"boom","text":"bug"}"#,
        ))
        .await;
    assert!(body_of(&response).to_string().contains("boom: bug"));
}

#[tokio::test]
async fn the_unavailable_switch_answers_503_but_still_lets_connections_go() {
    let server = RecordingServer::ok().await;
    let gone = Arc::new(AtomicUsize::new(0));
    let counted = gone.clone();
    let adapter = chat_on(&server)
        .unavailable(true)
        .on_disconnect(move |_ctx, _info| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        });
    assert_eq!(
        adapter
            .handle(connect("c1", json!({"token": "dev-token"})))
            .await
            .status_code,
        503
    );
    let response = adapter
        .handle(message("c1", "$default", r#"{"action":"join","room":"a"}"#))
        .await;
    assert_eq!(response.status_code, 503);
    assert_eq!(envelope(&server.posts_to("c1")[0]).errors[0].status, 503);
    let disconnect = adapter
        .handle_json(&support::fixture(
            "apigw/example-apigw-websocket-request-disconnect-route.json",
        ))
        .await;
    assert_eq!(disconnect.status_code, 200);
    assert_eq!(gone.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_disconnect_hook_gets_the_close_code_and_reason() {
    let seen = Arc::new(std::sync::Mutex::new(None));
    let record = seen.clone();
    let adapter =
        fabric_websocket(echo::echo).on_disconnect(move |ctx: Context, info: Disconnect| {
            let record = record.clone();
            async move {
                *record.lock().unwrap() = Some((ctx.connection_id().unwrap().to_owned(), info));
            }
        });
    let event = support::fixture("apigw/example-apigw-websocket-request-disconnect-route.json");
    assert_eq!(adapter.handle_json(&event).await.status_code, 200);
    let (connection, info) = seen.lock().unwrap().clone().unwrap();
    assert_eq!(connection, "AAAA1234=");
    assert_eq!(info.status_code, Some(1005));
    assert_eq!(
        info.reason.as_deref(),
        Some("Client-side close frame status not set")
    );

    let panicky =
        fabric_websocket(echo::echo).on_disconnect(|_ctx, _info| async { panic!("cleanup bug") });
    assert_eq!(panicky.handle_json(&event).await.status_code, 200);
}

struct Clients {
    created: usize,
}

#[fabric_service]
async fn setup_count(_input: echo::EchoInput, ctx: Context) -> Result<usize, Error> {
    Ok(ctx.state::<Clients>()?.created)
}

#[tokio::test]
async fn setup_runs_once_and_shares_its_value() {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let adapter = fabric_websocket(setup_count).reply(false).setup(move || {
        let counted = counted.clone();
        async move {
            Ok::<_, fabric::BoxError>(Clients {
                created: counted.fetch_add(1, Ordering::SeqCst) + 1,
            })
        }
    });
    for _ in 0..3 {
        let response = adapter.handle(message("c1", "$default", "{}")).await;
        assert_eq!(body_of(&response), json!({"data": 1}));
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);

    let failing =
        fabric_websocket(setup_count).setup(|| async { Err::<Clients, _>("no database".into()) });
    assert_eq!(
        failing
            .handle(message("c1", "$default", "{}"))
            .await
            .status_code,
        500
    );
}

/// A setup that fails is tried again by the next event, once per event, metrics
/// on or not: the metrics and the dispatch share one look-up.
#[tokio::test]
async fn a_failing_setup_is_tried_once_per_event() {
    for metrics in [false, true] {
        let attempts = Arc::new(AtomicUsize::new(0));
        let counted = attempts.clone();
        let mut adapter = fabric_websocket(setup_count).setup(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Err::<Clients, _>("no database".into()) }
        });
        if metrics {
            adapter = adapter.metrics("Test").metrics_writer(std::io::sink());
        }
        for _ in 0..2 {
            let response = adapter.handle(message("c1", "$default", "{}")).await;
            assert_eq!(response.status_code, 500);
        }
        assert_eq!(attempts.load(Ordering::SeqCst), 2, "metrics on: {metrics}");
    }
}

#[tokio::test]
async fn the_management_endpoint_follows_the_event_for_local_domains() {
    let server = RecordingServer::ok().await;
    let adapter = fabric_websocket(big_reply);
    let mut event = message("c1", "$default", r#"{"bytes": 3}"#);
    event.request_context.domain_name = Some(format!("127.0.0.1:{}", server.port));
    event.request_context.stage = Some("dev".into());
    assert_eq!(adapter.handle(event).await.status_code, 200);
    let requests = server.requests();
    assert_eq!(requests[0].path, "/dev/@connections/c1");
    assert_eq!(requests[0].body_text(), r#""xxx""#);
}

#[tokio::test]
async fn the_sdk_client_posts_exact_bytes_to_the_encoded_connection_path() {
    let server = RecordingServer::ok().await;
    let api = SdkManagementApi::new(&server.url);
    let payload = "{\"é\":\"\\u0000 raw bytes ✓\"}";
    for id in ["Bq7ZkfvLIAMCLbQ=", "a/b c+d"] {
        api.post(id, payload.as_bytes()).await.unwrap();
    }
    let requests = server.requests();
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].raw_path, "/@connections/Bq7ZkfvLIAMCLbQ%3D");
    assert_eq!(requests[0].body, payload.as_bytes());
    assert_eq!(requests[1].last_segment(), "a/b c+d");
    assert!(
        requests[0]
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("AWS4-HMAC-SHA256")
    );
}

#[tokio::test]
async fn a_management_endpoint_that_never_answers_is_given_up_on() {
    // A real listener that accepts and then says nothing: a stalled endpoint.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let api = SdkManagementApi::new(&url).timeouts(
        std::time::Duration::from_millis(200),
        std::time::Duration::from_millis(700),
    );
    let started = std::time::Instant::now();
    let result = api.post("c1", b"{}").await;
    let waited = started.elapsed();
    match result {
        Err(ManagementError::Other(detail)) => {
            assert!(detail.contains("timeout"), "{detail}")
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(waited < std::time::Duration::from_secs(3), "{waited:?}");
    held.abort();
}

#[tokio::test]
async fn gone_is_recognised_by_header_by_json_type_and_by_bare_status() {
    let server = RecordingServer::start(|request, _| match request.last_segment().as_str() {
        "header" => Reply::aws_error(410, "GoneException"),
        "json" => Reply::json(410, r#"{"__type":"GoneException","message":"gone"}"#),
        "bare" => Reply::status(410),
        _ => Reply::status(200),
    })
    .await;
    let api = SdkManagementApi::new(&server.url);
    for id in ["header", "json", "bare"] {
        assert_eq!(
            api.post(id, b"{}").await,
            Err(ManagementError::Gone),
            "{id}"
        );
        assert_eq!(api.delete(id).await, Err(ManagementError::Gone), "{id}");
        assert!(
            matches!(api.get(id).await, Err(ManagementError::Gone)),
            "{id}"
        );
    }
    assert_eq!(server.requests().len(), 9, "gone is never retried");
    assert_eq!(fabric::Error::from(ManagementError::Gone).status(), 410);
}

#[tokio::test]
async fn throttling_is_retried_and_forbidden_is_not() {
    let server =
        RecordingServer::start(
            |request, seen| match (request.last_segment().as_str(), seen) {
                ("throttled-named", 0) => Reply::aws_error(429, "LimitExceededException"),
                ("throttled-bare", 0 | 1) => Reply::status(429),
                ("throttled-always", _) => Reply::aws_error(429, "LimitExceededException"),
                ("forbidden", _) => Reply::aws_error(403, "ForbiddenException"),
                _ => Reply::status(200),
            },
        )
        .await;
    let api = SdkManagementApi::new(&server.url);
    api.post("throttled-named", b"{}").await.unwrap();
    api.post("throttled-bare", b"{}").await.unwrap();
    assert!(matches!(
        api.post("throttled-always", b"{}").await,
        Err(ManagementError::Throttled(_))
    ));
    assert!(matches!(
        api.post("forbidden", b"{}").await,
        Err(ManagementError::Forbidden(_))
    ));
    let count = |id: &str| {
        server
            .requests()
            .iter()
            .filter(|r| r.last_segment() == id)
            .count()
    };
    assert_eq!(count("throttled-named"), 2);
    assert_eq!(count("throttled-bare"), 3);
    assert_eq!(
        count("throttled-always"),
        4,
        "four attempts, then throttled"
    );
    assert_eq!(count("forbidden"), 1);
}

#[tokio::test]
async fn connection_info_and_delete_go_through_the_sdk() {
    let server = RecordingServer::start(|request, _| match request.method.as_str() {
        "GET" => Reply::json(
            200,
            r#"{"connectedAt":"2026-11-22T01:20:00.000Z","identity":{"sourceIp":"203.0.113.7","userAgent":"wscat"},"lastActiveAt":"2026-11-22T01:21:30.500Z"}"#,
        ),
        "DELETE" => Reply::status(204),
        _ => Reply::status(200),
    })
    .await;
    let api = SdkManagementApi::new(&server.url);
    let info = api.get("abc=").await.unwrap();
    assert_eq!(info.connected_at.to_rfc3339(), "2026-11-22T01:20:00+00:00");
    assert_eq!(info.last_active_at.timestamp_millis() % 1000, 500);
    assert_eq!(info.source_ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(info.user_agent.as_deref(), Some("wscat"));
    api.delete("abc=").await.unwrap();
    assert_eq!(server.requests()[1].method, "DELETE");
    assert_eq!(server.requests()[1].raw_path, "/@connections/abc%3D");
}

#[derive(Debug, Deserialize, Input)]
struct Crowd {
    count: usize,
}

/// Broadcasts to `c0`..`c{count-1}`, listing every id twice.
#[fabric_service]
async fn shout(input: Crowd, ctx: Context) -> Result<Value, Error> {
    let ws = ctx.websocket().unwrap();
    let ids: Vec<String> = (0..input.count)
        .chain(0..input.count)
        .map(|i| format!("c{i}"))
        .collect();
    let report = ws.broadcast(&ids, json!({"hello": "everyone"})).await?;
    let failed: Vec<&str> = report.failed().iter().map(|(id, _)| *id).collect();
    Ok(
        json!({"delivered": report.delivered(), "gone": report.gone(), "failed": failed, "total": report.outcomes.len()}),
    )
}

#[tokio::test]
async fn a_broadcast_reports_exactly_the_gone_connections() {
    let server = RecordingServer::start(|request, _| {
        let id = request.last_segment();
        let n: usize = id.trim_start_matches('c').parse().unwrap_or(0);
        match n % 10 {
            0 => Reply::aws_error(410, "GoneException"),
            _ => Reply::status(200),
        }
    })
    .await;
    let adapter = fabric_websocket(shout)
        .management_endpoint(&server.url)
        .broadcast_concurrency(32);
    let response = adapter
        .handle(message("sender", "$default", r#"{"count": 1000}"#))
        .await;
    let data = &body_of(&response)["data"];
    let gone: Vec<String> = serde_json::from_value(data["gone"].clone()).unwrap();
    let expected: Vec<String> = (0..1000).step_by(10).map(|i| format!("c{i}")).collect();
    assert_eq!(gone, expected);
    assert_eq!(data["delivered"].as_array().unwrap().len(), 900);
    assert_eq!(data["failed"], json!([]));
    assert_eq!(data["total"], 1000, "duplicate ids are sent once");
    assert_eq!(server.requests().len(), 1000);
}

#[tokio::test]
async fn delivery_failures_other_than_gone_are_reported_with_their_reason() {
    let server = RecordingServer::start(|request, _| match request.last_segment().as_str() {
        "c1" => Reply::aws_error(403, "ForbiddenException"),
        _ => Reply::status(200),
    })
    .await;
    let adapter = fabric_websocket(shout).management_endpoint(&server.url);
    let response = adapter
        .handle(message("sender", "$default", r#"{"count": 3}"#))
        .await;
    assert_eq!(body_of(&response)["data"]["failed"], json!(["c1"]));
    let api = SdkManagementApi::new(&server.url);
    let err = api.post("c1", b"{}").await.unwrap_err();
    assert!(
        matches!(&err, ManagementError::Forbidden(reason) if reason.contains("ForbiddenException")),
        "{err}"
    );
}

#[tokio::test]
async fn the_lambda_binary_answers_every_fixture_and_survives_bad_events_and_panics() {
    let runtime = LambdaRuntime::start().await;
    let mut function = runtime.spawn_function(env!("CARGO_BIN_EXE_echo"), &[]);

    let fixtures = [
        ("apigw/websocket-connect.json", 200),
        ("apigw/websocket-message.json", 200),
        ("apigw/example-apigw-websocket-request.json", 200),
        (
            "apigw/example-apigw-websocket-request-disconnect-route.json",
            200,
        ),
        (
            "apigw/example-apigw-v2-custom-authorizer-websocket-request.json",
            200,
        ),
    ];
    for (name, status) in fixtures {
        let id = runtime.invoke(&support::fixture(name));
        let Outcome::Response(response) = runtime.outcome(&id).await else {
            panic!("{name}: the function reported an error");
        };
        assert_eq!(response["statusCode"], status, "{name}");
    }

    let bad = runtime.invoke(r#"{"not": "an API Gateway event"}"#);
    let Outcome::Response(response) = runtime.outcome(&bad).await else {
        panic!("bad event")
    };
    assert_eq!(response["statusCode"], 400);

    let mut boom: Value =
        serde_json::from_str(&support::fixture("apigw/websocket-message.json")).unwrap();
    boom["body"] = json!(r#"{"action":"boom","text":"on Lambda"}"#);
    let id = runtime.invoke(&boom.to_string());
    let Outcome::Response(response) = runtime.outcome(&id).await else {
        panic!("panic event")
    };
    assert_eq!(response["statusCode"], 500);
    assert_eq!(
        envelope(response["body"].as_str().unwrap()).errors[0].title,
        "Internal Server Error"
    );

    let mut after: Value =
        serde_json::from_str(&support::fixture("apigw/websocket-message.json")).unwrap();
    after["body"] = json!(r#"{"action":"echo","text":"after the panic"}"#);
    let id = runtime.invoke(&after.to_string());
    let Outcome::Response(response) = runtime.outcome(&id).await else {
        panic!("event after panic")
    };
    assert_eq!(response["statusCode"], 200);
    assert_eq!(
        serde_json::from_str::<Value>(response["body"].as_str().unwrap()).unwrap(),
        json!({"data": {"text": "after the panic"}})
    );
    assert!(function.is_running());
    assert!(runtime.init_errors().is_empty());
    let logs = function.logs();
    assert!(
        logs.contains("\"route_key\":\"$default\""),
        "JSON logs carry the route key: {logs}"
    );
    assert!(logs.contains("service panicked"), "{logs}");
}

#[tokio::test]
async fn a_secret_that_cannot_load_is_an_init_error_naming_it_and_exit_status_1() {
    secret_fails_the_start(env!("CARGO_BIN_EXE_chat"), "CHAT_TOKEN").await;
}

#[tokio::test]
async fn an_authorizers_secret_that_cannot_load_fails_its_start_the_same_way() {
    secret_fails_the_start(env!("CARGO_BIN_EXE_chat-authorizer"), "CHAT_JWT_SECRET").await;
}

/// Starts `binary` on Lambda with the secret `name` naming a Secrets Manager secret
/// that neither the extension nor the API can serve: one init error naming it, one
/// line on stderr, exit status 1, no panic.
async fn secret_fails_the_start(binary: &str, name: &str) {
    let runtime = LambdaRuntime::start().await;
    let nobody = support::process::free_port().to_string();
    let nowhere = format!("http://127.0.0.1:{nobody}");
    let variable = format!("SECRET_{name}");
    let mut function = runtime.spawn_function(
        binary,
        &[
            (variable.as_str(), "fabric-test/the-secret"),
            ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", &nobody),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", &nowhere),
            ("AWS_SESSION_TOKEN", "session"),
        ],
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = function.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the function did not exit"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(1), "{}", function.logs());
    let errors = runtime.init_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let error: Value = serde_json::from_str(&errors[0]).unwrap();
    assert_eq!(error["errorType"], "Fabric.SecretNotLoaded");
    let message = error["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with(&format!(
            "secret {name} could not be loaded: fabric-test/the-secret"
        )),
        "{message}"
    );
    assert!(!message.contains('\n'));
    let logs = function.logs();
    let line = format!("fabric: secret {name} could not be loaded");
    assert!(
        logs.lines().any(|l| l.starts_with(&line)),
        "one line on stderr: {logs}"
    );
    assert!(!logs.contains("panicked"), "{logs}");
}
