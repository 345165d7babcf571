//! `moose table create` / `moose table describe`: the DynamoDB table and its index.

use clap::Subcommand;
use moose_store_dynamodb::DynamoStore;

use crate::cli::{Cli, Failure};
use crate::setup::Setup;

#[derive(Debug, Subcommand)]
pub(crate) enum TableCommand {
    /// Create the table (DYNAMODB_TABLE_NAME) and its GSI1 index if they do not exist.
    Create,
    /// Show the table's status, item count and indexes.
    Describe,
}

pub(crate) fn run(cli: &Cli, command: &TableCommand) -> Result<(), Failure> {
    // No store is opened: the table may not exist yet.
    Setup::with_data_dir(cli, None)?.block_on(async |config| {
        let store = DynamoStore::connect(&moose_app::dynamo_settings(&config)).await;
        if matches!(command, TableCommand::Create) {
            let created = store
                .create_table()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "table {}: {}",
                store.table(),
                if created { "created" } else { "already exists" }
            );
        }
        let description = store.describe().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        println!(
            "{}",
            serde_json::to_string_pretty(&description).unwrap_or_default()
        );
        Ok(())
    })
}
