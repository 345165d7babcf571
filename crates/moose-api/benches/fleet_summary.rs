//! Benchmark: `GET /api/fleet/summary` over a 1,000-system fleet on the embedded store.
//!
//! `cargo bench -p moose-api --bench fleet_summary`. 1,000 systems across Europe, each with
//! today's 5-minute records so far (the day aggregate the summary reads) and no status yet, an
//! administrator who sees them all; the first request fills the clear-sky cache (printed apart),
//! then `ROUNDS` requests of the first page of 100 (totals always cover all 1,000) and `ROUNDS` of
//! the whole fleet in one page, as the console asks for it. Prints p50/p99 of the time until the
//! whole body is received (goal p99 ≤ 50 ms).

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

const SYSTEMS: usize = 1000;
const ROUNDS: usize = 200;

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Status, body, and the time until the whole body was received (the client's parsing of the
/// JSON is not the server's latency and is left out).
async fn get(app: &axum::Router, uri: &str, token: &str) -> (u16, Value, f64) {
    let started = Instant::now();
    let req = Request::builder()
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status().as_u16();
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ms,
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        moose_store_sqlite::SqliteStore::open(dir.path())
            .await
            .unwrap(),
    );
    let repo = SolarRepo::new(Arc::clone(&store));
    let now = Timestamp::now();
    let started = Instant::now();
    for i in 0..SYSTEMS {
        let id = format!("bench-{i:04}");
        let system = SystemId::parse(&id).unwrap();
        // Spread over 36°–60° N, 10° W–25° E.
        let (lat, lon) = (36.0 + (i % 25) as f64, -10.0 + (i / 25 % 35) as f64);
        let meta = json!({"id": id, "name": format!("Plant {i}"), "peak_power_w": 5000.0 + (i % 7) as f64 * 1000.0,
                          "time_zone": "Europe/Berlin", "latitude": lat, "longitude": lon, "city": null,
                          "country": null, "installation_date": null, "active": true});
        store
            .put(
                Item::new(
                    Key::new(keys::system_pk(&system), keys::SK_META),
                    meta.as_object().unwrap().clone(),
                )
                .with_gsi1(keys::GSI1_ALL_SYSTEMS, &id),
                Condition::None,
            )
            .await
            .unwrap();
        let m = repo.meta(&system).await.unwrap().unwrap();
        let since = now - SignedDuration::from_hours(6);
        let records: Vec<Record> = (0..72)
            .map(|k| Record {
                log_date_time: (since + SignedDuration::from_mins(5 * k)).to_string(),
                log_duration: Some(300),
                channels: vec![Channel {
                    channel_name: "EnergyProductionTotal".into(),
                    channel_type: Some("Energy".into()),
                    unit: Some("Wh".into()),
                    value: Some(200.0),
                }],
            })
            .collect();
        ingest_records(&repo, &m, &records, now).await.unwrap();
    }
    println!(
        "fleet of {SYSTEMS} systems with 6 h of records each stored in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let state = AppState::new(Arc::clone(&store), AuthSettings::default());
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
    let uri = "/api/fleet/summary?limit=100";
    let first = Instant::now();
    let (status, body, _) = get(&app, uri, &token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["totals"]["systems"], SYSTEMS);
    assert_eq!(body["systems"].as_array().unwrap().len(), 100);
    println!(
        "first request (computes each system's clear-sky day): {:.1} ms",
        first.elapsed().as_secs_f64() * 1000.0
    );
    // A page of 100 (an API client paging), then the whole fleet in one page (the console).
    for (limit, uri) in [(100, uri), (SYSTEMS, "/api/fleet/summary?limit=1000")] {
        let mut times = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            let (status, body, ms) = get(&app, uri, &token).await;
            assert_eq!(status, 200);
            assert_eq!(body["systems"].as_array().map(Vec::len), Some(limit));
            times.push(ms);
        }
        let p99 = percentile(times.clone(), 0.99);
        let worst = percentile(times.clone(), 1.0);
        println!(
            "GET /api/fleet/summary, {SYSTEMS} systems, page of {limit}: p50 {:.1} ms, p99 {p99:.1} ms, worst {worst:.1} ms over {ROUNDS} requests (goal p99 ≤ 50 ms: {})",
            percentile(times, 0.5),
            if p99 <= 50.0 { "met" } else { "NOT met" }
        );
    }
}
