//! The caller's in-app feed and notification settings, and the fleet's delivery statistics.
//!
//! The webhook signing secret is generated here and shown exactly once, in the response that
//! created it; no other response, log line or activity entry ever contains it.

use std::collections::BTreeMap;

use aws_lc_rs::rand::SecureRandom;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::Timestamp;
use jiff::civil::Time;
use jiff::tz::TimeZone;
use moose_auth::Credential;
use moose_domain::Secret;
use moose_incidents::Severity;
use moose_notify::model::DeliveryState;
use moose_notify::repo::delivery_rate;
use moose_notify::{NotifyPrefs, NotifyRepo, QuietHours};
use moose_store::StoreError;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use super::{Caller, ClientIp};
use crate::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, AppState};

fn repo(state: &AppState) -> NotifyRepo {
    NotifyRepo::new(state.store.clone())
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_body", message)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeedQuery {
    #[serde(default)]
    unread: bool,
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    50
}

/// The caller's in-app feed, newest first.
pub(crate) async fn feed(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<FeedQuery>,
) -> ApiResult<Json<Value>> {
    if !(1..=500).contains(&q.limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit: must be between 1 and 500",
        ));
    }
    let entries = repo(&state)
        .feed(&caller.user.id, q.unread, q.limit as usize)
        .await?;
    let unread = entries.iter().filter(|e| e.read_at.is_none()).count();
    Ok(Json(json!({"notifications": entries, "unread": unread})))
}

/// Marks one entry of the caller's feed read (again: no change).
pub(crate) async fn mark_read(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(notification): ApiPath<String>,
) -> ApiResult<StatusCode> {
    match repo(&state)
        .mark_read(&caller.user.id, &notification, Timestamp::now())
        .await
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        Err(StoreError::NotFound { .. }) => Err(ApiError::NotFound(
            "no such notification in your feed".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// API keys stand for machines: they have no inbox and no preferences.
fn refuse_api_keys(credential: &Credential) -> ApiResult<()> {
    match credential {
        Credential::ApiKey { .. } => Err(ApiError::Forbidden(
            "API keys have no notification settings".into(),
        )),
        _ => Ok(()),
    }
}

fn hh_mm(t: Time) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// The preferences as callers see them: whether a webhook secret exists, never the secret.
fn prefs_json(p: &NotifyPrefs) -> Value {
    json!({
        "email": p.email, "sms": p.sms, "webhook": p.webhook,
        "webhook_secret_set": p.webhook_secret.is_some(),
        "min_severity": p.min_severity,
        "quiet_hours": p.quiet_hours.map(|q| json!({"start": hh_mm(q.start), "end": hh_mm(q.end)})),
        "digest": p.digest, "digest_hour": p.digest_hour,
    })
}

/// The caller's notification settings.
pub(crate) async fn settings(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<Value>> {
    refuse_api_keys(&caller.credential)?;
    let prefs = repo(&state).prefs(&caller.user.id).await?;
    Ok(Json(prefs_json(&prefs)))
}

/// `Some(None)` for an explicit `null`, `None` for an absent field.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuietBody {
    start: String,
    end: String,
}

/// A settings change: absent fields keep their value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettingsPatch {
    email: Option<bool>,
    sms: Option<bool>,
    webhook: Option<bool>,
    min_severity: Option<String>,
    #[serde(default, deserialize_with = "present")]
    quiet_hours: Option<Option<QuietBody>>,
    digest: Option<bool>,
    digest_hour: Option<u32>,
    #[serde(default)]
    rotate_webhook_secret: bool,
}

fn parse_time(name: &str, raw: &str) -> ApiResult<Time> {
    Time::strptime("%H:%M", raw)
        .map_err(|_| bad(format!("{name}: {raw:?} is not a time such as 22:00")))
}

fn quiet_hours(body: &QuietBody) -> ApiResult<QuietHours> {
    let start = parse_time("quiet_hours.start", &body.start)?;
    let end = parse_time("quiet_hours.end", &body.end)?;
    if start == end {
        return Err(bad("quiet_hours: start and end must differ"));
    }
    Ok(QuietHours { start, end })
}

/// 32 bytes from the operating system's CSPRNG, hex encoded.
fn new_webhook_secret() -> ApiResult<String> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ApiError::Internal("the system CSPRNG failed".into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Changes the caller's notification settings. Turning the webhook on for the first time, or
/// `rotate_webhook_secret`, makes a signing secret that this response shows once.
pub(crate) async fn update_settings(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<SettingsPatch>,
) -> ApiResult<Json<Value>> {
    refuse_api_keys(&caller.credential)?;
    let contacts = &caller.user.contacts;
    if body.webhook == Some(true) && contacts.webhook_url.is_none() {
        return Err(bad(
            "webhook: set contacts.webhook_url with PATCH /api/users/me first",
        ));
    }
    if body.sms == Some(true) && contacts.phone.is_none() {
        return Err(bad(
            "sms: set contacts.phone with PATCH /api/users/me first",
        ));
    }
    if let Some(s) = &body.min_severity
        && Severity::parse(s).is_none()
    {
        return Err(bad(format!(
            "min_severity: {s:?} is not one of info, warning, critical"
        )));
    }
    if body.digest_hour.is_some_and(|h| h > 23) {
        return Err(bad("digest_hour: must be between 0 and 23"));
    }
    let quiet = match &body.quiet_hours {
        None => None,
        Some(None) => Some(None),
        Some(Some(q)) => Some(Some(quiet_hours(q)?)),
    };

    let repo = repo(&state);
    let mut prefs = repo.prefs(&caller.user.id).await?;
    // Field names only: the activity log says what changed, never to what.
    let mut changed: Vec<&str> = Vec::new();
    if let Some(v) = body.email {
        prefs.email = v;
        changed.push("email");
    }
    if let Some(v) = body.sms {
        prefs.sms = v;
        changed.push("sms");
    }
    if let Some(v) = body.webhook {
        prefs.webhook = v;
        changed.push("webhook");
    }
    if let Some(v) = body.min_severity {
        prefs.min_severity = v;
        changed.push("min_severity");
    }
    if let Some(v) = quiet {
        prefs.quiet_hours = v;
        changed.push("quiet_hours");
    }
    if let Some(v) = body.digest {
        prefs.digest = v;
        changed.push("digest");
    }
    if let Some(v) = body.digest_hour.and_then(|h| u8::try_from(h).ok()) {
        prefs.digest_hour = v;
        changed.push("digest_hour");
    }
    // A webhook without a secret could not be signed, so switching it on makes one.
    let new_secret =
        if body.rotate_webhook_secret || (prefs.webhook && prefs.webhook_secret.is_none()) {
            let secret = new_webhook_secret()?;
            prefs.webhook_secret = Some(Secret::new(secret.clone()));
            changed.push("webhook_secret");
            Some(secret)
        } else {
            None
        };
    repo.put_prefs(&caller.user.id, &prefs).await?;
    state
        .auth
        .log(
            &caller.user.id,
            "notification_settings_changed",
            None,
            ip.as_deref(),
            json!({"fields": changed}),
        )
        .await;
    let mut out = prefs_json(&prefs);
    if let Some(secret) = new_secret {
        out["webhook_secret"] = json!(secret);
    }
    Ok(Json(out))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatsQuery {
    #[serde(default = "default_days")]
    days: u32,
}

fn default_days() -> u32 {
    7
}

/// The final states, always present in the counts so that a quiet day reads as zeros.
const FINAL: [DeliveryState; 3] = [
    DeliveryState::Sent,
    DeliveryState::Failed,
    DeliveryState::Cancelled,
];

fn with_zeros(mut counts: BTreeMap<String, usize>) -> BTreeMap<String, usize> {
    for s in FINAL {
        counts.entry(s.as_str().to_owned()).or_default();
    }
    counts
}

/// Delivered notifications per UTC day by final state, each day's delivery rate (sent over
/// sent and failed; `null` without either), the overall rate and the pending backlog.
pub(crate) async fn stats(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult<Json<Value>> {
    if !(1..=31).contains(&q.days) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "days: must be between 1 and 31",
        ));
    }
    let repo = repo(&state);
    let today = Timestamp::now().to_zoned_datetime(TimeZone::UTC).date();
    let mut days = Vec::new();
    let mut total: BTreeMap<String, usize> = BTreeMap::new();
    for back in (0..q.days).rev() {
        let day = today
            .checked_sub(jiff::Span::new().days(back))
            .map_err(|e| ApiError::Internal(Box::new(e)))?;
        let counts = repo.delivered_on(day).await?;
        for (state, n) in &counts {
            *total.entry(state.clone()).or_default() += n;
        }
        let rate = delivery_rate(&counts);
        days.push(json!({"day": day, "counts": with_zeros(counts), "rate": rate}));
    }
    let rate = delivery_rate(&total);
    Ok(Json(json!({
        "from": days.first().map(|d| d["day"].clone()), "to": today,
        "days": days, "total": with_zeros(total), "rate": rate,
        "pending": repo.pending_count().await?,
    })))
}
