//! The read side of the fleet database for `sentineldns serve --postgres`
//! (issue 14): [`PgRead`] answers [`StoreRead`] from `fleet_windows` and
//! `fleet_incidents`, reading each row's `record` (the NDJSON object the
//! sensor wrote), so the API and dashboard answer for a fleet in the same
//! JSON shapes as for one sensor's SQLite file.
//!
//! What the fleet database does not keep, and how the answers say so:
//!
//! * **Runs and models** are per sensor: `GET /api/v1/runs` and
//!   `/api/v1/models` answer 501 ([`StoreError::Unsupported`]); `run_id` is
//!   0 on every row, and a timeline's model thresholds are `null`.
//! * **Ids** are the fleet's (`id` columns of schema v2); a row also names
//!   its `sensor`, and an incident its `sensor_incident_id`.
//! * **Incidents** hold the latest state the sensors shipped: the NDJSON and
//!   Kafka outputs ship an incident when it opens or escalates, so windows
//!   that joined it later without escalating, and its closing, are not seen
//!   here (`windows`, `last_seen`, `state` are as of the latest alert).
//!
//! Sync over async: [`StoreRead`] is synchronous and `serve` calls it on
//! tokio's blocking pool; [`PgRead`] drives its `tokio-postgres` client
//! there with the runtime's [`Handle::block_on`](tokio::runtime::Handle::block_on).
//! Calling it from inside an async task would panic, so it is only handed
//! to `serve`'s blocking closures.

use super::{PgError, PgStore, PG_SCHEMA_VERSION};
use crate::store::read::{
    rfc3339, rfc3339_f, DomainRow, HostDomain, HostFilter, HostProfile, HostSummary,
    IncidentFilter, IncidentRow, ModelRow, QtypeMix, RcodeMix, ReasonRow, RunRow, StoreHealth,
    StoreRead, TimelinePoint, VerdictBucket, WindowFilter, WindowRow, PROFILE_WINDOWS,
};
use crate::store::StoreError;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use tokio_postgres::types::ToSql;

/// Rank of `label` (`Likely Compromise` 2, `Unusual` 1, `Normal` 0, else -1).
const RANK: &str = "(CASE label WHEN 'Likely Compromise' THEN 2 WHEN 'Unusual' THEN 1 WHEN 'Normal' THEN 0 ELSE -1 END)";

/// The incident columns [`PgRead`] filters and orders on, from the record.
const INCIDENTS: &str = "(SELECT id, sensor, incident_id, host, record, triage_status, triage, \
     EXTRACT(EPOCH FROM (record #>> '{sentineldns,incident,first_seen}')::timestamptz)::BIGINT AS first_seen, \
     EXTRACT(EPOCH FROM (record #>> '{sentineldns,incident,last_seen}')::timestamptz)::BIGINT AS last_seen, \
     record #>> '{sentineldns,incident,status}' AS status, \
     record #>> '{sentineldns,incident,peak_label}' AS peak_label FROM fleet_incidents) i";

/// The window columns of a page, with the fleet id of the window's incident.
const WINDOW_COLUMNS: &str = "w.id, w.sensor, w.host, w.window_start, w.window_end, w.label, \
     w.score, (SELECT x.id FROM fleet_incidents x WHERE x.sensor = w.sensor \
        AND x.incident_id = (w.record #>> '{sentineldns,incident_id}')::BIGINT) AS fleet_incident, w.record";

const NO_RUNS: &str = "the fleet database (serve --postgres) keeps no runs: each sensor's own database has them (serve --db FILE)";
const NO_MODELS: &str = "the fleet database (serve --postgres) keeps no models: each sensor's own database has them (serve --db FILE)";

/// A statement and its `$n` arguments, built together so every piece of
/// request text is a parameter and never part of the SQL.
#[derive(Default)]
struct Sql {
    text: String,
    args: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Sql {
    fn new(text: impl Into<String>) -> Self {
        Sql {
            text: text.into(),
            args: Vec::new(),
        }
    }

    /// Append `before`, the placeholder of `v`, then `after`.
    fn arg<T: ToSql + Sync + Send + 'static>(&mut self, before: &str, v: T, after: &str) {
        self.args.push(Box::new(v));
        self.text
            .push_str(&format!("{before}${}{after}", self.args.len()));
    }

    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.args
            .iter()
            .map(|b| b.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// The fleet database as `serve` reads it.
pub struct PgRead {
    store: PgStore,
    rt: tokio::runtime::Handle,
}

impl std::fmt::Debug for PgRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgRead")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

fn q(what: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |source| StoreError::Postgres(PgError::Query { what, source })
}

/// Field `path` (object keys) of `v`.
fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn s_at(v: &Value, path: &[&str]) -> Option<String> {
    at(v, path).and_then(Value::as_str).map(str::to_string)
}

fn parse<T: serde::de::DeserializeOwned>(v: &Value, path: &[&str]) -> Option<T> {
    at(v, path).and_then(|x| serde_json::from_value(x.clone()).ok())
}

/// RFC 3339 text at `path` as unix seconds.
fn secs_at(v: &Value, path: &[&str]) -> Option<i64> {
    let t = sentineldns_model::time::parse_ts(at(v, path)?.as_str()?)?;
    Some(t.div_euclid(crate::event::MICROS))
}

fn rank(label: Option<&str>) -> i64 {
    match label {
        Some("Likely Compromise") => 2,
        Some("Unusual") => 1,
        Some("Normal") => 0,
        _ => -1,
    }
}

/// `(tag or name, windows)` objects of an incident record as a map.
fn counts(v: &Value, path: &[&str], key: &str) -> BTreeMap<String, u32> {
    at(v, path)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|o| {
                    let k = o.get(key)?.as_str()?.to_string();
                    let n = o.get("windows")?.as_u64()?;
                    Some((k, u32::try_from(n).unwrap_or(u32::MAX)))
                })
                .collect()
        })
        .unwrap_or_default()
}

impl PgRead {
    /// Connect to the fleet database at `url` (migrating it to this build's
    /// schema, as a collector would) on the current tokio runtime, whose
    /// handle the blocking reads use.
    pub async fn connect(url: &str) -> Result<Self, PgError> {
        let store = PgStore::connect(url).await?;
        Ok(PgRead {
            store,
            rt: tokio::runtime::Handle::current(),
        })
    }

    fn run<T>(
        &self,
        f: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.rt.block_on(f)
    }

    fn query(&self, what: &'static str, sql: &Sql) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        self.run(async {
            self.store
                .client
                .query(sql.text.as_str(), &sql.params())
                .await
                .map_err(q(what))
        })
    }

    fn window_row(r: &tokio_postgres::Row) -> WindowRow {
        let rec: Value = r.get(8);
        fn sd<'a>(p: &[&'a str]) -> Vec<&'a str> {
            let mut path = vec!["sentineldns"];
            path.extend_from_slice(p);
            path
        }
        let features: BTreeMap<String, f64> =
            parse(&rec, &sd(&["window", "features"])).unwrap_or_default();
        WindowRow {
            id: r.get(0),
            run_id: 0,
            host: r.get(2),
            window_start: rfc3339(r.get(3)),
            window_end: rfc3339(r.get(4)),
            lookups: at(&rec, &sd(&["window", "lookups"]))
                .and_then(Value::as_i64)
                .unwrap_or(0),
            score: r.get(6),
            label: r.get(5),
            reasons: parse(&rec, &sd(&["reasons"])).unwrap_or_default(),
            explanation: s_at(&rec, &sd(&["explanation"])),
            model_id: s_at(&rec, &sd(&["model_id"])),
            incident_id: r.get(7),
            top_domains: parse::<Vec<DomainRow>>(&rec, &sd(&["top_domains"])).unwrap_or_default(),
            risky_domains: parse::<Vec<DomainRow>>(&rec, &sd(&["risky_domains"]))
                .unwrap_or_default(),
            features,
            truth_label: s_at(&rec, &sd(&["truth", "label"])),
            qtypes: parse(&rec, &sd(&["qtypes"])),
            rcodes: parse(&rec, &sd(&["rcodes"])),
            sensor: Some(r.get(1)),
        }
    }

    fn incident_row(r: &tokio_postgres::Row) -> IncidentRow {
        // id, sensor, incident_id, host, record, first_seen, last_seen,
        // status, peak_label, triage_status, triage
        let rec: Value = r.get(4);
        let i = |k: &str| at(&rec, &["sentineldns", "incident", k]);
        let triage: Option<Value> = r.get(10);
        IncidentRow {
            id: r.get(0),
            run_id: 0,
            host: r.get(3),
            state: r
                .get::<_, Option<String>>(7)
                .unwrap_or_else(|| "open".into()),
            first_seen: rfc3339(r.get::<_, Option<i64>>(5).unwrap_or(0)),
            last_seen: rfc3339(r.get::<_, Option<i64>>(6).unwrap_or(0)),
            closed_at: secs_at(&rec, &["sentineldns", "incident", "closed_at"]).map(rfc3339),
            windows: i("windows").and_then(Value::as_i64).unwrap_or(0),
            peak_score: i("peak_score").and_then(Value::as_f64).unwrap_or(0.0),
            peak_label: r.get::<_, Option<String>>(8).unwrap_or_default(),
            reasons: counts(&rec, &["sentineldns", "incident", "reasons"], "tag"),
            domains: counts(&rec, &["sentineldns", "incident", "domains"], "name"),
            model_id: i("model_id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            explanation: i("explanation")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            triage_status: r
                .get::<_, Option<String>>(9)
                .unwrap_or_else(|| "off".into()),
            triage,
            sensor: Some(r.get(1)),
            sensor_incident_id: Some(r.get(2)),
        }
    }
}

/// `AND (k > a OR (k = a AND id > b)) ORDER BY k, id` of a keyset page.
fn keyset(sql: &mut Sql, key: &str, desc: bool, after: Option<(i64, i64)>) {
    if let Some((k, id)) = after {
        let op = if desc { "<" } else { ">" };
        sql.arg(&format!(" AND ({key} {op} "), k, "");
        sql.arg(&format!(" OR ({key} = "), k, "");
        sql.arg(&format!(" AND id {op} "), id, "))");
    }
    let dir = if desc { "DESC" } else { "ASC" };
    sql.push(&format!(" ORDER BY {key} {dir}, id {dir}"));
}

/// ` AND host = … AND window_start >= … AND window_start < …`.
fn span(sql: &mut Sql, host: Option<&str>, since: Option<i64>, until: Option<i64>) {
    if let Some(h) = host {
        sql.arg(" AND host = ", h.to_string(), "");
    }
    if let Some(s) = since {
        sql.arg(" AND window_start >= ", s, "");
    }
    if let Some(u) = until {
        sql.arg(" AND window_start < ", u, "");
    }
}

impl StoreRead for PgRead {
    fn health(&self) -> Result<StoreHealth, StoreError> {
        let rows = self.query(
            "counting windows",
            &Sql::new("SELECT COUNT(*)::BIGINT FROM fleet_windows"),
        )?;
        let schema_version = self.run(async {
            self.store
                .schema_version()
                .await
                .map_err(StoreError::Postgres)
        })?;
        if schema_version != PG_SCHEMA_VERSION {
            return Err(StoreError::Unsupported(
                "the fleet database's schema changed under this server; restart it",
            ));
        }
        Ok(StoreHealth {
            schema_version,
            windows: rows.first().map(|r| r.get(0)).unwrap_or(0),
            latest_run_status: None,
        })
    }

    fn hosts(&self, f: &HostFilter) -> Result<Vec<HostSummary>, StoreError> {
        let mut sql = Sql::new(
            "WITH h AS (SELECT host, COUNT(*)::BIGINT AS n, \
               MAX(COALESCE(EXTRACT(EPOCH FROM (record #>> '{sentineldns,last_seen}')::timestamptz)::FLOAT8, \
                            window_end::FLOAT8)) AS last_seen, \
               MAX(window_start) AS latest FROM fleet_windows WHERE TRUE",
        );
        if let Some(h) = &f.host {
            sql.arg(" AND host = ", h.clone(), "");
        }
        sql.push(&format!(
            " GROUP BY host) SELECT * FROM (SELECT h.host, h.n, h.last_seen, h.latest, \
               (SELECT MAX({RANK}) FROM fleet_windows w WHERE w.host = h.host AND w.window_start = h.latest) AS worst, \
               (SELECT MAX(score) FROM fleet_windows w WHERE w.host = h.host AND w.window_start = h.latest) AS top, \
               (SELECT COUNT(*)::BIGINT FROM fleet_incidents i WHERE i.host = h.host \
                  AND i.record #>> '{{sentineldns,incident,status}}' = 'open') AS open \
             FROM h) x WHERE TRUE"
        ));
        if let Some(m) = f.min_rank {
            sql.push(&format!(" AND worst >= {}", i32::from(m)));
        }
        if let Some(m) = f.min_score {
            sql.arg(" AND top >= ", m, "");
        }
        // SQLite sorts NULL lowest and compares text bytewise: the same here.
        sql.push(&format!(
            " ORDER BY worst DESC NULLS LAST, top DESC NULLS LAST, host COLLATE \"C\" LIMIT {} OFFSET {}",
            f.limit,
            i64::try_from(f.offset).unwrap_or(i64::MAX)
        ));
        let rows = self.query("reading hosts", &sql)?;
        Ok(rows
            .iter()
            .map(|r| {
                let worst: Option<i32> = r.get(4);
                HostSummary {
                    host: r.get(0),
                    windows: r.get(1),
                    last_seen: rfc3339_f(r.get::<_, Option<f64>>(2).unwrap_or(0.0)),
                    latest_window: rfc3339(r.get(3)),
                    label: match worst {
                        Some(2) => Some("Likely Compromise".into()),
                        Some(1) => Some("Unusual".into()),
                        Some(0) => Some("Normal".into()),
                        _ => None,
                    },
                    score: r.get(5),
                    open_incidents: r.get(6),
                }
            })
            .collect())
    }

    fn host_profile(
        &self,
        host: &str,
        since: Option<i64>,
        until: Option<i64>,
        top: u32,
    ) -> Result<HostProfile, StoreError> {
        let mut count = Sql::new("SELECT COUNT(*)::BIGINT FROM fleet_windows WHERE TRUE");
        span(&mut count, Some(host), since, until);
        let matched: i64 = self
            .query("counting a host's windows", &count)?
            .first()
            .map(|r| r.get(0))
            .unwrap_or(0);
        // Only the parts of the record the profile sums (not the whole
        // object: parsing it is most of the cost).
        let mut sql = Sql::new(
            "SELECT label, window_start, record #> '{sentineldns,qtypes}', \
             record #> '{sentineldns,rcodes}', record #> '{sentineldns,top_domains}' \
             FROM fleet_windows WHERE TRUE",
        );
        span(&mut sql, Some(host), since, until);
        sql.push(&format!(
            " ORDER BY window_start DESC, id DESC LIMIT {PROFILE_WINDOWS}"
        ));
        let rows = self.query("reading a host's profile", &sql)?;
        let mut p = HostProfile {
            host: host.to_string(),
            windows: 0,
            flagged_windows: 0,
            unscored_windows: 0,
            truncated: matched > i64::from(PROFILE_WINDOWS),
            first_window: None,
            last_window: None,
            qtypes: Default::default(),
            rcodes: Default::default(),
            top_domains: Vec::new(),
        };
        let (mut first, mut last): (Option<i64>, Option<i64>) = (None, None);
        let mut domains: HashMap<String, HostDomain> = HashMap::new();
        for r in &rows {
            let label: Option<String> = r.get(0);
            let start: i64 = r.get(1);
            let part = |i: usize| r.get::<_, Option<Value>>(i).unwrap_or(Value::Null);
            let flagged = rank(label.as_deref()) >= 1;
            p.windows += 1;
            if label.is_none() {
                p.unscored_windows += 1;
            }
            first = Some(first.map_or(start, |f| f.min(start)));
            last = Some(last.map_or(start, |l| l.max(start)));
            let qt: QtypeMix = serde_json::from_value(part(2)).unwrap_or_default();
            let rc: RcodeMix = serde_json::from_value(part(3)).unwrap_or_default();
            let (qs, rs) = if flagged {
                p.flagged_windows += 1;
                (&mut p.qtypes.flagged, &mut p.rcodes.flagged)
            } else {
                (&mut p.qtypes.normal, &mut p.rcodes.normal)
            };
            add_qtypes(qs, &qt);
            add_rcodes(rs, &rc);
            let tops: Vec<DomainRow> = serde_json::from_value(part(4)).unwrap_or_default();
            for d in tops {
                let e = domains.entry(d.name.clone()).or_insert_with(|| HostDomain {
                    name: d.name.clone(),
                    lookups: 0,
                    nxdomain: 0,
                    windows: 0,
                    flagged_windows: 0,
                    risk: 0.0,
                });
                e.lookups += i64::from(d.count);
                e.nxdomain += i64::from(d.nxdomain);
                e.windows += 1;
                e.flagged_windows += i64::from(flagged);
                e.risk = e.risk.max(d.risk);
            }
        }
        p.first_window = first.map(rfc3339);
        p.last_window = last.map(rfc3339);
        let mut tops: Vec<HostDomain> = domains.into_values().collect();
        tops.sort_by(|a, b| {
            b.lookups
                .cmp(&a.lookups)
                .then_with(|| a.name.as_bytes().cmp(b.name.as_bytes()))
        });
        tops.truncate(top as usize);
        p.top_domains = tops;
        Ok(p)
    }

    fn window_span(
        &self,
        host: Option<&str>,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<Option<(i64, i64, i64)>, StoreError> {
        let mut sql = Sql::new(
            "SELECT MIN(window_start), MAX(window_start), MAX(window_end - window_start) \
             FROM fleet_windows WHERE TRUE",
        );
        span(&mut sql, host, since, until);
        let rows = self.query("reading the window span", &sql)?;
        Ok(rows.first().and_then(|r| {
            let lo: Option<i64> = r.get(0);
            let hi: Option<i64> = r.get(1);
            let w: Option<i64> = r.get(2);
            Some((lo?, hi?, w.unwrap_or(0)))
        }))
    }

    fn verdict_buckets(
        &self,
        host: Option<&str>,
        since: Option<i64>,
        until: Option<i64>,
        bucket: i64,
    ) -> Result<Vec<VerdictBucket>, StoreError> {
        let b = bucket.max(1);
        let mut sql = Sql::new(format!(
            "SELECT (window_start / {b}) * {b} AS k, \
             COUNT(*) FILTER (WHERE label = 'Normal')::BIGINT, \
             COUNT(*) FILTER (WHERE label = 'Unusual')::BIGINT, \
             COUNT(*) FILTER (WHERE label = 'Likely Compromise')::BIGINT, \
             COUNT(*) FILTER (WHERE label IS NULL)::BIGINT FROM fleet_windows WHERE TRUE"
        ));
        span(&mut sql, host, since, until);
        sql.push(" GROUP BY k ORDER BY k");
        let rows = self.query("reading verdicts over time", &sql)?;
        Ok(rows
            .iter()
            .map(|r| VerdictBucket {
                start: rfc3339(r.get(0)),
                normal: r.get(1),
                unusual: r.get(2),
                likely: r.get(3),
                unscored: r.get(4),
            })
            .collect())
    }

    fn has_host(&self, host: &str) -> Result<bool, StoreError> {
        let mut sql = Sql::new("SELECT 1 FROM fleet_windows WHERE TRUE");
        sql.arg(" AND host = ", host.to_string(), " LIMIT 1");
        Ok(!self.query("looking up a host", &sql)?.is_empty())
    }

    fn page_windows(&self, f: &WindowFilter) -> Result<Vec<WindowRow>, StoreError> {
        if f.run.is_some() {
            return Err(StoreError::Unsupported(NO_RUNS));
        }
        let mut sql = Sql::new(format!(
            "SELECT {WINDOW_COLUMNS} FROM fleet_windows w WHERE TRUE"
        ));
        span(&mut sql, f.host.as_deref(), f.since, f.until);
        if let Some(s) = &f.sensor {
            sql.arg(" AND sensor = ", s.clone(), "");
        }
        if let Some(m) = f.min_rank {
            sql.push(&format!(" AND {RANK} >= {}", i32::from(m)));
        }
        if let Some(m) = f.min_score {
            sql.arg(" AND score >= ", m, "");
        }
        keyset(&mut sql, "window_start", f.desc, f.after);
        sql.push(&format!(" LIMIT {}", f.limit));
        let rows = self.query("reading windows", &sql)?;
        Ok(rows.iter().map(Self::window_row).collect())
    }

    fn window_key(&self, id: i64) -> Result<Option<(i64, i64)>, StoreError> {
        let mut sql = Sql::new("SELECT window_start, id FROM fleet_windows WHERE TRUE");
        sql.arg(" AND id = ", id, "");
        let rows = self.query("reading a window key", &sql)?;
        Ok(rows.first().map(|r| (r.get(0), r.get(1))))
    }

    fn timeline(
        &self,
        host: &str,
        since: Option<i64>,
        until: Option<i64>,
        limit: u32,
        desc: bool,
    ) -> Result<Vec<TimelinePoint>, StoreError> {
        // Only the parts of the record a point shows.
        let mut sql = Sql::new(
            "SELECT w.id, w.window_start, w.window_end, w.label, w.score, \
               (SELECT x.id FROM fleet_incidents x WHERE x.sensor = w.sensor \
                  AND x.incident_id = (w.record #>> '{sentineldns,incident_id}')::BIGINT) AS fleet_incident, \
               (w.record #>> '{sentineldns,window,lookups}')::BIGINT, \
               w.record #> '{sentineldns,reasons}', w.record #>> '{sentineldns,model_id}' \
             FROM fleet_windows w WHERE TRUE",
        );
        span(&mut sql, Some(host), since, until);
        let dir = if desc { "DESC" } else { "ASC" };
        sql.push(&format!(
            " ORDER BY window_start {dir}, id {dir} LIMIT {limit}"
        ));
        let rows = self.query("reading a timeline", &sql)?;
        Ok(rows
            .iter()
            .map(|r| {
                let reasons: Vec<ReasonRow> = r
                    .get::<_, Option<Value>>(7)
                    .and_then(|v| serde_json::from_value(v).ok())
                    .unwrap_or_default();
                TimelinePoint {
                    id: r.get(0),
                    run_id: 0,
                    window_start: rfc3339(r.get(1)),
                    window_end: rfc3339(r.get(2)),
                    lookups: r.get::<_, Option<i64>>(6).unwrap_or(0),
                    score: r.get(4),
                    label: r.get(3),
                    model_id: r.get(8),
                    // Thresholds live in each sensor's models table.
                    unusual: None,
                    likely: None,
                    tags: reasons.into_iter().map(|x| x.tag).collect(),
                    incident_id: r.get(5),
                }
            })
            .collect())
    }

    fn page_incidents(&self, f: &IncidentFilter) -> Result<Vec<IncidentRow>, StoreError> {
        let mut sql = Sql::new(format!(
            "SELECT id, sensor, incident_id, host, record, first_seen, last_seen, status, peak_label, \
             triage_status, triage \
             FROM {INCIDENTS} WHERE TRUE"
        ));
        if let Some(h) = &f.host {
            sql.arg(" AND host = ", h.clone(), "");
        }
        if let Some(s) = &f.sensor {
            sql.arg(" AND sensor = ", s.clone(), "");
        }
        if let Some(o) = f.open {
            sql.arg(
                " AND status = ",
                if o { "open" } else { "closed" }.to_string(),
                "",
            );
        }
        if let Some(s) = f.since {
            sql.arg(" AND last_seen >= ", s, "");
        }
        if let Some(u) = f.until {
            sql.arg(" AND first_seen < ", u, "");
        }
        if let Some(m) = f.min_rank {
            sql.push(&format!(
                " AND (CASE peak_label WHEN 'Likely Compromise' THEN 2 WHEN 'Unusual' THEN 1 ELSE 0 END) >= {}",
                i32::from(m)
            ));
        }
        keyset(&mut sql, "first_seen", f.desc, f.after);
        sql.push(&format!(" LIMIT {}", f.limit));
        let rows = self.query("reading incidents", &sql)?;
        Ok(rows.iter().map(Self::incident_row).collect())
    }

    fn incident_key(&self, id: i64) -> Result<Option<(i64, i64)>, StoreError> {
        let mut sql = Sql::new(format!("SELECT first_seen, id FROM {INCIDENTS} WHERE TRUE"));
        sql.arg(" AND id = ", id, "");
        let rows = self.query("reading an incident key", &sql)?;
        Ok(rows
            .first()
            .map(|r| (r.get::<_, Option<i64>>(0).unwrap_or(0), r.get(1))))
    }

    fn runs(&self, _limit: u32) -> Result<Vec<RunRow>, StoreError> {
        Err(StoreError::Unsupported(NO_RUNS))
    }

    fn model_rows(&self) -> Result<Vec<ModelRow>, StoreError> {
        Err(StoreError::Unsupported(NO_MODELS))
    }
}

fn add_qtypes(a: &mut QtypeMix, b: &QtypeMix) {
    a.a += b.a;
    a.aaaa += b.aaaa;
    a.txt += b.txt;
    a.null += b.null;
    a.any += b.any;
    a.ptr += b.ptr;
    a.other_common += b.other_common;
    a.rare += b.rare;
}

fn add_rcodes(a: &mut RcodeMix, b: &RcodeMix) {
    a.noerror += b.noerror;
    a.nxdomain += b.nxdomain;
    a.servfail += b.servfail;
    a.refused += b.refused;
    a.other += b.other;
    a.no_response += b.no_response;
}
