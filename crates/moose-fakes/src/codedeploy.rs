//! A fake AWS CodeDeploy for the calls the local AWS emulator (moto) lacks or fakes badly:
//! moto answers `PutLifecycleEventHookExecutionStatus` with HTTP 500 and keeps every deployment
//! `Created` forever. This one speaks CodeDeploy's real wire protocol (awsJson1.1:
//! `POST /`, `X-Amz-Target: CodeDeploy_20141006.<Operation>`, errors as
//! `{"__type","message"}` with HTTP 400) and plays deployments through scripted states, so
//! Moose's PreTraffic hook and its deployment follower meet what AWS would send.
//!
//! Operations: `PutLifecycleEventHookExecutionStatus` (recorded; only `Succeeded`/`Failed`
//! accepted, as on AWS), `ListApplications`, `ListDeployments`, `GetDeployment` (each call
//! advances a scripted deployment by one state).

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// One state a scripted deployment passes through, as `GetDeployment` reports it.
#[derive(Debug, Clone)]
pub struct Step {
    /// CodeDeploy's status: `Created`, `InProgress`, `Succeeded`, `Failed`, `Stopped`, …
    pub status: &'static str,
    /// When set, the deployment was rolled back, for this reason (`rollbackInfo.rollbackMessage`).
    pub rollback: Option<String>,
}

impl Step {
    /// A state without rollback.
    pub fn to(status: &'static str) -> Self {
        Self {
            status,
            rollback: None,
        }
    }
}

#[derive(Debug, Clone)]
struct Deployment {
    id: String,
    application: String,
    group: String,
    created: f64,
    steps: Vec<Step>,
    at: usize,
}

/// A lifecycle hook's report, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookStatus {
    /// `deploymentId`.
    pub deployment_id: String,
    /// `lifecycleEventHookExecutionId`.
    pub execution_id: String,
    /// `Succeeded` or `Failed`.
    pub status: String,
}

#[derive(Debug, Default)]
struct Inner {
    deployments: Vec<Deployment>,
    hook_statuses: Vec<HookStatus>,
}

/// The running fake.
#[derive(Debug, Clone)]
pub struct FakeCodeDeploy {
    inner: Arc<Mutex<Inner>>,
    url: String,
}

impl FakeCodeDeploy {
    /// Starts the fake on `127.0.0.1:0`.
    pub async fn start() -> Self {
        let (listener, addr) = crate::bind().await;
        let inner: Arc<Mutex<Inner>> = Arc::default();
        let app = Router::new()
            .route("/", post(dispatch))
            .with_state(Arc::clone(&inner));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            inner,
            url: format!("http://{addr}"),
        }
    }

    /// The endpoint URL (`AWS_ENDPOINT_URL_CODEDEPLOY`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Adds a deployment of `application`/`group` created now that walks through `steps`, one
    /// per `GetDeployment` (the last one stays).
    pub fn add_deployment(&self, id: &str, application: &str, group: &str, steps: Vec<Step>) {
        let created = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
        self.lock().deployments.push(Deployment {
            id: id.to_owned(),
            application: application.to_owned(),
            group: group.to_owned(),
            created,
            steps,
            at: 0,
        });
    }

    /// The hook reports received so far, in order.
    pub fn hook_statuses(&self) -> Vec<HookStatus> {
        self.lock().hook_statuses.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn error(kind: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "application/x-amz-json-1.1")],
        json!({"__type": kind, "message": message}).to_string(),
    )
        .into_response()
}

fn answer(v: &Value) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/x-amz-json-1.1")],
        v.to_string(),
    )
        .into_response()
}

async fn dispatch(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(op) = target.strip_prefix("CodeDeploy_20141006.") else {
        return error("UnknownOperationException", "missing X-Amz-Target");
    };
    if headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|a| !a.starts_with("AWS4-HMAC-SHA256"))
    {
        return error(
            "MissingAuthenticationTokenException",
            "request is not signed",
        );
    }
    let Ok(input) = serde_json::from_str::<Value>(&body) else {
        return error("SerializationException", "body is not JSON");
    };
    let mut inner = inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match op {
        "PutLifecycleEventHookExecutionStatus" => {
            let (Some(d), Some(e), Some(s)) = (
                input["deploymentId"].as_str(),
                input["lifecycleEventHookExecutionId"].as_str(),
                input["status"].as_str(),
            ) else {
                return error(
                    "InvalidInputException",
                    "deploymentId, lifecycleEventHookExecutionId and status are required",
                );
            };
            if !matches!(s, "Succeeded" | "Failed") {
                return error(
                    "InvalidLifecycleEventHookExecutionStatusException",
                    "status must be Succeeded or Failed",
                );
            }
            inner.hook_statuses.push(HookStatus {
                deployment_id: d.to_owned(),
                execution_id: e.to_owned(),
                status: s.to_owned(),
            });
            answer(&json!({"lifecycleEventHookExecutionId": e}))
        }
        "ListApplications" => {
            let mut names: Vec<&str> = inner
                .deployments
                .iter()
                .map(|d| d.application.as_str())
                .collect();
            names.sort_unstable();
            names.dedup();
            answer(&json!({ "applications": names }))
        }
        "ListDeployments" => {
            let app = input["applicationName"].as_str();
            let since = input["createTimeRange"]["start"].as_f64().unwrap_or(0.0);
            let ids: Vec<&str> = inner
                .deployments
                .iter()
                .filter(|d| app.is_none_or(|a| a == d.application) && d.created >= since)
                .map(|d| d.id.as_str())
                .collect();
            answer(&json!({ "deployments": ids }))
        }
        "GetDeployment" => {
            let id = input["deploymentId"].as_str().unwrap_or("");
            let Some(d) = inner.deployments.iter_mut().find(|d| d.id == id) else {
                return error(
                    "DeploymentDoesNotExistException",
                    &format!("The deployment {id} could not be found."),
                );
            };
            let step = d.steps.get(d.at).or(d.steps.last()).cloned();
            d.at += 1;
            let step = step.unwrap_or_else(|| Step::to("Created"));
            let done = matches!(step.status, "Succeeded" | "Failed" | "Stopped");
            let now = jiff::Timestamp::now().as_millisecond() as f64 / 1000.0;
            let mut info = json!({
                "deploymentId": d.id, "applicationName": d.application,
                "deploymentGroupName": d.group, "status": step.status,
                "computePlatform": "Lambda", "createTime": d.created,
            });
            if done {
                info["completeTime"] = json!(now);
            }
            if let Some(why) = &step.rollback {
                info["rollbackInfo"] = json!({"rollbackMessage": why});
                info["errorInformation"] = json!({"code": "ALARM_ACTIVE", "message": why});
            }
            answer(&json!({ "deploymentInfo": info }))
        }
        other => error(
            "UnknownOperationException",
            &format!("{other} is not faked"),
        ),
    }
}
