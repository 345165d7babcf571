//! `device-status-polling`, read side: the incident timeline, one incident, acknowledging it.
//!
//! Incidents are visible to whoever may see their system; platform incidents (no system, e.g.
//! an upstream outage) are visible to every signed-in caller. An incident the caller may not see
//! is answered exactly like a missing one, so ids do not leak which systems exist.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use moose_auth::{Principal, SystemRole, policy};
use moose_domain::SystemId;
use moose_incidents::model::Evidence;
use moose_incidents::{Incident, IncidentFilter, IncidentKind, IncidentRepo};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Caller, ClientIp};
use crate::params::{Instant, OpenState};
use crate::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, AppState};

/// The one answer for a missing, malformed or invisible incident id.
fn no_such_incident() -> ApiError {
    ApiError::NotFound("no such incident".into())
}

pub(crate) fn repo(state: &AppState) -> IncidentRepo {
    IncidentRepo::new(state.store.clone())
}

/// Serialises a value for a response; a failure is a bug, not the caller's fault.
pub(crate) fn to_json(value: &impl Serialize) -> ApiResult<Value> {
    serde_json::to_value(value).map_err(|e| ApiError::Internal(Box::new(e)))
}

/// An incident in a listing: everything but the evidence, which only the detail route carries
/// (up to 24 entries each would dominate a page of 500).
fn listed(incident: &Incident) -> ApiResult<Value> {
    let mut v = to_json(incident)?;
    if let Some(map) = v.as_object_mut() {
        map.remove("evidence");
    }
    Ok(v)
}

/// The systems whose incidents the caller sees; `None`: all of them.
async fn visible_systems(
    state: &AppState,
    caller: &Principal,
) -> ApiResult<Option<BTreeSet<SystemId>>> {
    Ok(state
        .auth
        .visible_systems(caller)
        .await?
        .map(|ms| ms.into_iter().map(|m| m.system).collect()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    system: Option<String>,
    kind: Option<IncidentKind>,
    state: Option<OpenState>,
    from: Option<Instant>,
    to: Option<Instant>,
    #[serde(default = "default_limit")]
    limit: u32,
    before: Option<String>,
}

fn default_limit() -> u32 {
    100
}

/// Validates the query into a filter, checking that a named system is one the caller may see.
async fn filter_of(
    state: &AppState,
    caller: &Principal,
    q: &ListQuery,
) -> ApiResult<IncidentFilter> {
    let kind = q.kind;
    let open = q.state.map(|s| s == OpenState::Open);
    let (from, to) = (q.from.map(|i| i.0), q.to.map(|i| i.0));
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            "from: must not be after to",
        ));
    }
    let system = match q.system.as_deref() {
        None => None,
        Some(raw) => {
            // Same answer as the `{system}` routes: missing and invisible look alike.
            let hidden = || ApiError::NotFound("no such system".into());
            let id = SystemId::parse(raw).map_err(|_| hidden())?;
            let readable = if policy::sees_all_systems(caller) {
                state.auth.system_exists(&id).await?
            } else {
                state.auth.membership(&caller.user.id, &id).await?.is_some()
            };
            if !readable {
                return Err(hidden());
            }
            Some(id)
        }
    };
    Ok(IncidentFilter {
        system,
        kind,
        open,
        from,
        to,
    })
}

/// The incidents the caller may see, newest first, a page at a time.
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<Value>> {
    if !(1..=500).contains(&q.limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit: must be between 1 and 500",
        ));
    }
    if let Some(b) = &q.before
        && Incident::parse_id(b).is_none()
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            "before: not an incident id (use `next` of the previous page)",
        ));
    }
    let filter = filter_of(&state, &caller, &q).await?;
    let visible = visible_systems(&state, &caller).await?;
    let sees = |i: &Incident| match (&visible, &i.system) {
        (None, _) | (_, None) => true,
        (Some(set), Some(s)) => set.contains(s),
    };
    let limit = q.limit as usize;
    let found = repo(&state)
        .list(&filter, &sees, limit, q.before.as_deref())
        .await?;
    // A full page may have more behind it; a short one is the end.
    let next = (found.len() == limit)
        .then(|| found.last().map(|i| i.id.clone()))
        .flatten();
    let incidents = found.iter().map(listed).collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(json!({"incidents": incidents, "next": next})))
}

/// An incident the caller may see, with the caller's role on its system (if it has one).
pub(crate) async fn visible_incident(
    state: &AppState,
    caller: &Principal,
    raw: &str,
) -> ApiResult<(Incident, Option<SystemRole>, u64)> {
    if Incident::parse_id(raw).is_none() {
        return Err(no_such_incident());
    }
    let read = repo(state)
        .incident_versioned(raw)
        .await?
        .ok_or_else(no_such_incident)?;
    let (incident, version) = (read.value, read.version);
    let membership = match &incident.system {
        Some(s) => state.auth.membership(&caller.user.id, s).await?,
        None => None,
    };
    let visible =
        incident.system.is_none() || membership.is_some() || policy::sees_all_systems(caller);
    if !visible {
        return Err(no_such_incident());
    }
    Ok((incident, membership, version))
}

/// One incident with its evidence.
pub(crate) async fn detail(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(incident): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    let (incident, _, _) = visible_incident(&state, &caller, &incident).await?;
    Ok(Json(to_json(&incident)?))
}

/// Acknowledges `incident` as `caller`, under the acknowledgement rule: the one path for the
/// HTTP route and for a confirmed assistant proposal. Idempotent.
pub(crate) async fn acknowledge_as(
    state: &AppState,
    caller: &Principal,
    incident: &str,
    note: Option<&str>,
    ip: Option<&str>,
) -> ApiResult<Incident> {
    let (mut incident, membership, version) = visible_incident(state, caller, incident).await?;
    policy::authorize_acknowledge(caller, incident.system.is_some(), membership)?;
    if incident.acked_by.is_some() {
        return Ok(incident);
    }
    let now = Timestamp::now();
    incident.acked_by = Some(caller.user.id.clone());
    incident.acked_at = Some(now);
    // The name, not the e-mail address: every member of the system (and, for platform
    // incidents, every signed-in user) can read the evidence.
    let who = caller
        .user
        .name
        .clone()
        .unwrap_or_else(|| format!("user {}", caller.user.id));
    incident.add_evidence(Evidence {
        at: now,
        note: match note {
            Some(n) => format!("acknowledged by {who}: {n}"),
            None => format!("acknowledged by {who}"),
        },
        data: json!({"acked_by": caller.user.id}),
    });
    // Conditional on the version read: if device-status-polling changed the incident
    // meanwhile, the caller is told to retry rather than one write silently undoing the other.
    let repo = repo(state);
    repo.commit(vec![IncidentRepo::incident_op(&incident, version)?])
        .await
        .map_err(|e| match e {
            moose_store::StoreError::Conflict { .. } => ApiError::Conflict(
                "the incident changed while it was being acknowledged; try again".into(),
            ),
            other => other.into(),
        })?;
    state
        .auth
        .log(
            &caller.user.id,
            "incident_acknowledged",
            None,
            ip,
            json!({"incident": incident.id, "system": incident.system}),
        )
        .await;
    Ok(incident)
}

/// The open incidents the caller may see, newest first (at most `limit`).
pub(crate) async fn open_visible(
    state: &AppState,
    caller: &Principal,
    limit: usize,
) -> ApiResult<Vec<Incident>> {
    let visible = visible_systems(state, caller).await?;
    let filter = IncidentFilter {
        open: Some(true),
        ..IncidentFilter::default()
    };
    let sees = |i: &Incident| match (&i.system, &visible) {
        (None, _) | (_, None) => true,
        (Some(s), Some(v)) => v.contains(s),
    };
    Ok(repo(state).list(&filter, &sees, limit, None).await?)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AckBody {
    #[serde(default)]
    note: Option<String>,
}

/// Longest acknowledgement note, in characters.
const MAX_NOTE: usize = 500;

/// Acknowledges an incident: stops its reminders and escalation. Idempotent: a second
/// acknowledgement keeps the first one (who and when) and changes nothing.
pub(crate) async fn acknowledge(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ClientIp(ip): ClientIp,
    ApiPath(incident): ApiPath<String>,
    body: Option<ApiJson<AckBody>>,
) -> ApiResult<Json<Value>> {
    let body = body.map(|ApiJson(b)| b).unwrap_or_default();
    let note = body
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > MAX_NOTE) {
        return Err(ApiError::bad_request(
            "invalid_body",
            format!("note: at most {MAX_NOTE} characters"),
        ));
    }
    let incident = acknowledge_as(&state, &caller, &incident, note, ip.as_deref()).await?;
    Ok(Json(to_json(&incident)?))
}
