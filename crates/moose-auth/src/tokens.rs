//! Moose-issued access tokens (local mode): short-lived HS256 JWTs naming a session.
//!
//! The signing key is generated once and kept in the store, so every process (and every Lambda
//! instance) verifies the same tokens. Revocation is by session: each request checks that the
//! token's session still exists, so logout and disabling a user take effect at once.

use jiff::Timestamp;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// `kid` of Moose-issued tokens; tells them apart from Supabase tokens.
pub const MOOSE_KID: &str = "moose-1";
/// `iss` and `aud` of Moose-issued tokens.
pub const MOOSE_ISSUER: &str = "moose";

/// Claims of a Moose access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalClaims {
    /// User id.
    pub sub: String,
    /// Session id.
    pub sid: String,
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// Issued at (s).
    pub iat: i64,
    /// Expires (s).
    pub exp: i64,
}

/// Signs and verifies Moose access tokens.
#[derive(Clone)]
pub struct LocalTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for LocalTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalTokens([redacted])")
    }
}

impl LocalTokens {
    /// From the raw signing secret.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    /// Issues a token for `user` in `session`, valid for `ttl_secs`.
    pub fn issue(&self, user: &str, session: &str, ttl_secs: i64) -> String {
        let now = Timestamp::now().as_second();
        let claims = LocalClaims {
            sub: user.to_owned(),
            sid: session.to_owned(),
            iss: MOOSE_ISSUER.into(),
            aud: MOOSE_ISSUER.into(),
            iat: now,
            exp: now + ttl_secs,
        };
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(MOOSE_KID.into());
        jsonwebtoken::encode(&header, &claims, &self.encoding).expect("HS256 signing cannot fail")
    }

    /// Verifies signature, algorithm (HS256 only), issuer, audience and expiry (30 s leeway).
    pub fn verify(&self, token: &str) -> Option<LocalClaims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[MOOSE_ISSUER]);
        validation.set_audience(&[MOOSE_ISSUER]);
        validation.leeway = 30;
        validation.validate_nbf = true;
        jsonwebtoken::decode::<LocalClaims>(token, &self.decoding, &validation)
            .ok()
            .map(|d| d.claims)
    }
}

/// Whether a token claims to be Moose-issued (by its header's `kid`); says nothing of validity.
pub fn is_moose_token(token: &str) -> bool {
    jsonwebtoken::decode_header(token).is_ok_and(|h| h.kid.as_deref() == Some(MOOSE_KID))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let tokens = LocalTokens::new(b"0123456789abcdef0123456789abcdef");
        let t = tokens.issue("u1", "s1", 60);
        assert!(is_moose_token(&t));
        let c = tokens.verify(&t).unwrap();
        assert_eq!((c.sub.as_str(), c.sid.as_str()), ("u1", "s1"));
        assert!(
            tokens.verify(&tokens.issue("u1", "s1", -120)).is_none(),
            "expired"
        );
        let other = LocalTokens::new(b"another key another key another k");
        assert!(
            tokens.verify(&other.issue("u1", "s1", 60)).is_none(),
            "wrong key"
        );
        let mut parts: Vec<&str> = t.split('.').collect();
        let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0"; // {"alg":"none","typ":"JWT"}
        parts[0] = none_header;
        assert!(
            tokens
                .verify(&format!("{}.{}.", parts[0], parts[1]))
                .is_none(),
            "alg none"
        );
    }
}
