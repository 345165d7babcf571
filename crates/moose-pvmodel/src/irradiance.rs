//! Horizontal irradiance: extraterrestrial, clear-sky (Ineichen–Perez) and a
//! cloudy-sky decomposition driven by a clearness index.

use jiff::Timestamp;

use crate::sun::{Site, SolarEphemeris, SunPosition};

/// Total solar irradiance at 1 AU, W/m² (Kopp & Lean 2011, SORCE/TIM; the
/// older 1367 W/m² WRC value is ~0.5 % high).
pub const SOLAR_CONSTANT_W_M2: f64 = 1361.0;

/// Linke turbidity used by [`clear_sky`]. 3.0 is a typical annual mean for
/// rural central Europe (Remund et al. 2003 / SoDa climatology gives 2.5–3.5);
/// KPIs need a stable reference more than a site-specific one.
pub const DEFAULT_LINKE_TURBIDITY: f64 = 3.0;

/// Irradiance components, W/m².
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Irradiance {
    /// Global horizontal irradiance.
    pub ghi: f64,
    /// Direct normal irradiance.
    pub dni: f64,
    /// Diffuse horizontal irradiance.
    pub dhi: f64,
}

/// Extraterrestrial normal irradiance at `at`, W/m²: the solar constant scaled
/// by the inverse square of the Earth–sun distance (NOAA / Meeus radius
/// vector; agrees with Spencer 1971 to ~0.1 %). Ranges ≈ 1316–1407 W/m².
pub fn extraterrestrial_normal(at: Timestamp) -> f64 {
    SolarEphemeris::at(at).extraterrestrial_normal()
}

/// Air pressure relative to sea level for a standard atmosphere, isothermal
/// approximation with 8434.5 m scale height.
pub(crate) fn pressure_ratio(altitude_m: f64) -> f64 {
    (-altitude_m / 8_434.5).exp()
}

/// Relative optical air mass for an apparent zenith angle (Kasten & Young 1989),
/// finite up to the horizon (≈ 38 at 90°). Infinity for zenith > 90°.
pub fn relative_air_mass(zenith_deg: f64) -> f64 {
    if zenith_deg > 90.0 {
        return f64::INFINITY;
    }
    1.0 / (zenith_deg.to_radians().cos() + 0.505_72 * (96.079_95 - zenith_deg).powf(-1.636_4))
}

/// Clear-sky irradiance after Ineichen & Perez (2002) with
/// [`DEFAULT_LINKE_TURBIDITY`]; the site altitude reduces the air mass.
/// All zero while the sun is at or below the horizon.
pub fn clear_sky(site: &Site, sun: &SunPosition, at: Timestamp) -> Irradiance {
    clear_sky_with(
        site,
        sun,
        extraterrestrial_normal(at),
        DEFAULT_LINKE_TURBIDITY,
    )
}

/// [`clear_sky`] with an explicit extraterrestrial irradiance (e.g. from a
/// shared [`SolarEphemeris`]) and Linke turbidity `linke`.
///
/// Ineichen & Perez (2002), original form without the later Perez
/// "enhancement" factor: GHI from the altitude-corrected Linke attenuation,
/// DNI as the smaller of the beam formula and the empirical beam/global bound,
/// DHI as the closure remainder so `ghi = dni·cos z + dhi` holds exactly.
pub fn clear_sky_with(site: &Site, sun: &SunPosition, dni_extra: f64, linke: f64) -> Irradiance {
    if !sun.is_up() {
        return Irradiance::default();
    }
    let cos_zen = sun.zenith_deg.to_radians().cos();
    let h = site.altitude_m;
    let am = relative_air_mass(sun.zenith_deg) * pressure_ratio(h);
    let fh1 = (-h / 8_000.0).exp();
    let fh2 = (-h / 1_250.0).exp();
    let cg1 = 5.09e-5 * h + 0.868;
    let cg2 = 3.92e-5 * h + 0.038_7;

    let ghi =
        (cg1 * dni_extra * cos_zen * (-cg2 * am * (fh1 + fh2 * (linke - 1.0))).exp()).max(0.0);
    let b = 0.664 + 0.163 / fh1;
    let dni_beam = b * dni_extra * (-0.09 * am * (linke - 1.0)).exp();
    let dni_bound = ghi * (1.0 - (0.1 - 0.2 * (-linke).exp()) / (0.1 + 0.882 / fh1)) / cos_zen;
    let dni = dni_beam.min(dni_bound).max(0.0);
    Irradiance {
        ghi,
        dni,
        dhi: ghi - dni * cos_zen,
    }
}

/// Beam clear-sky index kb (DNI / DNI_clear) for a global clear-sky index kc.
///
/// kb = ((kc − 0.25) / 0.75)², zero for kc ≤ 0.25: a smooth form of the
/// piecewise kb–kc relations of cloud-cover decompositions. Clouds remove the
/// beam much faster than the global (overcast skies at kc ≲ 0.25 have no beam,
/// broken clouds at kc ≈ 0.65 keep ~30 % of it) so the diffuse fraction rises
/// as kc drops, qualitatively like Erbs et al. (1982). kb ≤ kc on [0, 1],
/// which keeps the diffuse remainder non-negative.
pub fn beam_clear_sky_index(kc: f64) -> f64 {
    let x = ((kc - 0.25) / 0.75).clamp(0.0, 1.0);
    x * x
}

/// Scale clear-sky irradiance by the clearness (clear-sky) index `clearness`,
/// clamped to [0, 1] (NaN counts as 0).
///
/// GHI = kc · GHI_clear; beam components scale with [`beam_clear_sky_index`];
/// DHI takes the remainder. Because the horizontal beam of the clear sky is
/// `ghi − dhi`, closure `ghi = dni·cos z + dhi` carries over exactly from the
/// clear-sky input without needing the zenith angle.
pub fn cloudy(clear: &Irradiance, clearness: f64) -> Irradiance {
    let kc = if clearness >= 0.0 {
        clearness.min(1.0)
    } else {
        0.0
    };
    let kb = beam_clear_sky_index(kc);
    let ghi = kc * clear.ghi;
    let beam_horizontal = kb * (clear.ghi - clear.dhi);
    Irradiance {
        ghi,
        dni: kb * clear.dni,
        dhi: (ghi - beam_horizontal).max(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sun::sun_position;

    const WELS: Site = Site {
        latitude_deg: 48.16,
        longitude_deg: 14.03,
        altitude_m: 317.0,
    };

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn extraterrestrial_follows_orbit() {
        let jan = extraterrestrial_normal(ts("2025-01-04T00:00:00Z"));
        let jul = extraterrestrial_normal(ts("2025-07-04T00:00:00Z"));
        // Perihelion 0.9833 AU → 1407.6; aphelion 1.0167 AU → 1316.6.
        assert!((jan - 1407.6).abs() < 2.0, "{jan}");
        assert!((jul - 1316.6).abs() < 2.0, "{jul}");
    }

    #[test]
    fn air_mass_is_one_overhead_and_about_38_at_horizon() {
        assert!((relative_air_mass(0.0) - 1.0).abs() < 1e-3);
        assert!((relative_air_mass(60.0) - 2.0).abs() < 0.01);
        assert!((relative_air_mass(90.0) - 37.9).abs() < 0.5);
        assert!(relative_air_mass(95.0).is_infinite());
    }

    #[test]
    fn summer_noon_mid_latitude_is_plausible() {
        let at = ts("2025-06-21T11:05:00Z");
        let sun = sun_position(&WELS, at);
        let cs = clear_sky(&WELS, &sun, at);
        assert!(cs.ghi > 850.0 && cs.ghi < 1050.0, "{cs:?}");
        assert!(cs.dni > 750.0 && cs.dni < 1000.0, "{cs:?}");
        assert!(cs.dhi > 40.0 && cs.dhi < 200.0, "{cs:?}");
        let closure = cs.dni * sun.zenith_deg.to_radians().cos() + cs.dhi;
        assert!((closure - cs.ghi).abs() < 1e-9);
    }

    #[test]
    fn altitude_and_turbidity_act_in_the_right_direction() {
        let at = ts("2025-06-21T11:05:00Z");
        let sun = sun_position(&WELS, at);
        let e0 = extraterrestrial_normal(at);
        let base = clear_sky_with(&WELS, &sun, e0, 3.0);
        let alpine = clear_sky_with(
            &Site {
                altitude_m: 2_500.0,
                ..WELS
            },
            &sun,
            e0,
            3.0,
        );
        let hazy = clear_sky_with(&WELS, &sun, e0, 5.0);
        assert!(alpine.ghi > base.ghi && alpine.dni > base.dni);
        assert!(hazy.ghi < base.ghi && hazy.dni < base.dni && hazy.dhi > base.dhi);
    }

    #[test]
    fn night_is_dark() {
        let at = ts("2025-06-21T23:00:00Z");
        let sun = sun_position(&WELS, at);
        assert_eq!(clear_sky(&WELS, &sun, at), Irradiance::default());
    }

    #[test]
    fn cloudy_keeps_closure_and_bounds() {
        for at in [
            "2025-06-21T11:05:00Z",
            "2025-12-21T07:30:00Z",
            "2025-03-20T16:00:00Z",
        ] {
            let at = ts(at);
            let sun = sun_position(&WELS, at);
            let cos_zen = sun.zenith_deg.to_radians().cos();
            let clear = clear_sky(&WELS, &sun, at);
            assert!(clear.ghi > 0.0);
            for i in 0..=20 {
                let kc = f64::from(i) / 20.0;
                let c = cloudy(&clear, kc);
                assert!(
                    (c.dni * cos_zen + c.dhi - c.ghi).abs() < 1e-6,
                    "kc={kc} {c:?}"
                );
                assert!((c.ghi - kc * clear.ghi).abs() < 1e-9);
                assert!(c.dni >= 0.0 && c.dhi >= 0.0 && c.dni <= clear.dni);
            }
            let full = cloudy(&clear, 1.0);
            assert!(
                full.ghi == clear.ghi
                    && full.dni == clear.dni
                    && (full.dhi - clear.dhi).abs() < 1e-9
            );
            assert_eq!(cloudy(&clear, 0.2).dni, 0.0);
            assert_eq!(cloudy(&clear, f64::NAN), Irradiance::default());
        }
    }

    #[test]
    fn beam_index_never_exceeds_global_index() {
        for i in 0..=100 {
            let kc = f64::from(i) / 100.0;
            assert!(beam_clear_sky_index(kc) <= kc + 1e-15);
        }
    }
}
