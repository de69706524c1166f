//! One row per run: begin, finish, and marking the runs of dead processes
//! `crashed` at the next start.

use super::{procinfo, Store, StoreError};
use rusqlite::{params, OptionalExtension, Transaction};

impl Store {
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

    /// Status of a run.
    pub fn run_status(&self, run: i64) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT status FROM runs WHERE id = ?", [run], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
    }
}

/// Mark `running` runs of `me`'s host whose process `alive` says is gone.
pub(super) fn mark_crashed(
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
