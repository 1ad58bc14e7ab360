//! Creates the DynamoDB tables of the connection store, with their indexes and TTL,
//! for a local DynamoDB (or a development account):
//!
//! ```sh
//! FABRIC_CONNECTIONS_TABLE=chat-connections AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000 \
//!     cargo run --bin create-tables
//! ```
//!
//! Tables that already exist are left as they are.

use fabric::store::DynamoDbStore;

#[tokio::main]
async fn main() -> Result<(), fabric::BoxError> {
    fabric::logging::init();
    let store = DynamoDbStore::from_env()?;
    store.create_tables().await?;
    println!(
        "tables ready: {} (connections), {} (rooms)",
        store.table(),
        store.rooms_table()
    );
    Ok(())
}
