//! The persisted form of the first-seen state: compact binary records, no
//! SQLite row per (host, domain) pair.
//!
//! # Why
//! Every new (client, registrable domain) pair used to be one `first_seen`
//! row (text scope and domain, two B-tree inserts, ~10 k instructions). On a
//! cold sensor or a network of thousands of clients that was most of the
//! replay's cost (490 k rows for 500 k lookups on the high-cardinality
//! capture of issue 18). The state the sensor needs back after a restart is
//! only what its in-memory [`FirstSeenSet`]s and prevalence table hold:
//! 64-bit keys, the persisted hour and per-domain client counts.
//!
//! # Form
//! The enricher hands the store a [`FirstSeenDelta`] with each window batch:
//! * a **log**: the keys that became new (or were refreshed, once a day of
//!   packet time) since the last batch, [`LOG_RECORD`] bytes each
//!   (key u64, registrable hash u64, hour and scope u32; little-endian), one
//!   SQLite row per batch whatever the number of records;
//! * now and then a **snapshot** of the whole in-memory state (sensor-wide
//!   and per-host keys most recently seen first, [`SNAP_RECORD`] bytes each,
//!   and the prevalence table, [`PREV_RECORD`] bytes each), written when the
//!   log since the last snapshot is as large as the snapshot (or at least
//!   [`MIN_LOG_BEFORE_SNAPSHOT`] records) or the persisted records would pass
//!   `[limits] first_seen_rows`. The snapshot replaces everything stored
//!   before it, in the batch's transaction.
//!
//! A restart restores the snapshot (preload, newest first) and replays the
//! log rows after it in order, as the live sensor touched them: the same keys
//! in the same recency order, the same prevalence counts.
//!
//! # Accuracy
//! Exact within the caps, as before: keys are the same 64-bit FxHash values
//! the in-memory sets use (a collision of two domains, or two (host, domain)
//! pairs, at the sets' sizes is ~10⁻⁸). What the records do not keep is the
//! domain text and the first lookup's time of a pair (the old rows' `domain`
//! and `first_ts`), which nothing read back. Keys are only meaningful to a
//! build that hashes the same way: every row carries [`scheme`], and rows of
//! another scheme are ignored at load (the sensor then learns anew, as a
//! fresh one does, and the next batch snapshots over them).
//!
//! Memory: the log waits in memory only until the next batch (at most
//! [`Enricher::RECORD_QUEUE_CAP`] records, 20 bytes each); a snapshot is
//! built in one buffer of 12 bytes per key (36 MB at the default caps of
//! 1 M + 2 M keys).
//!
//! [`FirstSeenSet`]: super::FirstSeenSet
//! [`Enricher::RECORD_QUEUE_CAP`]: super::Enricher::RECORD_QUEUE_CAP

use super::fx_hash;

/// Bytes of one log record: key, registrable hash, hour | scope << 28.
pub const LOG_RECORD: usize = 20;
/// Bytes of one snapshot key: key, hour.
pub const SNAP_RECORD: usize = 12;
/// Bytes of one prevalence record: registrable hash, clients.
pub const PREV_RECORD: usize = 10;
/// A snapshot is not taken before this many log records (unless the row cap
/// asks for one).
pub const MIN_LOG_BEFORE_SNAPSHOT: u64 = 65_536;
/// Default of `[limits] first_seen_rows`: persisted keys (snapshot and log)
/// at most before a snapshot of the newest 90 % is due.
pub const DEFAULT_FIRST_SEEN_ROWS: u64 = 3_000_000;
/// Rows of a snapshot part hold at most this many bytes.
pub const CHUNK_BYTES: usize = 1 << 20;

/// Scope bit of a log record's last word: a per-host key.
const HOST_SCOPE: u32 = 1 << 28;
const HOUR_MASK: u32 = (1 << 20) - 1;

/// Fingerprint of the key hash: rows written with another are ignored.
/// FxHash (rustc-hash 2) of a fixed string; changes when the hash does.
pub fn scheme() -> i64 {
    fx_hash(b"sentineldns first-seen keys v1: fxhash of the registrable domain") as i64
}

/// Which part of the persisted state a stored row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Log records ([`LOG_RECORD`] bytes each).
    Log,
    /// Snapshot: sensor-wide keys, newest first ([`SNAP_RECORD`]).
    Sensor,
    /// Snapshot: per-host keys, newest first ([`SNAP_RECORD`]).
    Host,
    /// Snapshot: clients per registrable domain ([`PREV_RECORD`]).
    Prevalence,
}

impl Part {
    /// The name stored in the `part` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Log => "log",
            Part::Sensor => "sensor",
            Part::Host => "host",
            Part::Prevalence => "prevalence",
        }
    }

    /// Parse the `part` column.
    pub fn parse(s: &str) -> Option<Part> {
        Some(match s {
            "log" => Part::Log,
            "sensor" => Part::Sensor,
            "host" => Part::Host,
            "prevalence" => Part::Prevalence,
            _ => return None,
        })
    }

    /// Bytes per record of this part.
    pub fn record_len(self) -> usize {
        match self {
            Part::Log => LOG_RECORD,
            Part::Sensor | Part::Host => SNAP_RECORD,
            Part::Prevalence => PREV_RECORD,
        }
    }
}

/// A whole-state snapshot (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirstSeenSnapshot {
    /// Sensor-wide keys, most recently seen first.
    pub sensor: Vec<u8>,
    /// Per-host keys, most recently seen first.
    pub host: Vec<u8>,
    /// Clients per registrable domain.
    pub prevalence: Vec<u8>,
}

impl FirstSeenSnapshot {
    /// Keys held (sensor-wide and per-host).
    pub fn keys(&self) -> u64 {
        ((self.sensor.len() + self.host.len()) / SNAP_RECORD) as u64
    }

    /// The parts in the order they are stored and restored.
    pub fn parts(&self) -> [(Part, &[u8]); 3] {
        [
            (Part::Sensor, &self.sensor),
            (Part::Host, &self.host),
            (Part::Prevalence, &self.prevalence),
        ]
    }
}

/// What one window batch persists of the first-seen state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirstSeenDelta {
    /// A snapshot that replaces everything stored before it.
    pub snapshot: Option<FirstSeenSnapshot>,
    /// Log records after the snapshot (or after what is stored).
    pub log: Vec<u8>,
    /// Keys left out of the snapshot by `[limits] first_seen_rows`.
    pub dropped: u64,
}

/// One decoded log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogRecord {
    /// Set key: the registrable hash (sensor-wide) or the (host, domain) key.
    pub key: u64,
    /// Registrable-domain hash (equal to `key` for a sensor-wide record).
    pub registrable: u64,
    /// Packet-time hour (see [`super::firstseen::hour_of`]).
    pub hour: u32,
    /// A per-host record.
    pub host: bool,
}

impl FirstSeenDelta {
    /// Nothing to write.
    pub fn is_empty(&self) -> bool {
        self.snapshot.is_none() && self.log.is_empty() && self.dropped == 0
    }

    /// Log records held.
    pub fn log_records(&self) -> usize {
        self.log.len() / LOG_RECORD
    }

    /// Append a later delta: a snapshot in `later` supersedes everything here.
    pub fn append(&mut self, later: &mut FirstSeenDelta) {
        if let Some(s) = later.snapshot.take() {
            self.snapshot = Some(s);
            self.log.clear();
        }
        self.log.append(&mut later.log);
        self.dropped += std::mem::take(&mut later.dropped);
    }

    /// Empty it, keeping the log's buffer.
    pub fn clear(&mut self) {
        self.snapshot = None;
        self.log.clear();
        self.dropped = 0;
    }

    /// The log records, decoded.
    pub fn records(&self) -> impl Iterator<Item = LogRecord> + '_ {
        log_records(&self.log)
    }
}

pub(super) fn push_log(out: &mut Vec<u8>, key: u64, registrable: u64, hour: u32, host: bool) {
    out.extend_from_slice(&key.to_le_bytes());
    out.extend_from_slice(&registrable.to_le_bytes());
    let w = (hour & HOUR_MASK) | if host { HOST_SCOPE } else { 0 };
    out.extend_from_slice(&w.to_le_bytes());
}

/// Decode log records (a trailing partial record is ignored; the loader
/// checks lengths first).
pub fn log_records(data: &[u8]) -> impl Iterator<Item = LogRecord> + '_ {
    data.chunks_exact(LOG_RECORD).map(|c| {
        let w = u32_at(c, 16);
        LogRecord {
            key: u64_at(c, 0),
            registrable: u64_at(c, 8),
            hour: w & HOUR_MASK,
            host: w & HOST_SCOPE != 0,
        }
    })
}

pub(super) fn push_snap(out: &mut Vec<u8>, key: u64, hour: u32) {
    out.extend_from_slice(&key.to_le_bytes());
    out.extend_from_slice(&hour.to_le_bytes());
}

pub(super) fn snap_records(data: &[u8]) -> impl Iterator<Item = (u64, u32)> + '_ {
    data.chunks_exact(SNAP_RECORD)
        .map(|c| (u64_at(c, 0), u32_at(c, 8) & HOUR_MASK))
}

pub(super) fn push_prev(out: &mut Vec<u8>, h: u64, n: u16) {
    out.extend_from_slice(&h.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
}

pub(super) fn prev_records(data: &[u8]) -> impl Iterator<Item = (u64, u16)> + '_ {
    data.chunks_exact(PREV_RECORD)
        .map(|c| (u64_at(c, 0), u16::from_le_bytes([c[8], c[9]])))
}

fn u64_at(c: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&c[at..at + 8]);
    u64::from_le_bytes(b)
}

fn u32_at(c: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&c[at..at + 4]);
    u32::from_le_bytes(b)
}

/// A stored row that cannot be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersistError {
    /// The `part` column names no known part.
    #[error("first-seen row {row}: unknown part {part:?}")]
    UnknownPart {
        /// Row id.
        row: i64,
        /// The column's value.
        part: String,
    },
    /// The blob is not a whole number of records.
    #[error("first-seen row {row} ({part}): {len} bytes is not a multiple of {record}")]
    Length {
        /// Row id.
        row: i64,
        /// The part.
        part: &'static str,
        /// Blob length.
        len: usize,
        /// Record length of the part.
        record: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_records_round_trip_and_a_snapshot_supersedes_earlier_log() {
        let mut a = FirstSeenDelta::default();
        push_log(&mut a.log, 1, 1, 5, false);
        push_log(&mut a.log, 7, 1, (1 << 20) + 6, true);
        let got: Vec<LogRecord> = a.records().collect();
        assert_eq!(
            got,
            vec![
                LogRecord {
                    key: 1,
                    registrable: 1,
                    hour: 5,
                    host: false
                },
                LogRecord {
                    key: 7,
                    registrable: 1,
                    hour: 6,
                    host: true
                }
            ]
        );
        let mut b = FirstSeenDelta {
            snapshot: Some(FirstSeenSnapshot::default()),
            dropped: 3,
            ..Default::default()
        };
        push_log(&mut b.log, 9, 9, 1, false);
        a.append(&mut b);
        assert_eq!(a.log_records(), 1, "the earlier log is in the snapshot");
        assert_eq!((a.dropped, b.is_empty()), (3, true));
        let mut s = Vec::new();
        push_snap(&mut s, u64::MAX, 17);
        assert_eq!(snap_records(&s).collect::<Vec<_>>(), vec![(u64::MAX, 17)]);
        let mut p = Vec::new();
        push_prev(&mut p, 42, 65535);
        assert_eq!(prev_records(&p).collect::<Vec<_>>(), vec![(42, 65535)]);
        for part in [Part::Log, Part::Sensor, Part::Host, Part::Prevalence] {
            assert_eq!(Part::parse(part.as_str()), Some(part));
        }
        assert_eq!(scheme(), scheme());
    }
}
