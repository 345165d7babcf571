//! The scenarios. Each panics with a message naming the broken promise.

use std::sync::atomic::{AtomicU64, Ordering};

use moose_store::{
    Attributes, BatchOp, Condition, Item, Key, MAX_ITEM_BYTES, MAX_TRANSACTION_OPS, Query,
    SortCondition, Store, StoreError, StoreExt, TxOp,
};
use serde_json::{Value, json};

/// A fresh partition-name prefix, unique within and across test runs.
fn scope() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = jiff::Timestamp::now().as_nanosecond();
    format!(
        "T{nanos:x}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn attrs(value: Value) -> Attributes {
    match value {
        Value::Object(map) => map,
        other => panic!("attributes must be an object, got {other}"),
    }
}

fn item(pk: &str, sk: &str, value: Value) -> Item {
    Item::new(Key::new(pk, sk), attrs(value))
}

fn sks(items: &[Item]) -> Vec<&str> {
    items.iter().map(|i| i.key.sk.as_str()).collect()
}

/// A written item reads back identical: keys, index keys, timestamp (ms) and nested attributes.
pub async fn put_then_get_round_trips(store: &dyn Store) {
    let pk = format!("{}#System#a", scope());
    let ts: jiff::Timestamp = "2026-03-07T10:15:30.123Z".parse().unwrap();
    let written = item(
        &pk,
        "STATUS",
        json!({
            "state": "online", "peak_w": 9800.5, "count": 3, "active": true, "note": null,
            "devices": [{"id": "d1", "ok": true}, {"id": "d2", "ok": false}],
            "nested": {"deep": {"unicode": "Wels – Österreich ☀"}}
        }),
    )
    .with_gsi1("Systems", format!("{pk}#x"))
    .with_timestamp(ts);
    store
        .put(written.clone(), Condition::None)
        .await
        .expect("put");
    let read = store
        .get(&written.key)
        .await
        .expect("get")
        .expect("item exists after put");
    assert_eq!(read, written, "item must round-trip unchanged");
    assert_eq!(read.timestamp, ts, "timestamp keeps millisecond precision");
}

/// Reading a missing key is not an error.
pub async fn get_missing_is_none(store: &dyn Store) {
    let key = Key::new(format!("{}#nothing", scope()), "META");
    assert!(store.get(&key).await.expect("get").is_none());
    let err = store
        .get_required(&key)
        .await
        .expect_err("get_required on a missing item");
    assert!(
        matches!(err, StoreError::NotFound { .. }),
        "expected NotFound, got {err:?}"
    );
}

/// `batch_get` answers one entry per key in the order asked, `None` for missing keys, the
/// same items `get` reads; an empty list is an empty answer; an invalid key is refused.
pub async fn batch_get_answers_in_key_order(store: &dyn Store) {
    let pk = format!("{}#System#b", scope());
    // 60 items and 60 missing keys: more than one DynamoDB BatchGetItem request (100 keys).
    let written: Vec<Item> = (0..60)
        .map(|i| item(&pk, &format!("DAY#{i:03}"), json!({"n": i})))
        .collect();
    for w in &written {
        store.put(w.clone(), Condition::None).await.expect("put");
    }
    // Reversed, interleaved with missing keys and one key twice.
    let mut keys: Vec<Key> = Vec::new();
    for w in written.iter().rev() {
        keys.push(w.key.clone());
        keys.push(Key::new(&pk, format!("{}#missing", w.key.sk)));
    }
    keys.push(written[0].key.clone());
    let read = store.batch_get(&keys).await.expect("batch_get");
    assert_eq!(read.len(), keys.len(), "one entry per key");
    for (key, got) in keys.iter().zip(&read) {
        let expected = store.get(key).await.expect("get");
        assert_eq!(got, &expected, "batch_get and get disagree on {key:?}");
    }
    assert_eq!(read.iter().filter(|r| r.is_none()).count(), 60);
    assert!(store.batch_get(&[]).await.expect("empty").is_empty());
    let err = store
        .batch_get(&[Key::new("", "x")])
        .await
        .expect_err("an empty partition key");
    assert!(
        matches!(err, StoreError::InvalidRequest(_)),
        "expected InvalidRequest, got {err:?}"
    );
}

/// An unconditional put replaces the whole item (no attribute merge).
pub async fn put_replaces_existing(store: &dyn Store) {
    let pk = scope();
    store
        .put(
            item(&pk, "A", json!({"x": 1, "y": 2})).with_gsi1("g", "1"),
            Condition::None,
        )
        .await
        .unwrap();
    store
        .put(item(&pk, "A", json!({"x": 3})), Condition::None)
        .await
        .unwrap();
    let read = store.get(&Key::new(&pk, "A")).await.unwrap().unwrap();
    assert_eq!(
        Value::Object(read.attrs),
        json!({"x": 3}),
        "the second put replaces the first"
    );
    assert_eq!(read.gsi1, None, "index keys are replaced too");
}

/// `NotExists` makes a put create-only.
pub async fn create_only_put_conflicts(store: &dyn Store) {
    let pk = scope();
    store
        .put(item(&pk, "A", json!({"v": 1})), Condition::NotExists)
        .await
        .expect("first create");
    let err = store
        .put(item(&pk, "A", json!({"v": 2})), Condition::NotExists)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { .. }),
        "expected Conflict, got {err:?}"
    );
    let read = store.get(&Key::new(&pk, "A")).await.unwrap().unwrap();
    assert_eq!(
        read.attrs["v"],
        json!(1),
        "a failed conditional put writes nothing"
    );
}

/// `Exists` on a missing item is `NotFound`, for puts and deletes.
pub async fn exists_condition_on_missing_is_not_found(store: &dyn Store) {
    let pk = scope();
    let err = store
        .put(item(&pk, "A", json!({})), Condition::Exists)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { .. }),
        "put: expected NotFound, got {err:?}"
    );
    let err = store
        .delete(&Key::new(&pk, "A"), Condition::Exists)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { .. }),
        "delete: expected NotFound, got {err:?}"
    );
    assert!(store.get(&Key::new(&pk, "A")).await.unwrap().is_none());
    store
        .put(item(&pk, "A", json!({"v": 1})), Condition::None)
        .await
        .unwrap();
    store
        .put(item(&pk, "A", json!({"v": 2})), Condition::Exists)
        .await
        .expect("exists now");
}

/// Optimistic locking on a version attribute: only the writer holding the current version wins.
pub async fn attribute_equals_guards_updates(store: &dyn Store) {
    let pk = scope();
    let key = Key::new(&pk, "STATUS");
    let guard = |v: i64| Condition::AttributeEquals {
        name: "version".into(),
        value: json!(v),
    };
    store
        .put(
            item(&pk, "STATUS", json!({"version": 1, "state": "ok"})),
            Condition::NotExists,
        )
        .await
        .unwrap();
    store
        .put(
            item(&pk, "STATUS", json!({"version": 2, "state": "fault"})),
            guard(1),
        )
        .await
        .expect("update from the current version");
    let err = store
        .put(
            item(&pk, "STATUS", json!({"version": 2, "state": "stale"})),
            guard(1),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { .. }),
        "stale version: expected Conflict, got {err:?}"
    );
    let err = store
        .put(
            item(&pk, "STATUS", json!({"version": 3})),
            Condition::AttributeEquals {
                name: "missing".into(),
                value: json!("x"),
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { .. }),
        "absent attribute: expected Conflict, got {err:?}"
    );
    let read = store.get(&key).await.unwrap().unwrap();
    assert_eq!(read.attrs["state"], json!("fault"));
    let err = store
        .put(item(&format!("{pk}-none"), "X", json!({})), guard(1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::NotFound { .. }),
        "missing item: expected NotFound, got {err:?}"
    );
}

/// Deletes remove the item; deleting a missing item is fine; a guarded delete respects its guard.
pub async fn delete_and_conditional_delete(store: &dyn Store) {
    let pk = scope();
    store
        .put(item(&pk, "A", json!({"state": "open"})), Condition::None)
        .await
        .unwrap();
    let guard = Condition::AttributeEquals {
        name: "state".into(),
        value: json!("closed"),
    };
    let err = store.delete(&Key::new(&pk, "A"), guard).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { .. }),
        "expected Conflict, got {err:?}"
    );
    assert!(
        store.get(&Key::new(&pk, "A")).await.unwrap().is_some(),
        "guarded delete kept the item"
    );
    store
        .delete(&Key::new(&pk, "A"), Condition::None)
        .await
        .unwrap();
    assert!(store.get(&Key::new(&pk, "A")).await.unwrap().is_none());
    store
        .delete(&Key::new(&pk, "A"), Condition::None)
        .await
        .expect("deleting twice is fine");
}

/// A prefix query returns only matching sort keys, in byte order, in both directions.
pub async fn query_prefix_in_order_both_directions(store: &dyn Store) {
    let pk = scope();
    let other = format!("{pk}-other");
    let days = [
        "Hist#2026-01-02",
        "Hist#2026-01-10",
        "Hist#2026-01-01",
        "Hist#2025-12-31",
    ];
    let mut ops: Vec<BatchOp> = days
        .iter()
        .map(|d| BatchOp::Put(item(&pk, d, json!({}))))
        .collect();
    ops.push(BatchOp::Put(item(&pk, "HistX", json!({}))));
    ops.push(BatchOp::Put(item(&pk, "META", json!({}))));
    ops.push(BatchOp::Put(item(&other, "Hist#2026-01-05", json!({}))));
    store.batch_write(ops).await.unwrap();

    let forward = store
        .query_all(&Query::partition(&pk).begins_with("Hist#"))
        .await
        .unwrap();
    assert_eq!(
        sks(&forward),
        [
            "Hist#2025-12-31",
            "Hist#2026-01-01",
            "Hist#2026-01-02",
            "Hist#2026-01-10"
        ]
    );
    let backward = store
        .query_all(&Query::partition(&pk).begins_with("Hist#").backward())
        .await
        .unwrap();
    assert_eq!(
        sks(&backward),
        [
            "Hist#2026-01-10",
            "Hist#2026-01-02",
            "Hist#2026-01-01",
            "Hist#2025-12-31"
        ]
    );
    let all = store.query_all(&Query::partition(&pk)).await.unwrap();
    assert_eq!(
        all.len(),
        6,
        "a partition query sees exactly its own partition"
    );
    let empty = store
        .query_all(&Query::partition(format!("{pk}-empty")))
        .await
        .unwrap();
    assert!(empty.is_empty());
}

/// Equals, Between (inclusive), AtLeast and AtMost select the right sort keys.
pub async fn query_sort_conditions(store: &dyn Store) {
    let pk = scope();
    let ops = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|s| BatchOp::Put(item(&pk, s, json!({}))))
        .collect();
    store.batch_write(ops).await.unwrap();
    let run = |sort: SortCondition| {
        let q = Query::partition(&pk).sort(sort);
        async move { store.query_all(&q).await.unwrap() }
    };
    assert_eq!(sks(&run(SortCondition::Equals("c".into())).await), ["c"]);
    assert_eq!(
        sks(&run(SortCondition::Between("b".into(), "d".into())).await),
        ["b", "c", "d"]
    );
    assert_eq!(
        sks(&run(SortCondition::AtLeast("d".into())).await),
        ["d", "e"]
    );
    assert_eq!(
        sks(&run(SortCondition::AtMost("b".into())).await),
        ["a", "b"]
    );
    let err = store
        .query(&Query::partition(&pk).sort(SortCondition::Between("d".into(), "b".into())))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidRequest(_)),
        "inverted range: got {err:?}"
    );
    let err = store
        .query(&Query::partition(&pk).limit(0))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidRequest(_)),
        "zero limit: got {err:?}"
    );
}

/// Paging with a small limit visits every item exactly once, in order, in both directions.
pub async fn query_pages_cover_everything_once(store: &dyn Store) {
    let pk = scope();
    let n = 53;
    let ops = (0..n)
        .map(|i| BatchOp::Put(item(&pk, &format!("K#{i:03}"), json!({"i": i}))))
        .collect();
    store.batch_write(ops).await.unwrap();
    for backward in [false, true] {
        let mut q = Query::partition(&pk).begins_with("K#").limit(10);
        if backward {
            q = q.backward();
        }
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let page = store.query(&q).await.unwrap();
            pages += 1;
            assert!(page.items.len() <= 10, "a page never exceeds its limit");
            seen.extend(
                page.items
                    .into_iter()
                    .map(|i| i.attrs["i"].as_i64().unwrap()),
            );
            match page.next {
                Some(cursor) => q.start_after = Some(cursor),
                None => break,
            }
            assert!(pages < 100, "paging does not terminate");
        }
        let mut expected: Vec<i64> = (0..n).collect();
        if backward {
            expected.reverse();
        }
        assert_eq!(
            seen, expected,
            "backward={backward}: every item once, in order"
        );
    }
}

/// A scan's pages hold every item of the store exactly once, with its index keys and timestamp.
pub async fn scan_pages_cover_everything_once(store: &dyn Store) {
    let pk = scope();
    let n = 53;
    let stamp: jiff::Timestamp = "2026-01-02T03:04:05.678Z".parse().unwrap();
    let ops = (0..n)
        .map(|i| {
            BatchOp::Put(
                item(&pk, &format!("K#{i:03}"), json!({"i": i}))
                    .with_gsi1(format!("{pk}-index"), format!("{i:03}"))
                    .with_timestamp(stamp),
            )
        })
        .collect();
    store.batch_write(ops).await.unwrap();
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store.scan(cursor.as_ref(), 10).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 10, "a page never exceeds its limit");
        for it in page.items.into_iter().filter(|it| it.key.pk == pk) {
            assert_eq!(it.timestamp, stamp, "the timestamp is read back as written");
            assert_eq!(
                it.gsi1.as_ref().map(|g| g.pk.clone()),
                Some(format!("{pk}-index"))
            );
            seen.push(it.attrs["i"].as_i64().unwrap());
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages < 100_000, "scanning does not terminate");
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..n).collect::<Vec<i64>>(), "every item once");
    let bad = store
        .scan(Some(&moose_store::Cursor("not a cursor".into())), 10)
        .await;
    assert!(
        matches!(bad, Err(StoreError::InvalidRequest(_))),
        "a malformed cursor is the caller's error: {bad:?}"
    );
}

/// GSI1 lists only items that carry index keys, ordered by GSI1SK, across partitions.
pub async fn gsi1_query_is_sparse_and_ordered(store: &dyn Store) {
    let scope = scope();
    let index_pk = format!("{scope}#Systems");
    let mut ops = Vec::new();
    for (i, name) in ["charlie", "alpha", "bravo"].iter().enumerate() {
        let pk = format!("{scope}#System#{i}");
        ops.push(BatchOp::Put(
            item(&pk, "META", json!({"name": name})).with_gsi1(&index_pk, *name),
        ));
        ops.push(BatchOp::Put(item(&pk, "STATUS", json!({}))));
    }
    store.batch_write(ops).await.unwrap();
    // GSIs are eventually consistent on DynamoDB; poll briefly rather than assume.
    let mut listed = Vec::new();
    for _ in 0..50 {
        listed = store
            .query_all(&Query::gsi1(&index_pk).limit(2))
            .await
            .unwrap();
        if listed.len() == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let names: Vec<&str> = listed.iter().filter_map(|i| i.str_attr("name")).collect();
    assert_eq!(
        names,
        ["alpha", "bravo", "charlie"],
        "sparse index, GSI1SK order, all pages"
    );
    assert!(listed.iter().all(|i| i.key.sk == "META"));
    let prefixed = store
        .query_all(&Query::gsi1(&index_pk).begins_with("b"))
        .await
        .unwrap();
    assert_eq!(prefixed.len(), 1);
}

/// Batches larger than any backend chunk size are applied completely; puts and deletes mix.
pub async fn batch_write_many_and_mixed(store: &dyn Store) {
    let pk = scope();
    let n = 120;
    let ops = (0..n)
        .map(|i| BatchOp::Put(item(&pk, &format!("R#{i:04}"), json!({"i": i}))))
        .collect();
    store.batch_write(ops).await.unwrap();
    assert_eq!(
        store.query_all(&Query::partition(&pk)).await.unwrap().len(),
        n
    );
    // Delete the even ones and rewrite the odd ones in one batch.
    let ops = (0..n)
        .map(|i| {
            let sk = format!("R#{i:04}");
            if i % 2 == 0 {
                BatchOp::Delete(Key::new(&pk, sk))
            } else {
                BatchOp::Put(item(&pk, &sk, json!({"i": i, "rewritten": true})))
            }
        })
        .collect();
    store.batch_write(ops).await.unwrap();
    let left = store.query_all(&Query::partition(&pk)).await.unwrap();
    assert_eq!(left.len(), n / 2);
    assert!(left.iter().all(|i| i.attrs["rewritten"] == json!(true)));
    // Replaying the same batch is harmless (idempotent writes).
    store
        .batch_write(vec![BatchOp::Delete(Key::new(&pk, "R#0000"))])
        .await
        .unwrap();
    store
        .batch_write(Vec::new())
        .await
        .expect("an empty batch is a no-op");
}

/// The same key twice in one batch is refused before anything is written.
pub async fn batch_rejects_duplicate_keys(store: &dyn Store) {
    let pk = scope();
    let ops = vec![
        BatchOp::Put(item(&pk, "A", json!({"v": 1}))),
        BatchOp::Put(item(&pk, "B", json!({}))),
        BatchOp::Delete(Key::new(&pk, "A")),
    ];
    let err = store.batch_write(ops).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidRequest(_)),
        "expected InvalidRequest, got {err:?}"
    );
    assert!(
        store
            .query_all(&Query::partition(&pk))
            .await
            .unwrap()
            .is_empty(),
        "nothing written"
    );
}

/// A transaction whose condition fails writes nothing; one whose conditions hold writes all.
pub async fn transaction_is_all_or_nothing(store: &dyn Store) {
    let pk = scope();
    let user = format!("{pk}#User#u1");
    let system = format!("{pk}#System#s1");
    store
        .put(
            item(&system, "META", json!({"name": "s1"})),
            Condition::None,
        )
        .await
        .unwrap();
    store
        .put(
            item(&user, "Access#System#s1", json!({"role": "viewer"})),
            Condition::None,
        )
        .await
        .unwrap();

    // Grant a membership on both sides, but require the membership not to exist yet: fails.
    let grant = |role: &str| {
        vec![
            TxOp::Put {
                item: item(&user, "Access#System#s1", json!({"role": role})),
                condition: Condition::NotExists,
            },
            TxOp::Put {
                item: item(&system, "Member#User#u1", json!({"role": role})),
                condition: Condition::None,
            },
            TxOp::Check {
                key: Key::new(&system, "META"),
                condition: Condition::Exists,
            },
        ]
    };
    let err = store.transact(grant("owner")).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { .. }),
        "expected Conflict, got {err:?}"
    );
    assert!(
        store
            .get(&Key::new(&system, "Member#User#u1"))
            .await
            .unwrap()
            .is_none(),
        "no partial write"
    );
    assert_eq!(
        store
            .get(&Key::new(&user, "Access#System#s1"))
            .await
            .unwrap()
            .unwrap()
            .attrs["role"],
        json!("viewer")
    );

    // A failing check on a missing item also cancels everything.
    let ops = vec![
        TxOp::Put {
            item: item(&system, "Member#User#u2", json!({})),
            condition: Condition::None,
        },
        TxOp::Check {
            key: Key::new(&system, "NOPE"),
            condition: Condition::Exists,
        },
    ];
    let err = store.transact(ops).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Conflict { .. }),
        "expected Conflict, got {err:?}"
    );
    assert!(
        store
            .get(&Key::new(&system, "Member#User#u2"))
            .await
            .unwrap()
            .is_none()
    );

    // Replace the viewer membership: delete guarded by role, then both puts.
    let ops = vec![
        TxOp::Delete {
            key: Key::new(&user, "Access#System#s1"),
            condition: Condition::AttributeEquals {
                name: "role".into(),
                value: json!("viewer"),
            },
        },
        TxOp::Put {
            item: item(&system, "Member#User#u1", json!({"role": "owner"})),
            condition: Condition::NotExists,
        },
        TxOp::Put {
            item: item(&user, "Access#System#s9", json!({"role": "owner"})),
            condition: Condition::NotExists,
        },
    ];
    store.transact(ops).await.expect("all conditions hold");
    assert!(
        store
            .get(&Key::new(&user, "Access#System#s1"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get(&Key::new(&system, "Member#User#u1"))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .get(&Key::new(&user, "Access#System#s9"))
            .await
            .unwrap()
            .is_some()
    );
}

/// Empty, oversized and duplicate-key transactions are refused before anything is written.
pub async fn transaction_limits(store: &dyn Store) {
    let pk = scope();
    let err = store.transact(Vec::new()).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidRequest(_)),
        "empty: got {err:?}"
    );
    let too_many = (0..=MAX_TRANSACTION_OPS)
        .map(|i| TxOp::Put {
            item: item(&pk, &format!("{i}"), json!({})),
            condition: Condition::None,
        })
        .collect();
    let err = store.transact(too_many).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidRequest(_)),
        "too many: got {err:?}"
    );
    let dup = vec![
        TxOp::Put {
            item: item(&pk, "A", json!({})),
            condition: Condition::None,
        },
        TxOp::Check {
            key: Key::new(&pk, "A"),
            condition: Condition::None,
        },
    ];
    let err = store.transact(dup).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidRequest(_)),
        "duplicate key: got {err:?}"
    );
    assert!(
        store
            .query_all(&Query::partition(&pk))
            .await
            .unwrap()
            .is_empty(),
        "nothing written"
    );
}

/// Items over the size limit, empty keys and reserved attribute names are refused.
pub async fn invalid_items_are_rejected(store: &dyn Store) {
    let pk = scope();
    let big = "x".repeat(MAX_ITEM_BYTES);
    let cases = [
        item(&pk, "BIG", json!({"blob": big})),
        item(&pk, "", json!({})),
        item("", "A", json!({})),
        item(&pk, "R", json!({"PK": "other"})),
        item(&pk, "T", json!({"timestamp": "2020-01-01T00:00:00Z"})),
    ];
    for case in cases {
        let err = store.put(case.clone(), Condition::None).await.unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidRequest(_)),
            "{}: got {err:?}",
            case.key
        );
        let err = store
            .batch_write(vec![BatchOp::Put(case.clone())])
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidRequest(_)),
            "batch {}: got {err:?}",
            case.key
        );
    }
    // Just under the limit is fine: chunking time series relies on using the room we have.
    let fits = item(
        &pk,
        "FITS",
        json!({"blob": "y".repeat(MAX_ITEM_BYTES - 1024)}),
    );
    store
        .put(fits, Condition::None)
        .await
        .expect("an item under the limit is accepted");
    assert_eq!(
        store.query_all(&Query::partition(&pk)).await.unwrap().len(),
        1
    );
}

/// Many concurrent create-only puts of one key: exactly one succeeds, the rest conflict.
pub async fn concurrent_create_only_one_wins(store: &dyn Store) {
    let pk = scope();
    let attempts = (0..16).map(|writer| {
        store.put(
            item(&pk, "LOCK", json!({"writer": writer})),
            Condition::NotExists,
        )
    });
    // Polled together; the backends run them in parallel (blocking pool, or HTTP requests).
    let results = futures_util::future::join_all(attempts).await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "exactly one create-only put wins: {results:?}");
    assert!(
        results
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|e| matches!(e, StoreError::Conflict { .. })),
        "every loser sees Conflict: {results:?}"
    );
}

/// A healthy store answers its readiness probe.
pub async fn ping_succeeds(store: &dyn Store) {
    store.ping().await.expect("ping on a healthy store");
    assert!(!store.backend().is_empty());
}
