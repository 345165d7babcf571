//! `moose backfill`: import history day by day, resumable, paying only for what carries energy.
//!
//! Solar.web bills every data point, so a backfill first asks for each month's daily totals
//! (`aggrdata`, one cheap call per system and month). A day is then fetched with one `histdata`
//! window (plus one per inverter where there are several) only if Solar.web has production for
//! it that the store does not hold yet. Days before the plant's first data, days with nothing
//! to give, and days whose stored sum already matches Solar.web's total are skipped, so an
//! interrupted backfill picks up where it stopped and a finished one costs nothing to repeat.
//! Solar.web never serves night records, so "complete" cannot mean 288 slots: it means the
//! store holds the day's whole total.

use std::time::Instant;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use moose_solarweb::types::channel_value;
use moose_solarweb::{AggrPeriod, SolarWebClient};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::poll::{SolarDataError, fetch_window, ingest, local_midnight};
use crate::repo::{SolarRepo, SystemMeta};

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
    /// Solar.web calls made.
    pub calls: u64,
    /// Solar.web data points billed.
    pub data_points: u64,
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
    let before = client.stats().snapshot();
    let mut progress = BackfillProgress {
        days_total: plan.len(),
        ..BackfillProgress::default()
    };
    let mut totals = DayTotals::default();
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
        let reported = totals.get(client, meta, date).await?;
        let stored = repo
            .daily(&meta.id, date, date)
            .await?
            .into_iter()
            .next()
            .and_then(|(_, e)| e.produced_wh);
        if end > now + SignedDuration::from_hours(24) || !needs_fetch(reported, stored) {
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
        let stats = client.stats().snapshot();
        progress.calls = stats.total_calls() - before.total_calls();
        progress.data_points = stats.total_data_points() - before.total_data_points();
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

/// Whether a day must be fetched: Solar.web has production for it that the store does not
/// hold. Without Solar.web's total (the call failed, or an old API), a day is fetched unless
/// something is stored for it.
fn needs_fetch(reported: Option<f64>, stored: Option<f64>) -> bool {
    match (reported, stored) {
        (Some(r), _) if r <= 0.0 => false,
        (Some(r), Some(s)) => (r - s).abs() > 0.5_f64.max(r * 1e-4),
        (Some(_), None) => true,
        (None, stored) => stored.is_none(),
    }
}

/// Solar.web's daily production totals, one `aggrdata` call per system and month.
#[derive(Default)]
struct DayTotals {
    /// `None` for a month Solar.web would not give totals for.
    months:
        std::collections::HashMap<(String, i16, i8), Option<std::collections::HashMap<Date, f64>>>,
}

impl DayTotals {
    async fn get(
        &mut self,
        client: &SolarWebClient,
        meta: &SystemMeta,
        date: Date,
    ) -> Result<Option<f64>, SolarDataError> {
        let key = (meta.id.as_str().to_owned(), date.year(), date.month());
        if !self.months.contains_key(&key) {
            let month = match client
                .aggrdata(
                    meta.id.as_str(),
                    None,
                    AggrPeriod::DaysOf(date.year(), date.month()),
                    &["EnergyProductionTotal"],
                )
                .await
            {
                Ok(records) => Some(
                    records
                        .iter()
                        .filter_map(|r| {
                            let day = r.log_date_time.get(..10)?.parse().ok()?;
                            let wh = channel_value(&r.channels, "EnergyProductionTotal")?;
                            Some((day, wh))
                        })
                        .collect(),
                ),
                Err(e) if e.kind() == "not_found" || e.kind() == "bad_request" => None,
                Err(e) => return Err(e.into()),
            };
            self.months.insert(key.clone(), month);
        }
        // A month Solar.web has no record for a day of means no production that day.
        Ok(self
            .months
            .get(&key)
            .and_then(Option::as_ref)
            .map(|m| m.get(&date).copied().unwrap_or(0.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::needs_fetch;

    #[test]
    fn only_days_with_energy_the_store_lacks_are_fetched() {
        assert!(!needs_fetch(Some(0.0), None), "nothing to give");
        assert!(!needs_fetch(Some(12_345.0), Some(12_345.2)), "complete");
        assert!(needs_fetch(Some(12_345.0), Some(10_000.0)), "partly stored");
        assert!(needs_fetch(Some(12_345.0), None), "not stored");
        assert!(needs_fetch(None, None), "unknown total, nothing stored");
        assert!(
            !needs_fetch(None, Some(5.0)),
            "unknown total, something stored"
        );
    }
}
