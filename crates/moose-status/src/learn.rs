//! Once a day per system: learn when it usually produces (its [`ProductionProfile`]) from its
//! recent days, and, where nobody gave its position, where it must be.

use jiff::Timestamp;
use jiff::civil::Date;
use moose_incidents::model::SystemStatus;
use moose_incidents::profile::{ProductionProfile, SLOTS_PER_DAY};
use moose_pvmodel::position::{self, GuessedPosition, PositionMethod};
use moose_solardata::quality::stale_slots_of;
use moose_solardata::series::DayChunk;
use moose_solardata::{InferredPosition, SystemMeta};
use moose_store::StoreError;

use crate::parts::StatusJob;

/// Days of history a profile is learned from.
pub const LEARN_DAYS: i64 = 10;

/// A system's status and metadata after the day's learning, and whether learning changed
/// the status (it must then be written even on an otherwise quiet pass).
pub(crate) struct Learned {
    pub(crate) status: SystemStatus,
    pub(crate) meta: SystemMeta,
    pub(crate) changed: bool,
}

/// Relearns the profile (and the inferred position) if it was last learned before today.
pub(crate) async fn relearn(
    job: &StatusJob,
    mut status: SystemStatus,
    mut meta: SystemMeta,
    now: Timestamp,
) -> Result<Learned, StoreError> {
    let today = now.to_zoned_datetime(meta.tz()).date();
    if status.profile.learned_on.is_some_and(|d| d >= today) {
        return Ok(Learned {
            status,
            meta,
            changed: false,
        });
    }
    let from = today
        .checked_sub(jiff::Span::new().days(LEARN_DAYS))
        .unwrap_or(today);
    let yesterday = today.yesterday().unwrap_or(today);
    let chunks = job.solar.days(&meta.id, from, yesterday).await?;
    let days: Vec<Vec<(Timestamp, f64)>> = chunks.iter().map(power_samples).collect();
    status.profile = ProductionProfile::learn(today, &days);
    if !meta.position_given()
        && let Some(found) = infer_position(&meta, &status.profile, today)
    {
        let found = InferredPosition::of(found);
        if meta.inferred_position.as_ref() != Some(&found) {
            tracing::info!(system = %meta.id, latitude = found.latitude, longitude = found.longitude, "position inferred from the plant's producing hours");
            meta.inferred_position = Some(found);
            job.solar.put_meta(&meta).await?;
        }
    }
    Ok(Learned {
        status,
        meta,
        changed: true,
    })
}

/// A day chunk's trusted production as power samples (slot start, W): stale runs left out.
pub fn power_samples(chunk: &DayChunk) -> Vec<(Timestamp, f64)> {
    let Some(col) = chunk
        .channels
        .iter()
        .position(|c| c == "EnergyProductionTotal")
    else {
        return Vec::new();
    };
    let stale = stale_slots_of(chunk, col);
    chunk
        .slots
        .iter()
        .filter(|(i, _)| !stale.contains(i))
        .filter_map(|(i, v)| {
            let wh = v.get(col).copied().flatten()?;
            Some((chunk.slot_start(*i), wh * 12.0))
        })
        .collect()
}

/// The plant's position from its usual producing hours (see `moose_pvmodel::position`).
pub fn infer_position(
    meta: &SystemMeta,
    profile: &ProductionProfile,
    today: Date,
) -> Option<GuessedPosition> {
    if !profile.usable() {
        return None;
    }
    let (first, last) = producing_window(profile)?;
    let prior = meta
        .inferred_position
        .as_ref()
        .filter(|p| !p.from_production())
        .map(|p| GuessedPosition {
            latitude_deg: p.latitude,
            longitude_deg: p.longitude,
            method: PositionMethod::TimeZone,
        })
        .or_else(|| position::from_time_zone(&meta.time_zone));
    // The profile is learned from the last days: its middle day is the one it describes.
    let middle = today
        .checked_sub(jiff::Span::new().days(LEARN_DAYS / 2))
        .unwrap_or(today);
    position::refine(prior, middle, first, last)
}

/// First and last minute of the UTC day (the last may pass 1440 when the producing hours
/// wrap midnight UTC, as in Asia and Australia) in which the plant produces on most days.
fn producing_window(profile: &ProductionProfile) -> Option<(f64, f64)> {
    let producing: Vec<bool> = (0..SLOTS_PER_DAY)
        .map(|i| {
            profile
                .slots
                .get(&i)
                .is_some_and(|s| u16::from(s.producing_days) * 2 > u16::from(profile.days))
        })
        .collect();
    if !producing.iter().any(|p| *p) || producing.iter().all(|p| *p) {
        return None;
    }
    // The night is the longest circular run of non-producing slots; the day is the rest.
    let n = producing.len();
    let (mut best_len, mut best_end) = (0, 0);
    let mut run = 0;
    for k in 0..2 * n {
        if producing[k % n] {
            run = 0;
        } else {
            run += 1;
            if run > best_len && run <= n {
                best_len = run;
                best_end = k % n;
            }
        }
    }
    let first = (best_end + 1) % n;
    let day_slots = n - best_len;
    let last = first + day_slots;
    #[allow(clippy::cast_precision_loss)]
    Some((first as f64 * 5.0, last as f64 * 5.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use moose_incidents::profile::SlotProfile;

    fn profile(slots: impl Iterator<Item = u16>) -> ProductionProfile {
        ProductionProfile {
            learned_on: None,
            days: 5,
            slots: slots
                .map(|i| {
                    (
                        i,
                        SlotProfile {
                            producing_days: 5,
                            typical_w: 100.0,
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn the_producing_window_may_wrap_midnight_utc() {
        let europe = profile(60..=216);
        assert_eq!(producing_window(&europe), Some((300.0, 1085.0)));
        // Sydney: producing from 19:30 UTC to 08:00 UTC.
        let sydney = profile((234..288).chain(0..96));
        assert_eq!(producing_window(&sydney), Some((1170.0, 1920.0)));
    }
}
