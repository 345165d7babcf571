//! The console's browser session: `POST /console/session` signs in, `POST
//! /console/session/refresh` turns the refresh cookie into a new access token (rotating the
//! cookie), `DELETE /console/session` forgets the cookie.
//!
//! The access token is returned in the body and kept in the page's memory only; the refresh
//! token never reaches script: it is an `HttpOnly`, `SameSite=Strict` cookie whose path is
//! this endpoint, so the browser sends it nowhere else. A reload of the page costs one refresh.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use moose_api::{ApiError, ApiJson};
use serde::Deserialize;

use crate::Console;

/// The refresh cookie's name.
pub const COOKIE: &str = "moose_refresh";

/// The header every session request must carry (any value): the CSRF guard.
pub const CSRF_HEADER: &str = "x-moose-console";

/// The path the cookie is sent to, and only to.
const COOKIE_PATH: &str = "/console/session";

/// Marks a cookie holding a Supabase refresh token (Moose's own are `<session>.<secret>`).
const SUPABASE_PREFIX: &str = "sb.";

/// Where an account lives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Provider {
    /// A Moose account (e-mail and password kept by Moose).
    #[default]
    Local,
    /// The configured Supabase project.
    Supabase,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignIn {
    email: String,
    password: String,
    #[serde(default)]
    provider: Provider,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// A signed-in session as the page and the cookie get it.
struct Tokens {
    access_token: String,
    /// The cookie's value: Moose's refresh token, or a Supabase one behind [`SUPABASE_PREFIX`].
    cookie: String,
    expires_in: u64,
}

impl From<moose_auth::TokenPair> for Tokens {
    fn from(pair: moose_auth::TokenPair) -> Self {
        Self {
            access_token: pair.access_token,
            cookie: pair.refresh_token,
            expires_in: pair.expires_in,
        }
    }
}

/// Checks that Moose accepts a Supabase grant's access token (and, on a first sign-in, makes
/// the user's record) before the page gets it.
async fn accepted(console: &Console, grant: crate::supabase::Grant) -> Result<Tokens, ApiError> {
    console.auth.authenticate(&grant.access_token).await?;
    // It goes into a `Set-Cookie` header as it is: nothing that could add an attribute.
    if grant.refresh_token.is_empty()
        || !grant
            .refresh_token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        tracing::warn!("Supabase returned a refresh token that cannot be kept in a cookie");
        return Err(ApiError::Unavailable(
            "Supabase sign-in failed; try again later".into(),
        ));
    }
    Ok(Tokens {
        access_token: grant.access_token,
        cookie: format!("{SUPABASE_PREFIX}{}", grant.refresh_token),
        expires_in: grant.expires_in,
    })
}

fn supabase(console: &Console) -> Result<&crate::supabase::Client, ApiError> {
    console.supabase.as_deref().ok_or_else(|| {
        ApiError::bad_request(
            "invalid_body",
            "provider: Supabase sign-in is not configured (SUPABASE_URL and SUPABASE_ANON_KEY)",
        )
    })
}

/// Refuses a request without the CSRF header: a cross-site form cannot add headers.
fn require_console_header(headers: &HeaderMap) -> Result<(), ApiError> {
    if headers.contains_key(CSRF_HEADER) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "the console's session requests must carry the `{CSRF_HEADER}` header"
        )))
    }
}

/// Whether the browser reached us over https (directly or through a proxy that says so).
fn is_https(headers: &HeaderMap) -> bool {
    let proto = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase)
    };
    proto("x-forwarded-proto").is_some_and(|p| p.split(',').next() == Some("https"))
        || proto("forwarded").is_some_and(|f| f.contains("proto=https"))
}

/// The `Set-Cookie` value holding `token` for `max_age` seconds (0 deletes it).
fn cookie(token: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    // Moose's tokens are `<id>.<base64url>`, Supabase's alphanumeric: nothing that needs
    // quoting in a cookie (and a value that would is refused by `from_str`).
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path={COOKIE_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("moose_refresh=; Max-Age=0"))
}

/// The refresh token from the request's cookies, if there is exactly one. Two mean that
/// someone else set one too (a sibling subdomain, or a network attacker on plain http, with a
/// more specific path): neither is used, so nobody can be signed into another's account.
fn refresh_cookie(headers: &HeaderMap) -> Option<String> {
    let mut found = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, value)| *name == COOKIE && !value.is_empty())
        .map(|(_, value)| value.to_owned());
    let first = found.next()?;
    found.next().is_none().then_some(first)
}

fn client_ip(req: &Request) -> Option<String> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// A session as the page sees it: the access token in the body, the refresh token in the
/// cookie.
fn session_response(console: &Console, tokens: &Tokens, secure: bool) -> Response {
    let max_age = console.auth.settings().refresh_ttl.as_secs();
    let body = serde_json::json!({
        "access_token": tokens.access_token,
        "token_type": "Bearer",
        "expires_in": tokens.expires_in,
    });
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie(&tokens.cookie, max_age, secure));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /console/session`: what the page needs before anyone signs in: how one may sign in
/// here, and the fleet map's tile layer (`null`: none).
pub(crate) async fn providers(State(console): State<Console>) -> Json<serde_json::Value> {
    let mut providers = vec!["local"];
    if console.supabase.is_some() {
        providers.push("supabase");
    }
    let tiles = console.tiles.as_ref().map(|t| {
        serde_json::json!({
            "url": t.url.template(),
            "attribution": t.attribution.clone().unwrap_or_else(|| format!("Map tiles: {}", t.url.origin())),
        })
    });
    Json(serde_json::json!({"providers": providers, "tiles": tiles}))
}

/// `POST /console/session` `{email, password, provider?}`: signs in (a local account by
/// default; `"provider": "supabase"` against the configured project).
pub(crate) async fn sign_in(State(console): State<Console>, req: Request) -> Response {
    let headers = req.headers().clone();
    let ip = client_ip(&req);
    let result = async {
        require_console_header(&headers)?;
        let ApiJson(body) = ApiJson::<SignIn>::from_request(req, &()).await?;
        match body.provider {
            Provider::Local => Ok::<_, ApiError>(Tokens::from(
                console
                    .auth
                    .login(&body.email, &body.password, ip.as_deref())
                    .await?,
            )),
            Provider::Supabase => {
                let client = supabase(&console)?;
                // The same limits as a local sign-in: Moose must not be a way to guess
                // Supabase passwords without limit (nor use up Supabase's per-address limits,
                // which all of Moose's users share).
                let attempt = console
                    .auth
                    .password_attempt(&body.email, &body.password, ip.as_deref())
                    .await?;
                let tokens = accepted(
                    &console,
                    client.password(&body.email, &body.password).await?,
                )
                .await?;
                console.auth.password_accepted(&attempt).await?;
                Ok(tokens)
            }
        }
    }
    .await;
    match result {
        Ok(tokens) => session_response(&console, &tokens, is_https(&headers)),
        Err(e) => e.into_response(),
    }
}

/// `POST /console/session/refresh`: a new access token for the refresh cookie, which rotates.
/// Without a valid cookie: 401, and the cookie is deleted.
pub(crate) async fn refresh(State(console): State<Console>, req: Request) -> Response {
    let headers = req.headers().clone();
    if let Err(e) = require_console_header(&headers) {
        return e.into_response();
    }
    let secure = is_https(&headers);
    let Some(token) = refresh_cookie(&headers) else {
        return ApiError::Unauthorized("no console session; sign in".into()).into_response();
    };
    let result = match token.strip_prefix(SUPABASE_PREFIX) {
        Some(supabase_token) => match supabase(&console) {
            Ok(client) => match client.refresh(supabase_token).await {
                Ok(grant) => accepted(&console, grant).await,
                Err(e) => Err(e),
            },
            Err(_) => Err(ApiError::Unauthorized(
                "Supabase sign-in is no longer configured; sign in again".into(),
            )),
        },
        None => console
            .auth
            .refresh(&token, client_ip(&req).as_deref())
            .await
            .map(Tokens::from)
            .map_err(ApiError::from),
    };
    match result {
        Ok(tokens) => session_response(&console, &tokens, secure),
        Err(e) => {
            let mut response = e.into_response();
            if response.status() == StatusCode::UNAUTHORIZED {
                response
                    .headers_mut()
                    .insert(header::SET_COOKIE, cookie("", 0, secure));
            }
            response
        }
    }
}

/// `DELETE /console/session`: deletes the cookie, and ends a Supabase session at Supabase (its
/// refresh token would otherwise stay valid there). A local session the page ends itself first
/// with `POST /api/auth/logout`, which deletes it server-side.
pub(crate) async fn sign_out(State(console): State<Console>, headers: HeaderMap) -> Response {
    if let Err(e) = require_console_header(&headers) {
        return e.into_response();
    }
    if let (Some(token), Some(client)) = (refresh_cookie(&headers), console.supabase.as_deref())
        && let Some(supabase_token) = token.strip_prefix(SUPABASE_PREFIX)
        && let Err(e) = client.revoke(supabase_token).await
    {
        // The cookie goes all the same: the browser is signed out either way.
        tracing::warn!(error = %e, "cannot end the Supabase session at sign-out");
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cookie("", 0, is_https(&headers)));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refresh_token_is_found_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; moose_refresh=abc.def; other=1"),
        );
        assert_eq!(refresh_cookie(&headers).as_deref(), Some("abc.def"));
        headers.insert(header::COOKIE, HeaderValue::from_static("moose_refresh="));
        assert_eq!(refresh_cookie(&headers), None);
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("moose_refresh=mine.a; moose_refresh=planted.b"),
        );
        assert_eq!(
            refresh_cookie(&headers),
            None,
            "two cookies: neither is used"
        );
    }

    #[test]
    fn https_is_recognised_only_when_a_proxy_says_so() {
        let mut headers = HeaderMap::new();
        assert!(!is_https(&headers));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(is_https(&headers));
        headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
        assert!(!is_https(&headers));
        headers.insert(
            "forwarded",
            HeaderValue::from_static("for=1.2.3.4;proto=https"),
        );
        assert!(is_https(&headers));
    }
}
