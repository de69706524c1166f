//! Webhook alerts: a Slack-compatible JSON message for every window at or
//! above a chosen verdict, delivered by a worker thread of its own.
//!
//! ## Never blocking the pipeline
//!
//! [`Webhook::offer`] builds the payload and hands it to a bounded queue with
//! `try_send`: when the queue is full the alert is dropped and counted
//! (`sentineldns_webhook_dropped_total{reason="queue_full"}`); the caller never
//! waits for the network.
//!
//! ## Delivery
//!
//! The worker POSTs each payload (`Content-Type: application/json`) with a
//! per-request timeout. A transport error, 408, 429 or 5xx is retried with
//! exponential backoff — `initial · 2^(k−1)`, capped, with "equal jitter"
//! (half fixed, half random) so many sensors do not retry in step — up to
//! `max_attempts` attempts; other statuses are not retried.
//!
//! ## Circuit breaker
//!
//! `breaker_failures` consecutive failed attempts open the breaker: alerts are
//! then dropped at once (`reason="breaker_open"`) instead of waiting on a dead
//! endpoint. After `breaker_cooldown_ms` the breaker half-opens and the next
//! alert is one trial attempt: success closes it, failure opens it again for
//! another cooldown.
//!
//! ## Shutdown
//!
//! [`Webhook::close`] (also on drop) lets the worker deliver what is queued for
//! at most `shutdown_grace_ms` (plus one request timeout); what is left is
//! dropped and counted (`reason="shutdown"`).

use super::metrics::{BreakerState, Metrics, WebhookDrop};
use super::OutputError;
use crate::aggregate::HostWindow;
use crate::detect::Verdict;
use crate::event::MICROS;
use crate::model::Label;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Lowest verdict that raises a webhook alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum MinLabel {
    /// Unusual and Likely Compromise.
    Unusual,
    /// Likely Compromise only (default: a webhook usually pages someone).
    #[default]
    LikelyCompromise,
}

impl MinLabel {
    /// Whether a verdict with label `l` is alerted.
    pub fn admits(self, l: Label) -> bool {
        match self {
            MinLabel::Unusual => l != Label::Normal,
            MinLabel::LikelyCompromise => l == Label::LikelyCompromise,
        }
    }
}

/// Webhook settings. Durations are in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// Endpoint (`http://` or `https://`), e.g. a Slack incoming-webhook URL.
    pub url: String,
    /// Lowest verdict sent (default `likely-compromise`).
    pub min_label: MinLabel,
    /// Alerts that may wait for delivery; more are dropped (default 256).
    pub queue: usize,
    /// Whole-request timeout (default 5000).
    pub timeout_ms: u64,
    /// Attempts per alert, the first included (default 4).
    pub max_attempts: u32,
    /// Backoff before the first retry (default 500).
    pub backoff_initial_ms: u64,
    /// Backoff cap (default 30000).
    pub backoff_max_ms: u64,
    /// Consecutive failed attempts that open the breaker (default 5).
    pub breaker_failures: u32,
    /// How long the breaker stays open before a trial (default 60000).
    pub breaker_cooldown_ms: u64,
    /// How long queued alerts may still be delivered at shutdown (default 5000).
    pub shutdown_grace_ms: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            url: String::new(),
            min_label: MinLabel::default(),
            queue: 256,
            timeout_ms: 5000,
            max_attempts: 4,
            backoff_initial_ms: 500,
            backoff_max_ms: 30_000,
            breaker_failures: 5,
            breaker_cooldown_ms: 60_000,
            shutdown_grace_ms: 5000,
        }
    }
}

/// Largest `queue` (alerts waiting; the queue's slots are allocated up front).
pub const MAX_QUEUE: u64 = 1_000_000;
/// Largest `timeout_ms`, `backoff_initial_ms`, `backoff_max_ms` and
/// `breaker_cooldown_ms` (1 hour).
pub const MAX_WAIT_MS: u64 = 3_600_000;
/// Largest `shutdown_grace_ms` (5 minutes).
pub const MAX_SHUTDOWN_GRACE_MS: u64 = 300_000;
/// Largest `max_attempts`.
pub const MAX_ATTEMPTS: u64 = 100;
/// Largest `breaker_failures`.
pub const MAX_BREAKER_FAILURES: u64 = 1000;

/// `now + d`, or a far-away instant when that is not representable (never
/// panics on overflow).
fn later(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(86_400 * 365)))
        .unwrap_or(now)
}

impl WebhookConfig {
    /// The allowed range of every numeric key.
    pub fn bounds(&self) -> Vec<crate::config::Bound> {
        use crate::config::Bound;
        vec![
            Bound::new("outputs.webhook.queue", self.queue, 1, MAX_QUEUE),
            Bound::new(
                "outputs.webhook.timeout_ms",
                self.timeout_ms,
                1,
                MAX_WAIT_MS,
            ),
            Bound::new(
                "outputs.webhook.max_attempts",
                self.max_attempts,
                1,
                MAX_ATTEMPTS,
            ),
            Bound::new(
                "outputs.webhook.backoff_initial_ms",
                self.backoff_initial_ms,
                0,
                MAX_WAIT_MS,
            ),
            Bound::new(
                "outputs.webhook.backoff_max_ms",
                self.backoff_max_ms,
                0,
                MAX_WAIT_MS,
            ),
            Bound::new(
                "outputs.webhook.breaker_failures",
                self.breaker_failures,
                1,
                MAX_BREAKER_FAILURES,
            ),
            Bound::new(
                "outputs.webhook.breaker_cooldown_ms",
                self.breaker_cooldown_ms,
                0,
                MAX_WAIT_MS,
            ),
            Bound::new(
                "outputs.webhook.shutdown_grace_ms",
                self.shutdown_grace_ms,
                0,
                MAX_SHUTDOWN_GRACE_MS,
            ),
        ]
    }

    /// Check the settings: the URL ([`validate_url`](Self::validate_url)) and
    /// every number in its range ([`bounds`](Self::bounds)).
    pub fn validate(&self) -> Result<(), OutputError> {
        self.validate_url()?;
        match self.bounds().into_iter().find(|b| !b.ok()) {
            Some(b) => Err(OutputError::Config(b.to_string())),
            None => Ok(()),
        }
    }

    /// Check the URL's scheme and syntax.
    pub fn validate_url(&self) -> Result<(), OutputError> {
        let bad = |m: String| Err(OutputError::Config(m));
        let lower = self.url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return bad(format!(
                "webhook URL {:?} must start with http:// or https://",
                self.url
            ));
        }
        match self.url.parse::<ureq::http::Uri>() {
            Ok(u) if u.host().is_some_and(|h| !h.is_empty()) => {}
            _ => return bad(format!("webhook URL {:?} is not a valid URL", self.url)),
        }
        Ok(())
    }
}

/// Escape text for Slack `mrkdwn` (`&`, `<`, `>`).
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// At most `n` characters (an ellipsis marks a cut).
fn truncate(s: &str, n: usize) -> String {
    match s.char_indices().nth(n.saturating_sub(1)) {
        Some((i, _)) if s.len() > i + 1 => format!("{}…", &s[..i]),
        _ => s.to_string(),
    }
}

fn utc(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts.div_euclid(MICROS), 0)
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// The Slack-compatible message for a flagged window: `text` (notification
/// and fallback), `blocks` (host, verdict, score, window, reason tags,
/// explanation, top and riskiest domains) and one coloured `attachment`.
pub fn slack_payload(w: &HostWindow, v: &Verdict) -> Value {
    let host = w.host.to_string();
    let tags: Vec<&str> = v.reasons.iter().map(|r| r.tag).collect();
    let tag_text = if tags.is_empty() {
        "none".to_string()
    } else {
        tags.iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (emoji, color) = match v.label {
        Label::LikelyCompromise => (":rotating_light:", "#d40e0d"),
        Label::Unusual => (":warning:", "#e8a33d"),
        Label::Normal => (":information_source:", "#439fe0"),
    };
    let text = format!(
        "{emoji} {}: {host} (score {:.2}){}",
        v.label.as_str(),
        v.score,
        if tags.is_empty() {
            String::new()
        } else {
            format!(" — {}", tags.join(", "))
        }
    );
    let top: Vec<String> = w
        .top_domains
        .iter()
        .take(5)
        .map(|d| format!("{} ({})", truncate(&d.name, 80), d.count))
        .collect();
    let risky: Vec<String> = w
        .risky_domains
        .iter()
        .filter(|d| d.risk >= 0.5)
        .take(5)
        .map(|d| format!("{} (risk {:.2})", truncate(&d.name, 80), d.risk))
        .collect();
    let mut domains = format!(
        "*Top domains:* {}",
        if top.is_empty() {
            "none".to_string()
        } else {
            top.join(", ")
        }
    );
    if !risky.is_empty() {
        domains.push_str(&format!("\n*Riskiest:* {}", risky.join(", ")));
    }
    json!({
        "text": slack_escape(&text),
        "blocks": [
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": truncate(&format!("{} {}: {host}", emoji, v.label.as_str()), 150),
                    "emoji": true
                }
            },
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": format!("*Host*\n`{host}`")},
                    {"type": "mrkdwn", "text": format!("*Verdict*\n{} (score {:.2})", v.label.as_str(), v.score)},
                    {"type": "mrkdwn", "text": format!("*Window (UTC)*\n{} – {}", utc(w.start), utc(w.end))},
                    {"type": "mrkdwn", "text": truncate(&format!("*Reasons*\n{}", slack_escape(&tag_text)), 2000)}
                ]
            },
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": truncate(&slack_escape(&v.explanation), 2900)}
            },
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": truncate(&slack_escape(&domains), 2900)}]
            }
        ],
        "attachments": [{
            "color": color,
            "fallback": slack_escape(&text),
            "footer": format!("sentineldns {}", env!("CARGO_PKG_VERSION")),
            "ts": w.end.div_euclid(MICROS)
        }]
    })
}

/// Set once closing starts: the deadline for queued deliveries.
#[derive(Debug, Default)]
struct Shutdown {
    deadline: Mutex<Option<Instant>>,
    cv: Condvar,
}

impl Shutdown {
    fn deadline(&self) -> Option<Instant> {
        *self.deadline.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sleep for `d`; false (at once) if closing and the sleep would end after
    /// the deadline.
    fn sleep(&self, d: Duration) -> bool {
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

struct Worker {
    agent: ureq::Agent,
    cfg: WebhookConfig,
    metrics: Arc<Metrics>,
    shutdown: Arc<Shutdown>,
    rng: rand_chacha::ChaCha8Rng,
    state: BreakerState,
    consecutive: u32,
    open_until: Instant,
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

    fn run(mut self, rx: Receiver<Vec<u8>>) {
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

/// The webhook: a bounded queue and its delivery thread.
#[derive(Debug)]
pub struct Webhook {
    tx: Option<SyncSender<Vec<u8>>>,
    min_label: MinLabel,
    grace: Duration,
    metrics: Arc<Metrics>,
    shutdown: Arc<Shutdown>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Webhook {
    /// Validate `cfg` and start the delivery thread.
    pub fn start(cfg: &WebhookConfig, metrics: Arc<Metrics>) -> Result<Self, OutputError> {
        cfg.validate()?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_millis(cfg.timeout_ms)))
            .http_status_as_error(false)
            .user_agent(format!("sentineldns/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(cfg.queue);
        let shutdown = Arc::new(Shutdown::default());
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let worker = Worker {
            agent,
            cfg: cfg.clone(),
            metrics: metrics.clone(),
            shutdown: shutdown.clone(),
            rng: rand_chacha::ChaCha8Rng::seed_from_u64(seed),
            state: BreakerState::Closed,
            consecutive: 0,
            open_until: Instant::now(),
        };
        metrics.webhook.set_configured(cfg.queue);
        metrics.webhook.set_breaker(BreakerState::Closed);
        let thread = std::thread::Builder::new()
            .name("webhook".into())
            .spawn(move || worker.run(rx))
            .map_err(|e| OutputError::Thread(e.to_string()))?;
        Ok(Webhook {
            tx: Some(tx),
            min_label: cfg.min_label,
            grace: Duration::from_millis(cfg.shutdown_grace_ms),
            metrics,
            shutdown,
            thread: Some(thread),
        })
    }

    /// The lowest label alerted.
    pub fn min_label(&self) -> MinLabel {
        self.min_label
    }

    /// Queue an alert for `w` if its verdict is at or above the threshold.
    /// Returns whether it was queued. Never blocks.
    pub fn offer_window(&self, w: &HostWindow, v: &Verdict) -> bool {
        if !self.min_label.admits(v.label) {
            return false;
        }
        let body = serde_json::to_vec(&slack_payload(w, v)).unwrap_or_default();
        self.offer(body)
    }

    /// Queue a raw JSON body. Returns whether it was queued (a full queue, or a
    /// closed webhook, drops it and counts it). Never blocks.
    pub fn offer(&self, body: Vec<u8>) -> bool {
        let m = &self.metrics.webhook;
        let Some(tx) = &self.tx else {
            m.dropped(WebhookDrop::Shutdown);
            return false;
        };
        m.queue_depth.fetch_add(1, Ordering::Relaxed);
        match tx.try_send(body) {
            Ok(()) => {
                m.enqueued.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(e) => {
                m.queue_depth.fetch_sub(1, Ordering::Relaxed);
                m.dropped(match e {
                    TrySendError::Full(_) => WebhookDrop::QueueFull,
                    TrySendError::Disconnected(_) => WebhookDrop::Shutdown,
                });
                false
            }
        }
    }

    /// Stop accepting alerts, deliver what is queued within the grace period,
    /// and join the worker. Idempotent.
    pub fn close(&mut self) {
        if let Ok(mut g) = self.shutdown.deadline.lock() {
            *g = Some(later(self.grace));
        }
        self.shutdown.cv.notify_all();
        self.tx = None;
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("webhook thread panicked");
            }
        }
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::detect::Reason;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::sync::atomic::{AtomicBool, AtomicU16};

    /// What the test server does with a request.
    #[derive(Default)]
    pub(crate) struct Behaviour {
        /// Status to answer (0 = 200).
        pub status: AtomicU16,
        /// Hold each response until `release` is set.
        pub hold: AtomicBool,
        pub release: AtomicBool,
    }

    /// A tiny HTTP/1.1 server on 127.0.0.1: records every request body and
    /// answers as `behaviour` says. Each request is reported on the channel.
    pub(crate) struct TestServer {
        pub addr: SocketAddr,
        pub bodies: Arc<Mutex<Vec<String>>>,
        pub arrived: Receiver<()>,
        pub behaviour: Arc<Behaviour>,
    }

    fn read_request(s: &mut TcpStream) -> Option<String> {
        let mut r = BufReader::new(s.try_clone().ok()?);
        let mut len = 0usize;
        let mut line = String::new();
        r.read_line(&mut line).ok()?;
        if line.is_empty() {
            return None;
        }
        loop {
            line.clear();
            r.read_line(&mut line).ok()?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().ok()?;
                }
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).ok()?;
        String::from_utf8(body).ok()
    }

    impl TestServer {
        pub(crate) fn start() -> TestServer {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            let bodies = Arc::new(Mutex::new(Vec::new()));
            let behaviour = Arc::new(Behaviour::default());
            let (tx, arrived) = mpsc::channel();
            let (b2, beh) = (bodies.clone(), behaviour.clone());
            std::thread::spawn(move || {
                for s in l.incoming() {
                    let Ok(mut s) = s else { continue };
                    let (b2, beh, tx) = (b2.clone(), beh.clone(), tx.clone());
                    std::thread::spawn(move || {
                        // One request per connection (ureq may keep it alive).
                        while let Some(body) = read_request(&mut s) {
                            b2.lock().unwrap().push(body);
                            let _ = tx.send(());
                            let deadline = Instant::now() + Duration::from_secs(60);
                            while beh.hold.load(Ordering::SeqCst)
                                && !beh.release.load(Ordering::SeqCst)
                                && Instant::now() < deadline
                            {
                                std::thread::sleep(Duration::from_millis(5));
                            }
                            let st = match beh.status.load(Ordering::SeqCst) {
                                0 => 200,
                                s => s,
                            };
                            let _ = write!(
                                s,
                                "HTTP/1.1 {st} X\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
                            );
                        }
                    });
                }
            });
            TestServer {
                addr,
                bodies,
                arrived,
                behaviour,
            }
        }

        pub(crate) fn url(&self) -> String {
            format!("http://{}/hook", self.addr)
        }

        pub(crate) fn count(&self) -> usize {
            self.bodies.lock().unwrap().len()
        }
    }

    /// Poll `f` until true, at most 20 s.
    pub(crate) fn eventually(what: &str, f: impl Fn() -> bool) {
        let end = Instant::now() + Duration::from_secs(20);
        while !f() {
            assert!(Instant::now() < end, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub(crate) fn window_and_verdict(label: Label) -> (HostWindow, Verdict) {
        let w = crate::output::tests::dga_window("10.0.0.9");
        let v = Verdict {
            score: 0.97,
            label,
            reasons: vec![Reason {
                tag: "nxdomain_spike",
                feature: "nxdomain_name_rate_s",
                value: 0.9,
                usual: 0.02,
                deviation: 12.0,
            }],
            explanation: "Likely Compromise for 10.0.0.9: 60 of 60 lookups failed <DGA>.".into(),
        };
        (w, v)
    }

    fn cfg(url: String) -> WebhookConfig {
        WebhookConfig {
            url,
            min_label: MinLabel::Unusual,
            queue: 4,
            timeout_ms: 10_000,
            max_attempts: 3,
            backoff_initial_ms: 5,
            backoff_max_ms: 20,
            breaker_failures: 3,
            breaker_cooldown_ms: 100,
            shutdown_grace_ms: 10_000,
        }
    }

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
    fn truncation_counts_characters() {
        assert_eq!(truncate("abcdef", 10), "abcdef");
        assert_eq!(truncate("abcdef", 6), "abcdef");
        assert_eq!(truncate("abcdefg", 6), "abcde…");
        assert_eq!(truncate("ééééééé", 3), "éé…");
    }

    #[test]
    fn config_validation() {
        assert!(cfg("ftp://x".into()).validate().is_err());
        assert!(cfg("http://".into()).validate().is_err());
        assert!(cfg("https://hooks.slack.com/services/T/B/x".into())
            .validate()
            .is_ok());
        let mut c = cfg("http://127.0.0.1:9/x".into());
        c.queue = 0;
        assert!(c.validate().is_err());
        // Every number is held to its range, and the error names the key.
        for (set, key) in [
            (
                (|c: &mut WebhookConfig| c.queue = usize::MAX) as fn(&mut WebhookConfig),
                "[outputs.webhook] queue = 18446744073709551615",
            ),
            (|c| c.queue = 1_000_001, "[outputs.webhook] queue"),
            (|c| c.timeout_ms = u64::MAX, "[outputs.webhook] timeout_ms"),
            (
                |c| c.max_attempts = u32::MAX,
                "[outputs.webhook] max_attempts",
            ),
            (|c| c.backoff_initial_ms = u64::MAX, "backoff_initial_ms"),
            (|c| c.backoff_max_ms = 3_600_001, "backoff_max_ms"),
            (|c| c.breaker_failures = 0, "breaker_failures"),
            (|c| c.breaker_cooldown_ms = u64::MAX, "breaker_cooldown_ms"),
            (
                |c| c.shutdown_grace_ms = 300_001,
                "shutdown_grace_ms = 300001",
            ),
        ] {
            let mut c = cfg("http://127.0.0.1:9/x".into());
            set(&mut c);
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(key) && e.contains("out of range"), "{e}");
            assert!(
                Webhook::start(&c, Arc::new(Metrics::default())).is_err(),
                "{key}: start refuses it too"
            );
        }
        let mut c = cfg("http://127.0.0.1:9/x".into());
        (c.queue, c.timeout_ms, c.shutdown_grace_ms) = (1_000_000, 3_600_000, 300_000);
        assert!(c.validate().is_ok(), "the limits themselves are allowed");
        let d: WebhookConfig =
            serde_json::from_str(r#"{"url":"http://a/b","min_label":"unusual"}"#).unwrap();
        assert_eq!(d.min_label, MinLabel::Unusual);
        assert_eq!(d.queue, 256);
        assert!(MinLabel::LikelyCompromise.admits(Label::LikelyCompromise));
        assert!(!MinLabel::LikelyCompromise.admits(Label::Unusual));
        assert!(MinLabel::Unusual.admits(Label::Unusual));
        assert!(!MinLabel::Unusual.admits(Label::Normal));
    }

    #[test]
    fn delivers_slack_payload_with_host_label_reasons_and_domains() {
        let srv = TestServer::start();
        let m = Arc::new(Metrics::default());
        let mut wh = Webhook::start(&cfg(srv.url()), m.clone()).unwrap();
        let (w, v) = window_and_verdict(Label::LikelyCompromise);
        assert!(wh.offer_window(&w, &v));
        let (_, normal) = window_and_verdict(Label::Normal);
        assert!(
            !wh.offer_window(&w, &normal),
            "Normal is below the threshold"
        );
        eventually("delivery", || m.webhook.sent.load(Ordering::Relaxed) == 1);
        wh.close();
        let bodies = srv.bodies.lock().unwrap();
        assert_eq!(bodies.len(), 1);
        let p: Value = serde_json::from_str(&bodies[0]).unwrap();
        let text = p["text"].as_str().unwrap();
        assert!(
            text.contains("Likely Compromise") && text.contains("10.0.0.9"),
            "{text}"
        );
        assert!(text.contains("nxdomain_spike"), "{text}");
        let blocks = p["blocks"].to_string();
        for want in [
            "10.0.0.9",
            "0.97",
            "nxdomain_spike",
            "zvkrw.info",
            "&lt;DGA&gt;",
        ] {
            assert!(blocks.contains(want), "{want} missing from {blocks}");
        }
        assert_eq!(p["attachments"][0]["color"], "#d40e0d");
        assert_eq!(m.webhook.failed.load(Ordering::Relaxed), 0);
        assert_eq!(m.webhook.breaker(), BreakerState::Closed);
    }

    #[test]
    fn server_down_opens_the_breaker_without_blocking_and_counts_failures() {
        // A port nobody listens on: connections are refused.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let m = Arc::new(Metrics::default());
        let mut c = cfg(format!("http://127.0.0.1:{port}/hook"));
        c.breaker_cooldown_ms = 3_600_000; // stays open for the test
        let mut wh = Webhook::start(&c, m.clone()).unwrap();
        let (w, v) = window_and_verdict(Label::Unusual);
        let t0 = Instant::now();
        for _ in 0..50 {
            wh.offer_window(&w, &v);
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "offering never waits for the network"
        );
        eventually("breaker open", || m.webhook.breaker() == BreakerState::Open);
        eventually("queue drained", || {
            m.webhook.queue_depth.load(Ordering::Relaxed) == 0
        });
        wh.close();
        let wm = &m.webhook;
        let (sent, failed, retries) = (
            wm.sent.load(Ordering::Relaxed),
            wm.failed.load(Ordering::Relaxed),
            wm.retries.load(Ordering::Relaxed),
        );
        assert_eq!(sent, 0);
        // The first alert used all 3 attempts (3 consecutive failures open it).
        assert_eq!(failed, 1);
        assert_eq!(retries, 2);
        assert_eq!(wm.breaker_opened.load(Ordering::Relaxed), 1);
        let accounted = failed
            + wm.dropped_count(WebhookDrop::BreakerOpen)
            + wm.dropped_count(WebhookDrop::QueueFull)
            + wm.dropped_count(WebhookDrop::Shutdown);
        assert_eq!(accounted, 50, "every alert is accounted for");
        assert!(wm.dropped_count(WebhookDrop::BreakerOpen) >= 1);
    }

    #[test]
    fn slow_server_overflows_the_bounded_queue_without_blocking() {
        let srv = TestServer::start();
        srv.behaviour.hold.store(true, Ordering::SeqCst);
        let m = Arc::new(Metrics::default());
        let mut wh = Webhook::start(&cfg(srv.url()), m.clone()).unwrap();
        let (w, v) = window_and_verdict(Label::Unusual);
        assert!(wh.offer_window(&w, &v));
        // The worker is now stuck in the first request, which the server holds.
        srv.arrived
            .recv_timeout(Duration::from_secs(20))
            .expect("first request arrived");
        let queued = (0..20).filter(|_| wh.offer_window(&w, &v)).count();
        // If offering blocked, we would never get here while the server holds.
        assert_eq!(queued, 4, "queue capacity");
        assert_eq!(m.webhook.dropped_count(WebhookDrop::QueueFull), 16);
        assert_eq!(m.webhook.queue_depth.load(Ordering::Relaxed), 4);
        srv.behaviour.release.store(true, Ordering::SeqCst);
        eventually("all queued delivered", || {
            m.webhook.sent.load(Ordering::Relaxed) == 5
        });
        wh.close();
        assert_eq!(srv.count(), 5);
        assert_eq!(m.webhook.queue_depth.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn breaker_half_opens_after_cooldown_and_closes_on_success() {
        let srv = TestServer::start();
        srv.behaviour.status.store(503, Ordering::SeqCst);
        let m = Arc::new(Metrics::default());
        let mut wh = Webhook::start(&cfg(srv.url()), m.clone()).unwrap();
        let (w, v) = window_and_verdict(Label::Unusual);
        assert!(wh.offer_window(&w, &v));
        eventually("breaker open", || m.webhook.breaker() == BreakerState::Open);
        assert_eq!(srv.count(), 3, "3 attempts, then open");
        assert_eq!(m.webhook.failed.load(Ordering::Relaxed), 1);
        // Endpoint recovers; after the cooldown, a trial succeeds and closes it.
        srv.behaviour.status.store(200, Ordering::SeqCst);
        eventually("breaker closes and deliveries resume", || {
            wh.offer_window(&w, &v);
            m.webhook.breaker() == BreakerState::Closed
                && m.webhook.sent.load(Ordering::Relaxed) >= 1
        });
        let sent = m.webhook.sent.load(Ordering::Relaxed);
        assert!(wh.offer_window(&w, &v));
        eventually("next alert delivered", || {
            m.webhook.sent.load(Ordering::Relaxed) > sent
        });
        wh.close();
        assert_eq!(m.webhook.breaker(), BreakerState::Closed);
        assert_eq!(m.webhook.breaker_opened.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_failing_trial_reopens_the_breaker() {
        let srv = TestServer::start();
        srv.behaviour.status.store(500, Ordering::SeqCst);
        let m = Arc::new(Metrics::default());
        let mut wh = Webhook::start(&cfg(srv.url()), m.clone()).unwrap();
        let (w, v) = window_and_verdict(Label::Unusual);
        wh.offer_window(&w, &v);
        eventually("open", || {
            m.webhook.breaker_opened.load(Ordering::Relaxed) == 1
        });
        // Keep offering until a half-open trial has failed and reopened it.
        eventually("reopened after a failed trial", || {
            wh.offer_window(&w, &v);
            m.webhook.breaker_opened.load(Ordering::Relaxed) >= 2
        });
        wh.close();
        assert_eq!(m.webhook.sent.load(Ordering::Relaxed), 0);
        // A trial is a single attempt: 3 for the first alert, 1 per trial.
        let trials = m.webhook.breaker_opened.load(Ordering::Relaxed) - 1;
        assert_eq!(srv.count() as u64, 3 + trials);
    }

    #[test]
    fn https_goes_through_rustls_and_a_plain_http_server_fails_cleanly() {
        // The TLS stack initialises on the worker (no panic, e.g. for a missing
        // crypto provider) and a handshake failure is an ordinary failure.
        let srv = TestServer::start();
        let m = Arc::new(Metrics::default());
        let mut c = cfg(format!("https://{}/hook", srv.addr));
        c.max_attempts = 1;
        let mut wh = Webhook::start(&c, m.clone()).unwrap();
        let (w, v) = window_and_verdict(Label::Unusual);
        assert!(wh.offer_window(&w, &v));
        eventually("the failure", || {
            m.webhook.failed.load(Ordering::Relaxed) == 1
        });
        wh.close();
        assert_eq!(m.webhook.sent.load(Ordering::Relaxed), 0);
        assert_eq!(srv.count(), 0, "no plain-text request was made");
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
