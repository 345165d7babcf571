//! Client-side pacing: a concurrency cap, a token bucket, and a pause when the API says the
//! quota window is used up. A fleet poll goes through one client, so these bound the whole poll.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

/// The pacing state.
#[derive(Debug)]
pub(crate) struct Limiter {
    concurrency: Semaphore,
    state: Mutex<Bucket>,
    rate_per_sec: f64,
    burst: f64,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled_at: Instant,
    paused_until: Option<Instant>,
}

impl Limiter {
    pub(crate) fn new(max_concurrency: usize, rate_per_sec: f64) -> Self {
        let burst = rate_per_sec.max(1.0);
        Self {
            concurrency: Semaphore::new(max_concurrency.max(1)),
            state: Mutex::new(Bucket {
                tokens: burst,
                refilled_at: Instant::now(),
                paused_until: None,
            }),
            rate_per_sec: rate_per_sec.max(0.01),
            burst,
        }
    }

    /// Waits for a concurrency slot and a token; the slot is held until the permit drops.
    pub(crate) async fn acquire(&self) -> SemaphorePermit<'_> {
        let permit = self
            .concurrency
            .acquire()
            .await
            .expect("the semaphore is never closed");
        loop {
            let wait = {
                let mut b = self
                    .state
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let now = Instant::now();
                let elapsed = now.duration_since(b.refilled_at).as_secs_f64();
                b.tokens = (b.tokens + elapsed * self.rate_per_sec).min(self.burst);
                b.refilled_at = now;
                match b.paused_until {
                    Some(until) if until > now => until - now,
                    _ if b.tokens >= 1.0 => {
                        b.tokens -= 1.0;
                        b.paused_until = None;
                        return permit;
                    }
                    _ => Duration::from_secs_f64((1.0 - b.tokens) / self.rate_per_sec),
                }
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Stops issuing requests until `until` (the API reported its quota window as used up).
    pub(crate) fn pause_until(&self, until: Instant) {
        let mut b = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if b.paused_until.is_none_or(|current| current < until) {
            b.paused_until = Some(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn paces_requests_to_the_rate() {
        let limiter = Limiter::new(4, 100.0);
        let start = Instant::now();
        for _ in 0..130 {
            drop(limiter.acquire().await);
        }
        // 100 in the initial burst, 30 more at 100/s.
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(280) && elapsed <= Duration::from_secs(3),
            "{elapsed:?}"
        );
    }

    #[tokio::test]
    async fn a_pause_holds_every_request() {
        let limiter = Limiter::new(4, 100.0);
        limiter.pause_until(Instant::now() + Duration::from_millis(300));
        let start = Instant::now();
        drop(limiter.acquire().await);
        assert!(start.elapsed() >= Duration::from_millis(290));
    }
}
