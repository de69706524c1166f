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

pub mod procinfo;

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
    /// This process may not open or create the database, its `-wal`/`-shm`
    /// files or files in its directory.
    #[error("database {path}: permission denied {what} as {user}; chown the directory and the database files to that user (e.g. `chown -R {owner} {dir}`) or choose another database path with --db")]
    PermissionDenied {
        /// Database file.
        path: PathBuf,
        /// What was refused, e.g. "creating files in its directory".
        what: &'static str,
        /// Effective user and group, e.g. "user nobody (65534), group nogroup (65534)".
        user: String,
        /// `user:group` for the suggested chown.
        owner: String,
        /// Directory of the database.
        dir: PathBuf,
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
    // v3: first_seen is bounded (Store::set_first_seen_rows). last_ts is the
    // packet time (unix microseconds) of the latest lookup the sensor recorded
    // for the row (new or refresh record; upsert keeps MIN first_ts, MAX
    // last_ts). Pruning (oldest last_ts first) and the restart preload (newest
    // first) walk first_seen_last_ts; its implicit rowid (key) breaks ties.
    r#"
ALTER TABLE first_seen ADD COLUMN last_ts INTEGER NOT NULL DEFAULT 0;
UPDATE first_seen SET last_ts = first_ts;
CREATE INDEX first_seen_last_ts ON first_seen (last_ts);
"#,
    // v4: who runs each run, so the next start can tell a run whose process
    // died (kill -9, OOM, power loss) from one still going: such runs become
    // status 'crashed' (statuses: running | complete | interrupted | failed |
    // stopped | crashed). NULL in rows written before v4 (never judged).
    r#"
ALTER TABLE runs ADD COLUMN pid INTEGER;        -- process id
ALTER TABLE runs ADD COLUMN proc_start INTEGER; -- /proc/PID/stat field 22, clock ticks after boot
ALTER TABLE runs ADD COLUMN boot_id TEXT;       -- /proc/sys/kernel/random/boot_id
ALTER TABLE runs ADD COLUMN hostname TEXT;
CREATE INDEX runs_status ON runs (status);
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

/// Default cap on rows of the `first_seen` table (`[limits] first_seen_rows`).
pub const DEFAULT_FIRST_SEEN_ROWS: u64 = 3_000_000;

/// The database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Cap on `first_seen` rows; over it, the oldest `last_ts` go down to 90 %.
    first_seen_rows: u64,
    /// Rows in `first_seen`, counted once on the first write, then kept.
    first_seen_count: Option<u64>,
    /// Rows pruned at the cap by this `Store`.
    first_seen_pruned: u64,
}

fn us_to_s(ts: TsMicros) -> f64 {
    ts as f64 / MICROS as f64
}

impl Store {
    /// Open (creating if needed) and migrate the database at `path`. When
    /// SQLite cannot open or write it, the file system is asked why: a denied
    /// permission on the file, its `-wal`/`-shm` files or its directory is
    /// reported as [`StoreError::PermissionDenied`] naming the effective user.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let opened = Connection::open(path)
            .map_err(|e| StoreError::Sqlite {
                path: path.to_path_buf(),
                source: e,
            })
            .and_then(|conn| {
                let mut s = Store::with_conn(conn, path.to_path_buf());
                s.init()?;
                Ok(s)
            });
        opened.map_err(|e| match &e {
            StoreError::Sqlite {
                source: rusqlite::Error::SqliteFailure(f, _),
                ..
            } if matches!(
                f.code,
                rusqlite::ErrorCode::CannotOpen
                    | rusqlite::ErrorCode::ReadOnly
                    | rusqlite::ErrorCode::PermissionDenied
            ) =>
            {
                permission_problem(path).unwrap_or(e)
            }
            _ => e,
        })
    }

    /// An in-memory database (tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(|e| StoreError::Sqlite {
            path: ":memory:".into(),
            source: e,
        })?;
        let mut s = Store::with_conn(conn, ":memory:".into());
        s.init()?;
        Ok(s)
    }

    fn with_conn(conn: Connection, path: PathBuf) -> Self {
        Store {
            conn,
            path,
            first_seen_rows: DEFAULT_FIRST_SEEN_ROWS,
            first_seen_count: None,
            first_seen_pruned: 0,
        }
    }

    /// Cap the `first_seen` table at `rows` (at least 1; default
    /// [`DEFAULT_FIRST_SEEN_ROWS`]). A batch that takes the table over the cap
    /// deletes the rows with the oldest `last_ts` down to 90 % of it, in the
    /// same transaction.
    pub fn set_first_seen_rows(&mut self, rows: u64) {
        self.first_seen_rows = rows.max(1);
    }

    /// The `first_seen` row cap.
    pub fn first_seen_rows(&self) -> u64 {
        self.first_seen_rows
    }

    /// `first_seen` rows deleted at the cap by this `Store` so far (reported
    /// as [`crate::stats::Bound::FirstSeenRows`]).
    pub fn first_seen_pruned(&self) -> u64 {
        self.first_seen_pruned
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

    /// Record the start of a run, with the identity of this process
    /// ([`procinfo::current`]); returns its id. In the same transaction, every
    /// `running` run of this host whose process is gone becomes `crashed`
    /// ([`Store::mark_crashed_runs`]).
    pub fn begin_run(
        &mut self,
        command: &str,
        inputs: &[String],
        window_secs: i64,
    ) -> Result<i64, StoreError> {
        let inputs = serde_json::to_string(inputs).unwrap_or_else(|_| "[]".into());
        let now = chrono::Utc::now().to_rfc3339();
        let me = procinfo::current();
        let path = self.path.clone();
        let wrap = |e| StoreError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        let crashed = match &me {
            Some(me) => mark_crashed(&tx, me, &now, procinfo::is_alive).map_err(wrap)?,
            None => Vec::new(),
        };
        tx.execute(
            "INSERT INTO runs (command, inputs, window_secs, started_at, status, pid, proc_start, boot_id, hostname) VALUES (?, ?, ?, ?, 'running', ?, ?, ?, ?)",
            params![
                command,
                inputs,
                window_secs,
                now,
                me.as_ref().map(|m| m.pid),
                me.as_ref().map(|m| i64::try_from(m.start_ticks).unwrap_or(i64::MAX)),
                me.as_ref().map(|m| m.boot_id.as_str()),
                me.as_ref().map(|m| m.hostname.as_str()),
            ],
        )
        .map_err(wrap)?;
        let id = tx.last_insert_rowid();
        tx.commit().map_err(wrap)?;
        if !crashed.is_empty() {
            tracing::warn!(runs = ?crashed, "runs whose process died marked crashed");
        }
        Ok(id)
    }

    /// Mark every `running` run of this host whose process is gone (no such
    /// pid, another start time, or another boot) as `crashed`, with
    /// `finished_at` set; returns their ids. Runs recorded before schema v4
    /// (no pid) and runs of other hosts are left alone. Does nothing where
    /// `/proc` is missing.
    pub fn mark_crashed_runs(&mut self) -> Result<Vec<i64>, StoreError> {
        let Some(me) = procinfo::current() else {
            return Ok(Vec::new());
        };
        let now = chrono::Utc::now().to_rfc3339();
        let path = self.path.clone();
        let wrap = |e| StoreError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        let ids = mark_crashed(&tx, &me, &now, procinfo::is_alive).map_err(wrap)?;
        tx.commit().map_err(wrap)?;
        Ok(ids)
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
        let cap = self.first_seen_rows;
        let known = self.first_seen_count;
        let tx = self.conn.transaction().map_err(wrap)?;
        insert_windows(&tx, run, windows, verdicts).map_err(wrap)?;
        let mut pruned = 0;
        let mut count = known;
        if !first_seen.is_empty() {
            // Counted once per Store (an index scan), then kept up to date from
            // the rows each batch adds and prunes.
            let mut rows = match known {
                Some(n) => n,
                None => tx
                    .query_row("SELECT COUNT(*) FROM first_seen", [], |r| {
                        r.get::<_, i64>(0)
                    })
                    .map_err(wrap)?
                    .max(0) as u64,
            };
            rows += insert_first_seen(&tx, first_seen).map_err(wrap)?;
            if rows > cap {
                pruned = prune_first_seen(&tx, rows - (cap - cap / 10)).map_err(wrap)?;
                rows -= pruned;
            }
            count = Some(rows);
        }
        tx.commit().map_err(wrap)?;
        // Only a committed batch changes the bookkeeping.
        self.first_seen_count = count;
        self.first_seen_pruned += pruned;
        Ok(())
    }

    /// The persisted first-seen records with the newest `last_ts`, **newest
    /// first** (the order [`crate::enrich::Enricher::preload_first_seen`]
    /// takes): at most `sensor_limit` sensor-wide and `host_limit` per-host
    /// records. One walk of the `last_ts` index, stopped as soon as both
    /// limits are reached; nothing is sorted. Returns the records delivered.
    pub fn load_first_seen(
        &self,
        sensor_limit: usize,
        host_limit: usize,
        mut f: impl FnMut(FirstSeenRecord),
    ) -> Result<usize, StoreError> {
        let (mut sensor, mut hosts) = (0usize, 0usize);
        if sensor_limit == 0 && host_limit == 0 {
            return Ok(0);
        }
        let mut st = self
            .conn
            .prepare(FIRST_SEEN_PRELOAD_SQL)
            .map_err(|e| self.err(e))?;
        let mut rows = st.query([]).map_err(|e| self.err(e))?;
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let scope: String = r.get(0).map_err(|e| self.err(e))?;
            let host = if scope.is_empty() {
                if sensor >= sensor_limit {
                    continue;
                }
                None
            } else {
                if hosts >= host_limit {
                    continue;
                }
                match scope.parse::<IpAddr>() {
                    Ok(ip) => Some(ip),
                    Err(_) => continue,
                }
            };
            let rec = FirstSeenRecord {
                host,
                domain: r.get(1).map_err(|e| self.err(e))?,
                first_ts: r.get(2).map_err(|e| self.err(e))?,
                last_ts: r.get(3).map_err(|e| self.err(e))?,
            };
            match host {
                None => sensor += 1,
                Some(_) => hosts += 1,
            }
            f(rec);
            if sensor >= sensor_limit && hosts >= host_limit {
                break;
            }
        }
        Ok(sensor + hosts)
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

/// Why SQLite could not open or write `path`, if it is a denied permission:
/// the database file, its `-wal` and `-shm` files (when they exist) must open
/// for reading and writing, and the directory must take new files (probed
/// with a file created and removed at once, only on this error path).
fn permission_problem(path: &Path) -> Option<StoreError> {
    use std::io::ErrorKind::PermissionDenied;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let denied =
        |r: std::io::Result<std::fs::File>| matches!(r, Err(e) if e.kind() == PermissionDenied);
    let rw = |p: &Path| std::fs::OpenOptions::new().read(true).write(true).open(p);
    let mut what = None;
    let mut missing = false;
    for (suffix, label) in [
        ("", "opening it for reading and writing"),
        ("-wal", "opening its -wal file for reading and writing"),
        ("-shm", "opening its -shm file for reading and writing"),
    ] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let p = PathBuf::from(p);
        if std::fs::symlink_metadata(&p).is_err() {
            missing = true;
        } else if denied(rw(&p)) {
            what = Some(label);
            break;
        }
    }
    if what.is_none() && missing {
        let probe = dir.join(format!(".sentineldns-write-probe-{}", std::process::id()));
        let r = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe);
        if r.is_ok() {
            let _ = std::fs::remove_file(&probe);
        } else if denied(r) {
            what = Some("creating files in its directory");
        }
    }
    let what = what?;
    let (user, owner) = match procinfo::effective_ids() {
        Some((uid, gid)) => {
            let name = |db: &str, id: u32| {
                std::fs::read_to_string(db)
                    .ok()
                    .and_then(|t| procinfo::name_in(&t, id))
                    .unwrap_or_else(|| id.to_string())
            };
            (
                procinfo::effective_user().unwrap_or_default(),
                format!("{}:{}", name("/etc/passwd", uid), name("/etc/group", gid)),
            )
        }
        None => ("this user".to_string(), "USER:GROUP".to_string()),
    };
    Some(StoreError::PermissionDenied {
        path: path.to_path_buf(),
        what,
        user,
        owner,
        dir,
    })
}

/// Mark `running` runs of `me`'s host whose process `alive` says is gone.
fn mark_crashed(
    tx: &Transaction<'_>,
    me: &procinfo::ProcessIdentity,
    now: &str,
    alive: impl Fn(u32, u64, &str) -> bool,
) -> rusqlite::Result<Vec<i64>> {
    let mut st = tx.prepare_cached(
        "SELECT id, pid, proc_start, boot_id FROM runs WHERE status = 'running' AND hostname = ? AND pid IS NOT NULL",
    )?;
    let rows = st
        .query_map([me.hostname.as_str()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut dead = Vec::new();
    for (id, pid, start, boot) in rows {
        let live = match (
            u32::try_from(pid),
            start.and_then(|s| u64::try_from(s).ok()),
        ) {
            (Ok(pid), Some(start)) => alive(pid, start, boot.as_deref().unwrap_or("")),
            _ => false,
        };
        if !live {
            dead.push(id);
        }
    }
    let mut up = tx.prepare_cached(
        "UPDATE runs SET status = 'crashed', finished_at = ? WHERE id = ? AND status = 'running'",
    )?;
    for id in &dead {
        up.execute(params![now, id])?;
    }
    Ok(dead)
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

/// Restart preload: newest `last_ts` first, walking `first_seen_last_ts`.
const FIRST_SEEN_PRELOAD_SQL: &str =
    "SELECT scope, domain, first_ts, last_ts FROM first_seen ORDER BY last_ts DESC, key DESC";

/// Pruning: the `?` rows with the oldest `last_ts`, walking `first_seen_last_ts`.
const FIRST_SEEN_PRUNE_SQL: &str =
    "DELETE FROM first_seen WHERE key IN (SELECT key FROM first_seen ORDER BY last_ts, key LIMIT ?)";

fn first_seen_insert_sql(rows: usize) -> String {
    let mut sql =
        String::from("INSERT INTO first_seen (key, scope, domain, first_ts, last_ts) VALUES ");
    for i in 0..rows {
        sql.push_str(if i == 0 {
            "(?, ?, ?, ?, ?)"
        } else {
            ", (?, ?, ?, ?, ?)"
        });
    }
    sql.push_str(
        " ON CONFLICT (key) DO UPDATE SET first_ts = MIN(first_ts, excluded.first_ts), \
         last_ts = MAX(last_ts, excluded.last_ts)",
    );
    sql
}

fn first_seen_existing_sql(keys: usize) -> String {
    format!(
        "SELECT COUNT(*) FROM first_seen WHERE key IN ({})",
        vec!["?"; keys].join(", ")
    )
}

/// Delete the `n` rows with the oldest `last_ts`; returns the rows deleted.
fn prune_first_seen(tx: &Transaction<'_>, n: u64) -> rusqlite::Result<u64> {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    Ok(tx.prepare_cached(FIRST_SEEN_PRUNE_SQL)?.execute([n])? as u64)
}

/// Upsert `recs`; returns how many rows were added (keys not yet stored).
fn insert_first_seen(tx: &Transaction<'_>, recs: &[FirstSeenRecord]) -> rusqlite::Result<u64> {
    if recs.is_empty() {
        return Ok(0);
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
    let mut added = 0u64;
    let mut distinct: Vec<i64> = Vec::with_capacity(FIRST_SEEN_CHUNK);
    for chunk in keyed.chunks(FIRST_SEEN_CHUNK) {
        // Rows added = distinct keys of the chunk not stored yet (sorted, so
        // duplicates are adjacent; a duplicate in the next chunk is stored by then).
        distinct.clear();
        distinct.extend(chunk.iter().map(|k| k.0));
        distinct.dedup();
        let stored: i64 = tx
            .prepare_cached(&first_seen_existing_sql(distinct.len()))?
            .query_row(params_from_iter(distinct.iter()), |r| r.get(0))?;
        added += (distinct.len() as u64).saturating_sub(stored.max(0) as u64);
        let mut st = tx.prepare_cached(&first_seen_insert_sql(chunk.len()))?;
        for (i, (key, scope, r)) in chunk.iter().enumerate() {
            let b = i * 5;
            st.raw_bind_parameter(b + 1, key)?;
            st.raw_bind_parameter(b + 2, scope.as_str())?;
            st.raw_bind_parameter(b + 3, r.domain.as_str())?;
            st.raw_bind_parameter(b + 4, r.first_ts)?;
            st.raw_bind_parameter(b + 5, r.last_ts.max(r.first_ts))?;
        }
        st.raw_execute()?;
    }
    Ok(added)
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
    fn permission_message_names_path_once_user_and_fix() {
        let e = StoreError::PermissionDenied {
            path: "/var/lib/sentineldns/sentineldns.db".into(),
            what: "creating files in its directory",
            user: "user nobody (65534), group nogroup (65534)".into(),
            owner: "nobody:nogroup".into(),
            dir: "/var/lib/sentineldns".into(),
        }
        .to_string();
        assert_eq!(
            e,
            "database /var/lib/sentineldns/sentineldns.db: permission denied creating files in its directory \
             as user nobody (65534), group nogroup (65534); chown the directory and the database files to \
             that user (e.g. `chown -R nobody:nogroup /var/lib/sentineldns`) or choose another database path with --db"
        );
        assert_eq!(e.matches("/var/lib/sentineldns/sentineldns.db").count(), 1);
        // Not a permission problem: SQLite's error stands.
        let dir = tempfile::tempdir().unwrap();
        assert!(permission_problem(&dir.path().join("fine.db")).is_none());
        let e = Store::open(&dir.path().join("missing-dir/x.db")).unwrap_err();
        assert!(matches!(e, StoreError::Sqlite { .. }), "{e}");
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
                last_ts: 5,
            },
            FirstSeenRecord {
                host: Some("10.0.0.1".parse().unwrap()),
                domain: "example.com".into(),
                first_ts: 5,
                last_ts: 5,
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
            last_ts: 3,
        }];
        s.write_batch(run, &[], &[], &again).unwrap();
        let mut loaded = Vec::new();
        assert_eq!(s.load_first_seen(10, 20, |r| loaded.push(r)).unwrap(), 2);
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
                last_ts: 1000 - i,
            })
            .collect();
        s.write_batch(run, &[], &[], &many).unwrap();
        let mut loaded = Vec::new();
        s.load_first_seen(10_000, 20_000, |r| loaded.push(r))
            .unwrap();
        assert_eq!(loaded.len(), 2 + 290);
        let d5 = loaded.iter().find(|r| r.domain == "d5.com").unwrap();
        assert_eq!(d5.first_ts, 1000 - 295, "earliest of the two rows wins");
        assert_eq!(s.run_status(run).unwrap().as_deref(), Some("complete"));
    }

    fn rec(host: Option<&str>, domain: &str, first_ts: i64, last_ts: i64) -> FirstSeenRecord {
        FirstSeenRecord {
            host: host.map(|h| h.parse().unwrap()),
            domain: domain.into(),
            first_ts,
            last_ts,
        }
    }

    fn first_seen_rows(s: &Store) -> Vec<(String, String, i64, i64)> {
        let mut st = s
            .conn
            .prepare(
                "SELECT scope, domain, first_ts, last_ts FROM first_seen ORDER BY domain, scope",
            )
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    }

    fn table_count(s: &Store) -> u64 {
        s.conn
            .query_row("SELECT COUNT(*) FROM first_seen", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap() as u64
    }

    #[test]
    fn first_seen_cap_prunes_oldest_last_ts_in_the_batch_transaction() {
        let mut s = Store::open_in_memory().unwrap();
        assert_eq!(s.first_seen_rows(), DEFAULT_FIRST_SEEN_ROWS);
        s.set_first_seen_rows(100);
        let run = s.begin_run("replay", &[], 300).unwrap();
        // 100 rows: at the cap, nothing pruned. last_ts = 1000 + i; d0 is the
        // oldest first seen but was refreshed most recently.
        let mut batch: Vec<FirstSeenRecord> = (0..100)
            .map(|i| rec(None, &format!("d{i}.com"), 1000 + i, 1000 + i))
            .collect();
        batch[0].last_ts = 5000;
        s.write_batch(run, &[], &[], &batch).unwrap();
        assert_eq!((table_count(&s), s.first_seen_pruned()), (100, 0));
        // Re-sending stored keys adds no row.
        s.write_batch(run, &[], &[], &batch[..10]).unwrap();
        assert_eq!((table_count(&s), s.first_seen_pruned()), (100, 0));
        // 5 new rows: 105 > 100 → down to 90, the 15 oldest last_ts go
        // (d1..d15), d0 stays.
        let more: Vec<FirstSeenRecord> = (100..105)
            .map(|i| rec(None, &format!("d{i}.com"), 2000 + i, 2000 + i))
            .collect();
        s.write_batch(run, &[], &[], &more).unwrap();
        assert_eq!((table_count(&s), s.first_seen_pruned()), (90, 15));
        let left: Vec<String> = first_seen_rows(&s).into_iter().map(|r| r.1).collect();
        assert!(left.contains(&"d0.com".to_string()));
        for i in 1..=15 {
            assert!(!left.contains(&format!("d{i}.com")), "d{i} kept");
        }
        assert!(left.contains(&"d16.com".to_string()));
        // A failed batch rolls back its rows and leaves the bookkeeping alone.
        s.set_first_seen_rows(91);
        let mut bad = some_windows();
        bad.truncate(1);
        let bad_batch = vec![rec(None, "x1.com", 1, 1), rec(None, "x2.com", 1, 1)];
        let e = s.write_batch(run + 100, &bad, &[], &bad_batch);
        assert!(
            e.is_err(),
            "a window of an unknown run violates the foreign key"
        );
        assert_eq!((table_count(&s), s.first_seen_pruned()), (90, 15));
        s.write_batch(run, &[], &[], &bad_batch).unwrap();
        // 92 > 91 → down to 82: the counter was not advanced by the failed batch.
        assert_eq!((table_count(&s), s.first_seen_pruned()), (82, 25));
        // A reopened Store counts the table once and keeps pruning.
        let mut big = Store::open_in_memory().unwrap();
        big.set_first_seen_rows(10);
        let run = big.begin_run("replay", &[], 300).unwrap();
        for round in 0..20 {
            let b: Vec<FirstSeenRecord> = (0..7)
                .map(|i| rec(Some("10.0.0.1"), &format!("r{round}x{i}.com"), round, round))
                .collect();
            big.write_batch(run, &[], &[], &b).unwrap();
            assert!(table_count(&big) <= 10);
        }
        assert_eq!(big.first_seen_pruned() + table_count(&big), 140);
    }

    #[test]
    fn refresh_records_move_last_ts_and_keep_first_ts() {
        let mut s = Store::open_in_memory().unwrap();
        let run = s.begin_run("replay", &[], 300).unwrap();
        s.write_batch(run, &[], &[], &[rec(None, "a.com", 100, 100)])
            .unwrap();
        s.write_batch(run, &[], &[], &[rec(None, "a.com", 9_000, 9_000)])
            .unwrap();
        assert_eq!(
            first_seen_rows(&s),
            vec![(String::new(), "a.com".into(), 100, 9_000)]
        );
        // An older record (e.g. a replay of an older file) never moves last_ts back.
        s.write_batch(run, &[], &[], &[rec(None, "a.com", 50, 50)])
            .unwrap();
        assert_eq!(
            first_seen_rows(&s),
            vec![(String::new(), "a.com".into(), 50, 9_000)]
        );
    }

    #[test]
    fn preload_is_newest_last_ts_first_within_each_limit() {
        let mut s = Store::open_in_memory().unwrap();
        let run = s.begin_run("replay", &[], 300).unwrap();
        let mut b = Vec::new();
        for i in 0..10 {
            b.push(rec(None, &format!("g{i}.com"), 0, 100 + i));
            b.push(rec(Some("10.0.0.1"), &format!("h{i}.com"), 0, 200 + i));
        }
        b.push(rec(Some("::1"), "v6.com", 0, 150));
        s.write_batch(run, &[], &[], &b).unwrap();
        let mut got = Vec::new();
        let n = s
            .load_first_seen(3, 4, |r| got.push((r.host.is_some(), r.domain, r.last_ts)))
            .unwrap();
        assert_eq!(n, 7);
        let want: Vec<(bool, String, i64)> = [
            (true, "h9.com", 209),
            (true, "h8.com", 208),
            (true, "h7.com", 207),
            (true, "h6.com", 206),
            (false, "g9.com", 109),
            (false, "g8.com", 108),
            (false, "g7.com", 107),
        ]
        .into_iter()
        .map(|(h, d, t)| (h, d.to_string(), t))
        .collect();
        assert_eq!(got, want);
        let mut all = 0;
        assert_eq!(s.load_first_seen(100, 100, |_| all += 1).unwrap(), 21);
        assert_eq!(all, 21);
        assert_eq!(s.load_first_seen(0, 0, |_| ()).unwrap(), 0);
    }

    #[test]
    fn first_seen_preload_and_prune_walk_the_index_without_sorting() {
        let s = Store::open_in_memory().unwrap();
        for sql in [
            FIRST_SEEN_PRELOAD_SQL.to_string(),
            FIRST_SEEN_PRUNE_SQL.replace('?', "10"),
        ] {
            let mut st = s
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            let plan: Vec<String> = st
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .map(|r| r.unwrap())
                .collect();
            let plan = plan.join(" | ");
            assert!(plan.contains("first_seen_last_ts"), "{sql}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{sql} sorts: {plan}");
        }
    }

    #[test]
    fn migration_from_v2_keeps_first_seen_rows() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v2.db");
        {
            let c = Connection::open(&p).unwrap();
            for sql in &MIGRATIONS[..2] {
                c.execute_batch(sql).unwrap();
            }
            c.pragma_update(None, "user_version", 2).unwrap();
            c.execute(
                "INSERT INTO first_seen (key, scope, domain, first_ts) VALUES (?, '', 'old.com', 42), (?, '10.0.0.1', 'old.com', 43)",
                params![first_seen_key("", "old.com"), first_seen_key("10.0.0.1", "old.com")],
            )
            .unwrap();
            c.execute(
                "INSERT INTO runs (command, inputs, window_secs, started_at, status) VALUES ('replay', '[]', 300, 'x', 'complete')",
                [],
            )
            .unwrap();
        }
        let mut s = Store::open(&p).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(
            first_seen_rows(&s),
            vec![
                (String::new(), "old.com".into(), 42, 42),
                ("10.0.0.1".into(), "old.com".into(), 43, 43)
            ]
        );
        let mut got = Vec::new();
        s.load_first_seen(10, 10, |r| got.push(r)).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].last_ts, 43, "newest first");
        // The migrated row upserts like a new one.
        s.write_batch(1, &[], &[], &[rec(None, "old.com", 99, 99)])
            .unwrap();
        assert_eq!(
            first_seen_rows(&s)[0],
            (String::new(), "old.com".into(), 42, 99)
        );
        assert_eq!(s.run_status(1).unwrap().as_deref(), Some("complete"));
    }

    #[test]
    fn runs_of_dead_processes_are_marked_crashed_at_the_next_start() {
        let mut s = Store::open_in_memory().unwrap();
        let me = procinfo::current().expect("/proc is mounted (Linux)");
        let mine = s.begin_run("replay", &[], 300).unwrap();
        let (pid, start, boot, host): (i64, i64, String, String) = s
            .conn
            .query_row(
                "SELECT pid, proc_start, boot_id, hostname FROM runs WHERE id = ?",
                [mine],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(
            (pid, start as u64, boot, host),
            (
                me.pid as i64,
                me.start_ticks,
                me.boot_id.clone(),
                me.hostname.clone()
            )
        );
        let add = |s: &Store, pid: Option<i64>, start: i64, boot: &str, host: &str| {
            s.conn
                .execute(
                    "INSERT INTO runs (command, inputs, window_secs, started_at, status, pid, proc_start, boot_id, hostname) VALUES ('replay', '[]', 300, 'x', 'running', ?, ?, ?, ?)",
                    params![pid, start, boot, host],
                )
                .unwrap();
            s.conn.last_insert_rowid()
        };
        let st = me.start_ticks as i64;
        let reused = add(&s, Some(me.pid as i64), st + 1, &me.boot_id, &me.hostname);
        let rebooted = add(&s, Some(me.pid as i64), st, "other-boot", &me.hostname);
        let gone = add(&s, Some(i64::from(u32::MAX)), 5, &me.boot_id, &me.hostname);
        let other_host = add(&s, Some(i64::from(u32::MAX)), 5, &me.boot_id, "elsewhere");
        let legacy = add(&s, None, 0, &me.boot_id, &me.hostname);
        let next = s.begin_run("replay", &[], 300).unwrap();
        for (id, want) in [
            (mine, "running"),
            (reused, "crashed"),
            (rebooted, "crashed"),
            (gone, "crashed"),
            (other_host, "running"),
            (legacy, "running"),
            (next, "running"),
        ] {
            assert_eq!(s.run_status(id).unwrap().as_deref(), Some(want), "run {id}");
        }
        let finished: Option<String> = s
            .conn
            .query_row("SELECT finished_at FROM runs WHERE id = ?", [gone], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(finished.is_some());
        assert!(s.mark_crashed_runs().unwrap().is_empty(), "nothing left");
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
