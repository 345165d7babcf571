//! Typed query parameters: each parses (and range-checks) itself while the query string is
//! deserialised, so a bad value is a 400 that names the parameter (`ApiQuery` prefixes the
//! field's name) and handlers receive values, not strings.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize};

/// The dates a query may name: production data starts long after 1970, and the store's keys
/// and the calendar arithmetic of a period (a day past `to`, a year of months) stay far inside
/// what dates can represent.
pub(crate) const FIRST_DATE: Date = jiff::civil::date(1970, 1, 1);
/// The last date a query may name.
pub(crate) const LAST_DATE: Date = jiff::civil::date(2199, 12, 31);

fn in_range<E: serde::de::Error>(date: Date) -> Result<Date, E> {
    if (FIRST_DATE..=LAST_DATE).contains(&date) {
        Ok(date)
    } else {
        Err(E::custom(format!(
            "{date} is outside the supported range {FIRST_DATE} to {LAST_DATE}"
        )))
    }
}

/// A calendar date (`2026-06-01`) in the supported range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Day(pub(crate) Date);

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        let date: Date = raw
            .parse()
            .map_err(|_| D::Error::custom(format!("{raw:?} is not a date such as 2026-06-01")))?;
        in_range(date).map(Self)
    }
}

/// An RFC 3339 instant (`2026-06-01T10:00:00Z`) in the supported range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Instant(pub(crate) Timestamp);

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        let t: Timestamp = raw.parse().map_err(|_| {
            D::Error::custom(format!(
                "{raw:?} is not an RFC 3339 instant such as 2026-06-01T10:00:00Z"
            ))
        })?;
        in_range(t.to_zoned_datetime(jiff::tz::TimeZone::UTC).date())?;
        Ok(Self(t))
    }
}

/// A bound of a production range: a site-local date (midnight at the site) or an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound {
    /// Local midnight of this date at the site.
    Date(Date),
    /// This instant.
    Instant(Timestamp),
}

impl<'de> Deserialize<'de> for Bound {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        if let Ok(t) = raw.parse::<Timestamp>() {
            in_range(t.to_zoned_datetime(jiff::tz::TimeZone::UTC).date())?;
            return Ok(Self::Instant(t));
        }
        let date: Date = raw.parse().map_err(|_| {
            D::Error::custom(format!(
                "{raw:?} is neither a date (2026-06-01) nor an instant (2026-06-01T10:00:00Z)"
            ))
        })?;
        in_range(date).map(Self::Date)
    }
}

/// `json` or `csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Format {
    /// JSON (the default).
    Json,
    /// CSV.
    Csv,
}

/// The calendar unit of an energy series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Period {
    /// Per local day (the default).
    #[default]
    Day,
    /// Per local month.
    Month,
    /// Per local year.
    Year,
}

/// Open or resolved incidents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum OpenState {
    /// Still open.
    Open,
    /// Resolved.
    Resolved,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Q {
        from: Option<Bound>,
        day: Option<Day>,
        at: Option<Instant>,
        period: Option<Period>,
    }

    fn q(raw: &str) -> Result<Q, String> {
        serde_json::from_str(raw).map_err(|e| e.to_string())
    }

    #[test]
    fn values_parse_and_bad_ones_say_why() {
        let ok = q(r#"{"from":"2026-06-01","day":"2026-06-02","at":"2026-06-01T10:00:00Z","period":"month"}"#)
            .unwrap();
        assert_eq!(ok.from, Some(Bound::Date(jiff::civil::date(2026, 6, 1))));
        assert_eq!(ok.period, Some(Period::Month));
        assert!(
            q(r#"{"from":"2026-06-01T10:00:00Z"}"#)
                .unwrap()
                .from
                .is_some_and(|b| matches!(b, Bound::Instant(_)))
        );
        assert!(
            q(r#"{"from":"soon"}"#)
                .unwrap_err()
                .contains("neither a date")
        );
        assert!(
            q(r#"{"day":"9999-01-01"}"#)
                .unwrap_err()
                .contains("supported range")
        );
        assert!(
            q(r#"{"at":"1900-01-01T00:00:00Z"}"#)
                .unwrap_err()
                .contains("supported range")
        );
        assert!(q(r#"{"at":"-009999-01-01T00:00:00Z"}"#).is_err());
        assert!(
            q(r#"{"period":"week"}"#)
                .unwrap_err()
                .contains("unknown variant")
        );
        assert!(ok.day.is_some() && ok.at.is_some());
    }
}
