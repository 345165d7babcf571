//! The paths of `moose_release::deployments` that `tests/codedeploy.rs` does not walk:
//! finding the application by its exact name and across pages of `ListApplications`, the
//! deployments of a window sorted by group, a deployment that failed without a rollback, one
//! CodeDeploy does not know, and CodeDeploy refusing a call. Served by `FakeCodeDeploy` or, for
//! answers it cannot give (pages, refusals, sparse deployment records), by a scripted
//! awsJson1.1 endpoint on loopback.

mod common;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use moose_fakes::codedeploy::{FakeCodeDeploy, Step};
use moose_release::ReleaseError;
use moose_release::deployments::{self, DeploymentView};
use serde_json::{Value, json};

type Script = dyn Fn(&str, &Value) -> (u16, Value) + Send + Sync;

/// An awsJson1.1 endpoint answering `(operation, input)` with `script`; records the operations.
async fn scripted(script: Box<Script>) -> (String, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let script: Arc<Script> = Arc::from(script);
    let log = Arc::clone(&seen);
    let url = common::serve(
        Router::new().fallback(move |headers: HeaderMap, body: String| {
            let (script, log) = (Arc::clone(&script), Arc::clone(&log));
            async move {
                let op = headers
                    .get("x-amz-target")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|t| t.strip_prefix("CodeDeploy_20141006."))
                    .unwrap_or("")
                    .to_owned();
                let input: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                log.lock().unwrap().push(op.clone());
                let (status, out) = script(&op, &input);
                (
                    StatusCode::from_u16(status).unwrap(),
                    [("content-type", "application/x-amz-json-1.1")],
                    out.to_string(),
                )
                    .into_response()
            }
        }),
    )
    .await;
    (url, seen)
}

#[tokio::test]
async fn the_application_is_found_by_its_exact_name_or_on_a_later_page() {
    let (url, seen) = scripted(Box::new(|op, input| match (op, input["nextToken"].as_str()) {
        ("ListApplications", None) => (
            200,
            json!({"applications": ["a-ServerlessDeploymentApplication-1", "moose"], "nextToken": "p2"}),
        ),
        ("ListApplications", Some("p2")) => (
            200,
            json!({"applications": ["moose-prod-ServerlessDeploymentApplication-Z9"]}),
        ),
        _ => (400, json!({"__type": "InvalidInputException", "message": "unexpected"})),
    }))
    .await;
    let cd = common::codedeploy_client(&url);
    // A self-named application is taken as it is.
    assert_eq!(
        deployments::find_application(&cd, "moose")
            .await
            .unwrap()
            .as_deref(),
        Some("moose")
    );
    assert_eq!(seen.lock().unwrap().len(), 1, "found on the first page");
    assert_eq!(
        deployments::find_application(&cd, "moose-prod")
            .await
            .unwrap()
            .as_deref(),
        Some("moose-prod-ServerlessDeploymentApplication-Z9")
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        3,
        "the second page was asked for"
    );
    // Neither page has it.
    assert_eq!(
        deployments::find_application(&cd, "other").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn a_refused_call_is_an_aws_error_naming_it() {
    let (url, _) = scripted(Box::new(|_, _| {
        (
            400,
            json!({"__type": "AccessDeniedException", "message": "not allowed: codedeploy:*"}),
        )
    }))
    .await;
    let cd = common::codedeploy_client(&url);
    let err = deployments::find_application(&cd, "moose")
        .await
        .unwrap_err();
    assert!(matches!(err, ReleaseError::Aws(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.starts_with("ListApplications: "), "{text}");
    assert!(text.contains("AccessDeniedException"), "{text}");

    let text = deployments::deployments_since(&cd, "app", jiff::Timestamp::now())
        .await
        .unwrap_err()
        .to_string();
    assert!(text.starts_with("ListDeployments: "), "{text}");
}

#[tokio::test]
async fn a_sparse_or_missing_deployment_record_is_read_as_far_as_it_goes() {
    let (url, _) = scripted(Box::new(|op, input| match (op, input["deploymentId"].as_str()) {
        ("GetDeployment", Some("d-EMPTY")) => (200, json!({})),
        ("GetDeployment", Some("d-SPARSE")) => (200, json!({"deploymentInfo": {"deploymentId": "d-SPARSE"}})),
        ("GetDeployment", Some("d-FAILED")) => (
            200,
            json!({"deploymentInfo": {
                "deploymentId": "d-FAILED", "deploymentGroupName": "ApiGroup", "status": "Failed",
                "createTime": 1_790_000_000.5, "completeTime": 1_790_000_300.0,
                "errorInformation": {"code": "HEALTH_CONSTRAINTS", "message": "the PreTraffic hook reported Failed"}
            }}),
        ),
        _ => (400, json!({"__type": "DeploymentDoesNotExistException", "message": "no such deployment"})),
    }))
    .await;
    let cd = common::codedeploy_client(&url);
    let err = deployments::deployment(&cd, "d-EMPTY").await.unwrap_err();
    assert_eq!(err.to_string(), "GetDeployment d-EMPTY: no deploymentInfo");

    let sparse = deployments::deployment(&cd, "d-SPARSE").await.unwrap();
    assert_eq!(
        sparse,
        DeploymentView {
            id: "d-SPARSE".into(),
            group: "?".into(),
            status: "Unknown".into(),
            created: None,
            completed: None,
            rolled_back: false,
            reason: None,
        }
    );
    assert!(!sparse.finished());

    // Failed without a rollback: the reason comes from the error information.
    let failed = deployments::deployment(&cd, "d-FAILED").await.unwrap();
    assert_eq!(failed.status, "Failed");
    assert!(failed.finished());
    assert!(!failed.rolled_back);
    assert_eq!(
        failed.reason.as_deref(),
        Some("the PreTraffic hook reported Failed")
    );
    let created = failed.created.unwrap();
    assert_eq!(created.as_second(), 1_790_000_000);
    assert_eq!(created.subsec_nanosecond(), 500_000_000);
    assert_eq!((failed.completed.unwrap() - created).as_secs_f64(), 299.5);

    let text = deployments::deployment(&cd, "d-NOPE")
        .await
        .unwrap_err()
        .to_string();
    assert!(text.starts_with("GetDeployment d-NOPE: "), "{text}");
    assert!(text.contains("DeploymentDoesNotExistException"), "{text}");
}

#[tokio::test]
async fn the_deployments_of_a_window_are_sorted_by_group_and_older_ones_left_out() {
    let fake = FakeCodeDeploy::start().await;
    let app = "m-ServerlessDeploymentApplication-1";
    let since = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(2);
    for (id, group) in [
        ("d-3", "UserGroup"),
        ("d-1", "ApiGroup"),
        ("d-2", "ChatGroup"),
    ] {
        fake.add_deployment(id, app, group, vec![Step::to("Succeeded")]);
    }
    let cd = common::codedeploy_client(fake.url());
    let all = deployments::deployments_since(&cd, app, since)
        .await
        .unwrap();
    let groups: Vec<&str> = all.iter().map(|d| d.group.as_str()).collect();
    assert_eq!(groups, ["ApiGroup", "ChatGroup", "UserGroup"]);
    assert!(all.iter().all(DeploymentView::finished));
    // A window starting after they were created holds none of them.
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60);
    assert!(
        deployments::deployments_since(&cd, app, later)
            .await
            .unwrap()
            .is_empty()
    );
    // An unknown deployment is an error naming it.
    let text = deployments::deployment(&cd, "d-404")
        .await
        .unwrap_err()
        .to_string();
    assert!(text.contains("GetDeployment d-404"), "{text}");
}

#[test]
fn only_succeeded_failed_and_stopped_are_finished() {
    let view = |status: &str| DeploymentView {
        id: "d".into(),
        group: "g".into(),
        status: status.into(),
        created: None,
        completed: None,
        rolled_back: false,
        reason: None,
    };
    for (status, finished) in [
        ("Succeeded", true),
        ("Failed", true),
        ("Stopped", true),
        ("Created", false),
        ("Queued", false),
        ("InProgress", false),
        ("Baking", false),
        ("Ready", false),
    ] {
        assert_eq!(view(status).finished(), finished, "{status}");
    }
}
