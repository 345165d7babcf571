//! What a system usually produces at each time of day, learned from its own recent days.
//!
//! Real plants do not follow clear-sky physics at dawn and dusk: shading, east–west arrays,
//! trackers and loggers that stop sending at night all move the hours in which a plant
//! produces. The profile records, for every 5-minute slot of the UTC day, on how many of the
//! recent good days the plant produced and its typical power then. "Should it be producing
//! now?" is answered from it before any model, and without a position at all.
//!
//! Slots are of the UTC day, so daylight-saving changes do not shift them; the sun moves a few
//! minutes a week, which relearning every day follows.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// Slots of a day.
pub const SLOTS_PER_DAY: u16 = 288;
/// Length of a slot, seconds.
pub const SLOT_SECS: i64 = 300;

/// One slot of the profile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SlotProfile {
    /// Days (of [`ProductionProfile::days`]) on which the plant produced in this slot.
    pub producing_days: u8,
    /// Median power over those days, W.
    pub typical_w: f32,
}

/// A system's learned day.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProductionProfile {
    /// The local day it was learned on (relearned once a day).
    pub learned_on: Option<Date>,
    /// Good days it was learned from.
    pub days: u8,
    /// Slots with any production, by slot of the UTC day.
    pub slots: BTreeMap<u16, SlotProfile>,
}

/// The slot of the UTC day that contains `t`.
pub fn slot_of(t: Timestamp) -> u16 {
    let secs = t.as_second().rem_euclid(86_400);
    u16::try_from(secs / SLOT_SECS).unwrap_or(0)
}

impl ProductionProfile {
    /// Fewest learned days before the profile is trusted.
    pub const MIN_DAYS: u8 = 3;

    /// Whether the profile has learned enough to be used.
    pub fn usable(&self) -> bool {
        self.days >= Self::MIN_DAYS
    }

    fn slot(&self, t: Timestamp) -> Option<&SlotProfile> {
        self.slots.get(&slot_of(t))
    }

    /// Whether the plant solidly produces at `t` on its usual days: on most learned days, and
    /// at more than a tenth of its usual midday power (the dim edges of the day do not count,
    /// so a late sunrise in a shaded valley is not a missing record).
    pub fn should_produce(&self, t: Timestamp) -> bool {
        let peak = self.peak_w();
        self.usable()
            && self.slot(t).is_some_and(|s| {
                u16::from(s.producing_days) * 10 >= u16::from(self.days) * 7
                    && f64::from(s.typical_w) >= 0.1 * peak
            })
    }

    /// When the current run of "should produce" slots began (looking back at most 18 hours),
    /// if the plant should be producing at `now`.
    pub fn producing_since(&self, now: Timestamp) -> Option<Timestamp> {
        if !self.should_produce(now) {
            return None;
        }
        let step = jiff::SignedDuration::from_secs(SLOT_SECS);
        let start = Timestamp::from_second(now.as_second() - now.as_second().rem_euclid(SLOT_SECS))
            .unwrap_or(now);
        let mut t = start;
        for _ in 0..(18 * 12) {
            let earlier = t - step;
            if !self.should_produce(earlier) {
                return Some(t);
            }
            t = earlier;
        }
        Some(t)
    }

    /// Typical power at `t`, W (0 where the plant usually does not produce).
    pub fn typical_w(&self, t: Timestamp) -> f64 {
        self.slot(t).map_or(0.0, |s| f64::from(s.typical_w))
    }

    /// The highest typical power of the day, W.
    pub fn peak_w(&self) -> f64 {
        self.slots
            .values()
            .map(|s| f64::from(s.typical_w))
            .fold(0.0, f64::max)
    }

    /// Typical energy in `[from, to)`, Wh: what a usual day gives in those slots.
    pub fn energy_wh(&self, from: Timestamp, to: Timestamp) -> f64 {
        let step = jiff::SignedDuration::from_secs(SLOT_SECS);
        let mut t = from;
        let mut wh = 0.0;
        // Bounded: a profile estimate over more than 31 days is not asked for.
        let mut n = 0;
        while t < to && n < 31 * 288 {
            let slot_end = (t + step).min(to);
            wh += self.typical_w(t) * slot_end.duration_since(t).as_secs_f64() / 3600.0;
            t = slot_end;
            n += 1;
        }
        wh
    }

    /// Learns a profile from days of 5-minute power samples (`(slot start, W)`, stale and
    /// flagged samples already left out). Days that produced under a fifth of the best day's
    /// energy (outages, snow, a dead logger) are not the plant's usual day and are skipped.
    pub fn learn(learned_on: Date, days: &[Vec<(Timestamp, f64)>]) -> Self {
        let energy = |d: &Vec<(Timestamp, f64)>| d.iter().map(|(_, w)| w.max(0.0)).sum::<f64>();
        let best = days.iter().map(energy).fold(0.0, f64::max);
        let good: Vec<&Vec<(Timestamp, f64)>> = days
            .iter()
            .filter(|d| best > 0.0 && energy(d) >= 0.2 * best)
            .collect();
        let mut by_slot: BTreeMap<u16, Vec<f64>> = BTreeMap::new();
        for day in &good {
            for (t, w) in day.iter() {
                if *w > 0.0 {
                    by_slot.entry(slot_of(*t)).or_default().push(*w);
                }
            }
        }
        let slots = by_slot
            .into_iter()
            .map(|(slot, mut ws)| {
                ws.sort_by(f64::total_cmp);
                // Days without production in the slot count as zero in the median.
                let zeros = good.len().saturating_sub(ws.len());
                let all: Vec<f64> = std::iter::repeat_n(0.0, zeros)
                    .chain(ws.iter().copied())
                    .collect();
                #[allow(clippy::cast_possible_truncation)]
                let typical_w = all[all.len() / 2] as f32;
                (
                    slot,
                    SlotProfile {
                        producing_days: u8::try_from(ws.len()).unwrap_or(u8::MAX),
                        typical_w,
                    },
                )
            })
            .collect();
        Self {
            learned_on: Some(learned_on),
            days: u8::try_from(good.len()).unwrap_or(u8::MAX),
            slots,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;

    /// A plant that produces 08:00–16:00 UTC with a triangular curve peaking at 12:00.
    fn day(date: &str, scale: f64) -> Vec<(Timestamp, f64)> {
        let start: Timestamp = format!("{date}T00:00:00Z").parse().unwrap();
        (0..288)
            .map(|i| {
                let t = start + SignedDuration::from_secs(i * SLOT_SECS);
                let h = (i as f64 * 5.0) / 60.0;
                let w = (1.0 - ((h - 12.0) / 4.0).abs()).max(0.0) * 5000.0 * scale;
                (t, w)
            })
            .collect()
    }

    #[test]
    fn learns_when_the_plant_produces_and_ignores_a_dead_day() {
        let days = vec![
            day("2026-06-01", 1.0),
            day("2026-06-02", 0.9),
            day("2026-06-03", 0.0),
            day("2026-06-04", 1.1),
        ];
        let p = ProductionProfile::learn(jiff::civil::date(2026, 6, 5), &days);
        assert_eq!(p.days, 3, "the dead day is not a usual day");
        let at = |s: &str| -> Timestamp { s.parse().unwrap() };
        assert!(p.should_produce(at("2026-06-05T12:00:00Z")));
        assert!(
            !p.should_produce(at("2026-06-05T07:00:00Z")),
            "before it starts"
        );
        assert!(
            !p.should_produce(at("2026-06-05T08:10:00Z")),
            "the dim edge"
        );
        let since = p.producing_since(at("2026-06-05T12:02:00Z")).unwrap();
        assert!(
            since >= at("2026-06-05T08:20:00Z") && since <= at("2026-06-05T09:00:00Z"),
            "{since}"
        );
        assert!((p.typical_w(at("2026-06-05T12:00:00Z")) - 5000.0).abs() < 1.0);
        let wh = p.energy_wh(at("2026-06-05T00:00:00Z"), at("2026-06-06T00:00:00Z"));
        assert!((wh - 20_000.0).abs() < 500.0, "{wh}");
    }

    #[test]
    fn too_few_days_are_not_trusted() {
        let p = ProductionProfile::learn(jiff::civil::date(2026, 6, 3), &[day("2026-06-01", 1.0)]);
        assert!(!p.usable());
        assert!(!p.should_produce("2026-06-03T12:00:00Z".parse().unwrap()));
    }
}
