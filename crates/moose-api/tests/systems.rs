//! solar-data-service over data that solar-data-polling pulled from the simulator.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::Org;
use jiff::{SignedDuration, Timestamp};
use moose_domain::Secret;
use moose_sim::{SimConfig, Simulator};
use moose_solardata::{PollSettings, SolarRepo, poll_once};
use moose_solarweb::{AggrPeriod, ClientConfig, Credentials, SolarWebClient};
use serde_json::json;
use tokio_util::sync::CancellationToken;

struct Fleet {
    org: Org,
    sim: Arc<Simulator>,
    client: SolarWebClient,
}

async fn fleet() -> Fleet {
    let start: Timestamp = "2026-06-08T00:00:00Z".parse().unwrap();
    fleet_at(start, start + SignedDuration::from_hours(12)).await
}

/// Three simulated systems from `start`, polled once at `now` (72 hours back).
async fn fleet_at(start: Timestamp, now: Timestamp) -> Fleet {
    let org = Org::new().await;
    let sim = Arc::new(
        Simulator::new(SimConfig {
            systems: 3,
            seed: 5,
            start: Some(start),
            speed: 0.0,
            install_days: (30, 40),
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
    let mut cc = ClientConfig::new(url, creds);
    cc.requests_per_second = 10_000.0;
    let client = SolarWebClient::new(cc).unwrap();
    let repo = SolarRepo::new(Arc::clone(&org.store));
    let settings = PollSettings {
        initial_lookback: SignedDuration::from_hours(72),
        sun_aware: false,
        ..PollSettings::default()
    };
    sim.clock.set(now);
    let summary = poll_once(&client, &repo, &settings, now, &CancellationToken::new())
        .await
        .unwrap();
    assert!(summary.records_written > 3 * 600, "{summary:?}");
    Fleet { org, sim, client }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_energy_and_kpis_match_the_source_and_respect_access() {
    let f = fleet().await;
    let (admin, _) = f.org.login("admin@example.com").await;
    let list = f
        .org
        .call("GET", "/api/systems?limit=2", Some(&admin), None)
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert_eq!(list.body["systems"].as_array().unwrap().len(), 2);
    let next = list.body["next_cursor"].as_str().unwrap().to_owned();
    let rest = f
        .org
        .call(
            "GET",
            &format!("/api/systems?limit=100&cursor={next}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(
        rest.body["systems"].as_array().unwrap().len(),
        3,
        "5 systems in all (2 seeded + 3 polled): {} then {}",
        list.body,
        rest.body
    );

    let (viewer, _) = f.org.login("viewer@example.com").await;
    let mine = f.org.call("GET", "/api/systems", Some(&viewer), None).await;
    let ids: Vec<&str> = mine.body["systems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["A"], "a viewer lists only their systems");

    let s = &f.sim.fleet.systems[0];
    let detail = f
        .org
        .call("GET", &format!("/api/systems/{}", s.id), Some(&admin), None)
        .await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.body);
    assert!(
        detail.body["devices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["device_type"] == "Inverter")
    );
    assert!(detail.body["last_data_at"].is_string());
    assert_eq!(
        f.org
            .call(
                "GET",
                &format!("/api/systems/{}", s.id),
                Some(&viewer),
                None
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let day = jiff::civil::date(2026, 6, 7);
    let aggr = f
        .client
        .aggrdata(
            &s.id,
            None,
            AggrPeriod::Days(day, day),
            &["EnergyProductionTotal"],
        )
        .await
        .unwrap();
    let truth =
        moose_solarweb::types::channel_value(&aggr[0].channels, "EnergyProductionTotal").unwrap();
    let daily = f
        .org
        .call(
            "GET",
            &format!(
                "/api/systems/{}/production?from=2026-06-07&to=2026-06-08&resolution=1d",
                s.id
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(daily.status, StatusCode::OK, "{}", daily.body);
    assert_eq!(daily.body["unit"], "Wh");
    assert_eq!(daily.body["time_zone"], s.tz_name);
    let produced = daily.body["points"][0]["produced_wh"].as_f64().unwrap();
    assert!(
        (produced - truth).abs() < 1.0,
        "API {produced} vs simulator {truth}"
    );

    let fine = f
        .org
        .call(
            "GET",
            &format!(
                "/api/systems/{}/production?from=2026-06-07&to=2026-06-08&resolution=5m",
                s.id
            ),
            Some(&admin),
            None,
        )
        .await;
    let points = fine.body["points"].as_array().unwrap();
    assert!((276..=300).contains(&points.len()), "{}", points.len());
    let sum: f64 = points
        .iter()
        .filter_map(|p| p["produced_wh"].as_f64())
        .sum();
    assert!((sum - truth).abs() < 1.0);
    let hourly = f
        .org
        .call(
            "GET",
            &format!(
                "/api/systems/{}/production?from=2026-06-07&to=2026-06-08&resolution=1h",
                s.id
            ),
            Some(&admin),
            None,
        )
        .await;
    let hours = hourly.body["points"].as_array().unwrap();
    assert!((23..=25).contains(&hours.len()));
    let hourly_sum: f64 = hours.iter().filter_map(|p| p["produced_wh"].as_f64()).sum();
    assert!(
        (hourly_sum - truth).abs() < 1.0,
        "hourly roll-ups add up to the day: {hourly_sum} vs {truth}"
    );
    assert_eq!(
        hours
            .iter()
            .map(|p| p["records"].as_u64().unwrap())
            .sum::<u64>(),
        points
            .iter()
            .map(|p| p["records"].as_u64().unwrap())
            .sum::<u64>()
    );
    // The future has no data: gaps are null, not zero.
    let ahead = f
        .org
        .call(
            "GET",
            &format!(
                "/api/systems/{}/production?from=2026-06-09&to=2026-06-10&resolution=1h",
                s.id
            ),
            Some(&admin),
            None,
        )
        .await;
    assert!(
        ahead.body["points"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["produced_wh"].is_null() && p["records"] == 0)
    );

    let energy = f
        .org
        .call(
            "GET",
            &format!(
                "/api/systems/{}/energy?period=day&from=2026-06-06&to=2026-06-07",
                s.id
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(energy.status, StatusCode::OK, "{}", energy.body);
    assert_eq!(energy.body["energy"][1]["period"], "2026-06-07");
    assert!(
        (energy.body["energy"][1]["energy"]["produced_wh"]
            .as_f64()
            .unwrap()
            - truth)
            .abs()
            < 1.0
    );
    let month = f
        .org
        .call(
            "GET",
            &format!(
                "/api/systems/{}/energy?period=month&from=2026-06-01&to=2026-06-30",
                s.id
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(month.body["energy"][0]["period"], "2026-06");
    let csv = f
        .org
        .call_raw(
            "GET",
            &format!(
                "/api/systems/{}/energy?period=day&from=2026-06-07&to=2026-06-07&format=csv",
                s.id
            ),
            Some(&admin),
        )
        .await;
    assert!(csv.starts_with("start,produced_wh,"), "{csv}");
    assert!(
        csv.lines().nth(1).unwrap().starts_with("2026-06-07,"),
        "{csv}"
    );

    let kpis = f
        .org
        .call(
            "GET",
            &format!("/api/systems/{}/kpis?from=2026-06-07&to=2026-06-07", s.id),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(kpis.status, StatusCode::OK, "{}", kpis.body);
    let k = &kpis.body["kpis"];
    let yield_ = k["specific_yield_kwh_per_kwp"].as_f64().unwrap();
    assert!((yield_ - truth / s.peak_power_w()).abs() < 1e-6, "kWh/kWp");
    let pi = k["performance_index"].as_f64().unwrap();
    assert!(
        pi > 0.0 && pi < 1.2,
        "production against the clear-sky expectation: {pi}"
    );
    assert!(k["data_completeness"].as_f64().unwrap() > 0.99);
    assert_eq!(k["unknown"], json!({}), "{k}");

    // A month around that one day: the expectation covers only the intervals with data, and
    // with 1 day in 30 the index and the yield are unknown with the reason, not tiny numbers.
    let month = f
        .org
        .call(
            "GET",
            &format!("/api/systems/{}/kpis?from=2026-05-10&to=2026-06-08", s.id),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(month.status, StatusCode::OK, "{}", month.body);
    let m = &month.body["kpis"];
    assert!(m["data_completeness"].as_f64().unwrap() < 0.2, "{m}");
    assert!(m["performance_index"].is_null(), "{m}");
    assert!(m["specific_yield_kwh_per_kwp"].is_null(), "{m}");
    let why = m["unknown"]["performance_index"].as_str().unwrap();
    assert!(
        why.contains("daylight 5-minute intervals have data"),
        "{why}"
    );
    assert!(
        m["unknown"]["specific_yield_kwh_per_kwp"].is_string(),
        "{m}"
    );
    let covered = m["expected_clear_sky_wh"].as_f64().unwrap();
    let whole = m["expected_clear_sky_period_wh"].as_f64().unwrap();
    assert!(
        covered > 0.0 && covered < whole / 5.0,
        "the expectation over the intervals with data ({covered}) is a small part of the month's ({whole})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_sets_a_sites_position() {
    let org = Org::new().await;
    let (manager, _) = org.login("manager@example.com").await;
    let r = org
        .call(
            "PATCH",
            "/api/systems/B",
            Some(&manager),
            Some(json!({"latitude": 47.07, "longitude": 15.44})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["location"],
        json!({"latitude": 47.07, "longitude": 15.44, "source": "given"})
    );
    let r = org
        .call(
            "PATCH",
            "/api/systems/B",
            Some(&manager),
            Some(json!({"latitude": 95.0, "longitude": 15.44})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("latitude"),
        "{}",
        r.body
    );
    let (tech, _) = org.login("tech@example.com").await;
    let r = org
        .call(
            "PATCH",
            "/api/systems/A",
            Some(&tech),
            Some(json!({"latitude": 1.0, "longitude": 1.0})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "a technician member may see A but not manage it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_get_a_400_naming_the_parameter() {
    let f = fleet().await;
    let (admin, _) = f.org.login("admin@example.com").await;
    let id = &f.sim.fleet.systems[0].id;
    let cases = [
        (
            format!("/api/systems/{id}/production?from=2026-13-01"),
            "from",
        ),
        (format!("/api/systems/{id}/production?to=yesterday"), "to"),
        (
            format!("/api/systems/{id}/production?from=2026-06-08&to=2026-06-07"),
            "from",
        ),
        (
            format!("/api/systems/{id}/production?resolution=2m"),
            "resolution",
        ),
        (
            format!("/api/systems/{id}/production?from=2026-01-01&to=2026-06-01&resolution=5m"),
            "resolution",
        ),
        (format!("/api/systems/{id}/production?format=xml"), "format"),
        (
            format!("/api/systems/{id}/production?colour=blue"),
            "colour",
        ),
        (format!("/api/systems/{id}/energy?period=week"), "period"),
        (format!("/api/systems/{id}/energy?from=06/01/2026"), "from"),
        (
            format!("/api/systems/{id}/kpis?from=2024-01-01&to=2026-01-01"),
            "to",
        ),
        ("/api/systems?limit=0".to_owned(), "limit"),
    ];
    for (uri, param) in cases {
        let r = f.org.call("GET", &uri, Some(&admin), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{uri}: {}", r.body);
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains(param),
            "{uri} names {param}: {}",
            r.body
        );
    }
    let r = f
        .org
        .call(
            "GET",
            "/api/systems/no-such-system/production",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let _ = json!({});
}

/// The integrity check reads the stored days: newest data, daylight slots missing, and whether
/// the newest day with Solar.web's own total agrees with the records — and says so when a
/// stored day disagrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_integrity_check_finds_a_day_that_disagrees_with_solar_web() {
    let now = Timestamp::now();
    let f = fleet_at(now - SignedDuration::from_hours(80), now).await;
    let (admin, _) = f.org.login("admin@example.com").await;
    let systems = f.org.call("GET", "/api/systems", Some(&admin), None).await;
    let id = systems.body["systems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .find(|id| id != "A" && id != "B")
        .unwrap();
    let r = f
        .org
        .call(
            "GET",
            &format!("/api/systems/{id}/integrity"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["system"], id.as_str());
    assert!(r.body["last_data_at"].is_string(), "{}", r.body);
    let (daylight, missing) = (
        r.body["daylight_slots"].as_u64().unwrap(),
        r.body["missing_daylight_slots"].as_u64().unwrap(),
    );
    assert!(missing <= daylight, "{}", r.body);
    // Give the newest stored day a Solar.web total that the records do not add up to.
    let sid = moose_domain::SystemId::parse(&id).unwrap();
    let repo = SolarRepo::new(Arc::clone(&f.org.store));
    let meta = repo.meta(&sid).await.unwrap().unwrap();
    let today = Timestamp::now().to_zoned_datetime(meta.tz()).date();
    let days = repo
        .days(
            &sid,
            today.checked_sub(jiff::Span::new().days(2)).unwrap(),
            today,
        )
        .await
        .unwrap();
    let newest = days.last().unwrap().date;
    let key = moose_store::Key::new(
        moose_domain::keys::system_pk(&sid),
        moose_domain::keys::system_day_sk(newest),
    );
    let mut item = moose_store::Store::get(&*f.org.store, &key)
        .await
        .unwrap()
        .unwrap();
    item.attrs
        .insert("reported_wh".into(), serde_json::json!(9_999_999.0));
    moose_store::Store::put(&*f.org.store, item, moose_store::Condition::None)
        .await
        .unwrap();
    let r = f
        .org
        .call(
            "GET",
            &format!("/api/systems/{id}/integrity"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(r.body["consistent"], false, "{}", r.body);
    assert_eq!(r.body["checked_day"], newest.to_string().as_str());
    assert_eq!(r.body["solarweb_wh"], 9_999_999.0);
    // Another user's system is not found, as for every system route.
    let (outsider, _) = f.org.login("outsider@example.com").await;
    assert_eq!(
        f.org
            .call(
                "GET",
                &format!("/api/systems/{id}/integrity"),
                Some(&outsider),
                None
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// The fleet summary: every visible system with today's energy (the energy API's own figure)
/// against the clear-sky expectation so far, a page at a time with totals over all, filtered by
/// state, under the access policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_summary_pages_the_callers_systems_with_totals_over_all() {
    let now = Timestamp::now();
    let f = fleet_at(now - SignedDuration::from_hours(72), now).await;
    let (admin, _) = f.org.login("admin@example.com").await;
    let (tech, _) = f.org.login("tech@example.com").await;
    let all = f
        .org
        .call("GET", "/api/fleet/summary?limit=1000", Some(&admin), None)
        .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let rows = all.body["systems"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 5, "two bare systems and three simulated ones");
    assert_eq!(all.body["totals"]["systems"], 5);
    assert!(all.body["next_cursor"].is_null());
    let mut produced_total = 0.0;
    for r in &rows {
        let id = r["id"].as_str().unwrap();
        let date = r["today"]["date"].as_str().unwrap();
        let energy = f
            .org
            .call(
                "GET",
                &format!("/api/systems/{id}/energy?period=day&from={date}&to={date}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(energy.status, StatusCode::OK, "{}", energy.body);
        let api_wh = energy.body["energy"][0]["energy"]["produced_wh"].as_f64();
        assert_eq!(
            r["today"]["produced_wh"].as_f64(),
            api_wh,
            "{id}: the energy API's figure for {date}: {}",
            energy.body
        );
        produced_total += api_wh.unwrap_or(0.0);
        assert_eq!(r["state"], "unknown", "no status pass has run");
        assert_eq!(r["open_incidents"], 0);
    }
    assert_eq!(
        all.body["totals"]["today_produced_wh"].as_f64().unwrap(),
        produced_total.round()
    );
    // The expectation so far lies between the clear-sky energy up to 15 minutes before and
    // after now, computed here from the model directly.
    let repo = SolarRepo::new(Arc::clone(&f.org.store));
    for r in rows
        .iter()
        .filter(|r| !r["today"]["expected_clear_sky_wh"].is_null())
    {
        let id = moose_domain::SystemId::parse(r["id"].as_str().unwrap()).unwrap();
        let meta = repo.meta(&id).await.unwrap().unwrap();
        let model =
            moose_solardata::ExpectedModel::of(&meta, &repo.devices(&id).await.unwrap()).unwrap();
        let midnight =
            moose_solardata::query::local_midnight(&meta, now.to_zoned_datetime(meta.tz()).date());
        let quarter = SignedDuration::from_mins(15);
        let a = model.energy_wh(midnight, (now - quarter).max(midnight));
        let b = model.energy_wh(midnight, now + quarter);
        // The model integrates in 15-minute steps from its start, so after sunset the two
        // bounds differ only by the partial step's rounding: allow 0.1 % of the day.
        let (low, high) = (a.min(b), a.max(b));
        let slack = 1.0 + high * 0.001;
        let got = r["today"]["expected_clear_sky_wh"].as_f64().unwrap();
        assert!(
            low - slack <= got && got <= high + slack,
            "{id}: {low} <= {got} <= {high}"
        );
    }
    // Pages of two, following the cursor, give the same rows; totals stay over all.
    let mut paged = Vec::new();
    let mut uri = "/api/fleet/summary?limit=2".to_owned();
    loop {
        let page = f.org.call("GET", &uri, Some(&admin), None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert_eq!(page.body["totals"]["systems"], 5);
        paged.extend(
            page.body["systems"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].clone()),
        );
        match page.body["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/fleet/summary?limit=2&cursor={c}"),
            None => break,
        }
    }
    let ids: Vec<_> = rows.iter().map(|r| r["id"].clone()).collect();
    assert_eq!(paged, ids);
    // By state.
    let ok = f
        .org
        .call("GET", "/api/fleet/summary?state=ok", Some(&admin), None)
        .await;
    assert_eq!(ok.body["systems"], json!([]));
    assert_eq!(ok.body["totals"]["by_state"]["unknown"], 5);
    let unknown = f
        .org
        .call(
            "GET",
            "/api/fleet/summary?state=unknown",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(unknown.body["systems"].as_array().map(Vec::len), Some(5));
    // A technician sees the one system they are a member of.
    let mine = f
        .org
        .call("GET", "/api/fleet/summary", Some(&tech), None)
        .await;
    assert_eq!(mine.status, StatusCode::OK);
    assert_eq!(mine.body["totals"]["systems"], 1);
    assert_eq!(mine.body["systems"][0]["id"], "A");
    // Bad input names the parameter.
    for bad in ["limit=0", "state=sunny", "cursor=zz", "colour=red"] {
        let r = f
            .org
            .call(
                "GET",
                &format!("/api/fleet/summary?{bad}"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
        assert!(r.body["error"]["message"].as_str().is_some(), "{}", r.body);
    }
    let anonymous = f.org.call("GET", "/api/fleet/summary", None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}
