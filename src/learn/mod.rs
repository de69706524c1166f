//! Site learning: the shipped model is only a prior; each site gets a model
//! fitted on its own stored windows (issue 12, item 1).
//!
//! ## Lifecycle (all on packet time)
//!
//! 1. **Learning** (`--learn DURATION`, `[learning] period`): from the first
//!    stored window, the sensor stores windows and scores them with the
//!    prior; only model-independent evidence ([`crate::detect::evidence`])
//!    may raise alerts.
//! 2. **Fit** at the first batch with a window starting at or after the end
//!    of the period: [`fit`] on the stored windows of the period
//!    ([`crate::store::Store::training_rows`]) — windows carrying evidence
//!    are left out, then the most isolated `trim_permille` ‰ (default 2 %)
//!    of the rest are trimmed and the forest refitted. The trim is for what
//!    evidence cannot see: a slow attack already running when the sensor was
//!    installed leaves windows that are odd but not damning, and a model
//!    fitted on them would call them normal. 2 % of a 30-minute period of 20
//!    hosts is 2 of 120 windows; a clean site loses only its most extreme
//!    windows, which the calibration then places just above Unusual's
//!    threshold. Thresholds are calibrated on the kept windows for a
//!    [`TARGET_FALSE_ALERT_RATE`] share of them.
//! 3. The model is written beside the database
//!    (`<db>.models/site-<id>.bin`, atomically), recorded with its
//!    provenance in `models`, and scores every later window.
//! 4. **Refit** every `retrain_every` on the windows of the last `horizon`;
//!    the new model replaces the old between two batches (one thread owns
//!    the detector, so the swap is atomic for the windows).
//!
//! A sensor restarted on the same database loads the latest site model
//! ([`load_site_model`]) instead of the prior unless a model is configured
//! explicitly. `sentineldns train --db DB` fits the same way offline.

use crate::aggregate::HostWindow;
use crate::config::LearningConfig;
use crate::detect::{model_id, Detector, ModelRole, MODEL_FEATURES};
use crate::event::{TsMicros, MICROS};
use crate::model::{Bundle, ForestParams};
use crate::store::{Store, StoreError};
use std::path::{Path, PathBuf};

/// Trees of a site model.
pub const TREES: usize = 200;
/// Sample size per tree (at most the rows).
pub const SAMPLE_SIZE: usize = 256;
/// Share of the kept training windows allowed at or above Unusual.
pub const TARGET_FALSE_ALERT_RATE: f64 = 0.002;
/// Most training rows a fit reads (an evenly spaced subset beyond it), so a
/// refit over a long horizon of a large site stays bounded in time and
/// memory (200,000 × 15 values ≈ 24 MB).
pub const MAX_TRAINING_ROWS: usize = 200_000;

/// Site learning failed.
#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    /// Reading windows or writing provenance.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Fitting the forest.
    #[error("fitting a site model: {0}")]
    Fit(#[from] crate::model::ModelError),
    /// The fitted model does not fit this build's detector.
    #[error("site model: {0}")]
    Detector(#[from] crate::detect::DetectError),
    /// Writing or reading a model file.
    #[error("site model {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A recorded site model's file is not the model recorded.
    #[error("site model {}: its bytes hash to {found}, the database recorded {expected}; refit with `sentineldns train --db`", path.display())]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// Recorded id.
        expected: String,
        /// Id of the file's bytes.
        found: String,
    },
    /// Too few windows to fit.
    #[error("only {found} usable windows between {from} and {to} ({left_out} more carried evidence and were left out); a site model needs at least {needed}")]
    TooFew {
        /// Usable windows.
        found: usize,
        /// `min_windows`.
        needed: u64,
        /// Windows left out for evidence.
        left_out: u64,
        /// Range start (RFC 3339).
        from: String,
        /// Range end (RFC 3339).
        to: String,
    },
}

/// What a fit used.
#[derive(Debug, Clone, PartialEq)]
pub struct FitReport {
    /// Windows the final forest was fitted on.
    pub windows: usize,
    /// Windows left out for carrying evidence.
    pub left_out: u64,
    /// Most isolated windows trimmed.
    pub trimmed: usize,
    /// First training window start, unix seconds.
    pub from: Option<i64>,
    /// Last training window end, unix seconds.
    pub to: Option<i64>,
}

/// Fit a site model on `rows` (model inputs of windows without evidence):
/// a first forest, the `trim_permille` ‰ of rows it isolates most dropped,
/// the final forest on the rest, thresholds calibrated on them. Seeded: the
/// same rows give the same model.
pub fn fit(
    mut rows: Vec<Vec<f64>>,
    seed: u64,
    trim_permille: u64,
) -> Result<(Bundle, usize), crate::model::ModelError> {
    if rows.len() > MAX_TRAINING_ROWS {
        let step = rows.len() as f64 / MAX_TRAINING_ROWS as f64;
        rows = (0..MAX_TRAINING_ROWS)
            .map(|i| std::mem::take(&mut rows[(i as f64 * step) as usize]))
            .collect();
    }
    let params = |n: usize| ForestParams {
        n_trees: TREES,
        sample_size: SAMPLE_SIZE.min(n),
        extension_level: Some(1),
        max_depth: None,
        seed,
    };
    let log1p = [false; MODEL_FEATURES.len()];
    let first = Bundle::train(&MODEL_FEATURES, &rows, &params(rows.len()), &log1p)?;
    let trim = (rows.len() as u64 * trim_permille / 1000) as usize;
    if trim > 0 {
        let mut scored: Vec<(f64, usize)> = rows
            .iter()
            .enumerate()
            .map(|(i, r)| (first.score(r), i))
            .collect();
        // Most isolated first; ties by position so the trim is deterministic.
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut drop = vec![false; rows.len()];
        for (_, i) in scored.iter().take(trim) {
            drop[*i] = true;
        }
        let mut i = 0;
        rows.retain(|_| {
            i += 1;
            !drop[i - 1]
        });
    }
    let mut bundle = Bundle::train(&MODEL_FEATURES, &rows, &params(rows.len()), &log1p)?;
    bundle.calibrate_thresholds(&rows, TARGET_FALSE_ALERT_RATE)?;
    bundle.notes = format!(
        "site model: {}; {} windows kept after trimming the {} most isolated ({} ‰)",
        bundle.notes,
        rows.len(),
        trim,
        trim_permille
    );
    Ok((bundle, trim))
}

/// Directory beside `db` holding its site models: `<db>.models`.
pub fn model_dir(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_os_string();
    s.push(".models");
    PathBuf::from(s)
}

/// Write `bundle` into [`model_dir`] as `site-<id>.bin` (temporary file,
/// then rename) and return its path and id.
pub fn save_site_model(db: &Path, bundle: &Bundle) -> Result<(PathBuf, String), LearnError> {
    let dir = model_dir(db);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LearnError::Io { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let bytes = bundle.try_to_bytes()?;
    let id = model_id(&bytes);
    let path = dir.join(format!("site-{id}.bin"));
    let tmp = dir.join(format!(".site-{id}.bin.tmp"));
    std::fs::write(&tmp, &bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, &path).map_err(io(&path))?;
    Ok((path, id))
}

/// The latest site model recorded in `store`, read from its file and
/// checked against its recorded id. `Ok(None)` when none is recorded.
pub fn load_site_model(store: &Store) -> Result<Option<Detector>, LearnError> {
    let Some(rec) = store.latest_site_model()? else {
        return Ok(None);
    };
    let Some(path) = rec.path.map(PathBuf::from) else {
        return Ok(None);
    };
    let bytes =
        crate::config::read_limited(&path, crate::config::FileKind::Model).map_err(|e| {
            LearnError::Io {
                path: path.clone(),
                source: std::io::Error::other(e.to_string()),
            }
        })?;
    let found = model_id(&bytes);
    if found != rec.id {
        return Err(LearnError::Mismatch {
            path,
            expected: rec.id,
            found,
        });
    }
    let bundle = Bundle::from_bytes(&bytes, &MODEL_FEATURES)?;
    Ok(Some(
        Detector::with_identity(bundle, found, ModelRole::Site)?.from_file(path),
    ))
}

fn rfc3339(s: Option<i64>) -> String {
    s.map_or_else(|| "-".to_string(), crate::time::rfc3339_secs)
}

/// Fit a site model on the windows of `store` starting in `[since, until)`
/// (unix seconds), save it beside `db`, record it and return it with what
/// it used.
pub fn fit_from_store(
    store: &mut Store,
    db: &Path,
    since: Option<i64>,
    until: Option<i64>,
    cfg: &LearningConfig,
    run: Option<i64>,
) -> Result<(Detector, FitReport), LearnError> {
    let t = store.training_rows(since, until)?;
    if (t.rows.len() as u64) < cfg.min_windows {
        return Err(LearnError::TooFew {
            found: t.rows.len(),
            needed: cfg.min_windows,
            left_out: t.left_out,
            from: rfc3339(since.or(t.from)),
            to: rfc3339(until.or(t.to)),
        });
    }
    let (from, to, left_out) = (t.from, t.to, t.left_out);
    let (bundle, trimmed) = fit(t.rows, cfg.seed, cfg.trim_permille)?;
    let (path, id) = save_site_model(db, &bundle)?;
    let det = Detector::with_identity(bundle, id, ModelRole::Site)?.from_file(path);
    let report = FitReport {
        windows: det.bundle().training_rows as usize,
        left_out,
        trimmed,
        from,
        to,
    };
    let mut rec = det.record(run);
    rec.fitted_at = until.or(to);
    rec.data_from = from;
    rec.data_to = to;
    rec.left_out = Some(left_out as i64);
    rec.trimmed = Some(trimmed as i64);
    store.record_model(&rec)?;
    Ok((det, report))
}

/// Where a sensor is in its learning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Learning is off and no site model exists: the configured model scores.
    Off,
    /// Learning since `start` (packet time; `None` until the first window).
    Learning {
        /// First window start of the period.
        start: Option<TsMicros>,
        /// Window start from which the next fit is tried.
        next_try: Option<TsMicros>,
    },
    /// A site model scores; the next refit is due at `next_fit`.
    Site {
        /// Packet time of the next refit (`None`: never).
        next_fit: Option<TsMicros>,
    },
}

/// The learning unit of a sensor: decides, batch by batch on packet time,
/// when to fit or refit, and whether the model's score alone may alert.
#[derive(Debug)]
pub struct SiteLearner {
    cfg: LearningConfig,
    db: PathBuf,
    run: Option<i64>,
    phase: Phase,
}

/// What [`SiteLearner::before_batch`] did.
#[derive(Debug)]
pub enum Step {
    /// Nothing to do.
    Nothing,
    /// A new site model to score with from this batch on.
    Fitted(Box<Detector>, FitReport),
    /// A fit was due but failed (the old model keeps scoring); logged and
    /// retried one window later.
    Failed(LearnError),
}

impl SiteLearner {
    /// A learner for `db` with `cfg`. `site_model` says whether a site model
    /// was loaded from the store (`fitted_at`, unix seconds).
    pub fn new(
        cfg: LearningConfig,
        db: PathBuf,
        run: Option<i64>,
        site_fitted_at: Option<i64>,
        first_window: Option<TsMicros>,
    ) -> Self {
        let phase = match (site_fitted_at, cfg.enabled()) {
            (Some(at), _) => Phase::Site {
                next_fit: (cfg.enabled() && cfg.retrain_every.0 > 0)
                    .then(|| at * MICROS + cfg.retrain_every.0),
            },
            (None, true) => Phase::Learning {
                start: first_window,
                next_try: first_window.map(|s| s + cfg.period.0),
            },
            (None, false) => Phase::Off,
        };
        SiteLearner {
            cfg,
            db,
            run,
            phase,
        }
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Whether the sensor is still learning (a model's score alone may not
    /// alert).
    pub fn learning(&self) -> bool {
        matches!(self.phase, Phase::Learning { .. })
    }

    /// Called with each batch of closed windows before they are scored: fit
    /// or refit when due. The windows of the batch are not yet stored, so
    /// they are not training data of a fit they trigger.
    pub fn before_batch(&mut self, store: &mut Store, windows: &[HostWindow]) -> Step {
        let Some(latest) = windows.iter().map(|w| w.start).max() else {
            return Step::Nothing;
        };
        let (since, due) = match &mut self.phase {
            Phase::Off => return Step::Nothing,
            Phase::Learning { start, next_try } => {
                let s = *start
                    .get_or_insert_with(|| windows.iter().map(|w| w.start).min().unwrap_or(latest));
                let due = *next_try.get_or_insert(s + self.cfg.period.0);
                (s, due)
            }
            Phase::Site { next_fit } => match *next_fit {
                Some(due) => (due - self.cfg.effective_horizon(), due),
                None => return Step::Nothing,
            },
        };
        if latest < due {
            return Step::Nothing;
        }
        // Train on what is stored before this batch: windows starting before
        // the due time (and before this batch's latest start).
        let until = due;
        let result = fit_from_store(
            store,
            &self.db,
            Some(since.div_euclid(MICROS)),
            Some(until.div_euclid(MICROS)),
            &self.cfg,
            self.run,
        );
        match result {
            Ok((det, report)) => {
                self.phase = Phase::Site {
                    next_fit: (self.cfg.retrain_every.0 > 0)
                        .then(|| until + self.cfg.retrain_every.0),
                };
                Step::Fitted(Box::new(det), report)
            }
            Err(e) => {
                // Try again with the next batch of later windows, on more data.
                let again = latest + 1;
                match &mut self.phase {
                    Phase::Learning { next_try, .. } => *next_try = Some(again),
                    Phase::Site { next_fit } => *next_fit = Some(again),
                    Phase::Off => {}
                }
                Step::Failed(e)
            }
        }
    }
}

/// What [`score_offline`] produced.
#[derive(Debug)]
pub struct Offline {
    /// One verdict per window, in the windows' order.
    pub verdicts: Vec<crate::detect::Verdict>,
    /// The site models fitted, in order, with what each used.
    pub fitted: Vec<(Detector, FitReport)>,
}

/// Score the windows of one network offline exactly as a sensor with
/// `cfg` would (`evaluate --learn`): in `(start, host)` order, the first
/// `cfg.period` with `prior` (only evidence alerts), then a site model
/// fitted by [`fit`] on the learning windows without evidence (the rows in
/// the order [`Store::training_rows`] returns them), refitted every
/// `retrain_every` on the last `horizon`; slow signals across windows as in
/// the sensor. Windows without unicast lookups are not training rows.
/// Returns the verdicts in the order of `windows` (which must be sorted by
/// start, then host) and the site models fitted, with their reports.
pub fn score_offline(
    windows: &[HostWindow],
    prior: &Detector,
    cfg: &LearningConfig,
) -> Result<Offline, LearnError> {
    use crate::detect::{model_input, HostUnits};
    let mut units = HostUnits::new(cfg.enabled().then_some(cfg.period.0));
    let mut verdicts = Vec::with_capacity(windows.len());
    let mut fitted: Vec<(Detector, FitReport)> = Vec::new();
    // (start, model input, evidence) of every scored window, for fits.
    let mut history: Vec<(TsMicros, Vec<f64>, bool)> = Vec::new();
    let Some(first) = windows.first().map(|w| w.start) else {
        return Ok(Offline { verdicts, fitted });
    };
    let mut due = cfg.enabled().then_some(first + cfg.period.0);
    let mut since = first;
    for w in windows {
        if let Some(d) = due.filter(|d| w.start >= *d) {
            let rows: Vec<Vec<f64>> = history
                .iter()
                .filter(|(s, _, ev)| *s >= since && *s < d && !ev)
                .map(|(_, r, _)| r.clone())
                .collect();
            let left_out = history
                .iter()
                .filter(|(s, _, ev)| *s >= since && *s < d && *ev)
                .count() as u64;
            if rows.len() as u64 >= cfg.min_windows {
                let (bundle, trimmed) = fit(rows, cfg.seed, cfg.trim_permille)?;
                let id = model_id(&bundle.try_to_bytes()?);
                let det = Detector::with_identity(bundle, id, ModelRole::Site)?;
                let report = FitReport {
                    windows: det.bundle().training_rows as usize,
                    left_out,
                    trimmed,
                    from: Some(since.div_euclid(MICROS)),
                    to: Some(d.div_euclid(MICROS)),
                };
                fitted.push((det, report));
                due = (cfg.retrain_every.0 > 0).then(|| d + cfg.retrain_every.0);
                if let Some(next) = due {
                    since = next - cfg.effective_horizon();
                }
            } else {
                due = Some(w.start + 1);
            }
        }
        let (det, may_alert) = match fitted.last() {
            Some((d, _)) => (d, true),
            None => (prior, prior.role() == ModelRole::Site && !cfg.enabled()),
        };
        let v = units.judge(det, w, may_alert);
        if w.lookups > 0 {
            history.push((w.start, model_input(w).to_vec(), v.evidence));
        }
        verdicts.push(v);
    }
    Ok(Offline { verdicts, fitted })
}
