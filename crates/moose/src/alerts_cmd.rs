//! `moose status` (one `device-status-polling` pass now) and `moose notify` (deliver the
//! outbox; delivery report).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use moose_auth::AuthService;

use crate::cli::{Cli, Failure};
use crate::poll_cmd::setup;
use crate::{datasource, serve::open_store, signals};

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// Directory of the embedded store [env: MOOSE_DATA_DIR]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum NotifyCommand {
    /// Deliver due notifications: until the outbox has nothing due (`--once`), or until a
    /// signal arrives.
    Run {
        /// Stop when nothing is due instead of waiting for more
        #[arg(long)]
        once: bool,
        /// Directory of the embedded store [env: MOOSE_DATA_DIR]
        #[arg(long, value_name = "DIR")]
        data_dir: Option<std::path::PathBuf>,
    },
    /// Print the delivery report: final notifications by state per day, and the delivery rate.
    Stats {
        /// Days to report, today included
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// Directory of the embedded store [env: MOOSE_DATA_DIR]
        #[arg(long, value_name = "DIR")]
        data_dir: Option<std::path::PathBuf>,
    },
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub(crate) fn status(cli: &Cli, args: &StatusArgs) -> Result<(), Failure> {
    let config = setup(cli, args.data_dir.as_ref())?;
    let client =
        datasource::from_config(&config)?.ok_or_else(|| anyhow::anyhow!(datasource::NO_SOURCE))?;
    runtime()?.block_on(async {
        let store = open_store(&config).await?;
        let auth = AuthService::new(Arc::clone(&store), crate::serve::auth_settings(&config));
        let job = moose_notify::setup::status_job(&config, &store, client, &auth);
        let (cancel, _) = signals::shutdown_on_signal();
        let summary = moose_incidents::status_pass(&job, jiff::Timestamp::now(), &cancel).await;
        store.close().await.ok();
        let summary = summary.context("the device-status-polling pass failed")?;
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(())
}

pub(crate) fn notify(cli: &Cli, command: &NotifyCommand) -> Result<(), Failure> {
    let data_dir = match command {
        NotifyCommand::Run { data_dir, .. } | NotifyCommand::Stats { data_dir, .. } => data_dir,
    };
    let config = setup(cli, data_dir.as_ref())?;
    runtime()?.block_on(async {
        let store = open_store(&config).await?;
        let auth = AuthService::new(Arc::clone(&store), crate::serve::auth_settings(&config));
        let dispatcher = moose_notify::setup::dispatcher(&config, &store, &auth)
            .await
            .context("cannot set up the notification channels")?;
        let result = match command {
            NotifyCommand::Run { once: true, .. } => run_until_idle(&dispatcher).await,
            NotifyCommand::Run { once: false, .. } => {
                let (cancel, _) = signals::shutdown_on_signal();
                let every = Duration::from_secs(config.jobs.notify_interval_secs);
                moose_notify::dispatch::run_schedule(dispatcher, every, cancel).await;
                Ok(())
            }
            NotifyCommand::Stats { days, .. } => {
                let today = jiff::Timestamp::now()
                    .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                    .date();
                let report = dispatcher.report(today, (*days).clamp(1, 366)).await?;
                let pending = dispatcher.repo.pending_count().await?;
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &serde_json::json!({"pending": pending, "days": report})
                    )
                    .unwrap_or_default()
                );
                Ok(())
            }
        };
        store.close().await.ok();
        result
    })?;
    Ok(())
}

/// Rounds until nothing is due; prints the totals.
async fn run_until_idle(dispatcher: &moose_notify::Dispatcher) -> anyhow::Result<()> {
    let total = dispatcher.drain().await?;
    println!(
        "{}",
        serde_json::to_string_pretty(&total).unwrap_or_default()
    );
    Ok(())
}
