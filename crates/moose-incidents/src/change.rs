//! The engine's output as the rest of Moose sees it: an incident change, and the port through
//! which each change gets its notification records written in the same transaction (the
//! outbox). `moose-status` produces changes; `moose-notify` implements the planner.

use async_trait::async_trait;
use moose_store::{StoreError, TxOp};
use serde::Serialize;

use crate::model::Incident;

/// What happened to an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeEvent {
    /// It was opened.
    Opened,
    /// It was resolved.
    Resolved,
    /// New evidence or a later sighting; nobody is notified.
    Updated,
}

/// An incident change, as handed to the notification planner.
#[derive(Debug, Clone)]
pub struct Change {
    /// Opened or resolved.
    pub event: ChangeEvent,
    /// The incident after the change.
    pub incident: Incident,
    /// Notifications are held (snooze or maintenance) for the system.
    pub held: bool,
    /// Version of the incident item as read (0: a new incident).
    pub version: u64,
}

impl Change {
    /// A change of a new incident (version 0), notifications not held; the engine fills in
    /// the version it read and the hold before committing.
    pub fn new(event: ChangeEvent, incident: Incident) -> Self {
        Self {
            event,
            incident,
            held: false,
            version: 0,
        }
    }
}

/// Turns incident changes into notification records, written in the same transaction as the
/// change (the outbox). Implemented by `moose-notify`.
#[async_trait]
pub trait NotificationPlanner: Send + Sync + std::fmt::Debug {
    /// The store operations that record the notifications of `change`.
    async fn plan(&self, change: &Change) -> Result<Vec<TxOp>, StoreError>;
}

/// A planner that plans nothing (tests, and installations without notifications).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNotifications;

#[async_trait]
impl NotificationPlanner for NoNotifications {
    async fn plan(&self, _change: &Change) -> Result<Vec<TxOp>, StoreError> {
        Ok(Vec::new())
    }
}
