//! The trained baseline: per-feature statistics, leave-one-out benign
//! ceiling, the isolation forest, and its file in the shared model container.

#[allow(unused_imports)]
use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct BaselineFile {
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
pub(super) fn frame_error(e: FrameError, path: &Path) -> CicidsError {
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

pub(super) fn stats_of(rows: &[Vec<f64>]) -> Vec<FeatureBaseline> {
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
