//! Where notifications live (layout: `docs/data-model.md`, "Notifications").
//!
//! - `Notification#<id>` / `NOTIFICATION`: one record per recipient and event. While pending it
//!   is on `GSI1PK=Outbox`, `GSI1SK=<due>#<id>`: the dispatcher reads the outbox in due order,
//!   and claiming a record moves its due time to the end of the claim (a lease), so a crashed
//!   dispatcher's records come back by themselves. A final record moves to
//!   `GSI1PK=Delivered#<day>`, `GSI1SK=<state>#<id>`: the day's delivery report is one query.
//! - `User#<id>` / `NOTIFY_PREFS` and `User#<id>` / `Feed#<at>#<id>` (the in-app feed).
//! - `System#<id>` / `NOTIFY_POLICY`: escalation.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use moose_domain::{SystemId, UserId, keys, time::format_utc};
use moose_store::codec::{VERSION, from_item as decode, to_attrs as attrs_of};
use moose_store::{Condition, Item, Key, Query, SortCondition, Store, StoreError, StoreExt, TxOp};
use serde_json::{Value, json};

use crate::model::{DeliveryState, EscalationPolicy, FeedEntry, Notification, NotifyPrefs};

/// GSI1 partition of pending notifications.
pub const OUTBOX_GSI1: &str = "Outbox";
const SK_NOTIFICATION: &str = "NOTIFICATION";
const SK_PREFS: &str = "NOTIFY_PREFS";
const SK_POLICY: &str = "NOTIFY_POLICY";
const FEED_PREFIX: &str = "Feed#";

/// Notification storage over any [`Store`].
#[derive(Debug, Clone)]
pub struct NotifyRepo {
    /// The store.
    pub store: Arc<dyn Store>,
}

impl NotifyRepo {
    /// A repository over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    fn notification_key(id: &str) -> Key {
        Key::new(format!("Notification#{id}"), SK_NOTIFICATION)
    }

    /// The item of `n` at `version + 1`, on the outbox or the delivery report as its state says.
    fn notification_item(n: &Notification, version: u64) -> Result<Item, StoreError> {
        let mut attrs = attrs_of(n)?;
        attrs.insert(VERSION.into(), json!(version + 1));
        let item = Item::new(Self::notification_key(&n.id), attrs);
        Ok(if n.state.is_final() {
            let day = n.finished_at.unwrap_or(n.due_at);
            item.with_gsi1(
                format!("Delivered#{}", &format_utc(day)[..10]),
                format!("{}#{}", n.state.as_str(), n.id),
            )
        } else {
            item.with_gsi1(OUTBOX_GSI1, format!("{}#{}", format_utc(n.due_at), n.id))
        })
    }

    /// The put of a new notification; fails the transaction if one with this id exists, so a
    /// notification is never planned twice.
    pub fn create_op(n: &Notification) -> Result<TxOp, StoreError> {
        Ok(TxOp::Put {
            item: Self::notification_item(n, 0)?,
            condition: Condition::NotExists,
        })
    }

    /// One notification and its version.
    pub async fn notification(&self, id: &str) -> Result<Option<(Notification, u64)>, StoreError> {
        self.store
            .get(&Self::notification_key(id))
            .await?
            .map(decode)
            .transpose()
    }

    /// Writes `n` if it is still at `version`; `Conflict` if another dispatcher changed it.
    pub async fn save(&self, n: &Notification, version: u64) -> Result<u64, StoreError> {
        let condition = Condition::AttributeEquals {
            name: VERSION.into(),
            value: json!(version),
        };
        self.store
            .put(Self::notification_item(n, version)?, condition)
            .await?;
        Ok(version + 1)
    }

    /// Pending notifications due at `now`, oldest first.
    pub async fn due(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<(Notification, u64)>, StoreError> {
        let q = Query::gsi1(OUTBOX_GSI1)
            .sort(SortCondition::AtMost(format!("{}#~", format_utc(now))))
            .limit(limit);
        let page = self.store.query(&q).await?;
        // One unreadable record (say, written by a newer Moose during a rolling deploy) must not
        // stop the whole outbox.
        Ok(page
            .items
            .into_iter()
            .filter_map(|item| match decode(item) {
                Ok(n) => Some(n),
                Err(e) => {
                    tracing::error!(error = %e, "skipping an unreadable notification record");
                    None
                }
            })
            .collect())
    }

    /// How many notifications are pending (due or not).
    pub async fn pending_count(&self) -> Result<usize, StoreError> {
        Ok(self
            .store
            .query_all(&Query::gsi1(OUTBOX_GSI1).limit(1000))
            .await?
            .len())
    }

    /// Final notifications of one UTC day, by state.
    pub async fn delivered_on(
        &self,
        day: jiff::civil::Date,
    ) -> Result<BTreeMap<String, usize>, StoreError> {
        let items = self
            .store
            .query_all(&Query::gsi1(format!("Delivered#{day}")).limit(1000))
            .await?;
        let mut counts = BTreeMap::new();
        for item in items {
            let state = item
                .attrs
                .get("state")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_owned();
            *counts.entry(state).or_default() += 1;
        }
        Ok(counts)
    }

    /// A user's preferences (defaults if never set).
    pub async fn prefs(&self, user: &UserId) -> Result<NotifyPrefs, StoreError> {
        Ok(self
            .store
            .get(&Key::new(keys::user_pk(user), SK_PREFS))
            .await?
            .map(decode::<NotifyPrefs>)
            .transpose()?
            .map(|(p, _)| p)
            .unwrap_or_default())
    }

    /// Stores a user's preferences.
    pub async fn put_prefs(&self, user: &UserId, prefs: &NotifyPrefs) -> Result<(), StoreError> {
        let item = Item::new(Key::new(keys::user_pk(user), SK_PREFS), attrs_of(prefs)?);
        self.store.put(item, Condition::None).await
    }

    /// A system's escalation policy (defaults if never set).
    pub async fn policy(&self, system: &SystemId) -> Result<EscalationPolicy, StoreError> {
        Ok(self
            .store
            .get(&Key::new(keys::system_pk(system), SK_POLICY))
            .await?
            .map(decode::<EscalationPolicy>)
            .transpose()?
            .map(|(p, _)| p)
            .unwrap_or_default())
    }

    /// Stores a system's escalation policy.
    pub async fn put_policy(
        &self,
        system: &SystemId,
        policy: &EscalationPolicy,
    ) -> Result<(), StoreError> {
        let item = Item::new(
            Key::new(keys::system_pk(system), SK_POLICY),
            attrs_of(policy)?,
        );
        self.store.put(item, Condition::None).await
    }

    fn feed_key(user: &UserId, at: Timestamp, id: &str) -> Key {
        Key::new(
            keys::user_pk(user),
            format!("{FEED_PREFIX}{}#{id}", format_utc(at)),
        )
    }

    /// The put of a feed entry (written with the incident change: in-app delivery is the write).
    pub fn feed_op(user: &UserId, entry: &FeedEntry) -> Result<TxOp, StoreError> {
        Ok(TxOp::Put {
            item: Item::new(
                Self::feed_key(user, entry.created_at, &entry.id),
                attrs_of(entry)?,
            ),
            condition: Condition::NotExists,
        })
    }

    /// A user's feed, newest first.
    pub async fn feed(
        &self,
        user: &UserId,
        unread_only: bool,
        limit: usize,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        let mut q = Query::partition(keys::user_pk(user))
            .begins_with(FEED_PREFIX)
            .backward()
            .limit(100);
        let mut out = Vec::new();
        loop {
            let page = self.store.query(&q).await?;
            for item in page.items {
                let (entry, _): (FeedEntry, u64) = decode(item)?;
                if !unread_only || entry.read_at.is_none() {
                    out.push(entry);
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
            match page.next {
                Some(next) => q.start_after = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// Marks one feed entry read; `NotFound` if the user has no such entry.
    pub async fn mark_read(
        &self,
        user: &UserId,
        id: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let entries = self.feed(user, false, 500).await?;
        let Some(mut entry) = entries.into_iter().find(|e| e.id == id) else {
            return Err(StoreError::NotFound {
                key: Key::new(keys::user_pk(user), format!("{FEED_PREFIX}…#{id}")),
            });
        };
        if entry.read_at.is_none() {
            entry.read_at = Some(now);
            let item = Item::new(
                Self::feed_key(user, entry.created_at, &entry.id),
                attrs_of(&entry)?,
            );
            self.store.put(item, Condition::Exists).await?;
        }
        Ok(())
    }
}

/// Counts by state, and the delivery rate: sent / (sent + failed).
pub fn delivery_rate(counts: &BTreeMap<String, usize>) -> Option<f64> {
    let sent = counts
        .get(DeliveryState::Sent.as_str())
        .copied()
        .unwrap_or(0);
    let failed = counts
        .get(DeliveryState::Failed.as_str())
        .copied()
        .unwrap_or(0);
    (sent + failed > 0).then(|| sent as f64 / (sent + failed) as f64)
}
