//! The persisted model bundle: what `sentineldns train` writes and replay loads.
//!
//! Owns training a complete model from a feature matrix ([`Bundle::train`]),
//! scoring raw feature vectors (transform → forest → calibration), labelling,
//! threshold calibration, and the on-disk format with its defensive loader.
//! The forest algorithm is in [`crate::forest`], the feature transform in
//! [`crate::transform`], the score calibration formula in
//! [`crate::calibration`].
//!
//! # File layout (format version 1)
//!
//! | offset | size | content |
//! |---|---|---|
//! | 0 | 8 | magic `b"SDNSMDL\0"` ([`MAGIC`]) |
//! | 8 | 4 | format version, u32 little-endian ([`FORMAT_VERSION`] = 1) |
//! | 12 | 8 | payload length `L`, u64 little-endian |
//! | 20 | `L` | payload: the [`Bundle`] encoded with bincode 2 (serde, `config::standard()`: little-endian, variable-length integers) |
//! | 20 + `L` | 8 | FNV-1a 64 ([`crate::checksum`]) of bytes `0 .. 20 + L`, u64 little-endian |
//!
//! The file is exactly `28 + L` bytes. Loading ([`Bundle::from_bytes`]) checks, in
//! order and before decoding anything: the magic ([`ModelError::NotABundle`]),
//! the version ([`ModelError::UnsupportedVersion`]), the declared length against
//! [`MAX_PAYLOAD_BYTES`] ([`ModelError::Invalid`]) and against the bytes present
//! ([`ModelError::Truncated`]; more bytes than declared is `Invalid`), then the
//! checksum ([`ModelError::Checksum`]). Only then is the payload decoded, with
//! bincode's decode limit ([`DECODE_LIMIT_BYTES`]) bounding what length prefixes
//! can make it allocate ([`ModelError::Decode`]), and the decoded bundle is
//! structurally validated ([`ModelError::Invalid`]: forest indices, depths, dims,
//! finite numbers, calibration monotone, thresholds ordered) before its feature
//! names are compared with the caller's ([`ModelError::FeatureMismatch`]).
//! Hostile bytes therefore never panic, recurse, or allocate more than a small
//! multiple of their own size.
//!
//! # Scoring
//!
//! `raw_score(x)` applies each feature's [`FeatureTransform`] and scores with the
//! forest; `score(x)` maps that through the [`Calibration`]; `label(score)`
//! compares with [`Thresholds`]. A raw vector shorter than the feature list is
//! padded with the training medians (transformed value 0). None of these
//! allocate: the transformed vector lives in a stack buffer of [`MAX_DIMS`] values.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::checksum::hash_matrix;
use super::container::{write_atomic, Format, ReadError};
use super::forest::{check_matrix, ExtendedIsolationForest, ForestParams, MAX_DIMS};

pub use super::calibration::Calibration;
pub use super::error::ModelError;
pub use super::transform::{FeatureStats, FeatureTransform};

/// Version of the file layout and payload schema this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// First eight bytes of every bundle file.
pub const MAGIC: [u8; 8] = *b"SDNSMDL\0";
pub use super::container::{DECODE_LIMIT_BYTES, HEADER_LEN, TRAILER_LEN};
/// Largest payload accepted (a 200-tree, 23-feature model is ≈ 5–10 MB).
pub const MAX_PAYLOAD_BYTES: u64 = 256 << 20;
/// The bundle's framing ([`crate::container`]).
pub const FORMAT: Format = Format {
    magic: MAGIC,
    version: FORMAT_VERSION,
    max_payload: MAX_PAYLOAD_BYTES,
};
/// Default calibrated threshold for "Unusual".
pub const DEFAULT_UNUSUAL: f64 = 0.45;
/// Default calibrated threshold for "Likely Compromise".
pub const DEFAULT_LIKELY: f64 = 0.75;

/// Verdict for one scored window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Label {
    /// Below the "unusual" threshold.
    #[serde(rename = "Normal")]
    Normal,
    /// At or above "unusual", below "likely".
    #[serde(rename = "Unusual")]
    Unusual,
    /// At or above "likely".
    #[serde(rename = "Likely Compromise")]
    LikelyCompromise,
}

impl Label {
    /// Display name: "Normal", "Unusual", "Likely Compromise".
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Normal => "Normal",
            Label::Unusual => "Unusual",
            Label::LikelyCompromise => "Likely Compromise",
        }
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Calibrated-score thresholds; `0 < unusual < likely ≤ 1`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Scores ≥ this are at least "Unusual".
    pub unusual: f64,
    /// Scores ≥ this are "Likely Compromise".
    pub likely: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            unusual: DEFAULT_UNUSUAL,
            likely: DEFAULT_LIKELY,
        }
    }
}

impl Thresholds {
    /// Check `0 < unusual < likely ≤ 1` (both finite).
    pub fn validate(&self) -> Result<(), ModelError> {
        let (u, l) = (self.unusual, self.likely);
        if u.is_finite() && l.is_finite() && 0.0 < u && u < l && l <= 1.0 {
            Ok(())
        } else {
            Err(ModelError::Invalid(format!(
                "thresholds must satisfy 0 < unusual < likely <= 1, found unusual {u}, likely {l}"
            )))
        }
    }
}

/// A trained model with everything needed to score, explain and audit it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bundle {
    /// [`FORMAT_VERSION`] at the time of writing.
    pub format_version: u32,
    /// Feature names, in input order.
    pub feature_names: Vec<String>,
    /// Per-feature raw → forest-input transform.
    pub transform: Vec<FeatureTransform>,
    /// The fitted forest (on transformed features).
    pub forest: ExtendedIsolationForest,
    /// Per-feature statistics of the raw training values.
    pub stats: Vec<FeatureStats>,
    /// Raw score → calibrated score map.
    pub calibration: Calibration,
    /// Label thresholds on the calibrated score.
    pub thresholds: Thresholds,
    /// Forest hyperparameters as given to `train`.
    pub params: ForestParams,
    /// Seed (same as `params.seed`, kept at top level for reports).
    pub seed: u64,
    /// Number of training rows.
    pub training_rows: u64,
    /// FNV-1a 64 of the raw training matrix (see [`crate::checksum::hash_matrix`]).
    pub training_hash: u64,
    /// `"sentineldns <version>"` of the build that trained it.
    pub created_by: String,
    /// Free-form notes (training summary).
    pub notes: String,
}

impl Bundle {
    /// Trains a bundle: per-feature stats and transforms, the forest on the
    /// transformed rows, and the calibration from the training rows' raw scores.
    /// `log1p[j]` selects log compression for feature `j` (counts, rates, sizes).
    pub fn train(
        feature_names: &[&str],
        rows: &[Vec<f64>],
        params: &ForestParams,
        log1p: &[bool],
    ) -> Result<Bundle, ModelError> {
        let dims = feature_names.len();
        if log1p.len() != dims {
            return Err(ModelError::BadParams(format!(
                "{} log1p flags for {dims} features",
                log1p.len()
            )));
        }
        check_names(feature_names.iter().copied()).map_err(ModelError::BadParams)?;
        let checked = params.check(dims, rows.len())?;
        check_matrix(rows, dims)?;

        let mut column = Vec::with_capacity(rows.len());
        let mut stats = Vec::with_capacity(dims);
        let mut transform = Vec::with_capacity(dims);
        for (j, &log) in log1p.iter().enumerate() {
            column.clear();
            column.extend(rows.iter().map(|r| r[j]));
            stats.push(FeatureStats::from_values(&column));
            transform.push(FeatureTransform::fit(&column, log));
        }
        let input: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| r.iter().zip(&transform).map(|(v, t)| t.apply(*v)).collect())
            .collect();
        let (forest, raw) = ExtendedIsolationForest::fit_with_oob_scores(&checked, &input)?;
        let calibration = Calibration::from_training_scores(&raw, forest.max_isolation_score())?;
        let notes = format!(
            "trained on {} rows x {dims} features; {} trees, sample size {}, extension level {}, max depth {}; robust-z transform clipped at +/-{}",
            rows.len(),
            forest.n_trees(),
            forest.sample_size(),
            forest.extension_level(),
            forest.max_depth(),
            super::transform::Z_CLIP,
        );
        let bundle = Bundle {
            format_version: FORMAT_VERSION,
            feature_names: feature_names.iter().map(|s| s.to_string()).collect(),
            transform,
            forest,
            stats,
            calibration,
            thresholds: Thresholds::default(),
            params: params.clone(),
            seed: params.seed,
            training_rows: rows.len() as u64,
            training_hash: hash_matrix(rows),
            created_by: format!("sentineldns {}", env!("CARGO_PKG_VERSION")),
            notes,
        };
        bundle.validate()?;
        Ok(bundle)
    }

    /// Raw EIF score of a raw feature vector (transform applied). Allocation-free.
    pub fn raw_score(&self, x: &[f64]) -> f64 {
        let mut buf = [0.0f64; MAX_DIMS];
        for (b, (v, t)) in buf.iter_mut().zip(x.iter().zip(&self.transform)) {
            *b = t.apply(*v);
        }
        let dims = self.forest.dims().min(MAX_DIMS);
        self.forest.score(&buf[..dims])
    }

    /// Calibrated score in [0, 1] of a raw feature vector. Allocation-free.
    pub fn score(&self, x: &[f64]) -> f64 {
        self.calibration.apply(self.raw_score(x))
    }

    /// Label of a calibrated score (NaN is "Normal").
    pub fn label(&self, score: f64) -> Label {
        if score >= self.thresholds.likely {
            Label::LikelyCompromise
        } else if score >= self.thresholds.unusual {
            Label::Unusual
        } else {
            Label::Normal
        }
    }

    /// Sets the thresholds from (ideally held-out, benign) `rows`:
    ///
    /// * `unusual` is the smallest threshold that keeps the fraction of `rows`
    ///   scoring ≥ it at or below `target_false_alert_rate`: with `k =
    ///   ⌊target·n⌋` alerts allowed and `s(k+1)` the (k+1)-th highest score, it is
    ///   the midpoint between `s(k+1)` and the next higher distinct score (or the
    ///   next float above `s(k+1)` if there is none);
    /// * `likely = max(0.75, unusual + (1 − unusual)/4)`: the calibration's
    ///   "halfway to maximal isolation" point, kept a quarter of the remaining
    ///   range above `unusual` when the data pushes `unusual` high.
    ///
    /// Returns the new thresholds (also stored in `self`).
    pub fn calibrate_thresholds(
        &mut self,
        rows: &[Vec<f64>],
        target_false_alert_rate: f64,
    ) -> Result<Thresholds, ModelError> {
        let t = target_false_alert_rate;
        if !(t > 0.0 && t < 1.0) {
            return Err(ModelError::BadParams(format!(
                "target false-alert rate {t}; must be strictly between 0 and 1"
            )));
        }
        if rows.is_empty() {
            return Err(ModelError::BadData(
                "no rows to calibrate thresholds on".to_string(),
            ));
        }
        let dims = self.feature_names.len();
        if let Some((r, row)) = rows.iter().enumerate().find(|(_, r)| r.len() != dims) {
            return Err(ModelError::BadData(format!(
                "row {r} has {} values, expected {dims}",
                row.len()
            )));
        }
        let mut s: Vec<f64> = rows.iter().map(|r| self.score(r)).collect();
        s.sort_by(|a, b| b.total_cmp(a));
        let k = ((t * s.len() as f64).floor() as usize).min(s.len() - 1);
        let pivot = s[k];
        let above = s[..k].iter().rev().find(|v| **v > pivot).copied();
        let unusual = match above {
            Some(a) => {
                let mid = pivot + (a - pivot) / 2.0;
                if mid > pivot {
                    mid
                } else {
                    a
                }
            }
            None if pivot < 1.0 => f64::from_bits(pivot.max(0.0).to_bits() + 1),
            None => {
                return Err(ModelError::BadData(format!(
                    "{} of {} rows score 1.0; no threshold can keep the false-alert rate at {t}",
                    k + 1,
                    s.len()
                )))
            }
        };
        let likely = DEFAULT_LIKELY.max(unusual + (1.0 - unusual) / 4.0);
        let th = Thresholds { unusual, likely };
        th.validate()?;
        self.thresholds = th;
        Ok(th)
    }

    /// Robust z of `value` for `feature` against the training data, in the space
    /// the forest sees (after optional log compression), unclipped; for
    /// explanations. 0 for an unknown feature index or NaN.
    pub fn deviation(&self, feature: usize, value: f64) -> f64 {
        self.transform.get(feature).map_or(0.0, |t| t.z(value))
    }

    /// Encodes the bundle in the file layout described in the module docs.
    ///
    /// Encoding cannot fail: every field is a plain struct, enum, number, string
    /// or `Vec` of known length, which bincode's serde encoder always accepts
    /// when writing into a `Vec`.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self.try_to_bytes() {
            Ok(b) => b,
            // Unreachable by the invariant documented above.
            Err(e) => unreachable!("bincode cannot fail to encode a Bundle into a Vec: {e}"),
        }
    }

    /// [`to_bytes`](Self::to_bytes), reporting an encoder failure as an error.
    pub fn try_to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        Ok(FORMAT.encode(self)?)
    }

    /// Decodes and validates a bundle, then checks its features equal
    /// `expected_features` (same names, same order). See the module docs for
    /// the order of checks. Never panics.
    pub fn from_bytes(b: &[u8], expected_features: &[&str]) -> Result<Bundle, ModelError> {
        Self::from_bytes_hashed(b, expected_features).map(|(bundle, _)| bundle)
    }

    /// [`from_bytes`](Self::from_bytes), and the FNV-1a 64 of all of `b`
    /// (the model's identity) without hashing the file a second time.
    pub fn from_bytes_hashed(
        b: &[u8],
        expected_features: &[&str],
    ) -> Result<(Bundle, u64), ModelError> {
        let (bundle, hash): (Bundle, u64) = FORMAT.decode_hashed(b)?;
        bundle.validate()?;
        if bundle
            .feature_names
            .iter()
            .map(String::as_str)
            .ne(expected_features.iter().copied())
        {
            return Err(ModelError::FeatureMismatch {
                expected: expected_features.iter().map(|s| s.to_string()).collect(),
                found: bundle.feature_names.clone(),
            });
        }
        Ok((bundle, hash))
    }

    /// Structural validation of a decoded bundle (also run by `train`).
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.format_version != FORMAT_VERSION {
            return Err(ModelError::UnsupportedVersion {
                found: self.format_version,
                supported: FORMAT_VERSION,
            });
        }
        self.forest.validate()?;
        let n = self.feature_names.len();
        let dims = self.forest.dims();
        if n != dims || self.transform.len() != n || self.stats.len() != n {
            return Err(ModelError::Invalid(format!(
                "{n} feature names, {} transforms, {} stats entries for a {dims}-dimensional forest",
                self.transform.len(),
                self.stats.len()
            )));
        }
        check_names(self.feature_names.iter().map(String::as_str)).map_err(ModelError::Invalid)?;
        if let Some(j) = self.transform.iter().position(|t| !t.is_valid()) {
            return Err(ModelError::Invalid(format!(
                "transform of feature '{}' has a non-finite or non-positive parameter",
                self.feature_names[j]
            )));
        }
        if let Some(j) = self.stats.iter().position(|s| !s.is_valid()) {
            return Err(ModelError::Invalid(format!(
                "statistics of feature '{}' are non-finite or out of order",
                self.feature_names[j]
            )));
        }
        self.calibration.validate()?;
        self.thresholds.validate()?;
        if self.params.seed != self.seed {
            return Err(ModelError::Invalid(format!(
                "seed {} differs from the parameters' seed {}",
                self.seed, self.params.seed
            )));
        }
        if self.training_rows < 2 {
            return Err(ModelError::Invalid(format!(
                "{} training rows",
                self.training_rows
            )));
        }
        Ok(())
    }

    /// Writes the bundle atomically: to a temporary file in the same directory,
    /// flushed to disk, then renamed over `path`.
    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        let bytes = self.try_to_bytes()?;
        let payload = (bytes.len() - HEADER_LEN - TRAILER_LEN) as u64;
        if payload > MAX_PAYLOAD_BYTES {
            return Err(ModelError::BadParams(format!(
                "model payload is {payload} bytes, over the {MAX_PAYLOAD_BYTES}-byte load limit; use fewer trees or a smaller sample size"
            )));
        }
        write_atomic(path, &bytes).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads, checks and validates a bundle file (see [`from_bytes`](Self::from_bytes)).
    /// The header is checked before the rest of the file is read, so pointing
    /// this at a multi-gigabyte capture fails fast with `NotABundle`.
    pub fn load(path: &Path, expected_features: &[&str]) -> Result<Bundle, ModelError> {
        let with_path = |e: ModelError| match e {
            ModelError::NotABundle { found_magic, .. } => ModelError::NotABundle {
                path: Some(path.to_path_buf()),
                found_magic,
            },
            other => other,
        };
        let bytes = FORMAT.read(path).map_err(|e| match e {
            ReadError::Io(source) => ModelError::Io {
                path: path.to_path_buf(),
                source,
            },
            ReadError::Frame(f) => with_path(f.into()),
        })?;
        Bundle::from_bytes(&bytes, expected_features).map_err(with_path)
    }
}

/// Feature names: 1 to [`MAX_DIMS`], non-empty, unique.
fn check_names<'a>(names: impl Iterator<Item = &'a str> + Clone) -> Result<(), String> {
    let n = names.clone().count();
    if n == 0 || n > MAX_DIMS {
        return Err(format!("{n} features; supported: 1 to {MAX_DIMS}"));
    }
    let mut seen = rustc_hash::FxHashSet::default();
    for (i, name) in names.enumerate() {
        if name.is_empty() {
            return Err(format!("feature #{i} has an empty name"));
        }
        if !seen.insert(name) {
            return Err(format!("feature name '{name}' appears twice"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forest::tests::Gauss;

    const NAMES: [&str; 4] = ["queries", "nx_ratio", "entropy", "distinct_domains"];

    fn data(n: usize, seed: u64) -> Vec<Vec<f64>> {
        let mut g = Gauss::new(seed);
        (0..n)
            .map(|_| {
                vec![
                    (50.0 + 10.0 * g.next()).max(0.0).round(),
                    (0.02 + 0.004 * g.next()).clamp(0.0, 1.0),
                    3.0 + 0.3 * g.next(),
                    (20.0 + 3.0 * g.next()).max(0.0).round(),
                ]
            })
            .collect()
    }

    fn bundle() -> Bundle {
        let p = ForestParams {
            n_trees: 100,
            seed: 42,
            ..Default::default()
        };
        Bundle::train(&NAMES, &data(3000, 1), &p, &[true, false, false, true]).unwrap()
    }

    #[test]
    fn train_fills_every_field() {
        let b = bundle();
        assert_eq!(b.format_version, FORMAT_VERSION);
        assert_eq!(b.feature_names, NAMES);
        assert_eq!((b.transform.len(), b.stats.len()), (4, 4));
        assert!(b.transform[0].log1p && !b.transform[1].log1p);
        assert_eq!(b.training_rows, 3000);
        assert_eq!(b.training_hash, hash_matrix(&data(3000, 1)));
        assert_eq!(b.seed, 42);
        assert!(b.created_by.starts_with("sentineldns "));
        assert!(b.notes.contains("3000 rows x 4 features"));
        assert_eq!(b.thresholds, Thresholds::default());
        b.validate().unwrap();
    }

    #[test]
    fn scores_rank_and_label() {
        let b = bundle();
        let typical = b.score(&[50.0, 0.02, 3.0, 20.0]);
        let odd = b.score(&[5000.0, 0.9, 4.5, 900.0]);
        // A novel window outside the training hull scores like the most extreme
        // training windows: at least "Unusual".
        assert!(typical < 0.2 && odd > 0.5, "typical {typical}, odd {odd}");
        assert_eq!(b.label(typical), Label::Normal);
        assert_ne!(b.label(odd), Label::Normal);
        assert_eq!(b.label(0.8), Label::LikelyCompromise);
        assert_eq!(b.label(0.5), Label::Unusual);
        assert_eq!(b.label(f64::NAN), Label::Normal);
        assert!(b.deviation(1, 0.9) > 10.0);
        assert_eq!(b.deviation(99, 1.0), 0.0);
        // short vector: missing features count as the training median
        let short = b.score(&[50.0, 0.02]);
        assert!(short < 0.45, "{short}");
    }

    #[test]
    fn label_serde_and_names() {
        assert_eq!(Label::LikelyCompromise.as_str(), "Likely Compromise");
        assert_eq!(
            serde_json::to_string(&Label::LikelyCompromise).unwrap(),
            "\"Likely Compromise\""
        );
        let l: Label = serde_json::from_str("\"Unusual\"").unwrap();
        assert_eq!(l, Label::Unusual);
        assert_eq!(Label::Normal.to_string(), "Normal");
    }

    #[test]
    fn train_rejects_bad_input() {
        let p = ForestParams::default();
        let rows = data(100, 2);
        let e = Bundle::train(&NAMES, &rows, &p, &[true]).unwrap_err();
        assert!(matches!(e, ModelError::BadParams(_)), "{e}");
        let e = Bundle::train(&["a", "a", "b", "c"], &rows, &p, &[false; 4]).unwrap_err();
        assert!(e.to_string().contains("'a' appears twice"), "{e}");
        let e = Bundle::train(&["a", "b"], &rows, &p, &[false; 2]).unwrap_err();
        assert!(e.to_string().contains("expected 2"), "{e}");
        let e = Bundle::train(&NAMES, &rows[..1], &p, &[false; 4]).unwrap_err();
        assert!(matches!(e, ModelError::BadData(_)), "{e}");
    }

    #[test]
    fn header_checks_in_order() {
        let b = bundle().to_bytes();
        assert_eq!(&b[..8], &MAGIC);
        assert_eq!(
            u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
            FORMAT_VERSION
        );
        let mut len8 = [0u8; 8];
        len8.copy_from_slice(&b[12..20]);
        let len = u64::from_le_bytes(len8) as usize;
        assert_eq!(b.len(), len + HEADER_LEN + TRAILER_LEN);
        let check = |head: &[u8], total| FORMAT.check_header(head, total).map_err(ModelError::from);
        assert!(matches!(
            check(&b[..3], 3),
            Err(ModelError::Truncated { need: 28, have: 3 })
        ));
        assert!(matches!(
            check(b"GIF89a", 6),
            Err(ModelError::NotABundle { .. })
        ));
    }

    #[test]
    fn thresholds_validation() {
        assert!(Thresholds::default().validate().is_ok());
        for (u, l) in [
            (0.0, 0.5),
            (0.5, 0.5),
            (0.6, 0.5),
            (0.5, 1.1),
            (f64::NAN, 0.9),
        ] {
            assert!(Thresholds {
                unusual: u,
                likely: l
            }
            .validate()
            .is_err());
        }
    }
}
