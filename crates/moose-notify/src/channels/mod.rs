//! Delivery channels and the error they share.
//!
//! Each sender turns an [`OutgoingMessage`](crate::OutgoingMessage) into one delivery attempt
//! and reports how it failed, never retrying itself: retries, backoff and giving up belong to
//! the dispatcher, which sees every channel's failures in the same shape.

pub mod email;
pub mod sns;
mod ssrf;
pub mod webhook;

use std::error::Error as StdError;
use std::fmt::Write as _;
use std::time::Duration;

use aws_lc_rs::digest;

/// Why one delivery attempt failed, and whether trying again later can help.
///
/// The texts are shown to operators and stored with the outbox entry, so they are built only
/// from redacted parts: no passwords, tokens, webhook query strings or URL user-info.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// The same attempt will fail again (bad address, refused URL, rejected by the receiver);
    /// the message should be marked failed and not retried.
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
    /// The attempt may succeed later (timeout, connection refused, throttling, a 5xx).
    #[error("transient delivery failure: {reason}{}", retry_hint(*.retry_after))]
    Transient {
        /// What went wrong.
        reason: String,
        /// How long the receiver asked us to wait, when it said so.
        retry_after: Option<Duration>,
    },
}

impl DeliveryError {
    /// Whether a later retry may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }

    /// A transient failure without a receiver-supplied delay.
    pub(crate) fn transient(reason: impl Into<String>) -> Self {
        Self::Transient {
            reason: reason.into(),
            retry_after: None,
        }
    }
}

fn retry_hint(retry_after: Option<Duration>) -> String {
    retry_after.map_or_else(String::new, |d| format!(" (retry after {} s)", d.as_secs()))
}

/// `raw` as safe to show: scheme, host and port only, with `/[redacted]` for any path or
/// query. Webhook URLs carry their token in the query or the path (Slack-style
/// `/services/T…/B…/<token>`), and these texts end up in logs and delivery records.
pub(crate) fn redact_url(raw: &str) -> String {
    let Ok(url) = reqwest::Url::parse(raw) else {
        // Without a parse we cannot tell which part is secret, so show none of it.
        return "[unparseable URL]".to_owned();
    };
    let host = url.host_str().unwrap_or("");
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let hidden = url.path() != "/" || url.query().is_some();
    format!(
        "{}://{host}{port}{}",
        url.scheme(),
        if hidden { "/[redacted]" } else { "" }
    )
}

/// An error and its sources joined with `: `, which is where the useful part usually is
/// (`error sending request: client error (Connect): tcp connect error: Connection refused`).
/// Callers must strip anything secret from the top error first (e.g. `reqwest::Error::without_url`).
pub(crate) fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        // Many wrappers repeat their cause's text verbatim; show it once.
        if !text.ends_with(&part) {
            let _ = write!(text, ": {part}");
        }
        source = cause.source();
    }
    text
}

/// `key` reduced to characters `allowed` accepts and at most `max_len` characters, still unique
/// per key: if anything had to change, the disallowed characters become `-` and a hash of the
/// original key is appended, so two keys differing only in punctuation stay distinct.
pub(crate) fn safe_token(key: &str, allowed: fn(char) -> bool, max_len: usize) -> String {
    if !key.is_empty() && key.len() <= max_len && key.chars().all(allowed) {
        return key.to_owned();
    }
    let hash = hex(&digest::digest(&digest::SHA256, key.as_bytes()).as_ref()[..12]);
    let keep = max_len.saturating_sub(hash.len() + 1);
    let mut token: String = key
        .chars()
        .map(|c| if allowed(c) { c } else { '-' })
        .take(keep)
        .collect();
    if !token.is_empty() {
        token.push('-');
    }
    token.push_str(&hash);
    token
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_path_query_and_userinfo() {
        let shown = redact_url("https://bob:pw@hooks.example.com:8443/in/x?token=s3cret#frag");
        assert_eq!(shown, "https://hooks.example.com:8443/[redacted]");
        let slack = redact_url("https://hooks.example.com/services/T000/B000/XXXXsecret");
        assert!(!slack.contains("XXXXsecret"), "{slack}");
        assert_eq!(redact_url("http://127.0.0.1:9/"), "http://127.0.0.1:9");
        assert_eq!(redact_url("not a url ?token=s3cret"), "[unparseable URL]");
    }

    #[test]
    fn safe_token_keeps_clean_keys_and_disambiguates_others() {
        let alnum = |c: char| c.is_ascii_alphanumeric() || c == '-';
        assert_eq!(safe_token("abc-1", alnum, 64), "abc-1");
        let a = safe_token("inc:1/opened", alnum, 64);
        let b = safe_token("inc/1:opened", alnum, 64);
        assert!(a.starts_with("inc-1-opened-"), "{a}");
        assert_ne!(a, b);
        let long = safe_token(&"x".repeat(500), alnum, 128);
        assert_eq!(long.len(), 128);
        assert!(safe_token("", alnum, 64).len() == 24);
    }

    #[test]
    fn transient_display_mentions_retry_after() {
        let err = DeliveryError::Transient {
            reason: "HTTP 503".to_owned(),
            retry_after: Some(Duration::from_secs(7)),
        };
        assert_eq!(
            err.to_string(),
            "transient delivery failure: HTTP 503 (retry after 7 s)"
        );
        assert!(err.is_transient());
        assert!(!DeliveryError::Permanent("x".to_owned()).is_transient());
    }
}
