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
/// Flow duration column: microseconds in every CICFlowMeter dialect, seconds
/// in UNSW-NB15 (`dur`); [`Layout`] knows which.
pub const DURATION: Column = Column::new("Flow Duration", &["duration", "flow_duration", "dur"]);
/// Forward packet count column.
pub const FWD_PACKETS: Column = Column::new(
    "Total Fwd Packets",
    &[
        "Total Fwd Packet",
        "Tot Fwd Pkts",
        "tot_fwd_pkts",
        "fwd_packets",
        "spkts",
    ],
);
/// Backward packet count column.
pub const BWD_PACKETS: Column = Column::new(
    "Total Backward Packets",
    &[
        "Total Bwd packets",
        "Total Bwd Packets",
        "Tot Bwd Pkts",
        "tot_bwd_pkts",
        "bwd_packets",
        "dpkts",
    ],
);
/// Forward bytes column (CICFlowMeter: payload bytes; UNSW-NB15 `sbytes`:
/// bytes on the wire, headers included — not convertible, named in the dialect).
pub const FWD_BYTES: Column = Column::new(
    "Total Length of Fwd Packets",
    &[
        "Total Length of Fwd Packet",
        "TotLen Fwd Pkts",
        "totlen_fwd_pkts",
        "fwd_bytes",
        "sbytes",
    ],
);
/// Backward bytes column (see [`FWD_BYTES`]).
pub const BWD_BYTES: Column = Column::new(
    "Total Length of Bwd Packets",
    &[
        "Total Length of Bwd Packet",
        "TotLen Bwd Pkts",
        "totlen_bwd_pkts",
        "bwd_bytes",
        "dbytes",
    ],
);
/// Flow bytes per second column (absent from UNSW-NB15: derived there).
pub const FLOW_BPS: Column = Column::new(
    "Flow Bytes/s",
    &["Flow Byts/s", "flow_byts_s", "flow_bytes_per_s"],
);
/// Flow packets per second column (absent from UNSW-NB15: derived there).
pub const FLOW_PPS: Column = Column::new(
    "Flow Packets/s",
    &["Flow Pkts/s", "flow_pkts_s", "flow_packets_per_s"],
);
/// Ground-truth label column (optional).
pub const LABEL: Column = Column::new("Label", &[]);

/// Columns every input must have, in the order [`parse_flow`] reads them.
/// UNSW-NB15 has no rate columns: it needs only the first eight
/// ([`Layout::resolve`] derives the rates from bytes, packets and duration).
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

/// The flow exporter (and release) a file comes from, recognised by its
/// header spellings. Named in every file line and summary so a reader knows
/// how the columns were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dialect {
    /// CIC-IDS2017 as published by UNB CIC (`" Source IP"`, `"Flow Bytes/s"`,
    /// `"Total Fwd Packets"`; the Java CICFlowMeter-V3) and its re-labelled
    /// "improved" release (`"Src IP"`, `"Flow Bytes/s"`, `"Total Fwd Packet"`).
    Cicids2017,
    /// The Java CICFlowMeter-V4 (`"Src IP"`, `"Flow Byts/s"`, `"Tot Fwd Pkts"`,
    /// `"TotLen Fwd Pkts"`), as in CSE-CIC-IDS2018.
    CicflowmeterV4,
    /// The PyPI `cicflowmeter` (`src_ip`, `flow_duration`, `flow_byts_s`,
    /// `tot_fwd_pkts`, `totlen_fwd_pkts`).
    CicflowmeterPython,
    /// UNSW-NB15 (Argus and Bro features: `srcip`, `dsport`, `dur` in seconds,
    /// `spkts`, `sbytes`; no rate columns), with or without a header row.
    UnswNb15,
}

impl Dialect {
    /// Kebab-case identifier (JSON, CSV).
    pub fn id(self) -> &'static str {
        match self {
            Dialect::Cicids2017 => "cicids2017",
            Dialect::CicflowmeterV4 => "cicflowmeter-v4",
            Dialect::CicflowmeterPython => "cicflowmeter-python",
            Dialect::UnswNb15 => "unsw-nb15",
        }
    }

    /// Human name with how the units were read.
    pub fn describe(self) -> &'static str {
        match self {
            Dialect::Cicids2017 => "CIC-IDS2017 (CICFlowMeter-V3; duration in µs)",
            Dialect::CicflowmeterV4 => "CICFlowMeter-V4, Java (duration in µs)",
            Dialect::CicflowmeterPython => "cicflowmeter, PyPI (duration in µs)",
            Dialect::UnswNb15 => {
                "UNSW-NB15 (duration in s; rates derived from bytes and packets over duration)"
            }
        }
    }

    /// Recognise the dialect of `input` from its header spellings.
    pub fn detect(input: &CsvInput) -> Dialect {
        let raw = |name: &str| input.headers().iter().any(|h| h.trim() == name);
        let norm = |name: &str| {
            let n = normalize(name);
            input.headers().iter().any(|h| normalize(h) == n)
        };
        if input.is_headerless() || (norm("sbytes") && norm("dur") && norm("srcip")) {
            Dialect::UnswNb15
        } else if raw("flow_byts_s") || raw("src_ip") || raw("tot_fwd_pkts") {
            Dialect::CicflowmeterPython
        } else if norm("Flow Byts/s") || norm("Tot Fwd Pkts") {
            Dialect::CicflowmeterV4
        } else {
            Dialect::Cicids2017
        }
    }

    /// Factor from the file's duration unit to seconds.
    pub fn duration_to_secs(self) -> f64 {
        match self {
            Dialect::UnswNb15 => 1.0,
            _ => 1e-6,
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Where a file's columns are and how to read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The exporter dialect.
    pub dialect: Dialect,
    /// Positions of [`COLUMNS`]; the two rate columns are `None` when the
    /// dialect derives them (UNSW-NB15).
    idx: [Option<usize>; 10],
    /// Position of the label column, if any.
    label: Option<usize>,
}

impl Layout {
    /// Recognise the dialect and resolve its columns: one error naming the
    /// file and every missing column.
    pub fn resolve(input: &CsvInput) -> Result<Layout, CsvError> {
        let dialect = Dialect::detect(input);
        let needed: &[Column] = match dialect {
            Dialect::UnswNb15 => &COLUMNS[..8],
            _ => &COLUMNS,
        };
        let found = input.require(needed)?;
        let mut idx = [None; 10];
        for (slot, i) in idx.iter_mut().zip(found) {
            *slot = Some(i);
        }
        Ok(Layout {
            dialect,
            idx,
            label: input.find(&LABEL),
        })
    }

    /// A layout of the CICFlowMeter columns at `idx` (tests, fuzzing).
    pub fn cicflowmeter(idx: &[usize], label: Option<usize>) -> Layout {
        let mut slots = [None; 10];
        for (slot, i) in slots.iter_mut().zip(idx) {
            *slot = Some(*i);
        }
        Layout {
            dialect: Dialect::Cicids2017,
            idx: slots,
            label,
        }
    }

    /// Whether the file has a label column.
    pub fn has_label(&self) -> bool {
        self.label.is_some()
    }
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
    /// Flow duration in seconds, whatever the file's unit.
    pub duration_s: f64,
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

/// Whether a label value names benign traffic: `BENIGN` (CICFlowMeter),
/// `0` or `Normal` (UNSW-NB15's `label` and `attack_cat`).
fn benign_label(l: &str) -> bool {
    l.eq_ignore_ascii_case("BENIGN") || l == "0" || l.eq_ignore_ascii_case("normal")
}

/// Turn one CSV row into a [`Flow`], normalising units: the duration to
/// seconds, rates (bytes and packets per second) read or, where the dialect
/// has none, derived as totals over the duration (0 for a zero duration).
pub fn parse_flow(rec: &csv::StringRecord, layout: &Layout) -> Result<Flow, InvalidReason> {
    let field = |i: usize| layout.idx[i].and_then(|j| rec.get(j)).unwrap_or("");
    let src = field(0).trim();
    let dst = field(1).trim();
    if src.is_empty() || dst.is_empty() {
        return Err(InvalidReason::MissingAddress);
    }
    // Numbers: port, duration, fwd/bwd packets, fwd/bwd bytes.
    let mut v = [0.0f64; 6];
    for (k, slot) in v.iter_mut().enumerate() {
        *slot = number(field(k + 2))?;
    }
    let [port, duration, fp, bp, fb, bb] = v;
    let duration_s = duration * layout.dialect.duration_to_secs();
    let (bps, pps) = match (layout.idx[8], layout.idx[9]) {
        (Some(_), Some(_)) => (number(field(8))?, number(field(9))?),
        _ if duration_s > 0.0 => ((fb + bb) / duration_s, (fp + bp) / duration_s),
        _ => (0.0, 0.0),
    };
    if duration < 0.0 {
        return Err(InvalidReason::NegativeDuration);
    }
    if [fp, bp, fb, bb, bps, pps].iter().any(|x| *x < 0.0) {
        return Err(InvalidReason::NegativeValue);
    }
    if !(0.0..=65535.0).contains(&port) || port.fract() != 0.0 {
        return Err(InvalidReason::BadPort);
    }
    let attack = layout
        .label
        .and_then(|j| rec.get(j))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| !benign_label(l));
    Ok(Flow {
        src: src.to_owned(),
        dst: dst.to_owned(),
        dst_port: port as u16,
        duration_s,
        packets: fp + bp,
        bytes: fb + bb,
        bytes_per_sec: bps,
        packets_per_sec: pps,
        attack,
    })
}
