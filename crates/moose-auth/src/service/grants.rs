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

    /// Grants or changes a membership.
    pub async fn grant(&self, actor: &Principal, m: Membership) -> Result<(), AuthError> {
        self.repo.grant(&m).await.map_err(|e| match e {
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

    /// Revokes a membership.
    pub async fn revoke(
        &self,
        actor: &Principal,
        user: &UserId,
        system: &SystemId,
    ) -> Result<(), AuthError> {
        self.repo.revoke(user, system).await.map_err(|e| match e {
            StoreError::NotFound { .. } => {
                AuthError::NotFound(format!("user {user} is not a member of system {system}"))
            }
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
        let mut key = self
            .repo
            .api_key(id)
            .await?
            .ok_or_else(|| AuthError::NotFound(format!("no API key {id}")))?;
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
