//! SQLite persistence: runs, windows, first-seen domains.
//!
//! One [`Store`] owns the connection. The schema is versioned with
//! `PRAGMA user_version` and upgraded step by step by [`MIGRATIONS`]; the
//! database runs in WAL mode; every flushed batch of windows (and the first-seen
//! records that came with it) is written in one transaction, so a crash loses at
//! most the batch in flight and never leaves half a batch. Only `?` parameters
//! are used. rusqlite types do not leave this module.
//!
//! Window rows carry every feature of [`crate::features::FEATURE_NAMES`] as a
//! column, plus nullable `score`, `label`, `reasons` and `explanation` columns
//! that the detection stage fills in.

use crate::aggregate::HostWindow;
use crate::detect::Verdict;
use crate::enrich::FirstSeenRecord;
use crate::event::{TsMicros, MICROS};
use crate::features::{self, FEATURE_NAMES, N_FEATURES};
use crate::model::checksum::Fnv1a64;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension, Transaction};
use serde::Serialize;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database {path}: {source}")]
    Sqlite {
        /// Database file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer sentineldns.
    #[error("database {path} has schema version {found}, newer than this build supports ({supported}); upgrade sentineldns")]
    TooNew {
        /// Database file.
        path: PathBuf,
        /// Version in the file.
        found: i64,
        /// Latest known version.
        supported: i64,
    },
}

/// Schema migrations; entry `i` upgrades version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // v1: runs, windows, first-seen.
    r#"
CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    command      TEXT NOT NULL,
    inputs       TEXT NOT NULL,          -- JSON array of input names
    window_secs  INTEGER NOT NULL,
    started_at   TEXT NOT NULL,          -- wall clock, RFC 3339 (bookkeeping only)
    finished_at  TEXT,
    status       TEXT NOT NULL,          -- running | complete | interrupted | failed
    stats        TEXT                    -- JSON run summary
);
CREATE TABLE windows (
    id                     INTEGER PRIMARY KEY,
    run_id                 INTEGER NOT NULL REFERENCES runs(id),
    host                   TEXT NOT NULL,
    window_start           INTEGER NOT NULL,   -- unix seconds, packet time
    window_end             INTEGER NOT NULL,
    first_ts               REAL NOT NULL,      -- unix seconds
    last_ts                REAL NOT NULL,
    lookups                INTEGER NOT NULL,
    answered               INTEGER NOT NULL,
    unanswered             INTEGER NOT NULL,
    unsolicited            INTEGER NOT NULL,
    multicast              INTEGER NOT NULL,
    infra_lookups          INTEGER NOT NULL,
    nxdomain               INTEGER NOT NULL,
    servfail               INTEGER NOT NULL,
    high_risk_domains      INTEGER NOT NULL,
    new_domains            INTEGER NOT NULL,
    response_bytes         INTEGER NOT NULL,
    queries_per_min            REAL NOT NULL,
    nxdomain_rate              REAL NOT NULL,
    servfail_rate              REAL NOT NULL,
    unanswered_rate            REAL NOT NULL,
    high_risk_domain_ratio     REAL NOT NULL,
    newly_seen_ratio           REAL NOT NULL,
    host_newly_seen_ratio      REAL NOT NULL,
    unique_domains             REAL NOT NULL,
    unique_registrable_domains REAL NOT NULL,
    max_subdomains_per_domain  REAL NOT NULL,
    mean_qname_len             REAL NOT NULL,
    max_qname_len              REAL NOT NULL,
    mean_label_entropy         REAL NOT NULL,
    max_label_entropy          REAL NOT NULL,
    mean_risk                  REAL NOT NULL,
    max_risk                   REAL NOT NULL,
    txt_ratio                  REAL NOT NULL,
    null_ratio                 REAL NOT NULL,
    rare_qtype_ratio           REAL NOT NULL,
    response_bytes_per_lookup  REAL NOT NULL,
    mean_latency_ms            REAL NOT NULL,
    beacon_score               REAL NOT NULL,
    distinct_name_ratio        REAL NOT NULL,
    max_subdomains_domain  TEXT NOT NULL,
    beacon_domain          TEXT,
    top_domains            TEXT NOT NULL,      -- JSON [{name,count,nxdomain,risk}]
    risky_domains          TEXT NOT NULL,      -- JSON, same shape
    truth_label            TEXT,
    truth_scenario         TEXT,
    malicious_lookups      INTEGER NOT NULL DEFAULT 0,
    score                  REAL,               -- filled by detection
    label                  TEXT,
    reasons                TEXT,
    explanation            TEXT,
    UNIQUE (run_id, host, window_start)
);
CREATE INDEX windows_host_start ON windows (host, window_start);
CREATE INDEX windows_start ON windows (window_start);
CREATE TABLE first_seen (
    key       INTEGER PRIMARY KEY, -- FNV-1a 64 of scope || 0x00 || domain (see first_seen_key)
    scope     TEXT NOT NULL,       -- '' = sensor-wide, else the client IP
    domain    TEXT NOT NULL,       -- registrable domain
    first_ts  INTEGER NOT NULL     -- unix microseconds, packet time
);
"#,
    // v2: alerts of the flow detectors (crate::flows), one row per alerted window.
    r#"
CREATE TABLE flow_alerts (
    id             INTEGER PRIMARY KEY,
    run_id         INTEGER REFERENCES runs(id),
    detector       TEXT NOT NULL,      -- e.g. 'cicids'
    source_file    TEXT NOT NULL,
    window_index   INTEGER NOT NULL,   -- 0-based window number in the file
    first_flow     INTEGER NOT NULL,   -- 0-based index of the window's first valid flow
    flows          INTEGER NOT NULL,
    decision       TEXT NOT NULL,      -- CONFIRMED | SUSPICIOUS
    severity       TEXT NOT NULL,      -- LOW | MEDIUM | HIGH | CRITICAL
    anomaly_index  REAL NOT NULL,
    forest_score   REAL,
    pattern        TEXT NOT NULL,
    confidence     TEXT NOT NULL,
    action         TEXT NOT NULL,
    indicators     TEXT NOT NULL,      -- JSON [{feature,value,baseline_mean,z}]
    features       TEXT NOT NULL,      -- JSON {name: value}
    attack_ratio   REAL,               -- ground truth from the Label column, if any
    created_at     TEXT NOT NULL       -- wall clock, RFC 3339 (bookkeeping only)
);
CREATE INDEX flow_alerts_run ON flow_alerts (run_id);
CREATE INDEX flow_alerts_detector ON flow_alerts (detector, decision);
"#,
];

/// Latest schema version.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Columns of `windows` filled by [`Store::insert_windows`], in order.
fn window_columns() -> Vec<&'static str> {
    let mut c = vec![
        "run_id",
        "host",
        "window_start",
        "window_end",
        "first_ts",
        "last_ts",
        "lookups",
        "answered",
        "unanswered",
        "unsolicited",
        "multicast",
        "infra_lookups",
        "nxdomain",
        "servfail",
        "high_risk_domains",
        "new_domains",
        "response_bytes",
    ];
    c.extend(FEATURE_NAMES);
    c.extend([
        "max_subdomains_domain",
        "beacon_domain",
        "top_domains",
        "risky_domains",
        "truth_label",
        "truth_scenario",
        "malicious_lookups",
        "score",
        "label",
        "reasons",
        "explanation",
    ]);
    c
}

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

/// The database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

fn us_to_s(ts: TsMicros) -> f64 {
    ts as f64 / MICROS as f64
}

impl Store {
    /// Open (creating if needed) and migrate the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(|e| StoreError::Sqlite {
            path: path.to_path_buf(),
            source: e,
        })?;
        let mut s = Store {
            conn,
            path: path.to_path_buf(),
        };
        s.init()?;
        Ok(s)
    }

    /// An in-memory database (tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(|e| StoreError::Sqlite {
            path: ":memory:".into(),
            source: e,
        })?;
        let mut s = Store {
            conn,
            path: ":memory:".into(),
        };
        s.init()?;
        Ok(s)
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source: e,
        }
    }

    fn init(&mut self) -> Result<(), StoreError> {
        self.conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| self.err(e))?;
        self.conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| self.err(e))?;
        self.conn
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| self.err(e))?;
        self.conn
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| self.err(e))?;
        self.migrate()
    }

    /// Current schema version of the file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let v = self.schema_version()?;
        if v > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: v,
                supported: SCHEMA_VERSION,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(v as usize) {
            let path = self.path.clone();
            let tx = self.conn.transaction().map_err(|e| StoreError::Sqlite {
                path: path.clone(),
                source: e,
            })?;
            let step = (|| {
                tx.execute_batch(sql)?;
                tx.pragma_update(None, "user_version", (i + 1) as i64)?;
                tx.commit()
            })();
            step.map_err(|e| StoreError::Sqlite { path, source: e })?;
        }
        Ok(())
    }

    /// Record the start of a run; returns its id.
    pub fn begin_run(
        &mut self,
        command: &str,
        inputs: &[String],
        window_secs: i64,
    ) -> Result<i64, StoreError> {
        let inputs = serde_json::to_string(inputs).unwrap_or_else(|_| "[]".into());
        let now = chrono::Utc::now().to_rfc3339();
        self.conn
            .execute(
                "INSERT INTO runs (command, inputs, window_secs, started_at, status) VALUES (?, ?, ?, ?, 'running')",
                params![command, inputs, window_secs, now],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Record the end of a run with its status and JSON summary.
    pub fn finish_run(
        &mut self,
        run: i64,
        status: &str,
        stats_json: &str,
    ) -> Result<(), StoreError> {
        let now = chrono::Utc::now().to_rfc3339();
        self.conn
            .execute(
                "UPDATE runs SET finished_at = ?, status = ?, stats = ? WHERE id = ?",
                params![now, status, stats_json, run],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Write one batch of windows and first-seen records in a single transaction.
    ///
    /// `verdicts` is either empty (no model) or holds one verdict per window.
    pub fn write_batch(
        &mut self,
        run: i64,
        windows: &[HostWindow],
        verdicts: &[Verdict],
        first_seen: &[FirstSeenRecord],
    ) -> Result<(), StoreError> {
        if windows.is_empty() && first_seen.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let wrap = |e| StoreError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        insert_windows(&tx, run, windows, verdicts).map_err(wrap)?;
        insert_first_seen(&tx, first_seen).map_err(wrap)?;
        tx.commit().map_err(wrap)
    }

    /// Every persisted first-seen record (for [`crate::enrich::Enricher::preload_first_seen`]),
    /// newest last, at most `limit` of each scope kind.
    pub fn load_first_seen(
        &self,
        limit: usize,
        mut f: impl FnMut(FirstSeenRecord),
    ) -> Result<usize, StoreError> {
        let mut n = 0;
        for (cond, lim) in [
            ("scope = ''", limit),
            ("scope <> ''", limit.saturating_mul(2)),
        ] {
            let sql = format!(
                "SELECT scope, domain, first_ts FROM (SELECT * FROM first_seen WHERE {cond} ORDER BY first_ts DESC LIMIT ?) ORDER BY first_ts"
            );
            let mut st = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
            let rows = st
                .query_map([lim as i64], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                })
                .map_err(|e| self.err(e))?;
            for row in rows {
                let (scope, domain, first_ts) = row.map_err(|e| self.err(e))?;
                let host = if scope.is_empty() {
                    None
                } else {
                    scope.parse::<IpAddr>().ok()
                };
                if !scope.is_empty() && host.is_none() {
                    continue;
                }
                f(FirstSeenRecord {
                    host,
                    domain,
                    first_ts,
                });
                n += 1;
            }
        }
        Ok(n)
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

    /// Status of a run.
    pub fn run_status(&self, run: i64) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT status FROM runs WHERE id = ?", [run], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }
}

fn insert_windows(
    tx: &Transaction<'_>,
    run: i64,
    windows: &[HostWindow],
    verdicts: &[Verdict],
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
        v.push(
            serde_json::to_string(&w.top_domains)
                .unwrap_or_default()
                .into(),
        );
        v.push(
            serde_json::to_string(&w.risky_domains)
                .unwrap_or_default()
                .into(),
        );
        v.push(opt(&w.truth.label));
        v.push(opt(&w.truth.scenario));
        v.push((w.truth.malicious_lookups as i64).into());
        match verdict {
            Some(vd) => {
                v.push(vd.score.into());
                v.push(vd.label.as_str().to_string().into());
                v.push(
                    serde_json::to_string(&vd.reasons)
                        .unwrap_or_default()
                        .into(),
                );
                v.push(vd.explanation.clone().into());
            }
            None => v.extend(std::iter::repeat_n(rusqlite::types::Value::Null, 4)),
        }
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

/// Stable key of a first-seen record: FNV-1a 64 ([`crate::model::checksum`])
/// over `scope`, a zero byte and `domain`, as a signed integer. Stable across
/// builds and platforms (unlike std's hasher), so the key written by one
/// version matches the next.
pub fn first_seen_key(scope: &str, domain: &str) -> i64 {
    let mut h = Fnv1a64::new();
    h.update(scope.as_bytes());
    h.update(&[0]);
    h.update(domain.as_bytes());
    h.finish() as i64
}

/// Rows per multi-row `INSERT` for first-seen records.
const FIRST_SEEN_CHUNK: usize = 128;

fn first_seen_insert_sql(rows: usize) -> String {
    let mut sql = String::from("INSERT INTO first_seen (key, scope, domain, first_ts) VALUES ");
    for i in 0..rows {
        sql.push_str(if i == 0 {
            "(?, ?, ?, ?)"
        } else {
            ", (?, ?, ?, ?)"
        });
    }
    sql.push_str(" ON CONFLICT (key) DO UPDATE SET first_ts = MIN(first_ts, excluded.first_ts)");
    sql
}

fn insert_first_seen(tx: &Transaction<'_>, recs: &[FirstSeenRecord]) -> rusqlite::Result<()> {
    if recs.is_empty() {
        return Ok(());
    }
    // Integer keys in ascending order: sequential B-tree inserts, no string
    // comparisons. A fresh sensor writes one row per new (host, domain) pair, so
    // rows go in multi-row statements to spread the per-statement cost.
    let mut keyed: Vec<(i64, String, &FirstSeenRecord)> = recs
        .iter()
        .map(|r| {
            let scope = r.host.map(|h| h.to_string()).unwrap_or_default();
            (first_seen_key(&scope, &r.domain), scope, r)
        })
        .collect();
    keyed.sort_unstable_by_key(|k| k.0);
    for chunk in keyed.chunks(FIRST_SEEN_CHUNK) {
        let mut st = tx.prepare_cached(&first_seen_insert_sql(chunk.len()))?;
        for (i, (key, scope, r)) in chunk.iter().enumerate() {
            let b = i * 4;
            st.raw_bind_parameter(b + 1, key)?;
            st.raw_bind_parameter(b + 2, scope.as_str())?;
            st.raw_bind_parameter(b + 3, r.domain.as_str())?;
            st.raw_bind_parameter(b + 4, r.first_ts)?;
        }
        st.raw_execute()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{AggregateConfig, Aggregator};
    use crate::enrich::Enrichment;
    use crate::event::Lookup;

    fn some_windows() -> Vec<HostWindow> {
        let mut a = Aggregator::new(AggregateConfig::default());
        for (t, h) in [(10, "10.0.0.1"), (20, "10.0.0.2"), (400, "10.0.0.1")] {
            let l = Lookup {
                label: Some("benign"),
                ..Lookup::new(t * MICROS, h.parse().unwrap(), "www.example.com")
            };
            a.record(
                &l,
                &Enrichment {
                    qname_hash: 1,
                    registrable_len: 11,
                    registrable_hash: 2,
                    ..Default::default()
                },
            );
        }
        let mut out = Vec::new();
        a.flush_all(&mut out);
        out
    }

    #[test]
    fn schema_has_a_column_per_feature_and_migrates_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.db");
        let s = Store::open(&p).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        let mut st = s
            .conn
            .prepare("SELECT name FROM pragma_table_info('windows')")
            .unwrap();
        let cols: Vec<String> = st
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        for f in FEATURE_NAMES {
            assert!(cols.iter().any(|c| c == f), "missing column {f}");
        }
        drop(st);
        drop(s);
        // Reopening does not re-run migrations.
        let s = Store::open(&p).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        let mode: String = s
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn too_new_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.db");
        Connection::open(&p)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let e = Store::open(&p).unwrap_err().to_string();
        assert!(e.contains("schema version 99"), "{e}");
    }

    #[test]
    fn windows_and_first_seen_round_trip() {
        let mut s = Store::open_in_memory().unwrap();
        let run = s.begin_run("replay", &["a.pcap".into()], 300).unwrap();
        let ws = some_windows();
        let fs = vec![
            FirstSeenRecord {
                host: None,
                domain: "example.com".into(),
                first_ts: 5,
            },
            FirstSeenRecord {
                host: Some("10.0.0.1".parse().unwrap()),
                domain: "example.com".into(),
                first_ts: 5,
            },
        ];
        s.write_batch(run, &ws, &[], &fs).unwrap();
        s.finish_run(run, "complete", "{}").unwrap();
        assert_eq!(s.count_windows(run).unwrap(), 3);
        let got = s
            .query_windows(&WindowQuery {
                host: Some("10.0.0.1".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].window_start, 0);
        assert_eq!(got[1].window_start, 300);
        assert_eq!(got[0].features.len(), N_FEATURES);
        assert_eq!(got[0].truth_label.as_deref(), Some("benign"));
        let got = s
            .query_windows(&WindowQuery {
                limit: Some(1),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].window_start, 300);
        // The same record again keeps the earliest time and adds no row.
        let again = vec![FirstSeenRecord {
            host: None,
            domain: "example.com".into(),
            first_ts: 3,
        }];
        s.write_batch(run, &[], &[], &again).unwrap();
        let mut loaded = Vec::new();
        assert_eq!(s.load_first_seen(10, |r| loaded.push(r)).unwrap(), 2);
        assert_eq!(
            loaded.iter().find(|r| r.host.is_none()).unwrap().first_ts,
            3
        );
        assert_ne!(first_seen_key("", "a.com"), first_seen_key("a.com", ""));
        // Keys on disk must never change.
        assert_eq!(first_seen_key("", "a.com"), -3_618_781_549_185_398_895);
        assert_eq!(
            first_seen_key("10.0.0.1", "example.com"),
            -7_514_576_336_545_952_752
        );
        // More rows than one statement holds, with a duplicate inside the batch.
        let many: Vec<FirstSeenRecord> = (0..300)
            .map(|i| FirstSeenRecord {
                host: None,
                domain: format!("d{}.com", i % 290),
                first_ts: 1000 - i,
            })
            .collect();
        s.write_batch(run, &[], &[], &many).unwrap();
        let mut loaded = Vec::new();
        s.load_first_seen(10_000, |r| loaded.push(r)).unwrap();
        assert_eq!(loaded.len(), 2 + 290);
        let d5 = loaded.iter().find(|r| r.domain == "d5.com").unwrap();
        assert_eq!(d5.first_ts, 1000 - 295, "earliest of the two rows wins");
        assert_eq!(s.run_status(run).unwrap().as_deref(), Some("complete"));
    }

    fn flow_alert(file: &str, window: i64, decision: &str) -> FlowAlertRecord {
        FlowAlertRecord {
            detector: "cicids".into(),
            source_file: file.into(),
            window_index: window,
            first_flow: window * 100,
            flows: 100,
            decision: decision.into(),
            severity: "CRITICAL".into(),
            anomaly_index: 36.5,
            forest_score: Some(0.8),
            pattern: "DDoS".into(),
            confidence: "Medium".into(),
            action: "rate-limit".into(),
            indicators: "[]".into(),
            features: "{}".into(),
            attack_ratio: None,
        }
    }

    #[test]
    fn flow_alerts_round_trip_and_filter() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.db");
        let mut s = Store::open(&p).unwrap();
        let run = s.begin_run("flows monitor", &["a.csv".into()], 0).unwrap();
        let batch = vec![
            flow_alert("a.csv", 0, "CONFIRMED"),
            flow_alert("a.csv", 1, "SUSPICIOUS"),
        ];
        assert_eq!(s.insert_flow_alerts(Some(run), &batch).unwrap(), 2);
        let mut other = flow_alert("b.csv", 0, "CONFIRMED");
        other.detector = "zscore".into();
        other.forest_score = None;
        other.attack_ratio = Some(1.0);
        s.insert_flow_alerts(None, std::slice::from_ref(&other))
            .unwrap();
        drop(s);
        let s = Store::open(&p).unwrap();
        assert_eq!(s.list_flow_alerts(Some(run), None).unwrap(), batch);
        assert_eq!(
            s.list_flow_alerts(None, Some("zscore")).unwrap(),
            vec![other]
        );
        assert_eq!(s.list_flow_alerts(None, None).unwrap().len(), 3);
        assert!(s.list_flow_alerts(Some(run + 7), None).unwrap().is_empty());
    }

    #[test]
    fn flow_alert_batch_is_all_or_nothing() {
        let mut s = Store::open_in_memory().unwrap();
        assert_eq!(
            s.insert_flow_alerts(None, &[flow_alert("a.csv", 0, "CONFIRMED")])
                .unwrap(),
            1
        );
        // SQLite stores NaN as NULL, so the second row of this batch violates
        // NOT NULL after the first row was written: the first must roll back.
        let mut bad = flow_alert("a.csv", 2, "CONFIRMED");
        bad.anomaly_index = f64::NAN;
        let e = s.insert_flow_alerts(None, &[flow_alert("a.csv", 1, "CONFIRMED"), bad]);
        assert!(e.is_err());
        let stored = s.list_flow_alerts(None, None).unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].window_index, 0);
    }
}
