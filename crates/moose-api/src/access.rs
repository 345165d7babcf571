//! The router of `/api/*`, built from the route table (`table.rs`), and the one middleware that
//! enforces each route's access rule before its handler runs.

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{RequestExt, Router};
use moose_auth::{AuthError, Principal, Rule};
use moose_domain::SystemId;

use crate::table::ROUTES;
use crate::{ApiError, AppState};

/// The `/api` router: every declared route behind [`authorize`].
pub(crate) fn api_router(state: &AppState) -> Router<AppState> {
    ROUTES.iter().fold(Router::new(), |router, spec| {
        let guarded = (spec.handler)().route_layer(axum::middleware::from_fn_with_state(
            (state.clone(), spec.rule, spec.path),
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
    State((state, rule, path)): State<(AppState, Rule, &'static str)>,
    mut req: Request,
    next: Next,
) -> Response {
    let mut response = match decide(&state, rule, &mut req).await {
        Ok(principal) => {
            if let Some(p) = principal {
                req.extensions_mut().insert(p);
            }
            next.run(req).await
        }
        Err(e) => e.into_response(),
    };
    // The route's template, for the request metrics (never the concrete path: ids would make
    // every system its own time series).
    response
        .extensions_mut()
        .insert(crate::middleware::RouteTemplate(path));
    response
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

/// The access rule of a system-scoped route, applied outside a route: for the assistant's tools
/// and its confirmed actions, which must obey exactly what the HTTP API would. A missing
/// system and an invisible one give the same answer.
pub(crate) async fn authorize_system(
    state: &AppState,
    principal: &Principal,
    system: &SystemId,
    rule: Rule,
) -> Result<(), ApiError> {
    if !state.auth.system_exists(system).await? {
        return Err(no_such_system());
    }
    let membership = state.auth.membership(&principal.user.id, system).await?;
    let is_read = rule == Rule::SystemRead;
    moose_auth::policy::authorize(Some(principal), rule, is_read, Some(system), membership).map_err(
        |denied| match denied {
            moose_auth::Denied::Hidden => no_such_system(),
            other => other.into(),
        },
    )
}
