//! How far a day's 5-minute series can be trusted: completeness, holes and stale runs.
//!
//! Real loggers have quirks that are not faults: no records at night, short holes, whole
//! missing days, and sensors that get stuck and repeat one value for hours (at night too).
//! A stuck value is data that looks like production and is not: it is flagged, kept out of
//! KPIs and of what the incident engine learns, and reported with the day's figures. The
//! inverter's AC limit makes real flat tops too (clipping); a run at the day's maximum that
//! ends within a normal midday is clipping, not a stuck sensor.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::series::DayChunk;

/// Identical non-zero values in a row that make a stale run (30 minutes).
pub const STALE_RUN_SLOTS: usize = 6;
/// A hole of at least this many slots between records counts as a gap (30 minutes).
pub const GAP_SLOTS: u16 = 6;
/// Clipping plateaus are at least this share of the day's highest value…
const CLIPPING_SHARE: f64 = 0.98;
/// …and last at most this many slots (6 hours).
const CLIPPING_MAX_SLOTS: usize = 72;

/// The quality of one system-day.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct DayQuality {
    /// Share of the slots between the day's first and last record that have a record.
    pub completeness: f64,
    /// Holes of 30 minutes or more between the first and last record.
    pub gaps: u32,
    /// Slots in stale runs (one value repeated for 30 minutes or more).
    pub stale_slots: u32,
    /// `completeness × (1 − stale share)`, 0–1. KPIs and the underperformance rule use days
    /// scoring at least [`DayQuality::TRUSTED`].
    pub score: f64,
}

impl DayQuality {
    /// Days scoring at least this are trusted for KPIs and learning.
    pub const TRUSTED: f64 = 0.8;

    /// Judges a system day chunk on its `EnergyProductionTotal` channel.
    pub fn of(chunk: &DayChunk) -> Option<Self> {
        let col = chunk
            .channels
            .iter()
            .position(|c| c == "EnergyProductionTotal")?;
        let (first, last) = (
            *chunk.slots.keys().next()?,
            *chunk.slots.keys().next_back()?,
        );
        let span = f64::from(last - first + 1);
        let records = chunk.slots.len();
        let mut gaps = 0;
        let mut prev = first;
        for &i in chunk.slots.keys().skip(1) {
            if i - prev > GAP_SLOTS {
                gaps += 1;
            }
            prev = i;
        }
        let stale = stale_slots_of(chunk, col).len();
        #[allow(clippy::cast_precision_loss)]
        let completeness = records as f64 / span;
        #[allow(clippy::cast_precision_loss)]
        let stale_share = stale as f64 / records as f64;
        Some(Self {
            completeness: round3(completeness),
            gaps,
            stale_slots: u32::try_from(stale).unwrap_or(u32::MAX),
            score: round3(completeness * (1.0 - stale_share)),
        })
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The slots of a chunk that are part of a stale run of channel `col`.
pub fn stale_slots_of(chunk: &DayChunk, col: usize) -> BTreeSet<u16> {
    let value = |v: &Vec<Option<f64>>| v.get(col).copied().flatten();
    let max = chunk
        .slots
        .values()
        .filter_map(value)
        .fold(0.0_f64, f64::max);
    let mut stale = BTreeSet::new();
    let mut run: Vec<u16> = Vec::new();
    let mut run_value = None;
    let mut close = |run: &mut Vec<u16>, v: Option<f64>| {
        if let Some(v) = v
            && run.len() >= STALE_RUN_SLOTS
            && v > 0.0
        {
            let clipping = v >= CLIPPING_SHARE * max && run.len() <= CLIPPING_MAX_SLOTS;
            if !clipping {
                stale.extend(run.iter().copied());
            }
        }
        run.clear();
    };
    let mut prev_slot = None;
    for (&i, values) in &chunk.slots {
        let v = value(values);
        // A run continues only through consecutive slots with the very same value.
        let continues = v.is_some() && v == run_value && prev_slot == Some(i.wrapping_sub(1));
        if !continues {
            close(&mut run, run_value);
            run_value = v;
        }
        run.push(i);
        prev_slot = Some(i);
    }
    close(&mut run, run_value);
    stale
}

/// The stale energy of a chunk, Wh (the sum of its stale runs' production).
pub fn stale_wh(chunk: &DayChunk) -> f64 {
    let Some(col) = chunk
        .channels
        .iter()
        .position(|c| c == "EnergyProductionTotal")
    else {
        return 0.0;
    };
    stale_slots_of(chunk, col)
        .iter()
        .filter_map(|i| chunk.slots.get(i)?.get(col).copied().flatten())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn chunk(values: &[(u16, f64)]) -> DayChunk {
        let mut c = DayChunk::new(
            jiff::civil::date(2026, 6, 1),
            "2026-06-01T00:00:00Z".parse().unwrap(),
            &["EnergyProductionTotal"],
        );
        c.slots = values
            .iter()
            .map(|(i, v)| (*i, vec![Some(*v)]))
            .collect::<BTreeMap<_, _>>();
        c
    }

    /// A bell-shaped day from slot 72 to 216 (06:00–18:00), peak 400 Wh per slot.
    fn bell() -> Vec<(u16, f64)> {
        (72..=216)
            .map(|i| {
                let x = (f64::from(i) - 144.0) / 72.0;
                (i, (400.0 * (1.0 - x * x)).max(0.0).round())
            })
            .collect()
    }

    #[test]
    fn a_clean_day_scores_one() {
        let q = DayQuality::of(&chunk(&bell())).unwrap();
        assert_eq!(
            (q.completeness, q.gaps, q.stale_slots, q.score),
            (1.0, 0, 0, 1.0)
        );
    }

    #[test]
    fn a_stuck_sensor_is_stale_but_clipping_is_not() {
        let mut day = bell();
        // Stuck at 123 Wh for two hours in the afternoon.
        for (i, v) in &mut day {
            if (160..184).contains(i) {
                *v = 123.0;
            }
        }
        let c = chunk(&day);
        let q = DayQuality::of(&c).unwrap();
        assert_eq!(q.stale_slots, 24, "{q:?}");
        assert!(q.score < 0.9, "{q:?}");
        assert!((stale_wh(&c) - 24.0 * 123.0).abs() < 1e-9);
        // Clipping: a flat top at the day's maximum for two hours.
        let clipped: Vec<(u16, f64)> = bell().into_iter().map(|(i, v)| (i, v.min(350.0))).collect();
        let q = DayQuality::of(&chunk(&clipped)).unwrap();
        assert_eq!(q.stale_slots, 0, "clipping is not a stuck sensor: {q:?}");
    }

    #[test]
    fn holes_lower_completeness_and_count_as_gaps() {
        let day: Vec<(u16, f64)> = bell()
            .into_iter()
            .filter(|(i, _)| !(100..110).contains(i) && !(150..153).contains(i))
            .collect();
        let q = DayQuality::of(&chunk(&day)).unwrap();
        assert_eq!(q.gaps, 1, "the 50-minute hole, not the 15-minute one");
        assert!((q.completeness - 132.0 / 145.0).abs() < 0.001, "{q:?}");
    }
}
