//! Underperformance inputs: yesterday's specific yield of every system, and its peers'.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use moose_solardata::{ExpectedModel, SystemMeta};
use moose_store::StoreError;

use crate::observe::Observation;
use crate::parts::StatusJob;
use crate::rules::distance_km;

/// Yesterday's verdict inputs for one system.
#[derive(Debug, Clone)]
pub(crate) struct Judgement {
    pub(crate) day: Date,
    /// Whether the day had enough data to judge (if not, only `day` is recorded).
    pub(crate) complete: bool,
    pub(crate) yield_kwh_kwp: f64,
    pub(crate) pi: Option<f64>,
    pub(crate) peers: Vec<f64>,
    pub(crate) peer_pis: Vec<f64>,
}

struct DayYield {
    system: String,
    day: Date,
    yield_kwh_kwp: f64,
    pi: Option<f64>,
    position: (f64, f64),
}

/// Yesterday's yield of a system, if the day is complete enough to judge.
async fn day_yield(
    job: &StatusJob,
    meta: &SystemMeta,
    model: &ExpectedModel,
    day: Date,
) -> Result<Option<DayYield>, StoreError> {
    let Some((_, energy)) = job
        .solar
        .daily(&meta.id, day, day)
        .await?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    // Stale runs are not production; a day of poor quality is not judged at all.
    let Some(produced) = energy.trusted_produced_wh() else {
        return Ok(None);
    };
    if energy
        .quality
        .is_some_and(|q| q.score < moose_solardata::quality::DayQuality::TRUSTED)
    {
        return Ok(None);
    }
    let start = moose_solardata::query::local_midnight(meta, day);
    let end = day
        .tomorrow()
        .map_or(start, |d| moose_solardata::query::local_midnight(meta, d));
    // Only days whose daylight is at least 90 % covered by records are judged: a gap is the
    // no-data rule's business, not a sign of underperformance.
    let mut daylight_slots = 0u32;
    let mut t = start;
    while t < end {
        daylight_slots += u32::from(model.power_w(t + SignedDuration::from_mins(2)) > 0.0);
        t += SignedDuration::from_mins(5);
    }
    if daylight_slots == 0 || f64::from(energy.records) < 0.9 * f64::from(daylight_slots) {
        return Ok(None);
    }
    let expected = model.energy_wh(start, end);
    Ok(Some(DayYield {
        system: meta.id.as_str().to_owned(),
        day,
        yield_kwh_kwp: produced / model.peak_power_w,
        pi: (expected > 0.0).then(|| produced / expected),
        position: (model.site.latitude_deg, model.site.longitude_deg),
    }))
}

/// Yesterday's yields of every system, and for each system still to be judged, its peers'.
pub(crate) async fn judge_days(
    job: &StatusJob,
    entries: &[crate::job::Entry],
    now: Timestamp,
) -> Result<BTreeMap<String, Judgement>, StoreError> {
    let yesterday =
        |obs: &Observation| now.to_zoned_datetime(obs.meta.tz()).date().yesterday().ok();
    // Yields are read only on passes where some system is due: once per site-local day.
    let any_due = entries.iter().any(|crate::job::Entry { status, obs, .. }| {
        obs.model.is_some()
            && obs.sun_up(job.rules.min_sun_elevation_deg)
            && yesterday(obs).is_some_and(|d| status.judged_day.is_none_or(|j| j < d))
    });
    if !any_due {
        return Ok(BTreeMap::new());
    }
    let mut yields = Vec::new();
    let mut due = Vec::new();
    let mut skipped = Vec::new();
    for crate::job::Entry { status, obs, .. } in entries {
        let Some(model) = &obs.model else { continue };
        // Judge yesterday once the sun is up again: late data is in by then, and an incident
        // opened in daylight wakes nobody.
        let Some(day) = yesterday(obs) else { continue };
        if !obs.sun_up(job.rules.min_sun_elevation_deg) {
            continue;
        }
        let is_due = status.judged_day.is_none_or(|d| d < day);
        match day_yield(job, &obs.meta, model, day).await? {
            Some(y) => {
                if is_due {
                    due.push(y.system.clone());
                }
                yields.push(y);
            }
            // Too incomplete to judge: recorded as judged all the same, so the yields are not
            // read again on every pass of the day.
            None if is_due => skipped.push((obs.meta.id.as_str().to_owned(), day)),
            None => {}
        }
    }
    let radius = job.rules.peer_radius_km;
    let incomplete = skipped.into_iter().map(|(system, day)| {
        (
            system,
            Judgement {
                day,
                complete: false,
                yield_kwh_kwp: 0.0,
                pi: None,
                peers: Vec::new(),
                peer_pis: Vec::new(),
            },
        )
    });
    Ok(due
        .into_iter()
        .filter_map(|system| {
            let me = yields.iter().find(|y| y.system == system)?;
            let near: Vec<&DayYield> = yields
                .iter()
                .filter(|p| {
                    p.system != me.system
                        && p.day == me.day
                        && distance_km(p.position, me.position) <= radius
                })
                .collect();
            let peers = near.iter().map(|p| p.yield_kwh_kwp).collect();
            let peer_pis = near.iter().filter_map(|p| p.pi).collect();
            Some((
                system,
                Judgement {
                    day: me.day,
                    complete: true,
                    yield_kwh_kwp: me.yield_kwh_kwp,
                    pi: me.pi,
                    peers,
                    peer_pis,
                },
            ))
        })
        .chain(incomplete)
        .collect())
}
