//! Whole-chain AC power: clear-sky expectation for KPIs and the weather-driven
//! value for the simulator, sharing one code path so they agree by construction.

use jiff::Timestamp;

use crate::array::{
    ArrayGeometry, PvSystemModel, ac_power_w, cell_temperature_c, dc_power_w, plane_of_array,
};
use crate::irradiance::{DEFAULT_LINKE_TURBIDITY, clear_sky_with, cloudy};
use crate::sun::{Site, SolarEphemeris};
use crate::weather::WeatherSample;

/// Ambient temperature assumed for the clear-sky expectation, °C. A fixed
/// reference (rather than a climatology) keeps the KPI comparable across
/// sites and seasons; 20 °C is the NOCT reference ambient.
pub const EXPECTED_AMBIENT_C: f64 = 20.0;
/// Wind speed assumed for the clear-sky expectation, m/s (NOCT uses 1 m/s).
pub const EXPECTED_WIND_M_S: f64 = 1.0;

/// AC power, W, for given weather at a site, with the solar geometry taken
/// from a (possibly shared) ephemeris: clear sky (Ineichen–Perez, TL 3) scaled
/// by `weather.clearness`, Hay–Davies transposition, Faiman temperature,
/// PVWatts DC and a clipped flat-efficiency inverter. Allocation-free.
pub fn weather_ac_power_w(
    site: &Site,
    array: &ArrayGeometry,
    model: &PvSystemModel,
    ephemeris: &SolarEphemeris,
    weather: &WeatherSample,
) -> f64 {
    let sun = ephemeris.position(site);
    if !sun.is_up() {
        return 0.0;
    }
    let dni_extra = ephemeris.extraterrestrial_normal();
    let clear = clear_sky_with(site, &sun, dni_extra, DEFAULT_LINKE_TURBIDITY);
    let irr = if weather.clearness < 1.0 {
        cloudy(&clear, weather.clearness)
    } else {
        clear
    };
    let poa = plane_of_array(array, &sun, &irr, dni_extra);
    let cell = cell_temperature_c(poa, weather.ambient_c, weather.wind_m_s);
    ac_power_w(model, dc_power_w(model, poa, cell))
}

/// Expected AC power, W, under a clear sky at [`EXPECTED_AMBIENT_C`] and [`EXPECTED_WIND_M_S`].
pub fn clear_sky_ac_power_w(
    site: &Site,
    array: &ArrayGeometry,
    model: &PvSystemModel,
    at: Timestamp,
) -> f64 {
    let reference = WeatherSample {
        clearness: 1.0,
        ambient_c: EXPECTED_AMBIENT_C,
        wind_m_s: EXPECTED_WIND_M_S,
    };
    weather_ac_power_w(site, array, model, &SolarEphemeris::at(at), &reference)
}

/// Clear-sky expected AC energy, Wh, over `[from, to)`.
///
/// Midpoint rule on slots of `step_secs` starting at `from`; a final shorter
/// slot is evaluated at its own midpoint. Slots are anchored at `from`, so
/// splitting an interval on a step boundary gives two integrals that add up
/// to the whole. Returns 0 for an empty interval or a non-positive step.
pub fn expected_energy_wh(
    site: &Site,
    array: &ArrayGeometry,
    model: &PvSystemModel,
    from: Timestamp,
    to: Timestamp,
    step_secs: i64,
) -> f64 {
    if step_secs <= 0 || to <= from {
        return 0.0;
    }
    let step = i128::from(step_secs) * 1_000_000_000;
    let end = to.as_nanosecond();
    let mut t = from.as_nanosecond();
    let mut wh = 0.0;
    while t < end {
        let next = (t + step).min(end);
        let Ok(mid) = Timestamp::from_nanosecond(t + (next - t) / 2) else {
            break;
        };
        let hours = (next - t) as f64 / 3.6e12;
        wh += clear_sky_ac_power_w(site, array, model, mid) * hours;
        t = next;
    }
    wh
}

#[cfg(test)]
mod tests {
    use super::*;

    const WELS: Site = Site {
        latitude_deg: 48.16,
        longitude_deg: 14.03,
        altitude_m: 317.0,
    };
    const SOUTH_35: ArrayGeometry = ArrayGeometry {
        tilt_deg: 35.0,
        azimuth_deg: 180.0,
        albedo: 0.2,
    };

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn clear_summer_day_yield_is_plausible() {
        // Clear-sky POA on a 35° south plane at 48° N in June is ≈ 8 kWh/m²;
        // after 10 % losses, 97 % inverter and ~6 % temperature loss a 10 kWp
        // system makes ≈ 65 kWh, in line with the best June days (6–7.5
        // kWh/kWp) of Upper Austrian systems.
        let model = PvSystemModel::typical(10_000.0, 10_000.0);
        let wh = expected_energy_wh(
            &WELS,
            &SOUTH_35,
            &model,
            ts("2025-06-20T22:00:00Z"),
            ts("2025-06-21T22:00:00Z"),
            300,
        );
        assert!(wh > 58_000.0 && wh < 75_000.0, "{wh}");
        // December is far lower.
        let dec = expected_energy_wh(
            &WELS,
            &SOUTH_35,
            &model,
            ts("2025-12-20T23:00:00Z"),
            ts("2025-12-21T23:00:00Z"),
            300,
        );
        assert!(dec > 10_000.0 && dec < 0.5 * wh, "{dec}");
    }

    #[test]
    fn clipping_and_night() {
        let model = PvSystemModel::typical(10_000.0, 5_000.0);
        let noon = clear_sky_ac_power_w(&WELS, &SOUTH_35, &model, ts("2025-04-15T11:00:00Z"));
        assert_eq!(noon, 5_000.0);
        assert_eq!(
            clear_sky_ac_power_w(&WELS, &SOUTH_35, &model, ts("2025-04-15T23:00:00Z")),
            0.0
        );
    }

    #[test]
    fn partial_last_slot_and_degenerate_inputs() {
        let model = PvSystemModel::typical(5_000.0, 5_000.0);
        let from = ts("2025-06-21T10:00:00Z");
        let to = ts("2025-06-21T10:07:00Z");
        let e = expected_energy_wh(&WELS, &SOUTH_35, &model, from, to, 300);
        let p = clear_sky_ac_power_w(&WELS, &SOUTH_35, &model, ts("2025-06-21T10:03:30Z"));
        assert!((e - p * 7.0 / 60.0).abs() < 0.5, "{e} vs {p}");
        assert_eq!(
            expected_energy_wh(&WELS, &SOUTH_35, &model, to, from, 300),
            0.0
        );
        assert_eq!(
            expected_energy_wh(&WELS, &SOUTH_35, &model, from, to, 0),
            0.0
        );
    }

    #[test]
    fn weather_path_matches_clear_sky_path_at_kc_one() {
        let model = PvSystemModel::typical(8_000.0, 6_000.0);
        let at = ts("2025-05-01T09:30:00Z");
        let eph = SolarEphemeris::at(at);
        let ws = WeatherSample {
            clearness: 1.0,
            ambient_c: EXPECTED_AMBIENT_C,
            wind_m_s: EXPECTED_WIND_M_S,
        };
        let a = weather_ac_power_w(&WELS, &SOUTH_35, &model, &eph, &ws);
        assert_eq!(a, clear_sky_ac_power_w(&WELS, &SOUTH_35, &model, at));
        let overcast = weather_ac_power_w(
            &WELS,
            &SOUTH_35,
            &model,
            &eph,
            &WeatherSample {
                clearness: 0.2,
                ..ws
            },
        );
        assert!(overcast > 0.0 && overcast < 0.3 * a, "{overcast} {a}");
    }
}
