//! The CodeDeploy PreTraffic hook (`CodeDeployHook_moose-pretraffic`, the same `bootstrap`
//! with `MOOSE_FUNCTION=codedeploy-hook`). CodeDeploy invokes it before it moves any traffic to
//! the new versions; it runs the version-scope checks against each new version by invoking it
//! directly, and reports `Succeeded` or `Failed` with `PutLifecycleEventHookExecutionStatus`.
//! A `Failed` report stops the deployment and CloudFormation rolls the stack back; returning
//! from the handler alone would leave CodeDeploy waiting until its hook timeout.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ReleaseError;
use crate::checks::{self, Check, Options, Scope};
use crate::lambda::LambdaTarget;

/// The event CodeDeploy sends a lifecycle hook.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct LifecycleEvent {
    /// `d-XXXXXXXXX`.
    pub deployment_id: String,
    /// The token to report back with.
    pub lifecycle_event_hook_execution_id: String,
}

/// What the hook checks, from its environment.
#[derive(Debug, Clone)]
pub struct HookSettings {
    /// The new versions, qualified (`MOOSE_HOOK_TARGETS`, comma-separated; the template sets
    /// it to every function's `!Ref Fn.Version`).
    pub targets: Vec<String>,
    /// An API key for the API checks of the HTTP functions (`MOOSE_HOOK_API_KEY`); without it
    /// the hook checks health and readiness only.
    pub credential: Option<String>,
}

impl HookSettings {
    /// Reads `MOOSE_HOOK_TARGETS` and `MOOSE_HOOK_API_KEY` from `get`.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, ReleaseError> {
        let targets: Vec<String> = get("MOOSE_HOOK_TARGETS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect();
        if targets.is_empty() {
            return Err(ReleaseError::Setting(
                "MOOSE_HOOK_TARGETS is empty: list the new function versions to check (the template sets it)".into(),
            ));
        }
        Ok(Self {
            targets,
            credential: get("MOOSE_HOOK_API_KEY").filter(|k| !k.trim().is_empty()),
        })
    }
}

/// The checks of one new version.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TargetChecks {
    /// The qualified function.
    pub target: String,
    /// Its checks.
    pub checks: Vec<Check>,
}

/// What the hook found and reported.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HookOutcome {
    /// `Succeeded` or `Failed`, as reported to CodeDeploy.
    pub status: &'static str,
    /// Per new version.
    pub targets: Vec<TargetChecks>,
}

/// Whether a function serves the HTTP API (and so gets the API checks).
pub fn is_http_function(target: &str) -> bool {
    ["solar-data-service", "user-management", "chat-service"]
        .iter()
        .any(|f| target.contains(f))
}

/// Runs the checks against every target at once and reports the verdict to CodeDeploy.
pub async fn pre_traffic(
    event: &LifecycleEvent,
    settings: &HookSettings,
    lambda: &aws_sdk_lambda::Client,
    codedeploy: &aws_sdk_codedeploy::Client,
) -> Result<HookOutcome, ReleaseError> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, target) in settings.targets.iter().enumerate() {
        let lambda_target = LambdaTarget::new(lambda.clone(), target);
        let options = Options {
            credential: settings
                .credential
                .clone()
                .filter(|_| is_http_function(target)),
            require_credential: false,
            scope: Scope::Version,
            ..Options::default()
        };
        let name = target.clone();
        tasks.spawn(async move {
            let checks = checks::run(&lambda_target, &options).await;
            (
                i,
                TargetChecks {
                    target: name,
                    checks,
                },
            )
        });
    }
    let mut results = Vec::new();
    while let Some(done) = tasks.join_next().await {
        results.push(done.map_err(|e| ReleaseError::Setting(format!("a check task failed: {e}")))?);
    }
    results.sort_by_key(|(i, _)| *i);
    let targets: Vec<TargetChecks> = results.into_iter().map(|(_, t)| t).collect();
    let passed = targets.iter().all(|t| t.checks.iter().all(|c| c.ok));
    let status = if passed { "Succeeded" } else { "Failed" };
    for t in &targets {
        for c in t.checks.iter().filter(|c| !c.ok) {
            tracing::warn!(target = %t.target, check = %c.name, detail = %c.detail, "pre-traffic check failed");
        }
    }
    report(codedeploy, event, status).await?;
    tracing::info!(deployment = %event.deployment_id, status, "pre-traffic hook reported");
    Ok(HookOutcome { status, targets })
}

/// `PutLifecycleEventHookExecutionStatus`, retried with backoff: CodeDeploy waits for this
/// call, so a lost report would hold the deployment until the hook times out.
async fn report(
    codedeploy: &aws_sdk_codedeploy::Client,
    event: &LifecycleEvent,
    status: &str,
) -> Result<(), ReleaseError> {
    let mut delay = Duration::from_millis(500);
    let mut last = String::new();
    for _ in 0..4 {
        let sent = codedeploy
            .put_lifecycle_event_hook_execution_status()
            .deployment_id(&event.deployment_id)
            .lifecycle_event_hook_execution_id(&event.lifecycle_event_hook_execution_id)
            .status(aws_sdk_codedeploy::types::LifecycleEventStatus::from(
                status,
            ))
            .send()
            .await;
        match sent {
            Ok(_) => return Ok(()),
            Err(e) => {
                last = aws_sdk_codedeploy::error::DisplayErrorContext(&e).to_string();
                tracing::warn!(error = %last, "reporting to CodeDeploy failed; retrying");
            }
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
    Err(ReleaseError::Aws(format!(
        "PutLifecycleEventHookExecutionStatus for {}: {last}",
        event.deployment_id
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codedeploy_event_is_read_in_pascal_case() {
        let e: LifecycleEvent = serde_json::from_str(
            r#"{"DeploymentId":"d-ABC123","LifecycleEventHookExecutionId":"eyJ..."}"#,
        )
        .unwrap();
        assert_eq!(e.deployment_id, "d-ABC123");
        assert!(serde_json::from_str::<LifecycleEvent>(r#"{"deploymentId":"d-1"}"#).is_err());
    }

    #[test]
    fn settings_need_targets_and_take_the_key_only_when_set() {
        let env = |k: &str| match k {
            "MOOSE_HOOK_TARGETS" => Some(" a:1 , b:2,,".to_owned()),
            "MOOSE_HOOK_API_KEY" => Some("  ".to_owned()),
            _ => None,
        };
        let s = HookSettings::from_env(env).unwrap();
        assert_eq!(s.targets, ["a:1", "b:2"]);
        assert!(s.credential.is_none());
        assert!(HookSettings::from_env(|_| None).is_err());
        assert!(is_http_function(
            "arn:aws:lambda:x:1:function:chat-service:3"
        ));
        assert!(!is_http_function(
            "arn:aws:lambda:x:1:function:notify-user:3"
        ));
    }
}
