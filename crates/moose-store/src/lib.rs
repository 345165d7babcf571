//! The storage trait every Moose component is written against.
//!
//! The model is DynamoDB's single table: items addressed by a string partition key (`PK`) and
//! sort key (`SK`), read one at a time or as a sorted range of one partition, written one at a
//! time (optionally conditional), in unordered batches, or in small all-or-nothing
//! transactions. One secondary index (`GSI1PK`/`GSI1SK`) serves the access patterns a
//! partition cannot (for example "user by e-mail"). Anything SQLite can also do but DynamoDB
//! cannot (joins, ad-hoc filters, unbounded transactions) is deliberately absent, so that code
//! written against [`Store`] runs unchanged on both backends.
//!
//! This crate has no backend dependencies. Backends live in their own crates and must pass the
//! conformance suite in `moose-store-tests`.

pub mod codec;
mod error;
mod item;
mod query;
mod write;

use async_trait::async_trait;

pub use error::{BoxError, StoreError};
pub use item::{
    Attributes, Item, Key, MAX_ITEM_BYTES, MAX_KEY_BYTES, RESERVED_ATTRIBUTES, to_millis,
    validate_item, validate_key,
};
pub use query::{Cursor, Direction, Index, Page, Query, SortCondition};
pub use write::{
    BatchOp, Condition, MAX_TRANSACTION_OPS, TxOp, validate_batch, validate_condition_on,
    validate_transaction,
};

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// A Moose store: DynamoDB-shaped single-table storage.
///
/// # Contract
/// Every backend must behave identically on these points (the conformance suite checks each):
/// - Items larger than [`MAX_ITEM_BYTES`] (as measured by [`Item::size_bytes`]), keys longer than
///   [`MAX_KEY_BYTES`], empty keys, or attributes named like a key column are rejected with
///   [`StoreError::InvalidRequest`] before anything is written.
/// - [`Store::put`] and [`Store::delete`] with [`Condition::Exists`] on a missing item fail with
///   [`StoreError::NotFound`]; every other unmet condition fails with [`StoreError::Conflict`].
/// - [`Store::query`] returns items in byte order of `SK` (or `GSI1SK` on the index), ascending
///   or descending; a page may hold fewer than `limit` items even when more exist, so callers
///   follow [`Page::next`] until it is `None`. Every matching item appears exactly once across
///   the pages of one query, provided nothing is written meanwhile.
/// - [`Store::batch_write`] applies each operation independently and idempotently (no
///   conditions); it fails only if some operation could not be applied after retries, and then
///   nothing is claimed about which ones were. A key may appear once per batch.
/// - [`Store::transact`] applies all operations or none, at most [`MAX_TRANSACTION_OPS`]
///   operations, each key at most once. Conditions are evaluated against the state before the
///   transaction; any unmet condition (including a missing item) fails the whole transaction
///   with [`StoreError::Conflict`] (DynamoDB does not say more).
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// A short name of the backend, for logs and the readiness report (`"sqlite"`, …).
    fn backend(&self) -> &'static str;

    /// Reads one item.
    async fn get(&self, key: &Key) -> StoreResult<Option<Item>>;

    /// Reads the items at `keys`: one entry per key, in the same order, `None` where there is
    /// no item. Not a consistent snapshot: each item is as a [`Store::get`] would have read it
    /// at some moment during the call. Backends read many keys in one round trip where they
    /// can; this default reads them one after another.
    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        let mut items = Vec::with_capacity(keys.len());
        for key in keys {
            items.push(self.get(key).await?);
        }
        Ok(items)
    }

    /// Writes one item, replacing any item with the same key, if `condition` holds.
    async fn put(&self, item: Item, condition: Condition) -> StoreResult<()>;

    /// Deletes one item if `condition` holds. Deleting a missing item with
    /// [`Condition::None`] succeeds.
    async fn delete(&self, key: &Key, condition: Condition) -> StoreResult<()>;

    /// Reads one page of a partition (or of a GSI1 partition), in sort-key order.
    async fn query(&self, query: &Query) -> StoreResult<Page>;

    /// Reads one page of every item in the store (backups, migrations), in an order of the
    /// backend's choosing that is stable across pages; start with `None` and follow
    /// [`Page::next`]. Every item appears exactly once across the pages of one scan, provided
    /// nothing is written meanwhile. Never on a request path: it reads the whole table.
    async fn scan(&self, start_after: Option<&Cursor>, limit: u32) -> StoreResult<Page>;

    /// Applies unconditional puts and deletes, chunked and retried by the backend as needed.
    async fn batch_write(&self, ops: Vec<BatchOp>) -> StoreResult<()>;

    /// Applies up to [`MAX_TRANSACTION_OPS`] conditional operations atomically.
    async fn transact(&self, ops: Vec<TxOp>) -> StoreResult<()>;

    /// Checks that the store is reachable and usable, cheaply. Used by readiness checks.
    async fn ping(&self) -> StoreResult<()>;

    /// Flushes and releases resources. Later calls may fail with [`StoreError::Unavailable`].
    async fn close(&self) -> StoreResult<()>;
}

/// Conveniences built on [`Store`]'s primitives. Implemented for every store; do not implement
/// it yourself.
#[async_trait]
pub trait StoreExt: Store {
    /// Reads one item, failing with [`StoreError::NotFound`] if it does not exist.
    async fn get_required(&self, key: &Key) -> StoreResult<Item> {
        self.get(key)
            .await?
            .ok_or_else(|| StoreError::NotFound { key: key.clone() })
    }

    /// Follows every page of `query` and returns all matching items.
    ///
    /// Only for partitions known to be small; large ranges should be paged by the caller.
    async fn query_all(&self, query: &Query) -> StoreResult<Vec<Item>> {
        let mut query = query.clone();
        let mut items = Vec::new();
        loop {
            let page = self.query(&query).await?;
            items.extend(page.items);
            match page.next {
                Some(cursor) => query.start_after = Some(cursor),
                None => return Ok(items),
            }
        }
    }
}

impl<S: Store + ?Sized> StoreExt for S {}
