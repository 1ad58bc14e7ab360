//! [`DynamoDbStore`]: connections and rooms in two DynamoDB tables.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::Builder;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
use chrono::Utc;
use serde::Serialize;

use self::items::{ConnectionItem, Item, MemberItem, from_item, now_seconds, s, to_item};
use super::layout::{
    ATTR_CONNECTION_ID, ATTR_EXPIRES_AT, ATTR_ROOM, ATTR_USER_ID, CONNECTION_INDEX, USER_INDEX,
};
use super::{
    Connection, ConnectionPage, ConnectionStore, MAX_PAGE, Member, check_room, not_connected,
};
use crate::{Error, aws};

pub(super) mod buckets;
mod items;
mod tables;

/// Most items one `BatchWriteItem` call takes.
const BATCH_LIMIT: usize = 25;
/// How often unprocessed batch items are sent again before giving up.
const BATCH_ATTEMPTS: u32 = 8;

/// Connections and rooms in DynamoDB: the store for Lambda, where each event may run
/// in another instance.
///
/// # Tables
///
/// **Connections** (`FABRIC_CONNECTIONS_TABLE`), one item per connection:
///
/// | attribute | type | |
/// |---|---|---|
/// | `connectionId` | S | partition key |
/// | `connectedAt` | N | epoch milliseconds |
/// | `expiresAt` | N | epoch seconds; the table's TTL attribute |
/// | `userId` | S | only when `$connect` named a user |
/// | `metadata` | M | `Accept::metadata` values |
///
/// GSI `userId-index`: partition `userId`, sort `connectedAt`, all attributes —
/// "the connections of a user" is one Query. Connections without a user are not
/// in it (a sparse index).
///
/// **Rooms** (`FABRIC_ROOMS_TABLE`, default `{connections table}-rooms`), one item
/// per membership:
///
/// | attribute | type | |
/// |---|---|---|
/// | `room` | S | partition key |
/// | `connectionId` | S | sort key |
/// | `userId` | S | copied from the connection, when it has one |
/// | `expiresAt` | N | copied from the connection; the table's TTL attribute |
///
/// GSI `connectionId-index`: partition `connectionId`, projecting `expiresAt` —
/// "the rooms of a connection", used when a connection leaves every room.
///
/// # Access paths: Queries and key lookups
///
/// - broadcast to a room: strongly consistent Query on the room's partition,
///   paginated — the hot path, one partition read, no index;
/// - join: consistent GetItem of the connection (it must exist; its user id and
///   expiry are copied to the membership), then PutItem;
/// - leave, is-member: DeleteItem, GetItem on (room, connectionId);
/// - disconnect: DeleteItem of the connection, Query `connectionId-index`, then
///   BatchWriteItem deletes;
/// - a user's connections: Query `userId-index`.
///
/// The one Scan is the stale-connection sweep's listing
/// ([`list_page`](ConnectionStore::list_page)): a scheduled job, one page per call,
/// never on an event's path.
///
/// Index reads are eventually consistent: a membership made a moment before its
/// connection closes may be missed by the disconnect clean-up. Such a leftover
/// expires with the connection's TTL, and the first broadcast that meets the closed
/// connection (410) deletes it. Reads filter out items past `expiresAt`, because
/// DynamoDB's TTL deletes them only within a day or two.
///
/// Both tables are on-demand (pay per request). [`create_tables`](DynamoDbStore::create_tables)
/// creates them for local use and tests; in production, create them with your
/// infrastructure code (README: "Connection tracking and rooms").
///
/// ```no_run
/// use fabric::prelude::*;
/// use fabric::store::DynamoDbStore;
/// # #[derive(Deserialize, Input)] struct In {}
/// # #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
///
/// # async fn run() -> Result<(), fabric::BoxError> {
/// // FABRIC_CONNECTIONS_TABLE=chat-connections, AWS_ENDPOINT_URL_DYNAMODB optional.
/// let store = DynamoDbStore::from_env()?;
/// fabric::run(fabric_websocket(svc).store(store)).await
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
    rooms_table: String,
}

impl DynamoDbStore {
    /// A store on `table` (connections) and `rooms_table`, through `client`.
    ///
    /// ```
    /// use fabric::store::DynamoDbStore;
    /// let client = DynamoDbStore::sdk_client(Some("http://127.0.0.1:8000"));
    /// let store = DynamoDbStore::new(client, "chat-connections", "chat-connections-rooms");
    /// assert_eq!(store.rooms_table(), "chat-connections-rooms");
    /// ```
    pub fn new(
        client: Client,
        table: impl Into<String>,
        rooms_table: impl Into<String>,
    ) -> DynamoDbStore {
        DynamoDbStore {
            client,
            table: table.into(),
            rooms_table: rooms_table.into(),
        }
    }

    /// The store the environment names: `FABRIC_CONNECTIONS_TABLE` (required),
    /// `FABRIC_ROOMS_TABLE` (default `{connections table}-rooms`), the endpoint from
    /// `AWS_ENDPOINT_URL_DYNAMODB` or `AWS_ENDPOINT_URL` (default: the region's),
    /// the region from `AWS_REGION`, credentials from the standard variables.
    ///
    /// ```
    /// # if std::env::var_os("FABRIC_CONNECTIONS_TABLE").is_none() {
    /// let err = fabric::store::DynamoDbStore::from_env().unwrap_err();
    /// assert!(err.detail().starts_with("FABRIC_CONNECTIONS_TABLE is not set"));
    /// # }
    /// ```
    pub fn from_env() -> Result<DynamoDbStore, Error> {
        let var = crate::env::var;
        let table = var("FABRIC_CONNECTIONS_TABLE").ok_or_else(|| {
            Error::internal_message(
                "FABRIC_CONNECTIONS_TABLE is not set: name the DynamoDB table of connections",
            )
        })?;
        let rooms_table = var("FABRIC_ROOMS_TABLE").unwrap_or_else(|| format!("{table}-rooms"));
        let endpoint = aws::endpoint_from_env("DYNAMODB");
        Ok(DynamoDbStore::new(
            DynamoDbStore::sdk_client(endpoint.as_deref()),
            table,
            rooms_table,
        ))
    }

    /// A DynamoDB client built the way Fabric builds its AWS clients (shared
    /// connection pool, credentials and region from the environment), talking to
    /// `endpoint` when given (a local DynamoDB), else to the region's.
    pub fn sdk_client(endpoint: Option<&str>) -> Client {
        let mut config = Builder::from(&aws::sdk_config());
        if let Some(endpoint) = endpoint {
            config = config.endpoint_url(endpoint);
        }
        Client::from_conf(config.build())
    }

    /// The SDK client, for calls Fabric does not wrap.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The connections table.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The rooms table.
    pub fn rooms_table(&self) -> &str {
        &self.rooms_table
    }

    /// Puts `item` into `table`.
    async fn put(&self, table: &str, item: &impl Serialize) -> Result<(), Error> {
        self.client
            .put_item()
            .table_name(table)
            .set_item(Some(to_item(item)?))
            .send()
            .await
            .map_err(|err| failed("PutItem", table, err))?;
        Ok(())
    }

    /// Every item `query` finds, page after page.
    async fn query_all(query: QueryFluentBuilder) -> Result<Vec<Item>, Error> {
        let table = query.get_table_name().clone().unwrap_or_default();
        query
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|err| failed("Query", &table, err))
    }

    /// The keys of every membership of `connection_id`, expired ones included.
    async fn membership_keys(&self, connection_id: &str) -> Result<Vec<Item>, Error> {
        Self::query_all(
            self.client
                .query()
                .table_name(&self.rooms_table)
                .index_name(CONNECTION_INDEX)
                .key_condition_expression("#c = :c")
                .expression_attribute_names("#c", ATTR_CONNECTION_ID)
                .expression_attribute_values(":c", s(connection_id)),
        )
        .await
    }

    /// Deletes `keys` from the rooms table, 25 per call, resending what DynamoDB
    /// leaves unprocessed (it does under load) with a growing pause.
    async fn delete_memberships(&self, keys: Vec<Item>) -> Result<(), Error> {
        for chunk in keys.chunks(BATCH_LIMIT) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    let key = [ATTR_ROOM, ATTR_CONNECTION_ID]
                        .into_iter()
                        .filter_map(|name| Some((name.to_owned(), item.get(name)?.clone())))
                        .collect();
                    let delete = DeleteRequest::builder()
                        .set_key(Some(key))
                        .build()
                        .map_err(Error::internal)?;
                    Ok(WriteRequest::builder().delete_request(delete).build())
                })
                .collect::<Result<_, Error>>()?;
            for attempt in 0..BATCH_ATTEMPTS {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.rooms_table, requests)
                    .send()
                    .await
                    .map_err(|err| failed("BatchWriteItem", &self.rooms_table, err))?;
                requests = output
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&self.rooms_table))
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
            }
            if !requests.is_empty() {
                return Err(Error::unavailable(format!(
                    "DynamoDB left {} room memberships undeleted in {:?} after {BATCH_ATTEMPTS} attempts",
                    requests.len(),
                    self.rooms_table
                )));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl ConnectionStore for DynamoDbStore {
    async fn save(&self, connection: &Connection) -> Result<(), Error> {
        connection.check()?;
        let item = ConnectionItem {
            connection_id: connection.connection_id().to_owned(),
            connected_at: connection.connected_at().timestamp_millis(),
            expires_at: connection.expires_at().timestamp(),
            user_id: connection.user_id().map(str::to_owned),
            metadata: connection.metadata_map().clone(),
        };
        self.put(&self.table, &item).await
    }

    async fn list_page(&self, after: Option<&str>, limit: usize) -> Result<ConnectionPage, Error> {
        let limit = i32::try_from(limit.clamp(1, MAX_PAGE)).unwrap_or(1);
        let mut scan = self
            .client
            .scan()
            .table_name(&self.table)
            .limit(limit)
            .filter_expression("#e > :now")
            .expression_attribute_names("#e", ATTR_EXPIRES_AT)
            .expression_attribute_values(":now", now_seconds());
        if let Some(after) = after.filter(|after| !after.is_empty()) {
            scan = scan.exclusive_start_key(ATTR_CONNECTION_ID, s(after));
        }
        let output = scan
            .send()
            .await
            .map_err(|err| failed("Scan", &self.table, err))?;
        let next = output
            .last_evaluated_key
            .as_ref()
            .and_then(|key| key.get(ATTR_CONNECTION_ID))
            .and_then(|id| id.as_s().ok())
            .cloned();
        let connections = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| from_item::<ConnectionItem>(item)?.into_connection())
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(ConnectionPage { connections, next })
    }

    async fn get(&self, connection_id: &str) -> Result<Option<Connection>, Error> {
        if connection_id.is_empty() {
            return Ok(None);
        }
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(ATTR_CONNECTION_ID, s(connection_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| failed("GetItem", &self.table, err))?;
        let Some(item) = output.item else {
            return Ok(None);
        };
        let connection = from_item::<ConnectionItem>(item)?.into_connection()?;
        Ok(Some(connection).filter(|c| !c.is_expired_at(Utc::now())))
    }

    async fn delete(&self, connection_id: &str) -> Result<(), Error> {
        if connection_id.is_empty() {
            return Ok(());
        }
        // The record first, so no join can slip in after the memberships are gone.
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(ATTR_CONNECTION_ID, s(connection_id))
            .send()
            .await
            .map_err(|err| failed("DeleteItem", &self.table, err))?;
        self.leave_all(connection_id).await
    }

    async fn user_connections(&self, user_id: &str) -> Result<Vec<Connection>, Error> {
        if user_id.is_empty() {
            return Ok(Vec::new());
        }
        let items: Vec<Item> = Self::query_all(
            self.client
                .query()
                .table_name(&self.table)
                .index_name(USER_INDEX)
                .key_condition_expression("#u = :u")
                .filter_expression("#e > :now")
                .expression_attribute_names("#u", ATTR_USER_ID)
                .expression_attribute_names("#e", ATTR_EXPIRES_AT)
                .expression_attribute_values(":u", s(user_id))
                .expression_attribute_values(":now", now_seconds()),
        )
        .await?;
        let mut connections = items
            .into_iter()
            .map(|item| from_item::<ConnectionItem>(item)?.into_connection())
            .collect::<Result<Vec<_>, Error>>()?;
        // The index sorts by connectedAt already; the id settles ties the same way
        // as every store.
        connections.sort_by(super::oldest_first);
        Ok(connections)
    }

    async fn join(&self, room: &str, connection_id: &str) -> Result<(), Error> {
        check_room(room)?;
        let connection = self
            .get(connection_id)
            .await?
            .ok_or_else(|| not_connected(connection_id))?;
        let item = MemberItem {
            room: room.to_owned(),
            connection_id: connection_id.to_owned(),
            user_id: connection.user_id().map(str::to_owned),
            expires_at: connection.expires_at().timestamp(),
        };
        self.put(&self.rooms_table, &item).await
    }

    async fn leave(&self, room: &str, connection_id: &str) -> Result<(), Error> {
        check_room(room)?;
        if connection_id.is_empty() {
            return Ok(());
        }
        self.client
            .delete_item()
            .table_name(&self.rooms_table)
            .key(ATTR_ROOM, s(room))
            .key(ATTR_CONNECTION_ID, s(connection_id))
            .send()
            .await
            .map_err(|err| failed("DeleteItem", &self.rooms_table, err))?;
        Ok(())
    }

    async fn is_member(&self, room: &str, connection_id: &str) -> Result<bool, Error> {
        check_room(room)?;
        if connection_id.is_empty() {
            return Ok(false);
        }
        let output = self
            .client
            .get_item()
            .table_name(&self.rooms_table)
            .key(ATTR_ROOM, s(room))
            .key(ATTR_CONNECTION_ID, s(connection_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| failed("GetItem", &self.rooms_table, err))?;
        match output.item {
            Some(item) => Ok(from_item::<MemberItem>(item)?.expires_at > Utc::now().timestamp()),
            None => Ok(false),
        }
    }

    async fn members(&self, room: &str) -> Result<Vec<Member>, Error> {
        check_room(room)?;
        let items: Vec<Item> = Self::query_all(
            self.client
                .query()
                .table_name(&self.rooms_table)
                .key_condition_expression("#r = :r")
                .filter_expression("#e > :now")
                .expression_attribute_names("#r", ATTR_ROOM)
                .expression_attribute_names("#e", ATTR_EXPIRES_AT)
                .expression_attribute_values(":r", s(room))
                .expression_attribute_values(":now", now_seconds())
                .consistent_read(true),
        )
        .await?;
        items
            .into_iter()
            .map(|item| {
                let member: MemberItem = from_item(item)?;
                Ok(Member {
                    connection_id: member.connection_id,
                    user_id: member.user_id,
                })
            })
            .collect()
    }

    async fn rooms(&self, connection_id: &str) -> Result<Vec<String>, Error> {
        if connection_id.is_empty() {
            return Ok(Vec::new());
        }
        let now = Utc::now().timestamp();
        let mut rooms = self
            .membership_keys(connection_id)
            .await?
            .into_iter()
            .map(from_item::<MemberItem>)
            .filter(|member| member.as_ref().map_or(true, |m| m.expires_at > now))
            .map(|member| member.map(|m| m.room))
            .collect::<Result<Vec<_>, Error>>()?;
        rooms.sort();
        Ok(rooms)
    }

    async fn leave_all(&self, connection_id: &str) -> Result<(), Error> {
        if connection_id.is_empty() {
            return Ok(());
        }
        let keys = self.membership_keys(connection_id).await?;
        self.delete_memberships(keys).await
    }
}

/// A failed call as a Fabric error: throttling and unreachable endpoints are 503
/// (worth a retry), the rest 500. The detail names the call and the table, for logs;
/// clients see it scrubbed.
pub(super) fn failed<E>(
    operation: &str,
    table: &str,
    err: SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let detail = format!(
        "DynamoDB {operation} on table {table:?} failed: {}",
        DisplayErrorContext(&err)
    );
    let retryable = matches!(
        err,
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_)
    ) || matches!(
        err.code(),
        Some(
            "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "LimitExceededException"
                | "InternalServerError"
                | "ServiceUnavailable"
        )
    );
    if retryable {
        Error::unavailable(detail)
    } else if err.code() == Some("ResourceNotFoundException") {
        Error::internal_message(format!(
            "{detail} (does the table exist? DynamoDbStore::create_tables creates it)"
        ))
    } else {
        Error::internal_message(detail)
    }
}
