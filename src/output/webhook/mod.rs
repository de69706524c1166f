//! Webhook alerts: a Slack-compatible JSON message for every incident that
//! opens or escalates at or above a chosen verdict ([`Webhook::offer_incident`];
//! one per incident, not one per window), delivered by a worker thread of its
//! own.
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
//!
//! ## Files
//!
//! `config.rs` the settings ([`WebhookConfig`], [`MinLabel`]), `payload.rs`
//! the message ([`slack_payload`]), `worker.rs` delivery, retries and the
//! breaker; this file the [`Webhook`] handle and its queue.

mod config;
mod payload;
mod worker;

pub use config::{
    MinLabel, WebhookConfig, MAX_ATTEMPTS, MAX_BREAKER_FAILURES, MAX_QUEUE, MAX_SHUTDOWN_GRACE_MS,
    MAX_WAIT_MS,
};
pub use payload::{incident_payload, slack_payload};

use super::breaker::Shutdown;
use super::metrics::{BreakerState, Metrics, WebhookDrop};
use super::OutputError;
use crate::aggregate::HostWindow;
use crate::detect::Verdict;
use crate::incident::IncidentEvent;
use rand::SeedableRng;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use worker::Worker;

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

    /// Queue an alert for an incident that opened or escalated, if its peak
    /// label is at or above the threshold (an incident that opened below it
    /// alerts when it escalates to it). Updates and closes are not sent.
    /// Returns whether it was queued. Never blocks.
    pub fn offer_incident(&self, e: &IncidentEvent) -> bool {
        if !e.kind.alerts() || !self.min_label.admits(e.incident.peak_label) {
            return false;
        }
        let body = serde_json::to_vec(&incident_payload(e)).unwrap_or_default();
        self.offer(body)
    }

    /// Queue the triage update of an incident this webhook alerted (only
    /// triage with a verdict is sent). Returns whether it was queued.
    /// Never blocks.
    pub fn offer_triage(&self, r: &crate::triage::TriageRecord) -> bool {
        match payload::triage_payload(r) {
            Some(v) => self.offer(serde_json::to_vec(&v).unwrap_or_default()),
            None => false,
        }
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
        self.shutdown.begin(self.grace);
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
    use crate::model::Label;
    use serde_json::Value;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::sync::atomic::{AtomicBool, AtomicU16};
    use std::sync::mpsc::Receiver;
    use std::sync::Mutex;

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
            model_id: "0123456789abcdef".into(),
            evidence: false,
        };
        (w, v)
    }

    pub(crate) fn cfg(url: String) -> WebhookConfig {
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
}
