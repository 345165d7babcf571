//! The simulator's API, called in-process through its router: conservation of energy across
//! endpoints, the protocol's rules, and the scenario's effects.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use moose_sim::{ScenarioSource, SimConfig, Simulator};
use proptest::prelude::*;
use serde_json::Value;
use tower::ServiceExt;

const START: &str = "2026-06-10T00:00:00Z";

fn sim(seed: u64, systems: usize, hours: i64, scenario: &str) -> Arc<Simulator> {
    let start: Timestamp = START.parse().unwrap();
    let config = SimConfig {
        systems,
        seed,
        start: Some(start + SignedDuration::from_hours(hours)),
        speed: 0.0,
        install_days: (2, 3),
        scenario: if scenario.is_empty() {
            ScenarioSource::Builtin("none".into())
        } else {
            ScenarioSource::Toml(scenario.into())
        },
        ..SimConfig::default()
    };
    Arc::new(Simulator::new(config).unwrap())
}

async fn get(sim: &Arc<Simulator>, uri: &str) -> (StatusCode, Value) {
    let req = Request::get(uri)
        .header("AccessKeyId", moose_sim::DEFAULT_ACCESS_KEY_ID)
        .header("AccessKeyValue", moose_sim::DEFAULT_ACCESS_KEY_VALUE)
        .header("host", "sim.test")
        .body(Body::empty())
        .unwrap();
    let response = moose_sim::router(Arc::clone(sim))
        .oneshot(req)
        .await
        .unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn value(record: &Value, channel: &str) -> f64 {
    record["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["channelName"] == channel)
        .and_then(|c| c["value"].as_f64())
        .unwrap_or(0.0)
}

fn fmt(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Sum of a channel over the 5-minute records of one local day, fetched in ≤24 h windows.
async fn hist_day_sum(sim: &Arc<Simulator>, id: &str, day: Date, channel: &str) -> (f64, usize) {
    let system = sim.fleet.get(id).unwrap();
    let start = day
        .to_zoned_datetime(system.tz.clone())
        .unwrap()
        .timestamp();
    let end = day
        .tomorrow()
        .unwrap()
        .to_zoned_datetime(system.tz.clone())
        .unwrap()
        .timestamp();
    let (mut sum, mut n, mut from) = (0.0, 0, start);
    while from < end {
        let to = (from + SignedDuration::from_hours(12)).min(end) - SignedDuration::from_secs(1);
        let uri = format!(
            "/pvsystems/{id}/histdata?from={}&to={}&limit=1000",
            fmt(from),
            fmt(to)
        );
        let (status, body) = get(sim, &uri).await;
        assert_eq!(status, 200, "{body}");
        for r in body["data"].as_array().unwrap() {
            sum += value(r, channel);
            n += 1;
        }
        from = to + SignedDuration::from_secs(1);
    }
    (sum, n)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// 5-minute histdata sums to the daily aggrdata, and the days sum to `period=total`, for
    /// every energy channel, on random fleets, systems and days.
    #[test]
    fn energy_is_conserved_from_histdata_to_aggrdata_to_total(seed in 0u64..10_000, index in 0usize..8, back in 1i64..3) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let sim = sim(seed, 8, 24 * 3 + 7, "");
            let system = sim.fleet.systems[index].clone();
            let today = sim.now().to_zoned_datetime(system.tz.clone()).date();
            let day = today.checked_sub(jiff::Span::new().days(back)).unwrap();
            let (_, total) = get(&sim, &format!("/pvsystems/{}/aggrdata?period=total", system.id)).await;
            let from = system.installation_date;
            let (_, days) = get(&sim, &format!("/pvsystems/{}/aggrdata?from={from}&to={today}", system.id)).await;
            let days = days["data"].as_array().unwrap().clone();
            for channel in ["EnergyProductionTotal", "EnergyFeedIn", "EnergyPurchased", "EnergyConsumptionTotal", "EnergyBattCharge", "EnergyOutput"] {
                let lifetime = value(&total["data"][0], channel);
                let summed: f64 = days.iter().map(|d| value(d, channel)).sum();
                prop_assert!((lifetime - summed).abs() < 0.01, "{channel}: total {lifetime} vs days {summed}");
                let daily = days.iter().find(|d| d["logDateTime"] == day.to_string()).map_or(0.0, |d| value(d, channel));
                let (hist, records) = hist_day_sum(&sim, &system.id, day, channel).await;
                prop_assert!(records >= 276, "a whole day of records: {records}");
                prop_assert!((hist - daily).abs() < 0.01, "{channel} on {day}: histdata {hist} vs aggrdata {daily}");
            }
            let production = value(&total["data"][0], "EnergyProductionTotal");
            let parts = value(&total["data"][0], "EnergyFeedIn") + value(&total["data"][0], "EnergySelfConsumptionTotal");
            if system.meter_id.is_some() {
                prop_assert!((production - parts).abs() < 0.01, "production = feed-in + self-consumption");
            }
            Ok(())
        })?;
    }
}

#[tokio::test]
async fn protocol_rules_are_enforced() {
    let sim = sim(1, 3, 30, "");
    let id = sim.fleet.systems[0].id.clone();
    let cases = [
        (
            format!("/pvsystems/{id}/histdata?from=2026-06-10T00:00:00Z&to=2026-06-11T00:00:01Z"),
            400,
            1004,
        ),
        (
            format!("/pvsystems/{id}/histdata?from=10.06.2026&to=2026-06-11T00:00:00Z"),
            400,
            1005,
        ),
        (
            format!(
                "/pvsystems/{id}/histdata?from=2026-06-10T00:00:00Z&to=2026-06-10T01:00:00Z&channel=Bogus"
            ),
            400,
            1008,
        ),
        (
            format!("/pvsystems/{id}/aggrdata?period=total&from=2026-06-01"),
            400,
            1004,
        ),
        (
            "/pvsystems/00000000-0000-4000-8000-000000000000".into(),
            404,
            1015,
        ),
        ("/pvsystems?limit=5000".into(), 400, 1004),
    ];
    for (uri, status, code) in cases {
        let (s, body) = get(&sim, &uri).await;
        assert_eq!(
            (s.as_u16(), body["responseError"].as_i64()),
            (status, Some(code)),
            "{uri}: {body}"
        );
    }
    // Parameter names are case-insensitive; links keep the /swqapi prefix and the filters.
    let (s, body) = get(&sim, "/swqapi/pvsystems?Limit=2&OFFSET=1").await;
    assert_eq!(s, 200);
    assert_eq!(body["pvSystems"].as_array().unwrap().len(), 2);
    assert_eq!(
        body["links"]["prev"],
        "http://sim.test/swqapi/pvsystems?offset=0&limit=2"
    );
    assert_eq!(body["links"]["next"], Value::Null);
    assert_eq!(body["links"]["totalItemsCount"], 3);
}

#[tokio::test]
async fn the_same_seed_and_clock_give_the_same_answers() {
    let (a, b) = (sim(42, 5, 36, ""), sim(42, 5, 36, ""));
    let id = a.fleet.systems[2].id.clone();
    let uri = format!("/pvsystems/{id}/histdata?from=2026-06-11T00:00:00Z&to=2026-06-11T12:00:00Z");
    assert_eq!(get(&a, &uri).await, get(&b, &uri).await);
    let other = sim(43, 5, 36, "");
    assert_ne!(a.fleet.systems[2].id, other.fleet.systems[2].id);
}

#[tokio::test]
async fn scenario_faults_show_in_the_api() {
    // Faults on systems where 08:00-10:00 UTC is daytime, so they cost production.
    let healthy = sim(5, 40, 11, "");
    let noon: Timestamp = "2026-06-10T09:00:00Z".parse().unwrap();
    let daylit: Vec<usize> = healthy
        .fleet
        .systems
        .iter()
        .filter(|s| moose_pvmodel::sun_position(&s.site, noon).elevation_deg > 30.0)
        .map(|s| s.index)
        .collect();
    assert!(
        daylit.len() >= 3,
        "the fleet has systems in daylight: {daylit:?}"
    );
    let faults = format!(
        r#"
        [[fault]]
        kind = "comm_loss"
        system = {}
        from = "2026-06-10T08:00:00Z"
        to = "2026-06-10T10:00:00Z"
        backfill_after = "+2h"

        [[fault]]
        kind = "inverter_offline"
        system = {}
        from = "2026-06-10T08:00:00Z"
        to = "2026-06-10T10:00:00Z"

        [[fault]]
        kind = "string_failure"
        system = {}
        mppt = 0
        from = "2026-06-01T00:00:00Z"

        [[fault]]
        kind = "api_outage"
        from = "2026-06-10T20:00:00Z"
        to = "2026-06-10T21:00:00Z"
    "#,
        daylit[0], daylit[1], daylit[2]
    );
    // Clock at +11h: the comm loss is over but its data is not delivered yet.
    let faulty = sim(5, 40, 11, &faults);
    let window = |id: &str| {
        format!("/pvsystems/{id}/histdata?from=2026-06-10T08:00:00Z&to=2026-06-10T09:55:00Z")
    };
    let count = |body: &Value| body["data"].as_array().map_or(0, Vec::len);

    let comm = faulty.fleet.systems[daylit[0]].id.clone();
    let (_, body) = get(&faulty, &window(&comm)).await;
    assert_eq!(count(&body), 0, "comm loss: nothing delivered yet");
    faulty.clock.set("2026-06-10T12:30:00Z".parse().unwrap());
    healthy.clock.set("2026-06-10T12:30:00Z".parse().unwrap());
    let (_, late) = get(&faulty, &window(&comm)).await;
    let (_, reference) = get(&healthy, &window(&comm)).await;
    assert_eq!(
        count(&late),
        24,
        "after the backfill delay every record arrives"
    );
    assert_eq!(
        late["data"], reference["data"],
        "the inverter kept producing during the comm loss"
    );

    let dead = faulty.fleet.systems[daylit[1]].id.clone();
    let (_, body) = get(&faulty, &window(&dead)).await;
    assert_eq!(count(&body), 0, "inverter offline: no data, ever");
    let day = "/aggrdata?from=2026-06-10&to=2026-06-10";
    let (_, dead_day) = get(&faulty, &format!("/pvsystems/{dead}{day}")).await;
    let (_, live_day) = get(&healthy, &format!("/pvsystems/{dead}{day}")).await;
    assert!(
        value(&dead_day["data"][0], "EnergyProductionTotal")
            < value(&live_day["data"][0], "EnergyProductionTotal"),
        "and no production"
    );

    let strings = &faulty.fleet.systems[daylit[2]];
    let (_, weak) = get(&faulty, &format!("/pvsystems/{}{day}", strings.id)).await;
    let (_, full) = get(&healthy, &format!("/pvsystems/{}{day}", strings.id)).await;
    let ratio = value(&weak["data"][0], "EnergyProductionTotal")
        / value(&full["data"][0], "EnergyProductionTotal");
    let inv = &strings.inverters[0];
    let expected = 1.0 - inv.mppt_peak_w[0] / inv.dc_peak_w();
    if strings.inverters.len() == 1 && inv.mppt_peak_w.len() > 1 {
        assert!(
            (ratio - expected).abs() < 0.1,
            "one dead tracker: ratio {ratio}, expected about {expected}"
        );
    } else {
        assert!(ratio < 1.0, "a dead tracker costs output: {ratio}");
    }

    faulty.clock.set("2026-06-10T20:30:00Z".parse().unwrap());
    let (status, body) = get(&faulty, "/pvsystems").await;
    assert_eq!(
        (status.as_u16(), body["responseError"].as_i64()),
        (503, Some(1012)),
        "fleet-wide outage"
    );
    let truth = faulty.ground_truth_json();
    assert_eq!(truth.as_array().unwrap().len(), 4);
    assert_eq!(truth[0]["kind"], "comm_loss");
    assert_eq!(truth[0]["system_id"], comm.as_str());
}
