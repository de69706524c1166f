//! Per-source sliding-window rule engine with micro-batched triage.
//!
//! Each event is `(time, key, endpoint, bytes)`: for flow records the key is the
//! source IP and the endpoint the destination `ip:port`; for HTTP logs the
//! endpoint is the URL path; for DNS ([`DnsDomainRules`]) the key is the client
//! host and the endpoint the registrable domain. Per key the engine keeps the
//! events of the last `window` of event time, `(t − window, t]`, with a count
//! per distinct endpoint and a byte sum, and raises a [`FlaggedContext`] when
//!
//! * more than `max_endpoints` distinct endpoints, or
//! * more than `max_bytes` bytes
//!
//! fall in the window. A key is flagged at most once per `window` (its
//! cooldown), so a scanner yields one context per window, not one per packet.
//!
//! State is bounded: a key idle for `idle_ttl` of event time is evicted
//! (swept every `idle_ttl / 4`), a key holds at most `max_events_per_key`
//! events (the oldest are dropped and counted), and flagged contexts wait in a
//! queue of `queue_capacity` whose overflow is counted. Contexts leave the queue
//! in micro-batches ([`RuleEngine::take_batch`]) when `batch_size` are pending or
//! the oldest has waited `max_wait` of event time, for a [`Triager`]
//! ([`RuleTriager`] is the built-in rule-based one).
//!
//! Everything runs on event time: the same input gives the same contexts. The
//! engine expects events in time order; [`Reorder`] sorts a stream with
//! bounded lateness in bounded memory, and events older than the newest
//! processed one are counted as late and ignored.

use sentineldns_model::time::{TsMicros, MICROS};
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt::{self, Display};
use std::hash::Hash;
use std::net::IpAddr;

/// Errors from configuration validation.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RulesError {
    /// A configuration value is out of range.
    #[error("invalid rule-engine configuration: {0}")]
    Config(&'static str),
}

/// Engine settings. Defaults follow the reference: 60 s window, more than 10
/// endpoints or 10 MB, 300 s idle TTL, 10,000 pending contexts, 10 s batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesConfig {
    /// Sliding window length (event time, µs).
    pub window: TsMicros,
    /// Flag when distinct endpoints in the window exceed this.
    pub max_endpoints: usize,
    /// Flag when bytes in the window exceed this.
    pub max_bytes: u64,
    /// Evict a key after this much event time without events (µs).
    pub idle_ttl: TsMicros,
    /// Pending contexts held before new ones are dropped (and counted).
    pub queue_capacity: usize,
    /// Contexts per hand-off to triage.
    pub batch_size: usize,
    /// Hand off a partial batch once its oldest context waited this long (µs).
    pub max_wait: TsMicros,
    /// Endpoints listed in a context.
    pub sample_endpoints: usize,
    /// Events held per key; older ones are dropped (and counted) beyond this.
    pub max_events_per_key: usize,
}

impl Default for RulesConfig {
    fn default() -> Self {
        Self {
            window: 60 * MICROS,
            max_endpoints: 10,
            max_bytes: 10_000_000,
            idle_ttl: 300 * MICROS,
            queue_capacity: 10_000,
            batch_size: 32,
            max_wait: 10 * MICROS,
            sample_endpoints: 5,
            max_events_per_key: 100_000,
        }
    }
}

impl RulesConfig {
    /// Check ranges.
    pub fn validate(&self) -> Result<(), RulesError> {
        if self.window <= 0 {
            return Err(RulesError::Config("window must be > 0"));
        }
        if self.idle_ttl < self.window {
            return Err(RulesError::Config(
                "idle TTL must be at least the window (state inside the window is live)",
            ));
        }
        if self.queue_capacity == 0 || self.batch_size == 0 {
            return Err(RulesError::Config(
                "queue capacity and batch size must be >= 1",
            ));
        }
        if self.max_wait < 0 {
            return Err(RulesError::Config("max wait must be >= 0"));
        }
        if self.max_events_per_key == 0 {
            return Err(RulesError::Config("max events per key must be >= 1"));
        }
        Ok(())
    }
}

/// What an endpoint is; lets the triager tell a port scan from a host sweep.
pub trait Endpoint: Clone + Eq + Hash + Display {
    /// Coarser group of the endpoint (destination host of a socket, first path
    /// segment of a URL), if it has one.
    fn group(&self) -> Option<String> {
        None
    }
    /// Kind of endpoint, for summaries (`socket`, `path`, `domain`).
    fn kind(&self) -> EndpointKind;
}

/// Kinds of endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointKind {
    /// Destination ip:port.
    Socket,
    /// URL path.
    Path,
    /// Registrable domain.
    Domain,
}

/// Destination `ip:port` of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SocketEndpoint(pub IpAddr, pub u16);

impl Display for SocketEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.1),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.1),
        }
    }
}

impl Endpoint for SocketEndpoint {
    fn group(&self) -> Option<String> {
        Some(self.0.to_string())
    }
    fn kind(&self) -> EndpointKind {
        EndpointKind::Socket
    }
}

/// URL path of an HTTP request (query string excluded by the caller if wanted).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PathEndpoint(pub String);

impl Display for PathEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Endpoint for PathEndpoint {
    fn group(&self) -> Option<String> {
        let seg = self
            .0
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("");
        Some(format!("/{seg}"))
    }
    fn kind(&self) -> EndpointKind {
        EndpointKind::Path
    }
}

/// Registrable domain looked up by a host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DomainEndpoint(pub String);

impl Display for DomainEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Endpoint for DomainEndpoint {
    fn kind(&self) -> EndpointKind {
        EndpointKind::Domain
    }
}

/// Which rule fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Too many distinct endpoints.
    UniqueEndpoints,
    /// Too many bytes.
    Bytes,
}

impl Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::UniqueEndpoints => "unique_endpoints",
            Rule::Bytes => "bytes",
        })
    }
}

/// A key that broke a rule, with its window at the moment it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlaggedContext<K, P> {
    /// Source (IP address, host).
    pub key: K,
    /// Time of the oldest event in the window.
    pub window_start: TsMicros,
    /// Time of the event that fired the rule.
    pub window_end: TsMicros,
    /// Distinct endpoints in the window.
    pub unique_endpoints: usize,
    /// Distinct endpoint groups (e.g. destination hosts) in the window.
    pub unique_groups: usize,
    /// Bytes in the window.
    pub bytes: u64,
    /// Events in the window.
    pub events: usize,
    /// Rules that fired (one or both).
    pub rules: Vec<Rule>,
    /// Most recent distinct endpoints, newest first.
    pub sample_endpoints: Vec<P>,
}

/// Counters of an engine run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RulesStats {
    /// Events processed.
    pub events: u64,
    /// Events older than the newest processed one (ignored).
    pub late: u64,
    /// Keys evicted after their idle TTL.
    pub evicted: u64,
    /// Events dropped from a key holding `max_events_per_key`.
    pub truncated: u64,
    /// Contexts raised.
    pub flagged: u64,
    /// Contexts dropped because the pending queue was full.
    pub queue_overflow: u64,
    /// Batches handed off.
    pub batches: u64,
}

#[derive(Debug)]
struct KeyState<P> {
    events: VecDeque<(TsMicros, P, u64)>,
    counts: HashMap<P, u32>,
    bytes: u64,
    last_seen: TsMicros,
    quiet_until: TsMicros,
}

impl<P: Endpoint> KeyState<P> {
    fn new() -> Self {
        Self {
            events: VecDeque::new(),
            counts: HashMap::new(),
            bytes: 0,
            last_seen: TsMicros::MIN,
            quiet_until: TsMicros::MIN,
        }
    }

    fn pop_front(&mut self) {
        if let Some((_, p, b)) = self.events.pop_front() {
            self.bytes -= b;
            if let Some(c) = self.counts.get_mut(&p) {
                *c -= 1;
                if *c == 0 {
                    self.counts.remove(&p);
                }
            }
        }
    }
}

/// The sliding-window rule engine, generic over the key `K` and endpoint `P`.
#[derive(Debug)]
pub struct RuleEngine<K, P> {
    cfg: RulesConfig,
    keys: HashMap<K, KeyState<P>>,
    queue: VecDeque<FlaggedContext<K, P>>,
    stats: RulesStats,
    now: TsMicros,
    last_sweep: TsMicros,
}

impl<K: Clone + Eq + Hash, P: Endpoint> RuleEngine<K, P> {
    /// An engine with a validated configuration.
    pub fn new(cfg: RulesConfig) -> Result<Self, RulesError> {
        cfg.validate()?;
        Ok(Self {
            cfg,
            keys: HashMap::new(),
            queue: VecDeque::new(),
            stats: RulesStats::default(),
            now: TsMicros::MIN,
            last_sweep: TsMicros::MIN,
        })
    }

    /// Configuration in use.
    pub fn config(&self) -> &RulesConfig {
        &self.cfg
    }

    /// Counters so far.
    pub fn stats(&self) -> RulesStats {
        self.stats
    }

    /// Keys currently holding state.
    pub fn tracked_keys(&self) -> usize {
        self.keys.len()
    }

    /// Contexts waiting for triage.
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Distinct endpoints `key` has in its window as of the last event.
    pub fn unique_endpoints(&self, key: &K) -> usize {
        self.keys.get(key).map_or(0, |s| s.counts.len())
    }

    /// Process one event. Returns whether it raised a context (which may still
    /// have been dropped by a full queue).
    pub fn observe(&mut self, ts: TsMicros, key: K, endpoint: P, bytes: u64) -> bool {
        if ts < self.now {
            self.stats.late += 1;
            return false;
        }
        self.now = ts;
        self.stats.events += 1;
        self.sweep();
        let cfg = &self.cfg;
        let st = self.keys.entry(key.clone()).or_insert_with(KeyState::new);
        st.last_seen = ts;
        let cutoff = ts.saturating_sub(cfg.window);
        while st.events.front().is_some_and(|e| e.0 <= cutoff) {
            st.pop_front();
        }
        *st.counts.entry(endpoint.clone()).or_insert(0) += 1;
        st.bytes = st.bytes.saturating_add(bytes);
        st.events.push_back((ts, endpoint, bytes));
        if st.events.len() > cfg.max_events_per_key {
            st.pop_front();
            self.stats.truncated += 1;
        }
        let mut rules = Vec::new();
        if st.counts.len() > cfg.max_endpoints {
            rules.push(Rule::UniqueEndpoints);
        }
        if st.bytes > cfg.max_bytes {
            rules.push(Rule::Bytes);
        }
        if rules.is_empty() || ts < st.quiet_until {
            return false;
        }
        st.quiet_until = ts.saturating_add(cfg.window);
        let mut sample: Vec<P> = Vec::with_capacity(cfg.sample_endpoints);
        for (_, p, _) in st.events.iter().rev() {
            if sample.len() >= cfg.sample_endpoints {
                break;
            }
            if !sample.contains(p) {
                sample.push(p.clone());
            }
        }
        let groups: std::collections::HashSet<String> =
            st.counts.keys().filter_map(Endpoint::group).collect();
        let ctx = FlaggedContext {
            key,
            window_start: st.events.front().map_or(ts, |e| e.0),
            window_end: ts,
            unique_endpoints: st.counts.len(),
            unique_groups: groups.len(),
            bytes: st.bytes,
            events: st.events.len(),
            rules,
            sample_endpoints: sample,
        };
        self.stats.flagged += 1;
        if self.queue.len() >= self.cfg.queue_capacity {
            self.stats.queue_overflow += 1;
        } else {
            self.queue.push_back(ctx);
        }
        true
    }

    fn sweep(&mut self) {
        let every = (self.cfg.idle_ttl / 4).max(1);
        if self.last_sweep != TsMicros::MIN && self.now - self.last_sweep < every {
            return;
        }
        self.last_sweep = self.now;
        let (now, ttl) = (self.now, self.cfg.idle_ttl);
        let before = self.keys.len();
        self.keys.retain(|_, s| now - s.last_seen < ttl);
        self.stats.evicted += (before - self.keys.len()) as u64;
    }

    /// A micro-batch for triage, if one is due: `batch_size` contexts pending,
    /// or the oldest pending context waited `max_wait` of event time.
    pub fn take_batch(&mut self) -> Option<Vec<FlaggedContext<K, P>>> {
        let due = self.queue.len() >= self.cfg.batch_size
            || self
                .queue
                .front()
                .is_some_and(|c| self.now - c.window_end >= self.cfg.max_wait);
        if !due {
            return None;
        }
        let n = self.queue.len().min(self.cfg.batch_size);
        self.stats.batches += 1;
        Some(self.queue.drain(..n).collect())
    }

    /// End of input: everything still pending, in batches.
    pub fn flush(&mut self) -> Vec<Vec<FlaggedContext<K, P>>> {
        let mut out = Vec::new();
        while !self.queue.is_empty() {
            let n = self.queue.len().min(self.cfg.batch_size);
            self.stats.batches += 1;
            out.push(self.queue.drain(..n).collect());
        }
        out
    }
}

/// Flow instantiation: source IP → destination `ip:port`.
pub type FlowRules = RuleEngine<IpAddr, SocketEndpoint>;
/// HTTP-log instantiation: client IP → URL path.
pub type HttpRules = RuleEngine<IpAddr, PathEndpoint>;
/// DNS instantiation: client host → registrable domain (e.g. more than N
/// distinct registrable domains per host per minute).
pub type DnsDomainRules = RuleEngine<IpAddr, DomainEndpoint>;

impl DnsDomainRules {
    /// A DNS engine flagging hosts that look up more than `max_domains`
    /// distinct registrable domains, or move more than `max_bytes` of DNS
    /// payload, within `window`; other settings default.
    pub fn for_dns(
        max_domains: usize,
        max_bytes: u64,
        window: TsMicros,
    ) -> Result<Self, RulesError> {
        Self::new(RulesConfig {
            max_endpoints: max_domains,
            max_bytes,
            window,
            idle_ttl: (5 * window).max(300 * MICROS),
            ..Default::default()
        })
    }

    /// One DNS lookup: time, client host, registrable domain, bytes
    /// (query + response size).
    pub fn observe_dns(
        &mut self,
        ts: TsMicros,
        host: IpAddr,
        registrable: &str,
        bytes: u64,
    ) -> bool {
        self.observe(
            ts,
            host,
            DomainEndpoint(registrable.to_ascii_lowercase()),
            bytes,
        )
    }
}

/// Triage verdict class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TriageClass {
    /// Many ports on few hosts.
    PortScan,
    /// Many hosts (on few ports).
    HostSweep,
    /// Many URL paths.
    PathEnumeration,
    /// Many distinct domains (DGA, tunnelling, fast flux).
    DomainChurn,
    /// Large transfer out.
    Exfiltration,
    /// Both volume and breadth.
    ReconAndTransfer,
}

impl TriageClass {
    /// Stable name (`port_scan`, `host_sweep`, …), as printed.
    pub fn as_str(self) -> &'static str {
        match self {
            TriageClass::PortScan => "port_scan",
            TriageClass::HostSweep => "host_sweep",
            TriageClass::PathEnumeration => "path_enumeration",
            TriageClass::DomainChurn => "domain_churn",
            TriageClass::Exfiltration => "exfiltration",
            TriageClass::ReconAndTransfer => "recon_and_transfer",
        }
    }
}

impl Display for TriageClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The triage stage's reading of a context.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Triage {
    /// Class.
    pub verdict: TriageClass,
    /// 0..=1, how far past the thresholds the context is.
    pub severity: f64,
    /// One-line human summary.
    pub summary: String,
}

/// A triage stage receiving micro-batches of contexts (a rule-based summary,
/// an LLM client, a ticketing hook…). Returns one [`Triage`] per context, in order.
pub trait Triager<K, P> {
    /// Read one batch.
    fn triage(&mut self, batch: &[FlaggedContext<K, P>]) -> Vec<Triage>;
}

/// Built-in rule-based triager: classifies by rule, endpoint kind and the
/// endpoint/group ratio; severity grows with the excess over the thresholds.
#[derive(Debug, Clone)]
pub struct RuleTriager {
    max_endpoints: usize,
    max_bytes: u64,
}

impl RuleTriager {
    /// Triager for an engine with `cfg`.
    pub fn new(cfg: &RulesConfig) -> Self {
        Self {
            max_endpoints: cfg.max_endpoints,
            max_bytes: cfg.max_bytes,
        }
    }

    /// Triage one context.
    pub fn triage_one<K: Display, P: Endpoint>(&self, c: &FlaggedContext<K, P>) -> Triage {
        let breadth = c.rules.contains(&Rule::UniqueEndpoints);
        let volume = c.rules.contains(&Rule::Bytes);
        let kind = c.sample_endpoints.first().map(Endpoint::kind);
        let verdict = match (breadth, volume, kind) {
            (true, true, _) => TriageClass::ReconAndTransfer,
            (false, _, _) => TriageClass::Exfiltration,
            (true, false, Some(EndpointKind::Path)) => TriageClass::PathEnumeration,
            (true, false, Some(EndpointKind::Domain)) => TriageClass::DomainChurn,
            (true, false, _) if c.unique_groups * 2 <= c.unique_endpoints => TriageClass::PortScan,
            (true, false, _) => TriageClass::HostSweep,
        };
        // log2 of the excess ratio, 1.0 at 16x the threshold.
        let excess = |v: f64, t: f64| ((v / t.max(1.0)).log2() / 4.0).clamp(0.0, 1.0);
        let mut severity: f64 = 0.0;
        if breadth {
            severity = severity.max(excess(c.unique_endpoints as f64, self.max_endpoints as f64));
        }
        if volume {
            severity = severity.max(excess(c.bytes as f64, self.max_bytes as f64));
        }
        let secs = (c.window_end - c.window_start) as f64 / MICROS as f64;
        let summary = match verdict {
            TriageClass::PortScan => format!(
                "{} probed {} ports on {} host(s) in {secs:.0}s",
                c.key, c.unique_endpoints, c.unique_groups
            ),
            TriageClass::HostSweep => format!(
                "{} contacted {} endpoints on {} hosts in {secs:.0}s",
                c.key, c.unique_endpoints, c.unique_groups
            ),
            TriageClass::PathEnumeration => format!(
                "{} requested {} distinct paths under {} prefix(es) in {secs:.0}s",
                c.key, c.unique_endpoints, c.unique_groups
            ),
            TriageClass::DomainChurn => format!(
                "{} looked up {} distinct registrable domains in {secs:.0}s",
                c.key, c.unique_endpoints
            ),
            TriageClass::Exfiltration => format!(
                "{} sent {} bytes over {} endpoint(s) in {secs:.0}s",
                c.key, c.bytes, c.unique_endpoints
            ),
            TriageClass::ReconAndTransfer => format!(
                "{} reached {} endpoints and sent {} bytes in {secs:.0}s",
                c.key, c.unique_endpoints, c.bytes
            ),
        };
        Triage {
            verdict,
            severity,
            summary,
        }
    }
}

impl<K: Display, P: Endpoint> Triager<K, P> for RuleTriager {
    fn triage(&mut self, batch: &[FlaggedContext<K, P>]) -> Vec<Triage> {
        batch.iter().map(|c| self.triage_one(c)).collect()
    }
}

/// A flagged context with its rule-based [`Triage`], owned and made of text
/// and numbers: what the engine hands to a caller that looks further at
/// flagged sources (e.g. a language model, through
/// [`crate::cmd::rules::FlaggedObserver`]) without knowing the key and
/// endpoint types. Every string in it (key, sample endpoints, summary) comes
/// from the input and may be chosen by an attacker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlaggedSummary {
    /// Number of the context in the run, from 1, in hand-off order.
    pub context: u64,
    /// Source (IP address, host).
    pub key: String,
    /// Time of the oldest event in the window (µs).
    pub window_start: TsMicros,
    /// Time of the event that fired the rule (µs).
    pub window_end: TsMicros,
    /// Rules that fired.
    pub rules: Vec<Rule>,
    /// Distinct endpoints in the window.
    pub unique_endpoints: usize,
    /// Distinct endpoint groups in the window.
    pub unique_groups: usize,
    /// Bytes in the window.
    pub bytes: u64,
    /// Events in the window.
    pub events: usize,
    /// What the endpoints are (`socket`, `path`, `domain`), when known.
    pub endpoint_kind: Option<EndpointKind>,
    /// Most recent distinct endpoints, newest first, as text.
    pub sample_endpoints: Vec<String>,
    /// The rule-based class.
    pub class: TriageClass,
    /// The rule-based severity, 0..=1.
    pub severity: f64,
    /// The rule-based one-line summary.
    pub summary: String,
}

impl FlaggedSummary {
    /// The summary of context number `context`, `c`, read by the rules as `t`.
    pub fn new<K: Display, P: Endpoint>(
        context: u64,
        c: &FlaggedContext<K, P>,
        t: &Triage,
    ) -> Self {
        FlaggedSummary {
            context,
            key: c.key.to_string(),
            window_start: c.window_start,
            window_end: c.window_end,
            rules: c.rules.clone(),
            unique_endpoints: c.unique_endpoints,
            unique_groups: c.unique_groups,
            bytes: c.bytes,
            events: c.events,
            endpoint_kind: c.sample_endpoints.first().map(Endpoint::kind),
            sample_endpoints: c.sample_endpoints.iter().map(ToString::to_string).collect(),
            class: t.verdict,
            severity: t.severity,
            summary: t.summary.clone(),
        }
    }
}

#[derive(Debug)]
struct Held<E> {
    ts: TsMicros,
    seq: u64,
    ev: E,
}
impl<E> PartialEq for Held<E> {
    fn eq(&self, o: &Self) -> bool {
        (self.ts, self.seq) == (o.ts, o.seq)
    }
}
impl<E> Eq for Held<E> {}
impl<E> PartialOrd for Held<E> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<E> Ord for Held<E> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.ts, self.seq).cmp(&(o.ts, o.seq))
    }
}

/// Bounded-lateness reorder buffer: holds events until the newest time seen
/// is `lateness` past them, then releases them in time order (ties in arrival
/// order). At most `capacity` events are held; beyond that the oldest is
/// released early (counted in [`Reorder::forced`]).
#[derive(Debug)]
pub struct Reorder<E> {
    lateness: TsMicros,
    capacity: usize,
    heap: BinaryHeap<Reverse<Held<E>>>,
    max_seen: TsMicros,
    seq: u64,
    forced: u64,
}

impl<E> Reorder<E> {
    /// Buffer with `lateness` (µs, ≥ 0) and `capacity` (≥ 1).
    pub fn new(lateness: TsMicros, capacity: usize) -> Self {
        Self {
            lateness: lateness.max(0),
            capacity: capacity.max(1),
            heap: BinaryHeap::new(),
            max_seen: TsMicros::MIN,
            seq: 0,
            forced: 0,
        }
    }

    /// Add an event; `release` gets every event now due, in time order.
    pub fn push(&mut self, ts: TsMicros, ev: E, mut release: impl FnMut(TsMicros, E)) {
        self.max_seen = self.max_seen.max(ts);
        self.seq += 1;
        self.heap.push(Reverse(Held {
            ts,
            seq: self.seq,
            ev,
        }));
        let due = self.max_seen.saturating_sub(self.lateness);
        while let Some(Reverse(h)) = self.heap.peek() {
            let over = self.heap.len() > self.capacity;
            if h.ts > due && !over {
                break;
            }
            if over && h.ts > due {
                self.forced += 1;
            }
            let Reverse(h) = self.heap.pop().expect("peeked");
            release(h.ts, h.ev);
        }
    }

    /// End of input: release everything held, in time order.
    pub fn finish(&mut self, mut release: impl FnMut(TsMicros, E)) {
        while let Some(Reverse(h)) = self.heap.pop() {
            release(h.ts, h.ev);
        }
    }

    /// Events released before their lateness had passed (buffer full).
    pub fn forced(&self) -> u64 {
        self.forced
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// Parse a flow-record timestamp into µs since the epoch (naive times are
/// UTC): epoch seconds (or ms/µs by magnitude), RFC 3339,
/// `YYYY-MM-DD HH:MM:SS[.ffffff]`, `YYYY-MM-DDTHH:MM:SS[.f]`, and the
/// CICIDS2017 original `D/M/YYYY H:MM[:SS]` (day first; those files write
/// afternoon hours on a 12-hour clock without AM/PM, which cannot be undone).
pub fn parse_flow_ts(s: &str) -> Option<TsMicros> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    // Epoch numbers and RFC 3339 read as in JSONL events.
    if let Some(us) = sentineldns_model::time::parse_ts(t) {
        return Some(us);
    }
    if t.parse::<f64>().is_ok() {
        return None;
    }
    const FORMATS: [&str; 6] = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%d/%m/%Y %H:%M:%S%.f",
        "%d/%m/%Y %H:%M",
        "%d/%m/%Y %I:%M:%S %p",
    ];
    FORMATS.iter().find_map(|f| {
        chrono::NaiveDateTime::parse_from_str(t, f)
            .ok()
            .map(|d| d.and_utc().timestamp_micros())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    fn sock(port: u16) -> SocketEndpoint {
        SocketEndpoint(ip(200), port)
    }

    fn engine(cfg: RulesConfig) -> FlowRules {
        RuleEngine::new(cfg).unwrap()
    }

    #[test]
    fn window_boundary_is_half_open() {
        let mut e = engine(RulesConfig::default()); // > 10 endpoints in 60 s
        for i in 0..10 {
            assert!(!e.observe(i * MICROS, ip(1), sock(i as u16), 1));
        }
        // At t = 60 s the event at 0 s has left (t − 60, t]: still 10 distinct.
        assert!(!e.observe(60 * MICROS, ip(1), sock(100), 1));
        assert_eq!(e.unique_endpoints(&ip(1)), 10);
        // Just before 61 s the event at 1 s is still in: 11 distinct → flagged.
        assert!(e.observe(61 * MICROS - 1, ip(1), sock(101), 1));
        let c = e.take_batch();
        assert!(c.is_none(), "batch not due yet (1 of 32, no wait)");
        let b = e.flush().concat();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].unique_endpoints, 11);
        assert_eq!(b[0].window_start, MICROS);
        assert_eq!(b[0].rules, vec![Rule::UniqueEndpoints]);
        assert_eq!(b[0].sample_endpoints[0], sock(101));
        assert_eq!(b[0].sample_endpoints.len(), 5);
    }

    #[test]
    fn repeated_endpoint_counts_once_and_bytes_rule() {
        let cfg = RulesConfig {
            max_bytes: 1000,
            ..Default::default()
        };
        let mut e = engine(cfg);
        for i in 0..50 {
            assert!(!e.observe(i * 1000, ip(1), sock(443), 20));
        }
        assert_eq!(e.unique_endpoints(&ip(1)), 1);
        assert!(e.observe(50_000, ip(1), sock(443), 1));
        let c = &e.flush()[0][0];
        assert_eq!((c.bytes, c.events), (1001, 51));
        assert_eq!(c.rules, vec![Rule::Bytes]);
        let t = RuleTriager::new(e.config()).triage_one(c);
        assert_eq!(t.verdict, TriageClass::Exfiltration);
    }

    #[test]
    fn flags_once_per_window_then_again() {
        let cfg = RulesConfig {
            max_endpoints: 2,
            ..Default::default()
        };
        let mut e = engine(cfg);
        let mut flagged = Vec::new();
        for i in 0..200 {
            if e.observe(i * MICROS, ip(1), sock(i as u16), 1) {
                flagged.push(i);
            }
        }
        assert_eq!(flagged, vec![2, 62, 122, 182]);
    }

    #[test]
    fn idle_keys_are_evicted_on_event_time() {
        let cfg = RulesConfig {
            idle_ttl: 100 * MICROS,
            ..Default::default()
        };
        let mut e = engine(cfg);
        e.observe(0, ip(1), sock(1), 1);
        e.observe(10 * MICROS, ip(2), sock(1), 1);
        assert_eq!(e.tracked_keys(), 2);
        // 105 s: ip 1 idle 105 s ≥ TTL → evicted; ip 2 idle 95 s stays.
        e.observe(105 * MICROS, ip(3), sock(1), 1);
        assert_eq!(e.tracked_keys(), 2);
        assert_eq!(e.stats().evicted, 1);
        assert_eq!(e.unique_endpoints(&ip(1)), 0);
        assert_eq!(e.unique_endpoints(&ip(2)), 1);
        // 400 s: ip 2 and ip 3 (idle since 105 s) are swept before ip 3's
        // new event re-creates it with an empty window.
        e.observe(400 * MICROS, ip(3), sock(2), 1);
        assert_eq!(e.tracked_keys(), 1);
        assert_eq!(e.stats().evicted, 3);
        assert_eq!(e.unique_endpoints(&ip(3)), 1);
    }

    #[test]
    fn queue_overflow_is_counted() {
        let cfg = RulesConfig {
            max_endpoints: 0,
            queue_capacity: 3,
            batch_size: 100,
            max_wait: 1000 * MICROS,
            ..Default::default()
        };
        let mut e = engine(cfg);
        for k in 0..5 {
            assert!(e.observe(0, ip(k), sock(1), 1));
        }
        let s = e.stats();
        assert_eq!((s.flagged, s.queue_overflow), (5, 2));
        assert_eq!(e.pending(), 3);
        let kept: Vec<IpAddr> = e.flush().concat().into_iter().map(|c| c.key).collect();
        assert_eq!(kept, vec![ip(0), ip(1), ip(2)]);
    }

    #[test]
    fn micro_batches_by_size_and_by_wait() {
        let cfg = RulesConfig {
            max_endpoints: 0,
            batch_size: 2,
            max_wait: 10 * MICROS,
            ..Default::default()
        };
        let mut e = engine(cfg);
        e.observe(0, ip(1), sock(1), 1);
        assert!(e.take_batch().is_none());
        e.observe(MICROS, ip(2), sock(1), 1);
        e.observe(2 * MICROS, ip(3), sock(1), 1);
        let b = e.take_batch().unwrap();
        assert_eq!(
            b.iter().map(|c| c.key).collect::<Vec<_>>(),
            vec![ip(1), ip(2)]
        );
        assert!(e.take_batch().is_none(), "one pending, waited 0 s");
        // ip 3 already in quiet period: this event only advances time.
        e.observe(11 * MICROS, ip(3), sock(2), 1);
        assert!(e.take_batch().is_none(), "waited 9 s");
        e.observe(12 * MICROS, ip(3), sock(3), 1);
        let b = e.take_batch().unwrap();
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].key, ip(3));
        assert_eq!(e.stats().batches, 2);
        assert!(e.flush().is_empty());
    }

    #[test]
    fn late_events_are_counted_and_ignored() {
        let mut e = engine(RulesConfig::default());
        e.observe(10 * MICROS, ip(1), sock(1), 1);
        assert!(!e.observe(5 * MICROS, ip(1), sock(2), 1));
        assert_eq!(e.stats().late, 1);
        assert_eq!(e.unique_endpoints(&ip(1)), 1);
    }

    #[test]
    fn truncation_bounds_a_key() {
        let cfg = RulesConfig {
            max_events_per_key: 4,
            max_endpoints: 100,
            ..Default::default()
        };
        let mut e = engine(cfg);
        for i in 0..10 {
            e.observe(i, ip(1), sock(i as u16), 1);
        }
        assert_eq!(e.unique_endpoints(&ip(1)), 4);
        assert_eq!(e.stats().truncated, 6);
    }

    #[test]
    fn triage_classes() {
        let cfg = RulesConfig::default();
        let tr = RuleTriager::new(&cfg);
        let mk = |eps: Vec<SocketEndpoint>, groups| FlaggedContext {
            key: ip(9),
            window_start: 0,
            window_end: 30 * MICROS,
            unique_endpoints: eps.len(),
            unique_groups: groups,
            bytes: 10,
            events: eps.len(),
            rules: vec![Rule::UniqueEndpoints],
            sample_endpoints: eps,
        };
        let scan = mk((1..=40).map(sock).collect(), 1);
        let t = tr.triage_one(&scan);
        assert_eq!(t.verdict, TriageClass::PortScan);
        assert!(
            t.summary.contains("probed 40 ports on 1 host"),
            "{}",
            t.summary
        );
        assert!((t.severity - 0.5).abs() < 1e-9, "40 = 4x the threshold");
        let sweep = mk((1..=12).map(|i| SocketEndpoint(ip(i), 445)).collect(), 12);
        assert_eq!(tr.triage_one(&sweep).verdict, TriageClass::HostSweep);
        let mut d = DnsDomainRules::for_dns(3, u64::MAX, 60 * MICROS).unwrap();
        for (i, name) in ["a.com", "b.com", "A.COM", "c.net", "d.org"]
            .iter()
            .enumerate()
        {
            d.observe_dns(i as i64 * MICROS, ip(1), name, 80);
        }
        let c = d.flush().concat();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].unique_endpoints, 4, "A.COM is a.com");
        assert_eq!(
            RuleTriager::new(d.config()).triage(&c)[0].verdict,
            TriageClass::DomainChurn
        );
    }

    #[test]
    fn reorder_releases_in_time_order_with_bounded_lateness() {
        let mut r = Reorder::new(10, 100);
        let mut out = Vec::new();
        for t in [5, 3, 12, 8, 20, 1, 30] {
            r.push(t, t, |ts, _| out.push(ts));
        }
        // 1 arrived after 3 and 5 were released (max seen 20 → due 10)...
        r.finish(|ts, _| out.push(ts));
        assert_eq!(out, vec![3, 5, 8, 1, 12, 20, 30]);
        let mut r = Reorder::new(1000, 2);
        let mut out = Vec::new();
        for t in [3, 2, 1] {
            r.push(t, (), |ts, _| out.push(ts));
        }
        assert_eq!((out, r.forced(), r.len()), (vec![1], 1, 2));
    }

    #[test]
    fn timestamps() {
        assert_eq!(
            parse_flow_ts("2017-07-07 18:08:57.763666"),
            Some(1_499_450_937_763_666)
        );
        assert_eq!(parse_flow_ts("7/7/2017 3:30"), Some(1_499_398_200_000_000));
        assert_eq!(
            parse_flow_ts("03/07/2017 08:55:58"),
            Some(1_499_072_158_000_000)
        );
        assert_eq!(parse_flow_ts("1499450937.5"), Some(1_499_450_937_500_000));
        assert_eq!(
            parse_flow_ts("2017-07-07T18:08:57Z"),
            Some(1_499_450_937_000_000)
        );
        assert_eq!(parse_flow_ts("yesterday"), None);
        assert_eq!(parse_flow_ts(""), None);
        assert_eq!(parse_flow_ts("-5"), None);
        // Milliseconds by magnitude, as JSONL events.
        assert_eq!(parse_flow_ts("1499450937500"), Some(1_499_450_937_500_000));
    }

    #[test]
    fn config_validation() {
        let bad = RulesConfig {
            idle_ttl: MICROS,
            ..Default::default()
        };
        assert!(FlowRules::new(bad).is_err());
        let bad = RulesConfig {
            batch_size: 0,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }

    proptest! {
        #[test]
        fn unique_count_equals_brute_force(
            evs in proptest::collection::vec((0i64..5_000_000, 0u8..3, 0u16..20, 0u64..100), 1..200),
            window in 1i64..3_000_000,
        ) {
            let mut evs = evs;
            evs.sort_by_key(|e| e.0);
            let cfg = RulesConfig { window, idle_ttl: window, max_endpoints: usize::MAX, max_bytes: u64::MAX, ..Default::default() };
            let mut e = engine(cfg);
            for (i, &(t, k, p, b)) in evs.iter().enumerate() {
                e.observe(t, ip(k), sock(p), b);
                let mut brute = std::collections::HashSet::new();
                for &(t2, k2, p2, _) in &evs[..=i] {
                    if k2 == k && t2 > t - window {
                        brute.insert(p2);
                    }
                }
                prop_assert_eq!(e.unique_endpoints(&ip(k)), brute.len());
            }
        }

        #[test]
        fn flags_iff_brute_force_threshold_crossed_outside_quiet(
            evs in proptest::collection::vec((0i64..2_000_000, 0u16..8, 0u64..50), 1..150),
            max_eps in 1usize..6,
            max_bytes in 20u64..400,
        ) {
            let mut evs = evs;
            evs.sort_by_key(|e| e.0);
            let window = 500_000;
            let cfg = RulesConfig { window, max_endpoints: max_eps, max_bytes, ..Default::default() };
            let mut e = engine(cfg);
            let mut quiet = i64::MIN;
            for (i, &(t, p, b)) in evs.iter().enumerate() {
                let got = e.observe(t, ip(1), sock(p), b);
                let inwin: Vec<_> = evs[..=i].iter().filter(|x| x.0 > t - window).collect();
                let uniq: std::collections::HashSet<u16> = inwin.iter().map(|x| x.1).collect();
                let bytes: u64 = inwin.iter().map(|x| x.2).sum();
                let want = (uniq.len() > max_eps || bytes > max_bytes) && t >= quiet;
                if want { quiet = t + window; }
                prop_assert_eq!(got, want);
            }
        }
    }
}
