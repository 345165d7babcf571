//! Deterministic synthetic weather for the simulator.
//!
//! Everything is a pure function of `(seed, site, time)`: lattice values come
//! from a 64-bit integer hash (the splitmix64 finaliser), never from a random
//! number generator, so a simulated fleet can be regenerated for any instant
//! without state. The noise is 4-D value noise in (x, y, z, t), where x, y, z
//! are Earth-centred coordinates in km: that is isotropic on the sphere, has
//! no seam at the date line and no pole singularity, so spatial correlation
//! depends only on distance.
//!
//! Cloudiness is the sum of three layers, each a scale of real cloud fields:
//! a synoptic regime (300 km, 1 day: clear vs. overcast days), a mesoscale
//! layer (60 km, 3 h: cloud bands, afternoon convection) and passing clouds
//! (15 km, 45 min). Their sum is mapped through a logistic to the clear-sky
//! index kc.

use jiff::Timestamp;

use crate::noise::{mix64, value_noise};
use crate::sun::{Site, unix_seconds};

const EARTH_RADIUS_KM: f64 = 6_371.0;
const DAY_S: f64 = 86_400.0;

/// One value-noise layer: lattice spacing in km and s, and a salt so layers
/// draw independent lattice values from the same seed.
#[derive(Debug, Clone, Copy)]
struct Layer {
    scale_km: f64,
    period_s: f64,
    salt: u64,
}

const fn layer(scale_km: f64, period_s: f64, salt: u64) -> Layer {
    Layer {
        scale_km,
        period_s,
        salt,
    }
}

const REGIME: Layer = layer(300.0, DAY_S, 0x5EED_0001);
const MESO: Layer = layer(60.0, 3.0 * 3_600.0, 0x5EED_0002);
const CLOUDS: Layer = layer(15.0, 45.0 * 60.0, 0x5EED_0003);
const TEMP_ANOMALY: Layer = layer(500.0, 2.0 * DAY_S, 0x5EED_0004);
const WIND: Layer = layer(200.0, 6.0 * 3_600.0, 0x5EED_0005);

/// Seasonal cloudiness bias in [−1, 1]: +1 in mid-January north of 45° N
/// (and mid-July south of 45° S), fading towards the equator. Mid-latitude
/// winters are far cloudier (stratus, fog) than summers: in central Europe
/// winter months reach ~40 % of clear-sky irradiation against ~70 % in summer.
fn winter_cloudiness(lat_deg: f64, t_s: f64) -> f64 {
    let phase = std::f64::consts::TAU * (t_s / DAY_S - 14.0) / 365.242_2;
    phase.cos() * (lat_deg / 45.0).clamp(-1.0, 1.0)
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// A site's Earth-centred coordinates in km.
fn ecef_km(site: &Site) -> [f64; 3] {
    let (sin_lat, cos_lat) = site.latitude_deg.to_radians().sin_cos();
    let (sin_lon, cos_lon) = site.longitude_deg.to_radians().sin_cos();
    [
        EARTH_RADIUS_KM * cos_lat * cos_lon,
        EARTH_RADIUS_KM * cos_lat * sin_lon,
        EARTH_RADIUS_KM * sin_lat,
    ]
}

/// Deterministic weather generator; all outputs depend only on the seed, the site and the instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Weather {
    seed: u64,
}

/// All weather quantities at one site and instant, computed together so the
/// shared regime layer is evaluated once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeatherSample {
    /// Clear-sky index kc in [0.05, 1].
    pub clearness: f64,
    /// Air temperature, °C.
    pub ambient_c: f64,
    /// Wind speed, m/s, in [0.5, 8].
    pub wind_m_s: f64,
}

/// Lower bound of kc: even thick overcast passes ~5 % of clear-sky GHI.
const KC_MIN: f64 = 0.05;

impl Weather {
    /// A weather generator; different seeds give independent weather.
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }

    fn noise(&self, layer: Layer, xyz: [f64; 3], t_s: f64) -> f64 {
        let p = [
            xyz[0] / layer.scale_km,
            xyz[1] / layer.scale_km,
            xyz[2] / layer.scale_km,
            t_s / layer.period_s,
        ];
        value_noise(mix64(self.seed ^ layer.salt), p)
    }

    /// Clear-sky index kc in [0.05, 1.0] (GHI / clear-sky GHI).
    ///
    /// Smooth in time (passing clouds ~45 min, bands ~3 h) with a day-to-day
    /// regime (some days clear, some overcast). Spatially correlated: sites a
    /// few km apart share nearly the same clouds, sites > 500 km apart are
    /// nearly independent. Winters are cloudier than summers at mid-latitudes.
    /// Cloud enhancement (kc > 1) is not modelled.
    pub fn clearness(&self, site: &Site, at: Timestamp) -> f64 {
        let xyz = ecef_km(site);
        let t = unix_seconds(at);
        self.clearness_from(self.noise(REGIME, xyz, t), site.latitude_deg, xyz, t)
    }

    fn clearness_from(&self, regime: f64, lat_deg: f64, xyz: [f64; 3], t: f64) -> f64 {
        let meso = self.noise(MESO, xyz, t);
        let clouds = self.noise(CLOUDS, xyz, t);
        // Latent cloudiness: positive = cloudy. The regime dominates the
        // variance so sites ~20 km apart still agree (corr ≈ 0.8). Weights
        // and offset are tuned to one central-European climatology for all
        // sites: ~40 % of daylight slots near clear, ~30 % below kc 0.4,
        // ~35 % clear and ~25 % overcast days, annual yield ≈ 63 % of the
        // clear-sky yield (≈ 1150 kWh/kWp in Upper Austria).
        let latent =
            1.1 * regime + 0.55 * meso + 0.45 * clouds - 0.05 + 0.5 * winter_cloudiness(lat_deg, t);
        // Cloud optical thickness grows with the regime: thin broken cloud on
        // good days, thick stratus (kc → 0.1) on bad ones.
        let floor = (0.35 - 0.15 * regime).clamp(0.08, 0.6);
        let opacity = logistic(latent * 3.5);
        (1.0 - opacity * (1.0 - floor)).clamp(KC_MIN, 1.0)
    }

    /// Clear-day tendency in [0, 1] from the regime layer.
    fn clear_tendency(regime: f64) -> f64 {
        logistic(-1.5 * regime)
    }

    /// Air temperature, °C: annual mean by latitude, −6.5 K/km lapse rate,
    /// seasonal cycle peaking a month after the solstice, diurnal cycle
    /// (minimum ≈ 03:00, maximum ≈ 15:00 solar time) that is wider on clear
    /// days, and a synoptic anomaly (2.5 K standard deviation, ~2 days).
    pub fn ambient_c(&self, site: &Site, at: Timestamp) -> f64 {
        let xyz = ecef_km(site);
        let t = unix_seconds(at);
        self.ambient_from(self.noise(REGIME, xyz, t), site, xyz, t)
    }

    fn ambient_from(&self, regime: f64, site: &Site, xyz: [f64; 3], t: f64) -> f64 {
        let lat = site.latitude_deg.clamp(-90.0, 90.0);
        // Annual mean fitted to maritime/European stations (warmer than the zonal
        // mean): ~27 °C at the equator, ~14 °C at 45°, ~4 °C at 60°.
        let mean = 27.0 - 0.006_5 * lat * lat - 0.006_5 * site.altitude_m;
        // Signed so the southern hemisphere is in antiphase; ~10 K at 48° N.
        let seasonal_amp = (0.21 * lat).clamp(-15.0, 15.0);
        // Day 200 of 1970 is 20 July, the usual northern temperature peak.
        let days = t / DAY_S;
        let seasonal = seasonal_amp * (std::f64::consts::TAU * (days - 200.0) / 365.242_2).cos();
        let solar_hour = (days.rem_euclid(1.0) * 24.0 + site.longitude_deg / 15.0).rem_euclid(24.0);
        let diurnal_amp = 2.5 + 4.0 * Self::clear_tendency(regime);
        let diurnal = diurnal_amp * (std::f64::consts::TAU * (solar_hour - 15.0) / 24.0).cos();
        let anomaly = 2.5 * self.noise(TEMP_ANOMALY, xyz, t);
        mean + seasonal + diurnal + anomaly
    }

    /// Wind speed at module height, m/s in [0.5, 8], skewed towards light
    /// wind (mean ≈ 2.7 m/s) like a Weibull-distributed surface wind.
    pub fn wind_m_s(&self, site: &Site, at: Timestamp) -> f64 {
        self.wind_from(ecef_km(site), unix_seconds(at))
    }

    fn wind_from(&self, xyz: [f64; 3], t: f64) -> f64 {
        let u = logistic(1.2 * self.noise(WIND, xyz, t));
        0.5 + 7.5 * u * u
    }

    /// Clearness, ambient temperature and wind at once (same values as the
    /// individual methods, with shared work done once).
    pub fn sample(&self, site: &Site, at: Timestamp) -> WeatherSample {
        let xyz = ecef_km(site);
        let t = unix_seconds(at);
        let regime = self.noise(REGIME, xyz, t);
        WeatherSample {
            clearness: self.clearness_from(regime, site.latitude_deg, xyz, t),
            ambient_c: self.ambient_from(regime, site, xyz, t),
            wind_m_s: self.wind_from(xyz, t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sun::sun_position;
    use jiff::SignedDuration;

    const WELS: Site = Site {
        latitude_deg: 48.16,
        longitude_deg: 14.03,
        altitude_m: 317.0,
    };

    fn t0() -> Timestamp {
        "2025-01-01T00:00:00Z".parse().unwrap()
    }

    fn at(secs: i64) -> Timestamp {
        t0() + SignedDuration::from_secs(secs)
    }

    /// Site `km` away from `site` towards the north-east.
    fn offset_site(site: &Site, km: f64) -> Site {
        let dlat = km / 111.2 * std::f64::consts::FRAC_1_SQRT_2;
        let dlon = dlat / site.latitude_deg.to_radians().cos();
        Site {
            latitude_deg: site.latitude_deg + dlat,
            longitude_deg: site.longitude_deg + dlon,
            ..*site
        }
    }

    fn correlation(a: &[f64], b: &[f64]) -> f64 {
        let n = a.len() as f64;
        let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
        let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
        let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
        let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
        cov / (va * vb).sqrt()
    }

    /// 500 daytime instants (08:00–14:00 UTC) spread pseudo-randomly over a year.
    fn daytime_instants() -> Vec<Timestamp> {
        (0..500_i64)
            .map(|i| at((i * 7_919 % 365) * 86_400 + 8 * 3_600 + i * 104_729 % 21_600))
            .collect()
    }

    #[test]
    fn deterministic_and_seed_dependent() {
        let (a, b, other) = (Weather::new(7), Weather::new(7), Weather::new(8));
        let mut differs = 0;
        for i in 0..200 {
            let t = at(i * 1_234);
            assert_eq!(
                a.clearness(&WELS, t).to_bits(),
                b.clearness(&WELS, t).to_bits()
            );
            assert_eq!(
                a.ambient_c(&WELS, t).to_bits(),
                b.ambient_c(&WELS, t).to_bits()
            );
            assert_eq!(
                a.wind_m_s(&WELS, t).to_bits(),
                b.wind_m_s(&WELS, t).to_bits()
            );
            let s = a.sample(&WELS, t);
            assert_eq!(
                s,
                WeatherSample {
                    clearness: a.clearness(&WELS, t),
                    ambient_c: a.ambient_c(&WELS, t),
                    wind_m_s: a.wind_m_s(&WELS, t)
                }
            );
            differs += usize::from(a.clearness(&WELS, t) != other.clearness(&WELS, t));
        }
        assert!(differs > 100);
    }

    #[test]
    fn ranges_hold_everywhere() {
        let w = Weather::new(99);
        for lat in [-90.0, -60.0, -12.5, 0.0, 33.3, 48.16, 78.0, 90.0] {
            for lon in [-180.0, -97.1, 0.0, 14.03, 151.2, 180.0] {
                let site = Site {
                    latitude_deg: lat,
                    longitude_deg: lon,
                    altitude_m: 500.0,
                };
                for i in 0..300 {
                    let t = at(i * 3_517);
                    let s = w.sample(&site, t);
                    assert!((KC_MIN..=1.0).contains(&s.clearness), "{s:?}");
                    assert!((0.5..=8.0).contains(&s.wind_m_s), "{s:?}");
                    assert!(s.ambient_c > -60.0 && s.ambient_c < 50.0, "{s:?}");
                }
            }
        }
    }

    #[test]
    fn spatial_correlation_decays_with_distance() {
        let w = Weather::new(2025);
        let times = daytime_instants();
        let series = |site: &Site| {
            times
                .iter()
                .map(|t| w.clearness(site, *t))
                .collect::<Vec<_>>()
        };
        let here = series(&WELS);
        let near = correlation(&here, &series(&offset_site(&WELS, 5.0)));
        let twenty = correlation(&here, &series(&offset_site(&WELS, 20.0)));
        let far = correlation(&here, &series(&offset_site(&WELS, 2_000.0)));
        assert!(near > 0.8, "5 km: {near}");
        assert!(twenty > 0.7, "20 km: {twenty}");
        assert!(far.abs() < 0.5, "2000 km: {far}");
    }

    #[test]
    fn no_seam_at_the_date_line() {
        let w = Weather::new(5);
        let east = Site {
            latitude_deg: -17.8,
            longitude_deg: 179.999_99,
            altitude_m: 0.0,
        };
        let west = Site {
            longitude_deg: -179.999_99,
            ..east
        };
        for i in 0..50 {
            let t = at(i * 10_007);
            assert!((w.clearness(&east, t) - w.clearness(&west, t)).abs() < 1e-3);
        }
    }

    #[test]
    fn smooth_in_time() {
        let w = Weather::new(11);
        let mut total = 0.0;
        let n = 5_000;
        for i in 0..n {
            let t = at(i * 1_800);
            total += (w.clearness(&WELS, t + SignedDuration::from_mins(5)) - w.clearness(&WELS, t))
                .abs();
        }
        let mean = total / n as f64;
        assert!(mean < 0.1, "mean 5-min change {mean}");
    }

    #[test]
    fn days_differ_clear_and_overcast_both_occur() {
        let w = Weather::new(3);
        let (mut clear, mut overcast) = (0, 0);
        for day in 0..365 {
            let (mut sum, mut n) = (0.0, 0.0);
            for slot in 0..48 {
                let t = at(day * 86_400 + slot * 1_800);
                if sun_position(&WELS, t).elevation_deg > 10.0 {
                    sum += w.clearness(&WELS, t);
                    n += 1.0;
                }
            }
            let mean = sum / n;
            clear += usize::from(mean > 0.8);
            overcast += usize::from(mean < 0.4);
        }
        assert!((50..250).contains(&clear), "clear days {clear}");
        assert!((30..200).contains(&overcast), "overcast days {overcast}");
    }

    #[test]
    fn temperature_follows_season_and_day() {
        let w = Weather::new(1);
        let mean_at = |day: i64, hour: i64| {
            (0..30)
                .map(|d| w.ambient_c(&WELS, at((day + d) * 86_400 + hour * 3_600)))
                .sum::<f64>()
                / 30.0
        };
        // Wels climate: January ≈ −1 °C, July afternoons ≈ 24 °C.
        let (jan_night, jan_day) = (mean_at(5, 2), mean_at(5, 14));
        let (jul_night, jul_day) = (mean_at(186, 2), mean_at(186, 14));
        assert!(jul_day > jan_day + 12.0, "{jan_day} {jul_day}");
        assert!(jul_day > jul_night + 4.0 && jan_day > jan_night + 4.0);
        assert!((-10.0..5.0).contains(&jan_night) && (18.0..32.0).contains(&jul_day));
        let sydney = Site {
            latitude_deg: -33.87,
            longitude_deg: 151.21,
            altitude_m: 20.0,
        };
        assert!(
            w.ambient_c(&sydney, at(10 * 86_400 + 4 * 3_600))
                > w.ambient_c(&sydney, at(190 * 86_400 + 4 * 3_600))
        );
    }
}
