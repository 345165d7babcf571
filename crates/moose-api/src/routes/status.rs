//! A system's `STATUS` item and the settings people change on it: snooze, maintenance windows,
//! the no-data grace period, and the system's escalation policy. The limits and the safe
//! read-modify-write of the status live with the model (`moose_incidents::settings`); these
//! handlers parse, call and render.

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use moose_domain::SystemId;
use moose_incidents::settings::{Invalid, UpdateError};
use moose_incidents::{MaintenanceWindow, SystemStatus};
use moose_notify::{EscalationPolicy, NotifyRepo};
use serde::Deserialize;
use serde_json::{Value, json};

use super::incidents::{repo, to_json};
use super::{Caller, ClientIp};
use crate::{ApiError, ApiJson, ApiPath, ApiResult, AppState};

const NO_STATUS: &str = "no status yet for this system; device-status-polling has not run";

fn system_id(raw: &str) -> ApiResult<SystemId> {
    SystemId::parse(raw).map_err(|_| ApiError::NotFound("no such system".into()))
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_body", message)
}

/// The status with its open incidents and whether notifications are held now.
pub(crate) async fn status_json(state: &AppState, status: &SystemStatus) -> ApiResult<Value> {
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
    // The learned profile is the engine's working data: its summary, not its 288 slots.
    body["profile"] = json!({
        "learned_on": status.profile.learned_on,
        "days": status.profile.days,
        "usable": status.profile.usable(),
    });
    // A plant that has never sent data is not "offline": it has not started reporting.
    body["never_reported"] = json!(status.last_data_at.is_none());
    body["open_incidents"] = Value::Array(open);
    body["notifications_held"] = json!(status.notifications_held(Timestamp::now()));
    Ok(body)
}

/// Applies `change` to the system's status (see `IncidentRepo::update_status`).
pub(crate) async fn update_status(
    state: &AppState,
    system: &SystemId,
    create: bool,
    change: impl Fn(&mut SystemStatus, Timestamp) -> Result<(), Invalid>,
) -> ApiResult<SystemStatus> {
    repo(state)
        .update_status(system, create, change)
        .await
        .map_err(|e| match e {
            UpdateError::Invalid(Invalid(why)) => bad(why),
            UpdateError::NoStatus => ApiError::NotFound(NO_STATUS.into()),
            UpdateError::KeptChanging => ApiError::Conflict(e.to_string()),
            UpdateError::Store(e) => e.into(),
        })
}

/// Records a settings change in the caller's activity log.
pub(crate) async fn log(
    state: &AppState,
    caller: &Caller,
    ip: Option<&str>,
    action: &str,
    detail: Value,
) {
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
    let status = update_status(&state, &id, true, |s, now| s.snooze(until, now)).await?;
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

/// Plans a maintenance window: no incidents open and nobody is notified meanwhile.
pub(crate) async fn add_maintenance(
    State(state): State<AppState>,
    caller: Caller,
    ClientIp(ip): ClientIp,
    ApiPath(system): ApiPath<String>,
    ApiJson(body): ApiJson<Maintenance>,
) -> ApiResult<Json<Value>> {
    let id = system_id(&system)?;
    let window = MaintenanceWindow {
        from: body.from,
        to: body.to,
        reason: body.reason,
        created_by: Some(caller.0.user.id.clone()),
    };
    let status = update_status(&state, &id, true, |s, now| {
        s.plan_maintenance(window.clone(), now)
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
        s.clear_maintenance(now);
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
    let id = system_id(&system)?;
    let status = update_status(&state, &id, true, |s, _| s.set_grace(body.minutes)).await?;
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
    let policy = EscalationPolicy {
        escalate_after_mins: body.escalate_after_mins,
        remind_every_mins: body.remind_every_mins,
        max_reminders: body.max_reminders,
    };
    policy.check().map_err(bad)?;
    let id = system_id(&system)?;
    NotifyRepo::new(state.store.clone())
        .put_policy(&id, &policy)
        .await?;
    let detail = json!({"system": id, "policy": policy});
    log(&state, &caller, ip.as_deref(), "escalation_changed", detail).await;
    Ok(Json(to_json(&policy)?))
}
