//! Schema migrations, embedded in the binary and applied in order at open.
//!
//! `PRAGMA user_version` records how many migrations have been applied. A database with a
//! higher version than this build knows was written by a newer Moose; we refuse to touch it
//! rather than guess.

use moose_store::StoreError;
use rusqlite::Connection;

use crate::convert::map_err;

/// The migrations, in order. Never edit or reorder a released entry; append a new one.
const MIGRATIONS: &[(&str, &str)] = &[("0001_items", include_str!("../migrations/0001_items.sql"))];

/// The schema version this build writes.
pub(crate) fn latest_version() -> u32 {
    u32::try_from(MIGRATIONS.len()).expect("fewer than 2^32 migrations")
}

pub(crate) fn current_version(conn: &Connection) -> Result<u32, StoreError> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(map_err)
}

/// Applies every pending migration in one transaction.
pub(crate) fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    let current = current_version(conn)?;
    let latest = latest_version();
    if current > latest {
        return Err(StoreError::InvalidRequest(format!(
            "the database schema is version {current} but this Moose only knows up to {latest}; \
             run a newer Moose or restore a backup made by this version"
        )));
    }
    if current == latest {
        return Ok(current);
    }
    let tx = conn.transaction().map_err(map_err)?;
    for (index, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql)
            .map_err(|e| StoreError::Other(format!("migration {name} failed: {e}").into()))?;
        tracing::info!(
            migration = name,
            version = index + 1,
            "applied schema migration"
        );
    }
    tx.pragma_update(None, "user_version", latest)
        .map_err(map_err)?;
    tx.commit().map_err(map_err)?;
    Ok(latest)
}
