//! The client against the simulator, over real HTTP on loopback.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use moose_domain::Secret;
use moose_sim::{ScenarioSource, SimConfig, Simulator};
use moose_solarweb::types::channel_value;
use moose_solarweb::{
    AggrPeriod, ClientConfig, Credentials, EndpointKind, RetryPolicy, SolarWebClient, SolarWebError,
};
use serde_json::json;

struct Sim {
    sim: Arc<Simulator>,
    url: String,
}

const START: &str = "2026-06-10T00:00:00Z";

async fn start_sim(config: SimConfig) -> Sim {
    moose_telemetry::init_for_tests();
    let sim = Arc::new(Simulator::new(config).expect("simulator"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = moose_sim::router(Arc::clone(&sim));
    tokio::spawn(async move { axum_serve(listener, app).await });
    Sim { sim, url }
}

async fn axum_serve(listener: tokio::net::TcpListener, app: axum::Router) {
    axum::serve(listener, app).await.unwrap();
}

/// A simulator whose clock stands still at `START` + `hours`.
fn manual(systems: usize, hours: i64) -> SimConfig {
    let start: Timestamp = START.parse().unwrap();
    SimConfig {
        systems,
        seed: 11,
        start: Some(start + SignedDuration::from_hours(hours)),
        speed: 0.0,
        install_days: (3, 5),
        ..SimConfig::default()
    }
}

fn credentials(login: bool) -> Credentials {
    Credentials {
        access_key_id: Secret::new(moose_sim::DEFAULT_ACCESS_KEY_ID),
        access_key_value: Secret::new(moose_sim::DEFAULT_ACCESS_KEY_VALUE),
        login: login.then(|| ("demo@moose.invalid".to_owned(), Secret::new("solarweb"))),
    }
}

fn fast_retries(mut config: ClientConfig) -> ClientConfig {
    config.retry = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_secs(3),
    };
    config.requests_per_second = 1000.0;
    config
}

fn client(sim: &Sim, login: bool) -> SolarWebClient {
    SolarWebClient::new(fast_retries(ClientConfig::new(
        &sim.url,
        credentials(login),
    )))
    .unwrap()
}

async fn chaos(sim: &Sim, body: serde_json::Value) {
    let status = reqwest::Client::new()
        .post(format!("{}/sim/chaos", sim.url))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 204);
}

#[tokio::test]
async fn lists_every_system_across_pages() {
    let sim = start_sim(manual(130, 12)).await;
    let mut config = fast_retries(ClientConfig::new(
        format!("{}/swqapi", sim.url),
        credentials(false),
    ));
    config.page_size = 50;
    let client = SolarWebClient::new(config).unwrap();
    let systems = client.pv_systems().await.unwrap();
    assert_eq!(systems.len(), 130);
    let ids: std::collections::HashSet<_> =
        systems.iter().map(|s| s.pv_system_id.clone()).collect();
    assert_eq!(ids.len(), 130, "every system once");
    assert_eq!(client.pv_systems_count().await.unwrap(), 130);
    let calls = client.stats().snapshot().by_kind[&EndpointKind::SystemList].calls;
    assert_eq!(calls, 3, "three pages of 50");
    let first = &systems[0];
    assert!(first.peak_power.unwrap() >= 3000.0);
    assert!(first.time_zone.is_some() && first.latitude.is_some());
}

#[tokio::test]
async fn devices_flowdata_and_details_parse() {
    let sim = start_sim(manual(20, 12)).await;
    let client = client(&sim, false);
    let system = &sim.sim.fleet.systems[0];
    let devices = client.devices(&system.id).await.unwrap();
    let inverters: Vec<_> = devices
        .iter()
        .filter(|d| d.device_type == "Inverter")
        .collect();
    assert_eq!(inverters.len(), system.inverters.len());
    assert!(inverters[0].nominal_ac_power.unwrap() > 0.0);
    assert!(devices.iter().any(|d| d.device_type == "Datalogger"));
    let detail = client
        .device(&system.id, &inverters[0].device_id)
        .await
        .unwrap();
    assert_eq!(detail.device_id, inverters[0].device_id);

    // At local noon in June the flow balances: PV + grid + battery + load = 0.
    let noon_system = sim
        .sim
        .fleet
        .systems
        .iter()
        .find(|s| s.meter_id.is_some() && s.tz_name == "Europe/Vienna");
    if let Some(s) = noon_system {
        sim.sim.clock.set("2026-06-12T10:30:00Z".parse().unwrap());
        let flow = client.flowdata(&s.id, None).await.unwrap();
        assert_eq!(flow.status.is_online, Some(true));
        let ch = &flow.data.unwrap().channels;
        let pv = channel_value(ch, "PowerPV").unwrap();
        let balance = pv
            + channel_value(ch, "PowerFeedIn").unwrap()
            + channel_value(ch, "PowerBattCharge").unwrap_or(0.0)
            + channel_value(ch, "PowerLoad").unwrap();
        assert!(pv > 0.0, "producing at noon");
        assert!(
            balance.abs() <= 3.0,
            "flow balances within rounding: {balance}"
        );
    }
    let err = client
        .pv_system("00000000-0000-0000-0000-000000000000")
        .await
        .unwrap_err();
    assert!(matches!(err, SolarWebError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn histdata_is_split_into_24h_windows_without_duplicates_and_matches_aggrdata() {
    let sim = start_sim(manual(10, 60)).await;
    let client = client(&sim, false);
    let system = &sim.sim.fleet.systems[3];
    let tz = system.tz.clone();
    let day = jiff::civil::date(2026, 6, 11);
    let from = day.to_zoned_datetime(tz.clone()).unwrap().timestamp();
    let to = day
        .tomorrow()
        .unwrap()
        .to_zoned_datetime(tz)
        .unwrap()
        .timestamp()
        - SignedDuration::from_secs(1);
    // Ask for 36 h around the day: two windows.
    let records = client
        .histdata(
            &system.id,
            None,
            from - SignedDuration::from_hours(6),
            to + SignedDuration::from_hours(6),
            &[],
        )
        .await
        .unwrap();
    let stamps: Vec<_> = records.iter().map(|r| r.timestamp().unwrap()).collect();
    assert!(
        stamps.windows(2).all(|w| w[0] < w[1]),
        "sorted, no duplicates"
    );
    assert_eq!(
        records.len(),
        36 * 12,
        "every 5-minute slot starting in the 36 h"
    );
    let calls = client.stats().snapshot().by_kind[&EndpointKind::HistData].calls;
    assert!(calls >= 2, "at least two windows: {calls}");

    let in_day: f64 = records
        .iter()
        .filter(|r| r.timestamp().unwrap() >= from && r.timestamp().unwrap() <= to)
        .filter_map(|r| channel_value(&r.channels, "EnergyProductionTotal"))
        .sum();
    let aggr = client
        .aggrdata(
            &system.id,
            None,
            AggrPeriod::Days(day, day),
            &["EnergyProductionTotal"],
        )
        .await
        .unwrap();
    let daily = channel_value(&aggr[0].channels, "EnergyProductionTotal").unwrap();
    assert!(
        (in_day - daily).abs() < 0.01,
        "5-minute data sums to the daily aggregate: {in_day} vs {daily}"
    );
    assert!(daily > 0.0);
    let billed = client.stats().snapshot().total_data_points();
    assert!(
        billed > records.len() as u64,
        "histdata is billed per value: {billed}"
    );
}

#[tokio::test]
async fn jwt_login_refresh_and_relogin_after_401() {
    let config = SimConfig {
        jwt_ttl: Duration::from_secs(1),
        ..manual(5, 12)
    };
    let sim = start_sim(config).await;
    let client = client(&sim, true);
    let id = sim.sim.fleet.systems[0].id.clone();
    client.pv_system(&id).await.unwrap();
    assert_eq!(
        client.stats().snapshot().by_kind[&EndpointKind::Auth].calls,
        1,
        "one login"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    client
        .pv_system(&id)
        .await
        .expect("the expired token is refreshed first");
    assert_eq!(
        client.stats().snapshot().by_kind[&EndpointKind::Auth].calls,
        2,
        "one refresh"
    );

    // The server rejects a token the client thinks is valid: log in again, once, and retry.
    chaos(&sim, json!({"fail_next": 1, "fail_status": 401})).await;
    client.pv_system(&id).await.expect("re-login and retry");
    assert!(client.stats().snapshot().by_kind[&EndpointKind::Auth].calls >= 3);

    let wrong = Credentials {
        login: Some(("demo@moose.invalid".into(), Secret::new("nope"))),
        ..credentials(true)
    };
    let bad = SolarWebClient::new(fast_retries(ClientConfig::new(&sim.url, wrong))).unwrap();
    let err = bad.pv_system(&id).await.unwrap_err();
    assert!(matches!(err, SolarWebError::Auth { .. }), "{err:?}");
}

#[tokio::test]
async fn bad_access_keys_are_an_auth_error_without_retries() {
    let sim = start_sim(manual(5, 12)).await;
    let creds = Credentials {
        access_key_value: Secret::new("wrong"),
        ..credentials(false)
    };
    let client = SolarWebClient::new(fast_retries(ClientConfig::new(&sim.url, creds))).unwrap();
    let err = client.pv_systems().await.unwrap_err();
    assert!(
        matches!(
            err,
            SolarWebError::Auth {
                code: Some(1106),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        client.stats().snapshot().total_calls(),
        1,
        "auth failures are not retried"
    );
}

#[tokio::test]
async fn retries_429_with_retry_after_and_5xx_bursts() {
    let sim = start_sim(manual(5, 12)).await;
    let client = client(&sim, false);
    chaos(&sim, json!({"throttle_next": 2, "retry_after_secs": 1})).await;
    let started = Instant::now();
    client
        .pv_systems()
        .await
        .expect("succeeds after the throttling ends");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After was honoured: {:?}",
        started.elapsed()
    );
    chaos(&sim, json!({"fail_next": 3, "fail_status": 503})).await;
    client.pv_systems().await.expect("succeeds after the burst");
    let s = client.stats().snapshot();
    assert_eq!(s.by_kind[&EndpointKind::SystemList].retries, 5);
    assert_eq!(s.by_kind[&EndpointKind::SystemList].calls, 7);
}

#[tokio::test]
async fn slow_answers_time_out_and_are_retried() {
    let sim = start_sim(manual(5, 12)).await;
    let mut config = fast_retries(ClientConfig::new(&sim.url, credentials(false)));
    config.timeout = Duration::from_millis(300);
    let client = SolarWebClient::new(config).unwrap();
    chaos(&sim, json!({"delay_next": 1, "delay_ms": 1500})).await;
    client.pv_systems().await.expect("the retry is fast");
    assert_eq!(
        client.stats().snapshot().by_kind[&EndpointKind::SystemList].retries,
        1
    );
}

#[tokio::test]
async fn malformed_json_is_a_typed_error() {
    let sim = start_sim(manual(5, 12)).await;
    let client = client(&sim, false);
    chaos(&sim, json!({"malformed_next": 1})).await;
    let err = client.pv_systems().await.unwrap_err();
    assert!(
        matches!(
            err,
            SolarWebError::Decode {
                endpoint: "pvsystems",
                ..
            }
        ),
        "{err:?}"
    );
    client.pv_systems().await.expect("the next answer is fine");
}

#[tokio::test]
async fn an_outage_longer_than_the_retry_budget_is_reported() {
    let sim = start_sim(SimConfig {
        scenario: ScenarioSource::Toml(
            "[[fault]]\nkind = \"api_outage\"\nfrom = \"-1h\"\nto = \"+2h\"\n"
                .replace("-1h", "+0h"),
        ),
        ..manual(5, 0)
    })
    .await;
    let client = client(&sim, false);
    let err = client.pv_systems().await.unwrap_err();
    match &err {
        SolarWebError::RetriesExhausted { attempts: 4, last } => {
            assert!(
                matches!(**last, SolarWebError::Maintenance { .. }),
                "{last:?}"
            );
        }
        other => panic!("expected RetriesExhausted, got {other:?}"),
    }
    assert_eq!(err.kind(), "maintenance");
    assert_eq!(client.stats().snapshot().errors["maintenance"], 1);
}
