//! The delivery worker: one thread POSTing queued payloads with a timeout,
//! retrying with capped, jittered exponential backoff, behind a circuit
//! breaker, and giving up on what is queued when the shutdown grace ends.

use super::WebhookConfig;
use crate::output::metrics::{BreakerState, Metrics, WebhookDrop};
use rand::Rng;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// `now + d`, or a far-away instant when that is not representable (never
/// panics on overflow).
pub(super) fn later(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(86_400 * 365)))
        .unwrap_or(now)
}

/// Set once closing starts: the deadline for queued deliveries.
#[derive(Debug, Default)]
pub(super) struct Shutdown {
    pub(super) deadline: Mutex<Option<Instant>>,
    pub(super) cv: Condvar,
}

impl Shutdown {
    pub(super) fn deadline(&self) -> Option<Instant> {
        *self.deadline.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sleep for `d`; false (at once) if closing and the sleep would end after
    /// the deadline.
    pub(super) fn sleep(&self, d: Duration) -> bool {
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

/// Result of one attempt.
enum Attempt {
    Ok,
    Retryable(String),
    Permanent(String),
}

pub(super) struct Worker {
    pub(super) agent: ureq::Agent,
    pub(super) cfg: WebhookConfig,
    pub(super) metrics: Arc<Metrics>,
    pub(super) shutdown: Arc<Shutdown>,
    pub(super) rng: rand_chacha::ChaCha8Rng,
    pub(super) state: BreakerState,
    pub(super) consecutive: u32,
    pub(super) open_until: Instant,
}

impl Worker {
    fn set_state(&mut self, s: BreakerState) {
        if s == BreakerState::Open && self.state != BreakerState::Open {
            self.metrics
                .webhook
                .breaker_opened
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                cooldown_ms = self.cfg.breaker_cooldown_ms,
                "webhook circuit breaker open: alerts are dropped until the cooldown ends"
            );
        }
        if s == BreakerState::Closed && self.state != BreakerState::Closed {
            tracing::info!("webhook circuit breaker closed: deliveries resume");
        }
        self.state = s;
        self.metrics.webhook.set_breaker(s);
    }

    fn failure(&mut self) {
        self.consecutive += 1;
        if self.state == BreakerState::HalfOpen || self.consecutive >= self.cfg.breaker_failures {
            self.open_until = later(Duration::from_millis(self.cfg.breaker_cooldown_ms));
            self.set_state(BreakerState::Open);
        }
    }

    fn success(&mut self) {
        self.consecutive = 0;
        self.set_state(BreakerState::Closed);
    }

    fn backoff(&mut self, retry: u32) -> Duration {
        let exp = self
            .cfg
            .backoff_initial_ms
            .saturating_mul(1u64 << (retry - 1).min(30));
        let d = exp.min(self.cfg.backoff_max_ms);
        let half = d / 2;
        Duration::from_millis(half + self.rng.random_range(0..=d - half))
    }

    fn post(&self, body: &[u8]) -> Attempt {
        let r = self
            .agent
            .post(&self.cfg.url)
            .header("Content-Type", "application/json")
            .send(body);
        match r {
            Ok(resp) => {
                let s = resp.status().as_u16();
                if (200..300).contains(&s) {
                    Attempt::Ok
                } else if s == 408 || s == 429 || s >= 500 {
                    Attempt::Retryable(format!("HTTP {s}"))
                } else {
                    Attempt::Permanent(format!("HTTP {s}"))
                }
            }
            Err(e) => Attempt::Retryable(e.to_string()),
        }
    }

    fn deliver(&mut self, body: &[u8]) {
        let m = &self.metrics.webhook;
        if self.state == BreakerState::Open {
            if Instant::now() < self.open_until {
                m.dropped(WebhookDrop::BreakerOpen);
                return;
            }
            self.set_state(BreakerState::HalfOpen);
        }
        let attempts = if self.state == BreakerState::HalfOpen {
            1
        } else {
            self.cfg.max_attempts
        };
        for attempt in 0..attempts {
            if attempt > 0 {
                self.metrics.webhook.retries.fetch_add(1, Ordering::Relaxed);
                let d = self.backoff(attempt);
                if !self.shutdown.sleep(d) {
                    break;
                }
            }
            match self.post(body) {
                Attempt::Ok => {
                    self.metrics.webhook.sent.fetch_add(1, Ordering::Relaxed);
                    self.success();
                    return;
                }
                Attempt::Retryable(e) => {
                    tracing::debug!(attempt = attempt + 1, error = %e, "webhook delivery failed");
                    self.failure();
                }
                Attempt::Permanent(e) => {
                    tracing::warn!(error = %e, "webhook rejected the alert; not retried");
                    self.failure();
                    break;
                }
            }
            if self.state == BreakerState::Open {
                break;
            }
        }
        tracing::warn!(url = %self.cfg.url, "webhook alert not delivered");
        self.metrics.webhook.failed.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn run(mut self, rx: Receiver<Vec<u8>>) {
        for body in rx.iter() {
            self.metrics
                .webhook
                .queue_depth
                .fetch_sub(1, Ordering::Relaxed);
            if self
                .shutdown
                .deadline()
                .is_some_and(|dl| Instant::now() >= dl)
            {
                self.metrics.webhook.dropped(WebhookDrop::Shutdown);
                continue;
            }
            self.deliver(&body);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::cfg;
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn instant_arithmetic_never_overflows() {
        let far = later(Duration::from_millis(u64::MAX));
        assert!(far > Instant::now() + Duration::from_secs(3600));
        let s = Shutdown::default();
        *s.deadline.lock().unwrap() = Some(Instant::now());
        // Closing: a sleep past the deadline returns at once, even an endless one.
        assert!(!s.sleep(Duration::from_millis(u64::MAX)));
        assert!(!s.sleep(Duration::MAX));
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let m = Arc::new(Metrics::default());
        let c = WebhookConfig {
            backoff_initial_ms: 100,
            backoff_max_ms: 1000,
            ..cfg("http://127.0.0.1:9/".into())
        };
        let mut w = Worker {
            agent: ureq::Agent::new_with_defaults(),
            cfg: c,
            metrics: m,
            shutdown: Arc::new(Shutdown::default()),
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(1),
            state: BreakerState::Closed,
            consecutive: 0,
            open_until: Instant::now(),
        };
        for _ in 0..50 {
            let b1 = w.backoff(1).as_millis();
            assert!((50..=100).contains(&b1), "{b1}");
            let b3 = w.backoff(3).as_millis();
            assert!((200..=400).contains(&b3), "{b3}");
            let b20 = w.backoff(20).as_millis();
            assert!((500..=1000).contains(&b20), "{b20}");
        }
        let spread: std::collections::HashSet<u128> =
            (0..50).map(|_| w.backoff(3).as_millis()).collect();
        assert!(spread.len() > 5, "jittered");
    }
}
