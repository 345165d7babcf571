//! `device-status-polling`: one pass over the fleet that reads Solar.web's live view and
//! messages, judges every system and commits its `STATUS`, incidents and notification records
//! together.

use std::collections::BTreeMap;
use std::time::Instant;

use futures_util::StreamExt;
use jiff::{SignedDuration, Timestamp};
use moose_solardata::SystemMeta;
use moose_store::{StoreError, TxOp};
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use moose_incidents::model::{IncidentKind, SystemStatus, Transition};
use moose_incidents::{Change, ChangeEvent, IncidentRepo, PlatformStatus};

use crate::evaluate::evaluate;
use crate::judge::{Judgement, judge_days};
use crate::observe::{Observation, observe};
pub use crate::parts::StatusJob;
use crate::texts;

/// One system as a pass gathered it.
pub(crate) struct Entry {
    pub(crate) status: SystemStatus,
    pub(crate) version: u64,
    pub(crate) obs: Observation,
    /// The day's learning changed the status.
    pub(crate) relearned: bool,
}

/// What one pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatusSummary {
    /// Active systems.
    pub systems: usize,
    /// Systems whose status was committed.
    pub evaluated: usize,
    /// Systems Solar.web could not be reached for.
    pub unreachable: usize,
    /// Incidents opened, by kind.
    pub opened: BTreeMap<String, usize>,
    /// Incidents resolved, by kind.
    pub resolved: BTreeMap<String, usize>,
    /// Per-system incidents were held because of an upstream outage.
    pub upstream_hold: bool,
    /// Failures, by kind.
    pub errors: BTreeMap<String, usize>,
    /// Wall time, ms.
    pub duration_ms: u128,
}

impl StatusJob {
    async fn commit(
        &self,
        mut ops: Vec<TxOp>,
        changes: &[Change],
        summary: &mut StatusSummary,
    ) -> Result<(), StoreError> {
        // One transaction holds at most MAX_TRANSACTION_OPS: the status and incident writes
        // always fit (a system has at most one incident per kind); notifications get what is
        // left, in the order of the changes, and anything cut is reported loudly.
        let mut budget = moose_store::MAX_TRANSACTION_OPS.saturating_sub(ops.len() + changes.len());
        for change in changes {
            ops.push(IncidentRepo::incident_op(&change.incident, change.version)?);
            let mut planned = self.planner.plan(change).await?;
            if planned.len() > budget {
                tracing::error!(incident = %change.incident.id, planned = planned.len(), kept = budget, "notification records exceed the transaction limit; the excess is dropped");
                planned.truncate(budget);
            }
            budget -= planned.len();
            ops.extend(planned);
        }
        self.incidents.commit(ops).await?;
        for change in changes {
            let counter = match change.event {
                ChangeEvent::Opened => &mut summary.opened,
                ChangeEvent::Resolved => &mut summary.resolved,
                ChangeEvent::Updated => continue,
            };
            *counter
                .entry(change.incident.kind.as_str().to_owned())
                .or_default() += 1;
            tracing::info!(incident = %change.incident.id, event = ?change.event, title = %change.incident.title, "incident changed");
        }
        Ok(())
    }

    /// The platform's verdict and its upstream-outage incident. Returns, while an upstream
    /// problem is suspected or open, when it began: the no-data verdicts of systems that fell
    /// silent with it are held (see [`held`]).
    async fn platform(
        &self,
        observations: &[Observation],
        now: Timestamp,
        summary: &mut StatusSummary,
    ) -> Result<Option<Timestamp>, StoreError> {
        let read = self.incidents.platform().await?;
        let mut platform: PlatformStatus = read.value;
        let verdict = self.rules.upstream(observations);
        let transition =
            platform
                .track
                .observe(verdict, now, platform.open.is_some(), self.rules.upstream);
        let mut changes = Vec::new();
        match transition {
            Transition::Open => {
                let stale = observations
                    .iter()
                    .filter(|o| {
                        o.is_unreachable()
                            || (self.rules.recently_reporting(o)
                                && self.rules.stale(o) == Some(true))
                    })
                    .count();
                let reason = observations
                    .iter()
                    .find_map(|o| o.unreachable.as_ref().map(|u| u.0.clone()))
                    .unwrap_or_else(|| "no new data".into());
                let text = texts::upstream(stale, observations.len(), &reason);
                let since = platform.track.bad_since.unwrap_or(now);
                let incident =
                    texts::new_incident(None, None, IncidentKind::UpstreamOutage, text, since, now);
                platform.open = Some(incident.id.clone());
                changes.push(Change::new(ChangeEvent::Opened, incident));
            }
            Transition::Resolve => {
                if let Some(id) = platform.open.take()
                    && let Some(read) = self.incidents.incident_versioned(&id).await?
                {
                    let mut incident = read.value;
                    incident.resolved_at = Some(now);
                    incident.resolution = Some(moose_incidents::model::Resolution::Recovered);
                    changes.push(Change {
                        event: ChangeEvent::Resolved,
                        incident,
                        held: false,
                        version: read.version,
                    });
                }
            }
            Transition::None => {}
        }
        let hold = (platform.open.is_some() || platform.track.bad > 0)
            .then(|| platform.track.bad_since.unwrap_or(now));
        platform.checked_at = Some(now);
        let ops = vec![IncidentRepo::platform_op(&platform, read.version)?];
        self.commit(ops, &changes, summary).await?;
        Ok(hold)
    }
}

/// Whether an upstream problem that began at `from` explains this system's missing data: it
/// is unreachable, or its data stopped around the time the problem began. A plant that was
/// silent before is judged on its own: a platform incident must not hide a fault it cannot
/// explain.
fn held(job: &StatusJob, obs: &Observation, from: Option<Timestamp>) -> bool {
    let Some(from) = from else { return false };
    obs.is_unreachable()
        || obs
            .last_data_at
            .is_some_and(|last| last >= from - job.rules.upstream_recent)
}

/// One pass of `device-status-polling` at `now`.
pub async fn status_pass(
    job: &StatusJob,
    now: Timestamp,
    cancel: &CancellationToken,
) -> Result<StatusSummary, StoreError> {
    let started = Instant::now();
    let systems: Vec<SystemMeta> = job
        .solar
        .all_systems()
        .await?
        .into_iter()
        .filter(|m| m.active)
        .collect();
    let mut summary = StatusSummary {
        systems: systems.len(),
        ..StatusSummary::default()
    };
    let min_elev = job.rules.min_sun_elevation_deg;
    let gathered: Vec<Result<Entry, StoreError>> = futures_util::stream::iter(systems)
        .map(|meta| async move {
            let read = job.incidents.status(&meta.id).await?;
            let (status, version) = match read {
                Some(v) => (v.value, v.version),
                None => (SystemStatus::new(meta.id.clone(), now), 0),
            };
            let from = status
                .messages_until
                .map_or(now - SignedDuration::from_hours(1), |until| {
                    until - moose_incidents::model::MESSAGE_OVERLAP
                });
            let learned = crate::learn::relearn(job, status, meta, now).await?;
            let (status, meta) = (learned.status, learned.meta);
            let profile = status.profile.clone();
            let obs = observe(&job.client, &job.solar, meta, profile, now, from, min_elev).await?;
            Ok(Entry {
                status,
                version,
                obs,
                relearned: learned.changed,
            })
        })
        .buffer_unordered(job.concurrency.max(1))
        .collect()
        .await;
    let mut entries = Vec::new();
    for g in gathered {
        match g {
            Ok(e) => entries.push(e),
            Err(e) => {
                *summary
                    .errors
                    .entry(store_error_kind(&e).to_owned())
                    .or_default() += 1;
            }
        }
    }
    if cancel.is_cancelled() {
        return Ok(summary);
    }
    summary.unreachable = entries.iter().filter(|e| e.obs.is_unreachable()).count();
    // The oldest newest-data among systems that should be producing now.
    let freshness = entries
        .iter()
        .filter(|e| e.obs.sun_up(min_elev))
        .filter_map(|e| e.obs.last_data_at.map(|t| (now - t).as_secs_f64().max(0.0)))
        .reduce(f64::max)
        .or(Some(0.0));
    let observations: Vec<Observation> = entries.iter().map(|e| e.obs.clone()).collect();
    let hold_from = job.platform(&observations, now, &mut summary).await?;
    summary.upstream_hold = hold_from.is_some();
    let judgements: BTreeMap<String, Judgement> =
        judge_days(job, &entries, now).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot judge yesterday's yields; will try next pass");
            BTreeMap::new()
        });
    for Entry {
        status,
        version,
        obs,
        relearned,
    } in entries
    {
        if cancel.is_cancelled() {
            break;
        }
        let id = status.system.clone();
        let judgement = judgements.get(id.as_str());
        let before = status.clone();
        let hold = held(job, &obs, hold_from);
        match evaluate(job, status, &obs, hold, judgement).await {
            Ok((status, changes)) => {
                // Nothing but the evaluation time changed (a quiet night): skip the write.
                let unchanged = changes.is_empty()
                    && SystemStatus {
                        checked_at: before.checked_at,
                        // Reading messages moves this every pass; the overlap re-read and
                        // `seen_messages` make an unsaved advance harmless.
                        messages_until: before.messages_until,
                        ..status.clone()
                    } == before;
                if unchanged && !relearned && version > 0 {
                    summary.evaluated += 1;
                    continue;
                }
                let ops = vec![IncidentRepo::status_op(&status, version)?];
                match job.commit(ops, &changes, &mut summary).await {
                    Ok(()) => summary.evaluated += 1,
                    Err(e) => {
                        // A conflict means another evaluator got there first; the next pass
                        // sees its result. Nothing was half-written.
                        tracing::warn!(system = %id, error = %e, "status not committed; next pass retries");
                        *summary
                            .errors
                            .entry(store_error_kind(&e).to_owned())
                            .or_default() += 1;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(system = %id, error = %e, "cannot evaluate the system; next pass retries");
                *summary
                    .errors
                    .entry(store_error_kind(&e).to_owned())
                    .or_default() += 1;
            }
        }
    }
    summary.duration_ms = started.elapsed().as_millis();
    record(&summary, freshness);
    Ok(summary)
}

/// A pass in the process metrics (`moose_status_*`, `moose_incidents_*`, data freshness).
fn record(s: &StatusSummary, freshness: Option<f64>) {
    use moose_metrics::{count, gauge, observe};
    count(
        "moose_status_passes_total",
        "device-status-polling passes finished.",
        &[],
        1,
    );
    for (kind, n) in &s.opened {
        count(
            "moose_incidents_opened_total",
            "Incidents opened, by kind.",
            &[("kind", kind)],
            *n as u64,
        );
    }
    for (kind, n) in &s.resolved {
        count(
            "moose_incidents_resolved_total",
            "Incidents resolved, by kind.",
            &[("kind", kind)],
            *n as u64,
        );
    }
    for (kind, n) in &s.errors {
        count(
            "moose_status_errors_total",
            "Systems whose status pass failed, by error kind.",
            &[("kind", kind)],
            *n as u64,
        );
    }
    if let Some(age) = freshness {
        gauge(
            "moose_data_freshness_seconds",
            "Age of the oldest newest-data among systems with the sun up (0 when none is late).",
            &[],
            age,
        );
    }
    observe(
        "moose_status_pass_duration_seconds",
        "Duration of a status pass.",
        &[],
        s.duration_ms as f64 / 1000.0,
    );
}

/// Runs [`status_pass`] every `every` until `cancel` fires.
pub async fn run_schedule(job: StatusJob, every: std::time::Duration, cancel: CancellationToken) {
    loop {
        match status_pass(&job, Timestamp::now(), &cancel).await {
            Ok(s) => {
                tracing::info!(systems = s.systems, evaluated = s.evaluated, opened = ?s.opened, resolved = ?s.resolved, upstream_hold = s.upstream_hold, "device-status-polling pass finished");
            }
            Err(e) => {
                tracing::warn!(error = %e, "device-status-polling pass failed; next pass retries");
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

fn store_error_kind(e: &StoreError) -> &'static str {
    match e {
        StoreError::NotFound { .. } => "not_found",
        StoreError::Conflict { .. } => "conflict",
        StoreError::InvalidRequest(_) => "invalid_request",
        StoreError::Unavailable { .. } => "unavailable",
        StoreError::Corrupt { .. } => "corrupt",
        _ => "other",
    }
}
