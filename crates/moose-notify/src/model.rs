//! Notification records, user preferences, escalation policies and the in-app feed.

use std::collections::BTreeMap;

use jiff::Timestamp;
use moose_domain::{Secret, SystemId, UserId};
use serde::{Deserialize, Serialize};

use crate::message::OutgoingMessage;

/// Why a notification exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    /// An incident opened.
    Opened,
    /// A reminder of an unacknowledged incident.
    Reminder,
    /// Escalated to the next tier because nobody acknowledged.
    Escalated,
    /// The incident was resolved.
    Resolved,
}

impl NotifyEvent {
    /// The event name in messages and webhooks (`incident.opened`, …).
    pub fn wire_name(self) -> &'static str {
        match self {
            Self::Opened => "incident.opened",
            Self::Reminder => "incident.reminder",
            Self::Escalated => "incident.escalated",
            Self::Resolved => "incident.resolved",
        }
    }

    /// Short form used in idempotency keys.
    pub fn code(self) -> &'static str {
        match self {
            Self::Opened => "open",
            Self::Reminder => "remind",
            Self::Escalated => "escalate",
            Self::Resolved => "resolve",
        }
    }
}

/// A delivery channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// E-mail over SMTP.
    Email,
    /// A signed HTTP webhook.
    Webhook,
    /// SMS through AWS SNS.
    Sms,
    /// The operations SNS topic.
    SnsTopic,
}

/// Where one channel of one notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not delivered yet (retries pending).
    Pending,
    /// Delivered.
    Sent,
    /// Given up: a permanent error or too many attempts.
    Failed,
    /// Not sent on purpose (the incident was acknowledged or resolved first, the opening was
    /// never sent, the user's severity threshold, notifications held).
    Cancelled,
}

impl DeliveryState {
    /// Whether nothing more will happen.
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Pending)
    }

    /// The name used in keys and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }
}

/// One channel's delivery record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelDelivery {
    /// State.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: u32,
    /// Last error (never contains secrets).
    pub last_error: Option<String>,
    /// When it was delivered.
    pub delivered_at: Option<Timestamp>,
}

/// A notification: one event of one incident for one recipient, delivered on every channel the
/// recipient has (decided at delivery time from their current preferences).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Idempotency key and id: `<incident>.<event>[.<n>].<recipient>`.
    pub id: String,
    /// The recipient user, or `None` for the operations topic.
    pub user: Option<UserId>,
    /// The incident.
    pub incident: String,
    /// Its system.
    pub system: Option<SystemId>,
    /// Why.
    pub event: NotifyEvent,
    /// Incident severity.
    pub severity: String,
    /// The rendered message.
    pub message: OutgoingMessage,
    /// Send only while the incident is open and unacknowledged (reminders, escalations).
    pub unless_acked: bool,
    /// Send only if one of these notifications was sent (resolution messages).
    #[serde(default)]
    pub requires_sent: Vec<String>,
    /// Overall state.
    pub state: DeliveryState,
    /// Per channel.
    #[serde(default)]
    pub channels: BTreeMap<ChannelKind, ChannelDelivery>,
    /// Created.
    pub created_at: Timestamp,
    /// Next attempt (while pending; also the lease end while a dispatcher holds it).
    pub due_at: Timestamp,
    /// Dispatch attempts.
    pub attempts: u32,
    /// Why it was cancelled, if it was.
    pub note: Option<String>,
    /// When it reached its final state.
    pub finished_at: Option<Timestamp>,
    /// Held for the recipient's daily digest; sent with the others due then, as one message.
    #[serde(default)]
    pub in_digest: bool,
    /// A reminder that repeats: after each round it is due again, until acknowledged or done.
    #[serde(default)]
    pub repeat: Option<Repeat>,
}

/// The schedule of a repeating reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repeat {
    /// Minutes between rounds.
    pub every_mins: u32,
    /// Rounds still to come after this one.
    pub remaining: u32,
    /// This round's number (1 = the first reminder); part of the round's idempotency key.
    pub round: u32,
}

/// Quiet hours in the user's time zone, e.g. 22:00–07:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    /// Start, `HH:MM`.
    pub start: jiff::civil::Time,
    /// End, `HH:MM` (may be earlier than start: over midnight).
    pub end: jiff::civil::Time,
}

/// The next `hour`:00 in `tz` strictly after `at` (the digest time).
pub fn next_local_hour(at: Timestamp, tz: &jiff::tz::TimeZone, hour: u8) -> Option<Timestamp> {
    let local = at.to_zoned_datetime(tz.clone());
    let time = jiff::civil::time(i8::try_from(hour.min(23)).ok()?, 0, 0, 0);
    let mut date = local.date();
    loop {
        let candidate = date
            .to_datetime(time)
            .to_zoned_datetime(tz.clone())
            .ok()?
            .timestamp();
        if candidate > at {
            return Some(candidate);
        }
        date = date.tomorrow().ok()?;
    }
}

impl QuietHours {
    /// When the quiet period containing `at` ends, if `at` is inside one.
    pub fn ends_after(&self, at: Timestamp, tz: &jiff::tz::TimeZone) -> Option<Timestamp> {
        let local = at.to_zoned_datetime(tz.clone());
        let t = local.time();
        let inside = if self.start <= self.end {
            t >= self.start && t < self.end
        } else {
            t >= self.start || t < self.end
        };
        if !inside {
            return None;
        }
        let mut date = local.date();
        if t >= self.end {
            date = date.tomorrow().ok()?;
        }
        date.to_datetime(self.end)
            .to_zoned_datetime(tz.clone())
            .ok()
            .map(|z| z.timestamp())
    }
}

/// A user's notification preferences (`User#<id>` / `NOTIFY_PREFS`). Contact points (e-mail,
/// phone, webhook URL) and the time zone live in the user's profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NotifyPrefs {
    /// E-mail on.
    pub email: bool,
    /// SMS on (needs a phone number in the profile).
    pub sms: bool,
    /// Webhook on (needs a webhook URL in the profile).
    pub webhook: bool,
    /// The webhook signing secret (generated by Moose; shown once).
    #[serde(with = "stored_secret")]
    pub webhook_secret: Option<Secret>,
    /// Nothing below this severity is sent (the in-app feed still shows it).
    pub min_severity: String,
    /// Hold messages during these hours (user's time zone), and send them when they end.
    pub quiet_hours: Option<QuietHours>,
    /// One message a day at `digest_hour` instead of one per event.
    pub digest: bool,
    /// Local hour of the digest.
    pub digest_hour: u8,
}

impl Default for NotifyPrefs {
    fn default() -> Self {
        Self {
            email: true,
            sms: false,
            webhook: false,
            webhook_secret: None,
            min_severity: "warning".into(),
            quiet_hours: None,
            digest: false,
            digest_hour: 8,
        }
    }
}

// Stored secrets must round-trip through the store, unlike everywhere else where `Secret`
// serialises redacted.
pub(crate) mod stored_secret {
    use moose_domain::Secret;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(secret) => s.serialize_some(secret.expose()),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.map(Secret::new))
    }
}

/// A system's escalation policy (`System#<id>` / `NOTIFY_POLICY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EscalationPolicy {
    /// Escalate to installers and technicians if nobody acknowledged within this many minutes.
    pub escalate_after_mins: u32,
    /// Remind the first tier every this many minutes until acknowledged…
    pub remind_every_mins: u32,
    /// …at most this many times.
    pub max_reminders: u32,
}

impl Default for EscalationPolicy {
    fn default() -> Self {
        Self {
            escalate_after_mins: 120,
            remind_every_mins: 240,
            max_reminders: 2,
        }
    }
}

impl EscalationPolicy {
    /// `Ok` if every field is in its range, else what is wrong, naming the field. A week is the
    /// longest interval that still means something for an open incident.
    pub fn check(&self) -> Result<(), String> {
        for (name, value, range) in [
            ("escalate_after_mins", self.escalate_after_mins, 5..=10_080),
            ("remind_every_mins", self.remind_every_mins, 15..=10_080),
            ("max_reminders", self.max_reminders, 0..=10),
        ] {
            if !range.contains(&value) {
                return Err(format!(
                    "{name}: must be between {} and {}",
                    range.start(),
                    range.end()
                ));
            }
        }
        Ok(())
    }
}

/// An entry of a user's in-app feed (`User#<id>` / `Feed#<at>#<notification>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedEntry {
    /// The notification id.
    pub id: String,
    /// The incident.
    pub incident: String,
    /// Its system.
    pub system: Option<SystemId>,
    /// `incident.opened` or `incident.resolved`.
    pub event: String,
    /// Severity.
    pub severity: String,
    /// Title.
    pub title: String,
    /// Text.
    pub text: String,
    /// Link.
    pub link: Option<String>,
    /// When.
    pub created_at: Timestamp,
    /// When the user read it.
    pub read_at: Option<Timestamp>,
}
