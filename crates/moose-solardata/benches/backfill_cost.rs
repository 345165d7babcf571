//! Benchmark: what a backfill is billed, against the least that carries the same data.
//!
//! `cargo bench -p moose-solardata --bench backfill_cost`. A simulated fleet whose systems were
//! installed at different times is backfilled over 60 days, as if Solar.web had not said when
//! (no installation date: the days before each plant's first data are in the plan). Prints the
//! Solar.web calls and billed data points, the system-days that have data, data points per
//! system-day, and the ratio to the minimum: one `histdata` record per stored slot with its
//! system channels, plus the inverter channels where a system has several inverters. The goal
//! is at most 1.2.
//!
//! Environment: `BENCH_SYSTEMS` (default 20), `BENCH_DAYS` (default 60).

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use moose_domain::Secret;
use moose_sim::{SimConfig, Simulator};
use moose_solardata::SolarRepo;
use moose_solardata::series::{INVERTER_CHANNELS, SYSTEM_CHANNELS};
use moose_solarweb::{ClientConfig, Credentials, SolarWebClient};
use tokio_util::sync::CancellationToken;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let systems = env_or("BENCH_SYSTEMS", 20);
    let days = i64::try_from(env_or("BENCH_DAYS", 60)).unwrap_or(60);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(systems, days));
}

async fn run(systems: usize, days: i64) {
    let now: Timestamp = "2026-06-30T12:00:00Z".parse().unwrap();
    let sim = Arc::new(
        Simulator::new(SimConfig {
            systems,
            seed: 11,
            start: Some(now),
            speed: 0.0,
            // Half the fleet was installed inside the backfill period.
            install_days: (days / 4, days * 2),
            ..SimConfig::default()
        })
        .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = moose_sim::router(Arc::clone(&sim));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let creds = Credentials {
        access_key_id: Secret::new(moose_sim::DEFAULT_ACCESS_KEY_ID),
        access_key_value: Secret::new(moose_sim::DEFAULT_ACCESS_KEY_VALUE),
        login: None,
    };
    let mut config = ClientConfig::new(url, creds);
    config.requests_per_second = 100_000.0;
    let client = SolarWebClient::new(config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn moose_store::Store> = Arc::new(
        moose_store_sqlite::SqliteStore::open(dir.path())
            .await
            .unwrap(),
    );
    let repo = SolarRepo::new(store);
    moose_solardata::discover(&client, &repo).await.unwrap();
    let mut metas = repo.all_systems().await.unwrap();
    for m in &mut metas {
        // As if Solar.web had not said: the plan starts before each plant's first data.
        m.installation_date = None;
    }
    let to = now.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
    let from = (now - SignedDuration::from_hours(24 * days))
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let before = client.stats().snapshot();
    let started = std::time::Instant::now();
    let progress = moose_solardata::backfill(
        &client,
        &repo,
        &metas,
        from,
        to,
        &CancellationToken::new(),
        |_| {},
    )
    .await
    .unwrap();
    let elapsed = started.elapsed();
    let after = client.stats().snapshot();
    let (calls, points) = (
        after.total_calls() - before.total_calls(),
        after.total_data_points() - before.total_data_points(),
    );
    // The minimum: every stored slot once, with the system's channels, and the inverters'
    // channels where there are several inverters.
    let (mut minimum, mut system_days) = (0u64, 0u64);
    for m in &metas {
        let inverters = repo
            .devices(&m.id)
            .await
            .unwrap()
            .iter()
            .filter(|d| d.device_type == "Inverter" && d.active)
            .count();
        let per_slot = SYSTEM_CHANNELS.len()
            + if inverters > 1 {
                inverters * INVERTER_CHANNELS.len()
            } else {
                0
            };
        for chunk in repo.days(&m.id, from, to).await.unwrap() {
            if chunk.slots.is_empty() {
                continue;
            }
            system_days += 1;
            // A record's null values are not billed; count what the chunk holds.
            let values: usize = chunk
                .slots
                .values()
                .map(|v| v.iter().filter(|x| x.is_some()).count())
                .sum();
            let inverter_share = (per_slot - SYSTEM_CHANNELS.len()) * chunk.slots.len();
            minimum += (values + inverter_share) as u64;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let (per_day, ratio) = (
        points as f64 / system_days.max(1) as f64,
        points as f64 / minimum.max(1) as f64,
    );
    println!(
        "backfill_cost: {systems} systems × {days} days = {} system-days planned; {} with data, {} skipped (complete or nothing to give)",
        progress.days_total, system_days, progress.days_skipped
    );
    println!(
        "backfill_cost: {calls} Solar.web calls, {points} billed data points, {per_day:.0} points per system-day with data"
    );
    println!(
        "backfill_cost: minimum for the same data {minimum} points; billed / minimum = {ratio:.3} (goal ≤ 1.2); {:.1} s",
        elapsed.as_secs_f64()
    );
}
