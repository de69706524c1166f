//! `sentineldns flows …`: runs the `sentineldns-flows` commands and keeps
//! their alerts in the store, converted here so the store knows no flow type.

use sentineldns::store::{FlowAlertRecord, Store};
use sentineldns_flows::alert::{AlertBatch, AlertSink, FlowAlert};
use sentineldns_flows::cli::FlowsArgs;
use std::process::ExitCode;

/// Run a `flows` subcommand, its `--db` alerts going to the SQLite store.
pub fn run(a: FlowsArgs) -> anyhow::Result<ExitCode> {
    sentineldns_flows::cmd::run(a, &mut StoreAlerts)
}

/// [`AlertSink`] over the SQLite store: one run row per command, one
/// `flow_alerts` row per alert, in one transaction.
pub struct StoreAlerts;

impl AlertSink for StoreAlerts {
    fn keep(&mut self, b: AlertBatch<'_>) -> anyhow::Result<String> {
        let mut store = Store::open(b.db)?;
        let run = store.begin_run(b.command, b.inputs, 0)?;
        let rows: Vec<FlowAlertRecord> = b.alerts.iter().map(record).collect();
        store.insert_flow_alerts(Some(run), &rows)?;
        store.finish_run(run, "complete", &b.summary.to_string())?;
        Ok(format!("{} (run {run})", b.db.display()))
    }
}

/// A flow alert as the store's row.
fn record(a: &FlowAlert) -> FlowAlertRecord {
    FlowAlertRecord {
        detector: a.detector.clone(),
        source_file: a.source_file.clone(),
        window_index: a.window_index,
        first_flow: a.first_flow,
        flows: a.flows,
        decision: a.decision.clone(),
        severity: a.severity.clone(),
        anomaly_index: a.anomaly_index,
        forest_score: a.forest_score,
        pattern: a.pattern.clone(),
        confidence: a.confidence.clone(),
        action: a.action.clone(),
        indicators: a.indicators.clone(),
        features: a.features.clone(),
        attack_ratio: a.attack_ratio,
    }
}
