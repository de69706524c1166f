//! Reading CICFlowMeter rows: the columns of either header generation,
//! parsing one row into a [`Flow`], counting invalid rows by reason.

#[allow(unused_imports)]
use super::*;

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

    pub(super) fn count(&mut self, reason: InvalidReason) {
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

pub(super) fn number(s: &str) -> Result<f64, InvalidReason> {
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
