//! The assistant's tools as the API implements them: the caller's identity, the HTTP API's
//! services and its access rule for every read, and proposals that are stored for the user to
//! confirm and executed only by `POST /api/chat/actions/{id}/confirm` — under that same rule,
//! re-checked at confirmation.

use jiff::{SignedDuration, Timestamp};
use moose_assistant::tools::{ActionRequest, EnergyPeriod, EnergyRow, SystemInfo, kwh_of};
use moose_assistant::{ToolError, Toolbox};
use moose_auth::{Principal, Rule};
use moose_domain::{SystemId, keys};
use moose_incidents::{IncidentRepo, MaintenanceWindow};
use moose_solardata::{SolarRepo, SystemMeta};
use moose_store::{Condition, Item, Key};
use serde_json::{Value, json};

use super::{incidents, status, systems};
use crate::access::authorize_system;
use crate::params::Period;
use crate::{ApiError, AppState};

/// How long a proposed action waits for its confirmation.
pub(crate) const PROPOSAL_TTL: SignedDuration = SignedDuration::from_mins(15);

/// The tools of one request, acting as its caller.
#[derive(Debug)]
pub(crate) struct CallerTools {
    pub(crate) state: AppState,
    pub(crate) principal: Principal,
    pub(crate) conversation: String,
}

/// An API error as a tool error: the same "not found" for missing and invisible things.
fn tool_error(e: ApiError) -> ToolError {
    match e {
        ApiError::NotFound(m) => ToolError::NotFound(m),
        ApiError::Forbidden(m) => ToolError::Denied(m),
        ApiError::BadRequest { message, .. } => ToolError::Invalid(message),
        ApiError::Conflict(m) => ToolError::Invalid(m),
        other => {
            tracing::warn!(error = %other, "an assistant tool failed");
            ToolError::Failed("Moose could not read this just now".into())
        }
    }
}

fn store_error(e: moose_store::StoreError) -> ToolError {
    tool_error(e.into())
}

impl CallerTools {
    async fn readable(&self, system: &str) -> Result<SystemMeta, ToolError> {
        let id =
            SystemId::parse(system).map_err(|_| ToolError::NotFound("no such system".into()))?;
        authorize_system(&self.state, &self.principal, &id, Rule::SystemRead)
            .await
            .map_err(tool_error)?;
        systems::meta(&self.state, system).await.map_err(tool_error)
    }

    /// The systems the caller may see, as `GET /api/systems` decides.
    pub(crate) async fn visible(&self) -> Result<Vec<SystemMeta>, ApiError> {
        let repo = SolarRepo::new(std::sync::Arc::clone(&self.state.store));
        Ok(
            match self.state.auth.visible_systems(&self.principal).await? {
                None => repo.all_systems().await?,
                Some(memberships) => {
                    let mut metas = Vec::new();
                    for m in memberships {
                        metas.extend(repo.meta(&m.system).await?);
                    }
                    metas
                }
            },
        )
    }
}

impl Toolbox for CallerTools {
    async fn systems(&self) -> Result<Vec<SystemInfo>, ToolError> {
        let metas = self.visible().await.map_err(tool_error)?;
        let repo = IncidentRepo::new(std::sync::Arc::clone(&self.state.store));
        let now = Timestamp::now();
        let mut out = Vec::with_capacity(metas.len());
        for m in metas {
            let st = repo
                .status(&m.id)
                .await
                .map_err(store_error)?
                .map(|v| v.value);
            let last = st.as_ref().and_then(|s| s.last_data_at);
            out.push(SystemInfo {
                id: m.id.as_str().to_owned(),
                name: m.name.clone(),
                state: st.as_ref().and_then(|s| {
                    serde_json::to_value(s.state)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                }),
                peak_power_kw: m.peak_power_w.map(|w| (w / 10.0).round() / 100.0),
                time_zone: m.time_zone.clone(),
                today: now.to_zoned_datetime(m.tz()).date(),
                last_data: last.map(|t| t.to_string()),
                data_age_minutes: last.map(|t| (now - t).as_mins()),
                open_incidents: st.as_ref().map_or(0, |s| s.open.len()),
            });
        }
        Ok(out)
    }

    async fn status(&self, system: &str) -> Result<Value, ToolError> {
        let m = self.readable(system).await?;
        let repo = IncidentRepo::new(std::sync::Arc::clone(&self.state.store));
        let st = repo
            .status(&m.id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| {
                ToolError::NotFound(
                    "no status yet: device-status-polling has not checked this system".into(),
                )
            })?;
        let mut v = status::status_json(&self.state, &st.value)
            .await
            .map_err(tool_error)?;
        v["name"] = json!(m.name);
        Ok(v)
    }

    async fn energy(
        &self,
        system: &str,
        period: EnergyPeriod,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<Vec<EnergyRow>, ToolError> {
        let m = self.readable(system).await?;
        let period = match period {
            EnergyPeriod::Day => Period::Day,
            EnergyPeriod::Month => Period::Month,
            EnergyPeriod::Year => Period::Year,
        };
        let rows = systems::energy_rows(&self.state, &m, period, from, to)
            .await
            .map_err(tool_error)?;
        Ok(rows
            .into_iter()
            .map(|(label, e)| EnergyRow {
                period: label,
                produced_kwh: kwh_of(e.produced_wh),
                hidden_kwh: kwh_of(e.hidden_wh),
                fed_in_kwh: kwh_of(e.fed_in_wh),
                purchased_kwh: kwh_of(e.purchased_wh),
            })
            .collect())
    }

    async fn kpis(
        &self,
        system: &str,
        from: jiff::civil::Date,
        to: jiff::civil::Date,
    ) -> Result<Value, ToolError> {
        let m = self.readable(system).await?;
        if (to - from).get_days() > 366 {
            return Err(ToolError::Invalid(
                "KPIs cover at most 366 days per call".into(),
            ));
        }
        let repo = SolarRepo::new(std::sync::Arc::clone(&self.state.store));
        let k = moose_solardata::query::kpis(&repo, &m, from, to)
            .await
            .map_err(|e| tool_error(e.into()))?;
        Ok(json!({"system_id": m.id, "name": m.name, "from": from, "to": to, "kpis": k}))
    }

    async fn incident(&self, id: &str) -> Result<Value, ToolError> {
        let (i, _, _) = incidents::visible_incident(&self.state, &self.principal, id)
            .await
            .map_err(tool_error)?;
        let mut v = incidents::to_json(&i).map_err(tool_error)?;
        v["system_id"] = json!(i.system);
        Ok(v)
    }

    async fn open_incidents(&self) -> Result<Vec<Value>, ToolError> {
        let list = incidents::open_visible(&self.state, &self.principal, 50)
            .await
            .map_err(tool_error)?;
        Ok(list
            .iter()
            .filter_map(|i| {
                let mut v = incidents::to_json(i).ok()?;
                v.as_object_mut()?.remove("evidence");
                Some(v)
            })
            .collect())
    }

    async fn propose(&self, action: &ActionRequest) -> Result<Value, ToolError> {
        let summary = self.check(action).await?;
        let id = uuid::Uuid::new_v4().to_string();
        let now = Timestamp::now();
        let expires = now + PROPOSAL_TTL;
        let item = json!({
            "id": id, "request": action, "summary": summary,
            "conversation_id": self.conversation, "status": "pending",
            "created_at": now, "expires_at": expires,
        });
        self.state
            .store
            .put(
                Item::new(
                    Key::new(
                        keys::chat_pk(&self.principal.user.id),
                        keys::chat_proposal_sk(&id),
                    ),
                    item.as_object().cloned().unwrap_or_default(),
                ),
                Condition::NotExists,
            )
            .await
            .map_err(store_error)?;
        let mut offered = serde_json::to_value(action).unwrap_or_default();
        offered["id"] = json!(id);
        offered["summary"] = json!(summary);
        offered["expires_at"] = json!(expires);
        offered["expires_in_minutes"] = json!(PROPOSAL_TTL.as_mins());
        offered["confirm"] = json!(format!("/api/chat/actions/{id}/confirm"));
        Ok(offered)
    }
}

impl CallerTools {
    /// Whether the caller could do `action` now (the HTTP route's rule), and what it would do
    /// in words.
    async fn check(&self, action: &ActionRequest) -> Result<String, ToolError> {
        match action {
            ActionRequest::AcknowledgeIncident { incident_id } => {
                let (i, membership, _) =
                    incidents::visible_incident(&self.state, &self.principal, incident_id)
                        .await
                        .map_err(tool_error)?;
                moose_auth::policy::authorize_acknowledge(
                    &self.principal,
                    i.system.is_some(),
                    membership,
                )
                .map_err(|d| tool_error(d.into()))?;
                if i.acked_by.is_some() {
                    return Err(ToolError::Invalid(
                        "this incident is already acknowledged".into(),
                    ));
                }
                Ok(format!("acknowledge \"{}\" (incident {})", i.title, i.id))
            }
            ActionRequest::SnoozeSystem { system_id, until } => {
                let m = self.manageable(system_id).await?;
                let until: Timestamp = until
                    .parse()
                    .map_err(|_| ToolError::Invalid("until: an RFC 3339 instant".into()))?;
                Ok(format!("snooze {} until {until}", m.name))
            }
            ActionRequest::PlanMaintenance {
                system_id,
                from,
                to,
                reason,
            } => {
                let m = self.manageable(system_id).await?;
                let (from, to) = (instant(from)?, instant(to)?);
                if reason.trim().is_empty() || reason.chars().count() > 200 {
                    return Err(ToolError::Invalid("reason: 1 to 200 characters".into()));
                }
                Ok(format!(
                    "plan a maintenance window on {} from {from} to {to}",
                    m.name
                ))
            }
        }
    }

    async fn manageable(&self, system: &str) -> Result<SystemMeta, ToolError> {
        let m = self.readable(system).await?;
        authorize_system(&self.state, &self.principal, &m.id, Rule::SystemManage)
            .await
            .map_err(tool_error)?;
        Ok(m)
    }
}

fn instant(raw: &str) -> Result<Timestamp, ToolError> {
    raw.parse()
        .map_err(|_| ToolError::Invalid(format!("{raw:?} is not an RFC 3339 instant")))
}

/// Executes a confirmed action as `principal`, under the HTTP route's rule (checked again: a
/// role may have changed since the proposal).
pub(crate) async fn execute(
    state: &AppState,
    principal: &Principal,
    action: &ActionRequest,
    ip: Option<&str>,
) -> Result<Value, ApiError> {
    match action {
        ActionRequest::AcknowledgeIncident { incident_id } => {
            let acked = incidents::acknowledge_as(
                state,
                principal,
                incident_id,
                Some("confirmed in the assistant"),
                ip,
            )
            .await?;
            Ok(json!({"incident": incidents::to_json(&acked)?}))
        }
        ActionRequest::SnoozeSystem { system_id, until } => {
            let id = SystemId::parse(system_id)
                .map_err(|_| ApiError::NotFound("no such system".into()))?;
            authorize_system(state, principal, &id, Rule::SystemManage).await?;
            let until: Timestamp = until.parse().map_err(|_| {
                ApiError::bad_request("invalid_body", "until: not an RFC 3339 instant")
            })?;
            let st = status::update_status(state, &id, true, |s, now| s.snooze(Some(until), now))
                .await?;
            log(
                state,
                principal,
                ip,
                "system_snoozed",
                json!({"system": id, "until": until}),
            )
            .await;
            Ok(json!({"system_status": status::status_json(state, &st).await?}))
        }
        ActionRequest::PlanMaintenance {
            system_id,
            from,
            to,
            reason,
        } => {
            let id = SystemId::parse(system_id)
                .map_err(|_| ApiError::NotFound("no such system".into()))?;
            authorize_system(state, principal, &id, Rule::SystemManage).await?;
            let bad = |m: &str| ApiError::bad_request("invalid_body", m.to_owned());
            let window = MaintenanceWindow {
                from: from
                    .parse()
                    .map_err(|_| bad("from: not an RFC 3339 instant"))?,
                to: to.parse().map_err(|_| bad("to: not an RFC 3339 instant"))?,
                reason: reason.clone(),
                created_by: Some(principal.user.id.clone()),
            };
            let st = status::update_status(state, &id, true, |s, now| {
                s.plan_maintenance(window.clone(), now)
            })
            .await?;
            log(
                state,
                principal,
                ip,
                "maintenance_planned",
                json!({"system": id, "from": window.from, "to": window.to}),
            )
            .await;
            Ok(json!({"system_status": status::status_json(state, &st).await?}))
        }
    }
}

async fn log(
    state: &AppState,
    principal: &Principal,
    ip: Option<&str>,
    action: &str,
    detail: Value,
) {
    state
        .auth
        .log(&principal.user.id, action, None, ip, detail)
        .await;
}
