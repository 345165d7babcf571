//! A fixed PV array: transposition to the plane of array (Hay–Davies),
//! module temperature (Faiman) and a PVWatts-style electrical model.

use crate::irradiance::Irradiance;
use crate::sun::SunPosition;

/// Orientation of a fixed array.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArrayGeometry {
    /// Tilt from horizontal, degrees (0 = flat, 90 = vertical).
    pub tilt_deg: f64,
    /// Direction the modules face, degrees clockwise from north (180 = south),
    /// like [`SunPosition`].
    pub azimuth_deg: f64,
    /// Ground reflectance (0.2 for grass / generic ground, up to 0.8 for fresh snow).
    pub albedo: f64,
}

/// Cosine of the angle between the sun and the array normal (may be negative
/// when the sun is behind the array).
pub fn cos_angle_of_incidence(array: &ArrayGeometry, sun: &SunPosition) -> f64 {
    let (sin_t, cos_t) = array.tilt_deg.to_radians().sin_cos();
    let (sin_z, cos_z) = sun.zenith_deg.to_radians().sin_cos();
    let daz = (sun.azimuth_deg - array.azimuth_deg).to_radians();
    (cos_t * cos_z + sin_t * sin_z * daz.cos()).clamp(-1.0, 1.0)
}

/// Angle of incidence of the beam on the array, degrees in [0, 180].
pub fn angle_of_incidence_deg(array: &ArrayGeometry, sun: &SunPosition) -> f64 {
    cos_angle_of_incidence(array, sun).acos().to_degrees()
}

/// Floor for cos(zenith) in the beam ratio Rb: cos 85°. Near the horizon
/// Rb = cos θ / cos z explodes while the model is not validated there
/// (Duffie & Beckman recommend limiting it at large zenith angles).
const MIN_COS_ZENITH: f64 = 0.087_155_742_747_658_17;

/// Plane-of-array irradiance, W/m², after Hay & Davies (1980).
///
/// Beam `dni·cos θ`; sky diffuse split by the anisotropy index Ai = DNI/DNI₀
/// into a circumsolar part projected like beam and an isotropic remainder
/// weighted by the sky view factor (1 + cos β)/2; ground reflection
/// `ghi·albedo·(1 − cos β)/2`. Never negative, never NaN for finite input,
/// and 0 when the sun is at or below the horizon (consistent with the
/// clear-sky model, which is zero there).
pub fn plane_of_array(
    array: &ArrayGeometry,
    sun: &SunPosition,
    irr: &Irradiance,
    dni_extra: f64,
) -> f64 {
    if !sun.is_up() {
        return 0.0;
    }
    let cos_aoi = cos_angle_of_incidence(array, sun).max(0.0);
    let cos_zen = sun.zenith_deg.to_radians().cos().max(MIN_COS_ZENITH);
    let cos_tilt = array.tilt_deg.to_radians().cos();
    let anisotropy = if dni_extra > 0.0 {
        (irr.dni / dni_extra).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let beam = irr.dni * cos_aoi;
    let rb = cos_aoi / cos_zen;
    let sky = irr.dhi * (anisotropy * rb + (1.0 - anisotropy) * (1.0 + cos_tilt) / 2.0);
    let ground = irr.ghi * array.albedo * (1.0 - cos_tilt) / 2.0;
    (beam + sky + ground).max(0.0)
}

/// Electrical model of one PV system.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PvSystemModel {
    /// DC peak power at STC (1000 W/m², 25 °C cell), W.
    pub dc_peak_w: f64,
    /// Inverter nominal AC power, W; output is clipped here.
    pub ac_nominal_w: f64,
    /// Power temperature coefficient, 1/°C (crystalline Si ≈ −0.0037).
    pub gamma_per_c: f64,
    /// Inverter efficiency, flat. Real Fronius curves are within ~1–2 % of a
    /// flat European efficiency above ~10 % load; the flat value keeps the
    /// per-slot model cheap and is the PVWatts v5 simplification.
    pub inverter_efficiency: f64,
    /// Lumped DC losses (soiling, wiring, mismatch, LID), fraction.
    pub system_losses: f64,
}

impl PvSystemModel {
    /// A typical crystalline-silicon system: γ = −0.37 %/°C (mono PERC
    /// datasheets), 97 % inverter efficiency (Fronius Symo European
    /// efficiency ≈ 97 %), 10 % lumped losses (below PVWatts' 14 % default,
    /// which also counts shading and availability that a simulator models
    /// separately).
    pub fn typical(dc_peak_w: f64, ac_nominal_w: f64) -> Self {
        Self {
            dc_peak_w,
            ac_nominal_w,
            gamma_per_c: -0.003_7,
            inverter_efficiency: 0.97,
            system_losses: 0.10,
        }
    }
}

/// Faiman (2008) constant heat-loss coefficient U0, W/(m²·K) (PVsyst / IEC 61853-2 default).
pub const FAIMAN_U0: f64 = 25.0;
/// Faiman (2008) wind-dependent heat-loss coefficient U1, W·s/(m³·K).
pub const FAIMAN_U1: f64 = 6.84;

/// Cell temperature, °C, by the Faiman model `Ta + G / (U0 + U1·v)`.
///
/// Strictly Faiman yields module temperature; the back-sheet–cell difference
/// (~2–3 K at 1000 W/m²) is within the model's fitting error, so it is used
/// as cell temperature like PVsyst does. Negative POA and wind count as 0.
pub fn cell_temperature_c(poa_w_m2: f64, ambient_c: f64, wind_m_s: f64) -> f64 {
    ambient_c + poa_w_m2.max(0.0) / (FAIMAN_U0 + FAIMAN_U1 * wind_m_s.max(0.0))
}

/// DC power, W, PVWatts style, never negative:
/// `Pdc0 · G/1000 · (1 + γ (Tc − 25)) · (1 − losses)`.
///
/// Linear in irradiance (no low-light efficiency drop), as in PVWatts v5.
pub fn dc_power_w(model: &PvSystemModel, poa_w_m2: f64, cell_temp_c: f64) -> f64 {
    let temp_factor = 1.0 + model.gamma_per_c * (cell_temp_c - 25.0);
    let p = model.dc_peak_w * poa_w_m2 / 1000.0 * temp_factor * (1.0 - model.system_losses);
    p.max(0.0)
}

/// Inverter start-up threshold as a fraction of nominal AC power. Below it the
/// inverter does not feed in (its own consumption eats the power); 0.5 % is
/// ~25 W for a 5 kW unit, the order of a Fronius Primo/Symo's start power.
pub const INVERTER_START_FRACTION: f64 = 0.005;

/// AC power, W: `dc · efficiency`, clipped at the nominal AC power, and 0 while
/// DC is below the start-up threshold ([`INVERTER_START_FRACTION`] · nominal).
pub fn ac_power_w(model: &PvSystemModel, dc_w: f64) -> f64 {
    if dc_w.is_nan() || dc_w <= INVERTER_START_FRACTION * model.ac_nominal_w {
        return 0.0;
    }
    (dc_w * model.inverter_efficiency)
        .min(model.ac_nominal_w)
        .max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::irradiance::{clear_sky, extraterrestrial_normal};
    use crate::sun::{Site, sun_position};
    use jiff::Timestamp;

    const WELS: Site = Site {
        latitude_deg: 48.16,
        longitude_deg: 14.03,
        altitude_m: 317.0,
    };

    fn array(tilt: f64, az: f64) -> ArrayGeometry {
        ArrayGeometry {
            tilt_deg: tilt,
            azimuth_deg: az,
            albedo: 0.2,
        }
    }

    fn poa_at(geom: &ArrayGeometry, at: &str) -> (f64, Irradiance) {
        let at: Timestamp = at.parse().unwrap();
        let sun = sun_position(&WELS, at);
        let irr = clear_sky(&WELS, &sun, at);
        (
            plane_of_array(geom, &sun, &irr, extraterrestrial_normal(at)),
            irr,
        )
    }

    #[test]
    fn aoi_basics() {
        let sun = SunPosition {
            elevation_deg: 30.0,
            zenith_deg: 60.0,
            azimuth_deg: 180.0,
        };
        assert!((angle_of_incidence_deg(&array(0.0, 180.0), &sun) - 60.0).abs() < 1e-9);
        assert!(angle_of_incidence_deg(&array(60.0, 180.0), &sun).abs() < 1e-6);
        assert!((angle_of_incidence_deg(&array(60.0, 0.0), &sun) - 120.0).abs() < 1e-9);
    }

    #[test]
    fn winter_noon_south_beats_ghi_north_loses() {
        // 48° N on the winter solstice at solar noon: elevation ≈ 18.4°.
        let (south, irr) = poa_at(&array(35.0, 180.0), "2025-12-21T11:03:00Z");
        let (north, _) = poa_at(&array(35.0, 0.0), "2025-12-21T11:03:00Z");
        assert!(south > 1.5 * irr.ghi, "south {south} ghi {}", irr.ghi);
        assert!(north < irr.ghi, "north {north} ghi {}", irr.ghi);
        assert!(north > 0.0);
    }

    #[test]
    fn flat_array_sees_ghi_and_night_is_zero() {
        let (flat, irr) = poa_at(&array(0.0, 180.0), "2025-06-21T09:00:00Z");
        assert!((flat - irr.ghi).abs() < 1e-6 * irr.ghi, "{flat} {irr:?}");
        let (night, _) = poa_at(&array(35.0, 180.0), "2025-06-21T23:00:00Z");
        assert_eq!(night, 0.0);
        let below = SunPosition {
            elevation_deg: -3.0,
            zenith_deg: 93.0,
            azimuth_deg: 300.0,
        };
        let irr = Irradiance {
            ghi: 5.0,
            dni: 0.0,
            dhi: 5.0,
        };
        assert_eq!(
            plane_of_array(&array(35.0, 180.0), &below, &irr, 1361.0),
            0.0
        );
    }

    #[test]
    fn vertical_array_gets_ground_reflection() {
        let (snow, _) = poa_at(
            &ArrayGeometry {
                albedo: 0.8,
                ..array(90.0, 0.0)
            },
            "2025-06-21T11:05:00Z",
        );
        let (grass, _) = poa_at(&array(90.0, 0.0), "2025-06-21T11:05:00Z");
        assert!(snow > grass);
    }

    #[test]
    fn faiman_temperature() {
        assert_eq!(cell_temperature_c(0.0, 12.0, 3.0), 12.0);
        // 1000 W/m², 1 m/s: 20 + 1000/31.84 = 51.4 °C, a typical rack-mounted NOCT-ish value.
        assert!((cell_temperature_c(1000.0, 20.0, 1.0) - 51.41).abs() < 0.01);
        assert!(cell_temperature_c(800.0, 20.0, 8.0) < cell_temperature_c(800.0, 20.0, 1.0));
    }

    #[test]
    fn electrical_model() {
        let m = PvSystemModel::typical(10_000.0, 8_000.0);
        // STC: 10 kW · 0.9 losses.
        assert!((dc_power_w(&m, 1000.0, 25.0) - 9_000.0).abs() < 1e-9);
        assert!(dc_power_w(&m, 800.0, 60.0) < dc_power_w(&m, 800.0, 30.0));
        assert_eq!(dc_power_w(&m, 0.0, 40.0), 0.0);
        assert_eq!(dc_power_w(&m, -5.0, 40.0), 0.0);
        assert_eq!(ac_power_w(&m, 0.0), 0.0);
        assert_eq!(
            ac_power_w(&m, 30.0),
            0.0,
            "below start-up threshold of 40 W"
        );
        assert!((ac_power_w(&m, 5_000.0) - 4_850.0).abs() < 1e-9);
        assert_eq!(ac_power_w(&m, 9_000.0), 8_000.0, "clipped at nominal");
        assert_eq!(ac_power_w(&m, f64::NAN), 0.0);
    }
}
