//! Query parameters (case-insensitive, as on the ASP.NET-based API), time formats and paging.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::ApiFailure;

/// Default and largest page sizes. The real maximum is undocumented; 1000 is known to work.
pub(crate) const DEFAULT_LIMIT: usize = 50;
pub(crate) const MAX_LIMIT: usize = 1000;

/// The request's query parameters with lower-cased names, and what is needed to build links.
#[derive(Debug)]
pub(crate) struct Params {
    map: HashMap<String, String>,
    ordered: Vec<(String, String)>,
    origin: String,
    path: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiFailure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiFailure> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiFailure::bad_input(format!("Malformed query string: {e}")))?;
        let host = parts
            .headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        Ok(Self {
            map,
            ordered: pairs,
            origin: format!("http://{host}"),
            path: parts.uri.path().to_owned(),
        })
    }
}

impl Params {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.map
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// `offset` and `limit`, validated.
    pub(crate) fn paging(&self) -> Result<(usize, usize), ApiFailure> {
        let offset = match self.get("offset") {
            Some(v) => v.parse().map_err(|_| {
                ApiFailure::bad_input(format!("offset must be a non-negative integer, got {v:?}."))
            })?,
            None => 0,
        };
        let limit = match self.get("limit") {
            Some(v) => v.parse().map_err(|_| {
                ApiFailure::bad_input(format!("limit must be a positive integer, got {v:?}."))
            })?,
            None => DEFAULT_LIMIT,
        };
        if limit == 0 || limit > MAX_LIMIT {
            return Err(ApiFailure::bad_input(format!(
                "limit must be between 1 and {MAX_LIMIT}."
            )));
        }
        Ok((offset, limit))
    }

    fn link(&self, offset: usize, limit: usize) -> String {
        let mut query: Vec<String> = self
            .ordered
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("offset") && !k.eq_ignore_ascii_case("limit"))
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        query.push(format!("offset={offset}"));
        query.push(format!("limit={limit}"));
        format!("{}{}?{}", self.origin, self.path, query.join("&"))
    }

    /// One page of `items` and its `links`, built from the request URL.
    pub(crate) fn page<T: Clone>(&self, items: &[T]) -> Result<(Vec<T>, Value), ApiFailure> {
        let (offset, limit) = self.paging()?;
        let total = items.len();
        let page = items.iter().skip(offset).take(limit).cloned().collect();
        let last = if total == 0 {
            0
        } else {
            (total - 1) / limit * limit
        };
        let links = json!({
            "first": self.link(0, limit),
            "prev": (offset > 0).then(|| self.link(offset.saturating_sub(limit), limit)),
            "self": self.link(offset, limit),
            "next": (offset + limit < total).then(|| self.link(offset + limit, limit)),
            "last": self.link(last, limit),
            "totalItemsCount": total,
        });
        Ok((page, links))
    }
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' | b',' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Parses the histdata/messages time formats: `yyyy-MM-ddTHH:mm:ssZ`, `yyyyMMddTHHmmssZ`, or
/// Unix time (seconds, or milliseconds when the number is that large).
pub(crate) fn parse_time(name: &str, raw: &str) -> Result<Timestamp, ApiFailure> {
    let bad = || {
        ApiFailure::new(
            400,
            1005,
            format!("{name}: invalid date/time format {raw:?}."),
        )
    };
    if let Ok(n) = raw.parse::<i64>() {
        let secs = if n.abs() >= 100_000_000_000 {
            n / 1000
        } else {
            n
        };
        return Timestamp::from_second(secs).map_err(|_| bad());
    }
    if let Ok(t) = raw.parse::<Timestamp>() {
        return Ok(t);
    }
    if raw.len() == 16 && raw.is_ascii() && raw.ends_with('Z') {
        let expanded = format!(
            "{}-{}-{}T{}:{}:{}Z",
            &raw[0..4],
            &raw[4..6],
            &raw[6..8],
            &raw[9..11],
            &raw[11..13],
            &raw[13..15]
        );
        return expanded.parse().map_err(|_| bad());
    }
    Err(bad())
}

/// The API's output time format.
pub(crate) fn format_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formats() {
        let want: Timestamp = "2025-03-24T16:00:00Z".parse().unwrap();
        assert_eq!(parse_time("from", "2025-03-24T16:00:00Z").unwrap(), want);
        assert_eq!(parse_time("from", "20250324T160000Z").unwrap(), want);
        assert_eq!(
            parse_time("from", &want.as_second().to_string()).unwrap(),
            want
        );
        assert_eq!(
            parse_time("from", &want.as_millisecond().to_string()).unwrap(),
            want
        );
        let err = parse_time("from", "24.03.2025").unwrap_err();
        assert_eq!(err.code, 1005);
        assert_eq!(
            parse_time("from", "202\u{e9}0324T16000Z").unwrap_err().code,
            1005,
            "no panic on non-ASCII"
        );
    }
}
