//! Fleet discovery: systems and devices from Solar.web into the store.

use std::collections::HashSet;

use moose_domain::{DeviceId, SystemId};
use moose_solarweb::SolarWebClient;
use moose_solarweb::types::{Device, PvSystem};
use serde::Serialize;

use crate::poll::SolarDataError;
use crate::repo::{DeviceMeta, SolarRepo, SystemMeta};

/// What a discovery pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DiscoverySummary {
    /// Systems Solar.web lists.
    pub systems_listed: usize,
    /// Systems seen for the first time.
    pub added: usize,
    /// Systems whose metadata changed.
    pub updated: usize,
    /// Systems no longer listed, now marked inactive.
    pub deactivated: usize,
    /// Systems listed with an id Moose cannot use (skipped).
    pub invalid: usize,
}

fn meta_of(s: &PvSystem, id: SystemId) -> SystemMeta {
    SystemMeta {
        id,
        name: s.name.clone().unwrap_or_else(|| s.pv_system_id.clone()),
        peak_power_w: s.peak_power,
        time_zone: s
            .time_zone
            .clone()
            .filter(|tz| jiff::tz::TimeZone::get(tz).is_ok())
            .unwrap_or_else(|| "UTC".into()),
        latitude: s.latitude,
        longitude: s.longitude,
        city: s.address.as_ref().and_then(|a| a.city.clone()),
        country: s.address.as_ref().and_then(|a| a.country.clone()),
        installation_date: s
            .installation_date
            .as_deref()
            .and_then(moose_solarweb::types::parse_api_date),
        active: true,
        inferred_position: s
            .time_zone
            .as_deref()
            .and_then(moose_pvmodel::position::from_time_zone)
            .map(crate::repo::InferredPosition::of),
    }
}

fn device_of(d: &Device) -> Option<DeviceMeta> {
    Some(DeviceMeta {
        id: DeviceId::parse(&d.device_id).ok()?,
        device_type: d.device_type.clone(),
        name: d
            .device_name
            .clone()
            .or_else(|| d.device_type_details.clone()),
        nominal_ac_power_w: d.nominal_ac_power,
        active: d.is_active.unwrap_or(true),
    })
}

/// Lists the fleet, adds new systems (with their devices), updates changed ones and marks the
/// ones Solar.web no longer lists as inactive (their data stays).
pub async fn discover(
    client: &SolarWebClient,
    repo: &SolarRepo,
) -> Result<DiscoverySummary, SolarDataError> {
    let listed = client.pv_systems().await?;
    let known: std::collections::HashMap<SystemId, SystemMeta> = repo
        .all_systems()
        .await?
        .into_iter()
        .map(|m| (m.id.clone(), m))
        .collect();
    let mut summary = DiscoverySummary {
        systems_listed: listed.len(),
        ..DiscoverySummary::default()
    };
    let mut seen = HashSet::new();
    for s in &listed {
        let Ok(id) = SystemId::parse(&s.pv_system_id) else {
            tracing::warn!(id = %s.pv_system_id, "skipping a system with an unusable id");
            summary.invalid += 1;
            continue;
        };
        seen.insert(id.clone());
        let mut meta = meta_of(s, id.clone());
        if let Some(old) = known.get(&id) {
            // Solar.web has no coordinates; keep the ones an operator set (PATCH /api/systems/{id}).
            if meta.latitude.is_none() && meta.longitude.is_none() {
                meta.latitude = old.latitude;
                meta.longitude = old.longitude;
            }
            // A position learned from the plant's production beats the time zone's guess.
            if old
                .inferred_position
                .as_ref()
                .is_some_and(crate::repo::InferredPosition::from_production)
            {
                meta.inferred_position.clone_from(&old.inferred_position);
            }
        }
        match known.get(&id) {
            Some(old) if *old == meta => {}
            Some(_) => {
                repo.put_meta(&meta).await?;
                summary.updated += 1;
            }
            None => {
                // Devices first: a system is only listed once everything about it is stored.
                let devices: Vec<DeviceMeta> = client
                    .devices(&s.pv_system_id)
                    .await?
                    .iter()
                    .filter_map(device_of)
                    .collect();
                repo.put_devices(&id, &devices).await?;
                repo.put_meta(&meta).await?;
                summary.added += 1;
            }
        }
    }
    for (id, mut meta) in known {
        if meta.active && !seen.contains(&id) {
            meta.active = false;
            repo.put_meta(&meta).await?;
            summary.deactivated += 1;
        }
    }
    Ok(summary)
}
