//! Request and response types of the Query API, named after the API's fields.
//!
//! Parsing is tolerant by design (see `docs/solarweb.md`): unknown fields are ignored, optional
//! fields may be missing or `null`, channel values may be numbers, numeric strings or `null`,
//! aggregate channels may call their unit `unit` or `unitType`, and `battMode` may be a number
//! or a string.

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize};

/// Paging links of list endpoints.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Links {
    /// First page.
    pub first: Option<String>,
    /// Previous page (`null` on the first).
    pub prev: Option<String>,
    /// This page.
    #[serde(rename = "self")]
    pub self_: Option<String>,
    /// Next page (`null` on the last).
    pub next: Option<String>,
    /// Last page.
    pub last: Option<String>,
    /// Items across all pages.
    pub total_items_count: Option<u64>,
}

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Address {
    /// Country (name or code).
    pub country: Option<String>,
    /// Postal code.
    pub zip_code: Option<String>,
    /// Street.
    pub street: Option<String>,
    /// City.
    pub city: Option<String>,
    /// State or region.
    pub state: Option<String>,
}

/// A PV system (`PvSystem`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PvSystem {
    /// The system's GUID.
    pub pv_system_id: String,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Address.
    #[serde(default)]
    pub address: Option<Address>,
    /// Picture URL.
    #[serde(default, rename = "pictureURL")]
    pub picture_url: Option<String>,
    /// DC peak power in W.
    #[serde(default, deserialize_with = "lenient_f64")]
    pub peak_power: Option<f64>,
    /// Installation date.
    #[serde(default)]
    pub installation_date: Option<String>,
    /// Last upload from the datalogger (UTC).
    #[serde(default)]
    pub last_import: Option<String>,
    /// `pro` or `light`.
    #[serde(default)]
    pub meteo_data: Option<String>,
    /// IANA time zone of the site.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Latitude, where the API or simulator provides it (not in the documented model).
    #[serde(default, deserialize_with = "lenient_f64")]
    pub latitude: Option<f64>,
    /// Longitude, where provided (not in the documented model).
    #[serde(default, deserialize_with = "lenient_f64")]
    pub longitude: Option<f64>,
}

/// `GET /pvsystems` page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PvSystemsPage {
    /// The systems on this page.
    pub pv_systems: Vec<PvSystem>,
    /// Paging.
    pub links: Links,
}

/// Firmware state of a device.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Firmware {
    /// An update is available.
    pub update_available: Option<bool>,
    /// Installed version.
    pub installed_version: Option<String>,
    /// Available version.
    pub available_version: Option<String>,
}

/// A device (`Device`): inverter, battery, smart meter, datalogger, …; type-specific fields are
/// optional.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// `Inverter`, `Battery`, `SmartMeter`, `Datalogger`, `Sensor`, `Ohmpilot`, `EVCharger`, …
    pub device_type: String,
    /// The device's GUID.
    pub device_id: String,
    /// Display name.
    #[serde(default)]
    pub device_name: Option<String>,
    /// Manufacturer.
    #[serde(default)]
    pub device_manufacturer: Option<String>,
    /// Serial number.
    #[serde(default)]
    pub serial_number: Option<String>,
    /// Model (inverters).
    #[serde(default)]
    pub device_type_details: Option<String>,
    /// Datalogger the device reports through.
    #[serde(default)]
    pub datalogger_id: Option<String>,
    /// Fronius node type (inverters).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub node_type: Option<i64>,
    /// MPP trackers (inverters).
    #[serde(
        default,
        rename = "numberMPPTrackers",
        deserialize_with = "lenient_i64"
    )]
    pub number_mpp_trackers: Option<i64>,
    /// Phases (inverters).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub number_phases: Option<i64>,
    /// DC peak power per MPPT input in W, keys `dc1`…`dc4` (inverters).
    #[serde(default)]
    pub peak_power: Option<std::collections::BTreeMap<String, Option<f64>>>,
    /// Nominal AC power in W (inverters).
    #[serde(default, deserialize_with = "lenient_f64")]
    pub nominal_ac_power: Option<f64>,
    /// Capacity in Wh (batteries).
    #[serde(default, deserialize_with = "lenient_f64")]
    pub capacity: Option<f64>,
    /// Meter category, e.g. `Primary Meter` (smart meters).
    #[serde(default)]
    pub device_category: Option<String>,
    /// Meter location, e.g. `Grid` (smart meters).
    #[serde(default)]
    pub device_location: Option<String>,
    /// Online (dataloggers, EV chargers).
    #[serde(default)]
    pub is_online: Option<bool>,
    /// Firmware.
    #[serde(default)]
    pub firmware: Option<Firmware>,
    /// Active (replaced hardware stays listed as inactive).
    #[serde(default)]
    pub is_active: Option<bool>,
    /// Activation date.
    #[serde(default)]
    pub activation_date: Option<String>,
    /// Deactivation date.
    #[serde(default)]
    pub deactivation_date: Option<String>,
}

/// `GET /pvsystems/{id}/devices` page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DevicesPage {
    /// The devices on this page.
    pub devices: Vec<Device>,
    /// Paging.
    pub links: Links,
}

/// `{"count": n}` of the `-count` endpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Count {
    /// The count.
    #[serde(deserialize_with = "lenient_count")]
    pub count: u64,
}

/// One channel value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    /// E.g. `EnergyProductionTotal`.
    pub channel_name: String,
    /// E.g. `Energy`, `Power`, `Percent`.
    #[serde(default)]
    pub channel_type: Option<String>,
    /// Unit, e.g. `Wh`, `W`, `%` (aggregate channels may name it `unitType`).
    #[serde(default, alias = "unitType")]
    pub unit: Option<String>,
    /// The value; `None` when the API has none.
    #[serde(default, deserialize_with = "lenient_f64")]
    pub value: Option<f64>,
}

/// Looks up a channel's value by name.
pub fn channel_value(channels: &[Channel], name: &str) -> Option<f64> {
    channels
        .iter()
        .find(|c| c.channel_name == name)
        .and_then(|c| c.value)
}

/// Realtime status of `flowdata`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowStatus {
    /// Whether Solar.web currently reaches the system.
    pub is_online: Option<bool>,
    /// Battery mode; sent as number or string (`"1"`, `"1.0"`), normalised to a number.
    #[serde(deserialize_with = "lenient_f64")]
    pub batt_mode: Option<f64>,
}

/// One timestamped set of channels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// The record's time (interval start for `histdata`); see [`Record::timestamp`].
    pub log_date_time: String,
    /// Seconds covered by the record (`histdata`); ≈300.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub log_duration: Option<i64>,
    /// The values.
    #[serde(default)]
    pub channels: Vec<Channel>,
}

impl Record {
    /// The record's instant. Zulu times parse as is; a time without offset (only sent when
    /// `timezone=local` is requested, which this client never does) is read as UTC.
    pub fn timestamp(&self) -> Option<Timestamp> {
        parse_api_time(&self.log_date_time)
    }
}

/// Parses the API's time formats: RFC 3339 with `Z`/offset, or without offset (as UTC).
pub fn parse_api_time(raw: &str) -> Option<Timestamp> {
    raw.parse::<Timestamp>().ok().or_else(|| {
        raw.parse::<jiff::civil::DateTime>()
            .ok()
            .and_then(|dt| dt.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok())
            .map(|z| z.timestamp())
    })
}

/// A calendar date as Solar.web sends it (`installationDate`: `2015-04-20T00:00:00Z`,
/// `2015-04-20T00:00:00` or `2015-04-20`). The date is taken as written: it is the plant's own
/// calendar day, and reading it as UTC midnight and converting it to the plant's zone would
/// move it a day earlier everywhere west of Greenwich.
pub fn parse_api_date(raw: &str) -> Option<jiff::civil::Date> {
    raw.get(..10)?.parse().ok()
}

/// `flowdata` (`EnergyFlow`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FlowData {
    /// System.
    pub pv_system_id: Option<String>,
    /// Device (device variant).
    pub device_id: Option<String>,
    /// Online state.
    pub status: FlowStatus,
    /// The latest values, if any.
    pub data: Option<Record>,
}

/// `histdata` (`HistoricalValues`) and `aggrdata` (`AggrValues`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SeriesPage {
    /// System.
    pub pv_system_id: Option<String>,
    /// Device (device variant).
    pub device_id: Option<String>,
    /// The records (for `aggrdata`, `logDateTime` is a period label like `2025-05-01` or `total`).
    pub data: Vec<Record>,
    /// Paging.
    pub links: Links,
}

/// One system message (`SystemMessage`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SystemMessage {
    /// System.
    #[serde(default)]
    pub pv_system_id: Option<String>,
    /// Device.
    #[serde(default)]
    pub device_id: Option<String>,
    /// `Error` or `Event`.
    #[serde(default)]
    pub state_type: Option<String>,
    /// The state code (e.g. 447).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub state_code: Option<i64>,
    /// `error`, `warning`, `information`, `unknown`.
    #[serde(default)]
    pub state_severity: Option<String>,
    /// When.
    pub log_date_time: String,
    /// Localised description.
    #[serde(default)]
    pub text: Option<String>,
    /// Device name.
    #[serde(default)]
    pub device_name: Option<String>,
}

/// `messages/{lang}` page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MessagesPage {
    /// The messages.
    pub messages: Vec<SystemMessage>,
    /// Paging.
    pub links: Links,
}

/// `POST /iam/jwt` response (`Token`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    /// The bearer token.
    pub jwt_token: String,
    /// Token for `PATCH /iam/jwt/{refreshToken}`.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Expiry, format undocumented (ISO-8601 expected).
    #[serde(default)]
    pub jwt_token_expiration: Option<String>,
}

/// The API's error body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ErrorBody {
    /// Detailed error code (e.g. 1102).
    #[serde(deserialize_with = "lenient_i64")]
    pub response_error: Option<i64>,
    /// Message.
    pub response_message: Option<String>,
}

/// Accepts a number, a numeric string or `null`; anything else (objects, arrays, booleans,
/// non-numeric strings) becomes `None` rather than an error, because one odd value must not make
/// a whole day of data unreadable. A hand-written visitor: this runs for every channel value of
/// every record, and serde's buffering `untagged` enums cost several times more.
struct LenientF64;

impl<'de> serde::de::Visitor<'de> for LenientF64 {
    type Value = Option<f64>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a number, a numeric string or null")
    }
    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v).filter(|n| n.is_finite()))
    }
    #[allow(clippy::cast_precision_loss)]
    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v as f64))
    }
    #[allow(clippy::cast_precision_loss)]
    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v as f64))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.trim().parse::<f64>().ok().filter(|n| n.is_finite()))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(None)
    }
}

fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    d.deserialize_any(LenientF64)
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn lenient_count<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    lenient_f64(d)?
        .filter(|n| *n >= 0.0 && n.fract() == 0.0)
        .map(|n| n as u64)
        .ok_or_else(|| serde::de::Error::custom("count is not a non-negative whole number"))
}

#[allow(clippy::cast_possible_truncation)]
fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(lenient_f64(d)?
        .filter(|n| n.fract() == 0.0)
        .map(|n| n as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_tolerate_nulls_strings_unit_type_and_extra_fields() {
        let raw = r#"[
            {"channelName":"EnergyFeedIn","channelType":"Energy","unit":"Wh","value":12.5},
            {"channelName":"EnergyPurchased","channelType":"Energy","unitType":"Wh","value":null},
            {"channelName":"BattSOC","unit":"%","value":"55.5","isActive":true},
            {"channelName":"Odd","value":{"nested":1}},
            {"channelName":"Missing"}
        ]"#;
        let channels: Vec<Channel> = serde_json::from_str(raw).unwrap();
        assert_eq!(channel_value(&channels, "EnergyFeedIn"), Some(12.5));
        assert_eq!(
            channels[1].unit.as_deref(),
            Some("Wh"),
            "unitType is accepted as unit"
        );
        assert_eq!(channel_value(&channels, "EnergyPurchased"), None);
        assert_eq!(channel_value(&channels, "BattSOC"), Some(55.5));
        assert_eq!(channel_value(&channels, "Odd"), None);
        assert_eq!(channel_value(&channels, "Missing"), None);
    }

    #[test]
    fn installation_dates_are_the_plants_own_calendar_day() {
        let day = jiff::civil::date(2015, 4, 20);
        for raw in ["2015-04-20T00:00:00Z", "2015-04-20T00:00:00", "2015-04-20"] {
            assert_eq!(parse_api_date(raw), Some(day), "{raw}");
        }
        assert_eq!(parse_api_date("20150420"), None);
        assert_eq!(parse_api_date(""), None);
    }

    #[test]
    fn batt_mode_is_number_or_string() {
        for (raw, expected) in [
            (r#""1""#, Some(1.0)),
            (r#""1.0""#, Some(1.0)),
            ("0", Some(0.0)),
            ("null", None),
        ] {
            let status: FlowStatus =
                serde_json::from_str(&format!(r#"{{"isOnline":true,"battMode":{raw}}}"#)).unwrap();
            assert_eq!(status.batt_mode, expected, "{raw}");
        }
        let status: FlowStatus = serde_json::from_str("{}").unwrap();
        assert_eq!(status, FlowStatus::default());
    }

    #[test]
    fn minimal_system_and_device_parse() {
        let s: PvSystem =
            serde_json::from_str(r#"{"pvSystemId":"a","peakPower":"7600","extra":[1]}"#).unwrap();
        assert_eq!(s.peak_power, Some(7600.0));
        let d: Device = serde_json::from_str(
            r#"{"deviceType":"Battery","deviceId":"b","maxChargePower":10240.0}"#,
        )
        .unwrap();
        assert_eq!(d.device_type, "Battery");
    }

    #[test]
    fn times_with_and_without_offset() {
        let z = parse_api_time("2025-03-24T16:00:00Z").unwrap();
        assert_eq!(parse_api_time("2025-03-24T16:00:00").unwrap(), z);
        assert_eq!(parse_api_time("2025-03-24T18:00:00+02:00").unwrap(), z);
        assert!(parse_api_time("24.03.2025").is_none());
    }
}
