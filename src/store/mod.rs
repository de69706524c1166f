//! SQLite persistence: runs, windows, incidents, first-seen domains.
//!
//! One [`Store`] owns the connection. The schema is versioned with
//! `PRAGMA user_version` and upgraded step by step by [`MIGRATIONS`]; the
//! database runs in WAL mode; every flushed batch of windows (and the first-seen
//! records that came with it) is written in one transaction, so a crash loses at
//! most the batch in flight and never leaves half a batch. Only `?` parameters
//! are used. rusqlite types do not leave this module.
//!
//! Window rows carry every feature of [`crate::features::FEATURE_NAMES`] as a
//! column, plus nullable `score`, `label`, `reasons` and `explanation` columns
//! that the detection stage fills in.

use crate::event::{TsMicros, MICROS};
use rusqlite::Connection;
use std::path::{Path, PathBuf};

mod first_seen;
mod flow_alerts;
mod incidents;
pub mod json;
mod models;
#[cfg(feature = "postgres")]
pub mod pg;
pub mod procinfo;
pub mod read;
mod runs;
mod schema;
#[cfg(test)]
mod tests;
mod windows;

pub use first_seen::{first_seen_key, FirstSeenLoad, DEFAULT_FIRST_SEEN_ROWS};
pub use flow_alerts::FlowAlertRecord;
pub use incidents::{IncidentQuery, StoredIncident};
pub use models::{ModelRecord, TrainingRows};
pub use read::{
    HostSummary, IncidentFilter, IncidentRow, ModelRow, RunRow, StoreHealth, StoreRead,
    TimelinePoint, WindowFilter, WindowRow,
};
pub use schema::{MIGRATIONS, SCHEMA_VERSION};
pub use windows::{StateRows, StoredWindow, WindowQuery};

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database {path}: {source}")]
    Sqlite {
        /// Database file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: rusqlite::Error,
    },
    /// This process may not open or create the database, its `-wal`/`-shm`
    /// files or files in its directory.
    #[error("database {path}: permission denied {what} as {user}; chown the directory and the database files to that user (e.g. `chown -R {owner} {dir}`) or choose another database path with --db")]
    PermissionDenied {
        /// Database file.
        path: PathBuf,
        /// What was refused, e.g. "creating files in its directory".
        what: &'static str,
        /// Effective user and group, e.g. "user nobody (65534), group nogroup (65534)".
        user: String,
        /// `user:group` for the suggested chown.
        owner: String,
        /// Directory of the database.
        dir: PathBuf,
    },
    /// The database file cannot be examined (e.g. it was removed).
    #[error("database {path}: {source}")]
    File {
        /// Database file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A read-only open ([`Store::open_read_only`]) found an older schema,
    /// which only a writer may migrate.
    #[error("database {path} has schema version {found}, older than this build's ({supported}); run `sentineldns replay` or `capture` on it once to migrate it")]
    Outdated {
        /// Database file.
        path: PathBuf,
        /// Version in the file.
        found: i64,
        /// Latest known version.
        supported: i64,
    },
    /// The database was written by a newer sentineldns.
    #[error("database {path} has schema version {found}, newer than this build supports ({supported}); upgrade sentineldns")]
    TooNew {
        /// Database file.
        path: PathBuf,
        /// Version in the file.
        found: i64,
        /// Latest known version.
        supported: i64,
    },
    /// The fleet database (PostgreSQL) failed.
    #[cfg(feature = "postgres")]
    #[error(transparent)]
    Postgres(#[from] pg::PgError),
    /// The store does not keep what was asked (e.g. the fleet database has
    /// no runs); `serve` answers it with 501.
    #[error("{0}")]
    Unsupported(&'static str),
}

/// The database.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// First-seen keys left out of snapshots at `[limits] first_seen_rows`
    /// by the batches this `Store` wrote.
    first_seen_pruned: u64,
    /// Retention (`[store] keep`): packet time a window is kept after its
    /// start, measured from the newest window of each batch; `None` keeps all.
    keep: Option<TsMicros>,
    /// Windows and incidents deleted by retention by this `Store`.
    retention_pruned: Pruned,
}

/// Rows deleted by retention ([`Store::set_keep`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Windows deleted.
    pub windows: u64,
    /// Closed incidents deleted (none of their windows was left).
    pub incidents: u64,
}

pub(super) fn us_to_s(ts: TsMicros) -> f64 {
    ts as f64 / MICROS as f64
}

impl Store {
    /// Open (creating if needed) and migrate the database at `path`. When
    /// SQLite cannot open or write it, the file system is asked why: a denied
    /// permission on the file, its `-wal`/`-shm` files or its directory is
    /// reported as [`StoreError::PermissionDenied`] naming the effective user.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let opened = Connection::open(path)
            .map_err(|e| StoreError::Sqlite {
                path: path.to_path_buf(),
                source: e,
            })
            .and_then(|conn| {
                let mut s = Store::with_conn(conn, path.to_path_buf());
                s.init()?;
                Ok(s)
            });
        opened.map_err(|e| match &e {
            StoreError::Sqlite {
                source: rusqlite::Error::SqliteFailure(f, _),
                ..
            } if matches!(
                f.code,
                rusqlite::ErrorCode::CannotOpen
                    | rusqlite::ErrorCode::ReadOnly
                    | rusqlite::ErrorCode::PermissionDenied
            ) =>
            {
                permission_problem(path).unwrap_or(e)
            }
            _ => e,
        })
    }

    /// An in-memory database (tests).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(|e| StoreError::Sqlite {
            path: ":memory:".into(),
            source: e,
        })?;
        let mut s = Store::with_conn(conn, ":memory:".into());
        s.init()?;
        Ok(s)
    }

    fn with_conn(conn: Connection, path: PathBuf) -> Self {
        Store {
            conn,
            path,
            first_seen_pruned: 0,
            keep: None,
            retention_pruned: Pruned::default(),
        }
    }

    /// Keep windows for `keep` of packet time after their start (`None`:
    /// forever; `[store] keep`). Every batch written afterwards deletes, in
    /// its own transaction, the windows that started more than `keep` before
    /// the newest window of the batch, then the closed incidents that ended
    /// before that and have no window left. Packet time, not the wall clock:
    /// a replay of an old capture prunes exactly as the live sensor did.
    pub fn set_keep(&mut self, keep: Option<TsMicros>) {
        self.keep = keep.filter(|k| *k > 0);
    }

    /// The retention set by [`set_keep`](Self::set_keep).
    pub fn keep(&self) -> Option<TsMicros> {
        self.keep
    }

    /// Rows deleted by retention by this `Store` so far.
    pub fn retention_pruned(&self) -> Pruned {
        self.retention_pruned
    }

    /// First-seen keys left out of snapshots at `[limits] first_seen_rows`
    /// by this `Store`'s batches so far (reported as
    /// [`crate::stats::Bound::FirstSeenRows`]).
    pub fn first_seen_pruned(&self) -> u64 {
        self.first_seen_pruned
    }

    fn err(&self, e: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source: e,
        }
    }

    fn init(&mut self) -> Result<(), StoreError> {
        self.conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| self.err(e))?;
        self.conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| self.err(e))?;
        self.conn
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| self.err(e))?;
        self.conn
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| self.err(e))?;
        self.migrate()
    }

    /// Current schema version of the file.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let v = self.schema_version()?;
        if v > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found: v,
                supported: SCHEMA_VERSION,
            });
        }
        if v == SCHEMA_VERSION {
            return Ok(());
        }
        // Every pending step in one transaction: a fresh file is created in
        // one commit (SQLite re-reads its schema once, not once per step),
        // and a failure anywhere leaves the file at its old version.
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| StoreError::Sqlite {
            path: path.clone(),
            source: e,
        })?;
        let step = (|| {
            if v == 0 {
                tx.execute_batch(schema::FRESH)?;
            } else {
                for sql in &MIGRATIONS[v as usize..] {
                    tx.execute_batch(sql)?;
                }
            }
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            tx.commit()
        })();
        step.map_err(|e| StoreError::Sqlite { path, source: e })?;
        Ok(())
    }
}

/// Why SQLite could not open or write `path`, if it is a denied permission:
/// the database file, its `-wal` and `-shm` files (when they exist) must open
/// for reading and writing, and the directory must take new files (probed
/// with a file created and removed at once, only on this error path).
fn permission_problem(path: &Path) -> Option<StoreError> {
    use std::io::ErrorKind::PermissionDenied;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let denied =
        |r: std::io::Result<std::fs::File>| matches!(r, Err(e) if e.kind() == PermissionDenied);
    let rw = |p: &Path| std::fs::OpenOptions::new().read(true).write(true).open(p);
    let mut what = None;
    let mut missing = false;
    for (suffix, label) in [
        ("", "opening it for reading and writing"),
        ("-wal", "opening its -wal file for reading and writing"),
        ("-shm", "opening its -shm file for reading and writing"),
    ] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let p = PathBuf::from(p);
        if std::fs::symlink_metadata(&p).is_err() {
            missing = true;
        } else if denied(rw(&p)) {
            what = Some(label);
            break;
        }
    }
    if what.is_none() && missing {
        let probe = dir.join(format!(".sentineldns-write-probe-{}", std::process::id()));
        let r = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe);
        if r.is_ok() {
            let _ = std::fs::remove_file(&probe);
        } else if denied(r) {
            what = Some("creating files in its directory");
        }
    }
    let what = what?;
    let (user, owner) = match procinfo::effective_ids() {
        Some((uid, gid)) => {
            let name = |db: &str, id: u32| {
                std::fs::read_to_string(db)
                    .ok()
                    .and_then(|t| procinfo::name_in(&t, id))
                    .unwrap_or_else(|| id.to_string())
            };
            (
                procinfo::effective_user().unwrap_or_default(),
                format!("{}:{}", name("/etc/passwd", uid), name("/etc/group", gid)),
            )
        }
        None => ("this user".to_string(), "USER:GROUP".to_string()),
    };
    Some(StoreError::PermissionDenied {
        path: path.to_path_buf(),
        what,
        user,
        owner,
        dir,
    })
}
