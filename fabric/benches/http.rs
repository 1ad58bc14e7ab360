//! `fabric_http` end to end on an API Gateway HTTP API (v2) event, as the Lambda
//! runtime hands it over: event JSON → `http::Request` → route → coerce and validate
//! → the division service → response → response JSON. Target: under 3 µs per event.
//!
//! The event is the `example-apigw-v2-request-no-authorizer.json` fixture with its
//! path and query set to `/division?numerator=14&denominator=7`, in compact JSON as
//! API Gateway sends it; the fixture file is pretty-printed for people, and reading
//! that costs more (a reference bench below).
//!
//! Run with `cargo bench -p fabric --bench http`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use fabric::prelude::*;
use futures_util::FutureExt;

// The example's service itself: benches cannot depend on the examples package.
#[path = "../../examples/division.rs"]
#[allow(
    unreachable_pub,
    reason = "the example's items are public in its own crate"
)]
mod example;

use example::division;

const PRETTY_EVENT: &str = include_str!("fixtures/apigw-v2-division.json");

/// JSON text without the whitespace between tokens, keys kept in their order
/// (`serde_json::Value` would sort them, and API Gateway writes `version` first).
fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            (escaped, in_string) = (c == '\\' && !escaped, c != '"' || escaped);
        } else if c == '"' {
            in_string = true;
        } else if c.is_ascii_whitespace() {
            continue;
        }
        out.push(c);
    }
    out
}

fn http_api_event(c: &mut Criterion) {
    let router = fabric_http(division);
    let event = compact(PRETTY_EVENT);
    assert!(event.starts_with(r#"{"version":"2.0","#), "{event}");
    assert_eq!(
        serde_json::from_str::<Value>(&event).unwrap(),
        serde_json::from_str::<Value>(PRETTY_EVENT).unwrap()
    );
    for event in [event.as_str(), PRETTY_EVENT] {
        let response = router
            .invoke_lambda(event)
            .now_or_never()
            .expect("nothing waits")
            .unwrap();
        assert!(response.contains(r#""statusCode":200"#), "{response}");
        assert!(response.contains(r#"{\"data\":2.0}"#), "{response}");
    }

    c.bench_function("http/apigw_v2_division", |b| {
        b.iter(|| {
            router
                .invoke_lambda(black_box(&event))
                .now_or_never()
                .unwrap()
                .unwrap()
        })
    });
    // Reference points, to compare in the same run on a noisy machine: the same
    // event pretty-printed, reading the event into `aws_lambda_events`' type,
    // `lambda_http`'s generic reading (REST first, then HTTP API), a bare JSON skip
    // over the event, and the service core.
    c.bench_function("http/apigw_v2_division_pretty_printed", |b| {
        b.iter(|| {
            router
                .invoke_lambda(black_box(PRETTY_EVENT))
                .now_or_never()
                .unwrap()
                .unwrap()
        })
    });
    c.bench_function("http/apigw_v2_event_deserialize_only", |b| {
        b.iter(|| {
            serde_json::from_str::<lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest>(
                black_box(&event),
            )
            .unwrap()
        })
    });
    c.bench_function("http/json_skip_only", |b| {
        b.iter(|| serde_json::from_str::<serde::de::IgnoredAny>(black_box(&event)).unwrap())
    });
    c.bench_function("http/core_division", |b| {
        b.iter(|| {
            division
                .call(
                    json!({"numerator": "14", "denominator": "7"}),
                    Context::builder("r").build(),
                )
                .now_or_never()
                .unwrap()
                .unwrap()
                .data_envelope()
        })
    });
    c.bench_function("http/lambda_http_generic_deserialize", |b| {
        b.iter(|| lambda_http::request::from_str(black_box(&event)).unwrap())
    });
}

criterion_group!(benches, http_api_event);
criterion_main!(benches);
