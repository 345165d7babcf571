//! What one status pass sees of one system: sun, data freshness, Solar.web's live view and new
//! messages. Gathering is separate from judging so that the rules stay pure and testable.

use jiff::{SignedDuration, Timestamp};
use moose_incidents::ProductionProfile;
use moose_solardata::{ExpectedModel, SolarRepo, SystemMeta};
use moose_solarweb::types::SystemMessage;
use moose_solarweb::{SolarWebClient, SolarWebError};
use moose_store::StoreError;

/// Solar.web's live view of a system.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flow {
    /// `isOnline`, if sent.
    pub online: Option<bool>,
    /// Current PV power, W, if sent.
    pub pv_w: Option<f64>,
}

/// A call that failed because Solar.web (or the way to it) is unavailable, as opposed to a
/// problem of this one system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable(pub String);

/// Everything a pass knows about one system.
#[derive(Debug, Clone)]
pub struct Observation {
    /// The system.
    pub meta: SystemMeta,
    /// Its clear-sky model (position and peak power known).
    pub model: Option<ExpectedModel>,
    /// When the pass looked.
    pub now: Timestamp,
    /// Sun elevation at the site, degrees.
    pub sun_elevation_deg: Option<f64>,
    /// When the plant's current producing hours began, if it should be producing now: from
    /// its learned profile, else from the sun at its (given or inferred) position.
    pub daylight_since: Option<Timestamp>,
    /// What the plant usually produces when (learned from its recent days).
    pub profile: ProductionProfile,
    /// End of the newest stored 5-minute record.
    pub last_data_at: Option<Timestamp>,
    /// Live view (`None` if the request failed).
    pub flow: Option<Flow>,
    /// Why Solar.web could not be reached, when that is why `flow` is missing.
    pub unreachable: Option<Unreachable>,
    /// Messages in `[messages_from, now]` (`None` if they could not be read; asked again next
    /// pass).
    pub messages: Option<Vec<SystemMessage>>,
    /// Power the plant should make now, W: its usual power at this time of day once its
    /// profile is learned, else clear-sky power.
    pub expected_w: Option<f64>,
    /// The system's devices as discovered.
    pub devices: Vec<moose_solardata::repo::DeviceMeta>,
}

impl Observation {
    /// Whether the sun is high enough at the site for the array to produce.
    pub fn sun_up(&self, min_elevation_deg: f64) -> bool {
        self.sun_elevation_deg
            .is_some_and(|e| e >= min_elevation_deg)
    }

    /// How long the system has been without data while it should have produced: since the
    /// later of its last record and sunrise (above the threshold). `None` at night.
    pub fn missing_for(&self) -> Option<SignedDuration> {
        let since = self.daylight_since?;
        let from = self.last_data_at.map_or(since, |d| d.max(since));
        Some(self.now.duration_since(from))
    }

    /// Whether Solar.web could not be reached for this system.
    pub fn is_unreachable(&self) -> bool {
        self.unreachable.is_some()
    }

    /// Whether Moose can tell when the plant should produce (a learned profile or a position).
    pub fn knows_daylight(&self) -> bool {
        self.profile.usable() || self.model.is_some()
    }

    /// The plant's peak power, W: as given, else the model's, else its best usual power.
    pub fn peak_w(&self) -> Option<f64> {
        self.meta
            .peak_power_w
            .filter(|p| *p > 0.0)
            .or_else(|| self.model.as_ref().map(|m| m.peak_power_w))
            .or_else(|| Some(self.profile.peak_w()).filter(|p| *p > 0.0))
    }

    /// Whether it is a good time of day to produce: the usual power now at least `share` of
    /// the usual peak (or, without a profile, clear-sky power at least `share` of peak power).
    pub fn good_sun(&self, share: f64) -> Option<bool> {
        let expected = self.expected_w?;
        let reference = if self.profile.usable() {
            self.profile.peak_w()
        } else {
            self.peak_w()?
        };
        Some(reference > 0.0 && expected >= share * reference)
    }

    /// Energy the plant would usually have made in `[from, to)`, Wh, and whether that is from
    /// its own profile (`true`) or a clear-sky estimate scaled by a typical 0.6 (`false`).
    pub fn usual_energy_wh(&self, from: Timestamp, to: Timestamp) -> Option<(f64, bool)> {
        if self.profile.usable() {
            return Some((self.profile.energy_wh(from, to), true));
        }
        self.model
            .as_ref()
            .map(|m| (0.6 * m.energy_wh(from, to), false))
    }
}

/// Sun elevation a plant must see before it is expected to produce when its position is only
/// guessed from its time zone (hundreds of kilometres off: dawn can be half an hour away).
pub const GUESSED_POSITION_MIN_ELEVATION_DEG: f64 = 20.0;

fn classify(e: &SolarWebError) -> Option<Unreachable> {
    use SolarWebError as E;
    match e {
        E::NotFound { .. } | E::Forbidden { .. } | E::BadRequest { .. } | E::Decode { .. } => None,
        other => Some(Unreachable(other.to_string())),
    }
}

/// When the sun last climbed above `min_elevation_deg` (searching back up to 18 hours in
/// 5-minute steps), if it is above it now.
pub(crate) fn daylight_since(
    model: &ExpectedModel,
    now: Timestamp,
    min_elevation_deg: f64,
) -> Option<Timestamp> {
    if model.sun_elevation_deg(now) < min_elevation_deg {
        return None;
    }
    let step = SignedDuration::from_mins(5);
    let mut t = now;
    for _ in 0..(18 * 12) {
        let earlier = t - step;
        if model.sun_elevation_deg(earlier) < min_elevation_deg {
            return Some(t);
        }
        t = earlier;
    }
    Some(t)
}

/// Gathers one system's observation. Store failures are errors; Solar.web failures are part of
/// the observation (they are evidence of an upstream outage).
pub async fn observe(
    client: &SolarWebClient,
    repo: &SolarRepo,
    meta: SystemMeta,
    profile: ProductionProfile,
    now: Timestamp,
    messages_from: Timestamp,
    min_elevation_deg: f64,
) -> Result<Observation, StoreError> {
    let devices = repo.devices(&meta.id).await?;
    let model = ExpectedModel::of(&meta, &devices);
    let last_data_at = repo.cursor(&meta.id).await?.and_then(|c| c.last_data_at);
    let (flow, unreachable) = match client.flowdata(meta.id.as_str(), None).await {
        Ok(f) => (
            Some(Flow {
                online: f.status.is_online,
                pv_w: f
                    .data
                    .as_ref()
                    .and_then(|d| moose_solarweb::types::channel_value(&d.channels, "PowerPV")),
            }),
            None,
        ),
        Err(e) => (None, classify(&e)),
    };
    // Without a live view there is no point asking for messages: the API is down.
    let messages = if flow.is_some() && messages_from < now {
        match client
            .messages(meta.id.as_str(), "en", messages_from, now)
            .await
        {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::debug!(system = %meta.id, error = %e, "cannot read messages; will ask again");
                None
            }
        }
    } else {
        flow.as_ref().map(|_| Vec::new())
    };
    let (daylight_since, expected_w) =
        expectation(&meta, model.as_ref(), &profile, now, min_elevation_deg);
    Ok(Observation {
        sun_elevation_deg: model.as_ref().map(|m| m.sun_elevation_deg(now)),
        daylight_since,
        expected_w,
        profile,
        model,
        devices,
        meta,
        now,
        last_data_at,
        flow,
        unreachable,
        messages,
    })
}

/// When the plant's producing hours began (if it should produce now) and its expected power:
/// from its learned profile when it has one (shading, east–west arrays, trackers and loggers
/// that start late are all in it), else from the sun at its position, with a higher threshold
/// when that position is only the time zone's guess.
pub(crate) fn expectation(
    meta: &SystemMeta,
    model: Option<&ExpectedModel>,
    profile: &ProductionProfile,
    now: Timestamp,
    min_elevation_deg: f64,
) -> (Option<Timestamp>, Option<f64>) {
    if profile.usable() {
        return (profile.producing_since(now), Some(profile.typical_w(now)));
    }
    let Some(model) = model else {
        return (None, None);
    };
    let well_placed = meta.position_given()
        || meta
            .inferred_position
            .as_ref()
            .is_some_and(moose_solardata::InferredPosition::from_production);
    let threshold = if well_placed {
        min_elevation_deg
    } else {
        min_elevation_deg.max(GUESSED_POSITION_MIN_ELEVATION_DEG)
    };
    (
        daylight_since(model, now, threshold),
        Some(model.power_w(now)),
    )
}

/// A 10 kWp system in Vienna observed at `at` (UTC), last data `age` minutes old: the
/// observation the rule and decision tests start from.
#[cfg(test)]
pub(crate) fn test_observation(at: &str, age: Option<i64>, flow: Option<Flow>) -> Observation {
    let meta = moose_solardata::SystemMeta {
        id: moose_domain::SystemId::parse("s-1").unwrap(),
        name: "Vienna".into(),
        peak_power_w: Some(10_000.0),
        time_zone: "Europe/Vienna".into(),
        latitude: Some(48.2),
        longitude: Some(16.4),
        city: None,
        country: None,
        installation_date: None,
        active: true,
        inferred_position: None,
    };
    let model = moose_solardata::ExpectedModel::of(&meta, &[]).unwrap();
    let now: Timestamp = at.parse().unwrap();
    let elevation = model.sun_elevation_deg(now);
    Observation {
        expected_w: Some(model.power_w(now)),
        sun_elevation_deg: Some(elevation),
        daylight_since: daylight_since(&model, now, 10.0),
        last_data_at: age.map(|m| now - SignedDuration::from_mins(m)),
        model: Some(model),
        profile: ProductionProfile::default(),
        devices: Vec::new(),
        meta,
        now,
        flow,
        unreachable: None,
        messages: Some(Vec::new()),
    }
}
