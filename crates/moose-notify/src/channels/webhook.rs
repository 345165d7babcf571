//! Signed HTTP webhooks.
//!
//! Each delivery is one `POST` of a JSON document, signed Stripe-style so that receivers can
//! check it came from us and is fresh: `X-Moose-Signature: t=<unix seconds>,v1=<hex>` where the
//! hex is HMAC-SHA256 over `"<t>.<raw body>"` with the webhook's secret. Receivers verify with
//! [`verify_signature`].
//!
//! The URL is tenant input, so before connecting we resolve its host and refuse loopback,
//! private, link-local and similar addresses (see `ssrf`), then connect to exactly the
//! addresses we checked so a second DNS answer cannot swap in another one.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use aws_lc_rs::hmac;
use jiff::Timestamp;
use moose_domain::Secret;
use moose_domain::time::format_utc;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use reqwest::{StatusCode, Url, redirect};
use serde_json::json;

use super::ssrf::non_public_kind;
use super::{DeliveryError, error_chain, hex, redact_url};
use crate::OutgoingMessage;

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Moose-Signature";
/// Header carrying the message's idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "X-Moose-Idempotency-Key";
/// Header carrying the event name.
pub const EVENT_HEADER: &str = "X-Moose-Event";

/// How webhooks are sent.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Allow URLs that resolve to loopback, private or link-local addresses. Only for
    /// self-hosted setups whose receivers live on the internal network, and for tests.
    pub allow_private: bool,
    /// Limit for the whole request, connecting included.
    pub timeout: Duration,
}

/// Delivers [`OutgoingMessage`]s to webhook URLs.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    settings: WebhookSettings,
}

impl WebhookSender {
    /// A sender with `settings`.
    pub fn new(settings: WebhookSettings) -> Self {
        Self { settings }
    }

    /// Posts `msg` to `url`, signed with `secret`.
    ///
    /// `2xx` is success. `408`, `429` and `5xx` are transient and carry a numeric
    /// `Retry-After`; redirects (never followed) and other `4xx` are permanent, as are URLs
    /// that are not http(s) or that resolve to a refused address. Timeouts and connection
    /// failures are transient. Error texts never contain the URL's query or user-info.
    pub async fn send(
        &self,
        url: &str,
        secret: &Secret,
        msg: &OutgoingMessage,
    ) -> Result<(), DeliveryError> {
        let shown = redact_url(url);
        let parsed = Url::parse(url).map_err(|err| {
            DeliveryError::Permanent(format!("invalid webhook URL {shown}: {err}"))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(DeliveryError::Permanent(format!(
                "webhook URL {shown} must use http or https, not {:?}",
                parsed.scheme()
            )));
        }
        // Credentials in the URL would go to the receiver in the clear, and `user@host` is a
        // classic way to make a URL look like it names another host.
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(DeliveryError::Permanent(format!(
                "webhook URL {shown} must not carry a user name or password"
            )));
        }
        let addrs = self.vetted_addresses(&parsed, &shown).await?;

        let now = Timestamp::now();
        let body = json!({
            "id": msg.idempotency_key,
            "event": msg.event,
            "severity": msg.severity,
            "subject": msg.subject,
            "text": msg.text,
            "link": msg.link,
            "data": msg.payload,
            "sent_at": format_utc(now),
        });
        let body = serde_json::to_vec(&body).map_err(|err| {
            DeliveryError::Permanent(format!("cannot encode the webhook body: {err}"))
        })?;
        let signature = sign(secret, now.as_second(), &body);

        let mut builder = reqwest::Client::builder()
            // A redirect would take us to an address we have not vetted.
            .redirect(redirect::Policy::none())
            // A proxy would resolve the host itself, undoing the address check.
            .no_proxy()
            .timeout(self.settings.timeout)
            .connect_timeout(self.settings.timeout);
        if let Some(domain) = parsed.domain() {
            // Pin the name to the addresses we checked (IP literals need no pinning).
            builder = builder.resolve_to_addrs(domain, &addrs);
        }
        let client = builder.build().map_err(|err| {
            DeliveryError::Permanent(format!(
                "cannot set up the HTTP client: {}",
                error_chain(&err)
            ))
        })?;
        let response = client
            .post(parsed)
            .header(CONTENT_TYPE, "application/json")
            .header(
                USER_AGENT,
                concat!("moose-notify/", env!("CARGO_PKG_VERSION")),
            )
            .header(IDEMPOTENCY_HEADER, header_safe(&msg.idempotency_key))
            .header(EVENT_HEADER, header_safe(&msg.event))
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            .map_err(|err| request_error(err, &shown))?;
        classify_status(response.status(), response.headers(), &shown)
    }

    /// The socket addresses `url` resolves to, all of them allowed, or why not.
    async fn vetted_addresses(
        &self,
        url: &Url,
        shown: &str,
    ) -> Result<Vec<SocketAddr>, DeliveryError> {
        let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
            return Err(DeliveryError::Permanent(format!(
                "webhook URL {shown} has no host"
            )));
        };
        let addrs: Vec<SocketAddr> = if let Some(name) = url.domain() {
            tokio::net::lookup_host((name, port))
                .await
                // DNS failures are often passing (resolver restart, propagation delay).
                .map_err(|err| {
                    DeliveryError::transient(format!(
                        "cannot resolve webhook host of {shown}: {err}"
                    ))
                })?
                .collect()
        } else {
            // An IP literal; IPv6 ones come bracketed.
            let ip: IpAddr = host.trim_matches(['[', ']']).parse().map_err(|_| {
                DeliveryError::Permanent(format!("webhook URL {shown} has an invalid host"))
            })?;
            vec![SocketAddr::new(ip, port)]
        };
        if addrs.is_empty() {
            return Err(DeliveryError::transient(format!(
                "webhook host of {shown} resolves to no address"
            )));
        }
        if !self.settings.allow_private {
            // Refuse if ANY address is internal: the connector may pick any of them.
            for addr in &addrs {
                if let Some(kind) = non_public_kind(addr.ip()) {
                    return Err(DeliveryError::Permanent(format!(
                        "webhook URL {shown} resolves to {kind} address {}; set \
                         notify.allow_private_webhooks to allow it",
                        addr.ip()
                    )));
                }
            }
        }
        Ok(addrs)
    }
}

/// The `X-Moose-Signature` value for `body` sent at `timestamp` (unix seconds):
/// `t=<timestamp>,v1=<lowercase hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn sign(secret: &Secret, timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes());
    let tag = hmac::sign(&key, &signed_payload(timestamp, body));
    format!("t={timestamp},v1={}", hex(tag.as_ref()))
}

/// Whether `header` (an `X-Moose-Signature` value) is a valid signature of `body` under
/// `secret`, made no more than `tolerance_secs` away from `now_unix`.
///
/// Several `v1=` entries are accepted (any one matching suffices) so a sender can sign with an
/// old and a new secret while the secret is rotated. The comparison is constant-time.
pub fn verify_signature(
    secret: &Secret,
    header: &str,
    body: &[u8],
    now_unix: i64,
    tolerance_secs: i64,
) -> bool {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => candidates.push(value),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return false;
    };
    // A stale signature may be a replay of a captured request.
    if now_unix.abs_diff(timestamp) > tolerance_secs.unsigned_abs() {
        return false;
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose().as_bytes());
    let payload = signed_payload(timestamp, body);
    candidates
        .into_iter()
        .filter_map(unhex)
        .any(|tag| hmac::verify(&key, &payload, &tag).is_ok())
}

fn signed_payload(timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut payload = format!("{timestamp}.").into_bytes();
    payload.extend_from_slice(body);
    payload
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `value` restricted to visible ASCII, which is always a valid header value.
fn header_safe(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn request_error(err: reqwest::Error, shown: &str) -> DeliveryError {
    // reqwest puts the full URL, query included, into its message.
    let err = err.without_url();
    let detail = error_chain(&err);
    if err.is_builder() {
        DeliveryError::Permanent(format!("cannot build the request to {shown}: {detail}"))
    } else if err.is_timeout() {
        DeliveryError::transient(format!("webhook {shown} timed out: {detail}"))
    } else {
        DeliveryError::transient(format!("webhook {shown} failed: {detail}"))
    }
}

fn classify_status(
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
    shown: &str,
) -> Result<(), DeliveryError> {
    if status.is_success() {
        return Ok(());
    }
    let answered = format!("webhook {shown} answered HTTP {status}");
    if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
    {
        // Only the delay-seconds form; an HTTP-date is rare from webhook receivers.
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        Err(DeliveryError::Transient {
            reason: answered,
            retry_after,
        })
    } else if status.is_redirection() {
        Err(DeliveryError::Permanent(format!(
            "{answered}; redirects are not followed, configure the final URL"
        )))
    } else {
        Err(DeliveryError::Permanent(answered))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_round_trips_and_rejects_changes() {
        let secret = Secret::new("whsec_test");
        let header = sign(&secret, 1_700_000_000, b"{\"a\":1}");
        assert!(header.starts_with("t=1700000000,v1="), "{header}");
        assert_eq!(header.len(), "t=1700000000,v1=".len() + 64);
        assert!(verify_signature(
            &secret,
            &header,
            b"{\"a\":1}",
            1_700_000_100,
            300
        ));
        assert!(!verify_signature(
            &secret,
            &header,
            b"{\"a\":2}",
            1_700_000_100,
            300
        ));
        assert!(!verify_signature(
            &Secret::new("other"),
            &header,
            b"{\"a\":1}",
            1_700_000_100,
            300
        ));
        // Stale, and from the future.
        assert!(!verify_signature(
            &secret,
            &header,
            b"{\"a\":1}",
            1_700_000_301,
            300
        ));
        assert!(!verify_signature(
            &secret,
            &header,
            b"{\"a\":1}",
            1_699_999_699,
            300
        ));
        // A second, rotated-out signature alongside the valid one.
        let both = format!("{header},v1={}", "00".repeat(32));
        assert!(verify_signature(
            &secret,
            &both,
            b"{\"a\":1}",
            1_700_000_000,
            300
        ));
        for junk in [
            "",
            "t=abc,v1=00",
            "v1=00",
            "t=1700000000",
            "t=1700000000,v1=zz",
        ] {
            assert!(
                !verify_signature(&secret, junk, b"{\"a\":1}", 1_700_000_000, 300),
                "{junk}"
            );
        }
    }

    #[test]
    fn known_vector() {
        // HMAC-SHA256("key", "1.hello") computed independently with Python's hmac module.
        let header = sign(&Secret::new("key"), 1, b"hello");
        assert_eq!(
            header,
            "t=1,v1=9233658ef5e21fe59dba8abb099c978547d7626f87090a6a585c26a2a98a91f8"
        );
    }
}
