//! `device-status-polling`: the incident engine.
//!
//! Each pass ([`status_pass`]) observes every system ([`observe`]: sun position at the site,
//! freshness of the ingested data, Solar.web's live view and new messages), turns each
//! observation into verdicts per incident kind ([`rules`]), runs them through flap protection
//! (`moose_incidents::model::Track`) and commits the system's status, its incident changes and
//! the notification records a `NotificationPlanner` makes of them in one store transaction.
//!
//! The rules, their thresholds and how well they score against the simulator's ground truth
//! are in `docs/incidents.md`.

mod evaluate;
mod gap;
pub mod job;
mod judge;
pub mod learn;
pub mod observe;
mod parts;
pub mod rules;
pub mod texts;

pub use job::{StatusJob, StatusSummary, run_schedule, status_pass};
pub use rules::Rules;
