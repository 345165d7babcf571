//! `POST /iam/jwt` (login), `PATCH /iam/jwt/{refreshToken}` (refresh), `DELETE` (revoke).

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::guard::lock;
use super::params::format_time;
use super::{ApiFailure, ApiResult};
use crate::Simulator;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LoginBody {
    user_id: String,
    password: String,
}

fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Issues a JWT-shaped access token (unsigned: only the simulator checks it, by lookup) and a
/// refresh token.
fn issue(sim: &Simulator) -> Value {
    let ttl = sim.config.jwt_ttl;
    let expires = jiff::Timestamp::now() + jiff::SignedDuration::try_from(ttl).unwrap_or_default();
    let mut tokens = lock(&sim.api.tokens);
    tokens.issued += 1;
    let n = tokens.issued;
    let header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = b64url(
        format!(
            r#"{{"iss":"moose-sim","sub":"{}","exp":{},"n":{n}}}"#,
            sim.config.login.0,
            expires.as_second()
        )
        .as_bytes(),
    );
    let jwt = format!("{header}.{claims}.sim");
    let refresh = format!(
        "rt-{n:08}-{:016x}",
        crate::rng::hash(sim.config.seed, &[n, 99])
    );
    tokens.access.insert(jwt.clone(), Instant::now() + ttl);
    tokens.refresh.insert(refresh.clone(), ());
    json!({"jwtToken": jwt, "refreshToken": refresh, "jwtTokenExpiration": format_time(expires)})
}

pub(crate) async fn login(
    State(sim): State<Arc<Simulator>>,
    body: Option<Json<LoginBody>>,
) -> ApiResult<Json<Value>> {
    let Some(Json(body)) = body else {
        return Err(ApiFailure::bad_input(
            "Body {\"userId\",\"password\"} is required.",
        ));
    };
    if body.user_id != sim.config.login.0 || body.password != sim.config.login.1 {
        return Err(ApiFailure::new(401, 1106, "Authentication failed."));
    }
    Ok(Json(issue(&sim)))
}

pub(crate) async fn refresh(
    State(sim): State<Arc<Simulator>>,
    Path(token): Path<String>,
) -> ApiResult<Json<Value>> {
    if lock(&sim.api.tokens).refresh.remove(&token).is_none() {
        return Err(ApiFailure::new(404, 1004, "Refresh token not found."));
    }
    Ok(Json(issue(&sim)))
}

pub(crate) async fn revoke(
    State(sim): State<Arc<Simulator>>,
    Path(token): Path<String>,
) -> StatusCode {
    lock(&sim.api.tokens).refresh.remove(&token);
    StatusCode::NO_CONTENT
}
