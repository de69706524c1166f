//! Model provenance (`models`) and the stored model inputs a site model is
//! fitted from (`windows.model_input`, `windows.evidence`).

use super::{Store, StoreError};
use rusqlite::{params, OptionalExtension};

/// One row of `models`: a model that scored windows in this database.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRecord {
    /// [`crate::detect::model_id`] of the bundle's bytes.
    pub id: String,
    /// `prior` or `site`.
    pub role: String,
    /// The bundle file; `None` for the embedded prior.
    pub path: Option<String>,
    /// Site models: packet time of the fit, unix seconds.
    pub fitted_at: Option<i64>,
    /// Site models: first training window start, unix seconds.
    pub data_from: Option<i64>,
    /// Site models: last training window end, unix seconds.
    pub data_to: Option<i64>,
    /// Site models: windows the forest was fitted on.
    pub windows: Option<i64>,
    /// Site models: windows left out for carrying evidence.
    pub left_out: Option<i64>,
    /// Site models: most isolated windows trimmed.
    pub trimmed: Option<i64>,
    /// FNV-1a 64 of the training matrix, hex.
    pub training_hash: Option<String>,
    /// Unusual threshold.
    pub unusual: f64,
    /// Likely Compromise threshold.
    pub likely: f64,
    /// Run that recorded it.
    pub run_id: Option<i64>,
}

/// Stored model inputs of a time range (see [`Store::training_rows`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainingRows {
    /// Model inputs of windows without evidence, oldest first.
    pub rows: Vec<Vec<f64>>,
    /// Windows left out because they carried model-independent evidence.
    pub left_out: u64,
    /// Windows without a usable model input (written before schema v5, no
    /// unicast lookups, or an unreadable value).
    pub unusable: u64,
    /// Earliest window start of the rows used, unix seconds.
    pub from: Option<i64>,
    /// Latest window end of the rows used, unix seconds.
    pub to: Option<i64>,
}

const MODEL_COLS: &str = "id, role, path, fitted_at, data_from, data_to, windows, left_out, trimmed, training_hash, unusual, likely, run_id";

fn model_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ModelRecord> {
    Ok(ModelRecord {
        id: r.get(0)?,
        role: r.get(1)?,
        path: r.get(2)?,
        fitted_at: r.get(3)?,
        data_from: r.get(4)?,
        data_to: r.get(5)?,
        windows: r.get(6)?,
        left_out: r.get(7)?,
        trimmed: r.get(8)?,
        training_hash: r.get(9)?,
        unusual: r.get(10)?,
        likely: r.get(11)?,
        run_id: r.get(12)?,
    })
}

impl Store {
    /// Record a model (idempotent: a model already recorded keeps its row).
    pub fn record_model(&mut self, m: &ModelRecord) -> Result<(), StoreError> {
        let now = chrono::Utc::now().to_rfc3339();
        self.conn
            .execute(
                &format!(
                    "INSERT OR IGNORE INTO models ({MODEL_COLS}, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
                ),
                params![
                    m.id,
                    m.role,
                    m.path,
                    m.fitted_at,
                    m.data_from,
                    m.data_to,
                    m.windows,
                    m.left_out,
                    m.trimmed,
                    m.training_hash,
                    m.unusual,
                    m.likely,
                    m.run_id,
                    now
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The model recorded as `id`.
    pub fn model(&self, id: &str) -> Result<Option<ModelRecord>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {MODEL_COLS} FROM models WHERE id = ?1"),
                [id],
                model_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Every recorded model, site models by fit time, then priors.
    pub fn models(&self) -> Result<Vec<ModelRecord>, StoreError> {
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {MODEL_COLS} FROM models ORDER BY role = 'prior', fitted_at, id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = st
            .query_map([], model_row)
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.err(e));
        rows
    }

    /// Start of the earliest stored window (unix seconds), if any: where site
    /// learning counts its period from.
    pub fn first_window_start(&self) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row("SELECT MIN(window_start) FROM windows", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// Model inputs of the stored windows that did not alert (label Normal,
    /// unicast lookups) starting at or after `since` (unix seconds), newest
    /// first, at most `limit`: what rebuilds the per-host baselines
    /// ([`crate::detect::HostBaselines`]) at start. Returns the rows delivered.
    pub fn usual_rows(
        &self,
        since: i64,
        limit: usize,
        mut f: impl FnMut(std::net::IpAddr, Vec<f64>, i64),
    ) -> Result<usize, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT host, model_input, window_end FROM windows
                 WHERE label = 'Normal' AND lookups > 0 AND window_start >= ?1
                   AND model_input IS NOT NULL
                 ORDER BY window_start DESC LIMIT ?2",
            )
            .map_err(|e| self.err(e))?;
        let mut q = st
            .query(params![since, limit as i64])
            .map_err(|e| self.err(e))?;
        let mut n = 0;
        while let Some(r) = q.next().map_err(|e| self.err(e))? {
            let host: String = r.get(0).map_err(|e| self.err(e))?;
            let input: String = r.get(1).map_err(|e| self.err(e))?;
            let end: i64 = r.get(2).map_err(|e| self.err(e))?;
            let (Ok(host), Ok(x)) = (host.parse(), serde_json::from_str::<Vec<f64>>(&input)) else {
                continue;
            };
            if x.len() == crate::detect::N_MODEL_FEATURES {
                f(host, x, end);
                n += 1;
            }
        }
        Ok(n)
    }

    /// Start of the latest stored window (unix seconds), if any.
    pub fn last_window_start(&self) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row("SELECT MAX(window_start) FROM windows", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    /// The site model fitted last (latest packet time), if any.
    pub fn latest_site_model(&self) -> Result<Option<ModelRecord>, StoreError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {MODEL_COLS} FROM models WHERE role = 'site' AND fitted_at IS NOT NULL ORDER BY fitted_at DESC, rowid DESC LIMIT 1"
                ),
                [],
                model_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Model inputs of the stored windows that start in `[since, until)`
    /// (unix seconds, packet time; `None` = unbounded) and have unicast
    /// lookups, in (start, host) order; windows with evidence are counted, not
    /// returned. When a window was stored by several runs (a replay repeated
    /// into one database), each (host, start) counts once.
    pub fn training_rows(
        &self,
        since: Option<i64>,
        until: Option<i64>,
    ) -> Result<TrainingRows, StoreError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT window_start, window_end, model_input, evidence FROM windows
                 WHERE window_start >= ?1 AND window_start < ?2 AND lookups > 0
                   AND id IN (SELECT MAX(id) FROM windows GROUP BY host, window_start)
                 ORDER BY window_start, host",
            )
            .map_err(|e| self.err(e))?;
        let mut q = st
            .query(params![
                since.unwrap_or(i64::MIN),
                until.unwrap_or(i64::MAX)
            ])
            .map_err(|e| self.err(e))?;
        let mut out = TrainingRows::default();
        while let Some(r) = q.next().map_err(|e| self.err(e))? {
            let start: i64 = r.get(0).map_err(|e| self.err(e))?;
            let end: i64 = r.get(1).map_err(|e| self.err(e))?;
            let input: Option<String> = r.get(2).map_err(|e| self.err(e))?;
            let evidence: i64 = r.get(3).map_err(|e| self.err(e))?;
            if evidence != 0 {
                out.left_out += 1;
                continue;
            }
            let row = input
                .and_then(|s| serde_json::from_str::<Vec<f64>>(&s).ok())
                .filter(|v| {
                    v.len() == crate::detect::N_MODEL_FEATURES && v.iter().all(|x| x.is_finite())
                });
            match row {
                Some(v) => {
                    out.rows.push(v);
                    out.from = Some(out.from.map_or(start, |f| f.min(start)));
                    out.to = Some(out.to.map_or(end, |t| t.max(end)));
                }
                None => out.unusable += 1,
            }
        }
        Ok(out)
    }
}
