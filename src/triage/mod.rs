//! Incident triage by a language model, local or cloud, behind a circuit
//! breaker. Triage *annotates* an incident; it never decides: the sensor's
//! label, score and explanation are computed before and stored whatever the
//! model answers.
//!
//! ## Flow
//!
//! When an incident opens or escalates, [`crate::output::Outputs`] builds an
//! [`Evidence`] packet (host, span, reasons with value and usual value, top
//! and riskiest domains, query types, NXDOMAIN share, an encoded-name
//! example, prevalence of regularly contacted rare domains) and offers it to
//! [`Triage::offer`]: a `try_send` into a bounded queue, so the sensor never
//! waits on the model; a full queue drops the request and counts it
//! (`queue_full`). The worker (`worker.rs`) collects micro-batches and asks
//! the configured API ([`provider`]) for a verdict matching
//! [`verdict::schema`], one request per incident of the batch (each
//! incident gets its own verdict and its own failure, and a small local
//! model answers one packet better than many). Answers off the schema are
//! failures (`invalid_response`), never verdicts.
//!
//! Every offered incident yields one [`TriageRecord`]: a verdict
//! (`triage_status = ok`) or why there is none (`off`, `queue_full`,
//! `breaker_open`, `failed: <why>`, `invalid_response: <why>`, `shutdown`).
//! The sensor drains them with [`Triage::drain`] and writes them as NDJSON
//! `incident_triage` records.
//!
//! ## Untrusted input
//!
//! Domain names are attacker-controlled; see [`evidence`] for how they are
//! cleaned, capped and quoted as data.
//!
//! ## Files
//!
//! `config.rs` `[triage]` ([`TriageConfig`], [`Provider`], [`ApiKey`]),
//! `evidence.rs` the packet and prompt, `verdict.rs` the schema and its
//! check, `provider.rs` the three APIs, `worker.rs` batching, retries and the
//! breaker ([`crate::output::breaker`]), `flows.rs` the sources `flows
//! rules` flags ([`flows::FlowTriage`]); this file the handle, its queue,
//! records and counters.

pub mod config;
pub mod evidence;
pub mod flows;
pub mod provider;
pub mod verdict;
mod worker;

#[cfg(test)]
pub(crate) mod tests;

pub use config::{ApiKey, Provider, TriageConfig};
pub use evidence::Evidence;
pub use verdict::TriageVerdict;

use crate::output::breaker::Shutdown;
use crate::output::breaker::{Breaker, BreakerState};
use rand::SeedableRng;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;
use worker::Worker;

/// Errors of the triage unit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TriageError {
    /// Invalid `[triage]` settings.
    #[error("{0}")]
    Config(String),
    /// The API key could not be read (the key itself is never in the text).
    #[error("triage API key: {0}")]
    Key(String),
    /// The worker thread could not start.
    #[error("cannot start the triage thread: {0}")]
    Thread(String),
    /// The model's answer is not a verdict of the schema.
    #[error("invalid response: {0}")]
    InvalidResponse(String),
}

/// Why a request failed (the `reason` label of
/// `sentineldns_triage_failures_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailReason {
    /// Connection refused, reset, TLS, …
    Transport,
    /// The request timed out.
    Timeout,
    /// An error status (429, 5xx, 4xx).
    Http,
    /// A 2xx answer that is not a verdict of the schema.
    InvalidResponse,
}

impl FailReason {
    /// All reasons, in counter order.
    pub const ALL: [FailReason; 4] = [
        FailReason::Transport,
        FailReason::Timeout,
        FailReason::Http,
        FailReason::InvalidResponse,
    ];

    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            FailReason::Transport => "transport",
            FailReason::Timeout => "timeout",
            FailReason::Http => "http",
            FailReason::InvalidResponse => "invalid_response",
        }
    }
}

/// Triage counters (exposed on `/metrics`).
#[derive(Debug, Default)]
pub struct TriageCounters {
    /// 1 when triage is on.
    pub configured: AtomicU8,
    /// Incidents queued.
    pub enqueued: AtomicU64,
    /// Incidents waiting in the queue.
    pub queue_depth: AtomicU64,
    /// Incidents dropped because the queue was full.
    pub queue_full: AtomicU64,
    /// Incidents not sent because the breaker was open.
    pub breaker_open: AtomicU64,
    /// Incidents left untriaged at shutdown.
    pub shutdown: AtomicU64,
    /// HTTP requests made (attempts).
    pub requests: AtomicU64,
    /// Retries.
    pub retries: AtomicU64,
    /// Verdicts received and accepted.
    pub ok: AtomicU64,
    /// Micro-batches taken off the queue.
    pub batches: AtomicU64,
    /// Failed attempts by [`FailReason`].
    pub failures: [AtomicU64; 4],
    /// Times the breaker opened.
    pub breaker_opened: AtomicU64,
    /// Breaker state ([`BreakerState`] discriminant).
    pub breaker: AtomicU8,
    /// Records the sensor did not drain in time (results channel full).
    pub results_dropped: AtomicU64,
    /// Duration of each request to the API (attempts).
    pub request_duration: crate::output::metrics::Histogram,
}

impl TriageCounters {
    fn failure(&self, r: FailReason) {
        self.failures[r as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Failed attempts for `r`.
    pub fn failures(&self, r: FailReason) -> u64 {
        self.failures[r as usize].load(Ordering::Relaxed)
    }

    fn set_breaker(&self, s: BreakerState) {
        self.breaker.store(s as u8, Ordering::Relaxed);
    }

    /// The breaker state.
    pub fn breaker_state(&self) -> BreakerState {
        match self.breaker.load(Ordering::Relaxed) {
            1 => BreakerState::Open,
            2 => BreakerState::HalfOpen,
            _ => BreakerState::Closed,
        }
    }

    /// Whether triage is on.
    pub fn is_configured(&self) -> bool {
        self.configured.load(Ordering::Relaxed) == 1
    }
}

/// Why an incident has no verdict, or `Ok`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriageStatus {
    /// A verdict was received and passed the schema.
    Ok,
    /// Triage is off.
    Off,
    /// The queue was full.
    QueueFull,
    /// The breaker was open.
    BreakerOpen,
    /// Every attempt failed; the last error.
    Failed(String),
    /// The answer was off the schema.
    InvalidResponse(String),
    /// The sensor shut down before it was sent.
    Shutdown,
}

impl std::fmt::Display for TriageStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TriageStatus::Ok => f.write_str("ok"),
            TriageStatus::Off => f.write_str("off"),
            TriageStatus::QueueFull => f.write_str("queue_full"),
            TriageStatus::BreakerOpen => f.write_str("breaker_open"),
            TriageStatus::Failed(w) => write!(f, "failed: {w}"),
            TriageStatus::InvalidResponse(w) => write!(f, "invalid_response: {w}"),
            TriageStatus::Shutdown => f.write_str("shutdown"),
        }
    }
}

/// The triage of one incident event: its verdict, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TriageRecord {
    /// Incident id.
    pub incident_id: i64,
    /// Client host.
    pub host: String,
    /// `opened` or `escalated`.
    pub event: &'static str,
    /// `ok`, or why there is no verdict ([`TriageStatus`]).
    pub triage_status: String,
    /// The verdict, when `triage_status` is `ok`.
    pub triage: Option<TriageVerdict>,
    /// Provider asked.
    pub provider: &'static str,
    /// Model asked.
    pub model: String,
}

impl TriageRecord {
    /// The record of `ev`.
    pub fn new(
        ev: &Evidence,
        cfg: &TriageConfig,
        status: TriageStatus,
        triage: Option<TriageVerdict>,
    ) -> Self {
        TriageRecord {
            incident_id: ev.incident_id,
            host: ev.host.clone(),
            event: ev.event,
            triage_status: status.to_string(),
            triage,
            provider: cfg.provider.as_str(),
            model: cfg.model_name().to_string(),
        }
    }

    /// The NDJSON line of the record (`"type": "incident_triage"`).
    pub fn ndjson(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("type".into(), "incident_triage".into());
        }
        v
    }
}

/// The triage worker: a bounded queue, its thread and the results channel.
#[derive(Debug)]
pub struct Triage {
    cfg: TriageConfig,
    tx: Option<SyncSender<Evidence>>,
    results: Receiver<TriageRecord>,
    counters: Arc<TriageCounters>,
    shutdown: Arc<Shutdown>,
    thread: Option<std::thread::JoinHandle<()>>,
    done: Receiver<()>,
    queued: Arc<std::sync::Mutex<Receiver<Evidence>>>,
    batch: Arc<std::sync::Mutex<std::collections::VecDeque<Evidence>>>,
}

impl Triage {
    /// Validate `cfg`, read the API key and start the worker; `None` when
    /// the provider is `off`.
    pub fn start(
        cfg: &TriageConfig,
        counters: Arc<TriageCounters>,
    ) -> Result<Option<Self>, TriageError> {
        if cfg.provider == Provider::Off {
            return Ok(None);
        }
        cfg.validate()?;
        let key = cfg.api_key()?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_millis(cfg.timeout_ms)))
            .http_status_as_error(false)
            .user_agent(format!("sentineldns/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let (tx, rx) = mpsc::sync_channel::<Evidence>(cfg.queue);
        // Room for every queued request's record and a batch in flight.
        let (rtx, results) = mpsc::sync_channel(cfg.queue.saturating_mul(2).saturating_add(64));
        let shutdown = Arc::new(Shutdown::default());
        let (done_tx, done) = mpsc::channel();
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let worker = Worker {
            agent,
            cfg: cfg.clone(),
            key,
            counters: counters.clone(),
            shutdown: shutdown.clone(),
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(seed),
            breaker: Breaker::new(
                cfg.breaker_failures,
                Duration::from_millis(cfg.breaker_cooldown_ms),
            ),
            results: rtx,
            _done: done_tx,
        };
        counters.configured.store(1, Ordering::Relaxed);
        counters.set_breaker(BreakerState::Closed);
        let queued = Arc::new(std::sync::Mutex::new(rx));
        let batch = Arc::new(std::sync::Mutex::new(std::collections::VecDeque::new()));
        let (q2, b2) = (queued.clone(), batch.clone());
        let thread = std::thread::Builder::new()
            .name("triage".into())
            .spawn(move || worker.run(q2, b2))
            .map_err(|e| TriageError::Thread(e.to_string()))?;
        tracing::info!(
            provider = cfg.provider.as_str(),
            url = %cfg.base_url(),
            model = cfg.model_name(),
            "incident triage on"
        );
        Ok(Some(Triage {
            cfg: cfg.clone(),
            tx: Some(tx),
            results,
            counters,
            shutdown,
            thread: Some(thread),
            done,
            queued,
            batch,
        }))
    }

    /// The settings it runs with.
    pub fn config(&self) -> &TriageConfig {
        &self.cfg
    }

    /// The counters.
    pub fn counters(&self) -> &Arc<TriageCounters> {
        &self.counters
    }

    /// Queue `ev` for triage. Never blocks: a full queue (or a closed worker)
    /// refuses it, counts it and returns the record saying so.
    pub fn offer(&self, ev: Evidence) -> Result<(), Box<TriageRecord>> {
        let c = &self.counters;
        let Some(tx) = &self.tx else {
            c.shutdown.fetch_add(1, Ordering::Relaxed);
            return Err(Box::new(TriageRecord::new(
                &ev,
                &self.cfg,
                TriageStatus::Shutdown,
                None,
            )));
        };
        c.queue_depth.fetch_add(1, Ordering::Relaxed);
        match tx.try_send(ev) {
            Ok(()) => {
                c.enqueued.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                c.queue_depth.fetch_sub(1, Ordering::Relaxed);
                let (ev, status) = match e {
                    TrySendError::Full(ev) => {
                        c.queue_full.fetch_add(1, Ordering::Relaxed);
                        (ev, TriageStatus::QueueFull)
                    }
                    TrySendError::Disconnected(ev) => {
                        c.shutdown.fetch_add(1, Ordering::Relaxed);
                        (ev, TriageStatus::Shutdown)
                    }
                };
                Err(Box::new(TriageRecord::new(&ev, &self.cfg, status, None)))
            }
        }
    }

    /// The records finished since the last call (never blocks).
    pub fn drain(&self) -> Vec<TriageRecord> {
        self.results.try_iter().collect()
    }

    /// Stop accepting incidents, triage what is queued within the grace
    /// period and return the remaining records. Idempotent. The worker is
    /// joined when it ends within the grace period plus one second; a worker
    /// still inside a request to a stalled server is left to end with the
    /// process (the sensor never waits on the model, not even at shutdown).
    pub fn close(&mut self) -> Vec<TriageRecord> {
        self.shutdown
            .begin(Duration::from_millis(self.cfg.shutdown_grace_ms));
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let wait = Duration::from_millis(self.cfg.shutdown_grace_ms) + Duration::from_secs(1);
            match self.done.recv_timeout(wait) {
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    if t.join().is_err() {
                        tracing::error!("triage thread panicked");
                    }
                }
                _ => {
                    tracing::warn!(
                        "triage worker still waiting on the model at shutdown; not waiting for it"
                    );
                    // The worker is inside a request: it holds neither lock.
                    // Its batch (the incident in flight first) and what is
                    // still queued get `shutdown` records.
                    let mut left: Vec<Evidence> = self
                        .batch
                        .lock()
                        .map(|mut b| b.drain(..).collect())
                        .unwrap_or_default();
                    if let Ok(q) = self.queued.try_lock() {
                        left.extend(q.try_iter());
                    }
                    let mut out = self.drain();
                    for ev in &left {
                        self.counters.shutdown.fetch_add(1, Ordering::Relaxed);
                        out.push(TriageRecord::new(
                            ev,
                            &self.cfg,
                            TriageStatus::Shutdown,
                            None,
                        ));
                    }
                    return out;
                }
            }
        }
        self.drain()
    }
}

impl Drop for Triage {
    fn drop(&mut self) {
        self.close();
    }
}
