//! Incidents ([`crate::incident`]) in SQLite: the upsert that rides in a
//! window batch's transaction, the open incidents a restarted sensor
//! continues, and the query `sentineldns incidents` prints.

use super::{Store, StoreError};
use crate::incident::{parse_label, Incident, IncidentEvent, Status};
use crate::model::Label;
use rusqlite::{params, params_from_iter, Row, Transaction};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// A stored incident and the run that opened it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredIncident {
    /// Run that opened it.
    pub run_id: i64,
    /// The incident.
    #[serde(flatten)]
    pub incident: Incident,
    /// The verdict of its latest successful language-model triage.
    pub triage: Option<serde_json::Value>,
    /// Status of its latest triage (`ok` or why there is none); `None` when
    /// triage was off.
    pub triage_status: Option<String>,
}

/// Filter for [`Store::query_incidents`].
#[derive(Debug, Clone, Default)]
pub struct IncidentQuery {
    /// Only this host.
    pub host: Option<String>,
    /// Incidents still active at or after this time (last_seen ≥ since, unix s).
    pub since: Option<i64>,
    /// Incidents that began before this time (first_seen < until, unix s).
    pub until: Option<i64>,
    /// Only incidents opened by this run.
    pub run: Option<i64>,
    /// Only this status.
    pub status: Option<Status>,
    /// Only incidents whose peak label is one of these.
    pub labels: Vec<Label>,
    /// At most this many (the newest by first_seen, returned oldest first).
    pub limit: Option<u32>,
}

const COLUMNS: &str = "id, run_id, host, status, first_seen, last_seen, closed_at, windows, \
     peak_score, peak_label, reasons, domains, model_id, explanation, updated_at";

/// What `query_incidents` reads: the written columns and the triage.
const READ_COLUMNS: &str = "id, run_id, host, status, first_seen, last_seen, closed_at, windows, \
     peak_score, peak_label, reasons, domains, model_id, explanation, updated_at, triage, triage_status";

/// Insert or update the incidents of `events` (the last snapshot of each id
/// wins); `run` is recorded for incidents first written now.
pub(super) fn upsert_incidents(
    tx: &Transaction<'_>,
    run: i64,
    events: &[IncidentEvent],
) -> rusqlite::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut last: HashMap<i64, &Incident> = HashMap::new();
    let mut order = Vec::new();
    for e in events {
        if last.insert(e.incident.id, &e.incident).is_none() {
            order.push(e.incident.id);
        }
    }
    let mut st = tx.prepare_cached(&format!(
        "INSERT INTO incidents ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT(id) DO UPDATE SET status = excluded.status, first_seen = excluded.first_seen, \
         last_seen = excluded.last_seen, closed_at = excluded.closed_at, windows = excluded.windows, \
         peak_score = excluded.peak_score, peak_label = excluded.peak_label, reasons = excluded.reasons, \
         domains = excluded.domains, model_id = excluded.model_id, explanation = excluded.explanation, \
         updated_at = excluded.updated_at"
    ))?;
    for id in order {
        let Some(i) = last.get(&id) else { continue };
        st.execute(params![
            i.id,
            run,
            i.host,
            i.status.as_str(),
            i.first_seen,
            i.last_seen,
            i.closed_at,
            i.windows,
            i.peak_score,
            i.peak_label.as_str(),
            serde_json::to_string(&i.reasons).unwrap_or_default(),
            serde_json::to_string(&i.domains).unwrap_or_default(),
            i.model_id,
            i.explanation,
            i.updated_at,
        ])?;
    }
    Ok(())
}

fn read_row(r: &Row<'_>) -> rusqlite::Result<StoredIncident> {
    let status: String = r.get(3)?;
    let label: String = r.get(9)?;
    let reasons: String = r.get(10)?;
    let domains: String = r.get(11)?;
    Ok(StoredIncident {
        run_id: r.get(1)?,
        incident: Incident {
            id: r.get(0)?,
            host: r.get(2)?,
            // A value this build did not write reads as closed / Unusual
            // rather than failing the query.
            status: Status::parse(&status).unwrap_or(Status::Closed),
            first_seen: r.get(4)?,
            last_seen: r.get(5)?,
            closed_at: r.get(6)?,
            windows: r.get::<_, i64>(7)?.clamp(0, u32::MAX as i64) as u32,
            peak_score: r.get(8)?,
            peak_label: parse_label(&label).unwrap_or(Label::Unusual),
            reasons: serde_json::from_str::<BTreeMap<String, u32>>(&reasons).unwrap_or_default(),
            domains: serde_json::from_str::<BTreeMap<String, u32>>(&domains).unwrap_or_default(),
            model_id: r.get(12)?,
            explanation: r.get(13)?,
            updated_at: r.get(14)?,
        },
        triage: r
            .get::<_, Option<String>>(15)?
            .and_then(|t| serde_json::from_str(&t).ok()),
        triage_status: r.get(16)?,
    })
}

impl Store {
    /// Open incidents (a restarted sensor continues them), oldest first.
    pub fn open_incidents(&self) -> Result<Vec<Incident>, StoreError> {
        Ok(self
            .query_incidents(&IncidentQuery {
                status: Some(Status::Open),
                ..Default::default()
            })?
            .into_iter()
            .map(|s| s.incident)
            .collect())
    }

    /// Highest incident id stored (0 when none).
    pub fn max_incident_id(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM incidents", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    /// Stored incidents matching `q`, ordered by first_seen then id.
    pub fn query_incidents(&self, q: &IncidentQuery) -> Result<Vec<StoredIncident>, StoreError> {
        let mut sql = format!("SELECT {READ_COLUMNS} FROM incidents WHERE 1=1");
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(h) = &q.host {
            sql.push_str(" AND host = ?");
            args.push(h.clone().into());
        }
        if let Some(s) = q.since {
            sql.push_str(" AND last_seen >= ?");
            args.push(s.into());
        }
        if let Some(u) = q.until {
            sql.push_str(" AND first_seen < ?");
            args.push(u.into());
        }
        if let Some(r) = q.run {
            sql.push_str(" AND run_id = ?");
            args.push(r.into());
        }
        if let Some(s) = q.status {
            sql.push_str(" AND status = ?");
            args.push(s.as_str().to_string().into());
        }
        if !q.labels.is_empty() {
            sql.push_str(&format!(
                " AND peak_label IN ({})",
                vec!["?"; q.labels.len()].join(", ")
            ));
            args.extend(q.labels.iter().map(|l| l.as_str().to_string().into()));
        }
        if let Some(l) = q.limit {
            sql = format!(
                "SELECT * FROM ({sql} ORDER BY first_seen DESC, id DESC LIMIT {l}) ORDER BY first_seen, id"
            );
        } else {
            sql.push_str(" ORDER BY first_seen, id");
        }
        let mut st = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = st
            .query_map(params_from_iter(args), read_row)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    /// Record triage results: `(incident id, status, verdict JSON)` each, in
    /// one transaction. The status is always the latest; a verdict replaces
    /// the stored one only when there is one (a later failure keeps the
    /// earlier verdict and says why the update has none). An id not stored
    /// (pruned by retention) is skipped.
    pub fn write_triage(
        &mut self,
        rows: &[(i64, String, Option<String>)],
    ) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let wrap = |e| StoreError::Sqlite {
            path: path.clone(),
            source: e,
        };
        let tx = self.conn.transaction().map_err(wrap)?;
        {
            let mut st = tx
                .prepare_cached(
                    "UPDATE incidents SET triage_status = ?, triage = COALESCE(?, triage) WHERE id = ?",
                )
                .map_err(wrap)?;
            for (id, status, verdict) in rows {
                st.execute(params![status, verdict, id]).map_err(wrap)?;
            }
        }
        tx.commit().map_err(wrap)
    }

    /// Windows stored as part of incident `id`.
    pub fn incident_window_count(&self, id: i64) -> Result<i64, StoreError> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM windows WHERE incident_id = ?",
                [id],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }
}
