//! Sunrise / sunset on a threshold elevation, by scanning the NOAA / Meeus
//! elevation curve and refining crossings by bisection. Robust where closed
//! forms (the hour-angle equation) need special cases: polar day and night,
//! days with two crossings near the polar circles, DST days of 23 or 25 hours.

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

use crate::sun::{Site, SolarEphemeris};

fn geometric_elevation_at(site: &Site, second: i64) -> f64 {
    match Timestamp::from_second(second) {
        Ok(ts) => SolarEphemeris::at(ts).geometric(site).0,
        Err(_) => f64::NEG_INFINITY,
    }
}

/// The first second in `(a, b]` whose "above" state equals that of `b`, by bisection.
fn crossing(site: &Site, threshold: f64, mut a: i64, mut b: i64) -> i64 {
    let target = geometric_elevation_at(site, b) > threshold;
    while b - a > 1 {
        let mid = a + (b - a) / 2;
        if (geometric_elevation_at(site, mid) > threshold) == target {
            b = mid;
        } else {
            a = mid;
        }
    }
    b
}

/// Sampling step of the elevation scan in [`sun_times`]; crossings are then
/// refined to one second by bisection.
const SCAN_STEP_S: i64 = 300;

/// Sunrise and sunset for the local civil `date` in `tz`: the first and last
/// instants of that day at which the sun's centre is above `elevation_deg`.
///
/// The threshold applies to the **geometric** elevation (no refraction), the
/// almanac convention: `-0.833` (34′ standard refraction + 16′ semi-diameter)
/// reproduces the NOAA / USNO sunrise and sunset. For thresholds of a few
/// degrees the difference to [`is_producing_sun`](crate::is_producing_sun)
/// (apparent elevation) is < 0.2°, i.e. under a minute.
///
/// Returns `None` if the sun stays below the threshold all day (polar night).
/// If it is above at the day's start or end (midnight sun) the day bound is
/// returned; the end bound is the next day's first instant (a half-open day).
/// Crossings are located to within one second; a peak above the threshold
/// that lasts less than the 5-minute scan step is still found because the
/// daily maximum is refined explicitly.
pub fn sun_times(
    site: &Site,
    date: Date,
    tz: &TimeZone,
    elevation_deg: f64,
) -> Option<(Timestamp, Timestamp)> {
    let start = tz
        .to_timestamp(date.to_datetime(Time::midnight()))
        .ok()?
        .as_second();
    let end = tz
        .to_timestamp(date.tomorrow().ok()?.to_datetime(Time::midnight()))
        .ok()?
        .as_second();
    let sample = |k: i64| (start + k * SCAN_STEP_S).min(end);
    let n = (end - start + SCAN_STEP_S - 1) / SCAN_STEP_S;
    let above = |s: i64| geometric_elevation_at(site, s) > elevation_deg;

    let mut first = None;
    let mut last = None;
    let mut best = (0, f64::NEG_INFINITY);
    for k in 0..=n {
        let elev = geometric_elevation_at(site, sample(k));
        if elev > best.1 {
            best = (k, elev);
        }
        if elev > elevation_deg {
            first.get_or_insert(k);
            last = Some(k);
        }
    }

    let (rise, set) = match (first, last) {
        (Some(f), Some(l)) => {
            let rise = if f == 0 {
                start
            } else {
                crossing(site, elevation_deg, sample(f - 1), sample(f))
            };
            let set = if l == n {
                end
            } else {
                crossing(site, elevation_deg, sample(l), sample(l + 1))
            };
            (rise, set)
        }
        _ => {
            // No sample above: the peak may still poke through between samples.
            let lo = sample((best.0 - 1).max(0));
            let hi = sample((best.0 + 1).min(n));
            let peak = peak_second(site, lo, hi);
            if !above(peak) {
                return None;
            }
            (
                crossing(site, elevation_deg, lo, peak),
                crossing(site, elevation_deg, peak, hi),
            )
        }
    };
    Some((
        Timestamp::from_second(rise).ok()?,
        Timestamp::from_second(set).ok()?,
    ))
}

/// The second of maximum elevation in `[lo, hi]` by ternary search (the curve is unimodal there).
fn peak_second(site: &Site, mut lo: i64, mut hi: i64) -> i64 {
    while hi - lo > 2 {
        let m1 = lo + (hi - lo) / 3;
        let m2 = hi - (hi - lo) / 3;
        if geometric_elevation_at(site, m1) < geometric_elevation_at(site, m2) {
            lo = m1;
        } else {
            hi = m2;
        }
    }
    (lo..=hi)
        .max_by(|a, b| {
            geometric_elevation_at(site, *a).total_cmp(&geometric_elevation_at(site, *b))
        })
        .unwrap_or(lo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sun::is_producing_sun;
    use jiff::civil::date;
    use jiff::tz::offset;

    const WELS: Site = Site {
        latitude_deg: 48.16,
        longitude_deg: 14.03,
        altitude_m: 317.0,
    };

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn local_minutes(t: Timestamp, hours_offset: i8) -> f64 {
        let dt = offset(hours_offset).to_datetime(t);
        f64::from(dt.hour()) * 60.0 + f64::from(dt.minute()) + f64::from(dt.second()) / 60.0
    }

    #[test]
    fn sunrise_sunset_vienna_and_wels_at_solstice() {
        // Fixed CEST offset so the test does not depend on the host's tz database.
        let cest = offset(2).to_time_zone();
        // Vienna: GeoSphere Austria lists 04:54 / 20:59 CEST for June 21.
        let vienna = Site {
            latitude_deg: 48.21,
            longitude_deg: 16.37,
            altitude_m: 170.0,
        };
        let (rise, set) = sun_times(&vienna, date(2025, 6, 21), &cest, -0.833).unwrap();
        assert!(
            (local_minutes(rise, 2) - (4.0 * 60.0 + 54.0)).abs() < 3.0,
            "{rise}"
        );
        assert!(
            (local_minutes(set, 2) - (20.0 * 60.0 + 59.0)).abs() < 3.0,
            "{set}"
        );
        // Wels lies 2.34° further west, i.e. 9.4 minutes later: 05:03.8 / 21:07.7 CEST
        // (solar noon 13:05.7 CEST, half day arc acos(−0.507) = 120.5° = 8h02m).
        let (rise, set) = sun_times(&WELS, date(2025, 6, 21), &cest, -0.833).unwrap();
        assert!(
            (local_minutes(rise, 2) - (5.0 * 60.0 + 3.8)).abs() < 5.0,
            "{rise}"
        );
        assert!(
            (local_minutes(set, 2) - (21.0 * 60.0 + 7.7)).abs() < 5.0,
            "{set}"
        );
        assert!(is_producing_sun(
            &WELS,
            rise + jiff::SignedDuration::from_mins(2),
            -0.833
        ));
    }

    #[test]
    fn polar_night_and_midnight_sun() {
        let svalbard = Site {
            latitude_deg: 78.0,
            longitude_deg: 15.6,
            altitude_m: 0.0,
        };
        let cet = offset(1).to_time_zone();
        assert_eq!(sun_times(&svalbard, date(2025, 12, 21), &cet, -0.833), None);
        let cest = offset(2).to_time_zone();
        let (rise, set) = sun_times(&svalbard, date(2025, 6, 21), &cest, -0.833).unwrap();
        assert_eq!(rise, ts("2025-06-20T22:00:00Z"));
        assert_eq!(set, ts("2025-06-21T22:00:00Z"));
    }

    #[test]
    fn short_peak_below_scan_resolution_is_found() {
        // Threshold just below the day's maximum: the sun exceeds it only briefly.
        let utc = TimeZone::UTC;
        let max = (0..86_400)
            .step_by(10)
            .map(|s| geometric_elevation_at(&WELS, ts("2025-06-21T00:00:00Z").as_second() + s))
            .fold(f64::NEG_INFINITY, f64::max);
        let (rise, set) = sun_times(&WELS, date(2025, 6, 21), &utc, max - 0.001).unwrap();
        assert!(
            set > rise && set.as_second() - rise.as_second() < 300,
            "{rise} {set}"
        );
    }
}
