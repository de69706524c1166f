//! The delivery worker: one thread POSTing queued payloads with a timeout,
//! retrying with capped, jittered exponential backoff, behind a circuit
//! breaker, and giving up on what is queued when the shutdown grace ends.

use super::WebhookConfig;
use crate::output::breaker::{later, Shutdown};
use crate::output::metrics::{BreakerState, Metrics, WebhookDrop};
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
        crate::output::breaker::backoff(
            &mut self.rng,
            self.cfg.backoff_initial_ms,
            self.cfg.backoff_max_ms,
            retry,
        )
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
            let sent = Instant::now();
            let result = self.post(body);
            self.metrics.webhook.request_duration.observe_since(sent);
            match result {
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
