//! The pipeline: wires source → decode → pair → enrich → aggregate → sink.
//!
//! [`Pipeline`] owns every stateful stage and drives them on packet time. Closed
//! windows, together with the first-seen records that accumulated since the
//! previous batch, are handed to a [`WindowSink`] (the SQLite store plus any
//! output printer in the CLI; a `Vec` in tests) as one batch, which the store
//! writes in one transaction. [`Pipeline::finish`] pairs up or expires what is
//! left, closes every open window and writes the last batch, so ending the
//! input — or a SIGINT/SIGTERM that stops the read loop — loses nothing that was
//! already read.

use crate::aggregate::{AggregateConfig, Aggregator, HostWindow};
use crate::decode::{DecodeConfig, Decoder, Location};
use crate::enrich::{EnrichConfig, Enricher, FirstSeenRecord};
use crate::event::DnsService;
use crate::event::{Lookup, LookupOutcome, RawPacket, TsMicros, MICROS};
use crate::pair::{PairConfig, Pairer};
use crate::source::jsonl::JsonEvent;
use crate::source::merge::{Item, Merger};
use crate::stats::{SkipReason, Stats};
use std::sync::atomic::{AtomicBool, Ordering};

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
}

/// Invalid pipeline settings.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
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
    pub fn validate(&self) -> Result<(), ConfigError> {
        let w = self.aggregate.window;
        if !(MICROS..=86_400 * MICROS).contains(&w) {
            return Err(ConfigError::Window(w));
        }
        if self.aggregate.grace < self.pair.timeout || self.aggregate.grace >= w {
            return Err(ConfigError::Grace {
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
        first_seen: &[FirstSeenRecord],
    ) -> Result<(), Self::Error>;
}

/// Collects everything in memory (tests, evaluation).
#[derive(Debug, Default)]
pub struct VecSink {
    /// Windows received.
    pub windows: Vec<HostWindow>,
    /// First-seen records received.
    pub first_seen: Vec<FirstSeenRecord>,
    /// Batches received.
    pub batches: usize,
}

impl WindowSink for VecSink {
    type Error = std::convert::Infallible;
    fn write(&mut self, w: &[HostWindow], f: &[FirstSeenRecord]) -> Result<(), Self::Error> {
        self.windows.extend_from_slice(w);
        self.first_seen.extend_from_slice(f);
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

/// The stateful pipeline.
pub struct Pipeline<S: WindowSink> {
    decoder: Decoder,
    pairer: Pairer,
    enricher: Enricher,
    aggregator: Aggregator,
    /// Source and decoder counters.
    stats: Stats,
    /// Pairing counters (kept apart so stages can borrow them independently).
    pair_stats: Stats,
    sink: S,
    closed: Vec<HostWindow>,
    first_seen: Vec<FirstSeenRecord>,
    max_ts: TsMicros,
    last_decoder_expiry: TsMicros,
}

fn lookup_into(enricher: &mut Enricher, aggregator: &mut Aggregator, l: &Lookup<'_>) {
    let e = enricher.enrich(l);
    aggregator.record(l, &e);
}

impl<S: WindowSink> Pipeline<S> {
    /// Build a pipeline around an enricher (already preloaded with first-seen
    /// state) and a sink.
    pub fn new(cfg: &PipelineConfig, enricher: Enricher, sink: S) -> Self {
        Pipeline {
            decoder: Decoder::new(cfg.decode),
            pairer: Pairer::new(cfg.pair),
            enricher,
            aggregator: Aggregator::new(cfg.aggregate),
            stats: Stats::default(),
            pair_stats: Stats::default(),
            sink,
            closed: Vec::new(),
            first_seen: Vec::new(),
            max_ts: TsMicros::MIN,
            last_decoder_expiry: TsMicros::MIN,
        }
    }

    /// Counters so far (all stages combined).
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        s.merge(&self.pair_stats);
        s.skip_n(SkipReason::LateLookup, self.aggregator.late_lookups());
        s
    }

    /// Mutable access to the source/decoder counters (sources count into them).
    pub fn source_stats(&mut self) -> &mut Stats {
        &mut self.stats
    }

    /// The sink.
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// Take the sink back.
    pub fn into_sink(self) -> S {
        self.sink
    }

    /// Newest packet time seen.
    pub fn max_ts(&self) -> Option<TsMicros> {
        (self.max_ts != TsMicros::MIN).then_some(self.max_ts)
    }

    /// Feed one captured frame.
    pub fn packet(
        &mut self,
        pkt: &RawPacket<'_>,
        source: &str,
        number: u64,
    ) -> Result<(), S::Error> {
        self.max_ts = self.max_ts.max(pkt.ts);
        let Pipeline {
            decoder,
            pairer,
            enricher,
            aggregator,
            stats,
            pair_stats,
            ..
        } = self;
        let loc = Location {
            source,
            packet: number,
        };
        decoder.decode(pkt, &loc, stats, |m| {
            pairer.push(m, pair_stats, |l| lookup_into(enricher, aggregator, l));
        });
        self.tick()
    }

    /// Feed one JSONL event.
    pub fn event(&mut self, ev: &JsonEvent) -> Result<(), S::Error> {
        let Some(client) = ev.host else { return Ok(()) };
        self.max_ts = self.max_ts.max(ev.ts);
        self.stats.events += 1;
        self.stats.lookups += 1;
        let l = Lookup {
            ts: ev.ts,
            client,
            server: ev.server,
            transport: None,
            service: DnsService::Dns,
            qname: &ev.domain,
            qtype: ev.qtype,
            rcode: ev.rcode,
            answers: ev.answers,
            min_ttl: ev.ttl,
            latency_us: ev.latency_us,
            query_bytes: 0,
            response_bytes: ev.response_bytes,
            outcome: LookupOutcome::Event,
            label: ev.label.as_deref(),
            scenario: ev.scenario.as_deref(),
        };
        lookup_into(&mut self.enricher, &mut self.aggregator, &l);
        self.tick()
    }

    /// Advance time-driven state to `max_ts`: expire pairs, fragments and flows,
    /// close windows past the watermark and hand them to the sink.
    fn tick(&mut self) -> Result<(), S::Error> {
        let now = self.max_ts;
        let Pipeline {
            pairer,
            enricher,
            aggregator,
            pair_stats,
            ..
        } = self;
        pairer.expire(now, pair_stats, |l| lookup_into(enricher, aggregator, l));
        if now.saturating_sub(self.last_decoder_expiry) >= MICROS || now < self.last_decoder_expiry
        {
            self.last_decoder_expiry = now;
            self.decoder.expire(now, &mut self.stats);
        }
        self.aggregator.advance(now, &mut self.closed);
        if !self.closed.is_empty() {
            self.emit()?;
        }
        Ok(())
    }

    fn emit(&mut self) -> Result<(), S::Error> {
        self.enricher.drain_new_first_seen(&mut self.first_seen);
        self.stats.windows += self.closed.len() as u64;
        let r = self.sink.write(&self.closed, &self.first_seen);
        self.closed.clear();
        self.first_seen.clear();
        r
    }

    /// End of input (or shutdown): expire every pending query, close every
    /// window and write the final batch.
    pub fn finish(&mut self) -> Result<(), S::Error> {
        let Pipeline {
            pairer,
            enricher,
            aggregator,
            pair_stats,
            ..
        } = self;
        pairer.flush_all(pair_stats, |l| lookup_into(enricher, aggregator, l));
        self.aggregator.flush_all(&mut self.closed);
        self.emit()
    }

    /// Replay every item of `merger` until it ends or `stop` is set, then
    /// [`finish`](Self::finish). `progress` is called every 64 Ki items with the
    /// merger so the caller can report position.
    pub fn run(
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
            let item = merger.next_item(&mut self.stats);
            match item {
                None => break,
                Some(Item::Packet {
                    packet,
                    source,
                    number,
                }) => {
                    // Copy out what we need; the borrow of `merger` ends here.
                    self.packet(&packet, source, number)?;
                }
                Some(Item::Event { event, .. }) => self.event(event)?,
            }
            n += 1;
            if n & 0xffff == 0 {
                progress(merger, &self.stats);
            }
        }
        self.finish()?;
        progress(merger, &self.stats);
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
        assert!(matches!(c.validate(), Err(ConfigError::Window(0))));
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
            assert_eq!(pl.run(&mut m, &stop, |_, _| {}).unwrap(), RunEnd::Complete);
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
            pl.event(&ev).unwrap();
        }
        let stop = AtomicBool::new(true);
        assert_eq!(
            pl.run(&mut m, &stop, |_, _| {}).unwrap(),
            RunEnd::Interrupted
        );
        assert_eq!(pl.into_sink().windows.len(), 1);
    }
}
