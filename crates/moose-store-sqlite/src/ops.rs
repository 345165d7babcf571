//! The store operations, as SQL over one connection.

use moose_store::{
    BatchOp, Condition, Cursor, Direction, Index, Item, Key, Page, Query, SortCondition,
    StoreError, StoreResult, TxOp,
};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::convert::{ITEM_COLUMNS, attrs_json, map_err, row_to_item};

const UPSERT: &str = "INSERT INTO items (pk, sk, gsi1pk, gsi1sk, ts, attrs) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
     ON CONFLICT (pk, sk) DO UPDATE SET gsi1pk = excluded.gsi1pk, gsi1sk = excluded.gsi1sk, \
     ts = excluded.ts, attrs = excluded.attrs";
const DELETE: &str = "DELETE FROM items WHERE pk = ?1 AND sk = ?2";

pub(crate) fn get(conn: &Connection, key: &Key) -> StoreResult<Option<Item>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE pk = ?1 AND sk = ?2"
        ))
        .map_err(map_err)?;
    let mut rows = stmt.query(params![key.pk, key.sk]).map_err(map_err)?;
    match rows.next().map_err(map_err)? {
        Some(row) => row_to_item(row).map(Some),
        None => Ok(None),
    }
}

fn upsert(conn: &Connection, item: &Item) -> StoreResult<()> {
    let (gpk, gsk) = item
        .gsi1
        .as_ref()
        .map(|k| (k.pk.as_str(), k.sk.as_str()))
        .unzip();
    conn.prepare_cached(UPSERT)
        .and_then(|mut stmt| {
            stmt.execute(params![
                item.key.pk,
                item.key.sk,
                gpk,
                gsk,
                moose_domain::time::format_utc(item.timestamp),
                attrs_json(item)
            ])
        })
        .map_err(map_err)?;
    Ok(())
}

fn remove(conn: &Connection, key: &Key) -> StoreResult<()> {
    conn.prepare_cached(DELETE)
        .and_then(|mut stmt| stmt.execute(params![key.pk, key.sk]))
        .map_err(map_err)?;
    Ok(())
}

/// Checks `condition` against the item's current attributes (inside the caller's transaction).
fn check(conn: &Connection, key: &Key, condition: &Condition) -> StoreResult<()> {
    if matches!(condition, Condition::None) {
        return Ok(());
    }
    // Only the attribute a condition names is read (as JSON text, via SQLite's `->`), never the
    // whole item: day items are kilobytes, and a version check must not parse them.
    let path = match condition {
        Condition::AttributeEquals { name, .. } => format!("$.\"{}\"", name.replace('"', "\\\"")),
        _ => "$.__none__".to_owned(),
    };
    let current: Option<Option<String>> = conn
        .prepare_cached("SELECT attrs -> ?3 FROM items WHERE pk = ?1 AND sk = ?2")
        .and_then(|mut stmt| {
            stmt.query_row(params![key.pk, key.sk, path], |row| row.get(0))
                .optional()
        })
        .map_err(map_err)?;
    let conflict = |reason: String| StoreError::Conflict {
        key: Some(key.clone()),
        reason,
    };
    match (condition, current) {
        (Condition::None, _) | (Condition::NotExists, None) | (Condition::Exists, Some(_)) => {
            Ok(())
        }
        (Condition::NotExists, Some(_)) => Err(conflict("the item already exists".into())),
        (Condition::Exists | Condition::AttributeEquals { .. }, None) => {
            Err(StoreError::NotFound { key: key.clone() })
        }
        (Condition::AttributeEquals { name, value }, Some(raw)) => {
            let actual: Option<serde_json::Value> = raw
                .map(|text| serde_json::from_str(&text))
                .transpose()
                .map_err(|e| StoreError::Corrupt {
                    key: key.clone(),
                    reason: e.to_string(),
                })?;
            match actual {
                Some(actual) if &actual == value => Ok(()),
                Some(actual) => Err(conflict(format!("`{name}` is {actual}, expected {value}"))),
                None => Err(conflict(format!("`{name}` is not set, expected {value}"))),
            }
        }
    }
}

fn immediate(conn: &mut Connection) -> StoreResult<Transaction<'_>> {
    conn.transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)
}

pub(crate) fn put(conn: &mut Connection, item: &Item, condition: &Condition) -> StoreResult<()> {
    let tx = immediate(conn)?;
    check(&tx, &item.key, condition)?;
    upsert(&tx, item)?;
    tx.commit().map_err(map_err)
}

pub(crate) fn delete(conn: &mut Connection, key: &Key, condition: &Condition) -> StoreResult<()> {
    let tx = immediate(conn)?;
    check(&tx, key, condition)?;
    remove(&tx, key)?;
    tx.commit().map_err(map_err)
}

pub(crate) fn batch_write(conn: &mut Connection, ops: &[BatchOp]) -> StoreResult<()> {
    let tx = immediate(conn)?;
    for op in ops {
        match op {
            BatchOp::Put(item) => upsert(&tx, item)?,
            BatchOp::Delete(key) => remove(&tx, key)?,
        }
    }
    tx.commit().map_err(map_err)
}

pub(crate) fn transact(conn: &mut Connection, ops: &[TxOp]) -> StoreResult<()> {
    let tx = immediate(conn)?;
    // Check every condition before the first write, as DynamoDB does: conditions see the state
    // before the transaction, never each other's effects.
    for (index, op) in ops.iter().enumerate() {
        check(&tx, op.key(), op.condition()).map_err(|e| match e {
            StoreError::Conflict { key, reason } => StoreError::Conflict {
                key,
                reason: format!("operation {index}: {reason}"),
            },
            StoreError::NotFound { key } => StoreError::Conflict {
                reason: format!("operation {index}: the item does not exist"),
                key: Some(key),
            },
            other => other,
        })?;
    }
    for op in ops {
        match op {
            TxOp::Put { item, .. } => upsert(&tx, item)?,
            TxOp::Delete { key, .. } => remove(&tx, key)?,
            TxOp::Check { .. } => {}
        }
    }
    tx.commit().map_err(map_err)
}

pub(crate) fn ping(conn: &Connection) -> StoreResult<()> {
    conn.query_row(
        "SELECT count(*) FROM (SELECT 1 FROM items LIMIT 1)",
        [],
        |row| row.get::<_, i64>(0),
    )
    .map_err(map_err)?;
    Ok(())
}

/// The position of an item in a query, encoded as the cursor: the sort columns as a JSON array.
fn cursor_for(index: Index, item: &Item) -> Cursor {
    let parts = match (index, &item.gsi1) {
        (Index::Gsi1, Some(gsi)) => {
            vec![gsi.sk.as_str(), item.key.pk.as_str(), item.key.sk.as_str()]
        }
        _ => vec![item.key.sk.as_str()],
    };
    Cursor(serde_json::to_string(&parts).expect("strings serialise"))
}

fn decode_cursor(index: Index, cursor: &Cursor) -> StoreResult<Vec<String>> {
    let parts: Vec<String> = serde_json::from_str(&cursor.0)
        .map_err(|_| StoreError::InvalidRequest("malformed query cursor".into()))?;
    let expected = if index == Index::Gsi1 { 3 } else { 1 };
    if parts.len() != expected {
        return Err(StoreError::InvalidRequest(
            "query cursor belongs to another index".into(),
        ));
    }
    Ok(parts)
}

/// One page of every item, in `(pk, sk)` order.
pub(crate) fn scan(conn: &Connection, start: Option<&Cursor>, limit: u32) -> StoreResult<Page> {
    let after: Option<(String, String)> = match start {
        Some(c) => Some(
            serde_json::from_str(&c.0)
                .map_err(|_| StoreError::InvalidRequest("malformed scan cursor".into()))?,
        ),
        None => None,
    };
    let sql = match after {
        Some(_) => format!(
            "SELECT {ITEM_COLUMNS} FROM items WHERE (pk, sk) > (?1, ?2) ORDER BY pk, sk LIMIT {}",
            limit + 1
        ),
        None => format!(
            "SELECT {ITEM_COLUMNS} FROM items ORDER BY pk, sk LIMIT {}",
            limit + 1
        ),
    };
    let mut stmt = conn.prepare_cached(&sql).map_err(map_err)?;
    let mut rows = match &after {
        Some((pk, sk)) => stmt.query(rusqlite::params![pk, sk]),
        None => stmt.query([]),
    }
    .map_err(map_err)?;
    let mut items = Vec::new();
    while let Some(row) = rows.next().map_err(map_err)? {
        items.push(row_to_item(row)?);
    }
    let next = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|last| {
            Cursor(serde_json::to_string(&(&last.key.pk, &last.key.sk)).unwrap_or_default())
        })
    } else {
        None
    };
    Ok(Page { items, next })
}

pub(crate) fn query(conn: &Connection, q: &Query) -> StoreResult<Page> {
    let (part_col, sort_col, order_cols) = match q.index {
        Index::Primary => ("pk", "sk", vec!["sk"]),
        Index::Gsi1 => ("gsi1pk", "gsi1sk", vec!["gsi1sk", "pk", "sk"]),
    };
    let mut sql = format!("SELECT {ITEM_COLUMNS} FROM items WHERE {part_col} = ?");
    let mut args: Vec<SqlValue> = vec![SqlValue::Text(q.partition.clone())];
    let mut bind = |sql: &mut String, clause: &str, values: &[&str]| {
        sql.push_str(clause);
        args.extend(values.iter().map(|v| SqlValue::Text((*v).to_owned())));
    };
    match &q.sort {
        SortCondition::All => {}
        SortCondition::Equals(v) => bind(&mut sql, &format!(" AND {sort_col} = ?"), &[v]),
        SortCondition::BeginsWith(p) => bind(
            &mut sql,
            &format!(" AND {sort_col} >= ? AND substr({sort_col}, 1, length(?)) = ?"),
            &[p, p, p],
        ),
        SortCondition::Between(lo, hi) => {
            bind(
                &mut sql,
                &format!(" AND {sort_col} BETWEEN ? AND ?"),
                &[lo, hi],
            );
        }
        SortCondition::AtLeast(v) => bind(&mut sql, &format!(" AND {sort_col} >= ?"), &[v]),
        SortCondition::AtMost(v) => bind(&mut sql, &format!(" AND {sort_col} <= ?"), &[v]),
    }
    let (cmp, order) = match q.direction {
        Direction::Forward => (">", "ASC"),
        Direction::Backward => ("<", "DESC"),
    };
    if let Some(cursor) = &q.start_after {
        let parts = decode_cursor(q.index, cursor)?;
        let placeholders = vec!["?"; parts.len()].join(", ");
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        bind(
            &mut sql,
            &format!(" AND ({}) {cmp} ({placeholders})", order_cols.join(", ")),
            &refs,
        );
    }
    let order_by: Vec<String> = order_cols.iter().map(|c| format!("{c} {order}")).collect();
    sql.push_str(&format!(
        " ORDER BY {} LIMIT {}",
        order_by.join(", "),
        q.limit + 1
    ));

    let mut stmt = conn.prepare_cached(&sql).map_err(map_err)?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(args))
        .map_err(map_err)?;
    let mut items = Vec::new();
    while let Some(row) = rows.next().map_err(map_err)? {
        items.push(row_to_item(row)?);
    }
    // We fetched one extra row to learn whether another page exists without an empty round trip.
    let next = if items.len() > q.limit as usize {
        items.truncate(q.limit as usize);
        items.last().map(|item| cursor_for(q.index, item))
    } else {
        None
    };
    Ok(Page { items, next })
}
