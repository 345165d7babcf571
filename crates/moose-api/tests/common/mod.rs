//! A Moose API over a fresh SQLite store with a seeded organisation, for auth tests.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use moose_api::{AppState, AuthSettings, HttpLimits};
use moose_auth::{OrgRole, SystemRole};
use moose_domain::{SystemId, UserId, keys};
use moose_store::{Condition, Item, Key, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

pub const PASSWORD: &str = "correct horse battery staple";

pub struct Org {
    pub store: Arc<dyn Store>,
    pub app: Router,
    pub state: AppState,
    pub db: PathBuf,
    pub admin: UserId,
    pub manager: UserId,
    pub technician: UserId,
    pub viewer: UserId,
    pub outsider: UserId,
    _dir: tempfile::TempDir,
}

pub struct Response {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

impl Org {
    pub async fn new() -> Self {
        Self::with_settings(AuthSettings::default()).await
    }

    /// With other authentication settings.
    pub async fn with_settings(settings: AuthSettings) -> Self {
        moose_telemetry::init_for_tests();
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            moose_store_sqlite::SqliteStore::open(dir.path())
                .await
                .unwrap(),
        );
        for system in ["A", "B"] {
            let meta = json!({"id": system, "name": format!("System {system}"), "peak_power_w": 5000.0, "time_zone": "Europe/Vienna",
                              "latitude": 48.2, "longitude": 14.0, "city": "Wels", "country": "AT", "installation_date": null, "active": true});
            let key = Key::new(
                keys::system_pk(&SystemId::parse(system).unwrap()),
                keys::SK_META,
            );
            let item = Item::new(key, meta.as_object().unwrap().clone())
                .with_gsi1(keys::GSI1_ALL_SYSTEMS, system);
            store.put(item, Condition::None).await.unwrap();
        }
        let state = AppState::new(Arc::clone(&store), settings);
        let mut ids = Vec::new();
        for (email, role) in [
            ("admin@example.com", OrgRole::Admin),
            ("manager@example.com", OrgRole::FleetManager),
            ("tech@example.com", OrgRole::Technician),
            ("viewer@example.com", OrgRole::Viewer),
            ("outsider@example.com", OrgRole::Viewer),
        ] {
            let (user, _) = state
                .auth
                .create_user(email, role, None, Some(PASSWORD), None)
                .await
                .unwrap();
            ids.push(user.id);
        }
        let org = Self {
            store: Arc::clone(&store),
            app: moose_api::router(state.clone(), HttpLimits::default()),
            state,
            db: dir.path().join(moose_store_sqlite::DATABASE_FILE),
            admin: ids[0].clone(),
            manager: ids[1].clone(),
            technician: ids[2].clone(),
            viewer: ids[3].clone(),
            outsider: ids[4].clone(),
            _dir: dir,
        };
        let a = SystemId::parse("A").unwrap();
        let admin = org.principal(&org.admin).await;
        for (user, role) in [
            (&org.technician, SystemRole::Technician),
            (&org.viewer, SystemRole::Viewer),
        ] {
            org.state
                .auth
                .grant(
                    &admin,
                    moose_auth::Membership {
                        system: a.clone(),
                        user: user.clone(),
                        role,
                    },
                )
                .await
                .unwrap();
        }
        org
    }

    pub async fn principal(&self, id: &UserId) -> moose_auth::Principal {
        moose_auth::Principal {
            user: self.state.auth.user(id).await.unwrap(),
            credential: moose_auth::Credential::Supabase,
        }
    }

    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let response = self.app.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Response {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// The body as text (CSV responses).
    pub async fn call_raw(&self, method: &str, uri: &str, token: Option<&str>) -> String {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let response = self
            .app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// One login attempt, whatever its outcome.
    pub async fn try_login(&self, email: &str, password: &str) -> Response {
        self.call(
            "POST",
            "/api/auth/login",
            None,
            Some(json!({"email": email, "password": password})),
        )
        .await
    }

    /// One token refresh, whatever its outcome.
    pub async fn try_refresh(&self, refresh_token: &str) -> Response {
        self.call(
            "POST",
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh_token})),
        )
        .await
    }

    /// Logs in with the shared test password; returns the access and refresh tokens.
    pub async fn login(&self, email: &str) -> (String, String) {
        let r = self.try_login(email, PASSWORD).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        (
            r.body["access_token"].as_str().unwrap().to_owned(),
            r.body["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    /// Every item in the store, as text, in key order.
    pub fn snapshot(&self) -> Vec<String> {
        let conn = rusqlite::Connection::open(&self.db).unwrap();
        let mut stmt = conn
            .prepare("SELECT pk, sk, ts, attrs FROM items ORDER BY pk, sk")
            .unwrap();
        stmt.query_map([], |r| {
            Ok(format!(
                "{}|{}|{}|{}",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?
            ))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }

    pub fn signing_secret(&self) -> String {
        self.snapshot()
            .into_iter()
            .find(|row| row.starts_with("Config|AUTH_SIGNING_KEY"))
            .and_then(|row| row.rsplit('|').next().map(str::to_owned))
            .and_then(|attrs| serde_json::from_str::<Value>(&attrs).ok())
            .and_then(|v| v["secret"].as_str().map(str::to_owned))
            .expect("the signing key exists after a sign-in")
    }
}

/// Checks (or with `MOOSE_UPDATE_DOCS=1` rewrites) the part of `doc` (relative to the
/// repository) between `<!-- name:begin -->` and `<!-- name:end -->`.
#[allow(dead_code)]
pub fn check_docs_section(doc: &str, name: &str, report: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(doc);
    let docs = std::fs::read_to_string(&path).unwrap_or_default();
    let (begin, end) = (
        format!("<!-- {name}:begin -->\n"),
        format!("<!-- {name}:end -->"),
    );
    let (b, e) = docs
        .find(&begin)
        .and_then(|b| docs[b..].find(&end).map(|e| (b + begin.len(), b + e)))
        .unwrap_or_else(|| panic!("{doc} has the {name} markers"));
    if std::env::var_os("MOOSE_UPDATE_DOCS").is_some() {
        let updated = format!("{}{report}{}", &docs[..b], &docs[e..]);
        std::fs::write(&path, updated).unwrap();
        return;
    }
    assert_eq!(
        &docs[b..e],
        report,
        "{doc}'s {name} section drifted; rerun with MOOSE_UPDATE_DOCS=1"
    );
}

/// A log writer collecting everything written to it, for tests that inspect the logs.
#[derive(Clone, Default)]
#[allow(dead_code)]
pub struct Capture(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Puts an assistant with a model at `base_url` (timeout `timeout`) behind the org's router.
pub fn with_model(
    org: &mut Org,
    base_url: &str,
    timeout: std::time::Duration,
    chat: moose_api::ChatSettings,
) {
    let mut s = moose_assistant::llm::LlmSettings::new(
        base_url,
        Some(moose_domain::Secret::new("sk-test")),
        "gpt-4.1-mini",
    );
    s.timeout = timeout;
    s.max_retries = 1;
    let assistant = moose_assistant::Assistant::new(
        Some(moose_assistant::llm::LlmClient::new(s)),
        moose_assistant::retrieval::Retriever::lexical(
            moose_assistant::retrieval::KnowledgeSource::Builtin,
        ),
        moose_assistant::Limits::default(),
    );
    org.state.assistant = Arc::new(assistant);
    org.state.chat = chat;
    org.app = moose_api::router(org.state.clone(), HttpLimits::default());
}

/// `POST /api/chat` with `body` as `token`.
pub async fn ask(org: &Org, token: &str, body: serde_json::Value) -> Response {
    org.call("POST", "/api/chat", Some(token), Some(body)).await
}
