//! Where a plant is, when nobody said: a first guess from its time zone, refined from when it
//! produces.
//!
//! Solar.web's system metadata has a time zone, a country and an address, but no coordinates.
//! The time zone's principal location (tzdb's `zone.tab`, public domain, embedded) is a guess
//! good to a few hundred kilometres in small zones and a thousand or more in wide ones. The
//! plant's own production curve then tells more: the middle of its producing hours is solar
//! noon, which gives the longitude (4 minutes of time per degree), and the length of its
//! producing day gives the latitude, except near the equinoxes, when days are about 12 hours
//! long everywhere and the guess is kept. `docs/incidents.md` has the method's accuracy on
//! real plants.

use std::sync::OnceLock;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};

use crate::sun::{Site, SolarEphemeris};

/// tzdb's `zone.tab`: country code, coordinates of the zone's principal city, zone name.
const ZONE_TAB: &str = include_str!("../data/zone.tab");

fn zones() -> &'static Vec<(&'static str, f64, f64)> {
    static ZONES: OnceLock<Vec<(&'static str, f64, f64)>> = OnceLock::new();
    ZONES.get_or_init(|| {
        ZONE_TAB
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut cols = l.split('\t');
                let (_, coords, name) = (cols.next()?, cols.next()?, cols.next()?);
                let (lat, lon) = parse_iso6709(coords)?;
                Some((name, lat, lon))
            })
            .collect()
    })
}

/// `±DDMM±DDDMM` or `±DDMMSS±DDDMMSS` → degrees.
fn parse_iso6709(raw: &str) -> Option<(f64, f64)> {
    let split = raw[1..].find(['+', '-'])? + 1;
    let (lat, lon) = raw.split_at(split);
    let angle = |s: &str, deg_digits: usize| -> Option<f64> {
        let sign = if s.starts_with('-') { -1.0 } else { 1.0 };
        let digits = &s[1..];
        let d: f64 = digits.get(..deg_digits)?.parse().ok()?;
        let m: f64 = digits.get(deg_digits..deg_digits + 2)?.parse().ok()?;
        let sec: f64 = digits
            .get(deg_digits + 2..)
            .filter(|r| !r.is_empty())
            .map_or(Some(0.0), |r| r.parse().ok())?;
        Some(sign * (d + m / 60.0 + sec / 3600.0))
    };
    Some((angle(lat, 2)?, angle(lon, 3)?))
}

/// How a position was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionMethod {
    /// The time zone's principal city.
    TimeZone,
    /// The zone's UTC offset only (latitude a mid-latitude guess).
    UtcOffset,
    /// The plant's own producing hours.
    Production,
}

/// A guessed position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GuessedPosition {
    /// Latitude, degrees north.
    pub latitude_deg: f64,
    /// Longitude, degrees east.
    pub longitude_deg: f64,
    /// How it was found.
    pub method: PositionMethod,
}

/// A first guess from an IANA time zone: its principal city, or, for zones tzdb does not list
/// with coordinates (links, `Etc/…`), the longitude its standard offset implies at 45° N (the
/// latitude band where most PV plants are). `None` for UTC and unknown zones: a guess there
/// would be no better than none.
pub fn from_time_zone(name: &str) -> Option<GuessedPosition> {
    let tz = jiff::tz::TimeZone::get(name).ok()?;
    let canonical = tz.iana_name().unwrap_or(name);
    if let Some((_, lat, lon)) = zones()
        .iter()
        .find(|(zone, ..)| *zone == canonical || *zone == name)
    {
        return Some(GuessedPosition {
            latitude_deg: *lat,
            longitude_deg: *lon,
            method: PositionMethod::TimeZone,
        });
    }
    let offset = tz.to_offset(Timestamp::UNIX_EPOCH).seconds();
    if offset == 0 {
        return None;
    }
    Some(GuessedPosition {
        latitude_deg: 45.0,
        longitude_deg: f64::from(offset) / 240.0,
        method: PositionMethod::UtcOffset,
    })
}

/// UTC time of solar noon at longitude 0 on `date`, minutes after midnight.
fn solar_noon_at_greenwich(date: Date) -> f64 {
    let midnight = date
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .map_or(Timestamp::UNIX_EPOCH, |z| z.timestamp());
    let equator = Site {
        latitude_deg: 0.0,
        longitude_deg: 0.0,
        altitude_m: 0.0,
    };
    // The sun crosses the meridian between 11:40 and 12:20 UTC at Greenwich all year.
    let mut best = (f64::MIN, 720.0);
    for step in 0..=160 {
        let minutes = 680.0 + f64::from(step) * 0.5;
        let t = midnight + SignedDuration::from_secs_f64(minutes * 60.0);
        let e = SolarEphemeris::at(t).position(&equator).elevation_deg;
        if e > best.0 {
            best = (e, minutes);
        }
    }
    best.1
}

/// Minutes of `date` (UTC) the sun spends above `threshold_deg` at `site`.
fn minutes_above(site: &Site, date: Date, threshold_deg: f64) -> f64 {
    let midnight = date
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .map_or(Timestamp::UNIX_EPOCH, |z| z.timestamp());
    // Centred on the site's solar noon so that the whole day is inside the window.
    let start = midnight - SignedDuration::from_secs_f64(site.longitude_deg * 240.0);
    (0..720)
        .filter(|i| {
            let t = start + SignedDuration::from_mins(i * 2 + 1);
            SolarEphemeris::at(t).position(site).elevation_deg > threshold_deg
        })
        .count() as f64
        * 2.0
}

/// The sun elevation at which a typical tilted array starts and stops producing on most days,
/// degrees. In summer the sun rises and sets behind an equator-facing array, and terrain and
/// haze dim the first and last minutes; calibrated on NREL's SERF East / system 50 arrays in
/// Golden, Colorado (measured data, known position), whose majority-producing hours match the
/// sun above about 4°.
pub const PRODUCTION_THRESHOLD_DEG: f64 = 4.0;

/// Refines `prior` from a plant's producing hours on `date`: the first and last minute (UTC
/// minutes after midnight, the last may pass 1440) in which it usually produces.
///
/// Longitude comes from the middle of those hours (solar noon). Latitude is the prior's when it
/// is a time zone's city; otherwise it comes from their length, searched within 25° of the
/// prior in the prior's hemisphere (and within 3 weeks of an equinox, when day length barely
/// depends on latitude, the prior's is kept).
pub fn refine(
    prior: Option<GuessedPosition>,
    date: Date,
    first_min: f64,
    last_min: f64,
) -> Option<GuessedPosition> {
    let length = last_min - first_min;
    if !(120.0..=1380.0).contains(&length) {
        return None;
    }
    let noon = f64::midpoint(first_min, last_min);
    let mut longitude = (solar_noon_at_greenwich(date) - noon) / 4.0;
    longitude = (longitude + 540.0).rem_euclid(360.0) - 180.0;
    let prior_lat = prior.map_or(45.0, |p| p.latitude_deg);
    let day_of_year = f64::from(date.day_of_year());
    let declination = 23.44 * (std::f64::consts::TAU * (284.0 + day_of_year) / 365.0).sin();
    // A time zone's city is a better latitude than day length: how long an array produces
    // depends on its tilt, orientation and horizon as much as on latitude (on the NREL arrays
    // of the real-data evaluation, day length was off by 5° either way).
    let city_prior = prior.is_some_and(|p| p.method == PositionMethod::TimeZone);
    let latitude = if declination.abs() < 8.0 || city_prior {
        prior_lat
    } else {
        let north = prior_lat >= 0.0;
        let (lo, hi) = if north {
            ((prior_lat - 25.0).max(0.0), (prior_lat + 25.0).min(66.0))
        } else {
            ((prior_lat - 25.0).max(-66.0), (prior_lat + 25.0).min(0.0))
        };
        let mut best = (f64::MAX, prior_lat);
        let mut lat = lo;
        while lat <= hi {
            let site = Site {
                latitude_deg: lat,
                longitude_deg: longitude,
                altitude_m: 0.0,
            };
            let err = (minutes_above(&site, date, PRODUCTION_THRESHOLD_DEG) - length).abs();
            if err < best.0 {
                best = (err, lat);
            }
            lat += 0.5;
        }
        best.1
    };
    Some(GuessedPosition {
        latitude_deg: latitude,
        longitude_deg: longitude,
        method: PositionMethod::Production,
    })
}

/// Great-circle distance between two positions, km.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    6371.0 * 2.0 * h.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_give_their_principal_city() {
        let vienna = from_time_zone("Europe/Vienna").unwrap();
        assert!((vienna.latitude_deg - 48.22).abs() < 0.1, "{vienna:?}");
        assert!((vienna.longitude_deg - 16.33).abs() < 0.1, "{vienna:?}");
        let denver = from_time_zone("America/Denver").unwrap();
        assert!((denver.longitude_deg + 104.98).abs() < 0.1, "{denver:?}");
        assert_eq!(from_time_zone("UTC"), None);
        assert_eq!(from_time_zone("Not/AZone"), None);
        let etc = from_time_zone("Etc/GMT+7").unwrap();
        assert_eq!(etc.method, PositionMethod::UtcOffset);
        assert!((etc.longitude_deg + 105.0).abs() < 0.1, "{etc:?}");
    }

    /// A plant's producing hours are simulated as the sun above the threshold at a known place;
    /// the refinement must find the place again.
    #[test]
    fn producing_hours_give_back_the_position() {
        for (lat, lon, date) in [
            (39.74, -105.18, jiff::civil::date(2026, 6, 20)),
            (48.2, 16.4, jiff::civil::date(2026, 12, 1)),
            (-33.9, 151.2, jiff::civil::date(2026, 1, 10)),
        ] {
            let site = Site {
                latitude_deg: lat,
                longitude_deg: lon,
                altitude_m: 0.0,
            };
            let midnight = date
                .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .unwrap()
                .timestamp();
            let start = midnight - SignedDuration::from_secs_f64(lon * 240.0);
            let up: Vec<f64> = (0..1440)
                .map(f64::from)
                .filter(|m| {
                    let t = start + SignedDuration::from_secs_f64(m * 60.0);
                    SolarEphemeris::at(t).position(&site).elevation_deg > PRODUCTION_THRESHOLD_DEG
                })
                .collect();
            let offset = -lon * 4.0;
            let (first, last) = (up[0] + offset, up[up.len() - 1] + offset);
            // Only an offset-based guess: a city's latitude would be kept as it is.
            let prior = GuessedPosition {
                latitude_deg: lat + 8.0 * lat.signum(),
                longitude_deg: lon + 10.0,
                method: PositionMethod::UtcOffset,
            };
            let got = refine(Some(prior), date, first, last).unwrap();
            let km = distance_km((lat, lon), (got.latitude_deg, got.longitude_deg));
            assert!(
                km < 150.0,
                "{lat},{lon} on {date}: got {got:?}, {km:.0} km off"
            );
        }
    }

    #[test]
    fn a_citys_latitude_is_kept_and_the_longitude_refined() {
        let denver = from_time_zone("America/Denver").unwrap();
        // Producing hours centred on 19:05 UTC in July: solar noon near 105.2° W.
        let got = refine(
            Some(denver),
            jiff::civil::date(2026, 7, 5),
            12.0 * 60.0 + 5.0,
            26.0 * 60.0 + 5.0,
        )
        .unwrap();
        assert_eq!(got.latitude_deg, denver.latitude_deg);
        assert!((got.longitude_deg + 105.2).abs() < 0.6, "{got:?}");
    }

    #[test]
    fn iso6709_coordinates_parse() {
        assert_eq!(
            parse_iso6709("+4813+01620"),
            Some((48.0 + 13.0 / 60.0, 16.0 + 20.0 / 60.0))
        );
        let (lat, lon) = parse_iso6709("+394421-1045903").unwrap();
        assert!((lat - 39.739).abs() < 0.001 && (lon + 104.984).abs() < 0.001);
        assert_eq!(parse_iso6709("+48"), None);
    }
}
