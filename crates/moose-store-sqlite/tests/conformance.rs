//! The store conformance suite on SQLite: a fresh database file in a temporary directory per test.

use std::sync::Arc;

use moose_store::Store;
use moose_store_sqlite::SqliteStore;

async fn fresh() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open(dir.path().join("data"))
        .await
        .expect("open store");
    (Arc::new(store), dir)
}

moose_store_tests::conformance_tests!(fresh());
