//! CIC-IDS2017 flow windows detector: fixed windows of N CICFlowMeter flows,
//! scored against a benign baseline by z-scores and by the project's seeded
//! extended isolation forest.
//!
//! # Stages
//!
//! 1. **Read** ([`WindowReader`]): CICFlowMeter CSVs of either header generation
//!    (the original `" Source IP"`, `" Flow Bytes/s"`, `" Label"` release and the
//!    re-labelled `"Src IP"`, `"Dst Port"` release) through
//!    [`crate::csvin`]. Every [`COLUMNS`] entry must be present or the file
//!    is refused before a single row is read; `Label` is optional. Each row is
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

use super::csvin::{Column, CsvError, CsvInput};
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

/// Source address column.
pub const SRC_IP: Column = Column::new("Source IP", &["Src IP", "src_ip", "srcip"]);
/// Destination address column.
pub const DST_IP: Column = Column::new("Destination IP", &["Dst IP", "dst_ip", "dstip"]);
/// Destination port column.
pub const DST_PORT: Column = Column::new("Destination Port", &["Dst Port", "dst_port", "dsport"]);
/// Flow duration column (microseconds).
pub const DURATION: Column = Column::new("Flow Duration", &["duration"]);
/// Forward packet count column.
pub const FWD_PACKETS: Column = Column::new(
    "Total Fwd Packets",
    &["Total Fwd Packet", "Tot Fwd Pkts", "fwd_packets"],
);
/// Backward packet count column.
pub const BWD_PACKETS: Column = Column::new(
    "Total Backward Packets",
    &[
        "Total Bwd packets",
        "Total Bwd Packets",
        "Tot Bwd Pkts",
        "bwd_packets",
    ],
);
/// Forward payload bytes column.
pub const FWD_BYTES: Column = Column::new(
    "Total Length of Fwd Packets",
    &["Total Length of Fwd Packet", "TotLen Fwd Pkts", "fwd_bytes"],
);
/// Backward payload bytes column.
pub const BWD_BYTES: Column = Column::new(
    "Total Length of Bwd Packets",
    &["Total Length of Bwd Packet", "TotLen Bwd Pkts", "bwd_bytes"],
);
/// Flow bytes per second column.
pub const FLOW_BPS: Column = Column::new("Flow Bytes/s", &["Flow Byts/s", "flow_bytes_per_s"]);
/// Flow packets per second column.
pub const FLOW_PPS: Column = Column::new("Flow Packets/s", &["Flow Pkts/s", "flow_packets_per_s"]);
/// Ground-truth label column (optional).
pub const LABEL: Column = Column::new("Label", &[]);

/// Columns every input must have, in the order [`WindowReader`] reads them.
pub const COLUMNS: [Column; 10] = [
    SRC_IP,
    DST_IP,
    DST_PORT,
    DURATION,
    FWD_PACKETS,
    BWD_PACKETS,
    FWD_BYTES,
    BWD_BYTES,
    FLOW_BPS,
    FLOW_PPS,
];

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

/// Why a row was dropped. A row counts under the first reason found, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum InvalidReason {
    /// The CSV layer could not read the row (wrong field count, invalid UTF-8).
    Malformed,
    /// Source or destination address is empty.
    MissingAddress,
    /// A numeric field is empty or not a number.
    Unparsable,
    /// A numeric field is NaN.
    NaN,
    /// A numeric field is ±Infinity.
    Infinite,
    /// Flow duration is negative.
    NegativeDuration,
    /// A packet count, byte count or rate is negative.
    NegativeValue,
    /// Destination port is not an integer in 0..=65535.
    BadPort,
}

impl InvalidReason {
    /// All reasons, in counting order.
    pub const ALL: [InvalidReason; 8] = [
        InvalidReason::Malformed,
        InvalidReason::MissingAddress,
        InvalidReason::Unparsable,
        InvalidReason::NaN,
        InvalidReason::Infinite,
        InvalidReason::NegativeDuration,
        InvalidReason::NegativeValue,
        InvalidReason::BadPort,
    ];

    /// Short name used in summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            InvalidReason::Malformed => "malformed row",
            InvalidReason::MissingAddress => "missing address",
            InvalidReason::Unparsable => "unparsable number",
            InvalidReason::NaN => "NaN",
            InvalidReason::Infinite => "Infinity",
            InvalidReason::NegativeDuration => "negative duration",
            InvalidReason::NegativeValue => "negative count or rate",
            InvalidReason::BadPort => "bad port",
        }
    }

    fn slot(self) -> usize {
        self as usize
    }
}

/// Row counts of one input file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RowCounts {
    /// Data rows seen (valid + invalid).
    pub rows: u64,
    /// Rows that became flows.
    pub valid: u64,
    /// Dropped rows per [`InvalidReason`] (indexed like [`InvalidReason::ALL`]).
    pub invalid: [u64; 8],
    /// Valid flows left in a trailing partial window too short to keep.
    pub tail_dropped: u64,
}

impl RowCounts {
    /// Dropped rows for `reason`.
    pub fn invalid_for(&self, reason: InvalidReason) -> u64 {
        self.invalid[reason.slot()]
    }

    /// Total dropped rows.
    pub fn invalid_total(&self) -> u64 {
        self.invalid.iter().sum()
    }

    /// `"3 NaN, 1 Infinity"`, or `"none"`.
    pub fn invalid_summary(&self) -> String {
        let parts: Vec<String> = InvalidReason::ALL
            .iter()
            .filter(|r| self.invalid_for(**r) > 0)
            .map(|r| format!("{} {}", self.invalid_for(*r), r.as_str()))
            .collect();
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(", ")
        }
    }

    fn count(&mut self, reason: InvalidReason) {
        self.invalid[reason.slot()] += 1;
    }
}

/// One valid flow, as the window needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    /// Source address (as written).
    pub src: String,
    /// Destination address (as written).
    pub dst: String,
    /// Destination port.
    pub dst_port: u16,
    /// Forward + backward packets.
    pub packets: f64,
    /// Forward + backward payload bytes.
    pub bytes: f64,
    /// Flow bytes per second.
    pub bytes_per_sec: f64,
    /// Flow packets per second.
    pub packets_per_sec: f64,
    /// `Some(true)` for a non-BENIGN label, `None` without a label column or value.
    pub attack: Option<bool>,
}

fn number(s: &str) -> Result<f64, InvalidReason> {
    let t = s.trim();
    if t.is_empty() {
        return Err(InvalidReason::Unparsable);
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_nan() => Err(InvalidReason::NaN),
        Ok(v) if v.is_infinite() => Err(InvalidReason::Infinite),
        Ok(v) => Ok(v),
        Err(_) => Err(InvalidReason::Unparsable),
    }
}

/// Turn one CSV row into a [`Flow`]. `idx` holds the positions of [`COLUMNS`]
/// (same order), `label` the position of the label column if any.
pub fn parse_flow(
    rec: &csv::StringRecord,
    idx: &[usize],
    label: Option<usize>,
) -> Result<Flow, InvalidReason> {
    let field = |i: usize| idx.get(i).and_then(|&j| rec.get(j)).unwrap_or("");
    let src = field(0).trim();
    let dst = field(1).trim();
    if src.is_empty() || dst.is_empty() {
        return Err(InvalidReason::MissingAddress);
    }
    // Numbers: port, duration, fwd/bwd packets, fwd/bwd bytes, bytes/s, packets/s.
    let mut v = [0.0f64; 8];
    for (k, slot) in v.iter_mut().enumerate() {
        *slot = number(field(k + 2))?;
    }
    let [port, duration, fp, bp, fb, bb, bps, pps] = v;
    if duration < 0.0 {
        return Err(InvalidReason::NegativeDuration);
    }
    if [fp, bp, fb, bb, bps, pps].iter().any(|x| *x < 0.0) {
        return Err(InvalidReason::NegativeValue);
    }
    if !(0.0..=65535.0).contains(&port) || port.fract() != 0.0 {
        return Err(InvalidReason::BadPort);
    }
    let attack = label
        .and_then(|j| rec.get(j))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| !l.eq_ignore_ascii_case("BENIGN"));
    Ok(Flow {
        src: src.to_owned(),
        dst: dst.to_owned(),
        dst_port: port as u16,
        packets: fp + bp,
        bytes: fb + bb,
        bytes_per_sec: bps,
        packets_per_sec: pps,
        attack,
    })
}

/// Where a window's traffic concentrates (inputs of the pattern rules).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Concentration {
    /// Most frequent destination address.
    pub top_dst_ip: String,
    /// Share of the window's flows going to it.
    pub top_dst_ip_share: f64,
    /// Whether that address is a public (globally routed) IP.
    pub top_dst_public: bool,
    /// Most frequent destination port.
    pub top_dst_port: u16,
    /// Share of the window's flows going to it.
    pub top_dst_port_share: f64,
}

/// One window of flows with its features.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowWindow {
    /// Input file.
    pub file: String,
    /// 0-based window number within the file.
    pub index: usize,
    /// 0-based number of the window's first valid flow within the file.
    pub first_flow: u64,
    /// Flows in the window (less than the window length for a kept partial window).
    pub flows: usize,
    /// Feature values, in [`FEATURES`] order.
    pub features: [f64; N_FEATURES],
    /// Share of flows labelled non-BENIGN; `None` when no flow carried a label.
    pub attack_ratio: Option<f64>,
    /// Concentration context.
    pub concentration: Concentration,
}

/// Accumulates flows into one window; memory is bounded by the window length.
#[derive(Debug, Default)]
pub struct WindowBuilder {
    flows: usize,
    bytes: f64,
    packets: f64,
    sum_bps: f64,
    sum_pps: f64,
    labelled: usize,
    attacks: usize,
    src: FxHashSet<String>,
    dst: FxHashMap<String, u32>,
    ports: FxHashMap<u16, u32>,
}

impl WindowBuilder {
    /// Add one flow.
    pub fn push(&mut self, f: &Flow) {
        self.flows += 1;
        self.bytes += f.bytes;
        self.packets += f.packets;
        self.sum_bps += f.bytes_per_sec;
        self.sum_pps += f.packets_per_sec;
        if let Some(a) = f.attack {
            self.labelled += 1;
            self.attacks += usize::from(a);
        }
        if !self.src.contains(f.src.as_str()) {
            self.src.insert(f.src.clone());
        }
        match self.dst.get_mut(f.dst.as_str()) {
            Some(c) => *c += 1,
            None => {
                self.dst.insert(f.dst.clone(), 1);
            }
        }
        match self.ports.entry(f.dst_port) {
            Entry::Occupied(mut e) => *e.get_mut() += 1,
            Entry::Vacant(e) => {
                e.insert(1);
            }
        }
    }

    /// Flows added so far.
    pub fn len(&self) -> usize {
        self.flows
    }

    /// No flow added yet.
    pub fn is_empty(&self) -> bool {
        self.flows == 0
    }

    /// Features of the flows added; extensive features are scaled to `window`
    /// flows (a no-op for a full window). Resets the builder.
    pub fn finish(
        &mut self,
        file: &str,
        index: usize,
        first_flow: u64,
        window: usize,
    ) -> FlowWindow {
        let n = self.flows.max(1) as f64;
        let scale = window as f64 / n;
        let features = [
            self.bytes * scale,
            self.packets * scale,
            self.src.len() as f64,
            self.dst.len() as f64,
            self.ports.len() as f64,
            self.sum_bps / n,
            self.sum_pps / n,
            self.packets / n,
        ];
        // Ties broken by the smaller key, so the result does not depend on hashing.
        let (top_dst_ip, dst_count) = self
            .dst
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(k, c)| (k.clone(), *c))
            .unwrap_or_default();
        let (top_dst_port, port_count) = self
            .ports
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(k, c)| (*k, *c))
            .unwrap_or_default();
        let top_dst_public = top_dst_ip.parse::<IpAddr>().is_ok_and(is_public);
        let w = FlowWindow {
            file: file.to_owned(),
            index,
            first_flow,
            flows: self.flows,
            features,
            attack_ratio: (self.labelled > 0).then(|| self.attacks as f64 / self.labelled as f64),
            concentration: Concentration {
                top_dst_ip,
                top_dst_ip_share: f64::from(dst_count) / n,
                top_dst_public,
                top_dst_port,
                top_dst_port_share: f64::from(port_count) / n,
            },
        };
        *self = WindowBuilder::default();
        w
    }
}

/// A globally routed address (not private, loopback, link-local, CGNAT,
/// multicast, documentation or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || (o[0] == 100 && (o[1] & 0xC0) == 64))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// Reads one CSV file window by window (see the module docs for the rules).
pub struct WindowReader {
    input: CsvInput,
    idx: Vec<usize>,
    label: Option<usize>,
    window: usize,
    file: String,
    builder: WindowBuilder,
    rec: csv::StringRecord,
    counts: RowCounts,
    next_index: usize,
    first_flow: u64,
    last_error_line: Option<u64>,
    done: bool,
}

impl fmt::Debug for WindowReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WindowReader")
            .field("file", &self.file)
            .field("window", &self.window)
            .field("counts", &self.counts)
            .finish()
    }
}

impl WindowReader {
    /// Open `path` and resolve its columns. Fails (naming the file and every
    /// missing column) before any row is read.
    pub fn open(path: &Path, window: usize) -> Result<Self, CicidsError> {
        Self::new(CsvInput::open(path)?, window)
    }

    /// Wrap an already opened input.
    pub fn new(input: CsvInput, window: usize) -> Result<Self, CicidsError> {
        if window == 0 {
            return Err(CicidsError::BadWindow);
        }
        let idx = input.require(&COLUMNS)?;
        let label = input.find(&LABEL);
        let file = input.path().display().to_string();
        Ok(WindowReader {
            input,
            idx,
            label,
            window,
            file,
            builder: WindowBuilder::default(),
            rec: csv::StringRecord::new(),
            counts: RowCounts::default(),
            next_index: 0,
            first_flow: 0,
            last_error_line: None,
            done: false,
        })
    }

    /// Whether the file has a label column.
    pub fn has_labels(&self) -> bool {
        self.label.is_some()
    }

    /// Row counts so far (complete once [`next_window`](Self::next_window) returned `None`).
    pub fn counts(&self) -> &RowCounts {
        &self.counts
    }

    /// The next window, or `None` at the end of the file.
    pub fn next_window(&mut self) -> Option<FlowWindow> {
        while !self.done {
            match self.input.next_record(&mut self.rec) {
                Ok(true) => {
                    self.counts.rows += 1;
                    match parse_flow(&self.rec, &self.idx, self.label) {
                        Ok(flow) => {
                            self.counts.valid += 1;
                            self.builder.push(&flow);
                            if self.builder.len() == self.window {
                                return Some(self.emit());
                            }
                        }
                        Err(reason) => self.counts.count(reason),
                    }
                }
                Ok(false) => self.done = true,
                Err(_) => {
                    // A reader that fails twice at the same line makes no
                    // progress (I/O error): stop instead of spinning.
                    let line = self.input.line();
                    if self.last_error_line == Some(line) {
                        self.done = true;
                    } else {
                        self.last_error_line = Some(line);
                        self.counts.rows += 1;
                        self.counts.count(InvalidReason::Malformed);
                    }
                }
            }
        }
        if self.builder.is_empty() {
            return None;
        }
        let min = (self.window as f64 * MIN_PARTIAL_FRACTION).ceil() as usize;
        if self.builder.len() >= min.max(1) {
            Some(self.emit())
        } else {
            self.counts.tail_dropped = self.builder.len() as u64;
            self.builder = WindowBuilder::default();
            None
        }
    }

    fn emit(&mut self) -> FlowWindow {
        let n = self.builder.len() as u64;
        let w = self
            .builder
            .finish(&self.file, self.next_index, self.first_flow, self.window);
        self.next_index += 1;
        self.first_flow += n;
        w
    }
}

/// Severity of a window's anomaly index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Severity {
    /// Index < 3.
    Low,
    /// 3 ≤ index < 6.
    Medium,
    /// 6 ≤ index < 10.
    High,
    /// Index ≥ 10.
    Critical,
}

impl Severity {
    /// Bucket of an anomaly index (NaN is LOW).
    pub fn of(index: f64) -> Severity {
        if index >= 10.0 {
            Severity::Critical
        } else if index >= 6.0 {
            Severity::High
        } else if index >= 3.0 {
            Severity::Medium
        } else {
            Severity::Low
        }
    }

    /// Upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// Likely attack pattern of an anomalous window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Pattern {
    /// Port fan-out towards few targets (vertical) or address fan-out on short flows (horizontal).
    PortScan,
    /// Many flows converging on one internal target, or a volume/rate surge on one target.
    DDoS,
    /// Destination diversity drops while the packet rate spikes.
    Infiltration,
    /// Many sources with an elevated packet rate.
    WebAttack,
    /// Repeated flows to one login service (SSH, FTP, RDP, …).
    BruteForce,
    /// Internal hosts converging on one public address at a low rate (C2 beaconing).
    Botnet,
    /// No rule matched.
    Unknown,
}

impl Pattern {
    /// Display name.
    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::PortScan => "PortScan",
            Pattern::DDoS => "DDoS",
            Pattern::Infiltration => "Infiltration",
            Pattern::WebAttack => "Web Attack",
            Pattern::BruteForce => "Brute force",
            Pattern::Botnet => "Botnet",
            Pattern::Unknown => "Unknown",
        }
    }

    /// What the analyst should do next.
    pub fn action(self) -> &'static str {
        match self {
            Pattern::PortScan => "Find the probing source(s) in this window, check which probed ports answered, and block or rate-limit repeat probes.",
            Pattern::DDoS => "Verify the flood against the target service; rate-limit it and ask upstream to filter the sources.",
            Pattern::Infiltration => "Correlate the internal hosts involved with endpoint telemetry and look for unusual outbound sessions.",
            Pattern::WebAttack => "Review the web server logs for request bursts and exploit signatures from the sources involved.",
            Pattern::BruteForce => "Check the targeted service's authentication log for repeated failures; lock the account or block the source.",
            Pattern::Botnet => "Isolate the internal hosts talking to this external address and inspect them for C2 implants.",
            Pattern::Unknown => "Pivot on the top indicators and correlate with firewall, DNS and endpoint logs.",
        }
    }
}

/// How well the window fits its pattern rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Confidence {
    /// No rule matched.
    Low,
    /// The rule's primary condition matched.
    Medium,
    /// The primary and the corroborating conditions matched.
    High,
}

impl Confidence {
    /// Display name.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "Low",
            Confidence::Medium => "Medium",
            Confidence::High => "High",
        }
    }
}

/// Final decision of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Decision {
    /// Neither the z-score side nor the forest votes.
    Normal,
    /// Exactly one of them votes.
    Suspicious,
    /// Both vote.
    Confirmed,
}

impl Decision {
    /// Upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Normal => "NORMAL",
            Decision::Suspicious => "SUSPICIOUS",
            Decision::Confirmed => "CONFIRMED",
        }
    }

    /// `CONFIRMED` when both vote, `SUSPICIOUS` when one does, else `NORMAL`.
    pub fn of(z_vote: bool, forest_vote: bool) -> Decision {
        match (z_vote, forest_vote) {
            (true, true) => Decision::Confirmed,
            (false, false) => Decision::Normal,
            _ => Decision::Suspicious,
        }
    }
}

/// When the z-score side votes for an anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ZVote {
    /// Severity HIGH or CRITICAL (the reference design).
    Severity,
    /// Severity HIGH or CRITICAL and anomaly index above the benign ceiling.
    #[default]
    Calibrated,
}

/// Destination ports of interactive login / authentication services.
pub const LOGIN_PORTS: [u16; 13] = [
    21, 22, 23, 25, 110, 143, 389, 445, 1433, 3306, 3389, 5432, 5900,
];

/// Pattern and confidence of a window from its features, z-scores and
/// concentration. Rules, first match wins:
///
/// 1. **PortScan** (vertical): `z(ports) ≥ 3` and at least 4 distinct ports per
///    destination; High when `z(dst IPs) ≤ −2` and ≤ 4 packets per flow.
///    (horizontal): `z(dst IPs) ≥ 3`, `z(src IPs) < 0`, ≤ 4 packets per flow; Medium.
/// 2. *Concentrated* means ≥ 80 % of flows go to one address and ≥ 80 % to one
///    port, and `z(dst IPs) ≤ −2`.
///    **Brute force**: concentrated on a [`LOGIN_PORTS`] service; High when
///    `z(src IPs) ≤ −2` too (one attacker).
/// 3. **Botnet**: concentrated on a public address with `z(packet rate) ≤ 0`
///    (low-rate beaconing, not a flood); High when ≥ 2 sources share it.
/// 4. **DDoS**: concentrated, and either a volume/rate surge (`max z` of bytes,
///    packets, packet rate ≥ 3: High) or an internal target (Medium).
/// 5. **Infiltration**: `z(dst IPs) ≤ −2` and `z(packet rate) ≥ 3`; Medium.
/// 6. **Web Attack**: `z(src IPs) ≥ 3` and `z(packet rate) ≥ 2` or `z(packets) ≥ 2`; Medium.
/// 7. **Unknown**, Low.
pub fn classify(
    features: &[f64; N_FEATURES],
    z: &[f64; N_FEATURES],
    c: &Concentration,
) -> (Pattern, Confidence) {
    let short_flows = features[F_PPF] <= 4.0;
    if z[F_PORTS] >= 3.0 && features[F_PORTS] >= 4.0 * features[F_DST].max(1.0) {
        let conf = if z[F_DST] <= -2.0 && short_flows {
            Confidence::High
        } else {
            Confidence::Medium
        };
        return (Pattern::PortScan, conf);
    }
    if z[F_DST] >= 3.0 && z[F_SRC] < 0.0 && short_flows {
        return (Pattern::PortScan, Confidence::Medium);
    }
    let concentrated = c.top_dst_ip_share >= 0.8 && c.top_dst_port_share >= 0.8 && z[F_DST] <= -2.0;
    if concentrated {
        if LOGIN_PORTS.contains(&c.top_dst_port) {
            let conf = if z[F_SRC] <= -2.0 {
                Confidence::High
            } else {
                Confidence::Medium
            };
            return (Pattern::BruteForce, conf);
        }
        if c.top_dst_public && z[F_PPS] <= 0.0 {
            let conf = if features[F_SRC] >= 2.0 {
                Confidence::High
            } else {
                Confidence::Medium
            };
            return (Pattern::Botnet, conf);
        }
        let surge = z[F_BYTES].max(z[F_PACKETS]).max(z[F_PPS]) >= 3.0;
        if surge {
            return (Pattern::DDoS, Confidence::High);
        }
        if !c.top_dst_public {
            return (Pattern::DDoS, Confidence::Medium);
        }
    }
    if z[F_DST] <= -2.0 && z[F_PPS] >= 3.0 {
        return (Pattern::Infiltration, Confidence::Medium);
    }
    if z[F_SRC] >= 3.0 && (z[F_PPS] >= 2.0 || z[F_PACKETS] >= 2.0) {
        return (Pattern::WebAttack, Confidence::Medium);
    }
    (Pattern::Unknown, Confidence::Low)
}

/// Baseline statistics of one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureBaseline {
    /// Feature name.
    pub name: String,
    /// Mean over the baseline windows.
    pub mean: f64,
    /// Population standard deviation over the baseline windows.
    pub std: f64,
    /// Standard deviation used for z-scores ([`guarded_std`]).
    pub std_used: f64,
    /// Median (for reports).
    pub median: f64,
    /// Smallest baseline value.
    pub min: f64,
    /// Largest baseline value.
    pub max: f64,
}

/// `max(std, REL_STD_FLOOR·|mean|, ABS_STD_FLOOR)`: a feature that hardly moves
/// in the baseline must still move by at least 5 % of its mean per unit of z.
pub fn guarded_std(std: f64, mean: f64) -> f64 {
    std.max(REL_STD_FLOOR * mean.abs()).max(ABS_STD_FLOOR)
}

/// z-score of `x` against `mean` and a guarded standard deviation.
pub fn z_score(x: f64, mean: f64, std_used: f64) -> f64 {
    (x - mean) / std_used
}

/// Mean and population standard deviation (0, 0 when empty).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

fn median(values: &[f64]) -> f64 {
    let mut s = values.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => 0.0,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// One of the strongest deviations of a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Indicator {
    /// Feature name.
    pub feature: &'static str,
    /// Window value.
    pub value: f64,
    /// Baseline mean.
    pub baseline_mean: f64,
    /// z-score.
    pub z: f64,
}

/// Everything the detector concludes about one window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowVerdict {
    /// The window.
    pub window: FlowWindow,
    /// z-scores in [`FEATURES`] order.
    pub z: [f64; N_FEATURES],
    /// `Σ|z|`.
    pub anomaly_index: f64,
    /// Bucket of the index.
    pub severity: Severity,
    /// Whether the z-score side voted.
    pub z_vote: bool,
    /// Forest calibrated score in [0, 1].
    pub forest_score: f64,
    /// Whether the forest voted (score ≥ its unusual threshold).
    pub forest_vote: bool,
    /// Final decision.
    pub decision: Decision,
    /// Likely pattern.
    pub pattern: Pattern,
    /// Confidence in the pattern.
    pub confidence: Confidence,
    /// The three largest `|z|`, strongest first.
    pub top: Vec<Indicator>,
}

impl WindowVerdict {
    /// Whether this window is an alert (not NORMAL).
    pub fn is_alert(&self) -> bool {
        self.decision != Decision::Normal
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct BaselineFile {
    kind: String,
    created_by: String,
    window: usize,
    windows: usize,
    flows: u64,
    sources: Vec<String>,
    features: Vec<FeatureBaseline>,
    /// Leave-one-out anomaly index of every baseline window.
    loo_index: Vec<f64>,
    benign_ceiling: f64,
    /// The isolation forest: a sentineldns model bundle (itself framed).
    forest_bundle: Vec<u8>,
}

/// Options for [`Baseline::train`].
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineOptions {
    /// Window length in flows.
    pub window: usize,
    /// Trees in the forest.
    pub trees: usize,
    /// Forest seed.
    pub seed: u64,
}

impl Default for BaselineOptions {
    fn default() -> Self {
        BaselineOptions {
            window: DEFAULT_WINDOW,
            trees: 200,
            seed: 42,
        }
    }
}

/// A trained baseline: per-feature statistics, benign ceiling and forest.
#[derive(Debug, Clone)]
pub struct Baseline {
    file: BaselineFile,
    bundle: Bundle,
}

impl Baseline {
    /// Train from benign windows (`flows` = valid flows they came from, for the record).
    pub fn train(
        windows: &[FlowWindow],
        flows: u64,
        sources: Vec<String>,
        opts: &BaselineOptions,
    ) -> Result<Baseline, CicidsError> {
        if windows.len() < MIN_BASELINE_WINDOWS {
            return Err(CicidsError::TooFewWindows {
                found: windows.len(),
                need: MIN_BASELINE_WINDOWS,
                window: opts.window,
                flows,
            });
        }
        let rows: Vec<Vec<f64>> = windows.iter().map(|w| w.features.to_vec()).collect();
        let features = stats_of(&rows);
        let loo_index: Vec<f64> = (0..rows.len())
            .map(|i| {
                let others: Vec<Vec<f64>> = rows
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, r)| r.clone())
                    .collect();
                let st = stats_of(&others);
                rows[i]
                    .iter()
                    .zip(&st)
                    .map(|(x, s)| z_score(*x, s.mean, s.std_used).abs())
                    .sum()
            })
            .collect();
        let benign_ceiling = loo_index.iter().copied().fold(0.0, f64::max);
        let params = ForestParams {
            n_trees: opts.trees,
            sample_size: 256.min(rows.len()),
            extension_level: Some(1),
            max_depth: None,
            seed: opts.seed,
        };
        let bundle = Bundle::train(&FEATURES, &rows, &params, &[true; N_FEATURES])?;
        let file = BaselineFile {
            kind: BASELINE_KIND.into(),
            created_by: format!("sentineldns {}", env!("CARGO_PKG_VERSION")),
            window: opts.window,
            windows: windows.len(),
            flows,
            sources,
            features,
            loo_index,
            benign_ceiling,
            forest_bundle: bundle.to_bytes(),
        };
        Ok(Baseline { file, bundle })
    }

    /// Window length the baseline was built with.
    pub fn window(&self) -> usize {
        self.file.window
    }

    /// Number of baseline windows.
    pub fn windows(&self) -> usize {
        self.file.windows
    }

    /// Per-feature statistics.
    pub fn features(&self) -> &[FeatureBaseline] {
        &self.file.features
    }

    /// Largest leave-one-out anomaly index of a baseline window.
    pub fn benign_ceiling(&self) -> f64 {
        self.file.benign_ceiling
    }

    /// Leave-one-out anomaly index of every baseline window.
    pub fn loo_index(&self) -> &[f64] {
        &self.file.loo_index
    }

    /// The forest's "unusual" threshold on its calibrated score.
    pub fn forest_threshold(&self) -> f64 {
        self.bundle.thresholds.unusual
    }

    /// The forest bundle.
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// Score one window.
    pub fn score(&self, w: FlowWindow, vote: ZVote) -> WindowVerdict {
        let mut z = [0.0; N_FEATURES];
        for ((zj, x), s) in z.iter_mut().zip(&w.features).zip(&self.file.features) {
            *zj = z_score(*x, s.mean, s.std_used);
        }
        let anomaly_index: f64 = z.iter().map(|v| v.abs()).sum();
        let severity = Severity::of(anomaly_index);
        let z_vote = severity >= Severity::High
            && match vote {
                ZVote::Severity => true,
                ZVote::Calibrated => anomaly_index > self.file.benign_ceiling,
            };
        let forest_score = self.bundle.score(&w.features);
        let forest_vote = forest_score >= self.bundle.thresholds.unusual;
        let (pattern, confidence) = classify(&w.features, &z, &w.concentration);
        let mut order: Vec<usize> = (0..N_FEATURES).collect();
        order.sort_by(|a, b| z[*b].abs().total_cmp(&z[*a].abs()).then(a.cmp(b)));
        let top = order
            .iter()
            .take(3)
            .map(|&j| Indicator {
                feature: FEATURES[j],
                value: w.features[j],
                baseline_mean: self.file.features[j].mean,
                z: z[j],
            })
            .collect();
        WindowVerdict {
            window: w,
            z,
            anomaly_index,
            severity,
            z_vote,
            forest_score,
            forest_vote,
            decision: Decision::of(z_vote, forest_vote),
            pattern,
            confidence,
            top,
        }
    }

    /// The baseline as a readable JSON document: everything but the forest,
    /// which is given as its size and checksum (`flows show-baseline`).
    pub fn summary_json(&self) -> String {
        let f = &self.file;
        let forest = &f.forest_bundle;
        let doc = serde_json::json!({
            "kind": f.kind,
            "format_version": BASELINE_VERSION,
            "created_by": f.created_by,
            "window": f.window,
            "windows": f.windows,
            "flows": f.flows,
            "sources": f.sources,
            "benign_ceiling": f.benign_ceiling,
            "forest_threshold": self.forest_threshold(),
            "features": f.features,
            "loo_index": f.loo_index,
            "forest_bundle": {
                "bytes": forest.len(),
                "fnv1a64": format!("{:#018x}", sentineldns_model::checksum::fnv1a64(forest)),
            },
        });
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }

    /// Encode in the shared model container ([`BASELINE_FORMAT`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>, CicidsError> {
        BASELINE_FORMAT
            .encode(&self.file)
            .map_err(|e| frame_error(e, Path::new("<memory>")))
    }

    /// Decode and validate a baseline file's bytes; `path` names it in errors.
    /// Never panics, whatever the bytes.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Baseline, CicidsError> {
        let corrupt = |reason: String| CicidsError::Corrupt {
            path: path.to_path_buf(),
            reason,
        };
        if bytes.len() < BASELINE_MAGIC.len() {
            return Err(frame_error(FrameError::WrongMagic(bytes.to_vec()), path));
        }
        if bytes.trim_ascii_start().starts_with(b"{")
            && std::str::from_utf8(bytes).is_ok_and(|t| t.contains(BASELINE_KIND))
        {
            // Version 1 baselines were JSON documents.
            return Err(CicidsError::Version {
                path: path.to_path_buf(),
                found: 1,
                supported: BASELINE_VERSION,
            });
        }
        let file: BaselineFile = BASELINE_FORMAT
            .decode(bytes)
            .map_err(|e| frame_error(e, path))?;
        if file.kind != BASELINE_KIND {
            return Err(corrupt(format!(
                "kind is {:?}, expected \"{BASELINE_KIND}\"",
                file.kind
            )));
        }
        if file.window == 0 {
            return Err(corrupt("window of 0 flows".into()));
        }
        let names: Vec<&str> = file.features.iter().map(|f| f.name.as_str()).collect();
        if names != FEATURES {
            return Err(corrupt(format!(
                "features {names:?}, this build computes {FEATURES:?}"
            )));
        }
        for f in &file.features {
            let nums = [f.mean, f.std, f.std_used, f.median, f.min, f.max];
            if nums.iter().any(|v| !v.is_finite()) || f.std < 0.0 || f.std_used <= 0.0 {
                return Err(corrupt(format!(
                    "statistics of {} are not finite or not positive",
                    f.name
                )));
            }
        }
        if !file.benign_ceiling.is_finite() || file.loo_index.iter().any(|v| !v.is_finite()) {
            return Err(corrupt("benign ceiling is not finite".into()));
        }
        let bundle = Bundle::from_bytes(&file.forest_bundle, &FEATURES)
            .map_err(|e| corrupt(format!("embedded forest: {e}")))?;
        Ok(Baseline { file, bundle })
    }

    /// Write the baseline to `path` atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<(), CicidsError> {
        let bytes = self.to_bytes()?;
        write_atomic(path, &bytes).map_err(|source| CicidsError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Read and validate a baseline file (at most [`MAX_BASELINE_BYTES`] plus
    /// the frame are read, whatever the file claims).
    pub fn load(path: &Path) -> Result<Baseline, CicidsError> {
        let io = |source| CicidsError::Io {
            path: path.to_path_buf(),
            source,
        };
        let f = std::fs::File::open(path).map_err(io)?;
        let len = f.metadata().map_err(io)?.len();
        let max = MAX_BASELINE_BYTES + 64;
        if len > max {
            return Err(CicidsError::NotABaseline {
                path: path.to_path_buf(),
                reason: format!("{len} bytes, larger than any baseline"),
            });
        }
        let mut bytes = Vec::with_capacity(len as usize);
        f.take(max).read_to_end(&mut bytes).map_err(io)?;
        Self::from_bytes(&bytes, path)
    }
}

/// A framing problem as this module's error, naming `path`.
fn frame_error(e: FrameError, path: &Path) -> CicidsError {
    let path = path.to_path_buf();
    match e {
        FrameError::WrongMagic(found) => CicidsError::NotABaseline {
            path,
            reason: format!("starts with {}", sentineldns_model::checksum::hex(&found)),
        },
        FrameError::Version { found, supported } => CicidsError::Version {
            path,
            found,
            supported,
        },
        FrameError::Truncated { need, have } => CicidsError::NotABaseline {
            path,
            reason: format!("truncated: {have} of {need} bytes"),
        },
        FrameError::Checksum { expected, found } => CicidsError::Corrupt {
            path,
            reason: format!("checksum mismatch: expected {expected:#018x}, found {found:#018x}"),
        },
        FrameError::TooLarge { declared, max } => CicidsError::Corrupt {
            path,
            reason: format!("declared payload of {declared} bytes exceeds the {max}-byte limit"),
        },
        FrameError::TrailingBytes { extra, need, have } => CicidsError::Corrupt {
            path,
            reason: format!(
                "{extra} bytes after the checksum (file is {have} bytes, header says {need})"
            ),
        },
        FrameError::Decode(m) => CicidsError::Corrupt {
            path,
            reason: format!("payload does not decode: {m}"),
        },
    }
}

fn stats_of(rows: &[Vec<f64>]) -> Vec<FeatureBaseline> {
    let mut col = Vec::with_capacity(rows.len());
    FEATURES
        .iter()
        .enumerate()
        .map(|(j, name)| {
            col.clear();
            col.extend(rows.iter().map(|r| r[j]));
            let (mean, std) = mean_std(&col);
            FeatureBaseline {
                name: (*name).to_owned(),
                mean,
                std,
                std_used: guarded_std(std, mean),
                median: median(&col),
                min: col.iter().copied().fold(f64::INFINITY, f64::min),
                max: col.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn csv_file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    const NEW_HEADER: &str = "Src IP,Dst IP,Dst Port,Flow Duration,Total Fwd Packet,Total Bwd packets,Total Length of Fwd Packet,Total Length of Bwd Packet,Flow Bytes/s,Flow Packets/s,Label\n";
    const OLD_HEADER: &str = " Source IP, Destination IP, Destination Port, Flow Duration, Total Fwd Packets, Total Backward Packets,Total Length of Fwd Packets, Total Length of Bwd Packets,Flow Bytes/s, Flow Packets/s, Label\n";

    fn row(src: &str, dst: &str, port: u16, label: &str) -> String {
        format!("{src},{dst},{port},1000,2,1,100,50,150000,3000,{label}\n")
    }

    fn conc(ip: &str, ip_share: f64, port: u16, port_share: f64) -> Concentration {
        Concentration {
            top_dst_ip: ip.into(),
            top_dst_ip_share: ip_share,
            top_dst_public: ip.parse::<IpAddr>().is_ok_and(is_public),
            top_dst_port: port,
            top_dst_port_share: port_share,
        }
    }

    #[test]
    fn z_score_and_std_guard() {
        assert_eq!(z_score(13.0, 10.0, 1.5), 2.0);
        assert_eq!(
            mean_std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]),
            (5.0, 2.0)
        );
        // std 0 → 5 % of the mean; std 0 and mean 0 → absolute floor.
        assert_eq!(guarded_std(0.0, 20.0), 1.0);
        assert_eq!(guarded_std(0.0, 0.0), ABS_STD_FLOOR);
        assert_eq!(guarded_std(3.0, 20.0), 3.0);
        assert_eq!(z_score(22.0, 20.0, guarded_std(0.0, 20.0)), 2.0);
    }

    #[test]
    fn severity_buckets() {
        assert_eq!(Severity::of(0.0), Severity::Low);
        assert_eq!(Severity::of(2.999), Severity::Low);
        assert_eq!(Severity::of(3.0), Severity::Medium);
        assert_eq!(Severity::of(5.99), Severity::Medium);
        assert_eq!(Severity::of(6.0), Severity::High);
        assert_eq!(Severity::of(9.99), Severity::High);
        assert_eq!(Severity::of(10.0), Severity::Critical);
        assert_eq!(Severity::of(f64::NAN), Severity::Low);
    }

    #[test]
    fn decision_from_votes() {
        assert_eq!(Decision::of(true, true), Decision::Confirmed);
        assert_eq!(Decision::of(true, false), Decision::Suspicious);
        assert_eq!(Decision::of(false, true), Decision::Suspicious);
        assert_eq!(Decision::of(false, false), Decision::Normal);
    }

    #[test]
    fn pattern_rules() {
        let zero = [0.0; N_FEATURES];
        let spread = conc("192.168.10.3", 0.2, 53, 0.3);
        // Vertical scan: 95 ports on one target, short flows.
        let f = [500.0, 200.0, 1.0, 1.0, 95.0, 20.0, 6e4, 2.0];
        let mut z = zero;
        z[F_PORTS] = 49.0;
        z[F_DST] = -9.0;
        assert_eq!(
            classify(&f, &z, &conc("192.168.10.50", 1.0, 80, 0.02)),
            (Pattern::PortScan, Confidence::High)
        );
        // Same fan-out with long flows: still a scan, medium confidence.
        let mut f2 = f;
        f2[F_PPF] = 20.0;
        assert_eq!(classify(&f2, &z, &spread).0, Pattern::PortScan);
        assert_eq!(classify(&f2, &z, &spread).1, Confidence::Medium);
        // SSH brute force: one source, one internal target on port 22.
        let f = [4.7e5, 5500.0, 1.0, 1.0, 1.0, 400.0, 4.6, 55.0];
        let mut z = zero;
        z[F_SRC] = -18.0;
        z[F_DST] = -9.0;
        z[F_PORTS] = -4.0;
        let ssh = conc("192.168.10.50", 1.0, 22, 1.0);
        assert_eq!(
            classify(&f, &z, &ssh),
            (Pattern::BruteForce, Confidence::High)
        );
        // Same shape on port 80 to an internal server: DDoS (inbound, no surge → Medium).
        let web = conc("192.168.10.50", 1.0, 80, 1.0);
        assert_eq!(classify(&f, &z, &web), (Pattern::DDoS, Confidence::Medium));
        // With a packet surge: High.
        let mut zs = z;
        zs[F_PACKETS] = 4.0;
        assert_eq!(classify(&f, &zs, &web), (Pattern::DDoS, Confidence::High));
        // Several internal hosts to one public address at a low rate: Botnet.
        let mut fb = f;
        fb[F_SRC] = 5.0;
        let mut zb = z;
        zb[F_PPS] = -1.3;
        let c2 = conc("205.174.165.73", 1.0, 8080, 1.0);
        assert_eq!(classify(&fb, &zb, &c2), (Pattern::Botnet, Confidence::High));
        // Concentrated on a public address but flooding: DDoS.
        zb[F_PPS] = 5.0;
        assert_eq!(classify(&fb, &zb, &c2), (Pattern::DDoS, Confidence::High));
        // Infiltration: diversity drop with a rate spike, not concentrated.
        let mut z = zero;
        z[F_DST] = -3.0;
        z[F_PPS] = 4.0;
        assert_eq!(classify(&[0.0; 8], &z, &spread).0, Pattern::Infiltration);
        // Web attack: many sources with elevated rate.
        let mut z = zero;
        z[F_SRC] = 5.0;
        z[F_PPS] = 2.5;
        let f = [1e6, 2000.0, 60.0, 40.0, 6.0, 6e5, 9e3, 19.0];
        assert_eq!(classify(&f, &z, &spread).0, Pattern::WebAttack);
        // Nothing matches.
        assert_eq!(
            classify(&f, &zero, &spread),
            (Pattern::Unknown, Confidence::Low)
        );
        // Horizontal scan: many targets, few sources, short flows.
        let mut z = zero;
        z[F_DST] = 12.0;
        z[F_SRC] = -5.0;
        let f = [500.0, 200.0, 1.0, 95.0, 1.0, 20.0, 6e4, 2.0];
        assert_eq!(classify(&f, &z, &spread).0, Pattern::PortScan);
    }

    #[test]
    fn public_addresses() {
        let p = |s: &str| is_public(s.parse().unwrap());
        assert!(p("205.174.165.73"));
        assert!(p("8.8.8.8"));
        assert!(!p("192.168.10.50"));
        assert!(!p("172.16.0.1"));
        assert!(!p("10.1.2.3"));
        assert!(!p("100.64.0.1"));
        assert!(!p("fe80::1"));
        assert!(p("2001:4860::8888"));
    }

    #[test]
    fn both_header_generations_map_to_the_same_flows() {
        let body =
            row("10.0.0.1", "10.0.0.2", 443, "BENIGN") + &row("10.0.0.3", "8.8.8.8", 53, "DDoS");
        for header in [NEW_HEADER, OLD_HEADER] {
            let f = csv_file(&format!("{header}{body}"));
            let mut r = WindowReader::open(f.path(), 2).unwrap();
            assert!(r.has_labels());
            let w = r.next_window().unwrap();
            assert_eq!(w.flows, 2);
            assert_eq!(
                w.features,
                [300.0, 6.0, 2.0, 2.0, 2.0, 150000.0, 3000.0, 3.0]
            );
            assert_eq!(w.attack_ratio, Some(0.5));
            assert!(r.next_window().is_none());
        }
    }

    #[test]
    fn invalid_rows_are_counted_by_reason() {
        let mut text = String::from(NEW_HEADER);
        text += &row("10.0.0.1", "10.0.0.2", 80, "BENIGN");
        text += "10.0.0.1,10.0.0.2,80,1000,2,1,100,50,NaN,3000,BENIGN\n";
        text += "10.0.0.1,10.0.0.2,80,1000,2,1,100,50,Infinity,3000,BENIGN\n";
        text += "10.0.0.1,10.0.0.2,80,1000,2,1,100,50,150,inf,BENIGN\n";
        text += "10.0.0.1,10.0.0.2,80,-5,2,1,100,50,150,3,BENIGN\n";
        text += "10.0.0.1,10.0.0.2,80,1000,2,1,100,50,-150,3,BENIGN\n";
        text += "10.0.0.1,10.0.0.2,80,1000,two,1,100,50,150,3,BENIGN\n";
        text += "10.0.0.1,10.0.0.2,80,1000,,1,100,50,150,3,BENIGN\n";
        text += ",10.0.0.2,80,1000,2,1,100,50,150,3,BENIGN\n";
        text += "10.0.0.1,10.0.0.2,70000,1000,2,1,100,50,150,3,BENIGN\n";
        text += "10.0.0.1,10.0.0.2,80\n";
        text += &row("10.0.0.1", "10.0.0.4", 80, "BENIGN");
        let f = csv_file(&text);
        let mut r = WindowReader::open(f.path(), 10).unwrap();
        // 2 valid flows < half a window of 10: dropped as a short tail.
        assert!(r.next_window().is_none());
        let c = r.counts();
        assert_eq!(c.rows, 12);
        assert_eq!(c.valid, 2);
        assert_eq!(c.tail_dropped, 2);
        assert_eq!(c.invalid_for(InvalidReason::NaN), 1);
        assert_eq!(c.invalid_for(InvalidReason::Infinite), 2);
        assert_eq!(c.invalid_for(InvalidReason::NegativeDuration), 1);
        assert_eq!(c.invalid_for(InvalidReason::NegativeValue), 1);
        assert_eq!(c.invalid_for(InvalidReason::Unparsable), 2);
        assert_eq!(c.invalid_for(InvalidReason::MissingAddress), 1);
        assert_eq!(c.invalid_for(InvalidReason::BadPort), 1);
        assert_eq!(c.invalid_for(InvalidReason::Malformed), 1);
        assert_eq!(c.invalid_total(), 10);
        assert!(
            c.invalid_summary().contains("2 Infinity"),
            "{}",
            c.invalid_summary()
        );
    }

    #[test]
    fn windows_and_partial_tail_rule() {
        let mut text = String::from(NEW_HEADER);
        for i in 0..13 {
            text += &row(
                &format!("10.0.0.{i}"),
                "10.0.1.1",
                80 + (i % 2) as u16,
                "BENIGN",
            );
        }
        // 13 flows, window 4: three full windows, a tail of 1 < 2 is dropped.
        let f = csv_file(&text);
        let mut r = WindowReader::open(f.path(), 4).unwrap();
        let ws: Vec<_> = std::iter::from_fn(|| r.next_window()).collect();
        assert_eq!(ws.len(), 3);
        assert_eq!(ws[2].first_flow, 8);
        assert_eq!(r.counts().tail_dropped, 1);
        // Window 5: two full windows and a tail of 3 ≥ 2.5 kept, totals scaled ×5/3.
        let mut r = WindowReader::open(f.path(), 5).unwrap();
        let ws: Vec<_> = std::iter::from_fn(|| r.next_window()).collect();
        assert_eq!(ws.len(), 3);
        assert_eq!(ws[2].flows, 3);
        assert!((ws[2].features[F_BYTES] - 750.0).abs() < 1e-9);
        assert_eq!(ws[2].features[F_SRC], 3.0);
        assert_eq!(ws[2].features[F_PPF], 3.0);
        assert_eq!(ws[0].concentration.top_dst_ip, "10.0.1.1");
        assert_eq!(ws[0].concentration.top_dst_ip_share, 1.0);
        assert_eq!(ws[0].concentration.top_dst_port, 80);
        assert!((ws[0].concentration.top_dst_port_share - 0.6).abs() < 1e-12);
    }

    #[test]
    fn missing_columns_refuse_the_file_naming_them() {
        let f = csv_file("Src IP,Dst IP,Label\n1.2.3.4,5.6.7.8,BENIGN\n");
        let e = WindowReader::open(f.path(), 10).unwrap_err().to_string();
        assert!(e.contains("Destination Port"), "{e}");
        assert!(e.contains("Flow Packets/s"), "{e}");
        assert!(e.contains(&f.path().display().to_string()), "{e}");
    }

    fn synthetic_windows(n: usize) -> Vec<FlowWindow> {
        (0..n)
            .map(|i| {
                let k = (i % 5) as f64;
                FlowWindow {
                    file: "b.csv".into(),
                    index: i,
                    first_flow: (i * 100) as u64,
                    flows: 100,
                    features: [
                        1e6 + 1e5 * k,
                        1900.0 + 50.0 * k,
                        13.0 + (i % 3) as f64,
                        40.0 + k,
                        7.0 + (i % 2) as f64,
                        6e5 + 1e4 * k,
                        9e3 + 100.0 * k,
                        19.0 + 0.5 * k,
                    ],
                    attack_ratio: Some(0.0),
                    concentration: conc("192.168.10.3", 0.3, 53, 0.4),
                }
            })
            .collect()
    }

    #[test]
    fn baseline_scores_round_trips_and_rejects_foreign_files() {
        let ws = synthetic_windows(30);
        let opts = BaselineOptions {
            window: 100,
            trees: 50,
            seed: 7,
        };
        let b = Baseline::train(&ws, 3000, vec!["b.csv".into()], &opts).unwrap();
        assert_eq!(b.windows(), 30);
        assert!(b.benign_ceiling() > 0.0);
        // A baseline window is quiet; a scan-like window is CONFIRMED.
        let quiet = b.score(ws[3].clone(), ZVote::Calibrated);
        assert_eq!(quiet.decision, Decision::Normal, "{quiet:?}");
        let mut scan = ws[0].clone();
        scan.features = [500.0, 200.0, 1.0, 1.0, 95.0, 20.0, 6e4, 2.0];
        scan.concentration = conc("192.168.10.50", 1.0, 80, 0.02);
        let v = b.score(scan.clone(), ZVote::Calibrated);
        assert_eq!(v.decision, Decision::Confirmed, "{v:?}");
        assert_eq!(v.severity, Severity::Critical);
        assert_eq!(v.pattern, Pattern::PortScan);
        assert_eq!(v.top.len(), 3);
        assert!(v.top[0].z.abs() >= v.top[1].z.abs() && v.top[1].z.abs() >= v.top[2].z.abs());
        let sum: f64 = v.z.iter().map(|z| z.abs()).sum();
        assert!((sum - v.anomaly_index).abs() < 1e-9);

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.json");
        b.save(&p).unwrap();
        let back = Baseline::load(&p).unwrap();
        assert_eq!(back.features(), b.features());
        let v2 = back.score(scan, ZVote::Calibrated);
        assert_eq!(v2.forest_score, v.forest_score);

        // Old JSON baseline, foreign file, other version, flipped forest byte,
        // binary, truncated: each a clear error, never a panic.
        let good = std::fs::read(&p).unwrap();
        let mut other_version = good.clone();
        other_version[8..12].copy_from_slice(&99u32.to_le_bytes());
        let mut flipped = good.clone();
        let mid = good.len() / 2;
        flipped[mid] ^= 0x40;
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (
                b"{\"kind\": \"sentineldns-flow-baseline\", \"version\": 1}".to_vec(),
                "format version 1 is not supported",
            ),
            (
                b"{\"kind\": \"something-else\"}".to_vec(),
                "not a sentineldns flow baseline",
            ),
            (other_version, "version 99"),
            (flipped, "checksum mismatch"),
            (
                b"\x7fELF\0\0\0\0\0\0".to_vec(),
                "not a sentineldns flow baseline",
            ),
            (good[..good.len() / 2].to_vec(), "truncated"),
            (b"SDN".to_vec(), "not a sentineldns flow baseline"),
        ];
        for (content, want) in cases {
            std::fs::write(&p, content).unwrap();
            let e = Baseline::load(&p).unwrap_err().to_string();
            assert!(e.contains(want), "{want}: {e}");
        }
    }

    #[test]
    fn too_few_windows_is_an_error() {
        let e = Baseline::train(
            &synthetic_windows(2),
            200,
            vec![],
            &BaselineOptions::default(),
        )
        .unwrap_err();
        assert!(matches!(e, CicidsError::TooFewWindows { found: 2, .. }));
    }
}
