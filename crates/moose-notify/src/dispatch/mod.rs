//! `notify-user`: delivers the outbox.
//!
//! At least once, with an idempotency key: a dispatcher claims a due record by moving its due
//! time to the end of a lease (a conditional write, so two dispatchers never hold the same
//! record), delivers each channel not yet delivered, and records each channel's outcome as soon
//! as it has it. A dispatcher killed between a send and its record leaves the record to come
//! back when the lease ends; it is then sent again **with the same idempotency key**
//! (`X-Moose-Idempotency-Key`, `Message-ID`, SNS deduplication id), so the receiver sees each
//! notification once. Transient failures are retried with exponential backoff; permanent ones
//! and too many attempts end as `failed`.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use moose_auth::AuthService;
use moose_incidents::IncidentRepo;
use moose_store::StoreError;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::channels::DeliveryError;
use crate::message::OutgoingMessage;
use crate::model::{ChannelDelivery, ChannelKind, DeliveryState, Notification, NotifyEvent};
use crate::repo::NotifyRepo;
use crate::{EmailSender, SnsSender, WebhookSender};

mod digest;

/// The configured channels.
#[derive(Debug, Default)]
pub struct Senders {
    /// SMTP, if configured.
    pub email: Option<EmailSender>,
    /// Webhooks (always available).
    pub webhook: Option<WebhookSender>,
    /// SNS (SMS and the operations topic), if configured.
    pub sns: Option<SnsSender>,
    /// The operations topic.
    pub ops_topic_arn: Option<String>,
}

/// Dispatcher settings.
#[derive(Debug, Clone, Copy)]
pub struct DispatchSettings {
    /// How long a claimed record is held before another dispatcher may take it over.
    pub lease: SignedDuration,
    /// Attempts before a notification fails for good.
    pub max_attempts: u32,
    /// First retry delay; doubles each attempt, capped at one hour.
    pub base_backoff: SignedDuration,
    /// Records read per round.
    pub batch: u32,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        Self {
            lease: SignedDuration::from_secs(120),
            max_attempts: 8,
            base_backoff: SignedDuration::from_secs(30),
            batch: 50,
        }
    }
}

/// What one round did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DispatchSummary {
    /// Records looked at.
    pub due: usize,
    /// Channel deliveries that succeeded.
    pub sent: usize,
    /// Transient failures (retried later).
    pub retried: usize,
    /// Notifications that failed for good.
    pub failed: usize,
    /// Notifications cancelled (acknowledged, resolved, held, below threshold, no channel).
    pub cancelled: usize,
    /// Records another dispatcher holds.
    pub skipped: usize,
}

/// Delivers due notifications.
#[derive(Debug)]
pub struct Dispatcher {
    /// Notifications.
    pub repo: NotifyRepo,
    /// Incidents (acknowledged? resolved?).
    pub incidents: IncidentRepo,
    /// Users (contacts, time zone, disabled).
    pub auth: AuthService,
    /// Channels.
    pub senders: Senders,
    /// Settings.
    pub settings: DispatchSettings,
}

enum Verdict {
    /// Deliver now to these channels (the recipient is read once per delivery).
    Send(Vec<Target>),
    Cancel(String),
    Later(Timestamp),
    /// Hold for the daily digest at this time.
    Digest(Timestamp),
}

impl Dispatcher {
    /// Rounds until nothing is due (or only records another dispatcher holds); the totals.
    /// Records that failed transiently are not due again until their backoff ends, so this
    /// finishes.
    pub async fn drain(&self) -> Result<DispatchSummary, StoreError> {
        let mut total = DispatchSummary::default();
        loop {
            let s = self.dispatch_due(Timestamp::now()).await?;
            total.due += s.due;
            total.sent += s.sent;
            total.retried += s.retried;
            total.failed += s.failed;
            total.cancelled += s.cancelled;
            total.skipped += s.skipped;
            if s.due == 0 || s.due == s.skipped {
                return Ok(total);
            }
        }
    }

    /// One round: every notification due at `now` (up to the batch size).
    pub async fn dispatch_due(&self, now: Timestamp) -> Result<DispatchSummary, StoreError> {
        let mut summary = DispatchSummary::default();
        let mut digests: BTreeMap<moose_domain::UserId, Vec<(Notification, u64)>> = BTreeMap::new();
        for (n, version) in self.repo.due(now, self.settings.batch).await? {
            summary.due += 1;
            if n.in_digest
                && let Some(user) = n.user.clone()
            {
                digests.entry(user).or_default().push((n, version));
                continue;
            }
            if let Err(e) = self.deliver(n, version, now, &mut summary).await {
                match e {
                    StoreError::Conflict { .. } => summary.skipped += 1,
                    other => return Err(other),
                }
            }
        }
        for (_, group) in digests {
            match self.deliver_digest(group, now, &mut summary).await {
                Ok(()) | Err(StoreError::Conflict { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        record(&summary);
        Ok(summary)
    }

    async fn check(&self, n: &Notification, now: Timestamp) -> Result<Verdict, StoreError> {
        let incident = self.incidents.incident(&n.incident).await?;
        if let Some(i) = &incident {
            let settled = i.acked_at.is_some() || !i.is_open();
            if n.unless_acked && settled {
                return Ok(Verdict::Cancel(
                    "acknowledged or resolved before it was due".into(),
                ));
            }
            // A digest reports what happened, resolved or not; anything else about a resolved
            // incident would only be noise.
            if n.event == NotifyEvent::Opened && !i.is_open() && !n.in_digest {
                return Ok(Verdict::Cancel(
                    "resolved before the message went out".into(),
                ));
            }
        }
        if !n.requires_sent.is_empty() {
            // Sent means any channel delivered it: the person was told.
            let mut pending_until: Option<Timestamp> = None;
            let mut sent = false;
            for id in &n.requires_sent {
                if let Some((r, _)) = self.repo.notification(id).await? {
                    sent |= r.state == DeliveryState::Sent
                        || r.channels.values().any(|c| c.state == DeliveryState::Sent);
                    if r.state == DeliveryState::Pending {
                        let at = r.due_at.max(now);
                        pending_until = Some(pending_until.map_or(at, |p| p.max(at)));
                    }
                }
            }
            if !sent && let Some(until) = pending_until {
                // Decide once the opening has had its turn, not every round before that.
                return Ok(Verdict::Later(until + SignedDuration::from_secs(1)));
            }
            if !sent {
                return Ok(Verdict::Cancel("the opening message was not sent".into()));
            }
        }
        let Some(user_id) = &n.user else {
            return Ok(Verdict::Send(self.topic_targets()));
        };
        let user = match self.auth.user(user_id).await {
            Ok(user) => user,
            Err(moose_auth::AuthError::NotFound(_)) => {
                return Ok(Verdict::Cancel("the user no longer exists".into()));
            }
            // A store hiccup is not a reason to drop the message: the claim expires and the
            // record is tried again.
            Err(e) => return Err(StoreError::Other(e.to_string().into())),
        };
        if user.disabled {
            return Ok(Verdict::Cancel("the user is disabled".into()));
        }
        let prefs = self.repo.prefs(user_id).await?;
        let min = moose_incidents::Severity::parse(&prefs.min_severity)
            .unwrap_or(moose_incidents::Severity::Warning);
        let severity = moose_incidents::Severity::parse(&n.severity)
            .unwrap_or(moose_incidents::Severity::Warning);
        if severity < min && n.event != NotifyEvent::Resolved {
            return Ok(Verdict::Cancel(format!(
                "below the user's threshold ({})",
                prefs.min_severity
            )));
        }
        let tz = jiff::tz::TimeZone::get(&user.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
        if prefs.digest && !n.in_digest {
            let at = crate::model::next_local_hour(now, &tz, prefs.digest_hour).unwrap_or(now);
            return Ok(Verdict::Digest(at));
        }
        if let Some(end) = prefs.quiet_hours.and_then(|q| q.ends_after(now, &tz)) {
            return Ok(Verdict::Later(end));
        }
        Ok(Verdict::Send(self.targets(&user, prefs)))
    }

    /// The operations topic, if configured.
    fn topic_targets(&self) -> Vec<Target> {
        self.senders
            .ops_topic_arn
            .clone()
            .map(|arn| {
                vec![Target {
                    kind: ChannelKind::SnsTopic,
                    address: arn,
                    secret: None,
                }]
            })
            .unwrap_or_default()
    }

    /// The channels a user has switched on and Moose can serve, with where to send.
    fn targets(&self, user: &moose_auth::User, prefs: crate::model::NotifyPrefs) -> Vec<Target> {
        let mut out = Vec::new();
        let target = |kind, address: &str| Target {
            kind,
            address: address.to_owned(),
            secret: None,
        };
        if prefs.email && self.senders.email.is_some() {
            let address = user.contacts.email.as_deref().unwrap_or(&user.email);
            out.push(target(ChannelKind::Email, address));
        }
        if prefs.sms
            && self.senders.sns.is_some()
            && let Some(phone) = &user.contacts.phone
        {
            out.push(target(ChannelKind::Sms, phone));
        }
        if prefs.webhook
            && let (Some(secret), Some(url)) = (prefs.webhook_secret, &user.contacts.webhook_url)
        {
            out.push(Target {
                secret: Some(secret),
                ..target(ChannelKind::Webhook, url)
            });
        }
        out
    }

    async fn send(&self, n: &Notification, target: &Target) -> Result<(), DeliveryError> {
        let msg: &OutgoingMessage = &n.message;
        let missing = |what: &str| DeliveryError::Permanent(format!("{what} is not configured"));
        let to = target.address.as_str();
        match target.kind {
            ChannelKind::Email => {
                let email = self.senders.email.as_ref().ok_or_else(|| missing("SMTP"))?;
                email.send(to, msg).await
            }
            ChannelKind::Sms => {
                let sns = self.senders.sns.as_ref().ok_or_else(|| missing("SNS"))?;
                sns.send_sms(to, msg).await.map(|_| ())
            }
            ChannelKind::SnsTopic => {
                let sns = self.senders.sns.as_ref().ok_or_else(|| missing("SNS"))?;
                sns.publish_to_topic(to, msg).await.map(|_| ())
            }
            ChannelKind::Webhook => {
                let secret = target
                    .secret
                    .as_ref()
                    .ok_or_else(|| missing("the webhook secret"))?;
                let webhook = self
                    .senders
                    .webhook
                    .as_ref()
                    .ok_or_else(|| missing("webhooks"))?;
                webhook.send(to, secret, msg).await
            }
        }
    }

    fn finish(n: &mut Notification, state: DeliveryState, note: Option<String>, now: Timestamp) {
        n.state = state;
        n.note = note;
        n.finished_at = Some(now);
    }

    async fn deliver(
        &self,
        mut n: Notification,
        version: u64,
        now: Timestamp,
        summary: &mut DispatchSummary,
    ) -> Result<(), StoreError> {
        // Claim: the lease is the new due time. A conflict means another dispatcher has it.
        n.due_at = now + self.settings.lease;
        n.attempts += 1;
        let mut version = self.repo.save(&n, version).await?;
        let targets = match self.check(&n, now).await? {
            Verdict::Cancel(why) => {
                // Channels that already delivered it stand: the person was told.
                let told = n.channels.values().any(|c| c.state == DeliveryState::Sent);
                for c in n.channels.values_mut().filter(|c| !c.state.is_final()) {
                    c.state = DeliveryState::Cancelled;
                }
                let state = if told {
                    DeliveryState::Sent
                } else {
                    summary.cancelled += 1;
                    DeliveryState::Cancelled
                };
                Self::finish(&mut n, state, Some(why), now);
                self.repo.save(&n, version).await?;
                return Ok(());
            }
            Verdict::Later(at) => {
                n.due_at = at;
                n.attempts -= 1;
                self.repo.save(&n, version).await?;
                return Ok(());
            }
            Verdict::Digest(at) => {
                n.due_at = at;
                n.attempts -= 1;
                n.in_digest = true;
                self.repo.save(&n, version).await?;
                return Ok(());
            }
            Verdict::Send(targets) => targets,
        };
        if targets.is_empty() {
            Self::finish(
                &mut n,
                DeliveryState::Cancelled,
                Some("no delivery channel configured; shown in the in-app feed".into()),
                now,
            );
            summary.cancelled += 1;
            self.repo.save(&n, version).await?;
            return Ok(());
        }
        // A channel the user has since switched off is not waited for.
        for (kind, c) in &mut n.channels {
            if !c.state.is_final() && !targets.iter().any(|t| t.kind == *kind) {
                c.state = DeliveryState::Cancelled;
                c.last_error = Some("the channel was switched off".into());
            }
        }
        let mut retry_after: Option<Duration> = None;
        for target in &targets {
            let kind = target.kind;
            let done = n.channels.get(&kind).is_some_and(|c| c.state.is_final());
            if done {
                continue;
            }
            let result = self.send(&n, target).await;
            let entry = n.channels.entry(kind).or_insert(ChannelDelivery {
                state: DeliveryState::Pending,
                attempts: 0,
                last_error: None,
                delivered_at: None,
            });
            entry.attempts += 1;
            match result {
                Ok(()) => {
                    entry.state = DeliveryState::Sent;
                    entry.delivered_at = Some(Timestamp::now());
                    entry.last_error = None;
                    summary.sent += 1;
                }
                Err(e) => {
                    entry.last_error = Some(e.to_string());
                    if e.is_transient() && n.attempts < self.settings.max_attempts {
                        if let DeliveryError::Transient {
                            retry_after: Some(r),
                            ..
                        } = &e
                        {
                            retry_after = Some(retry_after.map_or(*r, |x| x.max(*r)));
                        }
                        summary.retried += 1;
                    } else {
                        entry.state = DeliveryState::Failed;
                    }
                    tracing::warn!(notification = %n.id, channel = ?kind, error = %e, "delivery failed");
                }
            }
            let outcome = match entry.state {
                DeliveryState::Sent => "sent",
                DeliveryState::Failed => "failed",
                _ => "retry",
            };
            moose_metrics::count(
                "moose_notification_deliveries_total",
                "Delivery attempts by channel and outcome.",
                &[
                    ("channel", &format!("{kind:?}").to_lowercase()),
                    ("outcome", outcome),
                ],
                1,
            );
            // Record each channel as soon as it is known, so a crash resends as little as possible.
            version = self.repo.save(&n, version).await?;
        }
        let states: Vec<DeliveryState> = n.channels.values().map(|c| c.state).collect();
        if states.iter().all(|s| s.is_final()) {
            let state = if states.contains(&DeliveryState::Sent) {
                DeliveryState::Sent
            } else if states.contains(&DeliveryState::Failed) {
                DeliveryState::Failed
            } else {
                DeliveryState::Cancelled
            };
            if state == DeliveryState::Failed {
                summary.failed += 1;
            }
            match n.repeat {
                // The next round of a reminder: same record, new idempotency key.
                Some(r) if r.remaining > 0 => {
                    let round = r.round + 1;
                    n.repeat = Some(crate::model::Repeat {
                        remaining: r.remaining - 1,
                        round,
                        ..r
                    });
                    n.channels.clear();
                    n.attempts = 0;
                    n.message.idempotency_key = format!("{}.{round}", n.id);
                    n.due_at = now + SignedDuration::from_mins(i64::from(r.every_mins));
                }
                _ => Self::finish(&mut n, state, None, now),
            }
        } else {
            let backoff = self.backoff(n.attempts, &n.id);
            let wait = retry_after
                .and_then(|r| SignedDuration::try_from(r).ok())
                .map_or(backoff, |r| r.max(backoff));
            n.due_at = now + wait;
        }
        self.repo.save(&n, version).await?;
        Ok(())
    }

    /// Exponential backoff with a deterministic ±20 % jitter per notification, so a burst of
    /// failures does not retry in lockstep.
    fn backoff(&self, attempts: u32, id: &str) -> SignedDuration {
        let base = self.settings.base_backoff.as_secs_f64()
            * 2f64.powi(attempts.saturating_sub(1).min(16) as i32);
        let capped = base.min(3600.0);
        let hash = id
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        let jitter = 0.8 + f64::from(hash % 400) / 1000.0;
        SignedDuration::from_secs_f64(capped * jitter)
    }

    /// Delivery counts by state for each of the last `days` UTC days, with the delivery rate.
    pub async fn report(
        &self,
        today: jiff::civil::Date,
        days: u32,
    ) -> Result<Vec<DayReport>, StoreError> {
        let mut out = Vec::new();
        let mut day = today;
        for _ in 0..days {
            let counts = self.repo.delivered_on(day).await?;
            out.push(DayReport {
                day,
                rate: crate::repo::delivery_rate(&counts),
                counts,
            });
            match day.yesterday() {
                Ok(d) => day = d,
                Err(_) => break,
            }
        }
        Ok(out)
    }
}

/// One channel of one recipient: where to send, and the webhook's signing secret.
#[derive(Debug, Clone)]
struct Target {
    kind: ChannelKind,
    address: String,
    secret: Option<moose_domain::Secret>,
}

/// Delivery figures of one day.
#[derive(Debug, Clone, Serialize)]
pub struct DayReport {
    /// The UTC day.
    pub day: jiff::civil::Date,
    /// Final notifications by state.
    pub counts: BTreeMap<String, usize>,
    /// sent / (sent + failed).
    pub rate: Option<f64>,
}

/// Runs the dispatcher every `every` until `cancel` fires (and drains the due records first
/// when there are many).
pub async fn run_schedule(dispatcher: Dispatcher, every: Duration, cancel: CancellationToken) {
    loop {
        match dispatcher.dispatch_due(Timestamp::now()).await {
            Ok(s) if s.due > 0 => {
                tracing::info!(
                    due = s.due,
                    sent = s.sent,
                    retried = s.retried,
                    failed = s.failed,
                    cancelled = s.cancelled,
                    "notify-user round finished"
                );
                if s.due >= dispatcher.settings.batch as usize && !cancel.is_cancelled() {
                    continue;
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "notify-user round failed; retrying next round"),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}

/// A delivery round in the process metrics (`moose_notifications_total{outcome}`).
fn record(s: &DispatchSummary) {
    for (outcome, n) in [
        ("sent", s.sent),
        ("retried", s.retried),
        ("failed", s.failed),
        ("cancelled", s.cancelled),
    ] {
        if n > 0 {
            moose_metrics::count(
                "moose_notifications_total",
                "Notification deliveries by outcome.",
                &[("outcome", outcome)],
                n as u64,
            );
        }
    }
    moose_metrics::count(
        "moose_notify_rounds_total",
        "notify-user delivery rounds.",
        &[],
        1,
    );
}
