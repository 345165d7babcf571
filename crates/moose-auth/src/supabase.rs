//! Verification of Supabase access tokens.
//!
//! Asymmetric keys (ES256, RS256, EdDSA) come from the project's JWKS endpoint
//! (`<SUPABASE_URL>/auth/v1/.well-known/jwks.json`), cached for ten minutes and refetched early
//! when a token names an unknown `kid` (key rotation). Refetching is bounded so that junk tokens
//! can neither hammer Supabase nor delay real users: at most one fetch is in flight, at most one
//! starts per 30 seconds (counted from the last attempt, successful or not, so an unknown `kid`
//! is answered from that "negative cache" without a fetch), and no lock is held while a fetch
//! runs, so a token whose key is cached is verified at once even while Supabase hangs. The legacy shared-secret mode (HS256) is used only when
//! a JWT secret is configured. The token's algorithm must be the key's algorithm (no algorithm
//! confusion); `none` is never accepted; `iss` must be the project's, `aud` must be
//! `authenticated`, and `exp`/`nbf` are checked with 30 s of leeway.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use moose_domain::Secret;
use serde::Deserialize;

const CACHE_TTL: Duration = Duration::from_secs(600);
const MIN_REFETCH: Duration = Duration::from_secs(30);

/// The claims Moose reads from a Supabase access token.
#[derive(Debug, Clone, Deserialize)]
pub struct SupabaseClaims {
    /// The Supabase user id.
    pub sub: String,
    /// The user's e-mail, if the token carries it.
    #[serde(default)]
    pub email: Option<String>,
}

/// Why a Supabase token was not accepted (logged, never shown to the caller).
#[derive(Debug, thiserror::Error)]
pub enum SupabaseError {
    /// The token is not acceptable.
    #[error("token rejected: {0}")]
    Rejected(String),
    /// The JWKS could not be fetched.
    #[error("cannot fetch the Supabase JWKS: {0}")]
    Jwks(String),
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    /// The last successful fetch.
    fetched: Option<Instant>,
    /// The last fetch started, successful or not: the refetch rate limit counts from here.
    attempted: Option<Instant>,
    /// Fetches started so far: a caller that waited for someone else's fetch sees it changed
    /// and does not fetch again.
    generation: u64,
}

impl Cache {
    fn may_refetch(&self, min_interval: Duration) -> bool {
        self.attempted.is_none_or(|t| t.elapsed() >= min_interval)
    }
}

/// Verifies Supabase access tokens for one project.
pub struct SupabaseVerifier {
    min_refetch: Duration,
    issuer: String,
    jwks_url: String,
    hs256: Option<DecodingKey>,
    http: reqwest::Client,
    /// Held only for short, synchronous reads and updates, never across a fetch.
    cache: std::sync::Mutex<Cache>,
    /// Held by the one fetch in flight.
    fetching: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for SupabaseVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupabaseVerifier")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

fn key_algorithm(jwk: &jsonwebtoken::jwk::Jwk) -> Option<Algorithm> {
    if let Some(alg) = jwk.common.key_algorithm {
        return match alg {
            KeyAlgorithm::ES256 => Some(Algorithm::ES256),
            KeyAlgorithm::ES384 => Some(Algorithm::ES384),
            KeyAlgorithm::RS256 => Some(Algorithm::RS256),
            KeyAlgorithm::RS384 => Some(Algorithm::RS384),
            KeyAlgorithm::RS512 => Some(Algorithm::RS512),
            KeyAlgorithm::EdDSA => Some(Algorithm::EdDSA),
            _ => None,
        };
    }
    match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(_) => Some(Algorithm::ES256),
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::OctetKeyPair(_) => Some(Algorithm::EdDSA),
        _ => None,
    }
}

impl SupabaseVerifier {
    /// A verifier for the project at `url`; `jwt_secret` enables legacy HS256 tokens.
    pub fn new(url: &str, jwt_secret: Option<&Secret>) -> Self {
        let base = url.trim_end_matches('/');
        Self {
            min_refetch: MIN_REFETCH,
            issuer: format!("{base}/auth/v1"),
            jwks_url: format!("{base}/auth/v1/.well-known/jwks.json"),
            hs256: jwt_secret.map(|s| DecodingKey::from_secret(s.expose().as_bytes())),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            cache: std::sync::Mutex::new(Cache::default()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// Changes how soon an unknown key id may trigger another JWKS fetch (default 30 s).
    #[must_use]
    pub fn with_min_refetch(mut self, interval: Duration) -> Self {
        self.min_refetch = interval;
        self
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Fetches the JWKS; the caller holds `fetching`. The cache is locked only to record the
    /// attempt and to store the result.
    async fn fetch(&self) -> Result<(), SupabaseError> {
        {
            let mut cache = self.cache();
            cache.attempted = Some(Instant::now());
            cache.generation += 1;
        }
        let set: JwkSet = self
            .http
            .get(&self.jwks_url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| SupabaseError::Jwks(e.without_url().to_string()))?
            .json()
            .await
            .map_err(|e| SupabaseError::Jwks(e.to_string()))?;
        let keys: HashMap<_, _> = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                let alg = key_algorithm(jwk)?;
                let key = DecodingKey::from_jwk(jwk).ok()?;
                Some((kid, (key, alg)))
            })
            .collect();
        tracing::info!(keys = keys.len(), "fetched the Supabase JWKS");
        let mut cache = self.cache();
        cache.keys = keys;
        cache.fetched = Some(Instant::now());
        Ok(())
    }

    fn cached(&self, kid: &str) -> Option<(DecodingKey, Algorithm)> {
        self.cache().keys.get(kid).cloned()
    }

    async fn key_for(&self, kid: &str) -> Result<(DecodingKey, Algorithm), SupabaseError> {
        let unknown = || SupabaseError::Rejected(format!("unknown key id {kid:?}"));
        let (known, stale, may_refetch, generation) = {
            let cache = self.cache();
            (
                cache.keys.get(kid).cloned(),
                cache.fetched.is_none_or(|t| t.elapsed() > CACHE_TTL),
                cache.may_refetch(self.min_refetch),
                cache.generation,
            )
        };
        if let Some(key) = known {
            // A known key is never held up by a fetch: refresh a stale set only if no other
            // fetch runs, and keep serving the cached keys if Supabase is unreachable.
            if stale
                && may_refetch
                && let Ok(_gate) = self.fetching.try_lock()
                && let Err(e) = self.fetch().await
            {
                tracing::warn!(error = %e, "using cached Supabase keys");
            }
            return Ok(self.cached(kid).unwrap_or(key));
        }
        if !may_refetch {
            return Err(unknown());
        }
        // Unknown key id: one fetch for everyone who asks at once; the rest wait for it and
        // then find the key, or find the attempt too recent and give up without fetching.
        let _gate = self.fetching.lock().await;
        if let Some(key) = self.cached(kid) {
            return Ok(key);
        }
        {
            let cache = self.cache();
            if cache.generation != generation || !cache.may_refetch(self.min_refetch) {
                return Err(unknown());
            }
        }
        self.fetch().await?;
        self.cached(kid).ok_or_else(unknown)
    }

    /// Verifies a token and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<SupabaseClaims, SupabaseError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| SupabaseError::Rejected(format!("header: {e}")))?;
        let (key, alg) = match header.alg {
            Algorithm::HS256 => match &self.hs256 {
                Some(key) => (key.clone(), Algorithm::HS256),
                None => {
                    return Err(SupabaseError::Rejected(
                        "HS256 tokens are not enabled".into(),
                    ));
                }
            },
            Algorithm::HS384 | Algorithm::HS512 => {
                return Err(SupabaseError::Rejected("unsupported HMAC algorithm".into()));
            }
            alg => {
                let kid = header
                    .kid
                    .as_deref()
                    .ok_or_else(|| SupabaseError::Rejected("no key id".into()))?;
                let (key, key_alg) = self.key_for(kid).await?;
                if key_alg != alg {
                    return Err(SupabaseError::Rejected(format!(
                        "algorithm {alg:?} does not match key {kid:?} ({key_alg:?})"
                    )));
                }
                (key, alg)
            }
        };
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&["authenticated"]);
        validation.leeway = 30;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        jsonwebtoken::decode::<SupabaseClaims>(token, &key, &validation)
            .map(|d| d.claims)
            .map_err(|e| SupabaseError::Rejected(e.to_string()))
    }
}
