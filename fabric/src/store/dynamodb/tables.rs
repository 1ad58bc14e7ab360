//! Creating the store's tables, with their indexes and TTL, from the layout the
//! deploy templates use too.

use std::time::Duration;

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification, TimeToLiveStatus,
};

use super::{DynamoDbStore, failed};
use crate::Error;
use crate::store::layout::{AttributeKind, CONNECTIONS, KeyRole, ROOMS, TableLayout};

impl DynamoDbStore {
    /// Creates both tables with their indexes and turns on their TTL, waiting until
    /// they are active; tables that already exist are left as they are (their TTL
    /// is still turned on). For local DynamoDB and tests; the `create-tables` example
    /// binary runs it.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), fabric::Error> {
    /// fabric::store::DynamoDbStore::from_env()?.create_tables().await?;
    /// # Ok(()) }
    /// ```
    pub async fn create_tables(&self) -> Result<(), Error> {
        for (table, layout) in [(&self.table, &CONNECTIONS), (&self.rooms_table, &ROOMS)] {
            self.create_table(table, layout).await?;
        }
        for (table, layout) in [(&self.table, &CONNECTIONS), (&self.rooms_table, &ROOMS)] {
            self.client
                .wait_until_table_exists()
                .table_name(table)
                .wait(Duration::from_secs(300))
                .await
                .map_err(|err| {
                    Error::unavailable(format!(
                        "DynamoDB table {table:?} did not become active: {}",
                        DisplayErrorContext(&err)
                    ))
                })?;
            self.enable_ttl(table, layout.ttl_attribute).await?;
        }
        Ok(())
    }

    async fn create_table(&self, table: &str, layout: &TableLayout) -> Result<(), Error> {
        let attributes = layout
            .attributes
            .iter()
            .map(|(name, kind)| {
                let kind = match kind {
                    AttributeKind::String => ScalarAttributeType::S,
                    AttributeKind::Number => ScalarAttributeType::N,
                };
                AttributeDefinition::builder()
                    .attribute_name(*name)
                    .attribute_type(kind)
                    .build()
                    .map_err(Error::internal)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let projection = match layout.index.includes {
            None => Projection::builder().projection_type(ProjectionType::All),
            Some(attributes) => attributes.iter().fold(
                Projection::builder().projection_type(ProjectionType::Include),
                |projection, attribute| projection.non_key_attributes(*attribute),
            ),
        };
        let index = GlobalSecondaryIndex::builder()
            .index_name(layout.index.name)
            .set_key_schema(Some(keys(layout.index.keys)?))
            .projection(projection.build())
            .build()
            .map_err(Error::internal)?;
        let created = self
            .client
            .create_table()
            .table_name(table)
            .set_attribute_definitions(Some(attributes))
            .set_key_schema(Some(keys(layout.keys)?))
            .global_secondary_indexes(index)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match created {
            Ok(_) => {
                tracing::info!(table, "created DynamoDB table");
                Ok(())
            }
            Err(err) if err.code() == Some("ResourceInUseException") => Ok(()),
            Err(err) => Err(failed("CreateTable", table, err)),
        }
    }

    async fn enable_ttl(&self, table: &str, attribute: &str) -> Result<(), Error> {
        let current = self
            .client
            .describe_time_to_live()
            .table_name(table)
            .send()
            .await
            .map_err(|err| failed("DescribeTimeToLive", table, err))?;
        let status = current
            .time_to_live_description()
            .and_then(|d| d.time_to_live_status());
        if matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) {
            return Ok(());
        }
        let spec = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(attribute)
            .build()
            .map_err(Error::internal)?;
        self.client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(|err| failed("UpdateTimeToLive", table, err))?;
        Ok(())
    }
}

/// A layout's keys as the SDK takes them.
fn keys(keys: &[(&str, KeyRole)]) -> Result<Vec<KeySchemaElement>, Error> {
    keys.iter()
        .map(|(name, role)| {
            let kind = match role {
                KeyRole::Partition => KeyType::Hash,
                KeyRole::Sort => KeyType::Range,
            };
            KeySchemaElement::builder()
                .attribute_name(*name)
                .key_type(kind)
                .build()
                .map_err(Error::internal)
        })
        .collect()
}
