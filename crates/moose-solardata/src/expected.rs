//! The clear-sky expected-power model of one system, shared by the KPIs and the incident
//! engine so that "expected" means the same thing in every answer Moose gives.

use jiff::Timestamp;
use moose_pvmodel::{ArrayGeometry, PvSystemModel, Site};

use crate::repo::{DeviceMeta, SystemMeta};

/// What Moose assumes about an array Solar.web does not describe.
pub const ASSUMED_ORIENTATION: &str =
    "array orientation is not in the Solar.web data: a 30° tilt facing the equator is assumed";

/// A system's clear-sky model: its site, an assumed array geometry and its power ratings.
#[derive(Debug, Clone)]
pub struct ExpectedModel {
    /// Where the system is.
    pub site: Site,
    /// Assumed orientation (see [`ASSUMED_ORIENTATION`]).
    pub array: ArrayGeometry,
    /// DC peak and AC nominal power.
    pub model: PvSystemModel,
    /// DC peak power, W.
    pub peak_power_w: f64,
}

impl ExpectedModel {
    /// The model of `meta`, when its position and peak power are known. The AC rating is the sum
    /// of the inverters' nominal power, or the peak power if none is known.
    pub fn of(meta: &SystemMeta, devices: &[DeviceMeta]) -> Option<Self> {
        let site = meta.site()?;
        let peak = meta.peak_power_w.filter(|p| *p > 0.0)?;
        let ac_nominal: f64 = devices.iter().filter_map(|d| d.nominal_ac_power_w).sum();
        Some(Self {
            array: ArrayGeometry {
                tilt_deg: 30.0,
                azimuth_deg: if site.latitude_deg >= 0.0 { 180.0 } else { 0.0 },
                albedo: 0.2,
            },
            model: PvSystemModel::typical(peak, if ac_nominal > 0.0 { ac_nominal } else { peak }),
            peak_power_w: peak,
            site,
        })
    }

    /// Clear-sky AC power at `at`, W.
    pub fn power_w(&self, at: Timestamp) -> f64 {
        moose_pvmodel::clear_sky_ac_power_w(&self.site, &self.array, &self.model, at)
    }

    /// Clear-sky AC energy over `[from, to)`, Wh (15-minute steps).
    pub fn energy_wh(&self, from: Timestamp, to: Timestamp) -> f64 {
        moose_pvmodel::expected_energy_wh(&self.site, &self.array, &self.model, from, to, 900)
    }

    /// The sun's elevation at the site at `at`, degrees.
    pub fn sun_elevation_deg(&self, at: Timestamp) -> f64 {
        moose_pvmodel::sun_position(&self.site, at).elevation_deg
    }
}
