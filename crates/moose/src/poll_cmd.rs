//! `moose poll` (one `solar-data-polling` pass now) and `moose backfill` (history).

use std::io::IsTerminal;

use anyhow::Context;
use clap::Args;
use jiff::civil::Date;
use moose_app::{App, NO_SOURCE};
use moose_domain::SystemId;
use moose_solarweb::SolarWebClient;

use crate::cli::{Cli, Failure};
use crate::setup::Setup;
use crate::signals;

#[derive(Debug, Args)]
pub(crate) struct PollArgs {
    /// Directory of the embedded store [env: MOOSE_DATA_DIR]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct BackfillArgs {
    /// First local day to import (YYYY-MM-DD)
    #[arg(long)]
    pub from: Date,
    /// Last local day to import (default: today)
    #[arg(long)]
    pub to: Option<Date>,
    /// Only this system
    #[arg(long)]
    pub system: Option<String>,
    /// Directory of the embedded store [env: MOOSE_DATA_DIR]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
}

/// The configured Solar.web client, or why there is none.
pub(crate) fn configured_source(app: &App) -> anyhow::Result<SolarWebClient> {
    app.solarweb()?.ok_or_else(|| anyhow::anyhow!(NO_SOURCE))
}

pub(crate) fn poll(cli: &Cli, args: &PollArgs) -> Result<(), Failure> {
    Setup::with_data_dir(cli, args.data_dir.as_ref())?.run(async |app| {
        let client = configured_source(app)?;
        let (cancel, _) = signals::shutdown_on_signal();
        let summary = moose_solardata::poll_once(
            &client,
            &app.solar_repo(),
            &app.poll_settings(),
            jiff::Timestamp::now(),
            &cancel,
        )
        .await
        .context("the poll pass failed")?;
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
        if summary.errors.is_empty() {
            Ok(())
        } else {
            Err(anyhow::anyhow!(
                "{} systems failed: {:?}",
                summary.errors.values().sum::<usize>(),
                summary.errors
            ))
        }
    })
}

pub(crate) fn backfill(cli: &Cli, args: &BackfillArgs) -> Result<(), Failure> {
    let to = args.to.unwrap_or_else(|| {
        jiff::Timestamp::now()
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .date()
    });
    if to < args.from {
        return Err(Failure::Run(anyhow::anyhow!(
            "--to {to} is before --from {}",
            args.from
        )));
    }
    Setup::with_data_dir(cli, args.data_dir.as_ref())?.run(async |app| {
        let client = configured_source(app)?;
        let repo = app.solar_repo();
        moose_solardata::discover(&client, &repo).await.context("cannot list the fleet")?;
        let mut systems = repo.all_systems().await.context("cannot read the fleet")?;
        if let Some(only) = &args.system {
            let id = SystemId::parse(only).map_err(|e| anyhow::anyhow!("--system: {e}"))?;
            systems.retain(|s| s.id == id);
            anyhow::ensure!(!systems.is_empty(), "--system {only}: no such system on this Solar.web account");
        }
        let (cancel, _) = signals::shutdown_on_signal();
        let tty = std::io::stderr().is_terminal();
        let result = moose_solardata::backfill(&client, &repo, &systems, args.from, to, &cancel, |p| {
            let line = format!(
                "backfill: {}/{} system-days ({} already complete or empty), {} records, {:.0} records/s, ETA {:.0} s, {} Solar.web calls, {} data points",
                p.days_done, p.days_total, p.days_skipped, p.records_written, p.rate_per_sec, p.eta_secs, p.calls, p.data_points
            );
            // One updating line on a terminal; plain log lines otherwise (CI, files, journald).
            if tty {
                eprint!("\r{line}   ");
            } else if p.days_done % 10 == 0 || p.days_done == p.days_total {
                tracing::info!("{line}");
            }
        })
        .await;
        if tty {
            eprintln!();
        }
        let progress = result.context("the backfill stopped")?;
        if cancel.is_cancelled() {
            anyhow::bail!("interrupted after {}/{} system-days; run the same command again to resume", progress.days_done, progress.days_total);
        }
        println!(
            "backfilled {} system-days ({} were complete or had nothing to give), {} records; {} Solar.web calls, {} billed data points",
            progress.days_done, progress.days_skipped, progress.records_written, progress.calls, progress.data_points
        );
        Ok(())
    })
}
