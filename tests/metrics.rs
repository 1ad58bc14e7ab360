//! Metrics of a WebSocket adapter: counts per event off Lambda, read from the
//! `--verbose` (debug) log line each invocation ends with. The EMF documents
//! themselves are checked in `fabric::metrics`'s unit tests.

mod support;

use std::sync::Arc;

use fabric::prelude::*;
use fabric::testing::{RecordingManagementApi, WebSocketEvent};
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
    let captured = CapturedLogs::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let api = Arc::new(RecordingManagementApi::new());
    api.mark_gone("gone");
    let adapter = fabric_websocket(shout)
        .management_api(api.clone())
        .metrics("FabricTest");
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
    assert_eq!(
        total("ColdStart"),
        1.0,
        "only the first invocation of the process: {totals:?}"
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
}
