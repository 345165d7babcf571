//! Behaviour specific to the SQLite backend: the file, WAL, migrations, and failure reporting.

use moose_store::{BatchOp, Condition, Item, Key, Query, Store, StoreError, StoreExt};
use moose_store_sqlite::{DATABASE_FILE, SqliteStore};
use serde_json::json;

fn item(pk: &str, sk: &str) -> Item {
    Item::new(
        Key::new(pk, sk),
        json!({"v": sk}).as_object().unwrap().clone(),
    )
}

#[tokio::test]
async fn creates_one_wal_file_with_current_schema_and_persists_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/data");
    let store = SqliteStore::open(&data).await.unwrap();
    assert_eq!(store.path(), data.join(DATABASE_FILE));
    assert_eq!(store.journal_mode().await.unwrap(), "wal");
    assert_eq!(store.schema_version().await.unwrap(), 1);
    store
        .put(item("System#1", "META"), Condition::None)
        .await
        .unwrap();
    store.close().await.unwrap();
    assert!(
        matches!(
            store.get(&Key::new("System#1", "META")).await,
            Err(StoreError::Unavailable { .. })
        ),
        "a closed store refuses work"
    );

    let reopened = SqliteStore::open(&data).await.unwrap();
    assert_eq!(
        reopened.schema_version().await.unwrap(),
        1,
        "migrations are not re-applied"
    );
    let read = reopened
        .get_required(&Key::new("System#1", "META"))
        .await
        .unwrap();
    assert_eq!(read.attrs["v"], json!("META"));
}

#[tokio::test]
async fn refuses_a_database_from_a_newer_moose() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    store.close().await.unwrap();
    let conn = rusqlite::Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = SqliteStore::open(dir.path()).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, StoreError::InvalidRequest(_)), "{err:?}");
    assert!(message.contains("version 99"), "{message}");
}

#[tokio::test]
async fn a_data_dir_that_cannot_be_created_is_reported_in_one_sentence() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = SqliteStore::open(file.join("data")).await.unwrap_err();
    assert!(
        err.is_retryable(),
        "an unusable directory is an availability problem: {err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("cannot create the data directory"),
        "{message}"
    );
    assert!(
        message.contains("not-a-dir/data"),
        "names the directory: {message}"
    );
    assert!(!message.contains('\n'), "one line: {message}");
}

#[tokio::test]
async fn a_read_only_data_dir_is_refused() {
    // /proc refuses new files even to root, which chmod-based tests cannot guarantee.
    let err = SqliteStore::open("/proc/moose-test-data")
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("/proc/moose-test-data"), "{message}");
    assert!(message.contains("data directory"), "{message}");
}

#[tokio::test]
async fn ping_fails_once_the_database_file_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("data")).await.unwrap();
    store.ping().await.unwrap();
    std::fs::remove_dir_all(dir.path().join("data")).unwrap();
    let err = store.ping().await.unwrap_err();
    assert!(err.is_retryable(), "{err:?}");
    assert!(err.to_string().contains("is gone"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn readers_proceed_while_the_writer_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    store
        .batch_write(
            (0..100)
                .map(|i| BatchOp::Put(item("P", &format!("{i:05}"))))
                .collect(),
        )
        .await
        .unwrap();

    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for round in 0..20 {
                let ops = (0..500)
                    .map(|i| BatchOp::Put(item("W", &format!("{round:02}-{i:05}"))))
                    .collect();
                store.batch_write(ops).await.unwrap();
            }
        })
    };
    // Every read during the writes sees a consistent partition P (WAL snapshots).
    let mut reads = 0;
    while !writer.is_finished() {
        let items = store.query_all(&Query::partition("P")).await.unwrap();
        assert_eq!(items.len(), 100);
        reads += 1;
    }
    writer.await.unwrap();
    assert!(reads > 0);
    assert_eq!(
        store
            .query_all(&Query::partition("W").limit(1000))
            .await
            .unwrap()
            .len(),
        10_000
    );
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// The store holds the token signing key: its directory and files are private, not what the
/// umask (typically 022, which gave 0755 and 0644) would make them.
#[tokio::test]
async fn the_store_is_private_to_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("open/data");
    let store = SqliteStore::open(&data).await.unwrap();
    store
        .put(item("System#1", "META"), Condition::None)
        .await
        .unwrap();
    assert_eq!(mode(&data), 0o700, "data directory");
    for suffix in ["", "-wal", "-shm"] {
        let file = data.join(format!("{DATABASE_FILE}{suffix}"));
        assert!(file.exists(), "{} exists in WAL mode", file.display());
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_store_others_can_read_is_refused_with_the_fix() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    SqliteStore::open(&data)
        .await
        .unwrap()
        .close()
        .await
        .unwrap();

    // A directory others may list only gets a warning: the files in it are still private.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    SqliteStore::open(&data)
        .await
        .unwrap()
        .close()
        .await
        .unwrap();

    // Database files others may read, as earlier versions of Moose left them, are refused.
    for suffix in ["", "-wal", "-shm"] {
        let file = data.join(format!("{DATABASE_FILE}{suffix}"));
        if !file.exists() {
            continue;
        }
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let message = SqliteStore::open(&data).await.unwrap_err().to_string();
        assert!(message.contains("mode 0644"), "{message}");
        assert!(message.contains("chmod 600"), "names the fix: {message}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    SqliteStore::open(&data)
        .await
        .expect("opens once the fix is applied");
}
