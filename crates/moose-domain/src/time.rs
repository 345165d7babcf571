//! The one timestamp format Moose writes.
//!
//! Every stored item carries an ISO-8601 UTC `timestamp`. We always write the same fixed-width
//! form (`2026-11-23T22:52:46.123Z`, millisecond precision) so that timestamps compare correctly
//! as strings, which is how DynamoDB sort keys and filter expressions compare them.

use jiff::Timestamp;

/// Formats `ts` as a fixed-width ISO-8601 UTC string with millisecond precision.
pub fn format_utc(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The current time, formatted with [`format_utc`].
pub fn now_utc() -> String {
    format_utc(Timestamp::now())
}

/// Parses any RFC 3339 / ISO-8601 instant (with `Z` or an offset).
pub fn parse_utc(raw: &str) -> Result<Timestamp, jiff::Error> {
    raw.parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_width_and_round_trips() {
        let ts: Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        let s = format_utc(ts);
        assert_eq!(s, "2026-01-02T03:04:05.000Z");
        assert_eq!(parse_utc(&s).unwrap(), ts);
        let later: Timestamp = "2026-01-02T03:04:05.5+01:00".parse().unwrap();
        assert_eq!(format_utc(later), "2026-01-02T02:04:05.500Z");
    }

    #[test]
    fn string_order_is_time_order() {
        let a = format_utc("2026-01-02T03:04:05.9Z".parse().unwrap());
        let b = format_utc("2026-01-02T03:04:06Z".parse().unwrap());
        assert!(a < b);
    }
}
