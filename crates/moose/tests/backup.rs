//! `moose backup` and `moose restore` as an operator runs them: a SQLite store filled by a
//! simulated week (users, systems, data, incidents, notifications, conversations) is backed up,
//! restored into DynamoDB (moto on loopback), backed up again and restored into a new SQLite
//! store; every API answer is the same on all three. Needs `./scripts/test` (moto).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

const BIN: &str = env!("CARGO_BIN_EXE_moose");
const PASSWORD: &str = "correct horse battery staple";

fn moose(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    // The command exits by itself, so its coverage profile is complete: let it write one.
    let out = Command::new(BIN)
        .env_clear()
        .envs(std::env::var_os("LLVM_PROFILE_FILE").map(|p| ("LLVM_PROFILE_FILE", p)))
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn run(dir: &Path, env: Vec<(String, String)>, args: Vec<String>) -> (bool, String, String) {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        moose(&dir, &env, &args)
    })
    .await
    .unwrap()
}

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status().as_u16();
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn config(env: &[(&str, &str)]) -> moose_config::Config {
    moose_config::load(&moose_config::Sources {
        env: env
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect(),
        ..moose_config::Sources::default()
    })
    .unwrap()
    .config
}

/// A week of a simulated fleet in the SQLite store at `data`: returns the admin's token and the
/// routes whose answers the copies must repeat.
async fn simulated_week(data: &Path) -> (String, Vec<String>) {
    let store: Arc<dyn moose_store::Store> =
        Arc::new(moose_store_sqlite::SqliteStore::open(data).await.unwrap());
    let app = moose_app::App::with_store(
        config(&[("MOOSE_DATA_DIR", data.to_str().unwrap())]),
        Arc::clone(&store),
    );
    let now = Timestamp::now();
    let sim = Arc::new(
        moose_sim::Simulator::new(moose_sim::SimConfig {
            systems: 3,
            seed: 21,
            start: Some(now - SignedDuration::from_hours(168)),
            speed: 0.0,
            scenario: moose_sim::ScenarioSource::Toml(
                "[[fault]]\nkind = \"error_message\"\nsystem = 2\ncode = 447\nfrom = \"+160h\"\nto = \"+200h\"\n".into(),
            ),
            ..moose_sim::SimConfig::default()
        })
        .unwrap(),
    );
    sim.clock.set(now);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = moose_sim::router(Arc::clone(&sim));
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let client = app
        .solarweb_at(
            &url,
            moose_solarweb::Credentials {
                access_key_id: moose_domain::Secret::new(moose_sim::DEFAULT_ACCESS_KEY_ID),
                access_key_value: moose_domain::Secret::new(moose_sim::DEFAULT_ACCESS_KEY_VALUE),
                login: None,
            },
        )
        .unwrap();
    let (admin, _) = app
        .auth()
        .create_user(
            "admin@example.com",
            moose_auth::OrgRole::Admin,
            None,
            Some(PASSWORD),
            None,
        )
        .await
        .unwrap();
    let (owner, _) = app
        .auth()
        .create_user(
            "owner@example.com",
            moose_auth::OrgRole::Viewer,
            None,
            Some(PASSWORD),
            None,
        )
        .await
        .unwrap();
    let settings = moose_solardata::PollSettings {
        initial_lookback: SignedDuration::from_hours(168),
        sun_aware: false,
        ..moose_solardata::PollSettings::default()
    };
    moose_solardata::poll_once(
        &client,
        &app.solar_repo(),
        &settings,
        now,
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    let job = app.status_job(client);
    for minutes in [10, 0] {
        moose_status::status_pass(
            &job,
            now - SignedDuration::from_mins(minutes),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    }
    // An open incident with its notifications, as the engine writes them (one transaction).
    let system = app.solar_repo().all_systems().await.unwrap()[1].id.clone();
    let opened = now - SignedDuration::from_mins(50);
    let incident = moose_incidents::Incident {
        id: moose_incidents::Incident::make_id(
            moose_incidents::IncidentKind::DeviceError,
            opened,
            Some(&system),
        ),
        system_name: None,
        system: Some(system.clone()),
        kind: moose_incidents::IncidentKind::DeviceError,
        severity: moose_incidents::Severity::Critical,
        title: "Insulation fault (state code 447)".into(),
        summary: "The inverter reports an insulation fault.".into(),
        action: "Call a qualified electrician.".into(),
        since: opened,
        opened_at: opened,
        last_seen_at: opened,
        resolved_at: None,
        resolution: None,
        lost_energy_wh: Some(1234.5),
        hidden_energy_wh: None,
        acked_by: None,
        acked_at: None,
        evidence: Vec::new(),
    };
    let principal = moose_auth::Principal {
        user: admin.clone(),
        credential: moose_auth::Credential::Supabase,
    };
    app.auth()
        .grant(
            &principal,
            moose_auth::Membership {
                system: system.clone(),
                user: owner.id.clone(),
                role: moose_auth::SystemRole::Owner,
            },
        )
        .await
        .unwrap();
    let repo = moose_incidents::IncidentRepo::new(Arc::clone(&store));
    let (mut status, version) = match repo.status(&system).await.unwrap() {
        Some(v) => (v.value, v.version),
        None => (moose_incidents::SystemStatus::new(system, opened), 0),
    };
    status.state = moose_incidents::SystemState::Faulty;
    status.open.insert(incident.kind, incident.id.clone());
    let change =
        moose_incidents::Change::new(moose_incidents::ChangeEvent::Opened, incident.clone());
    let mut ops = moose_incidents::NotificationPlanner::plan(&app.planner(), &change)
        .await
        .unwrap();
    assert!(!ops.is_empty(), "the owner is notified");
    ops.push(moose_incidents::IncidentRepo::incident_op(&incident, 0).unwrap());
    ops.push(moose_incidents::IncidentRepo::status_op(&status, version).unwrap());
    repo.commit(ops).await.unwrap();
    let api = app.router();
    let (_, login) = call(
        &api,
        "POST",
        "/api/auth/login",
        None,
        Some(json!({"email": "admin@example.com", "password": PASSWORD})),
    )
    .await;
    let token = login["access_token"].as_str().unwrap().to_owned();
    let (_, chat) = call(
        &api,
        "POST",
        "/api/chat",
        Some(&token),
        Some(json!({"message": "what does state code 447 mean?"})),
    )
    .await;
    let conversation = chat["conversation_id"].as_str().unwrap().to_owned();
    let systems = app.solar_repo().all_systems().await.unwrap();
    assert_eq!(systems.len(), 3);
    let (_, incidents) = call(&api, "GET", "/api/incidents", Some(&token), None).await;
    assert!(
        !incidents["incidents"].as_array().unwrap().is_empty(),
        "the week has incidents: {incidents}"
    );
    let day = (now - SignedDuration::from_hours(72))
        .to_zoned_datetime(jiff::tz::TimeZone::UTC)
        .date();
    let mut routes = vec![
        "/api/systems".to_owned(),
        "/api/incidents".into(),
        "/api/incidents?state=open".into(),
        "/api/notifications".into(),
        "/api/chat/conversations".into(),
        format!("/api/chat/conversations/{conversation}"),
        "/api/users".into(),
        "/api/users/me".into(),
        format!("/api/users/{}/activity", admin.id),
    ];
    for s in &systems {
        let id = s.id.as_str();
        routes.extend([
            format!("/api/systems/{id}"),
            format!("/api/systems/{id}/status"),
            format!(
                "/api/systems/{id}/energy?period=day&from={}&to={day}",
                day.checked_sub(jiff::Span::new().days(4)).unwrap()
            ),
            format!(
                "/api/systems/{id}/production?resolution=1h&from={}T00:00:00Z&to={}T00:00:00Z",
                day,
                day.tomorrow().unwrap()
            ),
            format!(
                "/api/systems/{id}/kpis?from={}&to={day}",
                day.checked_sub(jiff::Span::new().days(4)).unwrap()
            ),
        ]);
    }
    store.close().await.unwrap();
    (token, routes)
}

async fn answers(
    store: Arc<dyn moose_store::Store>,
    token: &str,
    routes: &[String],
) -> Vec<(String, u16, Value)> {
    let app = moose_app::App::with_store(config(&[]), store);
    let api = app.router();
    let mut out = Vec::new();
    for r in routes {
        let (status, body) = call(&api, "GET", r, Some(token), None).await;
        out.push((r.clone(), status, body));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_week_round_trips_sqlite_to_dynamodb_and_back_with_the_same_api_answers() {
    let endpoint = std::env::var("MOOSE_TEST_DYNAMODB_ENDPOINT")
        .expect("MOOSE_TEST_DYNAMODB_ENDPOINT: run ./scripts/test, which starts moto_server");
    let dir = tempfile::tempdir().unwrap();
    let (a, c) = (dir.path().join("a"), dir.path().join("c"));
    let (token, routes) = simulated_week(&a).await;
    let table = format!(
        "moose-backup-{}-{}",
        std::process::id(),
        Timestamp::now().as_millisecond()
    );
    let aws = vec![
        ("AWS_ACCESS_KEY_ID".to_owned(), "moose-test".to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), "moose-test".to_owned()),
        ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
    ];
    let mut dynamo = aws.clone();
    dynamo.extend([
        ("MOOSE_STORE".to_owned(), "dynamodb".to_owned()),
        ("DYNAMODB_TABLE_NAME".to_owned(), table.clone()),
        ("MOOSE_DYNAMODB_ENDPOINT".to_owned(), endpoint.clone()),
    ]);
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let sqlite = |p: &Path| vec![("MOOSE_DATA_DIR".to_owned(), p.display().to_string())];

    let (ok, out, err) = run(
        dir.path(),
        sqlite(&a),
        s(&["backup", "--out", "week.jsonl"]),
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.starts_with("backed up "), "{out}");
    let (ok, _, err) = run(dir.path(), dynamo.clone(), s(&["table", "create"])).await;
    assert!(ok, "{err}");
    let (ok, out, err) = run(dir.path(), dynamo.clone(), s(&["restore", "week.jsonl"])).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("checksum verified") && out.contains("into the dynamodb store"),
        "{out}"
    );
    // Restoring again into the now non-empty table is refused, naming the way out.
    let (ok, _, err) = run(dir.path(), dynamo.clone(), s(&["restore", "week.jsonl"])).await;
    assert!(!ok && err.contains("--force"), "{err}");

    let (ok, _, err) = run(
        dir.path(),
        dynamo.clone(),
        s(&["backup", "--out", "week-from-dynamodb.jsonl"]),
    )
    .await;
    assert!(ok, "{err}");
    let (ok, _, err) = run(
        dir.path(),
        sqlite(&c),
        s(&["restore", "week-from-dynamodb.jsonl"]),
    )
    .await;
    assert!(ok, "{err}");

    let settings = moose_store_dynamodb::DynamoSettings {
        table,
        endpoint: Some(endpoint),
        region: Some("us-east-1".into()),
    };
    let original = answers(
        Arc::new(moose_store_sqlite::SqliteStore::open(&a).await.unwrap()),
        &token,
        &routes,
    )
    .await;
    let in_dynamo = answers(
        Arc::new(moose_store_dynamodb::DynamoStore::connect(&settings).await),
        &token,
        &routes,
    )
    .await;
    let back = answers(
        Arc::new(moose_store_sqlite::SqliteStore::open(&c).await.unwrap()),
        &token,
        &routes,
    )
    .await;
    for ((o, d), b) in original.iter().zip(&in_dynamo).zip(&back) {
        assert_eq!(o.1, 200, "{}: {}", o.0, o.2);
        assert_eq!(o, d, "{}: SQLite and DynamoDB answer differently", o.0);
        assert_eq!(o, b, "{}: the round trip changed the answer", o.0);
    }

    // A damaged archive is refused before the store is touched.
    let text = std::fs::read_to_string(dir.path().join("week.jsonl")).unwrap();
    std::fs::write(dir.path().join("damaged.jsonl"), &text[..text.len() / 2]).unwrap();
    let d = dir.path().join("d");
    let (ok, _, err) = run(dir.path(), sqlite(&d), s(&["restore", "damaged.jsonl"])).await;
    assert!(!ok && err.contains("truncated"), "{err}");
    assert!(!d.exists(), "not even the store was created");
    // --native asks DynamoDB itself for a backup.
    let (ok, out, err) = run(dir.path(), dynamo, s(&["backup", "--native"])).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("created DynamoDB backup moose-") && out.contains("AVAILABLE"),
        "{out}"
    );
}
