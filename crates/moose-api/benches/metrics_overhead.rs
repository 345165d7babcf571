//! Benchmark: what recording the request metrics costs an authenticated production query under
//! load.
//!
//! `cargo bench -p moose-api --bench metrics_overhead`. One system with a day of 5-minute data on
//! the embedded store; 4 clients in parallel ask for its hourly production, `ROUNDS` requests
//! each, with metrics recording on and off in alternating blocks (so drift affects both alike),
//! while `/metrics` is scraped every 200 requests. Prints p50/p99 of both and the p50 overhead
//! (goal ≤ 5 %).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use jiff::{SignedDuration, Timestamp};
use moose_api::{AppState, HttpLimits};
use moose_auth::{AuthSettings, OrgRole};
use moose_domain::{SystemId, keys};
use moose_solardata::{SolarRepo, ingest_records};
use moose_solarweb::types::{Channel, Record};
use moose_store::{Condition, Item, Key, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

const ROUNDS: usize = 2000;
const CLIENTS: usize = 4;
const BLOCK: usize = 100;

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

async fn get(app: &axum::Router, uri: &str, token: &str) -> u16 {
    let req = Request::builder()
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status().as_u16();
    let _ = axum::body::to_bytes(r.into_body(), usize::MAX).await;
    status
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        moose_store_sqlite::SqliteStore::open(dir.path())
            .await
            .unwrap(),
    );
    let id = SystemId::parse("bench-1").unwrap();
    let meta = json!({"id": "bench-1", "name": "Bench", "peak_power_w": 8000.0, "time_zone": "Europe/Berlin",
                      "latitude": 50.9, "longitude": 6.9, "city": "Cologne", "country": "DE", "installation_date": null, "active": true});
    store
        .put(
            Item::new(
                Key::new(keys::system_pk(&id), keys::SK_META),
                meta.as_object().unwrap().clone(),
            )
            .with_gsi1(keys::GSI1_ALL_SYSTEMS, "bench-1"),
            Condition::None,
        )
        .await
        .unwrap();
    let repo = SolarRepo::new(Arc::clone(&store));
    let m = repo.meta(&id).await.unwrap().unwrap();
    let start = Timestamp::now() - SignedDuration::from_hours(24);
    let records: Vec<Record> = (0..288)
        .map(|i| Record {
            log_date_time: (start + SignedDuration::from_mins(5 * i)).to_string(),
            log_duration: Some(300),
            channels: vec![Channel {
                channel_name: "EnergyProductionTotal".into(),
                channel_type: Some("Energy".into()),
                unit: Some("Wh".into()),
                value: Some(100.0),
            }],
        })
        .collect();
    ingest_records(&repo, &m, &records, Timestamp::now())
        .await
        .unwrap();
    let mut state = AppState::new(Arc::clone(&store), AuthSettings::default());
    state.metrics = Some(moose_api::metrics::MetricsAccess {
        token: Some(moose_domain::Secret::new("bench")),
    });
    state
        .auth
        .create_user(
            "admin@example.com",
            OrgRole::Admin,
            None,
            Some("correct horse battery staple"),
            None,
        )
        .await
        .unwrap();
    let app = moose_api::router(state, HttpLimits::default());
    let req = Request::builder()
        .method("POST")
        .uri("/api/auth/login")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"email": "admin@example.com", "password": "correct horse battery staple"})
                .to_string(),
        ))
        .unwrap();
    let r = app.clone().oneshot(req).await.unwrap();
    let v: Value = serde_json::from_slice(
        &axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap(),
    )
    .unwrap();
    let token = v["access_token"].as_str().unwrap().to_owned();
    let uri = "/api/systems/bench-1/production?resolution=1h";
    assert_eq!(get(&app, uri, &token).await, 200);
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for block in 0..(ROUNDS / BLOCK) {
        let recording = block % 2 == 0;
        moose_metrics::set_enabled(recording);
        let mut tasks = Vec::new();
        for _ in 0..CLIENTS {
            let (app, token) = (app.clone(), token.clone());
            tasks.push(tokio::spawn(async move {
                let mut times = Vec::with_capacity(BLOCK);
                for _ in 0..BLOCK {
                    let t = Instant::now();
                    assert_eq!(get(&app, uri, &token).await, 200);
                    times.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                times
            }));
        }
        for t in tasks {
            let times = t.await.unwrap();
            if recording {
                on.extend(times);
            } else {
                off.extend(times);
            }
        }
        if recording {
            assert_eq!(get(&app, "/metrics", "bench").await, 200);
        }
    }
    let (p50_on, p50_off) = (percentile(on.clone(), 0.5), percentile(off.clone(), 0.5));
    println!(
        "metrics overhead, {CLIENTS} clients, {} requests each way: with recording p50 {p50_on:.3} ms p99 {:.3} ms; without p50 {p50_off:.3} ms p99 {:.3} ms; p50 overhead {:+.1} % (goal ≤ 5 %)",
        on.len(),
        percentile(on, 0.99),
        percentile(off, 0.99),
        (p50_on / p50_off - 1.0) * 100.0
    );
}
