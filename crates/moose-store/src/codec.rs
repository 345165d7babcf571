//! Typed items: serde values as item attributes, and the `version` attribute that makes
//! read-modify-write safe against concurrent writers (optimistic concurrency).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::{Attributes, Condition, Item, Key, StoreError, TxOp};

/// The attribute holding an item's version (absent: 0).
pub const VERSION: &str = "version";

/// A value's fields as attributes; it must serialise to a JSON object.
pub fn to_attrs(value: &impl Serialize) -> Result<Attributes, StoreError> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(StoreError::Other(
            "an item must serialise to a JSON object".into(),
        )),
        Err(e) => Err(StoreError::Other(e.into())),
    }
}

/// An item's attributes as a value, with the item's version; `Corrupt` (naming the key) if
/// they do not fit. Takes the item by value so large attributes are moved, not copied.
pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<(T, u64), StoreError> {
    let version = item.attrs.get(VERSION).and_then(Value::as_u64).unwrap_or(0);
    let key = item.key;
    serde_json::from_value(Value::Object(item.attrs))
        .map(|v| (v, version))
        .map_err(|e| StoreError::Corrupt {
            key,
            reason: e.to_string(),
        })
}

/// An item's attributes as a value, without its version; `Corrupt` (naming the key) if they do
/// not fit.
pub fn decode<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    from_item(item).map(|(value, _)| value)
}

/// The put of the next version of `value`, read at `version` (0: it did not exist): it fails
/// with `Conflict` if another writer got there first.
pub fn versioned_put(key: Key, value: &impl Serialize, version: u64) -> Result<TxOp, StoreError> {
    let mut attrs = to_attrs(value)?;
    attrs.insert(VERSION.into(), json!(version + 1));
    Ok(TxOp::Put {
        item: Item::new(key, attrs),
        condition: version_condition(version),
    })
}

/// The condition that an item is still at `version` (0: does not exist).
pub fn version_condition(version: u64) -> Condition {
    if version == 0 {
        Condition::NotExists
    } else {
        Condition::AttributeEquals {
            name: VERSION.into(),
            value: json!(version),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Thing {
        name: String,
    }

    #[test]
    fn values_round_trip_with_their_version() {
        let key = Key::new("P", "S");
        let TxOp::Put { item, condition } =
            versioned_put(key.clone(), &Thing { name: "a".into() }, 0).unwrap()
        else {
            panic!("a put")
        };
        assert_eq!(condition, Condition::NotExists);
        let (thing, version): (Thing, u64) = from_item(item).unwrap();
        assert_eq!((thing.name.as_str(), version), ("a", 1));
        assert!(matches!(
            version_condition(3),
            Condition::AttributeEquals { value, .. } if value == json!(3)
        ));
        assert!(to_attrs(&5).is_err(), "a number is not an item");
        let bad = Item::new(key, to_attrs(&json!({"other": 1})).unwrap());
        assert!(matches!(
            from_item::<Thing>(bad),
            Err(StoreError::Corrupt { .. })
        ));
    }
}
