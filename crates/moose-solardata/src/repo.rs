//! Store access for systems, devices, day items, aggregates and cursors.

use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::Date;
use moose_domain::{DeviceId, SystemId, keys};
use moose_store::codec::{self, to_attrs, versioned_put};
use moose_store::{Condition, Item, Key, Query, SortCondition, Store, StoreError, StoreExt, TxOp};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::series::{DayChunk, Energy, HourlyMonth};

/// What Moose knows of a PV system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemMeta {
    /// Solar.web id.
    pub id: SystemId,
    /// Display name.
    pub name: String,
    /// DC peak power, W.
    pub peak_power_w: Option<f64>,
    /// IANA time zone (UTC when Solar.web gives none).
    pub time_zone: String,
    /// Latitude, when known (the simulator gives it; the real API does not).
    pub latitude: Option<f64>,
    /// Longitude, when known.
    pub longitude: Option<f64>,
    /// City, from the address.
    pub city: Option<String>,
    /// Country, from the address.
    pub country: Option<String>,
    /// Installation date (local).
    pub installation_date: Option<Date>,
    /// False once Solar.web stops listing the system.
    pub active: bool,
    /// Where Moose guesses the plant is when nobody gave coordinates (time zone first, then
    /// its producing hours). `latitude`/`longitude` always win.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inferred_position: Option<InferredPosition>,
}

/// A position Moose worked out itself (see `moose_pvmodel::position`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferredPosition {
    /// Latitude, degrees north.
    pub latitude: f64,
    /// Longitude, degrees east.
    pub longitude: f64,
    /// `time_zone`, `utc_offset` or `production`.
    pub method: String,
}

impl InferredPosition {
    /// From a guess.
    pub fn of(guess: moose_pvmodel::position::GuessedPosition) -> Self {
        use moose_pvmodel::position::PositionMethod as M;
        Self {
            latitude: (guess.latitude_deg * 100.0).round() / 100.0,
            longitude: (guess.longitude_deg * 100.0).round() / 100.0,
            method: match guess.method {
                M::TimeZone => "time_zone",
                M::UtcOffset => "utc_offset",
                M::Production => "production",
            }
            .into(),
        }
    }

    /// Whether it was learned from the plant's own data (good to tens of kilometres) rather
    /// than guessed from its time zone (hundreds).
    pub fn from_production(&self) -> bool {
        self.method == "production"
    }
}

impl SystemMeta {
    /// The site's time zone (UTC if unknown or invalid).
    pub fn tz(&self) -> jiff::tz::TimeZone {
        jiff::tz::TimeZone::get(&self.time_zone).unwrap_or(jiff::tz::TimeZone::UTC)
    }

    /// The site: the given position, else the inferred one.
    pub fn site(&self) -> Option<moose_pvmodel::Site> {
        let (latitude_deg, longitude_deg) = match (self.latitude, self.longitude) {
            (Some(lat), Some(lon)) => (lat, lon),
            _ => self
                .inferred_position
                .as_ref()
                .map(|p| (p.latitude, p.longitude))?,
        };
        Some(moose_pvmodel::Site {
            latitude_deg,
            longitude_deg,
            altitude_m: 200.0,
        })
    }

    /// Whether the position was given (by Solar.web or an operator) rather than inferred.
    pub fn position_given(&self) -> bool {
        self.latitude.is_some() && self.longitude.is_some()
    }
}

/// A device of a system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceMeta {
    /// Solar.web id.
    pub id: DeviceId,
    /// `Inverter`, `Battery`, `SmartMeter`, …
    pub device_type: String,
    /// Name or model.
    pub name: Option<String>,
    /// Nominal AC power, W (inverters).
    pub nominal_ac_power_w: Option<f64>,
    /// Active per Solar.web.
    pub active: bool,
}

/// The ingestion cursor of a system.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IngestCursor {
    /// Data is complete up to here (the next poll asks from a trailing window before it).
    pub polled_until: Timestamp,
    /// End of the newest 5-minute record stored.
    pub last_data_at: Option<Timestamp>,
    /// Past local days up to here have been reconciled with Solar.web's daily totals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconciled_until: Option<Date>,
    /// The first whole local day polling covered: older days were never asked for, so their
    /// totals are not reconciled (a backfill fetches them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub polling_since: Option<Date>,
}

const SK_CURSOR: &str = "Cursor#histdata";

/// A day item as read, with the version its conditional write must match.
#[derive(Debug, Clone)]
pub struct VersionedChunk {
    /// The data.
    pub chunk: DayChunk,
    /// Version read (0 when new).
    pub version: u64,
}

/// One day's writes for a system: its day item, its inverters' day items, its aggregates and cursor.
#[derive(Debug)]
pub struct DayWrite {
    /// The system's day.
    pub system: VersionedChunk,
    /// Each inverter's day.
    pub devices: Vec<(DeviceId, VersionedChunk)>,
    /// The monthly energy including this day.
    pub month: Energy,
    /// The month's hourly energy including this day, and the version it was read at.
    pub hourly: (HourlyMonth, u64),
    /// The cursor after this day (`None`: leave it alone, as a backfill does).
    pub cursor: Option<IngestCursor>,
}

/// Store access for solar data.
#[derive(Debug, Clone)]
pub struct SolarRepo {
    /// The store.
    pub store: Arc<dyn Store>,
}

impl SolarRepo {
    /// Over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    fn meta_key(id: &SystemId) -> Key {
        Key::new(keys::system_pk(id), keys::SK_META)
    }

    /// A system's metadata.
    pub async fn meta(&self, id: &SystemId) -> Result<Option<SystemMeta>, StoreError> {
        self.store
            .get(&Self::meta_key(id))
            .await?
            .map(codec::decode)
            .transpose()
    }

    /// Writes a system's metadata (listed under GSI1 `Systems`).
    pub async fn put_meta(&self, meta: &SystemMeta) -> Result<(), StoreError> {
        let item = Item::new(Self::meta_key(&meta.id), to_attrs(meta)?)
            .with_gsi1(keys::GSI1_ALL_SYSTEMS, meta.id.as_str());
        self.store.put(item, Condition::None).await
    }

    /// One page of every system, in id order, after `after`; the id to continue after if there
    /// may be more.
    pub async fn list_systems(
        &self,
        limit: u32,
        after: Option<&SystemId>,
    ) -> Result<(Vec<SystemMeta>, Option<SystemId>), StoreError> {
        // Paged by system id rather than by the store's own cursor, so that a page position is
        // a value callers cannot forge into something the backend chokes on.
        let fetch = (limit + u32::from(after.is_some())).min(Query::MAX_LIMIT);
        let mut q = Query::gsi1(keys::GSI1_ALL_SYSTEMS).limit(fetch);
        if let Some(after) = after {
            q = q.sort(SortCondition::AtLeast(after.as_str().to_owned()));
        }
        let page = self.store.query(&q).await?;
        let mut metas: Vec<SystemMeta> = page
            .items
            .into_iter()
            .map(codec::decode)
            .collect::<Result<Vec<SystemMeta>, _>>()?
            .into_iter()
            .filter(|m| Some(&m.id) != after)
            .collect();
        let more = metas.len() > limit as usize || page.next.is_some();
        metas.truncate(limit as usize);
        let next = more.then(|| metas.last().map(|m| m.id.clone())).flatten();
        Ok((metas, next))
    }

    /// Every system (for the poller).
    pub async fn all_systems(&self) -> Result<Vec<SystemMeta>, StoreError> {
        self.store
            .query_all(&Query::gsi1(keys::GSI1_ALL_SYSTEMS).limit(1000))
            .await?
            .into_iter()
            .map(codec::decode)
            .collect()
    }

    /// Replaces a system's devices.
    pub async fn put_devices(
        &self,
        system: &SystemId,
        devices: &[DeviceMeta],
    ) -> Result<(), StoreError> {
        let ops = devices
            .iter()
            .map(|d| {
                Ok(moose_store::BatchOp::Put(Item::new(
                    Key::new(keys::system_pk(system), keys::device_sk(&d.id)),
                    to_attrs(d)?,
                )))
            })
            .collect::<Result<_, StoreError>>()?;
        self.store.batch_write(ops).await
    }

    /// A system's devices.
    pub async fn devices(&self, system: &SystemId) -> Result<Vec<DeviceMeta>, StoreError> {
        let q = Query::partition(keys::system_pk(system)).begins_with(keys::DEVICE_SK_PREFIX);
        self.store
            .query_all(&q)
            .await?
            .into_iter()
            .map(codec::decode)
            .collect()
    }

    /// A system's cursor.
    pub async fn cursor(&self, system: &SystemId) -> Result<Option<IngestCursor>, StoreError> {
        self.store
            .get(&Key::new(keys::system_pk(system), SK_CURSOR))
            .await?
            .map(codec::decode)
            .transpose()
    }

    /// Sets the cursor alone (nothing new arrived, but the window was polled).
    pub async fn put_cursor(
        &self,
        system: &SystemId,
        cursor: &IngestCursor,
    ) -> Result<(), StoreError> {
        self.store
            .put(
                Item::new(
                    Key::new(keys::system_pk(system), SK_CURSOR),
                    to_attrs(cursor)?,
                ),
                Condition::None,
            )
            .await
    }

    /// An item and its version (0 when it carries none).
    async fn get_versioned<T: DeserializeOwned>(
        &self,
        key: &Key,
    ) -> Result<Option<(T, u64)>, StoreError> {
        self.store.get(key).await?.map(codec::from_item).transpose()
    }

    fn day_key(system: &SystemId, device: Option<&DeviceId>, date: Date) -> Key {
        let sk = match device {
            Some(d) => keys::device_day_sk(d, date),
            None => keys::system_day_sk(date),
        };
        Key::new(keys::system_pk(system), sk)
    }

    /// A day item with its version.
    pub async fn day(
        &self,
        system: &SystemId,
        device: Option<&DeviceId>,
        date: Date,
    ) -> Result<Option<VersionedChunk>, StoreError> {
        Ok(self
            .get_versioned(&Self::day_key(system, device, date))
            .await?
            .map(|(chunk, version)| VersionedChunk { chunk, version }))
    }

    /// Day items of a system for `from..=to`, in date order.
    pub async fn days(
        &self,
        system: &SystemId,
        from: Date,
        to: Date,
    ) -> Result<Vec<DayChunk>, StoreError> {
        let q = Query::partition(keys::system_pk(system))
            .sort(SortCondition::Between(
                keys::system_day_sk(from),
                keys::system_day_sk(to),
            ))
            .limit(400);
        self.store
            .query_all(&q)
            .await?
            .into_iter()
            .map(codec::decode)
            .collect()
    }

    /// Daily energy of a system for `from..=to`, by date.
    pub async fn daily(
        &self,
        system: &SystemId,
        from: Date,
        to: Date,
    ) -> Result<Vec<(Date, Energy)>, StoreError> {
        let range =
            SortCondition::Between(keys::daily_aggregate_sk(from), keys::daily_aggregate_sk(to));
        self.energy_items(system, range, "date").await
    }

    /// The energy of one local day of each system, in the same order as `days` (`None` where
    /// nothing is stored), read in one batch.
    pub async fn day_of_each(
        &self,
        days: &[(SystemId, Date)],
    ) -> Result<Vec<Option<Energy>>, StoreError> {
        let keys: Vec<Key> = days
            .iter()
            .map(|(system, day)| Key::new(keys::system_pk(system), keys::daily_aggregate_sk(*day)))
            .collect();
        self.store
            .batch_get(&keys)
            .await?
            .into_iter()
            .map(|item| item.map(codec::decode::<Energy>).transpose())
            .collect()
    }

    /// Monthly energy of a system for the months `from..=to` (first days of months).
    pub async fn monthly(
        &self,
        system: &SystemId,
        from: Date,
        to: Date,
    ) -> Result<Vec<(Date, Energy)>, StoreError> {
        let range = SortCondition::Between(
            keys::monthly_aggregate_sk(from.year(), from.month()),
            keys::monthly_aggregate_sk(to.year(), to.month()),
        );
        self.energy_items(system, range, "month").await
    }

    /// Aggregate items in a sort-key range, each labelled by the date in attribute `label`.
    async fn energy_items(
        &self,
        system: &SystemId,
        range: SortCondition,
        label: &str,
    ) -> Result<Vec<(Date, Energy)>, StoreError> {
        let q = Query::partition(keys::system_pk(system))
            .sort(range)
            .limit(1000);
        self.store
            .query_all(&q)
            .await?
            .into_iter()
            .map(|item| {
                let date: Date = item
                    .str_attr(label)
                    .and_then(|d| d.parse().ok())
                    .ok_or_else(|| StoreError::Corrupt {
                        key: item.key.clone(),
                        reason: format!("no {label}"),
                    })?;
                Ok((date, codec::decode::<Energy>(item)?))
            })
            .collect()
    }

    /// A month of hourly energy with its version (0 when new).
    pub async fn hourly(
        &self,
        system: &SystemId,
        month: Date,
    ) -> Result<Option<(HourlyMonth, u64)>, StoreError> {
        let key = Key::new(
            keys::system_pk(system),
            keys::hourly_rollup_sk(month.year(), month.month()),
        );
        self.get_versioned(&key).await
    }

    /// Months of hourly energy whose months start in `from..=to`.
    pub async fn hourly_range(
        &self,
        system: &SystemId,
        from: Date,
        to: Date,
    ) -> Result<Vec<HourlyMonth>, StoreError> {
        let q = Query::partition(keys::system_pk(system))
            .sort(SortCondition::Between(
                keys::hourly_rollup_sk(from.year(), from.month()),
                keys::hourly_rollup_sk(to.year(), to.month()),
            ))
            .limit(200);
        self.store
            .query_all(&q)
            .await?
            .into_iter()
            .map(codec::decode)
            .collect()
    }

    /// Writes one day atomically: the system's and inverters' day items (each conditional on the
    /// version read), the day's and the month's energy, and the cursor. Either all of it lands
    /// or none of it, so the cursor never runs ahead of the data it covers.
    pub async fn write_day(&self, system: &SystemId, write: &DayWrite) -> Result<(), StoreError> {
        let date = write.system.chunk.date;
        let mut ops = Vec::new();
        let chunks = std::iter::once((None, &write.system)).chain(
            write
                .devices
                .iter()
                .map(|(device, chunk)| (Some(device), chunk)),
        );
        for (device, v) in chunks {
            ops.push(versioned_put(
                Self::day_key(system, device, date),
                &v.chunk,
                v.version,
            )?);
        }
        let mut day = to_attrs(&Energy::of_day(&write.system.chunk))?;
        day.insert("date".into(), json!(date));
        ops.push(TxOp::Put {
            item: Item::new(
                Key::new(keys::system_pk(system), keys::daily_aggregate_sk(date)),
                day,
            ),
            condition: Condition::None,
        });
        let mut month = to_attrs(&write.month)?;
        month.insert("month".into(), json!(date.first_of_month()));
        ops.push(TxOp::Put {
            item: Item::new(
                Key::new(
                    keys::system_pk(system),
                    keys::monthly_aggregate_sk(date.year(), date.month()),
                ),
                month,
            ),
            condition: Condition::None,
        });
        // The month's hourly roll-up, guarded like the day item: two writers of different days of
        // one month must not overwrite each other's hours.
        let (hourly, version) = &write.hourly;
        let key = Key::new(
            keys::system_pk(system),
            keys::hourly_rollup_sk(date.year(), date.month()),
        );
        ops.push(versioned_put(key, hourly, *version)?);
        if let Some(cursor) = &write.cursor {
            ops.push(TxOp::Put {
                item: Item::new(
                    Key::new(keys::system_pk(system), SK_CURSOR),
                    to_attrs(cursor)?,
                ),
                condition: Condition::None,
            });
        }
        self.store.transact(ops).await
    }
}
