//! Prometheus metrics: a registry of atomics ([`Metrics`]) bumped from the
//! pipeline and the outputs, rendered in the text exposition format on request
//! by a small HTTP server thread ([`MetricsServer`]) that also answers
//! `/healthz`.
//!
//! Every counter is an `AtomicU64` updated with `Relaxed` ordering: bumping one
//! from the hot path costs an uncontended atomic add and never blocks. The
//! counters the pipeline already keeps in [`Stats`] (packets, DNS messages,
//! skips by reason) are copied in with [`Metrics::publish_stats`] whenever the
//! pipeline reports progress and at the end of a run; lookups, windows and
//! verdicts are counted live as they reach the outputs.
//!
//! The server runs on its own thread (`tiny_http`, which parses requests on its
//! own worker threads, so a slow client cannot stall anything); rendering takes
//! a snapshot of the atomics and allocates only per request.

use super::OutputError;
use crate::event::LookupOutcome;
use crate::model::Label;
use crate::stats::{Bound, SkipReason, Stats};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Where packets were dropped before decoding (live capture reports these).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropSite {
    /// Dropped by the kernel (socket buffer full).
    Kernel,
    /// Dropped by the interface / driver.
    Interface,
    /// Dropped by the sensor's own queue between capture and decoding.
    Queue,
}

impl DropSite {
    /// All sites, in exposition order.
    pub const ALL: [DropSite; 3] = [DropSite::Kernel, DropSite::Interface, DropSite::Queue];

    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DropSite::Kernel => "kernel",
            DropSite::Interface => "interface",
            DropSite::Queue => "queue",
        }
    }
}

/// Why a webhook alert was dropped without a delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookDrop {
    /// The bounded queue was full when the alert was offered.
    QueueFull,
    /// The circuit breaker was open.
    BreakerOpen,
    /// Still queued when the shutdown grace period ran out.
    Shutdown,
}

impl WebhookDrop {
    /// All reasons, in exposition order.
    pub const ALL: [WebhookDrop; 3] = [
        WebhookDrop::QueueFull,
        WebhookDrop::BreakerOpen,
        WebhookDrop::Shutdown,
    ];

    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookDrop::QueueFull => "queue_full",
            WebhookDrop::BreakerOpen => "breaker_open",
            WebhookDrop::Shutdown => "shutdown",
        }
    }
}

/// Circuit-breaker state of the webhook (the gauge value is the discriminant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum BreakerState {
    /// Deliveries go through.
    Closed = 0,
    /// Too many consecutive failures: alerts are dropped until the cooldown ends.
    Open = 1,
    /// Cooldown over: the next alert is a single trial delivery.
    HalfOpen = 2,
}

impl BreakerState {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            1 => BreakerState::Open,
            2 => BreakerState::HalfOpen,
            _ => BreakerState::Closed,
        }
    }
}

const OUTCOMES: [LookupOutcome; 5] = [
    LookupOutcome::Answered,
    LookupOutcome::Unanswered,
    LookupOutcome::Unsolicited,
    LookupOutcome::Event,
    LookupOutcome::Multicast,
];

fn outcome_index(o: LookupOutcome) -> usize {
    match o {
        LookupOutcome::Answered => 0,
        LookupOutcome::Unanswered => 1,
        LookupOutcome::Unsolicited => 2,
        LookupOutcome::Event => 3,
        LookupOutcome::Multicast => 4,
    }
}

const LABELS: [Label; 3] = [Label::Normal, Label::Unusual, Label::LikelyCompromise];

fn label_index(l: Label) -> usize {
    match l {
        Label::Normal => 0,
        Label::Unusual => 1,
        Label::LikelyCompromise => 2,
    }
}

/// Metric label value of a verdict label.
pub fn label_value(l: Label) -> &'static str {
    match l {
        Label::Normal => "normal",
        Label::Unusual => "unusual",
        Label::LikelyCompromise => "likely_compromise",
    }
}

/// Counters copied from [`Stats`].
#[derive(Debug, Default)]
struct StatCounters {
    files: AtomicU64,
    packets: AtomicU64,
    bytes: AtomicU64,
    lines: AtomicU64,
    dns_queries: AtomicU64,
    dns_responses: AtomicU64,
    mdns: AtomicU64,
    llmnr: AtomicU64,
    tcp: AtomicU64,
    reassembled: AtomicU64,
    duplicate_queries: AtomicU64,
    skips: [AtomicU64; SkipReason::ALL.len()],
    evictions: [AtomicU64; Bound::ALL.len()],
}

/// Webhook counters (bumped by the webhook's caller side and worker).
#[derive(Debug, Default)]
pub struct WebhookMetrics {
    configured: AtomicBool,
    /// Alerts accepted into the queue.
    pub enqueued: AtomicU64,
    /// Alerts delivered (2xx).
    pub sent: AtomicU64,
    /// Alerts given up after their delivery attempts failed.
    pub failed: AtomicU64,
    /// Delivery attempts after the first, over all alerts.
    pub retries: AtomicU64,
    dropped: [AtomicU64; 3],
    /// Times the breaker went from closed or half-open to open.
    pub breaker_opened: AtomicU64,
    breaker: AtomicU8,
    /// Alerts waiting in the queue.
    pub queue_depth: AtomicU64,
    /// Queue capacity.
    pub queue_capacity: AtomicU64,
}

impl WebhookMetrics {
    /// Count one dropped alert.
    pub fn dropped(&self, why: WebhookDrop) {
        self.dropped[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Dropped alerts for one reason.
    pub fn dropped_count(&self, why: WebhookDrop) -> u64 {
        self.dropped[why as usize].load(Ordering::Relaxed)
    }

    /// Record the breaker state.
    pub fn set_breaker(&self, s: BreakerState) {
        self.breaker.store(s as u8, Ordering::Relaxed);
    }

    /// Current breaker state.
    pub fn breaker(&self) -> BreakerState {
        BreakerState::from_u8(self.breaker.load(Ordering::Relaxed))
    }

    /// Mark the webhook as configured (its metrics are then rendered).
    pub fn set_configured(&self, capacity: usize) {
        self.configured.store(true, Ordering::Relaxed);
        self.queue_capacity
            .store(capacity as u64, Ordering::Relaxed);
    }
}

/// NDJSON output counters.
#[derive(Debug, Default)]
pub struct NdjsonMetrics {
    configured: AtomicBool,
    /// Window lines written.
    pub window_lines: AtomicU64,
    /// Lookup lines written.
    pub lookup_lines: AtomicU64,
    /// Bytes written (all files).
    pub bytes: AtomicU64,
    /// File rotations.
    pub rotations: AtomicU64,
    /// Write errors (the output stops at the first).
    pub errors: AtomicU64,
}

impl NdjsonMetrics {
    /// Mark the NDJSON output as configured (its metrics are then rendered).
    pub fn set_configured(&self) {
        self.configured.store(true, Ordering::Relaxed);
    }
}

/// The metrics registry: shared as `Arc<Metrics>`, bumped from anywhere.
#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    start_unix: f64,
    stats: StatCounters,
    dropped: [AtomicU64; 3],
    lookups: [AtomicU64; 5],
    windows: AtomicU64,
    verdicts: [AtomicU64; 3],
    last_window_end: AtomicI64,
    input_finished: AtomicBool,
    /// Webhook counters.
    pub webhook: WebhookMetrics,
    /// NDJSON counters.
    pub ndjson: NdjsonMetrics,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            started: Instant::now(),
            start_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
            stats: StatCounters::default(),
            dropped: Default::default(),
            lookups: Default::default(),
            windows: AtomicU64::new(0),
            verdicts: Default::default(),
            last_window_end: AtomicI64::new(0),
            input_finished: AtomicBool::new(false),
            webhook: WebhookMetrics::default(),
            ndjson: NdjsonMetrics::default(),
        }
    }
}

fn raise(a: &AtomicU64, v: u64) {
    a.fetch_max(v, Ordering::Relaxed);
}

impl Metrics {
    /// Copy the pipeline's cumulative counters in. Counters only rise: a
    /// snapshot older than one already published changes nothing.
    pub fn publish_stats(&self, s: &Stats) {
        let c = &self.stats;
        raise(&c.files, s.files);
        raise(&c.packets, s.packets);
        raise(&c.bytes, s.bytes);
        raise(&c.lines, s.lines);
        raise(&c.dns_queries, s.dns_queries);
        raise(&c.dns_responses, s.dns_responses);
        raise(&c.mdns, s.mdns_messages);
        raise(&c.llmnr, s.llmnr_messages);
        raise(&c.tcp, s.tcp_messages);
        raise(&c.reassembled, s.reassembled_datagrams);
        raise(&c.duplicate_queries, s.duplicate_queries);
        for (i, r) in SkipReason::ALL.iter().enumerate() {
            raise(&c.skips[i], s.skipped(*r));
        }
        for (i, b) in Bound::ALL.iter().enumerate() {
            raise(&c.evictions[i], s.evictions(*b));
        }
    }

    /// Set the cumulative count of packets dropped at `site` (as reported by
    /// the capture layer, which keeps these totals itself).
    pub fn set_dropped(&self, site: DropSite, total: u64) {
        raise(&self.dropped[site as usize], total);
    }

    /// Count one lookup (hot path: one relaxed atomic add).
    #[inline]
    pub fn lookup(&self, o: LookupOutcome) {
        self.lookups[outcome_index(o)].fetch_add(1, Ordering::Relaxed);
    }

    /// Count one closed window ending at `end_secs` (unix seconds, packet time).
    pub fn window(&self, end_secs: i64) {
        self.windows.fetch_add(1, Ordering::Relaxed);
        self.last_window_end.fetch_max(end_secs, Ordering::Relaxed);
    }

    /// Count one verdict.
    pub fn verdict(&self, l: Label) {
        self.verdicts[label_index(l)].fetch_add(1, Ordering::Relaxed);
    }

    /// Mark the input as read to the end (replay) or the run as stopped.
    pub fn set_input_finished(&self) {
        self.input_finished.store(true, Ordering::Relaxed);
    }

    /// Whether the input was read to the end.
    pub fn input_finished(&self) -> bool {
        self.input_finished.load(Ordering::Relaxed)
    }

    /// Lookups counted so far (all outcomes).
    pub fn lookups_total(&self) -> u64 {
        self.lookups.iter().map(|a| a.load(Ordering::Relaxed)).sum()
    }

    /// Windows counted so far.
    pub fn windows_total(&self) -> u64 {
        self.windows.load(Ordering::Relaxed)
    }

    /// Verdicts counted so far with this label.
    pub fn verdicts_total(&self, l: Label) -> u64 {
        self.verdicts[label_index(l)].load(Ordering::Relaxed)
    }

    /// Seconds since the registry was created.
    pub fn uptime_seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// The small JSON document served on `/healthz`.
    pub fn health_json(&self) -> String {
        let mut v = serde_json::json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_seconds": (self.uptime_seconds() * 1000.0).round() / 1000.0,
            "input_finished": self.input_finished(),
            "lookups": self.lookups_total(),
            "windows": self.windows_total(),
        });
        if self.webhook.configured.load(Ordering::Relaxed) {
            v["webhook_breaker"] = self.webhook.breaker().as_str().into();
        }
        v.to_string()
    }

    /// Render every metric in the Prometheus text exposition format (0.0.4).
    pub fn render(&self) -> String {
        let mut r = Render(String::with_capacity(8192));
        let ld = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let c = &self.stats;
        r.single(
            "sentineldns_build_info",
            "gauge",
            "Build information (always 1).",
            &format!("{{version=\"{}\"}}", env!("CARGO_PKG_VERSION")),
            1,
        );
        r.head(
            "sentineldns_start_time_seconds",
            "gauge",
            "Unix time the sensor started.",
        );
        r.float("sentineldns_start_time_seconds", "", self.start_unix);
        r.head(
            "sentineldns_uptime_seconds",
            "gauge",
            "Seconds since the sensor started.",
        );
        r.float("sentineldns_uptime_seconds", "", self.uptime_seconds());
        r.single(
            "sentineldns_input_finished",
            "gauge",
            "1 once the input was read to the end (replay) or the run stopped.",
            "",
            u64::from(self.input_finished()),
        );
        r.single(
            "sentineldns_input_files_total",
            "counter",
            "Input files opened.",
            "",
            ld(&c.files),
        );
        r.single(
            "sentineldns_packets_captured_total",
            "counter",
            "Capture records read (replayed or captured).",
            "",
            ld(&c.packets),
        );
        r.single(
            "sentineldns_captured_bytes_total",
            "counter",
            "Captured bytes read.",
            "",
            ld(&c.bytes),
        );
        r.single(
            "sentineldns_jsonl_lines_total",
            "counter",
            "JSONL event lines read (including blank and bad ones).",
            "",
            ld(&c.lines),
        );
        r.head(
            "sentineldns_packets_dropped_total",
            "counter",
            "Packets dropped before decoding, by where (kernel, interface, queue).",
        );
        for s in DropSite::ALL {
            r.sample(
                "sentineldns_packets_dropped_total",
                &format!("{{where=\"{}\"}}", s.as_str()),
                ld(&self.dropped[s as usize]),
            );
        }
        r.head(
            "sentineldns_dns_messages_decoded_total",
            "counter",
            "DNS messages decoded, by type (query, response).",
        );
        r.sample(
            "sentineldns_dns_messages_decoded_total",
            "{type=\"query\"}",
            ld(&c.dns_queries),
        );
        r.sample(
            "sentineldns_dns_messages_decoded_total",
            "{type=\"response\"}",
            ld(&c.dns_responses),
        );
        r.head(
            "sentineldns_dns_multicast_messages_total",
            "counter",
            "mDNS and LLMNR messages decoded, by service.",
        );
        r.sample(
            "sentineldns_dns_multicast_messages_total",
            "{service=\"mdns\"}",
            ld(&c.mdns),
        );
        r.sample(
            "sentineldns_dns_multicast_messages_total",
            "{service=\"llmnr\"}",
            ld(&c.llmnr),
        );
        r.single(
            "sentineldns_dns_tcp_messages_total",
            "counter",
            "DNS messages reassembled from TCP streams.",
            "",
            ld(&c.tcp),
        );
        r.single(
            "sentineldns_reassembled_datagrams_total",
            "counter",
            "IP datagrams completed by fragment reassembly.",
            "",
            ld(&c.reassembled),
        );
        r.single(
            "sentineldns_duplicate_queries_total",
            "counter",
            "Retransmitted queries (same key while pending).",
            "",
            ld(&c.duplicate_queries),
        );
        r.head(
            "sentineldns_malformed_total",
            "counter",
            "Damaged input units (packets, messages, lines), by reason.",
        );
        for (i, s) in SkipReason::ALL.iter().enumerate() {
            if s.is_malformed() {
                r.sample(
                    "sentineldns_malformed_total",
                    &format!("{{reason=\"{}\"}}", s.as_str()),
                    ld(&c.skips[i]),
                );
            }
        }
        r.head(
            "sentineldns_skipped_total",
            "counter",
            "Input units skipped without being damaged (not DNS, held fragments, late lookups), by reason.",
        );
        for (i, s) in SkipReason::ALL.iter().enumerate() {
            if !s.is_malformed() {
                r.sample(
                    "sentineldns_skipped_total",
                    &format!("{{reason=\"{}\"}}", s.as_str()),
                    ld(&c.skips[i]),
                );
            }
        }
        r.head(
            "sentineldns_bound_evictions_total",
            "counter",
            "Entries evicted or refused because a memory bound was reached, by table.",
        );
        for (i, b) in Bound::ALL.iter().enumerate() {
            r.sample(
                "sentineldns_bound_evictions_total",
                &format!("{{table=\"{}\"}}", b.as_str()),
                ld(&c.evictions[i]),
            );
        }
        r.head(
            "sentineldns_lookups_total",
            "counter",
            "Lookups that reached the windows, by outcome.",
        );
        for o in OUTCOMES {
            r.sample(
                "sentineldns_lookups_total",
                &format!("{{outcome=\"{}\"}}", o.as_str()),
                ld(&self.lookups[outcome_index(o)]),
            );
        }
        r.single(
            "sentineldns_windows_total",
            "counter",
            "Per-host windows closed.",
            "",
            ld(&self.windows),
        );
        r.single(
            "sentineldns_last_window_end_seconds",
            "gauge",
            "End (packet time, unix seconds) of the newest closed window.",
            "",
            self.last_window_end.load(Ordering::Relaxed).max(0) as u64,
        );
        r.head(
            "sentineldns_verdicts_total",
            "counter",
            "Scored windows, by verdict label.",
        );
        for l in LABELS {
            r.sample(
                "sentineldns_verdicts_total",
                &format!("{{label=\"{}\"}}", label_value(l)),
                ld(&self.verdicts[label_index(l)]),
            );
        }
        let n = &self.ndjson;
        if n.configured.load(Ordering::Relaxed) {
            r.head(
                "sentineldns_ndjson_lines_total",
                "counter",
                "NDJSON lines written, by kind (window, lookup).",
            );
            r.sample(
                "sentineldns_ndjson_lines_total",
                "{kind=\"window\"}",
                ld(&n.window_lines),
            );
            r.sample(
                "sentineldns_ndjson_lines_total",
                "{kind=\"lookup\"}",
                ld(&n.lookup_lines),
            );
            r.single(
                "sentineldns_ndjson_bytes_total",
                "counter",
                "NDJSON bytes written.",
                "",
                ld(&n.bytes),
            );
            r.single(
                "sentineldns_ndjson_rotations_total",
                "counter",
                "NDJSON file rotations.",
                "",
                ld(&n.rotations),
            );
            r.single(
                "sentineldns_ndjson_write_errors_total",
                "counter",
                "NDJSON write errors (the output stops at the first).",
                "",
                ld(&n.errors),
            );
        }
        let w = &self.webhook;
        if w.configured.load(Ordering::Relaxed) {
            r.single(
                "sentineldns_webhook_enqueued_total",
                "counter",
                "Alerts accepted into the webhook queue.",
                "",
                ld(&w.enqueued),
            );
            r.single(
                "sentineldns_webhook_sent_total",
                "counter",
                "Alerts delivered to the webhook (HTTP 2xx).",
                "",
                ld(&w.sent),
            );
            r.single(
                "sentineldns_webhook_failed_total",
                "counter",
                "Alerts given up after every delivery attempt failed.",
                "",
                ld(&w.failed),
            );
            r.single(
                "sentineldns_webhook_retries_total",
                "counter",
                "Webhook delivery attempts after the first.",
                "",
                ld(&w.retries),
            );
            r.head(
                "sentineldns_webhook_dropped_total",
                "counter",
                "Alerts dropped without delivery, by reason (queue_full, breaker_open, shutdown).",
            );
            for d in WebhookDrop::ALL {
                r.sample(
                    "sentineldns_webhook_dropped_total",
                    &format!("{{reason=\"{}\"}}", d.as_str()),
                    w.dropped_count(d),
                );
            }
            r.single(
                "sentineldns_webhook_breaker_state",
                "gauge",
                "Webhook circuit breaker: 0 closed, 1 open, 2 half-open.",
                "",
                w.breaker() as u64,
            );
            r.single(
                "sentineldns_webhook_breaker_opened_total",
                "counter",
                "Times the webhook circuit breaker opened.",
                "",
                ld(&w.breaker_opened),
            );
            r.single(
                "sentineldns_webhook_queue_depth",
                "gauge",
                "Alerts waiting in the webhook queue.",
                "",
                ld(&w.queue_depth),
            );
            r.single(
                "sentineldns_webhook_queue_capacity",
                "gauge",
                "Capacity of the webhook queue.",
                "",
                ld(&w.queue_capacity),
            );
        }
        r.0
    }
}

/// Builds the exposition text.
struct Render(String);

impl Render {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &str, v: u64) {
        let _ = writeln!(self.0, "{name}{labels} {v}");
    }

    fn float(&mut self, name: &str, labels: &str, v: f64) {
        let _ = writeln!(self.0, "{name}{labels} {v:.3}");
    }

    fn single(&mut self, name: &str, kind: &str, help: &str, labels: &str, v: u64) {
        self.head(name, kind, help);
        self.sample(name, labels, v);
    }
}

/// The `/metrics` + `/healthz` HTTP server thread. Stops when dropped.
pub struct MetricsServer {
    server: Arc<tiny_http::Server>,
    addr: SocketAddr,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer")
            .field("addr", &self.addr)
            .finish()
    }
}

fn header(name: &str, value: &str) -> Option<tiny_http::Header> {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn respond(req: tiny_http::Request, metrics: &Metrics) {
    use tiny_http::{Method, Response};
    let path = req.url().split('?').next().unwrap_or("");
    let head = *req.method() == Method::Head;
    let (status, ctype, body) = if *req.method() != Method::Get && !head {
        (
            405,
            "text/plain; charset=utf-8",
            "method not allowed\n".into(),
        )
    } else {
        match path {
            "/metrics" => (
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                metrics.render(),
            ),
            "/healthz" => (200, "application/json", metrics.health_json()),
            "/" => (
                200,
                "text/plain; charset=utf-8",
                "sentineldns: /metrics (Prometheus), /healthz\n".into(),
            ),
            _ => (404, "text/plain; charset=utf-8", "not found\n".into()),
        }
    };
    let mut resp = Response::from_string(body).with_status_code(status);
    if let Some(h) = header("Content-Type", ctype) {
        resp = resp.with_header(h);
    }
    if status == 405 {
        if let Some(h) = header("Allow", "GET, HEAD") {
            resp = resp.with_header(h);
        }
    }
    // A client that went away is not our problem.
    let _ = req.respond(resp);
}

impl MetricsServer {
    /// Bind `addr` (port 0 picks a free port; see [`local_addr`](Self::local_addr))
    /// and serve `metrics` on a new thread.
    pub fn start(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<Self, OutputError> {
        let server = tiny_http::Server::http(addr).map_err(|e| OutputError::Metrics {
            addr,
            msg: e.to_string(),
        })?;
        let bound = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| OutputError::Metrics {
                addr,
                msg: "bound to a non-IP address".into(),
            })?;
        let server = Arc::new(server);
        let s = server.clone();
        let thread = std::thread::Builder::new()
            .name("metrics-http".into())
            .spawn(move || {
                for req in s.incoming_requests() {
                    respond(req, &metrics);
                }
            })
            .map_err(|e| OutputError::Thread(e.to_string()))?;
        Ok(MetricsServer {
            server,
            addr: bound,
            thread: Some(thread),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    /// GET `path`, returning (status, body).
    pub(crate) fn get(addr: SocketAddr, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap();
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    }

    /// Parse exposition text into `name{labels}` → value, checking every
    /// sample has HELP and TYPE lines before it.
    fn parse(text: &str) -> HashMap<String, f64> {
        let mut out = HashMap::new();
        let mut typed = std::collections::HashSet::new();
        let mut helped = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                helped.insert(rest.split(' ').next().unwrap().to_string());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut it = rest.split(' ');
                let name = it.next().unwrap().to_string();
                let kind = it.next().unwrap();
                assert!(kind == "counter" || kind == "gauge", "{line}");
                if kind == "counter" {
                    assert!(
                        name.ends_with("_total"),
                        "counter {name} must end in _total"
                    );
                }
                typed.insert(name);
            } else {
                let (key, v) = line.rsplit_once(' ').unwrap();
                let name = key.split('{').next().unwrap();
                assert!(name.starts_with("sentineldns_"), "{line}");
                assert!(typed.contains(name) && helped.contains(name), "{line}");
                out.insert(key.to_string(), v.parse::<f64>().unwrap());
            }
        }
        out
    }

    #[test]
    fn render_follows_conventions_and_values_move() {
        let m = Metrics::default();
        let before = parse(&m.render());
        assert_eq!(before["sentineldns_windows_total"], 0.0);
        assert!(!before.contains_key("sentineldns_webhook_sent_total"));
        let mut s = Stats::default();
        s.packets = 10;
        s.dns_queries = 4;
        s.skip_n(SkipReason::DnsTruncated, 2);
        s.skip_n(SkipReason::NotDnsPort, 3);
        s.evicted(crate::stats::Bound::HostWindows, 7);
        m.publish_stats(&s);
        // An older snapshot does not move counters back.
        m.publish_stats(&Stats::default());
        m.lookup(LookupOutcome::Answered);
        m.lookup(LookupOutcome::Event);
        m.window(1_700_000_300);
        m.verdict(Label::Unusual);
        m.set_dropped(DropSite::Kernel, 7);
        m.webhook.set_configured(16);
        m.webhook.set_breaker(BreakerState::Open);
        let after = parse(&m.render());
        assert_eq!(after["sentineldns_packets_captured_total"], 10.0);
        assert_eq!(
            after["sentineldns_dns_messages_decoded_total{type=\"query\"}"],
            4.0
        );
        assert_eq!(
            after["sentineldns_malformed_total{reason=\"dns_truncated\"}"],
            2.0
        );
        assert_eq!(
            after["sentineldns_skipped_total{reason=\"not_dns_port\"}"],
            3.0
        );
        assert!(!after.contains_key("sentineldns_malformed_total{reason=\"not_dns_port\"}"));
        assert_eq!(
            after["sentineldns_bound_evictions_total{table=\"host_windows\"}"],
            7.0
        );
        assert_eq!(
            after["sentineldns_bound_evictions_total{table=\"tcp_flows\"}"],
            0.0
        );
        assert_eq!(
            after["sentineldns_lookups_total{outcome=\"answered\"}"],
            1.0
        );
        assert_eq!(after["sentineldns_lookups_total{outcome=\"event\"}"], 1.0);
        assert_eq!(after["sentineldns_windows_total"], 1.0);
        assert_eq!(
            after["sentineldns_last_window_end_seconds"],
            1_700_000_300.0
        );
        assert_eq!(after["sentineldns_verdicts_total{label=\"unusual\"}"], 1.0);
        assert_eq!(
            after["sentineldns_packets_dropped_total{where=\"kernel\"}"],
            7.0
        );
        assert_eq!(after["sentineldns_webhook_breaker_state"], 1.0);
        assert_eq!(after["sentineldns_webhook_queue_capacity"], 16.0);
    }

    #[test]
    fn server_serves_metrics_and_health_on_an_ephemeral_port() {
        let m = Arc::new(Metrics::default());
        let srv = MetricsServer::start("127.0.0.1:0".parse().unwrap(), m.clone()).unwrap();
        let addr = srv.local_addr();
        assert_ne!(addr.port(), 0, "the bound port is reported");
        let (st, body) = get(addr, "/metrics");
        assert_eq!(st, 200);
        assert_eq!(parse(&body)["sentineldns_windows_total"], 0.0);
        m.window(1_700_000_000);
        m.window(1_700_000_300);
        let (_, body) = get(addr, "/metrics");
        assert_eq!(parse(&body)["sentineldns_windows_total"], 2.0);
        let (st, body) = get(addr, "/healthz");
        assert_eq!(st, 200);
        let h: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(h["status"], "ok");
        assert_eq!(h["windows"], 2);
        assert_eq!(get(addr, "/nope").0, 404);
        // Dropping the server joins its thread (a hang here would fail the test run).
        drop(srv);
    }
}
