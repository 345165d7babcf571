//! The simulator's state: fleet, clock, weather, scenario and a cache of simulated days.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};
use moose_pvmodel::Weather;

use crate::clock::SimClock;
use crate::faults::{Scenario, ScenarioError};
use crate::fleet::{Fleet, SimSystem};
use crate::production::{DaySeries, SLOT_SECS, local_date, simulate_day};
use crate::server::ApiState;

/// How to build a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Number of systems (default 50).
    pub systems: usize,
    /// Seed of fleet, weather and noise.
    pub seed: u64,
    /// Simulated time at start; `None` means real time.
    pub start: Option<Timestamp>,
    /// Simulated seconds per real second (ignored in real time); 0 means a manual clock.
    pub speed: f64,
    /// Scenario: a built-in name (`none`, `demo`, `faults`) or TOML text.
    pub scenario: ScenarioSource,
    /// Accepted `AccessKeyId`.
    pub access_key_id: String,
    /// Accepted `AccessKeyValue`.
    pub access_key_value: String,
    /// Accepted Solar.web login for `POST /iam/jwt`.
    pub login: (String, String),
    /// Lifetime of issued JWTs.
    pub jwt_ttl: Duration,
    /// Requests per access key per minute before 429.
    pub rate_limit_per_minute: u32,
    /// Systems were installed between these many days before the start (min, max).
    pub install_days: (i64, i64),
    /// Add `latitude`/`longitude` to systems (the real API has none; turn off to act like it).
    pub coordinates: bool,
}

/// Where the scenario comes from.
#[derive(Debug, Clone)]
pub enum ScenarioSource {
    /// A built-in scenario.
    Builtin(String),
    /// A scenario file's text.
    Toml(String),
}

impl ScenarioSource {
    /// A built-in name (`none`, `demo`, `faults`) or the path of a TOML file.
    pub fn from_arg(arg: &str) -> std::io::Result<Self> {
        if matches!(arg, "none" | "demo" | "faults") {
            Ok(Self::Builtin(arg.to_owned()))
        } else {
            std::fs::read_to_string(arg).map(Self::Toml)
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            systems: 50,
            seed: 7,
            start: None,
            speed: 1.0,
            scenario: ScenarioSource::Builtin("none".into()),
            access_key_id: crate::DEFAULT_ACCESS_KEY_ID.into(),
            access_key_value: crate::DEFAULT_ACCESS_KEY_VALUE.into(),
            login: ("demo@moose.invalid".into(), "solarweb".into()),
            jwt_ttl: Duration::from_secs(3600),
            rate_limit_per_minute: 60_000,
            install_days: (30, 730),
            coordinates: true,
        }
    }
}

/// Why a simulator cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario is invalid.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// A setting is out of range.
    #[error("invalid simulator setting: {0}")]
    Config(String),
}

/// Simulated days kept in memory before the cache is cleared.
const DAY_CACHE_ENTRIES: usize = 16_384;

/// A running simulation. Shared as `Arc<Simulator>` by the HTTP handlers.
#[derive(Debug)]
pub struct Simulator {
    /// The fleet.
    pub fleet: Fleet,
    /// The clock.
    pub clock: SimClock,
    /// The faults.
    pub scenario: Scenario,
    /// Settings.
    pub config: SimConfig,
    pub(crate) weather: Weather,
    pub(crate) api: ApiState,
    days: Mutex<HashMap<(usize, Date), Arc<DaySeries>>>,
}

impl Simulator {
    /// Builds the fleet and scenario.
    pub fn new(config: SimConfig) -> Result<Self, SimError> {
        Self::build(config, None)
    }

    /// A simulator over a given fleet (replayed real plants) instead of a generated one;
    /// `config.systems` is ignored.
    pub fn with_fleet(config: SimConfig, fleet: Fleet) -> Result<Self, SimError> {
        if fleet.systems.is_empty() {
            return Err(SimError::Config("the fleet has no systems".into()));
        }
        Self::build(config, Some(fleet))
    }

    fn build(config: SimConfig, fleet: Option<Fleet>) -> Result<Self, SimError> {
        if fleet.is_none() && (config.systems == 0 || config.systems > 100_000) {
            return Err(SimError::Config(format!(
                "systems must be 1..=100000, got {}",
                config.systems
            )));
        }
        if config.speed < 0.0 || !config.speed.is_finite() {
            return Err(SimError::Config(format!(
                "speed must be ≥ 0, got {}",
                config.speed
            )));
        }
        let clock = match config.start {
            None => SimClock::RealTime,
            Some(start) if config.speed == 0.0 => SimClock::manual(start),
            Some(start) => SimClock::accelerated(start, config.speed),
        };
        let origin = clock.now();
        let reference = origin.to_zoned_datetime(jiff::tz::TimeZone::UTC).date();
        let fleet = fleet.unwrap_or_else(|| {
            Fleet::generate(config.seed, config.systems, reference, config.install_days)
        });
        let scenario = match &config.scenario {
            ScenarioSource::Builtin(name) => Scenario::builtin(name, &fleet, origin)?,
            ScenarioSource::Toml(text) => Scenario::from_toml(text, &fleet, origin)?,
        };
        Ok(Self {
            weather: Weather::new(config.seed),
            api: ApiState::new(&config),
            fleet,
            clock,
            scenario,
            config,
            days: Mutex::new(HashMap::new()),
        })
    }

    /// Simulated now.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The simulated local day of a system (cached).
    pub fn day(&self, system: &SimSystem, date: Date) -> Arc<DaySeries> {
        let key = (system.index, date);
        if let Some(day) = self
            .days
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
        {
            return Arc::clone(day);
        }
        // Simulated outside the lock: days of different systems are computed in parallel.
        let day = Arc::new(simulate_day(
            system,
            date,
            &self.weather,
            &self.scenario,
            self.config.seed,
        ));
        let mut cache = self
            .days
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= DAY_CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&day));
        day
    }

    /// Calls `f` for every slot of `system` starting in `from..=to` that has ended by `now`,
    /// with its day and index, in time order, from the installation date on. Does not apply data
    /// visibility.
    pub fn for_each_slot(
        &self,
        system: &SimSystem,
        from: Timestamp,
        to: Timestamp,
        mut f: impl FnMut(&DaySeries, usize),
    ) {
        let now = self.now();
        // Nothing exists before the system was installed.
        let mut date = local_date(system, from).max(system.installation_date);
        let last = local_date(system, to.min(now));
        while date <= last {
            let day = self.day(system, date);
            for i in 0..day.slots.len() {
                let start = day.slot_start(i);
                if start >= from
                    && start <= to
                    && start + SignedDuration::from_secs(SLOT_SECS) <= now
                {
                    f(&day, i);
                }
            }
            let Some(next) = date.tomorrow().ok() else {
                break;
            };
            date = next;
        }
    }

    /// The ground truth: every injected fault, as JSON.
    pub fn ground_truth_json(&self) -> serde_json::Value {
        serde_json::to_value(self.scenario.ground_truth()).unwrap_or_default()
    }
}
