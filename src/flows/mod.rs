//! General network-flow detectors carried over from the systems sentineldns grew
//! from. They ride beside the DNS core and share its store, explanations and
//! outputs, but read flow records (CSV) instead of packets.
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
//! Dependency rule: `flows` depends on `event`/`stats`/`model`/`store` (and the
//! metric functions of `evaluate::metrics`) only
//! (never on the DNS pipeline), and nothing in the DNS core depends on `flows`.

pub mod burst;
pub mod cicids;
pub mod classifier;
pub mod csvin;
pub mod drift;
pub mod rules;
pub mod unsw;
pub mod zscore;
