//! `moose status` (one `device-status-polling` pass now) and `moose notify` (deliver the
//! outbox; delivery report).

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::cli::{Cli, Failure};
use crate::poll_cmd::configured_source;
use crate::setup::Setup;
use crate::signals;

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

pub(crate) fn status(cli: &Cli, args: &StatusArgs) -> Result<(), Failure> {
    Setup::with_data_dir(cli, args.data_dir.as_ref())?.run(async |app| {
        let job = app.status_job(configured_source(app)?);
        let (cancel, _) = signals::shutdown_on_signal();
        let summary = moose_status::status_pass(&job, jiff::Timestamp::now(), &cancel)
            .await
            .context("the device-status-polling pass failed")?;
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
        Ok(())
    })
}

pub(crate) fn notify(cli: &Cli, command: &NotifyCommand) -> Result<(), Failure> {
    let data_dir = match command {
        NotifyCommand::Run { data_dir, .. } | NotifyCommand::Stats { data_dir, .. } => data_dir,
    };
    Setup::with_data_dir(cli, data_dir.as_ref())?.run(async |app| {
        let dispatcher = app.dispatcher().await?;
        match command {
            NotifyCommand::Run { once: true, .. } => run_until_idle(&dispatcher).await,
            NotifyCommand::Run { once: false, .. } => {
                let (cancel, _) = signals::shutdown_on_signal();
                moose_notify::dispatch::run_schedule(dispatcher, app.notify_interval(), cancel)
                    .await;
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
        }
    })
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
