//! The triage worker: one thread taking evidence packets off the bounded
//! queue in micro-batches (the first packet, then whatever arrives within
//! `batch_wait_ms`, at most `batch_max`), asking the model once per incident
//! of the batch, with a timeout, retries (capped exponential backoff with
//! equal jitter; a server's `retry-after` is honoured up to the cap) and the
//! circuit breaker of [`crate::output::breaker`]. Each result, verdict or
//! reason for none, goes to the results channel the sensor drains.

use super::config::{ApiKey, TriageConfig};
use super::evidence::Evidence;
use super::provider;
use super::{FailReason, TriageCounters, TriageRecord, TriageStatus};
use crate::output::breaker::{backoff, later, Admit, Breaker, BreakerState, Shutdown};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Result of one attempt.
enum Attempt {
    Ok(super::TriageVerdict),
    /// Worth retrying (transport error, timeout, 408, 429, 5xx, 529), with
    /// the server's `retry-after` in seconds when it sent one.
    Retryable(FailReason, String, Option<u64>),
    /// Not worth retrying (another 4xx).
    Permanent(String),
    /// A 2xx answer off the schema.
    Invalid(String),
}

pub(super) struct Worker {
    pub(super) agent: ureq::Agent,
    pub(super) cfg: TriageConfig,
    pub(super) key: Option<ApiKey>,
    pub(super) counters: Arc<TriageCounters>,
    pub(super) shutdown: Arc<Shutdown>,
    pub(super) rng: rand_chacha::ChaCha8Rng,
    pub(super) breaker: Breaker,
    pub(super) results: SyncSender<TriageRecord>,
    /// Dropped when the worker ends (tells `close` it may join).
    pub(super) _done: std::sync::mpsc::Sender<()>,
}

impl Worker {
    fn set_breaker(&self) {
        self.counters.set_breaker(self.breaker.state());
    }

    fn call(&self, ev: &Evidence) -> Attempt {
        let req = provider::request(&self.cfg, self.key.as_ref(), ev);
        let body = serde_json::to_vec(&req.body).unwrap_or_default();
        let mut r = self
            .agent
            .post(&req.url)
            .header("Content-Type", "application/json");
        for (k, v) in &req.headers {
            r = r.header(*k, v);
        }
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        let mut resp = match r.send(&body[..]) {
            Ok(r) => r,
            Err(e) => {
                let reason = if matches!(e, ureq::Error::Timeout(_)) {
                    FailReason::Timeout
                } else {
                    FailReason::Transport
                };
                return Attempt::Retryable(reason, e.to_string(), None);
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|s| s.trim().parse::<u64>().ok());
        let bytes = match resp.body_mut().with_config().limit(4 << 20).read_to_vec() {
            Ok(b) => b,
            Err(e) => {
                let reason = if matches!(e, ureq::Error::Timeout(_)) {
                    FailReason::Timeout
                } else {
                    FailReason::Transport
                };
                return Attempt::Retryable(reason, e.to_string(), None);
            }
        };
        if (200..300).contains(&status) {
            return match provider::verdict(self.cfg.provider, &bytes) {
                Ok(v) => Attempt::Ok(v),
                Err(e) => Attempt::Invalid(e.to_string()),
            };
        }
        let text = provider::error_text(status, &bytes);
        if status == 408 || status == 429 || status >= 500 {
            Attempt::Retryable(FailReason::Http, text, retry_after)
        } else {
            Attempt::Permanent(text)
        }
    }

    fn triage(&mut self, ev: &Evidence) -> (TriageStatus, Option<super::TriageVerdict>) {
        let c = self.counters.clone();
        let attempts = match self.breaker.admit() {
            Admit::Refuse => {
                c.breaker_open.fetch_add(1, Ordering::Relaxed);
                return (TriageStatus::BreakerOpen, None);
            }
            Admit::Probe => 1,
            Admit::Full => self.cfg.max_attempts.max(1),
        };
        self.set_breaker();
        let mut last = TriageStatus::Failed("no attempt made".into());
        let mut wait_hint: Option<u64> = None;
        for attempt in 0..attempts {
            if attempt > 0 {
                c.retries.fetch_add(1, Ordering::Relaxed);
                let mut d = backoff(
                    &mut self.rng,
                    self.cfg.backoff_initial_ms,
                    self.cfg.backoff_max_ms,
                    attempt,
                );
                if let Some(s) = wait_hint.take() {
                    let hinted =
                        Duration::from_secs(s).min(Duration::from_millis(self.cfg.backoff_max_ms));
                    d = d.max(hinted);
                }
                if !self.shutdown.sleep(d) {
                    break;
                }
            }
            let sent = Instant::now();
            let attempt_result = self.call(ev);
            c.request_duration.observe_since(sent);
            match attempt_result {
                Attempt::Ok(v) => {
                    c.ok.fetch_add(1, Ordering::Relaxed);
                    if self.breaker.success() {
                        tracing::info!("triage circuit breaker closed: requests resume");
                    }
                    self.set_breaker();
                    return (TriageStatus::Ok, Some(v));
                }
                Attempt::Retryable(reason, why, ra) => {
                    tracing::debug!(attempt = attempt + 1, error = %why, "triage request failed");
                    c.failure(reason);
                    wait_hint = ra;
                    last = TriageStatus::Failed(why);
                    self.fail();
                }
                Attempt::Permanent(why) => {
                    tracing::warn!(error = %why, "triage request rejected; not retried");
                    c.failure(FailReason::Http);
                    last = TriageStatus::Failed(why);
                    self.fail();
                    break;
                }
                Attempt::Invalid(why) => {
                    tracing::warn!(error = %why, "triage answer off the schema; not stored");
                    c.failure(FailReason::InvalidResponse);
                    last = TriageStatus::InvalidResponse(why);
                    self.fail();
                    break;
                }
            }
            if self.breaker.state() == BreakerState::Open {
                break;
            }
        }
        (last, None)
    }

    fn fail(&mut self) {
        if self.breaker.failure() {
            self.counters.breaker_opened.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                cooldown_ms = self.cfg.breaker_cooldown_ms,
                "triage circuit breaker open: incidents go untriaged until the cooldown ends"
            );
        }
        self.set_breaker();
    }

    fn emit(&self, ev: &Evidence, status: TriageStatus, verdict: Option<super::TriageVerdict>) {
        let rec = TriageRecord::new(ev, &self.cfg, status, verdict);
        if self.results.try_send(rec).is_err() {
            self.counters
                .results_dropped
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Take micro-batches off the queue until it is closed and empty. The
    /// batch (the incident in flight first) stays in `batch` until each
    /// incident's record is out, so a `close` that gives up on a stalled
    /// request can still account for it.
    pub(super) fn run(
        mut self,
        rx: Arc<Mutex<Receiver<Evidence>>>,
        batch: Arc<Mutex<VecDeque<Evidence>>>,
    ) {
        let wait = Duration::from_millis(self.cfg.batch_wait_ms);
        loop {
            let taken = {
                let rx = rx.lock().unwrap_or_else(|p| p.into_inner());
                let Ok(first) = rx.recv() else { break };
                let mut taken = vec![first];
                let end = later(wait);
                while taken.len() < self.cfg.batch_max && self.shutdown.deadline().is_none() {
                    let now = Instant::now();
                    if now >= end {
                        break;
                    }
                    match rx.recv_timeout(end - now) {
                        Ok(e) => taken.push(e),
                        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                    }
                }
                taken
            };
            self.counters
                .queue_depth
                .fetch_sub(taken.len() as u64, Ordering::Relaxed);
            self.counters.batches.fetch_add(1, Ordering::Relaxed);
            batch
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend(taken);
            loop {
                let Some(ev) = batch
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .front()
                    .cloned()
                else {
                    break;
                };
                let (status, verdict) = if self.shutdown.past() {
                    self.counters.shutdown.fetch_add(1, Ordering::Relaxed);
                    (TriageStatus::Shutdown, None)
                } else {
                    self.triage(&ev)
                };
                if let Some(v) = &verdict {
                    tracing::info!(
                        incident = ev.incident_id,
                        host = %ev.host,
                        category = %v.category,
                        threat_score = v.threat_score,
                        "incident triaged"
                    );
                }
                // Taken out before its record is sent, so `close` never
                // reports it twice.
                if batch
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .pop_front()
                    .is_none()
                {
                    break; // `close` took the batch over
                }
                self.emit(&ev, status, verdict);
            }
        }
    }
}
