//! The HTTP core: headers, authentication, pacing, retries, error mapping, counting.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moose_domain::Secret;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode, Url};

use crate::auth::TokenCache;
use crate::limiter::Limiter;
use crate::stats::{EndpointKind, Stats};
use crate::types::ErrorBody;
use crate::{RetryPolicy, SolarWebError};

/// What the client authenticates with.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// `AccessKeyId` header (`SOLAR_WEB_ACCESS_KEY_ID`).
    pub access_key_id: Secret,
    /// `AccessKeyValue` header (`SOLAR_WEB_ACCESS_KEY_VALUE`).
    pub access_key_value: Secret,
    /// Solar.web user login for JWT authentication (`SOLAR_WEB_USERID`, `SOLAR_WEB_PASSWORD`).
    pub login: Option<(String, Secret)>,
}

/// How the client behaves.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL, e.g. `https://api.solarweb.com/swqapi` or a simulator's address.
    pub base_url: String,
    /// Credentials.
    pub credentials: Credentials,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Connection timeout.
    pub connect_timeout: Duration,
    /// Retries of retryable failures.
    pub retry: RetryPolicy,
    /// Requests in flight at once.
    pub max_concurrency: usize,
    /// Requests per second, sustained (bursts up to the same number).
    pub requests_per_second: f64,
    /// Page size for list, message and series endpoints.
    pub page_size: u32,
}

impl ClientConfig {
    /// Defaults for `base_url` and `credentials`: 30 s timeout, 5 attempts, 8 in flight, 10/s.
    pub fn new(base_url: impl Into<String>, credentials: Credentials) -> Self {
        Self {
            base_url: base_url.into(),
            credentials,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            max_concurrency: 8,
            requests_per_second: 10.0,
            page_size: 300,
        }
    }
}

/// A Query API client. Cheap to clone; clones share connections, limits, tokens and counters.
#[derive(Debug, Clone)]
pub struct SolarWebClient {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) http: reqwest::Client,
    pub(crate) base: Url,
    pub(crate) config: ClientConfig,
    pub(crate) limiter: Limiter,
    pub(crate) tokens: TokenCache,
    pub(crate) stats: Stats,
}

impl SolarWebClient {
    /// Builds a client. Fails only on an unusable base URL or TLS set-up.
    pub fn new(config: ClientConfig) -> crate::Result<Self> {
        let mut base = Url::parse(config.base_url.trim_end_matches('/')).map_err(|e| {
            SolarWebError::BadRequest {
                code: None,
                message: format!("base URL {:?}: {e}", config.base_url),
            }
        })?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("moose/", env!("CARGO_PKG_VERSION")))
            // Never follow redirects: the access-key headers would go wherever a 3xx points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SolarWebError::Connect(format!("cannot build the HTTP client: {e}")))?;
        let limiter = Limiter::new(config.max_concurrency, config.requests_per_second);
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                limiter,
                tokens: TokenCache::default(),
                stats: Stats::default(),
                config,
            }),
        })
    }

    /// The configuration the client was built with (pacing, concurrency, endpoint).
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Call and data-point counters since the client was built.
    pub fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    /// The URL of `path` (relative to the base) with `query`.
    pub(crate) fn url(&self, path: &str, query: &[(&str, String)]) -> Url {
        let mut url = self
            .inner
            .base
            .join(path.trim_start_matches('/'))
            .expect("paths are relative and valid");
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    /// Sends one API request with pacing, auth and retries; returns the body of a 2xx answer
    /// (empty for 204).
    pub(crate) async fn request(
        &self,
        kind: EndpointKind,
        method: Method,
        path: &str,
        query: &[(&str, String)],
    ) -> crate::Result<Vec<u8>> {
        let retry = self.inner.config.retry;
        let mut relogged = false;
        let mut attempt = 1;
        loop {
            let outcome = self.attempt(kind, method.clone(), path, query).await;
            let err = match outcome {
                Ok(body) => return Ok(body),
                Err(err) => err,
            };
            if matches!(err, SolarWebError::Auth { .. })
                && self.inner.config.credentials.login.is_some()
                && !relogged
            {
                // The JWT may have expired or been revoked: log in again, once.
                relogged = true;
                self.inner.tokens.invalidate().await;
                tracing::info!(endpoint = ?kind, "Solar.web answered 401; logging in again");
                continue;
            }
            if !err.is_retryable() || attempt >= retry.max_attempts {
                self.inner.stats.error(err.kind());
                return Err(if attempt > 1 && err.is_retryable() {
                    SolarWebError::RetriesExhausted {
                        attempts: attempt,
                        last: Box::new(err),
                    }
                } else {
                    err
                });
            }
            let requested = match &err {
                SolarWebError::Quota { retry_after, .. } => *retry_after,
                _ => None,
            };
            let delay = retry.delay(attempt, requested);
            tracing::debug!(endpoint = ?kind, attempt, error = %err, delay_ms = delay.as_millis(), "retrying");
            self.inner.stats.retry(kind);
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn attempt(
        &self,
        kind: EndpointKind,
        method: Method,
        path: &str,
        query: &[(&str, String)],
    ) -> crate::Result<Vec<u8>> {
        let bearer = self.inner.tokens.bearer(self).await?;
        let _permit = self.inner.limiter.acquire().await;
        let mut req = self.base_request(method, self.url(path, query));
        if let Some(token) = bearer {
            req = req.bearer_auth(token.expose());
        }
        self.inner.stats.call(kind);
        let response = req.send().await.map_err(|e| self.transport_error(&e))?;
        self.read(response).await
    }

    /// A request with the access-key headers every call carries.
    pub(crate) fn base_request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        let creds = &self.inner.config.credentials;
        self.inner
            .http
            .request(method, url)
            .header("AccessKeyId", creds.access_key_id.expose())
            .header("AccessKeyValue", creds.access_key_value.expose())
            .header("Accept", "application/json")
    }

    pub(crate) fn transport_error(&self, e: &reqwest::Error) -> SolarWebError {
        if e.is_timeout() {
            SolarWebError::Timeout(self.inner.config.timeout)
        } else {
            // Without the URL: it is ours, and query strings may carry ids we need not log.
            SolarWebError::Connect(e.without_url_ref())
        }
    }

    /// Reads a response: body on 2xx, typed error otherwise; applies rate-limit headers.
    pub(crate) async fn read(&self, response: reqwest::Response) -> crate::Result<Vec<u8>> {
        let status = response.status();
        let headers = response.headers().clone();
        self.observe_rate_headers(&headers);
        let body = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&e))?;
        if status.is_success() {
            return Ok(if status == StatusCode::NO_CONTENT {
                Vec::new()
            } else {
                body.to_vec()
            });
        }
        let parsed: ErrorBody = serde_json::from_slice(&body).unwrap_or_default();
        let retry_after = retry_after(&headers).or_else(|| rate_reset(&headers));
        Err(SolarWebError::from_status(
            status.as_u16(),
            parsed.response_error,
            parsed.response_message,
            retry_after,
        ))
    }

    fn observe_rate_headers(&self, headers: &HeaderMap) {
        let remaining = headers
            .get("X-Rate-Limit-Remaining")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok());
        if remaining == Some(0)
            && let Some(wait) = rate_reset(headers)
        {
            tracing::info!(
                wait_ms = wait.as_millis(),
                "Solar.web rate-limit window used up; pausing requests"
            );
            self.inner
                .limiter
                .pause_until(Instant::now() + wait.min(self.inner.config.retry.max_delay));
        }
    }
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let mut text = self.to_string();
        if let Some(url) = self.url() {
            text = text.replace(url.as_str(), "<url>");
        }
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text
    }
}

/// `Retry-After` in seconds (HTTP dates are not used by this API; ignored if sent).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// Time until `X-Rate-Limit-Reset` (an ISO UTC instant with up to 7 fractional digits).
fn rate_reset(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get("X-Rate-Limit-Reset")?.to_str().ok()?;
    let reset = crate::types::parse_api_time(raw.trim())?;
    let wait = reset.duration_since(jiff::Timestamp::now());
    Duration::try_from(wait).ok()
}
