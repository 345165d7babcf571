//! The assistant's tools: the only way it reaches Moose's data.
//!
//! The host implements [`Toolbox`] under the caller's identity with the same services and the
//! same access policy as the HTTP API; [`ToolSet`] puts the assistant's own tools (the state-code
//! table, the knowledge base, fleet rankings, freshness) on top, parses every argument at the
//! boundary, resolves a system named in words among the caller's systems only, and records every
//! call of the turn — what was consulted, what it returned and what it cites — so that answers can
//! be checked against it. The language model and the offline answerer use the same [`ToolSet`].

use std::future::Future;

use jiff::civil::Date;
use moose_incidents::codes::CodeTable;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Citation;
use crate::data::{self, Resolved, SystemRef};
use crate::retrieval::Retriever;

/// Why a tool call failed. The message goes back to the model (or into the offline answer):
/// it must never carry another user's data, so "not found" is the same whether the thing
/// exists elsewhere or not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    /// Not among what the caller may see (or does not exist: the same answer).
    #[error("not found: {0}")]
    NotFound(String),
    /// The arguments are wrong.
    #[error("invalid arguments: {0}")]
    Invalid(String),
    /// The caller may see it but not do this.
    #[error("not allowed: {0}")]
    Denied(String),
    /// The service behind the tool failed.
    #[error("failed: {0}")]
    Failed(String),
}

/// One of the caller's systems, as the list tool shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SystemInfo {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Overall state (`ok`, `offline`, …; `None` before the first status pass).
    pub state: Option<String>,
    /// Peak power, kW.
    pub peak_power_kw: Option<f64>,
    /// The site's IANA time zone.
    pub time_zone: String,
    /// The site-local date today.
    pub today: Date,
    /// End of the newest data (RFC 3339).
    pub last_data: Option<String>,
    /// Minutes since the newest data ended.
    pub data_age_minutes: Option<i64>,
    /// Open incidents.
    pub open_incidents: usize,
}

impl SystemInfo {
    fn as_ref(&self) -> SystemRef {
        SystemRef {
            id: self.id.clone(),
            name: self.name.clone(),
        }
    }
}

/// The calendar unit of an energy series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnergyPeriod {
    /// Per site-local day.
    Day,
    /// Per site-local month.
    Month,
    /// Per site-local year.
    Year,
}

/// One row of an energy series, as the energy API gives it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnergyRow {
    /// `2026-06-10`, `2026-06` or `2026`.
    pub period: String,
    /// Produced energy in the 5-minute records, kWh.
    pub produced_kwh: Option<f64>,
    /// Production Solar.web's totals carry beyond the records (a communication loss), kWh.
    pub hidden_kwh: Option<f64>,
    /// Fed into the grid, kWh.
    pub fed_in_kwh: Option<f64>,
    /// Bought from the grid, kWh.
    pub purchased_kwh: Option<f64>,
}

/// An action the assistant may propose; only the user's separate confirmation executes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActionRequest {
    /// Acknowledge one open incident.
    AcknowledgeIncident {
        /// The incident.
        incident_id: String,
    },
    /// Hold a system's notifications until an instant.
    SnoozeSystem {
        /// The system (id).
        system_id: String,
        /// Until when (RFC 3339).
        until: String,
    },
    /// Plan a maintenance window on a system.
    PlanMaintenance {
        /// The system (id).
        system_id: String,
        /// From (RFC 3339).
        from: String,
        /// To (RFC 3339).
        to: String,
        /// Why.
        reason: String,
    },
}

/// Moose's data under the caller's identity. Implemented by the host with the HTTP API's
/// services and access policy; every method answers only what the caller may see.
pub trait Toolbox: Send + Sync {
    /// The caller's systems.
    fn systems(&self) -> impl Future<Output = Result<Vec<SystemInfo>, ToolError>> + Send;
    /// One system's status and open incidents (`GET /api/systems/{id}/status`).
    fn status(&self, system: &str) -> impl Future<Output = Result<Value, ToolError>> + Send;
    /// Energy per period between two site-local dates (`GET /api/systems/{id}/energy`).
    fn energy(
        &self,
        system: &str,
        period: EnergyPeriod,
        from: Date,
        to: Date,
    ) -> impl Future<Output = Result<Vec<EnergyRow>, ToolError>> + Send;
    /// KPIs between two site-local dates (`GET /api/systems/{id}/kpis`).
    fn kpis(
        &self,
        system: &str,
        from: Date,
        to: Date,
    ) -> impl Future<Output = Result<Value, ToolError>> + Send;
    /// One incident (`GET /api/incidents/{id}`).
    fn incident(&self, id: &str) -> impl Future<Output = Result<Value, ToolError>> + Send;
    /// The caller's open incidents, newest first (`GET /api/incidents?state=open`).
    fn open_incidents(&self) -> impl Future<Output = Result<Vec<Value>, ToolError>> + Send;
    /// Stores a proposal for the caller to confirm; checks now that the caller could do it.
    fn propose(
        &self,
        action: &ActionRequest,
    ) -> impl Future<Output = Result<Value, ToolError>> + Send;
}

/// A tool call made during a turn and what it returned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolRecord {
    /// The tool.
    pub tool: String,
    /// Its arguments.
    pub arguments: Value,
    /// What it returned (`{"error": …}` on failure).
    pub result: Value,
}

/// The tools of one turn, over a host's [`Toolbox`].
#[derive(Debug)]
pub struct ToolSet<'a, T> {
    toolbox: &'a T,
    retriever: &'a Retriever,
    systems: Option<Vec<SystemInfo>>,
    /// Every call of the turn, in order.
    pub records: Vec<ToolRecord>,
    /// What the calls cite.
    pub citations: Vec<Citation>,
    /// Proposals made this turn.
    pub proposals: Vec<Value>,
}

/// Passages one knowledge search returns.
const PASSAGES: usize = 5;

/// Most systems ranked by the fleet tool.
pub const FLEET_LIMIT: usize = 200;
/// Most days one energy call covers.
const MAX_DAYS: i32 = 366;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SystemArg {
    system: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OptionalSystemArg {
    #[serde(default)]
    system: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnergyArgs {
    system: String,
    from: String,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    period: Option<EnergyPeriod>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KpiArgs {
    system: String,
    from: String,
    #[serde(default)]
    to: Option<String>,
}

/// The fleet tool's period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FleetPeriod {
    /// Yesterday.
    Yesterday,
    /// The 7 days up to yesterday.
    Week,
    /// The 30 days up to yesterday.
    Month,
}

impl From<data::Period> for FleetPeriod {
    fn from(p: data::Period) -> Self {
        match p {
            data::Period::Week => Self::Week,
            data::Period::Month => Self::Month,
            data::Period::Yesterday => Self::Yesterday,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FleetArgs {
    #[serde(default = "week")]
    period: FleetPeriod,
}

fn week() -> FleetPeriod {
    FleetPeriod::Week
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IncidentArgs {
    incident_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeArgs {
    code: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchArgs {
    query: String,
}

fn parse<A: serde::de::DeserializeOwned>(args: &Value) -> Result<A, ToolError> {
    serde_json::from_value(args.clone()).map_err(|e| ToolError::Invalid(e.to_string()))
}

/// A date argument: `YYYY-MM-DD`, `today` or `yesterday` (site-local).
fn date_arg(raw: &str, today: Date) -> Result<Date, ToolError> {
    match raw.trim().to_lowercase().as_str() {
        "today" => Ok(today),
        "yesterday" => Ok(today.yesterday().unwrap_or(today)),
        other => other.parse::<Date>().map_err(|_| {
            ToolError::Invalid(format!(
                "{raw:?} is not a date (YYYY-MM-DD, today or yesterday)"
            ))
        }),
    }
}

fn kwh(wh: Option<f64>) -> Option<f64> {
    wh.map(|w| (w / 10.0).round() / 100.0)
}

/// Rounds kWh the way every tool shows it (two decimals).
pub fn kwh_of(wh: Option<f64>) -> Option<f64> {
    kwh(wh)
}

impl<'a, T: Toolbox> ToolSet<'a, T> {
    /// The tools of a turn.
    pub fn new(toolbox: &'a T, retriever: &'a Retriever) -> Self {
        Self {
            toolbox,
            retriever,
            systems: None,
            records: Vec::new(),
            citations: Vec::new(),
            proposals: Vec::new(),
        }
    }

    /// The caller's systems (read once per turn).
    pub async fn systems(&mut self) -> Result<Vec<SystemInfo>, ToolError> {
        if let Some(s) = &self.systems {
            return Ok(s.clone());
        }
        let list = self.toolbox.systems().await?;
        self.systems = Some(list.clone());
        Ok(list)
    }

    /// The caller's system a phrase (id or words) means; not found otherwise (the same answer
    /// whether it exists elsewhere or not).
    pub async fn resolve(&mut self, phrase: &str) -> Result<SystemInfo, ToolError> {
        let mine = self.systems().await?;
        let refs: Vec<SystemRef> = mine.iter().map(SystemInfo::as_ref).collect();
        if let Some(s) = mine.iter().find(|s| s.id == phrase) {
            return Ok(s.clone());
        }
        match data::resolve_system(phrase, &refs) {
            Resolved::One(r) => Ok(mine
                .iter()
                .find(|s| s.id == r.id)
                .cloned()
                .ok_or_else(|| ToolError::NotFound("no such system".into()))?),
            Resolved::Several(list) => Err(ToolError::Invalid(format!(
                "{phrase:?} matches several of your systems: {}",
                list.iter()
                    .map(|r| format!("{} ({})", r.name, r.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            // Not echoing the phrase: an id the caller may not see is not repeated back.
            Resolved::NoneOfYours => Err(ToolError::NotFound(
                "none of your systems matches that name or id".into(),
            )),
        }
    }

    /// Runs the tool `name` with JSON `args`; a failure is returned as `{"error": …}` content,
    /// never raised, so that the model can correct itself.
    pub async fn call(&mut self, name: &str, args: &Value) -> Value {
        let result = match self.dispatch(name, args).await {
            Ok(v) => v,
            Err(e) => json!({"error": e.to_string()}),
        };
        self.records.push(ToolRecord {
            tool: name.to_owned(),
            arguments: args.clone(),
            result: result.clone(),
        });
        result
    }

    async fn dispatch(&mut self, name: &str, args: &Value) -> Result<Value, ToolError> {
        match name {
            "list_my_systems" => Ok(json!({"systems": self.systems().await?})),
            "get_system_status" => {
                let a: SystemArg = parse(args)?;
                self.status(&a.system).await
            }
            "get_energy" => {
                let a: EnergyArgs = parse(args)?;
                let s = self.resolve(&a.system).await?;
                let from = date_arg(&a.from, s.today)?;
                let to = match &a.to {
                    Some(t) => date_arg(t, s.today)?,
                    None => from,
                };
                let rows = self
                    .energy(&s, a.period.unwrap_or(EnergyPeriod::Day), from, to)
                    .await?;
                Ok(json!({"system": s.id, "name": s.name, "from": from, "to": to, "rows": rows}))
            }
            "get_kpis" => {
                let a: KpiArgs = parse(args)?;
                let s = self.resolve(&a.system).await?;
                let from = date_arg(&a.from, s.today)?;
                let to = match &a.to {
                    Some(t) => date_arg(t, s.today)?,
                    None => s.today,
                };
                self.kpis(&s, from, to).await
            }
            "get_fleet_summary" => {
                let a: FleetArgs = parse(args)?;
                self.fleet(a.period).await
            }
            "get_incident" => {
                let a: IncidentArgs = parse(args)?;
                let v = self.toolbox.incident(&a.incident_id).await?;
                if let Some(system) = v["system_id"].as_str() {
                    self.citations.push(Citation::Data {
                        query: "incident".into(),
                        system: system.to_owned(),
                        period: a.incident_id.clone(),
                    });
                }
                Ok(v)
            }
            "list_open_incidents" => {
                let list = self.toolbox.open_incidents().await?;
                Ok(json!({"incidents": list}))
            }
            "get_data_freshness" => {
                let a: OptionalSystemArg = parse(args)?;
                self.freshness(a.system.as_deref()).await
            }
            "explain_state_code" => {
                let a: CodeArgs = parse(args)?;
                self.explain(&a.code)
            }
            "search_knowledge" => {
                let a: SearchArgs = parse(args)?;
                Ok(self.search(&a.query).await)
            }
            "propose_action" => {
                let mut action: ActionRequest = parse(args)?;
                // A system named in words is resolved among the caller's systems only.
                if let ActionRequest::SnoozeSystem { system_id, .. }
                | ActionRequest::PlanMaintenance { system_id, .. } = &mut action
                {
                    *system_id = self.resolve(system_id).await?.id;
                }
                let p = self.toolbox.propose(&action).await?;
                self.proposals.push(p.clone());
                Ok(
                    json!({"proposed": p, "note": "Nothing has been done. The user must confirm this proposal."}),
                )
            }
            other => Err(ToolError::Invalid(format!("no tool named {other:?}"))),
        }
    }

    /// A system's status and open incidents.
    pub async fn status(&mut self, phrase: &str) -> Result<Value, ToolError> {
        let s = self.resolve(phrase).await?;
        let v = self.toolbox.status(&s.id).await?;
        self.citations.push(Citation::Data {
            query: "system status".into(),
            system: s.id.clone(),
            period: "now".into(),
        });
        Ok(v)
    }

    /// Energy rows of a resolved system.
    pub async fn energy(
        &mut self,
        s: &SystemInfo,
        period: EnergyPeriod,
        from: Date,
        to: Date,
    ) -> Result<Vec<EnergyRow>, ToolError> {
        if from > to {
            return Err(ToolError::Invalid("from is after to".into()));
        }
        if (to - from).get_days() > MAX_DAYS && period == EnergyPeriod::Day {
            return Err(ToolError::Invalid(format!(
                "at most {MAX_DAYS} days per call; use period month or year"
            )));
        }
        let rows = self.toolbox.energy(&s.id, period, from, to).await?;
        self.citations.push(Citation::Data {
            query: "energy".into(),
            system: s.id.clone(),
            period: if from == to {
                from.to_string()
            } else {
                format!("{from}/{to}")
            },
        });
        Ok(rows)
    }

    /// KPIs of a resolved system.
    pub async fn kpis(&mut self, s: &SystemInfo, from: Date, to: Date) -> Result<Value, ToolError> {
        if from > to {
            return Err(ToolError::Invalid("from is after to".into()));
        }
        let v = self.toolbox.kpis(&s.id, from, to).await?;
        self.citations.push(Citation::Data {
            query: "kpis".into(),
            system: s.id.clone(),
            period: format!("{from}/{to}"),
        });
        Ok(v)
    }

    /// The caller's systems ranked by performance index over the period, lowest first.
    pub async fn fleet(&mut self, period: FleetPeriod) -> Result<Value, ToolError> {
        let mine = self.systems().await?;
        let days = match period {
            FleetPeriod::Yesterday => 1,
            FleetPeriod::Week => 7,
            FleetPeriod::Month => 30,
        };
        let mut ranked = Vec::new();
        let mut unranked = Vec::new();
        let (mut first, mut last) = (None, None);
        for s in mine.iter().take(FLEET_LIMIT) {
            let to = s.today.yesterday().unwrap_or(s.today);
            let from = to
                .checked_sub(jiff::Span::new().days(days - 1))
                .unwrap_or(to);
            (first, last) = (Some(from), Some(to));
            let k = self.kpis(s, from, to).await?;
            let kp = &k["kpis"];
            match kp["performance_index"].as_f64() {
                Some(pi) => ranked.push(json!({
                    "system": s.id, "name": s.name,
                    "performance_index": pi,
                    "specific_yield_kwh_per_kwp": kp["specific_yield_kwh_per_kwp"].as_f64().map(|y| (y * 100.0).round() / 100.0),
                    "produced_kwh": kwh(kp["energy"]["produced_wh"].as_f64()),
                })),
                None => unranked.push(json!({"system": s.id, "name": s.name, "why": kp["unknown"]["performance_index"].clone()})),
            }
        }
        // Ranked and given on the exact figures: rounding first would tie systems that differ,
        // and round a second time where an answer shows them.
        ranked.sort_by(|a, b| {
            a["performance_index"]
                .as_f64()
                .unwrap_or(0.0)
                .total_cmp(&b["performance_index"].as_f64().unwrap_or(0.0))
        });
        Ok(json!({
            "from": first, "to": last,
            "ranked_lowest_first": ranked,
            "unranked": unranked,
            "systems_left_out": mine.len().saturating_sub(FLEET_LIMIT),
        }))
    }

    /// Per system (or for one): the newest data and how old it is.
    pub async fn freshness(&mut self, system: Option<&str>) -> Result<Value, ToolError> {
        let mine = match system {
            Some(phrase) => vec![self.resolve(phrase).await?],
            None => self.systems().await?,
        };
        let list: Vec<Value> = mine
            .iter()
            .map(|s| {
                json!({"system": s.id, "name": s.name, "last_data": s.last_data,
                       "data_age_minutes": s.data_age_minutes, "state": s.state})
            })
            .collect();
        Ok(json!({"systems": list}))
    }

    /// A state code from the explained table.
    pub fn explain(&mut self, code: &Value) -> Result<Value, ToolError> {
        let n = code
            .as_i64()
            .or_else(|| code.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| ToolError::Invalid("code: a number such as 447".into()))?;
        let table = CodeTable::builtin();
        let info = table
            .get(n)
            .ok_or_else(|| ToolError::NotFound(format!("state code {n} is not in the table")))?;
        self.citations.push(Citation::StateCode {
            code: n,
            table_version: table.version.clone(),
        });
        Ok(json!({"code": n, "explanation": info, "table_version": table.version}))
    }

    /// The best knowledge passages for a query.
    pub async fn search(&mut self, query: &str) -> Value {
        let hits = self.retriever.search(query, PASSAGES).await;
        let mut out = Vec::new();
        for h in hits {
            self.citations.push(Citation::Knowledge {
                article: h.article.clone(),
                title: h.title.clone(),
                heading: h.heading.clone(),
                id: h.id.clone(),
            });
            out.push(json!({"id": h.id, "article": h.article, "title": h.title, "heading": h.heading, "text": h.text}));
        }
        json!({"passages": out})
    }
}

/// The tools as OpenAI function definitions.
pub fn definitions() -> Value {
    let system = json!({"type": "string", "description": "The system's id, or its name as the user said it (e.g. \"the Cologne one\")"});
    let date = json!({"type": "string", "description": "Site-local date YYYY-MM-DD, or today / yesterday"});
    let f = |name: &str, description: &str, properties: Value, required: &[&str]| {
        json!({"type": "function", "function": {
            "name": name, "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required, "additionalProperties": false}
        }})
    };
    json!([
        f(
            "list_my_systems",
            "The user's PV systems with state, peak power, time zone, today's site date, newest data and open incident count.",
            json!({}),
            &[]
        ),
        f(
            "get_system_status",
            "One system's status, its open incidents and whether notifications are held.",
            json!({"system": system}),
            &["system"]
        ),
        f(
            "get_energy",
            "Energy (kWh) of one system per day, month or year between two site-local dates.",
            json!({"system": system, "from": date, "to": date, "period": {"type": "string", "enum": ["day", "month", "year"]}}),
            &["system", "from"]
        ),
        f(
            "get_kpis",
            "KPIs of one system between two dates: energy, specific yield, performance index against the clear-sky model, data completeness, self-consumption.",
            json!({"system": system, "from": date, "to": date}),
            &["system", "from"]
        ),
        f(
            "get_fleet_summary",
            "The user's systems ranked by performance index over yesterday, the last week or month, lowest first.",
            json!({"period": {"type": "string", "enum": ["yesterday", "week", "month"]}}),
            &[]
        ),
        f(
            "list_open_incidents",
            "The user's open incidents, newest first.",
            json!({}),
            &[]
        ),
        f(
            "get_incident",
            "One incident with its evidence, explained state code and lost energy.",
            json!({"incident_id": {"type": "string"}}),
            &["incident_id"]
        ),
        f(
            "get_data_freshness",
            "For each of the user's systems (or one), when its newest data ends and how many minutes ago.",
            json!({"system": system}),
            &[]
        ),
        f(
            "explain_state_code",
            "Explains a Fronius inverter state code: meaning, cause, who can act, what to do.",
            json!({"code": {"type": "integer"}}),
            &["code"]
        ),
        f(
            "search_knowledge",
            "Searches Moose's maintenance knowledge base (troubleshooting, safety, KPIs, maintenance, how to use Moose).",
            json!({"query": {"type": "string"}}),
            &["query"]
        ),
        f(
            "propose_action",
            "Proposes an action for the user to confirm: acknowledge_incident {incident_id}, snooze_system {system_id, until}, plan_maintenance {system_id, from, to, reason}. Nothing happens until the user confirms.",
            json!({
                "action": {"type": "string", "enum": ["acknowledge_incident", "snooze_system", "plan_maintenance"]},
                "incident_id": {"type": "string"}, "system_id": {"type": "string"},
                "until": {"type": "string"}, "from": {"type": "string"}, "to": {"type": "string"}, "reason": {"type": "string"}
            }),
            &["action"]
        ),
    ])
}
