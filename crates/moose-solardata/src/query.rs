//! Production series, energy aggregates and KPIs, as `solar-data-service` serves them.

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use moose_store::StoreError;
use serde::Serialize;

use crate::repo::{SolarRepo, SystemMeta};
use crate::series::{Energy, SLOT_SECS};

/// Time resolution of a production series (`5m`, `15m`, `1h`, `1d`, `1mo` in JSON and queries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub enum Resolution {
    /// 5 minutes (the native records).
    #[serde(rename = "5m")]
    FiveMinutes,
    /// 15 minutes.
    #[serde(rename = "15m")]
    FifteenMinutes,
    /// 1 hour.
    #[serde(rename = "1h")]
    Hour,
    /// 1 local day.
    #[serde(rename = "1d")]
    Day,
    /// 1 local month.
    #[serde(rename = "1mo")]
    Month,
}

impl Resolution {
    /// The longest range one request may ask for at this resolution, in days.
    pub fn max_days(self) -> i64 {
        match self {
            Self::FiveMinutes => 31,
            Self::FifteenMinutes => 92,
            Self::Hour => 366,
            Self::Day => 3660,
            Self::Month => 36_600,
        }
    }

    fn slots(self) -> u16 {
        match self {
            Self::FiveMinutes => 1,
            _ => 3,
        }
    }
}

/// One point of a series; values are `null` where no record exists (a gap is a gap, not zero).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// Start of the interval (UTC).
    pub start: Timestamp,
    /// The interval's energy.
    #[serde(flatten)]
    pub energy: Energy,
}

/// Start of the local day `date` at the system.
pub fn local_midnight(meta: &SystemMeta, date: Date) -> Timestamp {
    date.to_zoned_datetime(meta.tz())
        .and_then(|z| z.start_of_day())
        .map_or(Timestamp::UNIX_EPOCH, |z| z.timestamp())
}

fn local_date(meta: &SystemMeta, t: Timestamp) -> Date {
    t.to_zoned_datetime(meta.tz()).date()
}

fn empty() -> Energy {
    Energy::default()
}

/// The series of `from..to` (UTC instants; day and month resolutions use the local days and
/// months that start in the range).
pub async fn production(
    repo: &SolarRepo,
    meta: &SystemMeta,
    from: Timestamp,
    to: Timestamp,
    resolution: Resolution,
) -> Result<Vec<Point>, StoreError> {
    let (first, last) = (
        local_date(meta, from),
        local_date(meta, to - SignedDuration::from_secs(1)),
    );
    match resolution {
        Resolution::Day => {
            let stored = repo.daily(&meta.id, first, last).await?;
            let mut points = Vec::new();
            let mut d = first;
            while d <= last {
                let energy = stored
                    .iter()
                    .find(|(date, _)| *date == d)
                    .map_or_else(empty, |(_, e)| *e);
                points.push(Point {
                    start: local_midnight(meta, d),
                    energy,
                });
                d = d.tomorrow().map_err(|e| StoreError::Other(e.into()))?;
            }
            Ok(points)
        }
        Resolution::Month => {
            let stored = repo.monthly(&meta.id, first.first_of_month(), last).await?;
            let mut points = Vec::new();
            let mut m = first.first_of_month();
            while m <= last {
                let energy = stored
                    .iter()
                    .find(|(month, _)| *month == m)
                    .map_or_else(empty, |(_, e)| *e);
                points.push(Point {
                    start: local_midnight(meta, m),
                    energy,
                });
                m = m
                    .last_of_month()
                    .tomorrow()
                    .map_err(|e| StoreError::Other(e.into()))?;
            }
            Ok(points)
        }
        Resolution::Hour => {
            // From the monthly roll-ups: a year is twelve reads.
            let rollups = repo
                .hourly_range(&meta.id, first.first_of_month(), last.first_of_month())
                .await?;
            let mut points = Vec::new();
            let mut m = first.first_of_month();
            while m <= last {
                let next = m
                    .last_of_month()
                    .tomorrow()
                    .map_err(|e| StoreError::Other(e.into()))?;
                let (start, end) = (local_midnight(meta, m), local_midnight(meta, next));
                let rollup = rollups.iter().find(|r| r.month == m);
                let hours = u16::try_from(end.duration_since(start).as_hours()).unwrap_or(0);
                for h in 0..hours {
                    let t = start + SignedDuration::from_hours(i64::from(h));
                    if t >= from && t < to {
                        points.push(Point {
                            start: t,
                            energy: rollup.and_then(|r| r.energy(h)).unwrap_or_else(empty),
                        });
                    }
                }
                m = next;
            }
            Ok(points)
        }
        fine => {
            let days = repo.days(&meta.id, first, last).await?;
            let step = fine.slots();
            let mut points = Vec::new();
            let mut d = first;
            while d <= last {
                let start = local_midnight(meta, d);
                let end = d
                    .tomorrow()
                    .map_or(start + SignedDuration::from_hours(24), |n| {
                        local_midnight(meta, n)
                    });
                let n_slots =
                    u16::try_from(end.duration_since(start).as_secs() / SLOT_SECS).unwrap_or(288);
                let chunk = days.iter().find(|c| c.date == d);
                let mut i = 0;
                while i < n_slots {
                    let bucket_start = start + SignedDuration::from_secs(i64::from(i) * SLOT_SECS);
                    if bucket_start >= from && bucket_start < to {
                        let mut energy = empty();
                        if let Some(c) = chunk {
                            let mut part = crate::series::DayChunk::new(d, start, &[]);
                            part.channels.clone_from(&c.channels);
                            part.slots = c
                                .slots
                                .range(i..i + step)
                                .map(|(k, v)| (*k, v.clone()))
                                .collect();
                            energy = Energy::of_day(&part);
                        }
                        points.push(Point {
                            start: bucket_start,
                            energy,
                        });
                    }
                    i += step;
                }
                d = d.tomorrow().map_err(|e| StoreError::Other(e.into()))?;
            }
            Ok(points)
        }
    }
}

/// Key performance indicators of a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Kpis {
    /// Energy of the period.
    pub energy: Energy,
    /// Produced kWh per kWp of DC peak power.
    pub specific_yield_kwh_per_kwp: Option<f64>,
    /// Clear-sky expected energy for the site over the 5-minute intervals of the period that
    /// have data (upper bound of a sunny period): a hole in the data lowers both sides of the
    /// performance index, not only the production.
    pub expected_clear_sky_wh: Option<f64>,
    /// Clear-sky expected energy of the whole period, data or not.
    pub expected_clear_sky_period_wh: Option<f64>,
    /// Produced / expected clear-sky energy over the intervals with data; unknown (see
    /// `unknown`) below [`MIN_KPI_COMPLETENESS`].
    pub performance_index: Option<f64>,
    /// Records received / 5-minute slots with the sun up (daylight only: the API may omit night records).
    pub data_completeness: Option<f64>,
    /// Share of production used on site (needs a meter).
    pub self_consumption: Option<f64>,
    /// Share of consumption covered by the site's own production (needs a meter).
    pub self_sufficiency: Option<f64>,
    /// Days of the period whose data quality is below [`crate::quality::DayQuality::TRUSTED`]
    /// (holes, stale runs): their figures are shown but are less certain.
    pub low_quality_days: u32,
    /// Assumptions behind the figures.
    pub assumptions: Vec<&'static str>,
    /// KPIs that could not be given, and why (`performance_index`, `specific_yield_kwh_per_kwp`).
    pub unknown: std::collections::BTreeMap<&'static str, String>,
}

/// Below this share of daylight 5-minute intervals with data, the performance index and the
/// specific yield of a period are unknown rather than a small number: 30 days' KPIs over one
/// day of data would otherwise read as a broken plant.
pub const MIN_KPI_COMPLETENESS: f64 = 0.5;

/// KPIs of the local days `from..=to`.
pub async fn kpis(
    repo: &SolarRepo,
    meta: &SystemMeta,
    from: Date,
    to: Date,
) -> Result<Kpis, StoreError> {
    let mut energy = Energy::default();
    let mut low_quality_days = 0;
    for (_, e) in repo.daily(&meta.id, from, to).await? {
        low_quality_days += u32::from(
            e.quality
                .is_some_and(|q| q.score < crate::quality::DayQuality::TRUSTED),
        );
        energy.add(&e);
    }
    let start = local_midnight(meta, from);
    let end = to.tomorrow().map_or(start, |d| local_midnight(meta, d));
    let peak = meta.peak_power_w.filter(|p| *p > 0.0);
    // Stale runs (a sensor repeating one value) are not production.
    let produced = energy.trusted_produced_wh();
    let specific_yield = peak.zip(produced).map(|(p, e)| e / p);
    let devices = repo.devices(&meta.id).await?;
    let mut assumptions = vec![
        crate::expected::ASSUMED_ORIENTATION,
        "expected energy is the clear-sky output at 20 °C ambient, without shading or soiling",
    ];
    if energy.stale_wh.is_some() {
        assumptions.push(
            "production in stale runs (stale_wh) is left out of the yield and performance index",
        );
    }
    if energy.hidden_wh.is_some() {
        assumptions.push("hidden_wh is production in Solar.web's daily totals that the 5-minute records miss (communication losses); it is not in produced_wh");
    }
    if !meta.position_given() && meta.inferred_position.is_some() {
        assumptions.push("the site's position is inferred (time zone, then the plant's producing hours), not given");
    }
    let model = crate::ExpectedModel::of(meta, &devices);
    let (expected, expected_period, completeness) = match model {
        Some(model) => {
            let site = model.site;
            let expected_period = model.energy_wh(start, end);
            // Completeness counts daylight only: the API may omit night records.
            let sun_up = |t: Timestamp| {
                moose_pvmodel::sun_position(&site, t + SignedDuration::from_secs(SLOT_SECS / 2))
                    .elevation_deg
                    > 0.0
            };
            let mut sunny_slots = 0u32;
            let mut t = start;
            while t < end {
                sunny_slots += u32::from(sun_up(t));
                t += SignedDuration::from_secs(SLOT_SECS);
            }
            // The expectation over the intervals that have data: each daylight record's slot.
            let half = SignedDuration::from_secs(SLOT_SECS / 2);
            let hours = SLOT_SECS as f64 / 3600.0;
            let (mut sunny_records, mut expected) = (0u32, 0.0);
            for chunk in repo.days(&meta.id, from, to).await? {
                for i in chunk.slots.keys() {
                    let at = chunk.slot_start(*i);
                    if sun_up(at) {
                        sunny_records += 1;
                        expected += model.power_w(at + half) * hours;
                    }
                }
            }
            (
                Some(expected),
                Some(expected_period),
                (sunny_slots > 0).then(|| f64::from(sunny_records) / f64::from(sunny_slots)),
            )
        }
        _ => {
            assumptions.push("the site's position is unknown: no expected energy or completeness");
            (None, None, None)
        }
    };
    let ratio =
        |a: Option<f64>, b: Option<f64>| a.zip(b).filter(|(_, b)| *b > 0.0).map(|(a, b)| a / b);
    let mut unknown = std::collections::BTreeMap::new();
    let mut performance_index = ratio(produced, expected);
    let mut specific_yield = specific_yield;
    if let Some(c) = completeness.filter(|c| *c < MIN_KPI_COMPLETENESS) {
        let why = format!(
            "only {:.0} % of the period's daylight 5-minute intervals have data (at least {:.0} % are needed)",
            c * 100.0,
            MIN_KPI_COMPLETENESS * 100.0
        );
        if performance_index.take().is_some() || expected.is_some() {
            unknown.insert("performance_index", why.clone());
        }
        if specific_yield.take().is_some() {
            unknown.insert("specific_yield_kwh_per_kwp", why);
        }
    } else if performance_index.is_none() {
        let why = if expected.is_none() {
            "the site's position or peak power is unknown"
        } else if produced.is_none() {
            "no production data in the period"
        } else {
            "no daylight in the period"
        };
        unknown.insert("performance_index", why.to_owned());
    }
    if specific_yield.is_none() && !unknown.contains_key("specific_yield_kwh_per_kwp") {
        let why = if peak.is_none() {
            "the system's peak power is unknown"
        } else {
            "no production data in the period"
        };
        unknown.insert("specific_yield_kwh_per_kwp", why.to_owned());
    }
    Ok(Kpis {
        specific_yield_kwh_per_kwp: specific_yield,
        performance_index,
        low_quality_days,
        expected_clear_sky_wh: expected,
        expected_clear_sky_period_wh: expected_period,
        unknown,
        data_completeness: completeness,
        self_consumption: ratio(
            energy.produced_wh.zip(energy.fed_in_wh).map(|(p, f)| p - f),
            energy.produced_wh,
        ),
        self_sufficiency: ratio(
            energy
                .consumed_wh
                .zip(energy.purchased_wh)
                .map(|(c, p)| c - p),
            energy.consumed_wh,
        ),
        energy,
        assumptions,
    })
}
