-- The schema a fresh database gets at once: the text SQLite stores after
-- every step of MIGRATIONS (src/store/schema.rs) has run, in creation order.
-- A test (fresh_schema_is_the_migrated_schema) keeps the two identical.
CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    command      TEXT NOT NULL,
    inputs       TEXT NOT NULL,          -- JSON array of input names
    window_secs  INTEGER NOT NULL,
    started_at   TEXT NOT NULL,          -- wall clock, RFC 3339 (bookkeeping only)
    finished_at  TEXT,
    status       TEXT NOT NULL,          -- running | complete | interrupted | failed
    stats        TEXT                    -- JSON run summary
, pid INTEGER, proc_start INTEGER, boot_id TEXT, hostname TEXT);
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
    explanation            TEXT, model_id TEXT, model_input TEXT, evidence INTEGER NOT NULL DEFAULT 0, incident_id INTEGER REFERENCES incidents(id), qtypes TEXT, rcodes TEXT,
    UNIQUE (run_id, host, window_start)
);
CREATE INDEX windows_start ON windows (window_start);
CREATE TABLE first_seen (
    key       INTEGER PRIMARY KEY, -- FNV-1a 64 of scope || 0x00 || domain (see first_seen_key)
    scope     TEXT NOT NULL,       -- '' = sensor-wide, else the client IP
    domain    TEXT NOT NULL,       -- registrable domain
    first_ts  INTEGER NOT NULL     -- unix microseconds, packet time
, last_ts INTEGER NOT NULL DEFAULT 0);
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
CREATE INDEX first_seen_last_ts ON first_seen (last_ts);
CREATE INDEX runs_status ON runs (status);
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
, triage TEXT, triage_status TEXT);
CREATE INDEX incidents_host_first ON incidents (host, first_seen);
CREATE INDEX incidents_status ON incidents (status, last_seen);
CREATE INDEX incidents_first ON incidents (first_seen);
CREATE INDEX windows_host_cover ON windows (host, window_start, last_ts, label, score);
CREATE INDEX windows_flagged ON windows (window_start, id) WHERE label <> 'Normal';
CREATE TABLE first_seen_state (
    id        INTEGER PRIMARY KEY,
    scheme    INTEGER NOT NULL,
    part      TEXT NOT NULL,       -- log | sensor | host | prevalence
    records   INTEGER NOT NULL,
    newest_ts INTEGER,             -- packet time (unix µs) of the batch's newest window, if any
    data      BLOB NOT NULL
);
CREATE INDEX windows_incident ON windows (incident_id) WHERE incident_id IS NOT NULL;
CREATE TABLE "detector_state" (
    id       INTEGER PRIMARY KEY,
    detector TEXT NOT NULL,
    key      TEXT NOT NULL,
    updated  INTEGER NOT NULL,
    state    TEXT NOT NULL,
    UNIQUE (detector, key)
);
CREATE INDEX detector_state_updated ON detector_state (detector, updated);
