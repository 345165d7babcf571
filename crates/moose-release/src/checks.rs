//! The smoke checks of `moose verify`, written once over a [`Target`]: an HTTP base URL
//! ([`HttpTarget`], for `moose serve` or API Gateway) or a Lambda function version invoked
//! directly ([`crate::lambda::LambdaTarget`], for the PreTraffic hook, before the version
//! gets any traffic). They read, except the chat probe's own conversation, which is deleted.

use std::future::Future;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// An HTTP method the checks use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Delete => "DELETE",
        }
    }
}

/// One request of a check.
#[derive(Debug, Clone)]
pub struct Probe<'a> {
    /// The method.
    pub method: Method,
    /// Path and query, e.g. `/api/incidents?limit=5`.
    pub path: &'a str,
    /// A JSON body.
    pub body: Option<Value>,
    /// The bearer credential to send, if any.
    pub bearer: Option<&'a str>,
}

/// What came back: the status and the body as JSON (`null` when it was not JSON), or the body
/// as text for non-JSON answers (`/metrics`).
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body parsed as JSON, or `null`.
    pub json: Value,
    /// The raw body.
    pub text: String,
}

/// Something the checks can send requests to.
pub trait Target: Send + Sync {
    /// What this target is, for messages (a URL, a function version).
    fn describe(&self) -> String;
    /// Sends one request. `Err` says, without secrets, why no answer came.
    fn send(&self, probe: Probe<'_>) -> impl Future<Output = Result<Answer, String>> + Send;
}

/// A Moose reachable over HTTP.
#[derive(Debug, Clone)]
pub struct HttpTarget {
    http: reqwest::Client,
    base: String,
}

impl HttpTarget {
    /// `base` like `http://127.0.0.1:8080` or an API Gateway stage URL; 10 s per request.
    pub fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(3))
                .build()
                .unwrap_or_default(),
            base: base.trim_end_matches('/').to_owned(),
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }
}

impl Target for HttpTarget {
    fn describe(&self) -> String {
        self.base.clone()
    }

    async fn send(&self, probe: Probe<'_>) -> Result<Answer, String> {
        let method = match probe.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, probe.path));
        if let Some(c) = probe.bearer {
            req = req.bearer_auth(c);
        }
        if let Some(b) = probe.body {
            req = req.json(&b);
        }
        let r = req.send().await.map_err(|e| {
            if e.is_timeout() {
                "no answer in time".to_owned()
            } else if e.is_connect() {
                "cannot connect".to_owned()
            } else {
                "the request failed".to_owned()
            }
        })?;
        let status = r.status().as_u16();
        let text = r.text().await.unwrap_or_default();
        Ok(Answer {
            status,
            json: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        })
    }
}

/// One check's outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Check {
    /// Short name: `health`, `ready`, `auth`, `systems`, …
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was seen.
    pub detail: String,
}

fn ok(name: &str, detail: impl Into<String>) -> Check {
    Check {
        name: name.to_owned(),
        ok: true,
        detail: detail.into(),
    }
}

fn fail(name: &str, detail: impl Into<String>) -> Check {
    Check {
        name: name.to_owned(),
        ok: false,
        detail: detail.into(),
    }
}

/// Which checks to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything: the version's behaviour and the environment's data (freshness, integrity,
    /// delivery, error rate) — `moose verify`.
    Environment,
    /// Only what a new version itself decides (health, readiness, the API and the chat probe),
    /// not the data it will find — the PreTraffic hook, which must not block a release that
    /// would repair stale data.
    Version,
}

/// Settings of a run.
#[derive(Debug, Clone)]
pub struct Options {
    /// A bearer token or API key for the API checks.
    pub credential: Option<String>,
    /// Without a credential: fail (`moose verify`) or stop after readiness (the hook without a
    /// configured key).
    pub require_credential: bool,
    /// The token of `GET /metrics`: adds the error-rate check.
    pub metrics_token: Option<String>,
    /// Newest data may be this old for a system in daylight, minutes.
    pub max_data_age_min: i64,
    /// Which checks.
    pub scope: Scope,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            credential: None,
            require_credential: true,
            metrics_token: None,
            max_data_age_min: 60,
            scope: Scope::Environment,
        }
    }
}

struct Env<'a, T> {
    target: &'a T,
    credential: Option<&'a str>,
}

impl<T: Target> Env<'_, T> {
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Answer, String> {
        self.target
            .send(Probe {
                method,
                path,
                body,
                bearer: self.credential,
            })
            .await
    }

    async fn get(&self, path: &str) -> Result<Answer, String> {
        self.call(Method::Get, path, None).await
    }

    /// `GET path` answered 200, or a failed check saying what came back.
    async fn read(&self, name: &str, path: &str) -> (Check, Value) {
        match self.get(path).await {
            Ok(a) if a.status == 200 => (ok(name, format!("GET {path}: 200")), a.json),
            Ok(a) => (
                fail(
                    name,
                    format!(
                        "GET {path}: HTTP {} {}",
                        a.status,
                        a.json["error"]["message"].as_str().unwrap_or("")
                    ),
                ),
                Value::Null,
            ),
            Err(e) => (fail(name, format!("GET {path}: {e}")), Value::Null),
        }
    }
}

/// Runs the checks against `target`, in order; an unreachable or unhealthy target stops after
/// the first check, with one line.
pub async fn run<T: Target>(target: &T, options: &Options) -> Vec<Check> {
    let env = Env {
        target,
        credential: options.credential.as_deref(),
    };
    let mut checks = Vec::new();
    let where_ = target.describe();
    match env.get("/health").await {
        Ok(a) if a.status == 200 && a.json["status"] == "healthy" => checks.push(ok(
            "health",
            format!(
                "{where_}/health: healthy, version {}",
                a.json["version"].as_str().unwrap_or("?")
            ),
        )),
        Ok(a) => {
            checks.push(fail(
                "health",
                format!("{where_}/health: HTTP {} {}", a.status, a.json),
            ));
            return checks;
        }
        Err(e) => {
            checks.push(fail("health", format!("{where_}/health: {e}")));
            return checks;
        }
    }
    readiness(&env, &mut checks).await;
    if env.credential.is_none() {
        if options.require_credential {
            checks.push(fail(
                "auth",
                "no --token or --api-key: the API checks need one",
            ));
        }
        return checks;
    }
    let (c, me) = env.read("auth", "/api/users/me").await;
    let signed_in = c.ok;
    checks.push(if c.ok {
        ok(
            "auth",
            format!(
                "signed in as {} ({})",
                me["email"].as_str().unwrap_or("?"),
                me["role"].as_str().unwrap_or("")
            ),
        )
    } else {
        c
    });
    if !signed_in {
        return checks;
    }
    let (c, systems) = env.read("systems", "/api/systems").await;
    checks.push(c);
    let list = systems["systems"].as_array().cloned().unwrap_or_default();
    if let Some(first) = list.first().and_then(|s| s["id"].as_str()) {
        let (c, _) = env
            .read(
                "production",
                &format!("/api/systems/{first}/production?resolution=1h"),
            )
            .await;
        checks.push(c);
    }
    let (c, _) = env.read("incidents", "/api/incidents?limit=5").await;
    checks.push(c);
    let (c, _) = env
        .read("notifications", "/api/notifications?limit=5")
        .await;
    checks.push(c);
    checks.push(chat_probe(&env).await);
    if options.scope == Scope::Version {
        return checks;
    }
    checks.push(freshness(&list, options.max_data_age_min));
    checks.push(integrity(&env, &list).await);
    checks.push(delivery(&env).await);
    if let Some(token) = &options.metrics_token {
        checks.push(match server_error_rate(target, token).await {
            Ok(rate) => rate.check(),
            Err(e) => fail("error-rate", e),
        });
    }
    checks
}

async fn readiness<T: Target>(env: &Env<'_, T>, checks: &mut Vec<Check>) {
    match env.get("/health/ready").await {
        Ok(a) if a.status == 200 => {
            let v = a.json;
            checks.push(ok(
                "ready",
                format!(
                    "store {} ok",
                    v["checks"]["store"]["backend"].as_str().unwrap_or("?")
                ),
            ));
            // `moose serve` lists the jobs it runs; the Lambda functions are scheduled apart.
            if let Some(jobs) = v["jobs"].as_array() {
                let names: Vec<&str> = jobs.iter().filter_map(|j| j["name"].as_str()).collect();
                if names.contains(&"solar-data-polling") {
                    checks.push(ok(
                        "polling",
                        format!("this server runs {}", names.join(", ")),
                    ));
                } else {
                    checks.push(fail("polling", "solar-data-polling is not running on this server (no Solar.web source configured): no new data will arrive"));
                }
            }
        }
        Ok(a) => checks.push(fail(
            "ready",
            format!("HTTP {}: failing {}", a.status, a.json["failing"]),
        )),
        Err(e) => checks.push(fail("ready", e)),
    }
}

/// Server errors among the requests a server has answered since it started, from its
/// `GET /metrics` (`moose_http_requests_total`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct ErrorRate {
    /// Requests counted.
    pub requests: f64,
    /// Of which answered 5xx.
    pub errors: f64,
}

impl ErrorRate {
    /// errors / requests, 0 without requests.
    pub fn rate(&self) -> f64 {
        if self.requests > 0.0 {
            self.errors / self.requests
        } else {
            0.0
        }
    }

    /// The checklist's criterion: below 1 %.
    pub fn check(&self) -> Check {
        if self.requests == 0.0 {
            return ok("error-rate", "no requests counted yet");
        }
        let detail = format!(
            "{} server errors in {} requests since the server started ({:.2} %)",
            self.errors,
            self.requests,
            self.rate() * 100.0
        );
        if self.rate() < 0.01 {
            ok("error-rate", detail)
        } else {
            fail("error-rate", detail)
        }
    }
}

/// Reads `moose_http_requests_total` from the target's `/metrics`.
pub async fn server_error_rate<T: Target>(target: &T, token: &str) -> Result<ErrorRate, String> {
    let answer = target
        .send(Probe {
            method: Method::Get,
            path: "/metrics",
            body: None,
            bearer: Some(token),
        })
        .await
        .map_err(|e| format!("GET /metrics: {e}"))?;
    if answer.status != 200 {
        return Err(format!("GET /metrics: HTTP {}", answer.status));
    }
    Ok(parse_error_rate(&answer.text))
}

/// Sums `moose_http_requests_total` samples of a Prometheus text exposition, and those with a
/// `status="5…"` label.
pub fn parse_error_rate(text: &str) -> ErrorRate {
    let mut rate = ErrorRate {
        requests: 0.0,
        errors: 0.0,
    };
    for line in text
        .lines()
        .filter(|l| l.starts_with("moose_http_requests_total{"))
    {
        let value: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        rate.requests += value;
        if line.contains("status=\"5") {
            rate.errors += value;
        }
    }
    rate
}

/// A question the assistant answers with or without a model; its conversation is deleted.
async fn chat_probe<T: Target>(env: &Env<'_, T>) -> Check {
    let asked = env
        .call(
            Method::Post,
            "/api/chat",
            Some(json!({"message": "What does state code 447 mean?"})),
        )
        .await;
    let v = match asked {
        Ok(a) if a.status == 200 => a.json,
        // A read-only API key (what a hook or a monitor should hold) may not start a
        // conversation: the probe is skipped, not failed.
        Ok(a) if a.status == 403 => {
            return ok(
                "chat",
                format!(
                    "skipped: {}",
                    a.json["error"]["message"].as_str().unwrap_or("forbidden")
                ),
            );
        }
        Ok(a) => {
            return fail(
                "chat",
                format!(
                    "POST /api/chat: HTTP {} {}",
                    a.status,
                    a.json["error"]["message"].as_str().unwrap_or("")
                ),
            );
        }
        Err(e) => return fail("chat", format!("POST /api/chat: {e}")),
    };
    let cited = v["citations"].as_array().is_some_and(|c| !c.is_empty());
    let id = v["conversation_id"].as_str().unwrap_or_default().to_owned();
    let deleted = env
        .call(
            Method::Delete,
            &format!("/api/chat/conversations/{id}"),
            None,
        )
        .await;
    let mode = v["mode"].as_str().unwrap_or("?");
    match (cited, deleted) {
        (true, Ok(a)) if a.status == 204 => ok(
            "chat",
            format!("answered ({mode}) with citations; the probe's conversation was deleted"),
        ),
        (false, _) => fail(
            "chat",
            format!(
                "answered ({mode}) without citations: {}",
                v["response"].as_str().unwrap_or("")
            ),
        ),
        (true, Ok(a)) => fail(
            "chat",
            format!(
                "answered, but deleting the probe's conversation gave HTTP {}",
                a.status
            ),
        ),
        (true, Err(e)) => fail(
            "chat",
            format!("answered, but deleting the probe's conversation failed: {e}"),
        ),
    }
}

/// Systems in daylight whose newest data is older than `max_age` minutes.
pub fn freshness(systems: &[Value], max_age: i64) -> Check {
    let f = Freshness::of(systems, max_age, jiff::Timestamp::now());
    if f.stale.is_empty() {
        ok(
            "freshness",
            format!(
                "{} system(s) in daylight, all with data from the last {max_age} minutes",
                f.in_daylight
            ),
        )
    } else {
        fail(
            "freshness",
            format!(
                "{} of {} system(s) in daylight have no data from the last {max_age} minutes: {}",
                f.stale.len(),
                f.in_daylight,
                f.stale.join(", ")
            ),
        )
    }
}

/// Data freshness of the systems in daylight.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Freshness {
    /// Systems with the sun well above the horizon now.
    pub in_daylight: usize,
    /// Those among them without data from the last `max_age` minutes: `id (age)`.
    pub stale: Vec<String>,
    /// The oldest newest-data age among the systems in daylight, minutes.
    pub oldest_min: Option<i64>,
}

impl Freshness {
    /// From `GET /api/systems`'s list (location, `last_data_at`).
    pub fn of(systems: &[Value], max_age: i64, now: jiff::Timestamp) -> Self {
        let mut f = Self::default();
        for s in systems.iter().take(500) {
            let Some(id) = s["id"].as_str() else { continue };
            let (Some(lat), Some(lon)) = (
                s["location"]["latitude"].as_f64(),
                s["location"]["longitude"].as_f64(),
            ) else {
                continue;
            };
            let site = moose_pvmodel::Site {
                latitude_deg: lat,
                longitude_deg: lon,
                altitude_m: 0.0,
            };
            // Well above the horizon: a plant may rightly be silent at dawn and dusk.
            if !moose_pvmodel::is_producing_sun(&site, now, 15.0) {
                continue;
            }
            f.in_daylight += 1;
            let age = s["last_data_at"]
                .as_str()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .map(|t| (now - t).as_mins());
            f.oldest_min = match (f.oldest_min, age) {
                (Some(o), Some(a)) => Some(o.max(a)),
                (o, a) => o.or(a),
            };
            match age {
                Some(a) if a <= max_age => {}
                Some(a) => f.stale.push(format!("{id} ({a} min)")),
                None => f.stale.push(format!("{id} (never)")),
            }
        }
        f
    }
}

/// Per system: does the newest day Solar.web has a total for agree with the stored records?
async fn integrity<T: Target>(env: &Env<'_, T>, systems: &[Value]) -> Check {
    let (mut checked, mut missing, mut bad) = (0, 0u64, Vec::new());
    for s in systems.iter().take(50) {
        let Some(id) = s["id"].as_str() else { continue };
        let path = format!("/api/systems/{id}/integrity");
        match env.get(&path).await {
            Ok(a) if a.status == 200 => {
                let v = a.json;
                checked += 1;
                missing += v["missing_daylight_slots"].as_u64().unwrap_or(0);
                if v["consistent"] == false {
                    bad.push(format!(
                        "{id} ({}: records {} Wh, Solar.web {} Wh)",
                        v["checked_day"].as_str().unwrap_or("?"),
                        v["records_wh"],
                        v["solarweb_wh"]
                    ));
                }
            }
            Ok(a) => return fail("integrity", format!("GET {path}: HTTP {}", a.status)),
            Err(e) => return fail("integrity", format!("GET {path}: {e}")),
        }
    }
    if bad.is_empty() {
        ok(
            "integrity",
            format!(
                "{checked} system(s): stored days agree with Solar.web's totals; {missing} daylight 5-minute slot(s) missing in the last day"
            ),
        )
    } else {
        fail(
            "integrity",
            format!(
                "stored energy disagrees with Solar.web's day total: {}",
                bad.join(", ")
            ),
        )
    }
}

/// The notification delivery rate over the last day, when the credential may read it.
pub async fn delivery_rate<T: Target>(target: &T, credential: &str) -> Result<Option<f64>, String> {
    let env = Env {
        target,
        credential: Some(credential),
    };
    match env.get("/api/notifications/stats?days=1").await {
        Ok(a) if a.status == 200 => Ok(a.json["rate"].as_f64()),
        Ok(a) if a.status == 403 => {
            Err("needs a fleet manager's or administrator's credential".into())
        }
        Ok(a) => Err(format!("GET /api/notifications/stats: HTTP {}", a.status)),
        Err(e) => Err(format!("GET /api/notifications/stats: {e}")),
    }
}

/// Yesterday's and today's notification delivery rate (fleet managers and administrators).
async fn delivery<T: Target>(env: &Env<'_, T>) -> Check {
    let Some(credential) = env.credential else {
        return fail("delivery", "no credential");
    };
    match delivery_rate(env.target, credential).await {
        Ok(Some(r)) if r >= 0.95 => ok(
            "delivery",
            format!(
                "notification delivery rate {:.1} % over the last day",
                r * 100.0
            ),
        ),
        Ok(Some(r)) => fail(
            "delivery",
            format!(
                "notification delivery rate {:.1} % over the last day (below 95 %)",
                r * 100.0
            ),
        ),
        Ok(None) => ok("delivery", "no notifications were due in the last day"),
        Err(e) if e.starts_with("needs") => {
            ok("delivery", format!("skipped: the delivery rate {e}"))
        }
        Err(e) => fail("delivery", e),
    }
}

/// Latency of read requests, sampled now.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    /// Requests sent.
    pub samples: usize,
    /// Of which failed or answered 5xx.
    pub errors: usize,
    /// Mean, milliseconds.
    pub avg_ms: f64,
    /// 99th percentile (nearest rank), milliseconds.
    pub p99_ms: f64,
}

/// Sends `samples` requests round-robin over the critical read routes (health, the system
/// list, one system's production, incidents) and measures each answer's latency.
pub async fn sample_latency<T: Target>(
    target: &T,
    credential: Option<&str>,
    samples: usize,
) -> Latency {
    let env = Env { target, credential };
    let mut paths = vec!["/health".to_owned()];
    if credential.is_some() {
        paths.push("/api/systems".into());
        paths.push("/api/incidents?limit=5".into());
        if let Ok(a) = env.get("/api/systems").await
            && let Some(id) = a.json["systems"][0]["id"].as_str()
        {
            paths.push(format!("/api/systems/{id}/production?resolution=1h"));
        }
    }
    let mut times = Vec::with_capacity(samples);
    let mut errors = 0;
    for i in 0..samples {
        let path = &paths[i % paths.len()];
        let started = Instant::now();
        let r = env.get(path).await;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        if r.is_err() || r.is_ok_and(|a| a.status >= 500) {
            errors += 1;
        }
    }
    Latency {
        samples,
        errors,
        avg_ms: mean(&times),
        p99_ms: percentile(&mut times, 0.99),
    }
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

/// Nearest-rank percentile.
pub fn percentile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let rank = (q * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_rate_counts_only_5xx_request_samples() {
        let text = "# TYPE moose_http_requests_total counter\n\
            moose_http_requests_total{route=\"/health\",method=\"GET\",status=\"200\"} 97\n\
            moose_http_requests_total{route=\"/api/x\",method=\"GET\",status=\"503\"} 2\n\
            moose_http_requests_total{route=\"/api/x\",method=\"GET\",status=\"404\"} 1\n\
            moose_http_request_duration_seconds_count{route=\"/api/x\"} 5\n";
        let r = parse_error_rate(text);
        assert_eq!((r.requests, r.errors), (100.0, 2.0));
        assert!(!r.check().ok, "2 % is above the 1 % criterion");
        let fine = parse_error_rate(
            "moose_http_requests_total{status=\"200\"} 1000\nmoose_http_requests_total{status=\"500\"} 9\n",
        );
        assert!(fine.check().ok, "{:?}", fine.check());
    }

    #[test]
    fn the_nearest_rank_percentile() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&mut v, 0.99), 99.0);
        let mut few = vec![5.0, 1.0, 3.0];
        assert_eq!(percentile(&mut few, 0.99), 5.0);
        assert_eq!(percentile(&mut [], 0.99), 0.0);
    }
}
