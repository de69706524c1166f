//! The schema: [`MIGRATIONS`] (entry `i` upgrades version `i` to `i + 1`)
//! and the column list of `windows`.

use crate::features::FEATURE_NAMES;

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
    // v2: alerts of the flow detectors (crate `sentineldns-flows`, stored by the binary), one row per alerted window.
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
    // v5: site learning. Each window records the model that scored it, its
    // model input (so a site model can be fitted from stored windows:
    // `--learn`, `train --db`) and whether it carried model-independent
    // evidence (such windows are left out of site training). `models` is the
    // provenance of every model that scored a window in this database.
    r#"
ALTER TABLE windows ADD COLUMN model_id TEXT;      -- models.id; NULL: not scored
ALTER TABLE windows ADD COLUMN model_input TEXT;   -- JSON array, detect::MODEL_FEATURES order
ALTER TABLE windows ADD COLUMN evidence INTEGER NOT NULL DEFAULT 0; -- 1: model-independent evidence
CREATE TABLE models (
    id             TEXT PRIMARY KEY,   -- detect::model_id of the file's bytes
    role           TEXT NOT NULL,      -- prior | site
    path           TEXT,               -- the bundle file; NULL for the embedded prior
    fitted_at      INTEGER,            -- site models: packet time of the fit, unix seconds
    data_from      INTEGER,            -- site models: first training window start, unix seconds
    data_to        INTEGER,            -- site models: last training window end
    windows        INTEGER,            -- site models: windows the forest was fitted on
    left_out       INTEGER,            -- site models: windows left out for carrying evidence
    trimmed        INTEGER,            -- site models: most isolated windows trimmed
    training_hash  TEXT,               -- FNV-1a 64 of the training matrix (hex)
    unusual        REAL NOT NULL,      -- thresholds it labels with
    likely         REAL NOT NULL,
    run_id         INTEGER REFERENCES runs(id),
    created_at     TEXT NOT NULL       -- wall clock, RFC 3339 (bookkeeping only)
);
CREATE INDEX models_role_fitted ON models (role, fitted_at);
"#,
    // v6: incidents (crate::incident): consecutive flagged windows of one host
    // with related reasons. Written in the same transaction as the windows
    // that open or update them; a restarted sensor continues the open ones.
    // Times are unix seconds of packet time.
    r#"
CREATE TABLE incidents (
    id           INTEGER PRIMARY KEY,
    run_id       INTEGER NOT NULL REFERENCES runs(id), -- run that opened it
    host         TEXT NOT NULL,
    status       TEXT NOT NULL,      -- open | closed
    first_seen   INTEGER NOT NULL,   -- start of the first flagged window
    last_seen    INTEGER NOT NULL,   -- end of the last flagged window
    closed_at    INTEGER,            -- last_seen + quiet (or eviction time); NULL while open
    windows      INTEGER NOT NULL,   -- flagged windows in it
    peak_score   REAL NOT NULL,
    peak_label   TEXT NOT NULL,      -- Unusual | Likely Compromise
    reasons      TEXT NOT NULL,      -- JSON {tag: windows}
    domains      TEXT NOT NULL,      -- JSON {domain: windows}, sanitised, bounded
    model_id     TEXT NOT NULL,      -- model that scored the peak window
    explanation  TEXT NOT NULL,      -- of the peak window
    updated_at   INTEGER NOT NULL    -- packet time of the last change
);
CREATE INDEX incidents_host_first ON incidents (host, first_seen);
CREATE INDEX incidents_status ON incidents (status, last_seen);
CREATE INDEX incidents_first ON incidents (first_seen);
ALTER TABLE windows ADD COLUMN incident_id INTEGER REFERENCES incidents(id); -- NULL: not flagged
CREATE INDEX windows_incident ON windows (incident_id);
"#,
    // v7: state a stateful detector keeps per key (the slow signals: one row
    // per host, its last hour as JSON), written in the same transaction as
    // the windows that changed it, so a restarted sensor resumes it.
    // `updated` is unix seconds of packet time; rows older than the
    // detector's horizon are pruned as newer batches arrive.
    r#"
CREATE TABLE detector_state (
    detector TEXT NOT NULL,
    key      TEXT NOT NULL,
    updated  INTEGER NOT NULL,
    state    TEXT NOT NULL,
    PRIMARY KEY (detector, key)
) WITHOUT ROWID;
CREATE INDEX detector_state_updated ON detector_state (detector, updated);
"#,
    // v8: the per-host index covers what the host overview of `serve`
    // reads (latest window, last lookup, worst label and score of the
    // latest window), so `GET /api/v1/hosts` reads the index alone instead
    // of every window row: 18 -> 5 ms on 13,828 windows of 200 hosts.
    // Every query that used (host, window_start) uses its prefix. The
    // partial index of flagged windows (a few percent of them) serves the
    // dashboard's and the analyst's `min_label` pages without a scan.
    r#"
CREATE INDEX windows_host_cover ON windows (host, window_start, last_ts, label, score);
DROP INDEX windows_host_start;
CREATE INDEX windows_flagged ON windows (window_start, id) WHERE label <> 'Normal';
"#,
    // v9: each window's lookups per query type and per response code (JSON
    // objects, `store::read::QtypeMix` and `RcodeMix`), for the dashboard's
    // normal-vs-flagged distributions. NULL in rows written before v9.
    r#"
ALTER TABLE windows ADD COLUMN qtypes TEXT;  -- JSON {a, aaaa, txt, null, any, ptr, other_common, rare}
ALTER TABLE windows ADD COLUMN rcodes TEXT;  -- JSON {noerror, nxdomain, servfail, refused, other, no_response}
"#,
    // v10: the language-model triage of an incident (`crate::triage`): the
    // verdict of its latest successful triage as JSON, and the status of the
    // latest attempt (`ok`, or why there is none: `queue_full`,
    // `breaker_open`, `failed: …`, `invalid_response: …`, `shutdown`).
    // Both NULL when triage was off for the run that wrote it.
    r#"
ALTER TABLE incidents ADD COLUMN triage TEXT;
ALTER TABLE incidents ADD COLUMN triage_status TEXT;
"#,
    // v11: the first-seen state as compact binary records
    // (`crate::enrich::persist`): one row per window batch for the keys that
    // became new or were refreshed (`part` 'log'), and now and then a
    // snapshot of the whole in-memory state ('sensor', 'host', 'prevalence'
    // rows, at most 1 MiB each) that replaces every row before it. Restored
    // in `id` order. `scheme` fingerprints the key hash: rows of another are
    // ignored. The v1 `first_seen` table (one row per pair) is no longer
    // written; a sensor that finds rows in it preloads them once and its
    // first snapshot deletes them.
    r#"
CREATE TABLE first_seen_state (
    id        INTEGER PRIMARY KEY,
    scheme    INTEGER NOT NULL,
    part      TEXT NOT NULL,       -- log | sensor | host | prevalence
    records   INTEGER NOT NULL,
    newest_ts INTEGER,             -- packet time (unix µs) of the batch's newest window, if any
    data      BLOB NOT NULL
);
"#, // v12: only flagged windows belong to an incident, so the incident index
    // holds only them: one index write less for every Normal window (the
    // bulk of a batch). `incident_id = ?` implies NOT NULL, so the lookups
    // by incident still use it.
    r#"
DROP INDEX windows_incident;
CREATE INDEX windows_incident ON windows (incident_id) WHERE incident_id IS NOT NULL;
"#,
    // v13: detector_state becomes a rowid table with the key as a UNIQUE
    // index. As a WITHOUT ROWID table its rows were its primary-key b-tree's
    // cells, and a slow-signal state (about 1.5 KB of JSON) does not fit in
    // one: every key comparison of an upsert's search copied the whole row
    // and its overflow page into a fresh buffer (about 12 times an upsert,
    // 0.4 G instructions on 22,750 windows) and every upsert wrote the
    // overflow page too. Now the index holds only the key and the row
    // stays in its table page.
    r#"
CREATE TABLE detector_state_v13 (
    id       INTEGER PRIMARY KEY,
    detector TEXT NOT NULL,
    key      TEXT NOT NULL,
    updated  INTEGER NOT NULL,
    state    TEXT NOT NULL,
    UNIQUE (detector, key)
);
INSERT INTO detector_state_v13 (detector, key, updated, state)
    SELECT detector, key, updated, state FROM detector_state;
DROP TABLE detector_state;
ALTER TABLE detector_state_v13 RENAME TO detector_state;
CREATE INDEX detector_state_updated ON detector_state (detector, updated);
"#,
];

/// The schema at [`SCHEMA_VERSION`] in one script, for a fresh database:
/// what SQLite stores once every step of [`MIGRATIONS`] has run, so a new
/// file is created without re-reading its schema after each `ALTER TABLE`.
pub const FRESH: &str = include_str!("fresh.sql");

/// Latest schema version.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Columns of `windows` filled by [`Store::insert_windows`], in order.
pub(super) fn window_columns() -> Vec<&'static str> {
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
        "model_id",
        "model_input",
        "evidence",
        "incident_id",
        "qtypes",
        "rcodes",
    ]);
    c
}
