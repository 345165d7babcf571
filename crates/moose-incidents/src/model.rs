//! Incidents and the per-system `STATUS` item.

use std::collections::BTreeMap;

use jiff::Timestamp;
use moose_domain::{SystemId, UserId};
use serde::{Deserialize, Serialize};

/// How serious an incident is. Ordered: `Info < Warning < Critical`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Production is affected or may be.
    Warning,
    /// Production has stopped or there is a safety issue.
    Critical,
}

impl Severity {
    /// Parses `info`, `warning` or `critical`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "info" => Some(Self::Info),
            "warning" => Some(Self::Warning),
            "critical" => Some(Self::Critical),
            _ => None,
        }
    }

    /// The name used in JSON and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// What kind of incident. Each kind's open and resolve rules are in `docs/incidents.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// No data while the sun is high enough to produce; resolved as a communication loss or a
    /// confirmed outage when data resumes.
    NoData,
    /// An inverter reported a fault code.
    DeviceError,
    /// The system is online but produces nothing in good sun.
    ZeroProduction,
    /// A day far below the model and the neighbours.
    Underperformance,
    /// A large share of the fleet went stale at once (Solar.web or Moose's poller failing).
    UpstreamOutage,
}

impl IncidentKind {
    /// Every kind.
    pub const ALL: [Self; 5] = [
        Self::NoData,
        Self::DeviceError,
        Self::ZeroProduction,
        Self::Underperformance,
        Self::UpstreamOutage,
    ];

    /// The name used in JSON, URLs and ids.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoData => "no_data",
            Self::DeviceError => "device_error",
            Self::ZeroProduction => "zero_production",
            Self::Underperformance => "underperformance",
            Self::UpstreamOutage => "upstream_outage",
        }
    }

    /// Parses a kind name.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// How an incident ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The condition went away.
    Recovered,
    /// Data stopped but the inverter kept producing: only the link was down.
    CommunicationLoss,
    /// The inverter did not produce during the gap: a real outage.
    ConfirmedOutage,
    /// Closed by a person.
    Manual,
}

/// One piece of evidence, kept on the incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// When it was observed.
    pub at: Timestamp,
    /// What was observed, in words.
    pub note: String,
    /// The figures behind it.
    #[serde(default)]
    pub data: serde_json::Value,
}

/// How far back each pass reads messages again, to catch those that arrive late.
pub const MESSAGE_OVERLAP: jiff::SignedDuration = jiff::SignedDuration::from_hours(6);

/// At most this many evidence entries are kept per incident (the first ones and the latest).
pub const MAX_EVIDENCE: usize = 24;

/// An incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// `<kind>-<opened ms>-<system>` (system empty for platform incidents): the key derives
    /// from it, so a lookup by id is one read.
    pub id: String,
    /// The system (`None` for a platform incident).
    pub system: Option<SystemId>,
    /// The system's name, for messages.
    pub system_name: Option<String>,
    /// Kind.
    pub kind: IncidentKind,
    /// Severity.
    pub severity: Severity,
    /// Short, human title.
    pub title: String,
    /// What happened, in plain words.
    pub summary: String,
    /// What to do.
    pub action: String,
    /// When the condition started (first abnormal observation), which can be before `opened_at`.
    pub since: Timestamp,
    /// When Moose opened the incident.
    pub opened_at: Timestamp,
    /// Last time the condition was seen.
    pub last_seen_at: Timestamp,
    /// When it was resolved.
    pub resolved_at: Option<Timestamp>,
    /// How it ended.
    pub resolution: Option<Resolution>,
    /// Estimated energy lost, Wh (confirmed outages, zero production, device faults); grows
    /// while a no-data incident stays open.
    pub lost_energy_wh: Option<f64>,
    /// Energy produced but hidden by a communication loss, Wh: in Solar.web's lifetime counter,
    /// not in the 5-minute series.
    #[serde(default)]
    pub hidden_energy_wh: Option<f64>,
    /// Acknowledged by.
    pub acked_by: Option<UserId>,
    /// Acknowledged at.
    pub acked_at: Option<Timestamp>,
    /// What was observed.
    pub evidence: Vec<Evidence>,
}

impl Incident {
    /// Whether it is still open.
    pub fn is_open(&self) -> bool {
        self.resolved_at.is_none()
    }

    /// Adds evidence, keeping the first half and the latest entries when it grows too long.
    pub fn add_evidence(&mut self, evidence: Evidence) {
        if self.evidence.len() >= MAX_EVIDENCE {
            self.evidence.remove(MAX_EVIDENCE / 2);
        }
        self.evidence.push(evidence);
    }

    /// The id of an incident of `kind` opened at `opened_at` on `system`.
    pub fn make_id(kind: IncidentKind, opened_at: Timestamp, system: Option<&SystemId>) -> String {
        format!(
            "{}-{}-{}",
            kind.as_str(),
            opened_at.as_millisecond(),
            system.map_or("", SystemId::as_str)
        )
    }

    /// Splits an id into kind, opening time and system; `None` if it is not an incident id.
    pub fn parse_id(id: &str) -> Option<(IncidentKind, Timestamp, Option<SystemId>)> {
        let mut parts = id.splitn(3, '-');
        let kind = IncidentKind::parse(parts.next()?)?;
        let ms: i64 = parts.next()?.parse().ok()?;
        let system = match parts.next()? {
            "" => None,
            s => Some(SystemId::parse(s).ok()?),
        };
        Some((kind, Timestamp::from_millisecond(ms).ok()?, system))
    }
}

/// Consecutive observations of one condition: the flap protection of one kind on one system.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Track {
    /// Consecutive abnormal observations.
    pub bad: u32,
    /// Consecutive normal observations.
    pub good: u32,
    /// First abnormal observation of the current run.
    pub bad_since: Option<Timestamp>,
}

/// What one observation did to a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Nothing to do.
    None,
    /// Open an incident (the condition held long enough).
    Open,
    /// Resolve the open incident (normal long enough).
    Resolve,
}

/// How many observations open and resolve a kind, and how long it must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hysteresis {
    /// Consecutive abnormal observations before opening.
    pub open_after: u32,
    /// Consecutive normal observations before resolving.
    pub resolve_after: u32,
    /// The condition must also have lasted this long before opening (the grace period).
    pub min_duration: jiff::SignedDuration,
}

impl Track {
    /// Records one observation: `Some(true)` abnormal, `Some(false)` normal, `None` no verdict
    /// (night, held, unknown) which leaves the counters alone.
    pub fn observe(
        &mut self,
        abnormal: Option<bool>,
        now: Timestamp,
        open: bool,
        rule: Hysteresis,
    ) -> Transition {
        match abnormal {
            None => Transition::None,
            Some(true) => {
                self.good = 0;
                self.bad += 1;
                let since = *self.bad_since.get_or_insert(now);
                let lasted = now.duration_since(since) >= rule.min_duration;
                if !open && self.bad >= rule.open_after && lasted {
                    Transition::Open
                } else {
                    Transition::None
                }
            }
            Some(false) => {
                self.good += 1;
                self.bad = 0;
                self.bad_since = None;
                if open && self.good >= rule.resolve_after {
                    Transition::Resolve
                } else {
                    Transition::None
                }
            }
        }
    }
}

/// Overall state of a system, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemState {
    /// A device reports a fault.
    Faulty,
    /// No data while it should produce.
    Offline,
    /// Online but producing nothing in good sun.
    NotProducing,
    /// Producing well below expectations.
    Underperforming,
    /// In a maintenance window.
    Maintenance,
    /// Everything looks right.
    Ok,
    /// Not enough information yet (new system, no position).
    Unknown,
}

/// What a device is doing, as `STATUS` shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceCondition {
    /// Reporting, no open fault.
    Online,
    /// Not reporting (the system's datalogger is offline).
    Offline,
    /// Its fault is open.
    Error,
    /// Not judged yet (also whatever an older or newer Moose wrote that this one does not know).
    #[default]
    #[serde(other)]
    Unknown,
}

/// One device's latest state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceState {
    /// Online, offline or in error.
    pub state: DeviceCondition,
    /// Last state code seen.
    pub last_code: Option<i64>,
    /// Its text.
    pub last_message: Option<String>,
    /// When.
    pub last_message_at: Option<Timestamp>,
}

/// A planned maintenance window: no incidents open and nobody is notified meanwhile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceWindow {
    /// Start.
    pub from: Timestamp,
    /// End (exclusive).
    pub to: Timestamp,
    /// Why.
    pub reason: String,
    /// Who planned it.
    pub created_by: Option<UserId>,
}

/// The `STATUS` item of a system (`PK=System#<id>`, `SK=STATUS`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemStatus {
    /// The system.
    pub system: SystemId,
    /// Overall state.
    pub state: SystemState,
    /// Per-device state, by device id.
    #[serde(default)]
    pub devices: BTreeMap<String, DeviceState>,
    /// Open incident ids by kind: at most one per kind (deduplication).
    #[serde(default)]
    pub open: BTreeMap<IncidentKind, String>,
    /// Flap protection state per kind.
    #[serde(default)]
    pub tracks: BTreeMap<IncidentKind, Track>,
    /// End of the newest 5-minute record ingested.
    pub last_data_at: Option<Timestamp>,
    /// When `state` last changed.
    pub last_change_at: Timestamp,
    /// When the status was last written. Passes that change nothing do not rewrite it; the
    /// job's liveness is the platform status's `checked_at`.
    pub checked_at: Timestamp,
    /// Messages are read up to here.
    pub messages_until: Option<Timestamp>,
    /// Messages already handled (`device|code|time` → time), for the overlap window: messages
    /// upload with the data, so after a comms loss they arrive with old timestamps and are read
    /// again from [`MESSAGE_OVERLAP`] before `messages_until`.
    #[serde(default)]
    pub seen_messages: BTreeMap<String, Timestamp>,
    /// Notifications are held until then (incidents are still recorded).
    pub snoozed_until: Option<Timestamp>,
    /// Planned maintenance.
    #[serde(default)]
    pub maintenance: Vec<MaintenanceWindow>,
    /// Grace period before a no-data incident, minutes (per system; default from settings).
    pub grace_minutes: Option<u32>,
    /// Last local day judged for underperformance.
    pub judged_day: Option<jiff::civil::Date>,
    /// Performance index of recent normal days (the yardstick when no peers exist).
    #[serde(default)]
    pub recent_pi: Vec<(jiff::civil::Date, f64)>,
    /// Ratio of the system's yield to its peers' median on recent normal days (its usual
    /// standing among its neighbours).
    #[serde(default)]
    pub recent_peer_ratio: Vec<(jiff::civil::Date, f64)>,
    /// When and how much the system usually produces, learned from its recent days.
    #[serde(default)]
    pub profile: crate::profile::ProductionProfile,
    /// What is known about the data gap of the open no-data incident.
    #[serde(default)]
    pub gap: Option<GapWatch>,
}

/// What a pass learns about a data gap while its no-data incident is open: the inputs of the
/// comms-loss-or-outage verdict when data resumes (see `docs/incidents.md`).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct GapWatch {
    /// Solar.web's lifetime production counter (`aggrdata period=total`) when the incident
    /// opened, Wh.
    pub counter_wh: Option<f64>,
    /// When that counter was read.
    pub counter_at: Option<Timestamp>,
    /// Passes on which Solar.web said the system was offline.
    #[serde(default)]
    pub offline: u32,
    /// Passes on which it was online and producing.
    #[serde(default)]
    pub producing: u32,
    /// Passes on which it was online with (next to) no power while it should produce.
    #[serde(default)]
    pub idle: u32,
}

impl SystemStatus {
    /// The status of a system seen for the first time.
    pub fn new(system: SystemId, now: Timestamp) -> Self {
        Self {
            system,
            state: SystemState::Unknown,
            devices: BTreeMap::new(),
            open: BTreeMap::new(),
            tracks: BTreeMap::new(),
            last_data_at: None,
            last_change_at: now,
            checked_at: now,
            messages_until: None,
            seen_messages: BTreeMap::new(),
            snoozed_until: None,
            maintenance: Vec::new(),
            grace_minutes: None,
            judged_day: None,
            recent_pi: Vec::new(),
            recent_peer_ratio: Vec::new(),
            profile: crate::profile::ProductionProfile::default(),
            gap: None,
        }
    }

    /// Whether `at` is inside a maintenance window.
    pub fn in_maintenance(&self, at: Timestamp) -> bool {
        self.maintenance.iter().any(|w| at >= w.from && at < w.to)
    }

    /// Whether notifications are held at `at` (snoozed or in maintenance).
    pub fn notifications_held(&self, at: Timestamp) -> bool {
        self.snoozed_until.is_some_and(|u| at < u) || self.in_maintenance(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_with_and_without_a_system() {
        let at = Timestamp::from_millisecond(1_780_000_000_123).unwrap();
        let s = SystemId::parse("abc-12.x").unwrap();
        let id = Incident::make_id(IncidentKind::NoData, at, Some(&s));
        assert_eq!(id, "no_data-1780000000123-abc-12.x");
        assert_eq!(
            Incident::parse_id(&id),
            Some((IncidentKind::NoData, at, Some(s)))
        );
        let p = Incident::make_id(IncidentKind::UpstreamOutage, at, None);
        assert_eq!(
            Incident::parse_id(&p),
            Some((IncidentKind::UpstreamOutage, at, None))
        );
        assert_eq!(Incident::parse_id("nope-1-x"), None);
        assert_eq!(Incident::parse_id("no_data-x-s"), None);
    }

    #[test]
    fn a_track_opens_after_n_and_resolves_after_m() {
        let rule = Hysteresis {
            open_after: 3,
            resolve_after: 2,
            min_duration: jiff::SignedDuration::from_mins(10),
        };
        let t0 = Timestamp::from_second(1_000_000).unwrap();
        let at = |m: i64| t0 + jiff::SignedDuration::from_mins(m);
        let mut t = Track::default();
        assert_eq!(t.observe(Some(true), at(0), false, rule), Transition::None);
        assert_eq!(t.observe(None, at(5), false, rule), Transition::None);
        assert_eq!(t.observe(Some(true), at(5), false, rule), Transition::None);
        assert_eq!(
            t.observe(Some(true), at(10), false, rule),
            Transition::Open,
            "third bad observation, 10 minutes in"
        );
        // A single good observation does not resolve (flap protection)…
        assert_eq!(t.observe(Some(false), at(15), true, rule), Transition::None);
        assert_eq!(t.observe(Some(true), at(20), true, rule), Transition::None);
        assert_eq!(t.observe(Some(false), at(25), true, rule), Transition::None);
        assert_eq!(
            t.observe(Some(false), at(30), true, rule),
            Transition::Resolve
        );
        // …and a bad run shorter than the grace period does not open.
        let mut t = Track::default();
        for m in [0, 1, 2, 3] {
            assert_eq!(t.observe(Some(true), at(m), false, rule), Transition::None);
        }
    }
}
