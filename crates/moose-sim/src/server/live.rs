//! `flowdata` (current power flow) and `messages` (state codes and events).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::meta::{DeviceRef, find_device, find_system};
use super::params::{Params, format_time, parse_time};
use super::{ApiFailure, ApiResult};
use crate::Simulator;
use crate::faults::FaultKind;
use crate::fleet::SimSystem;
use crate::production::{SLOT_SECS, local_date};

fn power(name: &str, w: Option<f64>) -> Value {
    json!({"channelName": name, "channelType": "Power", "unit": "W", "value": w.map(f64::round)})
}

fn percent(name: &str, v: Option<f64>) -> Value {
    json!({"channelName": name, "channelType": "Percent", "unit": "%", "value": v.map(|x| (x * 10.0).round() / 10.0)})
}

#[allow(clippy::cast_precision_loss)]
fn flow(sim: &Simulator, system: &str, device: Option<&str>) -> ApiResult<Json<Value>> {
    let s = find_system(sim, system)?;
    let dev = device.map(|d| find_device(sim, s, d)).transpose()?;
    let now = sim.now();
    let online = sim.scenario.online(s.index, now);
    let day = sim.day(s, local_date(s, now));
    let slot = day.slot_index(now).unwrap_or(0);
    let mut e = day.slots[slot];
    if let Some(replay) = &s.replay
        && replay.at(day.slot_start(slot)).is_none()
    {
        // A hole in a replayed plant's history is a record the logger never uploaded, not a
        // plant that stopped: the live view shows what it made around then.
        e.production = nearby_production(replay, day.slot_start(slot));
    }
    // Average power over the current slot, from its energy (mWh over 5 minutes).
    let w = |mwh: i64| online.then_some(mwh as f64 * 3.6 / SLOT_SECS as f64);
    let metered = s.meter_id.is_some();
    let channels: Vec<Value> = match dev {
        None => {
            let pv = e.production;
            vec![
                power("PowerPV", w(pv)),
                power("PowerLoad", w(-e.consumption).filter(|_| metered)),
                power(
                    "PowerFeedIn",
                    w(e.purchased - e.feed_in).filter(|_| metered),
                ),
                power(
                    "PowerBattCharge",
                    w(e.batt_discharge - e.batt_charge).filter(|_| s.battery.is_some()),
                ),
                power("PowerOhmpilot", None),
                power("PowerEVCTotal", None),
                percent(
                    "BattSOC",
                    day.soc.get(slot).map(|v| f64::from(*v)).filter(|_| online),
                ),
                percent(
                    "RateSelfConsumption",
                    (metered && online && pv > 0)
                        .then(|| e.self_consumption_total() as f64 / pv as f64 * 100.0),
                ),
                percent(
                    "RateSelfSufficiency",
                    (metered && online && e.consumption > 0).then(|| {
                        (e.consumption - e.purchased) as f64 / e.consumption as f64 * 100.0
                    }),
                ),
            ]
        }
        Some(DeviceRef::Inverter(k)) => vec![power("PowerOutput", w(day.inverter[k][slot]))],
        Some(DeviceRef::Meter) => vec![
            power("PowerFeedIn", w(e.purchased - e.feed_in)),
            power("PowerLoad", w(-e.consumption)),
        ],
        Some(_) => Vec::new(),
    };
    sim.api.count_points(1);
    let minute =
        Timestamp::from_second(now.as_second() - now.as_second().rem_euclid(60)).unwrap_or(now);
    let batt_mode = s.battery.as_ref().map(|_| "1");
    Ok(Json(json!({
        "pvSystemId": s.id,
        "deviceId": device,
        "status": {"isOnline": online, "battMode": batt_mode},
        "data": {"logDateTime": format_time(minute), "channels": channels},
    })))
}

/// Production of the nearest slot within an hour that the replayed source has, mWh.
fn nearby_production(replay: &crate::replay::Replay, t: Timestamp) -> i64 {
    (1..=12)
        .flat_map(|k| [k, -k])
        .find_map(|k| replay.at(t + SignedDuration::from_secs(k * SLOT_SECS)))
        .map_or(0, |wh| {
            #[allow(clippy::cast_possible_truncation)]
            let mwh = (wh.max(0.0) * 1000.0).round() as i64;
            mwh
        })
}

pub(crate) async fn system_flow(
    State(sim): State<Arc<Simulator>>,
    Path(system): Path<String>,
) -> ApiResult<Json<Value>> {
    flow(&sim, &system, None)
}

pub(crate) async fn device_flow(
    State(sim): State<Arc<Simulator>>,
    Path((system, device)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    flow(&sim, &system, Some(&device))
}

/// Plain-language texts of the state codes the simulator emits (English; other languages fall
/// back to English, like an untranslated Solar.web text would).
fn text(code: i64) -> (&'static str, &'static str, &'static str) {
    match code {
        306 => ("Event", "information", "Power low"),
        307 => ("Event", "information", "DC low"),
        447 => ("Error", "error", "Insulation fault"),
        475 => ("Error", "error", "Insulation fault (PV array ground fault)"),
        509 => (
            "Error",
            "warning",
            "No energy fed into the grid in the past 24 hours",
        ),
        567 => (
            "Event",
            "warning",
            "Grid voltage dependent power reduction is active",
        ),
        _ => ("Error", "error", "Inverter state code"),
    }
}

/// Every message of a system in `from..=to` visible at `now`: routine dawn/dusk events plus the
/// scenario's state codes. A message uploads with the data: hidden while the data is.
fn messages_for(
    sim: &Simulator,
    s: &SimSystem,
    from: Timestamp,
    to: Timestamp,
) -> Vec<(Timestamp, i64, Option<usize>)> {
    let now = sim.now();
    let to = to.min(now);
    let mut out = Vec::new();
    let mut date = local_date(s, from);
    let last = local_date(s, to);
    let quarter = SignedDuration::from_mins(15);
    while date <= last {
        if let Some((rise, set)) = moose_pvmodel::sun_times(&s.site, date, &s.tz, 0.0) {
            let dusk_306 = set - quarter;
            if dusk_306 > rise + quarter {
                for (at, code) in [
                    (rise, 307),
                    (rise + quarter, 306),
                    (dusk_306, 306),
                    (set, 307),
                ] {
                    out.push((at, code, Some(0)));
                }
            }
        }
        let Ok(next) = date.tomorrow() else { break };
        date = next;
    }
    for f in sim.scenario.for_system(s.index) {
        match f.kind {
            FaultKind::ErrorMessage => {
                out.push((f.from, f.code.unwrap_or(0), f.inverter.or(Some(0))));
            }
            FaultKind::InverterOffline => {
                if let Some(end) = f.to
                    && end.duration_since(f.from) >= SignedDuration::from_hours(24)
                {
                    out.push((end, 509, f.inverter.or(Some(0))));
                }
            }
            _ => {}
        }
    }
    out.retain(|(at, _, _)| {
        *at >= from && *at <= to && sim.scenario.data_visible(s.index, *at, now)
    });
    out.sort_by_key(|m| m.0);
    out
}

fn messages(
    sim: &Simulator,
    system: &str,
    device: Option<&str>,
    params: &Params,
) -> ApiResult<Json<Value>> {
    let s = find_system(sim, system)?;
    let dev = device.map(|d| find_device(sim, s, d)).transpose()?;
    let Some(from) = params.get("from") else {
        return Err(ApiFailure::bad_input("Parameter from is required."));
    };
    let from = parse_time("from", from)?;
    let to = params
        .get("to")
        .map(|t| parse_time("to", t))
        .transpose()?
        .unwrap_or_else(|| sim.now());
    if to < from {
        return Err(ApiFailure::bad_input("from must not be after to."));
    }
    if to.duration_since(from) > SignedDuration::from_hours(24 * 31) {
        return Err(ApiFailure::bad_input(
            "The requested period must not exceed 31 days.",
        ));
    }
    let wanted_code = params.get("statecode").and_then(|c| c.parse::<i64>().ok());
    let wanted_type = params.get("statetype");
    let list: Vec<Value> = messages_for(sim, s, from, to)
        .into_iter()
        .filter(|(_, code, inv)| {
            let on_device = match dev {
                Some(DeviceRef::Inverter(k)) => *inv == Some(k),
                Some(_) => false,
                None => true,
            };
            on_device && wanted_code.is_none_or(|c| c == *code)
        })
        .filter_map(|(at, code, inv)| {
            let (kind, severity, text) = text(code);
            if wanted_type.is_some_and(|t| !t.eq_ignore_ascii_case(kind)) {
                return None;
            }
            let inverter = &s.inverters[inv.unwrap_or(0).min(s.inverters.len() - 1)];
            Some(json!({
                "pvSystemId": s.id, "deviceId": inverter.id, "stateType": kind, "stateCode": code,
                "stateSeverity": severity, "logDateTime": format_time(at), "text": text, "deviceName": inverter.model,
            }))
        })
        .collect();
    let (page, links) = params.page(&list)?;
    sim.api.count_points(page.len() as u64);
    Ok(Json(json!({"messages": page, "links": links})))
}

pub(crate) async fn system_messages(
    State(sim): State<Arc<Simulator>>,
    Path((system, _lang)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    messages(&sim, &system, None, &params)
}

pub(crate) async fn device_messages(
    State(sim): State<Arc<Simulator>>,
    Path((system, device, _lang)): Path<(String, String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    messages(&sim, &system, Some(&device), &params)
}
