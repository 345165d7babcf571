//! `device-status-polling`: the per-system `STATUS` item and the incident engine.
//!
//! Each pass ([`status_pass`]) observes every system ([`observe`]: sun position at the site,
//! freshness of the ingested data, Solar.web's live view and new messages), turns each
//! observation into verdicts per incident kind ([`rules`]), runs them through flap protection
//! ([`model::Track`]) and commits the system's status, its incident changes and the
//! notification records a [`NotificationPlanner`] makes of them in one store transaction.
//!
//! The rules, their thresholds and how well they score against the simulator's ground truth
//! are in `docs/incidents.md`.

pub mod codes;
mod evaluate;
mod gap;
pub mod job;
mod judge;
pub mod model;
pub mod observe;
pub mod repo;
pub mod rules;
pub mod texts;

pub use codes::{CodeAction, CodeInfo, CodeTable, WhoActs};
pub use job::{
    Change, ChangeEvent, NoNotifications, NotificationPlanner, StatusJob, StatusSummary,
    run_schedule, status_pass,
};
pub use model::{
    Incident, IncidentKind, MaintenanceWindow, Resolution, Severity, SystemState, SystemStatus,
};
pub use repo::{IncidentFilter, IncidentRepo, PlatformStatus, Versioned};
pub use rules::Rules;
