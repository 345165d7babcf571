//! The outbox writer: an incident change becomes notification records, written in the same
//! transaction as the change (see `moose_incidents::NotificationPlanner`).
//!
//! Who is told: the system's owners first (tier 1); its installers and technicians (tier 2)
//! when nobody acknowledged within the system's escalation time, or first if it has no owner.
//! Viewers see incidents in their in-app feed only. Platform incidents go to admins and fleet
//! managers. Reminders to tier 1 and the escalation are planned at opening time, each due later
//! and sent only if the incident is still open and unacknowledged then. A resolution message
//! is planned for everyone but sent only to those whose opening (or escalation) was sent.

use async_trait::async_trait;
use jiff::{SignedDuration, Timestamp};
use moose_auth::{AuthService, OrgRole, SystemRole};
use moose_domain::UserId;
use moose_incidents::{Change, ChangeEvent, Incident, NotificationPlanner};
use moose_store::{StoreError, TxOp};
use serde_json::json;

use crate::message::OutgoingMessage;
use crate::model::{DeliveryState, FeedEntry, Notification, NotifyEvent};
use crate::repo::NotifyRepo;

/// At most this many store operations per incident change (the transaction limit is 100; the
/// status and incident items need two).
const MAX_OPS: usize = 90;

/// Plans notifications into the outbox.
#[derive(Debug, Clone)]
pub struct OutboxPlanner {
    /// Users and memberships.
    pub auth: AuthService,
    /// Escalation policies.
    pub repo: NotifyRepo,
    /// Base URL of Moose for links (`https://moose.example.com`).
    pub public_url: Option<String>,
    /// Also publish every incident event once to the operations SNS topic.
    pub ops_topic: bool,
}

struct Recipients {
    first: Vec<UserId>,
    second: Vec<UserId>,
    feed_only: Vec<UserId>,
}

impl OutboxPlanner {
    async fn recipients(&self, incident: &Incident) -> Result<Recipients, StoreError> {
        let err = |e: moose_auth::AuthError| StoreError::Other(e.to_string().into());
        let Some(system) = &incident.system else {
            let users = self.auth.list_users().await.map_err(err)?;
            let first = users
                .iter()
                .filter(|u| {
                    let role = u.get("role").and_then(|r| r.as_str()).unwrap_or("");
                    let disabled =
                        u.get("disabled").and_then(serde_json::Value::as_bool) == Some(true);
                    !disabled
                        && (role == OrgRole::Admin.as_str()
                            || role == OrgRole::FleetManager.as_str())
                })
                .filter_map(|u| {
                    u.get("id")
                        .and_then(|i| i.as_str())
                        .and_then(|i| UserId::parse(i).ok())
                })
                .collect();
            return Ok(Recipients {
                first,
                second: Vec::new(),
                feed_only: Vec::new(),
            });
        };
        let members = self.auth.members(system).await.map_err(err)?;
        let with = |roles: &[SystemRole]| -> Vec<UserId> {
            members
                .iter()
                .filter(|m| roles.contains(&m.role))
                .map(|m| m.user.clone())
                .collect()
        };
        let owners = with(&[SystemRole::Owner]);
        let field = with(&[SystemRole::Installer, SystemRole::Technician]);
        let viewers = with(&[SystemRole::Viewer]);
        Ok(if owners.is_empty() {
            Recipients {
                first: field,
                second: Vec::new(),
                feed_only: viewers,
            }
        } else {
            Recipients {
                first: owners,
                second: field,
                feed_only: viewers,
            }
        })
    }

    fn link(&self, incident: &Incident) -> Option<String> {
        self.public_url.as_ref().map(|base| {
            format!(
                "{}/api/incidents/{}",
                base.trim_end_matches('/'),
                incident.id
            )
        })
    }

    /// The message of `event` for `incident`.
    pub fn render(&self, incident: &Incident, event: NotifyEvent, key: &str) -> OutgoingMessage {
        let place = incident
            .system_name
            .clone()
            .unwrap_or_else(|| "the fleet".into());
        let subject = match event {
            NotifyEvent::Opened => format!("[Moose] {}", incident.title),
            NotifyEvent::Reminder => format!("[Moose] Reminder: {}", incident.title),
            NotifyEvent::Escalated => format!("[Moose] Not acknowledged: {}", incident.title),
            NotifyEvent::Resolved => format!("[Moose] Resolved: {}", incident.title),
        };
        let since = incident.since.strftime("%Y-%m-%d %H:%M UTC");
        let text = match event {
            NotifyEvent::Resolved => format!(
                "{}\n\nWhere: {place}\nSince: {since}\nResolved: {}\n\n{}",
                incident.title,
                incident.resolved_at.map_or_else(String::new, |t| t
                    .strftime("%Y-%m-%d %H:%M UTC")
                    .to_string()),
                incident.summary,
            ),
            _ => format!(
                "{}\n\nWhere: {place}\nSince: {since}\n\nWhat to do: {}",
                incident.summary, incident.action
            ),
        };
        OutgoingMessage {
            idempotency_key: key.to_owned(),
            event: event.wire_name().to_owned(),
            severity: incident.severity.as_str().to_owned(),
            subject,
            text,
            link: self.link(incident),
            payload: json!({
                "incident": incident.id, "system": incident.system, "system_name": incident.system_name,
                "kind": incident.kind, "severity": incident.severity, "since": incident.since,
                "opened_at": incident.opened_at, "resolved_at": incident.resolved_at,
                "resolution": incident.resolution, "lost_energy_wh": incident.lost_energy_wh,
            }),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn notification(
        &self,
        incident: &Incident,
        user: Option<&UserId>,
        event: NotifyEvent,
        n: Option<u32>,
        due: Timestamp,
        now: Timestamp,
        requires_sent: Vec<String>,
        held: bool,
    ) -> Notification {
        let id = notification_id(&incident.id, event, n, user);
        Notification {
            message: self.render(incident, event, &id),
            id,
            user: user.cloned(),
            incident: incident.id.clone(),
            system: incident.system.clone(),
            event,
            severity: incident.severity.as_str().to_owned(),
            unless_acked: matches!(event, NotifyEvent::Reminder | NotifyEvent::Escalated),
            requires_sent,
            state: if held {
                DeliveryState::Cancelled
            } else {
                DeliveryState::Pending
            },
            channels: Default::default(),
            created_at: now,
            due_at: due,
            attempts: 0,
            note: held.then(|| {
                "notifications are held for this system (snoozed or in maintenance)".to_owned()
            }),
            finished_at: held.then_some(now),
            in_digest: false,
            repeat: None,
        }
    }
}

/// `<incident>.<event>[.<n>].<recipient>`: the same incident event for the same person always
/// gets the same id, which is also the idempotency key every channel carries.
pub fn notification_id(
    incident: &str,
    event: NotifyEvent,
    n: Option<u32>,
    user: Option<&UserId>,
) -> String {
    let who = user.map_or("ops-topic", UserId::as_str);
    match n {
        Some(n) => format!("{incident}.{}.{n}.{who}", event.code()),
        None => format!("{incident}.{}.{who}", event.code()),
    }
}

#[async_trait]
impl NotificationPlanner for OutboxPlanner {
    async fn plan(&self, change: &Change) -> Result<Vec<TxOp>, StoreError> {
        let incident = &change.incident;
        let (event, at) = match change.event {
            ChangeEvent::Opened => (NotifyEvent::Opened, incident.opened_at),
            ChangeEvent::Resolved => (
                NotifyEvent::Resolved,
                incident.resolved_at.unwrap_or(incident.opened_at),
            ),
            ChangeEvent::Updated => return Ok(Vec::new()),
        };
        let who = self.recipients(incident).await?;
        let policy = match &incident.system {
            Some(s) => self.repo.policy(s).await?,
            None => crate::model::EscalationPolicy::default(),
        };
        let held = change.held;
        let mut notifications = Vec::new();
        let mut feed = Vec::new();
        let everyone = who.first.iter().chain(&who.second);
        match event {
            NotifyEvent::Opened => {
                for u in &who.first {
                    notifications.push(self.notification(
                        incident,
                        Some(u),
                        event,
                        None,
                        at,
                        at,
                        Vec::new(),
                        held,
                    ));
                }
                if !held {
                    // One record per owner that repeats itself (see `Notification::repeat`),
                    // so a generous reminder policy cannot overflow the transaction.
                    if policy.max_reminders > 0 {
                        let every = policy.remind_every_mins.max(1);
                        let due = at + SignedDuration::from_mins(i64::from(every));
                        for u in &who.first {
                            let mut reminder = self.notification(
                                incident,
                                Some(u),
                                NotifyEvent::Reminder,
                                None,
                                due,
                                at,
                                Vec::new(),
                                false,
                            );
                            reminder.repeat = Some(crate::model::Repeat {
                                every_mins: every,
                                remaining: policy.max_reminders - 1,
                                round: 1,
                            });
                            reminder.message.idempotency_key = format!("{}.1", reminder.id);
                            notifications.push(reminder);
                        }
                    }
                    let due = at + SignedDuration::from_mins(i64::from(policy.escalate_after_mins));
                    for u in &who.second {
                        notifications.push(self.notification(
                            incident,
                            Some(u),
                            NotifyEvent::Escalated,
                            None,
                            due,
                            at,
                            Vec::new(),
                            false,
                        ));
                    }
                }
            }
            _ => {
                for u in everyone.clone() {
                    let requires = vec![
                        notification_id(&incident.id, NotifyEvent::Opened, None, Some(u)),
                        notification_id(&incident.id, NotifyEvent::Escalated, None, Some(u)),
                    ];
                    // Never held: whoever was told of the incident hears it is over, snooze or
                    // not (`requires_sent` leaves out those who were not told).
                    notifications.push(self.notification(
                        incident,
                        Some(u),
                        event,
                        None,
                        at,
                        at,
                        requires,
                        false,
                    ));
                }
            }
        }
        if self.ops_topic {
            let requires = match event {
                NotifyEvent::Resolved => vec![notification_id(
                    &incident.id,
                    NotifyEvent::Opened,
                    None,
                    None,
                )],
                _ => Vec::new(),
            };
            let held = held && event != NotifyEvent::Resolved;
            notifications
                .push(self.notification(incident, None, event, None, at, at, requires, held));
        }
        for u in everyone.chain(&who.feed_only) {
            let id = notification_id(&incident.id, event, None, Some(u));
            let message = self.render(incident, event, &id);
            feed.push((
                u.clone(),
                FeedEntry {
                    id,
                    incident: incident.id.clone(),
                    system: incident.system.clone(),
                    event: event.wire_name().to_owned(),
                    severity: incident.severity.as_str().to_owned(),
                    title: message.subject.trim_start_matches("[Moose] ").to_owned(),
                    text: message.text,
                    link: message.link,
                    created_at: at,
                    read_at: None,
                },
            ));
        }
        let mut ops = Vec::new();
        for n in &notifications {
            ops.push(NotifyRepo::create_op(n)?);
        }
        for (user, entry) in &feed {
            ops.push(NotifyRepo::feed_op(user, entry)?);
        }
        if ops.len() > MAX_OPS {
            tracing::error!(incident = %incident.id, planned = ops.len(), kept = MAX_OPS, "too many recipients for one transaction; the in-app entries and messages beyond the limit are dropped");
            ops.truncate(MAX_OPS);
        }
        Ok(ops)
    }
}
