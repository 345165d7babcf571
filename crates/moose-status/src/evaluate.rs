//! Judging one system: verdicts → tracks → incidents opened, updated or resolved.

use std::collections::BTreeMap;

use jiff::SignedDuration;
use jiff::civil::Date;
use moose_store::StoreError;
use serde_json::json;

use crate::gap::classify_gap;
use crate::job::{StatusJob, new_incident};
pub(crate) use crate::judge::{Judgement, judge_days};
use crate::observe::Observation;
use crate::rules::median;
use crate::texts;
use moose_incidents::codes::{CodeAction, CodeTable};
use moose_incidents::model::{
    Evidence, Hysteresis, Incident, IncidentKind, Resolution, SystemState, SystemStatus, Transition,
};
use moose_incidents::{Change, ChangeEvent};

/// The outcome of judging one system: its new status and the incident changes.
type Evaluated = (SystemStatus, Vec<Change>);

/// Judges one system.
pub(crate) async fn evaluate(
    job: &StatusJob,
    mut status: SystemStatus,
    obs: &Observation,
    upstream_hold: bool,
    judgement: Option<&Judgement>,
) -> Result<Evaluated, StoreError> {
    let rules = &job.rules;
    let now = obs.now;
    let meta = &obs.meta;
    let mut open: BTreeMap<IncidentKind, Incident> = BTreeMap::new();
    // Versions of the incidents as read: their writes are conditional on them.
    let mut versions: BTreeMap<String, u64> = BTreeMap::new();
    for (kind, id) in &status.open {
        if let Some(read) = job.incidents.incident_versioned(id).await? {
            versions.insert(id.clone(), read.version);
            open.insert(*kind, read.value);
        }
    }
    let mut changes: Vec<Change> = Vec::new();
    let mut touched: Vec<IncidentKind> = Vec::new();
    let maintenance = status.in_maintenance(now);
    status.checked_at = now;
    status.last_data_at = obs.last_data_at;

    // Messages: explained through the code table; routine ones only update device state.
    let table = CodeTable::builtin();
    let mut faults = Vec::new();
    let mut context = Vec::new();
    if let Some(messages) = &obs.messages {
        for m in messages {
            let Some(code) = m.state_code else { continue };
            let at = moose_solarweb::types::parse_api_time(&m.log_date_time).unwrap_or(now);
            let device = m.device_id.clone().unwrap_or_else(|| "system".into());
            let seen_key = format!("{device}|{code}|{}", m.log_date_time);
            if status.seen_messages.insert(seen_key, at).is_some() {
                continue;
            }
            let action = table.action(code);
            let entry = status.devices.entry(device.clone()).or_default();
            entry.last_code = Some(code);
            entry.last_message = m.text.clone();
            entry.last_message_at = Some(at);
            entry.state = if action == CodeAction::Incident {
                "error"
            } else {
                "online"
            }
            .into();
            match action {
                CodeAction::Ignore => {}
                CodeAction::Context => context.push((at, code, m.clone(), device)),
                CodeAction::Incident => faults.push((at, code, m.clone(), device)),
            }
        }
        status.messages_until = Some(now);
        let horizon = now - moose_incidents::model::MESSAGE_OVERLAP - SignedDuration::from_hours(1);
        status.seen_messages.retain(|_, at| *at >= horizon);
    }

    // No data.
    let verdict = if maintenance || upstream_hold {
        None
    } else {
        rules.no_data(obs)
    };
    let grace = status
        .grace_minutes
        .map_or(rules.no_data.min_duration, |m| {
            SignedDuration::from_mins(i64::from(m))
        });
    let rule = Hysteresis {
        min_duration: grace,
        ..rules.no_data
    };
    let track = status.tracks.entry(IncidentKind::NoData).or_default();
    match track.observe(verdict, now, open.contains_key(&IncidentKind::NoData), rule) {
        Transition::Open => {
            let since = match (obs.last_data_at, obs.daylight_since) {
                (Some(l), Some(d)) => l.max(d),
                (l, d) => l.or(d).or(track.bad_since).unwrap_or(now),
            };
            let offline = obs.flow.is_some_and(|f| f.online == Some(false));
            let mut incident = new_incident(
                Some(meta),
                None,
                IncidentKind::NoData,
                texts::no_data(meta, since, now, offline),
                since,
                now,
            );
            incident.add_evidence(Evidence {
                at: now,
                note: format!("no data for {} min with the sun {:.0}° high", now.duration_since(since).as_mins(), obs.sun_elevation_deg.unwrap_or(0.0)),
                data: json!({"last_data_at": obs.last_data_at, "is_online": obs.flow.and_then(|f| f.online)}),
            });
            open.insert(IncidentKind::NoData, incident);
            changes.push(Change::new(
                ChangeEvent::Opened,
                open[&IncidentKind::NoData].clone(),
            ));
        }
        Transition::Resolve => {
            if let Some(mut incident) = open.remove(&IncidentKind::NoData) {
                let (resolution, lost, evidence) = classify_gap(job, obs, incident.since).await?;
                let (summary, action) = texts::no_data_resolved(resolution, lost);
                incident.summary = format!("{} {summary}", incident.summary);
                incident.action = action;
                incident.resolution = Some(resolution);
                incident.lost_energy_wh = lost;
                incident.resolved_at = Some(now);
                incident.add_evidence(evidence);
                changes.push(Change::new(ChangeEvent::Resolved, incident));
            }
        }
        Transition::None => {
            if verdict == Some(true)
                && let Some(i) = open.get_mut(&IncidentKind::NoData)
            {
                i.last_seen_at = now;
                touched.push(IncidentKind::NoData);
            }
        }
    }

    // Device errors: a fault message is itself the confirmation; resolved after the inverter
    // has been seen producing again for a while without a new fault.
    let error_rule = Hysteresis {
        open_after: 1,
        resolve_after: rules.device_error_resolve_after,
        min_duration: SignedDuration::ZERO,
    };
    let track = status.tracks.entry(IncidentKind::DeviceError).or_default();
    if !faults.is_empty() && !maintenance {
        track.observe(Some(true), now, true, error_rule);
        let (at, code, message, device) = faults[0].clone();
        let evidence: Vec<Evidence> = faults
            .iter()
            .map(|(at, code, m, device)| Evidence {
                at: *at,
                note: format!("{device} reported {code}: {}", m.text.clone().unwrap_or_default()),
                data: json!({"code": code, "device": device, "severity": m.state_severity, "code_table": table.version}),
            })
            .collect();
        match open.get_mut(&IncidentKind::DeviceError) {
            Some(incident) => {
                incident.last_seen_at = now;
                for e in evidence {
                    incident.add_evidence(e);
                }
                touched.push(IncidentKind::DeviceError);
            }
            None => {
                let text = texts::device_error(
                    meta,
                    code,
                    message.text.as_deref(),
                    table.get(code),
                    &device,
                );
                let mut incident =
                    new_incident(Some(meta), None, IncidentKind::DeviceError, text, at, now);
                for e in evidence {
                    incident.add_evidence(e);
                }
                changes.push(Change::new(ChangeEvent::Opened, incident.clone()));
                open.insert(IncidentKind::DeviceError, incident);
            }
        }
    } else if open.contains_key(&IncidentKind::DeviceError) {
        let verdict = if maintenance {
            None
        } else {
            rules.producing(obs).map(|p| !p).filter(|bad| !bad)
        };
        if track.observe(verdict, now, true, error_rule) == Transition::Resolve
            && let Some(mut incident) = open.remove(&IncidentKind::DeviceError)
        {
            incident.resolved_at = Some(now);
            incident.resolution = Some(Resolution::Recovered);
            incident.add_evidence(Evidence {
                at: now,
                note: "the inverter has been producing normally again".into(),
                data: json!({"pv_w": obs.flow.and_then(|f| f.pv_w)}),
            });
            changes.push(Change::new(ChangeEvent::Resolved, incident));
        }
    }
    // Context codes explain an open incident; they do not open one.
    for (at, code, m, device) in context {
        let note = format!("{device} reported {code}: {}", m.text.unwrap_or_default());
        for kind in [
            IncidentKind::NoData,
            IncidentKind::ZeroProduction,
            IncidentKind::DeviceError,
        ] {
            if let Some(i) = open.get_mut(&kind) {
                i.add_evidence(Evidence {
                    at,
                    note: note.clone(),
                    data: json!({"code": code}),
                });
                touched.push(kind);
            }
        }
    }

    // Zero production in good sun, unless a fault or missing data already explains it.
    let explained =
        open.contains_key(&IncidentKind::NoData) || open.contains_key(&IncidentKind::DeviceError);
    let verdict = if maintenance || upstream_hold || explained {
        None
    } else {
        rules.zero_production(obs)
    };
    let track = status
        .tracks
        .entry(IncidentKind::ZeroProduction)
        .or_default();
    match track.observe(
        verdict,
        now,
        open.contains_key(&IncidentKind::ZeroProduction),
        rules.zero_production,
    ) {
        Transition::Open => {
            let since = track.bad_since.unwrap_or(now);
            let text = texts::zero_production(meta, since, now, obs.expected_w.unwrap_or(0.0));
            let incident = new_incident(
                Some(meta),
                None,
                IncidentKind::ZeroProduction,
                text,
                since,
                now,
            );
            changes.push(Change::new(ChangeEvent::Opened, incident.clone()));
            open.insert(IncidentKind::ZeroProduction, incident);
        }
        Transition::Resolve => {
            if let Some(mut incident) = open.remove(&IncidentKind::ZeroProduction) {
                incident.resolved_at = Some(now);
                incident.resolution = Some(Resolution::Recovered);
                incident.lost_energy_wh = obs
                    .model
                    .as_ref()
                    .map(|m| m.energy_wh(incident.since, now).round());
                changes.push(Change::new(ChangeEvent::Resolved, incident));
            }
        }
        Transition::None => {}
    }

    // Underperformance, judged once per site-local day.
    if let Some(j) = judgement {
        status.judged_day = Some(j.day);
    }
    if let Some(j) = judgement.filter(|j| j.complete) {
        let history: Vec<f64> = status.recent_pi.iter().map(|(_, pi)| *pi).collect();
        let ratios: Vec<f64> = status.recent_peer_ratio.iter().map(|(_, r)| *r).collect();
        let figures = crate::rules::DayFigures {
            specific_yield: j.yield_kwh_kwp,
            peer_yields: &j.peers,
            peer_pis: &j.peer_pis,
            performance_index: j.pi,
            recent_peer_ratios: &ratios,
            recent_pi: &history,
        };
        let verdict = if maintenance {
            None
        } else {
            rules.underperformance(&figures)
        };
        // Only normal days become the yardstick, so a slow failure cannot hide itself.
        if verdict == Some(false) {
            if let Some(pi) = j.pi {
                push_recent(&mut status.recent_pi, j.day, pi);
            }
            if let Some(m) = median(&j.peers).filter(|m| *m > 0.0) {
                push_recent(&mut status.recent_peer_ratio, j.day, j.yield_kwh_kwp / m);
            }
        }
        let track = status
            .tracks
            .entry(IncidentKind::Underperformance)
            .or_default();
        let at_day_end = now;
        match track.observe(
            verdict,
            at_day_end,
            open.contains_key(&IncidentKind::Underperformance),
            rules.underperformance,
        ) {
            Transition::Open => {
                let reference = median(&j.peers)
                    .or_else(|| history.iter().copied().reduce(f64::max))
                    .unwrap_or(0.0);
                let text =
                    texts::underperformance(meta, j.day, j.yield_kwh_kwp, reference, j.peers.len());
                let since = track.bad_since.unwrap_or(now);
                let mut incident = new_incident(
                    Some(meta),
                    None,
                    IncidentKind::Underperformance,
                    text,
                    since,
                    now,
                );
                incident.add_evidence(Evidence {
                    at: now,
                    note: format!("{}: {:.2} kWh/kWp", j.day, j.yield_kwh_kwp),
                    data: json!({"peers": j.peers, "performance_index": j.pi}),
                });
                changes.push(Change::new(ChangeEvent::Opened, incident.clone()));
                open.insert(IncidentKind::Underperformance, incident);
            }
            Transition::Resolve => {
                if let Some(mut incident) = open.remove(&IncidentKind::Underperformance) {
                    incident.resolved_at = Some(now);
                    incident.resolution = Some(Resolution::Recovered);
                    changes.push(Change::new(ChangeEvent::Resolved, incident));
                }
            }
            Transition::None => {
                if verdict == Some(true)
                    && let Some(i) = open.get_mut(&IncidentKind::Underperformance)
                {
                    i.add_evidence(Evidence {
                        at: now,
                        note: format!("{}: {:.2} kWh/kWp", j.day, j.yield_kwh_kwp),
                        data: json!({"peers": j.peers}),
                    });
                    touched.push(IncidentKind::Underperformance);
                }
            }
        }
    }

    // Incidents that changed without opening or closing are saved quietly.
    for kind in touched {
        if let Some(incident) = open.get(&kind)
            && !changes.iter().any(|c| c.incident.id == incident.id)
        {
            changes.push(Change::new(ChangeEvent::Updated, incident.clone()));
        }
    }
    let held = status.notifications_held(now);
    for c in &mut changes {
        c.held |= held;
        c.version = versions.get(&c.incident.id).copied().unwrap_or(0);
        // Evidence added later in this pass (context codes) belongs to the stored copy too.
        if let Some(latest) = open.get(&c.incident.kind).filter(|i| i.id == c.incident.id) {
            c.incident.clone_from(latest);
        }
    }
    status.open = open.iter().map(|(k, i)| (*k, i.id.clone())).collect();
    let state = overall_state(&status, maintenance, obs);
    if state != status.state {
        status.state = state;
        status.last_change_at = now;
    }
    // Per device: offline with the system, in error while its fault is open, online otherwise.
    let faulty = status.open.contains_key(&IncidentKind::DeviceError);
    let system_online = obs.flow.and_then(|f| f.online);
    for device in obs.devices.iter().filter(|d| d.active) {
        let entry = status
            .devices
            .entry(device.id.as_str().to_owned())
            .or_default();
        let state = match system_online {
            Some(false) => "offline",
            _ if faulty && entry.state == "error" => "error",
            _ => "online",
        };
        state.clone_into(&mut entry.state);
    }
    if let Some(flow) = obs.flow {
        let online = flow.online.unwrap_or(true);
        let entry = status.devices.entry("datalogger".into()).or_default();
        entry.state = if online { "online" } else { "offline" }.into();
    }
    Ok((status, changes))
}

fn push_recent(list: &mut Vec<(Date, f64)>, day: Date, value: f64) {
    list.retain(|(d, _)| *d != day);
    list.push((day, value));
    let excess = list.len().saturating_sub(7);
    list.drain(..excess);
}

fn overall_state(status: &SystemStatus, maintenance: bool, obs: &Observation) -> SystemState {
    let has = |k| status.open.contains_key(&k);
    if maintenance {
        SystemState::Maintenance
    } else if has(IncidentKind::DeviceError) {
        SystemState::Faulty
    } else if has(IncidentKind::NoData) {
        SystemState::Offline
    } else if has(IncidentKind::ZeroProduction) {
        SystemState::NotProducing
    } else if has(IncidentKind::Underperformance) {
        SystemState::Underperforming
    } else if obs.last_data_at.is_none() {
        SystemState::Unknown
    } else {
        SystemState::Ok
    }
}
