//! The Lambda side of a release, against a fake AWS Lambda on loopback that speaks the real
//! REST-JSON wire protocol (`Invoke`, `GetAlias`, `ListVersionsByFunction` paginated,
//! `UpdateAlias`, errors as `x-amzn-ErrorType`) and, for `Invoke`, hands the API Gateway proxy
//! event to a real Moose API in-process — as `lambda_http` does in the deployed function:
//!
//! - `LambdaTarget` carries the checks' requests to a function version and back;
//! - `hook::pre_traffic` checks every new version and reports `Succeeded` or `Failed` to a fake
//!   CodeDeploy, retrying the report before it gives up;
//! - `aliases::alias_state` and `aliases::rollback_one` read and move the `live` alias;
//! - `aws::Aws::connect` builds both clients for an endpoint and region.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use common::{Moose, Setup, serve};
use moose_fakes::codedeploy::{FakeCodeDeploy, HookStatus};
use moose_release::ReleaseError;
use moose_release::aliases::{self, Moved};
use moose_release::checks::{self, Method, Options, Probe, Scope, Target as _};
use moose_release::hook::{self, HookSettings, LifecycleEvent};
use moose_release::lambda::LambdaTarget;
use serde_json::{Value, json};
use tower::ServiceExt as _;

/// What a function version does when invoked.
#[derive(Debug, Clone, Copy)]
enum Behaviour {
    /// Serves the Moose API (an HTTP function).
    Api,
    /// The runtime fails (`X-Amz-Function-Error: Unhandled`).
    Crash,
    /// Answers with something that is not an API Gateway proxy response.
    NotProxy,
}

/// One function's `live` alias and published versions.
#[derive(Debug, Clone)]
struct Alias {
    version: String,
    weights: BTreeMap<String, f64>,
    versions: Vec<&'static str>,
}

#[derive(Default)]
struct Lambda {
    api: Option<Router>,
    functions: HashMap<String, Behaviour>,
    aliases: Mutex<HashMap<String, Alias>>,
    /// Functions whose versions cannot be listed, and whose alias cannot be moved.
    unlistable: Vec<String>,
    locked: Vec<String>,
    /// `function METHOD path authorization?` per invocation.
    invoked: Mutex<Vec<String>>,
    /// `UpdateAlias` bodies received, per function.
    updates: Mutex<Vec<(String, Value)>>,
}

fn aws_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [
            ("x-amzn-ErrorType", kind),
            ("content-type", "application/json"),
        ],
        json!({"Type": "User", "Message": message, "message": message}).to_string(),
    )
        .into_response()
}

fn json_answer(v: &Value) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        v.to_string(),
    )
        .into_response()
}

async fn invoke(
    State(fake): State<Arc<Lambda>>,
    Path(function): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if !headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256"))
    {
        return aws_error(
            StatusCode::FORBIDDEN,
            "MissingAuthenticationTokenException",
            "unsigned",
        );
    }
    let Some(behaviour) = fake.functions.get(&function).copied() else {
        return aws_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!(
                "Function not found: arn:aws:lambda:eu-central-1:123456789012:function:{function}"
            ),
        );
    };
    let event: Value = serde_json::from_str(&body).unwrap();
    fake.invoked.lock().unwrap().push(format!(
        "{function} {} {} {}",
        event["httpMethod"].as_str().unwrap(),
        event["path"].as_str().unwrap(),
        event["headers"]["Authorization"].as_str().unwrap_or("-"),
    ));
    match behaviour {
        Behaviour::Crash => (
            StatusCode::OK,
            [("X-Amz-Function-Error", "Unhandled")],
            json!({"errorType": "Runtime.ExitError", "errorMessage": "Runtime exited with error: signal: killed"})
                .to_string(),
        )
            .into_response(),
        Behaviour::NotProxy => json_answer(&json!({"records": 3})),
        Behaviour::Api => json_answer(&proxy(fake.api.clone().unwrap(), &event).await),
    }
}

/// What `lambda_http` does with a REST proxy event: the request to the router, its response
/// as `{statusCode, body}`.
async fn proxy(api: Router, event: &Value) -> Value {
    let mut uri = event["path"].as_str().unwrap().to_owned();
    if let Some(query) = event["queryStringParameters"].as_object() {
        let pairs: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
            .collect();
        uri = format!("{uri}?{}", pairs.join("&"));
    }
    let mut req = Request::builder()
        .method(event["httpMethod"].as_str().unwrap())
        .uri(uri);
    for (k, v) in event["headers"].as_object().unwrap() {
        req = req.header(k.as_str(), v.as_str().unwrap());
    }
    let body = event["body"].as_str().unwrap_or_default().to_owned();
    let r = api
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = r.status().as_u16();
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    json!({"statusCode": status, "headers": {"content-type": "application/json"},
           "body": String::from_utf8(bytes.to_vec()).unwrap(), "isBase64Encoded": false})
}

fn alias_body(function: &str, a: &Alias) -> Value {
    json!({
        "AliasArn": format!("arn:aws:lambda:eu-central-1:123456789012:function:{function}:live"),
        "Name": "live",
        "FunctionVersion": a.version,
        "RoutingConfig": {"AdditionalVersionWeights": a.weights},
        "RevisionId": "r-1",
    })
}

async fn get_alias(
    State(fake): State<Arc<Lambda>>,
    Path((function, _alias)): Path<(String, String)>,
) -> Response {
    match fake.aliases.lock().unwrap().get(&function) {
        Some(a) => json_answer(&alias_body(&function, a)),
        None => aws_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Alias not found: {function}:live"),
        ),
    }
}

async fn update_alias(
    State(fake): State<Arc<Lambda>>,
    Path((function, _alias)): Path<(String, String)>,
    body: String,
) -> Response {
    let input: Value = serde_json::from_str(&body).unwrap();
    if fake.locked.contains(&function) {
        return aws_error(
            StatusCode::CONFLICT,
            "ResourceConflictException",
            "The operation cannot be performed at this time. An update is in progress.",
        );
    }
    fake.updates
        .lock()
        .unwrap()
        .push((function.clone(), input.clone()));
    let mut aliases = fake.aliases.lock().unwrap();
    let a = aliases.get_mut(&function).unwrap();
    a.version = input["FunctionVersion"].as_str().unwrap().to_owned();
    a.weights = serde_json::from_value(input["RoutingConfig"]["AdditionalVersionWeights"].clone())
        .unwrap_or_default();
    json_answer(&alias_body(&function, a))
}

/// Two versions per page, as `MaxItems` would cut them.
async fn list_versions(
    State(fake): State<Arc<Lambda>>,
    Path(function): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if fake.unlistable.contains(&function) {
        return aws_error(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequestsException",
            "Rate exceeded",
        );
    }
    let Some(a) = fake.aliases.lock().unwrap().get(&function).cloned() else {
        return aws_error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            "no function",
        );
    };
    let start: usize = q.get("Marker").map_or(0, |m| m.parse().unwrap());
    let page: Vec<Value> = a
        .versions
        .iter()
        .skip(start)
        .take(2)
        .map(|v| json!({"FunctionName": function, "Version": v}))
        .collect();
    let next = (start + 2 < a.versions.len()).then(|| (start + 2).to_string());
    json_answer(&json!({"Versions": page, "NextMarker": next}))
}

async fn start_lambda(fake: Lambda) -> (aws_sdk_lambda::Client, Arc<Lambda>) {
    let fake = Arc::new(fake);
    let router = Router::new()
        .route("/2015-03-31/functions/{function}/invocations", post(invoke))
        .route(
            "/2015-03-31/functions/{function}/aliases/{alias}",
            get(get_alias).put(update_alias),
        )
        .route(
            "/2015-03-31/functions/{function}/versions",
            get(list_versions),
        )
        .with_state(Arc::clone(&fake));
    let url = serve(router).await;
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
        .region(aws_sdk_lambda::config::Region::new("eu-central-1"))
        .credentials_provider(aws_sdk_lambda::config::Credentials::new(
            "moose-test",
            "moose-test",
            None,
            None,
            "test",
        ))
        .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
        .endpoint_url(url)
        .build();
    (aws_sdk_lambda::Client::from_conf(config), fake)
}

fn functions(list: &[(&str, Behaviour)]) -> HashMap<String, Behaviour> {
    list.iter().map(|(f, b)| ((*f).to_owned(), *b)).collect()
}

fn event(id: &str) -> LifecycleEvent {
    LifecycleEvent {
        deployment_id: id.into(),
        lifecycle_event_hook_execution_id: format!("exec-{id}"),
    }
}

fn names(checks: &[checks::Check]) -> Vec<&str> {
    checks.iter().map(|c| c.name.as_str()).collect()
}

#[tokio::test]
async fn a_function_version_answers_the_checks_through_invoke() {
    let moose = Moose::start(Setup::default()).await;
    moose.add_system("plant-1", Some((48.2, 14.0))).await;
    let token = moose.admin_token().await;
    let (client, fake) = start_lambda(Lambda {
        api: Some(moose.router.clone()),
        functions: functions(&[("solar-data-service:7", Behaviour::Api)]),
        ..Lambda::default()
    })
    .await;
    let target = LambdaTarget::new(client, "solar-data-service:7");
    assert_eq!(target.describe(), "solar-data-service:7");
    let found = checks::run(
        &target,
        &Options {
            credential: Some(token.clone()),
            scope: Scope::Version,
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
            "auth",
            "systems",
            "production",
            "incidents",
            "notifications",
            "chat"
        ]
    );
    assert!(
        found[0]
            .detail
            .starts_with("solar-data-service:7/health: healthy")
    );
    // The chat probe's POST and DELETE went through the proxy, with the credential.
    let invoked = fake.invoked.lock().unwrap().clone();
    let bearer = format!("Bearer {token}");
    assert!(
        invoked
            .iter()
            .any(|i| i == &format!("solar-data-service:7 POST /api/chat {bearer}"))
    );
    assert!(
        invoked
            .iter()
            .any(|i| i.starts_with("solar-data-service:7 DELETE /api/chat/conversations/"))
    );
    // A query string arrives as parameters, and comes back as the same request.
    let a = target
        .send(Probe {
            method: Method::Get,
            path: "/api/incidents?limit=1&state=open",
            body: None,
            bearer: Some(&token),
        })
        .await
        .unwrap();
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(a.json["incidents"].is_array(), "{}", a.text);
    let a = target
        .send(Probe {
            method: Method::Get,
            path: "/api/incidents?limit=0",
            body: None,
            bearer: Some(&token),
        })
        .await
        .unwrap();
    assert_eq!(
        a.status, 400,
        "the API judged the forwarded query: {}",
        a.text
    );
}

#[tokio::test]
async fn the_hook_checks_every_new_version_and_reports_success_to_codedeploy() {
    let moose = Moose::start(Setup::default()).await;
    let key = moose.api_key("admin", true).await;
    let (lambda, fake) = start_lambda(Lambda {
        api: Some(moose.router.clone()),
        functions: functions(&[
            ("solar-data-service:7", Behaviour::Api),
            ("notify-user:3", Behaviour::Api),
            ("chat-service:5", Behaviour::Api),
        ]),
        ..Lambda::default()
    })
    .await;
    let cd = FakeCodeDeploy::start().await;
    let settings = HookSettings::from_env(|k| match k {
        "MOOSE_HOOK_TARGETS" => Some("solar-data-service:7,notify-user:3,chat-service:5".into()),
        "MOOSE_HOOK_API_KEY" => Some(key.clone()),
        _ => None,
    })
    .unwrap();
    let outcome = hook::pre_traffic(
        &event("d-OK"),
        &settings,
        &lambda,
        &common::codedeploy_client(cd.url()),
    )
    .await
    .unwrap();
    assert_eq!(outcome.status, "Succeeded", "{outcome:#?}");
    assert_eq!(
        cd.hook_statuses(),
        [HookStatus {
            deployment_id: "d-OK".into(),
            execution_id: "exec-d-OK".into(),
            status: "Succeeded".into(),
        }]
    );
    // In the order configured, whatever order they finished in.
    let targets: Vec<&str> = outcome.targets.iter().map(|t| t.target.as_str()).collect();
    assert_eq!(
        targets,
        ["solar-data-service:7", "notify-user:3", "chat-service:5"]
    );
    // HTTP functions get the API checks (the read-only key skips the chat probe); the others
    // only health and readiness, and never see the key.
    let api = &outcome.targets[0].checks;
    assert_eq!(
        names(api),
        [
            "health",
            "ready",
            "auth",
            "systems",
            "incidents",
            "notifications",
            "chat"
        ]
    );
    assert!(api.last().unwrap().detail.starts_with("skipped: "));
    assert_eq!(names(&outcome.targets[1].checks), ["health", "ready"]);
    assert_eq!(names(&outcome.targets[2].checks).len(), api.len());
    let invoked = fake.invoked.lock().unwrap().clone();
    assert!(
        invoked
            .iter()
            .filter(|i| i.starts_with("notify-user:3 "))
            .all(|i| i.ends_with(" -")),
        "{invoked:#?}"
    );
    assert!(
        invoked
            .iter()
            .any(|i| i.starts_with("chat-service:5 GET /api/users/me Bearer mk_"))
    );
}

#[tokio::test]
async fn a_broken_version_fails_the_hook_and_codedeploy_hears_failed() {
    let moose = Moose::start(Setup::default()).await;
    let (lambda, _) = start_lambda(Lambda {
        api: Some(moose.router.clone()),
        functions: functions(&[
            ("solar-data-service:7", Behaviour::Api),
            ("chat-service:9", Behaviour::Crash),
            ("solar-data-polling:4", Behaviour::NotProxy),
        ]),
        ..Lambda::default()
    })
    .await;
    let cd = FakeCodeDeploy::start().await;
    let settings = HookSettings {
        targets: vec![
            "solar-data-service:7".into(),
            "chat-service:9".into(),
            "user-management:99".into(),
            "solar-data-polling:4".into(),
        ],
        credential: None,
    };
    let outcome = hook::pre_traffic(
        &event("d-BAD"),
        &settings,
        &lambda,
        &common::codedeploy_client(cd.url()),
    )
    .await
    .unwrap();
    assert_eq!(outcome.status, "Failed");
    assert_eq!(cd.hook_statuses().len(), 1);
    assert_eq!(cd.hook_statuses()[0].status, "Failed");
    let by_target: HashMap<&str, &Vec<checks::Check>> = outcome
        .targets
        .iter()
        .map(|t| (t.target.as_str(), &t.checks))
        .collect();
    // Without a key the healthy version is checked as far as it can be, and passes.
    let fine = by_target["solar-data-service:7"];
    assert_eq!(names(fine), ["health", "ready"]);
    assert!(fine.iter().all(|c| c.ok));
    // Each broken one fails its first check, with the reason, and goes no further.
    let first = |t: &str| {
        let c = by_target[t];
        assert_eq!(c.len(), 1, "{c:#?}");
        assert!(!c[0].ok);
        c[0].detail.clone()
    };
    assert_eq!(
        first("chat-service:9"),
        "chat-service:9/health: the function failed (Unhandled): Runtime.ExitError Runtime exited with error: signal: killed"
    );
    let missing = first("user-management:99");
    assert!(
        missing.starts_with("user-management:99/health: Invoke user-management:99: "),
        "{missing}"
    );
    assert!(missing.contains("ResourceNotFoundException"), "{missing}");
    assert_eq!(
        first("solar-data-polling:4"),
        "solar-data-polling:4/health: the function's answer is not an API Gateway proxy response"
    );
}

#[tokio::test]
async fn a_report_codedeploy_keeps_refusing_is_retried_then_given_up() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&attempts);
    let url = serve(Router::new().fallback(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        async {
            (
                StatusCode::BAD_REQUEST,
                [("content-type", "application/x-amz-json-1.1")],
                json!({"__type": "DeploymentDoesNotExistException", "message": "no deployment d-GONE"})
                    .to_string(),
            )
        }
    }))
    .await;
    let (lambda, _) = start_lambda(Lambda::default()).await;
    let settings = HookSettings {
        targets: vec!["notify-user:3".into()],
        credential: None,
    };
    let started = std::time::Instant::now();
    let err = hook::pre_traffic(
        &event("d-GONE"),
        &settings,
        &lambda,
        &common::codedeploy_client(&url),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ReleaseError::Aws(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with("PutLifecycleEventHookExecutionStatus for d-GONE: "),
        "{text}"
    );
    assert!(text.contains("DeploymentDoesNotExistException"), "{text}");
    assert_eq!(attempts.load(Ordering::SeqCst), 4, "four attempts");
    // With backoff between them: 0.5 + 1 + 2 s at least before the last attempt.
    assert!(started.elapsed() >= std::time::Duration::from_millis(3500));
}

fn alias(version: &str, weights: &[(&str, f64)], versions: &[&'static str]) -> Alias {
    Alias {
        version: version.into(),
        weights: weights.iter().map(|(k, w)| ((*k).to_owned(), *w)).collect(),
        versions: versions.to_vec(),
    }
}

#[tokio::test]
async fn the_alias_state_reads_every_page_of_versions() {
    let (lambda, _) = start_lambda(Lambda {
        aliases: Mutex::new(
            [(
                "solar-data-service".to_owned(),
                alias("7", &[], &["$LATEST", "1", "2", "5", "6", "7", "8"]),
            )]
            .into(),
        ),
        ..Lambda::default()
    })
    .await;
    let s = aliases::alias_state(&lambda, "solar-data-service", "live")
        .await
        .unwrap();
    assert_eq!(
        (s.function.as_str(), s.alias.as_str()),
        ("solar-data-service", "live")
    );
    assert_eq!(s.version, "7");
    assert!(s.weights.is_empty());
    // Four pages; `$LATEST` is not a number.
    assert_eq!(s.versions, [1, 2, 5, 6, 7, 8]);
    assert_eq!(s.rollback_to().as_deref(), Some("6"));
}

#[tokio::test]
async fn a_rollback_moves_the_alias_back_and_drops_a_canary() {
    let (lambda, fake) = start_lambda(Lambda {
        aliases: Mutex::new(
            [
                (
                    "user-management".to_owned(),
                    alias("7", &[], &["1", "2", "5", "6", "7"]),
                ),
                (
                    "chat-service".to_owned(),
                    alias("6", &[("7", 0.1)], &["6", "7"]),
                ),
                ("notify-user".to_owned(), alias("1", &[], &["$LATEST", "1"])),
                (
                    "solar-data-service".to_owned(),
                    alias("4", &[], &["3", "4"]),
                ),
            ]
            .into(),
        ),
        ..Lambda::default()
    })
    .await;
    let moved = aliases::rollback_one(&lambda, "user-management", "live", None)
        .await
        .unwrap();
    assert_eq!(
        moved,
        Moved {
            function: "user-management".into(),
            from: "7".into(),
            to: "6".into(),
        }
    );
    let state = aliases::alias_state(&lambda, "user-management", "live")
        .await
        .unwrap();
    assert_eq!(
        state.version, "6",
        "the alias now serves the version before"
    );

    // Mid-canary: all traffic back to the primary, the canary's weight gone.
    let canary = aliases::alias_state(&lambda, "chat-service", "live")
        .await
        .unwrap();
    assert_eq!(canary.weights, BTreeMap::from([("7".to_owned(), 0.1)]));
    let moved = aliases::rollback_one(&lambda, "chat-service", "live", None)
        .await
        .unwrap();
    assert_eq!(
        (moved.from.as_str(), moved.to.as_str()),
        ("6 (+7 at 10 %)", "6")
    );
    assert!(
        aliases::alias_state(&lambda, "chat-service", "live")
            .await
            .unwrap()
            .weights
            .is_empty()
    );

    // An explicit version wins, even where there is nothing older.
    let moved = aliases::rollback_one(&lambda, "solar-data-service", "live", Some("3"))
        .await
        .unwrap();
    assert_eq!(moved.to, "3");

    let updates = fake.updates.lock().unwrap().clone();
    assert_eq!(updates.len(), 3);
    for (_, body) in &updates {
        assert_eq!(
            body["RoutingConfig"]["AdditionalVersionWeights"],
            json!({}),
            "{body}"
        );
    }
    assert_eq!(updates[0].1["FunctionVersion"], "6");

    // Nothing older than version 1: refused before any change.
    let err = aliases::rollback_one(&lambda, "notify-user", "live", None)
        .await
        .unwrap_err();
    assert!(matches!(err, ReleaseError::Setting(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "notify-user: no version older than 1 to go back to"
    );
    assert_eq!(fake.updates.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn lambdas_refusals_name_the_call_that_failed() {
    let (lambda, fake) = start_lambda(Lambda {
        aliases: Mutex::new(
            [
                ("locked".to_owned(), alias("2", &[], &["1", "2"])),
                ("throttled".to_owned(), alias("2", &[], &["1", "2"])),
            ]
            .into(),
        ),
        locked: vec!["locked".into()],
        unlistable: vec!["throttled".into()],
        ..Lambda::default()
    })
    .await;
    let err = aliases::alias_state(&lambda, "nope", "live")
        .await
        .unwrap_err();
    assert!(matches!(err, ReleaseError::Aws(_)));
    let text = err.to_string();
    assert!(text.starts_with("GetAlias nope:live: "), "{text}");
    assert!(text.contains("ResourceNotFoundException"), "{text}");

    let text = aliases::alias_state(&lambda, "throttled", "live")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        text.starts_with("ListVersionsByFunction throttled: "),
        "{text}"
    );
    assert!(text.contains("TooManyRequestsException"), "{text}");

    let text = aliases::rollback_one(&lambda, "locked", "live", None)
        .await
        .unwrap_err()
        .to_string();
    assert!(text.starts_with("UpdateAlias locked:live: "), "{text}");
    assert!(text.contains("ResourceConflictException"), "{text}");
    assert!(fake.updates.lock().unwrap().is_empty());
    // The alias did not move.
    assert_eq!(
        aliases::alias_state(&lambda, "locked", "live")
            .await
            .unwrap()
            .version,
        "2"
    );
}

#[tokio::test]
async fn the_release_clients_take_the_endpoint_and_region_given() {
    let aws = moose_release::aws::Aws::connect(Some("http://127.0.0.1:9"), Some("eu-central-1"))
        .await
        .unwrap();
    assert_eq!(
        aws.lambda
            .config()
            .region()
            .map(ToString::to_string)
            .as_deref(),
        Some("eu-central-1")
    );
    assert_eq!(
        aws.codedeploy
            .config()
            .region()
            .map(ToString::to_string)
            .as_deref(),
        Some("eu-central-1")
    );
}
