//! The store conformance suite on DynamoDB, against a DynamoDB-compatible server on loopback
//! (moto's `moto_server`; `./scripts/test` installs and starts it and sets
//! `MOOSE_TEST_DYNAMODB_ENDPOINT`). There is no silent skip: without an endpoint the tests fail
//! and say how to get one.

use std::sync::Arc;

use moose_store::Store;
use moose_store_dynamodb::{DynamoSettings, DynamoStore};

async fn fresh() -> (Arc<dyn Store>, ()) {
    let endpoint = std::env::var("MOOSE_TEST_DYNAMODB_ENDPOINT").expect(
        "MOOSE_TEST_DYNAMODB_ENDPOINT is not set: run ./scripts/test, which installs and starts moto_server, \
         or start one yourself (pip install 'moto[server]'; moto_server -p 5000) and set it to http://127.0.0.1:5000",
    );
    // Credentials come from the environment; the local server accepts any (scripts/test sets dummies).
    let settings = DynamoSettings {
        table: "moose-conformance".into(),
        endpoint: Some(endpoint),
        region: Some("us-east-1".into()),
    };
    let store = DynamoStore::connect(&settings).await;
    store
        .create_table()
        .await
        .expect("the conformance table exists");
    (Arc::new(store), ())
}

moose_store_tests::conformance_tests!(fresh());
