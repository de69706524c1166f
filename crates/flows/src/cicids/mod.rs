//! CIC-IDS2017 flow windows detector: fixed windows of N CICFlowMeter flows,
//! scored against a benign baseline by z-scores and by the project's seeded
//! extended isolation forest.
//!
//! # Stages
//!
//! 1. **Read** ([`WindowReader`]): flow CSVs of every [`Dialect`] — CIC-IDS2017
//!    (the original `" Source IP"`, `" Flow Bytes/s"`, `" Label"` release and the
//!    re-labelled `"Src IP"`, `"Dst Port"` release), the Java CICFlowMeter-V4
//!    (`"Flow Byts/s"`, `"Tot Fwd Pkts"`), the PyPI `cicflowmeter`
//!    (`flow_byts_s`, `tot_fwd_pkts`) and UNSW-NB15 (`srcip`, `dur` in
//!    seconds, no rate columns; the raw files without a header row too) —
//!    through [`crate::csvin`], gzip-compressed or not. The dialect is
//!    recognised from the header and named in the output; units are
//!    normalised ([`parse_flow`]). Every column the dialect has must be
//!    present or the file is refused before a single row is read; `Label` is
//!    optional. Each row is
//!    coerced to numbers; a row that cannot be used is dropped and counted under
//!    exactly one [`InvalidReason`] (the first problem found, in the order of
//!    that enum).
//! 2. **Window** ([`WindowBuilder`]): consecutive runs of `N` valid flows
//!    (default [`DEFAULT_WINDOW`]). A trailing partial window is kept only if it
//!    holds at least half a window ([`MIN_PARTIAL_FRACTION`]); its extensive
//!    features (total bytes, total packets) are then scaled to a full window so
//!    they stay comparable. Per window the [`FEATURES`] are computed, plus the
//!    attack ratio from `Label` (ground truth, never a detection input) and the
//!    concentration context the pattern rules use. Memory per file is one
//!    window's distinct addresses and ports.
//! 3. **Baseline** ([`Baseline::train`]): per-feature mean and standard deviation
//!    over benign windows, with the standard deviation floored
//!    ([`guarded_std`]); a leave-one-out "benign ceiling" of the anomaly index;
//!    and an extended isolation forest ([`sentineldns_model::Bundle`]) trained on the
//!    same windows. Persisted as one versioned JSON document ([`Baseline::save`]).
//! 4. **Score** ([`Baseline::score`]): z-scores, anomaly index `Σ|z|`,
//!    [`Severity`], likely [`Pattern`] with [`Confidence`] and action hint, the
//!    three strongest indicators, the forest's calibrated score and the final
//!    [`Decision`].
//!
//! # Decision
//!
//! Two independent votes:
//!
//! * **z vote** ([`ZVote`]): with [`ZVote::Severity`] (the reference design) the
//!   window votes when its severity is HIGH or CRITICAL (index ≥ 6). With
//!   [`ZVote::Calibrated`] (the default) it must *also* exceed the baseline's
//!   benign ceiling, the largest anomaly index a baseline window reaches when
//!   scored against the other baseline windows (leave-one-out). With eight
//!   features a Gaussian window already has `E[Σ|z|] = 8·√(2/π) ≈ 6.4`, so the
//!   fixed HIGH cut-off alone flags ordinary benign windows;
//! * **forest vote**: the forest's calibrated score is at or above the bundle's
//!   "unusual" threshold (default 0.45: above 99.9 % of the out-of-bag scores of
//!   the baseline windows).
//!
//! `CONFIRMED` = both vote, `SUSPICIOUS` = exactly one votes, `NORMAL` = neither.
//! Windows that are not `NORMAL` are alerts.

use std::collections::hash_map::Entry;
use std::fmt;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use super::csvin::{normalize, Column, CsvError, CsvInput};
use sentineldns_model::container::{write_atomic, Format, FrameError};
use sentineldns_model::{Bundle, ForestParams, ModelError};

/// Default window length in flows (as in the reference design).
pub const DEFAULT_WINDOW: usize = 10_000;
/// A trailing partial window is kept when it holds at least this fraction of a window.
pub const MIN_PARTIAL_FRACTION: f64 = 0.5;
/// Relative floor of a baseline standard deviation (fraction of `|mean|`).
pub const REL_STD_FLOOR: f64 = 0.05;
/// Absolute floor of a baseline standard deviation.
pub const ABS_STD_FLOOR: f64 = 1e-6;
/// Fewest baseline windows [`Baseline::train`] accepts (leave-one-out needs 3).
pub const MIN_BASELINE_WINDOWS: usize = 3;
/// `kind` field of a baseline file.
pub const BASELINE_KIND: &str = "sentineldns-flow-baseline";
/// Baseline file format version this build reads and writes.
pub const BASELINE_VERSION: u32 = 2;
/// First eight bytes of every flow-baseline file.
pub const BASELINE_MAGIC: [u8; 8] = *b"SDNSCIC\0";
/// The baseline's framing: the container every sentineldns model file uses
/// ([`sentineldns_model::container`]). Version 1 was a JSON document.
pub const BASELINE_FORMAT: Format = Format {
    magic: BASELINE_MAGIC,
    version: BASELINE_VERSION,
    max_payload: MAX_BASELINE_BYTES,
};
/// Largest baseline file [`Baseline::load`] reads.
pub const MAX_BASELINE_BYTES: u64 = 512 << 20;

/// Window features, in vector order.
pub const FEATURES: [&str; 8] = [
    "total_bytes",
    "total_packets",
    "unique_source_ips",
    "unique_destination_ips",
    "unique_destination_ports",
    "avg_flow_bytes_per_sec",
    "avg_flow_packets_per_sec",
    "avg_packets_per_flow",
];
/// Number of window features.
pub const N_FEATURES: usize = FEATURES.len();

const F_BYTES: usize = 0;
const F_PACKETS: usize = 1;
const F_SRC: usize = 2;
const F_DST: usize = 3;
const F_PORTS: usize = 4;
const F_PPS: usize = 6;
const F_PPF: usize = 7;

/// Errors of the CIC-IDS detector.
#[derive(Debug, thiserror::Error)]
pub enum CicidsError {
    /// The CSV could not be opened or lacks required columns.
    #[error(transparent)]
    Csv(#[from] CsvError),
    /// A window length of 0 flows.
    #[error("window must hold at least 1 flow")]
    BadWindow,
    /// Too few benign windows to build a baseline.
    #[error("baseline needs at least {need} windows of {window} flows but the benign input gave {found} (from {flows} valid flows); pass a smaller --window or more benign data")]
    TooFewWindows {
        /// Windows found.
        found: usize,
        /// Windows needed.
        need: usize,
        /// Window length.
        window: usize,
        /// Valid flows read.
        flows: u64,
    },
    /// The baseline file could not be read or written.
    #[error("baseline {path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not a sentineldns flow baseline (wrong kind, not JSON, truncated).
    #[error("{path}: not a sentineldns flow baseline ({reason}); write one with `sentineldns flows baseline`")]
    NotABaseline {
        /// File.
        path: PathBuf,
        /// What was found.
        reason: String,
    },
    /// The baseline was written by another format version.
    #[error("{path}: flow baseline format version {found} is not supported (this build reads version {supported}); rebuild it with `sentineldns flows baseline`")]
    Version {
        /// File.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// The baseline parsed but its contents are inconsistent or corrupt.
    #[error("{path}: flow baseline is corrupt: {reason}")]
    Corrupt {
        /// File.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Training or decoding the isolation forest failed.
    #[error("isolation forest: {0}")]
    Model(#[from] ModelError),
}

mod baseline;
mod read;
mod score;
#[cfg(test)]
mod tests;
mod window;

pub use baseline::*;
pub use read::*;
pub use score::*;
pub use window::*;
