//! [`DynamoDbBuckets`]: token buckets in a DynamoDB table, shared by every instance.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType,
};

use super::{DynamoDbStore, failed};
use crate::Error;
use crate::store::buckets::{BucketLimit, Take, TokenBuckets};
use crate::store::layout::{ATTR_BUCKET, RATE_LIMIT_TABLE_VARIABLE};

/// The bucket's theoretical arrival time, epoch microseconds.
const ATTR_ARRIVAL: &str = "arrivalAt";
/// Epoch seconds after which the bucket is full again and may go: the TTL attribute.
const ATTR_EXPIRES_AT: &str = "expiresAt";
/// Takes that lose a race with another instance are tried again this often.
const ATTEMPTS: usize = 4;

/// Token buckets in DynamoDB, one item per bucket (`bucket` S partition key,
/// `arrivalAt` N, `expiresAt` N as the table's TTL): every Lambda instance sees the
/// same buckets, so a limit holds however many instances serve a connection.
///
/// A take is one conditional `UpdateItem` when the bucket has been quiet ("set the
/// arrival time to now + interval if it is not ahead of now"); when it is busy, the
/// failed condition returns the item and a second conditional `UpdateItem` moves
/// the arrival time one interval on ("if it is still at most `burst - 1`
/// intervals ahead"). A refused take costs the one failed write. Races between
/// instances are settled by the conditions, never by a read-modify-write.
///
/// ```no_run
/// use fabric::prelude::*;
/// use fabric::store::DynamoDbBuckets;
/// use fabric::websocket::RateLimit;
/// # #[derive(Deserialize, Input)] struct In {}
/// # #[fabric_service] async fn svc(_i: In, _c: Context) -> Result<(), Error> { Ok(()) }
/// # fn build() -> Result<(), fabric::Error> {
/// // FABRIC_RATE_LIMIT_TABLE=chat-buckets
/// let limit = RateLimit::per_user(10.0, 20).buckets(DynamoDbBuckets::from_env()?);
/// let adapter = fabric_websocket(svc).rate_limit(limit);
/// # let _ = adapter; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DynamoDbBuckets {
    client: Client,
    table: String,
    /// Named by `FABRIC_RATE_LIMIT_TABLE`: the template's table.
    from_env: bool,
}

impl DynamoDbBuckets {
    /// Buckets in `table`, through `client` (see [`DynamoDbStore::sdk_client`]).
    ///
    /// ```
    /// use fabric::store::{DynamoDbBuckets, DynamoDbStore};
    /// let client = DynamoDbStore::sdk_client(Some("http://127.0.0.1:8000"));
    /// assert_eq!(DynamoDbBuckets::new(client, "chat-buckets").table(), "chat-buckets");
    /// ```
    pub fn new(client: Client, table: impl Into<String>) -> DynamoDbBuckets {
        DynamoDbBuckets {
            client,
            table: table.into(),
            from_env: false,
        }
    }

    /// Buckets in `FABRIC_RATE_LIMIT_TABLE`, the endpoint and credentials found as
    /// [`DynamoDbStore::from_env`] finds them.
    pub fn from_env() -> Result<DynamoDbBuckets, Error> {
        let table = crate::env::var(RATE_LIMIT_TABLE_VARIABLE).ok_or_else(|| {
            Error::internal_message(
                "FABRIC_RATE_LIMIT_TABLE is not set: name the DynamoDB table of rate limit buckets",
            )
        })?;
        let endpoint = crate::aws::endpoint_from_env("DYNAMODB");
        Ok(DynamoDbBuckets {
            from_env: true,
            ..DynamoDbBuckets::new(DynamoDbStore::sdk_client(endpoint.as_deref()), table)
        })
    }

    /// The table.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table (on demand, `bucket` partition key) and waits until it is
    /// active; an existing table is left alone. For local DynamoDB and tests.
    pub async fn create_table(&self) -> Result<(), Error> {
        let table = &self.table;
        let created = self
            .client
            .create_table()
            .table_name(table)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(ATTR_BUCKET)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(Error::internal)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(ATTR_BUCKET)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(Error::internal)?,
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(err) if err.code() == Some("ResourceInUseException") => {}
            Err(err) => return Err(failed("CreateTable", table, err)),
        }
        self.client
            .wait_until_table_exists()
            .table_name(table)
            .wait(Duration::from_secs(300))
            .await
            .map_err(|_| {
                Error::unavailable(format!("DynamoDB table {table:?} did not become active"))
            })?;
        Ok(())
    }

    /// One conditional write; `Ok(None)` when it went through, else the stored
    /// arrival time the condition failed on (`None` inside when there is none).
    async fn write(
        &self,
        key: &str,
        update: &str,
        condition: &str,
        values: &[(&str, i64)],
    ) -> Result<Option<Option<i64>>, Error> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(ATTR_BUCKET, AttributeValue::S(key.to_owned()))
            .update_expression(update)
            .condition_expression(condition)
            .expression_attribute_names("#arrival", ATTR_ARRIVAL)
            .expression_attribute_names("#expires", ATTR_EXPIRES_AT)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (name, value) in values {
            let (name, value) = (*name, *value);
            request =
                request.expression_attribute_values(name, AttributeValue::N(value.to_string()));
        }
        match request.send().await {
            Ok(_) => Ok(None),
            Err(SdkError::ServiceError(service))
                if service.err().is_conditional_check_failed_exception() =>
            {
                let stored = match service.err() {
                    UpdateItemError::ConditionalCheckFailedException(failed) => failed
                        .item()
                        .and_then(|item| item.get(ATTR_ARRIVAL))
                        .and_then(|value| value.as_n().ok())
                        .and_then(|n| n.parse::<i64>().ok()),
                    _ => None,
                };
                match stored {
                    Some(stored) => Ok(Some(Some(stored))),
                    // Servers that do not return the item: read it.
                    None => self.read(key).await.map(Some),
                }
            }
            Err(err) => Err(failed("UpdateItem", &self.table, err)),
        }
    }

    async fn read(&self, key: &str) -> Result<Option<i64>, Error> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(ATTR_BUCKET, AttributeValue::S(key.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| failed("GetItem", &self.table, err))?;
        Ok(item
            .item()
            .and_then(|item| item.get(ATTR_ARRIVAL))
            .and_then(|value| value.as_n().ok())
            .and_then(|n| n.parse::<i64>().ok()))
    }
}

#[async_trait]
impl TokenBuckets for DynamoDbBuckets {
    fn in_rate_limit_table(&self) -> bool {
        self.from_env
    }

    async fn take(&self, key: &str, limit: BucketLimit) -> Result<Take, Error> {
        let interval = limit.interval_micros();
        for _ in 0..ATTEMPTS {
            let now = crate::clock::wall_micros();
            // The bucket is full again one burst after its arrival time.
            let expires = |arrival: i64| (arrival + limit.tolerance_micros()) / 1_000_000 + 1;
            let quiet = self
                .write(
                    key,
                    "SET #arrival = :next, #expires = :expires",
                    "attribute_not_exists(#arrival) OR #arrival <= :now",
                    &[
                        (":next", now + interval),
                        (":now", now),
                        (":expires", expires(now + interval)),
                    ],
                )
                .await?;
            let Some(stored) = quiet else {
                return Ok(Take::Allowed);
            };
            let stored = stored.unwrap_or(now);
            if let Err(retry_after) = limit.take_at(Some(stored), now) {
                return Ok(Take::Limited { retry_after });
            }
            let busy = self
                .write(
                    key,
                    "SET #arrival = #arrival + :interval, #expires = :expires",
                    "#arrival > :now AND #arrival <= :latest",
                    &[
                        (":interval", interval),
                        (":now", now),
                        (":latest", now + limit.tolerance_micros()),
                        (":expires", expires(stored + interval)),
                    ],
                )
                .await?;
            match busy {
                None => return Ok(Take::Allowed),
                // Still ahead: another instance took the last token first.
                Some(Some(stored)) if stored > now => {
                    if let Err(retry_after) = limit.take_at(Some(stored), now) {
                        return Ok(Take::Limited { retry_after });
                    }
                }
                // It fell behind now meanwhile (or was deleted): the quiet write again.
                Some(_) => {}
            }
        }
        // Lost every race: as good as empty.
        Ok(Take::Limited {
            retry_after: limit.interval(),
        })
    }
}
