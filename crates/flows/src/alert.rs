//! The seam between the flow detectors and whatever keeps their alerts.
//!
//! A detector turns each alerted window into a detector-neutral [`FlowAlert`];
//! a command asked to keep them (`--db`, `--ndjson`) hands the run's alerts
//! to an [`AlertSink`]. This crate knows no database: the `sentineldns` binary
//! implements the sink over its store, converting [`FlowAlert`] into the
//! store's own row type, the same way DNS verdicts reach it.

use std::path::Path;

/// One alerted window of a flow detector.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FlowAlert {
    /// Detector name (`"cicids"`, …).
    pub detector: String,
    /// Input file the window came from.
    pub source_file: String,
    /// 0-based window number in the file.
    pub window_index: i64,
    /// 0-based index of the window's first valid flow.
    pub first_flow: i64,
    /// Flows in the window.
    pub flows: i64,
    /// Final decision (`CONFIRMED`, `SUSPICIOUS`).
    pub decision: String,
    /// Severity bucket.
    pub severity: String,
    /// Anomaly index.
    pub anomaly_index: f64,
    /// Isolation-forest score, if the detector has one.
    pub forest_score: Option<f64>,
    /// Likely pattern.
    pub pattern: String,
    /// Confidence in the pattern.
    pub confidence: String,
    /// Suggested action.
    pub action: String,
    /// Top indicators as JSON.
    pub indicators: String,
    /// Window features as a JSON object.
    pub features: String,
    /// Share of labelled attack flows, when the input had labels.
    pub attack_ratio: Option<f64>,
}

/// One command's alerts, ready to be kept.
#[derive(Debug)]
pub struct AlertBatch<'a> {
    /// The SQLite store to keep them in (`--db FILE`), if asked for.
    pub db: Option<&'a Path>,
    /// The NDJSON output to write them to (`--ndjson PATH|-`), if asked for.
    pub ndjson: Option<&'a Path>,
    /// The command that produced them (`"flows monitor"`).
    pub command: &'a str,
    /// Its input files, as given.
    pub inputs: &'a [String],
    /// The alerts, in input order.
    pub alerts: &'a [FlowAlert],
    /// A JSON summary of the run (counts, settings) kept beside them.
    pub summary: &'a serde_json::Value,
}

/// Keeps flow alerts; implemented by the binary over its store and its
/// NDJSON output.
pub trait AlertSink {
    /// Keep one command's alerts (one run in the store, one line each in the
    /// NDJSON output). Returns a short description of where they went
    /// (`"sentineldns.db (run 7)"`) for the summary line.
    fn keep(&mut self, batch: AlertBatch<'_>) -> anyhow::Result<String>;
}
