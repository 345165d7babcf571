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
use moose_auth::{AuthService, TokenPair};
use serde::Deserialize;

/// The refresh cookie's name.
pub const COOKIE: &str = "moose_refresh";

/// The header every session request must carry (any value): the CSRF guard.
pub const CSRF_HEADER: &str = "x-moose-console";

/// The path the cookie is sent to, and only to.
const COOKIE_PATH: &str = "/console/session";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignIn {
    email: String,
    password: String,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignIn")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// What the page keeps in memory.
fn access_body(pair: &TokenPair) -> serde_json::Value {
    serde_json::json!({
        "access_token": pair.access_token,
        "token_type": pair.token_type,
        "expires_in": pair.expires_in,
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
    // Tokens are `<uuid>.<base64url>`: nothing that needs quoting in a cookie.
    HeaderValue::from_str(&format!(
        "{COOKIE}={token}; Path={COOKIE_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("moose_refresh=; Max-Age=0"))
}

/// The refresh token from the request's cookies, if any.
fn refresh_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE && !value.is_empty())
        .map(|(_, value)| value.to_owned())
}

fn client_ip(req: &Request) -> Option<String> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// A token pair as the page sees it: the access token in the body, the refresh token in the
/// cookie.
fn session_response(auth: &AuthService, pair: &TokenPair, secure: bool) -> Response {
    let max_age = auth.settings().refresh_ttl.as_secs();
    let mut response = Json(access_body(pair)).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cookie(&pair.refresh_token, max_age, secure),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `POST /console/session` `{email, password}`: signs in.
pub(crate) async fn sign_in(State(auth): State<AuthService>, req: Request) -> Response {
    let headers = req.headers().clone();
    let ip = client_ip(&req);
    let result = async {
        require_console_header(&headers)?;
        let ApiJson(body) = ApiJson::<SignIn>::from_request(req, &()).await?;
        Ok::<_, ApiError>(
            auth.login(&body.email, &body.password, ip.as_deref())
                .await?,
        )
    }
    .await;
    match result {
        Ok(pair) => session_response(&auth, &pair, is_https(&headers)),
        Err(e) => e.into_response(),
    }
}

/// `POST /console/session/refresh`: a new access token for the refresh cookie, which rotates.
/// Without a valid cookie: 401, and the cookie is deleted.
pub(crate) async fn refresh(State(auth): State<AuthService>, req: Request) -> Response {
    let headers = req.headers().clone();
    if let Err(e) = require_console_header(&headers) {
        return e.into_response();
    }
    let secure = is_https(&headers);
    let Some(token) = refresh_cookie(&headers) else {
        return ApiError::Unauthorized("no console session; sign in".into()).into_response();
    };
    match auth.refresh(&token, client_ip(&req).as_deref()).await {
        Ok(pair) => session_response(&auth, &pair, secure),
        Err(e) => {
            let mut response = ApiError::from(e).into_response();
            if response.status() == StatusCode::UNAUTHORIZED {
                response
                    .headers_mut()
                    .insert(header::SET_COOKIE, cookie("", 0, secure));
            }
            response
        }
    }
}

/// `DELETE /console/session`: deletes the cookie. (The page first ends the session itself
/// with `POST /api/auth/logout`, which revokes the refresh token server-side.)
pub(crate) async fn sign_out(headers: HeaderMap) -> Response {
    if let Err(e) = require_console_header(&headers) {
        return e.into_response();
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
