//! Local accounts: creating users, profiles, and what administrators change about them.

use moose_domain::UserId;
use moose_store::StoreError;
use serde_json::{Value, json};

use super::{AuthError, AuthService, new_user};
use crate::crypto::random_token;
use crate::model::{ContactPoints, IdentitySource, OrgRole, Principal, User};
use crate::password;
use crate::repo::StoredUser;

/// Fields a user may change about themself.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    /// Display name.
    pub name: Option<String>,
    /// IANA time zone.
    pub time_zone: Option<String>,
    /// Language code.
    pub language: Option<String>,
    /// Contact points (replaced as a whole).
    pub contacts: Option<ContactPoints>,
}

fn validate_patch(p: &ProfilePatch) -> Result<(), AuthError> {
    if let Some(tz) = &p.time_zone
        && jiff::tz::TimeZone::get(tz).is_err()
    {
        return Err(AuthError::Invalid(format!(
            "time_zone: {tz:?} is not an IANA time zone such as Europe/Vienna"
        )));
    }
    if let Some(lang) = &p.language
        && !(lang.len() == 2 && lang.chars().all(|c| c.is_ascii_lowercase()))
    {
        return Err(AuthError::Invalid(format!(
            "language: {lang:?} is not a two-letter code such as en or de"
        )));
    }
    if let Some(name) = &p.name
        && (name.trim().is_empty() || name.len() > 200)
    {
        return Err(AuthError::Invalid(
            "name: must be 1 to 200 characters".into(),
        ));
    }
    if let Some(c) = &p.contacts {
        if let Some(email) = &c.email
            && !valid_email(email)
        {
            return Err(AuthError::Invalid(format!(
                "contacts.email: {email:?} is not an e-mail address"
            )));
        }
        if let Some(phone) = &c.phone
            && !(phone.starts_with('+')
                && (8..=16).contains(&phone.len())
                && phone[1..].chars().all(|c| c.is_ascii_digit()))
        {
            return Err(AuthError::Invalid(format!(
                "contacts.phone: {phone:?} is not an E.164 number such as +436641234567"
            )));
        }
        if let Some(url) = &c.webhook_url {
            check_webhook_url(url)
                .map_err(|why| AuthError::Invalid(format!("contacts.webhook_url: {why}")))?;
        }
    }
    Ok(())
}

/// Longest webhook URL accepted.
const MAX_URL_LEN: usize = 2048;

/// Checks a webhook URL as a URL parser sees it, not as text: `https`, or plain `http` only to
/// this machine (a local receiver during setup or tests, and then only if the operator allows
/// private webhook addresses at all); no user name or password, which would be sent in the
/// clear and can disguise the real host (`http://localhost:1@example.com/`).
pub fn check_webhook_url(raw: &str) -> Result<reqwest::Url, String> {
    if raw.len() > MAX_URL_LEN {
        return Err(format!("at most {MAX_URL_LEN} characters"));
    }
    let url = reqwest::Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password".into());
    }
    let host = url.host_str().ok_or("must name a host")?;
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err("must be an https:// URL (http:// only to localhost)".into()),
    }
}

/// A plausible e-mail address (one `@`, something on each side, a dot in the domain).
pub fn valid_email(email: &str) -> bool {
    let mut parts = email.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(local), Some(domain), None)
        if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !email.contains(char::is_whitespace) && email.len() <= 254)
}

impl AuthService {
    /// Creates a local user; returns it and the initial password if one was generated.
    pub async fn create_user(
        &self,
        email: &str,
        role: OrgRole,
        name: Option<String>,
        password: Option<&str>,
        actor: Option<&UserId>,
    ) -> Result<(User, Option<String>), AuthError> {
        let email = email.trim().to_lowercase();
        if !valid_email(&email) {
            return Err(AuthError::Invalid(format!(
                "email: {email:?} is not an e-mail address"
            )));
        }
        let generated = password.is_none().then(|| random_token(15));
        let chosen = password.or(generated.as_deref()).unwrap_or_default();
        let hash = password::hash_password(chosen)
            .map_err(|e| AuthError::Invalid(format!("password: {e}")))?;
        let id = UserId::parse(uuid_like()).map_err(|e| AuthError::Invalid(e.to_string()))?;
        let user = new_user(id, &email, name, role, IdentitySource::Local);
        self.repo
            .create_user(&StoredUser {
                user: user.clone(),
                password_hash: Some(hash),
            })
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => {
                    AuthError::Conflict(format!("a user with e-mail {email} already exists"))
                }
                other => other.into(),
            })?;
        self.log(
            &user.id,
            "user_created",
            actor,
            None,
            json!({"role": role, "by": actor}),
        )
        .await;
        Ok((user, generated))
    }

    /// A user by id.
    pub async fn user(&self, id: &UserId) -> Result<User, AuthError> {
        self.repo
            .user(id)
            .await?
            .map(|s| s.user)
            .ok_or_else(|| AuthError::NotFound(format!("no user {id}")))
    }

    /// Every user (directory entries).
    pub async fn list_users(&self) -> Result<Vec<Value>, AuthError> {
        Ok(self.repo.list_users().await?)
    }

    /// Applies a user's change to their own profile.
    pub async fn update_profile(
        &self,
        id: &UserId,
        patch: ProfilePatch,
        ip: Option<&str>,
    ) -> Result<User, AuthError> {
        validate_patch(&patch)?;
        let mut stored = self
            .repo
            .user(id)
            .await?
            .ok_or_else(|| AuthError::NotFound(format!("no user {id}")))?;
        let changed: Vec<&str> = [
            patch.name.as_ref().map(|_| "name"),
            patch.time_zone.as_ref().map(|_| "time_zone"),
            patch.language.as_ref().map(|_| "language"),
            patch.contacts.as_ref().map(|_| "contacts"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let u = &mut stored.user;
        u.name = patch.name.or(u.name.take());
        u.time_zone = patch.time_zone.unwrap_or(std::mem::take(&mut u.time_zone));
        u.language = patch.language.unwrap_or(std::mem::take(&mut u.language));
        u.contacts = patch.contacts.unwrap_or(std::mem::take(&mut u.contacts));
        self.repo.save_user(&stored).await?;
        self.log(id, "settings_changed", None, ip, json!({"fields": changed}))
            .await;
        Ok(stored.user)
    }

    /// An administrator changes a user's role or disables/enables them.
    pub async fn admin_update(
        &self,
        actor: &Principal,
        id: &UserId,
        role: Option<OrgRole>,
        disabled: Option<bool>,
    ) -> Result<User, AuthError> {
        if &actor.user.id == id
            && (disabled == Some(true) || role.is_some_and(|r| r < OrgRole::Admin))
        {
            return Err(AuthError::Forbidden(
                "administrators cannot demote or disable themselves".into(),
            ));
        }
        let mut stored = self
            .repo
            .user(id)
            .await?
            .ok_or_else(|| AuthError::NotFound(format!("no user {id}")))?;
        let before = (stored.user.role, stored.user.disabled);
        stored.user.role = role.unwrap_or(stored.user.role);
        stored.user.disabled = disabled.unwrap_or(stored.user.disabled);
        self.repo.save_user(&stored).await?;
        let detail = json!({"role": {"from": before.0, "to": stored.user.role}, "disabled": {"from": before.1, "to": stored.user.disabled}});
        self.log(id, "account_changed", Some(&actor.user.id), None, detail)
            .await;
        Ok(stored.user)
    }
}

/// A random UUID (v4) for local users: the same shape as Supabase ids.
fn uuid_like() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::check_webhook_url;

    #[test]
    fn webhook_urls_are_judged_by_their_host() {
        for ok in [
            "https://hooks.example.com/moose",
            "http://localhost:8080/hook",
            "http://127.0.0.1/hook",
            "http://[::1]:9000/",
            "HTTP://LOCALHOST/x",
        ] {
            assert!(check_webhook_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://localhost:1@example.com/hook",
            "http://localhost@example.com/",
            "https://user:secret@hooks.example.com/",
            "http://127.0.0.1.example.com/",
            "http://localhost.example.com/",
            "http://example.com/hook",
            "ftp://localhost/",
            "not a url",
            "https://",
        ] {
            assert!(check_webhook_url(bad).is_err(), "{bad}");
        }
        assert!(check_webhook_url(&format!("https://e.com/{}", "a".repeat(3000))).is_err());
    }
}
