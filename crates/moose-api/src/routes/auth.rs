//! `POST /api/auth/login`, `/refresh`, `/logout`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use moose_auth::TokenPair;
use serde::Deserialize;

use super::{Caller, ClientIp};
use crate::{ApiJson, ApiResult, AppState};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Login {
    email: String,
    password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

pub(crate) async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<Login>,
) -> ApiResult<Json<TokenPair>> {
    Ok(Json(
        state
            .auth
            .login(&body.email, &body.password, ip.as_deref())
            .await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Refresh {
    refresh_token: String,
}

impl std::fmt::Debug for Refresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Refresh([redacted])")
    }
}

pub(crate) async fn refresh(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<Refresh>,
) -> ApiResult<Json<TokenPair>> {
    Ok(Json(
        state
            .auth
            .refresh(&body.refresh_token, ip.as_deref())
            .await?,
    ))
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Caller(caller): Caller,
) -> ApiResult<StatusCode> {
    state.auth.logout(&caller, ip.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}
