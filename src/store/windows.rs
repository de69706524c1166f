//! Windows: the batch write (windows and their first-seen records in one
//! transaction) and the queries `windows` and `alerts` print.

use super::first_seen::write_first_seen;
use super::incidents::upsert_incidents;
use super::read::{QtypeMix, RcodeMix};
use super::schema::window_columns;
use super::{json, us_to_s, Pruned, Store, StoreError};
use crate::aggregate::HostWindow;
use crate::detect::Verdict;
use crate::enrich::FirstSeenDelta;
use crate::event::MICROS;
use crate::features::{self, FEATURE_NAMES, N_FEATURES};
use crate::incident::IncidentBatch;
use rusqlite::{params_from_iter, Transaction};
use serde::Serialize;

/// A stored window as read back by queries (what `sentineldns windows` prints).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StoredWindow {
    /// Row id.
    pub id: i64,
    /// Run that produced it.
    pub run_id: i64,
    /// Client host.
    pub host: String,
    /// Window start, unix seconds.
    pub window_start: i64,
    /// Window end, unix seconds.
    pub window_end: i64,
    /// Lookups.
    pub lookups: i64,
    /// Features in [`FEATURE_NAMES`] order.
    pub features: Vec<f64>,
    /// Top domains (JSON text).
    pub top_domains: String,
    /// Riskiest domains (JSON text).
    pub risky_domains: String,
    /// Ground truth label.
    pub truth_label: Option<String>,
    /// Ground truth scenario.
    pub truth_scenario: Option<String>,
    /// Anomaly score, once scored.
    pub score: Option<f64>,
    /// Verdict label, once scored.
    pub label: Option<String>,
    /// Reasons (JSON text), once scored.
    pub reasons: Option<String>,
    /// Explanation, once scored.
    pub explanation: Option<String>,
}

/// Filter for [`Store::query_windows`].
#[derive(Debug, Clone, Default)]
pub struct WindowQuery {
    /// Only this host.
    pub host: Option<String>,
    /// Windows starting at or after (unix seconds).
    pub since: Option<i64>,
    /// Windows starting before (unix seconds).
    pub until: Option<i64>,
    /// Only this run.
    pub run: Option<i64>,
    /// At most this many rows (newest last).
    pub limit: Option<u32>,
    /// Only windows whose verdict is one of these labels.
    pub labels: Vec<String>,
}

/// Detector state rows to upsert with a batch ([`Store::write_batch_with_state`]).
#[derive(Debug, Default, Clone)]
pub struct StateRows {
    /// `(detector, key, updated (unix s, packet time), state)`.
    pub rows: Vec<(&'static str, String, i64, String)>,
    /// Per detector, rows last updated before this time (unix s) are
    /// deleted in the same transaction.
    pub prune_before: Vec<(&'static str, i64)>,
}

impl StateRows {
    /// Empty it for the next batch.
    pub fn clear(&mut self) {
        self.rows.clear();
        self.prune_before.clear();
    }
}

fn upsert_states(tx: &rusqlite::Transaction<'_>, s: &StateRows) -> rusqlite::Result<()> {
    if !s.rows.is_empty() {
        let mut st = tx.prepare_cached(
            "INSERT INTO detector_state (detector, key, updated, state) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (detector, key) DO UPDATE SET updated = excluded.updated, state = excluded.state",
        )?;
        for (d, k, t, v) in &s.rows {
            st.execute(rusqlite::params![d, k, t, v])?;
        }
    }
    for (d, before) in &s.prune_before {
        tx.execute(
            "DELETE FROM detector_state WHERE detector = ?1 AND updated < ?2",
            rusqlite::params![d, before],
        )?;
    }
    Ok(())
}

impl Store {
    /// Stored state of `detector` updated at or after `since` (unix s), the
    /// most recent first, at most `limit` rows: `f(key, updated, state)` for
    /// each. Returns the rows read.
    pub fn detector_states(
        &self,
        detector: &str,
        since: i64,
        limit: usize,
        mut f: impl FnMut(&str, i64, &str),
    ) -> Result<usize, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT key, updated, state FROM detector_state
                 WHERE detector = ?1 AND updated >= ?2 ORDER BY updated DESC LIMIT ?3",
            )
            .map_err(|e| self.err(e))?;
        let mut q = st
            .query(rusqlite::params![detector, since, limit as i64])
            .map_err(|e| self.err(e))?;
        let mut n = 0;
        while let Some(r) = q.next().map_err(|e| self.err(e))? {
            let key: String = r.get(0).map_err(|e| self.err(e))?;
            let updated: i64 = r.get(1).map_err(|e| self.err(e))?;
            let state: String = r.get(2).map_err(|e| self.err(e))?;
            f(&key, updated, &state);
            n += 1;
        }
        Ok(n)
    }

    /// Write one batch of windows and first-seen records in a single transaction.
    ///
    /// `verdicts` is either empty (no model) or holds one verdict per window.
    pub fn write_batch(
        &mut self,
        run: i64,
        windows: &[HostWindow],
        verdicts: &[Verdict],
        first_seen: &FirstSeenDelta,
    ) -> Result<(), StoreError> {
        self.write_batch_with_incidents(
            run,
            windows,
            verdicts,
            first_seen,
            &IncidentBatch::default(),
        )
    }

    /// [`write_batch`](Self::write_batch) with the incidents the batch
    /// opened, changed or closed (upserted first, so the windows can name
    /// them) and each window's incident id, all in the one transaction.
    pub fn write_batch_with_incidents(
        &mut self,
        run: i64,
        windows: &[HostWindow],
        verdicts: &[Verdict],
        first_seen: &FirstSeenDelta,
        incidents: &IncidentBatch,
    ) -> Result<(), StoreError> {
        self.write_batch_with_state(
            run,
            windows,
            verdicts,
            first_seen,
            incidents,
            &StateRows::default(),
        )
    }

    /// [`write_batch_with_incidents`](Self::write_batch_with_incidents) with
    /// the detector state the batch changed (`detector_state`, upserted), in
    /// the one transaction: a restart resumes exactly what the stored windows
    /// left.
    pub fn write_batch_with_state(
        &mut self,
        run: i64,
        windows: &[HostWindow],
        verdicts: &[Verdict],
        first_seen: &FirstSeenDelta,
        incidents: &IncidentBatch,
        states: &StateRows,
    ) -> Result<(), StoreError> {
        if windows.is_empty()
            && first_seen.is_empty()
            && incidents.events.is_empty()
            && states.rows.is_empty()
        {
            return Ok(());
        }
        let path = self.path.clone();
        let wrap = |e| StoreError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let keep = self.keep;
        let tx = self.conn.transaction().map_err(wrap)?;
        upsert_incidents(&tx, run, &incidents.events).map_err(wrap)?;
        upsert_states(&tx, states).map_err(wrap)?;
        insert_windows(&tx, run, windows, verdicts, &incidents.window_ids).map_err(wrap)?;
        let retained = match (keep, windows.iter().map(|w| w.start).max()) {
            (Some(keep), Some(newest)) => {
                prune_retention(&tx, newest.saturating_sub(keep).div_euclid(MICROS))
                    .map_err(wrap)?
            }
            _ => Pruned::default(),
        };
        if !first_seen.is_empty() {
            let newest = windows.iter().map(|w| w.start).max();
            write_first_seen(&tx, first_seen, newest).map_err(wrap)?;
        }
        tx.commit().map_err(wrap)?;
        // Only a committed batch changes the bookkeeping.
        self.first_seen_pruned += first_seen.dropped;
        self.retention_pruned.windows += retained.windows;
        self.retention_pruned.incidents += retained.incidents;
        if retained != Pruned::default() {
            tracing::debug!(
                windows = retained.windows,
                incidents = retained.incidents,
                "retention pruned rows older than [store] keep"
            );
        }
        Ok(())
    }

    /// Stored windows matching `q`, ordered by start then host.
    pub fn query_windows(&self, q: &WindowQuery) -> Result<Vec<StoredWindow>, StoreError> {
        let feats = FEATURE_NAMES.join(", ");
        let mut sql = format!(
            "SELECT id, run_id, host, window_start, window_end, lookups, {feats}, top_domains, risky_domains, truth_label, truth_scenario, score, label, reasons, explanation FROM windows WHERE 1=1"
        );
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(h) = &q.host {
            sql.push_str(" AND host = ?");
            args.push(h.clone().into());
        }
        if let Some(s) = q.since {
            sql.push_str(" AND window_start >= ?");
            args.push(s.into());
        }
        if let Some(u) = q.until {
            sql.push_str(" AND window_start < ?");
            args.push(u.into());
        }
        if let Some(r) = q.run {
            sql.push_str(" AND run_id = ?");
            args.push(r.into());
        }
        if !q.labels.is_empty() {
            sql.push_str(&format!(
                " AND label IN ({})",
                vec!["?"; q.labels.len()].join(", ")
            ));
            args.extend(
                q.labels
                    .iter()
                    .map(|l| rusqlite::types::Value::from(l.clone())),
            );
        }
        if let Some(l) = q.limit {
            // The newest `l` windows, still returned oldest first.
            sql = format!(
                "SELECT * FROM ({sql} ORDER BY window_start DESC, host DESC, run_id DESC LIMIT {l}) \
                 ORDER BY window_start, host, run_id"
            );
        } else {
            sql.push_str(" ORDER BY window_start, host, run_id");
        }
        let mut st = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params_from_iter(args), |r| {
                let mut features = Vec::with_capacity(N_FEATURES);
                for i in 0..N_FEATURES {
                    features.push(r.get::<_, f64>(6 + i)?);
                }
                let b = 6 + N_FEATURES;
                Ok(StoredWindow {
                    id: r.get(0)?,
                    run_id: r.get(1)?,
                    host: r.get(2)?,
                    window_start: r.get(3)?,
                    window_end: r.get(4)?,
                    lookups: r.get(5)?,
                    features,
                    top_domains: r.get(b)?,
                    risky_domains: r.get(b + 1)?,
                    truth_label: r.get(b + 2)?,
                    truth_scenario: r.get(b + 3)?,
                    score: r.get(b + 4)?,
                    label: r.get(b + 5)?,
                    reasons: r.get(b + 6)?,
                    explanation: r.get(b + 7)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Number of windows stored for a run.
    pub fn count_windows(&self, run: i64) -> Result<i64, StoreError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM windows WHERE run_id = ?",
                [run],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }
}

/// Retention: delete the windows that started before `cutoff_s` (unix
/// seconds of packet time; a range scan of `windows_start`), then the closed
/// incidents that ended before it and have no window left (`windows_incident`).
fn prune_retention(tx: &Transaction<'_>, cutoff_s: i64) -> rusqlite::Result<Pruned> {
    let windows = tx.execute("DELETE FROM windows WHERE window_start < ?1", [cutoff_s])?;
    let incidents = tx.execute(
        "DELETE FROM incidents WHERE status = 'closed' AND last_seen < ?1 \
         AND NOT EXISTS (SELECT 1 FROM windows w WHERE w.incident_id = incidents.id)",
        [cutoff_s],
    )?;
    Ok(Pruned {
        windows: windows as u64,
        incidents: incidents as u64,
    })
}

pub(super) fn insert_windows(
    tx: &Transaction<'_>,
    run: i64,
    windows: &[HostWindow],
    verdicts: &[Verdict],
    incident_ids: &[Option<i64>],
) -> rusqlite::Result<()> {
    if windows.is_empty() {
        return Ok(());
    }
    let cols = window_columns();
    let sql = format!(
        "INSERT OR REPLACE INTO windows ({}) VALUES ({})",
        cols.join(", "),
        vec!["?"; cols.len()].join(", ")
    );
    let mut st = tx.prepare_cached(&sql)?;
    // Each parameter is bound in column order straight from the window (SQLite
    // copies text as it is bound, so one buffer serves every JSON column and
    // every window); `tests::insert_matches_the_value_rows` keeps the rows
    // identical to binding a `Vec<Value>` of the same values.
    let mut json = String::with_capacity(1024);
    let mut host = String::with_capacity(48);
    for (i, w) in windows.iter().enumerate() {
        let verdict = verdicts.get(i);
        let mut col = 0usize;
        let mut bind = |st: &mut rusqlite::CachedStatement<'_>, v: &dyn rusqlite::ToSql| {
            col += 1;
            st.raw_bind_parameter(col, v)
        };
        bind(&mut st, &run)?;
        host.clear();
        {
            use std::fmt::Write as _;
            let _ = write!(host, "{}", w.host);
        }
        bind(&mut st, &host.as_str())?;
        bind(&mut st, &w.start.div_euclid(MICROS))?;
        bind(&mut st, &w.end.div_euclid(MICROS))?;
        bind(&mut st, &us_to_s(w.first_ts))?;
        bind(&mut st, &us_to_s(w.last_ts))?;
        for n in [
            w.lookups,
            w.answered,
            w.unanswered,
            w.unsolicited,
            w.multicast,
            w.infra_lookups,
            w.nxdomain,
            w.servfail,
            w.high_risk_domains,
            w.new_domains,
        ] {
            bind(&mut st, &(n as i64))?;
        }
        bind(&mut st, &(w.response_bytes as i64))?;
        for f in features::compute(w) {
            bind(&mut st, &f)?;
        }
        bind(&mut st, &w.max_subdomains_domain.as_str())?;
        bind(&mut st, &w.beacon.as_ref().map(|b| b.domain.as_str()))?;
        json.clear();
        json::push_domain_counts(&mut json, &w.top_domains);
        bind(&mut st, &json.as_str())?;
        json.clear();
        json::push_domain_counts(&mut json, &w.risky_domains);
        bind(&mut st, &json.as_str())?;
        bind(&mut st, &w.truth.label.as_deref())?;
        bind(&mut st, &w.truth.scenario.as_deref())?;
        bind(&mut st, &(w.truth.malicious_lookups as i64))?;
        match verdict {
            Some(vd) => {
                bind(&mut st, &vd.score)?;
                bind(&mut st, &vd.label.as_str())?;
                json.clear();
                json::push_reasons(&mut json, &vd.reasons);
                bind(&mut st, &json.as_str())?;
                bind(&mut st, &vd.explanation.as_str())?;
                bind(&mut st, &&*vd.model_id)?;
            }
            None => {
                for _ in 0..5 {
                    bind(&mut st, &rusqlite::types::Null)?;
                }
            }
        }
        json.clear();
        json::push_f64s(&mut json, &crate::detect::model_input(w));
        bind(&mut st, &json.as_str())?;
        bind(&mut st, &(verdict.is_some_and(|vd| vd.evidence) as i64))?;
        bind(&mut st, &incident_ids.get(i).copied().flatten())?;
        json.clear();
        QtypeMix::of(w).push_json(&mut json);
        bind(&mut st, &json.as_str())?;
        json.clear();
        RcodeMix::of(w).push_json(&mut json);
        bind(&mut st, &json.as_str())?;
        debug_assert_eq!(col, cols.len());
        st.raw_execute()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{Beacon, DomainCount};
    use crate::detect::Reason;
    use crate::model::Label;

    /// The row writer as it was (a `Vec<Value>` per window, JSON through
    /// serde_json): the reference [`insert_windows`] must match byte for byte.
    fn insert_windows_reference(
        tx: &Transaction<'_>,
        run: i64,
        windows: &[HostWindow],
        verdicts: &[Verdict],
        incident_ids: &[Option<i64>],
    ) -> rusqlite::Result<()> {
        let cols = window_columns();
        let sql = format!(
            "INSERT OR REPLACE INTO windows ({}) VALUES ({})",
            cols.join(", "),
            vec!["?"; cols.len()].join(", ")
        );
        let mut st = tx.prepare_cached(&sql)?;
        for (i, w) in windows.iter().enumerate() {
            let verdict = verdicts.get(i);
            let mut v: Vec<rusqlite::types::Value> = Vec::with_capacity(cols.len());
            v.push(run.into());
            v.push(w.host.to_string().into());
            v.push((w.start.div_euclid(MICROS)).into());
            v.push((w.end.div_euclid(MICROS)).into());
            v.push(us_to_s(w.first_ts).into());
            v.push(us_to_s(w.last_ts).into());
            for n in [
                w.lookups,
                w.answered,
                w.unanswered,
                w.unsolicited,
                w.multicast,
                w.infra_lookups,
                w.nxdomain,
                w.servfail,
                w.high_risk_domains,
                w.new_domains,
            ] {
                v.push((n as i64).into());
            }
            v.push((w.response_bytes as i64).into());
            for f in features::compute(w) {
                v.push(f.into());
            }
            v.push(w.max_subdomains_domain.clone().into());
            v.push(match &w.beacon {
                Some(b) => b.domain.clone().into(),
                None => rusqlite::types::Value::Null,
            });
            v.push(serde_json::to_string(&w.top_domains).unwrap().into());
            v.push(serde_json::to_string(&w.risky_domains).unwrap().into());
            v.push(opt(&w.truth.label));
            v.push(opt(&w.truth.scenario));
            v.push((w.truth.malicious_lookups as i64).into());
            match verdict {
                Some(vd) => {
                    v.push(vd.score.into());
                    v.push(vd.label.as_str().to_string().into());
                    v.push(serde_json::to_string(&vd.reasons).unwrap().into());
                    v.push(vd.explanation.clone().into());
                    v.push(vd.model_id.to_string().into());
                }
                None => v.extend(std::iter::repeat_n(rusqlite::types::Value::Null, 5)),
            }
            v.push(
                serde_json::to_string(&crate::detect::model_input(w))
                    .unwrap()
                    .into(),
            );
            v.push((verdict.is_some_and(|vd| vd.evidence) as i64).into());
            v.push(match incident_ids.get(i).copied().flatten() {
                Some(id) => id.into(),
                None => rusqlite::types::Value::Null,
            });
            v.push(serde_json::to_string(&QtypeMix::of(w)).unwrap().into());
            v.push(serde_json::to_string(&RcodeMix::of(w)).unwrap().into());
            st.execute(params_from_iter(v))?;
        }
        Ok(())
    }

    fn opt(s: &Option<String>) -> rusqlite::types::Value {
        match s {
            Some(s) => s.clone().into(),
            None => rusqlite::types::Value::Null,
        }
    }

    /// Windows with hostile names, empty and odd values, with and without
    /// verdicts, beacons, truth and incidents.
    fn sample() -> (Vec<HostWindow>, Vec<Verdict>, Vec<Option<i64>>) {
        let hostile = [
            "a\"b.example",
            "back\\slash.example",
            "<script>alert(1)</script>",
            "tab\tnew\nline\u{1}\u{1f}\u{7f}",
            "ünïcødé.例え.テスト",
            "",
        ];
        let mut ws = Vec::new();
        let mut vs = Vec::new();
        let mut ids = Vec::new();
        for i in 0..12i64 {
            let host: std::net::IpAddr = if i % 2 == 0 {
                format!("10.0.0.{i}").parse().unwrap()
            } else {
                format!("fd00::{i}").parse().unwrap()
            };
            let mut w = HostWindow::empty(host, i * 300 * MICROS, (i + 1) * 300 * MICROS + 7);
            w.first_ts = i * 300 * MICROS + 123_457;
            w.last_ts = (i + 1) * 300 * MICROS - 1;
            w.lookups = 17 * i as u32;
            w.with_rcode = 11 * i as u32;
            w.nxdomain = i as u32;
            w.unique_domains = 3 + i as u32;
            w.unique_registrable = 2 + i as u32;
            w.response_bytes = 1 << 40;
            w.qtypes.txt = i as u32;
            w.entropy_sum = 0.1 * i as f64;
            w.max_subdomains_domain = hostile[i as usize % hostile.len()].to_string();
            w.top_domains = (0..i as usize % 4)
                .map(|k| DomainCount {
                    name: hostile[(i as usize + k) % hostile.len()].to_string(),
                    count: k as u32 * 3,
                    nxdomain: k as u32,
                    risk: [0.0, 0.1234, 1.0, f64::NAN][k % 4],
                })
                .collect();
            w.risky_domains = w.top_domains.iter().rev().cloned().collect();
            if i % 3 == 0 {
                w.beacon = Some(Beacon {
                    domain: hostile[i as usize % hostile.len()].to_string(),
                    queries: 9,
                    mean_interval_s: 60.0,
                    cv: 0.01,
                });
                w.truth.label = Some("malicious".into());
                w.truth.scenario = Some("dga \"x\"".into());
                w.truth.malicious_lookups = 5;
            }
            if i < 9 {
                vs.push(Verdict {
                    score: 0.1 * i as f64,
                    label: [Label::Normal, Label::Unusual, Label::LikelyCompromise][i as usize % 3],
                    reasons: (0..i as usize % 3)
                        .map(|k| Reason {
                            tag: ["nxdomain_spike", "slow_dga"][k % 2],
                            feature: "nxdomain_name_rate_s",
                            value: 0.5 * k as f64,
                            usual: 0.02,
                            deviation: f64::INFINITY,
                        })
                        .collect(),
                    explanation: format!("Unusual for <b>{host}</b> \"quoted\" \\ {i}"),
                    model_id: "0123456789abcdef".into(),
                    evidence: i % 2 == 1,
                });
            }
            ids.push((i % 4 == 1).then_some(i));
            ws.push(w);
        }
        (ws, vs, ids)
    }

    fn dump(store: &Store) -> Vec<Vec<rusqlite::types::Value>> {
        let mut st = store
            .conn
            .prepare("SELECT * FROM windows ORDER BY id")
            .unwrap();
        let n = st.column_count();
        st.query_map([], |r| {
            (0..n)
                .map(|i| r.get::<_, rusqlite::types::Value>(i))
                .collect()
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    #[test]
    fn insert_matches_the_value_rows() {
        let (ws, vs, ids) = sample();
        let mut rows = Vec::new();
        for reference in [false, true] {
            let mut store = Store::open_in_memory().unwrap();
            let run = store.begin_run("test", &[], 300).unwrap();
            store
                .conn
                .execute_batch("PRAGMA foreign_keys = OFF")
                .unwrap();
            let tx = store.conn.transaction().unwrap();
            // Twice: the second batch replaces the first one's rows.
            for _ in 0..2 {
                if reference {
                    insert_windows_reference(&tx, run, &ws, &vs, &ids).unwrap();
                } else {
                    insert_windows(&tx, run, &ws, &vs, &ids).unwrap();
                }
            }
            tx.commit().unwrap();
            rows.push(dump(&store));
        }
        assert_eq!(rows[0].len(), 12);
        assert_eq!(rows[0], rows[1]);
    }
}
