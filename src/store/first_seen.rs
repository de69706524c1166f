//! First-seen domains: stable keys, the restart preload, batched inserts
//! and pruning at the `[limits] first_seen_rows` cap.

use super::{Store, StoreError};
use crate::enrich::FirstSeenRecord;
use crate::model::checksum::Fnv1a64;
use rusqlite::Transaction;
use std::net::IpAddr;

/// Default cap on rows of the `first_seen` table (`[limits] first_seen_rows`).
pub const DEFAULT_FIRST_SEEN_ROWS: u64 = 3_000_000;

impl Store {
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
pub(super) const FIRST_SEEN_PRELOAD_SQL: &str =
    "SELECT scope, domain, first_ts, last_ts FROM first_seen ORDER BY last_ts DESC, key DESC";

/// Pruning: the `?` rows with the oldest `last_ts`, walking `first_seen_last_ts`.
pub(super) const FIRST_SEEN_PRUNE_SQL: &str =
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

/// Delete the `n` rows with the oldest `last_ts`; returns the rows deleted.
pub(super) fn prune_first_seen(tx: &Transaction<'_>, n: u64) -> rusqlite::Result<u64> {
    let n = i64::try_from(n).unwrap_or(i64::MAX);
    Ok(tx.prepare_cached(FIRST_SEEN_PRUNE_SQL)?.execute([n])? as u64)
}

/// Upsert `recs`; returns the number of distinct keys written, an upper
/// bound on the rows added (a key already stored is refreshed, not added).
/// Counting the rows really added would cost a second B-tree lookup per key;
/// the caller recounts the table only when the bound crosses the cap.
pub(super) fn insert_first_seen(
    tx: &Transaction<'_>,
    recs: &[FirstSeenRecord],
) -> rusqlite::Result<u64> {
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
    // Sorted, so duplicate keys are adjacent.
    let mut added = keyed.len() as u64;
    added -= keyed.windows(2).filter(|w| w[0].0 == w[1].0).count() as u64;
    for chunk in keyed.chunks(FIRST_SEEN_CHUNK) {
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
