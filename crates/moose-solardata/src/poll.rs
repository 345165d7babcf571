//! `solar-data-polling`: one pass over the fleet.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use moose_domain::DeviceId;
use moose_solarweb::types::Record;
use moose_solarweb::{SolarWebClient, SolarWebError};
use moose_store::StoreError;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::repo::{DayWrite, IngestCursor, SolarRepo, SystemMeta, VersionedChunk};
use crate::series::{DayChunk, Energy, HourlyMonth, INVERTER_CHANNELS, SLOT_SECS, SYSTEM_CHANNELS};

/// One record as stored: its start and its channel values.
type Sample = (Timestamp, Vec<Option<f64>>);
/// Records of one inverter.
type DeviceSamples = (DeviceId, Vec<Sample>);

/// Why a pass (or a system within it) failed.
#[derive(Debug, thiserror::Error)]
pub enum SolarDataError {
    /// Solar.web failed.
    #[error(transparent)]
    SolarWeb(#[from] SolarWebError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SolarDataError {
    fn kind(&self) -> String {
        match self {
            Self::SolarWeb(e) => format!("solarweb_{}", e.kind()),
            Self::Store(_) => "store".into(),
        }
    }
}

/// How a pass behaves.
#[derive(Debug, Clone)]
pub struct PollSettings {
    /// Systems polled at once.
    pub concurrency: usize,
    /// A system never polled before starts this far back.
    pub initial_lookback: SignedDuration,
    /// Each poll re-asks this much before the cursor (records arriving just after a poll).
    pub overlap: SignedDuration,
    /// Gaps this recent are asked for again on every pass until they fill (late data).
    pub late_window: SignedDuration,
    /// Skip systems whose sun has been down since their last poll.
    pub sun_aware: bool,
    /// Sun elevation (degrees) below which a site is dark.
    pub dark_below_deg: f64,
}

impl Default for PollSettings {
    fn default() -> Self {
        Self {
            concurrency: 8,
            initial_lookback: SignedDuration::from_hours(24),
            overlap: SignedDuration::from_mins(15),
            late_window: SignedDuration::from_hours(12),
            sun_aware: true,
            dark_below_deg: -3.0,
        }
    }
}

/// What a pass did: logged after every run and returned to the caller.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PollSummary {
    /// Fleet changes.
    pub discovery: crate::DiscoverySummary,
    /// Active systems considered.
    pub systems: usize,
    /// Systems whose data was requested.
    pub polled: usize,
    /// Systems skipped because their sun was down throughout.
    pub skipped_dark: usize,
    /// 5-minute records newly stored or corrected (system and inverters).
    pub records_written: usize,
    /// Day items written.
    pub days_written: usize,
    /// Solar.web calls made.
    pub calls: u64,
    /// Solar.web data points billed.
    pub data_points: u64,
    /// Failed systems by error kind.
    pub errors: BTreeMap<String, usize>,
    /// Wall time, ms.
    pub duration_ms: u128,
}

#[derive(Debug, Default)]
pub(crate) struct SystemOutcome {
    pub(crate) polled: bool,
    pub(crate) records: usize,
    pub(crate) days: usize,
}

/// One pass: discover the fleet, then ingest every active system's new 5-minute data. Stops
/// early (between systems) when `cancel` fires.
pub async fn poll_once(
    client: &SolarWebClient,
    repo: &SolarRepo,
    settings: &PollSettings,
    now: Timestamp,
    cancel: &CancellationToken,
) -> Result<PollSummary, SolarDataError> {
    let started = Instant::now();
    let before = client.stats().snapshot();
    let discovery = crate::discover(client, repo).await?;
    let systems: Vec<SystemMeta> = repo
        .all_systems()
        .await?
        .into_iter()
        .filter(|m| m.active)
        .collect();
    let mut summary = PollSummary {
        discovery,
        systems: systems.len(),
        ..PollSummary::default()
    };
    let mut results = futures_util::stream::iter(systems)
        .map(|meta| async move {
            if cancel.is_cancelled() {
                return (meta, Ok(SystemOutcome::default()));
            }
            let outcome = poll_system(client, repo, settings, &meta, now).await;
            (meta, outcome)
        })
        .buffer_unordered(settings.concurrency.max(1));
    while let Some((meta, outcome)) = results.next().await {
        match outcome {
            Ok(o) if o.polled => {
                summary.polled += 1;
                summary.records_written += o.records;
                summary.days_written += o.days;
            }
            Ok(_) => summary.skipped_dark += usize::from(!cancel.is_cancelled()),
            Err(e) => {
                tracing::warn!(system = %meta.id, error = %e, "polling a system failed; its cursor stays where it was");
                *summary.errors.entry(e.kind()).or_default() += 1;
            }
        }
    }
    let after = client.stats().snapshot();
    summary.calls = after.total_calls() - before.total_calls();
    summary.data_points = after.total_data_points() - before.total_data_points();
    summary.duration_ms = started.elapsed().as_millis();
    record(&summary);
    Ok(summary)
}

/// A pass in the process metrics (`moose_poll_*`, `moose_solarweb_*`).
fn record(s: &PollSummary) {
    use moose_metrics::{count, gauge, observe};
    count(
        "moose_poll_passes_total",
        "solar-data-polling passes finished.",
        &[],
        1,
    );
    gauge(
        "moose_poll_systems",
        "Systems in the last polling pass.",
        &[],
        s.systems as f64,
    );
    count(
        "moose_poll_records_total",
        "5-minute records written by polling.",
        &[],
        s.records_written as u64,
    );
    count(
        "moose_solarweb_calls_total",
        "Solar.web API calls made by polling.",
        &[],
        s.calls,
    );
    count(
        "moose_solarweb_data_points_total",
        "Solar.web data points billed to polling.",
        &[],
        s.data_points,
    );
    for (kind, n) in &s.errors {
        count(
            "moose_poll_errors_total",
            "Systems whose polling failed, by error kind.",
            &[("kind", kind)],
            *n as u64,
        );
    }
    observe(
        "moose_poll_pass_duration_seconds",
        "Duration of a polling pass.",
        &[],
        s.duration_ms as f64 / 1000.0,
    );
}

fn dark(meta: &SystemMeta, settings: &PollSettings, from: Timestamp, to: Timestamp) -> bool {
    let Some(site) = meta.site() else {
        return false;
    };
    let mut t = from;
    while t <= to {
        if moose_pvmodel::sun_position(&site, t).elevation_deg > settings.dark_below_deg {
            return false;
        }
        t += SignedDuration::from_mins(10);
    }
    moose_pvmodel::sun_position(&site, to).elevation_deg <= settings.dark_below_deg
}

/// The earliest missing slot after `since` that lies between two stored slots of its day: a
/// hole that late data may still fill.
fn earliest_gap(chunks: &[DayChunk], since: Timestamp) -> Option<Timestamp> {
    chunks.iter().find_map(|c| {
        let (first, last) = (*c.slots.keys().next()?, *c.slots.keys().next_back()?);
        (first..last)
            .find(|i| !c.slots.contains_key(i) && c.slot_start(*i) >= since)
            .map(|i| c.slot_start(i))
    })
}

fn local_date(meta: &SystemMeta, t: Timestamp) -> Date {
    t.to_zoned_datetime(meta.tz()).date()
}

pub(crate) fn local_midnight(meta: &SystemMeta, date: Date) -> Timestamp {
    date.to_zoned_datetime(meta.tz())
        .and_then(|z| z.start_of_day())
        .map_or_else(|_| Timestamp::UNIX_EPOCH, |z| z.timestamp())
}

fn values(record: &Record, channels: &[&str]) -> Option<Sample> {
    let t = record.timestamp()?;
    Some((
        t,
        channels
            .iter()
            .map(|c| moose_solarweb::types::channel_value(&record.channels, c))
            .collect(),
    ))
}

async fn poll_system(
    client: &SolarWebClient,
    repo: &SolarRepo,
    settings: &PollSettings,
    meta: &SystemMeta,
    now: Timestamp,
) -> Result<SystemOutcome, SolarDataError> {
    let cursor = repo.cursor(&meta.id).await?;
    let mut from = match cursor {
        Some(c) if settings.sun_aware && dark(meta, settings, c.polled_until, now) => {
            return Ok(SystemOutcome::default());
        }
        Some(c) => c.polled_until - settings.overlap,
        None => now - settings.initial_lookback,
    };
    if let Some(installed) = meta.installation_date {
        from = from.max(local_midnight(meta, installed));
    }
    // Ask again for recent holes: data that arrives late (a comm loss that is backfilled).
    let late_since = now - settings.late_window;
    let recent = repo
        .days(
            &meta.id,
            local_date(meta, late_since),
            local_date(meta, now),
        )
        .await?;
    if let Some(gap) = earliest_gap(&recent, late_since) {
        from = from.min(gap);
    }
    let (system_records, inverter_records) = fetch_window(client, repo, meta, from, now).await?;
    let mut outcome = ingest(
        repo,
        meta,
        cursor,
        &system_records,
        &inverter_records,
        now,
        true,
    )
    .await?;
    outcome.days += reconcile(client, repo, meta, from, now).await?;
    Ok(outcome)
}

/// Past days reconciled at most, counting back from yesterday.
const RECONCILE_DAYS: i64 = 3;

/// Once a day, after the site's night has let late records in, records Solar.web's own total
/// of each past day not reconciled yet (at most [`RECONCILE_DAYS`]) with the day. What it
/// carries beyond the 5-minute records is reported as hidden energy, and a day Solar.web
/// reports with no production becomes 0 Wh instead of "no data". One `aggrdata` call (one data
/// point per day) per system and day. Returns the days written.
async fn reconcile(
    client: &SolarWebClient,
    repo: &SolarRepo,
    meta: &SystemMeta,
    window_from: Timestamp,
    now: Timestamp,
) -> Result<usize, SolarDataError> {
    let Some(mut cursor) = repo.cursor(&meta.id).await? else {
        return Ok(0);
    };
    if cursor.polling_since.is_none() {
        // The first poll of this system: its first whole day is where polling began.
        let first = local_date(meta, window_from);
        let whole = if local_midnight(meta, first) < window_from {
            first.tomorrow().unwrap_or(first)
        } else {
            first
        };
        cursor.polling_since = Some(whole);
        repo.put_cursor(&meta.id, &cursor).await?;
    }
    let today = local_date(meta, now);
    let Ok(yesterday) = today.yesterday() else {
        return Ok(0);
    };
    if now < local_midnight(meta, today) + SignedDuration::from_hours(3)
        || cursor.reconciled_until.is_some_and(|d| d >= yesterday)
    {
        return Ok(0);
    }
    let earliest = yesterday
        .checked_sub(jiff::Span::new().days(RECONCILE_DAYS - 1))
        .unwrap_or(yesterday);
    let mut from = cursor
        .reconciled_until
        .and_then(|d| d.tomorrow().ok())
        .map_or(earliest, |d| d.max(earliest));
    if let Some(installed) = meta.installation_date {
        from = from.max(installed);
    }
    if let Some(since) = cursor.polling_since {
        from = from.max(since);
    }
    let mut written = 0;
    if from <= yesterday {
        let records = client
            .aggrdata(
                meta.id.as_str(),
                None,
                moose_solarweb::AggrPeriod::Days(from, yesterday),
                &["EnergyProductionTotal"],
            )
            .await?;
        for r in &records {
            let Some(date) = r
                .log_date_time
                .get(..10)
                .and_then(|d| d.parse::<Date>().ok())
            else {
                continue;
            };
            let Some(total) =
                moose_solarweb::types::channel_value(&r.channels, "EnergyProductionTotal")
            else {
                continue;
            };
            if date < from || date > yesterday {
                continue;
            }
            let mut progress = CursorProgress {
                last_data: cursor.last_data_at,
                now,
                floor: Some(cursor.polled_until),
                written: None,
                advance: false,
                reconciled: (cursor.reconciled_until, cursor.polling_since),
            };
            written += usize::from(
                write_date(repo, meta, date, &[], &[], &mut progress, Some(total)).await? > 0,
            );
        }
    }
    // Re-read: the day writes above do not touch the cursor, but be exact about what is kept.
    if let Some(latest) = repo.cursor(&meta.id).await? {
        cursor = latest;
    }
    cursor.reconciled_until = Some(yesterday);
    repo.put_cursor(&meta.id, &cursor).await?;
    Ok(written)
}

/// Fetches `from..=to` of a system and, when it has more than one active inverter, of each of
/// them. Solar.web bills every data point: a single inverter's series is the system's own
/// production again, so it is not asked for. The channels are always named.
pub(crate) async fn fetch_window(
    client: &SolarWebClient,
    repo: &SolarRepo,
    meta: &SystemMeta,
    from: Timestamp,
    to: Timestamp,
) -> Result<(Vec<Record>, Vec<(DeviceId, Vec<Record>)>), SolarDataError> {
    let system = client
        .histdata(meta.id.as_str(), None, from, to, &SYSTEM_CHANNELS)
        .await?;
    let inverters: Vec<_> = repo
        .devices(&meta.id)
        .await?
        .into_iter()
        .filter(|d| d.device_type == "Inverter" && d.active)
        .collect();
    let mut per_inverter = Vec::new();
    if inverters.len() > 1 {
        for device in inverters {
            let records = client
                .histdata(
                    meta.id.as_str(),
                    Some(device.id.as_str()),
                    from,
                    to,
                    &INVERTER_CHANNELS,
                )
                .await?;
            per_inverter.push((device.id, records));
        }
    }
    Ok((system, per_inverter))
}

/// Merges fetched records into day items, one transaction per local day, oldest first.
pub(crate) async fn ingest(
    repo: &SolarRepo,
    meta: &SystemMeta,
    cursor: Option<IngestCursor>,
    system_records: &[Record],
    inverter_records: &[(DeviceId, Vec<Record>)],
    now: Timestamp,
    advance_to_now: bool,
) -> Result<SystemOutcome, SolarDataError> {
    let mut by_date: BTreeMap<Date, Vec<Sample>> = BTreeMap::new();
    for r in system_records
        .iter()
        .filter_map(|r| values(r, &SYSTEM_CHANNELS))
    {
        by_date.entry(local_date(meta, r.0)).or_default().push(r);
    }
    let mut device_by_date: BTreeMap<Date, Vec<DeviceSamples>> = BTreeMap::new();
    for (device, records) in inverter_records {
        for r in records.iter().filter_map(|r| values(r, &INVERTER_CHANNELS)) {
            let date = local_date(meta, r.0);
            by_date.entry(date).or_default();
            let slot = device_by_date.entry(date).or_default();
            match slot.iter_mut().find(|(d, _)| d == device) {
                Some((_, list)) => list.push(r),
                None => slot.push((device.clone(), vec![r])),
            }
        }
    }
    let mut outcome = SystemOutcome {
        polled: true,
        ..SystemOutcome::default()
    };
    let mut last_data = cursor.and_then(|c| c.last_data_at);
    let floor = cursor.map(|c| c.polled_until);
    let mut written = None;
    for (date, records) in &by_date {
        let devices = device_by_date.get(date).map_or(&[][..], Vec::as_slice);
        // A concurrent poller (overlapping Lambda runs) may write the same day: reload and retry.
        for attempt in 1..=3 {
            let mut progress = CursorProgress {
                last_data,
                now,
                floor,
                written,
                advance: advance_to_now,
                reconciled: (
                    cursor.and_then(|c| c.reconciled_until),
                    cursor.and_then(|c| c.polling_since),
                ),
            };
            let result = write_date(repo, meta, *date, records, devices, &mut progress, None).await;
            (last_data, written) = (progress.last_data, progress.written);
            match result {
                Ok(changed) => {
                    outcome.records += changed;
                    outcome.days += usize::from(changed > 0);
                    break;
                }
                Err(StoreError::Conflict { .. }) if attempt < 3 => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
    // The last day's transaction usually moved the cursor to now already; write it only if not.
    let final_cursor = IngestCursor {
        polled_until: now.max(floor.unwrap_or(now)),
        last_data_at: last_data,
        reconciled_until: cursor.and_then(|c| c.reconciled_until),
        polling_since: cursor.and_then(|c| c.polling_since),
    };
    if advance_to_now && written != Some(final_cursor) {
        repo.put_cursor(&meta.id, &final_cursor).await?;
    }
    Ok(outcome)
}

/// Where a system's cursor stands while its days are written.
struct CursorProgress {
    /// End of the newest record stored so far.
    last_data: Option<Timestamp>,
    /// The pass's "now".
    now: Timestamp,
    /// The cursor before the pass: it never moves back past this.
    floor: Option<Timestamp>,
    /// The cursor the last day transaction wrote.
    written: Option<IngestCursor>,
    /// Whether the pass moves the cursor (polling) or leaves it alone (backfill: the next
    /// poll must still start where polling left off).
    advance: bool,
    /// The cursor's reconciliation fields (`reconciled_until`, `polling_since`), kept as
    /// they are.
    reconciled: (Option<Date>, Option<Date>),
}

async fn write_date(
    repo: &SolarRepo,
    meta: &SystemMeta,
    date: Date,
    records: &[Sample],
    devices: &[DeviceSamples],
    progress: &mut CursorProgress,
    reported_wh: Option<f64>,
) -> Result<usize, StoreError> {
    let CursorProgress {
        last_data,
        now,
        floor,
        written,
        advance,
        reconciled,
    } = progress;
    let (now, floor) = (*now, *floor);
    let start = local_midnight(meta, date);
    let load = |stored: Option<VersionedChunk>, channels: &[&str]| {
        stored.unwrap_or_else(|| VersionedChunk {
            chunk: DayChunk::new(date, start, channels),
            version: 0,
        })
    };
    let mut system = load(repo.day(&meta.id, None, date).await?, &SYSTEM_CHANNELS);
    let mut changed = system.chunk.merge(records);
    if let Some(r) = reported_wh
        && system.chunk.reported_wh != Some(r)
    {
        system.chunk.reported_wh = Some(r);
        changed += 1;
    }
    let mut device_chunks = Vec::new();
    for (device, list) in devices {
        let mut chunk = load(
            repo.day(&meta.id, Some(device), date).await?,
            &INVERTER_CHANNELS,
        );
        let n = chunk.chunk.merge(list);
        if n > 0 {
            changed += n;
            device_chunks.push((device.clone(), chunk));
        }
    }
    if changed == 0 {
        return Ok(0);
    }
    let day_energy = Energy::of_day(&system.chunk);
    let month_start = local_midnight(meta, date.first_of_month());
    let (mut hourly, hourly_version) = repo
        .hourly(&meta.id, date.first_of_month())
        .await?
        .unwrap_or_else(|| (HourlyMonth::new(date.first_of_month(), month_start), 0));
    let next_midnight = date
        .tomorrow()
        .map_or(start + SignedDuration::from_hours(24), |d| {
            local_midnight(meta, d)
        });
    hourly.replace_day(&system.chunk, next_midnight);
    let mut month = Energy::default();
    for (d, e) in repo
        .daily(&meta.id, date.first_of_month(), date.last_of_month())
        .await?
    {
        if d != date {
            month.add(&e);
        }
    }
    month.add(&day_energy);
    let newest = system.chunk.last_slot_end();
    *last_data = (*last_data).max(newest);
    let day_end = start + SignedDuration::from_hours(24) + SignedDuration::from_secs(SLOT_SECS);
    // The cursor only ever moves forward: re-ingesting an older day (late data, backfill) must
    // not make the next poll start from that day again.
    let polled_until = now.min(day_end).max(floor.unwrap_or(Timestamp::UNIX_EPOCH));
    let cursor = IngestCursor {
        polled_until,
        last_data_at: *last_data,
        reconciled_until: reconciled.0,
        polling_since: reconciled.1,
    };
    repo.write_day(
        &meta.id,
        &DayWrite {
            system,
            devices: device_chunks,
            month,
            hourly: (hourly, hourly_version),
            cursor: advance.then_some(cursor),
        },
    )
    .await?;
    if *advance {
        *written = Some(cursor);
    }
    Ok(changed)
}

/// Stores fetched system records (the write path of every pass), for callers that fetch
/// themselves (backfills from files, benchmarks). Returns the records newly stored or changed.
pub async fn ingest_records(
    repo: &SolarRepo,
    meta: &SystemMeta,
    records: &[Record],
    now: Timestamp,
) -> Result<usize, SolarDataError> {
    let cursor = repo.cursor(&meta.id).await?;
    Ok(ingest(repo, meta, cursor, records, &[], now, true)
        .await?
        .records)
}

/// How long to wait between passes, and the loop `moose serve` runs.
pub async fn run_schedule(
    client: SolarWebClient,
    repo: SolarRepo,
    settings: PollSettings,
    interval: Duration,
    cancel: CancellationToken,
) {
    // What this host actually runs with, once: an operator (and a test) can see that every
    // setting arrived.
    let paced = client.config();
    tracing::info!(
        concurrency = settings.concurrency,
        initial_lookback_hours = settings.initial_lookback.as_hours(),
        sun_aware = settings.sun_aware,
        requests_per_second = paced.requests_per_second,
        requests_in_flight = paced.max_concurrency,
        interval_secs = interval.as_secs(),
        "solar-data-polling scheduled"
    );
    loop {
        match poll_once(&client, &repo, &settings, Timestamp::now(), &cancel).await {
            Ok(s) => tracing::info!(
                systems = s.systems, polled = s.polled, skipped_dark = s.skipped_dark, records = s.records_written,
                days = s.days_written, calls = s.calls, data_points = s.data_points, errors = ?s.errors, ms = s.duration_ms,
                "solar-data-polling pass finished"
            ),
            Err(e) => tracing::error!(error = %e, "solar-data-polling pass failed"),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}
