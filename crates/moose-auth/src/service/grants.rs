//! Access grants: system memberships and API keys. A child of `service`, so it shares the
//! service's private state without widening it.

use moose_domain::{SystemId, UserId, time::now_utc};
use moose_store::{Condition, StoreError};
use serde_json::json;

use super::{API_KEY_PREFIX, AuthError, AuthService};
use crate::crypto::{random_token, sha256_hex};
use crate::model::{Membership, OrgRole, Principal, SystemRole};
use crate::policy;
use crate::repo::StoredApiKey;

/// Longest API key id Moose issues (12 characters today) with room to grow; longer ids are
/// refused before they reach the store.
const MAX_KEY_ID_LEN: usize = 64;

/// Whether `id` could be an API key id Moose issued: URL-safe base64 characters, bounded.
pub(crate) fn valid_key_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_KEY_ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl AuthService {
    /// Whether the system exists.
    pub async fn system_exists(&self, system: &SystemId) -> Result<bool, AuthError> {
        Ok(self.repo.system_exists(system).await?)
    }

    /// The caller's role on a system, if any.
    pub async fn membership(
        &self,
        user: &UserId,
        system: &SystemId,
    ) -> Result<Option<SystemRole>, AuthError> {
        Ok(self.repo.membership(user, system).await?)
    }

    /// The systems a caller may see: `None` means all of them.
    pub async fn visible_systems(
        &self,
        principal: &Principal,
    ) -> Result<Option<Vec<Membership>>, AuthError> {
        if policy::sees_all_systems(principal) {
            return Ok(None);
        }
        Ok(Some(self.repo.memberships_of(&principal.user.id).await?))
    }

    /// Members of a system.
    pub async fn members(&self, system: &SystemId) -> Result<Vec<Membership>, AuthError> {
        Ok(self.repo.members_of(system).await?)
    }

    /// Applies the membership rules of [`policy::authorize_member_change`] to a change of
    /// `user`'s role on `system` to `new` (`None`: revoke). Returns the target's current role
    /// and, when the change takes an owner away, another owner who must remain one.
    async fn check_member_change(
        &self,
        actor: &Principal,
        system: &SystemId,
        user: &UserId,
        new: Option<SystemRole>,
    ) -> Result<(Option<SystemRole>, Option<UserId>), AuthError> {
        let current = self.repo.membership(user, system).await?;
        let actor_role = self.repo.membership(&actor.user.id, system).await?;
        let others = if current == Some(SystemRole::Owner) {
            self.repo.other_owners(system, user).await?
        } else {
            Vec::new()
        };
        let change = policy::MemberChange {
            actor_role,
            on_self: &actor.user.id == user,
            current,
            new,
            other_owners: others.len(),
        };
        policy::authorize_member_change(actor, change).map_err(|d| match d {
            policy::Denied::Forbidden(why) => AuthError::Forbidden(why.into()),
            _ => AuthError::Unauthenticated,
        })?;
        let loses_owner = current == Some(SystemRole::Owner) && new != Some(SystemRole::Owner);
        Ok((
            current,
            loses_owner.then(|| others.into_iter().next()).flatten(),
        ))
    }

    /// Grants or changes a membership, within the membership rules.
    pub async fn grant(&self, actor: &Principal, m: Membership) -> Result<(), AuthError> {
        let (_, keep_owner) = self
            .check_member_change(actor, &m.system, &m.user, Some(m.role))
            .await?;
        self.repo
            .grant(&m, keep_owner.as_ref())
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } if keep_owner.is_some() => AuthError::Conflict(
                    "the system's owners changed at the same time; reload and retry".into(),
                ),
                StoreError::Conflict { .. } => AuthError::NotFound(format!("no user {}", m.user)),
                other => other.into(),
            })?;
        let detail = json!({"system": m.system, "role": m.role});
        self.log(
            &m.user,
            "membership_granted",
            Some(&actor.user.id),
            None,
            detail,
        )
        .await;
        Ok(())
    }

    /// Revokes a membership, within the membership rules.
    pub async fn revoke(
        &self,
        actor: &Principal,
        user: &UserId,
        system: &SystemId,
    ) -> Result<(), AuthError> {
        let not_member =
            || AuthError::NotFound(format!("user {user} is not a member of system {system}"));
        let (current, keep_owner) = self.check_member_change(actor, system, user, None).await?;
        if current.is_none() {
            return Err(not_member());
        }
        self.repo
            .revoke(user, system, keep_owner.as_ref())
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } if keep_owner.is_some() => AuthError::Conflict(
                    "the system's owners changed at the same time; reload and retry".into(),
                ),
                StoreError::Conflict { .. } => not_member(),
                other => other.into(),
            })?;
        self.log(
            user,
            "membership_revoked",
            Some(&actor.user.id),
            None,
            json!({"system": system}),
        )
        .await;
        Ok(())
    }

    /// Creates an API key; the returned string is the only time the secret is shown.
    pub async fn create_api_key(
        &self,
        actor: &Principal,
        name: &str,
        role: OrgRole,
        read_only: bool,
    ) -> Result<(StoredApiKey, String), AuthError> {
        if name.trim().is_empty() || name.len() > 100 {
            return Err(AuthError::Invalid(
                "name: must be 1 to 100 characters".into(),
            ));
        }
        if role > actor.user.role {
            return Err(AuthError::Forbidden(
                "an API key cannot have more power than its creator".into(),
            ));
        }
        let id = random_token(9).replace(['-', '_'], "x");
        let secret = random_token(32);
        let key = StoredApiKey {
            id: id.clone(),
            name: name.trim().to_owned(),
            role,
            read_only,
            created_by: actor.user.id.clone(),
            created_at: now_utc(),
            revoked: false,
            hash: sha256_hex(&secret),
        };
        self.repo.save_api_key(&key, Condition::NotExists).await?;
        self.log(
            &actor.user.id,
            "api_key_created",
            None,
            None,
            json!({"key": id, "role": role, "read_only": read_only}),
        )
        .await;
        Ok((
            StoredApiKey {
                hash: String::new(),
                ..key
            },
            format!("{API_KEY_PREFIX}{id}_{secret}"),
        ))
    }

    /// Every API key (without hashes).
    pub async fn list_api_keys(&self) -> Result<Vec<StoredApiKey>, AuthError> {
        Ok(self.repo.list_api_keys().await?)
    }

    /// Revokes an API key.
    pub async fn revoke_api_key(&self, actor: &Principal, id: &str) -> Result<(), AuthError> {
        if !valid_key_id(id) {
            return Err(AuthError::NotFound("no such API key".into()));
        }
        let mut key = self
            .repo
            .api_key(id)
            .await?
            .ok_or_else(|| AuthError::NotFound("no such API key".into()))?;
        key.revoked = true;
        self.repo.save_api_key(&key, Condition::Exists).await?;
        self.log(
            &actor.user.id,
            "api_key_revoked",
            None,
            None,
            json!({"key": id}),
        )
        .await;
        Ok(())
    }
}
