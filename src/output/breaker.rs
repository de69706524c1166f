//! A circuit breaker, capped and jittered exponential backoff, and the
//! shutdown deadline, for the network workers (webhook delivery shares
//! [`BreakerState`], [`backoff`], [`later`] and [`Shutdown`]; triage uses
//! all of them and [`Breaker`]).
//!
//! `threshold` consecutive failures open the breaker; while open, requests
//! are refused at once ([`Admit::Refuse`]); after `cooldown` the next request
//! is a single half-open probe ([`Admit::Probe`]): success closes the
//! breaker, failure opens it for another cooldown. The breaker reads
//! `Instant::now()` only in [`Breaker::admit`] and [`Breaker::failure`].

pub use super::metrics::BreakerState;
use rand::Rng;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// What the breaker allows for the next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Closed: the request with its retries.
    Full,
    /// Half-open: one attempt, no retries.
    Probe,
    /// Open: refuse it now.
    Refuse,
}

/// Consecutive-failure circuit breaker.
#[derive(Debug, Clone)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: BreakerState,
    consecutive: u32,
    open_until: Instant,
}

impl Breaker {
    /// A closed breaker opening after `threshold` (at least 1) consecutive
    /// failures for `cooldown`.
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Breaker {
            threshold: threshold.max(1),
            cooldown,
            state: BreakerState::Closed,
            consecutive: 0,
            open_until: Instant::now(),
        }
    }

    /// The current state.
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Whether (and how) the next request may go; an open breaker whose
    /// cooldown ended becomes half-open.
    pub fn admit(&mut self) -> Admit {
        match self.state {
            BreakerState::Closed => Admit::Full,
            BreakerState::HalfOpen => Admit::Probe,
            BreakerState::Open if Instant::now() < self.open_until => Admit::Refuse,
            BreakerState::Open => {
                self.state = BreakerState::HalfOpen;
                Admit::Probe
            }
        }
    }

    /// A failed attempt. Returns true when this opened the breaker.
    pub fn failure(&mut self) -> bool {
        self.consecutive = self.consecutive.saturating_add(1);
        let was_open = self.state == BreakerState::Open;
        if self.state == BreakerState::HalfOpen || self.consecutive >= self.threshold {
            self.open_until = later(self.cooldown);
            self.state = BreakerState::Open;
            return !was_open;
        }
        false
    }

    /// A successful attempt. Returns true when this closed an open or
    /// half-open breaker.
    pub fn success(&mut self) -> bool {
        self.consecutive = 0;
        let changed = self.state != BreakerState::Closed;
        self.state = BreakerState::Closed;
        changed
    }
}

/// `now + d`, or a far-away instant when that is not representable.
pub fn later(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(86_400 * 365)))
        .unwrap_or(now)
}

/// Set once closing starts: the deadline for what a worker still has
/// queued; its sleeps (backoff, retry-after) end early when they would pass
/// it.
#[derive(Debug, Default)]
pub struct Shutdown {
    /// `None` until closing starts.
    pub deadline: Mutex<Option<Instant>>,
    /// Woken when the deadline is set.
    pub cv: Condvar,
}

impl Shutdown {
    /// The deadline, once closing started.
    pub fn deadline(&self) -> Option<Instant> {
        *self.deadline.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether closing started and the deadline has passed.
    pub fn past(&self) -> bool {
        self.deadline().is_some_and(|d| Instant::now() >= d)
    }

    /// Start closing: what is queued may run for `grace` more; sleepers wake.
    pub fn begin(&self, grace: Duration) {
        *self.deadline.lock().unwrap_or_else(|p| p.into_inner()) = Some(later(grace));
        self.cv.notify_all();
    }

    /// Sleep for `d`; false at once if closing and the sleep would end after
    /// the deadline.
    pub fn sleep(&self, d: Duration) -> bool {
        let end = later(d);
        let mut g = self.deadline.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if g.is_some_and(|dl| dl < end) {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            g = match self.cv.wait_timeout(g, end - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

/// The wait before retry `retry` (1 = the first): `initial · 2^(retry−1)`,
/// capped at `max`, with equal jitter (half fixed, half random).
pub fn backoff(rng: &mut impl Rng, initial_ms: u64, max_ms: u64, retry: u32) -> Duration {
    let exp = initial_ms.saturating_mul(1u64 << retry.saturating_sub(1).min(30));
    let d = exp.min(max_ms);
    let half = d / 2;
    Duration::from_millis(half + rng.random_range(0..=d - half))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn opens_after_threshold_probes_after_cooldown_and_closes() {
        let mut b = Breaker::new(3, Duration::from_millis(30));
        assert_eq!(b.admit(), Admit::Full);
        assert!(!b.failure() && !b.failure());
        assert!(b.failure(), "third consecutive failure opens it");
        assert_eq!(b.admit(), Admit::Refuse);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(b.admit(), Admit::Probe);
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.failure(), "a failed probe reopens it");
        assert_eq!(b.admit(), Admit::Refuse);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(b.admit(), Admit::Probe);
        assert!(b.success());
        assert_eq!(b.admit(), Admit::Full);
        assert!(!b.failure(), "the count restarted");
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..50 {
            let b1 = backoff(&mut r, 100, 1000, 1).as_millis();
            assert!((50..=100).contains(&b1));
            let b20 = backoff(&mut r, 100, 1000, 20).as_millis();
            assert!((500..=1000).contains(&b20));
        }
        assert!(backoff(&mut r, u64::MAX, u64::MAX, u32::MAX) >= Duration::from_millis(1));
    }
}
