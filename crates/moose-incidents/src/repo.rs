//! Where incidents and statuses live in the store (layout: `docs/data-model.md`).
//!
//! - `System#<id>` / `STATUS`: the system's [`SystemStatus`], written with a version condition so
//!   two evaluators can never both open the same incident.
//! - `System#<id>` / `Incident#<opened>#<id>`: the system's incident history, oldest first;
//!   platform incidents live under `Platform`. Every incident is also on `GSI1PK=Incidents`,
//!   `GSI1SK=<opened>#<id>`: the fleet's timeline.
//! - `Platform` / `STATUS`: the upstream-outage track.

use std::sync::Arc;

use jiff::Timestamp;
use moose_domain::{SystemId, keys, time::format_utc};
use moose_store::codec::{from_item as decode, versioned_put};
use moose_store::{Key, Query, SortCondition, Store, StoreError, TxOp};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::model::{Incident, IncidentKind, SystemStatus, Track};

/// Partition of platform-wide incidents and their status.
pub const PLATFORM_PK: &str = "Platform";
/// GSI1 partition listing every incident by opening time.
pub const INCIDENTS_GSI1: &str = "Incidents";

/// The platform's own status: the upstream-outage track and its open incident.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlatformStatus {
    /// Flap protection.
    pub track: Track,
    /// Open upstream-outage incident.
    pub open: Option<String>,
    /// When `device-status-polling` last ran (its liveness: system statuses are only
    /// rewritten when something changed).
    #[serde(default)]
    pub checked_at: Option<Timestamp>,
}

/// An item as read, with the version its conditional write must match (0: it did not exist).
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    /// The value.
    pub value: T,
    /// Its version.
    pub version: u64,
}

/// Filters of an incident listing.
#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    /// Only this system's incidents.
    pub system: Option<SystemId>,
    /// Only this kind.
    pub kind: Option<IncidentKind>,
    /// `Some(true)` open only, `Some(false)` resolved only.
    pub open: Option<bool>,
    /// Opened at or after.
    pub from: Option<Timestamp>,
    /// Opened before.
    pub to: Option<Timestamp>,
}

impl IncidentFilter {
    /// Whether `incident` passes the filter.
    pub fn matches(&self, incident: &Incident) -> bool {
        self.kind.is_none_or(|k| k == incident.kind)
            && self.open.is_none_or(|o| o == incident.is_open())
            && self.from.is_none_or(|f| incident.opened_at >= f)
            && self.to.is_none_or(|t| incident.opened_at < t)
            && self
                .system
                .as_ref()
                .is_none_or(|s| incident.system.as_ref() == Some(s))
    }
}

/// Incident and status storage over any [`Store`].
#[derive(Debug, Clone)]
pub struct IncidentRepo {
    /// The store.
    pub store: Arc<dyn Store>,
}

impl IncidentRepo {
    /// A repository over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    fn status_key(system: &SystemId) -> Key {
        Key::new(keys::system_pk(system), keys::SK_STATUS)
    }

    fn platform_key() -> Key {
        Key::new(PLATFORM_PK, keys::SK_STATUS)
    }

    /// The key of an incident, derived from its id alone.
    pub fn incident_key(id: &str) -> Option<Key> {
        let (_, opened, system) = Incident::parse_id(id)?;
        let pk = system.map_or_else(|| PLATFORM_PK.to_owned(), |s| keys::system_pk(&s));
        Some(Key::new(
            pk,
            format!("Incident#{}#{id}", format_utc(opened)),
        ))
    }

    async fn get_versioned<T: DeserializeOwned>(
        &self,
        key: &Key,
    ) -> Result<Option<Versioned<T>>, StoreError> {
        self.store
            .get(key)
            .await?
            .map(decode)
            .transpose()
            .map(|o| o.map(|(value, version)| Versioned { value, version }))
    }

    /// A system's status.
    pub async fn status(
        &self,
        system: &SystemId,
    ) -> Result<Option<Versioned<SystemStatus>>, StoreError> {
        self.get_versioned(&Self::status_key(system)).await
    }

    /// The statuses of `systems`, in the same order (`None` for a system without one yet), read
    /// in one batch.
    pub async fn statuses(
        &self,
        systems: &[SystemId],
    ) -> Result<Vec<Option<SystemStatus>>, StoreError> {
        let keys: Vec<Key> = systems.iter().map(Self::status_key).collect();
        self.store
            .batch_get(&keys)
            .await?
            .into_iter()
            .map(|item| item.map(|i| decode(i).map(|(value, _)| value)).transpose())
            .collect()
    }

    /// The platform's status.
    pub async fn platform(&self) -> Result<Versioned<PlatformStatus>, StoreError> {
        Ok(self
            .get_versioned(&Self::platform_key())
            .await?
            .unwrap_or(Versioned {
                value: PlatformStatus::default(),
                version: 0,
            }))
    }

    /// One incident by id.
    pub async fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        Ok(self.incident_versioned(id).await?.map(|v| v.value))
    }

    /// One incident by id, with the version its next write must match.
    pub async fn incident_versioned(
        &self,
        id: &str,
    ) -> Result<Option<Versioned<Incident>>, StoreError> {
        let Some(key) = Self::incident_key(id) else {
            return Ok(None);
        };
        self.get_versioned(&key).await
    }

    /// The put of an incident read at `version` (0: new), on its system's history and the
    /// fleet timeline. Conditional, so the engine never overwrites an acknowledgement made
    /// since it read the incident, nor an acknowledgement a change the engine made.
    pub fn incident_op(incident: &Incident, version: u64) -> Result<TxOp, StoreError> {
        let key = Self::incident_key(&incident.id)
            .ok_or_else(|| StoreError::Other(format!("bad incident id {}", incident.id).into()))?;
        let TxOp::Put { item, condition } = versioned_put(key, incident, version)? else {
            return Err(StoreError::Other("versioned_put makes a put".into()));
        };
        let item = item.with_gsi1(
            INCIDENTS_GSI1,
            format!("{}#{}", format_utc(incident.opened_at), incident.id),
        );
        Ok(TxOp::Put { item, condition })
    }

    /// The conditional put of a system's status read at `version`.
    pub fn status_op(status: &SystemStatus, version: u64) -> Result<TxOp, StoreError> {
        versioned_put(Self::status_key(&status.system), status, version)
    }

    /// The conditional put of the platform status read at `version`.
    pub fn platform_op(status: &PlatformStatus, version: u64) -> Result<TxOp, StoreError> {
        versioned_put(Self::platform_key(), status, version)
    }

    /// Applies a status change with its incidents and notification records in one transaction:
    /// either all of it is stored or none, so an incident never exists without its status
    /// pointing at it, nor a notification without its incident.
    pub async fn commit(&self, ops: Vec<TxOp>) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        self.store.transact(ops).await
    }

    /// Incidents matching `filter`, newest first, at most `limit`, after the cursor `before`
    /// (an incident id from the previous page).
    pub async fn list(
        &self,
        filter: &IncidentFilter,
        visible: &(dyn Fn(&Incident) -> bool + Sync),
        limit: usize,
        before: Option<&str>,
    ) -> Result<Vec<Incident>, StoreError> {
        let upper = match (before.and_then(Self::incident_key), filter.to) {
            (Some(key), _) => key.sk,
            (None, Some(to)) => format!("Incident#{}", format_utc(to)),
            (None, None) => "Incident#~".to_owned(),
        };
        let lower = format!(
            "Incident#{}",
            filter.from.map(format_utc).unwrap_or_default()
        );
        let (mut query, gsi) = match &filter.system {
            Some(s) => (Query::partition(keys::system_pk(s)), false),
            None => (Query::gsi1(INCIDENTS_GSI1), true),
        };
        // The index sorts by `<opened>#<id>` without the `Incident#` prefix.
        let strip = |k: &str| {
            if gsi {
                k.trim_start_matches("Incident#").to_owned()
            } else {
                k.to_owned()
            }
        };
        // Without a lower bound the index range has none either: DynamoDB refuses an empty
        // string in a key condition.
        let range = match (filter.from, gsi) {
            (None, true) => SortCondition::AtMost(strip(&upper)),
            _ => SortCondition::Between(strip(&lower), strip(&upper)),
        };
        query = query.sort(range).backward().limit(100);
        let mut out = Vec::new();
        loop {
            let page = self.store.query(&query).await?;
            for item in page.items {
                if !item.key.sk.starts_with("Incident#") && !gsi {
                    continue;
                }
                let (incident, _): (Incident, u64) = decode(item)?;
                if Some(incident.id.as_str()) == before {
                    continue;
                }
                if filter.matches(&incident) && visible(&incident) {
                    out.push(incident);
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
            match page.next {
                Some(next) => query.start_after = Some(next),
                None => return Ok(out),
            }
        }
    }
}
