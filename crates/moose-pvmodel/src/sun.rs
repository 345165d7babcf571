//! Solar position after the NOAA solar calculator, i.e. the low-precision
//! solar theory of Meeus, *Astronomical Algorithms* (2nd ed.), ch. 25 and 28.
//!
//! Accuracy is about 0.01° in declination and a few seconds in the equation of
//! time for 1900–2100, far below what matters for PV yield. ΔT (TT − UT, about
//! 69 s today) is ignored like NOAA does: it moves the sun by < 0.005°.

use jiff::Timestamp;

/// A location on Earth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Site {
    /// Geodetic latitude, degrees, north positive.
    pub latitude_deg: f64,
    /// Longitude, degrees, east positive.
    pub longitude_deg: f64,
    /// Height above sea level, metres (drives air pressure in refraction and clear-sky models).
    pub altitude_m: f64,
}

/// Apparent sun position as seen from a site.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SunPosition {
    /// Apparent elevation above the horizon, degrees, including atmospheric refraction.
    pub elevation_deg: f64,
    /// Apparent zenith angle, degrees (`90 − elevation_deg`).
    pub zenith_deg: f64,
    /// Azimuth, degrees clockwise from north (0 = N, 90 = E, 180 = S, 270 = W).
    pub azimuth_deg: f64,
}

impl SunPosition {
    /// Whether the sun's apparent centre is above the horizon (false for NaN).
    pub fn is_up(&self) -> bool {
        self.elevation_deg > 0.0
    }
}

/// The site-independent part of the solar position at one instant.
///
/// Computing it once per time slot and then calling [`SolarEphemeris::position`]
/// for each site saves the orbital terms when many systems share a timestamp
/// (the simulator's 10,000 systems per 5-minute slot).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolarEphemeris {
    /// Apparent declination of the sun, degrees.
    pub declination_deg: f64,
    /// Equation of time (apparent minus mean solar time), minutes.
    pub equation_of_time_min: f64,
    /// Earth–sun distance, astronomical units.
    pub sun_distance_au: f64,
    /// Minutes since 00:00 UTC of the instant's UTC day.
    utc_minutes: f64,
    sin_decl: f64,
    cos_decl: f64,
}

/// Seconds since the Unix epoch as `f64`, keeping sub-second precision.
pub(crate) fn unix_seconds(at: Timestamp) -> f64 {
    at.as_second() as f64 + f64::from(at.subsec_nanosecond()) * 1e-9
}

impl SolarEphemeris {
    /// Orbital quantities at `at` (NOAA / Meeus ch. 25 low-accuracy theory).
    pub fn at(at: Timestamp) -> Self {
        let secs = at.as_second();
        let unix = unix_seconds(at);
        // Julian day of the Unix epoch is 2440587.5; J2000.0 is JD 2451545.0.
        let jd = unix / 86_400.0 + 2_440_587.5;
        let t = (jd - 2_451_545.0) / 36_525.0;

        let l0 = (280.466_46 + t * (36_000.769_83 + 0.000_303_2 * t)).rem_euclid(360.0);
        let m = 357.529_11 + t * (35_999.050_29 - 0.000_153_7 * t);
        let e = 0.016_708_634 - t * (0.000_042_037 + 0.000_000_126_7 * t);
        let m_rad = m.to_radians();
        let center = m_rad.sin() * (1.914_602 - t * (0.004_817 + 0.000_014 * t))
            + (2.0 * m_rad).sin() * (0.019_993 - 0.000_101 * t)
            + (3.0 * m_rad).sin() * 0.000_289;
        let true_long = l0 + center;
        let true_anom = (m + center).to_radians();
        let distance = 1.000_001_018 * (1.0 - e * e) / (1.0 + e * true_anom.cos());

        // Nutation and aberration folded into the apparent longitude and obliquity.
        let omega = (125.04 - 1_934.136 * t).to_radians();
        let lambda = (true_long - 0.005_69 - 0.004_78 * omega.sin()).to_radians();
        let eps0 =
            23.0 + (26.0 + (21.448 - t * (46.815 + t * (0.000_59 - t * 0.001_813))) / 60.0) / 60.0;
        let eps = (eps0 + 0.002_56 * omega.cos()).to_radians();
        let sin_decl = eps.sin() * lambda.sin();
        let decl = sin_decl.asin();

        // Equation of time, Meeus eq. 28.3 (Smart's series).
        let y = (eps / 2.0).tan().powi(2);
        let l0r = l0.to_radians();
        let eot_rad = y * (2.0 * l0r).sin() - 2.0 * e * m_rad.sin()
            + 4.0 * e * y * m_rad.sin() * (2.0 * l0r).cos()
            - 0.5 * y * y * (4.0 * l0r).sin()
            - 1.25 * e * e * (2.0 * m_rad).sin();

        let day_secs = secs.rem_euclid(86_400) as f64 + f64::from(at.subsec_nanosecond()) * 1e-9;
        Self {
            declination_deg: decl.to_degrees(),
            equation_of_time_min: 4.0 * eot_rad.to_degrees(),
            sun_distance_au: distance,
            utc_minutes: day_secs / 60.0,
            sin_decl,
            cos_decl: decl.cos(),
        }
    }

    /// Geometric (refraction-free) elevation and azimuth, degrees.
    pub(crate) fn geometric(&self, site: &Site) -> (f64, f64) {
        // True solar time in minutes; the local time-zone offset cancels out.
        let tst = self.utc_minutes + self.equation_of_time_min + 4.0 * site.longitude_deg;
        let hour_angle = (tst / 4.0 - 180.0).to_radians();
        let (sin_h, cos_h) = hour_angle.sin_cos();
        let (sin_lat, cos_lat) = site.latitude_deg.to_radians().sin_cos();
        let cos_zen = (sin_lat * self.sin_decl + cos_lat * self.cos_decl * cos_h).clamp(-1.0, 1.0);
        let elevation = 90.0 - cos_zen.acos().to_degrees();
        // Meeus eq. 13.5 (azimuth from south) shifted by 180° to count from north.
        let az_south = (sin_h * self.cos_decl)
            .atan2(cos_h * sin_lat * self.cos_decl - self.sin_decl * cos_lat);
        let azimuth = (az_south.to_degrees() + 180.0).rem_euclid(360.0);
        (elevation, azimuth)
    }

    /// Apparent sun position at `site`, refraction included.
    pub fn position(&self, site: &Site) -> SunPosition {
        let (geo_elev, azimuth) = self.geometric(site);
        let elevation = geo_elev + refraction_deg(geo_elev, site.altitude_m);
        SunPosition {
            elevation_deg: elevation,
            zenith_deg: 90.0 - elevation,
            azimuth_deg: azimuth,
        }
    }

    /// Extraterrestrial normal irradiance, W/m², from the solar constant and the
    /// exact Earth–sun distance (inverse-square law).
    pub fn extraterrestrial_normal(&self) -> f64 {
        crate::irradiance::SOLAR_CONSTANT_W_M2 / (self.sun_distance_au * self.sun_distance_au)
    }
}

/// Atmospheric refraction, degrees, for a geometric elevation `true_elev_deg`.
///
/// Sæmundsson (1986) formula, i.e. the inverse of Bennett's, for 1010 hPa and
/// 10 °C, scaled by the station pressure of a standard atmosphere (refraction
/// is proportional to air density). Below −1° it is not applied: the sun is
/// then irrelevant for PV and the formula leaves its range of validity.
pub fn refraction_deg(true_elev_deg: f64, altitude_m: f64) -> f64 {
    if true_elev_deg <= -1.0 {
        return 0.0;
    }
    let arcmin = 1.02
        / (true_elev_deg + 10.3 / (true_elev_deg + 5.11))
            .to_radians()
            .tan();
    let pressure_ratio = (-altitude_m / 8_434.5).exp();
    (arcmin / 60.0 * pressure_ratio).max(0.0)
}

/// Apparent sun position at `site` and `at` (NOAA / Meeus, refraction after Sæmundsson).
pub fn sun_position(site: &Site, at: Timestamp) -> SunPosition {
    SolarEphemeris::at(at).position(site)
}

/// Whether the apparent sun elevation is strictly above `min_elevation_deg`.
///
/// Alerting uses this to tell "no production because it is night / the sun is
/// too low" from a genuine fault.
pub fn is_producing_sun(site: &Site, at: Timestamp, min_elevation_deg: f64) -> bool {
    sun_position(site, at).elevation_deg > min_elevation_deg
}

#[cfg(test)]
mod tests {
    use super::*;

    const WELS: Site = Site {
        latitude_deg: 48.16,
        longitude_deg: 14.03,
        altitude_m: 317.0,
    };

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn az_diff(a: f64, b: f64) -> f64 {
        let d = (a - b).rem_euclid(360.0);
        d.min(360.0 - d)
    }

    #[test]
    fn meeus_example_25a_declination_and_28b_equation_of_time() {
        // Meeus example 25.a: 1992-10-13 0h TD, δ = −7.78507°, R = 0.99766 AU;
        // example 28.b: E = 13m42.7s. (ΔT ≈ 59 s is irrelevant at this precision.)
        let eph = SolarEphemeris::at(ts("1992-10-13T00:00:00Z"));
        assert!((eph.declination_deg + 7.78507).abs() < 0.01, "{eph:?}");
        assert!((eph.sun_distance_au - 0.99766).abs() < 1e-4, "{eph:?}");
        assert!((eph.equation_of_time_min - 13.712).abs() < 0.05, "{eph:?}");
    }

    #[test]
    fn wels_summer_solstice_near_noon() {
        // Solar noon in Wels is ≈ 11:05 UTC; noon elevation 90 − 48.16 + 23.44 = 65.28°.
        let p = sun_position(&WELS, ts("2025-06-21T11:00:00Z"));
        assert!((p.elevation_deg - 65.25).abs() < 0.5, "{p:?}");
        assert!(az_diff(p.azimuth_deg, 180.0) < 10.0, "{p:?}");
        assert!((p.zenith_deg + p.elevation_deg - 90.0).abs() < 1e-12);
    }

    #[test]
    fn sydney_december_local_noon_sun_is_north() {
        // Sydney solar noon on 2025-12-21 ≈ 01:53 UTC; δ ≈ −23.44° so the sun
        // culminates at 90 − (33.87 − 23.44) = 79.57°, north of the zenith.
        let sydney = Site {
            latitude_deg: -33.87,
            longitude_deg: 151.21,
            altitude_m: 20.0,
        };
        let p = sun_position(&sydney, ts("2025-12-21T01:53:00Z"));
        assert!((p.elevation_deg - 79.57).abs() < 0.5, "{p:?}");
        assert!(az_diff(p.azimuth_deg, 0.0) < 10.0, "{p:?}");
    }

    #[test]
    fn equator_at_equinox_noon_is_overhead() {
        // March equinox 2025-03-20 09:01 UTC; E ≈ −7.5 min, so solar noon at
        // 0° E is 12:07:30 UTC.
        let site = Site {
            latitude_deg: 0.0,
            longitude_deg: 0.0,
            altitude_m: 0.0,
        };
        let p = sun_position(&site, ts("2025-03-20T12:07:30Z"));
        assert!(p.elevation_deg > 89.5, "{p:?}");
    }

    #[test]
    fn morning_east_afternoon_west_night_negative() {
        let morning = sun_position(&WELS, ts("2025-06-21T05:00:00Z"));
        let evening = sun_position(&WELS, ts("2025-06-21T17:00:00Z"));
        assert!(
            morning.azimuth_deg > 45.0 && morning.azimuth_deg < 135.0,
            "{morning:?}"
        );
        assert!(
            evening.azimuth_deg > 225.0 && evening.azimuth_deg < 315.0,
            "{evening:?}"
        );
        // Lower culmination: −(90 − 48.16 − 23.44) = −18.4°.
        let night = sun_position(&WELS, ts("2025-06-21T23:05:00Z"));
        assert!((night.elevation_deg + 18.4).abs() < 0.5, "{night:?}");
        assert!(!is_producing_sun(&WELS, ts("2025-06-21T23:05:00Z"), 0.0));
        assert!(is_producing_sun(&WELS, ts("2025-06-21T11:00:00Z"), 10.0));
    }

    #[test]
    fn refraction_is_about_half_a_degree_at_the_horizon_and_zero_overhead() {
        let r0 = refraction_deg(0.0, 0.0);
        assert!((r0 - 0.48).abs() < 0.05, "{r0}");
        assert!(refraction_deg(89.9, 0.0) < 1e-3);
        assert_eq!(refraction_deg(-1.5, 0.0), 0.0);
        assert!(refraction_deg(0.0, 3000.0) < r0);
    }
}
