//! `moose verify`'s checks (`moose_release::checks::run` over an [`HttpTarget`]) against a real
//! Moose API served in-process on loopback: a healthy server passes every check; a credential
//! that does not sign in, a read-only API key, a missing credential and the PreTraffic hook's
//! narrower scope each give the outcome `moose verify` promises. Also the measuring helpers the
//! release report uses: `sample_latency`, `server_error_rate` and `delivery_rate`.

mod common;

use common::{ADMIN, METRICS_TOKEN, Moose, Setup, closed_port, sunny_longitude_now};
use moose_release::checks::{self, Check, HttpTarget, Method, Options, Probe, Scope, Target as _};

fn names(checks: &[Check]) -> Vec<&str> {
    checks.iter().map(|c| c.name.as_str()).collect()
}

fn find<'a>(checks: &'a [Check], name: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name} check in {checks:#?}"))
}

fn serve_setup() -> Setup {
    Setup {
        jobs: Some(vec![
            "solar-data-polling".into(),
            "device-status-polling".into(),
        ]),
        metrics: true,
    }
}

#[tokio::test]
async fn a_healthy_server_with_an_administrators_token_passes_every_check() {
    let moose = Moose::start(serve_setup()).await;
    moose
        .add_system("plant-1", Some((0.0, sunny_longitude_now())))
        .await;
    moose
        .set_last_data("plant-1", jiff::SignedDuration::from_mins(5))
        .await;
    let token = moose.admin_token().await;
    let target = HttpTarget::new(&format!("{}/", moose.url));
    assert_eq!(target.base(), moose.url, "the trailing slash is dropped");
    assert_eq!(target.describe(), moose.url);

    let found = checks::run(
        &target,
        &Options {
            credential: Some(token.clone()),
            metrics_token: Some(METRICS_TOKEN.into()),
            ..Options::default()
        },
    )
    .await;
    assert!(found.iter().all(|c| c.ok), "{found:#?}");
    assert_eq!(
        names(&found),
        [
            "health",
            "ready",
            "polling",
            "auth",
            "systems",
            "production",
            "incidents",
            "notifications",
            "chat",
            "freshness",
            "integrity",
            "delivery",
            "error-rate"
        ]
    );
    assert!(
        find(&found, "health")
            .detail
            .ends_with(&format!("healthy, version {}", moose.state.version)),
        "{found:#?}"
    );
    assert_eq!(find(&found, "ready").detail, "store sqlite ok");
    assert!(
        find(&found, "polling")
            .detail
            .contains("solar-data-polling, device-status-polling")
    );
    assert_eq!(
        find(&found, "auth").detail,
        format!("signed in as {ADMIN} (admin)")
    );
    assert_eq!(
        find(&found, "production").detail,
        "GET /api/systems/plant-1/production?resolution=1h: 200"
    );
    assert!(
        find(&found, "chat").detail.contains("with citations"),
        "{found:#?}"
    );
    // The one system is in daylight with data from the last hour.
    assert!(
        find(&found, "freshness")
            .detail
            .starts_with("1 system(s) in daylight, all with data from the last 60 minutes"),
        "{found:#?}"
    );
    assert!(
        find(&found, "integrity").detail.starts_with("1 system(s)"),
        "{found:#?}"
    );
    assert_eq!(
        find(&found, "delivery").detail,
        "no notifications were due in the last day"
    );
    // The chat probe deleted its conversation.
    let (status, convs) = moose
        .send(
            reqwest::Method::GET,
            "/api/chat/conversations",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(convs["conversations"], serde_json::json!([]), "{convs}");
}

#[tokio::test]
async fn a_wrong_password_gets_no_token_and_a_credential_that_does_not_sign_in_fails_auth() {
    let moose = Moose::start(Setup::default()).await;
    let (status, body) = moose.try_login(ADMIN, "not the password").await;
    assert_eq!(status, 401, "{body}");
    assert!(body["access_token"].is_null());
    let refused = body["error"]["message"].as_str().unwrap().to_owned();
    assert!(!refused.is_empty());

    // What a caller holding no valid token ends up sending.
    let found = checks::run(
        &HttpTarget::new(&moose.url),
        &Options {
            credential: Some("not-a-token".into()),
            ..Options::default()
        },
    )
    .await;
    // Health and readiness pass; sign-in fails and nothing after it runs.
    assert_eq!(names(&found), ["health", "ready", "auth"], "{found:#?}");
    let auth = find(&found, "auth");
    assert!(!auth.ok);
    assert!(
        auth.detail.starts_with("GET /api/users/me: HTTP 401 "),
        "{auth:?}"
    );
    assert!(
        auth.detail.len() > "GET /api/users/me: HTTP 401 ".len(),
        "the server's reason is included: {auth:?}"
    );
}

#[tokio::test]
async fn a_read_only_key_skips_the_chat_probe_and_a_viewers_key_skips_the_delivery_rate() {
    let moose = Moose::start(Setup::default()).await;
    let admin_key = moose.api_key("admin", true).await;
    let found = checks::run(
        &HttpTarget::new(&moose.url),
        &Options {
            credential: Some(admin_key.clone()),
            ..Options::default()
        },
    )
    .await;
    assert!(found.iter().all(|c| c.ok), "{found:#?}");
    let chat = find(&found, "chat");
    assert!(chat.detail.starts_with("skipped: "), "{chat:?}");
    assert!(chat.detail.contains("read"), "{chat:?}");
    // No system: no production check, and nothing in daylight.
    assert!(!names(&found).contains(&"production"));
    assert!(find(&found, "freshness").detail.starts_with("0 system(s)"));
    // Without jobs reported (as on Lambda) there is no polling check.
    assert!(!names(&found).contains(&"polling"));

    let viewer_key = moose.api_key("viewer", true).await;
    let found = checks::run(
        &HttpTarget::new(&moose.url),
        &Options {
            credential: Some(viewer_key.clone()),
            ..Options::default()
        },
    )
    .await;
    assert!(found.iter().all(|c| c.ok), "{found:#?}");
    assert!(
        find(&found, "auth").detail.ends_with("(viewer)"),
        "{found:#?}"
    );
    assert_eq!(
        find(&found, "delivery").detail,
        "skipped: the delivery rate needs a fleet manager's or administrator's credential"
    );
    let target = HttpTarget::new(&moose.url);
    assert_eq!(
        checks::delivery_rate(&target, &viewer_key).await,
        Err("needs a fleet manager's or administrator's credential".to_owned())
    );
    assert_eq!(checks::delivery_rate(&target, &admin_key).await, Ok(None));
    let err = checks::delivery_rate(&target, "nonsense")
        .await
        .unwrap_err();
    assert_eq!(err, "GET /api/notifications/stats: HTTP 401");
}

#[tokio::test]
async fn without_a_credential_verify_fails_and_the_hook_stops_after_readiness() {
    let moose = Moose::start(serve_setup()).await;
    let target = HttpTarget::new(&moose.url);
    let verify = checks::run(&target, &Options::default()).await;
    assert_eq!(names(&verify), ["health", "ready", "polling", "auth"]);
    let auth = find(&verify, "auth");
    assert!(!auth.ok);
    assert!(auth.detail.contains("--token or --api-key"), "{auth:?}");

    let hook = checks::run(
        &target,
        &Options {
            require_credential: false,
            scope: Scope::Version,
            ..Options::default()
        },
    )
    .await;
    assert_eq!(names(&hook), ["health", "ready", "polling"]);
    assert!(hook.iter().all(|c| c.ok), "{hook:#?}");
}

#[tokio::test]
async fn the_version_scope_leaves_out_the_environments_data() {
    let moose = Moose::start(Setup::default()).await;
    // A system in daylight that never sent data: the environment is stale, the version is not
    // to blame.
    moose
        .add_system("silent", Some((0.0, sunny_longitude_now())))
        .await;
    let token = moose.admin_token().await;
    let target = HttpTarget::new(&moose.url);
    let version = checks::run(
        &target,
        &Options {
            credential: Some(token.clone()),
            scope: Scope::Version,
            ..Options::default()
        },
    )
    .await;
    assert!(version.iter().all(|c| c.ok), "{version:#?}");
    assert_eq!(names(&version).last(), Some(&"chat"));
    for left_out in ["freshness", "integrity", "delivery", "error-rate"] {
        assert!(!names(&version).contains(&left_out), "{left_out}");
    }

    let environment = checks::run(
        &target,
        &Options {
            credential: Some(token),
            ..Options::default()
        },
    )
    .await;
    let failed: Vec<&str> = environment
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(failed, ["freshness"], "{environment:#?}");
    assert_eq!(
        find(&environment, "freshness").detail,
        "1 of 1 system(s) in daylight have no data from the last 60 minutes: silent (never)"
    );
}

#[tokio::test]
async fn the_servers_error_rate_is_read_from_its_metrics_with_the_token() {
    let moose = Moose::start(serve_setup()).await;
    let target = HttpTarget::new(&moose.url);
    // Some traffic first, so that there is something counted.
    for _ in 0..3 {
        assert!(
            target
                .send(Probe {
                    method: Method::Get,
                    path: "/health",
                    body: None,
                    bearer: None,
                })
                .await
                .is_ok_and(|a| a.status == 200)
        );
    }
    let rate = checks::server_error_rate(&target, METRICS_TOKEN)
        .await
        .unwrap();
    assert!(rate.requests >= 3.0, "{rate:?}");
    assert!(rate.errors <= rate.requests);
    assert!((rate.rate() - rate.errors / rate.requests).abs() < 1e-12);

    assert_eq!(
        checks::server_error_rate(&target, "wrong").await,
        Err("GET /metrics: HTTP 401".to_owned())
    );
    let nothing = HttpTarget::new(&closed_port().await);
    assert_eq!(
        checks::server_error_rate(&nothing, METRICS_TOKEN).await,
        Err("GET /metrics: cannot connect".to_owned())
    );
    // Served without metrics: the error-rate check fails with the 404.
    let bare = Moose::start(Setup::default()).await;
    let token = bare.admin_token().await;
    let found = checks::run(
        &HttpTarget::new(&bare.url),
        &Options {
            credential: Some(token),
            metrics_token: Some(METRICS_TOKEN.into()),
            ..Options::default()
        },
    )
    .await;
    let error_rate = find(&found, "error-rate");
    assert!(!error_rate.ok);
    assert_eq!(error_rate.detail, "GET /metrics: HTTP 404");
}

#[tokio::test]
async fn sampled_latency_goes_round_the_read_routes_and_counts_failures() {
    let moose = Moose::start(Setup::default()).await;
    moose.add_system("plant-1", Some((48.2, 14.0))).await;
    let token = moose.admin_token().await;
    let target = HttpTarget::new(&moose.url);

    let l = checks::sample_latency(&target, Some(&token), 8).await;
    assert_eq!((l.samples, l.errors), (8, 0), "{l:?}");
    assert!(l.avg_ms > 0.0);
    // The nearest-rank 99th percentile of 8 samples is the slowest, never below the mean.
    assert!(l.p99_ms >= l.avg_ms, "{l:?}");

    let anonymous = checks::sample_latency(&target, None, 3).await;
    assert_eq!((anonymous.samples, anonymous.errors), (3, 0));

    let none = checks::sample_latency(&target, Some(&token), 0).await;
    assert_eq!((none.samples, none.avg_ms, none.p99_ms), (0, 0.0, 0.0));

    let unreachable = HttpTarget::new(&closed_port().await);
    let l = checks::sample_latency(&unreachable, Some(&token), 4).await;
    assert_eq!((l.samples, l.errors), (4, 4), "every request failed");
}

#[tokio::test]
async fn nothing_listening_fails_health_in_one_line() {
    let url = closed_port().await;
    let found = checks::run(&HttpTarget::new(&url), &Options::default()).await;
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(!found[0].ok);
    assert_eq!(found[0].detail, format!("{url}/health: cannot connect"));
}

#[test]
fn methods_are_named_as_on_the_wire() {
    assert_eq!(
        [Method::Get, Method::Post, Method::Delete].map(Method::as_str),
        ["GET", "POST", "DELETE"]
    );
}
