//! Shared set-up of the in-process tests: a real Moose API (`moose_api::router` over a SQLite
//! store in a temporary directory) served on `127.0.0.1:0`, an administrator who can sign in,
//! and helpers to seed systems and records. Nothing here reaches beyond loopback.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use moose_api::{AppState, AuthSettings, HttpLimits};
use moose_auth::OrgRole;
use moose_domain::{SystemId, keys};
use moose_store::{Condition, Item, Key, Store};
use serde_json::{Value, json};

/// The administrator's e-mail address and password.
pub const ADMIN: &str = "admin@example.com";
pub const PASSWORD: &str = "correct horse battery staple";
/// The `GET /metrics` token of [`Setup::metrics`].
pub const METRICS_TOKEN: &str = "verify-metrics-token";

/// How the API is configured.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// The jobs `/health/ready` reports (`moose serve` runs them; `None` as on Lambda).
    pub jobs: Option<Vec<String>>,
    /// Serve `GET /metrics` with [`METRICS_TOKEN`].
    pub metrics: bool,
}

/// A running Moose API.
pub struct Moose {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub state: AppState,
    pub store: Arc<dyn Store>,
    pub router: axum::Router,
    _dir: tempfile::TempDir,
}

/// Serves `router` on a fresh loopback port; the base URL.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    format!("http://{addr}")
}

/// A loopback URL nothing listens on.
pub async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

impl Moose {
    /// A fresh store with one administrator, served on loopback.
    pub async fn start(setup: Setup) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            moose_store_sqlite::SqliteStore::open(dir.path())
                .await
                .unwrap(),
        );
        let mut state = AppState::new(Arc::clone(&store), AuthSettings::default());
        state.jobs = setup.jobs;
        if setup.metrics {
            state.metrics = Some(moose_api::metrics::MetricsAccess {
                token: Some(moose_domain::Secret::new(METRICS_TOKEN.to_owned())),
            });
        }
        state
            .auth
            .create_user(ADMIN, OrgRole::Admin, None, Some(PASSWORD), None)
            .await
            .unwrap();
        let router = moose_api::router(state.clone(), HttpLimits::default());
        let url = serve(router.clone()).await;
        Self {
            url,
            state,
            store,
            router,
            _dir: dir,
        }
    }

    /// `POST /api/auth/login`: (status, body).
    pub async fn try_login(&self, email: &str, password: &str) -> (u16, Value) {
        self.send(
            reqwest::Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": email, "password": password})),
        )
        .await
    }

    /// The administrator's access token.
    pub async fn admin_token(&self) -> String {
        let (status, body) = self.try_login(ADMIN, PASSWORD).await;
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// A new API key (`mk_…`) created by the administrator.
    pub async fn api_key(&self, role: &str, read_only: bool) -> String {
        let admin = self.admin_token().await;
        let (status, body) = self
            .send(
                reqwest::Method::POST,
                "/api/api-keys",
                Some(&admin),
                Some(json!({"name": "release checks", "role": role, "read_only": read_only})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["key"].as_str().unwrap().to_owned()
    }

    /// One request; (status, body as JSON or `null`).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = reqwest::Client::new().request(method, format!("{}{path}", self.url));
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Adds a system; `location` (latitude, longitude) or none.
    pub async fn add_system(&self, id: &str, location: Option<(f64, f64)>) {
        let (lat, lon) = location.map_or((Value::Null, Value::Null), |(a, o)| (json!(a), json!(o)));
        let meta = json!({"id": id, "name": format!("Plant {id}"), "peak_power_w": 5000.0,
                          "time_zone": "UTC", "latitude": lat, "longitude": lon, "city": null,
                          "country": null, "installation_date": null, "active": true});
        let key = Key::new(
            keys::system_pk(&SystemId::parse(id).unwrap()),
            keys::SK_META,
        );
        let item =
            Item::new(key, meta.as_object().unwrap().clone()).with_gsi1(keys::GSI1_ALL_SYSTEMS, id);
        self.store.put(item, Condition::None).await.unwrap();
    }

    /// Records that `id`'s newest 5-minute record ended `age` ago (its ingestion cursor).
    pub async fn set_last_data(&self, id: &str, age: jiff::SignedDuration) {
        let repo = moose_solardata::SolarRepo::new(Arc::clone(&self.store));
        let now = jiff::Timestamp::now();
        repo.put_cursor(
            &SystemId::parse(id).unwrap(),
            &moose_solardata::repo::IngestCursor {
                polled_until: now,
                last_data_at: Some(now - age),
                reconciled_until: None,
                polling_since: None,
            },
        )
        .await
        .unwrap();
    }
}

/// A longitude where the sun stands near the zenith now (local solar noon at latitude 0), so a
/// system there is in daylight whatever time the test runs.
pub fn sunny_longitude_now() -> f64 {
    let now = jiff::Timestamp::now();
    let secs_of_day = now.as_second().rem_euclid(86_400) as f64;
    let lon = (12.0 - secs_of_day / 3600.0) * 15.0;
    if lon < -180.0 { lon + 360.0 } else { lon }
}

/// A CodeDeploy client of the fake at `url`, with test credentials and no retries (the tests
/// script every answer, a retry would hide one).
pub fn codedeploy_client(url: &str) -> aws_sdk_codedeploy::Client {
    let config = aws_sdk_codedeploy::Config::builder()
        .behavior_version(aws_sdk_codedeploy::config::BehaviorVersion::latest())
        .region(aws_sdk_codedeploy::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_codedeploy::config::Credentials::new(
            "moose-test",
            "moose-test",
            None,
            None,
            "test",
        ))
        .retry_config(aws_sdk_codedeploy::config::retry::RetryConfig::disabled())
        .endpoint_url(url)
        .build();
    aws_sdk_codedeploy::Client::from_conf(config)
}
