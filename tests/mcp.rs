//! The MCP transport as clients meet it: the official Python SDK's client (`mcp`
//! on PyPI, which `.ci/run` installs) against the real `division-mcp` binary over
//! stdio and over streamable HTTP; the binary on Lambda's Runtime API answering
//! function URL events; the HTTP rules a stateless server keeps; and JSON-RPC lines
//! written by hand against a server in this process, for what no example serves
//! (a panicking tool, shared state, a failed setup).

mod support;

use std::process::Command;
use std::time::Duration;

use fabric::mcp::fabric_mcp;
use fabric::prelude::*;
use fabric_examples::division::division;
use fabric_examples::echo::{boom, echo};
use fabric_examples::greet::greet;
use serde_json::{Value, json};
use support::lambda_runtime::{LambdaRuntime, Outcome};
use support::process::{exit_of, free_port, interrupt, spawn_binary};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const BINARY: &str = env!("CARGO_BIN_EXE_division-mcp");

/// A Python with the `mcp` package: `python3` on PATH (`.ci/run` puts its venv
/// first). Under CI a missing one fails the test; elsewhere it is skipped.
fn python_with_mcp() -> Option<Command> {
    let found = Command::new("python3")
        .args(["-c", "import mcp"])
        .output()
        .is_ok_and(|output| output.status.success());
    match found {
        true => Some(Command::new("python3")),
        false if std::env::var_os("CI").is_some() => {
            panic!("python3 cannot import `mcp`; .ci/run installs it")
        }
        false => {
            eprintln!("skipping: python3 cannot import `mcp` (pip install mcp)");
            None
        }
    }
}

/// Runs the Python client against `target`; its reports, one per protocol era.
async fn python_client(mut python: Command, kind: &str, target: &str) -> Vec<Value> {
    let script = format!(
        "{}/../tests/support/mcp_client.py",
        env!("CARGO_MANIFEST_DIR")
    );
    python.args([&script, kind, target]);
    let output = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::task::spawn_blocking(move || python.output().unwrap()),
    )
    .await
    .expect("the Python client finishes within 2 minutes")
    .unwrap();
    assert!(
        output.status.success(),
        "the Python client failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "not a report: {err}\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// What every connection of the Python client must have seen. `sessions`: whether
/// the transport remembers a `logging/setLevel` (stdio does; stateless HTTP keeps
/// nothing between requests, so only requests that carry their log level get logs).
fn check_report(report: &Value, sessions: bool) {
    let mode = &report["mode"];
    assert_eq!(report["serverInfo"]["name"], "division", "{mode}");
    let tools = report["tools"].as_array().unwrap();
    let tool = |name: &str| {
        tools
            .iter()
            .find(|tool| tool["name"] == name)
            .unwrap_or_else(|| panic!("{mode}: no tool {name} in {tools:?}"))
    };
    let listed = tool("division");
    assert_eq!(listed["inputSchema"], division.input_schema(), "{mode}");
    assert_eq!(listed["description"], "Divide two numbers");
    assert_eq!(
        listed["outputSchema"],
        json!({"type": "object", "properties": {"result": {"type": "number"}}, "required": ["result"]})
    );
    assert_eq!(listed["annotations"]["readOnlyHint"], true);
    assert_eq!(tool("greet")["inputSchema"], greet.input_schema());

    // `"14"` is coerced to 14, as on every transport; the client checked the
    // structured result against the output schema.
    let coerced = &report["coerced"];
    assert_eq!(
        coerced["structuredContent"],
        json!({"result": 2.0}),
        "{mode}"
    );
    assert_eq!(coerced["content"][0]["text"], r#"{"result":2.0}"#);
    assert_ne!(coerced["isError"], true);

    let zero = &report["zero"];
    assert_eq!(zero["isError"], true, "{mode}: {zero}");
    let text = zero["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains(r#"Validation failed for field \"denominator\": must not be zero"#),
        "{text}"
    );
    assert_eq!(
        zero["structuredContent"]["errors"][0]["source"]["pointer"],
        "/denominator"
    );
    let missing = &report["missing"];
    assert_eq!(missing["isError"], true);
    assert_eq!(
        missing["structuredContent"]["errors"][0]["detail"],
        r#"Missing required field "name""#
    );

    assert_eq!(
        report["greet"]["structuredContent"],
        json!({"result": ["Hello, Ada!", "Hello, Grace!"]})
    );
    // Each greeting the service sent is a progress notification, and a log line
    // for the client that asked for logs.
    let progress: Vec<&Value> = report["progress"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["message"])
        .collect();
    assert_eq!(
        progress,
        [
            r#"{"greeting":"Hello, Ada!"}"#,
            r#"{"greeting":"Hello, Grace!"}"#
        ],
        "{mode}"
    );
    let logs = report["logs"].as_array().unwrap();
    if sessions || *mode != "legacy" {
        assert_eq!(logs.len(), 2, "{mode}: {logs:?}");
        assert_eq!(logs[0]["data"], json!({"greeting": "Hello, Ada!"}));
        assert_eq!(logs[0]["logger"], "greet");
    } else {
        assert!(logs.is_empty(), "{mode}: {logs:?}");
    }
    let unknown = report["unknown"].as_str().unwrap();
    assert!(unknown.contains("No tool named `nonesuch`"), "{unknown}");
}

#[tokio::test]
async fn the_python_client_uses_the_tools_over_stdio() {
    let Some(python) = python_with_mcp() else {
        return;
    };
    let reports = python_client(python, "stdio", BINARY).await;
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[1]["protocolVersion"], "2025-11-25");
    for report in &reports {
        check_report(report, true);
    }
}

/// `division-mcp --http` on a free port, once its ready line is out.
fn start_http() -> (
    std::process::Child,
    String,
    std::sync::mpsc::Receiver<String>,
) {
    let port = free_port();
    let (child, lines) = spawn_binary(BINARY, port, &["--http"], &[]);
    let ready = format!("Serving HTTP on http://127.0.0.1:{port}");
    loop {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .expect("a ready line within 30 s");
        if line.starts_with(&ready) {
            break;
        }
    }
    (child, format!("127.0.0.1:{port}"), lines)
}

#[tokio::test]
async fn the_python_client_uses_the_tools_over_streamable_http() {
    let Some(python) = python_with_mcp() else {
        return;
    };
    let (child, address, _lines) = start_http();
    let reports = python_client(python, "http", &format!("http://{address}/mcp")).await;
    for report in &reports {
        check_report(report, false);
    }
    interrupt(&child);
    assert!(exit_of(child).await.success());
}

/// One raw HTTP/1.1 exchange, so that every header (`Host` too) is as written.
async fn raw_http(address: &str, request: &str) -> (u16, String, String) {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer)
        .await
        .unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

fn post(host: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{extra_headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

const BOTH: &str =
    "Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n";
const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#;

#[tokio::test]
async fn the_http_endpoint_answers_as_a_stateless_server_must() {
    let (child, address, _lines) = start_http();

    // A call is one JSON response; no session is made.
    let call = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"division","arguments":{"numerator":"9","denominator":"3"}}}"#;
    let (status, head, body) = raw_http(&address, &post(&address, BOTH, call)).await;
    assert_eq!(status, 200, "{head}{body}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert!(!head.contains("mcp-session-id"), "{head}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["id"], 7);
    assert_eq!(
        answer["result"]["structuredContent"],
        json!({"result": 3.0})
    );

    // No server-sent event stream, no session to end.
    for method in ["GET", "DELETE"] {
        let request = format!(
            "{method} /mcp HTTP/1.1\r\nHost: {address}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n"
        );
        let (status, head, _) = raw_http(&address, &request).await;
        assert_eq!(status, 405, "{method}");
        assert!(head.contains("allow: post, options"), "{head}");
    }
    // A client must accept JSON and event streams, and send JSON.
    let json_only = "Accept: application/json\r\nContent-Type: application/json\r\n";
    assert_eq!(
        raw_http(&address, &post(&address, json_only, LIST)).await.0,
        406
    );
    let form = "Accept: application/json, text/event-stream\r\nContent-Type: text/plain\r\n";
    assert_eq!(raw_http(&address, &post(&address, form, LIST)).await.0, 415);
    // Not JSON at all: a JSON-RPC parse error, and the server goes on.
    let (status, _, body) = raw_http(&address, &post(&address, BOTH, "{not json")).await;
    assert_eq!(status, 400, "{body}");
    let parse_error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(parse_error["error"]["code"], -32700);
    assert_eq!(parse_error["id"], Value::Null);

    // A browser's preflight is answered, MCP's headers allowed.
    let preflight = format!(
        "OPTIONS /mcp HTTP/1.1\r\nHost: {address}\r\nOrigin: http://localhost:6274\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: mcp-protocol-version, content-type\r\nConnection: close\r\n\r\n"
    );
    let (status, head, _) = raw_http(&address, &preflight).await;
    assert_eq!(status, 204);
    assert!(
        head.contains("access-control-allow-methods: post"),
        "{head}"
    );
    assert!(head.contains("mcp-protocol-version"), "{head}");

    // DNS rebinding: a page elsewhere reaching the loopback server is refused.
    let (status, _, body) = raw_http(&address, &post("evil.example:80", BOTH, LIST)).await;
    assert_eq!(status, 403);
    assert!(
        body.contains("Host `evil.example:80` is not allowed"),
        "{body}"
    );
    let page = format!("{BOTH}Origin: https://evil.example\r\n");
    let (status, _, body) = raw_http(&address, &post(&address, &page, LIST)).await;
    assert_eq!(status, 403);
    assert!(body.contains(r#""status":403"#), "{body}");
    let local_page = format!("{BOTH}Origin: http://localhost:6274\r\n");
    assert_eq!(
        raw_http(&address, &post(&address, &local_page, LIST))
            .await
            .0,
        200
    );

    // Other paths are Fabric's 404.
    let request = format!("GET /other HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    assert_eq!(raw_http(&address, &request).await.0, 404);

    // Still serving after all of that.
    assert_eq!(raw_http(&address, &post(&address, BOTH, LIST)).await.0, 200);
    interrupt(&child);
    assert!(exit_of(child).await.success());
}

/// A function URL event (payload 2.0) carrying `body` to `/mcp`.
fn function_url_event(method: &str, headers: Value, body: Option<&str>) -> String {
    let mut event: Value = serde_json::from_str(&support::fixture(
        "apigw/example-apigw-v2-request-no-authorizer.json",
    ))
    .unwrap();
    event["rawPath"] = json!("/mcp");
    event["rawQueryString"] = json!("");
    event["routeKey"] = json!("$default");
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!("/mcp");
    event["requestContext"]["domainName"] = json!("abc123.lambda-url.eu-west-1.on.aws");
    event["headers"] = headers;
    event["headers"]["host"] = json!("abc123.lambda-url.eu-west-1.on.aws");
    event["body"] = body.map_or(Value::Null, |body| json!(body));
    event["isBase64Encoded"] = json!(false);
    event.to_string()
}

fn rpc_event(message: Value) -> String {
    function_url_event(
        "POST",
        json!({"accept": "application/json, text/event-stream", "content-type": "application/json"}),
        Some(&message.to_string()),
    )
}

fn streamed(outcome: Outcome) -> (Value, String) {
    match outcome {
        Outcome::Streamed { prelude, body } => (prelude, body),
        other => panic!("expected a streamed response, got {other:?}"),
    }
}

#[tokio::test]
async fn on_lambda_function_url_events_are_answered() {
    let runtime = LambdaRuntime::start().await;
    let mut function = runtime.spawn_function(BINARY, &[]);
    let events = [
        rpc_event(
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "lambda-test", "version": "1"}}}),
        ),
        rpc_event(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})),
        rpc_event(
            json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "division", "arguments": {"numerator": "14", "denominator": 7}}}),
        ),
        rpc_event(
            json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {
            "name": "division", "arguments": {"denominator": 0}}}),
        ),
        function_url_event("GET", json!({"accept": "text/event-stream"}), None),
        function_url_event(
            "OPTIONS",
            json!({"origin": "https://abc123.lambda-url.eu-west-1.on.aws", "access-control-request-method": "POST"}),
            None,
        ),
        function_url_event(
            "POST",
            json!({"accept": "application/json, text/event-stream", "content-type": "application/json",
                   "origin": "https://evil.example"}),
            Some(&json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list"}).to_string()),
        ),
    ];
    let ids: Vec<String> = events.iter().map(|event| runtime.invoke(event)).collect();
    let answer = |body: &str| -> Value { serde_json::from_str(body).unwrap() };

    let (prelude, body) = streamed(runtime.outcome(&ids[0]).await);
    assert_eq!(prelude["statusCode"], 200, "{body}");
    let initialized = answer(&body);
    assert_eq!(initialized["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(initialized["result"]["serverInfo"]["name"], "division");
    assert!(initialized["result"]["capabilities"]["tools"].is_object());

    let (_, body) = streamed(runtime.outcome(&ids[1]).await);
    let listed = answer(&body);
    let tools = listed["result"]["tools"].as_array().unwrap();
    assert_eq!(tools[0]["name"], "division");
    assert_eq!(tools[0]["inputSchema"], division.input_schema());

    let (_, body) = streamed(runtime.outcome(&ids[2]).await);
    assert_eq!(
        answer(&body)["result"]["structuredContent"],
        json!({"result": 2.0})
    );
    let (_, body) = streamed(runtime.outcome(&ids[3]).await);
    let failed = answer(&body);
    assert_eq!(failed["result"]["isError"], true);
    assert!(
        failed["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("denominator")
    );

    let (prelude, _) = streamed(runtime.outcome(&ids[4]).await);
    assert_eq!(prelude["statusCode"], 405);
    let (prelude, _) = streamed(runtime.outcome(&ids[5]).await);
    assert_eq!(prelude["statusCode"], 204);
    assert_eq!(prelude["headers"]["access-control-allow-origin"], "*");
    let (prelude, _) = streamed(runtime.outcome(&ids[6]).await);
    assert_eq!(prelude["statusCode"], 403);
    assert!(function.is_running(), "{}", function.logs());
}

/// A client writing JSON-RPC lines to a server in this process.
struct LineClient {
    writer: tokio::io::WriteHalf<tokio::io::DuplexStream>,
    lines: tokio::io::Lines<BufReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>>,
    notifications: Vec<Value>,
}

impl LineClient {
    async fn start(
        server: fabric::McpServer,
    ) -> (
        LineClient,
        tokio::task::JoinHandle<Result<(), fabric::BoxError>>,
    ) {
        let (client, server_end) = tokio::io::duplex(1 << 16);
        let (server_in, server_out) = tokio::io::split(server_end);
        let serving = tokio::spawn(server.serve_io(server_in, server_out));
        let (client_in, writer) = tokio::io::split(client);
        let mut client = LineClient {
            writer,
            lines: BufReader::new(client_in).lines(),
            notifications: Vec::new(),
        };
        let initialized = client
            .request(
                1,
                "initialize",
                json!({"protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "test", "version": "1"}}),
            )
            .await;
        assert_eq!(initialized["result"]["protocolVersion"], "2025-06-18");
        client
            .send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        (client, serving)
    }

    async fn send(&mut self, message: Value) {
        let mut line = message.to_string();
        line.push('\n');
        self.writer.write_all(line.as_bytes()).await.unwrap();
    }

    /// Sends a request and reads until its answer, keeping the notifications.
    async fn request(&mut self, id: u64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        loop {
            let line = tokio::time::timeout(Duration::from_secs(10), self.lines.next_line())
                .await
                .expect("an answer within 10 s")
                .unwrap()
                .expect("the server is still there");
            let message: Value = serde_json::from_str(&line).unwrap();
            if message["id"] == id {
                return message;
            }
            self.notifications.push(message);
        }
    }

    async fn call(&mut self, id: u64, tool: &str, arguments: Value) -> Value {
        self.request(
            id,
            "tools/call",
            json!({"name": tool, "arguments": arguments}),
        )
        .await["result"]
            .clone()
    }
}

#[tokio::test]
async fn a_panicking_tool_is_an_error_result_and_the_server_goes_on() {
    let (mut client, _serving) = LineClient::start(fabric_mcp(boom).tool(echo)).await;
    let crashed = client
        .call(2, "boom", json!({"text": "secret detail"}))
        .await;
    assert_eq!(crashed["isError"], true);
    assert_eq!(crashed["structuredContent"]["errors"][0]["status"], 500);
    let text = crashed["content"][0]["text"].as_str().unwrap();
    assert!(
        !text.contains("secret detail"),
        "5xx details are scrubbed: {text}"
    );
    // An object result is the structured content as it is.
    let echoed = client.call(3, "echo", json!({"text": "still here"})).await;
    assert_eq!(echoed["structuredContent"], json!({"text": "still here"}));
    assert_eq!(echoed["content"][0]["text"], r#"{"text":"still here"}"#);
}

#[tokio::test]
async fn tools_get_the_state_and_progress_goes_only_where_asked() {
    #[derive(Deserialize, Input)]
    struct Nothing {}

    struct Greeting(&'static str);

    #[fabric_service(alias = "hello", idempotent, destructive = false)]
    async fn hello(_input: Nothing, ctx: Context) -> Result<String, Error> {
        ctx.send_message("working").await?;
        Ok(ctx.state::<Greeting>()?.0.to_owned())
    }

    let server = fabric_mcp(hello).setup(|| async { Ok::<_, fabric::BoxError>(Greeting("hi")) });
    let (mut client, _serving) = LineClient::start(server).await;
    let listed = client.request(2, "tools/list", json!({})).await;
    assert_eq!(
        listed["result"]["tools"][0]["annotations"],
        json!({"idempotentHint": true, "destructiveHint": false})
    );
    let plain = client.call(3, "hello", json!({})).await;
    assert_eq!(plain["structuredContent"], json!({"result": "hi"}));
    assert!(
        client.notifications.is_empty(),
        "nobody asked: {:?}",
        client.notifications
    );

    let with_progress = client
        .request(
            4,
            "tools/call",
            json!({"name": "hello", "arguments": {}, "_meta": {"progressToken": "p1"}}),
        )
        .await;
    assert_eq!(
        with_progress["result"]["structuredContent"],
        json!({"result": "hi"})
    );
    assert_eq!(client.notifications.len(), 1, "{:?}", client.notifications);
    let progress = &client.notifications[0];
    assert_eq!(progress["method"], "notifications/progress");
    assert_eq!(
        progress["params"],
        json!({"progressToken": "p1", "progress": 1.0, "message": "\"working\""})
    );
}

#[tokio::test]
async fn a_switched_off_server_answers_503_and_a_failed_setup_fails_the_start() {
    let (mut client, _serving) = LineClient::start(fabric_mcp(division).unavailable(true)).await;
    let off = client.call(2, "division", json!({})).await;
    assert_eq!(off["isError"], true);
    assert_eq!(off["structuredContent"]["errors"][0]["status"], 503);

    let broken =
        fabric_mcp(division).setup(|| async { Err::<u8, fabric::BoxError>("no database".into()) });
    let (_client, server_end) = tokio::io::duplex(1024);
    let (server_in, server_out) = tokio::io::split(server_end);
    let err = broken.serve_io(server_in, server_out).await.unwrap_err();
    assert_eq!(err.to_string(), "no database");
}

#[tokio::test]
async fn every_example_service_is_listed_with_the_schema_it_validates_with() {
    let services: Vec<std::sync::Arc<dyn Service>> = vec![
        std::sync::Arc::new(division),
        std::sync::Arc::new(greet),
        std::sync::Arc::new(echo),
        std::sync::Arc::new(boom),
        std::sync::Arc::new(fabric_examples::chat::chat),
        std::sync::Arc::new(fabric_examples::chat_app::membership),
        std::sync::Arc::new(fabric_examples::chat_app::send_message),
    ];
    let tools = services
        .iter()
        .fold(fabric::tools::Tools::new(), |tools, service| {
            tools.shared_service(service.clone())
        });
    let (mut client, _serving) = LineClient::start(fabric_mcp(tools.clone())).await;
    let listed = client.request(2, "tools/list", json!({})).await;
    let listed = listed["result"]["tools"].as_array().unwrap().clone();
    assert_eq!(listed.len(), services.len());
    for (service, tool) in services.iter().zip(&listed) {
        assert_eq!(tool["name"], service.alias());
        assert_eq!(
            tool["inputSchema"],
            service.input_schema(),
            "{}",
            service.alias()
        );
        for format in [
            fabric::tools::Format::OpenAi,
            fabric::tools::Format::OpenAiResponses,
            fabric::tools::Format::Anthropic,
            fabric::tools::Format::Bedrock,
        ] {
            let definition = format.definition(&fabric::tools::Tool::of(service.as_ref()));
            let schema = definition
                .pointer("/function/parameters")
                .or_else(|| definition.get("parameters"))
                .or_else(|| definition.get("input_schema"))
                .or_else(|| definition.pointer("/toolSpec/inputSchema/json"))
                .unwrap();
            assert_eq!(
                schema,
                &service.input_schema(),
                "{format:?} {}",
                service.alias()
            );
        }
    }
}

#[tokio::test]
async fn behind_an_http_api_the_answer_is_buffered_json() {
    // An app's HTTP API routes POST /mcp to the function, which must not stream.
    let router = fabric_mcp(division).lambda_streaming(false).router();
    assert!(!router.streams_on_lambda());
    let mut event: Value = serde_json::from_str(&rpc_event(json!({
        "jsonrpc": "2.0", "id": 9, "method": "tools/call",
        "params": {"name": "division", "arguments": {"numerator": 1, "denominator": 8}}})))
    .unwrap();
    event["requestContext"]["domainName"] = json!("abc123.execute-api.eu-west-1.amazonaws.com");
    event["headers"]["host"] = json!("abc123.execute-api.eu-west-1.amazonaws.com");
    let response: Value =
        serde_json::from_str(&router.invoke_lambda(&event.to_string()).await.unwrap()).unwrap();
    assert_eq!(response["statusCode"], 200);
    assert_eq!(response["headers"]["content-type"], "application/json");
    let answer: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(answer["id"], 9);
    assert_eq!(
        answer["result"]["structuredContent"],
        json!({"result": 0.125})
    );
}
