//! Benchmark: the solar-data write path and queries on the embedded store.
//!
//! `cargo bench -p moose-solardata --bench store`. Prints:
//! - ingest: 5-minute points per second through the poll job's write path (merge into day items,
//!   aggregates and cursor in one transaction per system-day) for a 1,000-system day, next to a
//!   plain bulk insert of the same rows into SQLite in the same run;
//! - query: p50/p99 of a one-year 1-hour production query and a one-day 5-minute query.
//!
//! Environment: `BENCH_SYSTEMS` (default 1000), `BENCH_QUERY_SYSTEMS` (default 10) and
//! `BENCH_QUERY_DAYS` (default 365) size the data the queries run over;
//! `BENCH_FILLER_SYSTEM_YEARS` (default 0) first fills the store with that many system-years of
//! other systems' hourly roll-ups (10,000 is about 4 GB).

use std::sync::Arc;
use std::time::Instant;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use moose_domain::SystemId;
use moose_solardata::query::{self, Resolution};
use moose_solardata::repo::SystemMeta;
use moose_solardata::{SolarRepo, ingest_records};
use moose_solarweb::types::{Channel, Record};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn meta(i: usize) -> SystemMeta {
    SystemMeta {
        id: SystemId::parse(format!("bench-{i:05}")).unwrap(),
        name: format!("Bench {i}"),
        peak_power_w: Some(10_000.0),
        time_zone: "Europe/Vienna".into(),
        latitude: Some(48.2),
        longitude: Some(14.0),
        city: None,
        country: None,
        installation_date: None,
        active: true,
        inferred_position: None,
    }
}

const CHANNELS: [&str; 6] = [
    "EnergyProductionTotal",
    "EnergyFeedIn",
    "EnergyPurchased",
    "EnergyConsumptionTotal",
    "EnergyBattCharge",
    "EnergyBattDischarge",
];

fn day_records(date: Date, seed: usize) -> Vec<Record> {
    let start = date
        .to_zoned_datetime(jiff::tz::TimeZone::get("Europe/Vienna").unwrap())
        .unwrap()
        .timestamp();
    (0..288)
        .map(|slot| {
            let t = start + SignedDuration::from_mins(5 * slot);
            #[allow(clippy::cast_precision_loss)]
            let sun = ((slot as f64 - 144.0) / 60.0).powi(2);
            let channels = CHANNELS
                .iter()
                .enumerate()
                .map(|(k, name)| Channel {
                    channel_name: (*name).into(),
                    channel_type: Some("Energy".into()),
                    unit: Some("Wh".into()),
                    #[allow(clippy::cast_precision_loss)]
                    value: Some(
                        ((800.0 * (-sun).exp()) * (1.0 + k as f64 * 0.1) + (seed % 7) as f64)
                            .round()
                            / 10.0,
                    ),
                })
                .collect();
            Record {
                log_date_time: t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
                log_duration: Some(300),
                channels,
            }
        })
        .collect()
}

/// Writes `system_years` × 12 monthly hourly roll-ups of made-up systems directly into the table.
fn fill_hourly(db: &std::path::Path, system_years: usize) {
    let mut hours = std::collections::BTreeMap::new();
    for h in 0..744u16 {
        #[allow(clippy::cast_precision_loss)]
        let v = f64::from(h % 24) * 37.25;
        hours.insert(
            h,
            vec![
                Some(v),
                Some(v * 0.4),
                Some(12.5),
                Some(30.0),
                None,
                None,
                Some(12.0),
            ],
        );
    }
    let text = moose_solardata::series::packed::encode(&hours);
    let mut conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut stmt = tx.prepare("INSERT OR REPLACE INTO items (pk, sk, gsi1pk, gsi1sk, ts, attrs) VALUES (?1, ?2, NULL, NULL, ?3, ?4)").unwrap();
        for system in 0..system_years {
            for month in 1..=12 {
                let attrs = format!(
                    r#"{{"month":"2025-{month:02}-01","start":"2025-{month:02}-01T00:00:00Z","hours":"{text}","version":1}}"#
                );
                stmt.execute(rusqlite::params![
                    format!("System#filler-{system:05}"),
                    format!("Hourly#2025-{month:02}"),
                    "2026-01-01T00:00:00.000Z",
                    attrs
                ])
                .unwrap();
            }
        }
    }
    tx.commit().unwrap();
    // Fold the bulk write into the database file, as a running store's checkpoints would.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let systems = env_or("BENCH_SYSTEMS", 1000);
    let query_systems = env_or("BENCH_QUERY_SYSTEMS", 10);
    let query_days = env_or("BENCH_QUERY_DAYS", 365);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(moose_store_sqlite::SqliteStore::open(dir.path().join("moose")).await.unwrap());
        let repo = SolarRepo::new(store);
        let date = jiff::civil::date(2026, 6, 10);
        let now: Timestamp = "2026-06-12T00:00:00Z".parse().unwrap();
        let batches: Vec<(SystemMeta, Vec<Record>)> = (0..systems).map(|i| (meta(i), day_records(date, i))).collect();
        let points = systems * 288 * CHANNELS.len();

        // The poll job's write path, one system-day transaction at a time, 8 systems at once.
        // (Discovery's metadata writes happen before, as in a pass, and are not timed.)
        for (m, _) in &batches {
            repo.put_meta(m).await.unwrap();
        }
        let queue = Arc::new(std::sync::Mutex::new(batches.clone()));
        let started = Instant::now();
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let (queue, repo) = (Arc::clone(&queue), repo.clone());
                tokio::spawn(async move {
                    loop {
                        let next = queue.lock().unwrap().pop();
                        let Some((m, records)) = next else { return };
                        ingest_records(&repo, &m, &records, now).await.unwrap();
                    }
                })
            })
            .collect();
        for w in workers {
            w.await.unwrap();
        }
        let moose_secs = started.elapsed().as_secs_f64();

        // A plain bulk insert of the same rows: one table, one transaction, prepared statement.
        let raw_path = dir.path().join("raw.db");
        let started = Instant::now();
        let mut conn = rusqlite::Connection::open(&raw_path).unwrap();
        conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; CREATE TABLE rows (system TEXT, t TEXT, c0 REAL, c1 REAL, c2 REAL, c3 REAL, c4 REAL, c5 REAL, PRIMARY KEY (system, t)) WITHOUT ROWID;").unwrap();
        let tx = conn.transaction().unwrap();
        {
            let mut stmt = tx.prepare("INSERT INTO rows VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)").unwrap();
            for (m, records) in &batches {
                for r in records {
                    let v: Vec<Option<f64>> = r.channels.iter().map(|c| c.value).collect();
                    stmt.execute(rusqlite::params![m.id.as_str(), r.log_date_time, v[0], v[1], v[2], v[3], v[4], v[5]]).unwrap();
                }
            }
        }
        tx.commit().unwrap();
        let raw_secs = started.elapsed().as_secs_f64();
        #[allow(clippy::cast_precision_loss)]
        let (moose_rate, raw_rate) = (points as f64 / moose_secs, points as f64 / raw_secs);
        println!("ingest: {systems} systems x 288 records x 6 channels = {points} points");
        println!("  moose write path: {moose_secs:.2} s, {moose_rate:.0} points/s");
        println!("  raw SQLite bulk insert: {raw_secs:.2} s, {raw_rate:.0} points/s");
        println!("  ratio: {:.2} of the raw rate", moose_rate / raw_rate);

        // Optionally fill the store with other systems' hourly roll-ups first (the items a
        // one-year 1 h query reads), written straight into the table: a large store without
        // generating terabytes of 5-minute data.
        let filler = env_or("BENCH_FILLER_SYSTEM_YEARS", 0);
        if filler > 0 {
            let started = Instant::now();
            fill_hourly(&dir.path().join("moose").join(moose_store_sqlite::DATABASE_FILE), filler);
            println!("filler: {filler} system-years of hourly roll-ups ({} items) written in {:.1} s", filler * 12, started.elapsed().as_secs_f64());
        }

        // Queries over `query_systems` x `query_days` of 5-minute data.
        let first = date.checked_sub(jiff::Span::new().days(i64::try_from(query_days).unwrap() - 1)).unwrap();
        let started = Instant::now();
        for i in 0..query_systems {
            let m = meta(100_000 + i);
            repo.put_meta(&m).await.unwrap();
            let mut d = first;
            while d <= date {
                ingest_records(&repo, &m, &day_records(d, i), now).await.unwrap();
                d = d.tomorrow().unwrap();
            }
        }
        println!("query data: {query_systems} systems x {query_days} days stored in {:.1} s", started.elapsed().as_secs_f64());
        for (label, resolution, from, to) in [
            ("one year at 1h", Resolution::Hour, first, date),
            ("one day at 5m", Resolution::FiveMinutes, date, date),
        ] {
            let mut times = Vec::new();
            // 20 warm-up rounds (not measured): the first reads fault the pages in.
            for round in 0..220 {
                let m = meta(100_000 + round % query_systems);
                let (start, end) = (query::local_midnight(&m, from), query::local_midnight(&m, to.tomorrow().unwrap()));
                let t = Instant::now();
                let points = query::production(&repo, &m, start, end, resolution).await.unwrap();
                if round >= 20 {
                    times.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                assert!(points.len() >= 288);
            }
            times.sort_by(f64::total_cmp);
            println!("query {label}: p50 {:.2} ms, p99 {:.2} ms ({} runs)", percentile(&times, 0.5), percentile(&times, 0.99), times.len());
        }
    });
}
