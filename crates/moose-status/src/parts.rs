//! The parts a `device-status-polling` pass works with. Kept apart from the pass itself
//! (`job.rs`) so that the decision modules can name them without importing the pass that
//! calls them.

use std::sync::Arc;

use moose_incidents::{IncidentRepo, NotificationPlanner};
use moose_solardata::SolarRepo;
use moose_solarweb::SolarWebClient;

use crate::rules::Rules;

/// The job's parts.
#[derive(Debug, Clone)]
pub struct StatusJob {
    /// Solar.web.
    pub client: SolarWebClient,
    /// Systems, devices and ingested data.
    pub solar: SolarRepo,
    /// Statuses and incidents.
    pub incidents: IncidentRepo,
    /// Thresholds.
    pub rules: Rules,
    /// The outbox writer.
    pub planner: Arc<dyn NotificationPlanner>,
    /// Systems observed at once.
    pub concurrency: usize,
}
