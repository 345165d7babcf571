//! API tests: most call the router in-process; `real_server` talks HTTP to a served port.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use moose_api::{ApiJson, AppState, AuthSettings, HttpLimits, REQUEST_ID_HEADER};
use moose_store::{
    BatchOp, Condition, Item, Key, Page, Query, Store, StoreError, StoreResult, TxOp,
};
use moose_store_sqlite::SqliteStore;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

async fn sqlite_state() -> (AppState, tempfile::TempDir) {
    moose_telemetry::init_for_tests();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    (AppState::new(Arc::new(store), AuthSettings::default()), dir)
}

async fn call(app: Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = app.oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON body")
    };
    (status, headers, body)
}

fn get_req(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

#[tokio::test]
async fn health_is_healthy_with_version_and_request_id() {
    let (state, _dir) = sqlite_state().await;
    let (status, headers, body) = call(
        moose_api::router(state, HttpLimits::default()),
        get_req("/health"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    let id = headers
        .get(REQUEST_ID_HEADER)
        .expect("request id header")
        .to_str()
        .unwrap();
    assert_eq!(id.len(), 36, "a generated UUID: {id}");
}

#[tokio::test]
async fn a_callers_request_id_is_echoed_and_a_hostile_one_replaced() {
    let (state, _dir) = sqlite_state().await;
    let app = moose_api::router(state, HttpLimits::default());
    let req = Request::get("/health")
        .header(REQUEST_ID_HEADER, "trace-abc-123")
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = call(app.clone(), req).await;
    assert_eq!(headers[REQUEST_ID_HEADER], "trace-abc-123");
    let req = Request::get("/health")
        .header(REQUEST_ID_HEADER, "x".repeat(500))
        .body(Body::empty())
        .unwrap();
    let (_, headers, _) = call(app, req).await;
    assert_eq!(
        headers[REQUEST_ID_HEADER].len(),
        36,
        "an oversized id is replaced"
    );
}

#[tokio::test]
async fn readiness_reports_each_dependency() {
    let (state, _dir) = sqlite_state().await;
    let app = moose_api::router(state, HttpLimits::default());
    for uri in ["/health?deep=true", "/health/ready"] {
        let (status, _, body) = call(app.clone(), get_req(uri)).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        assert_eq!(body["status"], "healthy");
        assert_eq!(body["checks"]["store"]["status"], "ok");
        assert_eq!(body["checks"]["store"]["backend"], "sqlite");
        assert_eq!(body["failing"], json!([]));
    }
}

#[tokio::test]
async fn readiness_is_503_naming_the_store_when_its_file_is_gone() {
    let (state, dir) = sqlite_state().await;
    let app = moose_api::router(state, HttpLimits::default());
    std::fs::remove_file(dir.path().join(moose_store_sqlite::DATABASE_FILE)).unwrap();
    let (status, _, body) = call(app.clone(), get_req("/health?deep=true")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["failing"], json!(["store"]));
    assert_eq!(body["checks"]["store"]["status"], "failing");
    assert!(
        !body.to_string().contains(dir.path().to_str().unwrap()),
        "no file paths leak: {body}"
    );
    // Liveness stays cheap and independent of dependencies.
    let (status, _, _) = call(app, get_req("/health")).await;
    assert_eq!(status, StatusCode::OK);
}

/// A store whose every operation fails as if its backend were unreachable.
#[derive(Debug)]
struct UnreachableStore;

fn down<T>() -> StoreResult<T> {
    Err(StoreError::Unavailable {
        message: "connection refused".into(),
        source: None,
    })
}

#[async_trait]
impl Store for UnreachableStore {
    fn backend(&self) -> &'static str {
        "unreachable"
    }
    async fn get(&self, _: &Key) -> StoreResult<Option<Item>> {
        down()
    }
    async fn put(&self, _: Item, _: Condition) -> StoreResult<()> {
        down()
    }
    async fn delete(&self, _: &Key, _: Condition) -> StoreResult<()> {
        down()
    }
    async fn query(&self, _: &Query) -> StoreResult<Page> {
        down()
    }
    async fn scan(&self, _: Option<&moose_store::Cursor>, _: u32) -> StoreResult<Page> {
        down()
    }
    async fn batch_write(&self, _: Vec<BatchOp>) -> StoreResult<()> {
        down()
    }
    async fn transact(&self, _: Vec<TxOp>) -> StoreResult<()> {
        down()
    }
    async fn ping(&self) -> StoreResult<()> {
        down()
    }
    async fn close(&self) -> StoreResult<()> {
        Ok(())
    }
}

#[tokio::test]
async fn readiness_names_an_unreachable_store() {
    let app = moose_api::router(
        AppState::new(Arc::new(UnreachableStore), AuthSettings::default()),
        HttpLimits::default(),
    );
    let (status, _, body) = call(app, get_req("/health/ready")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["failing"], json!(["store"]));
    assert_eq!(body["checks"]["store"]["backend"], "unreachable");
    assert_eq!(body["checks"]["store"]["error"], "unavailable");
}

#[tokio::test]
async fn bad_input_gets_a_json_4xx_that_says_what_is_wrong() {
    let (state, _dir) = sqlite_state().await;
    let app = moose_api::router(state, HttpLimits::default());
    let (status, _, body) = call(app.clone(), get_req("/health?deep=maybe")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_query");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("deep"),
        "{body}"
    );

    let (status, _, body) = call(app.clone(), get_req("/health?verbose=1")).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "unknown parameters are refused: {body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("verbose"),
        "{body}"
    );

    let (status, _, body) = call(app.clone(), get_req("/api/nothing-here")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");

    let req = Request::delete("/health").body(Body::empty()).unwrap();
    let (status, _, body) = call(app, req).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

/// A router with test-only routes behind the production edge.
fn edge_app(limits: HttpLimits) -> Router {
    #[derive(serde::Deserialize)]
    struct Echo {
        message: String,
    }
    let routes = Router::new()
        .route(
            "/echo",
            post(|ApiJson(echo): ApiJson<Echo>| async move {
                axum::Json(json!({"echo": echo.message}))
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "done"
            }),
        )
        .route(
            "/panic",
            get(|| async {
                if true {
                    panic!("boom at the handler");
                }
                "unreachable"
            }),
        )
        .route(
            "/internal",
            get(|| async {
                Err::<(), _>(moose_api::ApiError::Internal(
                    "disk exploded at /secret/path".into(),
                ))
            }),
        );
    moose_api::with_edge(routes, limits)
}

fn post_json(uri: &str, body: &str) -> Request<Body> {
    Request::post(uri)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

#[tokio::test]
async fn json_bodies_are_validated_and_limited() {
    let app = edge_app(HttpLimits {
        body_limit: 2048,
        ..HttpLimits::default()
    });
    let (status, _, body) = call(app.clone(), post_json("/echo", r#"{"message":"hi"}"#)).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"echo": "hi"})));

    let (status, _, body) = call(app.clone(), post_json("/echo", r#"{"message":"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_json");

    let (status, _, body) = call(app.clone(), post_json("/echo", r#"{"msg":"hi"}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_body");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("message"),
        "names the field: {body}"
    );

    let big = format!(r#"{{"message":"{}"}}"#, "x".repeat(4096));
    let (status, _, body) = call(app.clone(), post_json("/echo", &big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        body["error"]["message"].as_str().unwrap().contains("2048"),
        "{body}"
    );

    let req = Request::post("/echo")
        .body(Body::from(r#"{"message":"hi"}"#))
        .unwrap();
    let (status, _, body) = call(app, req).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["error"]["code"], "unsupported_media_type");
}

#[tokio::test]
async fn slow_requests_time_out_with_503() {
    let app = edge_app(HttpLimits {
        request_timeout: Duration::from_millis(100),
        ..HttpLimits::default()
    });
    let (status, headers, body) = call(app, get_req("/slow")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "timeout");
    assert!(headers.contains_key(REQUEST_ID_HEADER));
}

#[tokio::test]
async fn panics_and_internal_errors_are_500s_that_hide_the_cause() {
    let app = edge_app(HttpLimits::default());
    for uri in ["/panic", "/internal"] {
        let (status, headers, body) = call(app.clone(), get_req(uri)).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{uri}");
        assert_eq!(body["error"]["code"], "internal");
        let text = body.to_string();
        assert!(
            !text.contains("boom") && !text.contains("/secret/path"),
            "cause leaked: {text}"
        );
        assert!(headers.contains_key(REQUEST_ID_HEADER));
    }
}

#[tokio::test]
async fn real_server_serves_http_and_drains_on_shutdown() {
    moose_telemetry::init_for_tests();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let app = edge_app(HttpLimits::default()).merge(Router::new().route(
        "/take-a-second",
        get(|| async {
            tokio::time::sleep(Duration::from_millis(700)).await;
            "finished"
        }),
    ));
    let server = tokio::spawn(moose_api::serve(
        listener,
        app,
        moose_api::ConnectionLimits::default(),
        shutdown.clone().cancelled_owned(),
    ));
    let client = reqwest::Client::new();

    let health = client
        .get(format!("http://{addr}/echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 405, "the edge answers over real HTTP");

    // Start a slow request, then ask the server to stop while it is in flight.
    let in_flight = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .get(format!("http://{addr}/take-a-second"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    shutdown.cancel();
    assert_eq!(
        in_flight.await.unwrap(),
        "finished",
        "the in-flight request completes"
    );
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("server stops")
        .unwrap()
        .unwrap();
    assert!(
        reqwest::Client::new()
            .get(format!("http://{addr}/echo"))
            .send()
            .await
            .is_err(),
        "no new connections after shutdown"
    );
}

#[test]
fn the_committed_openapi_document_is_up_to_date() {
    // Compared as JSON values: key order depends on serde_json features the rest of the build
    // turns on, the content does not.
    let committed = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/openapi.json"
    ))
    .unwrap_or_default();
    let committed: serde_json::Value = serde_json::from_str(&committed).unwrap_or_default();
    assert!(
        committed == moose_api::openapi(),
        "docs/openapi.json is out of date: regenerate it with `moose openapi > docs/openapi.json`"
    );
    let doc = moose_api::openapi();
    for route in moose_api::ROUTES {
        assert!(
            doc["paths"][route.path][route.method.to_ascii_lowercase()].is_object(),
            "{} {} is documented",
            route.method,
            route.path
        );
    }
}
