//! PostgreSQL persistence for a fleet (feature `postgres`, issue 14): what a
//! fleet collector writes, one row per (sensor, host, window start).
//!
//! [`PgStore`] owns one `tokio-postgres` connection. The schema is versioned
//! in `sentineldns_schema` and upgraded step by step by [`PG_MIGRATIONS`],
//! each step in its own transaction under an advisory lock, so two
//! collectors starting together migrate once. `fleet_windows` is partitioned
//! by day (`PARTITION BY RANGE (window_start)`, unix seconds of packet time):
//! [`PgStore::upsert`] creates the partitions a batch needs and
//! [`PgStore::ahead`] more days after its newest window, and
//! [`PgStore::drop_partitions_before`] is the retention (dropping a day is
//! one catalog change, not a delete of its rows). Windows and incidents are
//! upserted in batches (multi-row `INSERT … ON CONFLICT DO UPDATE`) inside one
//! transaction per call, keyed by (sensor, host, window_start) and (sensor,
//! incident id): a redelivered batch changes nothing and doubles nothing.
//! Each row keeps the NDJSON object of its window or incident
//! ([`crate::output::ndjson::window_line`]) as `jsonb`, beside the columns
//! that are queried. Only `$n` parameters are used; `tokio-postgres` types do
//! not leave this module.

pub mod read;

pub use read::PgRead;

use crate::event::TsMicros;
use serde_json::Value;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls};

/// Seconds in a partition (one day of packet time).
pub const DAY_S: i64 = 86_400;

/// Rows per `INSERT` statement: 7 parameters a row stays far below the
/// protocol's 65535 parameters and keeps a statement a few hundred KiB.
const ROWS_PER_STATEMENT: usize = 1000;

/// Advisory lock key serialising migrations and partition DDL across
/// collectors (`'sdns'` as a number).
const DDL_LOCK: i64 = 0x7364_6e73;

/// Schema steps; version `i + 1` is `PG_MIGRATIONS[i]`.
pub const PG_MIGRATIONS: &[&str] = &[
    // v1: windows partitioned by day, incidents, both keyed so a redelivery
    // upserts in place.
    r#"
CREATE TABLE fleet_windows (
    sensor        TEXT NOT NULL,
    host          TEXT NOT NULL,
    window_start  BIGINT NOT NULL,   -- unix seconds, packet time
    window_end    BIGINT NOT NULL,
    label         TEXT,              -- NULL: not scored
    score         DOUBLE PRECISION,
    record        JSONB NOT NULL,    -- the NDJSON window object
    PRIMARY KEY (sensor, host, window_start)
) PARTITION BY RANGE (window_start);
CREATE INDEX fleet_windows_start ON fleet_windows (window_start);
CREATE INDEX fleet_windows_host ON fleet_windows (host, window_start);
CREATE TABLE fleet_incidents (
    sensor        TEXT NOT NULL,
    incident_id   BIGINT NOT NULL,   -- the sensor's own incident id
    host          TEXT NOT NULL,
    updated_at    BIGINT NOT NULL,   -- unix seconds, packet time of the last change
    record        JSONB NOT NULL,    -- the NDJSON incident object (latest)
    PRIMARY KEY (sensor, incident_id)
);
CREATE INDEX fleet_incidents_host ON fleet_incidents (host, updated_at);
"#,
    // v2: fleet-wide row ids for `serve --postgres` (keyset pages and links
    // between windows and incidents); an upsert keeps a row's id.
    r#"
CREATE SEQUENCE fleet_windows_id_seq AS BIGINT;
ALTER TABLE fleet_windows ADD COLUMN id BIGINT NOT NULL DEFAULT nextval('fleet_windows_id_seq');
CREATE INDEX fleet_windows_id ON fleet_windows (id);
CREATE INDEX fleet_windows_start_id ON fleet_windows (window_start, id);
CREATE SEQUENCE fleet_incidents_id_seq AS BIGINT;
ALTER TABLE fleet_incidents ADD COLUMN id BIGINT NOT NULL DEFAULT nextval('fleet_incidents_id_seq');
CREATE UNIQUE INDEX fleet_incidents_id ON fleet_incidents (id);
-- The latest language-model triage of an incident (issue 16), kept in
-- columns of their own: a later state of the incident upserts `record`
-- and leaves these alone.
ALTER TABLE fleet_incidents ADD COLUMN triage_status TEXT, ADD COLUMN triage JSONB;
"#,
];

/// The schema version this build writes.
pub const PG_SCHEMA_VERSION: i64 = PG_MIGRATIONS.len() as i64;

/// PostgreSQL failures.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The URL does not parse.
    #[error("postgres URL {url}: {source}")]
    Url {
        /// The URL without its password.
        url: String,
        /// Cause.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The server cannot be reached or refused the login.
    #[error("postgres {url}: cannot connect: {source}")]
    Connect {
        /// The URL without its password.
        url: String,
        /// Cause.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A statement failed; `what` names the step.
    #[error("postgres {what}: {}", db_detail(source))]
    Query {
        /// The step, e.g. "upserting windows".
        what: &'static str,
        /// Cause.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The database was migrated by a newer sentineldns.
    #[error("postgres schema version {found} is newer than this build supports ({supported}); upgrade sentineldns")]
    TooNew {
        /// Version in the database.
        found: i64,
        /// Latest known version.
        supported: i64,
    },
}

/// The server's message of a failed statement (tokio-postgres shows only
/// "db error" for it), else the error itself.
fn db_detail(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{}: {}", d.code().code(), d.message()),
        None => e.to_string(),
    }
}

/// `url` with any password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    // scheme://user:password@host...
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((auth, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match auth.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// One window verdict of one sensor, as the collector stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowRecord {
    /// The sensor that scored it.
    pub sensor: String,
    /// Client host.
    pub host: String,
    /// Window start, packet time (µs).
    pub start: TsMicros,
    /// Window end, packet time (µs).
    pub end: TsMicros,
    /// Verdict label, `None` when no model scored it.
    pub label: Option<String>,
    /// Verdict score.
    pub score: Option<f64>,
    /// The NDJSON window object.
    pub record: Value,
}

/// Field `path` (dot-separated object keys) of a JSON object.
fn field<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

/// RFC 3339 text at `path` as packet time.
fn ts_field(v: &Value, path: &str) -> Option<TsMicros> {
    sentineldns_model::time::parse_ts(field(v, path)?.as_str()?)
}

impl WindowRecord {
    /// The record of an NDJSON window object (`event.dataset` =
    /// `sentineldns.window`, as `replay --ndjson` and the Kafka output write
    /// it) from `sensor`; `None` for any other object or one missing its
    /// host or window times.
    pub fn from_ndjson(sensor: &str, v: &Value) -> Option<Self> {
        if field(v, "event.dataset")?.as_str()? != "sentineldns.window" {
            return None;
        }
        Some(WindowRecord {
            sensor: sensor.to_string(),
            host: field(v, "source.ip")?.as_str()?.to_string(),
            start: ts_field(v, "sentineldns.window.start")?,
            end: ts_field(v, "sentineldns.window.end")?,
            label: field(v, "sentineldns.label")
                .and_then(Value::as_str)
                .map(str::to_string),
            score: field(v, "sentineldns.score").and_then(Value::as_f64),
            record: v.clone(),
        })
    }
}

impl IncidentRecord {
    /// The record of an NDJSON incident object (`event.dataset` =
    /// `sentineldns.incident`) from `sensor`; `None` for any other object.
    pub fn from_ndjson(sensor: &str, v: &Value) -> Option<Self> {
        if field(v, "event.dataset")?.as_str()? != "sentineldns.incident" {
            return None;
        }
        Some(IncidentRecord {
            sensor: sensor.to_string(),
            id: field(v, "sentineldns.incident.id")?.as_i64()?,
            host: field(v, "source.ip")?.as_str()?.to_string(),
            updated_at: ts_field(v, "@timestamp")?.div_euclid(crate::event::MICROS),
            record: v.clone(),
        })
    }
}

/// One incident event of one sensor (its latest state wins).
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentRecord {
    /// The sensor whose tracker numbered it.
    pub sensor: String,
    /// The sensor's incident id.
    pub id: i64,
    /// Client host.
    pub host: String,
    /// Packet time of this change, unix seconds.
    pub updated_at: i64,
    /// The NDJSON incident object.
    pub record: Value,
}

/// A triage result of one incident of one sensor (the NDJSON
/// `incident_triage` record, see `crate::triage::TriageRecord::ndjson`).
#[derive(Debug, Clone, PartialEq)]
pub struct TriageUpdate {
    /// The sensor whose incident it is.
    pub sensor: String,
    /// The sensor's incident id.
    pub incident_id: i64,
    /// `ok`, or why there is no verdict.
    pub status: String,
    /// The verdict when `status` is `ok`.
    pub triage: Option<Value>,
}

impl TriageUpdate {
    /// The update of an NDJSON object with `"type": "incident_triage"` from
    /// `sensor`; `None` for any other object.
    pub fn from_ndjson(sensor: &str, v: &Value) -> Option<Self> {
        if v.get("type")?.as_str()? != "incident_triage" {
            return None;
        }
        Some(TriageUpdate {
            sensor: sensor.to_string(),
            incident_id: v.get("incident_id")?.as_i64()?,
            status: v.get("triage_status")?.as_str()?.to_string(),
            triage: v.get("triage").filter(|t| t.is_object()).cloned(),
        })
    }
}

/// A fleet database.
pub struct PgStore {
    client: Client,
    url: String,
    ahead: i64,
    /// Day partitions known to exist (first second of the day).
    days: std::collections::BTreeSet<i64>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.url)
            .field("ahead", &self.ahead)
            .finish_non_exhaustive()
    }
}

fn q(what: &'static str) -> impl Fn(tokio_postgres::Error) -> PgError {
    move |source| PgError::Query { what, source }
}

/// First second of the day holding `s` (unix seconds).
pub fn day_of(s: i64) -> i64 {
    s.div_euclid(DAY_S) * DAY_S
}

/// Name of the partition holding the day that starts at `day` (unix seconds).
pub fn partition_name(day: i64) -> String {
    match chrono::DateTime::from_timestamp(day, 0) {
        Some(t) => format!("fleet_windows_{}", t.format("%Y%m%d")),
        // Out of chrono's range (±262000 years): a number still names it.
        None => format!("fleet_windows_d{}", day.div_euclid(DAY_S)),
    }
}

impl PgStore {
    /// Connect to `url` (`postgres://user:password@host:port/db`, no TLS: a
    /// collector talks to its database on a trusted network or loopback) and
    /// migrate the schema. The connection runs on the current tokio runtime.
    pub async fn connect(url: &str) -> Result<Self, PgError> {
        let shown = redact_url(url);
        let cfg: tokio_postgres::Config = url.parse().map_err(|source| PgError::Url {
            url: shown.clone(),
            source,
        })?;
        let (client, conn) = cfg
            .connect(NoTls)
            .await
            .map_err(|source| PgError::Connect {
                url: shown.clone(),
                source,
            })?;
        let url_for_task = shown.clone();
        tokio::spawn(async move {
            if let Err(error) = conn.await {
                tracing::warn!(%error, url = %url_for_task, "postgres connection closed");
            }
        });
        let mut s = PgStore {
            client,
            url: shown,
            ahead: 2,
            days: Default::default(),
        };
        s.migrate().await?;
        Ok(s)
    }

    /// Days of partitions created after the newest window of each batch
    /// (default 2), so the next day's first batch finds its partition.
    pub fn ahead(&mut self, days: i64) -> &mut Self {
        self.ahead = days.max(0);
        self
    }

    /// The schema version in the database.
    pub async fn schema_version(&self) -> Result<i64, PgError> {
        let row = self
            .client
            .query_one(
                "SELECT COALESCE(MAX(version), 0)::BIGINT FROM sentineldns_schema",
                &[],
            )
            .await
            .map_err(q("reading the schema version"))?;
        Ok(row.get(0))
    }

    async fn migrate(&mut self) -> Result<(), PgError> {
        loop {
            let tx = self
                .client
                .transaction()
                .await
                .map_err(q("starting a migration"))?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&DDL_LOCK])
                .await
                .map_err(q("locking for a migration"))?;
            // Under the lock: two sessions creating it at once would collide.
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS sentineldns_schema (
                     version    BIGINT PRIMARY KEY,
                     applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            )
            .await
            .map_err(q("creating sentineldns_schema"))?;
            let found: i64 = tx
                .query_one(
                    "SELECT COALESCE(MAX(version), 0)::BIGINT FROM sentineldns_schema",
                    &[],
                )
                .await
                .map_err(q("reading the schema version"))?
                .get(0);
            if found > PG_SCHEMA_VERSION {
                return Err(PgError::TooNew {
                    found,
                    supported: PG_SCHEMA_VERSION,
                });
            }
            if found == PG_SCHEMA_VERSION {
                return tx.commit().await.map_err(q("finishing migrations"));
            }
            let step = PG_MIGRATIONS[found as usize];
            tx.batch_execute(step)
                .await
                .map_err(q("applying a schema migration"))?;
            tx.execute(
                "INSERT INTO sentineldns_schema (version) VALUES ($1)",
                &[&(found + 1)],
            )
            .await
            .map_err(q("recording a schema migration"))?;
            tx.commit().await.map_err(q("committing a migration"))?;
            tracing::info!(version = found + 1, "postgres schema migrated");
        }
    }

    /// Create the day partitions from the day of `from_s` to the day of
    /// `to_s` (unix seconds) that do not exist yet, in one transaction under
    /// the DDL lock (concurrent collectors create each day once).
    pub async fn ensure_partitions(&mut self, from_s: i64, to_s: i64) -> Result<(), PgError> {
        let days: Vec<i64> = (day_of(from_s)..=day_of(to_s))
            .step_by(DAY_S as usize)
            .collect();
        self.ensure_days(&days).await
    }

    /// Create the partitions of the days starting at `days` (unix seconds,
    /// first second of each day) that do not exist yet, in one transaction
    /// under the DDL lock.
    async fn ensure_days(&mut self, days: &[i64]) -> Result<(), PgError> {
        let wanted: Vec<i64> = days
            .iter()
            .copied()
            .filter(|d| !self.days.contains(d))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        let tx = self
            .client
            .transaction()
            .await
            .map_err(q("starting partition creation"))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&DDL_LOCK])
            .await
            .map_err(q("locking for partition creation"))?;
        for &day in &wanted {
            // Names and bounds are computed numbers, never input text.
            tx.batch_execute(&format!(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF fleet_windows FOR VALUES FROM ({day}) TO ({})",
                partition_name(day),
                day + DAY_S
            ))
            .await
            .map_err(q("creating a day partition"))?;
        }
        tx.commit().await.map_err(q("committing partitions"))?;
        self.days.extend(wanted);
        Ok(())
    }

    /// The day partitions that exist, as the first second of each day.
    pub async fn partitions(&self) -> Result<Vec<i64>, PgError> {
        let rows = self
            .client
            .query(
                "SELECT c.relname FROM pg_inherits i
                   JOIN pg_class c ON c.oid = i.inhrelid
                   JOIN pg_class p ON p.oid = i.inhparent
                  WHERE p.relname = 'fleet_windows' ORDER BY c.relname",
                &[],
            )
            .await
            .map_err(q("listing partitions"))?;
        Ok(rows
            .iter()
            .filter_map(|r| parse_partition_name(r.get::<_, &str>(0)))
            .collect())
    }

    /// Retention: drop the day partitions that end at or before `cutoff_s`
    /// (unix seconds), in one transaction under the DDL lock. Returns the
    /// days dropped.
    pub async fn drop_partitions_before(&mut self, cutoff_s: i64) -> Result<Vec<i64>, PgError> {
        let old: Vec<i64> = self
            .partitions()
            .await?
            .into_iter()
            .filter(|d| d + DAY_S <= cutoff_s)
            .collect();
        if old.is_empty() {
            return Ok(old);
        }
        let tx = self
            .client
            .transaction()
            .await
            .map_err(q("starting retention"))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&DDL_LOCK])
            .await
            .map_err(q("locking for retention"))?;
        for &day in &old {
            tx.batch_execute(&format!("DROP TABLE IF EXISTS {}", partition_name(day)))
                .await
                .map_err(q("dropping a day partition"))?;
        }
        tx.commit().await.map_err(q("committing retention"))?;
        for d in &old {
            self.days.remove(d);
        }
        Ok(old)
    }

    /// Upsert `windows` and `incidents` in one transaction (partitions
    /// first). A window already stored under the same (sensor, host, start)
    /// is replaced by the new one, an incident by its newer state: a
    /// redelivered batch leaves the tables as they were. Returns the rows
    /// written.
    pub async fn upsert(
        &mut self,
        windows: &[WindowRecord],
        incidents: &[IncidentRecord],
    ) -> Result<u64, PgError> {
        if windows.is_empty() && incidents.is_empty() {
            return Ok(0);
        }
        let secs = |t: TsMicros| t.div_euclid(crate::event::MICROS);
        // The days that have windows, and `ahead` days after the newest:
        // not every day between (windows of captures years apart would
        // make thousands of empty partitions in one transaction).
        if let Some(hi) = windows.iter().map(|w| day_of(secs(w.start))).max() {
            let mut days: Vec<i64> = windows.iter().map(|w| day_of(secs(w.start))).collect();
            days.extend((1..=self.ahead).map(|d| hi.saturating_add(d * DAY_S)));
            self.ensure_days(&days).await?;
        }
        // One statement may not touch a row twice: within a call, the last
        // record of a key wins (an incident's events arrive in order).
        let windows = last_per_key(windows, |w| (&w.sensor, &w.host, w.start));
        let incidents = last_per_key(incidents, |i| (&i.sensor, i.id, 0));
        let tx = self
            .client
            .transaction()
            .await
            .map_err(q("starting a batch"))?;
        let mut n = 0;
        for chunk in windows.chunks(ROWS_PER_STATEMENT) {
            let starts: Vec<i64> = chunk.iter().map(|w| secs(w.start)).collect();
            let ends: Vec<i64> = chunk.iter().map(|w| secs(w.end)).collect();
            let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(chunk.len() * 7);
            let mut values = String::new();
            for (i, w) in chunk.iter().enumerate() {
                let b = i * 7;
                if i > 0 {
                    values.push(',');
                }
                values.push_str(&format!(
                    "(${},${},${},${},${},${},${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7
                ));
                params.extend_from_slice(&[
                    &w.sensor, &w.host, &starts[i], &ends[i], &w.label, &w.score, &w.record,
                ]);
            }
            let sql = format!(
                "INSERT INTO fleet_windows (sensor, host, window_start, window_end, label, score, record) \
                 VALUES {values} ON CONFLICT (sensor, host, window_start) DO UPDATE SET \
                 window_end = EXCLUDED.window_end, label = EXCLUDED.label, \
                 score = EXCLUDED.score, record = EXCLUDED.record"
            );
            n += tx
                .execute(sql.as_str(), &params)
                .await
                .map_err(q("upserting windows"))?;
        }
        for chunk in incidents.chunks(ROWS_PER_STATEMENT) {
            let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(chunk.len() * 5);
            let mut values = String::new();
            for (i, r) in chunk.iter().enumerate() {
                let b = i * 5;
                if i > 0 {
                    values.push(',');
                }
                values.push_str(&format!(
                    "(${},${},${},${},${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5
                ));
                params.extend_from_slice(&[&r.sensor, &r.id, &r.host, &r.updated_at, &r.record]);
            }
            // An older state redelivered after a newer one does not win.
            let sql = format!(
                "INSERT INTO fleet_incidents (sensor, incident_id, host, updated_at, record) \
                 VALUES {values} ON CONFLICT (sensor, incident_id) DO UPDATE SET \
                 host = EXCLUDED.host, updated_at = EXCLUDED.updated_at, record = EXCLUDED.record \
                 WHERE fleet_incidents.updated_at <= EXCLUDED.updated_at"
            );
            n += tx
                .execute(sql.as_str(), &params)
                .await
                .map_err(q("upserting incidents"))?;
        }
        tx.commit().await.map_err(q("committing a batch"))?;
        Ok(n)
    }

    /// Store triage results on their incidents, in order, in one
    /// transaction: the status always, the verdict when there is one (a
    /// later failure keeps the earlier verdict, as the SQLite store does).
    /// The incident's own state is untouched, and a later state of the
    /// incident ([`upsert`](Self::upsert)) leaves the triage in place.
    /// Returns the incidents updated; a result for an incident not stored
    /// (yet) changes nothing.
    pub async fn set_triage(&mut self, updates: &[TriageUpdate]) -> Result<u64, PgError> {
        if updates.is_empty() {
            return Ok(0);
        }
        let tx = self
            .client
            .transaction()
            .await
            .map_err(q("starting a triage batch"))?;
        let st = tx
            .prepare(
                "UPDATE fleet_incidents SET triage_status = $3, triage = COALESCE($4, triage) \
                 WHERE sensor = $1 AND incident_id = $2",
            )
            .await
            .map_err(q("preparing a triage update"))?;
        let mut n = 0;
        for u in updates {
            n += tx
                .execute(&st, &[&u.sensor, &u.incident_id, &u.status, &u.triage])
                .await
                .map_err(q("storing a triage result"))?;
        }
        tx.commit().await.map_err(q("committing triage results"))?;
        Ok(n)
    }

    /// Windows stored, over all sensors.
    pub async fn count_windows(&self) -> Result<i64, PgError> {
        let row = self
            .client
            .query_one("SELECT COUNT(*)::BIGINT FROM fleet_windows", &[])
            .await
            .map_err(q("counting windows"))?;
        Ok(row.get(0))
    }

    /// Incidents stored, over all sensors.
    pub async fn count_incidents(&self) -> Result<i64, PgError> {
        let row = self
            .client
            .query_one("SELECT COUNT(*)::BIGINT FROM fleet_incidents", &[])
            .await
            .map_err(q("counting incidents"))?;
        Ok(row.get(0))
    }

    /// (sensor, host, window start in unix seconds, label) of every stored
    /// window, ordered by sensor, start, host.
    pub async fn window_labels(
        &self,
    ) -> Result<Vec<(String, String, i64, Option<String>)>, PgError> {
        let rows = self
            .client
            .query(
                "SELECT sensor, host, window_start, label FROM fleet_windows \
                 ORDER BY sensor, window_start, host",
                &[],
            )
            .await
            .map_err(q("reading windows"))?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect())
    }
}

/// The records of `rows` that no later record shares a key with, in order.
fn last_per_key<'a, T, K: std::hash::Hash + Eq>(
    rows: &'a [T],
    key: impl Fn(&'a T) -> K,
) -> Vec<&'a T> {
    let mut last = std::collections::HashMap::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        last.insert(key(r), i);
    }
    rows.iter()
        .enumerate()
        .filter(|(i, r)| last.get(&key(r)) == Some(i))
        .map(|(_, r)| r)
        .collect()
}

/// The day (first second) a partition name stands for.
fn parse_partition_name(name: &str) -> Option<i64> {
    let ymd = name.strip_prefix("fleet_windows_")?;
    if ymd.len() != 8 || !ymd.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let date = chrono::NaiveDate::parse_from_str(ymd, "%Y%m%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_round_trip_and_passwords_are_redacted() {
        for day in [0, 19_000 * DAY_S, 20_425 * DAY_S] {
            assert_eq!(parse_partition_name(&partition_name(day)), Some(day));
        }
        assert_eq!(partition_name(0), "fleet_windows_19700101");
        assert_eq!(day_of(DAY_S + 5), DAY_S);
        assert_eq!(day_of(-1), -DAY_S);
        assert_eq!(parse_partition_name("fleet_windows_default"), None);
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
    }
}
