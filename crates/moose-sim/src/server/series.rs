//! `histdata` (5-minute records) and `aggrdata` (energy per day, month, year, lifetime).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::meta::{DeviceRef, find_device, find_system};
use super::params::{Params, format_time, parse_time};
use super::{ApiFailure, ApiResult};
use crate::Simulator;
use crate::fleet::SimSystem;
use crate::production::{DaySeries, SLOT_SECS, SlotEnergy, local_date};

/// The most histdata one request may span.
const MAX_WINDOW: SignedDuration = SignedDuration::from_hours(24);

/// What a channel reads from a slot (or from a sum of slots).
#[derive(Debug, Clone, Copy)]
enum Source {
    Production,
    Output,
    FeedIn,
    Purchased,
    Consumption,
    SelfConsumptionTotal,
    BattCharge,
    BattDischarge,
    InverterEnergy,
    InverterPower,
    Soc,
}

/// (name, channelType, unit, source).
type ChannelDef = (&'static str, &'static str, &'static str, Source);

const SYSTEM_ENERGY: &[ChannelDef] = &[
    ("EnergyProductionTotal", "Energy", "Wh", Source::Production),
    ("EnergyFeedIn", "Energy", "Wh", Source::FeedIn),
    ("EnergyPurchased", "Energy", "Wh", Source::Purchased),
    (
        "EnergyConsumptionTotal",
        "Energy",
        "Wh",
        Source::Consumption,
    ),
    (
        "EnergySelfConsumptionTotal",
        "Energy",
        "Wh",
        Source::SelfConsumptionTotal,
    ),
    ("EnergyBattCharge", "Energy", "Wh", Source::BattCharge),
    ("EnergyBattDischarge", "Energy", "Wh", Source::BattDischarge),
    ("EnergyOutput", "Energy", "Wh", Source::Output),
];
const INVERTER_HIST: &[ChannelDef] = &[
    ("EnergyExported", "Energy", "Wh", Source::InverterEnergy),
    (
        "StandardizedPower",
        "Percentage",
        "%",
        Source::InverterPower,
    ),
];
const INVERTER_AGGR: &[ChannelDef] = &[("EnergyExported", "Energy", "Wh", Source::InverterEnergy)];
const METER_ENERGY: &[ChannelDef] = &[
    ("GridEnergyExported", "Energy", "Wh", Source::FeedIn),
    ("GridEnergyImported", "Energy", "Wh", Source::Purchased),
];
const BATTERY_HIST: &[ChannelDef] = &[("StateOfCharge", "Percentage", "%", Source::Soc)];

fn channel_set(device: Option<DeviceRef>, aggregated: bool) -> &'static [ChannelDef] {
    match (device, aggregated) {
        (None, _) => SYSTEM_ENERGY,
        (Some(DeviceRef::Inverter(_)), false) => INVERTER_HIST,
        (Some(DeviceRef::Inverter(_)), true) => INVERTER_AGGR,
        (Some(DeviceRef::Meter), _) => METER_ENERGY,
        (Some(DeviceRef::Battery), false) => BATTERY_HIST,
        _ => &[],
    }
}

/// Energies of one slot or a sum of slots, plus the inverter's share when a device is asked for.
#[derive(Debug, Default, Clone)]
struct Totals {
    sys: SlotEnergy,
    inverter: i64,
    soc: Option<f32>,
    slots: i64,
}

#[allow(clippy::cast_precision_loss)]
fn value(system: &SimSystem, device: Option<DeviceRef>, t: &Totals, source: Source) -> Option<f64> {
    let wh = |mwh: i64| Some(mwh as f64 / 1000.0);
    let metered = system.meter_id.is_some();
    let battery = system.battery.is_some();
    match source {
        Source::Production => wh(t.sys.production),
        Source::Output => wh(t.sys.output()),
        Source::FeedIn if metered => wh(t.sys.feed_in),
        Source::Purchased if metered => wh(t.sys.purchased),
        Source::Consumption if metered => wh(t.sys.consumption),
        Source::SelfConsumptionTotal if metered => wh(t.sys.self_consumption_total()),
        Source::BattCharge if battery => wh(t.sys.batt_charge),
        Source::BattDischarge if battery => wh(t.sys.batt_discharge),
        Source::InverterEnergy => wh(t.inverter),
        Source::InverterPower => match device {
            Some(DeviceRef::Inverter(k)) if t.slots > 0 => {
                let avg_w = t.inverter as f64 / 1000.0 * 3600.0 / (t.slots * SLOT_SECS) as f64;
                Some((avg_w / system.inverters[k].nominal_ac_w * 1000.0).round() / 10.0)
            }
            _ => None,
        },
        Source::Soc => t.soc.map(|s| (f64::from(s) * 10.0).round() / 10.0),
        _ => None,
    }
}

fn selected(params: &Params, set: &'static [ChannelDef]) -> ApiResult<Vec<&'static ChannelDef>> {
    let Some(list) = params.get("channel") else {
        return Ok(set.iter().collect());
    };
    list.split(',')
        .map(|name| {
            set.iter()
                .find(|c| c.0.eq_ignore_ascii_case(name.trim()))
                .ok_or_else(|| {
                    ApiFailure::new(
                        400,
                        1008,
                        format!("Invalid channel name {:?}.", name.trim()),
                    )
                })
        })
        .collect()
}

/// A channel as sent. Typed rather than built as `serde_json::Value`: a day of records is a few
/// thousand channels, and maps of owned strings made serialisation the simulator's bottleneck.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ChannelOut {
    channel_name: &'static str,
    channel_type: &'static str,
    unit: &'static str,
    value: Option<f64>,
}

/// A record as sent (`logDuration` only on histdata).
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct RecordOut {
    log_date_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_duration: Option<i64>,
    channels: Vec<ChannelOut>,
}

fn channels_out(
    system: &SimSystem,
    device: Option<DeviceRef>,
    t: &Totals,
    defs: &[&ChannelDef],
) -> (Vec<ChannelOut>, u64) {
    let mut points = 0;
    let channels = defs
        .iter()
        .map(|(name, kind, unit, source)| {
            let value = value(system, device, t, *source);
            points += u64::from(value.is_some());
            ChannelOut {
                channel_name: name,
                channel_type: kind,
                unit,
                value,
            }
        })
        .collect();
    (channels, points)
}

fn slot_totals(day: &DaySeries, i: usize, device: Option<DeviceRef>) -> Totals {
    let inverter = match device {
        Some(DeviceRef::Inverter(k)) => day.inverter[k][i],
        _ => 0,
    };
    Totals {
        sys: day.slots[i],
        inverter,
        soc: day.soc.get(i).copied(),
        slots: 1,
    }
}

fn hist(
    sim: &Simulator,
    system: &str,
    device: Option<&str>,
    params: &Params,
) -> ApiResult<Json<Value>> {
    let s = find_system(sim, system)?;
    let dev = device.map(|d| find_device(sim, s, d)).transpose()?;
    let (Some(from), Some(to)) = (params.get("from"), params.get("to")) else {
        return Err(ApiFailure::bad_input(
            "Parameters from and to are required.",
        ));
    };
    let (from, to) = (parse_time("from", from)?, parse_time("to", to)?);
    if to < from {
        return Err(ApiFailure::bad_input("from must not be after to."));
    }
    if to.duration_since(from) > MAX_WINDOW {
        return Err(ApiFailure::bad_input(
            "The requested period must not exceed 24 hours.",
        ));
    }
    let defs = selected(params, channel_set(dev, false))?;
    let now = sim.now();
    let mut records = Vec::new();
    sim.for_each_slot(s, from, to, |day, i| {
        if day.recorded(i) && sim.scenario.data_visible(s.index, day.slot_start(i), now) {
            records.push((day.slot_start(i), slot_totals(day, i, dev)));
        }
    });
    let records: Vec<(String, Totals)> = records
        .into_iter()
        .map(|(start, t)| (format_time(start), t))
        .collect();
    respond(
        sim,
        s,
        device,
        dev,
        params,
        &records,
        &defs,
        Some(SLOT_SECS),
    )
}

/// One page of labelled records as the API sends them, with billing.
#[allow(clippy::too_many_arguments)] // one call each from histdata and aggrdata; a struct would only rename them
fn respond(
    sim: &Simulator,
    s: &SimSystem,
    device: Option<&str>,
    dev: Option<DeviceRef>,
    params: &Params,
    records: &[(String, Totals)],
    defs: &[&ChannelDef],
    log_duration: Option<i64>,
) -> ApiResult<Json<Value>> {
    let (page, links) = params.page(records)?;
    let mut points = 0;
    let data: Vec<RecordOut> = page
        .into_iter()
        .map(|(label, totals)| {
            let (channels, p) = channels_out(s, dev, &totals, defs);
            points += p;
            RecordOut {
                log_date_time: label,
                log_duration,
                channels,
            }
        })
        .collect();
    sim.api.count_points(points);
    Ok(Json(
        json!({"pvSystemId": s.id, "deviceId": device, "data": data, "links": links}),
    ))
}

pub(crate) async fn system_hist(
    State(sim): State<Arc<Simulator>>,
    Path(system): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    hist(&sim, &system, None, &params)
}

pub(crate) async fn device_hist(
    State(sim): State<Arc<Simulator>>,
    Path((system, device)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    hist(&sim, &system, Some(&device), &params)
}

/// A day's totals over the slots that have ended by `now`; `None` before installation or after today.
fn day_totals(
    sim: &Simulator,
    s: &SimSystem,
    date: Date,
    device: Option<DeviceRef>,
    now: Timestamp,
) -> Option<Totals> {
    if date < s.installation_date || date > local_date(s, now) {
        return None;
    }
    let day = sim.day(s, date);
    let mut t = Totals::default();
    let mut logged = false;
    for i in 0..day.slots.len() {
        if day.slot_start(i) + SignedDuration::from_secs(SLOT_SECS) > now {
            break;
        }
        if sim.scenario.ever_recorded(s.index, day.slot_start(i)) {
            add(&mut t, &slot_totals(&day, i, device));
            logged |= day.recorded(i) || day.slots[i].production > 0;
        }
    }
    // A day the logger sent nothing for at all (a plant that never reports) has no total;
    // a day it reported and the plant made nothing has a total of 0.
    logged.then_some(t)
}

fn add(t: &mut Totals, o: &Totals) {
    let s = &mut t.sys;
    s.production += o.sys.production;
    s.feed_in += o.sys.feed_in;
    s.purchased += o.sys.purchased;
    s.consumption += o.sys.consumption;
    s.batt_charge += o.sys.batt_charge;
    s.batt_discharge += o.sys.batt_discharge;
    t.inverter += o.inverter;
    t.slots += o.slots;
}

/// Totals over `first..=last` days; `None` if no day of it is in the system's life so far.
fn range_totals(
    sim: &Simulator,
    s: &SimSystem,
    first: Date,
    last: Date,
    device: Option<DeviceRef>,
    now: Timestamp,
) -> Option<Totals> {
    let first = first.max(s.installation_date);
    let last = last.min(local_date(s, now));
    let mut total: Option<Totals> = None;
    let mut date = first;
    while date <= last {
        if let Some(day) = day_totals(sim, s, date, device, now) {
            add(total.get_or_insert_with(Totals::default), &day);
        }
        let Ok(next) = date.tomorrow() else { break };
        date = next;
    }
    total
}

/// A period label and its first and last day.
type Period = (String, Date, Date);

fn month_bounds(y: i16, m: i8) -> Option<(Date, Date)> {
    let first = Date::new(y, m, 1).ok()?;
    Some((first, first.last_of_month()))
}

fn parse_period_value(raw: &str) -> Option<(char, Date)> {
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let num = |a: usize, b: usize| digits.get(a..b).and_then(|s| s.parse::<i16>().ok());
    #[allow(clippy::cast_possible_truncation)]
    match digits.len() {
        4 => Some(('y', Date::new(num(0, 4)?, 1, 1).ok()?)),
        6 => Some(('m', Date::new(num(0, 4)?, num(4, 6)? as i8, 1).ok()?)),
        8 => Some((
            'd',
            Date::new(num(0, 4)?, num(4, 6)? as i8, num(6, 8)? as i8).ok()?,
        )),
        _ => None,
    }
}

fn step(kind: char, d: Date) -> Option<Period> {
    match kind {
        'y' => Some((
            format!("{:04}", d.year()),
            d,
            Date::new(d.year(), 12, 31).ok()?,
        )),
        'm' => month_bounds(d.year(), d.month())
            .map(|(a, b)| (format!("{:04}-{:02}", d.year(), d.month()), a, b)),
        _ => Some((d.to_string(), d, d)),
    }
}

fn next_period(kind: char, d: Date) -> Option<Date> {
    match kind {
        'y' => Date::new(d.year() + 1, 1, 1).ok(),
        'm' => d.last_of_month().tomorrow().ok(),
        _ => d.tomorrow().ok(),
    }
}

fn periods(sim: &Simulator, s: &SimSystem, params: &Params) -> ApiResult<Vec<Period>> {
    let now = sim.now();
    let today = local_date(s, now);
    let ranged = params.has("from") || params.has("to") || params.has("duration");
    if let Some(period) = params.get("period") {
        if ranged {
            return Err(ApiFailure::bad_input(
                "period cannot be combined with from, to or duration.",
            ));
        }
        if period.eq_ignore_ascii_case("total") {
            return Ok(vec![("total".into(), s.installation_date, today)]);
        }
        let (kind, first, count) = if period.eq_ignore_ascii_case("years") {
            (
                'y',
                Date::new(s.installation_date.year(), 1, 1)
                    .map_err(|_| ApiFailure::bad_input("bad year"))?,
                100,
            )
        } else {
            match parse_period_value(period) {
                Some(('y', d)) => ('m', d, 12),
                Some(('m', d)) => ('d', d, i64::from(d.days_in_month())),
                _ => {
                    return Err(ApiFailure::new(
                        400,
                        1005,
                        format!("Invalid period {period:?}."),
                    ));
                }
            }
        };
        return collect_periods(kind, first, count, today);
    }
    let Some(from) = params.get("from") else {
        return Err(ApiFailure::bad_input("Either period or from is required."));
    };
    let (kind, first) = parse_period_value(from)
        .ok_or_else(|| ApiFailure::new(400, 1005, format!("Invalid from {from:?}.")))?;
    let count = match (params.get("to"), params.get("duration")) {
        (Some(_), Some(_)) => {
            return Err(ApiFailure::bad_input(
                "to and duration are mutually exclusive.",
            ));
        }
        (Some(to), None) => {
            let (to_kind, last) = parse_period_value(to)
                .ok_or_else(|| ApiFailure::new(400, 1005, format!("Invalid to {to:?}.")))?;
            if to_kind != kind {
                return Err(ApiFailure::bad_input(
                    "from and to must have the same granularity.",
                ));
            }
            if last < first {
                return Err(ApiFailure::bad_input("from must not be after to."));
            }
            let mut n = 0;
            let mut d = first;
            while d <= last {
                n += 1;
                d = next_period(kind, d).unwrap_or(last.tomorrow().unwrap_or(last));
                if n > 10_000 {
                    break;
                }
            }
            n
        }
        (None, Some(dur)) => dur
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| ApiFailure::bad_input("duration must be a positive integer."))?,
        (None, None) => 1,
    };
    let max = match kind {
        'd' => 366,
        'm' => 120,
        _ => 50,
    };
    if count > max {
        return Err(ApiFailure::bad_input(format!(
            "At most {max} periods of this granularity per request."
        )));
    }
    collect_periods(kind, first, count, today)
}

fn collect_periods(kind: char, first: Date, count: i64, today: Date) -> ApiResult<Vec<Period>> {
    let mut out = Vec::new();
    let mut d = first;
    for _ in 0..count {
        if d > today {
            break;
        }
        out.extend(step(kind, d));
        match next_period(kind, d) {
            Some(next) => d = next,
            None => break,
        }
    }
    Ok(out)
}

fn aggr(
    sim: &Simulator,
    system: &str,
    device: Option<&str>,
    params: &Params,
) -> ApiResult<Json<Value>> {
    let s = find_system(sim, system)?;
    let dev = device.map(|d| find_device(sim, s, d)).transpose()?;
    let defs = selected(params, channel_set(dev, true))?;
    let now = sim.now();
    let records: Vec<(String, Totals)> = periods(sim, s, params)?
        .into_iter()
        .filter_map(|(label, first, last)| {
            range_totals(sim, s, first, last, dev, now).map(|t| (label, t))
        })
        .collect();
    respond(sim, s, device, dev, params, &records, &defs, None)
}

pub(crate) async fn system_aggr(
    State(sim): State<Arc<Simulator>>,
    Path(system): Path<String>,
    params: Params,
) -> ApiResult<Json<Value>> {
    aggr(&sim, &system, None, &params)
}

pub(crate) async fn device_aggr(
    State(sim): State<Arc<Simulator>>,
    Path((system, device)): Path<(String, String)>,
    params: Params,
) -> ApiResult<Json<Value>> {
    aggr(&sim, &system, Some(&device), &params)
}
