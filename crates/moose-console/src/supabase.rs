//! Supabase Auth's password and refresh-token grants, for the console's Supabase sign-in.
//!
//! The server signs in on the browser's behalf (so the refresh token can live in the same
//! httpOnly cookie as a local one, and the page never talks to another origin — the CSP stays
//! `connect-src 'self'`). The access token Supabase returns is an ordinary Supabase bearer
//! token: Moose verifies it like any other before handing it to the page.

use std::time::Duration;

use moose_api::ApiError;
use serde::Deserialize;
use serde_json::json;

use crate::SupabaseProject;

/// What a grant returns, as the console uses it.
#[derive(Debug)]
pub(crate) struct Grant {
    pub(crate) access_token: String,
    pub(crate) refresh_token: String,
    pub(crate) expires_in: u64,
}

#[derive(Deserialize)]
struct GrantBody {
    access_token: String,
    refresh_token: String,
    #[serde(default = "default_expiry")]
    expires_in: u64,
}

fn default_expiry() -> u64 {
    3600
}

/// A client of one project's Auth.
#[derive(Debug)]
pub(crate) struct Client {
    project: SupabaseProject,
    http: reqwest::Client,
}

impl Client {
    pub(crate) fn new(project: SupabaseProject) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Self { project, http }
    }

    /// `grant_type=password`.
    pub(crate) async fn password(&self, email: &str, password: &str) -> Result<Grant, ApiError> {
        self.grant("password", json!({"email": email, "password": password}))
            .await
    }

    /// `grant_type=refresh_token` (Supabase rotates the refresh token).
    pub(crate) async fn refresh(&self, refresh_token: &str) -> Result<Grant, ApiError> {
        self.grant("refresh_token", json!({"refresh_token": refresh_token}))
            .await
    }

    /// Ends the Supabase session of `refresh_token` (sign-out): GoTrue's logout takes the
    /// session's access token, so one is fetched with the refresh token first.
    pub(crate) async fn revoke(&self, refresh_token: &str) -> Result<(), ApiError> {
        let grant = self.refresh(refresh_token).await?;
        let res = self
            .send(
                "logout?scope=local",
                self.post("logout?scope=local")
                    .bearer_auth(&grant.access_token),
            )
            .await?;
        if res.status().is_success() {
            return Ok(());
        }
        tracing::warn!(
            status = res.status().as_u16(),
            "Supabase Auth refused a sign-out"
        );
        Err(ApiError::Unavailable(
            format!("Supabase Auth answered {}", res.status()).into(),
        ))
    }

    /// A POST to `/auth/v1/<path>` with the project's anon key.
    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        let url = format!("{}/auth/v1/{path}", self.project.url.trim_end_matches('/'));
        self.http
            .post(url)
            .header("apikey", self.project.anon_key.expose())
    }

    /// Sends `request`; a failure to reach Supabase is a 503 (logged, the URL's query left out).
    async fn send(
        &self,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ApiError> {
        request.send().await.map_err(|e| {
            tracing::warn!(error = %e.without_url(), call = what, "Supabase Auth cannot be reached");
            ApiError::Unavailable("Supabase Auth cannot be reached".into())
        })
    }

    async fn grant(&self, kind: &str, body: serde_json::Value) -> Result<Grant, ApiError> {
        let path = format!("token?grant_type={kind}");
        let res = self.send(&path, self.post(&path).json(&body)).await?;
        let status = res.status();
        if status.is_success() {
            let body: GrantBody = res.json().await.map_err(|e| {
                tracing::warn!(error = %e, "Supabase Auth answered something unexpected");
                ApiError::Unavailable("Supabase Auth answered something unexpected".into())
            })?;
            return Ok(Grant {
                access_token: body.access_token,
                refresh_token: body.refresh_token,
                expires_in: body.expires_in,
            });
        }
        // 400 is Supabase's answer to wrong credentials and to a used or unknown refresh token:
        // for the browser, both mean "sign in again". Anything else is Supabase's problem (a
        // wrong anon key included), logged without the body, which may echo what was sent.
        if status == reqwest::StatusCode::BAD_REQUEST {
            return Err(ApiError::Unauthorized(if kind == "password" {
                "the e-mail or password is not right".into()
            } else {
                "the Supabase session has ended; sign in again".into()
            }));
        }
        tracing::warn!(
            status = status.as_u16(),
            grant = kind,
            "Supabase Auth refused a grant"
        );
        Err(ApiError::Unavailable(
            format!("Supabase Auth answered {status}").into(),
        ))
    }
}
