//! solar-data-polling end to end: the simulator (manual clock) over real HTTP, the client, the
//! poll job on a schedule, and the SQLite store.

use std::sync::Arc;
use std::time::Duration;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use moose_domain::Secret;
use moose_sim::{ScenarioSource, SimConfig, Simulator};
use moose_solardata::{PollSettings, SolarRepo, poll_once};
use moose_solarweb::{AggrPeriod, ClientConfig, Credentials, RetryPolicy, SolarWebClient};
use tokio_util::sync::CancellationToken;

const START: &str = "2026-06-01T00:00:00Z";

struct World {
    sim: Arc<Simulator>,
    client: SolarWebClient,
    repo: SolarRepo,
    _dir: tempfile::TempDir,
}

async fn world(systems: usize, scenario: &str) -> World {
    moose_telemetry::init_for_tests();
    let start: Timestamp = START.parse().unwrap();
    let scenario = if scenario.is_empty() {
        ScenarioSource::Builtin("none".into())
    } else {
        ScenarioSource::Toml(scenario.into())
    };
    let config = SimConfig {
        systems,
        seed: 21,
        start: Some(start),
        speed: 0.0,
        install_days: (30, 60),
        scenario,
        ..SimConfig::default()
    };
    let sim = Arc::new(Simulator::new(config).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = moose_sim::router(Arc::clone(&sim));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let creds = Credentials {
        access_key_id: Secret::new(moose_sim::DEFAULT_ACCESS_KEY_ID),
        access_key_value: Secret::new(moose_sim::DEFAULT_ACCESS_KEY_VALUE),
        login: None,
    };
    let mut cc = ClientConfig::new(url, creds);
    cc.retry = RetryPolicy {
        max_attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
    };
    cc.requests_per_second = 10_000.0;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        moose_store_sqlite::SqliteStore::open(dir.path())
            .await
            .unwrap(),
    );
    World {
        sim,
        client: SolarWebClient::new(cc).unwrap(),
        repo: SolarRepo::new(store),
        _dir: dir,
    }
}

async fn sim_daily(w: &World, id: &str, day: Date) -> f64 {
    let aggr = w
        .client
        .aggrdata(
            id,
            None,
            AggrPeriod::Days(day, day),
            &["EnergyProductionTotal"],
        )
        .await
        .unwrap();
    moose_solarweb::types::channel_value(&aggr[0].channels, "EnergyProductionTotal").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_week_polled_on_schedule_matches_the_simulators_daily_energy() {
    // A comm loss on a daylit system, delivered two hours after it ends.
    let probe = world(5, "").await;
    let noon: Timestamp = "2026-06-03T10:00:00Z".parse().unwrap();
    let daylit = probe
        .sim
        .fleet
        .systems
        .iter()
        .find(|s| moose_pvmodel::sun_position(&s.site, noon).elevation_deg > 30.0)
        .expect("a daylit system")
        .index;
    drop(probe);
    let scenario = format!(
        "[[fault]]\nkind = \"comm_loss\"\nsystem = {daylit}\nfrom = \"2026-06-03T09:00:00Z\"\nto = \"2026-06-03T12:00:00Z\"\nbackfill_after = \"+2h\"\n"
    );
    let w = world(5, &scenario).await;
    let settings = PollSettings {
        late_window: SignedDuration::from_hours(12),
        ..PollSettings::default()
    };
    let start: Timestamp = START.parse().unwrap();
    let cancel = CancellationToken::new();
    let mut total_records = 0;
    let mut skipped = 0;
    // A week, one pass per simulated hour.
    for hour in 0..=(7 * 24) {
        let now = start + SignedDuration::from_hours(hour);
        w.sim.clock.set(now);
        let s = poll_once(&w.client, &w.repo, &settings, now, &cancel)
            .await
            .unwrap();
        assert!(s.errors.is_empty(), "pass at {now}: {:?}", s.errors);
        total_records += s.records_written;
        skipped += s.skipped_dark;
    }
    assert!(
        total_records > 5 * 6 * 288,
        "a week of records was stored: {total_records}"
    );
    assert!(skipped > 0, "dark sites were not polled at night");

    // Re-polling the same window writes nothing new. (Without sun-awareness the first re-poll
    // collects the night records of the systems that were skipped in the dark; the second
    // finds nothing.)
    let end = start + SignedDuration::from_hours(7 * 24);
    let again = poll_once(&w.client, &w.repo, &settings, end, &cancel)
        .await
        .unwrap();
    assert_eq!(again.records_written, 0, "exactly once: {again:?}");
    let always = PollSettings {
        sun_aware: false,
        ..settings.clone()
    };
    poll_once(&w.client, &w.repo, &always, end, &cancel)
        .await
        .unwrap();
    let again = poll_once(&w.client, &w.repo, &always, end, &cancel)
        .await
        .unwrap();
    assert_eq!(
        (again.polled, again.records_written),
        (5, 0),
        "exactly once: {again:?}"
    );

    for system in &w.sim.fleet.systems {
        let id = moose_domain::SystemId::parse(&system.id).unwrap();
        let daily = w
            .repo
            .daily(
                &id,
                jiff::civil::date(2026, 5, 31),
                jiff::civil::date(2026, 6, 8),
            )
            .await
            .unwrap();
        // Complete local days: the first day starts after the first poll's 24 h look-back.
        for day in 1..=6 {
            let date = jiff::civil::date(2026, 6, day);
            let ours = daily
                .iter()
                .find(|(d, _)| *d == date)
                .and_then(|(_, e)| e.produced_wh)
                .unwrap_or(0.0);
            let theirs = sim_daily(&w, &system.id, date).await;
            assert!(
                (ours - theirs).abs() < 1.0,
                "system {} on {date}: Moose {ours} Wh, simulator {theirs} Wh",
                system.index
            );
        }
    }
    let comm = &w.sim.fleet.systems[daylit];
    let day = w
        .repo
        .day(
            &moose_domain::SystemId::parse(&comm.id).unwrap(),
            None,
            comm_day(&w, daylit),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(
        day.chunk.slots.len() >= 276,
        "the comm-loss day filled in: {} slots",
        day.chunk.slots.len()
    );
}

fn comm_day(w: &World, index: usize) -> Date {
    let t: Timestamp = "2026-06-03T10:00:00Z".parse().unwrap();
    t.to_zoned_datetime(w.sim.fleet.systems[index].tz.clone())
        .date()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_adds_systems_with_devices_and_backfill_is_resumable() {
    let w = world(4, "").await;
    let now: Timestamp = "2026-06-05T12:00:00Z".parse().unwrap();
    w.sim.clock.set(now);
    let summary = moose_solardata::discover(&w.client, &w.repo).await.unwrap();
    assert_eq!((summary.systems_listed, summary.added), (4, 4));
    let again = moose_solardata::discover(&w.client, &w.repo).await.unwrap();
    assert_eq!((again.added, again.updated, again.deactivated), (0, 0, 0));
    let systems = w.repo.all_systems().await.unwrap();
    let devices = w.repo.devices(&systems[0].id).await.unwrap();
    assert!(devices.iter().any(|d| d.device_type == "Inverter"));
    assert!(systems[0].latitude.is_some() && systems[0].time_zone != "UTC");

    let cancel = CancellationToken::new();
    let (from, to) = (jiff::civil::date(2026, 6, 1), jiff::civil::date(2026, 6, 3));
    let hist_calls = || {
        w.client
            .stats()
            .snapshot()
            .by_kind
            .get(&moose_solarweb::EndpointKind::HistData)
            .map_or(0, |k| k.calls)
    };
    // Interrupted after 5 of the 12 system-days (as a kill would): the restart fetches only
    // the 7 it had not finished.
    let stop = CancellationToken::new();
    let partial = moose_solardata::backfill(&w.client, &w.repo, &systems, from, to, &stop, |p| {
        if p.days_done == 5 {
            stop.cancel();
        }
    })
    .await
    .unwrap();
    assert_eq!(partial.days_done, 5);
    let before_resume = hist_calls();
    let first = moose_solardata::backfill(&w.client, &w.repo, &systems, from, to, &cancel, |_| {})
        .await
        .unwrap();
    assert_eq!(first.days_total, 12);
    assert_eq!(
        first.days_skipped, 5,
        "the finished days are skipped: {first:?}"
    );
    let multi: usize = {
        let mut n = 0;
        for s in &systems {
            let inverters = w
                .repo
                .devices(&s.id)
                .await
                .unwrap()
                .iter()
                .filter(|d| d.device_type == "Inverter" && d.active)
                .count();
            // One histdata call per day, plus one per inverter where there are several.
            n += if inverters > 1 { inverters + 1 } else { 1 };
        }
        n
    };
    assert!(
        hist_calls() - before_resume <= 7 * multi as u64 && hist_calls() > before_resume,
        "only the 7 unfinished system-days are fetched: {} calls",
        hist_calls() - before_resume
    );
    assert!(first.records_written > 7 * 150, "{first:?}");
    let calls = hist_calls();
    let second = moose_solardata::backfill(&w.client, &w.repo, &systems, from, to, &cancel, |_| {})
        .await
        .unwrap();
    assert_eq!(
        (second.days_skipped, second.records_written),
        (12, 0),
        "complete days are skipped"
    );
    assert_eq!(hist_calls(), calls, "and cost no histdata calls");
    assert!(
        second.calls <= 4 && second.data_points <= 4 * 31,
        "only one month of daily totals per system: {second:?}"
    );
    for s in &systems {
        for day in 1..=3 {
            let date = jiff::civil::date(2026, 6, day);
            let ours = w.repo.daily(&s.id, date, date).await.unwrap()[0]
                .1
                .produced_wh
                .unwrap();
            assert!((ours - sim_daily(&w, s.id.as_str(), date).await).abs() < 1.0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_polled_through_dynamodb_answers_like_the_same_day_through_sqlite() {
    let endpoint = std::env::var("MOOSE_TEST_DYNAMODB_ENDPOINT")
        .expect("MOOSE_TEST_DYNAMODB_ENDPOINT: run ./scripts/test, which starts moto_server");
    let w = world(3, "").await;
    let settings = moose_store_dynamodb::DynamoSettings {
        table: "moose-cross-store".into(),
        endpoint: Some(endpoint),
        region: Some("us-east-1".into()),
    };
    let dynamo = moose_store_dynamodb::DynamoStore::connect(&settings).await;
    dynamo.create_table().await.unwrap();
    let dynamo_repo = SolarRepo::new(Arc::new(dynamo));
    let cancel = CancellationToken::new();
    let poll = PollSettings {
        sun_aware: false,
        initial_lookback: SignedDuration::from_hours(30),
        ..PollSettings::default()
    };
    let now: Timestamp = "2026-06-02T06:00:00Z".parse().unwrap();
    w.sim.clock.set(now);
    for repo in [&w.repo, &dynamo_repo] {
        let s = poll_once(&w.client, repo, &poll, now, &cancel)
            .await
            .unwrap();
        assert!(s.errors.is_empty() && s.records_written > 3 * 300, "{s:?}");
    }
    for system in &w.sim.fleet.systems {
        let id = moose_domain::SystemId::parse(&system.id).unwrap();
        let meta = w.repo.meta(&id).await.unwrap().unwrap();
        assert_eq!(dynamo_repo.meta(&id).await.unwrap().unwrap(), meta);
        let (from, to) = (now - SignedDuration::from_hours(30), now);
        for resolution in [
            moose_solardata::query::Resolution::FiveMinutes,
            moose_solardata::query::Resolution::Hour,
            moose_solardata::query::Resolution::Day,
        ] {
            let a = moose_solardata::query::production(&w.repo, &meta, from, to, resolution)
                .await
                .unwrap();
            let b = moose_solardata::query::production(&dynamo_repo, &meta, from, to, resolution)
                .await
                .unwrap();
            assert_same(
                &a,
                &b,
                &format!("system {} at {resolution:?}", system.index),
            );
            assert!(
                a.iter()
                    .any(|p| p.energy.produced_wh.is_some_and(|e| e > 0.0))
            );
        }
        let day = now.to_zoned_datetime(meta.tz()).date().yesterday().unwrap();
        let (x, y) = (
            w.repo.daily(&id, day, day).await.unwrap(),
            dynamo_repo.daily(&id, day, day).await.unwrap(),
        );
        assert_eq!(x.len(), y.len());
        for ((dx, ex), (dy, ey)) in x.iter().zip(&y) {
            assert_eq!(dx, dy);
            assert_energy(ex, ey, "daily aggregate");
        }
        assert_eq!(
            w.repo.cursor(&id).await.unwrap(),
            dynamo_repo.cursor(&id).await.unwrap()
        );
    }
}

/// Both stores' answers, equal up to the last bits of a float: moto stores numbers as decimals and
/// hands some back one unit in the last place off.
fn assert_same(
    a: &[moose_solardata::query::Point],
    b: &[moose_solardata::query::Point],
    what: &str,
) {
    assert_eq!(a.len(), b.len(), "{what}: as many points");
    for (p, q) in a.iter().zip(b) {
        assert_eq!(p.start, q.start, "{what}");
        assert_energy(&p.energy, &q.energy, what);
    }
}

fn assert_energy(
    a: &moose_solardata::series::Energy,
    b: &moose_solardata::series::Energy,
    what: &str,
) {
    assert_eq!(a.records, b.records, "{what}: records");
    let fields = [
        (a.produced_wh, b.produced_wh),
        (a.fed_in_wh, b.fed_in_wh),
        (a.purchased_wh, b.purchased_wh),
        (a.consumed_wh, b.consumed_wh),
        (a.battery_charged_wh, b.battery_charged_wh),
        (a.battery_discharged_wh, b.battery_discharged_wh),
    ];
    for (x, y) in fields {
        match (x, y) {
            (Some(x), Some(y)) => assert!(
                (x - y).abs() <= 1e-6 * x.abs().max(1.0),
                "{what}: {x} vs {y}"
            ),
            (x, y) => assert_eq!(x, y, "{what}: the same gaps"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_keeps_coordinates_an_operator_set_when_solar_web_has_none() {
    let w = world(2, "").await;
    // A second simulator over the same fleet that, like the real API, gives no coordinates.
    let start: Timestamp = START.parse().unwrap();
    let bare = Arc::new(
        Simulator::new(SimConfig {
            systems: 2,
            seed: 21,
            start: Some(start),
            speed: 0.0,
            install_days: (30, 60),
            coordinates: false,
            ..SimConfig::default()
        })
        .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = moose_sim::router(bare);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let creds = Credentials {
        access_key_id: Secret::new(moose_sim::DEFAULT_ACCESS_KEY_ID),
        access_key_value: Secret::new(moose_sim::DEFAULT_ACCESS_KEY_VALUE),
        login: None,
    };
    let client = SolarWebClient::new(ClientConfig::new(url, creds)).unwrap();
    moose_solardata::discover(&client, &w.repo).await.unwrap();
    let mut meta = w.repo.all_systems().await.unwrap().remove(0);
    assert!(meta.latitude.is_none(), "the real API has no coordinates");
    let guess = meta
        .inferred_position
        .clone()
        .expect("a first guess from the time zone");
    assert_eq!(guess.method, "time_zone", "{guess:?}");
    assert!(meta.site().is_some(), "sun-aware rules work from the guess");
    meta.latitude = Some(48.16);
    meta.longitude = Some(14.03);
    w.repo.put_meta(&meta).await.unwrap();
    let again = moose_solardata::discover(&client, &w.repo).await.unwrap();
    assert_eq!(again.updated, 0, "nothing changed: {again:?}");
    let kept = w.repo.meta(&meta.id).await.unwrap().unwrap();
    assert_eq!(
        (kept.latitude, kept.longitude),
        (Some(48.16), Some(14.03)),
        "the operator's position stays"
    );
}
