//! `division` over HTTP: on Lambda behind API Gateway, a function URL or an ALB; or
//! locally with `cargo run --bin division-http` and
//! `curl 'http://127.0.0.1:3000/division?numerator=14&denominator=7'`.

use fabric::prelude::*;
use fabric_examples::division::division;

#[tokio::main]
async fn main() -> Result<(), fabric::BoxError> {
    fabric::run(fabric_http(division)).await
}
