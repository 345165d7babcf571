//! Benchmark: the web console in headless Chromium over a 1,000-system fleet.
//!
//! `cargo bench -p moose --bench console` (needs Debian's `chromium` and `chromium-driver`, as
//! the tests do). Stores 1,000 systems with today's records in an embedded store, starts the
//! release `moose serve` on it, and prints:
//! - the console's first load: bytes the browser transferred for the page and its assets, and
//!   their gzip size (goal ≤ 300 KB compressed);
//! - the fleet page: from navigation until the 1,000 systems are listed (the first page of 100
//!   rows) and mapped, and a sort over all of them has answered, over `ROUNDS` visits (goal ≤ 1 s).

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use moose_auth::{AuthService, AuthSettings, OrgRole};
use moose_domain::{SystemId, keys};
use moose_solardata::{SolarRepo, ingest_records};
use moose_solarweb::types::{Channel, Record};
use moose_store::{Condition, Item, Key, Store};
use serde_json::json;
use support::webdriver::Driver;

const SYSTEMS: usize = 1000;
const ROUNDS: usize = 5;
const PASSWORD: &str = "correct horse battery staple";

/// 1,000 systems across Europe, each with the last two hours of 5-minute records.
async fn seed(dir: &std::path::Path) {
    let store: Arc<dyn Store> = Arc::new(moose_store_sqlite::SqliteStore::open(dir).await.unwrap());
    let repo = SolarRepo::new(Arc::clone(&store));
    let now = Timestamp::now();
    for i in 0..SYSTEMS {
        let id = format!("bench-{i:04}");
        let system = SystemId::parse(&id).unwrap();
        let (lat, lon) = (36.0 + (i % 25) as f64, -10.0 + (i / 25 % 35) as f64);
        let meta = json!({"id": id, "name": format!("Plant {i}"), "peak_power_w": 5000.0 + (i % 7) as f64 * 1000.0,
                          "time_zone": "Europe/Berlin", "latitude": lat, "longitude": lon, "city": null,
                          "country": null, "installation_date": null, "active": true});
        let item = Item::new(
            Key::new(keys::system_pk(&system), keys::SK_META),
            meta.as_object().unwrap().clone(),
        )
        .with_gsi1(keys::GSI1_ALL_SYSTEMS, &id);
        store.put(item, Condition::None).await.unwrap();
        let m = repo.meta(&system).await.unwrap().unwrap();
        let since = now - SignedDuration::from_hours(2);
        let records: Vec<Record> = (0..24)
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
    AuthService::new(store, AuthSettings::default())
        .create_user(
            "admin@example.com",
            OrgRole::Admin,
            None,
            Some(PASSWORD),
            None,
        )
        .await
        .unwrap();
}

fn gzip_len(bytes: &[u8]) -> usize {
    let mut gz = Command::new("gzip")
        .arg("-9c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip");
    gz.stdin.take().unwrap().write_all(bytes).unwrap();
    gz.wait_with_output().unwrap().stdout.len()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    seed(&dir.path().join("data")).await;
    println!(
        "fleet of {SYSTEMS} systems stored in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut server = Command::new(env!("CARGO_BIN_EXE_moose"))
        .env_clear()
        .env("NO_COLOR", "1")
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(server.stderr.take().unwrap());
    let mut lines = stderr.lines().map_while(Result::ok);
    let url = lines
        .find_map(|l| {
            l.split("moose is listening on ")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .map(str::to_owned)
        })
        .expect("moose serve did not start");
    std::thread::spawn(move || lines.for_each(drop));

    // First load: what a new browser downloads for the sign-in page.
    let mut raw = 0;
    let mut compressed = 0;
    for path in [
        "/",
        "/console/console.js",
        "/console/console.css",
        "/console/icon.svg",
    ] {
        let body = reqwest::get(format!("{url}{path}"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        raw += body.len();
        compressed += gzip_len(&body);
    }

    let driver = Driver::start();
    let browser = driver.browser(1280, 900).await;
    browser.goto(&format!("{url}/")).await;
    browser.find("input[name=email]").await;
    let transferred = browser
        .js("return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource')).reduce((a, e) => a + e.transferSize, 0)", json!([]))
        .await;
    println!(
        "console first load: {} bytes transferred by the browser (headers included), {raw} bytes of files, {compressed} bytes gzip-compressed (goal ≤ 300 KB compressed: {})",
        transferred,
        if compressed <= 300 * 1024 {
            "met"
        } else {
            "NOT met"
        }
    );

    browser
        .type_into("input[name=email]", "admin@example.com")
        .await;
    browser.type_into("input[name=password]", PASSWORD).await;
    browser.click("form button[type=submit]").await;
    let rows = "return document.querySelector('#fleet-table')?.dataset.total === '1000' && document.querySelectorAll('#fleet-table tbody tr').length === 100 && document.querySelectorAll('svg.map circle').length === 1000";
    browser.wait_for("the first fleet page", rows, 120).await;

    let mut times = Vec::new();
    let mut api = Vec::new();
    for _ in 0..ROUNDS {
        browser
            .js("performance.clearResourceTimings()", json!([]))
            .await;
        browser.goto(&format!("{url}/#/incidents")).await;
        browser
            .wait_for(
                "the incidents page",
                "return document.querySelector('main h1')?.textContent === 'Incidents'",
                30,
            )
            .await;
        let t = Instant::now();
        browser.goto(&format!("{url}/#/fleet")).await;
        let navigated = t.elapsed().as_secs_f64() * 1000.0;
        browser.wait_for("1,000 rows", rows, 30).await;
        let drawn = t.elapsed().as_secs_f64() * 1000.0;
        // Interactive: a sort by name answers with the table re-drawn.
        browser
            .click("#fleet-table thead th:nth-child(2) button")
            .await;
        browser
            .wait_for("the sorted table", "return document.querySelector('#fleet-table thead th:nth-child(2)').getAttribute('aria-sort') === 'ascending'", 10)
            .await;
        times.push(t.elapsed().as_secs_f64());
        println!(
            "  visit: navigation returned after {navigated:.0} ms, rows drawn after {drawn:.0} ms, sorted after {:.0} ms",
            t.elapsed().as_secs_f64() * 1000.0
        );
        let fetch = browser
            .js("const e = performance.getEntriesByType('resource').filter(e => e.name.includes('/api/fleet/summary')).pop(); return e ? e.duration : null", json!([]))
            .await;
        api.push(fetch.as_f64().unwrap_or(f64::NAN));
    }
    times.sort_by(f64::total_cmp);
    api.sort_by(f64::total_cmp);
    println!(
        "  of which the fleet summary request (as the browser timed it): median {:.0} ms, worst {:.0} ms",
        api[api.len() / 2],
        api[api.len() - 1]
    );
    let worst = times[times.len() - 1];
    println!(
        "fleet page with {SYSTEMS} systems, navigation to interactive (listed, mapped, one sort): median {:.0} ms, worst {:.0} ms over {ROUNDS} visits (goal ≤ 1 s: {})",
        times[times.len() / 2] * 1000.0,
        worst * 1000.0,
        if worst <= 1.0 { "met" } else { "NOT met" }
    );
    browser.quit().await;
    let _ = server.kill();
    let _ = server.wait();
}
