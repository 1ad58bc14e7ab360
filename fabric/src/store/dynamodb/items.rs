//! The items the store keeps, as DynamoDB holds them.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Error;
use crate::store::Connection;
use crate::store::layout::{ATTR_CONNECTED_AT, ATTR_EXPIRES_AT};

/// An item as the SDK holds it.
pub(super) type Item = HashMap<String, AttributeValue>;

/// A connection as its item in the connections table.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ConnectionItem {
    pub(super) connection_id: String,
    pub(super) connected_at: i64,
    pub(super) expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) user_id: Option<String>,
    #[serde(default)]
    pub(super) metadata: Map<String, Value>,
}

/// A membership as its item in the rooms table.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MemberItem {
    pub(super) room: String,
    pub(super) connection_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) user_id: Option<String>,
    pub(super) expires_at: i64,
}

impl ConnectionItem {
    pub(super) fn into_connection(self) -> Result<Connection, Error> {
        let time = |value: Option<DateTime<Utc>>, name: &str| {
            value.ok_or_else(|| {
                Error::internal_message(format!(
                    "the stored connection {:?} has an out-of-range {name}",
                    self.connection_id
                ))
            })
        };
        let connected_at = time(
            DateTime::from_timestamp_millis(self.connected_at),
            ATTR_CONNECTED_AT,
        )?;
        let expires_at = time(
            DateTime::from_timestamp(self.expires_at, 0),
            ATTR_EXPIRES_AT,
        )?;
        let mut connection = Connection::new(self.connection_id, connected_at)
            .expires(expires_at)
            .with_metadata_map(self.metadata);
        if let Some(user) = self.user_id {
            connection = connection.user(user);
        }
        Ok(connection)
    }
}

pub(super) fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

pub(super) fn now_seconds() -> AttributeValue {
    AttributeValue::N(Utc::now().timestamp().to_string())
}

pub(super) fn to_item<T: Serialize>(value: &T) -> Result<Item, Error> {
    serde_dynamo::to_item(value).map_err(Error::internal)
}

pub(super) fn from_item<T: for<'de> Deserialize<'de>>(item: Item) -> Result<T, Error> {
    serde_dynamo::from_item(item).map_err(|err| {
        Error::internal_message(format!(
            "a stored item does not have the expected shape: {err}"
        ))
    })
}
