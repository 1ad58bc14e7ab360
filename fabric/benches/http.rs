//! `fabric_http` end to end on an API Gateway HTTP API (v2) event, as the Lambda
//! runtime hands it over: event JSON → `http::Request` → route → coerce and validate
//! → the division service → response → response JSON. Target: under 3 µs per event.
//!
//! The event is the `example-apigw-v2-request-no-authorizer.json` fixture with its
//! path and query set to `/division?numerator=14&denominator=7`.
//!
//! Run with `cargo bench -p fabric --bench http`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use fabric::prelude::*;
use futures_util::FutureExt;

// The example's service itself: benches cannot depend on the examples package.
#[path = "../../examples/division.rs"]
mod example;

use example::division;

const EVENT: &str = include_str!("fixtures/apigw-v2-division.json");

fn http_api_event(c: &mut Criterion) {
    let router = fabric_http(division);
    let response = router
        .invoke_lambda(EVENT)
        .now_or_never()
        .expect("nothing waits")
        .unwrap();
    assert!(response.contains(r#""statusCode":200"#), "{response}");
    assert!(response.contains(r#"{\"data\":2.0}"#), "{response}");

    c.bench_function("http/apigw_v2_division", |b| {
        b.iter(|| {
            router
                .invoke_lambda(black_box(EVENT))
                .now_or_never()
                .unwrap()
                .unwrap()
        })
    });
    // Reference points, to compare in the same run on a noisy machine: reading the
    // event into `aws_lambda_events`' type, `lambda_http`'s generic reading (REST
    // first, then HTTP API), a bare JSON skip over the event, and the service core.
    c.bench_function("http/apigw_v2_event_deserialize_only", |b| {
        b.iter(|| {
            serde_json::from_str::<lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest>(
                black_box(EVENT),
            )
            .unwrap()
        })
    });
    c.bench_function("http/json_skip_only", |b| {
        b.iter(|| serde_json::from_str::<serde::de::IgnoredAny>(black_box(EVENT)).unwrap())
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
        b.iter(|| lambda_http::request::from_str(black_box(EVENT)).unwrap())
    });
}

criterion_group!(benches, http_api_event);
criterion_main!(benches);
