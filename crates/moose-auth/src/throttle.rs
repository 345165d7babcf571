//! Sign-in throttling: attempts per account and per client address in a sliding window, kept
//! in the store.
//!
//! An attempt is counted *before* the password is verified, with a conditional write on the
//! window item, so concurrent attempts cannot get past the limit: of 30 simultaneous wrong
//! passwords for one account, at most [`PER_ACCOUNT`] are evaluated. Because the count lives in
//! the store, every process and every Lambda instance shares it. A successful sign-in clears the
//! account's window and gives its address slot back (so a proxy signing many users in is not
//! locked out by their successes).

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use moose_domain::keys;
use moose_store::{Condition, Item, Key, Store, StoreError, codec};
use serde::{Deserialize, Serialize};

use crate::crypto::{random_token, sha256_hex};

/// The window attempts are counted in.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Attempts per account per window that may be evaluated; further ones are refused until the
/// oldest leaves the window. A successful sign-in resets the account's count.
pub const PER_ACCOUNT: usize = 5;
/// Failed or in-flight attempts per client address per window.
pub const PER_ADDRESS: usize = 20;

/// How often a conditional write may lose a race before the attempt is refused. Losing this
/// often means a burst of simultaneous attempts on one key, which is exactly what to refuse.
const MAX_RACES: usize = 16;

/// One window item: the start times (Unix milliseconds) of the attempts still in the window,
/// and a revision for optimistic locking.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Window {
    attempts: Vec<i64>,
    rev: String,
}

/// A counted attempt, handed back on success so its slots can be released.
#[derive(Debug)]
pub(crate) struct Attempt {
    account: Key,
    address: Option<Key>,
    at: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct Throttle {
    store: Arc<dyn Store>,
}

fn window_ms() -> i64 {
    i64::try_from(WINDOW.as_millis()).unwrap_or(i64::MAX)
}

impl Throttle {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }

    fn key(kind: &str, value: &str) -> Key {
        Key::new(
            keys::throttle_pk(kind, &sha256_hex(value)),
            keys::SK_THROTTLE,
        )
    }

    /// Counts an attempt for the account and the address. `Ok(Err(wait))` if either is at its
    /// limit; then nothing is verified and the caller answers 429.
    pub(crate) async fn begin(
        &self,
        account: &str,
        address: Option<&str>,
    ) -> Result<Result<Attempt, Duration>, StoreError> {
        let at = Timestamp::now().as_millisecond();
        // The address first: a client that is already refused does not use up the account's
        // attempts (which would lock its owner out on the attacker's behalf).
        let address = address.map(|a| Self::key("addr", a));
        if let Some(key) = &address
            && let Err(wait) = self.take(key, PER_ADDRESS, at).await?
        {
            return Ok(Err(wait));
        }
        let account = Self::key("acct", account);
        if let Err(wait) = self.take(&account, PER_ACCOUNT, at).await? {
            // The address's slot stays taken: the attempt was made, if not evaluated.
            return Ok(Err(wait));
        }
        Ok(Ok(Attempt {
            account,
            address,
            at,
        }))
    }

    /// The attempt signed in: the account starts afresh and the address gets its slot back.
    pub(crate) async fn succeeded(&self, attempt: &Attempt) -> Result<(), StoreError> {
        self.store.delete(&attempt.account, Condition::None).await?;
        if let Some(key) = &attempt.address {
            // Losing every race here only leaves the slot to expire with the window.
            let _released = self
                .update(key, |w| {
                    if let Some(i) = w.attempts.iter().position(|t| *t == attempt.at) {
                        w.attempts.remove(i);
                    }
                    Ok(())
                })
                .await?;
        }
        Ok(())
    }

    /// Adds an attempt at `at` to the window of `key` unless it already holds `limit`.
    async fn take(
        &self,
        key: &Key,
        limit: usize,
        at: i64,
    ) -> Result<Result<(), Duration>, StoreError> {
        self.update(key, |w| {
            w.attempts.retain(|t| at - t < window_ms());
            if w.attempts.len() >= limit {
                let oldest = w.attempts.iter().min().copied().unwrap_or(at);
                let wait_ms = u64::try_from(window_ms() - (at - oldest)).unwrap_or(1000);
                return Err(Duration::from_millis(wait_ms.max(1000)));
            }
            w.attempts.push(at);
            Ok(())
        })
        .await
    }

    /// Read-modify-write of one window with a conditional put on its revision, retried when
    /// another attempt wrote first. `change` returning `Err` writes nothing.
    async fn update(
        &self,
        key: &Key,
        mut change: impl FnMut(&mut Window) -> Result<(), Duration>,
    ) -> Result<Result<(), Duration>, StoreError> {
        for _ in 0..MAX_RACES {
            let current = self.store.get(key).await?;
            // An unreadable window is started afresh rather than locking the account forever.
            let mut window: Window = match &current {
                Some(item) => codec::decode(item.clone()).unwrap_or_default(),
                None => Window::default(),
            };
            let condition = match &current {
                None => Condition::NotExists,
                Some(_) => Condition::AttributeEquals {
                    name: "rev".into(),
                    value: serde_json::Value::String(window.rev.clone()),
                },
            };
            if let Err(wait) = change(&mut window) {
                return Ok(Err(wait));
            }
            window.rev = random_token(9);
            let attrs = match serde_json::to_value(&window) {
                Ok(serde_json::Value::Object(map)) => map,
                _ => serde_json::Map::new(),
            };
            match self
                .store
                .put(Item::new(key.clone(), attrs), condition)
                .await
            {
                Ok(()) => return Ok(Ok(())),
                Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Err(Duration::from_secs(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn throttle() -> (Throttle, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = moose_store_sqlite::SqliteStore::open(dir.path())
            .await
            .unwrap();
        (Throttle::new(Arc::new(store)), dir)
    }

    #[tokio::test]
    async fn limits_accounts_and_addresses() {
        let (t, _dir) = throttle().await;
        for _ in 0..PER_ACCOUNT {
            assert!(t.begin("a@x", Some("1.2.3.4")).await.unwrap().is_ok());
        }
        assert!(
            t.begin("a@x", Some("5.6.7.8")).await.unwrap().is_err(),
            "the account is locked from any address"
        );
        assert!(
            t.begin("b@x", Some("1.2.3.4")).await.unwrap().is_ok(),
            "the address is not yet"
        );
        for i in 0..PER_ADDRESS {
            let _ = t.begin(&format!("u{i}@x"), Some("9.9.9.9")).await.unwrap();
        }
        assert!(
            t.begin("new@x", Some("9.9.9.9")).await.unwrap().is_err(),
            "spraying from one address is stopped"
        );
    }

    #[tokio::test]
    async fn success_clears_the_account_and_frees_the_address_slot() {
        let (t, _dir) = throttle().await;
        for i in 0..PER_ADDRESS * 2 {
            let attempt = t
                .begin(&format!("user{i}@x"), Some("10.0.0.1"))
                .await
                .unwrap()
                .expect("successful sign-ins never fill the address window");
            t.succeeded(&attempt).await.unwrap();
        }
        for _ in 0..PER_ACCOUNT - 1 {
            t.begin("c@x", None).await.unwrap().unwrap();
        }
        let last = t.begin("c@x", None).await.unwrap().unwrap();
        t.succeeded(&last).await.unwrap();
        for _ in 0..PER_ACCOUNT {
            assert!(t.begin("c@x", None).await.unwrap().is_ok());
        }
    }

    #[tokio::test]
    async fn concurrent_attempts_never_exceed_the_limit() {
        let (t, _dir) = throttle().await;
        let tasks: Vec<_> = (0..30)
            .map(|_| {
                let t = t.clone();
                tokio::spawn(async move { t.begin("race@x", None).await.unwrap().is_ok() })
            })
            .collect();
        let mut admitted = 0;
        for task in tasks {
            admitted += usize::from(task.await.unwrap());
        }
        assert!(
            (1..=PER_ACCOUNT).contains(&admitted),
            "{admitted} of 30 concurrent attempts were admitted"
        );
    }
}
