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
//!                                  features ──► store (SQLite, WAL, migrations)
//! ```
//!
//! ## Dependency rule
//!
//! Modules depend one way only, left to right:
//! `event/stats ← decode ← source ← pair ← enrich ← aggregate ← features ← store ← pipeline ← cli/cmd ← main`.
//! A module never names a module to its right. Third-party types (hickory
//! `Message`, pcap-parser blocks, rusqlite rows) never leave the module that
//! wraps them. The hot path passes borrowed values by reference and does not
//! allocate per packet in the common case.
//!
//! ## Time
//!
//! Every stateful stage runs on packet time ([`event::TsMicros`]); nothing reads
//! the wall clock, so the same input always produces the same windows.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod aggregate;
pub mod cli;
pub mod cmd;
pub mod decode;
pub mod enrich;
pub mod event;
pub mod features;
pub mod pair;
pub mod pipeline;
pub mod simulate;
pub mod source;
pub mod stats;
pub mod store;
