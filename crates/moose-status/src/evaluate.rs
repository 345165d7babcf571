//! Judging one system: verdicts → tracks → incidents opened, updated or resolved.
//!
//! [`evaluate`] is three steps: read the open incidents (store), decide (pure: one function per
//! incident kind over a small [`Context`]), and classify a data gap that just closed (store and
//! Solar.web, see `gap.rs`). Only the first and last do I/O, so the decisions can be read, and
//! tested, as plain functions of the observation and the status.

use std::collections::BTreeMap;

use jiff::SignedDuration;
use jiff::civil::Date;
use moose_incidents::codes::{CodeAction, CodeTable};
use moose_incidents::model::{
    DeviceCondition, Evidence, GapWatch, Hysteresis, Incident, IncidentKind, Resolution,
    SystemState, SystemStatus, Transition,
};
use moose_incidents::{Change, ChangeEvent};
use moose_solarweb::types::SystemMessage;
use moose_store::StoreError;
use serde_json::json;

use crate::gap::{GapVerdict, classify_gap};
use crate::judge::Judgement;
use crate::observe::Observation;
use crate::parts::StatusJob;
use crate::rules::{Rules, median};
use crate::texts;
use crate::texts::new_incident;

/// The outcome of judging one system: its new status and the incident changes.
type Evaluated = (SystemStatus, Vec<Change>);

/// What every decision of one system's pass reads.
struct Context<'a> {
    rules: &'a Rules,
    obs: &'a Observation,
    table: &'static CodeTable,
    /// A maintenance window is running: nothing opens.
    maintenance: bool,
    /// An upstream outage holds the per-system verdicts that depend on fresh data.
    upstream_hold: bool,
}

/// A message worth acting on: when, its code, the message and the device it came from.
type Sighting = (jiff::Timestamp, i64, SystemMessage, String);

/// The system's incidents while it is judged, and what happened to them.
#[derive(Default)]
struct Incidents {
    open: BTreeMap<IncidentKind, Incident>,
    /// Versions of the incidents as read: their writes are conditional on them.
    versions: BTreeMap<String, u64>,
    changes: Vec<Change>,
    /// Open incidents that changed without opening or closing.
    touched: Vec<IncidentKind>,
}

impl Incidents {
    fn is_open(&self, kind: IncidentKind) -> bool {
        self.open.contains_key(&kind)
    }

    fn opened(&mut self, incident: Incident) {
        self.changes
            .push(Change::new(ChangeEvent::Opened, incident.clone()));
        self.open.insert(incident.kind, incident);
    }

    fn resolved(&mut self, incident: Incident) {
        self.changes
            .push(Change::new(ChangeEvent::Resolved, incident));
    }
}

/// Judges one system.
pub(crate) async fn evaluate(
    job: &StatusJob,
    status: SystemStatus,
    obs: &Observation,
    upstream_hold: bool,
    judgement: Option<&Judgement>,
) -> Result<Evaluated, StoreError> {
    let mut incidents = Incidents::default();
    for (kind, id) in &status.open {
        if let Some(read) = job.incidents.incident_versioned(id).await? {
            incidents.versions.insert(id.clone(), read.version);
            incidents.open.insert(*kind, read.value);
        }
    }
    let ctx = Context {
        rules: &job.rules,
        obs,
        table: CodeTable::builtin(),
        maintenance: status.in_maintenance(obs.now),
        upstream_hold,
    };
    let (mut status, gap) = decide(&ctx, status, &mut incidents, judgement);
    if let Some(incident) = gap {
        // The data gap closed: whether it was a communication loss or an outage is told by
        // what arrived for it. First among the changes, where the decision put it.
        let watch = status.gap.take();
        let verdict = classify_gap(job, obs, &incident, watch).await?;
        let change = Change::new(
            ChangeEvent::Resolved,
            gap_resolved(incident, verdict, obs.now),
        );
        incidents.changes.insert(0, change);
    }
    if incidents
        .changes
        .iter()
        .any(|c| c.event == ChangeEvent::Opened && c.incident.kind == IncidentKind::NoData)
    {
        // The lifetime counter as the gap begins: what it grows by until data resumes is
        // energy made while the plant could not report.
        status.gap = Some(GapWatch {
            counter_wh: crate::gap::lifetime_counter(job, &obs.meta).await,
            counter_at: Some(obs.now),
            ..GapWatch::default()
        });
    }
    // Stops that ended: what they cost.
    for change in &mut incidents.changes {
        let i = &mut change.incident;
        if change.event == ChangeEvent::Resolved
            && matches!(
                i.kind,
                IncidentKind::DeviceError | IncidentKind::ZeroProduction
            )
            && let Some(until) = i.resolved_at
        {
            i.lost_energy_wh = crate::gap::lost_energy(job, obs, i.since, until).await?;
        }
    }
    finish(&ctx, &mut status, &mut incidents);
    Ok((status, incidents.changes))
}

/// Every decision of the pass, in order; returns the status and a no-data incident whose gap
/// just closed and still needs classifying.
fn decide(
    ctx: &Context<'_>,
    mut status: SystemStatus,
    incidents: &mut Incidents,
    judgement: Option<&Judgement>,
) -> (SystemStatus, Option<Incident>) {
    status.checked_at = ctx.obs.now;
    status.last_data_at = ctx.obs.last_data_at;
    let (faults, context) = read_messages(ctx, &mut status);
    let gap = no_data(ctx, &mut status, incidents);
    device_error(ctx, &mut status, incidents, &faults);
    explain_with_context(incidents, context);
    zero_production(ctx, &mut status, incidents);
    underperformance(ctx, &mut status, incidents, judgement);
    (status, gap)
}

/// New messages, explained through the code table: routine ones only update device state;
/// faults and context codes are returned for the rules below.
fn read_messages(ctx: &Context<'_>, status: &mut SystemStatus) -> (Vec<Sighting>, Vec<Sighting>) {
    let now = ctx.obs.now;
    let mut faults = Vec::new();
    let mut context = Vec::new();
    let Some(messages) = &ctx.obs.messages else {
        return (faults, context);
    };
    for m in messages {
        let Some(code) = m.state_code else { continue };
        let at = moose_solarweb::types::parse_api_time(&m.log_date_time).unwrap_or(now);
        let device = m.device_id.clone().unwrap_or_else(|| "system".into());
        let seen_key = format!("{device}|{code}|{}", m.log_date_time);
        if status.seen_messages.insert(seen_key, at).is_some() {
            continue;
        }
        let action = ctx.table.action(code);
        let entry = status.devices.entry(device.clone()).or_default();
        entry.last_code = Some(code);
        entry.last_message = m.text.clone();
        entry.last_message_at = Some(at);
        entry.state = if action == CodeAction::Incident {
            DeviceCondition::Error
        } else {
            DeviceCondition::Online
        };
        match action {
            CodeAction::Ignore => {}
            CodeAction::Context => context.push((at, code, m.clone(), device)),
            CodeAction::Incident => faults.push((at, code, m.clone(), device)),
        }
    }
    status.messages_until = Some(now);
    let horizon = now - moose_incidents::model::MESSAGE_OVERLAP - SignedDuration::from_hours(1);
    status.seen_messages.retain(|_, at| *at >= horizon);
    (faults, context)
}

/// No data during the plant's producing hours, after the system's grace period. One incident
/// per gap: it stays open through nights and days without data (its estimate of lost energy
/// growing) and closes only on evidence, data that is newer than the gap's start. Returns the
/// incident when its gap closes (resolved by [`evaluate`] once the gap is classified).
fn no_data(
    ctx: &Context<'_>,
    status: &mut SystemStatus,
    incidents: &mut Incidents,
) -> Option<Incident> {
    let (obs, now, meta) = (ctx.obs, ctx.obs.now, &ctx.obs.meta);
    let open_since = incidents.open.get(&IncidentKind::NoData).map(|i| i.since);
    let grace = status
        .grace_minutes
        .map_or(ctx.rules.no_data.min_duration, |m| {
            SignedDuration::from_mins(i64::from(m))
        });
    let verdict = match open_since {
        _ if ctx.maintenance || ctx.upstream_hold => None,
        None => ctx.rules.no_data_with(obs, grace),
        Some(since) => {
            let fresh = obs.last_data_at.is_some_and(|last| {
                last > since
                    && (obs.daylight_since.is_none()
                        || now.duration_since(last) <= ctx.rules.stale_after)
            });
            if fresh {
                Some(false)
            } else if obs.daylight_since.is_some() || !obs.knows_daylight() {
                Some(true)
            } else {
                // Night: nothing new is known; the incident stays as it is.
                None
            }
        }
    };
    if verdict == Some(true)
        && let Some(watch) = status.gap.as_mut()
        && let Some(flow) = obs.flow
    {
        let pv = flow.pv_w.unwrap_or(0.0);
        let producing = obs
            .peak_w()
            .is_some_and(|peak| pv > ctx.rules.producing_share * peak);
        match flow.online {
            Some(false) => watch.offline += 1,
            Some(true) if producing => watch.producing += 1,
            Some(true) => watch.idle += 1,
            None => {}
        }
    }
    // The grace period is already in the verdict (counted from the last record).
    let rule = Hysteresis {
        min_duration: SignedDuration::ZERO,
        ..ctx.rules.no_data
    };
    let track = status.tracks.entry(IncidentKind::NoData).or_default();
    match track.observe(verdict, now, open_since.is_some(), rule) {
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
                note: format!(
                    "no data for {} min during the plant's producing hours",
                    now.duration_since(since).as_mins()
                ),
                data: json!({"last_data_at": obs.last_data_at, "is_online": obs.flow.and_then(|f| f.online), "sun_elevation_deg": obs.sun_elevation_deg.map(f64::round)}),
            });
            incidents.opened(incident);
            None
        }
        Transition::Resolve => incidents.open.remove(&IncidentKind::NoData),
        Transition::None => {
            if verdict == Some(true)
                && let Some(i) = incidents.open.get_mut(&IncidentKind::NoData)
            {
                i.last_seen_at = now;
                // What the plant would usually have made since the gap began: lost if this
                // turns out to be an outage.
                i.lost_energy_wh = obs.usual_energy_wh(i.since, now).map(|(wh, _)| wh.round());
                incidents.touched.push(IncidentKind::NoData);
            }
            None
        }
    }
}

/// A no-data incident, resolved with what its gap turned out to be.
fn gap_resolved(mut incident: Incident, verdict: GapVerdict, now: jiff::Timestamp) -> Incident {
    let (summary, action) =
        texts::no_data_resolved(verdict.resolution, verdict.lost_wh, verdict.hidden_wh);
    incident.summary = format!("{} {summary}", incident.summary);
    incident.action = action;
    incident.resolution = Some(verdict.resolution);
    incident.lost_energy_wh = verdict.lost_wh;
    incident.hidden_energy_wh = verdict.hidden_wh;
    incident.resolved_at = Some(now);
    incident.add_evidence(verdict.evidence);
    incident
}

/// Device errors: a fault message is itself the confirmation; resolved after the inverter has
/// been seen producing again for a while without a new fault.
fn device_error(
    ctx: &Context<'_>,
    status: &mut SystemStatus,
    incidents: &mut Incidents,
    faults: &[Sighting],
) {
    let (obs, now, meta) = (ctx.obs, ctx.obs.now, &ctx.obs.meta);
    let rule = Hysteresis {
        open_after: 1,
        resolve_after: ctx.rules.device_error_resolve_after,
        min_duration: SignedDuration::ZERO,
    };
    let track = status.tracks.entry(IncidentKind::DeviceError).or_default();
    if let Some((at, code, message, device)) = faults.first().filter(|_| !ctx.maintenance) {
        track.observe(Some(true), now, true, rule);
        let evidence: Vec<Evidence> = faults
            .iter()
            .map(|(at, code, m, device)| Evidence {
                at: *at,
                note: format!("{device} reported {code}: {}", m.text.clone().unwrap_or_default()),
                data: json!({"code": code, "device": device, "severity": m.state_severity, "code_table": ctx.table.version}),
            })
            .collect();
        if let Some(incident) = incidents.open.get_mut(&IncidentKind::DeviceError) {
            incident.last_seen_at = now;
            for e in evidence {
                incident.add_evidence(e);
            }
            incidents.touched.push(IncidentKind::DeviceError);
        } else {
            let text = texts::device_error(
                meta,
                *code,
                message.text.as_deref(),
                ctx.table.get(*code),
                device,
            );
            let mut incident =
                new_incident(Some(meta), None, IncidentKind::DeviceError, text, *at, now);
            for e in evidence {
                incident.add_evidence(e);
            }
            incidents.opened(incident);
        }
    } else if incidents.is_open(IncidentKind::DeviceError) {
        let verdict = if ctx.maintenance {
            None
        } else {
            ctx.rules.producing(obs).map(|p| !p).filter(|bad| !bad)
        };
        if track.observe(verdict, now, true, rule) == Transition::Resolve
            && let Some(mut incident) = incidents.open.remove(&IncidentKind::DeviceError)
        {
            incident.resolved_at = Some(now);
            incident.resolution = Some(Resolution::Recovered);
            incident.add_evidence(Evidence {
                at: now,
                note: "the inverter has been producing normally again".into(),
                data: json!({"pv_w": obs.flow.and_then(|f| f.pv_w)}),
            });
            incidents.resolved(incident);
        }
    }
}

/// Context codes explain an open incident active at their moment; they do not open one, and
/// an incident last seen long before the code is not explained by it.
fn explain_with_context(incidents: &mut Incidents, context: Vec<Sighting>) {
    for (at, code, m, device) in context {
        let note = format!("{device} reported {code}: {}", m.text.unwrap_or_default());
        for kind in [
            IncidentKind::NoData,
            IncidentKind::ZeroProduction,
            IncidentKind::DeviceError,
        ] {
            if let Some(i) = incidents
                .open
                .get_mut(&kind)
                .filter(|i| at >= i.since - CONTEXT_WINDOW && at <= i.last_seen_at + CONTEXT_WINDOW)
            {
                i.add_evidence(Evidence {
                    at,
                    note: note.clone(),
                    data: json!({"code": code}),
                });
                incidents.touched.push(kind);
            }
        }
    }
}

/// How far from an incident's active time a context code still belongs to it.
const CONTEXT_WINDOW: SignedDuration = SignedDuration::from_hours(1);

/// Zero production in good sun, unless a fault or missing data already explains it.
fn zero_production(ctx: &Context<'_>, status: &mut SystemStatus, incidents: &mut Incidents) {
    let (obs, now, meta) = (ctx.obs, ctx.obs.now, &ctx.obs.meta);
    let explained =
        incidents.is_open(IncidentKind::NoData) || incidents.is_open(IncidentKind::DeviceError);
    // Not held by an upstream outage: the verdict needs a live view, which an unreachable
    // Solar.web does not give.
    let verdict = if ctx.maintenance || explained {
        None
    } else {
        ctx.rules.zero_production(obs)
    };
    let track = status
        .tracks
        .entry(IncidentKind::ZeroProduction)
        .or_default();
    match track.observe(
        verdict,
        now,
        incidents.is_open(IncidentKind::ZeroProduction),
        ctx.rules.zero_production,
    ) {
        Transition::Open => {
            let since = track.bad_since.unwrap_or(now);
            let text = texts::zero_production(meta, since, now, obs.expected_w.unwrap_or(0.0));
            incidents.opened(new_incident(
                Some(meta),
                None,
                IncidentKind::ZeroProduction,
                text,
                since,
                now,
            ));
        }
        Transition::Resolve => {
            if let Some(mut incident) = incidents.open.remove(&IncidentKind::ZeroProduction) {
                // Its lost energy is worked out with the stored data in `evaluate`.
                incident.resolved_at = Some(now);
                incident.resolution = Some(Resolution::Recovered);
                incidents.resolved(incident);
            }
        }
        Transition::None => {}
    }
}

/// Underperformance, judged once per site-local day against peers and the system's own
/// recent normal days.
fn underperformance(
    ctx: &Context<'_>,
    status: &mut SystemStatus,
    incidents: &mut Incidents,
    judgement: Option<&Judgement>,
) {
    let (now, meta) = (ctx.obs.now, &ctx.obs.meta);
    if let Some(j) = judgement {
        status.judged_day = Some(j.day);
    }
    let Some(j) = judgement.filter(|j| j.complete) else {
        return;
    };
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
    let verdict = if ctx.maintenance {
        None
    } else {
        ctx.rules.underperformance(&figures)
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
    match track.observe(
        verdict,
        now,
        incidents.is_open(IncidentKind::Underperformance),
        ctx.rules.underperformance,
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
            incidents.opened(incident);
        }
        Transition::Resolve => {
            if let Some(mut incident) = incidents.open.remove(&IncidentKind::Underperformance) {
                incident.resolved_at = Some(now);
                incident.resolution = Some(Resolution::Recovered);
                incidents.resolved(incident);
            }
        }
        Transition::None => {
            if verdict == Some(true)
                && let Some(i) = incidents.open.get_mut(&IncidentKind::Underperformance)
            {
                i.add_evidence(Evidence {
                    at: now,
                    note: format!("{}: {:.2} kWh/kWp", j.day, j.yield_kwh_kwp),
                    data: json!({"peers": j.peers}),
                });
                incidents.touched.push(IncidentKind::Underperformance);
            }
        }
    }
}

/// Completes the changes (quiet updates, holds, versions, the latest evidence) and the status
/// (open incidents, overall and per-device state).
fn finish(ctx: &Context<'_>, status: &mut SystemStatus, incidents: &mut Incidents) {
    let (obs, now) = (ctx.obs, ctx.obs.now);
    // Incidents that changed without opening or closing are saved quietly.
    for kind in std::mem::take(&mut incidents.touched) {
        if let Some(incident) = incidents.open.get(&kind)
            && !incidents
                .changes
                .iter()
                .any(|c| c.incident.id == incident.id)
        {
            incidents
                .changes
                .push(Change::new(ChangeEvent::Updated, incident.clone()));
        }
    }
    let held = status.notifications_held(now);
    for c in &mut incidents.changes {
        c.held |= held;
        c.version = incidents.versions.get(&c.incident.id).copied().unwrap_or(0);
        // Evidence added later in this pass (context codes) belongs to the stored copy too.
        if let Some(latest) = incidents
            .open
            .get(&c.incident.kind)
            .filter(|i| i.id == c.incident.id)
        {
            c.incident.clone_from(latest);
        }
    }
    status.open = incidents
        .open
        .iter()
        .map(|(k, i)| (*k, i.id.clone()))
        .collect();
    let state = overall_state(status, ctx.maintenance, obs);
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
        entry.state = match system_online {
            Some(false) => DeviceCondition::Offline,
            _ if faulty && entry.state == DeviceCondition::Error => DeviceCondition::Error,
            _ => DeviceCondition::Online,
        };
    }
    if let Some(flow) = obs.flow {
        let entry = status.devices.entry("datalogger".into()).or_default();
        entry.state = if flow.online.unwrap_or(true) {
            DeviceCondition::Online
        } else {
            DeviceCondition::Offline
        };
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::{Flow, test_observation};

    const ONLINE: Flow = Flow {
        online: Some(true),
        pv_w: Some(6000.0),
    };

    fn ctx<'a>(rules: &'a Rules, obs: &'a Observation, maintenance: bool) -> Context<'a> {
        Context {
            rules,
            obs,
            table: CodeTable::builtin(),
            maintenance,
            upstream_hold: false,
        }
    }

    /// Passes every five minutes over a June morning in Vienna, the last record at 06:00 UTC;
    /// data flows again from 09:00. No store is needed: the decisions are plain functions.
    fn morning(maintenance: bool) -> (Vec<Change>, Option<Incident>, SystemStatus) {
        let rules = Rules::default();
        let mut status = SystemStatus::new(
            moose_domain::SystemId::parse("s-1").unwrap(),
            "2026-06-10T06:00:00Z".parse().unwrap(),
        );
        let mut incidents = Incidents::default();
        let mut gap = None;
        for minutes in (0..=210).step_by(5) {
            let at = jiff::Timestamp::from_second(1_781_071_200 + minutes * 60).unwrap();
            let back = minutes >= 180;
            let age = if back { Some(1) } else { Some(minutes) };
            let obs = test_observation(&at.to_string(), age, Some(ONLINE));
            let (next, closed) = decide(
                &ctx(&rules, &obs, maintenance),
                status,
                &mut incidents,
                None,
            );
            status = next;
            gap = gap.or(closed);
            finish(&ctx(&rules, &obs, maintenance), &mut status, &mut incidents);
        }
        (incidents.changes, gap, status)
    }

    #[test]
    fn missing_data_in_sun_opens_one_incident_and_its_gap_closes_when_data_returns() {
        let (changes, gap, status) = morning(false);
        let opened: Vec<_> = changes
            .iter()
            .filter(|c| c.event == ChangeEvent::Opened)
            .collect();
        assert_eq!(opened.len(), 1, "{changes:?}");
        assert_eq!(opened[0].incident.kind, IncidentKind::NoData);
        let gap = gap.expect("data returned: the gap is handed over for classifying");
        assert_eq!(gap.id, opened[0].incident.id);
        assert!(!status.open.contains_key(&IncidentKind::NoData));
    }

    /// A plant dead from 06:00 UTC one June day to 09:00 the next: no record ever arrives, the
    /// night passes, the sun comes up again. One incident, still open; never "resumed".
    #[test]
    fn a_plant_that_stays_silent_keeps_one_open_incident_through_the_night() {
        let rules = Rules::default();
        let offline = Flow {
            online: Some(false),
            pv_w: None,
        };
        let mut status = SystemStatus::new(
            moose_domain::SystemId::parse("s-1").unwrap(),
            "2026-06-10T06:00:00Z".parse().unwrap(),
        );
        let mut incidents = Incidents::default();
        let last = 1_781_071_200; // 2026-06-10T06:00:00Z, the last record's end
        for minutes in (0..=27 * 60).step_by(10) {
            let at = jiff::Timestamp::from_second(last + minutes * 60).unwrap();
            let obs = test_observation(&at.to_string(), Some(minutes), Some(offline));
            let (next, closed) = decide(&ctx(&rules, &obs, false), status, &mut incidents, None);
            status = next;
            assert!(closed.is_none(), "resolved at {at} without any data");
            finish(&ctx(&rules, &obs, false), &mut status, &mut incidents);
        }
        let opened = incidents
            .changes
            .iter()
            .filter(|c| c.event == ChangeEvent::Opened)
            .count();
        assert_eq!(opened, 1, "{:?}", incidents.changes);
        let open = incidents
            .open
            .get(&IncidentKind::NoData)
            .expect("still open");
        assert!(
            open.lost_energy_wh.unwrap_or(0.0) > 10_000.0,
            "its lost-energy estimate grew over a day of sun: {:?}",
            open.lost_energy_wh
        );
        assert_eq!(status.state, SystemState::Offline);
    }

    /// A 567 (grid power reduction) belongs to its own moment: it explains an incident active
    /// then, not a fault last seen days before.
    #[test]
    fn context_codes_attach_only_to_incidents_active_at_their_moment() {
        let obs = test_observation("2026-06-10T10:00:00Z", Some(5), Some(ONLINE));
        let meta = &obs.meta;
        let at = |s: &str| -> jiff::Timestamp { s.parse().unwrap() };
        let mut incidents = Incidents::default();
        let old = texts::new_incident(
            Some(meta),
            None,
            IncidentKind::DeviceError,
            texts::device_error(meta, 447, None, None, "inv-1"),
            at("2026-06-07T09:00:00Z"),
            at("2026-06-07T09:00:00Z"),
        );
        incidents.open.insert(IncidentKind::DeviceError, old);
        let sighting = |t: &str| {
            let m = SystemMessage {
                pv_system_id: None,
                device_id: Some("inv-1".into()),
                state_type: None,
                state_code: Some(567),
                state_severity: None,
                log_date_time: t.into(),
                text: Some("Grid power reduction".into()),
                device_name: None,
            };
            (at(t), 567, m, "inv-1".to_owned())
        };
        explain_with_context(&mut incidents, vec![sighting("2026-06-10T09:55:00Z")]);
        let evidence = |i: &Incidents| i.open[&IncidentKind::DeviceError].evidence.len();
        assert_eq!(
            evidence(&incidents),
            0,
            "three days later: not this incident's"
        );
        explain_with_context(&mut incidents, vec![sighting("2026-06-07T09:30:00Z")]);
        assert_eq!(evidence(&incidents), 1, "at its moment: it is");
    }

    #[test]
    fn nothing_opens_during_maintenance() {
        let (changes, gap, status) = morning(true);
        assert!(changes.is_empty(), "{changes:?}");
        assert!(gap.is_none());
        assert_eq!(status.state, SystemState::Maintenance);
    }
}
