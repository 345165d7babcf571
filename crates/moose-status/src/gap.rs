//! Comms loss or outage: how a no-data gap ended, and what it cost.
//!
//! The verdict uses only energy whose time lies inside the gap:
//! - records inside `[since, end)` that arrived late (`end` is the last pass that still saw the
//!   gap open: records after it are the resumed flow, not the gap);
//! - Solar.web's lifetime counter (`aggrdata period=total`), read when the incident opened and
//!   again now: what it grew by, less what the 5-minute series holds for the same time, is
//!   energy the inverter produced but could not report (hidden by the communication loss);
//! - what Solar.web's live view said during the gap (online and producing is a comms problem;
//!   online with no power is a stop).
//!
//! Energy the plant would usually have made (its learned profile, or clear sky × 0.6) is the
//! yardstick for "did it produce", and what it lost when it did not.

use jiff::Timestamp;
use moose_incidents::model::{Evidence, GapWatch, Incident, Resolution};
use moose_solardata::SystemMeta;
use moose_solarweb::AggrPeriod;
use moose_store::StoreError;
use serde_json::json;

use crate::observe::Observation;
use crate::parts::StatusJob;

/// Produced energy in `[from, to)` according to the stored 5-minute records, Wh.
pub(crate) async fn stored_between(
    job: &StatusJob,
    meta: &SystemMeta,
    from: Timestamp,
    to: Timestamp,
) -> Result<f64, StoreError> {
    if to <= from {
        return Ok(0.0);
    }
    let tz = meta.tz();
    let (d0, d1) = (
        from.to_zoned_datetime(tz.clone()).date(),
        to.to_zoned_datetime(tz).date(),
    );
    let mut wh = 0.0;
    for chunk in job.solar.days(&meta.id, d0, d1).await? {
        let Some(col) = chunk
            .channels
            .iter()
            .position(|c| c == "EnergyProductionTotal")
        else {
            continue;
        };
        for (i, values) in &chunk.slots {
            let t = chunk.slot_start(*i);
            if t >= from && t < to {
                wh += values.get(col).copied().flatten().unwrap_or(0.0);
            }
        }
    }
    Ok(wh)
}

/// Solar.web's lifetime production counter now, Wh (`None` if it cannot be read).
pub(crate) async fn lifetime_counter(job: &StatusJob, meta: &SystemMeta) -> Option<f64> {
    match job
        .client
        .aggrdata(
            meta.id.as_str(),
            None,
            AggrPeriod::Total,
            &["EnergyProductionTotal"],
        )
        .await
    {
        Ok(records) => records
            .iter()
            .filter_map(|r| {
                moose_solarweb::types::channel_value(&r.channels, "EnergyProductionTotal")
            })
            .reduce(|a, b| a + b),
        Err(e) => {
            tracing::info!(system = %meta.id, error = %e, "cannot read the lifetime counter");
            None
        }
    }
}

/// How a gap ended.
pub(crate) struct GapVerdict {
    pub(crate) resolution: Resolution,
    pub(crate) lost_wh: Option<f64>,
    pub(crate) hidden_wh: Option<f64>,
    pub(crate) evidence: Evidence,
}

fn slot_floor(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second() - t.as_second().rem_euclid(300)).unwrap_or(t)
}

/// Decides how the no-data gap of `incident` ended (see the module's doc).
pub(crate) async fn classify_gap(
    job: &StatusJob,
    obs: &Observation,
    incident: &Incident,
    watch: Option<GapWatch>,
) -> Result<GapVerdict, StoreError> {
    let meta = &obs.meta;
    let now = obs.now;
    let since = incident.since;
    // The last pass that still saw no data: records starting before it are the gap's.
    let end = incident.last_seen_at.max(since).min(now);
    let late = stored_between(job, meta, since, end).await?;
    let (usual, from_profile) = obs.usual_energy_wh(since, end).unwrap_or((0.0, false));
    let watch = watch.unwrap_or_default();
    let counter_now = match watch.counter_wh {
        Some(_) => lifetime_counter(job, meta).await,
        None => None,
    };
    let hidden = match (watch.counter_wh, watch.counter_at, counter_now) {
        (Some(before), Some(at), Some(after)) => {
            let stored_since = stored_between(job, meta, slot_floor(at), now).await?;
            Some((after - before - stored_since).max(0.0))
        }
        _ => None,
    };
    let produced = late + hidden.unwrap_or(0.0);
    let threshold = (0.1 * usual).max(20.0);
    let data = json!({
        "gap_from": since, "gap_to": end, "usual_wh": usual.round(), "usual_from_profile": from_profile,
        "late_records_wh": late.round(), "hidden_wh": hidden.map(f64::round),
        "counter_before_wh": watch.counter_wh, "counter_after_wh": counter_now,
        "passes_offline": watch.offline, "passes_online_producing": watch.producing,
        "passes_online_idle": watch.idle,
    });
    let evidence = |note: String| Evidence {
        at: now,
        note,
        data: data.clone(),
    };
    // Without the counter, a live view that kept showing production while records were
    // missing also says the plant produced.
    let live_producing = hidden.is_none() && watch.producing >= 3 && watch.idle == 0;
    if produced >= threshold || live_producing {
        let note = match hidden {
            Some(h) if h >= 1.0 => format!(
                "data resumed; {:.1} kWh were produced during the gap, {:.1} kWh of it only in Solar.web's lifetime counter",
                produced / 1000.0,
                h / 1000.0
            ),
            _ => format!(
                "data resumed; {:.1} kWh were produced during the gap",
                produced / 1000.0
            ),
        };
        return Ok(GapVerdict {
            resolution: Resolution::CommunicationLoss,
            lost_wh: None,
            hidden_wh: hidden.filter(|h| *h >= 1.0).map(f64::round),
            evidence: evidence(note),
        });
    }
    if usual < 20.0 {
        // Nothing was to be made in the gap (it fell in the plant's night): nothing lost.
        return Ok(GapVerdict {
            resolution: Resolution::CommunicationLoss,
            lost_wh: None,
            hidden_wh: None,
            evidence: evidence(
                "data resumed; the gap fell outside the plant's producing hours".into(),
            ),
        });
    }
    let expected = expected_energy(job, obs, since, end)
        .await?
        .unwrap_or(usual);
    let lost = (expected - produced).max(0.0);
    let basis = if hidden.is_some() {
        "Solar.web's lifetime counter did not move"
    } else {
        "no records arrived for it"
    };
    Ok(GapVerdict {
        resolution: Resolution::ConfirmedOutage,
        lost_wh: Some(lost.round()),
        hidden_wh: None,
        evidence: evidence(format!(
            "data resumed; the inverter did not produce during the gap ({basis}; about {:.1} kWh lost)",
            lost / 1000.0
        )),
    })
}

/// Energy lost while a plant did not produce in `[since, until)`, Wh: what it usually makes
/// then, scaled by how the day went before (a sunny day loses more than a usual one), less
/// what it made.
pub(crate) async fn lost_energy(
    job: &StatusJob,
    obs: &Observation,
    since: Timestamp,
    until: Timestamp,
) -> Result<Option<f64>, StoreError> {
    let Some(expected) = expected_energy(job, obs, since, until).await? else {
        return Ok(None);
    };
    let made = stored_between(job, &obs.meta, since, until).await?;
    Ok(Some((expected - made).max(0.0).round()))
}

/// What the plant would have made in `[since, until)` on this day, Wh: its usual energy then,
/// times the ratio of what it made earlier that day to what it usually makes by then (between
/// 0.2 and 2; 1 when too little of the day had passed to tell).
async fn expected_energy(
    job: &StatusJob,
    obs: &Observation,
    since: Timestamp,
    until: Timestamp,
) -> Result<Option<f64>, StoreError> {
    let Some((usual, _)) = obs.usual_energy_wh(since, until) else {
        return Ok(None);
    };
    let meta = &obs.meta;
    let day = since.to_zoned_datetime(meta.tz()).date();
    let day_start = moose_solardata::query::local_midnight(meta, day);
    let day_end = day.tomorrow().map_or(day_start, |d| {
        moose_solardata::query::local_midnight(meta, d)
    });
    let (usual_before, _) = obs
        .usual_energy_wh(day_start, since)
        .unwrap_or((0.0, false));
    let (usual_day, _) = obs
        .usual_energy_wh(day_start, day_end)
        .unwrap_or((0.0, false));
    let ratio = if usual_before >= 0.1 * usual_day && usual_before > 0.0 {
        let made_before = stored_between(job, meta, day_start, since).await?;
        (made_before / usual_before).clamp(0.2, 2.0)
    } else {
        1.0
    };
    Ok(Some(usual * ratio))
}
