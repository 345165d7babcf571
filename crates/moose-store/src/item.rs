//! Keys, items, and the size and naming rules every backend enforces identically.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An item's attributes other than its keys and `timestamp`: a JSON object, stored as
/// top-level attributes on DynamoDB and as a JSON document on SQLite.
pub type Attributes = Map<String, Value>;

/// DynamoDB's item size limit ("400 KB"), read as 400,000 bytes: the stricter reading, which
/// moto's DynamoDB also applies. Backends reject larger items so that every backend behaves the same.
pub const MAX_ITEM_BYTES: usize = 400_000;
/// DynamoDB's sort-key size limit (the partition key allows 2048; we use the stricter one for both).
pub const MAX_KEY_BYTES: usize = 1024;
/// Attribute names that backends own: key columns, the index columns and `timestamp`.
pub const RESERVED_ATTRIBUTES: [&str; 5] = ["PK", "SK", "GSI1PK", "GSI1SK", "timestamp"];

/// The primary key of an item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Key {
    /// Partition key (`PK`).
    pub pk: String,
    /// Sort key (`SK`).
    pub sk: String,
}

impl Key {
    /// Builds a key from its two parts.
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(PK={}, SK={})", self.pk, self.sk)
    }
}

/// One stored item.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Primary key.
    pub key: Key,
    /// Optional secondary-index key (`GSI1PK`, `GSI1SK`); items without it are not indexed.
    pub gsi1: Option<Key>,
    /// When the item was last written, stored as the ISO-8601 UTC `timestamp` attribute.
    pub timestamp: Timestamp,
    /// Everything else.
    pub attrs: Attributes,
}

impl Item {
    /// A new item stamped with the current time (to the millisecond, the precision stores keep).
    pub fn new(key: Key, attrs: Attributes) -> Self {
        Self {
            key,
            gsi1: None,
            timestamp: to_millis(Timestamp::now()),
            attrs,
        }
    }

    /// Adds a secondary-index key.
    #[must_use]
    pub fn with_gsi1(mut self, pk: impl Into<String>, sk: impl Into<String>) -> Self {
        self.gsi1 = Some(Key::new(pk, sk));
        self
    }

    /// Overrides the timestamp (truncated to the millisecond, the precision stores keep).
    #[must_use]
    pub fn with_timestamp(mut self, timestamp: Timestamp) -> Self {
        self.timestamp = to_millis(timestamp);
        self
    }

    /// A string attribute, if present and a string.
    pub fn str_attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).and_then(Value::as_str)
    }

    /// The item's size as DynamoDB counts it, closely enough to enforce [`MAX_ITEM_BYTES`]:
    /// attribute names plus the UTF-8 length of values (numbers and JSON structure are
    /// approximated by their JSON text, which is never smaller than DynamoDB's encoding).
    pub fn size_bytes(&self) -> usize {
        let keys = 2 + self.key.pk.len() + 2 + self.key.sk.len();
        let gsi = self
            .gsi1
            .as_ref()
            .map_or(0, |k| 6 + k.pk.len() + 6 + k.sk.len());
        let attrs: usize = self
            .attrs
            .iter()
            .map(|(name, value)| name.len() + json_len(value))
            .sum();
        keys + gsi + "timestamp".len() + 24 + attrs
    }
}

/// Truncates to whole milliseconds, the precision of the stored `timestamp` attribute.
pub fn to_millis(ts: Timestamp) -> Timestamp {
    Timestamp::from_millisecond(ts.as_millisecond()).unwrap_or(ts)
}

fn json_len(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len(),
        other => other.to_string().len(),
    }
}

/// Checks a key against the store contract.
pub fn validate_key(key: &Key) -> Result<(), crate::StoreError> {
    for (name, part) in [("PK", &key.pk), ("SK", &key.sk)] {
        if part.is_empty() {
            return Err(crate::StoreError::InvalidRequest(format!(
                "{name} must not be empty"
            )));
        }
        if part.len() > MAX_KEY_BYTES {
            return Err(crate::StoreError::InvalidRequest(format!(
                "{name} is {} bytes; at most {MAX_KEY_BYTES} are allowed",
                part.len()
            )));
        }
    }
    Ok(())
}

/// Checks an item against the store contract (keys, reserved names, size).
pub fn validate_item(item: &Item) -> Result<(), crate::StoreError> {
    validate_key(&item.key)?;
    if let Some(gsi) = &item.gsi1 {
        validate_key(gsi)?;
    }
    if let Some(name) = RESERVED_ATTRIBUTES
        .iter()
        .find(|name| item.attrs.contains_key(**name))
    {
        return Err(crate::StoreError::InvalidRequest(format!(
            "attribute `{name}` is reserved for the store; set it through the item's fields"
        )));
    }
    let size = item.size_bytes();
    if size > MAX_ITEM_BYTES {
        return Err(crate::StoreError::InvalidRequest(format!(
            "item {} is {size} bytes; at most {MAX_ITEM_BYTES} are allowed",
            item.key
        )));
    }
    Ok(())
}
