//! The failure paths of `moose verify`'s checks, against a scripted stand-in for Moose (a small
//! axum router on loopback) that answers each route as told: an unhealthy `/health`, a 500 on
//! `/health/ready`, a server not running the polling job, a chat answer without citations or
//! whose conversation cannot be deleted, inconsistent stored energy, a low delivery rate and
//! too many server errors. Each must fail its own check and say what was seen. Also the pure
//! helpers: `Freshness::of`, `ErrorRate`, `parse_error_rate` and `percentile`.

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use common::serve;
use moose_release::checks::{
    self, Check, ErrorRate, Freshness, HttpTarget, Options, parse_error_rate, percentile,
};
use serde_json::{Value, json};

/// How the stand-in answers; [`Script::default`] is a healthy Moose with one system.
#[derive(Debug, Clone)]
struct Script {
    health: (u16, Value),
    ready: (u16, Value),
    systems: Value,
    production: (u16, Value),
    chat: (u16, Value),
    delete: u16,
    integrity: (u16, Value),
    stats: (u16, Value),
    metrics: (u16, String),
}

impl Default for Script {
    fn default() -> Self {
        Self {
            health: (200, json!({"status": "healthy", "version": "9.9.9"})),
            ready: (
                200,
                json!({"status": "healthy", "checks": {"store": {"backend": "dynamodb"}}}),
            ),
            systems: json!({"systems": [{"id": "sys-1", "location": null, "last_data_at": null}]}),
            production: (200, json!({"series": []})),
            chat: (
                200,
                json!({"conversation_id": "c-1", "mode": "offline", "response": "Insulation fault.",
                       "citations": [{"article": "fronius-state-codes-4xx-insulation"}]}),
            ),
            delete: 204,
            integrity: (
                200,
                json!({"consistent": true, "missing_daylight_slots": 2}),
            ),
            stats: (200, json!({"rate": 1.0})),
            metrics: (
                200,
                "moose_http_requests_total{status=\"200\"} 10\n".to_owned(),
            ),
        }
    }
}

/// The stand-in: what it answers, and every `METHOD path bearer` it received.
struct Fake {
    script: Script,
    seen: Mutex<Vec<String>>,
}

async fn answer(State(fake): State<Arc<Fake>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let bearer = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();
    fake.seen
        .lock()
        .unwrap()
        .push(format!("{} {path} {bearer}", req.method()));
    let s = &fake.script;
    let json_answer = |(status, body): &(u16, Value)| {
        (
            StatusCode::from_u16(*status).unwrap(),
            axum::Json(body.clone()),
        )
            .into_response()
    };
    match (req.method().as_str(), path.as_str()) {
        ("GET", "/health") => json_answer(&s.health),
        ("GET", "/health/ready") => json_answer(&s.ready),
        ("GET", "/api/users/me") => {
            json_answer(&(200, json!({"email": "ops@example.com", "role": "admin"})))
        }
        ("GET", "/api/systems") => json_answer(&(200, s.systems.clone())),
        ("GET", "/api/incidents" | "/api/notifications") => json_answer(&(200, json!({}))),
        ("GET", "/api/notifications/stats") => json_answer(&s.stats),
        ("POST", "/api/chat") => json_answer(&s.chat),
        ("DELETE", p) if p.starts_with("/api/chat/conversations/") => {
            StatusCode::from_u16(s.delete).unwrap().into_response()
        }
        ("GET", "/metrics") => (
            StatusCode::from_u16(s.metrics.0).unwrap(),
            s.metrics.1.clone(),
        )
            .into_response(),
        ("GET", p) if p.ends_with("/production") => json_answer(&s.production),
        ("GET", p) if p.ends_with("/integrity") => json_answer(&s.integrity),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Serves `script`; the target and the stand-in (for what it received).
async fn start(script: Script) -> (HttpTarget, Arc<Fake>) {
    let fake = Arc::new(Fake {
        script,
        seen: Mutex::new(Vec::new()),
    });
    let url = serve(Router::new().fallback(answer).with_state(Arc::clone(&fake))).await;
    (HttpTarget::new(&url), fake)
}

fn with_credential() -> Options {
    Options {
        credential: Some("tok".into()),
        metrics_token: Some("metrics".into()),
        ..Options::default()
    }
}

fn find<'a>(checks: &'a [Check], name: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name} check in {checks:#?}"))
}

fn failed(checks: &[Check]) -> Vec<&str> {
    checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name.as_str())
        .collect()
}

#[tokio::test]
async fn the_healthy_stand_in_passes_and_the_probe_deletes_its_own_conversation() {
    let (target, fake) = start(Script::default()).await;
    let found = checks::run(&target, &with_credential()).await;
    assert!(failed(&found).is_empty(), "{found:#?}");
    assert_eq!(find(&found, "ready").detail, "store dynamodb ok");
    assert!(find(&found, "health").detail.ends_with("version 9.9.9"));
    assert!(
        find(&found, "integrity")
            .detail
            .starts_with("1 system(s): stored days agree with Solar.web's totals; 2 daylight"),
        "{found:#?}"
    );
    assert_eq!(
        find(&found, "delivery").detail,
        "notification delivery rate 100.0 % over the last day"
    );
    let seen = fake.seen.lock().unwrap().clone();
    assert!(
        seen.contains(&"DELETE /api/chat/conversations/c-1 Bearer tok".to_owned()),
        "{seen:#?}"
    );
    assert!(seen.contains(&"GET /metrics Bearer metrics".to_owned()));
    // The anonymous routes get the credential too; no request went without it.
    assert!(
        seen.iter()
            .all(|s| s.ends_with("Bearer tok") || s.ends_with("Bearer metrics"))
    );
}

#[tokio::test]
async fn an_unhealthy_server_stops_after_the_health_check() {
    let (target, _) = start(Script {
        health: (503, json!({"status": "unhealthy"})),
        ..Script::default()
    })
    .await;
    let found = checks::run(&target, &with_credential()).await;
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(!found[0].ok);
    assert!(found[0].detail.contains("/health: HTTP 503"), "{found:#?}");
    // A 200 that is not the health payload is no better.
    let (target, _) = start(Script {
        health: (200, json!({"hello": "world"})),
        ..Script::default()
    })
    .await;
    let found = checks::run(&target, &with_credential()).await;
    assert_eq!(failed(&found), ["health"]);
    assert_eq!(found.len(), 1);
}

#[tokio::test]
async fn a_500_on_readiness_fails_the_ready_check_and_names_what_fails() {
    let (target, _) = start(Script {
        ready: (500, json!({"status": "unhealthy", "failing": ["store"]})),
        ..Script::default()
    })
    .await;
    let found = checks::run(&target, &with_credential()).await;
    assert_eq!(failed(&found), ["ready"], "{found:#?}");
    assert_eq!(
        find(&found, "ready").detail,
        "HTTP 500: failing [\"store\"]"
    );
    // The API checks still run after a failed readiness check.
    assert!(find(&found, "auth").ok);
}

#[tokio::test]
async fn a_server_without_the_polling_job_fails_the_polling_check() {
    let (target, _) = start(Script {
        ready: (
            200,
            json!({"checks": {"store": {"backend": "sqlite"}}, "jobs": [{"name": "device-status-polling"}]}),
        ),
        ..Script::default()
    })
    .await;
    let found = checks::run(&target, &with_credential()).await;
    assert_eq!(failed(&found), ["polling"], "{found:#?}");
    assert!(
        find(&found, "polling")
            .detail
            .starts_with("solar-data-polling is not running"),
    );
}

#[tokio::test]
async fn every_environment_fault_fails_its_own_check_with_the_figures() {
    let now = jiff::Timestamp::now();
    let lon = common::sunny_longitude_now();
    let stale_for = 180;
    let (target, _) = start(Script {
        systems: json!({"systems": [{
            "id": "sys-1",
            "location": {"latitude": 0.0, "longitude": lon},
            "last_data_at": (now - jiff::SignedDuration::from_mins(stale_for)).to_string(),
        }]}),
        production: (404, json!({"error": {"message": "no such system"}})),
        chat: (
            200,
            json!({"conversation_id": "c-2", "mode": "model", "response": "I do not know.", "citations": []}),
        ),
        integrity: (
            200,
            json!({"consistent": false, "checked_day": "2026-06-01", "records_wh": 1000.0, "solarweb_wh": 1200.0}),
        ),
        stats: (200, json!({"rate": 0.5})),
        metrics: (
            200,
            "moose_http_requests_total{status=\"200\"} 95\nmoose_http_requests_total{status=\"502\"} 5\n"
                .to_owned(),
        ),
        ..Script::default()
    })
    .await;
    let found = checks::run(&target, &with_credential()).await;
    assert_eq!(
        failed(&found),
        [
            "production",
            "chat",
            "freshness",
            "integrity",
            "delivery",
            "error-rate"
        ],
        "{found:#?}"
    );
    assert_eq!(
        find(&found, "production").detail,
        "GET /api/systems/sys-1/production?resolution=1h: HTTP 404 no such system"
    );
    assert_eq!(
        find(&found, "chat").detail,
        "answered (model) without citations: I do not know."
    );
    assert!(
        find(&found, "freshness")
            .detail
            .ends_with(&format!(": sys-1 ({stale_for} min)")),
        "{found:#?}"
    );
    assert_eq!(
        find(&found, "integrity").detail,
        "stored energy disagrees with Solar.web's day total: sys-1 (2026-06-01: records 1000.0 Wh, Solar.web 1200.0 Wh)"
    );
    assert_eq!(
        find(&found, "delivery").detail,
        "notification delivery rate 50.0 % over the last day (below 95 %)"
    );
    assert_eq!(
        find(&found, "error-rate").detail,
        "5 server errors in 100 requests since the server started (5.00 %)"
    );
}

#[tokio::test]
async fn the_chat_probe_fails_on_errors_and_on_a_conversation_left_behind() {
    let (target, _) = start(Script {
        chat: (500, json!({"error": {"message": "the model is down"}})),
        ..Script::default()
    })
    .await;
    let found = checks::run(&target, &with_credential()).await;
    assert_eq!(failed(&found), ["chat"]);
    assert_eq!(
        find(&found, "chat").detail,
        "POST /api/chat: HTTP 500 the model is down"
    );

    let (target, _) = start(Script {
        delete: 404,
        ..Script::default()
    })
    .await;
    let found = checks::run(&target, &with_credential()).await;
    assert_eq!(failed(&found), ["chat"]);
    assert_eq!(
        find(&found, "chat").detail,
        "answered, but deleting the probe's conversation gave HTTP 404"
    );
}

#[tokio::test]
async fn unreadable_integrity_delivery_and_metrics_fail_with_the_status() {
    let (target, _) = start(Script {
        integrity: (500, json!({})),
        stats: (500, json!({})),
        metrics: (401, String::new()),
        ..Script::default()
    })
    .await;
    let found = checks::run(&target, &with_credential()).await;
    assert_eq!(
        failed(&found),
        ["integrity", "delivery", "error-rate"],
        "{found:#?}"
    );
    assert_eq!(
        find(&found, "integrity").detail,
        "GET /api/systems/sys-1/integrity: HTTP 500"
    );
    assert_eq!(
        find(&found, "delivery").detail,
        "GET /api/notifications/stats: HTTP 500"
    );
    assert_eq!(find(&found, "error-rate").detail, "GET /metrics: HTTP 401");
}

#[tokio::test]
async fn a_delivery_rate_exactly_at_95_percent_passes_and_just_below_fails() {
    for (rate, ok) in [(0.95, true), (0.949, false)] {
        let (target, _) = start(Script {
            stats: (200, json!({ "rate": rate })),
            ..Script::default()
        })
        .await;
        assert_eq!(checks::delivery_rate(&target, "tok").await, Ok(Some(rate)));
        let found = checks::run(&target, &with_credential()).await;
        assert_eq!(find(&found, "delivery").ok, ok, "{rate}: {found:#?}");
    }
}

#[tokio::test]
async fn sampled_latency_counts_5xx_answers_as_errors() {
    let (target, _) = start(Script {
        health: (503, json!({})),
        ..Script::default()
    })
    .await;
    // Without a credential only /health is sampled, and it answers 503 every time.
    let l = checks::sample_latency(&target, None, 5).await;
    assert_eq!((l.samples, l.errors), (5, 5));
    // With one the system list, incidents and the first system's production join in.
    let (target, fake) = start(Script::default()).await;
    let l = checks::sample_latency(&target, Some("tok"), 8).await;
    assert_eq!((l.samples, l.errors), (8, 0));
    let seen = fake.seen.lock().unwrap().clone();
    // One look-up for the first system, then 8 samples round-robin over four routes.
    assert_eq!(seen.len(), 9, "{seen:#?}");
    for route in [
        "GET /health ",
        "GET /api/systems ",
        "GET /api/incidents ",
        "GET /api/systems/sys-1/production ",
    ] {
        assert_eq!(
            seen[1..].iter().filter(|s| s.starts_with(route)).count(),
            2,
            "{route}: {seen:#?}"
        );
    }
}

/// Noon UTC at the March equinox: the sun stands over latitude 0, longitude 0.
fn equinox_noon() -> jiff::Timestamp {
    "2026-03-20T12:00:00Z".parse().unwrap()
}

fn system(id: &str, lat: f64, lon: f64, last: Option<jiff::Timestamp>) -> Value {
    json!({"id": id, "location": {"latitude": lat, "longitude": lon},
           "last_data_at": last.map(|t| t.to_string())})
}

#[test]
fn freshness_counts_only_systems_in_daylight_and_names_the_stale_ones() {
    let now = equinox_noon();
    let mins = |m: i64| Some(now - jiff::SignedDuration::from_mins(m));
    let site = |lat, lon| moose_pvmodel::Site {
        latitude_deg: lat,
        longitude_deg: lon,
        altitude_m: 0.0,
    };
    // The premises, from the solar model itself.
    assert!(moose_pvmodel::is_producing_sun(&site(0.0, 0.0), now, 15.0));
    assert!(moose_pvmodel::is_producing_sun(
        &site(10.0, 20.0),
        now,
        15.0
    ));
    assert!(!moose_pvmodel::is_producing_sun(
        &site(0.0, 180.0),
        now,
        15.0
    ));
    let systems = [
        system("fresh", 0.0, 0.0, mins(30)),
        system("edge", 10.0, 20.0, mins(60)),
        system("late", 0.0, 0.0, mins(95)),
        system("silent", 10.0, 20.0, None),
        // At midnight: silence is expected.
        system("night", 0.0, 180.0, mins(600)),
        // No position, no id: cannot be judged.
        json!({"id": "nowhere", "location": null, "last_data_at": null}),
        json!({"location": {"latitude": 0.0, "longitude": 0.0}}),
    ];
    let f = Freshness::of(&systems, 60, now);
    assert_eq!(f.in_daylight, 4);
    assert_eq!(f.stale, ["late (95 min)", "silent (never)"]);
    assert_eq!(f.oldest_min, Some(95));

    let all_fresh = Freshness::of(&systems[..2], 60, now);
    assert!(all_fresh.stale.is_empty());
    assert_eq!(all_fresh.oldest_min, Some(60));
    assert_eq!(Freshness::of(&[], 60, now), Freshness::default());
    // Only systems without any data: no age to report.
    assert_eq!(
        Freshness::of(&systems[3..4], 60, now).oldest_min,
        None,
        "never is not an age"
    );
}

#[test]
fn the_freshness_check_uses_the_current_time() {
    let lon = common::sunny_longitude_now();
    let now = jiff::Timestamp::now();
    let systems = [
        system(
            "a",
            0.0,
            lon,
            Some(now - jiff::SignedDuration::from_mins(10)),
        ),
        system(
            "b",
            0.0,
            lon,
            Some(now - jiff::SignedDuration::from_mins(10)),
        ),
    ];
    let c = checks::freshness(&systems, 30);
    assert!(c.ok, "{c:?}");
    assert_eq!(
        c.detail,
        "2 system(s) in daylight, all with data from the last 30 minutes"
    );
    let c = checks::freshness(&systems, 5);
    assert!(!c.ok);
    assert_eq!(
        c.detail,
        "2 of 2 system(s) in daylight have no data from the last 5 minutes: a (10 min), b (10 min)"
    );
}

#[test]
fn the_error_rate_criterion_is_strictly_below_one_percent() {
    let zero = ErrorRate {
        requests: 0.0,
        errors: 0.0,
    };
    assert_eq!(zero.rate(), 0.0);
    assert!(zero.check().ok);
    assert_eq!(zero.check().detail, "no requests counted yet");
    for (requests, errors) in [(100.0, 1.0), (1000.0, 9.0), (1000.0, 10.0), (7.0, 0.0)] {
        let r = ErrorRate { requests, errors };
        let share = errors / requests;
        assert!((r.rate() - share).abs() < 1e-12);
        assert_eq!(r.check().ok, share < 0.01, "{errors}/{requests}");
        assert_eq!(r.check().name, "error-rate");
    }
}

#[test]
fn the_prometheus_text_is_summed_over_request_samples_only() {
    let mut text = String::from("# HELP moose_http_requests_total Requests.\n");
    let samples = [("200", 120.0), ("404", 7.0), ("500", 3.0), ("503", 2.5)];
    for (status, n) in samples {
        text.push_str(&format!(
            "moose_http_requests_total{{method=\"GET\",route=\"/x\",status=\"{status}\"}} {n}\n"
        ));
    }
    // Other series, and a sample whose value cannot be read, add nothing.
    text.push_str("moose_http_request_duration_seconds_count{route=\"/x\"} 1000\n");
    text.push_str("moose_http_requests_total{status=\"500\"} NaN?\n");
    let r = parse_error_rate(&text);
    let requests: f64 = samples.iter().map(|(_, n)| n).sum();
    let errors: f64 = samples
        .iter()
        .filter(|(s, _)| s.starts_with('5'))
        .map(|(_, n)| n)
        .sum();
    assert_eq!((r.requests, r.errors), (requests, errors));
    assert_eq!(parse_error_rate(""), zero());
}

fn zero() -> ErrorRate {
    ErrorRate {
        requests: 0.0,
        errors: 0.0,
    }
}

#[test]
fn the_nearest_rank_percentile_is_an_element_with_enough_below_it() {
    let mut v: Vec<f64> = (0..37).map(|i| f64::from((i * 17) % 37)).collect();
    for q in [0.01, 0.5, 0.9, 0.99, 1.0] {
        let p = percentile(&mut v, q);
        assert!(v.contains(&p));
        let at_or_below = v.iter().filter(|x| **x <= p).count();
        let needed = (q * v.len() as f64).ceil() as usize;
        assert!(at_or_below >= needed, "{q}: {p}");
        // The smallest such element: one rank lower would not be enough.
        let below = v.iter().filter(|x| **x < p).count();
        assert!(below < needed.max(1), "{q}: {p}");
    }
    assert_eq!(percentile(&mut [4.0], 0.0), 4.0);
}
