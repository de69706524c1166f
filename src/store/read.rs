//! The read side for `sentineldns serve` ([`crate::serve`]): a read-only
//! connection to a database a sensor may be writing (WAL readers never block
//! the writer), and the queries the HTTP API answers — host summaries, a page
//! of windows or incidents after a keyset cursor, one host's timeline with the
//! thresholds of the model that scored each window, runs and models.
//!
//! The row types derive [`utoipa::ToSchema`]: they are the API's response
//! bodies, so the OpenAPI document is generated from these definitions.
//! Times are RFC 3339 (UTC) strings of packet time; JSON columns are parsed
//! (a row whose JSON does not parse reads as empty rather than failing).

use super::{Store, StoreError, SCHEMA_VERSION};
use crate::features::FEATURE_NAMES;
use rusqlite::{params_from_iter, Connection, OpenFlags, OptionalExtension};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use utoipa::ToSchema;

/// RFC 3339 (UTC, seconds) of unix seconds; out-of-range values clamp to the epoch.
pub fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// RFC 3339 of fractional unix seconds (millisecond precision).
pub(crate) fn rfc3339_f(secs: f64) -> String {
    let ms = (secs * 1000.0).round();
    let ms = if ms.is_finite() { ms as i64 } else { 0 };
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Device and inode of the file at `path`: a reader that keeps connections
/// open compares them to notice the database was replaced or removed.
pub fn file_identity(path: &Path) -> Result<(u64, u64), StoreError> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .map(|m| (m.dev(), m.ino()))
        .map_err(|source| StoreError::File {
            path: path.to_path_buf(),
            source,
        })
}

/// Rank of a stored label (`Normal` 0, `Unusual` 1, `Likely Compromise` 2).
const LABEL_RANK: &str = "(CASE label WHEN 'Likely Compromise' THEN 2 WHEN 'Unusual' THEN 1 WHEN 'Normal' THEN 0 ELSE -1 END)";

/// One host of [`Store::hosts`].
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct HostSummary {
    /// Client address.
    pub host: String,
    /// Worst label among the host's latest windows (those starting at its
    /// latest window start); `null` when they were not scored.
    pub label: Option<String>,
    /// Highest score among those windows.
    pub score: Option<f64>,
    /// Start of the latest window (RFC 3339).
    pub latest_window: String,
    /// Time of the host's last lookup (RFC 3339).
    pub last_seen: String,
    /// Incidents of the host still open.
    pub open_incidents: i64,
    /// Stored windows of the host.
    pub windows: i64,
}

/// Why a window was scored as it was (see `detect::Reason`).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct ReasonRow {
    /// Tag, e.g. `nxdomain_spike`.
    pub tag: String,
    /// Model feature behind it.
    pub feature: String,
    /// Its value in the window.
    pub value: f64,
    /// Its usual value (training median; 0 for a finding from counts).
    pub usual: f64,
    /// Robust deviation from the training distribution (0 for a finding).
    pub deviation: f64,
}

/// A domain of a window's top or riskiest list.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, ToSchema)]
pub struct DomainRow {
    /// The name as looked up (attacker-controlled text).
    pub name: String,
    /// Lookups of it in the window.
    pub count: u32,
    /// Of which NXDOMAIN.
    pub nxdomain: u32,
    /// Its lexical risk.
    pub risk: f64,
}

/// Lookups per query type, of one window or summed over windows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct QtypeMix {
    /// A.
    pub a: u64,
    /// AAAA.
    pub aaaa: u64,
    /// TXT.
    pub txt: u64,
    /// NULL.
    pub null: u64,
    /// ANY.
    pub any: u64,
    /// PTR.
    pub ptr: u64,
    /// MX, SRV, CNAME, NS, SOA, HTTPS, SVCB.
    pub other_common: u64,
    /// Every other type.
    pub rare: u64,
}

impl QtypeMix {
    /// The counts of a closed window.
    pub fn of(w: &crate::aggregate::HostWindow) -> Self {
        let q = &w.qtypes;
        QtypeMix {
            a: q.a.into(),
            aaaa: q.aaaa.into(),
            txt: q.txt.into(),
            null: q.null.into(),
            any: q.any.into(),
            ptr: q.ptr.into(),
            other_common: q.common_other.into(),
            rare: q.rare.into(),
        }
    }

    /// Append its JSON (`serde_json::to_string`'s bytes) to `out`.
    pub fn push_json(&self, out: &mut String) {
        super::json::push_counts(
            out,
            &[
                ("a", self.a),
                ("aaaa", self.aaaa),
                ("txt", self.txt),
                ("null", self.null),
                ("any", self.any),
                ("ptr", self.ptr),
                ("other_common", self.other_common),
                ("rare", self.rare),
            ],
        );
    }
}

/// Lookups per response code, of one window or summed over windows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct RcodeMix {
    /// NOERROR.
    pub noerror: u64,
    /// NXDOMAIN.
    pub nxdomain: u64,
    /// SERVFAIL.
    pub servfail: u64,
    /// REFUSED.
    pub refused: u64,
    /// Any other response code.
    pub other: u64,
    /// No response (timed out, or an event without a response code).
    pub no_response: u64,
}

impl RcodeMix {
    /// The counts of a closed window.
    pub fn of(w: &crate::aggregate::HostWindow) -> Self {
        let errors = w.nxdomain + w.servfail + w.refused + w.other_error;
        RcodeMix {
            noerror: w.with_rcode.saturating_sub(errors).into(),
            nxdomain: w.nxdomain.into(),
            servfail: w.servfail.into(),
            refused: w.refused.into(),
            other: w.other_error.into(),
            no_response: w.unanswered.into(),
        }
    }

    /// Append its JSON (`serde_json::to_string`'s bytes) to `out`.
    pub fn push_json(&self, out: &mut String) {
        super::json::push_counts(
            out,
            &[
                ("noerror", self.noerror),
                ("nxdomain", self.nxdomain),
                ("servfail", self.servfail),
                ("refused", self.refused),
                ("other", self.other),
                ("no_response", self.no_response),
            ],
        );
    }
}

/// One stored window as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WindowRow {
    /// Row id.
    pub id: i64,
    /// Run that stored it.
    pub run_id: i64,
    /// Client address.
    pub host: String,
    /// Window start (RFC 3339, packet time).
    pub window_start: String,
    /// Window end (RFC 3339).
    pub window_end: String,
    /// Lookups in the window.
    pub lookups: i64,
    /// Calibrated anomaly score in [0, 1]; `null` when not scored.
    pub score: Option<f64>,
    /// `Normal`, `Unusual` or `Likely Compromise`; `null` when not scored.
    pub label: Option<String>,
    /// Reasons, strongest first.
    pub reasons: Vec<ReasonRow>,
    /// One paragraph for an analyst.
    pub explanation: Option<String>,
    /// Id of the model that scored it (see `GET /api/v1/models`).
    pub model_id: Option<String>,
    /// Incident it belongs to, if flagged.
    pub incident_id: Option<i64>,
    /// Most looked-up domains.
    pub top_domains: Vec<DomainRow>,
    /// Riskiest domains.
    pub risky_domains: Vec<DomainRow>,
    /// Stored window features by name (`features::FEATURE_NAMES`).
    pub features: BTreeMap<String, f64>,
    /// Ground-truth label of simulated input, if any.
    pub truth_label: Option<String>,
    /// Lookups per query type; `null` for windows stored before schema v9.
    pub qtypes: Option<QtypeMix>,
    /// Lookups per response code; `null` for windows stored before schema v9.
    pub rcodes: Option<RcodeMix>,
    /// The sensor that scored it: only from the fleet database
    /// (`serve --postgres`); absent from one sensor's SQLite file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensor: Option<String>,
}

/// Filter and page of [`Store::hosts`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostFilter {
    /// Only this host.
    pub host: Option<String>,
    /// Only hosts whose current worst label ranks at least this.
    pub min_rank: Option<u8>,
    /// Only hosts whose current highest score is at least this.
    pub min_score: Option<f64>,
    /// Rows to skip.
    pub offset: u64,
    /// Most rows.
    pub limit: u32,
}

/// Windows of a host's profile ([`Store::host_profile`]) considered at most:
/// the latest ones in the range.
pub const PROFILE_WINDOWS: u32 = 10_000;

/// Lookups per query type in a host's normal and flagged windows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, ToSchema)]
pub struct QtypeSplit {
    /// Summed over windows labelled `Normal` or not scored.
    pub normal: QtypeMix,
    /// Summed over windows labelled `Unusual` or `Likely Compromise`.
    pub flagged: QtypeMix,
}

/// Lookups per response code in a host's normal and flagged windows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, ToSchema)]
pub struct RcodeSplit {
    /// Summed over windows labelled `Normal` or not scored.
    pub normal: RcodeMix,
    /// Summed over windows labelled `Unusual` or `Likely Compromise`.
    pub flagged: RcodeMix,
}

/// A domain among a host's most looked-up names, summed over the windows'
/// stored top-domain lists.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct HostDomain {
    /// The name as looked up (attacker-controlled text).
    pub name: String,
    /// Lookups of it, in the windows where it was among the top domains.
    pub lookups: i64,
    /// Of which NXDOMAIN.
    pub nxdomain: i64,
    /// Windows in whose top list it was.
    pub windows: i64,
    /// Of which flagged (`Unusual` or `Likely Compromise`).
    pub flagged_windows: i64,
    /// Its lexical risk.
    pub risk: f64,
}

/// What a host looked up over a time range: window counts, query-type and
/// response-code distributions of its normal and flagged windows, and its
/// most looked-up domains.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct HostProfile {
    /// Client address.
    pub host: String,
    /// Windows considered (the latest [`PROFILE_WINDOWS`] in the range at most).
    pub windows: i64,
    /// Of which flagged.
    pub flagged_windows: i64,
    /// Of which not scored.
    pub unscored_windows: i64,
    /// More windows matched the range than were considered.
    pub truncated: bool,
    /// Start of the earliest window considered (RFC 3339); `null` when none.
    pub first_window: Option<String>,
    /// Start of the latest window considered (RFC 3339); `null` when none.
    pub last_window: Option<String>,
    /// Lookups per query type, normal vs flagged windows.
    pub qtypes: QtypeSplit,
    /// Lookups per response code, normal vs flagged windows.
    pub rcodes: RcodeSplit,
    /// Most looked-up domains, most lookups first.
    pub top_domains: Vec<HostDomain>,
}

/// Windows per label in one time bucket.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct VerdictBucket {
    /// Bucket start (RFC 3339, packet time); buckets are aligned to
    /// multiples of their width since the Unix epoch.
    pub start: String,
    /// Windows labelled `Normal`.
    pub normal: i64,
    /// Windows labelled `Unusual`.
    pub unusual: i64,
    /// Windows labelled `Likely Compromise`.
    pub likely: i64,
    /// Windows not scored.
    pub unscored: i64,
}

/// Filter and page of [`Store::page_windows`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WindowFilter {
    /// Only this host.
    pub host: Option<String>,
    /// Windows starting at or after (unix seconds).
    pub since: Option<i64>,
    /// Windows starting before (unix seconds).
    pub until: Option<i64>,
    /// Only this run.
    pub run: Option<i64>,
    /// Only labels of at least this rank (0 Normal, 1 Unusual, 2 Likely).
    pub min_rank: Option<u8>,
    /// Only scores of at least this.
    pub min_score: Option<f64>,
    /// Only windows of this sensor (fleet database only).
    pub sensor: Option<String>,
    /// Newest first.
    pub desc: bool,
    /// After this `(window_start, id)` in the chosen order.
    pub after: Option<(i64, i64)>,
    /// At most this many rows.
    pub limit: u32,
}

/// One point of a host's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TimelinePoint {
    /// Window row id.
    pub id: i64,
    /// Run that stored it.
    pub run_id: i64,
    /// Window start (RFC 3339).
    pub window_start: String,
    /// Window end (RFC 3339).
    pub window_end: String,
    /// Lookups in the window.
    pub lookups: i64,
    /// Score; `null` when not scored.
    pub score: Option<f64>,
    /// Label; `null` when not scored.
    pub label: Option<String>,
    /// Model that scored it.
    pub model_id: Option<String>,
    /// That model's Unusual threshold (`null` when unknown).
    pub unusual: Option<f64>,
    /// That model's Likely Compromise threshold.
    pub likely: Option<f64>,
    /// Reason tags, strongest first.
    pub tags: Vec<String>,
    /// Incident it belongs to, if flagged.
    pub incident_id: Option<i64>,
}

/// A stored incident as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IncidentRow {
    /// Id.
    pub id: i64,
    /// Run that opened it.
    pub run_id: i64,
    /// Client address.
    pub host: String,
    /// `open` or `closed`.
    pub state: String,
    /// Start of its first flagged window (RFC 3339).
    pub first_seen: String,
    /// End of its last flagged window (RFC 3339).
    pub last_seen: String,
    /// When it closed (RFC 3339); `null` while open.
    pub closed_at: Option<String>,
    /// Flagged windows in it.
    pub windows: i64,
    /// Highest score of its windows.
    pub peak_score: f64,
    /// Highest label of its windows.
    pub peak_label: String,
    /// Reason tag → windows that gave it.
    pub reasons: BTreeMap<String, u32>,
    /// Domain → flagged windows it appeared in (sanitised, bounded).
    pub domains: BTreeMap<String, u32>,
    /// Model that scored the peak window.
    pub model_id: String,
    /// Explanation of the peak window.
    pub explanation: String,
    /// Status of the incident's latest language-model triage: `ok`, or why
    /// there is none (`off` when triage was off for the run that wrote it,
    /// `pending` while the model works on it, `queue_full`, `breaker_open`,
    /// `failed: …`, `invalid_response: …`, `shutdown`). Triage annotates; it
    /// never changes the label.
    pub triage_status: String,
    /// The verdict of its latest successful triage: `category`,
    /// `threat_score` 0–100, `confidence`, `summary`, `recommended_actions`.
    #[schema(value_type = Option<Object>)]
    pub triage: Option<serde_json::Value>,
    /// The sensor whose tracker opened it: only from the fleet database
    /// (`serve --postgres`, where `id` is the fleet's number and
    /// `sensor_incident_id` the sensor's); absent from one sensor's SQLite file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensor: Option<String>,
    /// The sensor's own incident id (fleet database only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensor_incident_id: Option<i64>,
}

/// Filter and page of [`Store::page_incidents`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentFilter {
    /// Only this host.
    pub host: Option<String>,
    /// Only `open` (true) or `closed` (false).
    pub open: Option<bool>,
    /// Incidents seen at or after (unix seconds of `last_seen`).
    pub since: Option<i64>,
    /// Incidents that started before (unix seconds of `first_seen`).
    pub until: Option<i64>,
    /// Only peak labels of at least this rank (1 Unusual, 2 Likely).
    pub min_rank: Option<u8>,
    /// Only incidents of this sensor (fleet database only).
    pub sensor: Option<String>,
    /// Newest first.
    pub desc: bool,
    /// After this `(first_seen, id)` in the chosen order.
    pub after: Option<(i64, i64)>,
    /// At most this many rows.
    pub limit: u32,
}

/// A run of the sensor.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RunRow {
    /// Id.
    pub id: i64,
    /// `replay`, `capture`, …
    pub command: String,
    /// Input names.
    pub inputs: Vec<String>,
    /// Window length, seconds.
    pub window_secs: i64,
    /// Wall clock start (RFC 3339).
    pub started_at: String,
    /// Wall clock end (RFC 3339), `null` while running.
    pub finished_at: Option<String>,
    /// `running`, `complete`, `interrupted`, `failed`, `stopped` or `crashed`.
    pub status: String,
    /// Host name of the sensor.
    pub hostname: Option<String>,
    /// Windows it stored.
    pub windows: i64,
}

/// A model that scored windows in this database.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ModelRow {
    /// Id (hash of the bundle's bytes).
    pub id: String,
    /// `prior` (the shipped model) or `site` (fitted on this network).
    pub role: String,
    /// Bundle file, `null` for the embedded prior.
    pub path: Option<String>,
    /// Site models: packet time of the fit (RFC 3339).
    pub fitted_at: Option<String>,
    /// Site models: windows it was fitted on.
    pub training_windows: Option<i64>,
    /// Unusual threshold.
    pub unusual: f64,
    /// Likely Compromise threshold.
    pub likely: f64,
    /// Run that recorded it.
    pub run_id: Option<i64>,
    /// Windows it scored in this database.
    pub windows_scored: i64,
}

/// What `GET /healthz` reports of the store.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StoreHealth {
    /// Schema version of the file.
    pub schema_version: i64,
    /// Stored windows.
    pub windows: i64,
    /// Status of the latest run, if any.
    pub latest_run_status: Option<String>,
}

fn parse_json<T: serde::de::DeserializeOwned + Default>(s: Option<String>) -> T {
    s.and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}

fn parse_opt<T: serde::de::DeserializeOwned>(s: Option<String>) -> Option<T> {
    s.and_then(|s| serde_json::from_str(&s).ok())
}

/// The `WHERE` condition and arguments of an optional host and a
/// `[since, until)` range of window starts.
fn span_filter(
    host: Option<&str>,
    since: Option<i64>,
    until: Option<i64>,
) -> (String, Vec<rusqlite::types::Value>) {
    let mut cond = String::from("1=1");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(h) = host {
        cond.push_str(" AND host = ?");
        args.push(h.to_string().into());
    }
    if let Some(s) = since {
        cond.push_str(" AND window_start >= ?");
        args.push(s.into());
    }
    if let Some(u) = until {
        cond.push_str(" AND window_start < ?");
        args.push(u.into());
    }
    (cond, args)
}

/// The host overview's query and its arguments (its plan is pinned by a
/// test: it must read the covering index `windows_host_cover`, not the
/// window rows).
pub(super) fn hosts_sql(f: &HostFilter) -> (String, Vec<rusqlite::types::Value>) {
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    let only = match &f.host {
        Some(h) => {
            args.push(h.clone().into());
            "WHERE host = ?"
        }
        None => "",
    };
    let mut sql = format!(
        "SELECT * FROM (SELECT h.host, h.n, h.last_seen, h.latest, \
           (SELECT MAX({LABEL_RANK}) FROM windows w WHERE w.host = h.host AND w.window_start = h.latest) AS worst, \
           (SELECT MAX(score) FROM windows w WHERE w.host = h.host AND w.window_start = h.latest) AS top, \
           (SELECT COUNT(*) FROM incidents i WHERE i.host = h.host AND i.status = 'open') \
         FROM (SELECT host, COUNT(*) AS n, MAX(last_ts) AS last_seen, MAX(window_start) AS latest FROM windows {only} GROUP BY host) h) \
         WHERE 1=1"
    );
    if let Some(m) = f.min_rank {
        sql.push_str(" AND worst >= ?");
        args.push(i64::from(m).into());
    }
    if let Some(m) = f.min_score {
        sql.push_str(" AND top >= ?");
        args.push(m.into());
    }
    sql.push_str(" ORDER BY worst DESC, top DESC, host LIMIT ? OFFSET ?");
    args.push(i64::from(f.limit).into());
    args.push(i64::try_from(f.offset).unwrap_or(i64::MAX).into());
    (sql, args)
}

/// The query of one page of windows and its arguments (plans pinned by a
/// test: flagged-only pages read the partial index `windows_flagged`).
pub(super) fn windows_sql(f: &WindowFilter) -> (String, Vec<rusqlite::types::Value>) {
    let feats = FEATURE_NAMES.join(", ");
    let mut sql = format!(
        "SELECT id, run_id, host, window_start, window_end, lookups, score, label, reasons, \
         explanation, model_id, incident_id, top_domains, risky_domains, truth_label, qtypes, rcodes, \
         {feats} FROM windows WHERE 1=1"
    );
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(h) = &f.host {
        sql.push_str(" AND host = ?");
        args.push(h.clone().into());
    }
    if let Some(s) = f.since {
        sql.push_str(" AND window_start >= ?");
        args.push(s.into());
    }
    if let Some(u) = f.until {
        sql.push_str(" AND window_start < ?");
        args.push(u.into());
    }
    if let Some(r) = f.run {
        sql.push_str(" AND run_id = ?");
        args.push(r.into());
    }
    if let Some(m) = f.min_rank {
        if m >= 1 {
            // Implied by the rank; spelled out so SQLite can use the
            // partial index `windows_flagged`.
            sql.push_str(" AND label <> 'Normal'");
        }
        sql.push_str(&format!(" AND {LABEL_RANK} >= ?"));
        args.push(i64::from(m).into());
    }
    if let Some(m) = f.min_score {
        sql.push_str(" AND score >= ?");
        args.push(m.into());
    }
    keyset(&mut sql, &mut args, "window_start", f.desc, f.after);
    sql.push_str(&format!(" LIMIT {}", f.limit));
    (sql, args)
}

/// The `AND (k > a OR (k = a AND id > b))` keyset condition.
fn keyset(
    sql: &mut String,
    args: &mut Vec<rusqlite::types::Value>,
    key: &str,
    desc: bool,
    after: Option<(i64, i64)>,
) {
    if let Some((k, id)) = after {
        let op = if desc { "<" } else { ">" };
        sql.push_str(&format!(" AND ({key} {op} ? OR ({key} = ? AND id {op} ?))"));
        args.extend([k.into(), k.into(), id.into()]);
    }
    let dir = if desc { "DESC" } else { "ASC" };
    sql.push_str(&format!(" ORDER BY {key} {dir}, id {dir}"));
}

/// Everything `sentineldns serve` reads, over one sensor's SQLite file
/// ([`Store`]) or the fleet's PostgreSQL database
/// (`crate::store::pg::PgRead`, feature `postgres`). Both answer with the
/// same row types, so the API and the dashboard are the same over either.
///
/// The methods are synchronous: `serve` runs them on tokio's blocking pool
/// (`spawn_blocking`), where the SQLite reads block anyway, and the
/// PostgreSQL side drives its async client with the runtime's
/// `Handle::block_on` there. One blocking interface keeps the handlers
/// thin and identical for both stores, at the cost of a blocking thread per
/// request in flight (bounded by the runtime's `max_blocking_threads`).
pub trait StoreRead {
    /// Schema version, window count and latest run status.
    fn health(&self) -> Result<StoreHealth, StoreError>;
    /// Hosts by worst current label (see [`Store::hosts`]).
    fn hosts(&self, f: &HostFilter) -> Result<Vec<HostSummary>, StoreError>;
    /// A host's profile (see [`Store::host_profile`]).
    fn host_profile(
        &self,
        host: &str,
        since: Option<i64>,
        until: Option<i64>,
        top: u32,
    ) -> Result<HostProfile, StoreError>;
    /// Earliest and latest window start and longest window (see [`Store::window_span`]).
    fn window_span(
        &self,
        host: Option<&str>,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Option<(i64, i64, i64)>, StoreError>;
    /// Windows per label per bucket (see [`Store::verdict_buckets`]).
    fn verdict_buckets(
        &self,
        host: Option<&str>,
        since: Option<i64>,
        until: Option<i64>,
        bucket: i64,
    ) -> Result<Vec<VerdictBucket>, StoreError>;
    /// Whether any window of `host` is stored.
    fn has_host(&self, host: &str) -> Result<bool, StoreError>;
    /// One page of windows (see [`Store::page_windows`]).
    fn page_windows(&self, f: &WindowFilter) -> Result<Vec<WindowRow>, StoreError>;
    /// The `(window_start, id)` key of a window.
    fn window_key(&self, id: i64) -> Result<Option<(i64, i64)>, StoreError>;
    /// A host's timeline (see [`Store::timeline`]).
    fn timeline(
        &self,
        host: &str,
        since: Option<i64>,
        until: Option<i64>,
        limit: u32,
        desc: bool,
    ) -> Result<Vec<TimelinePoint>, StoreError>;
    /// One page of incidents (see [`Store::page_incidents`]).
    fn page_incidents(&self, f: &IncidentFilter) -> Result<Vec<IncidentRow>, StoreError>;
    /// The `(first_seen, id)` key of an incident.
    fn incident_key(&self, id: i64) -> Result<Option<(i64, i64)>, StoreError>;
    /// Runs, newest first.
    fn runs(&self, limit: u32) -> Result<Vec<RunRow>, StoreError>;
    /// Models that scored windows.
    fn model_rows(&self) -> Result<Vec<ModelRow>, StoreError>;
}

impl StoreRead for Store {
    fn health(&self) -> Result<StoreHealth, StoreError> {
        Store::health(self)
    }
    fn hosts(&self, f: &HostFilter) -> Result<Vec<HostSummary>, StoreError> {
        Store::hosts(self, f)
    }
    fn host_profile(
        &self,
        host: &str,
        since: Option<i64>,
        until: Option<i64>,
        top: u32,
    ) -> Result<HostProfile, StoreError> {
        Store::host_profile(self, host, since, until, top)
    }
    fn window_span(
        &self,
        host: Option<&str>,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Option<(i64, i64, i64)>, StoreError> {
        Store::window_span(self, host, since, until)
    }
    fn verdict_buckets(
        &self,
        host: Option<&str>,
        since: Option<i64>,
        until: Option<i64>,
        bucket: i64,
    ) -> Result<Vec<VerdictBucket>, StoreError> {
        Store::verdict_buckets(self, host, since, until, bucket)
    }
    fn has_host(&self, host: &str) -> Result<bool, StoreError> {
        Store::has_host(self, host)
    }
    fn page_windows(&self, f: &WindowFilter) -> Result<Vec<WindowRow>, StoreError> {
        Store::page_windows(self, f)
    }
    fn window_key(&self, id: i64) -> Result<Option<(i64, i64)>, StoreError> {
        Store::window_key(self, id)
    }
    fn timeline(
        &self,
        host: &str,
        since: Option<i64>,
        until: Option<i64>,
        limit: u32,
        desc: bool,
    ) -> Result<Vec<TimelinePoint>, StoreError> {
        Store::timeline(self, host, since, until, limit, desc)
    }
    fn page_incidents(&self, f: &IncidentFilter) -> Result<Vec<IncidentRow>, StoreError> {
        Store::page_incidents(self, f)
    }
    fn incident_key(&self, id: i64) -> Result<Option<(i64, i64)>, StoreError> {
        Store::incident_key(self, id)
    }
    fn runs(&self, limit: u32) -> Result<Vec<RunRow>, StoreError> {
        Store::runs(self, limit)
    }
    fn model_rows(&self) -> Result<Vec<ModelRow>, StoreError> {
        Store::model_rows(self)
    }
}

impl Store {
    /// Open an existing database read-only (no migration, no writes; WAL
    /// readers do not block a sensor writing it). The schema must be the
    /// one this build writes: an older file is migrated by the next `replay`
    /// or `capture`, a newer one needs a newer sentineldns.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let err = |e| StoreError::Sqlite {
            path: path.to_path_buf(),
            source: e,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        let s = Store::with_conn(conn, path.to_path_buf());
        let v = s.schema_version()?;
        if v > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: path.to_path_buf(),
                found: v,
                supported: SCHEMA_VERSION,
            });
        }
        if v < SCHEMA_VERSION {
            return Err(StoreError::Outdated {
                path: path.to_path_buf(),
                found: v,
                supported: SCHEMA_VERSION,
            });
        }
        Ok(s)
    }

    /// Schema version, window count and the latest run's status: a query
    /// that touches the tables, so an unreadable file shows here.
    pub fn health(&self) -> Result<StoreHealth, StoreError> {
        let schema_version = self.schema_version()?;
        let windows = self
            .conn
            .query_row("SELECT COUNT(*) FROM windows", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        let latest_run_status = self
            .conn
            .query_row(
                "SELECT status FROM runs ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(StoreHealth {
            schema_version,
            windows,
            latest_run_status,
        })
    }

    /// Hosts ordered by worst current label, then score, then address,
    /// filtered by `f`; `f.offset` rows skipped, at most `f.limit`.
    pub fn hosts(&self, f: &HostFilter) -> Result<Vec<HostSummary>, StoreError> {
        let (sql, args) = hosts_sql(f);
        let mut st = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params_from_iter(args), |r| {
                let worst: Option<i64> = r.get(4)?;
                Ok(HostSummary {
                    host: r.get(0)?,
                    windows: r.get(1)?,
                    last_seen: rfc3339_f(r.get(2)?),
                    latest_window: rfc3339(r.get(3)?),
                    label: match worst {
                        Some(2) => Some("Likely Compromise".into()),
                        Some(1) => Some("Unusual".into()),
                        Some(0) => Some("Normal".into()),
                        _ => None,
                    },
                    score: r.get(5)?,
                    open_incidents: r.get(6)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// The profile of `host` over windows starting in `[since, until)`
    /// (the latest [`PROFILE_WINDOWS`] of them), with its `top` most
    /// looked-up domains.
    pub fn host_profile(
        &self,
        host: &str,
        since: Option<i64>,
        until: Option<i64>,
        top: u32,
    ) -> Result<HostProfile, StoreError> {
        let mut cond = String::from("host = ?");
        let mut args: Vec<rusqlite::types::Value> = vec![host.to_string().into()];
        if let Some(s) = since {
            cond.push_str(" AND window_start >= ?");
            args.push(s.into());
        }
        if let Some(u) = until {
            cond.push_str(" AND window_start < ?");
            args.push(u.into());
        }
        let matched: i64 = self
            .conn
            .query_row(
                &format!("SELECT COUNT(*) FROM windows WHERE {cond}"),
                params_from_iter(args.iter()),
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        let scope = format!(
            "WITH w AS (SELECT label, window_start, qtypes, rcodes, top_domains FROM windows \
             WHERE {cond} ORDER BY window_start DESC, id DESC LIMIT {PROFILE_WINDOWS})"
        );
        let sum = |json: &str, key: &str| {
            format!("CAST(IFNULL(SUM(json_extract({json}, '$.{key}')), 0) AS INTEGER)")
        };
        let qkeys = [
            "a",
            "aaaa",
            "txt",
            "null",
            "any",
            "ptr",
            "other_common",
            "rare",
        ];
        let rkeys = [
            "noerror",
            "nxdomain",
            "servfail",
            "refused",
            "other",
            "no_response",
        ];
        let cols: Vec<String> = qkeys
            .iter()
            .map(|k| sum("qtypes", k))
            .chain(rkeys.iter().map(|k| sum("rcodes", k)))
            .collect();
        let sql = format!(
            "{scope} SELECT ({LABEL_RANK} >= 1) AS flagged, COUNT(*), SUM(label IS NULL), \
             MIN(window_start), MAX(window_start), {} FROM w GROUP BY flagged",
            cols.join(", ")
        );
        let mut p = HostProfile {
            host: host.to_string(),
            windows: 0,
            flagged_windows: 0,
            unscored_windows: 0,
            truncated: matched > i64::from(PROFILE_WINDOWS),
            first_window: None,
            last_window: None,
            qtypes: QtypeSplit::default(),
            rcodes: RcodeSplit::default(),
            top_domains: Vec::new(),
        };
        let (mut first, mut last): (Option<i64>, Option<i64>) = (None, None);
        {
            let mut st = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
            let mut q = st
                .query(params_from_iter(args.iter()))
                .map_err(|e| self.err(e))?;
            while let Some(r) = q.next().map_err(|e| self.err(e))? {
                let row =
                    |i: usize| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(i)?.max(0) as u64) };
                let read =
                    || -> rusqlite::Result<(bool, i64, i64, i64, i64, QtypeMix, RcodeMix)> {
                        let q = QtypeMix {
                            a: row(5)?,
                            aaaa: row(6)?,
                            txt: row(7)?,
                            null: row(8)?,
                            any: row(9)?,
                            ptr: row(10)?,
                            other_common: row(11)?,
                            rare: row(12)?,
                        };
                        let rc = RcodeMix {
                            noerror: row(13)?,
                            nxdomain: row(14)?,
                            servfail: row(15)?,
                            refused: row(16)?,
                            other: row(17)?,
                            no_response: row(18)?,
                        };
                        Ok((
                            r.get::<_, i64>(0)? == 1,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            q,
                            rc,
                        ))
                    };
                let (flagged, n, unscored, lo, hi, q, rc) = read().map_err(|e| self.err(e))?;
                p.windows += n;
                p.unscored_windows += unscored;
                first = Some(first.map_or(lo, |f| f.min(lo)));
                last = Some(last.map_or(hi, |l| l.max(hi)));
                if flagged {
                    p.flagged_windows += n;
                    p.qtypes.flagged = q;
                    p.rcodes.flagged = rc;
                } else {
                    p.qtypes.normal = q;
                    p.rcodes.normal = rc;
                }
            }
        }
        p.first_window = first.map(rfc3339);
        p.last_window = last.map(rfc3339);
        let sql = format!(
            "{scope} SELECT json_extract(d.value, '$.name') AS name, \
               CAST(IFNULL(SUM(json_extract(d.value, '$.count')), 0) AS INTEGER) AS n, \
               CAST(IFNULL(SUM(json_extract(d.value, '$.nxdomain')), 0) AS INTEGER), \
               COUNT(*), SUM({LABEL_RANK} >= 1), IFNULL(MAX(json_extract(d.value, '$.risk')), 0.0) \
             FROM w, json_each(CASE WHEN json_valid(w.top_domains) THEN w.top_domains ELSE '[]' END) d \
             WHERE json_type(d.value, '$.name') = 'text' \
             GROUP BY name ORDER BY n DESC, name LIMIT {top}"
        );
        let mut st = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params_from_iter(args.iter()), |r| {
                Ok(HostDomain {
                    name: r.get(0)?,
                    lookups: r.get(1)?,
                    nxdomain: r.get(2)?,
                    windows: r.get(3)?,
                    flagged_windows: r.get(4)?,
                    risk: r.get(5)?,
                })
            })
            .map_err(|e| self.err(e))?;
        p.top_domains = rows
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e))?;
        Ok(p)
    }

    /// Earliest and latest window start and the longest window (seconds)
    /// among windows of `host` (any when `None`) starting in `[since,
    /// until)`; `None` when there are none.
    pub fn window_span(
        &self,
        host: Option<&str>,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Option<(i64, i64, i64)>, StoreError> {
        let (cond, args) = span_filter(host, since, until);
        self.conn
            .query_row(
                &format!(
                    "SELECT MIN(window_start), MAX(window_start), MAX(window_end - window_start) \
                     FROM windows WHERE {cond}"
                ),
                params_from_iter(args),
                |r| {
                    Ok((
                        r.get::<_, Option<i64>>(0)?,
                        r.get::<_, Option<i64>>(1)?,
                        r.get::<_, Option<i64>>(2)?,
                    ))
                },
            )
            .map(|(a, b, w)| Some((a?, b?, w.unwrap_or(0))))
            .map_err(|e| self.err(e))
    }

    /// Windows per label in buckets of `bucket` seconds (aligned to the
    /// epoch), oldest first; buckets without windows are left out.
    pub fn verdict_buckets(
        &self,
        host: Option<&str>,
        since: Option<i64>,
        until: Option<i64>,
        bucket: i64,
    ) -> Result<Vec<VerdictBucket>, StoreError> {
        let (cond, args) = span_filter(host, since, until);
        let b = bucket.max(1);
        let sql = format!(
            "SELECT (window_start / {b}) * {b} AS k, SUM(label = 'Normal'), SUM(label = 'Unusual'), \
             SUM(label = 'Likely Compromise'), SUM(label IS NULL) \
             FROM windows WHERE {cond} GROUP BY k ORDER BY k"
        );
        let mut st = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params_from_iter(args), |r| {
                Ok(VerdictBucket {
                    start: rfc3339(r.get(0)?),
                    normal: r.get(1)?,
                    unusual: r.get(2)?,
                    likely: r.get(3)?,
                    unscored: r.get(4)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Whether any window of `host` is stored.
    pub fn has_host(&self, host: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT 1 FROM windows WHERE host = ? LIMIT 1",
                [host],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
            .map_err(|e| self.err(e))
    }

    /// One page of windows matching `f`, in `(window_start, id)` order.
    pub fn page_windows(&self, f: &WindowFilter) -> Result<Vec<WindowRow>, StoreError> {
        if f.sensor.is_some() {
            // One sensor's file: its rows name no sensor, so none matches.
            return Ok(Vec::new());
        }
        let (sql, args) = windows_sql(f);
        let mut st = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params_from_iter(args), |r| {
                let mut features = BTreeMap::new();
                for (i, name) in FEATURE_NAMES.iter().enumerate() {
                    features.insert(name.to_string(), r.get::<_, f64>(17 + i)?);
                }
                Ok(WindowRow {
                    id: r.get(0)?,
                    run_id: r.get(1)?,
                    host: r.get(2)?,
                    window_start: rfc3339(r.get(3)?),
                    window_end: rfc3339(r.get(4)?),
                    lookups: r.get(5)?,
                    score: r.get(6)?,
                    label: r.get(7)?,
                    reasons: parse_json(r.get(8)?),
                    explanation: r.get(9)?,
                    model_id: r.get(10)?,
                    incident_id: r.get(11)?,
                    top_domains: parse_json(r.get(12)?),
                    risky_domains: parse_json(r.get(13)?),
                    truth_label: r.get(14)?,
                    qtypes: parse_opt(r.get(15)?),
                    rcodes: parse_opt(r.get(16)?),
                    features,
                    sensor: None,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// The `(window_start, id)` key of a window row (for the next cursor).
    pub fn window_key(&self, id: i64) -> Result<Option<(i64, i64)>, StoreError> {
        self.conn
            .query_row(
                "SELECT window_start, id FROM windows WHERE id = ?",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Windows of `host` in time order (at most `limit`, starting at
    /// `since`, before `until`; the newest first when `desc`), each with
    /// the thresholds of the model that scored it.
    pub fn timeline(
        &self,
        host: &str,
        since: Option<i64>,
        until: Option<i64>,
        limit: u32,
        desc: bool,
    ) -> Result<Vec<TimelinePoint>, StoreError> {
        let mut sql =
            "SELECT w.id, w.run_id, w.window_start, w.window_end, w.lookups, w.score, w.label, \
             w.model_id, m.unusual, m.likely, w.reasons, w.incident_id \
             FROM windows w LEFT JOIN models m ON m.id = w.model_id WHERE w.host = ?"
                .to_string();
        let mut args: Vec<rusqlite::types::Value> = vec![host.to_string().into()];
        if let Some(s) = since {
            sql.push_str(" AND w.window_start >= ?");
            args.push(s.into());
        }
        if let Some(u) = until {
            sql.push_str(" AND w.window_start < ?");
            args.push(u.into());
        }
        let dir = if desc { "DESC" } else { "ASC" };
        sql.push_str(&format!(
            " ORDER BY w.window_start {dir}, w.id {dir} LIMIT {limit}"
        ));
        let mut st = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params_from_iter(args), |r| {
                let reasons: Vec<ReasonRow> = parse_json(r.get(10)?);
                Ok(TimelinePoint {
                    id: r.get(0)?,
                    run_id: r.get(1)?,
                    window_start: rfc3339(r.get(2)?),
                    window_end: rfc3339(r.get(3)?),
                    lookups: r.get(4)?,
                    score: r.get(5)?,
                    label: r.get(6)?,
                    model_id: r.get(7)?,
                    unusual: r.get(8)?,
                    likely: r.get(9)?,
                    tags: reasons.into_iter().map(|x| x.tag).collect(),
                    incident_id: r.get(11)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// One page of incidents matching `f`, in `(first_seen, id)` order.
    pub fn page_incidents(&self, f: &IncidentFilter) -> Result<Vec<IncidentRow>, StoreError> {
        if f.sensor.is_some() {
            // One sensor's file: its rows name no sensor, so none matches.
            return Ok(Vec::new());
        }
        let mut sql = "SELECT id, run_id, host, status, first_seen, last_seen, closed_at, windows, \
             peak_score, peak_label, reasons, domains, model_id, explanation, triage_status, triage \
             FROM incidents WHERE 1=1"
            .to_string();
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(h) = &f.host {
            sql.push_str(" AND host = ?");
            args.push(h.clone().into());
        }
        if let Some(o) = f.open {
            sql.push_str(" AND status = ?");
            args.push(if o { "open" } else { "closed" }.to_string().into());
        }
        if let Some(s) = f.since {
            sql.push_str(" AND last_seen >= ?");
            args.push(s.into());
        }
        if let Some(u) = f.until {
            sql.push_str(" AND first_seen < ?");
            args.push(u.into());
        }
        if let Some(m) = f.min_rank {
            sql.push_str(" AND (CASE peak_label WHEN 'Likely Compromise' THEN 2 WHEN 'Unusual' THEN 1 ELSE 0 END) >= ?");
            args.push(i64::from(m).into());
        }
        keyset(&mut sql, &mut args, "first_seen", f.desc, f.after);
        sql.push_str(&format!(" LIMIT {}", f.limit));
        let mut st = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params_from_iter(args), |r| {
                Ok(IncidentRow {
                    id: r.get(0)?,
                    run_id: r.get(1)?,
                    host: r.get(2)?,
                    state: r.get(3)?,
                    first_seen: rfc3339(r.get(4)?),
                    last_seen: rfc3339(r.get(5)?),
                    closed_at: r.get::<_, Option<i64>>(6)?.map(rfc3339),
                    windows: r.get(7)?,
                    peak_score: r.get(8)?,
                    peak_label: r.get(9)?,
                    reasons: parse_json(r.get(10)?),
                    domains: parse_json(r.get(11)?),
                    model_id: r.get(12)?,
                    explanation: r.get(13)?,
                    triage_status: r
                        .get::<_, Option<String>>(14)?
                        .unwrap_or_else(|| "off".into()),
                    triage: r
                        .get::<_, Option<String>>(15)?
                        .and_then(|t| serde_json::from_str(&t).ok()),
                    sensor: None,
                    sensor_incident_id: None,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// The `(first_seen, id)` key of an incident (for the next cursor).
    pub fn incident_key(&self, id: i64) -> Result<Option<(i64, i64)>, StoreError> {
        self.conn
            .query_row(
                "SELECT first_seen, id FROM incidents WHERE id = ?",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Runs, newest first (at most `limit`).
    pub fn runs(&self, limit: u32) -> Result<Vec<RunRow>, StoreError> {
        let sql = format!(
            "SELECT id, command, inputs, window_secs, started_at, finished_at, status, hostname, \
             (SELECT COUNT(*) FROM windows w WHERE w.run_id = runs.id) FROM runs ORDER BY id DESC LIMIT {limit}"
        );
        let mut st = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| {
                Ok(RunRow {
                    id: r.get(0)?,
                    command: r.get(1)?,
                    inputs: parse_json(r.get(2)?),
                    window_secs: r.get(3)?,
                    started_at: r.get(4)?,
                    finished_at: r.get(5)?,
                    status: r.get(6)?,
                    hostname: r.get(7)?,
                    windows: r.get(8)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Every model that scored windows here, with how many it scored.
    pub fn model_rows(&self) -> Result<Vec<ModelRow>, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT id, role, path, fitted_at, windows, unusual, likely, run_id, \
                 (SELECT COUNT(*) FROM windows w WHERE w.model_id = models.id) \
                 FROM models ORDER BY role = 'prior', fitted_at, id",
            )
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], |r| {
                Ok(ModelRow {
                    id: r.get(0)?,
                    role: r.get(1)?,
                    path: r.get(2)?,
                    fitted_at: r.get::<_, Option<i64>>(3)?.map(rfc3339),
                    training_windows: r.get(4)?,
                    unusual: r.get(5)?,
                    likely: r.get(6)?,
                    run_id: r.get(7)?,
                    windows_scored: r.get(8)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }
}
