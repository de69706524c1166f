//! General network-flow detectors carried over from the systems sentineldns grew
//! from. They ride beside the DNS sensor and share the model code and the
//! store (through the binary), but read flow records (CSV) instead of packets.
//!
//! | module | reference | what it does |
//! |---|---|---|
//! | [`csvin`] | — | shared CSV reading: header aliases, BOM/CRLF/quotes, binary-file refusal, counted row skips |
//! | [`cicids`] | seed 004 (LogSentinel) | CIC-IDS2017 CICFlowMeter CSVs → fixed windows of N flows → z-score baseline + extended isolation forest → CONFIRMED / SUSPICIOUS / NORMAL alerts with pattern hints (`sentineldns flows baseline/monitor/run`, docs/flows/cicids.md) |
//! | [`zscore`] | seed 000 (streaming anomaly notebook) | per-device rolling z-score of connections / bytes / entropy plus a rare-port term; classic (reference-exact) or robust (median/MAD, gated) baseline; quantile or value threshold; stream generator |
//! | [`rules`] | seed 003 (stream rule engine) | per-source sliding-window rules (unique endpoints, bytes), idle-TTL eviction, bounded pending queue, micro-batched triage; generic over the event (flows, HTTP logs, DNS domains) |
//! | [`drift`] | seed 001 | ADWIN concept drift over a score stream; KL / L1 divergence of categorical columns (UNSW proto/state/service, DNS qtype/rcode) |
//! | [`unsw`] | seed 001 | UNSW-NB15 records: feature columns, counted skips, category vocabularies, stratified split |
//! | [`classifier`] | seed 001 | seeded random forest (smartcore, exported to own trees) scoring flows; checksummed model file |
//! | [`burst`] | seed 001 | burst alerts: ≥ N anomalies within W of event time, one alert per burst, context payload |
//!
//! | [`alert`] | — | the detector-neutral [`alert::FlowAlert`] and the [`alert::AlertSink`] seam that keeps alerts |
//! | [`cli`], [`cmd`] | — | the `flows` subcommands: clap arguments and runners, mounted by the `sentineldns` binary |
//!
//! Dependency rule: this crate depends on `sentineldns-model` (forest, model
//! container, metrics, packet time) only. It knows neither the DNS pipeline
//! nor the store: alerts leave through [`alert::AlertSink`], which the
//! `sentineldns` binary implements over its SQLite store. Nothing in the DNS
//! sensor depends on this crate; only the binary does.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod alert;
pub mod burst;
pub mod cicids;
pub mod classifier;
pub mod cli;
pub mod cmd;
pub mod csvin;
pub mod drift;
pub mod fuzzing;
pub mod rules;
pub mod unsw;
pub mod zscore;
