//! The route table of `/api/*` and the one middleware that enforces access rules.
//!
//! Every API route is declared here with its [`Rule`]; there is no other way to add one, so a
//! route cannot exist without an access rule, and the access-matrix test walks this table.

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use axum::{RequestExt, Router};
use moose_auth::{AuthError, OrgRole, Principal, Rule};
use moose_domain::SystemId;

use crate::{ApiError, AppState, routes};

/// One declared route.
#[derive(Debug, Clone, Copy)]
pub struct RouteSpec {
    /// HTTP method.
    pub method: &'static str,
    /// Path, with `{system}`, `{user}`, `{key}`, `{incident}`, `{notification}` parameters.
    pub path: &'static str,
    /// Who may call it.
    pub rule: Rule,
}

const fn spec(method: &'static str, path: &'static str, rule: Rule) -> RouteSpec {
    RouteSpec { method, path, rule }
}

/// Every `/api/*` route and its rule.
pub const ROUTES: &[RouteSpec] = &[
    spec("POST", "/api/auth/login", Rule::Public),
    spec("POST", "/api/auth/refresh", Rule::Public),
    spec("POST", "/api/auth/logout", Rule::Authenticated),
    spec("GET", "/api/users/me", Rule::Authenticated),
    spec("PATCH", "/api/users/me", Rule::Authenticated),
    spec("GET", "/api/users/me/activity", Rule::Authenticated),
    spec("GET", "/api/users/me/systems", Rule::Authenticated),
    spec("GET", "/api/users", Rule::OrgRole(OrgRole::Admin)),
    spec("POST", "/api/users", Rule::OrgRole(OrgRole::Admin)),
    spec("PATCH", "/api/users/{user}", Rule::OrgRole(OrgRole::Admin)),
    spec(
        "GET",
        "/api/users/{user}/activity",
        Rule::OrgRole(OrgRole::Admin),
    ),
    spec("GET", "/api/systems", Rule::Authenticated),
    spec("GET", "/api/systems/{system}", Rule::SystemRead),
    spec("PATCH", "/api/systems/{system}", Rule::SystemManage),
    spec("GET", "/api/systems/{system}/production", Rule::SystemRead),
    spec("GET", "/api/systems/{system}/energy", Rule::SystemRead),
    spec("GET", "/api/systems/{system}/kpis", Rule::SystemRead),
    spec("GET", "/api/systems/{system}/members", Rule::SystemRead),
    spec(
        "PUT",
        "/api/systems/{system}/members/{user}",
        Rule::SystemManage,
    ),
    spec(
        "DELETE",
        "/api/systems/{system}/members/{user}",
        Rule::SystemManage,
    ),
    spec("GET", "/api/api-keys", Rule::OrgRole(OrgRole::Admin)),
    spec("POST", "/api/api-keys", Rule::OrgRole(OrgRole::Admin)),
    spec(
        "DELETE",
        "/api/api-keys/{key}",
        Rule::OrgRole(OrgRole::Admin),
    ),
    spec("POST", "/api/chat", Rule::Authenticated),
    spec("GET", "/api/incidents", Rule::Authenticated),
    // Incident routes decide visibility and acknowledgement from the incident's own system,
    // which the path does not name: the handlers apply `policy` themselves (see incidents.rs).
    spec("GET", "/api/incidents/{incident}", Rule::Authenticated),
    spec("POST", "/api/incidents/{incident}/ack", Rule::Authenticated),
    spec("GET", "/api/systems/{system}/status", Rule::SystemRead),
    spec("POST", "/api/systems/{system}/snooze", Rule::SystemManage),
    spec(
        "POST",
        "/api/systems/{system}/maintenance",
        Rule::SystemManage,
    ),
    spec(
        "DELETE",
        "/api/systems/{system}/maintenance",
        Rule::SystemManage,
    ),
    spec("PUT", "/api/systems/{system}/grace", Rule::SystemManage),
    spec("GET", "/api/systems/{system}/escalation", Rule::SystemRead),
    spec(
        "PUT",
        "/api/systems/{system}/escalation",
        Rule::SystemManage,
    ),
    spec("GET", "/api/notifications", Rule::Authenticated),
    spec(
        "POST",
        "/api/notifications/{notification}/read",
        Rule::Authenticated,
    ),
    spec(
        "GET",
        "/api/notifications/stats",
        Rule::OrgRole(OrgRole::FleetManager),
    ),
    spec(
        "GET",
        "/api/users/me/notification-settings",
        Rule::Authenticated,
    ),
    spec(
        "PUT",
        "/api/users/me/notification-settings",
        Rule::Authenticated,
    ),
];

fn handler(spec: &RouteSpec) -> MethodRouter<AppState> {
    use routes::{auth, chat, incidents, notifications, status, systems, users};
    match (spec.method, spec.path) {
        ("POST", "/api/auth/login") => post(auth::login),
        ("POST", "/api/auth/refresh") => post(auth::refresh),
        ("POST", "/api/auth/logout") => post(auth::logout),
        ("GET", "/api/users/me") => get(users::me),
        ("PATCH", "/api/users/me") => patch(users::update_me),
        ("GET", "/api/users/me/activity") => get(users::my_activity),
        ("GET", "/api/users/me/systems") => get(users::my_systems),
        ("GET", "/api/users") => get(users::list),
        ("POST", "/api/users") => post(users::create),
        ("PATCH", "/api/users/{user}") => patch(users::admin_update),
        ("GET", "/api/users/{user}/activity") => get(users::activity_of),
        ("GET", "/api/systems") => get(systems::list),
        ("GET", "/api/systems/{system}") => get(systems::detail),
        ("PATCH", "/api/systems/{system}") => patch(systems::update),
        ("GET", "/api/systems/{system}/production") => get(systems::production),
        ("GET", "/api/systems/{system}/energy") => get(systems::energy),
        ("GET", "/api/systems/{system}/kpis") => get(systems::kpis),
        ("GET", "/api/systems/{system}/members") => get(users::members),
        ("PUT", "/api/systems/{system}/members/{user}") => put(users::grant),
        ("DELETE", "/api/systems/{system}/members/{user}") => delete(users::revoke),
        ("GET", "/api/api-keys") => get(users::list_keys),
        ("POST", "/api/api-keys") => post(users::create_key),
        ("DELETE", "/api/api-keys/{key}") => delete(users::revoke_key),
        ("POST", "/api/chat") => post(chat::chat),
        ("GET", "/api/incidents") => get(incidents::list),
        ("GET", "/api/incidents/{incident}") => get(incidents::detail),
        ("POST", "/api/incidents/{incident}/ack") => post(incidents::acknowledge),
        ("GET", "/api/systems/{system}/status") => get(status::status),
        ("POST", "/api/systems/{system}/snooze") => post(status::snooze),
        ("POST", "/api/systems/{system}/maintenance") => post(status::add_maintenance),
        ("DELETE", "/api/systems/{system}/maintenance") => delete(status::clear_maintenance),
        ("PUT", "/api/systems/{system}/grace") => put(status::grace),
        ("GET", "/api/systems/{system}/escalation") => get(status::escalation),
        ("PUT", "/api/systems/{system}/escalation") => put(status::set_escalation),
        ("GET", "/api/notifications") => get(notifications::feed),
        ("POST", "/api/notifications/{notification}/read") => post(notifications::mark_read),
        ("GET", "/api/notifications/stats") => get(notifications::stats),
        ("GET", "/api/users/me/notification-settings") => get(notifications::settings),
        ("PUT", "/api/users/me/notification-settings") => put(notifications::update_settings),
        (method, path) => panic!("route {method} {path} is declared but has no handler"),
    }
}

/// The `/api` router: every declared route behind [`authorize`].
pub(crate) fn api_router(state: &AppState) -> Router<AppState> {
    ROUTES.iter().fold(Router::new(), |router, spec| {
        let guarded = handler(spec).route_layer(axum::middleware::from_fn_with_state(
            (state.clone(), spec.rule),
            authorize,
        ));
        router.route(spec.path, guarded)
    })
}

fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Authenticates the caller and applies the route's rule, before the handler runs.
async fn authorize(
    State((state, rule)): State<(AppState, Rule)>,
    mut req: Request,
    next: Next,
) -> Response {
    match decide(&state, rule, &mut req).await {
        Ok(principal) => {
            if let Some(p) = principal {
                req.extensions_mut().insert(p);
            }
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

async fn decide(
    state: &AppState,
    rule: Rule,
    req: &mut Request,
) -> Result<Option<Principal>, ApiError> {
    let principal = match bearer(req) {
        Some(token) if rule != Rule::Public => {
            Some(state.auth.authenticate(token).await.map_err(|e| match e {
                AuthError::Unauthenticated => {
                    ApiError::Unauthorized("the bearer token is invalid or expired".into())
                }
                other => other.into(),
            })?)
        }
        _ => None,
    };
    if principal.is_none() && rule != Rule::Public {
        // Before the path is looked at: without a token every system-scoped route answers
        // the same 401, whatever the id.
        return Err(moose_auth::Denied::Unauthenticated.into());
    }
    let system = match rule {
        Rule::SystemRead | Rule::SystemManage => {
            let params = req
                .extract_parts::<axum::extract::RawPathParams>()
                .await
                .map_err(|_| no_such_system())?;
            let raw = params
                .iter()
                .find(|(k, _)| *k == "system")
                .map(|(_, v)| v.to_owned());
            Some(
                raw.and_then(|r| SystemId::parse(r).ok())
                    .ok_or_else(no_such_system)?,
            )
        }
        _ => None,
    };
    let membership = match (&principal, &system) {
        (Some(p), Some(s)) => {
            if !state.auth.system_exists(s).await? {
                // Unauthenticated callers were refused above; for everyone else a missing
                // system and an invisible one look the same.
                return Err(no_such_system());
            }
            state.auth.membership(&p.user.id, s).await?
        }
        _ => None,
    };
    let is_read = req.method() == Method::GET || req.method() == Method::HEAD;
    moose_auth::policy::authorize(
        principal.as_ref(),
        rule,
        is_read,
        system.as_ref(),
        membership,
    )
    .map_err(|denied| match denied {
        moose_auth::Denied::Hidden => no_such_system(),
        other => other.into(),
    })?;
    Ok(principal)
}

/// The one answer for a system that does not exist *and* for one the caller may not see:
/// byte-for-byte the same, so that the answer does not reveal which.
fn no_such_system() -> ApiError {
    ApiError::NotFound("no such system".into())
}
