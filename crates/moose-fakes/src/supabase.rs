//! A fake Supabase Auth (GoTrue) for the console's Supabase sign-in: `POST
//! /auth/v1/token?grant_type=password` and `?grant_type=refresh_token`, as the real service
//! answers them — the project's anon key required in the `apikey` header, HS256 access tokens
//! signed with the project's (legacy) JWT secret, with `iss` `<url>/auth/v1` and `aud`
//! `authenticated`, single-use rotating refresh tokens, and errors as
//! `{"code","error_code","msg"}` with HTTP 400 (wrong password, used refresh token) or 401
//! (no API key).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

#[derive(Debug, Default)]
struct Inner {
    /// e-mail → (password, user id)
    users: HashMap<String, (String, String)>,
    /// live refresh token → user id
    refresh: HashMap<String, String>,
    issued: u64,
    /// `grant_type=password` requests received, right or wrong.
    password_grants: u64,
}

#[derive(Debug, Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    url: String,
    anon_key: String,
    jwt_secret: String,
}

/// The running fake.
#[derive(Debug, Clone)]
pub struct FakeSupabaseAuth {
    shared: Shared,
}

impl FakeSupabaseAuth {
    /// Starts the fake on `127.0.0.1:0`, accepting `anon_key` and signing with `jwt_secret`.
    pub async fn start(anon_key: &str, jwt_secret: &str) -> Self {
        let (listener, addr) = crate::bind().await;
        let shared = Shared {
            inner: Arc::default(),
            url: format!("http://{addr}"),
            anon_key: anon_key.to_owned(),
            jwt_secret: jwt_secret.to_owned(),
        };
        let app = Router::new()
            .route("/auth/v1/token", post(token))
            .route("/auth/v1/logout", post(logout))
            .with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { shared }
    }

    /// The project URL (`SUPABASE_URL`).
    pub fn url(&self) -> &str {
        &self.shared.url
    }

    /// Adds a user; returns its id (the tokens' `sub`).
    pub fn add_user(&self, email: &str, password: &str) -> String {
        let id = uuid_like(email);
        self.shared
            .inner
            .lock()
            .unwrap()
            .users
            .insert(email.to_owned(), (password.to_owned(), id.clone()));
        id
    }

    /// How many token pairs were issued.
    pub fn issued(&self) -> u64 {
        self.shared.inner.lock().unwrap().issued
    }

    /// How many refresh tokens are live (not used, not revoked by a sign-out).
    pub fn live_refresh_tokens(&self) -> usize {
        self.shared.inner.lock().unwrap().refresh.len()
    }

    /// How many password sign-ins were asked for, right or wrong.
    pub fn password_grants(&self) -> u64 {
        self.shared.inner.lock().unwrap().password_grants
    }
}

/// A stable UUID-shaped id for an e-mail (FNV-1a), so tests can predict it.
fn uuid_like(email: &str) -> String {
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in email.bytes() {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    let hex = format!("{h:032x}");
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

fn error(status: StatusCode, code: &str, msg: &str) -> Response {
    (
        status,
        axum::Json(json!({"code": status.as_u16(), "error_code": code, "msg": msg})),
    )
        .into_response()
}

/// `POST /auth/v1/logout?scope=local|global|others` with the session's access token: GoTrue
/// revokes the session's refresh tokens and answers 204. (The fake keeps no session ids, so
/// every scope revokes all of the user's refresh tokens.)
async fn logout(State(shared): State<Shared>, headers: HeaderMap) -> Response {
    if headers.get("apikey").and_then(|v| v.to_str().ok()) != Some(shared.anon_key.as_str()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "no_authorization",
            "No API key found in request",
        );
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_audience(&["authenticated"]);
    let Ok(token) = jsonwebtoken::decode::<Value>(
        bearer,
        &jsonwebtoken::DecodingKey::from_secret(shared.jwt_secret.as_bytes()),
        &validation,
    ) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "bad_jwt",
            "invalid JWT: unable to parse or verify signature",
        );
    };
    let user = token.claims["sub"].as_str().unwrap_or_default().to_owned();
    shared
        .inner
        .lock()
        .unwrap()
        .refresh
        .retain(|_, owner| *owner != user);
    StatusCode::NO_CONTENT.into_response()
}

async fn token(
    State(shared): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if headers.get("apikey").and_then(|v| v.to_str().ok()) != Some(shared.anon_key.as_str()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "no_authorization",
            "No API key found in request",
        );
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_json",
            "Could not parse request body as JSON",
        );
    };
    let mut inner = shared.inner.lock().unwrap();
    let user = match q.get("grant_type").map(String::as_str) {
        Some("password") => {
            inner.password_grants += 1;
            let (email, password) = (body["email"].as_str(), body["password"].as_str());
            match email.and_then(|e| inner.users.get(e).map(|u| (e.to_owned(), u.clone()))) {
                Some((email, (pw, id))) if Some(pw.as_str()) == password => (email, id),
                _ => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "invalid_credentials",
                        "Invalid login credentials",
                    );
                }
            }
        }
        Some("refresh_token") => {
            let presented = body["refresh_token"].as_str().unwrap_or_default();
            let Some(id) = inner.refresh.remove(presented) else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "refresh_token_not_found",
                    "Invalid Refresh Token: Refresh Token Not Found",
                );
            };
            let email = inner
                .users
                .iter()
                .find(|(_, (_, uid))| *uid == id)
                .map(|(e, _)| e.clone())
                .unwrap_or_default();
            (email, id)
        }
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "validation_failed",
                "unsupported_grant_type",
            );
        }
    };
    inner.issued += 1;
    let now = jiff::Timestamp::now().as_second();
    let claims = json!({
        "iss": format!("{}/auth/v1", shared.url), "aud": "authenticated", "sub": user.1,
        "email": user.0, "role": "authenticated", "iat": now, "exp": now + 3600,
    });
    let access = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(shared.jwt_secret.as_bytes()),
    )
    .expect("an HS256 token");
    let refresh = format!(
        "rt{}{}",
        inner.issued,
        &uuid_like(&format!("{now}{}", inner.issued))[..8]
    );
    inner.refresh.insert(refresh.clone(), user.1.clone());
    axum::Json(json!({
        "access_token": access, "token_type": "bearer", "expires_in": 3600,
        "expires_at": now + 3600, "refresh_token": refresh,
        "user": {"id": user.1, "aud": "authenticated", "role": "authenticated", "email": user.0},
    }))
    .into_response()
}
