//! The connection store's DynamoDB tables in the template, from the same layout
//! `DynamoDbStore::create_tables` uses.

use serde_json::{Value, json};

use super::resource::{Resource, logical_id};
use super::template::Template;
use crate::store::layout::{
    ATTR_BUCKET, ATTR_EXPIRES_AT, CONNECTIONS, KeyRole, ROOMS, TableLayout,
};

impl Template {
    /// The app's two tables of `DynamoDbStore`; returns each table's environment
    /// variable and id.
    pub(super) fn connection_tables(&mut self, app: &str) -> [(&'static str, String); 2] {
        let key_schema = |keys: &[(&str, KeyRole)]| -> Vec<Value> {
            keys.iter()
                .map(|(attribute, role)| json!({ "AttributeName": attribute, "KeyType": role.as_str() }))
                .collect()
        };
        let table = |layout: &TableLayout| {
            let projection = match layout.index.includes {
                None => json!({ "ProjectionType": "ALL" }),
                Some(attributes) => {
                    json!({ "ProjectionType": "INCLUDE", "NonKeyAttributes": attributes })
                }
            };
            let attributes: Vec<Value> = layout
                .attributes
                .iter()
                .map(|(attribute, kind)| json!({ "AttributeName": attribute, "AttributeType": kind.as_str() }))
                .collect();
            Resource::new(
                "AWS::DynamoDB::Table",
                json!({
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": attributes,
                    "KeySchema": key_schema(layout.keys),
                    "GlobalSecondaryIndexes": [{
                        "IndexName": layout.index.name,
                        "KeySchema": key_schema(layout.index.keys),
                        "Projection": projection,
                    }],
                    "TimeToLiveSpecification": { "AttributeName": layout.ttl_attribute, "Enabled": true },
                }),
            )
        };
        let name = logical_id(app);
        let connections = format!("{name}ConnectionsTable");
        let rooms = format!("{name}RoomsTable");
        self.resource(connections.clone(), table(&CONNECTIONS));
        self.resource(rooms.clone(), table(&ROOMS));
        [
            ("FABRIC_CONNECTIONS_TABLE", connections),
            ("FABRIC_ROOMS_TABLE", rooms),
        ]
    }

    /// The app's table of rate limit buckets (`DynamoDbBuckets`: one item per
    /// bucket, deleted by the TTL once full); returns its id. Made once however
    /// many functions use it.
    pub(super) fn rate_limit_table(&mut self, app: &str) -> String {
        let id = format!("{}RateLimitTable", logical_id(app));
        if self.resources.contains_key(&id) {
            return id;
        }
        self.resource(
            id.clone(),
            Resource::new(
                "AWS::DynamoDB::Table",
                json!({
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{ "AttributeName": ATTR_BUCKET, "AttributeType": "S" }],
                    "KeySchema": [{ "AttributeName": ATTR_BUCKET, "KeyType": KeyRole::Partition.as_str() }],
                    "TimeToLiveSpecification": { "AttributeName": ATTR_EXPIRES_AT, "Enabled": true },
                }),
            ),
        );
        id
    }
}
