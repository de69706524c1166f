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
//! One packet, from the reader to SQLite, by module (no stage lives in the
//! CLI layer):
//!
//! ```text
//!  files ──► source ──RawPacket──► decode ──DnsMessage──► pair ──Lookup──┐
//!  (pcap, pcapng, .gz)  (link→IP→defrag→UDP/TCP reassembly→DNS)          │
//!  live  ──► capture (feature `capture`) ──RawPacket──► decode ──► pair ─┤
//!  JSONL ──► source ───────────────────────────────────────────Lookup──┤
//!  dnstap ─► dnstap (file or live) ──DNS wire──► decode::dns ──► pair ─┤
//!                                                                      ▼
//!                                  enrich (PSL, lexical risk, first-seen)
//!                                                                      ▼
//!                                  aggregate (per-host windows, watermark)
//!            pipeline = source/decode/pair/enrich/aggregate ───────────┤
//!                                                                      ▼
//!                                  features ──► detect (score, label, reasons)
//!                                                                      ▼
//!                                  incident (flagged windows → incidents)
//!                                                                      ▼
//!                         store (SQLite, WAL, migrations) · output (NDJSON,
//!                         incident alerts, Prometheus /metrics + /healthz)
//!            sensor = model + enricher + store + outputs + run row around
//!                     the pipeline; sensor::StoreSink = detect → incident
//!                     → store → output
//! ```
//!
//! [`sensor::Sensor`] is the assembly every verdict-producing command uses:
//! opened once from the loaded [`config::Settings`], run over a
//! [`source::merge::Merger`] (or fed live packets) until a stop flag,
//! finished into a [`sensor::RunReport`]. The binary's `cmd` layer only
//! turns flags into settings, draws progress and prints summaries.
//!
//! ## Workspace
//!
//! | crate | holds | depends on |
//! |---|---|---|
//! | `sentineldns-model` (`crates/model`) | forest, model bundle, the one model container format, classification metrics, packet time | — |
//! | `sentineldns-flows` (`crates/flows`) | the flow-record detectors and their `flows` arguments and runners | model |
//! | `sentineldns` (this crate) | the DNS sensor library | model |
//! | `sentineldns-tools` (`tools`) | data-building programs: the embedded lists under `data/`, benchmark captures | this crate |
//! | the `sentineldns` binary (`src/main.rs`, `src/cli/`, `src/cmd/`) | one CLI: argument types, one runner per subcommand; stores flow alerts through `sentineldns_flows::alert::AlertSink` | all three |
//!
//! [`model`] re-exports `sentineldns-model`, so `sentineldns::model::Bundle`
//! and `sentineldns_model::Bundle` are the same type.
//!
//! ## Dependency rule
//!
//! The library holds no command-line code: `cli` and `cmd` are modules of
//! the binary, and only they use `anyhow` (library errors are typed
//! `thiserror` enums, e.g. [`sensor::SensorError`]); nothing in the library
//! names the flow detectors. Within the library a module only names modules
//! in its own layer or the layers below it:
//!
//! 1. `event`, `time` (packet time and its formatting, from `model`), `stats`, `model`,
//!    `incident` (→ `model`), `evaluate` (→ `incident`), `simulate` (no other module);
//! 2. `decode`, `pair` (→ 1); `source` (→ `decode`); `enrich` (→ `decode`);
//!    `aggregate` (→ `enrich`); `features` (→ `aggregate`); `detect` (→
//!    `aggregate`, `enrich`, `model`);
//! 3. `pipeline` (source → decode → pair → enrich → aggregate; it knows no
//!    detector, store or output);
//! 4. `store`, `output`, `config` (`config` describes the others' settings;
//!    `output` checks its settings with `config`'s ranges);
//! 5. `sensor` (→ `config`, `pipeline`, `detect`, `store`, `output`; also
//!    `sensor::check`, the `config check` report, which loads the model);
//!    `capture` (live reader → `source`, `stats`); `fuzzing` (entry points for
//!    the fuzz targets);
//! 6. `serve` (the HTTP API of `sentineldns serve`: read-only `store`
//!    queries, and `predict` through `pipeline`, `sensor` and `detect`; flow
//!    records through a scorer the binary supplies);
//! 7. then, in the binary: `cli` (argument types → `config`, `output`,
//!    `sentineldns_flows::cli`) ← `cmd` (one file per subcommand) ← `main`.
//!
//! Third-party types (etherparse slices, pcap-parser blocks, rusqlite rows)
//! never leave the module that wraps them. The hot path passes borrowed values
//! by reference and does not allocate per packet in the common case.
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
pub mod config;
pub mod decode;
pub mod detect;
pub mod dnstap;
pub mod enrich;
pub mod evaluate;
pub mod event;
pub mod features;
#[cfg(feature = "kafka")]
pub mod fleet;
pub mod fuzzing;
pub mod incident;
pub mod learn;
pub use sentineldns_model as model;
pub mod output;
pub mod pair;
pub mod pipeline;
pub mod sensor;
pub mod serve;
pub mod simulate;
pub mod source;
pub mod stats;
pub mod store;
pub mod time;
pub mod triage;
