//! Archives of a real SQLite store: round trip, damaged archives refused before anything is
//! written, non-empty targets refused, interrupted restores resumed.

use std::path::Path;
use std::sync::Arc;

use moose_backup::{BackupError, backup, restore, state_path, verify};
use moose_store::{BatchOp, Item, Key, Store};
use serde_json::json;

async fn store(dir: &Path) -> Arc<dyn Store> {
    Arc::new(moose_store_sqlite::SqliteStore::open(dir).await.unwrap())
}

async fn fill(store: &dyn Store, n: usize) {
    let ops: Vec<BatchOp> = (0..n)
        .map(|i| {
            let mut item = Item::new(
                Key::new(format!("System#{}", i % 7), format!("DAY#{i:05}")),
                json!({"i": i, "text": format!("ünïcødé {i}"), "nested": {"a": [1, 2.5, null]}})
                    .as_object()
                    .unwrap()
                    .clone(),
            )
            .with_timestamp("2026-03-04T05:06:07.089Z".parse().unwrap());
            if i % 3 == 0 {
                item = item.with_gsi1("Index", format!("{i:05}"));
            }
            BatchOp::Put(item)
        })
        .collect();
    for chunk in ops.chunks(25) {
        store.batch_write(chunk.to_vec()).await.unwrap();
    }
}

async fn everything(store: &dyn Store) -> Vec<Item> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.scan(cursor.as_ref(), 100).await.unwrap();
        out.extend(page.items);
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    out.sort_by(|a, b| (&a.key.pk, &a.key.sk).cmp(&(&b.key.pk, &b.key.sk)));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_round_trips_through_an_archive_with_keys_index_and_timestamps() {
    let dir = tempfile::tempdir().unwrap();
    let source = store(&dir.path().join("a")).await;
    fill(&*source, 1234).await;
    let path = dir.path().join("moose.backup");
    let mut file = std::fs::File::create(&path).unwrap();
    let mut seen = Vec::new();
    let report = backup(&*source, &mut file, &path, |n| seen.push(n))
        .await
        .unwrap();
    assert_eq!(report.manifest.items, 1234);
    assert_eq!(report.manifest.counts["System/DAY"], 1234);
    assert_eq!(seen.last(), Some(&1234));
    assert_eq!(verify(&path).unwrap().manifest, report.manifest);
    let target = store(&dir.path().join("b")).await;
    let restored = restore(&*target, &path, false, |_, _| {}).await.unwrap();
    assert_eq!(restored.manifest.items, 1234);
    assert_eq!(everything(&*source).await, everything(&*target).await);
    assert!(
        !state_path(&path).exists(),
        "a finished restore leaves no state behind"
    );
    // The target is no longer empty: a second restore is refused unless forced.
    assert!(matches!(
        restore(&*target, &path, false, |_, _| {}).await,
        Err(BackupError::NotEmpty)
    ));
    restore(&*target, &path, true, |_, _| {}).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_truncated_newer_or_foreign_archives_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let source = store(&dir.path().join("a")).await;
    fill(&*source, 200).await;
    let path = dir.path().join("moose.backup");
    let mut file = std::fs::File::create(&path).unwrap();
    backup(&*source, &mut file, &path, |_| {}).await.unwrap();
    let good = std::fs::read_to_string(&path).unwrap();
    let target = store(&dir.path().join("b")).await;
    let cases = [
        (
            "truncated",
            good[..good.len() * 2 / 3].to_owned(),
            "truncated",
        ),
        (
            "altered",
            good.replacen("ünïcødé 17\"", "ünïcødé 71\"", 1),
            "checksum",
        ),
        (
            "newer",
            good.replacen("\"version\":1", "\"version\":9", 1),
            "newer than this Moose",
        ),
        (
            "foreign",
            "{\"hello\":\"world\"}\n".to_owned(),
            "not a Moose backup",
        ),
        (
            "garbage line",
            good.replacen("{\"PK\"", "{\"PK", 1),
            "not JSON",
        ),
    ];
    for (name, text, expect) in cases {
        let bad = dir.path().join(format!("{name}.backup"));
        std::fs::write(&bad, text).unwrap();
        let err = restore(&*target, &bad, false, |_, _| {}).await.unwrap_err();
        assert!(err.to_string().contains(expect), "{name}: {err}");
        assert!(
            everything(&*target).await.is_empty(),
            "{name}: nothing written"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_restore_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let source = store(&dir.path().join("a")).await;
    fill(&*source, 300).await;
    let path = dir.path().join("moose.backup");
    let mut file = std::fs::File::create(&path).unwrap();
    let report = backup(&*source, &mut file, &path, |_| {}).await.unwrap();
    // As a restore killed after 100 items leaves it: the state file and the first items.
    let target = store(&dir.path().join("b")).await;
    let first: Vec<BatchOp> = everything(&*source)
        .await
        .into_iter()
        .take(100)
        .map(BatchOp::Put)
        .collect();
    for chunk in first.chunks(25) {
        target.batch_write(chunk.to_vec()).await.unwrap();
    }
    std::fs::write(
        state_path(&path),
        json!({"sha256": report.manifest.sha256, "written": 100}).to_string(),
    )
    .unwrap();
    let resumed = restore(&*target, &path, false, |_, _| {}).await.unwrap();
    assert_eq!(
        resumed.resumed_from, 100,
        "the non-empty target is accepted: it is this restore's"
    );
    assert_eq!(everything(&*source).await, everything(&*target).await);
}
