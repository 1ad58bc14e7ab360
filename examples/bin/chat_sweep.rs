//! The chat API's stale-connection sweep: on Lambda, run by its EventBridge
//! schedule; off Lambda, one run against `FABRIC_CONNECTIONS_TABLE` (or an empty
//! in-memory store) and `FABRIC_MANAGEMENT_ENDPOINT`, its report on stdout.

#[tokio::main]
async fn main() -> Result<(), fabric::BoxError> {
    let store = fabric::store::from_env()?;
    fabric::run(fabric::websocket::Sweep::new(store)).await
}
