//! General network-flow detectors carried over from the systems sentineldns grew
//! from. They ride beside the DNS core and share its store, explanations and
//! outputs, but read flow records (CSV) instead of packets.
//!
//! | module | reference | what it does |
//! |---|---|---|
//! | [`csvin`] | — | shared CSV reading: header aliases, BOM/CRLF/quotes, binary-file refusal, counted row skips |
//! | [`drift`] | seed 001 | ADWIN concept drift over a score stream; KL / L1 divergence of categorical columns (UNSW proto/state/service, DNS qtype/rcode) |
//! | [`unsw`] | seed 001 | UNSW-NB15 records: feature columns, counted skips, category vocabularies, stratified split |
//! | [`classifier`] | seed 001 | seeded random forest (smartcore, exported to own trees) scoring flows; checksummed model file |
//! | [`burst`] | seed 001 | burst alerts: ≥ N anomalies within W of event time, one alert per burst, context payload |
//!
//! Dependency rule: `flows` depends on `event`/`stats`/`model`/`store` (and the
//! metric functions of `evaluate::metrics`) only
//! (never on the DNS pipeline), and nothing in the DNS core depends on `flows`.

pub mod burst;
pub mod classifier;
pub mod csvin;
pub mod drift;
pub mod unsw;
