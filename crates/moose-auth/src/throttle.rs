//! Sign-in throttling: failures per account and per client address in a sliding window.
//!
//! In memory, per process: on Lambda each instance counts on its own, so the effective limit is
//! per instance (documented in `docs/security.md`); Argon2's cost bounds guessing anyway.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures per account per window before sign-in is refused.
pub const PER_ACCOUNT: usize = 5;
/// Failures per client address per window before sign-in is refused.
pub const PER_ADDRESS: usize = 20;

#[derive(Debug, Default)]
pub(crate) struct Throttle {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Throttle {
    fn prune(list: &mut VecDeque<Instant>) {
        while list.front().is_some_and(|t| t.elapsed() > WINDOW) {
            list.pop_front();
        }
    }

    /// `Err(wait)` if the account or the address is over its limit.
    pub(crate) fn check(&self, account: &str, address: Option<&str>) -> Result<(), Duration> {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut wait = None;
        let keys = [(format!("acct:{account}"), PER_ACCOUNT)]
            .into_iter()
            .chain(address.map(|a| (format!("addr:{a}"), PER_ADDRESS)));
        for (key, limit) in keys {
            if let Some(list) = failures.get_mut(&key) {
                Self::prune(list);
                if list.len() >= limit
                    && let Some(first) = list.front()
                {
                    let w = WINDOW.saturating_sub(first.elapsed());
                    wait = Some(wait.map_or(w, |x: Duration| x.max(w)));
                }
            }
        }
        wait.map_or(Ok(()), Err)
    }

    pub(crate) fn fail(&self, account: &str, address: Option<&str>) {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for key in [
            Some(format!("acct:{account}")),
            address.map(|a| format!("addr:{a}")),
        ]
        .into_iter()
        .flatten()
        {
            failures.entry(key).or_default().push_back(Instant::now());
        }
    }

    pub(crate) fn succeed(&self, account: &str) {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&format!("acct:{account}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_accounts_and_addresses() {
        let t = Throttle::default();
        for _ in 0..PER_ACCOUNT {
            assert!(t.check("a@x", Some("1.2.3.4")).is_ok());
            t.fail("a@x", Some("1.2.3.4"));
        }
        assert!(
            t.check("a@x", Some("5.6.7.8")).is_err(),
            "the account is locked from any address"
        );
        assert!(
            t.check("b@x", Some("1.2.3.4")).is_ok(),
            "the address is not yet"
        );
        for i in 0..PER_ADDRESS {
            t.fail(&format!("u{i}@x"), Some("9.9.9.9"));
        }
        assert!(
            t.check("new@x", Some("9.9.9.9")).is_err(),
            "spraying from one address is stopped"
        );
        t.succeed("a@x");
        assert!(t.check("a@x", None).is_ok());
    }
}
