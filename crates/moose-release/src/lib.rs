//! Releasing Moose: what `moose verify`, `moose release` and the CodeDeploy PreTraffic hook
//! share.
//!
//! - [`checks`]: the smoke checks, written once over a [`checks::Target`] — HTTP
//!   ([`checks::HttpTarget`]) or a Lambda version invoked directly ([`lambda::LambdaTarget`]);
//! - [`hook`]: the PreTraffic hook that runs them against the new versions and reports to
//!   CodeDeploy;
//! - [`aliases`]: where each function's `live` alias points, and the instant rollback;
//! - [`deployments`]: following the CodeDeploy deployments of a `sam deploy`;
//! - [`report`]: the release report from measured figures, judged by the old checklist's
//!   success criteria; [`changelog`]: the version's CHANGELOG section and tag.

pub mod aliases;
pub mod aws;
pub mod changelog;
pub mod checks;
pub mod deployments;
pub mod hook;
pub mod lambda;
pub mod report;

/// Why a release step failed.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// A setting is missing or wrong.
    #[error("{0}")]
    Setting(String),
    /// An AWS call failed (the message names the call).
    #[error("{0}")]
    Aws(String),
    /// Something did not finish in time.
    #[error("{0}")]
    Timeout(String),
}
