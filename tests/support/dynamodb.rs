//! The DynamoDB-compatible server the store tests run against (moto, started by
//! `.ci/run`): found at `FABRIC_TEST_DYNAMODB_ENDPOINT`, default
//! `http://127.0.0.1:8000`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fabric::store::DynamoDbStore;

/// The endpoint the tests use.
pub(crate) fn endpoint() -> String {
    std::env::var("FABRIC_TEST_DYNAMODB_ENDPOINT")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "http://127.0.0.1:8000".to_owned())
}

/// The endpoint of the local server, or `None`, with a message saying why, when no
/// server answers and `CI` is unset; on CI a missing server fails the test.
pub(crate) async fn server(test: &str) -> Option<String> {
    let endpoint = endpoint();
    let address = endpoint
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let reachable = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::TcpStream::connect(&address),
    )
    .await
    .is_ok_and(|connected| connected.is_ok());
    if !reachable {
        if std::env::var_os("CI").is_some() {
            panic!(
                "no DynamoDB-compatible server at {endpoint}: on CI the DynamoDB store tests must run (.ci/run starts moto)"
            );
        }
        eprintln!(
            "SKIPPED {test}: no DynamoDB-compatible server at {endpoint} (start one with `moto_server -p 8000`, or set FABRIC_TEST_DYNAMODB_ENDPOINT)"
        );
        return None;
    }
    Some(endpoint)
}

/// A table name no other test uses.
pub(crate) fn unique_table(test: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "fabric-{test}-{}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// A store on two new tables named after `test`, created on the local server
/// (`None` when [`server`] is).
pub(crate) async fn store(test: &str) -> Option<DynamoDbStore> {
    let endpoint = server(test).await?;
    let table = unique_table(test);
    let client = DynamoDbStore::sdk_client(Some(&endpoint));
    let store = DynamoDbStore::new(client, &table, format!("{table}-rooms"));
    store
        .create_tables()
        .await
        .unwrap_or_else(|err| panic!("create the tables at {endpoint}: {err}"));
    Some(store)
}

/// Creates the table `name` on the local DynamoDB exactly as the template declares
/// its resource `resource` (`ChatConnectionsTable`).
pub(crate) async fn create_table_from_template(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    template: &serde_json::Value,
    resource: &str,
) {
    let properties = &template["Resources"][resource]["Properties"];
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType,
    };
    let keys = |schema: &serde_json::Value| -> Vec<KeySchemaElement> {
        schema
            .as_array()
            .unwrap()
            .iter()
            .map(|key| {
                KeySchemaElement::builder()
                    .attribute_name(key["AttributeName"].as_str().unwrap())
                    .key_type(KeyType::from(key["KeyType"].as_str().unwrap()))
                    .build()
                    .unwrap()
            })
            .collect()
    };
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(keys(&properties["KeySchema"])));
    for attribute in properties["AttributeDefinitions"].as_array().unwrap() {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attribute["AttributeName"].as_str().unwrap())
                .attribute_type(ScalarAttributeType::from(
                    attribute["AttributeType"].as_str().unwrap(),
                ))
                .build()
                .unwrap(),
        );
    }
    for index in properties["GlobalSecondaryIndexes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let mut projection = Projection::builder().projection_type(ProjectionType::from(
            index["Projection"]["ProjectionType"].as_str().unwrap(),
        ));
        for attribute in index["Projection"]["NonKeyAttributes"]
            .as_array()
            .into_iter()
            .flatten()
        {
            projection = projection.non_key_attributes(attribute.as_str().unwrap());
        }
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index["IndexName"].as_str().unwrap())
                .set_key_schema(Some(keys(&index["KeySchema"])))
                .projection(projection.build())
                .build()
                .unwrap(),
        );
    }
    request
        .send()
        .await
        .unwrap_or_else(|err| panic!("create {name}: {err:?}"));
}
