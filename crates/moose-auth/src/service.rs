//! The authentication and user-management service the HTTP layer calls.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use moose_domain::{Secret, UserId, time::now_utc};
use moose_store::{Condition, Store, StoreError};
use serde_json::{Value, json};

use crate::crypto::{constant_time_eq, random_token, sha256_hex};
use crate::model::{ContactPoints, Credential, IdentitySource, OrgRole, Principal, User};
use crate::password;
use crate::repo::{Activity, Repo, StoredSession, StoredUser};
use crate::supabase::SupabaseVerifier;
use crate::throttle::Throttle;
use crate::tokens::{LocalTokens, is_moose_token};

mod accounts;
mod grants;

pub use accounts::{ProfilePatch, check_webhook_url, valid_email};

/// Prefix of API keys (`mk_<id>_<secret>`), so they are recognisable in secret scanners.
pub const API_KEY_PREFIX: &str = "mk_";

/// How the service is set up.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Supabase project URL; enables Supabase tokens.
    pub supabase_url: Option<String>,
    /// Supabase legacy JWT secret; enables HS256 Supabase tokens.
    pub supabase_jwt_secret: Option<Secret>,
    /// Lifetime of Moose access tokens.
    pub access_ttl: Duration,
    /// Lifetime of sessions (refresh tokens).
    pub refresh_ttl: Duration,
    /// How long after a refresh the token it replaced is taken for a concurrent refresh
    /// (answered with a conflict) rather than a copy (which ends the session).
    pub refresh_reuse_grace: Duration,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            supabase_url: None,
            supabase_jwt_secret: None,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            refresh_reuse_grace: Duration::from_secs(REUSE_GRACE_SECS.unsigned_abs()),
        }
    }
}

/// What can go wrong; the HTTP layer maps these to statuses.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Credentials missing or invalid. Deliberately says nothing more.
    #[error("invalid credentials")]
    Unauthenticated,
    /// Too many failed sign-ins.
    #[error("too many failed sign-ins; try again in {} seconds", .0.as_secs())]
    Throttled(Duration),
    /// A request value is invalid.
    #[error("{0}")]
    Invalid(String),
    /// Something with that identity already exists.
    #[error("{0}")]
    Conflict(String),
    /// No such user, membership or key.
    #[error("{0}")]
    NotFound(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The default of [`AuthSettings::refresh_reuse_grace`], in seconds: after a refresh, the
/// refresh token it replaced is answered with a conflict instead of ending the session as
/// copied (see [`AuthService::refresh`]).
pub const REUSE_GRACE_SECS: i64 = 20;

/// Tokens handed out at sign-in and refresh.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenPair {
    /// Bearer token for API calls.
    pub access_token: String,
    /// Token for `POST /api/auth/refresh`; single use, rotated on every refresh.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// A password sign-in counted by [`AuthService::password_attempt`].
#[derive(Debug)]
pub struct PasswordAttempt(crate::throttle::Attempt);

/// The service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AuthService {
    repo: Repo,
    settings: AuthSettings,
    local: Arc<tokio::sync::OnceCell<LocalTokens>>,
    supabase: Option<Arc<SupabaseVerifier>>,
    throttle: Throttle,
}

/// Longest e-mail address accepted anywhere (RFC 5321's path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// Longest password accepted: far above any passphrase, and it bounds Argon2's input.
pub const MAX_PASSWORD_LEN: usize = 1024;
/// Longest session id or refresh secret considered (Moose issues 24 and 43 characters).
const MAX_TOKEN_PART_LEN: usize = 128;

impl AuthService {
    /// A service over `store`.
    pub fn new(store: Arc<dyn Store>, settings: AuthSettings) -> Self {
        let supabase = settings.supabase_url.as_deref().map(|url| {
            Arc::new(SupabaseVerifier::new(
                url,
                settings.supabase_jwt_secret.as_ref(),
            ))
        });
        Self {
            throttle: Throttle::new(Arc::clone(&store)),
            repo: Repo { store },
            settings,
            local: Arc::default(),
            supabase,
        }
    }

    /// The settings the service was built with (token lifetimes, Supabase).
    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    async fn local_tokens(&self) -> Result<&LocalTokens, AuthError> {
        self.local
            .get_or_try_init(|| async {
                let secret = self.repo.signing_secret(random_token(48)).await?;
                Ok::<_, AuthError>(LocalTokens::new(secret.as_bytes()))
            })
            .await
    }

    /// Who a bearer token belongs to.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal, AuthError> {
        if let Some(rest) = bearer.strip_prefix(API_KEY_PREFIX) {
            return self.authenticate_api_key(rest).await;
        }
        if is_moose_token(bearer) || self.supabase.is_none() {
            let claims = self
                .local_tokens()
                .await?
                .verify(bearer)
                .ok_or(AuthError::Unauthenticated)?;
            let session = self
                .repo
                .session(&claims.sid)
                .await?
                .ok_or(AuthError::Unauthenticated)?;
            if session.user_id.as_str() != claims.sub {
                return Err(AuthError::Unauthenticated);
            }
            let user = self.active_user(&session.user_id).await?;
            return Ok(Principal {
                user,
                credential: Credential::Session {
                    session: claims.sid,
                },
            });
        }
        let verifier = self.supabase.as_ref().ok_or(AuthError::Unauthenticated)?;
        let claims = verifier.verify(bearer).await.map_err(|e| {
            tracing::info!(error = %e, "Supabase token rejected");
            AuthError::Unauthenticated
        })?;
        let id = UserId::parse(&claims.sub).map_err(|_| AuthError::Unauthenticated)?;
        let id = self.repo.supabase_link(id.as_str()).await?.unwrap_or(id);
        let user = match self.repo.user(&id).await? {
            Some(stored) if stored.user.disabled => return Err(AuthError::Unauthenticated),
            Some(stored) => stored.user,
            None => self.first_sight(&id, claims.email.as_deref()).await?,
        };
        Ok(Principal {
            user,
            credential: Credential::Supabase,
        })
    }

    /// Creates the Moose record of a Supabase user seen for the first time (as a viewer).
    async fn first_sight(&self, id: &UserId, email: Option<&str>) -> Result<User, AuthError> {
        let email = email
            .filter(|e| valid_email(e))
            .map_or_else(|| format!("{id}@supabase.invalid"), str::to_lowercase);
        let user = new_user(
            id.clone(),
            &email,
            None,
            OrgRole::Viewer,
            IdentitySource::Supabase,
        );
        match self
            .repo
            .create_user(&StoredUser {
                user: user.clone(),
                password_hash: None,
            })
            .await
        {
            Ok(()) => {
                self.log(
                    &user.id,
                    "user_created",
                    None,
                    None,
                    json!({"source": "supabase"}),
                )
                .await;
                Ok(user)
            }
            Err(StoreError::Conflict { .. }) => {
                if self.repo.user(id).await?.is_some() {
                    // Two first requests raced; the other created it.
                    return self.active_user(id).await;
                }
                // The e-mail is claimed by another account, typically a local one made before
                // Supabase was switched on. Linking by e-mail alone would let whoever controls
                // a Supabase account with that address take the local account over, so an
                // administrator links them explicitly.
                tracing::warn!(
                    supabase_user = %id,
                    "a Supabase user's e-mail belongs to an existing Moose account; refusing until an administrator links them with `moose users link-supabase --email <address> --supabase-id {id}`"
                );
                Err(AuthError::Forbidden(format!(
                    "the e-mail address of this Supabase account belongs to an existing Moose account; an administrator can link the two with `moose users link-supabase --email <address> --supabase-id {id}`"
                )))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn active_user(&self, id: &UserId) -> Result<User, AuthError> {
        match self.repo.user(id).await? {
            Some(stored) if !stored.user.disabled => Ok(stored.user),
            _ => Err(AuthError::Unauthenticated),
        }
    }

    async fn authenticate_api_key(&self, rest: &str) -> Result<Principal, AuthError> {
        let (id, secret) = rest.split_once('_').ok_or(AuthError::Unauthenticated)?;
        if !grants::valid_key_id(id) || secret.len() > MAX_TOKEN_PART_LEN {
            return Err(AuthError::Unauthenticated);
        }
        let key = self
            .repo
            .api_key(id)
            .await?
            .ok_or(AuthError::Unauthenticated)?;
        if key.revoked || !constant_time_eq(&key.hash, &sha256_hex(secret)) {
            return Err(AuthError::Unauthenticated);
        }
        // A key acts with at most its creator's *current* role, and stops with its creator: a
        // demoted or disabled administrator's keys must not keep their old power.
        let creator = match self.repo.user(&key.created_by).await? {
            Some(stored) if !stored.user.disabled => stored.user,
            _ => return Err(AuthError::Unauthenticated),
        };
        let role = key.role.min(creator.role);
        let user = User {
            id: UserId::parse(format!("apikey:{id}")).map_err(|_| AuthError::Unauthenticated)?,
            email: format!("{id}@api-keys.invalid"),
            name: Some(key.name.clone()),
            role,
            disabled: false,
            time_zone: "UTC".into(),
            language: "en".into(),
            contacts: ContactPoints::default(),
            source: IdentitySource::Local,
        };
        Ok(Principal {
            user,
            credential: Credential::ApiKey {
                key: key.id,
                read_only: key.read_only,
            },
        })
    }

    /// Signs a local user in. Unknown e-mail and wrong password fail the same way, in the same time.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        ip: Option<&str>,
    ) -> Result<TokenPair, AuthError> {
        // Counted before the hash is checked, so concurrent guesses cannot exceed the limit.
        let attempt = self.password_attempt(email, password, ip).await?;
        let email = email.trim().to_lowercase();
        let stored = self.repo.user_by_email(&email).await?;
        let hash = stored
            .as_ref()
            .and_then(|s| s.password_hash.as_deref())
            .unwrap_or_else(|| password::dummy_hash());
        let verified = password::verify_password(password, hash);
        let user = match stored {
            Some(s) if verified && s.password_hash.is_some() && !s.user.disabled => s.user,
            other => {
                if let Some(s) = other {
                    // Recorded off the answer's path: waiting for this write only for known
                    // accounts would tell, by the answer's time, which addresses have one.
                    let (service, ip) = (self.clone(), ip.map(str::to_owned));
                    tokio::spawn(async move {
                        service
                            .log(
                                &s.user.id,
                                "sign_in_failed",
                                None,
                                ip.as_deref(),
                                json!({"reason": if s.user.disabled { "disabled" } else { "credentials" }}),
                            )
                            .await;
                    });
                } else {
                    // Not the address itself: people type passwords into the e-mail field.
                    let email_sha256 = &sha256_hex(&email)[..16];
                    tracing::info!(email_sha256, "sign-in failed for an unknown account");
                }
                return Err(AuthError::Unauthenticated);
            }
        };
        self.password_accepted(&attempt).await?;
        let session = random_token(18);
        let pair = self
            .new_session(&user.id, &session, ip, Condition::NotExists, None)
            .await?;
        self.log(&user.id, "sign_in", None, ip, json!({"method": "password"}))
            .await;
        Ok(pair)
    }

    /// Counts a password sign-in against the per-account and per-address limits, after
    /// bounding the lengths: [`Self::login`]'s, and one made against another identity provider
    /// (Supabase, through the console), so that Moose cannot be used to guess passwords there
    /// without limit. Hand the attempt to [`Self::password_accepted`] when the password was
    /// accepted.
    pub async fn password_attempt(
        &self,
        email: &str,
        password: &str,
        ip: Option<&str>,
    ) -> Result<PasswordAttempt, AuthError> {
        if email.len() > MAX_EMAIL_LEN {
            return Err(AuthError::Invalid(format!(
                "email: at most {MAX_EMAIL_LEN} characters"
            )));
        }
        if password.len() > MAX_PASSWORD_LEN {
            return Err(AuthError::Invalid(format!(
                "password: at most {MAX_PASSWORD_LEN} characters"
            )));
        }
        let email = email.trim().to_lowercase();
        let attempt = self
            .throttle
            .begin(&email, ip)
            .await?
            .map_err(AuthError::Throttled)?;
        Ok(PasswordAttempt(attempt))
    }

    /// The provider accepted the password of `attempt`: the account starts afresh.
    pub async fn password_accepted(&self, attempt: &PasswordAttempt) -> Result<(), AuthError> {
        Ok(self.throttle.succeeded(&attempt.0).await?)
    }

    async fn new_session(
        &self,
        user: &UserId,
        session: &str,
        ip: Option<&str>,
        condition: Condition,
        previous_hash: Option<String>,
    ) -> Result<TokenPair, AuthError> {
        let secret = random_token(32);
        let ttl = i64::try_from(self.settings.refresh_ttl.as_secs()).unwrap_or(i64::MAX);
        let now = Timestamp::now().as_second();
        let stored = StoredSession {
            user_id: user.clone(),
            refresh_hash: sha256_hex(&secret),
            rotated_at: previous_hash.is_some().then_some(now),
            previous_hash,
            expires_at: now.saturating_add(ttl),
            ip: ip.map(str::to_owned),
        };
        self.repo.put_session(session, &stored, condition).await?;
        let access_ttl = i64::try_from(self.settings.access_ttl.as_secs()).unwrap_or(900);
        Ok(TokenPair {
            access_token: self
                .local_tokens()
                .await?
                .issue(user.as_str(), session, access_ttl),
            refresh_token: format!("{session}.{secret}"),
            token_type: "Bearer",
            expires_in: self.settings.access_ttl.as_secs(),
        })
    }

    /// Exchanges a refresh token for new tokens, rotating it. Presenting the refresh token that
    /// the last refresh replaced ends the session: it means the token was copied — unless it
    /// comes within [`AuthSettings::refresh_reuse_grace`] of that refresh, when it is a race between two
    /// requests and is refused with [`AuthError::Conflict`], the session kept. A secret that
    /// was never issued proves nothing (the session id alone is in every access token), so it
    /// is refused without touching the session.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        ip: Option<&str>,
    ) -> Result<TokenPair, AuthError> {
        let (session, secret) = refresh_token
            .split_once('.')
            .ok_or(AuthError::Unauthenticated)?;
        if session.is_empty()
            || session.len() > MAX_TOKEN_PART_LEN
            || secret.len() > MAX_TOKEN_PART_LEN
        {
            return Err(AuthError::Unauthenticated);
        }
        let stored = self
            .repo
            .session(session)
            .await?
            .ok_or(AuthError::Unauthenticated)?;
        let presented = sha256_hex(secret);
        if !constant_time_eq(&stored.refresh_hash, &presented) {
            let reused = stored
                .previous_hash
                .as_deref()
                .is_some_and(|old| constant_time_eq(old, &presented));
            if !reused {
                tracing::info!("refresh refused: the secret does not match the session");
                return Err(AuthError::Unauthenticated);
            }
            // Moments after a rotation, the old secret is most likely a second request that
            // left before the first one's answer came back (two tabs, or two calls of one
            // page): refused, but the session lives on, and the client retries with the
            // cookie or token the first refresh gave it.
            let since = stored
                .rotated_at
                .map(|at| Timestamp::now().as_second().saturating_sub(at));
            let grace = i64::try_from(self.settings.refresh_reuse_grace.as_secs()).unwrap_or(0);
            if since.is_some_and(|s| (0..grace).contains(&s)) {
                return Err(AuthError::Conflict(
                    "this refresh token was replaced moments ago by a concurrent refresh; \
                     use the newest one"
                        .into(),
                ));
            }
            self.repo.delete_session(session).await?;
            self.log(
                &stored.user_id,
                "session_revoked",
                None,
                ip,
                json!({"reason": "refresh token reuse"}),
            )
            .await;
            return Err(AuthError::Unauthenticated);
        }
        if stored.expires_at < Timestamp::now().as_second() {
            self.repo.delete_session(session).await?;
            return Err(AuthError::Unauthenticated);
        }
        self.active_user(&stored.user_id).await?;
        let guard = Condition::AttributeEquals {
            name: "refresh_hash".into(),
            value: Value::String(stored.refresh_hash.clone()),
        };
        self.new_session(
            &stored.user_id,
            session,
            ip,
            guard,
            Some(stored.refresh_hash),
        )
        .await
        .map_err(|e| match e {
            AuthError::Store(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => {
                AuthError::Unauthenticated
            }
            other => other,
        })
    }

    /// Ends the caller's session (Moose tokens); other credentials have nothing to end.
    pub async fn logout(&self, principal: &Principal, ip: Option<&str>) -> Result<(), AuthError> {
        if let Credential::Session { session } = &principal.credential {
            self.repo.delete_session(session).await?;
            self.log(&principal.user.id, "sign_out", None, ip, json!({}))
                .await;
        }
        Ok(())
    }

    /// Links a Supabase user id to the local account with `email`, so that the Supabase user
    /// signs in as that account. For accounts that existed before Supabase was switched on.
    pub async fn link_supabase(&self, email: &str, supabase_id: &str) -> Result<User, AuthError> {
        let sub = UserId::parse(supabase_id)
            .map_err(|e| AuthError::Invalid(format!("supabase id: {e}")))?;
        let stored = self
            .repo
            .user_by_email(&email.trim().to_lowercase())
            .await?
            .ok_or_else(|| AuthError::NotFound(format!("no account with e-mail {email}")))?;
        if self.repo.user(&sub).await?.is_some() {
            return Err(AuthError::Conflict(format!(
                "Supabase user {sub} already has a Moose account of its own"
            )));
        }
        self.repo
            .link_supabase(sub.as_str(), &stored.user.id)
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => {
                    AuthError::Conflict(format!("Supabase user {sub} is already linked"))
                }
                other => other.into(),
            })?;
        self.log(
            &stored.user.id,
            "supabase_linked",
            None,
            None,
            json!({"supabase_id": sub}),
        )
        .await;
        Ok(stored.user)
    }

    /// A user's recent activity, newest first.
    pub async fn activity(&self, user: &UserId, limit: u32) -> Result<Vec<Activity>, AuthError> {
        Ok(self.repo.activity(user, limit).await?)
    }

    /// Records an activity entry; failures are logged, never fatal to the request.
    pub async fn log(
        &self,
        user: &UserId,
        action: &str,
        actor: Option<&UserId>,
        ip: Option<&str>,
        detail: Value,
    ) {
        let entry = Activity {
            at: now_utc(),
            action: action.into(),
            actor: actor.map(ToString::to_string),
            ip: ip.map(str::to_owned),
            detail,
        };
        if let Err(e) = self.repo.record(user, &entry).await {
            tracing::error!(error = %e, action, "cannot record activity");
        }
    }
}

fn new_user(
    id: UserId,
    email: &str,
    name: Option<String>,
    role: OrgRole,
    source: IdentitySource,
) -> User {
    User {
        id,
        email: email.to_owned(),
        name,
        role,
        disabled: false,
        time_zone: "UTC".into(),
        language: "en".into(),
        contacts: ContactPoints::default(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str = "correct horse battery staple";

    #[tokio::test]
    async fn a_replaced_refresh_token_is_a_race_at_first_and_a_copy_later() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(
            moose_store_sqlite::SqliteStore::open(dir.path())
                .await
                .unwrap(),
        );
        let auth = AuthService::new(store, AuthSettings::default());
        auth.create_user("a@example.com", OrgRole::Viewer, None, Some(PASSWORD), None)
            .await
            .unwrap();
        let first = auth.login("a@example.com", PASSWORD, None).await.unwrap();
        let second = auth.refresh(&first.refresh_token, None).await.unwrap();
        // At once: a second request that left before the first one's answer. Refused, and
        // the session lives on.
        assert!(matches!(
            auth.refresh(&first.refresh_token, None).await,
            Err(AuthError::Conflict(_))
        ));
        assert!(auth.authenticate(&second.access_token).await.is_ok());
        // Past the grace, the replaced token proves a copy: the session ends, for everyone.
        let session = second.refresh_token.split_once('.').unwrap().0;
        let mut stored = auth.repo.session(session).await.unwrap().unwrap();
        stored.rotated_at = Some(Timestamp::now().as_second() - REUSE_GRACE_SECS - 1);
        auth.repo
            .put_session(session, &stored, Condition::None)
            .await
            .unwrap();
        assert!(matches!(
            auth.refresh(&first.refresh_token, None).await,
            Err(AuthError::Unauthenticated)
        ));
        assert!(auth.authenticate(&second.access_token).await.is_err());
        assert!(matches!(
            auth.refresh(&second.refresh_token, None).await,
            Err(AuthError::Unauthenticated)
        ));
    }
}
