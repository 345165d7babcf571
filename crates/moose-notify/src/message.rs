//! The channel-neutral message every sender delivers.

use serde::{Deserialize, Serialize};

/// One notification, rendered once and handed to any channel.
///
/// The text fields are already rendered for humans; `payload` is the machine-readable form
/// that webhooks carry as `data`. Senders only read it, so one value can go to many
/// recipients.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutgoingMessage {
    /// Stable across resends of the same notification to the same recipient; receivers use it
    /// to drop duplicates.
    pub idempotency_key: String,
    /// What happened: `incident.opened`, `incident.resolved`, `incident.reminder`,
    /// `incident.escalated` or `digest`.
    pub event: String,
    /// `info`, `warning` or `critical`.
    pub severity: String,
    /// One line: the e-mail subject, the SMS text and the SNS subject.
    pub subject: String,
    /// Plain-text body, short and human.
    pub text: String,
    /// Where to look in Moose, if anywhere.
    pub link: Option<String>,
    /// Machine-readable details, sent to webhooks as `data`.
    pub payload: serde_json::Value,
}

impl OutgoingMessage {
    /// The body text followed by the link, if any, separated by a blank line.
    pub fn text_with_link(&self) -> String {
        match &self.link {
            Some(link) => format!("{}\n\n{link}", self.text),
            None => self.text.clone(),
        }
    }
}
