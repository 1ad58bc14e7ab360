//! One `tools/call` of the division service through `fabric_mcp`'s streamable HTTP
//! endpoint on Lambda, event JSON in, response JSON out — next to the same division
//! through `fabric_http` (a POST with the same JSON input) and through
//! `Tools::call` (an Anthropic tool call, no HTTP), measured in the same run: what
//! the MCP protocol layer (rmcp's stateless exchange: a server per request, JSON-RPC
//! in and out) costs over Fabric's own pipeline.
//!
//! Run with `cargo bench -p fabric --features mcp --bench mcp`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use fabric::prelude::*;
use fabric::tools::{Format, Tools};

// The example's service itself: benches cannot depend on the examples package.
#[path = "../../examples/division.rs"]
#[allow(
    unreachable_pub,
    reason = "the example's items are public in its own crate"
)]
mod example;

use example::division;

const EVENT: &str = include_str!("fixtures/apigw-v2-division.json");

/// The HTTP API event, as a POST of `body` to `path`.
fn post(path: &str, body: &str) -> String {
    let mut event: Value = serde_json::from_str(EVENT).unwrap();
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!("");
    event["requestContext"]["http"]["method"] = json!("POST");
    event["requestContext"]["http"]["path"] = json!(path);
    event["headers"]["content-type"] = json!("application/json");
    event["headers"]["accept"] = json!("application/json, text/event-stream");
    event["body"] = json!(body);
    event.to_string()
}

fn tools_call(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let arguments = json!({"numerator": "14", "denominator": 7});

    let mcp = fabric_mcp(division).router();
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "division", "arguments": arguments}});
    let mcp_event = post("/mcp", &call.to_string());
    let answer = runtime.block_on(mcp.invoke_lambda(&mcp_event)).unwrap();
    assert!(
        answer.contains(r#"\"structuredContent\":{\"result\":2.0}"#),
        "{answer}"
    );

    let http = fabric_http(division);
    let http_event = post("/division", &arguments.to_string());
    let answer = runtime.block_on(http.invoke_lambda(&http_event)).unwrap();
    assert!(answer.contains(r#"{\"data\":2.0}"#), "{answer}");

    let tools = Tools::new().service(division);
    let tool_use =
        json!({"type": "tool_use", "id": "toolu_1", "name": "division", "input": arguments});
    let ctx = || Context::builder("bench").build();
    let answer = runtime
        .block_on(tools.call(Format::Anthropic, &tool_use, ctx()))
        .unwrap();
    assert_eq!(answer["content"], r#"{"result":2.0}"#);

    c.bench_function("mcp/tools_call_on_lambda", |b| {
        b.iter(|| {
            runtime
                .block_on(mcp.invoke_lambda(black_box(&mcp_event)))
                .unwrap()
        })
    });
    c.bench_function("mcp/reference_http_post_on_lambda", |b| {
        b.iter(|| {
            runtime
                .block_on(http.invoke_lambda(black_box(&http_event)))
                .unwrap()
        })
    });
    c.bench_function("mcp/reference_anthropic_tool_call", |b| {
        b.iter(|| {
            runtime
                .block_on(tools.call(Format::Anthropic, black_box(&tool_use), ctx()))
                .unwrap()
        })
    });
}

criterion_group!(benches, tools_call);
criterion_main!(benches);
