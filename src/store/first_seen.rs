//! First-seen state: the compact rows of `first_seen_state`
//! ([`crate::enrich::persist`]) and, for databases written before schema
//! v11, the one-time preload of the v1 `first_seen` table.

use super::{Store, StoreError};
use crate::enrich::persist::{self, FirstSeenDelta, Part, PersistError};
use crate::enrich::FirstSeenRecord;
use crate::event::TsMicros;
use crate::model::checksum::Fnv1a64;
use rusqlite::Transaction;
use std::net::IpAddr;

pub use crate::enrich::persist::DEFAULT_FIRST_SEEN_ROWS;

impl Store {
    /// The v1 table's first-seen records with the newest `last_ts`, **newest
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

/// Restart preload of the v1 table: newest `last_ts` first, walking `first_seen_last_ts`.
pub(super) const FIRST_SEEN_PRELOAD_SQL: &str =
    "SELECT scope, domain, first_ts, last_ts FROM first_seen ORDER BY last_ts DESC, key DESC";

/// What [`Store::load_first_seen_state`] read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FirstSeenLoad {
    /// Rows restored.
    pub rows: u64,
    /// Records restored (keys, prevalence entries and log records).
    pub records: u64,
    /// Rows ignored: another key scheme, an unknown part or a length that is
    /// not a whole number of records. The caller should snapshot over them.
    pub ignored: u64,
}

impl Store {
    /// Rows left in the v1 `first_seen` table (read once, then replaced by
    /// the first snapshot).
    pub fn legacy_first_seen_rows(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM first_seen", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.err(e))
    }

    /// Hand every stored first-seen row to `f` in the order written (a
    /// snapshot's parts, then the log rows after it); `f` returns the
    /// records it restored. Rows of another key scheme or that do not hold
    /// whole records are skipped, counted and logged.
    pub fn load_first_seen_state(
        &self,
        mut f: impl FnMut(Part, &[u8]) -> usize,
    ) -> Result<FirstSeenLoad, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT id, scheme, part, data FROM first_seen_state ORDER BY id")
            .map_err(|e| self.err(e))?;
        let mut rows = st.query([]).map_err(|e| self.err(e))?;
        let scheme = persist::scheme();
        let mut out = FirstSeenLoad::default();
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            let id: i64 = r.get(0).map_err(|e| self.err(e))?;
            let s: i64 = r.get(1).map_err(|e| self.err(e))?;
            let part: String = r.get(2).map_err(|e| self.err(e))?;
            let data = r.get_ref(3).map_err(|e| self.err(e))?;
            let data = data.as_blob().unwrap_or_default();
            let problem = match Part::parse(&part) {
                _ if s != scheme => Some(format!(
                    "first-seen row {id}: written by a build that hashes keys differently"
                )),
                None => Some(
                    PersistError::UnknownPart {
                        row: id,
                        part: part.clone(),
                    }
                    .to_string(),
                ),
                Some(p) if data.len() % p.record_len() != 0 => Some(
                    PersistError::Length {
                        row: id,
                        part: p.as_str(),
                        len: data.len(),
                        record: p.record_len(),
                    }
                    .to_string(),
                ),
                Some(p) => {
                    out.records += f(p, data) as u64;
                    out.rows += 1;
                    None
                }
            };
            if let Some(why) = problem {
                tracing::warn!(db = %self.path.display(), "{why}; row ignored");
                out.ignored += 1;
            }
        }
        Ok(out)
    }
}

/// Write one batch's first-seen state: a snapshot (which deletes every row
/// before it and the v1 table's rows), then the log after it. One row per
/// part and MiB, however many records.
pub(super) fn write_first_seen(
    tx: &Transaction<'_>,
    delta: &FirstSeenDelta,
    newest_ts: Option<TsMicros>,
) -> rusqlite::Result<()> {
    let scheme = persist::scheme();
    let insert = |part: Part, data: &[u8]| -> rusqlite::Result<Option<i64>> {
        let mut first = None;
        let per = (persist::CHUNK_BYTES / part.record_len()) * part.record_len();
        let mut st = tx.prepare_cached(
            "INSERT INTO first_seen_state (scheme, part, records, newest_ts, data) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for chunk in data.chunks(per) {
            st.execute(rusqlite::params![
                scheme,
                part.as_str(),
                (chunk.len() / part.record_len()) as i64,
                newest_ts,
                chunk
            ])?;
            first.get_or_insert(tx.last_insert_rowid());
        }
        Ok(first)
    };
    if let Some(snap) = &delta.snapshot {
        let mut first = None;
        for (part, data) in snap.parts() {
            if let Some(id) = insert(part, data)? {
                first.get_or_insert(id);
            }
        }
        // An empty snapshot (nothing seen yet) still replaces what is stored.
        let before = first.unwrap_or(i64::MAX);
        tx.execute("DELETE FROM first_seen_state WHERE id < ?1", [before])?;
        tx.execute("DELETE FROM first_seen", [])?;
    }
    insert(Part::Log, &delta.log)?;
    Ok(())
}
