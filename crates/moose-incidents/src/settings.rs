//! What people change on a system's `STATUS`: snooze, maintenance windows and the no-data grace
//! period, with their limits, and the one safe way to apply a change.
//!
//! `device-status-polling` writes the same item under a version condition, so every change here
//! is a versioned read-modify-write, retried when the job wrote in between: neither side ever
//! overwrites the other's change.

use jiff::{SignedDuration, Timestamp};
use moose_domain::SystemId;
use moose_store::StoreError;

use crate::model::{MaintenanceWindow, SystemStatus};
use crate::repo::IncidentRepo;

const DAY: SignedDuration = SignedDuration::from_hours(24);
/// Longest snooze.
pub const MAX_SNOOZE_DAYS: i32 = 30;
/// Longest maintenance window.
pub const MAX_WINDOW_DAYS: i32 = 31;
/// Ended windows are kept this long (the status shows recent history), then dropped.
pub const KEEP_ENDED_DAYS: i32 = 30;
/// Longest maintenance reason, in characters.
pub const MAX_REASON: usize = 200;
/// The no-data grace period's range, in minutes.
pub const GRACE_MINUTES: std::ops::RangeInclusive<u32> = 5..=240;
/// Writes retried after the first one lost a race with the status job.
const RETRIES: usize = 3;

/// Why a change was refused; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid(message: impl Into<String>) -> Invalid {
    Invalid(message.into())
}

/// Why a change could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The change breaks a limit.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The system has no status yet and this change does not create one.
    #[error("no status yet for this system; device-status-polling has not run")]
    NoStatus,
    /// Every retry lost a race with the status job.
    #[error("the system's status kept changing; retry")]
    KeptChanging,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SystemStatus {
    /// Holds notifications until `until` (`None` lifts the snooze): in the future, at most
    /// [`MAX_SNOOZE_DAYS`] ahead.
    pub fn snooze(&mut self, until: Option<Timestamp>, now: Timestamp) -> Result<(), Invalid> {
        if let Some(u) = until {
            if u <= now {
                return Err(invalid("until: must be in the future"));
            }
            if u.duration_since(now) > DAY * MAX_SNOOZE_DAYS {
                return Err(invalid(format!(
                    "until: at most {MAX_SNOOZE_DAYS} days ahead"
                )));
            }
        }
        self.snoozed_until = until;
        Ok(())
    }

    /// Plans a maintenance window (no incidents open and nobody is notified meanwhile): a
    /// reason of 1 to [`MAX_REASON`] characters, `from` before `to`, at most
    /// [`MAX_WINDOW_DAYS`] long, ending in the future. Windows that ended more than
    /// [`KEEP_ENDED_DAYS`] ago are dropped.
    pub fn plan_maintenance(
        &mut self,
        mut window: MaintenanceWindow,
        now: Timestamp,
    ) -> Result<(), Invalid> {
        window.reason = window.reason.trim().to_owned();
        if window.reason.is_empty() || window.reason.chars().count() > MAX_REASON {
            return Err(invalid(format!("reason: 1 to {MAX_REASON} characters")));
        }
        if window.from >= window.to {
            return Err(invalid("from: must be before to"));
        }
        if window.to.duration_since(window.from) > DAY * MAX_WINDOW_DAYS {
            return Err(invalid(format!(
                "to: a window lasts at most {MAX_WINDOW_DAYS} days"
            )));
        }
        if window.to <= now {
            return Err(invalid("to: must be in the future"));
        }
        self.maintenance
            .retain(|w| now.duration_since(w.to) <= DAY * KEEP_ENDED_DAYS);
        self.maintenance.push(window);
        Ok(())
    }

    /// Cancels every current and future maintenance window; ended ones stay as history.
    pub fn clear_maintenance(&mut self, now: Timestamp) {
        self.maintenance.retain(|w| w.to <= now);
    }

    /// Sets the no-data grace period, within [`GRACE_MINUTES`].
    pub fn set_grace(&mut self, minutes: u32) -> Result<(), Invalid> {
        if !GRACE_MINUTES.contains(&minutes) {
            return Err(invalid(format!(
                "minutes: must be between {} and {}",
                GRACE_MINUTES.start(),
                GRACE_MINUTES.end()
            )));
        }
        self.grace_minutes = Some(minutes);
        Ok(())
    }
}

impl IncidentRepo {
    /// Applies `change` to the system's status with a versioned write, re-reading and retrying
    /// when the status job wrote in between. A missing status is created when `create` is set
    /// (settings may come before the first pass); otherwise it is [`UpdateError::NoStatus`].
    pub async fn update_status(
        &self,
        system: &SystemId,
        create: bool,
        change: impl Fn(&mut SystemStatus, Timestamp) -> Result<(), Invalid>,
    ) -> Result<SystemStatus, UpdateError> {
        for _ in 0..=RETRIES {
            let now = Timestamp::now();
            let (mut status, version) = match self.status(system).await? {
                Some(v) => (v.value, v.version),
                None if create => (SystemStatus::new(system.clone(), now), 0),
                None => return Err(UpdateError::NoStatus),
            };
            change(&mut status, now)?;
            match self.commit(vec![Self::status_op(&status, version)?]).await {
                Ok(()) => return Ok(status),
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(UpdateError::KeptChanging)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> (SystemStatus, Timestamp) {
        let now: Timestamp = "2026-06-01T10:00:00Z".parse().unwrap();
        (SystemStatus::new(SystemId::parse("A").unwrap(), now), now)
    }

    fn window(from: Timestamp, hours: i64, reason: &str) -> MaintenanceWindow {
        MaintenanceWindow {
            from,
            to: from + SignedDuration::from_hours(hours),
            reason: reason.into(),
            created_by: None,
        }
    }

    #[test]
    fn snooze_limits() {
        let (mut s, now) = status();
        assert!(
            s.snooze(Some(now - SignedDuration::from_mins(1)), now)
                .is_err()
        );
        assert!(s.snooze(Some(now + DAY * 31), now).is_err());
        s.snooze(Some(now + DAY), now).unwrap();
        assert_eq!(s.snoozed_until, Some(now + DAY));
        s.snooze(None, now).unwrap();
        assert_eq!(s.snoozed_until, None);
    }

    #[test]
    fn maintenance_limits_and_history() {
        let (mut s, now) = status();
        assert!(s.plan_maintenance(window(now, 2, "  "), now).is_err());
        assert!(
            s.plan_maintenance(window(now, 2, &"x".repeat(201)), now)
                .is_err()
        );
        assert!(s.plan_maintenance(window(now, 0, "r"), now).is_err());
        assert!(s.plan_maintenance(window(now, 24 * 32, "r"), now).is_err());
        assert!(
            s.plan_maintenance(window(now - DAY, 2, "r"), now).is_err(),
            "ended"
        );
        let old = window(now - DAY * 40, 2, "old");
        s.maintenance.push(old);
        s.plan_maintenance(window(now, 2, " inverter swap "), now)
            .unwrap();
        assert_eq!(
            s.maintenance.len(),
            1,
            "a window ended 40 days ago is dropped"
        );
        assert_eq!(s.maintenance[0].reason, "inverter swap");
        s.clear_maintenance(now);
        assert!(s.maintenance.is_empty());
    }

    #[test]
    fn grace_limits() {
        let (mut s, _) = status();
        assert!(s.set_grace(4).is_err());
        assert!(s.set_grace(241).is_err());
        s.set_grace(30).unwrap();
        assert_eq!(s.grace_minutes, Some(30));
    }
}
