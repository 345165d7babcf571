//! Incidents as the rest of Moose sees them: the per-system `STATUS` item and incident records
//! ([`model`]), where they are kept ([`repo`]), what people change on a status and its limits
//! ([`settings`]), the explained state-code table ([`codes`]) and
//! the change/planner port ([`change`]) through which `device-status-polling` (the engine in
//! `moose-status`) has notifications written with each change. No Solar.web or solar-data
//! dependency, so that readers of incidents (the API, notification delivery) do not pull in
//! the engine.
//!
//! The rules, their thresholds and how well they score against the simulator's ground truth
//! are in `docs/incidents.md`.

pub mod change;
pub mod codes;
pub mod model;
pub mod profile;
pub mod repo;
pub mod settings;

pub use change::{Change, ChangeEvent, NoNotifications, NotificationPlanner};
pub use codes::{CodeAction, CodeInfo, CodeTable, WhoActs};
pub use model::{
    GapWatch, Incident, IncidentKind, MaintenanceWindow, Resolution, Severity, SystemState,
    SystemStatus,
};
pub use profile::ProductionProfile;
pub use repo::{IncidentFilter, IncidentRepo, PlatformStatus, Versioned};
