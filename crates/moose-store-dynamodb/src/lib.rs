//! The DynamoDB backend of the Moose store.
//!
//! The table is the old system's (`Moose-DDB` unless `DYNAMODB_TABLE_NAME` says otherwise):
//! string keys `PK`/`SK`, one sparse global secondary index `GSI1` on `GSI1PK`/`GSI1SK`,
//! on-demand billing. Every item carries `timestamp`; other attributes are top-level DynamoDB
//! attributes. The SDK retries throttling with backoff; batch writes retry unprocessed items.
//! Behaviour is pinned by the same conformance suite as the SQLite backend.

mod convert;
mod ops;

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use moose_store::StoreError;

/// Name of the secondary index.
pub const GSI1: &str = "GSI1";

/// The DynamoDB store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

/// Where and how to connect.
#[derive(Debug, Clone, Default)]
pub struct DynamoSettings {
    /// Table name.
    pub table: String,
    /// Endpoint override (a local DynamoDB-compatible server); `None` for AWS.
    pub endpoint: Option<String>,
    /// Region override; default from the environment (`AWS_REGION`), else `us-east-1`.
    pub region: Option<String>,
}

impl DynamoStore {
    /// Connects with the default AWS credential chain (environment, Lambda role, profile).
    pub async fn connect(settings: &DynamoSettings) -> Self {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let region = settings
            .region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .unwrap_or_else(|| "us-east-1".into());
        let config = loader.region(aws_config::Region::new(region)).load().await;
        Self::new(Client::new(&config), &settings.table)
    }

    /// Over an existing client.
    pub fn new(client: Client, table: &str) -> Self {
        Self {
            client,
            table: table.to_owned(),
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table and its index if they do not exist; returns whether it created them.
    pub async fn create_table(&self) -> Result<bool, StoreError> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("complete definition")
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("complete key")
        };
        let gsi = GlobalSecondaryIndex::builder()
            .index_name(GSI1)
            .key_schema(key("GSI1PK", KeyType::Hash))
            .key_schema(key("GSI1SK", KeyType::Range))
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::All)
                    .build(),
            )
            .build()
            .expect("complete index");
        let result = self
            .client
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(attr("PK"))
            .attribute_definitions(attr("SK"))
            .attribute_definitions(attr("GSI1PK"))
            .attribute_definitions(attr("GSI1SK"))
            .key_schema(key("PK", KeyType::Hash))
            .key_schema(key("SK", KeyType::Range))
            .global_secondary_indexes(gsi)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(aws_sdk_dynamodb::operation::create_table::CreateTableError::is_resource_in_use_exception) => Ok(false),
            Err(e) => Err(convert::map_err(e, &self.table)),
        }
    }

    /// The table's status and item count, as DynamoDB reports them.
    pub async fn describe(&self) -> Result<serde_json::Value, StoreError> {
        let out = self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| convert::map_err(e, &self.table))?;
        let table = out.table();
        Ok(serde_json::json!({
            "table": self.table,
            "status": table.and_then(|t| t.table_status()).map(|s| s.as_str().to_owned()),
            "items": table.and_then(aws_sdk_dynamodb::types::TableDescription::item_count),
            "indexes": table.map(|t| t.global_secondary_indexes().iter().filter_map(|g| g.index_name().map(str::to_owned)).collect::<Vec<_>>()),
        }))
    }

    /// Asks DynamoDB for an on-demand backup of the table (the release checklist's step) and
    /// returns its ARN and status.
    pub async fn create_backup(&self, name: &str) -> Result<serde_json::Value, StoreError> {
        let out = self
            .client
            .create_backup()
            .table_name(&self.table)
            .backup_name(name)
            .send()
            .await
            .map_err(|e| convert::map_err(e, &self.table))?;
        let d = out.backup_details();
        Ok(serde_json::json!({
            "arn": d.map(|d| d.backup_arn().to_owned()),
            "name": d.map(|d| d.backup_name().to_owned()),
            "status": d.map(|d| d.backup_status().as_str().to_owned()),
        }))
    }

    /// The table's on-demand backups, newest first.
    pub async fn list_backups(&self) -> Result<Vec<serde_json::Value>, StoreError> {
        let out = self
            .client
            .list_backups()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| convert::map_err(e, &self.table))?;
        let mut list: Vec<serde_json::Value> = out
            .backup_summaries()
            .iter()
            .map(|b| {
                serde_json::json!({
                    "arn": b.backup_arn(),
                    "name": b.backup_name(),
                    "status": b.backup_status().map(|s| s.as_str().to_owned()),
                    "created": b.backup_creation_date_time().map(|t| t.secs()),
                    "bytes": b.backup_size_bytes(),
                })
            })
            .collect();
        list.sort_by_key(|b| std::cmp::Reverse(b["created"].as_i64()));
        Ok(list)
    }

    /// Whether point-in-time recovery is on for the table.
    pub async fn point_in_time_recovery(&self) -> Result<bool, StoreError> {
        let out = self
            .client
            .describe_continuous_backups()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| convert::map_err(e, &self.table))?;
        Ok(out
            .continuous_backups_description()
            .and_then(|d| d.point_in_time_recovery_description())
            .and_then(|p| p.point_in_time_recovery_status())
            .is_some_and(|s| s.as_str() == "ENABLED"))
    }
}
