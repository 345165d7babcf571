//! The embedded SQLite backend of the Moose store.
//!
//! One database file (`moose.db`) in the data directory, in WAL mode so that readers never
//! block the single writer and a crash never corrupts committed data. The schema is migrated at
//! open from SQL files embedded in the binary. SQLite is synchronous, so every operation runs
//! on tokio's blocking pool; writes go through one connection (SQLite allows one writer at a
//! time anyway, and serialising them here avoids `SQLITE_BUSY` storms), reads through a small
//! pool of read-only connections.
//!
//! No `rusqlite` type appears in this crate's public API.

mod convert;
mod migrate;
mod ops;
mod pool;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use moose_store::{
    BatchOp, Condition, Cursor, Item, Key, Page, Query, Store, StoreError, StoreResult, TxOp,
    validate_batch, validate_condition_on, validate_item, validate_transaction,
};

use crate::pool::Connections;

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "moose.db";

/// The SQLite store. Cheap to clone; clones share connections.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conns: Arc<Connections>,
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `data_dir`, applying pending migrations.
    ///
    /// Fails with [`StoreError::Unavailable`] and an operator-facing message when the directory
    /// cannot be created or written, and with [`StoreError::InvalidRequest`] when the database
    /// was written by a newer Moose.
    pub async fn open(data_dir: impl AsRef<Path>) -> StoreResult<Self> {
        let data_dir = data_dir.as_ref().to_path_buf();
        let conns = tokio::task::spawn_blocking(move || Connections::open(&data_dir))
            .await
            .map_err(|e| StoreError::Other(e.into()))??;
        Ok(Self {
            conns: Arc::new(conns),
        })
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        self.conns.path()
    }

    /// The schema version applied to the database.
    pub async fn schema_version(&self) -> StoreResult<u32> {
        self.conns.read(migrate::current_version).await
    }

    /// The journal mode in effect (`"wal"` in normal operation).
    pub async fn journal_mode(&self) -> StoreResult<String> {
        self.conns
            .read(|conn| {
                conn.query_row("PRAGMA journal_mode", [], |row| row.get::<_, String>(0))
                    .map_err(convert::map_err)
            })
            .await
    }
}

/// The data-directory path of a database file, for messages.
fn describe(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        moose_store::validate_key(key)?;
        let key = key.clone();
        self.conns.read(move |conn| ops::get(conn, &key)).await
    }

    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        for key in keys {
            moose_store::validate_key(key)?;
        }
        let keys = keys.to_vec();
        // All keys in one trip to the blocking pool, on one reader connection: for a point read
        // the hand-off costs more than SQLite's lookup.
        self.conns
            .read(move |conn| keys.iter().map(|key| ops::get(conn, key)).collect())
            .await
    }

    async fn put(&self, item: Item, condition: Condition) -> StoreResult<()> {
        validate_item(&item)?;
        validate_condition_on(&item.key, &condition)?;
        self.conns
            .write(move |conn| ops::put(conn, &item, &condition))
            .await
    }

    async fn delete(&self, key: &Key, condition: Condition) -> StoreResult<()> {
        validate_condition_on(key, &condition)?;
        let key = key.clone();
        self.conns
            .write(move |conn| ops::delete(conn, &key, &condition))
            .await
    }

    async fn query(&self, query: &Query) -> StoreResult<Page> {
        query.validate()?;
        let query = query.clone();
        self.conns.read(move |conn| ops::query(conn, &query)).await
    }

    async fn scan(&self, start_after: Option<&Cursor>, limit: u32) -> StoreResult<Page> {
        let start = start_after.cloned();
        let limit = limit.clamp(1, 1000);
        self.conns
            .read(move |conn| ops::scan(conn, start.as_ref(), limit))
            .await
    }

    async fn batch_write(&self, ops: Vec<BatchOp>) -> StoreResult<()> {
        validate_batch(&ops)?;
        if ops.is_empty() {
            return Ok(());
        }
        self.conns
            .write(move |conn| ops::batch_write(conn, &ops))
            .await
    }

    async fn transact(&self, ops: Vec<TxOp>) -> StoreResult<()> {
        validate_transaction(&ops)?;
        self.conns
            .write(move |conn| ops::transact(conn, &ops))
            .await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.conns.check_file()?;
        self.conns.read(ops::ping).await
    }

    async fn close(&self) -> StoreResult<()> {
        let conns = Arc::clone(&self.conns);
        tokio::task::spawn_blocking(move || conns.close())
            .await
            .map_err(|e| StoreError::Other(e.into()))?
    }
}
