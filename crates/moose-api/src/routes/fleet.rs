//! `GET /api/fleet/summary`: what a fleet page shows of every system the caller may see — its
//! state, today's energy against the clear-sky expectation so far, open incidents, the age of
//! the newest data — a page at a time, with totals over all of them (not only the page).
//!
//! Per system it reads two items (the `STATUS` item and today's day aggregate). The clear-sky
//! curve of a system's day is computed once per process and day and kept (`ExpectedCache`), so
//! a page of a 1,000-system fleet costs reads, not astronomy.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use moose_domain::SystemId;
use moose_incidents::{IncidentRepo, SystemState, SystemStatus};
use moose_solardata::series::Energy;
use moose_solardata::{ExpectedModel, SolarRepo, SystemMeta};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Caller;
use crate::extract::ApiQuery;
use crate::{ApiError, ApiResult, AppState};

/// Seconds in one step of the kept clear-sky curve.
const STEP_SECS: i64 = 900;

/// The clear-sky energy of each system's local day, cumulated per 15 minutes from local
/// midnight (`None`: position or peak power unknown). Entries of past days are dropped as new
/// days come in.
#[derive(Debug, Clone, Default)]
pub struct ExpectedCache {
    days: Arc<Mutex<HashMap<SystemId, (Date, Curve)>>>,
}

/// Cumulative clear-sky Wh at each quarter hour of a local day (97 values), if computable.
type Curve = Option<Arc<Vec<f64>>>;

impl ExpectedCache {
    fn get(&self, id: &SystemId, day: Date) -> Option<Curve> {
        let days = self
            .days
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        days.get(id)
            .filter(|(d, _)| *d == day)
            .map(|(_, c)| c.clone())
    }

    fn put(&self, id: &SystemId, day: Date, curve: Curve) {
        self.days
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id.clone(), (day, curve));
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FleetQuery {
    #[serde(default = "default_limit")]
    limit: u32,
    #[serde(default)]
    cursor: Option<String>,
    /// Only systems in this state.
    #[serde(default)]
    state: Option<String>,
}

fn default_limit() -> u32 {
    100
}

/// Every system the caller may see, by id.
async fn visible(state: &AppState, caller: &moose_auth::Principal) -> ApiResult<Vec<SystemMeta>> {
    let repo = SolarRepo::new(state.store.clone());
    match state.auth.visible_systems(caller).await? {
        None => {
            let mut all = Vec::new();
            let mut after: Option<SystemId> = None;
            loop {
                let (page, next) = repo.list_systems(1000, after.as_ref()).await?;
                all.extend(page);
                match next {
                    Some(n) => after = Some(n),
                    None => return Ok(all),
                }
            }
        }
        Some(memberships) => {
            let mut ids: Vec<SystemId> = memberships.into_iter().map(|m| m.system).collect();
            ids.sort();
            ids.dedup();
            let mut all = Vec::new();
            for id in &ids {
                all.extend(repo.meta(id).await?);
            }
            Ok(all)
        }
    }
}

/// The clear-sky curve of `meta`'s local day starting at `midnight`.
async fn curve(
    state: &AppState,
    meta: &SystemMeta,
    day: Date,
    midnight: Timestamp,
) -> ApiResult<Curve> {
    if let Some(known) = state.expected.get(&meta.id, day) {
        return Ok(known);
    }
    let devices = SolarRepo::new(state.store.clone())
        .devices(&meta.id)
        .await?;
    let curve = ExpectedModel::of(meta, &devices).map(|model| {
        let mut total = 0.0;
        let mut cumulative = vec![0.0];
        for step in 0..96 {
            let from = midnight + SignedDuration::from_secs(step * STEP_SECS);
            total += model.energy_wh(from, from + SignedDuration::from_secs(STEP_SECS));
            cumulative.push(total);
        }
        Arc::new(cumulative)
    });
    state.expected.put(&meta.id, day, curve.clone());
    Ok(curve)
}

/// A position on the map, as `GET /api/systems` gives it.
#[derive(Debug, Serialize)]
struct Location<'a> {
    latitude: f64,
    longitude: f64,
    /// `given`, or how Moose inferred it.
    source: &'a str,
}

/// Today at one system, so far.
#[derive(Debug, Serialize)]
struct Today {
    date: Date,
    produced_wh: Option<f64>,
    expected_clear_sky_wh: Option<f64>,
    specific_yield_kwh_per_kwp: Option<f64>,
}

/// One system's row. Typed rather than built as a JSON tree: a 1,000-row page is built and
/// serialised on every console visit, and a tree of maps per row was a good part of its cost.
#[derive(Debug, Serialize)]
struct Row<'a> {
    id: &'a SystemId,
    name: &'a str,
    state: SystemState,
    peak_power_w: Option<f64>,
    location: Option<Location<'a>>,
    today: Today,
    open_incidents: usize,
    last_data_at: Option<Timestamp>,
    data_age_s: Option<i64>,
}

fn location(m: &SystemMeta) -> Option<Location<'_>> {
    match (m.latitude, m.longitude, &m.inferred_position) {
        (Some(latitude), Some(longitude), _) => Some(Location {
            latitude,
            longitude,
            source: "given",
        }),
        (_, _, Some(p)) => Some(Location {
            latitude: p.latitude,
            longitude: p.longitude,
            source: &p.method,
        }),
        _ => None,
    }
}

/// A page of the fleet.
#[derive(Debug, Serialize)]
struct Page<'a> {
    systems: Vec<Row<'a>>,
    totals: Value,
    next_cursor: Option<String>,
}

/// One system's row, from its status and today's energy (read for the whole fleet at once).
async fn row<'a>(
    state: &AppState,
    meta: &'a SystemMeta,
    now: Timestamp,
    status: Option<SystemStatus>,
    today: Option<Energy>,
) -> ApiResult<Row<'a>> {
    let day = now.to_zoned_datetime(meta.tz()).date();
    let midnight = moose_solardata::query::local_midnight(meta, day);
    let today = today.and_then(|e| e.produced_wh);
    let expected = curve(state, meta, day, midnight).await?.map(|c| {
        // Up to now, interpolated inside the current 15 minutes.
        let secs = (now.as_second() - midnight.as_second()).max(0) as f64;
        let pos = (secs / STEP_SECS as f64).clamp(0.0, 96.0);
        let i = pos.floor() as usize;
        let next = c.get(i + 1).copied().unwrap_or(c[96]);
        c[i.min(96)] + (next - c[i.min(96)]) * (pos - i as f64)
    });
    let last = status.as_ref().and_then(|s| s.last_data_at);
    Ok(Row {
        id: &meta.id,
        name: &meta.name,
        state: status.as_ref().map_or(SystemState::Unknown, |s| s.state),
        peak_power_w: meta.peak_power_w,
        location: location(meta),
        today: Today {
            date: day,
            produced_wh: today,
            expected_clear_sky_wh: expected.map(f64::round),
            specific_yield_kwh_per_kwp: today
                .zip(meta.peak_power_w.filter(|p| *p > 0.0))
                .map(|(e, p)| e / p),
        },
        open_incidents: status.as_ref().map_or(0, |s| s.open.len()),
        last_data_at: last,
        data_age_s: last.map(|t| (now.as_second() - t.as_second()).max(0)),
    })
}

/// The fleet: rows of the caller's systems, a page at a time, and totals over all of them.
pub(crate) async fn summary(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<FleetQuery>,
) -> ApiResult<Response> {
    if !(1..=1000).contains(&q.limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit: must be between 1 and 1000",
        ));
    }
    let wanted: Option<SystemState> = q
        .state
        .as_deref()
        .map(|s| serde_json::from_value(Value::String(s.to_owned())))
        .transpose()
        .map_err(|_| {
            ApiError::bad_request(
                "invalid_query",
                "state: one of faulty, offline, not_producing, underperforming, maintenance, ok, unknown",
            )
        })?;
    let after = q
        .cursor
        .as_deref()
        .map(super::systems::decode_cursor)
        .transpose()?;
    let now = Timestamp::now();
    let metas = visible(&state, &caller).await?;
    // Every system's status and today's energy in two batched reads: one point read per item
    // was most of the summary's time (docs/performance.md).
    let ids: Vec<SystemId> = metas.iter().map(|m| m.id.clone()).collect();
    let days: Vec<(SystemId, Date)> = metas
        .iter()
        .map(|m| (m.id.clone(), now.to_zoned_datetime(m.tz()).date()))
        .collect();
    let statuses = IncidentRepo::new(state.store.clone())
        .statuses(&ids)
        .await?;
    let energies = SolarRepo::new(state.store.clone())
        .day_of_each(&days)
        .await?;
    let mut rows = Vec::with_capacity(metas.len());
    for ((m, status), today) in metas.iter().zip(statuses).zip(energies) {
        rows.push(row(&state, m, now, status, today).await?);
    }
    let mut by_state: BTreeMap<SystemState, u64> = BTreeMap::new();
    let (mut produced, mut expected, mut open) = (0.0, 0.0, 0usize);
    for r in &rows {
        *by_state.entry(r.state).or_default() += 1;
        produced += r.today.produced_wh.unwrap_or(0.0);
        expected += r.today.expected_clear_sky_wh.unwrap_or(0.0);
        open += r.open_incidents;
    }
    let totals = json!({
        "systems": rows.len(), "by_state": by_state, "open_incidents": open,
        "today_produced_wh": produced.round(), "today_expected_clear_sky_wh": expected.round(),
    });
    let mut selected = rows
        .into_iter()
        .filter(|r| wanted.is_none_or(|w| r.state == w))
        .filter(|r| after.as_ref().is_none_or(|a| r.id.as_str() > a.as_str()));
    let page: Vec<Row<'_>> = selected.by_ref().take(q.limit as usize).collect();
    let next = selected
        .next()
        .and(page.last())
        .map(|r| super::systems::encode_cursor(r.id));
    // Serialised here, while the rows still borrow the systems they describe.
    Ok(Json(Page {
        systems: page,
        totals,
        next_cursor: next,
    })
    .into_response())
}
