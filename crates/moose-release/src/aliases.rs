//! Where each function's alias points, and the instant rollback: the alias back to the version
//! it pointed at before (or, mid-canary, all traffic back to the old primary).
//!
//! SAM owns the aliases (`AutoPublishAlias`), so a rollback made here is drift until the next
//! deploy: `docs/releasing.md` says to deploy the previous release afterwards.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ReleaseError;

/// The six functions, as the template names them.
pub const FUNCTIONS: [&str; 6] = [
    "solar-data-polling",
    "device-status-polling",
    "notify-user",
    "solar-data-service",
    "user-management",
    "chat-service",
];

/// One function's alias.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AliasState {
    /// The function.
    pub function: String,
    /// The alias (`live`).
    pub alias: String,
    /// The primary version.
    pub version: String,
    /// Versions getting a share of the traffic besides the primary (a canary in progress).
    pub weights: BTreeMap<String, f64>,
    /// Published versions, oldest first.
    pub versions: Vec<u64>,
}

impl AliasState {
    /// Where a rollback takes this alias: mid-canary, all traffic back to the primary (the old
    /// version); otherwise the newest published version older than the primary.
    pub fn rollback_to(&self) -> Option<String> {
        if !self.weights.is_empty() {
            return Some(self.version.clone());
        }
        let current: u64 = self.version.parse().ok()?;
        self.versions
            .iter()
            .copied()
            .filter(|v| *v < current)
            .max()
            .map(|v| v.to_string())
    }
}

fn aws_error(what: &str, e: impl std::error::Error + 'static) -> ReleaseError {
    ReleaseError::Aws(format!(
        "{what}: {}",
        aws_sdk_lambda::error::DisplayErrorContext(e)
    ))
}

/// Reads `function`'s `alias` and its published versions.
pub async fn alias_state(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    alias: &str,
) -> Result<AliasState, ReleaseError> {
    let a = lambda
        .get_alias()
        .function_name(function)
        .name(alias)
        .send()
        .await
        .map_err(|e| aws_error(&format!("GetAlias {function}:{alias}"), e))?;
    let weights = a
        .routing_config()
        .and_then(|r| r.additional_version_weights())
        .map(|w| w.iter().map(|(k, v)| (k.clone(), *v)).collect())
        .unwrap_or_default();
    let mut versions = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = lambda
            .list_versions_by_function()
            .function_name(function)
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| aws_error(&format!("ListVersionsByFunction {function}"), e))?;
        versions.extend(
            page.versions()
                .iter()
                .filter_map(|v| v.version()?.parse::<u64>().ok()),
        );
        marker = page.next_marker().map(str::to_owned);
        if marker.is_none() {
            break;
        }
    }
    versions.sort_unstable();
    Ok(AliasState {
        function: function.to_owned(),
        alias: alias.to_owned(),
        version: a.function_version().unwrap_or("?").to_owned(),
        weights,
        versions,
    })
}

/// One alias moved by a rollback.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Moved {
    /// The function.
    pub function: String,
    /// What the alias served before: `7`, or `6 (+7 at 10 %)` mid-canary.
    pub from: String,
    /// The version it serves now.
    pub to: String,
}

/// Points `function`'s alias at `to` (or its [`AliasState::rollback_to`]) with no extra
/// weights, at once.
pub async fn rollback_one(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    alias: &str,
    to: Option<&str>,
) -> Result<Moved, ReleaseError> {
    let state = alias_state(lambda, function, alias).await?;
    let target = match to {
        Some(v) => v.to_owned(),
        None => state.rollback_to().ok_or_else(|| {
            ReleaseError::Setting(format!(
                "{function}: no version older than {} to go back to",
                state.version
            ))
        })?,
    };
    let from = if state.weights.is_empty() {
        state.version.clone()
    } else {
        let canary: Vec<String> = state
            .weights
            .iter()
            .map(|(v, w)| format!("+{v} at {:.0} %", w * 100.0))
            .collect();
        format!("{} ({})", state.version, canary.join(", "))
    };
    lambda
        .update_alias()
        .function_name(function)
        .name(alias)
        .function_version(&target)
        .routing_config(
            aws_sdk_lambda::types::AliasRoutingConfiguration::builder()
                .set_additional_version_weights(Some(std::collections::HashMap::new()))
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws_error(&format!("UpdateAlias {function}:{alias}"), e))?;
    Ok(Moved {
        function: function.to_owned(),
        from,
        to: target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(version: &str, weights: &[(&str, f64)], versions: &[u64]) -> AliasState {
        AliasState {
            function: "f".into(),
            alias: "live".into(),
            version: version.into(),
            weights: weights.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
            versions: versions.to_vec(),
        }
    }

    #[test]
    fn rollback_goes_to_the_newest_older_version_or_drops_the_canary() {
        assert_eq!(
            state("7", &[], &[1, 5, 6, 7, 8]).rollback_to().as_deref(),
            Some("6")
        );
        assert_eq!(state("7", &[], &[2, 7]).rollback_to().as_deref(), Some("2"));
        assert_eq!(state("1", &[], &[1]).rollback_to(), None);
        // Mid-canary the primary is still the old version: all traffic goes back to it.
        assert_eq!(
            state("6", &[("7", 0.1)], &[6, 7]).rollback_to().as_deref(),
            Some("6")
        );
    }
}
