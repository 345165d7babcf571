//! Following the CodeDeploy deployments a `sam deploy` starts (one per function's deployment
//! group, in parallel) until each ends, and what became of them: succeeded, or stopped and
//! rolled back, and why.

use std::time::Duration;

use aws_sdk_codedeploy::types::TimeRange;
use serde::{Deserialize, Serialize};

use crate::ReleaseError;

/// One deployment as CodeDeploy reports it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeploymentView {
    /// `d-…`.
    pub id: String,
    /// The deployment group (one per function).
    pub group: String,
    /// `Created`, `InProgress`, `Succeeded`, `Failed`, `Stopped`, …
    pub status: String,
    /// When it was created.
    pub created: Option<jiff::Timestamp>,
    /// When it ended.
    pub completed: Option<jiff::Timestamp>,
    /// Whether CodeDeploy rolled it back (an alarm, a failed hook, a stop).
    pub rolled_back: bool,
    /// Why it failed or was rolled back.
    pub reason: Option<String>,
}

impl DeploymentView {
    /// Whether the deployment has ended.
    pub fn finished(&self) -> bool {
        matches!(self.status.as_str(), "Succeeded" | "Failed" | "Stopped")
    }
}

fn to_jiff(t: &aws_sdk_codedeploy::primitives::DateTime) -> Option<jiff::Timestamp> {
    jiff::Timestamp::new(t.secs(), i32::try_from(t.subsec_nanos()).ok()?).ok()
}

fn aws_error(what: &str, e: impl std::error::Error + 'static) -> ReleaseError {
    ReleaseError::Aws(format!(
        "{what}: {}",
        aws_sdk_codedeploy::error::DisplayErrorContext(e)
    ))
}

/// The CodeDeploy application SAM created for `stack` (`<stack>-ServerlessDeploymentApplication-…`).
pub async fn find_application(
    codedeploy: &aws_sdk_codedeploy::Client,
    stack: &str,
) -> Result<Option<String>, ReleaseError> {
    let mut token = None;
    loop {
        let page = codedeploy
            .list_applications()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| aws_error("ListApplications", e))?;
        if let Some(found) = page.applications().iter().find(|a| {
            a.starts_with(&format!("{stack}-ServerlessDeploymentApplication")) || *a == stack
        }) {
            return Ok(Some(found.clone()));
        }
        token = page.next_token().map(str::to_owned);
        if token.is_none() {
            return Ok(None);
        }
    }
}

/// The deployments of `application` created since `since`.
pub async fn deployments_since(
    codedeploy: &aws_sdk_codedeploy::Client,
    application: &str,
    since: jiff::Timestamp,
) -> Result<Vec<DeploymentView>, ReleaseError> {
    let range = TimeRange::builder()
        .start(aws_sdk_codedeploy::primitives::DateTime::from_secs(
            since.as_second(),
        ))
        .build();
    let list = codedeploy
        .list_deployments()
        .application_name(application)
        .create_time_range(range)
        .send()
        .await
        .map_err(|e| aws_error("ListDeployments", e))?;
    let mut out = Vec::new();
    for id in list.deployments() {
        out.push(deployment(codedeploy, id).await?);
    }
    out.sort_by(|a, b| a.group.cmp(&b.group));
    Ok(out)
}

/// One deployment.
pub async fn deployment(
    codedeploy: &aws_sdk_codedeploy::Client,
    id: &str,
) -> Result<DeploymentView, ReleaseError> {
    let got = codedeploy
        .get_deployment()
        .deployment_id(id)
        .send()
        .await
        .map_err(|e| aws_error(&format!("GetDeployment {id}"), e))?;
    let info = got
        .deployment_info()
        .ok_or_else(|| ReleaseError::Aws(format!("GetDeployment {id}: no deploymentInfo")))?;
    let rollback = info.rollback_info();
    let reason = rollback
        .and_then(|r| r.rollback_message())
        .or_else(|| info.error_information().and_then(|e| e.message()))
        .map(str::to_owned);
    Ok(DeploymentView {
        id: id.to_owned(),
        group: info.deployment_group_name().unwrap_or("?").to_owned(),
        status: info
            .status()
            .map_or_else(|| "Unknown".to_owned(), |s| s.as_str().to_owned()),
        created: info.create_time().and_then(to_jiff),
        completed: info.complete_time().and_then(to_jiff),
        rolled_back: rollback.is_some(),
        reason,
    })
}

/// How long to follow.
#[derive(Debug, Clone, Copy)]
pub struct Follow {
    /// Between two looks.
    pub poll: Duration,
    /// Give up after this long (the canary window plus hooks: 30 minutes by default).
    pub timeout: Duration,
    /// With no deployment seen after this long, there is none (no function changed).
    pub none_after: Duration,
}

/// Follows every deployment of `application` created since `since` until all have ended,
/// calling `progress` whenever one changes status.
pub async fn follow(
    codedeploy: &aws_sdk_codedeploy::Client,
    application: &str,
    since: jiff::Timestamp,
    how: Follow,
    mut progress: impl FnMut(&DeploymentView),
) -> Result<Vec<DeploymentView>, ReleaseError> {
    let started = tokio::time::Instant::now();
    let mut seen: Vec<DeploymentView> = Vec::new();
    loop {
        let now = deployments_since(codedeploy, application, since).await?;
        for d in &now {
            if !seen.iter().any(|s| s.id == d.id && s.status == d.status) {
                progress(d);
            }
        }
        seen = now;
        let elapsed = started.elapsed();
        if seen.is_empty() && elapsed >= how.none_after {
            return Ok(seen);
        }
        if !seen.is_empty() && seen.iter().all(DeploymentView::finished) {
            return Ok(seen);
        }
        if elapsed >= how.timeout {
            return Err(ReleaseError::Timeout(format!(
                "the deployments of {application} had not ended after {} s: {}",
                how.timeout.as_secs(),
                seen.iter()
                    .map(|d| format!("{} {}", d.group, d.status))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        tokio::time::sleep(how.poll).await;
    }
}
