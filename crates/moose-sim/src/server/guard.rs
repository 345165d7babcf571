//! Everything in front of a handler: injected chaos, fleet-wide outages, authentication, the
//! per-key rate limit with its headers, and call/data-point counting.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;

use super::ApiFailure;
use crate::{SimConfig, Simulator};

/// Per-key request counting window.
const WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub(crate) struct Tokens {
    /// JWT → real expiry.
    pub(crate) access: HashMap<String, Instant>,
    /// Refresh token → still valid.
    pub(crate) refresh: HashMap<String, ()>,
    pub(crate) issued: u64,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    started_at: Timestamp,
    used: u32,
}

/// Injected misbehaviour for tests: the next N requests fail, are slow, or are malformed.
#[derive(Debug, Default, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Chaos {
    pub(crate) fail_next: u32,
    pub(crate) fail_status: Option<u16>,
    pub(crate) throttle_next: u32,
    pub(crate) retry_after_secs: Option<u64>,
    pub(crate) delay_next: u32,
    pub(crate) delay_ms: u64,
    pub(crate) malformed_next: u32,
}

/// Counters the `/sim/stats` endpoint reports.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub(crate) struct SimStats {
    pub(crate) requests: u64,
    pub(crate) rejected: u64,
    pub(crate) data_points: u64,
    pub(crate) by_path: std::collections::BTreeMap<String, u64>,
}

#[derive(Debug)]
pub(crate) struct ApiState {
    pub(crate) tokens: Mutex<Tokens>,
    windows: Mutex<HashMap<String, Window>>,
    pub(crate) chaos: Mutex<Chaos>,
    pub(crate) stats: Mutex<SimStats>,
    limit: u32,
}

impl ApiState {
    pub(crate) fn new(config: &SimConfig) -> Self {
        Self {
            tokens: Mutex::default(),
            windows: Mutex::default(),
            chaos: Mutex::default(),
            stats: Mutex::default(),
            limit: config.rate_limit_per_minute.max(1),
        }
    }

    pub(crate) fn count_points(&self, points: u64) {
        lock(&self.stats).data_points += points;
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn format_reset(t: Timestamp) -> String {
    // The API sends 7 fractional digits.
    format!("{}0Z", t.strftime("%Y-%m-%dT%H:%M:%S%.6f"))
}

/// Counts the request against the key's window; returns the rate headers and whether it is allowed.
fn take(state: &ApiState, key: &str) -> (HeaderMap, bool) {
    let mut windows = lock(&state.windows);
    let w = windows.entry(key.to_owned()).or_insert_with(|| Window {
        started: Instant::now(),
        started_at: Timestamp::now(),
        used: 0,
    });
    if w.started.elapsed() >= WINDOW {
        *w = Window {
            started: Instant::now(),
            started_at: Timestamp::now(),
            used: 0,
        };
    }
    let allowed = w.used < state.limit;
    if allowed {
        w.used += 1;
    }
    let reset = w.started_at + jiff::SignedDuration::try_from(WINDOW).unwrap_or_default();
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    put("X-Rate-Limit-Limit", state.limit.to_string());
    put("X-Rate-Limit-Remaining", (state.limit - w.used).to_string());
    put("X-Rate-Limit-Reset", format_reset(reset));
    (headers, allowed)
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn authenticate(sim: &Simulator, req: &Request) -> Result<(), ApiFailure> {
    let (Some(id), Some(value)) = (header(req, "AccessKeyId"), header(req, "AccessKeyValue"))
    else {
        return Err(ApiFailure::new(
            401,
            1101,
            "AccessKeyId and AccessKeyValue headers are required.",
        ));
    };
    if id != sim.config.access_key_id {
        return Err(ApiFailure::new(401, 1102, "AccessKey not found."));
    }
    if value != sim.config.access_key_value {
        return Err(ApiFailure::new(401, 1106, "Authentication failed."));
    }
    if let Some(auth) = header(req, "Authorization") {
        let token = auth.strip_prefix("Bearer ").unwrap_or(auth);
        let tokens = lock(&sim.api.tokens);
        match tokens.access.get(token) {
            Some(expires) if *expires > Instant::now() => {}
            Some(_) => return Err(ApiFailure::new(401, 1106, "JWT expired.")),
            None => return Err(ApiFailure::new(401, 1106, "JWT invalid.")),
        }
    }
    Ok(())
}

pub(crate) async fn guard(State(sim): State<Arc<Simulator>>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    {
        let mut stats = lock(&sim.api.stats);
        stats.requests += 1;
        let family = path
            .trim_start_matches("/swqapi")
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| if s.len() == 36 { "{id}" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        *stats.by_path.entry(family).or_default() += 1;
    }
    let chaos = {
        let mut c = lock(&sim.api.chaos);
        let snapshot = c.clone();
        c.fail_next = c.fail_next.saturating_sub(1);
        c.throttle_next = c.throttle_next.saturating_sub(1);
        c.delay_next = c.delay_next.saturating_sub(1);
        if snapshot.fail_next == 0 && snapshot.throttle_next == 0 {
            c.malformed_next = c.malformed_next.saturating_sub(1);
        }
        snapshot
    };
    if chaos.delay_next > 0 {
        tokio::time::sleep(Duration::from_millis(chaos.delay_ms)).await;
    }
    if chaos.fail_next > 0 {
        return reject(
            &sim,
            ApiFailure::new(chaos.fail_status.unwrap_or(503), 0, "Injected failure."),
        );
    }
    if chaos.throttle_next > 0 {
        let mut response = reject(&sim, ApiFailure::new(429, 1011, "API call quota exceeded."));
        if let Some(secs) = chaos.retry_after_secs
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert("Retry-After", v);
        }
        return response;
    }
    if let Some((status, code, message)) = sim.scenario.api_failure(sim.now()) {
        return reject(&sim, ApiFailure::new(status, code, message));
    }
    if let Err(failure) = authenticate(&sim, &req) {
        return reject(&sim, failure);
    }
    let (rate_headers, allowed) = take(&sim.api, &sim.config.access_key_id);
    let mut response = if allowed {
        next.run(req).await
    } else {
        let mut r = reject(&sim, ApiFailure::new(429, 1011, "API call quota exceeded."));
        if let Ok(v) = HeaderValue::from_str("5") {
            r.headers_mut().insert("Retry-After", v);
        }
        r
    };
    response.headers_mut().extend(rate_headers);
    if chaos.malformed_next > 0 && response.status().is_success() {
        return (response.status(), "{\"pvSystems\": [ {\"pvSystemId\": ").into_response();
    }
    response
}

fn reject(sim: &Simulator, failure: ApiFailure) -> Response {
    lock(&sim.api.stats).rejected += 1;
    failure.into_response()
}
