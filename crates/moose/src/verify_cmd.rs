//! `moose verify --env URL`: smoke tests against a running Moose (`moose serve`, or API Gateway
//! in front of the Lambda functions). Reads only, except the chat probe's own conversation,
//! which it deletes. Each check passes or fails with a reason; the exit code says whether all
//! passed, for CI/CD.

use std::time::Duration;

use clap::Args;
use serde::Serialize;
use serde_json::{Value, json};

use crate::cli::{Cli, Failure};

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// Base URL of the environment, e.g. http://127.0.0.1:8080 or the API Gateway stage URL.
    #[arg(long = "env", value_name = "URL")]
    url: String,
    /// A bearer token (a Moose or Supabase access token) [env: MOOSE_VERIFY_TOKEN]
    #[arg(long, env = "MOOSE_VERIFY_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// An API key (created with POST /api/api-keys) [env: MOOSE_VERIFY_API_KEY]
    #[arg(long, env = "MOOSE_VERIFY_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// The token for `GET /metrics` (MOOSE_METRICS_TOKEN of the server): adds the error-rate
    /// check [env: MOOSE_VERIFY_METRICS_TOKEN]
    #[arg(long, env = "MOOSE_VERIFY_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Newest data may be this old for a system in daylight, minutes.
    #[arg(long, default_value_t = 60)]
    max_data_age: i64,
    /// Another function's health URL to check (repeat it), for deployments where each
    /// function has its own endpoint, e.g. `--health https://…/prod/chat/health`.
    #[arg(long = "health", value_name = "URL")]
    extra_health: Vec<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Check {
    name: &'static str,
    ok: bool,
    detail: String,
}

struct Env {
    http: reqwest::Client,
    base: String,
    credential: Option<String>,
}

impl Env {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(c) = &self.credential {
            req = req.bearer_auth(c);
        }
        if let Some(b) = body {
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
        let v = r.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, v))
    }

    async fn get(&self, path: &str) -> Result<(u16, Value), String> {
        self.call(reqwest::Method::GET, path, None).await
    }
}

fn ok(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name,
        ok: true,
        detail: detail.into(),
    }
}

fn fail(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name,
        ok: false,
        detail: detail.into(),
    }
}

/// `GET path` answered 200, or a failed check saying what came back.
async fn read(env: &Env, name: &'static str, path: &str) -> (Check, Value) {
    match env.get(path).await {
        Ok((200, v)) => (ok(name, format!("GET {path}: 200")), v),
        Ok((s, v)) => (
            fail(
                name,
                format!(
                    "GET {path}: HTTP {s} {}",
                    v["error"]["message"].as_str().unwrap_or("")
                ),
            ),
            Value::Null,
        ),
        Err(e) => (fail(name, format!("GET {path}: {e}")), Value::Null),
    }
}

async fn run_checks(args: &VerifyArgs) -> Vec<Check> {
    let env = Env {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(3))
            .build()
            .unwrap_or_default(),
        base: args.url.trim_end_matches('/').to_owned(),
        credential: args.token.clone().or_else(|| args.api_key.clone()),
    };
    let mut checks = Vec::new();
    // Health first: an unreachable environment fails fast, with one line.
    match env.get("/health").await {
        Ok((200, v)) if v["status"] == "healthy" => checks.push(ok(
            "health",
            format!(
                "{}/health: healthy, version {}",
                env.base,
                v["version"].as_str().unwrap_or("?")
            ),
        )),
        Ok((s, v)) => {
            checks.push(fail("health", format!("{}/health: HTTP {s} {v}", env.base)));
            return checks;
        }
        Err(e) => {
            checks.push(fail("health", format!("{}/health: {e}", env.base)));
            return checks;
        }
    }
    for url in &args.extra_health {
        let r = env.http.get(url).send().await;
        checks.push(match r {
            Ok(r) if r.status().is_success() => match r.json::<Value>().await {
                Ok(v) if v["status"] == "healthy" => ok("health", format!("{url}: healthy")),
                _ => fail("health", format!("{url}: not the health payload")),
            },
            Ok(r) => fail("health", format!("{url}: HTTP {}", r.status().as_u16())),
            Err(_) => fail("health", format!("{url}: cannot connect")),
        });
    }
    match env.get("/health/ready").await {
        Ok((200, v)) => {
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
        Ok((s, v)) => checks.push(fail("ready", format!("HTTP {s}: failing {}", v["failing"]))),
        Err(e) => checks.push(fail("ready", e)),
    }
    if env.credential.is_none() {
        checks.push(fail(
            "auth",
            "no --token or --api-key: the API checks need one",
        ));
        return checks;
    }
    let (c, me) = read(&env, "auth", "/api/users/me").await;
    let role = me["role"].as_str().unwrap_or("").to_owned();
    checks.push(if c.ok {
        ok(
            "auth",
            format!(
                "signed in as {} ({role})",
                me["email"].as_str().unwrap_or("?")
            ),
        )
    } else {
        c
    });
    if !checks.last().is_some_and(|c| c.ok) {
        return checks;
    }
    let (c, systems) = read(&env, "systems", "/api/systems").await;
    checks.push(c);
    let list = systems["systems"].as_array().cloned().unwrap_or_default();
    if let Some(first) = list.first().and_then(|s| s["id"].as_str()) {
        let (c, _) = read(
            &env,
            "production",
            &format!("/api/systems/{first}/production?resolution=1h"),
        )
        .await;
        checks.push(c);
    }
    let (c, _) = read(&env, "incidents", "/api/incidents?limit=5").await;
    checks.push(c);
    let (c, _) = read(&env, "notifications", "/api/notifications?limit=5").await;
    checks.push(c);
    checks.push(chat_probe(&env).await);
    checks.push(freshness(&env, &list, args.max_data_age).await);
    checks.push(integrity(&env, &list).await);
    checks.push(delivery(&env).await);
    if let Some(token) = &args.metrics_token {
        checks.push(error_rate(&env, token).await);
    }
    checks
}

/// The share of server errors among the requests the server has answered since it started
/// (`moose_http_requests_total`), which must stay below 1 %.
async fn error_rate(env: &Env, token: &str) -> Check {
    let r = env
        .http
        .get(format!("{}/metrics", env.base))
        .bearer_auth(token)
        .send()
        .await;
    let text = match r {
        Ok(r) if r.status().is_success() => r.text().await.unwrap_or_default(),
        Ok(r) => {
            return fail(
                "error-rate",
                format!("GET /metrics: HTTP {}", r.status().as_u16()),
            );
        }
        Err(_) => return fail("error-rate", "GET /metrics: cannot connect"),
    };
    let (mut total, mut errors) = (0.0, 0.0);
    for line in text
        .lines()
        .filter(|l| l.starts_with("moose_http_requests_total{"))
    {
        let value: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        total += value;
        if line.contains("status=\"5") {
            errors += value;
        }
    }
    if total == 0.0 {
        return ok("error-rate", "no requests counted yet");
    }
    let rate = errors / total;
    let detail = format!(
        "{errors} server errors in {total} requests since the server started ({:.2} %)",
        rate * 100.0
    );
    if rate < 0.01 {
        ok("error-rate", detail)
    } else {
        fail("error-rate", detail)
    }
}

/// A question the assistant answers with or without a model; its conversation is deleted.
async fn chat_probe(env: &Env) -> Check {
    let asked = env
        .call(
            reqwest::Method::POST,
            "/api/chat",
            Some(json!({"message": "What does state code 447 mean?"})),
        )
        .await;
    let v = match asked {
        Ok((200, v)) => v,
        Ok((s, v)) => {
            return fail(
                "chat",
                format!(
                    "POST /api/chat: HTTP {s} {}",
                    v["error"]["message"].as_str().unwrap_or("")
                ),
            );
        }
        Err(e) => return fail("chat", format!("POST /api/chat: {e}")),
    };
    let cited = v["citations"].as_array().is_some_and(|c| !c.is_empty());
    let id = v["conversation_id"].as_str().unwrap_or_default().to_owned();
    let deleted = env
        .call(
            reqwest::Method::DELETE,
            &format!("/api/chat/conversations/{id}"),
            None,
        )
        .await;
    let mode = v["mode"].as_str().unwrap_or("?");
    match (cited, deleted) {
        (true, Ok((204, _))) => ok(
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
        (true, other) => fail(
            "chat",
            format!("answered, but deleting the probe's conversation failed: {other:?}"),
        ),
    }
}

/// Systems in daylight whose newest data is older than `max_age` minutes.
async fn freshness(env: &Env, systems: &[Value], max_age: i64) -> Check {
    let now = jiff::Timestamp::now();
    let (mut daylight, mut stale) = (0, Vec::new());
    for s in systems.iter().take(500) {
        let Some(id) = s["id"].as_str() else { continue };
        let (lat, lon) = (
            s["location"]["latitude"].as_f64(),
            s["location"]["longitude"].as_f64(),
        );
        let (Some(lat), Some(lon)) = (lat, lon) else {
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
        daylight += 1;
        let age = s["last_data_at"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| (now - t).as_mins());
        match age {
            Some(a) if a <= max_age => {}
            Some(a) => stale.push(format!("{id} ({a} min)")),
            None => stale.push(format!("{id} (never)")),
        }
        let _ = env;
    }
    if stale.is_empty() {
        ok(
            "freshness",
            format!(
                "{daylight} system(s) in daylight, all with data from the last {max_age} minutes"
            ),
        )
    } else {
        fail(
            "freshness",
            format!(
                "{} of {daylight} system(s) in daylight have no data from the last {max_age} minutes: {}",
                stale.len(),
                stale.join(", ")
            ),
        )
    }
}

/// Per system: does the newest day Solar.web has a total for agree with the stored records?
async fn integrity(env: &Env, systems: &[Value]) -> Check {
    let (mut checked, mut missing, mut bad) = (0, 0u64, Vec::new());
    for s in systems.iter().take(50) {
        let Some(id) = s["id"].as_str() else { continue };
        match env.get(&format!("/api/systems/{id}/integrity")).await {
            Ok((200, v)) => {
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
            Ok((s, _)) => {
                return fail(
                    "integrity",
                    format!("GET /api/systems/{id}/integrity: HTTP {s}"),
                );
            }
            Err(e) => return fail("integrity", format!("GET /api/systems/{id}/integrity: {e}")),
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

/// Yesterday's and today's notification delivery rate (fleet managers and administrators).
async fn delivery(env: &Env) -> Check {
    match env.get("/api/notifications/stats?days=1").await {
        Ok((200, v)) => match v["rate"].as_f64() {
            Some(r) if r >= 0.95 => ok(
                "delivery",
                format!(
                    "notification delivery rate {:.1} % over the last day",
                    r * 100.0
                ),
            ),
            Some(r) => fail(
                "delivery",
                format!(
                    "notification delivery rate {:.1} % over the last day (below 95 %)",
                    r * 100.0
                ),
            ),
            None => ok("delivery", "no notifications were due in the last day"),
        },
        Ok((403, _)) => ok(
            "delivery",
            "skipped: the delivery rate needs a fleet manager's or administrator's credential",
        ),
        Ok((s, _)) => fail(
            "delivery",
            format!("GET /api/notifications/stats: HTTP {s}"),
        ),
        Err(e) => fail("delivery", format!("GET /api/notifications/stats: {e}")),
    }
}

pub(crate) fn run(_cli: &Cli, args: &VerifyArgs) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    let checks = runtime.block_on(run_checks(args));
    let passed = checks.iter().all(|c| c.ok);
    if args.json {
        println!(
            "{}",
            json!({"env": args.url, "ok": passed, "checks": checks})
        );
    } else {
        for c in &checks {
            println!(
                "{} {:<13} {}",
                if c.ok { "✓" } else { "✗" },
                c.name,
                c.detail
            );
        }
    }
    if passed {
        Ok(())
    } else {
        let failed: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.name).collect();
        Err(Failure::Run(anyhow::anyhow!(
            "moose verify: failed: {}",
            failed.join(", ")
        )))
    }
}
