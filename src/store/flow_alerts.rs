//! `flow_alerts`: alerted windows of the flow detectors, as detector-neutral
//! rows (the binary converts the flow crate's alerts into [`FlowAlertRecord`]).

use super::{Store, StoreError};
use rusqlite::params;
use serde::Serialize;

/// One alerted window of a flow detector, as stored in `flow_alerts`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowAlertRecord {
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

impl Store {
    /// Insert flow-detector alerts (optionally tied to a run) in one
    /// transaction: all rows or none. Returns the number inserted.
    pub fn insert_flow_alerts(
        &mut self,
        run: Option<i64>,
        alerts: &[FlowAlertRecord],
    ) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let wrap = |e| StoreError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let now = chrono::Utc::now().to_rfc3339();
        let tx = self.conn.transaction().map_err(wrap)?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO flow_alerts (run_id, detector, source_file, window_index, first_flow, flows, decision, severity, anomaly_index, forest_score, pattern, confidence, action, indicators, features, attack_ratio, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .map_err(wrap)?;
            for a in alerts {
                st.execute(params![
                    run,
                    a.detector,
                    a.source_file,
                    a.window_index,
                    a.first_flow,
                    a.flows,
                    a.decision,
                    a.severity,
                    a.anomaly_index,
                    a.forest_score,
                    a.pattern,
                    a.confidence,
                    a.action,
                    a.indicators,
                    a.features,
                    a.attack_ratio,
                    now
                ])
                .map_err(wrap)?;
            }
        }
        tx.commit().map_err(wrap)?;
        Ok(alerts.len())
    }

    /// Stored flow-detector alerts, oldest first, optionally only one run's
    /// and/or one detector's.
    pub fn list_flow_alerts(
        &self,
        run: Option<i64>,
        detector: Option<&str>,
    ) -> Result<Vec<FlowAlertRecord>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT detector, source_file, window_index, first_flow, flows, decision, severity, anomaly_index, forest_score, pattern, confidence, action, indicators, features, attack_ratio FROM flow_alerts WHERE (?1 IS NULL OR run_id = ?1) AND (?2 IS NULL OR detector = ?2) ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params![run, detector], |r| {
                Ok(FlowAlertRecord {
                    detector: r.get(0)?,
                    source_file: r.get(1)?,
                    window_index: r.get(2)?,
                    first_flow: r.get(3)?,
                    flows: r.get(4)?,
                    decision: r.get(5)?,
                    severity: r.get(6)?,
                    anomaly_index: r.get(7)?,
                    forest_score: r.get(8)?,
                    pattern: r.get(9)?,
                    confidence: r.get(10)?,
                    action: r.get(11)?,
                    indicators: r.get(12)?,
                    features: r.get(13)?,
                    attack_ratio: r.get(14)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}
