//! Metadata: release info, PV systems and devices.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use super::params::{Params, format_time};
use super::{ApiFailure, ApiResult};
use crate::fleet::SimSystem;
use crate::production::{SLOT_SECS, local_midnight};
use crate::{Simulator, rng};

/// Which device of a system an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeviceRef {
    Inverter(usize),
    Battery,
    Meter,
    Datalogger,
}

pub(crate) fn find_system<'a>(sim: &'a Simulator, id: &str) -> ApiResult<&'a SimSystem> {
    sim.fleet.get(id).ok_or_else(ApiFailure::system_not_found)
}

fn datalogger_device_id(sim: &Simulator, system: &SimSystem) -> String {
    rng::guid(sim.fleet.seed, &[system.index as u64, 4])
}

pub(crate) fn find_device(sim: &Simulator, system: &SimSystem, id: &str) -> ApiResult<DeviceRef> {
    if let Some(k) = system.inverters.iter().position(|i| i.id == id) {
        return Ok(DeviceRef::Inverter(k));
    }
    if system.battery.as_ref().is_some_and(|b| b.id == id) {
        return Ok(DeviceRef::Battery);
    }
    if system.meter_id.as_deref() == Some(id) {
        return Ok(DeviceRef::Meter);
    }
    if datalogger_device_id(sim, system) == id {
        return Ok(DeviceRef::Datalogger);
    }
    Err(ApiFailure::new(404, 1004, "Device not found."))
}

fn system_json(sim: &Simulator, s: &SimSystem) -> Value {
    let mut v = system_json_with_coordinates(sim, s);
    if !sim.config.coordinates
        && let Some(obj) = v.as_object_mut()
    {
        obj.remove("latitude");
        obj.remove("longitude");
    }
    v
}

fn system_json_with_coordinates(sim: &Simulator, s: &SimSystem) -> Value {
    let now = sim.now();
    let last_import = if sim.scenario.online(s.index, now) {
        let floored = now.as_second() - now.as_second().rem_euclid(SLOT_SECS);
        jiff::Timestamp::from_second(floored).map(format_time).ok()
    } else {
        None
    };
    json!({
        "pvSystemId": s.id,
        "name": s.name,
        "address": {"country": s.country, "zipCode": null, "street": null, "city": s.city, "state": null},
        "pictureURL": null,
        "peakPower": s.peak_power_w(),
        // A calendar date, as Solar.web writes it: midnight with a `Z`, meaning the day itself.
        "installationDate": format!("{}T00:00:00Z", s.installation_date),
        "lastImport": last_import,
        "meteoData": "light",
        "timeZone": s.tz_name,
        // Not part of the documented model: the simulator adds coordinates so that clients can
        // place the site without geocoding its address.
        "latitude": s.site.latitude_deg,
        "longitude": s.site.longitude_deg,
    })
}

fn firmware() -> Value {
    json!({"updateAvailable": false, "installedVersion": "1.34.6-1", "availableVersion": null})
}

fn devices_json(sim: &Simulator, s: &SimSystem) -> Vec<Value> {
    let activation = format_time(local_midnight(s, s.installation_date));
    let mut out: Vec<Value> = s
        .inverters
        .iter()
        .map(|inv| {
            let peak: serde_json::Map<String, Value> =
                inv.mppt_peak_w.iter().enumerate().map(|(i, w)| (format!("dc{}", i + 1), json!(w.round()))).collect();
            json!({
                "deviceType": "Inverter", "deviceId": inv.id, "deviceName": inv.model,
                "deviceManufacturer": "Fronius", "serialNumber": inv.serial, "deviceTypeDetails": inv.model,
                "dataloggerId": s.datalogger_id, "nodeType": inv.node_type,
                "numberMPPTrackers": inv.mppt_peak_w.len(), "numberPhases": if inv.nominal_ac_w > 4600.0 { 3 } else { 1 },
                "peakPower": peak, "nominalAcPower": inv.nominal_ac_w, "firmware": firmware(),
                "isActive": true, "activationDate": activation, "deactivationDate": null,
            })
        })
        .collect();
    if let Some(b) = &s.battery {
        out.push(json!({
            "deviceType": "Battery", "deviceId": b.id, "deviceName": "BYD Battery-Box Premium HVS",
            "deviceManufacturer": "BYD", "serialNumber": format!("P03{}", &b.id[..8]), "capacity": b.capacity_wh,
            "maxChargePower": b.max_power_w, "maxDischargePower": b.max_power_w, "minSOC": b.min_soc, "maxSOC": 100,
            "dataloggerId": s.datalogger_id, "firmware": firmware(),
            "isActive": true, "activationDate": activation, "deactivationDate": null,
        }));
    }
    if let Some(m) = &s.meter_id {
        out.push(json!({
            "deviceType": "SmartMeter", "deviceId": m, "deviceName": "Smart Meter TS 65A-3",
            "deviceManufacturer": "Fronius", "deviceCategory": "Primary Meter", "deviceLocation": "Grid",
            "serialNumber": format!("{}", &m[..8]), "dataloggerId": s.datalogger_id, "firmware": firmware(),
            "isActive": true, "activationDate": activation, "deactivationDate": null,
        }));
    }
    out.push(json!({
        "deviceType": "Datalogger", "deviceId": datalogger_device_id(sim, s), "deviceName": "Datamanager 2.0",
        "deviceManufacturer": "Fronius", "dataloggerId": s.datalogger_id,
        "isOnline": sim.scenario.online(s.index, sim.now()), "firmware": firmware(),
        "isActive": true, "activationDate": null, "deactivationDate": null,
    }));
    out
}

fn type_filter(params: &Params, devices: Vec<Value>) -> Vec<Value> {
    let Some(types) = params.get("type") else {
        return devices;
    };
    let wanted: Vec<String> = types
        .split(',')
        .map(|t| t.trim().to_ascii_lowercase())
        .collect();
    devices
        .into_iter()
        .filter(|d| {
            d["deviceType"]
                .as_str()
                .is_some_and(|t| wanted.iter().any(|w| w.eq_ignore_ascii_case(t)))
        })
        .collect()
}

pub(crate) async fn release() -> Json<Value> {
    Json(
        json!({"releaseVersion": concat!("moose-sim-", env!("CARGO_PKG_VERSION")), "releaseDate": "23.11.2026"}),
    )
}

pub(crate) async fn systems(
    State(sim): State<Arc<Simulator>>,
    params: Params,
) -> ApiResult<Json<Value>> {
    // Page over indices, then build only the page's systems, not all 10,000.
    let all: Vec<usize> = (0..sim.fleet.systems.len()).collect();
    let (page, links) = params.page(&all)?;
    let systems: Vec<Value> = page
        .iter()
        .map(|&i| system_json(&sim, &sim.fleet.systems[i]))
        .collect();
    Ok(Json(json!({"pvSystems": systems, "links": links})))
}

pub(crate) async fn system_ids(
    State(sim): State<Arc<Simulator>>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let ids: Vec<&str> = sim.fleet.systems.iter().map(|s| s.id.as_str()).collect();
    let (page, links) = params.page(&ids)?;
    Ok(Json(json!({"pvSystemIds": page, "links": links})))
}

pub(crate) async fn system_count(State(sim): State<Arc<Simulator>>) -> Json<Value> {
    Json(json!({"count": sim.fleet.systems.len()}))
}

pub(crate) async fn system(
    State(sim): State<Arc<Simulator>>,
    Path(system): Path<String>,
) -> ApiResult<Json<Value>> {
    let s = find_system(&sim, &system)?;
    sim.api.count_points(1);
    Ok(Json(system_json(&sim, s)))
}

pub(crate) async fn devices(
    State(sim): State<Arc<Simulator>>,
    Path(system): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let s = find_system(&sim, &system)?;
    let devices = type_filter(&params, devices_json(&sim, s));
    let (page, links) = params.page(&devices)?;
    Ok(Json(json!({"devices": page, "links": links})))
}

pub(crate) async fn device_ids(
    State(sim): State<Arc<Simulator>>,
    Path(system): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let s = find_system(&sim, &system)?;
    let ids: Vec<Value> = type_filter(&params, devices_json(&sim, s))
        .into_iter()
        .map(|d| d["deviceId"].clone())
        .collect();
    let (page, links) = params.page(&ids)?;
    Ok(Json(json!({"deviceIds": page, "links": links})))
}

pub(crate) async fn device_count(
    State(sim): State<Arc<Simulator>>,
    Path(system): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    let s = find_system(&sim, &system)?;
    Ok(Json(
        json!({"count": type_filter(&params, devices_json(&sim, s)).len()}),
    ))
}

pub(crate) async fn device(
    State(sim): State<Arc<Simulator>>,
    Path((system, device)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let s = find_system(&sim, &system)?;
    find_device(&sim, s, &device)?;
    sim.api.count_points(1);
    let found = devices_json(&sim, s)
        .into_iter()
        .find(|d| d["deviceId"] == device.as_str());
    found
        .map(Json)
        .ok_or_else(|| ApiFailure::new(404, 1004, "Device not found."))
}
