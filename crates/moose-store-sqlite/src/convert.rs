//! Mapping between rows and items, and from SQLite errors to store errors.

use moose_store::{Attributes, Item, Key, StoreError};
use rusqlite::{ErrorCode, Row};

/// Maps a SQLite error to the store's semantic errors.
pub(crate) fn map_err(err: rusqlite::Error) -> StoreError {
    match &err {
        rusqlite::Error::SqliteFailure(failure, _) => match failure.code {
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                StoreError::unavailable("the database is locked by another writer", err)
            }
            ErrorCode::DiskFull => {
                StoreError::unavailable("the disk holding the database is full", err)
            }
            ErrorCode::SystemIoFailure
            | ErrorCode::CannotOpen
            | ErrorCode::ReadOnly
            | ErrorCode::PermissionDenied
            | ErrorCode::OutOfMemory => StoreError::unavailable("the database cannot be used", err),
            _ => StoreError::Other(err.into()),
        },
        _ => StoreError::Other(err.into()),
    }
}

/// Column order every item query selects.
pub(crate) const ITEM_COLUMNS: &str = "pk, sk, gsi1pk, gsi1sk, ts, attrs";

/// Decodes a row selected with [`ITEM_COLUMNS`].
pub(crate) fn row_to_item(row: &Row<'_>) -> Result<Item, StoreError> {
    let get = |i: usize| -> Result<Option<String>, StoreError> { row.get(i).map_err(map_err) };
    let key = Key::new(get(0)?.unwrap_or_default(), get(1)?.unwrap_or_default());
    let gsi1 = match (get(2)?, get(3)?) {
        (Some(pk), Some(sk)) => Some(Key::new(pk, sk)),
        _ => None,
    };
    let ts = get(4)?.unwrap_or_default();
    let timestamp = moose_domain::time::parse_utc(&ts).map_err(|e| StoreError::Corrupt {
        key: key.clone(),
        reason: format!("timestamp {ts:?}: {e}"),
    })?;
    let raw = get(5)?.unwrap_or_default();
    let attrs: Attributes = serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt {
        key: key.clone(),
        reason: format!("attributes: {e}"),
    })?;
    Ok(Item {
        key,
        gsi1,
        timestamp,
        attrs,
    })
}

/// The attributes as stored (JSON text).
pub(crate) fn attrs_json(item: &Item) -> String {
    serde_json::to_string(&item.attrs).expect("a JSON map always serialises")
}
