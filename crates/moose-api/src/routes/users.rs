//! `user-management`: the caller's profile and activity, and the administrators' routes for
//! users, memberships and API keys.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use moose_auth::{Membership, OrgRole, ProfilePatch, SystemRole, User};
use moose_domain::{SystemId, UserId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Caller, ClientIp};
use crate::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, AppState};

fn user_json(u: &User) -> Value {
    json!({
        "id": u.id, "email": u.email, "name": u.name, "role": u.role, "disabled": u.disabled,
        "time_zone": u.time_zone, "language": u.language, "contacts": u.contacts, "source": u.source,
    })
}

fn user_id(raw: String) -> Result<UserId, ApiError> {
    UserId::parse(raw).map_err(|e| ApiError::NotFound(e.to_string()))
}

pub(crate) async fn me(Caller(caller): Caller) -> Json<Value> {
    Json(user_json(&caller.user))
}

pub(crate) async fn update_me(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ClientIp(ip): ClientIp,
    ApiJson(patch): ApiJson<ProfilePatch>,
) -> ApiResult<Json<Value>> {
    if matches!(caller.credential, moose_auth::Credential::ApiKey { .. }) {
        return Err(ApiError::Forbidden("API keys have no profile".into()));
    }
    let user = state
        .auth
        .update_profile(&caller.user.id, patch, ip.as_deref())
        .await?;
    Ok(Json(user_json(&user)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Limit {
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    50
}

impl Limit {
    /// The limit, if within 1..=1000.
    fn checked(&self) -> ApiResult<u32> {
        if (1..=1000).contains(&self.limit) {
            Ok(self.limit)
        } else {
            Err(ApiError::bad_request(
                "invalid_query",
                "limit: must be between 1 and 1000",
            ))
        }
    }
}

pub(crate) async fn my_activity(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiQuery(q): ApiQuery<Limit>,
) -> ApiResult<Json<Value>> {
    let entries = state.auth.activity(&caller.user.id, q.checked()?).await?;
    Ok(Json(json!({"activity": entries})))
}

pub(crate) async fn my_systems(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> ApiResult<Json<Value>> {
    Ok(Json(match state.auth.visible_systems(&caller).await? {
        None => json!({"all_systems": true, "memberships": []}),
        Some(list) => json!({"all_systems": false, "memberships": list}),
    }))
}

pub(crate) async fn list(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"users": state.auth.list_users().await?})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Invite {
    email: String,
    role: OrgRole,
    #[serde(default)]
    name: Option<String>,
}

/// Creates a local account with a generated initial password, shown once in the response.
pub(crate) async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<Invite>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (user, password) = state
        .auth
        .create_user(
            &body.email,
            body.role,
            body.name,
            None,
            Some(&caller.user.id),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"user": user_json(&user), "initial_password": password})),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdminPatch {
    #[serde(default)]
    role: Option<OrgRole>,
    #[serde(default)]
    disabled: Option<bool>,
}

pub(crate) async fn admin_update(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(user): ApiPath<String>,
    ApiJson(body): ApiJson<AdminPatch>,
) -> ApiResult<Json<Value>> {
    let updated = state
        .auth
        .admin_update(&caller, &user_id(user)?, body.role, body.disabled)
        .await?;
    Ok(Json(user_json(&updated)))
}

pub(crate) async fn activity_of(
    State(state): State<AppState>,
    ApiPath(user): ApiPath<String>,
    ApiQuery(q): ApiQuery<Limit>,
) -> ApiResult<Json<Value>> {
    let id = user_id(user)?;
    state.auth.user(&id).await?;
    Ok(Json(
        json!({"activity": state.auth.activity(&id, q.checked()?).await?}),
    ))
}

fn system_id(raw: String) -> Result<SystemId, ApiError> {
    SystemId::parse(raw).map_err(|_| ApiError::NotFound("no such system".into()))
}

pub(crate) async fn members(
    State(state): State<AppState>,
    ApiPath(system): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    Ok(Json(
        json!({"members": state.auth.members(&system_id(system)?).await?}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Grant {
    role: SystemRole,
}

pub(crate) async fn grant(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath((system, user)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<Grant>,
) -> ApiResult<Json<Value>> {
    let m = Membership {
        system: system_id(system)?,
        user: user_id(user)?,
        role: body.role,
    };
    state.auth.grant(&caller, m.clone()).await?;
    Ok(Json(json!({"membership": m})))
}

pub(crate) async fn revoke(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath((system, user)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    state
        .auth
        .revoke(&caller, &user_id(user)?, &system_id(system)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(crate) async fn list_keys(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"api_keys": state.auth.list_api_keys().await?})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewKey {
    name: String,
    role: OrgRole,
    #[serde(default)]
    read_only: bool,
}

/// Creates an API key; the response is the only place the key ever appears.
pub(crate) async fn create_key(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiJson(body): ApiJson<NewKey>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let (key, secret) = state
        .auth
        .create_api_key(&caller, &body.name, body.role, body.read_only)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"api_key": key, "key": secret})),
    ))
}

pub(crate) async fn revoke_key(
    State(state): State<AppState>,
    Caller(caller): Caller,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<StatusCode> {
    state.auth.revoke_api_key(&caller, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}
