//! `sentineldns flows …`: runs the `sentineldns-flows` commands and keeps
//! their alerts the way DNS verdicts are kept: in the SQLite store (one run,
//! one `flow_alerts` row each) and in the NDJSON output (one ECS-shaped line
//! each). The conversion happens here, so neither the store nor the outputs
//! know a flow type. `flows rules` with triage on (`[triage]`, `--triage`)
//! hands each flagged source to the language-model triage
//! ([`sentineldns::triage::flows::FlowTriage`]).

use crate::cli::{FlowsCli, TriageArgs};
use anyhow::Context;
use sentineldns::config::{Overrides, Settings};
use sentineldns::output::metrics::Metrics;
use sentineldns::output::ndjson::{NdjsonConfig, NdjsonWriter};
use sentineldns::store::{FlowAlertRecord, Store};
use sentineldns::triage::flows::FlowTriage;
use sentineldns::triage::{Provider, TriageConfig};
use sentineldns_flows::alert::{AlertBatch, AlertSink, FlowAlert};
use sentineldns_flows::cli::rules::RulesArgs;
use sentineldns_flows::cli::{FlowsArgs, FlowsCommand};
use serde_json::{json, Value};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// Run a `flows` subcommand, its `--db` / `--ndjson` alerts going to the
/// store and the NDJSON output; `config` is `--config`.
pub fn run(a: FlowsCli, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    match a.flows.command {
        FlowsCommand::Rules(r) => rules(r, &a.triage, config),
        command => sentineldns_flows::cmd::run(FlowsArgs { command }, &mut KeepAlerts),
    }
}

/// `flows rules`, its flagged sources triaged by a language model when
/// triage is on. The model never holds the rules up: contexts are offered
/// without waiting, and its verdicts are printed as they come.
fn rules(r: RulesArgs, flags: &TriageArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let cfg = triage_config(flags, config)?;
    match FlowTriage::start(&cfg, Arc::default()).context("cannot start triage")? {
        Some(mut t) => sentineldns_flows::cmd::rules::run_with(r, &mut t),
        None => sentineldns_flows::cmd::rules::run(r),
    }
}

/// `[triage]` of the configuration file (and environment) with the triage
/// flags laid over it, as `replay` builds it. `--triage off` reads no file.
fn triage_config(flags: &TriageArgs, config: Option<&Path>) -> anyhow::Result<TriageConfig> {
    if flags.triage == Some(Provider::Off) {
        return Ok(TriageConfig::default());
    }
    let mut s = Settings::resolve(config, &Overrides::default())?;
    if let Some(f) = &s.file {
        tracing::info!(file = %f.display(), "configuration loaded");
    }
    Ok(flags.apply(std::mem::take(&mut s.config.triage)))
}

/// [`AlertSink`] over the SQLite store and the NDJSON output.
pub struct KeepAlerts;

impl AlertSink for KeepAlerts {
    fn keep(&mut self, b: AlertBatch<'_>) -> anyhow::Result<String> {
        let mut went = Vec::new();
        if let Some(path) = b.ndjson {
            let cfg = NdjsonConfig {
                path: path.to_path_buf(),
                ..NdjsonConfig::default()
            };
            let mut w = NdjsonWriter::open(&cfg, Arc::new(Metrics::default()))?;
            for a in b.alerts {
                w.write_value(&ecs_line(a));
            }
            w.finish()?;
            went.push(path.display().to_string());
        }
        if let Some(db) = b.db {
            let mut store = Store::open(db)?;
            let run = store.begin_run(b.command, b.inputs, 0)?;
            let rows: Vec<FlowAlertRecord> = b.alerts.iter().map(record).collect();
            store.insert_flow_alerts(Some(run), &rows)?;
            store.finish_run(run, "complete", &b.summary.to_string())?;
            went.insert(0, format!("{} (run {run})", db.display()));
        }
        Ok(went.join(" and "))
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

/// ECS severity number of a flow-alert severity bucket.
fn ecs_severity(s: &str) -> u8 {
    match s {
        "CRITICAL" => 4,
        "HIGH" => 3,
        "MEDIUM" => 2,
        _ => 1,
    }
}

/// A flow alert as one NDJSON line, shaped like the DNS window lines
/// (`event.*` after ECS, the detector's own fields under `sentineldns`).
fn ecs_line(a: &FlowAlert) -> Value {
    let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
    // Flow files carry no clock the alert could take: `@timestamp` is when
    // the alert was made (`event.created` says the same).
    let now = sentineldns::time::rfc3339_micros(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX)),
    );
    json!({
        "@timestamp": now,
        "ecs": { "version": sentineldns::output::ecs::ECS_VERSION },
        "event": {
            "kind": "alert",
            "category": ["intrusion_detection", "network"],
            "type": ["info"],
            "module": "sentineldns",
            "dataset": "sentineldns.flow_alert",
            "created": now,
            "severity": ecs_severity(&a.severity),
            "action": a.decision,
        },
        "observer": sentineldns::output::ecs::observer_value(),
        "rule": {
            "name": a.pattern,
            "ruleset": format!("sentineldns-flows-{}", a.detector),
            "category": "network flows",
        },
        "file": { "path": a.source_file },
        "sentineldns": {
            "flow_alert": {
                "detector": a.detector,
                "window_index": a.window_index,
                "first_flow": a.first_flow,
                "flows": a.flows,
                "decision": a.decision,
                "severity": a.severity,
                "anomaly_index": a.anomaly_index,
                "forest_score": a.forest_score,
                "pattern": a.pattern,
                "confidence": a.confidence,
                "action": a.action,
                "indicators": parse(&a.indicators),
                "features": parse(&a.features),
                "attack_ratio": a.attack_ratio,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecs_line_keeps_every_field_and_parses_the_json_columns() {
        let a = FlowAlert {
            detector: "cicids".into(),
            source_file: "x.csv".into(),
            window_index: 3,
            first_flow: 300,
            flows: 100,
            decision: "CONFIRMED".into(),
            severity: "HIGH".into(),
            anomaly_index: 12.5,
            forest_score: Some(0.71),
            pattern: "PortScan".into(),
            confidence: "HIGH".into(),
            action: "block".into(),
            indicators: r#"[{"feature":"unique_dst_ports","z":9.1}]"#.into(),
            features: r#"{"flows":100}"#.into(),
            attack_ratio: None,
        };
        let v = ecs_line(&a);
        assert_eq!(v["event"]["dataset"], "sentineldns.flow_alert");
        assert_eq!(v["event"]["severity"], 3);
        let f = &v["sentineldns"]["flow_alert"];
        assert_eq!(f["indicators"][0]["z"], 9.1);
        assert_eq!(f["features"]["flows"], 100);
        assert_eq!(f["attack_ratio"], Value::Null);
        assert_eq!(record(&a).pattern, "PortScan");
        // A column that is not JSON becomes null rather than failing the line.
        let bad = FlowAlert {
            indicators: "not json".into(),
            ..a
        };
        assert_eq!(
            ecs_line(&bad)["sentineldns"]["flow_alert"]["indicators"],
            Value::Null
        );
    }
}
