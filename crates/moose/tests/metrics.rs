//! `GET /metrics` as Prometheus scrapes it: the counters move as a polling pass, an incident and
//! a delivery round happen, and the endpoint answers only the configured token.

use std::sync::Arc;

mod support;

use axum::body::Body;
use axum::http::Request;
use jiff::{SignedDuration, Timestamp};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

const TOKEN: &str = "scrape-token-for-the-test";

async fn scrape(app: &axum::Router, token: Option<&str>) -> (u16, String) {
    let mut req = Request::builder().uri("/metrics");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let r = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = r.status().as_u16();
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// The value of the sample `name{labels}` (labels as rendered), or 0.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_with_a_poll_pass_an_incident_and_a_delivery() {
    let dir = tempfile::tempdir().unwrap();
    // E-mail goes to a real SMTP server, so that a delivery really happens.
    let (smtp, smtp_port) = support::Smtp::start(dir.path());
    let config = moose_config::load(&moose_config::Sources {
        env: [
            (
                "MOOSE_DATA_DIR".to_owned(),
                dir.path().join("data").display().to_string(),
            ),
            ("MOOSE_METRICS_TOKEN".to_owned(), TOKEN.to_owned()),
            ("MOOSE_SMTP_HOST".to_owned(), "127.0.0.1".to_owned()),
            ("MOOSE_SMTP_PORT".to_owned(), smtp_port.to_string()),
            ("MOOSE_SMTP_TLS".to_owned(), "none".to_owned()),
        ]
        .into(),
        ..moose_config::Sources::default()
    })
    .unwrap()
    .config;
    let app = moose_app::App::open(config).await.unwrap();
    let api = app.router_with_jobs(&["solar-data-polling", "device-status-polling", "notify-user"]);
    assert_eq!(scrape(&api, None).await.0, 401, "not without the token");
    assert_eq!(scrape(&api, Some("wrong")).await.0, 401);
    let (status, before) = scrape(&api, Some(TOKEN)).await;
    assert_eq!(status, 200);

    // Solar.web is down for the whole test: every system unreachable at once → one platform
    // incident, which administrators are told about in the app.
    app.auth()
        .create_user(
            "admin@example.com",
            moose_auth::OrgRole::Admin,
            None,
            Some("a long enough password"),
            None,
        )
        .await
        .unwrap();
    let now = Timestamp::now();
    let sim = Arc::new(
        moose_sim::Simulator::new(moose_sim::SimConfig {
            systems: 4,
            seed: 11,
            scenario: moose_sim::ScenarioSource::Toml(
                "[[fault]]\nkind = \"api_outage\"\nfrom = \"+1h\"\nto = \"+5h\"\n".into(),
            ),
            start: Some(now - SignedDuration::from_hours(2)),
            speed: 0.0,
            ..moose_sim::SimConfig::default()
        })
        .unwrap(),
    );
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
    // Discovery before the outage, then a pass during it.
    sim.clock.set(now - SignedDuration::from_mins(90));
    let settings = moose_solardata::PollSettings {
        initial_lookback: SignedDuration::from_hours(2),
        sun_aware: false,
        ..moose_solardata::PollSettings::default()
    };
    moose_solardata::poll_once(
        &client,
        &app.solar_repo(),
        &settings,
        now - SignedDuration::from_mins(90),
        &CancellationToken::new(),
    )
    .await
    .unwrap();
    sim.clock.set(now);
    let (_, after_poll) = scrape(&api, Some(TOKEN)).await;
    assert_eq!(
        sample(&after_poll, "moose_poll_passes_total") - sample(&before, "moose_poll_passes_total"),
        1.0,
        "{after_poll}"
    );
    assert!(
        sample(&after_poll, "moose_solarweb_calls_total")
            > sample(&before, "moose_solarweb_calls_total")
    );

    let job = app.status_job(client);
    for minutes in [10, 5, 0] {
        moose_status::status_pass(
            &job,
            now - SignedDuration::from_mins(minutes),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    }
    let (_, after_status) = scrape(&api, Some(TOKEN)).await;
    let opened = "moose_incidents_opened_total{kind=\"upstream_outage\"}";
    assert_eq!(
        sample(&after_status, opened) - sample(&before, opened),
        1.0,
        "{after_status}"
    );
    assert!(sample(&after_status, "moose_status_passes_total") >= 3.0);

    let dispatcher = app.dispatcher().await.unwrap();
    let round = dispatcher
        .dispatch_due(Timestamp::now() + SignedDuration::from_mins(5))
        .await
        .unwrap();
    assert!(round.sent > 0, "{round:?}");
    let (_, after_delivery) = scrape(&api, Some(TOKEN)).await;
    let sent = "moose_notifications_total{outcome=\"sent\"}";
    assert_eq!(
        sample(&after_delivery, sent) - sample(&before, sent),
        round.sent as f64,
        "{after_delivery}"
    );
    assert_eq!(
        sample(
            &after_delivery,
            "moose_notification_deliveries_total{channel=\"email\",outcome=\"sent\"}"
        ) - sample(
            &before,
            "moose_notification_deliveries_total{channel=\"email\",outcome=\"sent\"}"
        ),
        round.sent as f64,
        "by channel: {after_delivery}"
    );
    // Requests are counted by route template, never by concrete path.
    assert!(
        after_delivery.contains(
            "moose_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"200\"}"
        ),
        "{after_delivery}"
    );
    assert!(after_delivery.contains("# TYPE moose_http_request_duration_seconds histogram"));
    drop(smtp);
}
