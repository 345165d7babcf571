//! Notification delivery for Moose.
//!
//! [`channels`] holds one sender per delivery channel: SMTP e-mail, signed HTTP webhooks and
//! AWS SNS (topics and SMS). Each sender takes an [`OutgoingMessage`] and reports failures as a
//! [`DeliveryError`] that says whether a retry can help, so the dispatcher that drives them
//! decides retries in one place. Senders never log or return secrets: error texts redact
//! passwords, webhook query strings and URL user-info.
//!
//! Every message carries an idempotency key. Senders pass it on in the form each channel
//! understands (`Message-ID`, `X-Moose-Idempotency-Key`, SNS deduplication id) so that a
//! resend after an ambiguous failure can be recognised by the receiver.

pub mod channels;
pub mod dispatch;
pub mod message;
pub mod model;
pub mod planner;
pub mod repo;
#[cfg(feature = "testing")]
pub mod testing;

pub use channels::DeliveryError;
pub use channels::email::{EmailSender, SmtpSettings, SmtpTls};
pub use channels::sns::{SnsSender, SnsSettings};
pub use channels::webhook::{WebhookSender, WebhookSettings};
pub use dispatch::{DispatchSettings, DispatchSummary, Dispatcher, Senders};
pub use message::OutgoingMessage;
pub use model::{EscalationPolicy, FeedEntry, Notification, NotifyEvent, NotifyPrefs, QuietHours};
pub use planner::OutboxPlanner;
pub use repo::NotifyRepo;
