//! What one status pass sees of one system: sun, data freshness, Solar.web's live view and new
//! messages. Gathering is separate from judging so that the rules stay pure and testable.

use jiff::{SignedDuration, Timestamp};
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
    /// When the sun last rose above the production threshold (if it is above it now).
    pub daylight_since: Option<Timestamp>,
    /// End of the newest stored 5-minute record.
    pub last_data_at: Option<Timestamp>,
    /// Live view (`None` if the request failed).
    pub flow: Option<Flow>,
    /// Why Solar.web could not be reached, when that is why `flow` is missing.
    pub unreachable: Option<Unreachable>,
    /// Messages in `[messages_from, now]` (`None` if they could not be read; asked again next
    /// pass).
    pub messages: Option<Vec<SystemMessage>>,
    /// Clear-sky power now, W.
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
}

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
    Ok(Observation {
        sun_elevation_deg: model.as_ref().map(|m| m.sun_elevation_deg(now)),
        daylight_since: model
            .as_ref()
            .and_then(|m| daylight_since(m, now, min_elevation_deg)),
        expected_w: model.as_ref().map(|m| m.power_w(now)),
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
        devices: Vec::new(),
        meta,
        now,
        flow,
        unreachable: None,
        messages: Some(Vec::new()),
    }
}
