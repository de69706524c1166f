//! UNSW-NB15 flow records: the columns the classifier reads, row parsing with
//! counted skips, categorical vocabularies and the seeded stratified split.
//!
//! Features are the 36 numeric columns of the published training/testing sets
//! except `id` and the random TCP initial sequence numbers `stcpb`/`dtcpb`,
//! followed by the three categorical columns `proto`, `service`, `state`
//! encoded through a [`Vocabulary`] (code = rank by training frequency, one
//! extra "other" code for categories rare or unseen in training). `attack_cat`
//! is never read: the target is the binary `label` (1 = attack).
//!
//! A row is *skipped and counted* (never a panic, never a guess) when the CSV
//! layer cannot read it, a numeric field is empty, not a number or not finite,
//! or (when a label is required) the label is not `0`/`1`. Missing columns are
//! an error listing all of them ([`crate::csvin::CsvInput::require`]).

use super::csvin::{Column, CsvError, CsvInput};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Numeric feature columns, in model order (aliases: spellings of the raw
/// UNSW-NB15_1..4 CSVs).
pub const NUMERIC: [Column; 36] = [
    Column::new("dur", &[]),
    Column::new("spkts", &[]),
    Column::new("dpkts", &[]),
    Column::new("sbytes", &[]),
    Column::new("dbytes", &[]),
    Column::new("rate", &[]),
    Column::new("sttl", &[]),
    Column::new("dttl", &[]),
    Column::new("sload", &[]),
    Column::new("dload", &[]),
    Column::new("sloss", &[]),
    Column::new("dloss", &[]),
    Column::new("sinpkt", &["sintpkt"]),
    Column::new("dinpkt", &["dintpkt"]),
    Column::new("sjit", &[]),
    Column::new("djit", &[]),
    Column::new("swin", &[]),
    Column::new("dwin", &[]),
    Column::new("tcprtt", &[]),
    Column::new("synack", &[]),
    Column::new("ackdat", &[]),
    Column::new("smean", &["smeansz"]),
    Column::new("dmean", &["dmeansz"]),
    Column::new("trans_depth", &[]),
    Column::new("response_body_len", &["res_bdy_len"]),
    Column::new("ct_srv_src", &[]),
    Column::new("ct_state_ttl", &[]),
    Column::new("ct_dst_ltm", &[]),
    Column::new("ct_src_dport_ltm", &[]),
    Column::new("ct_dst_sport_ltm", &[]),
    Column::new("ct_dst_src_ltm", &[]),
    Column::new("is_ftp_login", &[]),
    Column::new("ct_ftp_cmd", &[]),
    Column::new("ct_flw_http_mthd", &[]),
    Column::new("ct_src_ltm", &[]),
    Column::new("ct_srv_dst", &[]),
];

/// Categorical feature columns, in model order (after the numeric ones).
pub const CATEGORICAL: [Column; 3] = [
    Column::new("proto", &[]),
    Column::new("service", &[]),
    Column::new("state", &[]),
];

/// The binary target (1 = attack).
pub const LABEL: Column = Column::new("label", &[]);

/// Categories seen fewer times than this in training map to "other".
pub const VOCAB_MIN_COUNT: u64 = 2;

/// Model feature names, in order: [`NUMERIC`] then [`CATEGORICAL`].
pub fn feature_names() -> Vec<&'static str> {
    NUMERIC
        .iter()
        .chain(CATEGORICAL.iter())
        .map(|c| c.name)
        .collect()
}

/// One parsed record, categorical values still as text.
///
/// `line` counts records with the header as line 1, which is the file's line
/// number unless a quoted field spans several lines.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRow {
    /// 1-based line in its file.
    pub line: u64,
    /// Values of [`NUMERIC`], in order.
    pub numeric: Vec<f64>,
    /// Values of [`CATEGORICAL`], in order (trimmed, lower-case).
    pub categorical: [String; 3],
    /// Label when the file has one (and it was required or parsed).
    pub label: Option<bool>,
}

/// Why a row was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// 1-based line.
    pub line: u64,
    /// What was wrong.
    pub reason: String,
}

/// Rows read from one file plus what was skipped.
#[derive(Debug, Clone, Default)]
pub struct FlowFile {
    /// Usable rows, in file order.
    pub rows: Vec<FlowRow>,
    /// Skipped rows.
    pub skipped: Vec<Skip>,
}

/// Reads UNSW-NB15 records from `path`. With `require_label`, a missing
/// `label` column is an error and rows with a bad label are skipped; without,
/// the label is read when the column exists (and left `None` when unreadable).
pub fn read_flows(path: &Path, require_label: bool) -> Result<FlowFile, CsvError> {
    let mut input = CsvInput::open(path)?;
    let mut cols: Vec<Column> = NUMERIC.iter().chain(CATEGORICAL.iter()).copied().collect();
    if require_label {
        cols.push(LABEL);
    }
    let idx = input.require(&cols)?;
    let label_idx = if require_label {
        Some(idx[idx.len() - 1])
    } else {
        input.find(&LABEL)
    };
    let (num_idx, rest) = idx.split_at(NUMERIC.len());
    let cat_idx = &rest[..CATEGORICAL.len()];

    let mut out = FlowFile::default();
    let mut rec = csv::StringRecord::new();
    while let Some(line) = input.next_row(&mut rec, |line, reason| {
        out.skipped.push(Skip { line, reason })
    }) {
        match parse_row(&rec, num_idx, cat_idx, label_idx, require_label) {
            Ok((numeric, categorical, label)) => out.rows.push(FlowRow {
                line,
                numeric,
                categorical,
                label,
            }),
            Err(reason) => out.skipped.push(Skip { line, reason }),
        }
    }
    Ok(out)
}

type Parsed = (Vec<f64>, [String; 3], Option<bool>);

fn parse_row(
    rec: &csv::StringRecord,
    num_idx: &[usize],
    cat_idx: &[usize],
    label_idx: Option<usize>,
    require_label: bool,
) -> Result<Parsed, String> {
    let mut numeric = Vec::with_capacity(num_idx.len());
    for (col, &i) in NUMERIC.iter().zip(num_idx) {
        let raw = rec.get(i).unwrap_or("").trim();
        match raw.parse::<f64>() {
            Ok(v) if v.is_finite() => numeric.push(v),
            _ => return Err(format!("{}: {raw:?} is not a finite number", col.name)),
        }
    }
    let cat = |k: usize| {
        let v = rec
            .get(cat_idx[k])
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if v.is_empty() {
            "-".to_string()
        } else {
            v
        }
    };
    let categorical = [cat(0), cat(1), cat(2)];
    let label = match label_idx.map(|i| rec.get(i).unwrap_or("").trim()) {
        None => None,
        Some("0") => Some(false),
        Some("1") => Some(true),
        Some(other) if require_label => {
            return Err(format!("label: {other:?} is not 0 or 1"));
        }
        Some(_) => None,
    };
    Ok((numeric, categorical, label))
}

/// Category → code map of one categorical column. Code `i` is the `i`-th most
/// frequent training category (ties by name); everything else is
/// [`Vocabulary::other`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vocabulary {
    /// Known categories, code order.
    pub values: Vec<String>,
}

impl Vocabulary {
    /// Builds a vocabulary from training values; categories seen fewer than
    /// `min_count` times are left to "other".
    pub fn fit<'a>(values: impl IntoIterator<Item = &'a str>, min_count: u64) -> Self {
        let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
        for v in values {
            *counts.entry(v).or_insert(0) += 1;
        }
        let mut ranked: Vec<(&str, u64)> = counts
            .into_iter()
            .filter(|(_, n)| *n >= min_count)
            .collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        Self {
            values: ranked.into_iter().map(|(k, _)| k.to_owned()).collect(),
        }
    }

    /// The "other" code (one past the last known category).
    pub fn other(&self) -> usize {
        self.values.len()
    }

    /// Code of `value` ("other" when unknown).
    pub fn code(&self, value: &str) -> usize {
        self.values
            .iter()
            .position(|v| v == value)
            .unwrap_or(self.values.len())
    }
}

/// Feature vector of `row`: numeric values then category codes.
pub fn encode(row: &FlowRow, vocabs: &[Vocabulary]) -> Vec<f64> {
    let mut x = Vec::with_capacity(row.numeric.len() + row.categorical.len());
    x.extend_from_slice(&row.numeric);
    for (v, vocab) in row.categorical.iter().zip(vocabs) {
        x.push(vocab.code(v) as f64);
    }
    x
}

/// Splits row indices `0..labels.len()` into (train, test), stratified by label:
/// each class is shuffled with ChaCha8 seeded by `seed` and `round(fraction ·
/// n_class)` of it goes to test (at least one per class with ≥ 2 rows when
/// `fraction > 0`). Both lists come back sorted.
pub fn stratified_split(labels: &[bool], fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for class in [false, true] {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        idx.shuffle(&mut rng);
        let mut k = (fraction * idx.len() as f64).round() as usize;
        if fraction > 0.0 && idx.len() >= 2 {
            k = k.clamp(1, idx.len() - 1);
        }
        let k = k.min(idx.len());
        test.extend_from_slice(&idx[..k]);
        train.extend_from_slice(&idx[k..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn header() -> String {
        let mut h: Vec<&str> = vec!["id"];
        h.extend(feature_names());
        h.extend(["attack_cat", "label"]);
        h.join(",")
    }

    fn row(v: &str, proto: &str, label: &str) -> String {
        let mut f = vec!["1".to_string()];
        f.extend(std::iter::repeat_n(v.to_string(), NUMERIC.len()));
        f.extend([proto.to_string(), "-".into(), "INT".into()]);
        f.extend(["Normal".to_string(), label.to_string()]);
        f.join(",")
    }

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    #[test]
    fn reads_rows_and_counts_garbage() {
        let text = format!(
            "\u{feff}{}\r\n{}\r\n{}\r\n{}\r\n{}\r\n1,2\r\n{}\r\n",
            header(),
            row("0.5", "TCP", "1"),
            row("abc", "udp", "0"),
            row("inf", "udp", "0"),
            row("2", "udp", "yes"),
            row("3", "\"udp\"", "0"),
        );
        let f = file(&text);
        let got = read_flows(f.path(), true).unwrap();
        assert_eq!(got.rows.len(), 2);
        assert_eq!(got.rows[0].line, 2);
        assert_eq!(got.rows[0].categorical[0], "tcp");
        assert_eq!(got.rows[0].label, Some(true));
        assert_eq!(got.rows[1].numeric[0], 3.0);
        assert_eq!(got.rows[1].categorical[0], "udp");
        let lines: Vec<u64> = got.skipped.iter().map(|s| s.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6]);
        assert!(got.skipped[0].reason.contains("dur: \"abc\""));
        assert!(got.skipped[2].reason.contains("label"));
        // without a required label, a bad label is just unknown
        let got = read_flows(f.path(), false).unwrap();
        assert_eq!(got.rows.len(), 3);
        assert_eq!(got.rows[1].label, None);
    }

    #[test]
    fn missing_columns_are_all_named() {
        let f = file("dur,proto,foo\n1,tcp,2\n");
        let e = read_flows(f.path(), true).unwrap_err().to_string();
        assert!(
            e.contains("spkts") && e.contains("state") && e.contains("label"),
            "{e}"
        );
        assert!(!e.contains("dur,"), "{e}");
    }

    #[test]
    fn vocabulary_ranks_and_maps_unknowns_to_other() {
        let v = Vocabulary::fit(["tcp", "udp", "tcp", "arp", "udp", "tcp", "gre"], 2);
        assert_eq!(v.values, vec!["tcp", "udp"]);
        assert_eq!(v.code("tcp"), 0);
        assert_eq!(v.code("udp"), 1);
        assert_eq!(v.code("arp"), 2);
        assert_eq!(v.code("never-seen"), v.other());
    }

    #[test]
    fn split_is_stratified_seeded_and_complete() {
        let labels: Vec<bool> = (0..1000).map(|i| i % 10 == 0).collect();
        let (tr, te) = stratified_split(&labels, 0.3, 7);
        assert_eq!(tr.len() + te.len(), 1000);
        assert_eq!(te.iter().filter(|&&i| labels[i]).count(), 30);
        assert_eq!(te.len(), 300);
        assert_eq!((tr.clone(), te.clone()), stratified_split(&labels, 0.3, 7));
        assert_ne!(te, stratified_split(&labels, 0.3, 8).1);
        let mut all = [tr, te].concat();
        all.sort_unstable();
        assert!(all.iter().enumerate().all(|(i, &v)| i == v));
    }
}
