//! Small builders for the JSON Schemas of the OpenAPI document (3.1, so plain JSON Schema).
//!
//! Request bodies are closed (`additionalProperties: false`, as the handlers' `deny_unknown_fields`
//! are); response objects list the fields every answer has and leave room for more, so that
//! adding a field is not a breaking change.

use serde_json::{Map, Value, json};

/// A string.
pub(crate) fn string() -> Value {
    json!({"type": "string"})
}

/// A string of `min..=max` characters.
pub(crate) fn text(min: u64, max: u64) -> Value {
    json!({"type": "string", "minLength": min, "maxLength": max})
}

/// One of these strings.
pub(crate) fn one_of(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

/// An integer in `min..=max`.
pub(crate) fn int(min: i64, max: i64) -> Value {
    json!({"type": "integer", "minimum": min, "maximum": max})
}

/// A non-negative integer.
pub(crate) fn count() -> Value {
    json!({"type": "integer", "minimum": 0})
}

/// A number.
pub(crate) fn number() -> Value {
    json!({"type": "number"})
}

/// A boolean.
pub(crate) fn boolean() -> Value {
    json!({"type": "boolean"})
}

/// A calendar date, `2026-06-01`.
pub(crate) fn date() -> Value {
    json!({"type": "string", "format": "date"})
}

/// An RFC 3339 instant, `2026-06-01T10:00:00Z`.
pub(crate) fn instant() -> Value {
    json!({"type": "string", "format": "date-time"})
}

/// Any JSON value.
pub(crate) fn any() -> Value {
    json!({})
}

/// `schema` or `null`.
pub(crate) fn nullable(schema: Value) -> Value {
    keyed(vec![(
        "anyOf",
        Value::Array(vec![schema, json!({"type": "null"})]),
    )])
}

/// An array of `items`.
pub(crate) fn array(items: Value) -> Value {
    keyed(vec![("type", json!("array")), ("items", items)])
}

/// An object whose values are all `values` (a map keyed by strings).
pub(crate) fn map(values: Value) -> Value {
    keyed(vec![
        ("type", json!("object")),
        ("additionalProperties", values),
    ])
}

/// An object of these members, taking them by value.
fn keyed(members: Vec<(&str, Value)>) -> Value {
    Value::Object(properties(members))
}

/// A named component.
pub(crate) fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn properties(props: Vec<(&str, Value)>) -> Map<String, Value> {
    props
        .into_iter()
        .map(|(name, schema)| (name.to_owned(), schema))
        .collect()
}

/// A response object: these fields, `required` always present, others allowed.
pub(crate) fn object(required: &[&str], props: Vec<(&str, Value)>) -> Value {
    json!({"type": "object", "required": required, "properties": properties(props)})
}

/// A request body: these fields, `required` ones mandatory, nothing else accepted.
pub(crate) fn body(required: &[&str], props: Vec<(&str, Value)>) -> Value {
    json!({"type": "object", "required": required, "properties": properties(props), "additionalProperties": false})
}

/// A query parameter.
pub(crate) fn query(name: &str, schema: Value, description: &str) -> Value {
    keyed(vec![
        ("name", json!(name)),
        ("in", json!("query")),
        ("required", json!(false)),
        ("description", json!(description)),
        ("schema", schema),
    ])
}

/// A path parameter.
pub(crate) fn path(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": string()})
}
