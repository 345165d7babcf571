//! Users, memberships, sessions, API keys and activity, as items of the single table
//! (layout in `docs/data-model.md`).

use std::sync::Arc;

use moose_domain::{SystemId, UserId, keys};
use moose_store::codec::{decode, to_attrs};
use moose_store::{Condition, Item, Key, Query, Store, StoreError, StoreExt, TxOp};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::model::{Membership, SystemRole, User};

/// A stored user with its password hash (local accounts only).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub(crate) struct StoredUser {
    #[serde(flatten)]
    pub(crate) user: User,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) password_hash: Option<String>,
}

/// A session of a local sign-in.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub(crate) struct StoredSession {
    pub(crate) user_id: UserId,
    pub(crate) refresh_hash: String,
    /// The hash of the refresh secret this one replaced: presenting that old secret again
    /// proves the refresh token was copied, and ends the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) previous_hash: Option<String>,
    /// When `previous_hash` was replaced (Unix seconds): within the reuse grace of it
    /// (`AuthSettings::refresh_reuse_grace`), the old secret is taken for a concurrent refresh
    /// (two tabs, two requests), not a copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) rotated_at: Option<i64>,
    pub(crate) expires_at: i64,
    pub(crate) ip: Option<String>,
}

/// An API key as stored.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct StoredApiKey {
    /// Key id (the public part of the key).
    pub id: String,
    /// What it is for.
    pub name: String,
    /// The role it acts with.
    pub role: crate::OrgRole,
    /// Whether it may only read.
    pub read_only: bool,
    /// Who created it.
    pub created_by: UserId,
    /// When it was created.
    pub created_at: String,
    /// Revoked keys stop working.
    pub revoked: bool,
    /// SHA-256 of the secret part (hex).
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub hash: String,
}

/// One activity-log entry.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Activity {
    /// When (ISO-8601 UTC).
    pub at: String,
    /// What, e.g. `sign_in`, `sign_in_failed`, `membership_granted`.
    pub action: String,
    /// Who did it (user id), when not the user themself.
    pub actor: Option<String>,
    /// From where (client address).
    pub ip: Option<String>,
    /// Details (never secrets).
    pub detail: Value,
}

/// Store access for everything `moose-auth` keeps.
#[derive(Debug, Clone)]
pub(crate) struct Repo {
    pub(crate) store: Arc<dyn Store>,
}

impl Repo {
    /// Reads one item and decodes it; a missing item is `None`, an undecodable one `Corrupt`.
    async fn get_decoded<T: DeserializeOwned>(&self, key: &Key) -> Result<Option<T>, StoreError> {
        self.store.get(key).await?.map(decode).transpose()
    }

    /// Every item a query matches (all pages), decoded.
    async fn query_decoded<T: DeserializeOwned>(&self, q: &Query) -> Result<Vec<T>, StoreError> {
        self.store
            .query_all(q)
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }

    fn profile_key(id: &UserId) -> Key {
        Key::new(keys::user_pk(id), keys::SK_PROFILE)
    }

    pub(crate) async fn user(&self, id: &UserId) -> Result<Option<StoredUser>, StoreError> {
        self.get_decoded(&Self::profile_key(id)).await
    }

    pub(crate) async fn user_by_email(
        &self,
        email: &str,
    ) -> Result<Option<StoredUser>, StoreError> {
        let claim = self
            .store
            .get(&Key::new(keys::email_pk(email), keys::SK_EMAIL_CLAIM))
            .await?;
        let Some(id) = claim
            .as_ref()
            .and_then(|c| c.str_attr("user_id"))
            .and_then(|id| UserId::parse(id).ok())
        else {
            return Ok(None);
        };
        self.user(&id).await
    }

    /// Creates a user: profile, e-mail claim and directory entry in one transaction; fails with
    /// `Conflict` if the id or e-mail is taken.
    pub(crate) async fn create_user(&self, stored: &StoredUser) -> Result<(), StoreError> {
        let u = &stored.user;
        let ops = vec![
            TxOp::Put {
                item: Item::new(Self::profile_key(&u.id), to_attrs(stored)?),
                condition: Condition::NotExists,
            },
            TxOp::Put {
                item: Item::new(
                    Key::new(keys::email_pk(&u.email), keys::SK_EMAIL_CLAIM),
                    to_attrs(&json!({"user_id": u.id}))?,
                ),
                condition: Condition::NotExists,
            },
            TxOp::Put {
                item: self.directory_item(u)?,
                condition: Condition::None,
            },
        ];
        self.store.transact(ops).await
    }

    fn directory_item(&self, u: &User) -> Result<Item, StoreError> {
        let entry = json!({"id": u.id, "email": u.email, "name": u.name, "role": u.role, "disabled": u.disabled});
        Ok(Item::new(
            Key::new(keys::USERS_PK, keys::user_entry_sk(&u.id)),
            to_attrs(&entry)?,
        ))
    }

    /// Replaces a user's profile and directory entry (the e-mail never changes).
    pub(crate) async fn save_user(&self, stored: &StoredUser) -> Result<(), StoreError> {
        let ops = vec![
            TxOp::Put {
                item: Item::new(Self::profile_key(&stored.user.id), to_attrs(stored)?),
                condition: Condition::Exists,
            },
            TxOp::Put {
                item: self.directory_item(&stored.user)?,
                condition: Condition::None,
            },
        ];
        self.store.transact(ops).await
    }

    pub(crate) async fn list_users(&self) -> Result<Vec<Value>, StoreError> {
        let items = self
            .store
            .query_all(&Query::partition(keys::USERS_PK).limit(1000))
            .await?;
        Ok(items.into_iter().map(|i| Value::Object(i.attrs)).collect())
    }

    pub(crate) async fn system_exists(&self, system: &SystemId) -> Result<bool, StoreError> {
        Ok(self
            .store
            .get(&Key::new(keys::system_pk(system), keys::SK_META))
            .await?
            .is_some())
    }

    pub(crate) async fn membership(
        &self,
        user: &UserId,
        system: &SystemId,
    ) -> Result<Option<SystemRole>, StoreError> {
        let item = self
            .store
            .get(&Key::new(keys::user_pk(user), keys::membership_sk(system)))
            .await?;
        Ok(item.and_then(|i| i.str_attr("role").and_then(|r| r.parse().ok())))
    }

    pub(crate) async fn memberships_of(
        &self,
        user: &UserId,
    ) -> Result<Vec<Membership>, StoreError> {
        let q = Query::partition(keys::user_pk(user))
            .begins_with(keys::MEMBERSHIP_SK_PREFIX)
            .limit(1000);
        self.query_decoded(&q).await
    }

    pub(crate) async fn members_of(
        &self,
        system: &SystemId,
    ) -> Result<Vec<Membership>, StoreError> {
        let q = Query::partition(keys::system_pk(system))
            .begins_with(keys::MEMBER_SK_PREFIX)
            .limit(1000);
        self.query_decoded(&q).await
    }

    /// A check that `owner` is still an owner of `system`: added to a change that takes an
    /// owner away, so that two owners removing each other at once cannot both succeed.
    fn still_owner(system: &SystemId, owner: &UserId) -> TxOp {
        TxOp::Check {
            key: Key::new(keys::system_pk(system), keys::member_sk(owner)),
            condition: Condition::AttributeEquals {
                name: "role".into(),
                value: Value::String(SystemRole::Owner.as_str().into()),
            },
        }
    }

    /// Grants (or changes) a membership on both sides in one transaction; `keep_owner` names
    /// another owner who must still be one when the change lands.
    pub(crate) async fn grant(
        &self,
        m: &Membership,
        keep_owner: Option<&UserId>,
    ) -> Result<(), StoreError> {
        let body = to_attrs(m)?;
        let mut ops = vec![
            TxOp::Put {
                item: Item::new(
                    Key::new(keys::user_pk(&m.user), keys::membership_sk(&m.system)),
                    body.clone(),
                ),
                condition: Condition::None,
            },
            TxOp::Put {
                item: Item::new(
                    Key::new(keys::system_pk(&m.system), keys::member_sk(&m.user)),
                    body,
                ),
                condition: Condition::None,
            },
            TxOp::Check {
                key: Self::profile_key(&m.user),
                condition: Condition::Exists,
            },
        ];
        ops.extend(keep_owner.map(|o| Self::still_owner(&m.system, o)));
        self.store.transact(ops).await
    }

    /// Revokes a membership on both sides; `Conflict` if there was none (or `keep_owner` is no
    /// longer an owner). `keep_owner` as for
    /// [`Repo::grant`].
    pub(crate) async fn revoke(
        &self,
        user: &UserId,
        system: &SystemId,
        keep_owner: Option<&UserId>,
    ) -> Result<(), StoreError> {
        let mut ops = vec![
            TxOp::Delete {
                key: Key::new(keys::user_pk(user), keys::membership_sk(system)),
                condition: Condition::Exists,
            },
            TxOp::Delete {
                key: Key::new(keys::system_pk(system), keys::member_sk(user)),
                condition: Condition::None,
            },
        ];
        ops.extend(keep_owner.map(|o| Self::still_owner(system, o)));
        self.store.transact(ops).await
    }

    /// Sessions are keyed by the SHA-256 of their id: the id is in every access token, and a
    /// read of the table must not yield ids that, with the signing key, make valid tokens.
    fn session_key(id: &str) -> Key {
        Key::new(
            keys::session_pk(&crate::crypto::sha256_hex(id)),
            keys::SK_SESSION,
        )
    }

    pub(crate) async fn session(&self, id: &str) -> Result<Option<StoredSession>, StoreError> {
        self.get_decoded(&Self::session_key(id)).await
    }

    pub(crate) async fn put_session(
        &self,
        id: &str,
        s: &StoredSession,
        condition: Condition,
    ) -> Result<(), StoreError> {
        self.store
            .put(Item::new(Self::session_key(id), to_attrs(s)?), condition)
            .await
    }

    pub(crate) async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        self.store
            .delete(&Self::session_key(id), Condition::None)
            .await
    }

    /// The local account a Supabase user id was linked to, if any.
    pub(crate) async fn supabase_link(&self, sub: &str) -> Result<Option<UserId>, StoreError> {
        let item = self
            .store
            .get(&Key::new(
                keys::supabase_link_pk(sub),
                keys::SK_IDENTITY_LINK,
            ))
            .await?;
        Ok(item
            .as_ref()
            .and_then(|i| i.str_attr("user_id"))
            .and_then(|id| UserId::parse(id).ok()))
    }

    /// Links a Supabase user id to a local account; `Conflict` if the id is linked already.
    pub(crate) async fn link_supabase(&self, sub: &str, user: &UserId) -> Result<(), StoreError> {
        let ops = vec![
            TxOp::Put {
                item: Item::new(
                    Key::new(keys::supabase_link_pk(sub), keys::SK_IDENTITY_LINK),
                    to_attrs(&json!({"user_id": user}))?,
                ),
                condition: Condition::NotExists,
            },
            TxOp::Check {
                key: Self::profile_key(user),
                condition: Condition::Exists,
            },
        ];
        self.store.transact(ops).await
    }

    /// The other owners of a system than `except`.
    pub(crate) async fn other_owners(
        &self,
        system: &SystemId,
        except: &UserId,
    ) -> Result<Vec<UserId>, StoreError> {
        Ok(self
            .members_of(system)
            .await?
            .into_iter()
            .filter(|m| m.role == SystemRole::Owner && &m.user != except)
            .map(|m| m.user)
            .collect())
    }

    pub(crate) async fn api_key(&self, id: &str) -> Result<Option<StoredApiKey>, StoreError> {
        self.get_decoded(&Key::new(keys::api_key_pk(id), keys::SK_API_KEY))
            .await
    }

    pub(crate) async fn save_api_key(
        &self,
        key: &StoredApiKey,
        condition: Condition,
    ) -> Result<(), StoreError> {
        let mut listed = key.clone();
        listed.hash = String::new();
        let ops = vec![
            TxOp::Put {
                item: Item::new(
                    Key::new(keys::api_key_pk(&key.id), keys::SK_API_KEY),
                    to_attrs(key)?,
                ),
                condition,
            },
            TxOp::Put {
                item: Item::new(Key::new(keys::API_KEYS_PK, &key.id), to_attrs(&listed)?),
                condition: Condition::None,
            },
        ];
        self.store.transact(ops).await
    }

    pub(crate) async fn list_api_keys(&self) -> Result<Vec<StoredApiKey>, StoreError> {
        self.query_decoded(&Query::partition(keys::API_KEYS_PK).limit(1000))
            .await
    }

    /// The token signing secret, created on first use. Concurrent first uses converge on one
    /// key through a create-only put.
    pub(crate) async fn signing_secret(&self, fresh: String) -> Result<String, StoreError> {
        let key = Key::new(keys::CONFIG_PK, keys::SK_SIGNING_KEY);
        if let Some(item) = self.store.get(&key).await?
            && let Some(secret) = item.str_attr("secret")
        {
            return Ok(secret.to_owned());
        }
        match self
            .store
            .put(
                Item::new(key.clone(), to_attrs(&json!({"secret": fresh}))?),
                Condition::NotExists,
            )
            .await
        {
            Ok(()) => Ok(fresh),
            Err(StoreError::Conflict { .. }) => {
                let item = self.store.get_required(&key).await?;
                item.str_attr("secret")
                    .map(str::to_owned)
                    .ok_or(StoreError::Corrupt {
                        key,
                        reason: "no secret".into(),
                    })
            }
            Err(e) => Err(e),
        }
    }

    pub(crate) async fn record(
        &self,
        user: &UserId,
        activity: &Activity,
    ) -> Result<(), StoreError> {
        let id = crate::crypto::random_token(6);
        let key = Key::new(keys::user_pk(user), keys::activity_sk(&activity.at, &id));
        self.store
            .put(Item::new(key, to_attrs(activity)?), Condition::NotExists)
            .await
    }

    pub(crate) async fn activity(
        &self,
        user: &UserId,
        limit: u32,
    ) -> Result<Vec<Activity>, StoreError> {
        let q = Query::partition(keys::user_pk(user))
            .begins_with(keys::ACTIVITY_SK_PREFIX)
            .backward()
            .limit(limit.clamp(1, 1000));
        self.store
            .query(&q)
            .await?
            .items
            .into_iter()
            .map(decode)
            .collect()
    }
}
