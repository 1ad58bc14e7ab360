//! `greet` behind a Lambda function URL that streams: each greeting reaches a client
//! that sends `Accept: application/x-ndjson` as it is made, the result last.
//! `--print-template` writes the function URL with `InvokeMode: RESPONSE_STREAM`;
//! locally, `cargo run --bin greet-url` and
//! `curl -H 'accept: application/x-ndjson' 'http://127.0.0.1:3000/greet?name=Ada&also=Grace'`.

use fabric::prelude::*;
use fabric_examples::greet::greet;

#[tokio::main]
async fn main() -> Result<(), fabric::BoxError> {
    fabric::run(fabric_http(greet).lambda_streaming(true)).await
}
