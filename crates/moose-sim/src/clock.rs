//! The simulation clock: real time, faster than real time from a chosen start, or set by hand.
//!
//! The API only ever shows the past of this clock: a 5-minute record exists once its slot has
//! ended, so an accelerated clock makes a simulated day of data appear in seconds.

use std::sync::Mutex;
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};

/// How simulated time relates to real time.
#[derive(Debug)]
pub enum SimClock {
    /// Simulated time is real time.
    RealTime,
    /// Simulated time starts at `start` and runs `speed` times faster than real time.
    Accelerated {
        /// Simulated time at `origin`.
        start: Timestamp,
        /// Real instant the simulation started.
        origin: Instant,
        /// Simulated seconds per real second.
        speed: f64,
    },
    /// Simulated time only moves when set (tests).
    Manual(Mutex<Timestamp>),
}

impl SimClock {
    /// A clock starting at `start` running `speed` times real time.
    pub fn accelerated(start: Timestamp, speed: f64) -> Self {
        Self::Accelerated {
            start,
            origin: Instant::now(),
            speed,
        }
    }

    /// A clock that stays at `at` until [`SimClock::set`].
    pub fn manual(at: Timestamp) -> Self {
        Self::Manual(Mutex::new(at))
    }

    /// Simulated now.
    pub fn now(&self) -> Timestamp {
        match self {
            Self::RealTime => Timestamp::now(),
            Self::Accelerated {
                start,
                origin,
                speed,
            } => *start + SignedDuration::from_secs_f64(origin.elapsed().as_secs_f64() * speed),
            Self::Manual(at) => *at.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
        }
    }

    /// Sets a manual clock; ignored by the others (they follow real time).
    pub fn set(&self, at: Timestamp) {
        if let Self::Manual(current) = self {
            *current
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = at;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accelerated_runs_fast_and_manual_stays() {
        let start: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
        let clock = SimClock::accelerated(start, 3600.0);
        std::thread::sleep(std::time::Duration::from_millis(50));
        let elapsed = clock.now().duration_since(start).as_secs();
        // At least 50 ms passed, so at least 180 simulated seconds; a loaded machine may sleep
        // longer, so the upper bound only rules out a clock that ignores the speed-up's scale.
        assert!(
            (180..3600).contains(&elapsed),
            "50 ms at 3600x is about 3 simulated minutes: {elapsed}"
        );
        let manual = SimClock::manual(start);
        assert_eq!(manual.now(), start);
        manual.set(start + SignedDuration::from_hours(5));
        assert_eq!(manual.now().duration_since(start).as_hours(), 5);
    }
}
