//! Conditions, batch operations and transactions.

use std::collections::HashSet;

use serde_json::Value;

use crate::{Item, Key, StoreError, validate_item, validate_key};

/// DynamoDB's limit on operations in one `TransactWriteItems`.
pub const MAX_TRANSACTION_OPS: usize = 100;

/// A precondition on the current state of one item.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Condition {
    /// No precondition.
    #[default]
    None,
    /// The item must not exist (create-only).
    NotExists,
    /// The item must exist.
    Exists,
    /// The item must exist and its attribute `name` must equal `value` (optimistic locking on a
    /// version attribute, state transitions).
    AttributeEquals {
        /// Attribute name (not a reserved one).
        name: String,
        /// Expected value.
        value: Value,
    },
}

/// One operation of a [`crate::Store::batch_write`].
#[derive(Debug, Clone, PartialEq)]
pub enum BatchOp {
    /// Write an item, replacing any existing one.
    Put(Item),
    /// Delete an item if present.
    Delete(Key),
}

impl BatchOp {
    /// The key the operation touches.
    pub fn key(&self) -> &Key {
        match self {
            Self::Put(item) => &item.key,
            Self::Delete(key) => key,
        }
    }
}

/// One operation of a [`crate::Store::transact`].
#[derive(Debug, Clone, PartialEq)]
pub enum TxOp {
    /// Write an item if the condition holds.
    Put {
        /// The item.
        item: Item,
        /// Its precondition.
        condition: Condition,
    },
    /// Delete an item if the condition holds.
    Delete {
        /// The key.
        key: Key,
        /// Its precondition.
        condition: Condition,
    },
    /// Require a condition on an item without writing it.
    Check {
        /// The key.
        key: Key,
        /// The precondition.
        condition: Condition,
    },
}

impl TxOp {
    /// The key the operation touches.
    pub fn key(&self) -> &Key {
        match self {
            Self::Put { item, .. } => &item.key,
            Self::Delete { key, .. } | Self::Check { key, .. } => key,
        }
    }

    /// The operation's precondition.
    pub fn condition(&self) -> &Condition {
        match self {
            Self::Put { condition, .. }
            | Self::Delete { condition, .. }
            | Self::Check { condition, .. } => condition,
        }
    }
}

fn validate_condition(condition: &Condition) -> Result<(), StoreError> {
    if let Condition::AttributeEquals { name, .. } = condition
        && (name.is_empty() || crate::RESERVED_ATTRIBUTES.contains(&name.as_str()))
    {
        return Err(StoreError::InvalidRequest(format!(
            "condition on attribute `{name}` is not allowed"
        )));
    }
    Ok(())
}

/// Checks a single conditional write.
pub fn validate_condition_on(key: &Key, condition: &Condition) -> Result<(), StoreError> {
    validate_key(key)?;
    validate_condition(condition)
}

fn ensure_unique<'a>(keys: impl Iterator<Item = &'a Key>, what: &str) -> Result<(), StoreError> {
    let mut seen = HashSet::new();
    for key in keys {
        if !seen.insert(key) {
            return Err(StoreError::InvalidRequest(format!(
                "{key} appears twice in one {what}"
            )));
        }
    }
    Ok(())
}

/// Checks a batch against the store contract.
pub fn validate_batch(ops: &[BatchOp]) -> Result<(), StoreError> {
    for op in ops {
        match op {
            BatchOp::Put(item) => validate_item(item)?,
            BatchOp::Delete(key) => validate_key(key)?,
        }
    }
    ensure_unique(ops.iter().map(BatchOp::key), "batch")
}

/// Checks a transaction against the store contract.
pub fn validate_transaction(ops: &[TxOp]) -> Result<(), StoreError> {
    if ops.is_empty() || ops.len() > MAX_TRANSACTION_OPS {
        return Err(StoreError::InvalidRequest(format!(
            "a transaction needs 1 to {MAX_TRANSACTION_OPS} operations, got {}",
            ops.len()
        )));
    }
    for op in ops {
        match op {
            TxOp::Put { item, .. } => validate_item(item)?,
            TxOp::Delete { key, .. } | TxOp::Check { key, .. } => validate_key(key)?,
        }
        validate_condition(op.condition())?;
    }
    ensure_unique(ops.iter().map(TxOp::key), "transaction")
}
