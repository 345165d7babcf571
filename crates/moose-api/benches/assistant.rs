//! Benchmark: the assistant's cost per turn on the embedded store.
//!
//! `cargo bench -p moose-api --bench assistant`. A SQLite store in a temporary directory holds one
//! system with a day of 5-minute data, a user who may see it, and nothing else. Prints:
//!
//! - offline answers end to end (the whole HTTP stack in process: routing, authentication, the
//!   tools' reads, the answer, storing the conversation): p50/p99 per question kind
//!   (goal: p99 ≤ 50 ms);
//! - with a model (the fake OpenAI-compatible server on loopback, one tool round), the
//!   assistant's own work per turn — the `Server-Timing` total minus the time spent waiting for
//!   the model (goal: p99 ≤ 25 ms).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use jiff::{SignedDuration, Timestamp};
use moose_api::{AppState, HttpLimits};
use moose_assistant::llm::{LlmClient, LlmSettings};
use moose_assistant::retrieval::{KnowledgeSource, Retriever};
use moose_assistant::{Assistant, Limits};
use moose_auth::{AuthSettings, Membership, OrgRole, Principal, SystemRole};
use moose_domain::{SystemId, keys};
use moose_fakes::openai::{FakeOpenAi, Reply, Style};
use moose_solardata::{SolarRepo, ingest_records};
use moose_solarweb::types::{Channel, Record};
use moose_store::{Condition, Item, Key, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

const RUNS: usize = 300;
const PASSWORD: &str = "correct horse battery staple";

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

async fn call(app: &axum::Router, token: &str, body: Value) -> (Value, String) {
    let req = Request::builder()
        .method("POST")
        .uri("/api/chat")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let r = app.clone().oneshot(req).await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let timing = r
        .headers()
        .get("server-timing")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    (serde_json::from_slice(&bytes).unwrap(), timing)
}

fn timing_ms(header: &str, name: &str) -> f64 {
    header
        .split(',')
        .map(str::trim)
        .find_map(|p| p.strip_prefix(&format!("{name};dur=")))
        .and_then(|d| d.parse().ok())
        .unwrap_or(0.0)
}

async fn world(dir: &std::path::Path) -> (AppState, String) {
    let store: Arc<dyn Store> = Arc::new(moose_store_sqlite::SqliteStore::open(dir).await.unwrap());
    let id = SystemId::parse("bench-1").unwrap();
    let meta = json!({"id": "bench-1", "name": "Cologne Roof", "peak_power_w": 8000.0, "time_zone": "Europe/Berlin",
                      "latitude": 50.9, "longitude": 6.9, "city": "Cologne", "country": "DE", "installation_date": null, "active": true});
    let item = Item::new(
        Key::new(keys::system_pk(&id), keys::SK_META),
        meta.as_object().unwrap().clone(),
    )
    .with_gsi1(keys::GSI1_ALL_SYSTEMS, "bench-1");
    store.put(item, Condition::None).await.unwrap();
    let repo = SolarRepo::new(Arc::clone(&store));
    let m = repo.meta(&id).await.unwrap().unwrap();
    let day = Timestamp::now()
        .to_zoned_datetime(m.tz())
        .date()
        .yesterday()
        .unwrap();
    let start = day.to_zoned_datetime(m.tz()).unwrap().timestamp();
    let records: Vec<Record> = (0..288)
        .map(|i| Record {
            log_date_time: (start + SignedDuration::from_mins(5 * i)).to_string(),
            log_duration: Some(300),
            channels: vec![Channel {
                channel_name: "EnergyProductionTotal".into(),
                channel_type: Some("Energy".into()),
                unit: Some("Wh".into()),
                value: Some(if (96..216).contains(&i) { 150.0 } else { 0.0 }),
            }],
        })
        .collect();
    ingest_records(&repo, &m, &records, Timestamp::now())
        .await
        .unwrap();
    let state = AppState::new(Arc::clone(&store), AuthSettings::default());
    let (admin, _) = state
        .auth
        .create_user(
            "admin@example.com",
            OrgRole::Admin,
            None,
            Some(PASSWORD),
            None,
        )
        .await
        .unwrap();
    let (viewer, _) = state
        .auth
        .create_user(
            "viewer@example.com",
            OrgRole::Viewer,
            None,
            Some(PASSWORD),
            None,
        )
        .await
        .unwrap();
    let admin = Principal {
        user: admin,
        credential: moose_auth::Credential::Supabase,
    };
    state
        .auth
        .grant(
            &admin,
            Membership {
                system: id,
                user: viewer.id,
                role: SystemRole::Viewer,
            },
        )
        .await
        .unwrap();
    let app = moose_api::router(state.clone(), HttpLimits::default());
    let req = Request::builder()
        .method("POST")
        .uri("/api/auth/login")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"email": "viewer@example.com", "password": PASSWORD}).to_string(),
        ))
        .unwrap();
    let r = app.oneshot(req).await.unwrap();
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    (state, v["access_token"].as_str().unwrap().to_owned())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let (mut state, token) = world(dir.path()).await;
    let app = moose_api::router(state.clone(), HttpLimits::default());
    println!("assistant benchmark: {RUNS} turns per question on the embedded store");
    for (label, question) in [
        (
            "energy yesterday",
            "How much did the Cologne roof produce yesterday?",
        ),
        ("status", "How is the Cologne roof doing?"),
        ("state code + passages", "inverter shows 447, what now?"),
        ("knowledge", "how often should thermography be done?"),
    ] {
        let mut times = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            let t = std::time::Instant::now();
            let (reply, _) = call(&app, &token, json!({"message": question})).await;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(reply["mode"], "offline");
        }
        println!(
            "  offline, end to end, {label:<22} p50 {:6.2} ms  p99 {:6.2} ms  (goal p99 ≤ 50 ms)",
            percentile(times.clone(), 0.5),
            percentile(times, 0.99)
        );
    }
    // With a model: one tool round (get_energy), then the answer.
    let fake = FakeOpenAi::start(None, 8).await;
    fake.set_model(Arc::new(|req: &Value| {
        let has_result = req["messages"]
            .as_array()
            .is_some_and(|m| m.iter().any(|x| x["role"] == "tool"));
        if has_result {
            Reply::text(
                "Cologne Roof produced its energy yesterday; see the figure in the energy tool.",
            )
        } else {
            Reply::tool_calls(
                &[("get_energy", r#"{"system":"Cologne","from":"yesterday"}"#)],
                Style::OpenAi,
            )
        }
    }));
    let mut s = LlmSettings::new(fake.base_url(), None, "bench-model");
    s.timeout = Duration::from_secs(10);
    state.assistant = Arc::new(Assistant::new(
        Some(LlmClient::new(s)),
        Retriever::lexical(KnowledgeSource::Builtin),
        Limits::default(),
    ));
    state.chat.daily_tokens_per_user = u64::MAX;
    let app = moose_api::router(state, HttpLimits::default());
    let (mut own, mut total) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let (reply, timing) = call(
            &app,
            &token,
            json!({"message": "How much did the Cologne roof produce yesterday?"}),
        )
        .await;
        assert_eq!(reply["mode"], "model", "{reply}");
        let (model, all) = (timing_ms(&timing, "model"), timing_ms(&timing, "assistant"));
        own.push(all - model);
        total.push(all);
    }
    println!(
        "  model (fake, 1 tool round), the assistant's own work  p50 {:6.2} ms  p99 {:6.2} ms  (goal p99 ≤ 25 ms; whole turn incl. fake model p50 {:.2} ms)",
        percentile(own.clone(), 0.5),
        percentile(own, 0.99),
        percentile(total, 0.5)
    );
}
