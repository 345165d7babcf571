//! Counters of calls, billed data points, retries and errors, per endpoint kind. The
//! quota-aware poll planner reads these; run summaries print them.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// The kinds of endpoint, as billed and counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointKind {
    /// `/pvsystems`, `/pvsystems-list` (metadata lists: not billed).
    SystemList,
    /// `/pvsystems/{id}` (1 data point).
    SystemDetail,
    /// `/pvsystems/{id}/devices` (not billed).
    DeviceList,
    /// `/pvsystems/{id}/devices/{id}` (1 data point).
    DeviceDetail,
    /// `-count` endpoints (not billed).
    Count,
    /// `flowdata` (1 data point).
    FlowData,
    /// `histdata` (1 per non-null channel value).
    HistData,
    /// `aggrdata` (1 per non-null channel value).
    AggrData,
    /// `messages` (1 per message: our assumption, the API does not say).
    Messages,
    /// `/iam/jwt` login and refresh (not billed).
    Auth,
}

/// Counters for one endpoint kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct KindCounters {
    /// HTTP requests sent (including retries).
    pub calls: u64,
    /// Data points billed for successful responses.
    pub data_points: u64,
    /// Retries after retryable failures.
    pub retries: u64,
}

/// A copy of the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatsSnapshot {
    /// Per endpoint kind.
    pub by_kind: BTreeMap<EndpointKind, KindCounters>,
    /// Failed requests by error kind (after retries).
    pub errors: BTreeMap<&'static str, u64>,
}

impl StatsSnapshot {
    /// Calls over all kinds.
    pub fn total_calls(&self) -> u64 {
        self.by_kind.values().map(|c| c.calls).sum()
    }

    /// Billed data points over all kinds.
    pub fn total_data_points(&self) -> u64 {
        self.by_kind.values().map(|c| c.data_points).sum()
    }
}

/// Shared counters; cheap to update from many tasks.
#[derive(Debug, Default)]
pub struct Stats(Mutex<StatsSnapshot>);

impl Stats {
    fn with(&self, f: impl FnOnce(&mut StatsSnapshot)) {
        f(&mut self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    pub(crate) fn call(&self, kind: EndpointKind) {
        self.with(|s| s.by_kind.entry(kind).or_default().calls += 1);
    }

    pub(crate) fn retry(&self, kind: EndpointKind) {
        self.with(|s| s.by_kind.entry(kind).or_default().retries += 1);
    }

    pub(crate) fn data_points(&self, kind: EndpointKind, points: u64) {
        self.with(|s| s.by_kind.entry(kind).or_default().data_points += points);
    }

    pub(crate) fn error(&self, kind: &'static str) {
        self.with(|s| *s.errors.entry(kind).or_default() += 1);
    }

    /// A copy of the counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}
