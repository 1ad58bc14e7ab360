//! Metrics on every transport: counts per invocation off Lambda, read from the
//! `--verbose` (debug) log line each invocation ends with, and the EMF documents
//! themselves, written to a test writer in process and to stdout by real binaries
//! on the Lambda Runtime API stand-in. Every document goes through
//! `support::emf`'s check (CloudWatch's rules) as it is read and when its capture
//! is dropped.

mod support;

use std::sync::Arc;

use fabric::prelude::*;
use fabric::testing::{HttpEvent, RecordingManagementApi, WebSocketEvent};
use support::emf::{total, with};
use support::lambda_runtime::{LambdaRuntime, Outcome};
use support::logs::CapturedLogs;

#[derive(Deserialize, Input)]
struct Shout {
    text: String,
}

#[fabric_service]
async fn shout(input: Shout, ctx: Context) -> Result<(), Error> {
    ctx.metrics().add("Shouts", 1.0);
    let ws = ctx
        .websocket()
        .ok_or_else(|| Error::internal_message("not a WebSocket call"))?;
    ws.broadcast(["c1", "gone"], json!({ "shout": input.text }))
        .await?;
    Ok(())
}

/// The sum of each metric's values over every `metrics` line.
fn totals(logs: &str) -> (usize, std::collections::BTreeMap<String, f64>) {
    let mut totals = std::collections::BTreeMap::new();
    let lines: Vec<&str> = logs
        .lines()
        .filter(|line| line.contains(" metrics metrics="))
        .collect();
    for line in &lines {
        for token in line.split_whitespace().filter(|t| t.contains('=')) {
            let token = token.trim_start_matches("metrics=");
            let Some((name, values)) = token.split_once('=') else {
                continue;
            };
            let sum: f64 = values
                .split(',')
                .filter_map(|v| v.parse::<f64>().ok())
                .sum();
            *totals.entry(name.to_owned()).or_insert(0.0) += sum;
        }
    }
    (lines.len(), totals)
}

#[tokio::test(flavor = "current_thread")]
async fn each_event_counts_once_with_posts_gone_posts_and_broadcast_sizes() {
    let (captured, _guard) = CapturedLogs::at_debug();

    let api = Arc::new(RecordingManagementApi::new());
    api.mark_gone("gone");
    let emf = CapturedLogs::default();
    let adapter = fabric_websocket(shout)
        .management_api(api.clone())
        .metrics("FabricTest")
        .metrics_writer(emf.clone());
    assert_eq!(
        adapter
            .handle(WebSocketEvent::connect("c1").to_request())
            .await
            .status_code,
        200
    );
    for n in 0..3 {
        let event = WebSocketEvent::message("c1", format!(r#"{{"text":"hi {n}"}}"#));
        assert_eq!(adapter.handle(event.to_request()).await.status_code, 200);
    }
    let invalid = adapter
        .handle(WebSocketEvent::message("c1", r#"{"txet": "typo"}"#).to_request())
        .await;
    assert_eq!(invalid.status_code, 400);
    adapter
        .handle(WebSocketEvent::disconnect("c1", 1000, "bye").to_request())
        .await;

    let logs = captured.text();
    let (lines, totals) = totals(&logs);
    assert_eq!(lines, 6, "one metrics line per event:\n{logs}");
    let total = |name: &str| totals.get(name).copied().unwrap_or(0.0);
    assert_eq!(total("Invocations"), 6.0, "{totals:?}");
    assert_eq!(total("Errors4xx"), 1.0, "{totals:?}");
    assert_eq!(total("Errors5xx"), 0.0, "{totals:?}");
    assert_eq!(total("ValidationFailures"), 1.0, "{totals:?}");
    assert_eq!(total("ConnectionsOpened"), 1.0, "{totals:?}");
    assert_eq!(total("ConnectionsClosed"), 1.0, "{totals:?}");
    assert!(
        total("ColdStart") <= 1.0,
        "only the first invocation of the process (which may be another test's): {totals:?}"
    );
    assert_eq!(
        total("Shouts"),
        3.0,
        "custom metrics through ctx.metrics(): {totals:?}"
    );
    assert_eq!(
        total("BroadcastSize"),
        6.0,
        "three broadcasts to two connections: {totals:?}"
    );
    assert_eq!(total("PostsGone"), 3.0, "{totals:?}");
    let posted = api.posts_to("c1").len() as f64;
    assert_eq!(
        total("MessagesPosted"),
        posted,
        "every post that reached c1: {totals:?}"
    );
    assert!(
        logs.contains("route=") || logs.contains("$default"),
        "{logs}"
    );
    let documents = emf.emf();
    assert_eq!(documents.len(), 6, "one EMF document per event");
    assert_eq!(support::emf::total(&documents, "Shouts"), 3.0);
    assert!(documents.iter().all(|d| d["transport"] == "websocket"));
}

#[derive(Deserialize, Input)]
struct Many {
    count: u32,
}

/// A service with metrics of its own: `count` of them, named `m000`, `m001`, ...
#[fabric_service(alias = "many")]
async fn many(input: Many, ctx: Context) -> Result<u32, Error> {
    let metrics = ctx.metrics();
    for n in 0..input.count {
        metrics.add(format!("m{n:03}"), f64::from(n));
    }
    Ok(input.count)
}

fn http_event(path: &str, count: &str) -> String {
    HttpEvent::http_api("GET", path)
        .query("count", count)
        .to_json()
        .to_string()
}

#[tokio::test]
async fn http_lambda_events_count_per_route_and_a_services_150_metrics_split() {
    let emf = CapturedLogs::default();
    let router = fabric_http(many)
        .metrics("FabricTest")
        .metrics_writer(emf.clone());
    router.settings().ready().await.unwrap();
    let status = |response: String| {
        serde_json::from_str::<Value>(&response).unwrap()["statusCode"]
            .as_u64()
            .unwrap()
    };
    let answer = router.invoke_lambda(&http_event("/many", "150")).await;
    assert_eq!(status(answer.unwrap()), 200);
    for _ in 0..2 {
        let answer = router.invoke_lambda(&http_event("/many", "1")).await;
        assert_eq!(status(answer.unwrap()), 200);
    }
    let invalid = router.invoke_lambda(&http_event("/many", "lots")).await;
    assert!((400..500).contains(&status(invalid.unwrap())));
    let nowhere = router.invoke_lambda(&http_event("/nowhere", "1")).await;
    assert_eq!(status(nowhere.unwrap()), 404);

    let documents = emf.emf();
    let routed = with(&documents, "route", "GET /many");
    assert_eq!(total(&routed, "Invocations"), 4.0, "{documents:?}");
    assert_eq!(total(&routed, "Errors4xx"), 1.0);
    assert_eq!(total(&routed, "ValidationFailures"), 1.0);
    assert_eq!(total(&routed, "Errors5xx"), 0.0);
    assert!(
        routed
            .iter()
            .all(|d| d["service"] == "many" && d["transport"] == "http")
    );
    assert!(routed.iter().all(|d| d["requestId"].is_string()));
    let unmatched = with(&documents, "route", "unmatched");
    assert_eq!(total(&unmatched, "Invocations"), 1.0, "{documents:?}");
    assert_eq!(total(&unmatched, "Errors4xx"), 1.0);
    assert_eq!(total(&unmatched, "ValidationFailures"), 0.0);

    // The first invocation: 150 of the service's metrics and the 2 every
    // invocation has (3 when it is also the process's cold one, which depends on
    // the order tests run in), split at 100 per document, each metric in exactly
    // one.
    assert_eq!(
        documents.len(),
        6,
        "two for the first invocation, one each after"
    );
    let first: Vec<&Value> = documents[..2].iter().collect();
    assert_eq!(first.len(), 2, "152 or 153 metrics make two documents");
    let mut names: Vec<String> = first
        .iter()
        .flat_map(|d| {
            d["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["Name"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    let defined = names.len();
    names.sort();
    names.dedup();
    assert_eq!(defined, names.len(), "no metric twice");
    names.retain(|name| name != "ColdStart");
    assert_eq!(names.len(), 152, "{names:?}");
    assert!(first.iter().all(|d| d["route"] == "GET /many"));
    let values: f64 = first.iter().map(|d| total(&[(*d).clone()], "m149")).sum();
    assert_eq!(values, 149.0);
}

#[tokio::test]
async fn cli_commands_count_once_each_and_keep_emf_off_stdout() {
    let emf = CapturedLogs::default();
    let cli = fabric_cli(many)
        .metrics("FabricTest")
        .metrics_writer(emf.clone());
    assert_eq!(cli.run_from(["many", "--count", "2"]).await, 0);
    assert_eq!(cli.run_from(["many", "--count", "3"]).await, 0);
    assert_eq!(cli.run_from(["many", "--count", "three"]).await, 2);
    assert_eq!(cli.run_from(["many", "--nope"]).await, 2, "a usage error");

    let documents = emf.emf();
    assert_eq!(
        documents.len(),
        3,
        "one per command that ran: {documents:?}"
    );
    assert_eq!(total(&documents, "Invocations"), 3.0);
    assert_eq!(total(&documents, "Errors4xx"), 1.0);
    assert_eq!(total(&documents, "ValidationFailures"), 1.0);
    assert_eq!(total(&documents, "m001"), 2.0, "ctx.metrics() on the CLI");
    assert!(
        documents
            .iter()
            .all(|d| d["transport"] == "cli" && d["service"] == "many")
    );
    assert!(documents.iter().all(|d| d.get("route").is_none()));
}

#[tokio::test(flavor = "current_thread")]
async fn cli_verbose_shows_the_metrics_readably_on_the_log() {
    let (captured, _guard) = CapturedLogs::at_debug();
    let cli = fabric_cli(many).metrics("FabricTest");
    assert_eq!(cli.run_from(["many", "--count", "1", "--verbose"]).await, 0);
    let logs = captured.text();
    assert!(logs.contains("Invocations=1 Count"), "{logs}");
    assert!(logs.contains("m000=0 Count"), "{logs}");
    assert!(!logs.contains("_aws"), "readable, not EMF: {logs}");
}

const DIVISION_HTTP: &str = env!("CARGO_BIN_EXE_division-http");
const DIVISION_MCP: &str = env!("CARGO_BIN_EXE_division-mcp");

fn response_status(outcome: Outcome) -> u64 {
    match outcome {
        Outcome::Response(response) => response["statusCode"].as_u64().unwrap(),
        Outcome::Streamed { prelude, .. } => prelude["statusCode"].as_u64().unwrap(),
        other => panic!("no response: {other:?}"),
    }
}

/// Waits until the function has written `count` EMF documents.
async fn emf_documents(function: &support::lambda_runtime::Function, count: usize) -> Vec<Value> {
    for _ in 0..500 {
        let documents = function.emf();
        if documents.len() >= count {
            return documents;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("fewer than {count} EMF documents: {:?}", function.emf())
}

#[tokio::test]
async fn an_http_function_on_lambda_writes_one_emf_document_per_invocation_on_stdout() {
    let runtime = LambdaRuntime::start().await;
    let function = runtime.spawn_function(
        DIVISION_HTTP,
        &[("FABRIC_METRICS_NAMESPACE", "FabricLambda")],
    );
    let event = |query: &[(&str, &str)]| {
        let mut event = HttpEvent::http_api("GET", "/division");
        for (name, value) in query {
            event = event.query(name, value);
        }
        event.to_json().to_string()
    };
    let ids = [
        runtime.invoke(&event(&[("numerator", "14"), ("denominator", "7")])),
        runtime.invoke(&event(&[])),
        runtime.invoke(&event(&[("denominator", "0")])),
        runtime.invoke(&event(&[("denominator", "zero")])),
    ];
    let mut statuses = Vec::new();
    for id in &ids {
        statuses.push(response_status(runtime.outcome(id).await));
    }
    assert_eq!(statuses[..2], [200, 200]);
    assert!(
        statuses[2..].iter().all(|s| (400..500).contains(s)),
        "{statuses:?}"
    );

    let documents = emf_documents(&function, 4).await;
    assert_eq!(documents.len(), 4, "once per invocation: {documents:?}");
    for document in &documents {
        assert!(document["requestId"].is_string(), "a property: {document}");
        assert_eq!(document["service"], "division");
        assert_eq!(document["transport"], "http");
        assert_eq!(document["route"], "GET /division");
        assert_eq!(
            document["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "FabricLambda"
        );
    }
    assert_eq!(total(&documents, "Invocations"), 4.0);
    assert_eq!(total(&documents, "Errors4xx"), 2.0);
    assert_eq!(total(&documents, "ValidationFailures"), 2.0);
    let cold: Vec<Option<f64>> = documents.iter().map(|d| d["ColdStart"].as_f64()).collect();
    assert_eq!(
        cold,
        [Some(1.0), None, None, None],
        "a cold start once per process, absent from warm invocations"
    );
}

fn mcp_event(message: Value) -> String {
    HttpEvent::function_url("POST", "/mcp")
        .header("accept", "application/json, text/event-stream")
        .json_body(&message)
        .to_json()
        .to_string()
}

#[tokio::test]
async fn an_mcp_function_on_lambda_counts_each_tool_call() {
    let runtime = LambdaRuntime::start().await;
    let function = runtime.spawn_function(
        DIVISION_MCP,
        &[("FABRIC_METRICS_NAMESPACE", "FabricLambda")],
    );
    let call = |id: u64, arguments: Value| {
        mcp_event(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "division", "arguments": arguments}}))
    };
    let ids = [
        runtime.invoke(&mcp_event(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
        )),
        runtime.invoke(&call(2, json!({"numerator": 14, "denominator": 7}))),
        runtime.invoke(&call(3, json!({"denominator": 0}))),
        runtime.invoke(&call(4, json!({}))),
    ];
    for id in &ids {
        assert_eq!(
            response_status(runtime.outcome(id).await),
            200,
            "{}",
            function.logs()
        );
    }
    let documents = emf_documents(&function, 3).await;
    assert_eq!(
        documents.len(),
        3,
        "one per tool call, none for tools/list: {documents:?}"
    );
    assert!(
        documents
            .iter()
            .all(|d| d["service"] == "division" && d["transport"] == "mcp")
    );
    assert_eq!(total(&documents, "Invocations"), 3.0);
    assert_eq!(total(&documents, "Errors4xx"), 1.0);
    assert_eq!(total(&documents, "ValidationFailures"), 1.0);
    let cold: Vec<Option<f64>> = documents.iter().map(|d| d["ColdStart"].as_f64()).collect();
    assert_eq!(
        cold,
        [Some(1.0), None, None],
        "the first counted invocation is the cold one"
    );
}
