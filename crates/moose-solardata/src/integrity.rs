//! The freshness and integrity of one system's stored data: the release checklist's "scan for
//! recent entries", made precise. Newest data, the 5-minute slots missing in the last day while
//! the sun was up, and whether the newest day Solar.web has a total for agrees with the records.

use jiff::{SignedDuration, Timestamp};
use moose_store::StoreError;
use serde::Serialize;

use crate::repo::{SolarRepo, SystemMeta};
use crate::series::Energy;

/// Sun elevation above which a slot counts as daylight, degrees (well clear of dawn and dusk,
/// when a plant may rightly send nothing).
const DAYLIGHT_ELEVATION_DEG: f64 = 10.0;
/// Records arrive with the poll interval's delay: the newest slots are not judged yet.
const SETTLING: SignedDuration = SignedDuration::from_mins(20);
/// The records agree with Solar.web's day total within this share (or 50 Wh).
const TOLERANCE: f64 = 0.01;

/// What [`integrity`] found for one system.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Integrity {
    /// The system.
    pub system: String,
    /// End of the newest stored record.
    pub last_data_at: Option<Timestamp>,
    /// Minutes since then.
    pub data_age_minutes: Option<i64>,
    /// 5-minute slots of the last 24 hours with the sun up (`None`: position unknown).
    pub daylight_slots: Option<u32>,
    /// Of those, the slots with no record.
    pub missing_daylight_slots: Option<u32>,
    /// The newest site-local day for which Solar.web's own total is stored.
    pub checked_day: Option<jiff::civil::Date>,
    /// That day's production in the records, Wh.
    pub records_wh: Option<f64>,
    /// Solar.web's total for that day, Wh.
    pub solarweb_wh: Option<f64>,
    /// Whether the two agree (within 1 % or 50 Wh).
    pub consistent: Option<bool>,
}

/// Checks one system's stored data at `now`.
pub async fn integrity(
    repo: &SolarRepo,
    meta: &SystemMeta,
    now: Timestamp,
) -> Result<Integrity, StoreError> {
    let tz = meta.tz();
    let today = now.to_zoned_datetime(tz.clone()).date();
    let from = today
        .checked_sub(jiff::Span::new().days(2))
        .unwrap_or(today);
    let days = repo.days(&meta.id, from, today).await?;
    let last = repo.cursor(&meta.id).await?.and_then(|c| c.last_data_at);
    // Daylight slots of the last day, and which have a record.
    let (mut daylight, mut missing) = (None, None);
    if let Some(site) = meta.site() {
        let (mut d, mut m) = (0u32, 0u32);
        let end = now - SETTLING;
        let mut t = end - SignedDuration::from_hours(24);
        while t < end {
            let mid = t + SignedDuration::from_secs(150);
            if moose_pvmodel::sun_position(&site, mid).elevation_deg > DAYLIGHT_ELEVATION_DEG {
                d += 1;
                let date = t.to_zoned_datetime(tz.clone()).date();
                let has = days.iter().find(|c| c.date == date).is_some_and(|c| {
                    let slot = (t - c.start).as_secs() / 300;
                    u16::try_from(slot).is_ok_and(|s| c.slots.contains_key(&s))
                });
                if !has {
                    m += 1;
                }
            }
            t += SignedDuration::from_mins(5);
        }
        (daylight, missing) = (Some(d), Some(m));
    }
    let checked = days.iter().rev().find(|c| c.reported_wh.is_some());
    let records_wh = checked.and_then(|c| Energy::of_day(c).produced_wh);
    let solarweb_wh = checked.and_then(|c| c.reported_wh);
    let consistent = match (records_wh, solarweb_wh) {
        (Some(r), Some(s)) => Some((r - s).abs() <= (s.abs() * TOLERANCE).max(50.0)),
        (None, Some(s)) => Some(s.abs() <= 50.0),
        _ => None,
    };
    Ok(Integrity {
        system: meta.id.as_str().to_owned(),
        last_data_at: last,
        data_age_minutes: last.map(|t| (now - t).as_mins()),
        daylight_slots: daylight,
        missing_daylight_slots: missing,
        checked_day: checked.map(|c| c.date),
        records_wh,
        solarweb_wh,
        consistent,
    })
}
