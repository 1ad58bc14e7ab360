//! `bare-lambda`: the smallest `lambda_runtime` function, the floor `coldstart`
//! compares Fabric's functions with. It answers every event with status 200.
//!
//! `target/release/coldstart target/release/bare-lambda target/release/chat`

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_event: LambdaEvent<Value>| async {
        Ok::<Value, Error>(json!({ "statusCode": 200 }))
    }))
    .await
}
