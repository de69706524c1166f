//! # sentineldns
//!
//! A DNS-focused network sensor. It replays captures (pcap, pcapng, gzip-compressed
//! either, JSONL DNS events) — and, behind the `capture` feature, reads live
//! interfaces — decodes every DNS message, pairs queries with responses into
//! lookups, enriches each lookup (registrable domain, lexical risk, newly-seen),
//! and aggregates them per client host into tumbling windows on packet time that
//! are stored in SQLite.
//!
//! ## Data flow
//!
//! ```text
//!  files ──► source ──RawPacket──► decode ──DnsMessage──► pair ──Lookup──┐
//!  (pcap, pcapng, .gz)  (link→IP→defrag→UDP/TCP reassembly→DNS)          │
//!  JSONL ──► source ───────────────────────────────────────────Lookup──┤
//!                                                                      ▼
//!                                  enrich (PSL, lexical risk, first-seen)
//!                                                                      ▼
//!                                  aggregate (per-host windows, watermark)
//!                                                                      ▼
//!                                  features ──► detect (score, label, reasons)
//!                                                                      ▼
//!                         store (SQLite, WAL, migrations) · output (NDJSON,
//!                         webhook alerts, Prometheus /metrics + /healthz)
//! ```
//!
//! ## Dependency rule
//!
//! Modules depend one way only, left to right:
//! `event/stats ← decode ← source ← pair ← enrich ← aggregate ← features ← detect ← store/output ← pipeline ← config ← cli/cmd ← main`.
//! A module never names a module to its right. Third-party types (hickory
//! `Message`, pcap-parser blocks, rusqlite rows) never leave the module that
//! wraps them. The hot path passes borrowed values by reference and does not
//! allocate per packet in the common case.
//!
//! ## Time
//!
//! Every stateful stage runs on packet time ([`event::TsMicros`]); nothing reads
//! the wall clock, so the same input always produces the same windows.
//!
//! ## Example
//!
//! Replay a JSONL file into windows collected in memory:
//!
//! ```
//! use sentineldns::enrich::Enricher;
//! use sentineldns::pipeline::{Pipeline, PipelineConfig, RunEnd, Threads, VecSink};
//! use sentineldns::source::merge::Merger;
//! use sentineldns::stats::Stats;
//! use std::sync::atomic::AtomicBool;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("events.jsonl");
//! std::fs::write(&path, concat!(
//!     r#"{"ts": 1700000000, "host": "10.0.0.7", "domain": "www.example.co.uk", "qtype": "A", "rcode": "NOERROR"}"#, "\n",
//!     r#"{"ts": 1700000001, "host": "10.0.0.7", "domain": "xkqjzvtrbw.info", "qtype": "A", "rcode": "NXDOMAIN"}"#, "\n",
//! ))?;
//! let cfg = PipelineConfig::default();
//! let mut stats = Stats::default();
//! let mut merger = Merger::open(&[path], &mut stats)?;
//! let mut pipeline = Pipeline::new(&cfg, Enricher::new(cfg.enrich.clone()), VecSink::default());
//! let end = pipeline.run(&mut merger, &AtomicBool::new(false), Threads::One, |_, _| {})?;
//! assert_eq!(end, RunEnd::Complete);
//! let windows = pipeline.into_sink().windows;
//! assert_eq!(windows.len(), 1);
//! assert_eq!(windows[0].lookups, 2);
//! assert_eq!(windows[0].nxdomain, 1);
//! assert_eq!(windows[0].unique_registrable, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod aggregate;
#[cfg(feature = "capture")]
pub mod capture;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod decode;
pub mod detect;
pub mod enrich;
pub mod evaluate;
pub mod event;
pub mod features;
pub mod flows;
pub mod fuzzing;
pub mod model;
pub mod output;
pub mod pair;
pub mod pipeline;
pub mod simulate;
pub mod source;
pub mod stats;
pub mod store;
