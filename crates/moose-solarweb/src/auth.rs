//! Optional JWT login (`POST /iam/jwt`) with proactive refresh (`PATCH /iam/jwt/{refreshToken}`).

use std::time::Duration;

use jiff::Timestamp;
use moose_domain::Secret;
use reqwest::Method;
use serde_json::json;

use crate::client::SolarWebClient;
use crate::stats::EndpointKind;
use crate::types::TokenResponse;
use crate::{SolarWebError, types};

/// Refresh this long before expiry, so a token never expires mid-poll.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// Lifetime assumed when the API states none we can read (observed tokens live one hour).
const ASSUMED_LIFETIME: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
struct Token {
    jwt: Secret,
    refresh: Option<Secret>,
    expires_at: Timestamp,
    /// Refresh this long before expiry: five minutes, or a fifth of the lifetime for tokens
    /// that live less than 25 minutes (otherwise a short-lived token would be renewed before
    /// every request).
    margin: jiff::SignedDuration,
}

/// The current token, shared by all requests; one login or refresh at a time.
#[derive(Debug, Default)]
pub(crate) struct TokenCache(tokio::sync::Mutex<Option<Token>>);

impl TokenCache {
    /// Drops the token so the next request logs in again.
    pub(crate) async fn invalidate(&self) {
        *self.0.lock().await = None;
    }

    /// The bearer token to send, logging in or refreshing first if needed; `None` when the
    /// client uses access keys only.
    pub(crate) async fn bearer(&self, client: &SolarWebClient) -> crate::Result<Option<Secret>> {
        let Some((user, password)) = &client.inner.config.credentials.login else {
            return Ok(None);
        };
        let mut slot = self.0.lock().await;
        let now = Timestamp::now();
        let fresh = match slot.take() {
            Some(token) if token.expires_at.duration_since(now) > token.margin => token,
            Some(Token {
                refresh: Some(refresh),
                ..
            }) => match refresh_token(client, &refresh).await {
                Ok(token) => token,
                Err(e) => {
                    tracing::info!(error = %e, "Solar.web token refresh failed; logging in again");
                    login(client, user, password).await?
                }
            },
            _ => login(client, user, password).await?,
        };
        let bearer = fresh.jwt.clone();
        *slot = Some(fresh);
        Ok(Some(bearer))
    }
}

async fn login(client: &SolarWebClient, user: &str, password: &Secret) -> crate::Result<Token> {
    let body = json!({"userId": user, "password": password.expose()});
    let req = client
        .base_request(Method::POST, client.url("iam/jwt", &[]))
        .json(&body);
    token_call(client, req).await
}

async fn refresh_token(client: &SolarWebClient, refresh: &Secret) -> crate::Result<Token> {
    let mut url = client.url("iam/jwt", &[]);
    url.path_segments_mut()
        .expect("http URLs have paths")
        .push(refresh.expose());
    token_call(client, client.base_request(Method::PATCH, url)).await
}

async fn token_call(client: &SolarWebClient, req: reqwest::RequestBuilder) -> crate::Result<Token> {
    client.inner.stats.call(EndpointKind::Auth);
    let response = req.send().await.map_err(|e| client.transport_error(&e))?;
    let body = client.read(response).await?;
    let token: TokenResponse =
        serde_json::from_slice(&body).map_err(|e| SolarWebError::Decode {
            endpoint: "iam/jwt",
            message: e.to_string(),
        })?;
    let expires_at = token
        .jwt_token_expiration
        .as_deref()
        .and_then(types::parse_api_time)
        .or_else(|| jwt_exp(&token.jwt_token))
        .unwrap_or_else(|| {
            Timestamp::now() + jiff::SignedDuration::try_from(ASSUMED_LIFETIME).unwrap_or_default()
        });
    let lifetime = expires_at.duration_since(Timestamp::now());
    let margin = jiff::SignedDuration::try_from(REFRESH_MARGIN)
        .unwrap_or_default()
        .min(lifetime / 5);
    Ok(Token {
        jwt: Secret::new(token.jwt_token),
        refresh: token.refresh_token.map(Secret::new),
        expires_at,
        margin,
    })
}

/// The `exp` claim of a JWT, read without verifying (we only need to know when to refresh).
fn jwt_exp(jwt: &str) -> Option<Timestamp> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64url_decode(payload)?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    Timestamp::from_second(claims.get("exp")?.as_i64()?).ok()
}

fn base64url_decode(input: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in input.bytes().filter(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_exp_claim() {
        // {"alg":"none"} . {"exp":1700000000}
        let jwt = "eyJhbGciOiJub25lIn0.eyJleHAiOjE3MDAwMDAwMDB9.sig";
        assert_eq!(
            jwt_exp(jwt),
            Some(Timestamp::from_second(1_700_000_000).unwrap())
        );
        assert_eq!(jwt_exp("not-a-jwt"), None);
    }
}
