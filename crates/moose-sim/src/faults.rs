//! Fault injection: scenario files, built-in scenarios, their effects, and the ground truth.
//!
//! A scenario is a list of faults. Times are absolute (`2026-06-01T10:00:00Z`) or relative to
//! the simulation start (`+36h`, `+2d`, `+90m`). Each fault either changes what the simulated
//! hardware does (production effects, applied when a day is simulated) or what the API shows
//! (hidden data, outages, messages, applied when a request is served).

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::fleet::Fleet;

/// What kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The inverter(s) stop: no production, no data, lifetime energy flat.
    InverterOffline,
    /// The datalogger loses its connection: production continues; data arrives after
    /// `backfill_after` past the end (or never), while the lifetime energy keeps advancing.
    CommLoss,
    /// The inverter reports a state code; 4xx codes stop production for the fault's duration,
    /// 567 limits output to 70 %.
    ErrorMessage,
    /// One MPP tracker's strings are dead.
    StringFailure,
    /// Dirt builds up: output falls by `loss_per_day` (fraction) each day, up to 30 %, until `to`.
    Soiling,
    /// Module degradation of `per_year` (fraction) from the fault's start.
    Degradation,
    /// The inverter is too small for its array: AC output is capped at `ac_limit` (fraction of
    /// its nominal power), so sunny middays clip.
    UndersizedInverter,
    /// A sensor gets stuck: the records repeat the value of the fault's first slot (at least
    /// `level_wh`, so a sensor can also stick at night) until `to`.
    StaleSensor,
    /// The whole API answers 503.
    ApiOutage,
    /// The whole API answers 429 (quota exhausted, `responseError` 1011).
    QuotaExhausted,
}

/// A fault as written in a scenario file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// The kind.
    pub kind: FaultKind,
    /// The system's index in the fleet (fleet-wide kinds leave it out).
    #[serde(default)]
    pub system: Option<usize>,
    /// Which inverter (index), where it matters; all inverters if absent.
    #[serde(default)]
    pub inverter: Option<usize>,
    /// Start: RFC 3339 or `+<n>[d|h|m]` from the simulation start.
    pub from: String,
    /// End (exclusive); open-ended if absent.
    #[serde(default)]
    pub to: Option<String>,
    /// State code of an `error_message`.
    #[serde(default)]
    pub code: Option<i64>,
    /// Tracker index (0-based) of a `string_failure`.
    #[serde(default)]
    pub mppt: Option<usize>,
    /// Daily loss fraction of `soiling`.
    #[serde(default)]
    pub loss_per_day: Option<f64>,
    /// Yearly loss fraction of `degradation`.
    #[serde(default)]
    pub per_year: Option<f64>,
    /// AC limit of an `undersized_inverter`, as a fraction of nominal power.
    #[serde(default)]
    pub ac_limit: Option<f64>,
    /// Lowest value a `stale_sensor` repeats, Wh per 5 minutes.
    #[serde(default)]
    pub level_wh: Option<f64>,
    /// For `comm_loss`: how long after the end the missing data is delivered (`+<n>[d|h|m]`);
    /// never if absent.
    #[serde(default)]
    pub backfill_after: Option<String>,
}

/// A scenario file: `[[fault]]` tables.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// The faults.
    #[serde(default)]
    pub fault: Vec<FaultSpec>,
}

/// A resolved fault.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fault {
    /// The kind.
    pub kind: FaultKind,
    /// Index of the affected system (`None` for fleet-wide faults).
    pub system_index: Option<usize>,
    /// Id of the affected system.
    pub system_id: Option<String>,
    /// Affected inverter index, if one.
    pub inverter: Option<usize>,
    /// Start.
    pub from: Timestamp,
    /// End (exclusive), if any.
    pub to: Option<Timestamp>,
    /// State code (error messages).
    pub code: Option<i64>,
    /// Tracker (string failures).
    pub mppt: Option<usize>,
    /// Loss rate (soiling per day, degradation per year).
    pub rate: Option<f64>,
    /// When withheld data becomes visible (comm loss with backfill).
    pub backfill_at: Option<Timestamp>,
}

impl Fault {
    /// Whether `t` is within the fault.
    pub fn active_at(&self, t: Timestamp) -> bool {
        t >= self.from && self.to.is_none_or(|to| t < to)
    }
}

/// Why a scenario is invalid.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file is not valid TOML of the expected shape.
    #[error("scenario file: {0}")]
    Parse(String),
    /// A fault is inconsistent.
    #[error("fault {index} ({kind:?}): {message}")]
    Invalid {
        /// Position in the file.
        index: usize,
        /// Its kind.
        kind: FaultKind,
        /// What is wrong.
        message: String,
    },
}

fn parse_time(raw: &str, origin: Timestamp) -> Result<Timestamp, String> {
    if let Some(rel) = raw.strip_prefix('+') {
        return parse_offset(rel).map(|d| origin + d);
    }
    // Before the start: history that a backfill (the demo's month) reads.
    if let Some(rel) = raw.strip_prefix('-') {
        return parse_offset(rel).map(|d| origin - d);
    }
    raw.parse::<Timestamp>()
        .map_err(|e| format!("{raw:?} is neither RFC 3339 nor ±<n>[d|h|m]: {e}"))
}

fn parse_offset(raw: &str) -> Result<SignedDuration, String> {
    let raw = raw.trim_start_matches('+');
    let (num, unit) = raw.split_at(raw.len().saturating_sub(1));
    let n: f64 = num.parse().map_err(|_| format!("bad offset {raw:?}"))?;
    let secs = match unit {
        "d" => n * 86_400.0,
        "h" => n * 3_600.0,
        "m" => n * 60.0,
        "s" => n,
        _ => return Err(format!("bad offset unit in {raw:?}; use d, h, m or s")),
    };
    Ok(SignedDuration::from_secs_f64(secs))
}

/// The active scenario, indexed for fast lookups while simulating.
#[derive(Debug, Default, Clone)]
pub struct Scenario {
    faults: Vec<Fault>,
    by_system: HashMap<usize, Vec<usize>>,
    fleet_wide: Vec<usize>,
}

impl Scenario {
    /// Parses a TOML scenario file.
    pub fn from_toml(text: &str, fleet: &Fleet, origin: Timestamp) -> Result<Self, ScenarioError> {
        let file: ScenarioFile =
            toml::from_str(text).map_err(|e| ScenarioError::Parse(e.to_string()))?;
        Self::from_specs(&file.fault, fleet, origin)
    }

    /// A built-in scenario by name: `none`, `demo` or `faults`.
    pub fn builtin(name: &str, fleet: &Fleet, origin: Timestamp) -> Result<Self, ScenarioError> {
        let text = match name {
            "none" => "",
            "demo" => include_str!("../scenarios/demo.toml"),
            "faults" => include_str!("../scenarios/faults.toml"),
            other => {
                return Err(ScenarioError::Parse(format!(
                    "unknown built-in scenario {other:?}; use none, demo or faults"
                )));
            }
        };
        Self::from_toml(text, fleet, origin)
    }

    /// Resolves fault specs against the fleet and the simulation start.
    pub fn from_specs(
        specs: &[FaultSpec],
        fleet: &Fleet,
        origin: Timestamp,
    ) -> Result<Self, ScenarioError> {
        let mut scenario = Self::default();
        for (index, spec) in specs.iter().enumerate() {
            let invalid = |message: String| ScenarioError::Invalid {
                index,
                kind: spec.kind,
                message,
            };
            let fleet_wide = matches!(spec.kind, FaultKind::ApiOutage | FaultKind::QuotaExhausted);
            let system = match (spec.system, fleet_wide) {
                (Some(i), false) if i < fleet.systems.len() => Some(&fleet.systems[i]),
                (Some(i), false) => {
                    return Err(invalid(format!(
                        "system {i} does not exist (fleet has {})",
                        fleet.systems.len()
                    )));
                }
                (None, false) => return Err(invalid("needs `system`".into())),
                (_, true) => None,
            };
            let from = parse_time(&spec.from, origin).map_err(&invalid)?;
            let to = spec
                .to
                .as_deref()
                .map(|t| parse_time(t, origin))
                .transpose()
                .map_err(&invalid)?;
            if to.is_some_and(|to| to <= from) {
                return Err(invalid("`to` must be after `from`".into()));
            }
            let backfill_at = match (&spec.backfill_after, to) {
                (Some(delay), Some(to)) => Some(to + parse_offset(delay).map_err(&invalid)?),
                (Some(_), None) => return Err(invalid("`backfill_after` needs `to`".into())),
                _ => None,
            };
            match spec.kind {
                FaultKind::ErrorMessage if spec.code.is_none() => {
                    return Err(invalid("needs `code`".into()));
                }
                FaultKind::StringFailure if spec.mppt.is_none() => {
                    return Err(invalid("needs `mppt`".into()));
                }
                FaultKind::Soiling if spec.loss_per_day.is_none() => {
                    return Err(invalid("needs `loss_per_day`".into()));
                }
                FaultKind::Degradation if spec.per_year.is_none() => {
                    return Err(invalid("needs `per_year`".into()));
                }
                _ => {}
            }
            let fault = Fault {
                kind: spec.kind,
                system_index: system.map(|s| s.index),
                system_id: system.map(|s| s.id.clone()),
                inverter: spec.inverter,
                from,
                to,
                code: spec.code,
                mppt: spec.mppt,
                rate: spec
                    .loss_per_day
                    .or(spec.per_year)
                    .or(spec.ac_limit)
                    .or(spec.level_wh),
                backfill_at,
            };
            let position = scenario.faults.len();
            match fault.system_index {
                Some(i) => scenario.by_system.entry(i).or_default().push(position),
                None => scenario.fleet_wide.push(position),
            }
            scenario.faults.push(fault);
        }
        Ok(scenario)
    }

    /// Every fault: the ground truth a detector is scored against.
    pub fn ground_truth(&self) -> &[Fault] {
        &self.faults
    }

    /// The faults of one system.
    pub fn for_system(&self, index: usize) -> impl Iterator<Item = &Fault> {
        self.by_system
            .get(&index)
            .into_iter()
            .flatten()
            .map(|&i| &self.faults[i])
    }

    /// A fleet-wide failure of the API at `now`: (HTTP status, `responseError`, message).
    pub fn api_failure(&self, now: Timestamp) -> Option<(u16, i64, &'static str)> {
        self.fleet_wide
            .iter()
            .map(|&i| &self.faults[i])
            .find(|f| f.active_at(now))
            .map(|f| match f.kind {
                FaultKind::QuotaExhausted => (429, 1011, "API call quota exceeded."),
                _ => (503, 1012, "The API is under maintenance."),
            })
    }

    /// Whether the record of the slot starting at `slot` is visible to the API at `now`.
    pub fn data_visible(&self, system: usize, slot: Timestamp, now: Timestamp) -> bool {
        self.for_system(system).all(|f| match f.kind {
            FaultKind::InverterOffline => !f.active_at(slot),
            FaultKind::CommLoss => !f.active_at(slot) || f.backfill_at.is_some_and(|at| now >= at),
            _ => true,
        })
    }

    /// Whether the record of the slot starting at `slot` is ever delivered: not while the
    /// inverter is offline. (A comm loss delays data or loses the records, but the energy still
    /// reaches the lifetime counters, so aggregates include it.)
    pub fn ever_recorded(&self, system: usize, slot: Timestamp) -> bool {
        self.for_system(system)
            .all(|f| !(f.kind == FaultKind::InverterOffline && f.active_at(slot)))
    }

    /// Whether Solar.web reaches the system at `now` (flowdata `isOnline`).
    pub fn online(&self, system: usize, now: Timestamp) -> bool {
        self.for_system(system).all(|f| {
            !(matches!(f.kind, FaultKind::InverterOffline | FaultKind::CommLoss)
                && f.active_at(now))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fleet() -> Fleet {
        Fleet::generate(1, 10, jiff::civil::date(2026, 6, 1), (10, 20))
    }

    #[test]
    fn builtins_parse_and_resolve() {
        let origin: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
        let f = fleet();
        for name in ["none", "demo", "faults"] {
            Scenario::builtin(name, &f, origin).unwrap();
        }
        let all = Scenario::builtin("faults", &f, origin).unwrap();
        let kinds: std::collections::HashSet<_> =
            all.ground_truth().iter().map(|f| f.kind).collect();
        assert_eq!(
            kinds.len(),
            9,
            "the faults scenario has every kind but the stuck sensor (scored on replayed real data): {kinds:?}"
        );
    }

    #[test]
    fn relative_times_and_visibility() {
        let origin: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
        let text = r#"
            [[fault]]
            kind = "comm_loss"
            system = 2
            from = "+10h"
            to = "+12h"
            backfill_after = "+3h"
        "#;
        let s = Scenario::from_toml(text, &fleet(), origin).unwrap();
        let slot: Timestamp = "2026-06-01T11:00:00Z".parse().unwrap();
        assert!(
            !s.data_visible(2, slot, "2026-06-01T13:00:00Z".parse().unwrap()),
            "hidden until backfill"
        );
        assert!(
            s.data_visible(2, slot, "2026-06-01T15:00:00Z".parse().unwrap()),
            "visible after backfill"
        );
        assert!(s.data_visible(3, slot, slot), "other systems unaffected");
        assert!(!s.online(2, slot));
        // Before the start, for history.
        let past = Scenario::from_toml(
            "[[fault]]\nkind = \"comm_loss\"\nsystem = 2\nfrom = \"-2d\"\nto = \"-1d\"\n",
            &fleet(),
            origin,
        )
        .unwrap();
        assert!(!past.online(2, "2026-05-30T12:00:00Z".parse().unwrap()));
        assert!(past.online(2, "2026-05-31T12:00:00Z".parse().unwrap()));
    }

    #[test]
    fn invalid_faults_are_explained() {
        let origin = Timestamp::UNIX_EPOCH;
        let err = Scenario::from_toml(
            "[[fault]]\nkind = \"error_message\"\nsystem = 1\nfrom = \"+1h\"\n",
            &fleet(),
            origin,
        )
        .unwrap_err();
        assert!(err.to_string().contains("needs `code`"), "{err}");
        let err = Scenario::from_toml(
            "[[fault]]\nkind = \"soiling\"\nsystem = 99\nfrom = \"+1h\"\nloss_per_day = 0.01\n",
            &fleet(),
            origin,
        )
        .unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
        let err = Scenario::from_toml(
            "[[fault]]\nkind = \"comm_loss\"\nsystem = 1\nfrom = \"+1h\"\nto = \"+1h\"\n",
            &fleet(),
            origin,
        )
        .unwrap_err();
        assert!(err.to_string().contains("after"), "{err}");
    }
}
