//! The pipeline: wires source → decode → pair → enrich → aggregate → sink.
//!
//! It has two halves with one seam between them:
//!
//! * [`Ingest`] (front): source items → [`Decoder`] → [`Pairer`] → lookups. It
//!   owns the packet clock (`max_ts`, the newest packet time seen) and stamps
//!   every lookup with it.
//! * [`Windowing`] (back): lookup → [`Enricher`] → [`Aggregator`] →
//!   [`WindowSink`]. Before recording a lookup it advances the window watermark
//!   to the lookup's stamp, so closing windows depends only on the sequence of
//!   (lookup, stamp) pairs — never on how the halves are scheduled. Newly seen
//!   domains are persisted with the windows. Enrichment sits in this half so
//!   that with two threads the work splits about evenly (BENCHMARKS.md).
//!
//! [`Pipeline::run`] drives both on one thread ([`Threads::One`]) or runs the
//! ingest half on its own thread ([`Threads::Two`]), handing lookups over a
//! bounded channel in [`LookupBatch`]es that are recycled, so steady state
//! allocates nothing. Both modes give identical windows (tested). Closed windows
//! and the first-seen records accumulated with them go to the sink as one batch
//! (one SQLite transaction). Ending the input — or a SIGINT/SIGTERM that stops
//! the read loop — pairs up or expires what is left, closes every open window and
//! writes the last batch, so nothing already read is lost.

use crate::aggregate::{AggregateConfig, Aggregator, HostWindow};
use crate::decode::{DecodeConfig, Decoder, Location};
use crate::dnstap::ClientMessage;
use crate::enrich::{EnrichConfig, Enricher, Enrichment, FirstSeenDelta};
use crate::event::{
    Answers, DnsMessage, DnsService, Lookup, LookupDetail, LookupOutcome, RawPacket, Transport,
    TsMicros, MICROS,
};
use crate::pair::{PairConfig, Pairer};
use crate::source::jsonl::JsonEvent;
use crate::source::merge::{Item, Merger};
use crate::stats::{Bound, SkipReason, Stats};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

/// Everything that shapes the results.
#[derive(Debug, Clone, Default)]
pub struct PipelineConfig {
    /// Windowing.
    pub aggregate: AggregateConfig,
    /// Query/response pairing.
    pub pair: PairConfig,
    /// Packet decoding.
    pub decode: DecodeConfig,
    /// Enrichment.
    pub enrich: EnrichConfig,
    /// Packet-clock guard against timestamps far ahead of the stream.
    pub clock: ClockConfig,
    /// Limits applied while reading the inputs (JSONL line cap).
    pub source: crate::source::SourceLimits,
}

/// How far ahead of the packet clock a timestamp may jump: an item beyond
/// `max_jump` is processed in its own window without moving the clock until
/// `confirm` items in a row agree (counted as `future_timestamp` otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockConfig {
    /// A timestamp more than this ahead of the clock does not move it until
    /// [`ClockConfig::confirm`] consecutive items agree (`[limits] max_clock_jump`).
    pub max_jump: TsMicros,
    /// Consecutive items beyond `max_jump` that confirm a real jump (a quiet
    /// gap in a live capture, the next file of a merged set).
    pub confirm: u32,
}

impl Default for ClockConfig {
    fn default() -> Self {
        ClockConfig {
            max_jump: 10 * 60 * MICROS,
            confirm: 8,
        }
    }
}

/// The packet clock: the newest timestamp seen, guarded against a single
/// item stamped far in the future (a corrupt or crafted record in 2106 would
/// otherwise close every window and make the rest of the input late). An
/// item more than `max_jump` ahead is still processed, in its own window, but
/// does not move the clock; `confirm` such items in a row (within `max_jump`
/// of each other) are a real jump and move it. Items that were ahead and never
/// confirmed are counted as [`SkipReason::FutureTimestamp`]. Nothing is
/// dropped.
#[derive(Debug, Clone)]
struct ClockGuard {
    cfg: ClockConfig,
    now: TsMicros,
    ahead: u32,
    ahead_min: TsMicros,
    ahead_max: TsMicros,
    /// Where the current run of ahead items started: (source, unit, position).
    first: Option<(String, &'static str, u64)>,
}

impl ClockGuard {
    fn new(cfg: ClockConfig) -> Self {
        ClockGuard {
            cfg: ClockConfig {
                max_jump: cfg.max_jump.max(1),
                confirm: cfg.confirm.max(1),
            },
            now: TsMicros::MIN,
            ahead: 0,
            ahead_min: 0,
            ahead_max: 0,
            first: None,
        }
    }

    /// Observe one item's timestamp; returns the clock after it.
    fn observe(
        &mut self,
        ts: TsMicros,
        stats: &mut Stats,
        at: impl FnOnce() -> (String, &'static str, u64),
    ) -> TsMicros {
        if self.now == TsMicros::MIN || ts <= self.now.saturating_add(self.cfg.max_jump) {
            self.settle(stats);
            self.now = self.now.max(ts);
            return self.now;
        }
        let joins = self.ahead > 0
            && ts.abs_diff(self.ahead_min) <= self.cfg.max_jump as u64
            && ts.abs_diff(self.ahead_max) <= self.cfg.max_jump as u64;
        if !joins {
            self.settle(stats);
            self.ahead_min = ts;
            self.ahead_max = ts;
            self.first = Some(at());
        }
        self.ahead += 1;
        self.ahead_min = self.ahead_min.min(ts);
        self.ahead_max = self.ahead_max.max(ts);
        if self.ahead >= self.cfg.confirm {
            // A real jump: every item of the run keeps its place.
            self.now = self.ahead_max;
            self.ahead = 0;
            self.first = None;
        }
        self.now
    }

    /// The current run of ahead items was not confirmed: count it.
    fn settle(&mut self, stats: &mut Stats) {
        if self.ahead == 0 {
            return;
        }
        let n = u64::from(self.ahead);
        self.ahead = 0;
        let jump = (self.ahead_min - self.now) / MICROS;
        if let Some((source, unit, pos)) = self.first.take() {
            stats.skip_at(SkipReason::FutureTimestamp, &source, unit, pos, || {
                format!("{n} item(s) stamped {jump} s ahead of the packet clock; windows kept on the clock")
            });
            stats.skip_n(SkipReason::FutureTimestamp, n - 1);
        } else {
            stats.skip_n(SkipReason::FutureTimestamp, n);
        }
    }
}

/// Invalid pipeline settings.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PipelineConfigError {
    /// Window length out of range.
    #[error("window length must be between 1 second and 1 day (got {0} µs)")]
    Window(TsMicros),
    /// Grace must cover the pairing timeout.
    #[error("grace period ({grace} s) must be at least the pairing timeout ({timeout} s) and shorter than the window")]
    Grace {
        /// Grace, seconds.
        grace: f64,
        /// Timeout, seconds.
        timeout: f64,
    },
}

impl PipelineConfig {
    /// Check the settings that depend on each other.
    pub fn validate(&self) -> Result<(), PipelineConfigError> {
        let w = self.aggregate.window;
        if !(MICROS..=86_400 * MICROS).contains(&w) {
            return Err(PipelineConfigError::Window(w));
        }
        if self.aggregate.grace < self.pair.timeout || self.aggregate.grace >= w {
            return Err(PipelineConfigError::Grace {
                grace: self.aggregate.grace as f64 / MICROS as f64,
                timeout: self.pair.timeout as f64 / MICROS as f64,
            });
        }
        Ok(())
    }
}

/// Where closed windows go.
pub trait WindowSink {
    /// Error type of the sink.
    type Error;
    /// Accept one batch: windows closed together, and the newly seen domains
    /// that must be persisted with them.
    fn write(
        &mut self,
        windows: &[HostWindow],
        first_seen: &FirstSeenDelta,
    ) -> Result<(), Self::Error>;

    /// One enriched lookup as it enters its window (default: ignored). For
    /// per-lookup outputs such as NDJSON lines and lookup counters. Called on
    /// the windowing thread for every lookup, so it must not block or allocate.
    #[inline]
    fn lookup(&mut self, _l: &Lookup<'_>, _e: &Enrichment) {}
}

/// Collects everything in memory (tests, evaluation).
#[derive(Debug, Default)]
pub struct VecSink {
    /// Windows received.
    pub windows: Vec<HostWindow>,
    /// First-seen records received.
    /// First-seen state received, merged (a snapshot replaces the log before it).
    pub first_seen: FirstSeenDelta,
    /// Batches received.
    pub batches: usize,
}

impl WindowSink for VecSink {
    type Error = std::convert::Infallible;
    fn write(&mut self, w: &[HostWindow], f: &FirstSeenDelta) -> Result<(), Self::Error> {
        self.windows.extend_from_slice(w);
        self.first_seen.append(&mut f.clone());
        self.batches += 1;
        Ok(())
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// All input was read.
    Complete,
    /// Stopped by a signal; open windows were flushed.
    Interrupted,
}

/// How many threads [`Pipeline::run`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Threads {
    /// Everything on the calling thread.
    One,
    /// Ingest (read, decode, pair) on its own thread; windowing on the caller's.
    #[default]
    Two,
}

/// Receives lookups from [`Ingest`], each stamped with the packet clock.
pub trait LookupOut {
    /// One lookup; `now` is the newest packet time seen when it was produced.
    fn lookup(&mut self, l: &Lookup<'_>, now: TsMicros);
}

/// Front half: decode and pair.
pub struct Ingest {
    decoder: Decoder,
    pairer: Pairer,
    /// Source and decoder counters.
    stats: Stats,
    /// Pairing counters (kept apart so stages can borrow them independently).
    pair_stats: Stats,
    max_ts: TsMicros,
    clock: ClockGuard,
    last_decoder_expiry: TsMicros,
    /// Name scratch for dnstap messages.
    scratch: String,
}

impl Ingest {
    /// New front half.
    pub fn new(cfg: &PipelineConfig) -> Self {
        Ingest {
            decoder: Decoder::new(cfg.decode),
            pairer: Pairer::new(cfg.pair).with_scan_step(
                cfg.aggregate
                    .grace
                    .saturating_sub(cfg.pair.timeout)
                    .clamp(1, MICROS),
            ),
            stats: Stats::default(),
            pair_stats: Stats::default(),
            max_ts: TsMicros::MIN,
            clock: ClockGuard::new(cfg.clock),
            last_decoder_expiry: TsMicros::MIN,
            scratch: String::new(),
        }
    }

    /// Newest packet time seen.
    pub fn now(&self) -> TsMicros {
        self.max_ts
    }

    /// Counters of this half.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        s.merge(&self.pair_stats);
        s
    }

    /// Source counters (readers count into them).
    pub fn source_stats(&mut self) -> &mut Stats {
        &mut self.stats
    }

    /// Feed one captured frame.
    pub fn packet<O: LookupOut>(
        &mut self,
        pkt: &RawPacket<'_>,
        source: &str,
        number: u64,
        out: &mut O,
    ) {
        let before = self.max_ts;
        self.max_ts = self.clock.observe(pkt.ts, &mut self.stats, || {
            (source.to_string(), "packet", number)
        });
        self.expire_pending(before, out);
        let now = self.max_ts;
        let Ingest {
            decoder,
            pairer,
            stats,
            pair_stats,
            ..
        } = self;
        let loc = Location {
            source,
            packet: number,
        };
        decoder.decode(pkt, &loc, stats, |m| {
            pairer.push(m, pair_stats, |l| out.lookup(l, now));
        });
        self.tick();
    }

    /// Feed one dnstap client message (data frame `frame` of `source`): its
    /// DNS message is parsed and paired exactly like one decoded from a
    /// packet, so the same traffic gives the same lookups and windows.
    pub fn message<O: LookupOut>(
        &mut self,
        msg: &ClientMessage,
        source: &str,
        frame: u64,
        out: &mut O,
    ) {
        let before = self.max_ts;
        self.max_ts = self.clock.observe(msg.ts, &mut self.stats, || {
            (source.to_string(), "frame", frame)
        });
        self.expire_pending(before, out);
        let now = self.max_ts;
        match crate::decode::dns::parse_dns(&msg.wire, &mut self.scratch) {
            Err(e) => self.stats.skip_at(e.reason(), source, "frame", frame, || {
                format!(
                    "dnstap {} message: {e}",
                    if msg.response { "response" } else { "query" }
                )
            }),
            Ok(p) => {
                if let Some(e) = p.answers_error {
                    self.stats
                        .skip_at(SkipReason::DnsMalformed, source, "frame", frame, || {
                            format!("answer section: {e}")
                        });
                }
                self.stats.dns_messages += 1;
                if p.response {
                    self.stats.dns_responses += 1;
                } else {
                    self.stats.dns_queries += 1;
                }
                if msg.transport == Transport::Tcp {
                    self.stats.tcp_messages += 1;
                }
                let m = DnsMessage {
                    ts: msg.ts,
                    src: msg.src,
                    dst: msg.dst,
                    sport: msg.sport,
                    dport: msg.dport,
                    transport: msg.transport,
                    service: DnsService::Dns,
                    id: p.id,
                    response: p.response,
                    opcode: p.opcode,
                    rcode: p.rcode,
                    truncated: p.truncated,
                    qname: p.qname,
                    qtype: p.qtype,
                    qclass: p.qclass,
                    qdcount: p.qdcount,
                    answers: p.answers,
                    min_ttl: p.min_ttl,
                    size: u32::try_from(msg.wire.len()).unwrap_or(u32::MAX),
                    wire: &msg.wire,
                };
                self.pairer
                    .push(&m, &mut self.pair_stats, |l| out.lookup(l, now));
            }
        }
        self.tick();
    }

    /// Feed one JSONL event, read from line `line` of `source`.
    pub fn event<O: LookupOut>(&mut self, ev: &JsonEvent, source: &str, line: u64, out: &mut O) {
        let Some(client) = ev.host else { return };
        let before = self.max_ts;
        self.max_ts = self.clock.observe(ev.ts, &mut self.stats, || {
            (source.to_string(), "line", line)
        });
        self.expire_pending(before, out);
        self.stats.events += 1;
        self.stats.lookups += 1;
        let l = Lookup {
            ts: ev.ts,
            client,
            server: ev.server,
            transport: ev.transport,
            service: ev.service,
            qname: &ev.domain,
            qtype: ev.qtype,
            rcode: ev.rcode,
            answers: ev.answers,
            min_ttl: ev.ttl,
            latency_us: ev.latency_us,
            query_bytes: ev.query_bytes,
            response_bytes: ev.response_bytes,
            outcome: ev.outcome.unwrap_or(LookupOutcome::Event),
            label: ev.label.as_deref(),
            scenario: ev.scenario.as_deref(),
            detail: ev.detail,
        };
        out.lookup(&l, self.max_ts);
        self.tick();
    }

    /// The clock has just moved from `before` to `self.max_ts`: expire the
    /// queries that timed out by the new time *before* anything stamped with it
    /// reaches the windows. They are stamped with `before`, which closes no
    /// window, so after a gap in packet time (a quiet spell, the next capture of
    /// a merged set) they still land in their own window as unanswered instead
    /// of arriving after it closed (late). Grace ≥ timeout (validated) and the
    /// scan step (≤ grace − timeout) make this exact.
    fn expire_pending<O: LookupOut>(&mut self, before: TsMicros, out: &mut O) {
        let now = self.max_ts;
        let stamp = if before == TsMicros::MIN { now } else { before };
        self.pairer
            .expire(now, &mut self.pair_stats, |l| out.lookup(l, stamp));
    }

    fn tick(&mut self) {
        let now = self.max_ts;
        if now.saturating_sub(self.last_decoder_expiry) >= MICROS || now < self.last_decoder_expiry
        {
            self.last_decoder_expiry = now;
            self.decoder.expire(now, &mut self.stats);
        }
    }

    /// End of input: every waiting query becomes an unanswered lookup.
    pub fn finish<O: LookupOut>(&mut self, out: &mut O) {
        self.clock.settle(&mut self.stats);
        let now = self.max_ts;
        self.pairer
            .flush_all(&mut self.pair_stats, |l| out.lookup(l, now));
    }
}

/// Back half: enrich, aggregate, hand closed windows to the sink.
pub struct Windowing<S: WindowSink> {
    enricher: Enricher,
    /// Drain target of the enricher's newly seen domains.
    new_seen: FirstSeenDelta,
    aggregator: Aggregator,
    sink: S,
    closed: Vec<HostWindow>,
    first_seen: FirstSeenDelta,
    now: TsMicros,
    windows: u64,
    error: Option<S::Error>,
}

impl<S: WindowSink> Windowing<S> {
    /// New back half around an enricher (already preloaded with first-seen state).
    pub fn new(cfg: &PipelineConfig, enricher: Enricher, sink: S) -> Self {
        Windowing {
            enricher,
            new_seen: FirstSeenDelta::default(),
            aggregator: Aggregator::new(cfg.aggregate),
            sink,
            closed: Vec::new(),
            first_seen: FirstSeenDelta::default(),
            now: TsMicros::MIN,
            windows: 0,
            error: None,
        }
    }

    /// Advance the watermark to `now` (packet time) and write what closed.
    pub fn advance(&mut self, now: TsMicros) {
        if now > self.now {
            self.now = now;
            self.aggregator.advance(now, &mut self.closed);
            if !self.closed.is_empty() {
                self.emit();
            }
        }
    }

    /// Enrich and record one lookup produced at packet time `now`.
    pub fn record(&mut self, l: &Lookup<'_>, now: TsMicros) {
        self.advance(now);
        let e = self.enricher.enrich(l);
        self.aggregator.record(l, &e);
        self.sink.lookup(l, &e);
        self.enricher.drain_new_first_seen(&mut self.new_seen);
        if !self.new_seen.is_empty() {
            self.first_seen.append(&mut self.new_seen);
            if self.first_seen.log_records() >= FIRST_SEEN_BATCH
                || self.first_seen.snapshot.is_some()
            {
                // Closed windows, if any, go with them (closed is usually empty).
                self.emit();
            }
        }
    }

    fn emit(&mut self) {
        self.windows += self.closed.len() as u64;
        if self.error.is_none() {
            if let Err(e) = self.sink.write(&self.closed, &self.first_seen) {
                self.error = Some(e);
            }
        }
        self.closed.clear();
        self.first_seen.clear();
    }

    /// The first sink error, if any (the run stops at it).
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// Close every window and write the final batch.
    pub fn finish(&mut self) -> Result<(), S::Error> {
        self.enricher.drain_new_first_seen(&mut self.new_seen);
        self.first_seen.append(&mut self.new_seen);
        self.aggregator.flush_all(&mut self.closed);
        self.emit();
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// First-seen log records held for the next window batch at most: beyond
/// it they are written on their own (20 bytes each, so at most ~1.3 MB wait;
/// a snapshot is written as soon as it is taken).
pub const FIRST_SEEN_BATCH: usize = 65_536;

impl<S: WindowSink> LookupOut for Windowing<S> {
    fn lookup(&mut self, l: &Lookup<'_>, now: TsMicros) {
        self.record(l, now);
    }
}

/// One lookup inside a [`LookupBatch`] (strings are ranges into the batch text).
#[derive(Debug, Clone, Copy)]
struct Entry {
    now: TsMicros,
    ts: TsMicros,
    client: IpAddr,
    server: Option<IpAddr>,
    transport: Option<Transport>,
    service: DnsService,
    qtype: u16,
    rcode: Option<u16>,
    answers: Answers,
    min_ttl: Option<u32>,
    latency_us: Option<u32>,
    query_bytes: u32,
    response_bytes: u32,
    outcome: LookupOutcome,
    qname: (u32, u32),
    label: Option<(u32, u32)>,
    scenario: Option<(u32, u32)>,
    /// The lookup's details without the response bytes, which are
    /// `response` (a range into the batch's `wire`).
    detail: LookupDetail<'static>,
    response: Option<(u32, u32)>,
}

/// Batches that may wait between the halves: enough for the ingest half to keep
/// going while the windowing half writes a large batch to SQLite (64 × 2048
/// lookups of about 250 bytes: at most ~35 MB, measured in BENCHMARKS.md).
const CHANNEL_BATCHES: usize = 64;

/// Lookups in transit between the halves: owned, reusable, one text buffer for
/// all names so a batch costs no allocation once warmed up.
#[derive(Debug, Default)]
pub struct LookupBatch {
    text: String,
    /// Response messages of the lookups (for outputs that show every answer).
    wire: Vec<u8>,
    entries: Vec<Entry>,
    /// Packet clock when the batch was sent.
    now: TsMicros,
}

impl LookupBatch {
    /// Lookups per batch.
    pub const CAP: usize = 2048;

    fn push_str(&mut self, s: &str) -> (u32, u32) {
        let start = self.text.len() as u32;
        self.text.push_str(s);
        (start, s.len() as u32)
    }

    fn str(&self, r: (u32, u32)) -> &str {
        self.text
            .get(r.0 as usize..(r.0 + r.1) as usize)
            .unwrap_or_default()
    }

    fn clear(&mut self) {
        self.text.clear();
        self.wire.clear();
        self.entries.clear();
    }

    fn is_full(&self) -> bool {
        self.entries.len() >= Self::CAP
    }

    fn replay<O: LookupOut>(&mut self, out: &mut O) {
        for e in &self.entries {
            let l = Lookup {
                ts: e.ts,
                client: e.client,
                server: e.server,
                transport: e.transport,
                service: e.service,
                qname: self.str(e.qname),
                qtype: e.qtype,
                rcode: e.rcode,
                answers: e.answers,
                min_ttl: e.min_ttl,
                latency_us: e.latency_us,
                query_bytes: e.query_bytes,
                response_bytes: e.response_bytes,
                outcome: e.outcome,
                label: e.label.map(|r| self.str(r)),
                scenario: e.scenario.map(|r| self.str(r)),
                detail: LookupDetail {
                    response: e
                        .response
                        .and_then(|(a, n)| self.wire.get(a as usize..(a + n) as usize)),
                    ..e.detail
                },
            };
            out.lookup(&l, e.now);
        }
    }
}

impl LookupOut for LookupBatch {
    fn lookup(&mut self, l: &Lookup<'_>, now: TsMicros) {
        let qname = self.push_str(l.qname);
        let label = l.label.map(|s| self.push_str(s));
        let scenario = l.scenario.map(|s| self.push_str(s));
        let response = l.detail.response.map(|w| {
            let start = self.wire.len() as u32;
            self.wire.extend_from_slice(w);
            (start, w.len() as u32)
        });
        self.entries.push(Entry {
            now,
            ts: l.ts,
            client: l.client,
            server: l.server,
            transport: l.transport,
            service: l.service,
            qtype: l.qtype,
            rcode: l.rcode,
            answers: l.answers,
            min_ttl: l.min_ttl,
            latency_us: l.latency_us,
            query_bytes: l.query_bytes,
            response_bytes: l.response_bytes,
            outcome: l.outcome,
            qname,
            label,
            scenario,
            detail: LookupDetail {
                response: None,
                ..l.detail
            },
            response,
        });
    }
}

/// The whole pipeline: both halves.
pub struct Pipeline<S: WindowSink> {
    ingest: Ingest,
    windowing: Windowing<S>,
}

impl<S: WindowSink> Pipeline<S> {
    /// Build a pipeline around an enricher (already preloaded with first-seen
    /// state) and a sink.
    pub fn new(cfg: &PipelineConfig, enricher: Enricher, sink: S) -> Self {
        Pipeline {
            ingest: Ingest::new(cfg),
            windowing: Windowing::new(cfg, enricher, sink),
        }
    }

    /// Counters so far (all stages combined).
    pub fn stats(&self) -> Stats {
        let mut s = self.ingest.stats();
        let agg = &self.windowing.aggregator;
        s.skip_n(SkipReason::LateLookup, agg.late_lookups());
        s.skip_n(SkipReason::WindowEvicted, agg.evicted_lookups());
        s.evicted(Bound::HostWindows, agg.evicted_windows());
        s.evicted(Bound::WindowNames, agg.names_dropped());
        s.windows = self.windowing.windows;
        s
    }

    /// Mutable access to the source/decoder counters (sources count into them).
    pub fn source_stats(&mut self) -> &mut Stats {
        self.ingest.source_stats()
    }

    /// Counters of the enricher (first-seen evictions and refreshes).
    pub fn enrich_stats(&self) -> crate::enrich::EnrichStats {
        self.windowing.enricher.stats()
    }

    /// Replace the enricher's allow-list (live configuration reload).
    pub fn replace_allowlist(&mut self, list: crate::enrich::allowlist::AllowList) {
        self.windowing.enricher.replace_allowlist(list);
    }

    /// Replace the enricher's threat-intel list (live configuration reload).
    pub fn replace_intel(&mut self, list: crate::enrich::allowlist::AllowList) {
        self.windowing.enricher.replace_intel(list);
    }

    /// The sink.
    pub fn sink(&self) -> &S {
        &self.windowing.sink
    }

    /// Mutable access to the sink (live reconfiguration).
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.windowing.sink
    }

    /// Take the sink back.
    pub fn into_sink(self) -> S {
        self.windowing.sink
    }

    /// Newest packet time seen.
    pub fn max_ts(&self) -> Option<TsMicros> {
        let t = self.ingest.now();
        (t != TsMicros::MIN).then_some(t)
    }

    /// Feed one captured frame (single-threaded use).
    pub fn packet(
        &mut self,
        pkt: &RawPacket<'_>,
        source: &str,
        number: u64,
    ) -> Result<(), S::Error> {
        self.ingest.packet(pkt, source, number, &mut self.windowing);
        self.windowing.advance(self.ingest.now());
        self.check()
    }

    /// Feed one dnstap client message (single-threaded use), data frame
    /// `frame` of `source`.
    pub fn message(
        &mut self,
        msg: &ClientMessage,
        source: &str,
        frame: u64,
    ) -> Result<(), S::Error> {
        self.ingest.message(msg, source, frame, &mut self.windowing);
        self.windowing.advance(self.ingest.now());
        self.check()
    }

    /// Feed one JSONL event (single-threaded use), read from line `line` of `source`.
    pub fn event(&mut self, ev: &JsonEvent, source: &str, line: u64) -> Result<(), S::Error> {
        self.ingest.event(ev, source, line, &mut self.windowing);
        self.windowing.advance(self.ingest.now());
        self.check()
    }

    fn check(&mut self) -> Result<(), S::Error> {
        match self.windowing.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// End of input (or shutdown): expire every pending query, close every
    /// window and write the final batch.
    pub fn finish(&mut self) -> Result<(), S::Error> {
        self.ingest.finish(&mut self.windowing);
        self.windowing.finish()
    }

    /// Replay every item of `merger` until it ends or `stop` is set, then
    /// [`finish`](Self::finish). `progress` is called every 64 Ki items (from
    /// the ingest thread) so the caller can report position.
    pub fn run(
        &mut self,
        merger: &mut Merger,
        stop: &AtomicBool,
        threads: Threads,
        progress: impl FnMut(&Merger, &Stats) + Send,
    ) -> Result<RunEnd, S::Error> {
        match threads {
            Threads::One => self.run_one(merger, stop, progress),
            Threads::Two => self.run_two(merger, stop, progress),
        }
    }

    fn run_one(
        &mut self,
        merger: &mut Merger,
        stop: &AtomicBool,
        mut progress: impl FnMut(&Merger, &Stats),
    ) -> Result<RunEnd, S::Error> {
        let mut n: u64 = 0;
        let mut end = RunEnd::Complete;
        loop {
            if stop.load(Ordering::Relaxed) {
                end = RunEnd::Interrupted;
                break;
            }
            match merger.next_item(&mut self.ingest.stats) {
                None => break,
                Some(Item::Packet {
                    packet,
                    source,
                    number,
                }) => self
                    .ingest
                    .packet(&packet, source, number, &mut self.windowing),
                Some(Item::Event {
                    event,
                    source,
                    line,
                }) => self.ingest.event(event, source, line, &mut self.windowing),
                Some(Item::Message {
                    message,
                    source,
                    frame,
                }) => self
                    .ingest
                    .message(message, source, frame, &mut self.windowing),
            }
            self.windowing.advance(self.ingest.now());
            if self.windowing.failed() {
                break;
            }
            n += 1;
            if n & 0xffff == 0 {
                progress(merger, &self.ingest.stats);
            }
        }
        self.finish()?;
        progress(merger, &self.ingest.stats);
        Ok(end)
    }

    fn run_two(
        &mut self,
        merger: &mut Merger,
        stop: &AtomicBool,
        mut progress: impl FnMut(&Merger, &Stats) + Send,
    ) -> Result<RunEnd, S::Error> {
        let (full_tx, full_rx) = mpsc::sync_channel::<LookupBatch>(CHANNEL_BATCHES);
        let (empty_tx, empty_rx) = mpsc::channel::<LookupBatch>();
        let Pipeline { ingest, windowing } = self;
        let end = std::thread::scope(|scope| {
            let producer = std::thread::Builder::new()
                .name("ingest".into())
                .spawn_scoped(scope, move || {
                    let mut batch = LookupBatch::default();
                    let mut n: u64 = 0;
                    let mut end = RunEnd::Complete;
                    let send = |batch: &mut LookupBatch, now: TsMicros| -> bool {
                        let next = empty_rx.try_recv().unwrap_or_default();
                        let mut full = std::mem::replace(batch, next);
                        full.now = now;
                        full_tx.send(full).is_ok()
                    };
                    loop {
                        if stop.load(Ordering::Relaxed) {
                            end = RunEnd::Interrupted;
                            break;
                        }
                        match merger.next_item(&mut ingest.stats) {
                            None => break,
                            Some(Item::Packet {
                                packet,
                                source,
                                number,
                            }) => ingest.packet(&packet, source, number, &mut batch),
                            Some(Item::Event {
                                event,
                                source,
                                line,
                            }) => ingest.event(event, source, line, &mut batch),
                            Some(Item::Message {
                                message,
                                source,
                                frame,
                            }) => ingest.message(message, source, frame, &mut batch),
                        }
                        n += 1;
                        // Send when full, and at least every 64 Ki items so windows
                        // keep closing on quiet (non-DNS) stretches.
                        if (batch.is_full() || n & 0xffff == 0) && !send(&mut batch, ingest.now()) {
                            return end; // the windowing half stopped (sink error)
                        }
                        if n & 0xffff == 0 {
                            progress(merger, &ingest.stats);
                        }
                    }
                    ingest.finish(&mut batch);
                    let _ = send(&mut batch, ingest.now());
                    progress(merger, &ingest.stats);
                    end
                });
            let producer = match producer {
                Ok(p) => p,
                Err(e) => panic!("cannot start the ingest thread: {e}"),
            };
            for mut b in full_rx.iter() {
                b.replay(windowing);
                windowing.advance(b.now);
                if windowing.failed() {
                    break; // dropping the receiver stops the producer
                }
                b.clear();
                let _ = empty_tx.send(b);
            }
            drop(full_rx);
            producer.join()
        });
        let end = match end {
            Ok(end) => end,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        self.windowing.finish()?;
        Ok(end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation() {
        let mut c = PipelineConfig::default();
        assert_eq!(c.validate(), Ok(()));
        c.aggregate.grace = MICROS;
        assert!(c.validate().is_err());
        c.aggregate.grace = 30 * MICROS;
        c.aggregate.window = 0;
        assert!(matches!(c.validate(), Err(PipelineConfigError::Window(0))));
    }

    #[test]
    fn jsonl_replay_is_deterministic_and_flushes_on_finish() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.jsonl");
        let mut text = String::new();
        for i in 0..200 {
            let host = if i % 2 == 0 { "10.0.0.1" } else { "10.0.0.2" };
            let rc = if i % 5 == 0 { "NXDOMAIN" } else { "NOERROR" };
            text.push_str(&format!(
                "{{\"ts\":{},\"host\":\"{host}\",\"domain\":\"h{}.example.com\",\"qtype\":\"A\",\"rcode\":\"{rc}\"}}\n",
                1_700_000_000 + i * 7,
                i % 13
            ));
        }
        std::fs::write(&p, text).unwrap();
        let run = || {
            let mut stats = Stats::default();
            let mut m = Merger::open(std::slice::from_ref(&p), &mut stats).unwrap();
            let cfg = PipelineConfig::default();
            let mut pl = Pipeline::new(&cfg, Enricher::new(cfg.enrich.clone()), VecSink::default());
            let stop = AtomicBool::new(false);
            assert_eq!(
                pl.run(&mut m, &stop, Threads::Two, |_, _| {}).unwrap(),
                RunEnd::Complete
            );
            let st = pl.stats();
            (pl.into_sink(), st)
        };
        let (a, sa) = run();
        let (b, _) = run();
        assert_eq!(a.windows, b.windows);
        assert!(
            a.batches > 1,
            "windows are flushed as time passes, not only at the end"
        );
        let total: u32 = a.windows.iter().map(|w| w.lookups).sum();
        assert_eq!(total, 200);
        assert_eq!(sa.events, 200);
        assert_eq!(sa.windows as usize, a.windows.len());
    }

    fn jsonl_at(ts: &[i64]) -> String {
        ts.iter()
            .map(|t| {
                format!("{{\"ts\":{t},\"host\":\"10.0.0.1\",\"domain\":\"a.com\",\"qtype\":\"A\",\"rcode\":0}}\n")
            })
            .collect()
    }

    fn replay_text(text: &str, threads: Threads) -> (VecSink, Stats) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.jsonl");
        std::fs::write(&p, text).unwrap();
        let mut stats = Stats::default();
        let mut m = Merger::open(&[p], &mut stats).unwrap();
        let cfg = PipelineConfig::default();
        let mut pl = Pipeline::new(&cfg, Enricher::new(cfg.enrich.clone()), VecSink::default());
        pl.run(&mut m, &AtomicBool::new(false), threads, |_, _| {})
            .unwrap();
        let st = pl.stats();
        (pl.into_sink(), st)
    }

    #[test]
    fn one_item_stamped_in_2106_does_not_make_the_rest_late() {
        let t0 = 1_700_000_000;
        let mut ts: Vec<i64> = (0..100).map(|i| t0 + i * 10).collect();
        ts.insert(50, 4_294_967_295); // 2106-02-07
        for threads in [Threads::One, Threads::Two] {
            let (sink, st) = replay_text(&jsonl_at(&ts), threads);
            assert_eq!(st.skipped(SkipReason::LateLookup), 0);
            assert_eq!(st.skipped(SkipReason::FutureTimestamp), 1);
            let ex = &st.examples()[0];
            assert_eq!((ex.unit, ex.position), ("line", 51), "{ex}");
            let total: u32 = sink.windows.iter().map(|w| w.lookups).sum();
            assert_eq!(
                total, 101,
                "nothing dropped: the outlier keeps its own window"
            );
        }
    }

    #[test]
    fn a_confirmed_jump_moves_the_clock_and_loses_nothing() {
        // a quiet hour, then traffic again: a real gap, not an outlier
        let t0 = 1_700_000_000;
        let mut ts: Vec<i64> = (0..50).map(|i| t0 + i * 10).collect();
        ts.extend((0..50).map(|i| t0 + 3_600 + i * 10));
        ts.push(t0 + 600); // now late: the clock moved with the confirmed jump
        let (sink, st) = replay_text(&jsonl_at(&ts), Threads::One);
        assert_eq!(st.skipped(SkipReason::FutureTimestamp), 0);
        assert_eq!(st.skipped(SkipReason::LateLookup), 1);
        let total: u32 = sink.windows.iter().map(|w| w.lookups).sum();
        assert_eq!(total, 100);
    }

    #[test]
    fn first_seen_records_are_written_in_bounded_batches_between_window_closes() {
        // 200 000 new registrable domains inside one window: no window closes
        // until the end, but the records reach the sink in batches.
        let t0 = 1_700_000_100; // a window boundary

        let mut text = String::new();
        for i in 0..200_000 {
            text.push_str(&format!(
                "{{\"ts\":{},\"host\":\"10.0.0.1\",\"domain\":\"n{i}x.com\",\"qtype\":\"A\",\"rcode\":0}}\n",
                t0 + i / 1000
            ));
        }
        let (sink, _) = replay_text(&text, Threads::One);
        // What a restart restores: the last snapshot's keys and the log after it.
        let fs = &sink.first_seen;
        let keys = fs.snapshot.as_ref().map_or(0, |s| s.keys()) + fs.log_records() as u64;
        assert_eq!(keys, 400_000, "sensor-wide and per-host");
        assert!(fs.snapshot.is_some(), "the log outgrew the first snapshot");
        assert!(
            sink.batches >= 400_000 / FIRST_SEEN_BATCH,
            "{}",
            sink.batches
        );
        assert_eq!(sink.windows.len(), 1);
    }

    #[test]
    fn stop_flag_still_flushes_open_windows() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.jsonl");
        std::fs::write(
            &p,
            "{\"ts\":1700000000,\"host\":\"10.0.0.1\",\"domain\":\"a.com\",\"qtype\":\"A\",\"rcode\":0}\n",
        )
        .unwrap();
        let mut stats = Stats::default();
        let mut m = Merger::open(&[p], &mut stats).unwrap();
        let cfg = PipelineConfig::default();
        let mut pl = Pipeline::new(&cfg, Enricher::new(cfg.enrich.clone()), VecSink::default());
        // Feed one item, then stop.
        if let Some(Item::Event { event, .. }) = m.next_item(&mut stats) {
            let ev = event.clone();
            pl.event(&ev, "e.jsonl", 1).unwrap();
        }
        let stop = AtomicBool::new(true);
        assert_eq!(
            pl.run(&mut m, &stop, Threads::One, |_, _| {}).unwrap(),
            RunEnd::Interrupted
        );
        assert_eq!(pl.into_sink().windows.len(), 1);
    }
}
