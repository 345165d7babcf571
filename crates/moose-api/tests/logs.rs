//! What the API logs (no secrets, no prompts): its own test binary, because tracing caches
//! per-callsite interest process-wide, so tests running beside it without a subscriber can make
//! its capturing subscriber miss the access log it checks for.

mod common;

use common::{Org, PASSWORD, ask, with_model};
use std::time::Duration;

use moose_api::ChatSettings;
use moose_fakes::openai::{FakeOpenAi, Reply};
use serde_json::json;

#[test]
fn prompts_answers_and_keys_are_not_logged_at_info() {
    let capture = common::Capture::default();
    let writer = capture.clone();
    let subscriber =
        moose_telemetry::subscriber(moose_telemetry::Format::Json, "info", move || {
            writer.clone()
        })
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let mut org = Org::new().await;
            let fake = FakeOpenAi::start(Some("sk-test"), 8).await;
            fake.push([
                Reply::server_error(),
                Reply::text("The secret answer is zebra-answer-77."),
            ]);
            with_model(
                &mut org,
                fake.base_url(),
                Duration::from_secs(5),
                ChatSettings::default(),
            );
            let (viewer, _) = org.login("viewer@example.com").await;
            let r = ask(
                &org,
                &viewer,
                json!({"message": "my private question is giraffe-prompt-42"}),
            )
            .await;
            assert_eq!(
                r.body["response"], "The secret answer is zebra-answer-77.",
                "{}",
                r.body
            );
        });
    });
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("/api/chat"), "requests were logged");
    for secret in ["giraffe-prompt-42", "zebra-answer-77", "sk-test"] {
        assert!(!logs.contains(secret), "{secret} reached the logs");
    }
}

#[test]
fn secrets_never_reach_the_logs_or_the_activity_log() {
    let capture = common::Capture::default();
    let writer = capture.clone();
    let subscriber =
        moose_telemetry::subscriber(moose_telemetry::Format::Json, "trace", move || {
            writer.clone()
        })
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (org_rows, secrets) = tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let org = Org::new().await;
            let (access, refresh) = org.login("admin@example.com").await;
            org.try_login("admin@example.com", "wrong-password-123")
                .await;
            org.try_login("ghost@example.com", "ghost-password-456")
                .await;
            let r = org
                .call(
                    "POST",
                    "/api/auth/refresh",
                    None,
                    Some(json!({"refresh_token": refresh})),
                )
                .await;
            let refreshed = r.body["refresh_token"].as_str().unwrap().to_owned();
            let key = org
                .call(
                    "POST",
                    "/api/api-keys",
                    Some(&access),
                    Some(json!({"name": "ci", "role": "viewer"})),
                )
                .await
                .body["key"]
                .as_str()
                .unwrap()
                .to_owned();
            org.call("GET", "/api/users/me", Some(&key), None).await;
            org.call("GET", "/api/users/me", Some(&format!("{access}x")), None)
                .await;
            let invite = org
                .call(
                    "POST",
                    "/api/users",
                    Some(&access),
                    Some(json!({"email": "i@example.com", "role": "viewer"})),
                )
                .await;
            let initial = invite.body["initial_password"].as_str().unwrap().to_owned();
            let signing = org.signing_secret();
            (
                org.snapshot(),
                vec![
                    PASSWORD.to_owned(),
                    "wrong-password-123".into(),
                    "ghost-password-456".into(),
                    access,
                    refresh,
                    refreshed,
                    key,
                    initial,
                    signing,
                ],
            )
        })
    });
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("request"), "logs were captured");
    let activity: Vec<&String> = org_rows
        .iter()
        .filter(|r| r.contains("|Activity#"))
        .collect();
    assert!(activity.len() >= 3, "activity was recorded: {activity:?}");
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret leaked into the logs"
        );
        for row in &activity {
            assert!(
                !row.contains(secret.as_str()),
                "a secret leaked into the activity log: {row}"
            );
        }
    }
}
