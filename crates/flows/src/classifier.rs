//! Random-forest flow classifier (UNSW-NB15) and its persisted model file.
//!
//! # Training
//!
//! The forest is fitted by smartcore's `RandomForestClassifier` (Breiman
//! bagging, √d features tried per split, Gini, fully grown trees). Its
//! `seed` parameter drives both the bootstraps and the per-tree feature
//! sampling, so the same rows, trees and seed give the same forest (smartcore
//! draws from rand's `SmallRng`, whose stream is fixed for a given pointer
//! width: results are reproducible across 64-bit builds).
//!
//! The fitted trees are then **exported** into this module's own [`FlowTree`]
//! (a flat node array) through smartcore's serde representation, once, at
//! training time. Scoring and the file format therefore never depend on
//! smartcore's private layout, and a loaded model can be fully validated
//! (children after parents, in range; features in range; finite splits) so
//! hostile bytes can neither panic nor loop. The export is checked against
//! smartcore's own predictions in the tests.
//!
//! The score of a record is the fraction of trees voting "attack" (a
//! probability-like value in \[0, 1\] with a resolution of 1/trees); its label is
//! `score ≥ threshold` (0.5 unless set otherwise).
//!
//! # File layout (format version 1)
//!
//! The framing the DNS bundle uses ([`sentineldns_model::container`]: magic,
//! version, length, bincode-2 payload, FNV-1a checksum, all checked before
//! decoding), with its own magic `b"SDNSFLW\0"` ([`MAGIC`]) and
//! [`FORMAT_VERSION`]; the payload is a [`FlowModel`], which is then
//! validated and its feature names compared with the caller's.

use sentineldns_model::checksum::hash_matrix;
use sentineldns_model::container::{write_atomic, Format, FrameError};
use sentineldns_model::metrics::{roc_auc, Confusion};
use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_classifier::{
    RandomForestClassifier, RandomForestClassifierParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;
use std::path::{Path, PathBuf};

use super::unsw::Vocabulary;

/// Version of the file layout this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// First eight bytes of every flow-model file.
pub const MAGIC: [u8; 8] = *b"SDNSFLW\0";
/// Largest payload accepted.
pub const MAX_PAYLOAD_BYTES: u64 = 256 << 20;
/// The flow model's framing.
pub const FORMAT: Format = Format {
    magic: MAGIC,
    version: FORMAT_VERSION,
    max_payload: MAX_PAYLOAD_BYTES,
};
/// Default label threshold on the score.
pub const DEFAULT_THRESHOLD: f64 = 0.5;

/// Errors training, saving or loading a flow model.
#[derive(Debug, thiserror::Error)]
pub enum FlowModelError {
    /// The file does not start with the flow-model magic.
    #[error("{}: not a sentineldns flow model (first bytes {found}); expected a file written by `sentineldns flows train-classifier`", path.display())]
    NotAModel {
        /// File.
        path: PathBuf,
        /// Hex of up to the first 8 bytes.
        found: String,
    },
    /// Shorter than its header says.
    #[error("flow model is truncated: need {need} bytes, have {have} (incomplete copy?)")]
    Truncated {
        /// Bytes required.
        need: u64,
        /// Bytes present.
        have: u64,
    },
    /// Written by another format version.
    #[error("flow model format version {found} is not supported (this build reads version {supported}); retrain with `sentineldns flows train-classifier`")]
    UnsupportedVersion {
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// Checksum mismatch: the file is corrupt.
    #[error("flow model is corrupt: checksum mismatch (stored 0x{expected:016x}, computed 0x{found:016x})")]
    Checksum {
        /// Stored.
        expected: u64,
        /// Computed.
        found: u64,
    },
    /// The payload could not be decoded.
    #[error("flow model payload could not be decoded: {0}")]
    Decode(String),
    /// Decoded but structurally invalid.
    #[error("flow model is structurally invalid: {0}")]
    Invalid(String),
    /// Trained on other features than this build reads.
    #[error("flow model features differ from this build's: model has [{}], this build reads [{}]; retrain the model", found.join(", "), expected.join(", "))]
    FeatureMismatch {
        /// This build's features.
        expected: Vec<String>,
        /// The model's features.
        found: Vec<String>,
    },
    /// Unusable parameters or training data.
    #[error("cannot train: {0}")]
    BadData(String),
    /// smartcore refused to fit.
    #[error("random forest fit failed: {0}")]
    Fit(String),
    /// Filesystem error.
    #[error("{}: {source}", path.display())]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
}

/// One node of a [`FlowTree`]: a leaf (`children = None`) voting `attack`, or
/// a split sending `x[feature] <= threshold` to `children.0`, else `children.1`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FlowNode {
    /// Split feature (unused in leaves).
    pub feature: u32,
    /// Split threshold (unused in leaves).
    pub threshold: f64,
    /// (≤ child, > child), or `None` for a leaf.
    pub children: Option<(u32, u32)>,
    /// Leaf vote: attack (true) or normal (false).
    pub attack: bool,
}

/// A decision tree as a flat node array; node 0 is the root and every child
/// index is greater than its parent's (so traversal always terminates).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowTree {
    /// Nodes.
    pub nodes: Vec<FlowNode>,
}

impl FlowTree {
    /// The leaf vote for `x` (a NaN feature goes right, as in smartcore).
    pub fn vote(&self, x: &[f64]) -> bool {
        let mut i = 0usize;
        loop {
            let Some(n) = self.nodes.get(i) else {
                return false; // unreachable for a validated tree
            };
            match n.children {
                None => return n.attack,
                Some((le, gt)) => {
                    let v = x.get(n.feature as usize).copied().unwrap_or(f64::NAN);
                    i = if v <= n.threshold { le } else { gt } as usize;
                }
            }
        }
    }

    fn validate(&self, dims: usize) -> Result<(), String> {
        if self.nodes.is_empty() {
            return Err("empty tree".into());
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if let Some((a, b)) = n.children {
                let ok = |c: u32| (c as usize) > i && (c as usize) < self.nodes.len();
                if !ok(a) || !ok(b) {
                    return Err(format!(
                        "node {i} has children {a}, {b} out of order or range"
                    ));
                }
                if n.feature as usize >= dims || !n.threshold.is_finite() {
                    return Err(format!(
                        "node {i} splits on feature {} at {}",
                        n.feature, n.threshold
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Held-out quality measured at training time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Holdout {
    /// Test rows.
    pub rows: u64,
    /// Attack rows among them.
    pub positives: u64,
    /// ROC-AUC of the score.
    pub roc_auc: f64,
    /// Precision of `score ≥ threshold`.
    pub precision: f64,
    /// Recall of `score ≥ threshold`.
    pub recall: f64,
    /// F1 of `score ≥ threshold`.
    pub f1: f64,
}

/// Training options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainParams {
    /// Trees (1..=65535).
    pub trees: u16,
    /// Seed for smartcore's bootstraps and feature sampling.
    pub seed: u64,
}

/// A trained flow classifier with what is needed to score and audit it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowModel {
    /// [`FORMAT_VERSION`] when written.
    pub format_version: u32,
    /// Feature names in input order.
    pub feature_names: Vec<String>,
    /// Vocabularies of the trailing categorical features, in order.
    pub vocabularies: Vec<Vocabulary>,
    /// The forest.
    pub trees: Vec<FlowTree>,
    /// Label threshold on the score.
    pub threshold: f64,
    /// Training seed.
    pub seed: u64,
    /// Training rows.
    pub training_rows: u64,
    /// FNV-1a 64 of the encoded training matrix with the label appended as a last column.
    pub training_hash: u64,
    /// Held-out metrics, if a test split was used.
    pub holdout: Option<Holdout>,
    /// `"sentineldns <version>"`.
    pub created_by: String,
    /// Free-form training summary.
    pub notes: String,
}

impl FlowModel {
    /// Fits a forest on encoded rows `x` (numeric then categorical codes) with
    /// labels `y`. Both classes must be present.
    pub fn train(
        feature_names: &[&str],
        vocabularies: Vec<Vocabulary>,
        x: &[Vec<f64>],
        y: &[bool],
        params: TrainParams,
    ) -> Result<FlowModel, FlowModelError> {
        let dims = feature_names.len();
        if x.len() != y.len() || x.is_empty() {
            return Err(FlowModelError::BadData(format!(
                "{} rows and {} labels",
                x.len(),
                y.len()
            )));
        }
        if let Some((i, r)) = x.iter().enumerate().find(|(_, r)| r.len() != dims) {
            return Err(FlowModelError::BadData(format!(
                "row {i} has {} values, expected {dims}",
                r.len()
            )));
        }
        if x.iter().flatten().any(|v| !v.is_finite()) {
            return Err(FlowModelError::BadData("non-finite feature value".into()));
        }
        let pos = y.iter().filter(|&&b| b).count();
        if pos == 0 || pos == y.len() {
            return Err(FlowModelError::BadData(format!(
                "training needs both classes; got {pos} attack and {} normal rows",
                y.len() - pos
            )));
        }
        if params.trees == 0 {
            return Err(FlowModelError::BadData("trees must be at least 1".into()));
        }
        let trees = fit_forest(x, y, params)?;
        let mut hashed: Vec<Vec<f64>> = x.to_vec();
        for (r, &l) in hashed.iter_mut().zip(y) {
            r.push(f64::from(u8::from(l)));
        }
        let model = FlowModel {
            format_version: FORMAT_VERSION,
            feature_names: feature_names.iter().map(|s| s.to_string()).collect(),
            vocabularies,
            threshold: DEFAULT_THRESHOLD,
            seed: params.seed,
            training_rows: x.len() as u64,
            training_hash: hash_matrix(&hashed),
            holdout: None,
            created_by: format!("sentineldns {}", env!("CARGO_PKG_VERSION")),
            notes: format!(
                "smartcore random forest: {} trees, sqrt(d) features per split, Gini, {} rows ({pos} attack) x {dims} features",
                trees.len(),
                x.len()
            ),
            trees,
        };
        model.validate()?;
        Ok(model)
    }

    /// Attack score in \[0, 1\]: the fraction of trees voting attack.
    pub fn score(&self, x: &[f64]) -> f64 {
        if self.trees.is_empty() {
            return 0.0;
        }
        let votes = self.trees.iter().filter(|t| t.vote(x)).count();
        votes as f64 / self.trees.len() as f64
    }

    /// Label of a score: 1 (attack) when `score ≥ threshold`.
    pub fn label(&self, score: f64) -> u8 {
        u8::from(score >= self.threshold)
    }

    /// ROC-AUC, precision, recall and F1 of the model on `(x, y)`.
    pub fn evaluate(&self, x: &[Vec<f64>], y: &[bool]) -> Holdout {
        let mut c = Confusion::default();
        let mut ranked = Vec::with_capacity(x.len());
        for (r, &l) in x.iter().zip(y) {
            let s = self.score(r);
            c.add(l, self.label(s) == 1);
            ranked.push((l, s));
        }
        Holdout {
            rows: x.len() as u64,
            positives: y.iter().filter(|&&b| b).count() as u64,
            roc_auc: roc_auc(&ranked),
            precision: c.precision(),
            recall: c.recall(),
            f1: c.f1(),
        }
    }

    /// Structural validation (run after training and after decoding).
    pub fn validate(&self) -> Result<(), FlowModelError> {
        let inv = |m: String| Err(FlowModelError::Invalid(m));
        if self.format_version != FORMAT_VERSION {
            return Err(FlowModelError::UnsupportedVersion {
                found: self.format_version,
                supported: FORMAT_VERSION,
            });
        }
        let dims = self.feature_names.len();
        if dims == 0 || self.vocabularies.len() > dims {
            return inv(format!(
                "{dims} features, {} vocabularies",
                self.vocabularies.len()
            ));
        }
        if self.trees.is_empty() {
            return inv("no trees".into());
        }
        if !(self.threshold.is_finite() && self.threshold > 0.0 && self.threshold <= 1.0) {
            return inv(format!("threshold {} outside (0, 1]", self.threshold));
        }
        for (i, t) in self.trees.iter().enumerate() {
            t.validate(dims)
                .or_else(|m| inv(format!("tree {i}: {m}")))?;
        }
        Ok(())
    }

    /// Encodes the model in the file layout of the module docs.
    pub fn to_bytes(&self) -> Result<Vec<u8>, FlowModelError> {
        FORMAT
            .encode(self)
            .map_err(|e| frame_error(e, Path::new("<memory>")))
    }

    /// Decodes and validates a model, then checks its features equal `expected_features`.
    /// `path` only names the source in errors. Never panics.
    pub fn from_bytes(
        b: &[u8],
        path: &Path,
        expected_features: &[&str],
    ) -> Result<FlowModel, FlowModelError> {
        // Fewer than 8 bytes are not a flow model at all (the shared framing
        // would call a prefix of the magic "truncated").
        if b.len() < MAGIC.len() {
            return Err(frame_error(FrameError::WrongMagic(b.to_vec()), path));
        }
        let model: FlowModel = FORMAT.decode(b).map_err(|e| frame_error(e, path))?;
        model.validate()?;
        if model
            .feature_names
            .iter()
            .map(String::as_str)
            .ne(expected_features.iter().copied())
        {
            return Err(FlowModelError::FeatureMismatch {
                expected: expected_features.iter().map(|s| s.to_string()).collect(),
                found: model.feature_names.clone(),
            });
        }
        Ok(model)
    }

    /// Writes the model atomically (temporary file in the same directory, then rename).
    pub fn save(&self, path: &Path) -> Result<(), FlowModelError> {
        let bytes = self.to_bytes()?;
        write_atomic(path, &bytes).map_err(|source| FlowModelError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads and validates a model file (see [`from_bytes`](Self::from_bytes)).
    pub fn load(path: &Path, expected_features: &[&str]) -> Result<FlowModel, FlowModelError> {
        let bytes = std::fs::read(path).map_err(|source| FlowModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes, path, expected_features)
    }
}

/// A framing problem as this module's error, naming `path`.
fn frame_error(e: FrameError, path: &Path) -> FlowModelError {
    match e {
        FrameError::WrongMagic(found) => FlowModelError::NotAModel {
            path: path.to_path_buf(),
            found: sentineldns_model::checksum::hex(&found),
        },
        FrameError::Truncated { need, have } => FlowModelError::Truncated { need, have },
        FrameError::Version { found, supported } => {
            FlowModelError::UnsupportedVersion { found, supported }
        }
        FrameError::TooLarge { declared, max } => FlowModelError::Invalid(format!(
            "declared payload of {declared} bytes exceeds the {max}-byte limit"
        )),
        FrameError::TrailingBytes { extra, need, have } => FlowModelError::Invalid(format!(
            "{extra} bytes after the checksum (file is {have} bytes, header says {need})"
        )),
        FrameError::Checksum { expected, found } => FlowModelError::Checksum { expected, found },
        FrameError::Decode(m) => FlowModelError::Decode(m),
    }
}

type SmartForest = RandomForestClassifier<f64, u32, DenseMatrix<f64>, Vec<u32>>;

fn fit_forest(x: &[Vec<f64>], y: &[bool], p: TrainParams) -> Result<Vec<FlowTree>, FlowModelError> {
    let rows: Vec<&[f64]> = x.iter().map(Vec::as_slice).collect();
    let m = DenseMatrix::from_2d_vec(&rows.iter().map(|r| r.to_vec()).collect::<Vec<_>>())
        .map_err(|e| FlowModelError::Fit(e.to_string()))?;
    let labels: Vec<u32> = y.iter().map(|&b| u32::from(b)).collect();
    let params = RandomForestClassifierParameters::default()
        .with_n_trees(p.trees)
        .with_seed(p.seed);
    let forest =
        SmartForest::fit(&m, &labels, params).map_err(|e| FlowModelError::Fit(e.to_string()))?;
    export(&forest)
}

/// Converts a fitted smartcore forest into [`FlowTree`]s via its serde form
/// (`trees[*].nodes[*]` with `output`, `split_feature`, `split_value`,
/// `true_child`, `false_child`, and `classes`).
fn export(forest: &SmartForest) -> Result<Vec<FlowTree>, FlowModelError> {
    let bad = |m: &str| FlowModelError::Fit(format!("unexpected smartcore forest layout: {m}"));
    let v = serde_json::to_value(forest).map_err(|e| bad(&e.to_string()))?;
    let trees = v["trees"].as_array().ok_or_else(|| bad("no trees"))?;
    let mut out = Vec::with_capacity(trees.len());
    for t in trees {
        let classes: Vec<u64> = t["classes"]
            .as_array()
            .ok_or_else(|| bad("no classes"))?
            .iter()
            .map(|c| c.as_u64().ok_or_else(|| bad("class not an integer")))
            .collect::<Result<_, _>>()?;
        let nodes = t["nodes"].as_array().ok_or_else(|| bad("no nodes"))?;
        let mut flat = Vec::with_capacity(nodes.len());
        for n in nodes {
            let idx = |k: &str| n[k].as_u64().map(|c| c as u32);
            let children = match (idx("true_child"), idx("false_child")) {
                (Some(a), Some(b)) => Some((a, b)),
                (None, None) => None,
                _ => return Err(bad("node with one child")),
            };
            let output = n["output"].as_u64().ok_or_else(|| bad("no output"))? as usize;
            let class = *classes.get(output).ok_or_else(|| bad("output class"))?;
            flat.push(FlowNode {
                feature: n["split_feature"].as_u64().unwrap_or(0) as u32,
                threshold: if children.is_some() {
                    n["split_value"]
                        .as_f64()
                        .ok_or_else(|| bad("split value"))?
                } else {
                    0.0
                },
                children,
                attack: class == 1,
            });
        }
        out.push(FlowTree { nodes: flat });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn toy(seed: u64, n: usize) -> (Vec<Vec<f64>>, Vec<bool>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for _ in 0..n {
            let a: f64 = rng.random();
            let b: f64 = rng.random();
            let c: f64 = rng.random_range(0..3) as f64;
            let attack = a + 0.3 * b > 0.7 || (c == 2.0 && a > 0.4);
            x.push(vec![a, b, c]);
            y.push(attack);
        }
        (x, y)
    }

    fn train(seed: u64) -> FlowModel {
        let (x, y) = toy(1, 400);
        FlowModel::train(
            &["a", "b", "c"],
            vec![Vocabulary {
                values: vec!["x".into(), "y".into()],
            }],
            &x,
            &y,
            TrainParams { trees: 25, seed },
        )
        .unwrap()
    }

    #[test]
    fn export_agrees_with_smartcore() {
        let (x, y) = toy(1, 400);
        let forest = {
            let rows: Vec<Vec<f64>> = x.clone();
            let m = DenseMatrix::from_2d_vec(&rows).unwrap();
            let labels: Vec<u32> = y.iter().map(|&b| u32::from(b)).collect();
            SmartForest::fit(
                &m,
                &labels,
                RandomForestClassifierParameters::default()
                    .with_n_trees(25)
                    .with_seed(3),
            )
            .unwrap()
        };
        let trees = export(&forest).unwrap();
        let model = FlowModel { trees, ..train(3) };
        let (xt, _) = toy(2, 300);
        let m = DenseMatrix::from_2d_vec(&xt).unwrap();
        let theirs = forest.predict(&m).unwrap();
        let mut compared = 0;
        for (r, t) in xt.iter().zip(&theirs) {
            let votes = model.trees.iter().filter(|tr| tr.vote(r)).count();
            if 2 * votes != model.trees.len() {
                assert_eq!(u32::from(2 * votes > model.trees.len()), *t);
                compared += 1;
            }
        }
        assert!(compared > 250);
        // and the model built by `train` with the same seed is that forest
        assert_eq!(train(3).trees, model.trees);
    }

    #[test]
    fn learns_the_toy_rule_and_is_deterministic() {
        let m = train(7);
        let (xt, yt) = toy(9, 500);
        let h = m.evaluate(&xt, &yt);
        assert!(h.roc_auc > 0.95, "{h:?}");
        assert!(h.precision > 0.85 && h.recall > 0.85, "{h:?}");
        assert_eq!(m.to_bytes().unwrap(), train(7).to_bytes().unwrap());
        assert_ne!(m.trees, train(8).trees);
    }

    #[test]
    fn round_trip_and_every_corruption_is_an_error() {
        let m = train(1);
        let b = m.to_bytes().unwrap();
        let p = Path::new("m.bin");
        let feats = ["a", "b", "c"];
        assert_eq!(FlowModel::from_bytes(&b, p, &feats).unwrap(), m);
        // truncated anywhere
        for cut in [0, 5, 19, 20, b.len() / 2, b.len() - 1] {
            let e = FlowModel::from_bytes(&b[..cut], p, &feats).unwrap_err();
            assert!(
                matches!(
                    e,
                    FlowModelError::Truncated { .. } | FlowModelError::NotAModel { .. }
                ),
                "{cut}: {e}"
            );
        }
        // a flipped payload byte
        let mut c = b.clone();
        c[sentineldns_model::container::HEADER_LEN + 10] ^= 0x40;
        assert!(matches!(
            FlowModel::from_bytes(&c, p, &feats),
            Err(FlowModelError::Checksum { .. })
        ));
        // a foreign file (the DNS bundle magic, a PNG)
        for foreign in [&b"SDNSMDL\0rest of it"[..], b"\x89PNG\r\n\x1a\n...."] {
            let e = FlowModel::from_bytes(foreign, p, &feats).unwrap_err();
            assert!(
                e.to_string().contains("not a sentineldns flow model"),
                "{e}"
            );
        }
        // other version
        let mut v = b.clone();
        v[8] = 9;
        assert!(matches!(
            FlowModel::from_bytes(&v, p, &feats),
            Err(FlowModelError::UnsupportedVersion { found: 9, .. })
        ));
        // extra bytes
        let mut x = b.clone();
        x.push(0);
        assert!(matches!(
            FlowModel::from_bytes(&x, p, &feats),
            Err(FlowModelError::Invalid(_))
        ));
        // other features
        let e = FlowModel::from_bytes(&b, p, &["a", "c", "b"]).unwrap_err();
        assert!(matches!(e, FlowModelError::FeatureMismatch { .. }), "{e}");
    }

    #[test]
    fn validation_refuses_cycles_and_bad_features() {
        let mut m = train(1);
        m.trees[0].nodes[0].children = Some((0, 0));
        assert!(m.validate().is_err());
        let mut m = train(1);
        if let Some(n) = m.trees[0].nodes.iter_mut().find(|n| n.children.is_some()) {
            n.feature = 3;
        }
        assert!(m.validate().is_err());
        // a checksummed file holding an invalid forest is refused after decoding
        let b = m.to_bytes().unwrap();
        let e = FlowModel::from_bytes(&b, Path::new("x"), &["a", "b", "c"]).unwrap_err();
        assert!(matches!(e, FlowModelError::Invalid(_)), "{e}");
    }

    #[test]
    fn training_refuses_unusable_data() {
        let (x, _) = toy(1, 50);
        let one_class = vec![true; 50];
        let p = TrainParams { trees: 5, seed: 1 };
        assert!(FlowModel::train(&["a", "b", "c"], vec![], &x, &one_class, p).is_err());
        assert!(FlowModel::train(&["a", "b"], vec![], &x, &one_class, p).is_err());
        let mut bad = x.clone();
        bad[3][1] = f64::NAN;
        let y: Vec<bool> = (0..50).map(|i| i % 2 == 0).collect();
        assert!(FlowModel::train(&["a", "b", "c"], vec![], &bad, &y, p).is_err());
    }
}
