//! Property tests over random sites, times, arrays and systems.

use jiff::{SignedDuration, Timestamp};
use moose_pvmodel::{
    ArrayGeometry, PvSystemModel, Site, SolarEphemeris, Weather, clear_sky, clear_sky_ac_power_w,
    cloudy, expected_energy_wh, extraterrestrial_normal, plane_of_array, sun_position,
    weather_ac_power_w,
};
use proptest::prelude::*;

/// 2000-01-01 .. 2040-01-01, in seconds since the Unix epoch.
const SECS_2000: i64 = 946_684_800;
const SECS_2040: i64 = 2_208_988_800;

fn site() -> impl Strategy<Value = Site> {
    (-60.0..65.0_f64, -180.0..180.0_f64, 0.0..3_000.0_f64).prop_map(
        |(latitude_deg, longitude_deg, altitude_m)| Site {
            latitude_deg,
            longitude_deg,
            altitude_m,
        },
    )
}

fn instant() -> impl Strategy<Value = Timestamp> {
    (SECS_2000..SECS_2040).prop_map(|s| Timestamp::from_second(s).unwrap())
}

fn array() -> impl Strategy<Value = ArrayGeometry> {
    (0.0..=90.0_f64, 0.0..360.0_f64, 0.0..=0.8_f64).prop_map(|(tilt_deg, azimuth_deg, albedo)| {
        ArrayGeometry {
            tilt_deg,
            azimuth_deg,
            albedo,
        }
    })
}

fn model() -> impl Strategy<Value = PvSystemModel> {
    (
        1_000.0..100_000.0_f64,
        0.6..1.3_f64,
        -0.005..-0.002_f64,
        0.9..0.99_f64,
        0.0..0.2_f64,
    )
        .prop_map(
            |(dc_peak_w, ratio, gamma_per_c, inverter_efficiency, system_losses)| PvSystemModel {
                dc_peak_w,
                ac_nominal_w: dc_peak_w * ratio,
                gamma_per_c,
                inverter_efficiency,
                system_losses,
            },
        )
}

proptest! {
    #[test]
    fn ac_power_is_finite_non_negative_and_clipped(
        site in site(), at in instant(), array in array(), model in model(), seed in any::<u64>(),
    ) {
        let clear = clear_sky_ac_power_w(&site, &array, &model, at);
        prop_assert!(clear.is_finite() && clear >= 0.0 && clear <= model.ac_nominal_w, "{clear}");
        let sample = Weather::new(seed).sample(&site, at);
        let real = weather_ac_power_w(&site, &array, &model, &SolarEphemeris::at(at), &sample);
        prop_assert!(real.is_finite() && real >= 0.0 && real <= model.ac_nominal_w, "{real}");
    }

    #[test]
    fn geometry_and_irradiance_are_well_formed(
        site in site(), at in instant(), array in array(), kc in 0.0..=1.0_f64,
    ) {
        let sun = sun_position(&site, at);
        prop_assert!((-90.0..=90.0).contains(&sun.elevation_deg));
        prop_assert!((0.0..360.0).contains(&sun.azimuth_deg));
        let clear = clear_sky(&site, &sun, at);
        let irr = cloudy(&clear, kc);
        let cos_zen = sun.zenith_deg.to_radians().cos();
        prop_assert!(irr.ghi >= 0.0 && irr.dni >= 0.0 && irr.dhi >= 0.0);
        prop_assert!(irr.ghi <= 1.1 * extraterrestrial_normal(at));
        if sun.elevation_deg > 0.0 {
            prop_assert!((irr.dni * cos_zen + irr.dhi - irr.ghi).abs() < 1e-6);
        }
        let poa = plane_of_array(&array, &sun, &irr, extraterrestrial_normal(at));
        prop_assert!(poa.is_finite() && poa >= 0.0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn daily_energy_is_non_negative_and_additive(
        site in site(), day in instant(), array in array(), model in model(),
        step_secs in prop::sample::select(vec![300_i64, 600, 900, 3_600]),
        split_frac in 0.0..1.0_f64,
    ) {
        let to = day + SignedDuration::from_hours(24);
        let whole = expected_energy_wh(&site, &array, &model, day, to, step_secs);
        prop_assert!(whole.is_finite() && whole >= 0.0);
        prop_assert!(whole <= model.ac_nominal_w * 24.0 + 1e-9);
        let steps = 86_400 / step_secs;
        let split_steps = (split_frac * steps as f64) as i64;
        let split = day + SignedDuration::from_secs(split_steps * step_secs);
        let parts = expected_energy_wh(&site, &array, &model, day, split, step_secs)
            + expected_energy_wh(&site, &array, &model, split, to, step_secs);
        prop_assert!((parts - whole).abs() <= 1e-6 * whole.max(1.0), "{parts} vs {whole}");
    }
}
