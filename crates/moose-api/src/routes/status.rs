//! A system's `STATUS` item and the settings people change on it: snooze, maintenance windows,
//! the no-data grace period, and the system's escalation policy.
//!
//! `device-status-polling` writes the same item under a version condition; every change here
//! is a versioned read-modify-write too, retried when the job wrote in between, so neither side
//! ever overwrites the other's change.

use axum::Json;
use axum::extract::State;
use jiff::{SignedDuration, Timestamp};
use moose_domain::SystemId;
use moose_incidents::{IncidentRepo, MaintenanceWindow, SystemStatus};
use moose_notify::{EscalationPolicy, NotifyRepo};
use moose_store::StoreError;
use serde::Deserialize;
use serde_json::{Value, json};

use super::incidents::{repo, to_json};
use super::{Caller, ClientIp};
use crate::{ApiError, ApiJson, ApiPath, ApiResult, AppState};

const NO_STATUS: &str = "no status yet for this system; device-status-polling has not run";
/// Writes retried after the first one lost a race with the status job.
const RETRIES: usize = 3;
const DAY: SignedDuration = SignedDuration::from_hours(24);

fn system_id(raw: &str) -> ApiResult<SystemId> {
    SystemId::parse(raw).map_err(|_| ApiError::NotFound("no such system".into()))
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_body", message)
}

/// The status with its open incidents and whether notifications are held now.
async fn status_json(state: &AppState, status: &SystemStatus) -> ApiResult<Value> {
    let repo = repo(state);
    let mut open = Vec::new();
    for id in status.open.values() {
        // An id without its incident would be a bug in the engine's transaction; show the rest.
        match repo.incident(id).await? {
            Some(incident) => open.push(to_json(&incident)?),
            None => tracing::warn!(incident = %id, "STATUS names an incident that does not exist"),
        }
    }
    let mut body = to_json(status)?;
    body["open_incidents"] = Value::Array(open);
    body["notifications_held"] = json!(status.notifications_held(Timestamp::now()));
    Ok(body)
}

/// Applies `change` to the system's status with a versioned write, re-reading and retrying
/// when the status job wrote in between. A missing status is created when `create` is set
/// (settings may come before the first pass), and is a 404 otherwise.
async fn update_status(
    state: &AppState,
    system: &SystemId,
    create: bool,
    change: impl Fn(&mut SystemStatus, Timestamp) -> ApiResult<()>,
) -> ApiResult<SystemStatus> {
    let repo = repo(state);
    for _ in 0..=RETRIES {
        let now = Timestamp::now();
        let (mut status, version) = match repo.status(system).await? {
            Some(v) => (v.value, v.version),
            None if create => (SystemStatus::new(system.clone(), now), 0),
            None => return Err(ApiError::NotFound(NO_STATUS.into())),
        };
        change(&mut status, now)?;
        match repo
            .commit(vec![IncidentRepo::status_op(&status, version)?])
            .await
        {
            Ok(()) => return Ok(status),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict(
        "the system's status kept changing; retry".into(),
    ))
}

/// Records a settings change in the caller's activity log.
async fn log(state: &AppState, caller: &Caller, ip: Option<&str>, action: &str, detail: Value) {
    state
        .auth
        .log(&caller.0.user.id, action, None, ip, detail)
        .await;
}

/// The `STATUS` item of a system and its open incidents.
pub(crate) async fn status(
    State(state): State<AppState>,
    ApiPath(system): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let status = repo(&state)
        .status(&system_id(&system)?)
        .await?
        .ok_or_else(|| ApiError::NotFound(NO_STATUS.into()))?;
    Ok(Json(status_json(&state, &status.value).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Snooze {
    // Required, so that a forgotten field is an error rather than a silent un-snooze.
    until: Value,
}

/// Longest snooze.
const MAX_SNOOZE_DAYS: i32 = 30;

/// Holds the system's notifications until `until` (`null` lifts the snooze).
pub(crate) async fn snooze(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    ApiPath(system): ApiPath<String>,
    ApiJson(body): ApiJson<Snooze>,
) -> ApiResult<Json<Value>> {
    let until = match &body.until {
        Value::Null => None,
        Value::String(raw) => Some(raw.parse::<Timestamp>().map_err(|_| {
            bad(format!(
                "until: {raw:?} is not an RFC 3339 instant such as 2026-06-01T10:00:00Z"
            ))
        })?),
        _ => return Err(bad("until: must be an RFC 3339 instant or null")),
    };
    let id = system_id(&system)?;
    let status = update_status(&state, &id, true, |s, now| {
        if let Some(u) = until {
            if u <= now {
                return Err(bad("until: must be in the future"));
            }
            if u.duration_since(now) > DAY * MAX_SNOOZE_DAYS {
                return Err(bad(format!("until: at most {MAX_SNOOZE_DAYS} days ahead")));
            }
        }
        s.snoozed_until = until;
        Ok(())
    })
    .await?;
    let detail = json!({"system": id, "until": until});
    log(&state, &caller, ip.as_deref(), "system_snoozed", detail).await;
    Ok(Json(status_json(&state, &status).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Maintenance {
    from: Timestamp,
    to: Timestamp,
    reason: String,
}

/// Longest maintenance window.
const MAX_WINDOW_DAYS: i32 = 31;
/// Ended windows are kept this long (the status shows recent history), then dropped.
const KEEP_ENDED_DAYS: i32 = 30;
const MAX_REASON: usize = 200;

/// Plans a maintenance window: no incidents open and nobody is notified meanwhile.
pub(crate) async fn add_maintenance(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    ApiPath(system): ApiPath<String>,
    ApiJson(body): ApiJson<Maintenance>,
) -> ApiResult<Json<Value>> {
    let reason = body.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > MAX_REASON {
        return Err(bad(format!("reason: 1 to {MAX_REASON} characters")));
    }
    if body.from >= body.to {
        return Err(bad("from: must be before to"));
    }
    if body.to.duration_since(body.from) > DAY * MAX_WINDOW_DAYS {
        return Err(bad(format!(
            "to: a window lasts at most {MAX_WINDOW_DAYS} days"
        )));
    }
    let id = system_id(&system)?;
    let window = MaintenanceWindow {
        from: body.from,
        to: body.to,
        reason,
        created_by: Some(caller.0.user.id.clone()),
    };
    let status = update_status(&state, &id, true, |s, now| {
        if window.to <= now {
            return Err(bad("to: must be in the future"));
        }
        s.maintenance
            .retain(|w| now.duration_since(w.to) <= DAY * KEEP_ENDED_DAYS);
        s.maintenance.push(window.clone());
        Ok(())
    })
    .await?;
    let detail = json!({"system": id, "from": window.from, "to": window.to});
    log(
        &state,
        &caller,
        ip.as_deref(),
        "maintenance_planned",
        detail,
    )
    .await;
    Ok(Json(status_json(&state, &status).await?))
}

/// Cancels every current and future maintenance window; ended ones stay as history.
pub(crate) async fn clear_maintenance(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    ApiPath(system): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let id = system_id(&system)?;
    let status = update_status(&state, &id, false, |s, now| {
        s.maintenance.retain(|w| w.to <= now);
        Ok(())
    })
    .await?;
    log(
        &state,
        &caller,
        ip.as_deref(),
        "maintenance_cleared",
        json!({"system": id}),
    )
    .await;
    Ok(Json(status_json(&state, &status).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Grace {
    minutes: u32,
}

/// Sets the system's no-data grace period.
pub(crate) async fn grace(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    ApiPath(system): ApiPath<String>,
    ApiJson(body): ApiJson<Grace>,
) -> ApiResult<Json<Value>> {
    if !(5..=240).contains(&body.minutes) {
        return Err(bad("minutes: must be between 5 and 240"));
    }
    let id = system_id(&system)?;
    let status = update_status(&state, &id, true, |s, _| {
        s.grace_minutes = Some(body.minutes);
        Ok(())
    })
    .await?;
    let detail = json!({"system": id, "minutes": body.minutes});
    log(&state, &caller, ip.as_deref(), "grace_changed", detail).await;
    Ok(Json(status_json(&state, &status).await?))
}

/// The system's escalation policy (the defaults until someone sets one).
pub(crate) async fn escalation(
    State(state): State<AppState>,
    ApiPath(system): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let policy = NotifyRepo::new(state.store.clone())
        .policy(&system_id(&system)?)
        .await?;
    Ok(Json(to_json(&policy)?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Escalation {
    escalate_after_mins: u32,
    remind_every_mins: u32,
    max_reminders: u32,
}

/// Replaces the system's escalation policy.
pub(crate) async fn set_escalation(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    ApiPath(system): ApiPath<String>,
    ApiJson(body): ApiJson<Escalation>,
) -> ApiResult<Json<Value>> {
    // A week is the longest interval that still means something for an open incident.
    for (name, value, range) in [
        ("escalate_after_mins", body.escalate_after_mins, 5..=10_080),
        ("remind_every_mins", body.remind_every_mins, 15..=10_080),
        ("max_reminders", body.max_reminders, 0..=10),
    ] {
        if !range.contains(&value) {
            return Err(bad(format!(
                "{name}: must be between {} and {}",
                range.start(),
                range.end()
            )));
        }
    }
    let id = system_id(&system)?;
    let policy = EscalationPolicy {
        escalate_after_mins: body.escalate_after_mins,
        remind_every_mins: body.remind_every_mins,
        max_reminders: body.max_reminders,
    };
    NotifyRepo::new(state.store.clone())
        .put_policy(&id, &policy)
        .await?;
    let detail = json!({"system": id, "policy": policy});
    log(&state, &caller, ip.as_deref(), "escalation_changed", detail).await;
    Ok(Json(to_json(&policy)?))
}
