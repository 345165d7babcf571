//! The stored form of 5-minute data: one item per system (or device) and **local** day.
//!
//! A day item holds up to 300 slots (25-hour DST days) of a fixed list of channels; a slot that
//! never arrived is absent, so gaps stay gaps. Merging records is idempotent: the same record
//! twice changes nothing, which is what makes re-polling safe.

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// Length of one slot, seconds.
pub const SLOT_SECS: i64 = 300;

/// System channels kept, in stored order (all Wh).
pub const SYSTEM_CHANNELS: [&str; 6] = [
    "EnergyProductionTotal",
    "EnergyFeedIn",
    "EnergyPurchased",
    "EnergyConsumptionTotal",
    "EnergyBattCharge",
    "EnergyBattDischarge",
];

/// Inverter channels kept, in stored order (Wh, %).
pub const INVERTER_CHANNELS: [&str; 2] = ["EnergyExported", "StandardizedPower"];

/// One local day of 5-minute records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayChunk {
    /// The site-local date.
    pub date: Date,
    /// Local midnight, the start of slot 0.
    pub start: Timestamp,
    /// Channel names, in the order of each slot's values.
    pub channels: Vec<String>,
    /// Slot index → values (`null` where the API had none). Stored as one compact string
    /// (see [`compact`]): a day is then one attribute to parse, not 1,700 JSON values.
    #[serde(with = "compact")]
    pub slots: BTreeMap<u16, Vec<Option<f64>>>,
    /// Solar.web's own production total for the day (`aggrdata`), Wh, once the day is over and
    /// has been reconciled: what it carries beyond the records is energy the 5-minute series
    /// misses (hidden by a communication loss).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_wh: Option<f64>,
}

impl DayChunk {
    /// An empty day.
    pub fn new(date: Date, start: Timestamp, channels: &[&str]) -> Self {
        Self {
            date,
            start,
            channels: channels.iter().map(|c| (*c).to_owned()).collect(),
            slots: BTreeMap::new(),
            reported_wh: None,
        }
    }

    /// The slot index of `t` in this day, if `t` is a slot start within it.
    pub fn slot_of(&self, t: Timestamp) -> Option<u16> {
        let secs = t.duration_since(self.start).as_secs();
        (secs >= 0 && secs % SLOT_SECS == 0 && secs / SLOT_SECS < 300)
            .then(|| u16::try_from(secs / SLOT_SECS).ok())
            .flatten()
    }

    /// Start time of slot `i`.
    pub fn slot_start(&self, i: u16) -> Timestamp {
        self.start + SignedDuration::from_secs(i64::from(i) * SLOT_SECS)
    }

    /// Merges records; returns how many slots were added or changed.
    pub fn merge(&mut self, records: &[(Timestamp, Vec<Option<f64>>)]) -> usize {
        let mut changed = 0;
        for (t, values) in records {
            let Some(i) = self.slot_of(*t) else { continue };
            if self.slots.get(&i) != Some(values) {
                self.slots.insert(i, values.clone());
                changed += 1;
            }
        }
        changed
    }

    /// Sum of each channel over the day; `None` for a channel with no value at all.
    pub fn totals(&self) -> Vec<Option<f64>> {
        let mut sums = vec![None; self.channels.len()];
        for values in self.slots.values() {
            for (sum, v) in sums.iter_mut().zip(values) {
                if let Some(v) = v {
                    *sum = Some(sum.unwrap_or(0.0) + v);
                }
            }
        }
        sums
    }

    /// Time of the end of the last slot present.
    pub fn last_slot_end(&self) -> Option<Timestamp> {
        self.slots
            .keys()
            .next_back()
            .map(|i| self.slot_start(*i) + SignedDuration::from_secs(SLOT_SECS))
    }
}

/// A system's hourly energy for one site-local month: hour index since the month's local start →
/// the six system channels summed over the hour, then the number of records. Maintained with
/// every day write, so an hourly year is twelve items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HourlyMonth {
    /// First day of the month (local).
    pub month: Date,
    /// Local midnight of that day.
    pub start: Timestamp,
    /// Hour index → `[channels…, records]`, stored as one packed binary string (see
    /// [`packed`]): a year at one-hour resolution is then twelve base64 decodes, not 62,000
    /// decimal numbers to parse.
    #[serde(with = "packed")]
    pub hours: BTreeMap<u16, Vec<Option<f64>>>,
}

impl HourlyMonth {
    /// An empty month starting at `start`.
    pub fn new(month: Date, start: Timestamp) -> Self {
        Self {
            month,
            start,
            hours: BTreeMap::new(),
        }
    }

    fn hour_of(&self, t: Timestamp) -> Option<u16> {
        u16::try_from(t.duration_since(self.start).as_secs().div_euclid(3600)).ok()
    }

    /// Replaces the hours of `chunk`'s day with sums of its slots.
    pub fn replace_day(&mut self, chunk: &DayChunk, day_end: Timestamp) {
        if let (Some(first), Some(last)) = (
            self.hour_of(chunk.start),
            self.hour_of(day_end - SignedDuration::from_secs(1)),
        ) {
            let stale: Vec<u16> = self.hours.range(first..=last).map(|(k, _)| *k).collect();
            for k in stale {
                self.hours.remove(&k);
            }
        }
        for (i, values) in &chunk.slots {
            let Some(hour) = self.hour_of(chunk.slot_start(*i)) else {
                continue;
            };
            let entry = self
                .hours
                .entry(hour)
                .or_insert_with(|| vec![None; values.len() + 1]);
            for (sum, v) in entry.iter_mut().zip(values) {
                if let Some(v) = v {
                    *sum = Some(sum.unwrap_or(0.0) + v);
                }
            }
            if let Some(records) = entry.last_mut() {
                *records = Some(records.unwrap_or(0.0) + 1.0);
            }
        }
    }

    /// The energy of hour `h`, in the stored channel order ([`SYSTEM_CHANNELS`]).
    pub fn energy(&self, h: u16) -> Option<Energy> {
        let v = self.hours.get(&h)?;
        let get = |i: usize| v.get(i).copied().flatten();
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let records = get(SYSTEM_CHANNELS.len()).unwrap_or(0.0) as u32;
        Some(Energy {
            produced_wh: get(0),
            fed_in_wh: get(1),
            purchased_wh: get(2),
            consumed_wh: get(3),
            battery_charged_wh: get(4),
            battery_discharged_wh: get(5),
            records,
            ..Energy::default()
        })
    }
}

/// The stored form of indexed rows of optional numbers: `index:v,v,,v;index:…` (an empty
/// value is `null`). Rust prints `f64` in its shortest form that parses back to the same value,
/// so the encoding is exact. Parsing one string of a few thousand numbers is several times
/// faster than walking the same data as JSON arrays, and the query and write paths do it for
/// every day and month they touch.
pub mod compact {
    use std::collections::BTreeMap;
    use std::fmt::Write as _;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Encodes rows.
    pub fn encode(rows: &BTreeMap<u16, Vec<Option<f64>>>) -> String {
        let mut out = String::with_capacity(rows.len() * 48);
        for (i, values) in rows {
            let _ = write!(out, "{i}:");
            for (k, v) in values.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                if let Some(v) = v {
                    let _ = write!(out, "{v}");
                }
            }
            out.push(';');
        }
        out
    }

    /// Decodes rows; `None` if the text is not in this form.
    pub fn decode(text: &str) -> Option<BTreeMap<u16, Vec<Option<f64>>>> {
        let mut rows = BTreeMap::new();
        for row in text.split(';').filter(|r| !r.is_empty()) {
            let (index, values) = row.split_once(':')?;
            let values = values
                .split(',')
                .map(|v| {
                    if v.is_empty() {
                        Ok(None)
                    } else {
                        v.parse::<f64>().map(Some)
                    }
                })
                .collect::<Result<Vec<_>, _>>()
                .ok()?;
            rows.insert(index.parse().ok()?, values);
        }
        Some(rows)
    }

    pub(crate) fn serialize<S: Serializer>(
        rows: &BTreeMap<u16, Vec<Option<f64>>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(rows))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<u16, Vec<Option<f64>>>, D::Error> {
        let text = String::deserialize(d)?;
        decode(&text).ok_or_else(|| serde::de::Error::custom("malformed compact rows"))
    }
}

/// The stored form of hourly roll-ups: `b64:` followed by the base64 of a dense table —
/// first hour (u16 LE), row count (u16 LE), column count (u8), then every row's values as f64 LE,
/// NaN where there is none. A row of nothing but NaN is an absent hour (a present hour always
/// has its record count). Rows are padded to the widest row. Reading also accepts the older
/// [`compact`] text, so items written before the change stay readable and are rewritten in the
/// new form with their month's next day.
pub mod packed {
    use std::collections::BTreeMap;

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    const PREFIX: &str = "b64:";

    /// Encodes rows.
    pub fn encode(rows: &BTreeMap<u16, Vec<Option<f64>>>) -> String {
        let (Some(first), Some(last)) = (rows.keys().next(), rows.keys().next_back()) else {
            return PREFIX.to_owned();
        };
        let count = last - first + 1;
        let cols = rows.values().map(Vec::len).max().unwrap_or(0).min(255);
        let mut bytes = Vec::with_capacity(5 + usize::from(count) * cols * 8);
        bytes.extend_from_slice(&first.to_le_bytes());
        bytes.extend_from_slice(&count.to_le_bytes());
        bytes.push(u8::try_from(cols).unwrap_or(u8::MAX));
        for hour in *first..=*last {
            let row = rows.get(&hour);
            for c in 0..cols {
                let v = row
                    .and_then(|r| r.get(c).copied().flatten())
                    .unwrap_or(f64::NAN);
                bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
        let mut out = String::with_capacity(PREFIX.len() + bytes.len() * 4 / 3 + 4);
        out.push_str(PREFIX);
        STANDARD.encode_string(&bytes, &mut out);
        out
    }

    /// Decodes rows; `None` if the text is not in this form (nor the older compact one).
    pub fn decode(text: &str) -> Option<BTreeMap<u16, Vec<Option<f64>>>> {
        let Some(encoded) = text.strip_prefix(PREFIX) else {
            return super::compact::decode(text);
        };
        let mut rows = BTreeMap::new();
        if encoded.is_empty() {
            return Some(rows);
        }
        let bytes = STANDARD.decode(encoded).ok()?;
        let (header, body) = bytes.split_at_checked(5)?;
        let first = u16::from_le_bytes([header[0], header[1]]);
        let count = usize::from(u16::from_le_bytes([header[2], header[3]]));
        let cols = usize::from(header[4]);
        if cols == 0 || body.len() != count * cols * 8 {
            return None;
        }
        for (i, row) in body.chunks_exact(cols * 8).enumerate() {
            let values: Vec<Option<f64>> = row
                .chunks_exact(8)
                .map(|b| {
                    let v = f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                    (!v.is_nan()).then_some(v)
                })
                .collect();
            if values.iter().any(Option::is_some) {
                rows.insert(first.checked_add(u16::try_from(i).ok()?)?, values);
            }
        }
        Some(rows)
    }

    pub(crate) fn serialize<S: Serializer>(
        rows: &BTreeMap<u16, Vec<Option<f64>>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(rows))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<u16, Vec<Option<f64>>>, D::Error> {
        let text = String::deserialize(d)?;
        decode(&text).ok_or_else(|| serde::de::Error::custom("malformed packed rows"))
    }
}

/// Energy of a day or month, in Wh; `None` where the system has no such measurement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Energy {
    /// PV production.
    pub produced_wh: Option<f64>,
    /// Exported to the grid.
    pub fed_in_wh: Option<f64>,
    /// Imported from the grid.
    pub purchased_wh: Option<f64>,
    /// Consumed on site.
    pub consumed_wh: Option<f64>,
    /// Into the battery.
    pub battery_charged_wh: Option<f64>,
    /// Out of the battery.
    pub battery_discharged_wh: Option<f64>,
    /// 5-minute records behind the figures.
    pub records: u32,
    /// Production in stale runs (a sensor repeating one value), Wh: part of `produced_wh` as
    /// Solar.web delivered it, left out of KPIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_wh: Option<f64>,
    /// The day's data quality (days only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality: Option<crate::quality::DayQuality>,
    /// Production Solar.web's own day total carries beyond the 5-minute records (energy hidden
    /// by a communication loss), Wh, once the day has been reconciled with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hidden_wh: Option<f64>,
}

impl Energy {
    /// From a system day chunk.
    pub fn of_day(chunk: &DayChunk) -> Self {
        let t = chunk.totals();
        let get = |name: &str| {
            chunk
                .channels
                .iter()
                .position(|c| c == name)
                .and_then(|i| t[i])
        };
        let records = u32::try_from(chunk.slots.len()).unwrap_or(u32::MAX);
        let has_production = chunk.channels.iter().any(|c| c == "EnergyProductionTotal");
        let stale = crate::quality::stale_wh(chunk);
        // A day with records, or one Solar.web reports a total for, is a measured day: if
        // nothing carried production, the plant produced nothing (0 Wh). `None` means no data.
        let produced = get("EnergyProductionTotal").or_else(|| {
            ((records > 0 && has_production) || chunk.reported_wh == Some(0.0)).then_some(0.0)
        });
        let hidden = chunk
            .reported_wh
            .map(|r| r - produced.unwrap_or(0.0))
            .filter(|h| *h >= 1.0)
            .map(|h| (h * 1000.0).round() / 1000.0);
        Self {
            produced_wh: produced,
            fed_in_wh: get("EnergyFeedIn"),
            purchased_wh: get("EnergyPurchased"),
            consumed_wh: get("EnergyConsumptionTotal"),
            battery_charged_wh: get("EnergyBattCharge"),
            battery_discharged_wh: get("EnergyBattDischarge"),
            records,
            stale_wh: (stale > 0.0).then_some(stale),
            quality: crate::quality::DayQuality::of(chunk),
            hidden_wh: hidden,
        }
    }

    /// Adds another period's energy.
    pub fn add(&mut self, o: &Self) {
        fn plus(a: Option<f64>, b: Option<f64>) -> Option<f64> {
            match (a, b) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
            }
        }
        self.produced_wh = plus(self.produced_wh, o.produced_wh);
        self.fed_in_wh = plus(self.fed_in_wh, o.fed_in_wh);
        self.purchased_wh = plus(self.purchased_wh, o.purchased_wh);
        self.consumed_wh = plus(self.consumed_wh, o.consumed_wh);
        self.battery_charged_wh = plus(self.battery_charged_wh, o.battery_charged_wh);
        self.battery_discharged_wh = plus(self.battery_discharged_wh, o.battery_discharged_wh);
        self.records += o.records;
        self.stale_wh = plus(self.stale_wh, o.stale_wh);
        self.hidden_wh = plus(self.hidden_wh, o.hidden_wh);
        self.quality = None;
    }

    /// Production fit for KPIs: what was delivered minus stale runs, Wh.
    pub fn trusted_produced_wh(&self) -> Option<f64> {
        self.produced_wh
            .map(|p| (p - self.stale_wh.unwrap_or(0.0)).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn production_day(values: &[Option<f64>], reported: Option<f64>) -> DayChunk {
        let mut c = DayChunk::new(
            jiff::civil::date(2026, 6, 1),
            "2026-06-01T00:00:00Z".parse().unwrap(),
            &SYSTEM_CHANNELS,
        );
        for (i, v) in values.iter().enumerate() {
            let mut row = vec![None; SYSTEM_CHANNELS.len()];
            row[0] = *v;
            c.slots.insert(u16::try_from(100 + i).unwrap(), row);
        }
        c.reported_wh = reported;
        c
    }

    #[test]
    fn zero_is_not_null_and_hidden_energy_is_what_the_day_total_carries_beyond_the_records() {
        assert_eq!(SYSTEM_CHANNELS[0], "EnergyProductionTotal");
        // Records that carried no production: the plant made nothing, 0 Wh.
        let idle = Energy::of_day(&production_day(&[None, None], None));
        assert_eq!(idle.produced_wh, Some(0.0));
        // No records, but Solar.web's day total says 0: also 0 Wh.
        let reported_zero = Energy::of_day(&production_day(&[], Some(0.0)));
        assert_eq!(reported_zero.produced_wh, Some(0.0));
        // No records and no total: no data.
        assert_eq!(Energy::of_day(&production_day(&[], None)).produced_wh, None);
        // A comm loss kept 1.5 kWh out of the records.
        let day = Energy::of_day(&production_day(&[Some(400.0), Some(600.0)], Some(2500.0)));
        assert_eq!(day.produced_wh, Some(1000.0));
        assert_eq!(day.hidden_wh, Some(1500.0));
        let complete = Energy::of_day(&production_day(&[Some(400.0), Some(600.0)], Some(1000.2)));
        assert_eq!(complete.hidden_wh, None, "rounding is not hidden energy");
    }

    #[test]
    fn packed_rows_round_trip_and_read_the_older_form() {
        let mut rows = BTreeMap::new();
        rows.insert(5u16, vec![Some(1.5), None, Some(0.0), Some(12.0)]);
        rows.insert(9u16, vec![None, Some(-3.25), Some(1e-9), Some(1.0)]);
        let text = packed::encode(&rows);
        assert!(text.starts_with("b64:"));
        assert_eq!(
            packed::decode(&text),
            Some(rows.clone()),
            "exact, gaps kept"
        );
        assert_eq!(
            packed::decode(&compact::encode(&rows)),
            Some(rows),
            "old items still read"
        );
        assert_eq!(packed::decode("b64:"), Some(BTreeMap::new()));
        assert_eq!(packed::decode("b64:AAAA"), None, "truncated");
        assert_eq!(packed::decode("nonsense"), None);
    }

    #[test]
    fn merge_is_idempotent_and_totals_keep_gaps() {
        let start: Timestamp = "2026-06-09T22:00:00Z".parse().unwrap();
        let mut day = DayChunk::new(jiff::civil::date(2026, 6, 10), start, &SYSTEM_CHANNELS);
        let t = |m: i64| start + SignedDuration::from_mins(m);
        let recs = vec![
            (
                t(600),
                vec![Some(10.0), Some(4.0), None, Some(6.0), None, None],
            ),
            (
                t(605),
                vec![Some(12.5), Some(5.0), None, Some(7.5), None, None],
            ),
            (t(601), vec![Some(99.0); 6]), // not a slot start: ignored
        ];
        assert_eq!(day.merge(&recs), 2);
        assert_eq!(day.merge(&recs), 0, "merging again changes nothing");
        let e = Energy::of_day(&day);
        assert_eq!(e.produced_wh, Some(22.5));
        assert_eq!(
            e.purchased_wh, None,
            "a channel without values is unknown, not zero"
        );
        assert_eq!(e.records, 2);
        assert_eq!(day.last_slot_end(), Some(t(610)));
        let stored = serde_json::to_value(&day).unwrap();
        assert!(stored["slots"].is_string(), "slots are one compact string");
        assert_eq!(
            serde_json::from_value::<DayChunk>(stored).unwrap(),
            day,
            "and round-trip exactly"
        );
        let mut late = recs.clone();
        late[0].1[0] = Some(11.0);
        assert_eq!(
            day.merge(&late[..1]),
            1,
            "a corrected value replaces the old one"
        );
    }
}
