//! `moose table create` / `moose table describe`: the DynamoDB table and its index.

use anyhow::Context;
use clap::Subcommand;
use moose_store_dynamodb::DynamoStore;

use crate::cli::{Cli, Failure, init_telemetry};
use crate::serve::dynamo_settings;

#[derive(Debug, Subcommand)]
pub(crate) enum TableCommand {
    /// Create the table (DYNAMODB_TABLE_NAME) and its GSI1 index if they do not exist.
    Create,
    /// Show the table's status, item count and indexes.
    Describe,
}

pub(crate) fn run(cli: &Cli, command: &TableCommand) -> Result<(), Failure> {
    let loaded = cli.load_config(None)?;
    init_telemetry(&loaded)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let store = DynamoStore::connect(&dynamo_settings(&loaded.config)).await;
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
        anyhow::Ok(())
    })?;
    Ok(())
}
