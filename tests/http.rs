//! `fabric_http` over the real API Gateway and ALB fixtures (through `lambda_http`, as
//! on Lambda), and over the local server with a real HTTP client.

mod support;

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use fabric::http::{Cors, HttpRouter, Method, Route};
use fabric::input::Shape;
use fabric::prelude::*;
use fabric::testing::HttpEvent;
use fabric::{ErrorEnvelope, Output};
use fabric_examples::division::division;
use fabric_examples::greet::greet;
use futures_util::future::BoxFuture;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// Returns the raw input the adapter built, so tests see the merge of query, path
/// and body exactly. A hand-written `Service`, as a user may write one.
struct Echo;

static NO_FIELDS: LazyLock<Shape> = LazyLock::new(|| Shape {
    name: "Anything",
    description: None,
    fields: Vec::new(),
});

impl Service for Echo {
    fn alias(&self) -> &str {
        "echo"
    }
    fn description(&self) -> &str {
        "Returns its raw input"
    }
    fn input(&self) -> &'static Shape {
        &NO_FIELDS
    }
    fn serve(&self, raw: Value, _ctx: Context) -> BoxFuture<'static, Result<Output, Error>> {
        Box::pin(async move { Output::from_value(&raw) })
    }
}

#[derive(Debug, Deserialize, Input)]
struct Nothing {}

/// What the test authorizer grants.
struct Claims {
    user: String,
}

#[fabric_service(alias = "whoami")]
async fn whoami(_input: Nothing, ctx: Context) -> Result<Value, Error> {
    let claims = ctx
        .extension::<Claims>()
        .ok_or_else(|| Error::internal_message("no claims"))?;
    let request = ctx
        .extension::<fabric::http::HttpRequest>()
        .ok_or_else(|| Error::internal_message("no request details"))?;
    Ok(json!({
        "user": claims.user,
        "request_id": ctx.request_id(),
        "source_ip": request.source_ip,
        "method": request.method.as_str(),
    }))
}

/// What API Gateway's own authorizer attached, as the service sees it.
#[fabric_service(alias = "gateway-claims")]
async fn gateway_claims(_input: Nothing, ctx: Context) -> Result<Option<Value>, Error> {
    let request = ctx
        .extension::<fabric::http::HttpRequest>()
        .ok_or_else(|| Error::internal_message("no request details"))?;
    Ok(request.authorizer.clone())
}

#[fabric_service(alias = "forget")]
async fn forget(_input: Nothing, _ctx: Context) -> Result<(), Error> {
    Ok(())
}

#[fabric_service(alias = "explode")]
async fn explode(_input: Nothing, _ctx: Context) -> Result<u8, Error> {
    panic!("the database password is hunter2")
}

/// Sends a message, then waits for the test to say go before finishing: proof that
/// the message reached the client while the service was still running.
#[fabric_service(alias = "countdown")]
async fn countdown(_input: Nothing, ctx: Context) -> Result<&'static str, Error> {
    ctx.send_message(json!({"left": 2})).await?;
    ctx.state::<Arc<Notify>>()?.notified().await;
    ctx.send_message(json!({"left": 1})).await?;
    Ok("liftoff")
}

/// After a refused event, a good one of the same kind is served: 9 / 3 through
/// `router`.
async fn still_divides(router: &HttpRouter, event: HttpEvent) {
    let fine = event.query("numerator", "9").query("denominator", "3");
    let response: Value =
        serde_json::from_str(&router.invoke_lambda(&fine.to_string()).await.unwrap()).unwrap();
    assert_eq!(response["body"], r#"{"data":3.0}"#);
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../tests/fixtures/apigw/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
    serde_json::from_str(&text).unwrap()
}

async fn invoke(router: &HttpRouter, event: &Value) -> Value {
    let response = router.invoke_lambda(&event.to_string()).await.unwrap();
    serde_json::from_str(&response).unwrap()
}

fn body_json(response: &Value) -> Value {
    serde_json::from_str(response["body"].as_str().expect("a text body")).unwrap()
}

/// What a setup hook makes, once per process.
struct Greeting(&'static str);

#[fabric_service]
async fn greeting(_input: Nothing, ctx: Context) -> Result<&'static str, Error> {
    Ok(ctx.state::<Greeting>()?.0)
}

// ---------------------------------------------------------------- Lambda events

#[tokio::test]
async fn setup_runs_once_for_the_router_and_a_failed_one_is_retried() {
    let mut event = fixture("example-apigw-v2-request-no-authorizer.json");
    event["rawPath"] = json!("/greeting");
    event["rawQueryString"] = json!("");
    let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = runs.clone();
    let router = fabric_http(greeting).setup(move || {
        let run = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            if run == 0 {
                Err::<Greeting, fabric::BoxError>("the database is still starting".into())
            } else {
                Ok(Greeting("hello"))
            }
        }
    });
    let failed = invoke(&router, &event).await;
    assert_eq!(failed["statusCode"], 500);
    let envelope: ErrorEnvelope = serde_json::from_value(body_json(&failed)).unwrap();
    assert_eq!(
        envelope.errors[0].detail, "An internal error occurred",
        "scrubbed"
    );
    for _ in 0..3 {
        let response = invoke(&router, &event).await;
        assert_eq!(body_json(&response), json!({"data": "hello"}));
    }
    assert_eq!(
        runs.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "once, after the failure"
    );
}

#[tokio::test]
async fn an_unavailable_router_answers_503_and_unknown_paths_still_404() {
    let mut event = fixture("example-apigw-v2-request-no-authorizer.json");
    event["rawPath"] = json!("/division");
    let router = fabric_http(division).unavailable(true);
    let response = invoke(&router, &event).await;
    assert_eq!(response["statusCode"], 503);
    let envelope: ErrorEnvelope = serde_json::from_value(body_json(&response)).unwrap();
    assert_eq!(
        envelope.errors[0].detail,
        "The service is temporarily unavailable"
    );
    event["rawPath"] = json!("/nowhere");
    assert_eq!(invoke(&router, &event).await["statusCode"], 404);
}

#[tokio::test]
async fn an_http_api_event_is_coerced_validated_and_answered() {
    let mut event = fixture("example-apigw-v2-request-no-authorizer.json");
    event["rawPath"] = json!("/division");
    event["rawQueryString"] = json!("numerator=14&denominator=7");
    let response = invoke(&fabric_http(division), &event).await;
    assert_eq!(response["statusCode"], 200);
    assert_eq!(response["headers"]["content-type"], "application/json");
    assert_eq!(response["headers"]["x-request-id"], "LV7fzho-PHcEJPw=");
    assert_eq!(body_json(&response), json!({"data": 2.0}));

    event["rawQueryString"] = json!("denominator=0");
    let response = invoke(&fabric_http(division), &event).await;
    assert_eq!(response["statusCode"], 400);
    let envelope: ErrorEnvelope = serde_json::from_value(body_json(&response)).unwrap();
    assert_eq!(
        envelope.errors[0].detail,
        r#"Validation failed for field "denominator": must not be zero"#
    );
}

#[tokio::test]
async fn a_rest_api_event_routes_without_its_stage_and_takes_path_parameters() {
    // POST /hello/world on stage "testStage", body {"a": 1}, query name=me.
    let event = fixture("example-apigw-request.json");
    let router = HttpRouter::new()
        .route(Route::new(greet).path("/hello/:name"))
        .route(Route::new(Echo).path("/hello/:who/echo"));
    let response = invoke(&router, &event).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    // REST API responses carry their headers as multi-value headers.
    assert_eq!(
        response["multiValueHeaders"]["x-request-id"],
        json!(["deef4878-7910-11e6-8f14-25afc3e9ae33"])
    );
    // The path parameter beat the query's name=me.
    assert_eq!(body_json(&response), json!({"data": ["Hello, world!"]}));
}

#[tokio::test]
async fn an_http_api_event_merges_repeated_query_keys_and_the_body() {
    let event = fixture("example-apigw-v2-request-multi-value-parameters.json");
    let router = fabric_http(Route::new(Echo).path("/my/path"));
    let response = invoke(&router, &event).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(
        body_json(&response),
        json!({"data": {"Parameter1": ["value1", "value2"], "a": 1}})
    );
}

#[tokio::test]
async fn api_gateway_authorizer_context_reaches_the_service() {
    let mut event = fixture("example-apigw-v2-request-multi-value-parameters.json");
    event["rawPath"] = json!("/gateway-claims");
    let response = invoke(&fabric_http(gateway_claims), &event).await;
    assert_eq!(
        body_json(&response),
        json!({"data": {"lambda": {"key": "value"}}})
    );

    let mut event = fixture("example-apigw-request.json");
    event["path"] = json!("/gateway-claims");
    let response = invoke(&fabric_http(gateway_claims), &event).await;
    let claims = &body_json(&response)["data"];
    assert_eq!(claims["principalId"], "admin", "{response}");
    assert_eq!(claims["clientName"], "Exata");

    let mut event = fixture("example-apigw-v2-request-no-authorizer.json");
    event["rawPath"] = json!("/gateway-claims");
    let response = invoke(&fabric_http(gateway_claims), &event).await;
    assert_eq!(body_json(&response), json!({"data": null}));
}

#[tokio::test]
async fn an_alb_event_is_answered_in_the_alb_shape() {
    // GET / with key=hello: division with its defaults.
    let event = fixture("example-alb-lambda-target-request-headers-only.json");
    let router = fabric_http(Route::new(division).path("/"));
    let response = invoke(&router, &event).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["statusDescription"], "200 OK");
    assert_eq!(body_json(&response), json!({"data": 4.0}));
}

#[tokio::test]
async fn a_sam_local_event_reaches_its_route() {
    let event = fixture("example-apigw-sam-http-request.json");
    let router = fabric_http(Route::new(Echo).path("/dump").methods([Method::GET]));
    let response = invoke(&router, &event).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(body_json(&response), json!({"data": {"foo": "bar"}}));
    assert_eq!(
        response["headers"]["x-request-id"],
        "b3ea2f1a-9f2a-48a4-8791-0db24e5d40e5"
    );
}

#[tokio::test]
async fn base64_bodies_are_decoded_and_non_json_bodies_refused() {
    let mut event = fixture("example-apigw-v2-request-no-authorizer.json");
    event["rawPath"] = json!("/division");
    event["requestContext"]["http"]["method"] = json!("POST");
    event["headers"]["content-type"] = json!("application/json");
    event["isBase64Encoded"] = json!(true);
    // {"numerator": 9, "denominator": 3}
    event["body"] = json!("eyJudW1lcmF0b3IiOiA5LCAiZGVub21pbmF0b3IiOiAzfQ==");
    let response = invoke(&fabric_http(division), &event).await;
    assert_eq!(body_json(&response), json!({"data": 3.0}), "{response}");

    event["isBase64Encoded"] = json!(false);
    event["body"] = json!("numerator=9");
    let response = invoke(&fabric_http(division), &event).await;
    assert_eq!(response["statusCode"], 400);
    let detail = body_json(&response)["errors"][0]["detail"].clone();
    assert!(
        detail
            .as_str()
            .unwrap()
            .starts_with("The body is not valid JSON"),
        "{detail}"
    );
}

#[tokio::test]
async fn messages_on_lambda_come_as_lines_before_the_result() {
    let mut event = fixture("example-apigw-v2-request-no-authorizer.json");
    event["rawPath"] = json!("/greet");
    event["rawQueryString"] = json!("name=Ada&also=Grace");
    event["headers"]["accept"] = json!("application/x-ndjson");
    let response = invoke(&fabric_http(greet), &event).await;
    assert_eq!(response["statusCode"], 200);
    assert_eq!(response["headers"]["content-type"], "application/x-ndjson");
    assert_eq!(
        response["body"],
        "{\"greeting\":\"Hello, Ada!\"}\n{\"greeting\":\"Hello, Grace!\"}\n{\"data\":[\"Hello, Ada!\",\"Hello, Grace!\"]}\n"
    );
}

#[tokio::test]
async fn the_router_is_a_tower_service_that_lambda_http_can_drive() {
    // What `lambda_http::run(layers.service(router))` hands the router.
    use tower_service::Service as _;
    let event = fixture("example-apigw-request.json");
    let request = fabric::http::lambda_http::request::from_str(&event.to_string()).unwrap();
    // lambda_http puts the stage in the URI; the router routes on the path as sent.
    assert_eq!(request.uri().path(), "/testStage/hello/world");
    let mut router = fabric_http(Route::new(greet).path("/hello/:name"));
    let response = router.call(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-request-id"],
        "deef4878-7910-11e6-8f14-25afc3e9ae33"
    );
}

#[tokio::test]
async fn an_event_that_is_not_http_is_an_error_not_a_crash() {
    let router = fabric_http(division);
    let err = router
        .invoke_lambda(r#"{"hello": "world"}"#)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("API Gateway"), "{err}");
}

// ---------------------------------------------------------------- local server

/// Serves `router` on a free port; the server stops when the test ends.
async fn serve(router: HttpRouter) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(router.serve_on(listener, std::future::pending()));
    format!("http://{address}")
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|err| panic!("{err}: {}", self.body))
    }

    fn detail(&self) -> String {
        let envelope: ErrorEnvelope = serde_json::from_str(&self.body).unwrap();
        envelope.errors[0].detail.clone()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.unwrap();
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn query_strings_are_coerced() {
    let base = serve(fabric_http(division)).await;
    let reply = send(client().get(format!("{base}/division?numerator=14&denominator=7"))).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.json(), json!({"data": 2.0}));
    assert!(reply.header("x-request-id").is_some());

    let reply = send(client().get(format!("{base}/division?numerator=14abc"))).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.detail(),
        r#"Invalid value for field "numerator": expected a number, got "14abc""#
    );
}

#[tokio::test]
async fn the_body_wins_over_the_path_which_wins_over_the_query() {
    let router = HttpRouter::new()
        .route(division)
        .route(Route::new(division).path("/divide/:numerator/by/:denominator"));
    let base = serve(router).await;
    let reply = send(
        client()
            .post(format!("{base}/division?numerator=1&denominator=2"))
            .header("content-type", "application/json")
            .body(r#"{"numerator": 10}"#),
    )
    .await;
    assert_eq!(reply.json(), json!({"data": 5.0}));

    let reply = send(client().get(format!("{base}/divide/9/by/3?numerator=1"))).await;
    assert_eq!(reply.json(), json!({"data": 3.0}));

    let reply = send(
        client()
            .post(format!("{base}/divide/9/by/3"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("denominator=-4.5"),
    )
    .await;
    assert_eq!(reply.json(), json!({"data": -2.0}));
}

#[tokio::test]
async fn a_json_content_type_with_a_bad_body_is_a_400_and_the_server_keeps_serving() {
    let base = serve(HttpRouter::new().route(division).route(explode)).await;
    for body in ["{not json", "[1, 2]"] {
        let reply = send(
            client()
                .post(format!("{base}/division"))
                .header("content-type", "application/json")
                .body(body),
        )
        .await;
        assert_eq!(reply.status, 400, "{body}");
    }
    let reply = send(client().post(format!("{base}/explode"))).await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.detail(), "An internal error occurred");
    assert!(!reply.body.contains("hunter2"));
    let reply = send(client().get(format!("{base}/division"))).await;
    assert_eq!(reply.json(), json!({"data": 4.0}));
}

#[tokio::test]
async fn unscrubbed_routers_show_server_error_details() {
    let base = serve(fabric_http(explode).scrub_errors(false)).await;
    let reply = send(client().get(format!("{base}/explode"))).await;
    assert_eq!(reply.status, 500);
    assert!(reply.detail().contains("hunter2"), "{}", reply.detail());
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405_envelopes() {
    let base = serve(fabric_http(division)).await;
    let reply = send(client().get(format!("{base}/nowhere"))).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(reply.detail(), "No route for GET /nowhere");

    let reply = send(client().delete(format!("{base}/division"))).await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.header("allow"), Some("GET, POST, HEAD, OPTIONS"));
    let envelope: ErrorEnvelope = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(envelope.errors[0].title, "Method Not Allowed");
    assert_eq!(
        envelope.errors[0].detail,
        "Method DELETE is not allowed on /division; allowed: GET, POST"
    );
}

#[tokio::test]
async fn head_answers_like_get_without_the_body() {
    let base = serve(fabric_http(division).route(Route::new(forget).methods([Method::POST]))).await;
    let get = send(client().get(format!("{base}/division?numerator=14&denominator=7"))).await;
    let head = send(client().head(format!("{base}/division?numerator=14&denominator=7"))).await;
    assert_eq!(get.body, r#"{"data":2.0}"#);
    assert_eq!(head.status, 200);
    assert_eq!(head.body, "");
    assert_eq!(head.header("content-type"), Some("application/json"));
    assert_eq!(head.header("content-length"), Some("12"));

    let head = send(client().head(format!("{base}/division?numerator=1&denominator=0"))).await;
    assert_eq!(head.status, 400);
    assert_eq!(head.body, "");

    // A route without GET has no HEAD either.
    let head = send(client().head(format!("{base}/forget"))).await;
    assert_eq!(head.status, 405);
    assert_eq!(head.header("allow"), Some("POST, OPTIONS"));
}

#[tokio::test]
async fn a_unit_result_is_204_with_no_body() {
    let base = serve(fabric_http(forget)).await;
    let reply = send(client().post(format!("{base}/forget"))).await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.body, "");
}

#[tokio::test]
async fn preflights_get_the_methods_of_their_route() {
    let router = HttpRouter::new()
        .route(Route::new(division).methods([Method::PUT]))
        .cors(
            Cors::new()
                .allow_origins(["https://app.example.com"])
                .allow_credentials(true)
                .max_age(Duration::from_secs(600)),
        );
    let base = serve(router).await;
    let preflight = |origin: &str| {
        client()
            .request(reqwest::Method::OPTIONS, format!("{base}/division"))
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
    };
    let reply = send(preflight("https://app.example.com")).await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.header("access-control-allow-methods"), Some("PUT"));
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        Some("true")
    );
    assert_eq!(reply.header("access-control-max-age"), Some("600"));

    let reply = send(preflight("https://evil.example.com")).await;
    assert_eq!(reply.header("access-control-allow-origin"), None);
    assert_eq!(reply.header("access-control-allow-methods"), None);

    let reply = send(
        client()
            .put(format!("{base}/division"))
            .header("origin", "https://app.example.com"),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(reply.header("vary"), Some("origin"));

    let reply = send(
        client()
            .request(reqwest::Method::OPTIONS, format!("{base}/nowhere"))
            .header("origin", "https://app.example.com"),
    )
    .await;
    assert_eq!(reply.status, 404);
}

#[tokio::test]
async fn the_default_cors_allows_every_origin() {
    let base = serve(fabric_http(division)).await;
    let reply = send(
        client()
            .get(format!("{base}/nowhere"))
            .header("origin", "https://anyone.example"),
    )
    .await;
    // Even errors carry CORS headers, so browser code can read the envelope.
    assert_eq!(reply.status, 404);
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
}

fn authorized_router() -> HttpRouter {
    HttpRouter::new()
        .route(whoami)
        .authorize(|token: String| async move {
            match token.as_str() {
                "ada-token" => Ok(Claims { user: "ada".into() }),
                _ => Err(Error::forbidden("Unknown token")),
            }
        })
}

#[tokio::test]
async fn a_missing_token_is_401_before_the_service_runs() {
    let base = serve(authorized_router()).await;
    let reply = send(client().get(format!("{base}/whoami"))).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    assert!(reply.detail().starts_with("Missing bearer token"));

    let reply = send(
        client()
            .get(format!("{base}/whoami"))
            .header("authorization", "Basic YWRhOnB3"),
    )
    .await;
    assert_eq!(reply.status, 401);

    let reply = send(
        client()
            .get(format!("{base}/whoami"))
            .header("authorization", "Bearer someone-else"),
    )
    .await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.detail(), "Unknown token");
}

#[tokio::test]
async fn the_authorizer_value_reaches_the_service() {
    let base = serve(authorized_router()).await;
    let reply = send(
        client()
            .get(format!("{base}/whoami"))
            .header("authorization", "bearer   ada-token  "),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let data = &reply.json()["data"];
    assert_eq!(data["user"], "ada");
    assert_eq!(data["source_ip"], "127.0.0.1");
    assert_eq!(data["method"], "GET");
    assert_eq!(data["request_id"], reply.header("x-request-id").unwrap());
}

#[tokio::test]
async fn ndjson_streams_messages_as_they_are_sent_then_the_result() {
    let go = Arc::new(Notify::new());
    let base = serve(fabric_http(countdown).state(go.clone())).await;
    let mut response = client()
        .get(format!("{base}/countdown"))
        .header("accept", "application/x-ndjson")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    // The first message arrives while the service is still waiting.
    let first = tokio::time::timeout(Duration::from_secs(10), response.chunk())
        .await
        .expect("the first message is streamed before the service finishes")
        .unwrap()
        .unwrap();
    assert_eq!(first, "{\"left\":2}\n");
    go.notify_one();
    let mut rest = String::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        rest.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert_eq!(rest, "{\"left\":1}\n{\"data\":\"liftoff\"}\n");
}

#[tokio::test]
async fn server_sent_events_end_with_a_result_or_error_event() {
    let base = serve(fabric_http(greet)).await;
    let reply = send(
        client()
            .get(format!("{base}/greet?name=Ada&style=hi"))
            .header("accept", "text/event-stream"),
    )
    .await;
    assert_eq!(reply.header("content-type"), Some("text/event-stream"));
    assert_eq!(
        reply.body,
        "event: message\ndata: {\"greeting\":\"Hi, Ada!\"}\n\nevent: result\ndata: {\"data\":[\"Hi, Ada!\"]}\n\n"
    );

    // An error before any message keeps its status.
    let reply = send(
        client()
            .get(format!("{base}/greet?style=yo"))
            .header("accept", "text/event-stream"),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.body.starts_with("event: error\ndata: {\"errors\":["),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn without_a_streaming_accept_header_messages_are_dropped() {
    let base = serve(fabric_http(greet)).await;
    let reply =
        send(client().get(format!("{base}/greet?name=Ada&also=Grace,Linus&shout=true"))).await;
    assert_eq!(
        reply.json(),
        json!({"data": ["HELLO, ADA!", "HELLO, GRACE!", "HELLO, LINUS!"]})
    );
}

#[tokio::test]
async fn bodies_over_the_limit_are_413() {
    let base = serve(fabric_http(Echo).body_limit(64)).await;
    let reply = send(
        client()
            .post(format!("{base}/echo"))
            .header("content-type", "application/json")
            .body(format!(r#"{{"text": "{}"}}"#, "x".repeat(100))),
    )
    .await;
    assert_eq!(reply.status, 413);
    assert_eq!(
        reply.detail(),
        "The body is larger than the limit of 64 bytes"
    );
}

// ---------------------------------------------------------------- the binary

mod binary {
    use std::process::Stdio;
    use std::time::Duration;

    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::process::{Child, Command};

    use super::support::lambda_runtime::{LambdaRuntime, Outcome};

    const DIVISION_HTTP: &str = env!("CARGO_BIN_EXE_division-http");

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    fn start(args: &[&str], port_env: Option<u16>) -> Child {
        let mut command = Command::new(DIVISION_HTTP);
        command
            .args(args)
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .env_remove("FABRIC_PORT")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(port) = port_env {
            command.env("FABRIC_PORT", port.to_string());
        }
        command.spawn().unwrap()
    }

    /// The line the server prints once it listens.
    async fn ready_line(child: &mut Child) -> String {
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        tokio::time::timeout(
            Duration::from_secs(30),
            BufReader::new(stdout).read_line(&mut line),
        )
        .await
        .expect("the server says when it is ready")
        .unwrap();
        line
    }

    async fn interrupt(child: &mut Child) -> std::process::ExitStatus {
        stop_with(child, "INT").await
    }

    /// Sends `signal` (`INT`, `TERM`) with `kill`, as a terminal or an init system does.
    async fn stop_with(child: &mut Child, signal: &str) -> std::process::ExitStatus {
        let pid = child.id().unwrap().to_string();
        let sent = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "the signal was delivered");
        tokio::time::timeout(Duration::from_secs(10), child.wait())
            .await
            .expect("Ctrl-C stops the server")
            .unwrap()
    }

    #[tokio::test]
    async fn a_streaming_function_url_router_is_served_locally_and_streams() {
        // On Lambda it has its own function URL and no API; locally it still runs.
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_greet-url"))
            .args(["--port", &port.to_string()])
            .env_remove("AWS_LAMBDA_RUNTIME_API")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let line = ready_line(&mut child).await;
        assert_eq!(
            line,
            format!("Serving HTTP on http://127.0.0.1:{port} (Ctrl-C to stop)\n")
        );
        let body = reqwest::Client::new()
            .get(format!("http://127.0.0.1:{port}/greet?name=Ada"))
            .header("accept", "application/x-ndjson")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(
            body,
            "{\"greeting\":\"Hello, Ada!\"}\n{\"data\":[\"Hello, Ada!\"]}\n"
        );
        assert!(interrupt(&mut child).await.success());
    }

    #[tokio::test]
    async fn division_http_serves_on_the_given_port_until_ctrl_c() {
        let port = free_port();
        let mut child = start(&["--port", &port.to_string()], None);
        let line = ready_line(&mut child).await;
        assert_eq!(
            line,
            format!("Serving HTTP on http://127.0.0.1:{port} (Ctrl-C to stop)\n")
        );
        let body = reqwest::get(format!(
            "http://127.0.0.1:{port}/division?numerator=14&denominator=7"
        ))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
        assert_eq!(body, r#"{"data":2.0}"#);
        let status = interrupt(&mut child).await;
        assert!(status.success(), "{status:?}");
    }

    #[tokio::test]
    async fn a_stop_signal_as_soon_as_the_server_is_ready_stops_it_cleanly() {
        for signal in ["TERM", "INT"] {
            let mut child = start(&["--port", &free_port().to_string()], None);
            ready_line(&mut child).await;
            let status = stop_with(&mut child, signal).await;
            assert!(status.success(), "signal {signal}: {status:?}");
        }
    }

    #[tokio::test]
    async fn the_port_can_come_from_fabric_port() {
        let port = free_port();
        let mut child = start(&[], Some(port));
        let line = ready_line(&mut child).await;
        assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
        interrupt(&mut child).await;
    }

    #[tokio::test]
    async fn a_port_in_use_is_a_clear_message() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let child = start(&["--port", &port.to_string()], None);
        let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(output.status.code(), Some(1));
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(
            stderr,
            format!(
                "fabric: port {port} is in use: stop the other process or pass --port / FABRIC_PORT\n"
            )
        );
    }

    #[tokio::test]
    async fn on_lambda_the_same_binary_answers_invocations() {
        let mut http_api = super::fixture("example-apigw-v2-request-no-authorizer.json");
        http_api["rawPath"] = serde_json::json!("/division");
        http_api["rawQueryString"] = serde_json::json!("numerator=14&denominator=7");
        let mut rest_api = super::fixture("example-apigw-request.json");
        rest_api["path"] = serde_json::json!("/division");
        rest_api["body"] = serde_json::json!("{\"denominator\": 0}");
        let mut alb = super::fixture("example-alb-lambda-target-request-headers-only.json");
        alb["path"] = serde_json::json!("/division");
        let not_http = serde_json::json!({"not": "http"});
        let mut no_request_id = http_api.clone();
        no_request_id["requestContext"]
            .as_object_mut()
            .unwrap()
            .remove("requestId");
        let runtime = LambdaRuntime::start().await;
        let mut function = runtime.spawn_function(DIVISION_HTTP, &[]);
        let ids: Vec<String> = [
            &http_api,
            &rest_api,
            &alb,
            &not_http,
            &http_api,
            &no_request_id,
        ]
        .iter()
        .map(|event| runtime.invoke(&event.to_string()))
        .collect();
        let response = |outcome: Outcome| match outcome {
            Outcome::Response(response) => response,
            other => panic!("the invocation failed: {other:?}"),
        };

        let answer = response(runtime.outcome(&ids[0]).await);
        assert_eq!(answer["statusCode"], 200);
        assert_eq!(answer["body"], r#"{"data":2.0}"#);
        assert_eq!(answer["headers"]["x-request-id"], "LV7fzho-PHcEJPw=");

        let answer = response(runtime.outcome(&ids[1]).await);
        assert_eq!(answer["statusCode"], 400);
        assert!(answer["multiValueHeaders"]["content-type"].is_array());

        let answer = response(runtime.outcome(&ids[2]).await);
        assert_eq!(answer["statusCode"], 200);
        assert_eq!(answer["statusDescription"], "200 OK");
        assert_eq!(answer["body"], r#"{"data":4.0}"#);
        // ALB events carry no request id; the invocation's is used.
        assert_eq!(answer["headers"]["x-request-id"], ids[2].as_str());

        // An event that is no HTTP event fails that invocation only.
        assert!(matches!(runtime.outcome(&ids[3]).await, Outcome::Error(_)));
        let answer = response(runtime.outcome(&ids[4]).await);
        assert_eq!(answer["body"], r#"{"data":2.0}"#);
        // An HTTP API event without its own request id gets the invocation's.
        let answer = response(runtime.outcome(&ids[5]).await);
        assert_eq!(answer["body"], r#"{"data":2.0}"#);
        assert_eq!(answer["headers"]["x-request-id"], ids[5].as_str());
        assert!(function.is_running());
    }

    #[tokio::test]
    async fn a_streaming_router_answers_lambda_in_streaming_mode() {
        let mut streamed = super::fixture("example-apigw-v2-request-no-authorizer.json");
        streamed["rawPath"] = serde_json::json!("/greet");
        streamed["rawQueryString"] = serde_json::json!("name=Ada&also=Grace");
        streamed["headers"]["accept"] = serde_json::json!("application/x-ndjson");
        let mut plain = streamed.clone();
        plain["headers"]["accept"] = serde_json::json!("application/json");
        let mut invalid = plain.clone();
        invalid["rawQueryString"] = serde_json::json!("also=Grace");
        let runtime = LambdaRuntime::start().await;
        let mut function = runtime.spawn_function(env!("CARGO_BIN_EXE_greet-url"), &[]);
        let ids: Vec<String> = [&streamed, &plain, &invalid]
            .iter()
            .map(|event| runtime.invoke(&event.to_string()))
            .collect();
        let streamed = |outcome: Outcome| match outcome {
            Outcome::Streamed { prelude, body } => (prelude, body),
            other => panic!("expected a streamed response, got {other:?}"),
        };

        let (prelude, body) = streamed(runtime.outcome(&ids[0]).await);
        assert_eq!(prelude["statusCode"], 200);
        assert_eq!(prelude["headers"]["content-type"], "application/x-ndjson");
        assert_eq!(prelude["headers"]["x-request-id"], "LV7fzho-PHcEJPw=");
        assert_eq!(
            body,
            "{\"greeting\":\"Hello, Ada!\"}\n{\"greeting\":\"Hello, Grace!\"}\n{\"data\":[\"Hello, Ada!\",\"Hello, Grace!\"]}\n"
        );

        let (prelude, body) = streamed(runtime.outcome(&ids[1]).await);
        assert_eq!(prelude["statusCode"], 200);
        assert_eq!(body, r#"{"data":["Hello, Ada!","Hello, Grace!"]}"#);

        let (prelude, body) = streamed(runtime.outcome(&ids[2]).await);
        assert_eq!(prelude["statusCode"], 400);
        let envelope: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(envelope["errors"][0]["source"]["pointer"], "/name");
        assert!(function.is_running());
    }

    #[tokio::test]
    async fn a_bad_port_is_a_usage_error() {
        let child = start(&["--port", "http"], None);
        let output = child.wait_with_output().await.unwrap();
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(
            stderr.contains("invalid value 'http' for '--port <port>'"),
            "{stderr}"
        );
    }
}

/// Found writing the `http_event` fuzz target: `lambda_http` panics converting a REST
/// API or ALB event whose body is marked base64 but is not. Every source now gets
/// a 400 in its own shape, and the router serves on.
#[tokio::test]
async fn lambda_http_panicked_on_a_body_marked_base64_that_is_not() {
    let router = fabric_http(division);
    for event in [
        HttpEvent::rest_api("POST", "/division"),
        HttpEvent::http_api("POST", "/division"),
        HttpEvent::function_url("POST", "/division"),
        HttpEvent::alb("POST", "/division"),
    ] {
        let event = event.raw_body("%%% not base64", true);
        let response: Value =
            serde_json::from_str(&router.invoke_lambda(&event.to_string()).await.unwrap()).unwrap();
        assert_eq!(response["statusCode"], 400, "{event}");
        let body: ErrorEnvelope = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        assert!(
            body.errors[0]
                .detail
                .starts_with("The body is marked base64 but is not"),
            "{event}: {}",
            body.errors[0].detail
        );
    }
    still_divides(&router, HttpEvent::alb("GET", "/division")).await;
}

/// Found by the `http_event` fuzz target (its first crash): an ALB event whose
/// `Host` is `lambda-test-alb-1>34523864...` made `lambda_http` unwrap a URL error
/// and panic. A host, scheme or path that makes no URL is a 400 in the event's
/// shape.
#[tokio::test]
async fn lambda_http_panicked_on_a_host_that_makes_no_url() {
    let mut alb = fixture("example-alb-lambda-target-request-headers-only.json");
    alb["headers"]["host"] =
        serde_json::json!("lambda-test-alb-1>34523864.us-east-1.elb.amazonaws.com");
    let mut rest = fixture("example-apigw-request.json");
    rest["headers"]["X-Forwarded-Proto"] = serde_json::json!("ht tp");
    let mut port = fixture("example-apigw-request.json");
    port["path"] = serde_json::json!(":99999");
    port["headers"].as_object_mut().unwrap().remove("Host");
    port["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("domainName");
    port["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("stage");
    let router = fabric_http(division);
    for (name, event, shape) in [
        ("alb", alb, "statusDescription"),
        ("rest", rest, "multiValueHeaders"),
        ("port", port, "multiValueHeaders"),
    ] {
        let response: Value =
            serde_json::from_str(&router.invoke_lambda(&event.to_string()).await.unwrap()).unwrap();
        assert_eq!(response["statusCode"], 400, "{name}: {response}");
        assert!(
            response.get(shape).is_some(),
            "{name} answered in its own shape: {response}"
        );
        let body: ErrorEnvelope = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        assert!(
            body.errors[0].detail.contains("do not form a URL"),
            "{name}: {}",
            body.errors[0].detail
        );
    }
}

/// Found by the `http_event` fuzz target (crash-ec16366d): a REST API or ALB event
/// whose `multiValueQueryStringParameters` has a name with no values made
/// `lambda_http` index an empty list while building the URL. It is a 400 in the
/// event's own shape naming the parameter, not a panic, and the router serves on.
#[tokio::test]
async fn fuzz_crash_ec16366d_a_query_parameter_without_values_is_a_400() {
    let router = fabric_http(division);
    for fixture_name in [
        "example-apigw-request.json",
        "example-alb-lambda-target-request-headers-only.json",
    ] {
        let mut event = fixture(fixture_name);
        event["multiValueQueryStringParameters"] = json!({"name": []});
        let response: Value =
            serde_json::from_str(&router.invoke_lambda(&event.to_string()).await.unwrap()).unwrap();
        assert_eq!(response["statusCode"], 400, "{fixture_name}");
        let body: ErrorEnvelope = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            body.errors[0].detail, "the query parameter \"name\" has no values",
            "{fixture_name}"
        );
    }
    still_divides(&router, HttpEvent::rest_api("GET", "/division")).await;
}

/// Found by the `http_event` fuzz target (crash 207fade1): the same empty list in
/// `queryStringParameters`, which `lambda_http` reads the same way.
#[tokio::test]
async fn fuzz_crash_207fade1_an_empty_list_in_query_string_parameters_is_a_400() {
    let router = fabric_http(division);
    for fixture_name in [
        "example-apigw-request.json",
        "example-alb-lambda-target-request-headers-only.json",
    ] {
        let mut event = fixture(fixture_name);
        event["queryStringParameters"] = json!({"cookies": [], "numerator": "1"});
        let response: Value =
            serde_json::from_str(&router.invoke_lambda(&event.to_string()).await.unwrap()).unwrap();
        assert_eq!(response["statusCode"], 400, "{fixture_name}");
        let body: ErrorEnvelope = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            body.errors[0].detail, "the query parameter \"cookies\" has no values",
            "{fixture_name}"
        );
    }
    // An HTTP API event is read by Fabric (its `rawQueryString`), so the list is
    // harmless there: the request is routed as usual (this fixture's path is not
    // served).
    let mut event = fixture("example-apigw-v2-request-no-authorizer.json");
    event["queryStringParameters"] = json!({"cookies": []});
    let response: Value =
        serde_json::from_str(&router.invoke_lambda(&event.to_string()).await.unwrap()).unwrap();
    assert_eq!(response["statusCode"], 404);
}

/// Refuses with a retry hint, as a rate limit does.
#[fabric_service(alias = "busy")]
async fn busy(_input: Nothing, _ctx: Context) -> Result<(), Error> {
    Err(Error::too_many_requests("Slow down").with_retry_after(Duration::from_millis(1500)))
}

#[tokio::test]
async fn a_refusal_with_a_retry_hint_says_retry_after_in_seconds_on_every_http_path() {
    // The local HTTP server, with a real client.
    let router = HttpRouter::new().route(busy);
    let base = serve(router.clone()).await;
    let reply = send(client().get(format!("{base}/busy"))).await;
    assert_eq!(reply.status, 429);
    assert_eq!(reply.header("retry-after"), Some("2"), "1.5 s, rounded up");
    assert_eq!(reply.json()["errors"][0]["meta"]["retryAfterMs"], 1500);

    // On Lambda, from the real HTTP API event.
    let mut event = fixture("example-apigw-v2-request-no-authorizer.json");
    event["rawPath"] = json!("/busy");
    event["requestContext"]["http"]["path"] = json!("/busy");
    event["requestContext"]["http"]["method"] = json!("GET");
    event["body"] = Value::Null;
    let response = invoke(&router, &event).await;
    assert_eq!(response["statusCode"], 429);
    assert_eq!(response["headers"]["retry-after"], "2");

    // An error without a hint says nothing of retrying.
    let reply = send(client().get(format!("{base}/nowhere"))).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.header("retry-after"), None);
}
