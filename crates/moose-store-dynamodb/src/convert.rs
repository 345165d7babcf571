//! Items ↔ DynamoDB attribute maps, and SDK errors → store errors.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use moose_store::{Item, Key, StoreError};
use serde_json::{Map, Number, Value};

pub(crate) type AttrMap = HashMap<String, AttributeValue>;

/// A JSON value as a DynamoDB attribute.
pub(crate) fn to_av(value: &Value) -> AttributeValue {
    match value {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => AttributeValue::N(n.to_string()),
        Value::String(s) => AttributeValue::S(s.clone()),
        Value::Array(items) => AttributeValue::L(items.iter().map(to_av).collect()),
        Value::Object(map) => {
            AttributeValue::M(map.iter().map(|(k, v)| (k.clone(), to_av(v))).collect())
        }
    }
}

/// A DynamoDB attribute as JSON (sets become arrays; binary becomes nothing useful: Moose never
/// writes either).
pub(crate) fn from_av(av: &AttributeValue) -> Value {
    match av {
        AttributeValue::S(s) => Value::String(s.clone()),
        AttributeValue::N(n) => n
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| n.parse::<u64>().map(Value::from))
            .unwrap_or_else(|_| {
                n.parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }),
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::L(items) => Value::Array(items.iter().map(from_av).collect()),
        AttributeValue::M(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), from_av(v))).collect())
        }
        AttributeValue::Ss(v) => Value::Array(v.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(v) => Value::Array(
            v.iter()
                .map(|n| from_av(&AttributeValue::N(n.clone())))
                .collect(),
        ),
        _ => Value::Null,
    }
}

/// The key attributes of a key.
pub(crate) fn key_map(key: &Key) -> AttrMap {
    HashMap::from([
        ("PK".to_owned(), AttributeValue::S(key.pk.clone())),
        ("SK".to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

/// An item as a DynamoDB attribute map.
pub(crate) fn item_map(item: &Item) -> AttrMap {
    let mut map = key_map(&item.key);
    map.insert(
        "timestamp".into(),
        AttributeValue::S(moose_domain::time::format_utc(item.timestamp)),
    );
    if let Some(gsi) = &item.gsi1 {
        map.insert("GSI1PK".into(), AttributeValue::S(gsi.pk.clone()));
        map.insert("GSI1SK".into(), AttributeValue::S(gsi.sk.clone()));
    }
    for (k, v) in &item.attrs {
        map.insert(k.clone(), to_av(v));
    }
    map
}

fn string(map: &AttrMap, name: &str) -> Option<String> {
    match map.get(name) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    }
}

/// A DynamoDB attribute map as an item.
pub(crate) fn map_item(map: &AttrMap) -> Result<Item, StoreError> {
    let key = Key::new(
        string(map, "PK").unwrap_or_default(),
        string(map, "SK").unwrap_or_default(),
    );
    let ts = string(map, "timestamp").unwrap_or_default();
    let timestamp = moose_domain::time::parse_utc(&ts).map_err(|e| StoreError::Corrupt {
        key: key.clone(),
        reason: format!("timestamp {ts:?}: {e}"),
    })?;
    let gsi1 = string(map, "GSI1PK")
        .zip(string(map, "GSI1SK"))
        .map(|(pk, sk)| Key::new(pk, sk));
    let attrs: Map<String, Value> = map
        .iter()
        .filter(|(k, _)| !moose_store::RESERVED_ATTRIBUTES.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), from_av(v)))
        .collect();
    Ok(Item {
        key,
        gsi1,
        timestamp,
        attrs,
    })
}

/// What the store's caller should hear about an SDK failure.
pub(crate) fn map_err<E, R>(err: SdkError<E, R>, table: &str) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default().to_owned();
            let message = service.err().message().unwrap_or_default().to_owned();
            match code.as_str() {
                "ConditionalCheckFailedException"
                | "TransactionCanceledException"
                | "TransactionConflictException" => StoreError::Conflict {
                    key: None,
                    reason: format!("{code}: {message}"),
                },
                "ValidationException" => {
                    StoreError::InvalidRequest(format!("DynamoDB refused the request: {message}"))
                }
                "ResourceNotFoundException" => StoreError::unavailable(
                    format!(
                        "the DynamoDB table {table} does not exist; create it with `moose table create`"
                    ),
                    err,
                ),
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "InternalServerError"
                | "ServiceUnavailable" => StoreError::unavailable(
                    format!("DynamoDB is throttling or failing ({code})"),
                    err,
                ),
                _ => StoreError::Other(Box::new(err)),
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::unavailable("cannot reach DynamoDB", err)
        }
        _ => StoreError::Other(Box::new(err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_through_attributes() {
        let v = serde_json::json!({"s": "x", "i": -3, "u": 18_446_744_073_709_551_615_u64, "f": 2.5, "b": true, "n": null,
                                   "l": [1, "a", {"k": [false]}], "m": {"deep": {"x": 1.25}}, "e": ""});
        let back: Value = Value::Object(
            v.as_object()
                .unwrap()
                .iter()
                .map(|(k, x)| (k.clone(), from_av(&to_av(x))))
                .collect(),
        );
        assert_eq!(back, v);
    }
}
