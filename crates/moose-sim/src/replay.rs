//! Replayed plants: measured production instead of the PV model.
//!
//! Real plants do not look like the model: clouds are real, loggers leave holes, some send
//! nothing at night, some never send anything. A replayed system serves a measured series
//! (5-minute energy per slot) through the same API, and the scenario's faults apply to it as
//! to any simulated system: a comm loss hides its records, an offline inverter or a 4xx fault
//! stops its production, a stuck sensor repeats one value. This is how Moose's detection is
//! scored on real data (`crates/moose-status/tests/real_data.rs`, `docs/incidents.md`).

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use moose_pvmodel::{ArrayGeometry, Site};

use crate::fleet::{SimInverter, SimSystem};

/// A measured production series.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    /// Production per 5-minute slot, Wh, by slot start (Unix seconds, a multiple of 300).
    /// Slots the source has no value for are absent and served as missing records.
    pub slots: BTreeMap<i64, f64>,
    /// Whether the logger sends records while the plant produces nothing (most do not: real
    /// Solar.web histories have no night records).
    pub zero_records: bool,
}

impl Replay {
    /// Production of the slot starting at `t`, Wh, if the source has it.
    pub fn at(&self, t: Timestamp) -> Option<f64> {
        self.slots.get(&t.as_second()).copied()
    }
}

/// What a replayed plant is.
#[derive(Debug, Clone)]
pub struct ReplayedPlant {
    /// `pvSystemId`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// City (served in the address).
    pub city: &'static str,
    /// Country code.
    pub country: &'static str,
    /// Its real position (served only when the simulator serves coordinates).
    pub site: Site,
    /// IANA zone.
    pub tz_name: &'static str,
    /// DC peak power, W.
    pub peak_power_w: f64,
    /// Installation date (local).
    pub installation_date: Date,
    /// The series.
    pub replay: Arc<Replay>,
}

impl ReplayedPlant {
    /// The plant as the `index`-th system of a fleet: one inverter of its peak power.
    pub fn into_system(self, index: usize) -> SimSystem {
        SimSystem {
            index,
            id: self.id.clone(),
            name: self.name,
            city: self.city,
            country: self.country,
            site: self.site,
            tz_name: self.tz_name,
            tz: TimeZone::get(self.tz_name).unwrap_or(TimeZone::UTC),
            array: ArrayGeometry {
                tilt_deg: 30.0,
                azimuth_deg: 180.0,
                albedo: 0.2,
            },
            installation_date: self.installation_date,
            inverters: vec![SimInverter {
                id: format!("{}-inv", self.id),
                model: "Symo 20.0-3-M",
                serial: format!("{index:08}"),
                node_type: 97,
                nominal_ac_w: self.peak_power_w,
                mppt_peak_w: vec![self.peak_power_w],
            }],
            battery: None,
            meter_id: None,
            datalogger_id: format!("240.{index:06}"),
            load_base_w: 0.0,
            replay: Some(self.replay),
        }
    }
}
