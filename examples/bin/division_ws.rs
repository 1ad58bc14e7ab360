//! The division service on an API Gateway WebSocket API: the local gateway off
//! Lambda (`cargo run --bin division-ws`), API Gateway events on Lambda. Results are
//! posted back to the caller (`reply(true)`), so any client sees them.

use fabric::prelude::*;
use fabric_examples::division::division;

#[tokio::main]
async fn main() -> Result<(), fabric::BoxError> {
    fabric::run(fabric_websocket(division).reply(true)).await
}
