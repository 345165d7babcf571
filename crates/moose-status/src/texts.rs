//! What incidents say: short, human, with what to do. Times are shown in the site's zone.

use jiff::Timestamp;
use moose_solardata::SystemMeta;

use moose_incidents::codes::{CodeInfo, WhoActs};
use moose_incidents::model::{Evidence, Incident, IncidentKind, Resolution, Severity};

/// Title, summary, action and severity of an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    /// Title.
    pub title: String,
    /// What happened.
    pub summary: String,
    /// What to do.
    pub action: String,
    /// Severity.
    pub severity: Severity,
}

/// `HH:MM` on the site's clock, with the date if it is not today there.
pub fn site_time(meta: &SystemMeta, at: Timestamp, now: Timestamp) -> String {
    let tz = meta.tz();
    let (z, today) = (at.to_zoned_datetime(tz.clone()), now.to_zoned_datetime(tz));
    if z.date() == today.date() {
        z.strftime("%H:%M").to_string()
    } else {
        z.strftime("%a %d %b %H:%M").to_string()
    }
}

/// A system has sent no data while the sun is up.
pub fn no_data(meta: &SystemMeta, since: Timestamp, now: Timestamp, offline: bool) -> Text {
    let status = if offline {
        "Solar.web reports it offline"
    } else {
        "Solar.web has no new records"
    };
    Text {
        title: format!("No data from {}", meta.name),
        summary: format!(
            "{} has sent no data since {} although the sun is up; {status}.",
            meta.name,
            site_time(meta, since, now)
        ),
        action: "Check that the inverter's display is on and that the internet connection at the site works. Moose will tell whether production was lost once data arrives again.".into(),
        severity: Severity::Warning,
    }
}

/// How a no-data incident ended.
pub fn no_data_resolved(
    resolution: Resolution,
    lost_wh: Option<f64>,
    hidden_wh: Option<f64>,
) -> (String, String) {
    match resolution {
        Resolution::CommunicationLoss => (
            match hidden_wh {
                Some(h) => format!(
                    "Communication loss, no production lost: the inverter kept producing while it could not report; {:.1} kWh it made are in Solar.web's lifetime counter but not in the 5-minute data.",
                    h / 1000.0
                ),
                None => "Communication loss, no production lost: the inverter kept producing while it could not report.".into(),
            },
            "Nothing to do, unless it keeps happening: then check the site's internet connection or the datalogger's Wi-Fi signal.".into(),
        ),
        _ => (
            format!(
                "Confirmed outage: the inverter did not produce during the gap; about {:.1} kWh were lost.",
                lost_wh.unwrap_or(0.0) / 1000.0
            ),
            "Data flows again. If the cause is unknown, ask a technician to read the inverter's event log.".into(),
        ),
    }
}

/// An inverter reported a fault code.
pub fn device_error(
    meta: &SystemMeta,
    code: i64,
    sent: Option<&str>,
    info: Option<&CodeInfo>,
    device: &str,
) -> Text {
    let title = sent
        .filter(|t| !t.trim().is_empty())
        .map(str::to_owned)
        .or_else(|| info.map(|i| i.title.clone()))
        .unwrap_or_else(|| format!("State code {code}"));
    let (summary, action, severity) = match info {
        Some(i) => {
            let who = match i.who {
                WhoActs::Owner => "You can check this yourself.",
                WhoActs::Technician => "A qualified technician is needed.",
                WhoActs::GridOperator => "This is a matter for the grid operator.",
                WhoActs::None => "",
            };
            (
                format!(
                    "{} reports code {code} on {device}: {} Probable cause: {} {who}",
                    meta.name, i.meaning, i.cause
                ),
                i.todo
                    .clone()
                    .unwrap_or_else(|| "Ask your installer.".into()),
                i.severity,
            )
        }
        None => (
            format!(
                "{} reports code {code} on {device}, which Moose has no explanation for yet.",
                meta.name
            ),
            "Ask your installer or a technician to look up the code in the inverter's manual."
                .into(),
            Severity::Warning,
        ),
    };
    Text {
        title: format!("{title} at {}", meta.name),
        summary,
        action,
        severity,
    }
}

/// Online, good sun, no production.
pub fn zero_production(
    meta: &SystemMeta,
    since: Timestamp,
    now: Timestamp,
    expected_w: f64,
) -> Text {
    Text {
        title: format!("{} produces nothing in good sun", meta.name),
        summary: format!(
            "{} is online but has produced nothing since {}, while a clear sky would give about {:.1} kW now.",
            meta.name,
            site_time(meta, since, now),
            expected_w / 1000.0
        ),
        action: "Check the DC isolator and the inverter's display for a fault message; if there is none, call a technician.".into(),
        severity: Severity::Critical,
    }
}

/// A day far below the neighbours or the system's own record.
pub fn underperformance(
    meta: &SystemMeta,
    day: jiff::civil::Date,
    yield_kwh_kwp: f64,
    reference: f64,
    peers: usize,
) -> Text {
    let against = if peers > 0 {
        format!("the median of {peers} systems nearby ({reference:.2} kWh/kWp)")
    } else {
        format!("its own recent good days (performance index {reference:.2})")
    };
    Text {
        title: format!("{} is underperforming", meta.name),
        summary: format!(
            "On {day} {} produced {yield_kwh_kwp:.2} kWh/kWp, far below {against}, for the second day running.",
            meta.name
        ),
        action: "Likely causes: a failed string or MPP tracker, heavy soiling or new shading. Ask a technician to compare the string currents.".into(),
        severity: Severity::Warning,
    }
}

/// Solar.web (or Moose's poller) is failing for much of the fleet.
pub fn upstream(stale: usize, of: usize, reason: &str) -> Text {
    Text {
        title: "Solar.web data unavailable".into(),
        summary: format!(
            "{stale} of {of} systems are not reporting at the same time ({reason}). This is a platform problem, not a problem at the sites: per-system alerts are held until it is over."
        ),
        action: "Operators: check Solar.web's status, the API quota and Moose's poller logs. Owners need not do anything.".into(),
        severity: Severity::Critical,
    }
}

/// A new open incident.
pub(crate) fn new_incident(
    meta: Option<&SystemMeta>,
    id_time: Option<Timestamp>,
    kind: IncidentKind,
    text: Text,
    since: Timestamp,
    now: Timestamp,
) -> Incident {
    let opened_at = moose_store::to_millis(id_time.unwrap_or(now));
    Incident {
        id: Incident::make_id(kind, opened_at, meta.map(|m| &m.id)),
        system: meta.map(|m| m.id.clone()),
        system_name: meta.map(|m| m.name.clone()),
        kind,
        severity: text.severity,
        title: text.title,
        summary: text.summary,
        action: text.action,
        since,
        opened_at,
        last_seen_at: now,
        resolved_at: None,
        resolution: None,
        lost_energy_wh: None,
        hidden_energy_wh: None,
        acked_by: None,
        acked_at: None,
        evidence: Vec::<Evidence>::new(),
    }
}
