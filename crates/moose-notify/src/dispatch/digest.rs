//! The daily digest: one message for all of a user's notifications due at their digest hour.

use std::collections::BTreeMap;

use jiff::Timestamp;
use moose_store::StoreError;

use super::{DispatchSummary, Dispatcher, Verdict};
use crate::channels::DeliveryError;
use crate::model::{DeliveryState, Notification};

impl Dispatcher {
    /// One message for all of a user's digest notifications that are due, delivered like a
    /// single notification; each member then records the outcome.
    pub(super) async fn deliver_digest(
        &self,
        group: Vec<(Notification, u64)>,
        now: Timestamp,
        summary: &mut DispatchSummary,
    ) -> Result<(), StoreError> {
        let mut members = Vec::new();
        for (mut n, version) in group {
            n.due_at = now + self.settings.lease;
            n.attempts += 1;
            let version = match self.repo.save(&n, version).await {
                Ok(v) => v,
                Err(StoreError::Conflict { .. }) => {
                    summary.skipped += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            match self.check(&n, now).await? {
                Verdict::Cancel(why) => {
                    Self::finish(&mut n, DeliveryState::Cancelled, Some(why), now);
                    summary.cancelled += 1;
                    self.repo.save(&n, version).await?;
                }
                Verdict::Later(at) | Verdict::Digest(at) => {
                    n.due_at = at;
                    n.attempts -= 1;
                    self.repo.save(&n, version).await?;
                }
                Verdict::Send(targets) => members.push((n, version, targets)),
            }
        }
        let Some((first, _, targets)) = members.first() else {
            return Ok(());
        };
        // All members belong to one user: the first one's channels are everyone's.
        let targets = targets.clone();
        let mut digest = first.clone();
        let mut ids: Vec<&str> = members.iter().map(|(n, _, _)| n.id.as_str()).collect();
        ids.sort_unstable();
        // The same set of notifications always makes the same key, so a resend is recognised.
        let hash = ids.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, id| {
            id.bytes()
                .fold(h, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
        });
        let user = first.user.as_ref().map_or("", |u| u.as_str());
        digest.id = format!("digest.{user}.{hash:016x}");
        digest.message = crate::message::OutgoingMessage {
            idempotency_key: digest.id.clone(),
            event: "digest".into(),
            severity: members
                .iter()
                .map(|(n, _, _)| n.severity.clone())
                .max_by_key(|s| severity_rank(s))
                .unwrap_or_default(),
            subject: format!("[Moose] Daily digest: {} update(s)", members.len()),
            text: members
                .iter()
                .map(|(n, _, _)| {
                    format!(
                        "- {}\n  {}",
                        n.message.subject.trim_start_matches("[Moose] "),
                        n.message.text.lines().next().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
            link: first.message.link.clone(),
            payload: serde_json::json!({"notifications": ids}),
        };
        digest.channels = BTreeMap::new();
        let mut failed = Vec::new();
        let mut sent = 0;
        for target in &targets {
            let kind = target.kind;
            match self.send(&digest, target).await {
                Ok(()) => {
                    sent += 1;
                    summary.sent += 1;
                }
                Err(e) => {
                    tracing::warn!(digest = %digest.id, channel = ?kind, error = %e, "digest delivery failed");
                    failed.push(e);
                }
            }
        }
        let retry = sent == 0 && failed.iter().any(DeliveryError::is_transient);
        for (mut n, version, _) in members {
            if retry && n.attempts < self.settings.max_attempts {
                n.due_at = now + self.backoff(n.attempts, &n.id);
                summary.retried += 1;
            } else if sent > 0 {
                let note = format!("sent in {}", digest.id);
                Self::finish(&mut n, DeliveryState::Sent, Some(note), now);
            } else {
                summary.failed += 1;
                Self::finish(
                    &mut n,
                    DeliveryState::Failed,
                    Some("no channel delivered the digest".into()),
                    now,
                );
            }
            self.repo.save(&n, version).await?;
        }
        Ok(())
    }
}

fn severity_rank(s: &str) -> u8 {
    match s {
        "critical" => 2,
        "warning" => 1,
        _ => 0,
    }
}
