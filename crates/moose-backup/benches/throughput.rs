//! Benchmark: backup and restore throughput on a store of `BENCH_SYSTEMS` (default 1,000)
//! systems × 30 days of 5-minute data, with peak memory.
//!
//! `cargo bench -p moose-backup --bench throughput`. Prints items/s and MB/s for SQLite → file,
//! file → SQLite and, when `MOOSE_TEST_DYNAMODB_ENDPOINT` names a DynamoDB-compatible server
//! (moto; `scripts/test` starts one), file → DynamoDB; and the process's peak resident memory
//! after each phase, which stays flat because both directions stream.

use std::sync::Arc;
use std::time::Instant;

use moose_store::{BatchOp, Item, Key, Store};
use serde_json::json;

/// Peak resident set size so far, MiB (Linux).
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// A day item about the size of a real one: 288 five-minute slots of four channels.
fn day(system: usize, d: usize) -> Item {
    let slots: String = (0..288)
        .map(|i| {
            format!(
                "{i}:{:.1},{:.1},{:.1},{:.1};",
                i as f64 * 1.7,
                i as f64 * 0.3,
                12.5,
                230.0
            )
        })
        .collect();
    Item::new(
        Key::new(format!("System#s{system:05}"), format!("DAY#2026-06-{:02}", d + 1)),
        json!({"date": format!("2026-06-{:02}", d + 1), "channels": ["EnergyProductionTotal", "EnergyFeedIn", "EnergyPurchased", "PowerPV"], "slots": slots, "reported_wh": 23456.0})
            .as_object()
            .unwrap()
            .clone(),
    )
}

async fn fill(store: &dyn Store, systems: usize) -> usize {
    let mut n = 0;
    let mut ops = Vec::with_capacity(500);
    for s in 0..systems {
        ops.push(BatchOp::Put(
            Item::new(
                Key::new(format!("System#s{s:05}"), "META"),
                json!({"id": format!("s{s:05}"), "name": format!("Plant {s}"), "time_zone": "Europe/Vienna"})
                    .as_object()
                    .unwrap()
                    .clone(),
            )
            .with_gsi1("Systems", format!("s{s:05}")),
        ));
        for d in 0..30 {
            ops.push(BatchOp::Put(day(s, d)));
        }
        n += 31;
        if ops.len() >= 500 {
            for c in ops.chunks(25) {
                store.batch_write(c.to_vec()).await.unwrap();
            }
            ops.clear();
        }
    }
    for c in ops.chunks(25) {
        store.batch_write(c.to_vec()).await.unwrap();
    }
    n
}

fn line(label: &str, items: u64, bytes: u64, secs: f64) {
    println!(
        "  {label:<22} {items} items, {:.0} MB in {secs:.1} s: {:.0} items/s, {:.1} MB/s; peak memory so far {:.0} MiB",
        bytes as f64 / 1e6,
        items as f64 / secs,
        bytes as f64 / 1e6 / secs,
        peak_mib()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let systems: usize = std::env::var("BENCH_SYSTEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().unwrap();
    let source: Arc<dyn Store> = Arc::new(
        moose_store_sqlite::SqliteStore::open(&dir.path().join("a"))
            .await
            .unwrap(),
    );
    let t = Instant::now();
    let n = fill(&*source, systems).await;
    println!(
        "backup/restore benchmark: {systems} systems × 30 days = {n} items, filled in {:.1} s; peak memory {:.0} MiB",
        t.elapsed().as_secs_f64(),
        peak_mib()
    );
    let path = dir.path().join("bench.jsonl");
    let t = Instant::now();
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let report = moose_backup::backup(&*source, &mut file, &path, |_| {})
        .await
        .unwrap();
    drop(file);
    line(
        "SQLite → file",
        report.manifest.items,
        report.bytes,
        t.elapsed().as_secs_f64(),
    );
    let t = Instant::now();
    let checked = moose_backup::verify(&path).unwrap();
    line(
        "verify file",
        checked.manifest.items,
        checked.bytes,
        t.elapsed().as_secs_f64(),
    );
    let target: Arc<dyn Store> = Arc::new(
        moose_store_sqlite::SqliteStore::open(&dir.path().join("b"))
            .await
            .unwrap(),
    );
    let t = Instant::now();
    let r = moose_backup::restore(&*target, &path, false, |_, _| {})
        .await
        .unwrap();
    line(
        "file → SQLite",
        r.manifest.items,
        r.bytes,
        t.elapsed().as_secs_f64(),
    );
    match std::env::var("MOOSE_TEST_DYNAMODB_ENDPOINT") {
        Ok(endpoint) => {
            let settings = moose_store_dynamodb::DynamoSettings {
                table: format!("moose-bench-{}", jiff::Timestamp::now().as_millisecond()),
                endpoint: Some(endpoint),
                region: Some("us-east-1".into()),
            };
            let table = moose_store_dynamodb::DynamoStore::connect(&settings).await;
            table.create_table().await.unwrap();
            let t = Instant::now();
            let r = moose_backup::restore(&table, &path, false, |_, _| {})
                .await
                .unwrap();
            line(
                "file → DynamoDB (moto)",
                r.manifest.items,
                r.bytes,
                t.elapsed().as_secs_f64(),
            );
        }
        Err(_) => println!(
            "  file → DynamoDB: skipped (set MOOSE_TEST_DYNAMODB_ENDPOINT to a moto server)"
        ),
    }
}
