//! The store operations as DynamoDB calls.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, DeleteRequest, KeysAndAttributes, Put, PutRequest,
    TransactWriteItem, WriteRequest,
};
use moose_store::{
    BatchOp, Condition, Cursor, Direction, Index, Item, Key, Page, Query, SortCondition, Store,
    StoreError, StoreResult, TxOp, validate_batch, validate_condition_on, validate_item,
    validate_key, validate_transaction,
};

use crate::convert::{AttrMap, item_map, key_map, map_err, map_item, to_av};
use crate::{DynamoStore, GSI1};

/// BatchWriteItem's limit.
const BATCH_SIZE: usize = 25;
/// BatchGetItem's limit.
const BATCH_GET_SIZE: usize = 100;
/// Rounds of resending unprocessed batch items before giving up.
const BATCH_RETRIES: u32 = 8;

/// Before resending what a batch call left unprocessed (throttling, or a response's size limit):
/// counts the `round` and waits 100 ms, 200 ms, … (at most 6.4 s); past [`BATCH_RETRIES`]
/// rounds the `left` entries (`what`) are given up as unavailable.
async fn back_off(round: &mut u32, left: usize, what: &str) -> StoreResult<()> {
    *round += 1;
    if *round > BATCH_RETRIES {
        return Err(StoreError::Unavailable {
            message: format!(
                "DynamoDB left {left} {what} unprocessed after {BATCH_RETRIES} retries"
            ),
            source: None,
        });
    }
    tokio::time::sleep(Duration::from_millis(50 * 2u64.pow((*round).min(6)))).await;
    Ok(())
}

/// A condition as an expression with its names and values.
struct Expr {
    text: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

fn condition_expr(condition: &Condition) -> Option<Expr> {
    let (text, names, values) = match condition {
        Condition::None => return None,
        Condition::NotExists => (
            "attribute_not_exists(PK)".to_owned(),
            HashMap::new(),
            HashMap::new(),
        ),
        Condition::Exists => (
            "attribute_exists(PK)".to_owned(),
            HashMap::new(),
            HashMap::new(),
        ),
        Condition::AttributeEquals { name, value } => (
            "#cond_attr = :cond_value".to_owned(),
            HashMap::from([("#cond_attr".to_owned(), name.clone())]),
            HashMap::from([(":cond_value".to_owned(), to_av(value))]),
        ),
    };
    Some(Expr {
        text,
        names,
        values,
    })
}

impl DynamoStore {
    /// After a failed conditional write: a missing item is `NotFound` for conditions that need
    /// it to exist; anything else is a conflict.
    async fn condition_failure(
        &self,
        key: &Key,
        condition: &Condition,
        err: StoreError,
    ) -> StoreError {
        match err {
            StoreError::Conflict { reason, .. } => {
                if matches!(
                    condition,
                    Condition::Exists | Condition::AttributeEquals { .. }
                ) && matches!(self.get(key).await, Ok(None))
                {
                    StoreError::NotFound { key: key.clone() }
                } else {
                    StoreError::Conflict {
                        key: Some(key.clone()),
                        reason,
                    }
                }
            }
            other => other,
        }
    }

    fn encode_cursor(key: &AttrMap) -> Cursor {
        let plain: serde_json::Map<String, serde_json::Value> = key
            .iter()
            .map(|(k, v)| (k.clone(), crate::convert::from_av(v)))
            .collect();
        Cursor(serde_json::Value::Object(plain).to_string())
    }

    fn decode_cursor(cursor: &Cursor) -> StoreResult<AttrMap> {
        let plain: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&cursor.0)
            .map_err(|_| StoreError::InvalidRequest("malformed query cursor".into()))?;
        Ok(plain
            .into_iter()
            .map(|(k, v)| {
                (
                    k,
                    AttributeValue::S(v.as_str().unwrap_or_default().to_owned()),
                )
            })
            .collect())
    }
}

#[async_trait]
impl Store for DynamoStore {
    fn backend(&self) -> &'static str {
        "dynamodb"
    }

    async fn get(&self, key: &Key) -> StoreResult<Option<Item>> {
        validate_key(key)?;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| map_err(e, &self.table))?;
        out.item().map(map_item).transpose()
    }

    async fn batch_get(&self, keys: &[Key]) -> StoreResult<Vec<Option<Item>>> {
        for key in keys {
            validate_key(key)?;
        }
        // BatchGetItem refuses a key named twice in one request: ask for each key once.
        let mut distinct: Vec<&Key> = keys.iter().collect();
        distinct.sort();
        distinct.dedup();
        let mut found: HashMap<Key, Item> = HashMap::with_capacity(distinct.len());
        for chunk in distinct.chunks(BATCH_GET_SIZE) {
            let mut pending: Vec<AttrMap> = chunk.iter().map(|k| key_map(k)).collect();
            let mut round = 0;
            loop {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(pending))
                    .consistent_read(true)
                    .build()
                    .expect("keys set");
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| map_err(e, &self.table))?;
                for raw in out
                    .responses()
                    .and_then(|r| r.get(&self.table))
                    .into_iter()
                    .flatten()
                {
                    let item = map_item(raw)?;
                    found.insert(item.key.clone(), item);
                }
                // Unprocessed keys: throttling, or the 16 MB response limit.
                pending = out
                    .unprocessed_keys()
                    .and_then(|m| m.get(&self.table))
                    .map(|k| k.keys().to_vec())
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                back_off(&mut round, pending.len(), "keys of a batch read").await?;
            }
        }
        Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
    }

    async fn put(&self, item: Item, condition: Condition) -> StoreResult<()> {
        validate_item(&item)?;
        validate_condition_on(&item.key, &condition)?;
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_map(&item)));
        if let Some(e) = condition_expr(&condition) {
            req = req.condition_expression(e.text);
            if !e.names.is_empty() {
                req = req.set_expression_attribute_names(Some(e.names));
            }
            if !e.values.is_empty() {
                req = req.set_expression_attribute_values(Some(e.values));
            }
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(self
                .condition_failure(&item.key, &condition, map_err(e, &self.table))
                .await),
        }
    }

    async fn delete(&self, key: &Key, condition: Condition) -> StoreResult<()> {
        validate_condition_on(key, &condition)?;
        let mut req = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)));
        if let Some(e) = condition_expr(&condition) {
            req = req.condition_expression(e.text);
            if !e.names.is_empty() {
                req = req.set_expression_attribute_names(Some(e.names));
            }
            if !e.values.is_empty() {
                req = req.set_expression_attribute_values(Some(e.values));
            }
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(self
                .condition_failure(key, &condition, map_err(e, &self.table))
                .await),
        }
    }

    async fn query(&self, q: &Query) -> StoreResult<Page> {
        q.validate()?;
        let (pk, sk) = match q.index {
            Index::Primary => ("PK", "SK"),
            Index::Gsi1 => ("GSI1PK", "GSI1SK"),
        };
        let mut names = HashMap::from([("#pk".to_owned(), pk.to_owned())]);
        let mut values =
            HashMap::from([(":pk".to_owned(), AttributeValue::S(q.partition.clone()))]);
        let mut text = "#pk = :pk".to_owned();
        let mut sort = |clause: &str, args: &[&String]| {
            names.insert("#sk".into(), sk.into());
            text.push_str(" AND ");
            text.push_str(clause);
            for (i, a) in args.iter().enumerate() {
                values.insert(format!(":s{i}"), AttributeValue::S((*a).clone()));
            }
        };
        match &q.sort {
            SortCondition::All => {}
            SortCondition::Equals(v) => sort("#sk = :s0", &[v]),
            SortCondition::BeginsWith(p) => sort("begins_with(#sk, :s0)", &[p]),
            SortCondition::Between(lo, hi) => sort("#sk BETWEEN :s0 AND :s1", &[lo, hi]),
            SortCondition::AtLeast(v) => sort("#sk >= :s0", &[v]),
            SortCondition::AtMost(v) => sort("#sk <= :s0", &[v]),
        }
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(text)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(q.direction == Direction::Forward)
            .limit(i32::try_from(q.limit).unwrap_or(i32::MAX));
        req = match q.index {
            // Reads of the table are strongly consistent; a GSI can only be read eventually.
            Index::Primary => req.consistent_read(true),
            Index::Gsi1 => req.index_name(GSI1),
        };
        if let Some(cursor) = &q.start_after {
            req = req.set_exclusive_start_key(Some(Self::decode_cursor(cursor)?));
        }
        let out = req.send().await.map_err(|e| map_err(e, &self.table))?;
        let items = out
            .items()
            .iter()
            .map(map_item)
            .collect::<StoreResult<Vec<_>>>()?;
        let next = out
            .last_evaluated_key()
            .filter(|k| !k.is_empty())
            .map(Self::encode_cursor);
        Ok(Page { items, next })
    }

    async fn scan(&self, start_after: Option<&Cursor>, limit: u32) -> StoreResult<Page> {
        let mut req = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000));
        if let Some(cursor) = start_after {
            req = req.set_exclusive_start_key(Some(Self::decode_cursor(cursor)?));
        }
        let out = req.send().await.map_err(|e| map_err(e, &self.table))?;
        let items = out
            .items()
            .iter()
            .map(map_item)
            .collect::<StoreResult<Vec<_>>>()?;
        let next = out
            .last_evaluated_key()
            .filter(|k| !k.is_empty())
            .map(Self::encode_cursor);
        Ok(Page { items, next })
    }

    async fn batch_write(&self, ops: Vec<BatchOp>) -> StoreResult<()> {
        validate_batch(&ops)?;
        for chunk in ops.chunks(BATCH_SIZE) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|op| match op {
                    BatchOp::Put(item) => WriteRequest::builder()
                        .put_request(
                            PutRequest::builder()
                                .set_item(Some(item_map(item)))
                                .build()
                                .expect("item set"),
                        )
                        .build(),
                    BatchOp::Delete(key) => WriteRequest::builder()
                        .delete_request(
                            DeleteRequest::builder()
                                .set_key(Some(key_map(key)))
                                .build()
                                .expect("key set"),
                        )
                        .build(),
                })
                .collect();
            let mut round = 0;
            while !requests.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| map_err(e, &self.table))?;
                requests = out
                    .unprocessed_items()
                    .and_then(|m| m.get(&self.table))
                    .cloned()
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                back_off(&mut round, requests.len(), "batch writes").await?;
            }
        }
        Ok(())
    }

    async fn transact(&self, ops: Vec<TxOp>) -> StoreResult<()> {
        validate_transaction(&ops)?;
        let items = ops
            .iter()
            .map(|op| {
                let expr = condition_expr(op.condition());
                let (text, names, values) = match expr {
                    Some(e) => (
                        Some(e.text),
                        Some(e.names).filter(|n| !n.is_empty()),
                        Some(e.values).filter(|v| !v.is_empty()),
                    ),
                    None => (None, None, None),
                };
                match op {
                    TxOp::Put { item, .. } => TransactWriteItem::builder()
                        .put(
                            Put::builder()
                                .table_name(&self.table)
                                .set_item(Some(item_map(item)))
                                .set_condition_expression(text)
                                .set_expression_attribute_names(names)
                                .set_expression_attribute_values(values)
                                .build()
                                .expect("put complete"),
                        )
                        .build(),
                    TxOp::Delete { key, .. } => TransactWriteItem::builder()
                        .delete(
                            Delete::builder()
                                .table_name(&self.table)
                                .set_key(Some(key_map(key)))
                                .set_condition_expression(text)
                                .set_expression_attribute_names(names)
                                .set_expression_attribute_values(values)
                                .build()
                                .expect("delete complete"),
                        )
                        .build(),
                    // A check needs an expression; "no condition" is one that always holds.
                    TxOp::Check { key, .. } => TransactWriteItem::builder()
                        .condition_check(
                            ConditionCheck::builder()
                                .table_name(&self.table)
                                .set_key(Some(key_map(key)))
                                .condition_expression(text.unwrap_or_else(|| {
                                    "attribute_exists(PK) OR attribute_not_exists(PK)".into()
                                }))
                                .set_expression_attribute_names(names)
                                .set_expression_attribute_values(values)
                                .build()
                                .expect("check complete"),
                        )
                        .build(),
                }
            })
            .collect();
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| map_err(e, &self.table))
    }

    async fn ping(&self) -> StoreResult<()> {
        self.client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| map_err(e, &self.table))
    }

    async fn close(&self) -> StoreResult<()> {
        Ok(())
    }
}
