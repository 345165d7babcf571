//! `moose backfill`: import history day by day, resumable.
//!
//! Each local day is fetched with one `histdata` window (plus one per inverter) and merged with
//! the same exactly-once write as polling. Days already complete in the store are skipped, so an
//! interrupted backfill picks up where it stopped and a finished one costs nothing to repeat.

use std::time::Instant;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use moose_solarweb::SolarWebClient;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::poll::{SolarDataError, fetch_window, ingest, local_midnight};
use crate::repo::{SolarRepo, SystemMeta};
use crate::series::SLOT_SECS;

/// Where a backfill stands (reported after every day).
#[derive(Debug, Clone, Default, Serialize)]
pub struct BackfillProgress {
    /// System-days in the job.
    pub days_total: usize,
    /// System-days done (fetched or already complete).
    pub days_done: usize,
    /// System-days skipped because they were complete.
    pub days_skipped: usize,
    /// Records newly stored.
    pub records_written: usize,
    /// Records per second so far.
    pub rate_per_sec: f64,
    /// Estimated seconds left.
    pub eta_secs: f64,
}

/// Backfills `systems` for the local days `from..=to` (clipped to each system's installation and
/// to yesterday-or-today). `report` is called after every system-day.
pub async fn backfill(
    client: &SolarWebClient,
    repo: &SolarRepo,
    systems: &[SystemMeta],
    from: Date,
    to: Date,
    cancel: &CancellationToken,
    mut report: impl FnMut(&BackfillProgress),
) -> Result<BackfillProgress, SolarDataError> {
    let now = Timestamp::now();
    let plan: Vec<(&SystemMeta, Date)> = systems
        .iter()
        .flat_map(|meta| {
            let first = meta.installation_date.map_or(from, |d| d.max(from));
            let today = now.to_zoned_datetime(meta.tz()).date();
            let last = to.min(today);
            let mut days = Vec::new();
            let mut d = first;
            while d <= last {
                days.push((meta, d));
                let Ok(next) = d.tomorrow() else { break };
                d = next;
            }
            days
        })
        .collect();
    let started = Instant::now();
    let mut progress = BackfillProgress {
        days_total: plan.len(),
        ..BackfillProgress::default()
    };
    for (meta, date) in plan {
        if cancel.is_cancelled() {
            break;
        }
        let start = local_midnight(meta, date);
        let end = date
            .tomorrow()
            .map_or(start + SignedDuration::from_hours(24), |d| {
                local_midnight(meta, d)
            });
        let expected =
            usize::try_from(end.duration_since(start).as_secs() / SLOT_SECS).unwrap_or(288);
        let stored = repo.day(&meta.id, None, date).await?;
        if stored.is_some_and(|s| s.chunk.slots.len() >= expected)
            || end > now + SignedDuration::from_hours(24)
        {
            progress.days_skipped += 1;
        } else {
            let until = end.min(now) - SignedDuration::from_secs(1);
            let (system, inverters) = fetch_window(client, repo, meta, start, until).await?;
            let cursor = repo.cursor(&meta.id).await?;
            let outcome = ingest(repo, meta, cursor, &system, &inverters, now, false).await?;
            progress.records_written += outcome.records;
        }
        progress.days_done += 1;
        let elapsed = started.elapsed().as_secs_f64().max(1e-3);
        #[allow(clippy::cast_precision_loss)]
        {
            progress.rate_per_sec = progress.records_written as f64 / elapsed;
            progress.eta_secs = elapsed / progress.days_done as f64
                * (progress.days_total - progress.days_done) as f64;
        }
        report(&progress);
    }
    Ok(progress)
}
