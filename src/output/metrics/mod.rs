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
//!
//! The registry lives here; `expose.rs` renders it ([`Metrics::render`],
//! table-driven: the run counters come from [`crate::stats::COUNTERS`]) and
//! `server.rs` serves it ([`MetricsServer`]).

mod expose;
mod health;
pub mod histogram;
pub mod process;
mod server;

pub use health::TroubleWatch;
pub use histogram::Histogram;
pub use server::MetricsServer;

use crate::event::LookupOutcome;
use crate::incident::EventKind;
use crate::model::Label;
use crate::stats::{Bound, SkipReason, Stats, COUNTERS};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering};
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

/// Counters copied from [`Stats`]: one per entry of [`COUNTERS`], then the
/// skips by reason and the evictions by bound.
#[derive(Debug)]
struct StatCounters {
    counters: [AtomicU64; COUNTERS.len()],
    skips: [AtomicU64; SkipReason::ALL.len()],
    evictions: [AtomicU64; Bound::ALL.len()],
}

impl Default for StatCounters {
    fn default() -> Self {
        StatCounters {
            counters: std::array::from_fn(|_| AtomicU64::new(0)),
            skips: std::array::from_fn(|_| AtomicU64::new(0)),
            evictions: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
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
    /// Duration of each delivery attempt.
    pub request_duration: Histogram,
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

    /// Whether a webhook is configured.
    pub fn is_configured(&self) -> bool {
        self.configured.load(Ordering::Relaxed)
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

/// Why a Kafka record was dropped without being handed to the producer,
/// or given up by it at shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KafkaDrop {
    /// The producer's bounded queue (`[outputs.kafka] queue`) was full.
    QueueFull,
    /// Refused by the client at once (too large, unknown topic).
    Rejected,
    /// Still queued when the shutdown deadline passed.
    Shutdown,
}

impl KafkaDrop {
    /// All reasons, in exposition order.
    pub const ALL: [KafkaDrop; 3] = [
        KafkaDrop::QueueFull,
        KafkaDrop::Rejected,
        KafkaDrop::Shutdown,
    ];

    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            KafkaDrop::QueueFull => "queue_full",
            KafkaDrop::Rejected => "rejected",
            KafkaDrop::Shutdown => "shutdown",
        }
    }
}

/// Kafka output counters (bumped by the windowing thread and the
/// producer's delivery-report thread).
#[derive(Debug, Default)]
pub struct KafkaMetrics {
    configured: AtomicBool,
    /// Records accepted into the producer's queue.
    pub enqueued: AtomicU64,
    /// Records the broker acknowledged.
    pub delivered: AtomicU64,
    /// Records whose delivery failed (after the producer's retries, or
    /// past `message_timeout_ms`).
    pub failed: AtomicU64,
    dropped: [AtomicU64; 3],
    /// Capacity of the queue (messages).
    pub queue_capacity: AtomicU64,
}

impl KafkaMetrics {
    /// Count one dropped record.
    pub fn dropped(&self, why: KafkaDrop) {
        self.dropped[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Dropped records for one reason.
    pub fn dropped_count(&self, why: KafkaDrop) -> u64 {
        self.dropped[why as usize].load(Ordering::Relaxed)
    }

    /// Records in the producer's queue or in flight: accepted, not yet
    /// delivered, failed or given up at shutdown.
    pub fn queue_depth(&self) -> u64 {
        let done = self.delivered.load(Ordering::Relaxed)
            + self.failed.load(Ordering::Relaxed)
            + self.dropped_count(KafkaDrop::Shutdown);
        self.enqueued.load(Ordering::Relaxed).saturating_sub(done)
    }

    /// Whether a Kafka output is configured.
    pub fn is_configured(&self) -> bool {
        self.configured.load(Ordering::Relaxed)
    }

    /// Mark the Kafka output as configured (its metrics are then rendered).
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
    /// Incident lines written (one per incident opened or escalated).
    pub incident_lines: AtomicU64,
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

/// Counters of a line output in another tool's format (Suricata EVE, Zeek
/// `dns.log`).
#[derive(Debug, Default)]
pub struct LineMetrics {
    pub(crate) configured: AtomicBool,
    /// Lines (records) written.
    pub lines: AtomicU64,
    /// Bytes written (all files, headers included).
    pub bytes: AtomicU64,
    /// File rotations.
    pub rotations: AtomicU64,
    /// Write errors (the output stops at the first).
    pub errors: AtomicU64,
}

impl LineMetrics {
    /// Mark the output as configured (its metrics are then rendered).
    pub fn set_configured(&self) {
        self.configured.store(true, Ordering::Relaxed);
    }

    /// Whether the output is on.
    pub fn is_configured(&self) -> bool {
        self.configured.load(Ordering::Relaxed)
    }
}

/// Syslog output counters.
#[derive(Debug, Default)]
pub struct SyslogMetrics {
    pub(crate) configured: AtomicBool,
    /// Messages accepted into the queue.
    pub enqueued: AtomicU64,
    /// Messages written to the socket.
    pub sent: AtomicU64,
    /// Messages lost: the receiver could not be reached or the write failed.
    pub failed: AtomicU64,
    /// Messages dropped because the queue was full.
    pub queue_full: AtomicU64,
    /// Messages still queued when the shutdown grace ran out.
    pub shutdown: AtomicU64,
    /// Connections (re)established (TCP and unix sockets).
    pub connects: AtomicU64,
}

impl SyslogMetrics {
    /// Mark the syslog output as configured.
    pub fn set_configured(&self) {
        self.configured.store(true, Ordering::Relaxed);
    }

    /// Whether the output is on.
    pub fn is_configured(&self) -> bool {
        self.configured.load(Ordering::Relaxed)
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
    incidents: [AtomicU64; 3],
    last_window_end: AtomicI64,
    input_finished: AtomicBool,
    /// Latency of answered lookups ([`Metrics::lookup_latency`]).
    pub lookup_latency: Histogram,
    /// Time to score one window.
    pub scoring: Histogram,
    /// Webhook counters.
    pub webhook: WebhookMetrics,
    /// NDJSON counters.
    pub ndjson: NdjsonMetrics,
    /// Suricata EVE output counters.
    pub eve: LineMetrics,
    /// Zeek `dns.log` output counters.
    pub zeek: LineMetrics,
    /// Syslog output counters.
    pub syslog: SyslogMetrics,
    /// Kafka output counters.
    pub kafka: std::sync::Arc<KafkaMetrics>,
    /// Incident-triage counters ([`crate::triage`]).
    pub triage: std::sync::Arc<crate::triage::TriageCounters>,
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
            incidents: Default::default(),
            last_window_end: AtomicI64::new(0),
            input_finished: AtomicBool::new(false),
            lookup_latency: Histogram::new(histogram::LOOKUP_LATENCY_US),
            scoring: Histogram::new(histogram::SCORING_US),
            webhook: WebhookMetrics::default(),
            ndjson: NdjsonMetrics::default(),
            eve: LineMetrics::default(),
            zeek: LineMetrics::default(),
            syslog: SyslogMetrics::default(),
            kafka: std::sync::Arc::default(),
            triage: std::sync::Arc::default(),
        }
    }
}

/// Incident events counted, in exposition order.
pub(crate) const INCIDENT_EVENTS: [EventKind; 3] =
    [EventKind::Opened, EventKind::Escalated, EventKind::Closed];

fn incident_index(k: EventKind) -> Option<usize> {
    INCIDENT_EVENTS.iter().position(|e| *e == k)
}

fn raise(a: &AtomicU64, v: u64) {
    a.fetch_max(v, Ordering::Relaxed);
}

impl Metrics {
    /// Copy the pipeline's cumulative counters in. Counters only rise: a
    /// snapshot older than one already published changes nothing.
    pub fn publish_stats(&self, s: &Stats) {
        let c = &self.stats;
        for (a, counter) in c.counters.iter().zip(COUNTERS) {
            raise(a, (counter.stat)(s));
        }
        for (i, r) in SkipReason::ALL.iter().enumerate() {
            raise(&c.skips[i], s.skipped(*r));
        }
        for (i, b) in Bound::ALL.iter().enumerate() {
            raise(&c.evictions[i], s.evictions(*b));
        }
    }

    /// Packets dropped before decoding so far, every site together.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().map(|d| d.load(Ordering::Relaxed)).sum()
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

    /// Observe the query-to-response latency of one lookup, if it has one
    /// (hot path: a search over 15 bounds and two relaxed atomic adds).
    #[inline]
    pub fn lookup_latency(&self, latency_us: Option<u32>) {
        if let Some(us) = latency_us {
            self.lookup_latency.observe_us(u64::from(us));
        }
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

    /// Count one incident event (opened, escalated, closed; updates are not
    /// counted).
    pub fn incident(&self, k: EventKind) {
        if let Some(i) = incident_index(k) {
            self.incidents[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Incident events counted so far of this kind (0 for updates).
    pub fn incidents_total(&self, k: EventKind) -> u64 {
        incident_index(k).map_or(0, |i| self.incidents[i].load(Ordering::Relaxed))
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
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;
    use std::io::{Read, Write};
    use std::net::SocketAddr;
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
    pub(crate) fn parse(text: &str) -> HashMap<String, f64> {
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
                assert!(
                    kind == "counter" || kind == "gauge" || kind == "histogram",
                    "{line}"
                );
                if kind == "counter" {
                    assert!(
                        name.ends_with("_total"),
                        "counter {name} must end in _total"
                    );
                }
                typed.insert(name);
            } else {
                let (key, v) = line.rsplit_once(' ').unwrap();
                let sample = key.split('{').next().unwrap();
                // A histogram's samples are named after their family.
                let name = ["_bucket", "_sum", "_count"]
                    .iter()
                    .filter_map(|s| sample.strip_suffix(s))
                    .find(|f| typed.contains(*f))
                    .unwrap_or(sample);
                assert!(
                    name.starts_with("sentineldns_") || name.starts_with("process_"),
                    "{line}"
                );
                assert!(typed.contains(name) && helped.contains(name), "{line}");
                let v = v.parse::<f64>().unwrap();
                assert!(v.is_finite() && v >= 0.0, "{line}");
                assert!(out.insert(key.to_string(), v).is_none(), "twice: {line}");
            }
        }
        check_histograms(&out);
        out
    }

    /// Every histogram in parsed samples: `le` bounds strictly increasing,
    /// cumulative counts never decreasing, the last bucket `+Inf`, `_count`
    /// equal to it and a `_sum`.
    pub(crate) fn check_histograms(samples: &HashMap<String, f64>) {
        let mut families: HashMap<&str, Vec<(f64, f64)>> = HashMap::new();
        for (k, v) in samples {
            let Some((name, rest)) = k.split_once("_bucket{le=\"") else {
                continue;
            };
            let le = rest.trim_end_matches("\"}");
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            families.entry(name).or_default().push((le, *v));
        }
        for (name, mut b) in families {
            b.sort_by(|x, y| x.0.total_cmp(&y.0));
            assert!(b.windows(2).all(|w| w[0].0 < w[1].0), "{name}: bounds");
            assert!(b.windows(2).all(|w| w[0].1 <= w[1].1), "{name}: {b:?}");
            let (le, inf) = b[b.len() - 1];
            assert_eq!(le, f64::INFINITY, "{name} ends with +Inf");
            assert_eq!(samples[&format!("{name}_count")], inf, "{name}_count");
            assert!(samples.contains_key(&format!("{name}_sum")), "{name}_sum");
        }
    }
}
