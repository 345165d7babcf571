//! The crash test: `moose poll` is killed with SIGKILL in the middle of a pass, run again, and
//! every 5-minute record the simulator serves is in the store exactly once.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use moose_domain::{Secret, SystemId};
use moose_solardata::SolarRepo;
use moose_solarweb::{ClientConfig, Credentials, SolarWebClient};

const BIN: &str = env!("CARGO_BIN_EXE_moose");
const KEY_ID: &str = "FKIA00000000000000000000000000000001";
const KEY_VALUE: &str = "00000000-0000-4000-8000-000000000001";

fn start_sim(dir: &std::path::Path) -> (std::process::Child, String) {
    let mut child = Command::new(BIN)
        .args([
            "sim",
            "--systems",
            "24",
            "--seed",
            "3",
            "--bind",
            "127.0.0.1:0",
        ])
        .env_clear()
        .env("NO_COLOR", "1")
        .current_dir(dir)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("the simulator starts").unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break format!("http://{}", rest.split_whitespace().next().unwrap());
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, url)
}

fn poll(dir: &std::path::Path, url: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["poll", "--data-dir", "data"])
        .env_clear()
        .env("NO_COLOR", "1")
        .env("MOOSE_SOLARWEB_BASE_URL", url)
        .env("SOLAR_WEB_ACCESS_KEY_ID", KEY_ID)
        .env("SOLAR_WEB_ACCESS_KEY_VALUE", KEY_VALUE)
        .env("MOOSE_POLL_CONCURRENCY", "2")
        // Night records too: the comparison below expects every record of the window.
        .env("MOOSE_POLL_SUN_AWARE", "false")
        .env("MOOSE_SOLARWEB_REQUESTS_PER_SECOND", "1000")
        .current_dir(dir);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_poller_mid_run_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sim, url) = start_sim(dir.path());
    let http = reqwest::Client::new();
    // Slow every answer so the pass is still running when it is killed.
    let chaos = http
        .post(format!("{url}/sim/chaos"))
        .json(&serde_json::json!({"delay_next": 1_000_000, "delay_ms": 150}))
        .send()
        .await
        .unwrap();
    assert_eq!(chaos.status(), 204);

    // The simulator runs in real time; both passes cover at least the 23 hours before this.
    let t0 = Timestamp::now();
    let mut victim = poll(dir.path(), &url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    // Wait until it has written something, then kill it hard.
    // WAL mode: new pages land in the -wal file first.
    let written = || {
        ["data/moose.db", "data/moose.db-wal"]
            .iter()
            .map(|f| std::fs::metadata(dir.path().join(f)).map_or(0, |m| m.len()))
            .sum::<u64>()
    };
    while written() < 256 * 1024 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the poller never wrote anything"
        );
        assert!(
            victim.try_wait().unwrap().is_none(),
            "the pass finished before it could be killed; slow it down further"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        victim.try_wait().unwrap().is_none(),
        "still running when killed"
    );
    victim.kill().unwrap(); // SIGKILL: no cleanup, no checkpoint
    victim.wait().unwrap();

    http.post(format!("{url}/sim/chaos"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    let out = poll(dir.path(), &url).output().unwrap();
    assert!(
        out.status.success(),
        "the second pass completes: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        summary["records_written"].as_u64().unwrap() > 0,
        "the second pass finished the job: {summary}"
    );

    // Compare every record with the simulator's.
    let store = Arc::new(
        moose_store_sqlite::SqliteStore::open(dir.path().join("data"))
            .await
            .unwrap(),
    );
    let repo = SolarRepo::new(store);
    let creds = Credentials {
        access_key_id: Secret::new(KEY_ID),
        access_key_value: Secret::new(KEY_VALUE),
        login: None,
    };
    let client = SolarWebClient::new(ClientConfig::new(&url, creds)).unwrap();
    let now = t0 - SignedDuration::from_mins(10);
    let from = t0 - SignedDuration::from_hours(23);
    let systems = client.pv_systems().await.unwrap();
    assert_eq!(systems.len(), 24);
    let mut compared = 0;
    for s in &systems {
        let id = SystemId::parse(&s.pv_system_id).unwrap();
        let meta = repo
            .meta(&id)
            .await
            .unwrap()
            .expect("every system was discovered");
        let truth = client
            .histdata(&s.pv_system_id, None, from, now, &["EnergyProductionTotal"])
            .await
            .unwrap();
        let first = from.to_zoned_datetime(meta.tz()).date();
        let last = now.to_zoned_datetime(meta.tz()).date();
        let days = repo.days(&id, first, last).await.unwrap();
        let stored: Vec<(Timestamp, Option<f64>)> = days
            .iter()
            .flat_map(|d| d.slots.iter().map(move |(i, v)| (d.slot_start(*i), v[0])))
            .filter(|(t, _)| *t >= from && *t <= now)
            .collect();
        let expected: Vec<(Timestamp, Option<f64>)> = truth
            .iter()
            .map(|r| {
                (
                    r.timestamp().unwrap(),
                    moose_solarweb::types::channel_value(&r.channels, "EnergyProductionTotal"),
                )
            })
            .collect();
        assert_eq!(
            stored, expected,
            "system {}: every record exactly once",
            s.pv_system_id
        );
        for d in &days {
            let daily = repo.daily(&id, d.date, d.date).await.unwrap();
            let produced: f64 = d.slots.values().filter_map(|v| v[0]).sum();
            assert!(
                (daily[0].1.produced_wh.unwrap_or(0.0) - produced).abs() < 1e-6,
                "the aggregate matches its day"
            );
        }
        compared += stored.len();
    }
    assert!(compared >= 24 * 270, "{compared}");
    sim.kill().ok();
}

/// The one-shot commands take their settings from the same composition root as `moose serve`
/// and Lambda: `moose poll` honours the initial look-back (the first stored day of a new system
/// is the day before yesterday for 48 hours, yesterday for the default 24).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moose_poll_honours_the_initial_lookback() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sim, url) = start_sim(dir.path());
    let out = poll(dir.path(), &url)
        .env("MOOSE_POLL_INITIAL_LOOKBACK_HOURS", "48")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = Arc::new(
        moose_store_sqlite::SqliteStore::open(dir.path().join("data"))
            .await
            .unwrap(),
    );
    let repo = SolarRepo::new(store);
    let systems = repo.all_systems().await.unwrap();
    assert_eq!(systems.len(), 24);
    // Judged by the oldest stored record rather than its day: whether the plant's evening two
    // days ago holds records depends on the hour the test runs (at night there are none).
    let now = Timestamp::now();
    for system in &systems {
        let today = now.to_zoned_datetime(system.tz()).date();
        let ten_days_ago = today.checked_sub(jiff::Span::new().days(10)).unwrap();
        let first = repo
            .days(&system.id, ten_days_ago, today)
            .await
            .unwrap()
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("system {}: nothing stored", system.id));
        let slot = *first
            .slots
            .keys()
            .next()
            .expect("a record in the first day");
        let oldest = first.start + SignedDuration::from_mins(5 * i64::from(slot));
        // Older than the default 24 h look-back would have fetched (a 24 h window always holds
        // daylight), and no older than the day 48 hours ago.
        let window_start = (now - SignedDuration::from_hours(48))
            .to_zoned_datetime(system.tz())
            .date();
        assert!(
            oldest < now - SignedDuration::from_hours(24),
            "system {}: oldest record {oldest}",
            system.id
        );
        assert!(
            first.date >= window_start,
            "system {}: first day {} before {window_start}",
            system.id,
            first.date
        );
    }
    sim.kill().ok();
}
