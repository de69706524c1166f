//! Per-device rolling z-score detector for aggregated device telemetry
//! (one row per device per time step: connections, bytes, destination port,
//! payload entropy).
//!
//! Every device keeps a rolling window of its last `W` observations of each
//! numeric field. A row is scored *before* it enters the window (no
//! lookahead):
//!
//! ```text
//! score = w_c·|z(connections)| + w_b·|z(bytes)| + w_e·|z(entropy)| + w_r·[port ∉ common ports]
//! ```
//!
//! Two statistics are available:
//!
//! * **classic** ([`BaselineMode::Classic`], the default) reproduces the reference
//!   notebook bit for bit: running sums over the window, population standard
//!   deviation (`ddof = 0`) computed as `sqrt(max(0, Σx²/n − μ²))`, `z = 0`
//!   while the window holds fewer than two values or σ ≤ 1e-9, and every row
//!   enters the window;
//! * **robust** ([`BaselineMode::Robust`]): median and MAD (σ = 1.4826·MAD, with a
//!   floor), rows scoring at or above a *gate* do not enter the baseline (an
//!   attack cannot widen its own σ), and while a device has fewer than
//!   `min_obs` clean observations it is scored against a fleet-wide window
//!   of recent clean observations instead of getting a free pass.
//!
//! Alerts are `score >= threshold`, the threshold being either a value or a
//! quantile of all scores ([`quantile_linear`] matches numpy/pandas `linear`
//! interpolation; [`ExactQuantile`] computes it in memory proportional to
//! `min(q, 1−q)·n` instead of `n`).
//!
//! [`generate_stream`] writes synthetic telemetry following the reference
//! notebook's recipe (Poisson connections, normal bytes and entropy, sparse
//! bursts on rare ports) for fresh evaluation streams.

use crate::csvin::{Column, CsvError, CsvInput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::path::Path;

/// Ports counted as common by default (the reference notebook's list).
pub const DEFAULT_COMMON_PORTS: [u16; 6] = [22, 53, 80, 443, 445, 3389];

/// Errors from configuration validation.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ZScoreError {
    /// A configuration value is out of range.
    #[error("invalid z-score configuration: {0}")]
    Config(String),
}

/// How the per-device baseline is computed.
#[derive(Debug, Clone, PartialEq)]
pub enum BaselineMode {
    /// The reference behaviour: rolling mean / population std, every row enters
    /// the window.
    Classic,
    /// Median/MAD statistics, gated updates, fleet fallback while warming up.
    Robust(RobustConfig),
}

/// Settings of the robust baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct RobustConfig {
    /// Rows scoring at or above this value are not added to any baseline.
    pub gate: f64,
    /// Clean observations a device needs before its own window is used; below
    /// that the fleet window is used.
    pub min_obs: usize,
    /// Length of the fleet-wide window of recent clean observations.
    pub fleet_window: usize,
    /// After this many consecutive gated rows a device's next row enters the
    /// baseline anyway, so a lasting change of behaviour is learnt instead of
    /// alerting forever.
    pub max_gated_streak: usize,
    /// Lower bound of σ as a fraction of |median| (keeps near-constant series
    /// from producing huge z for tiny changes).
    pub rel_sigma_floor: f64,
}

impl Default for RobustConfig {
    fn default() -> Self {
        Self {
            gate: 8.0,
            min_obs: 20,
            fleet_window: 500,
            max_gated_streak: 10,
            rel_sigma_floor: 0.01,
        }
    }
}

/// Detector settings. [`Default`] is the reference notebook's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ZScoreConfig {
    /// Observations per device in the rolling window.
    pub window: usize,
    /// Weight of |z| of connections.
    pub w_connections: f64,
    /// Weight of |z| of bytes.
    pub w_bytes: f64,
    /// Weight of |z| of payload entropy.
    pub w_entropy: f64,
    /// Weight added when the destination port is not a common port.
    pub w_rare_port: f64,
    /// Ports that do not count as rare.
    pub common_ports: Vec<u16>,
    /// BaselineMode statistics.
    pub baseline: BaselineMode,
}

impl Default for ZScoreConfig {
    fn default() -> Self {
        Self {
            window: 60,
            w_connections: 0.55,
            w_bytes: 0.35,
            w_entropy: 0.15,
            w_rare_port: 2.0,
            common_ports: DEFAULT_COMMON_PORTS.to_vec(),
            baseline: BaselineMode::Classic,
        }
    }
}

impl ZScoreConfig {
    /// Check ranges; call before scoring.
    pub fn validate(&self) -> Result<(), ZScoreError> {
        let bad = |m: &str| Err(ZScoreError::Config(m.to_owned()));
        if self.window == 0 {
            return bad("window must be at least 1");
        }
        for (n, w) in [
            ("connections", self.w_connections),
            ("bytes", self.w_bytes),
            ("entropy", self.w_entropy),
            ("rare port", self.w_rare_port),
        ] {
            if !w.is_finite() || w < 0.0 {
                return Err(ZScoreError::Config(format!(
                    "weight of {n} must be finite and >= 0, got {w}"
                )));
            }
        }
        if let BaselineMode::Robust(r) = &self.baseline {
            if !r.gate.is_finite() || r.gate <= 0.0 {
                return bad("robust gate must be finite and > 0");
            }
            if r.min_obs < 2 || r.min_obs > self.window {
                return bad("robust min_obs must be in 2..=window");
            }
            if r.fleet_window < 2 {
                return bad("robust fleet window must be at least 2");
            }
            if !r.rel_sigma_floor.is_finite() || r.rel_sigma_floor < 0.0 {
                return bad("robust sigma floor must be finite and >= 0");
            }
        }
        Ok(())
    }
}

/// One telemetry row.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Time step.
    pub t: i64,
    /// Device identifier.
    pub device_id: String,
    /// Connections in the step.
    pub connections: f64,
    /// Bytes in the step.
    pub bytes: f64,
    /// Destination port.
    pub dst_port: u16,
    /// Payload entropy (bits per byte).
    pub payload_entropy: f64,
    /// Ground truth, when the input carries it.
    pub is_anom: Option<bool>,
}

/// Rolling window with running sums, exactly as the reference computes it
/// (including its floating-point operation order).
#[derive(Debug, Clone)]
pub struct RollingStats {
    window: usize,
    q: VecDeque<f64>,
    sum_x: f64,
    sum_x2: f64,
}

impl RollingStats {
    /// Empty window of capacity `window`.
    pub fn new(window: usize) -> Self {
        Self {
            window,
            q: VecDeque::with_capacity(window + 1),
            sum_x: 0.0,
            sum_x2: 0.0,
        }
    }

    /// Add `x`, dropping the oldest value once more than `window` are held.
    pub fn push(&mut self, x: f64) {
        self.q.push_back(x);
        self.sum_x += x;
        self.sum_x2 += x * x;
        if self.q.len() > self.window {
            if let Some(old) = self.q.pop_front() {
                self.sum_x -= old;
                self.sum_x2 -= old * old;
            }
        }
    }

    /// Values held.
    pub fn len(&self) -> usize {
        self.q.len()
    }

    /// True when no value is held.
    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    /// Mean (0 when empty).
    pub fn mean(&self) -> f64 {
        self.sum_x / self.q.len().max(1) as f64
    }

    /// Population standard deviation from the running sums (0 below two values).
    pub fn std(&self) -> f64 {
        let n = self.q.len();
        if n < 2 {
            return 0.0;
        }
        let n = n as f64;
        let mu = self.sum_x / n;
        let var = (self.sum_x2 / n - mu * mu).max(0.0);
        var.sqrt()
    }

    /// The values held, oldest first.
    pub fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.q.iter().copied()
    }
}

/// `|x − μ| / σ`, 0 when σ ≤ 1e-9 (the reference's guard).
pub fn abs_z(x: f64, mu: f64, sigma: f64) -> f64 {
    if sigma <= 1e-9 {
        0.0
    } else {
        ((x - mu) / sigma).abs()
    }
}

/// Median and robust σ of `values`: σ = 1.4826·MAD, or 1.2533·(mean absolute
/// deviation from the median) when the MAD is 0 (count data with a dominant
/// value), at least `rel_floor·|median|` and 1e-9. `None` below two values.
/// `scratch` is reused to avoid allocation.
pub fn median_sigma(
    values: impl Iterator<Item = f64>,
    rel_floor: f64,
    scratch: &mut Vec<f64>,
) -> Option<(f64, f64)> {
    scratch.clear();
    scratch.extend(values);
    if scratch.len() < 2 {
        return None;
    }
    let med = median_in_place(scratch);
    let mut sum_ad = 0.0;
    for v in scratch.iter_mut() {
        *v = (*v - med).abs();
        sum_ad += *v;
    }
    let mad = median_in_place(scratch);
    let spread = if mad > 0.0 {
        1.4826 * mad
    } else {
        1.2533 * sum_ad / scratch.len() as f64
    };
    Some((med, spread.max(rel_floor * med.abs()).max(1e-9)))
}

fn median_in_place(v: &mut [f64]) -> f64 {
    v.sort_unstable_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

#[derive(Debug, Clone)]
struct DeviceState {
    conns: RollingStats,
    bytes: RollingStats,
    entropy: RollingStats,
    /// Consecutive rows kept out of the baseline (robust mode).
    streak: usize,
}

impl DeviceState {
    fn new(w: usize) -> Self {
        Self {
            conns: RollingStats::new(w),
            bytes: RollingStats::new(w),
            entropy: RollingStats::new(w),
            streak: 0,
        }
    }

    fn push(&mut self, o: &Observation) {
        self.conns.push(o.connections);
        self.bytes.push(o.bytes);
        self.entropy.push(o.payload_entropy);
    }
}

/// The per-device scorer. Memory: `O(devices × window)`.
#[derive(Debug)]
pub struct Scorer {
    cfg: ZScoreConfig,
    devices: HashMap<String, DeviceState>,
    fleet: DeviceState,
    scratch: Vec<f64>,
    /// Rows kept out of the baseline by the robust gate.
    gated: u64,
}

impl Scorer {
    /// A scorer with a validated configuration.
    pub fn new(cfg: ZScoreConfig) -> Result<Self, ZScoreError> {
        cfg.validate()?;
        let fleet_w = match &cfg.baseline {
            BaselineMode::Robust(r) => r.fleet_window,
            BaselineMode::Classic => 1,
        };
        Ok(Self {
            fleet: DeviceState::new(fleet_w),
            cfg,
            devices: HashMap::new(),
            scratch: Vec::new(),
            gated: 0,
        })
    }

    /// Configuration in use.
    pub fn config(&self) -> &ZScoreConfig {
        &self.cfg
    }

    /// Devices seen so far.
    pub fn devices(&self) -> usize {
        self.devices.len()
    }

    /// Rows the robust gate kept out of the baseline.
    pub fn gated(&self) -> u64 {
        self.gated
    }

    /// Score `o` against its device's history, then add it to the history.
    pub fn score(&mut self, o: &Observation) -> f64 {
        let w = self.cfg.window;
        if !self.devices.contains_key(&o.device_id) {
            self.devices
                .insert(o.device_id.clone(), DeviceState::new(w));
        }
        let rare = if self.cfg.common_ports.contains(&o.dst_port) {
            0.0
        } else {
            1.0
        };
        let cfg = &self.cfg;
        let st = self.devices.get_mut(&o.device_id).expect("inserted above");
        match &cfg.baseline {
            BaselineMode::Classic => {
                let zc = abs_z(o.connections, st.conns.mean(), st.conns.std());
                let zb = abs_z(o.bytes, st.bytes.mean(), st.bytes.std());
                let ze = abs_z(o.payload_entropy, st.entropy.mean(), st.entropy.std());
                let score = cfg.w_connections * zc
                    + cfg.w_bytes * zb
                    + cfg.w_entropy * ze
                    + cfg.w_rare_port * rare;
                st.push(o);
                score
            }
            BaselineMode::Robust(r) => {
                let src = if st.conns.len() >= r.min_obs {
                    Some(&*st)
                } else if self.fleet.conns.len() >= r.min_obs {
                    Some(&self.fleet)
                } else {
                    None
                };
                let Some(src) = src else {
                    // Nothing to compare with yet: only the categorical term,
                    // and the row seeds the baselines.
                    st.push(o);
                    self.fleet.push(o);
                    return cfg.w_rare_port * rare;
                };
                let mut z = |s: &RollingStats, x: f64| {
                    median_sigma(s.values(), r.rel_sigma_floor, &mut self.scratch)
                        .map_or(0.0, |(m, sd)| abs_z(x, m, sd))
                };
                let zc = z(&src.conns, o.connections);
                let zb = z(&src.bytes, o.bytes);
                let ze = z(&src.entropy, o.payload_entropy);
                let score = cfg.w_connections * zc
                    + cfg.w_bytes * zb
                    + cfg.w_entropy * ze
                    + cfg.w_rare_port * rare;
                if score < r.gate || st.streak >= r.max_gated_streak {
                    st.streak = 0;
                    st.push(o);
                    self.fleet.push(o);
                } else {
                    st.streak += 1;
                    self.gated += 1;
                }
                score
            }
        }
    }
}

/// Alert threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Threshold {
    /// `score >= value`.
    Value(f64),
    /// `score >=` this quantile (0..=1) of all scores, numpy `linear` method.
    Quantile(f64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Ord64(f64);
impl Eq for Ord64 {}
impl PartialOrd for Ord64 {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Ord64 {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.total_cmp(&o.0)
    }
}

/// numpy's linear interpolation `a + (b−a)·t`, computed as `b − (b−a)·(1−t)`
/// when `t ≥ 0.5` (numpy's `_lerp`, which pandas' `quantile` uses).
pub fn lerp_numpy(a: f64, b: f64, t: f64) -> f64 {
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

/// Quantile `q` of ascending `sorted` values with numpy/pandas `linear`
/// interpolation (virtual index `(n−1)·q`). `None` for no values or `q`
/// outside `0..=1`.
pub fn quantile_linear(sorted: &[f64], q: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let (lo, hi, t) = virtual_index(n, q);
    Some(lerp_numpy(sorted[lo], sorted[hi], t))
}

fn virtual_index(n: usize, q: f64) -> (usize, usize, f64) {
    let v = (n - 1) as f64 * q;
    let lo = (v.floor() as usize).min(n - 1);
    let hi = (lo + 1).min(n - 1);
    (lo, hi, v - v.floor())
}

/// Exact numpy-`linear` quantile of a stream of known length, holding only the
/// `min(q, 1−q)·n + 2` values that can matter. NaN values must not be pushed
/// (pandas skips them; the caller counts them out of `n`).
#[derive(Debug)]
pub struct ExactQuantile {
    n: usize,
    seen: usize,
    lo: usize,
    hi: usize,
    t: f64,
    /// Keep the largest values (min-heap) when true, else the smallest.
    upper: bool,
    keep: usize,
    top: BinaryHeap<std::cmp::Reverse<Ord64>>,
    bottom: BinaryHeap<Ord64>,
}

impl ExactQuantile {
    /// For `n` values and quantile `q` in `0..=1`.
    pub fn new(n: usize, q: f64) -> Result<Self, ZScoreError> {
        if !(0.0..=1.0).contains(&q) {
            return Err(ZScoreError::Config(format!("quantile {q} is not in 0..=1")));
        }
        let (lo, hi, t) = if n == 0 {
            (0, 0, 0.0)
        } else {
            virtual_index(n, q)
        };
        let upper = n - lo <= hi + 1;
        let keep = if upper { n - lo } else { hi + 1 };
        Ok(Self {
            n,
            seen: 0,
            lo,
            hi,
            t,
            upper,
            keep,
            top: BinaryHeap::new(),
            bottom: BinaryHeap::new(),
        })
    }

    /// Add a value.
    pub fn push(&mut self, x: f64) {
        self.seen += 1;
        if self.upper {
            self.top.push(std::cmp::Reverse(Ord64(x)));
            if self.top.len() > self.keep {
                self.top.pop();
            }
        } else {
            self.bottom.push(Ord64(x));
            if self.bottom.len() > self.keep {
                self.bottom.pop();
            }
        }
    }

    /// The quantile; `None` when no value or not exactly `n` values were pushed.
    pub fn value(mut self) -> Option<f64> {
        if self.n == 0 || self.seen != self.n {
            return None;
        }
        let (a, b) = if self.upper {
            // Heap holds sorted[lo..n]: its minimum is sorted[lo].
            let a = self.top.pop()?.0 .0;
            let b = if self.hi > self.lo {
                self.top.peek()?.0 .0
            } else {
                a
            };
            (a, b)
        } else {
            // Heap holds sorted[0..=hi]: its maximum is sorted[hi].
            let b = self.bottom.pop()?.0;
            let a = if self.hi > self.lo {
                self.bottom.peek()?.0
            } else {
                b
            };
            (a, b)
        };
        Some(lerp_numpy(a, b, self.t))
    }
}

/// Columns of a telemetry stream CSV.
pub const STREAM_COLUMNS: [Column; 6] = [
    Column::new("t", &["time", "step", "timestamp"]),
    Column::new("device_id", &["device", "host"]),
    Column::new("connections", &["conns"]),
    Column::new("bytes", &[]),
    Column::new("dst_port", &["port", "destination port"]),
    Column::new("payload_entropy", &["entropy"]),
];

/// Optional ground-truth column.
pub const ANOM_COLUMN: Column = Column::new("is_anom", &["label", "anomaly"]);

/// Reads [`Observation`]s from a telemetry CSV, one row at a time.
#[derive(Debug)]
pub struct StreamInput {
    csv: CsvInput,
    idx: Vec<usize>,
    anom: Option<usize>,
    rec: csv::StringRecord,
}

/// A row that could not be turned into an [`Observation`] (counted and skipped).
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    /// The CSV layer rejected the row.
    #[error(transparent)]
    Csv(#[from] CsvError),
    /// A field has the wrong type or a non-finite value.
    #[error("{path}:{line}: column {column}: {value:?} is not {expected}")]
    Field {
        /// File.
        path: std::path::PathBuf,
        /// 1-based line.
        line: u64,
        /// Column name.
        column: &'static str,
        /// Offending text.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
}

impl StreamInput {
    /// Open `path` and resolve the columns (all missing ones reported at once).
    pub fn open(path: &Path) -> Result<Self, CsvError> {
        let csv = CsvInput::open(path)?;
        let idx = csv.require(&STREAM_COLUMNS)?;
        let anom = csv.find(&ANOM_COLUMN);
        Ok(Self {
            csv,
            idx,
            anom,
            rec: csv::StringRecord::new(),
        })
    }

    /// Whether the input carries ground truth.
    pub fn has_labels(&self) -> bool {
        self.anom.is_some()
    }

    /// Next row; `None` at end of file. A bad row is an `Err` and reading may go on.
    pub fn next_observation(&mut self) -> Option<Result<Observation, RowError>> {
        match self.csv.next_record(&mut self.rec) {
            Ok(false) => None,
            Ok(true) => Some(self.parse()),
            Err(e) => Some(Err(e.into())),
        }
    }

    fn line(&self) -> u64 {
        self.csv.line()
    }

    fn field_err(&self, col: usize, value: &str, expected: &'static str) -> RowError {
        RowError::Field {
            path: self.csv.path().to_path_buf(),
            line: self.line(),
            column: STREAM_COLUMNS[col].name,
            value: value.to_owned(),
            expected,
        }
    }

    fn num(&self, col: usize) -> Result<f64, RowError> {
        let s = self.rec.get(self.idx[col]).unwrap_or("").trim();
        match s.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(self.field_err(col, s, "a finite number")),
        }
    }

    fn parse(&self) -> Result<Observation, RowError> {
        let t_s = self.rec.get(self.idx[0]).unwrap_or("").trim();
        let t = t_s
            .parse::<i64>()
            .map_err(|_| self.field_err(0, t_s, "an integer time step"))?;
        let dev = self.rec.get(self.idx[1]).unwrap_or("").trim();
        if dev.is_empty() {
            return Err(self.field_err(1, dev, "a device id"));
        }
        let connections = self.num(2)?;
        let bytes = self.num(3)?;
        let p = self.rec.get(self.idx[4]).unwrap_or("").trim();
        let dst_port = p
            .parse::<u16>()
            .map_err(|_| self.field_err(4, p, "a port number (0-65535)"))?;
        let payload_entropy = self.num(5)?;
        let is_anom = match self.anom {
            None => None,
            Some(i) => {
                let v = self.rec.get(i).unwrap_or("").trim();
                Some(match v {
                    "1" | "true" | "True" | "1.0" => true,
                    "0" | "false" | "False" | "0.0" | "" => false,
                    _ => {
                        return Err(RowError::Field {
                            path: self.csv.path().to_path_buf(),
                            line: self.line(),
                            column: ANOM_COLUMN.name,
                            value: v.to_owned(),
                            expected: "0 or 1",
                        })
                    }
                })
            }
        };
        Ok(Observation {
            t,
            device_id: dev.to_owned(),
            connections,
            bytes,
            dst_port,
            payload_entropy,
            is_anom,
        })
    }
}

/// Settings of [`generate_stream`]; [`Default`] is the reference recipe.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRecipe {
    /// Devices.
    pub devices: usize,
    /// Time steps (one row per device per step).
    pub steps: usize,
    /// Probability that a row is an injected burst.
    pub anomaly_rate: f64,
}

impl Default for StreamRecipe {
    fn default() -> Self {
        Self {
            devices: 50,
            steps: 24 * 60,
            anomaly_rate: 0.0015,
        }
    }
}

/// Standard normal via the Marsaglia polar method.
fn std_normal(rng: &mut impl Rng) -> f64 {
    loop {
        let u = 2.0 * rng.random::<f64>() - 1.0;
        let v = 2.0 * rng.random::<f64>() - 1.0;
        let s = u * u + v * v;
        if s > 0.0 && s < 1.0 {
            return u * (-2.0 * s.ln() / s).sqrt();
        }
    }
}

/// Poisson variate by Knuth's product method (fine for small λ).
fn poisson(rng: &mut impl Rng, lambda: f64) -> u64 {
    let l = (-lambda).exp();
    let mut k = 0;
    let mut p = 1.0;
    loop {
        p *= rng.random::<f64>();
        if p <= l {
            return k;
        }
        k += 1;
    }
}

fn choose_weighted<T: Copy>(rng: &mut impl Rng, items: &[(T, f64)]) -> T {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for &(x, p) in items {
        acc += p;
        if u < acc {
            return x;
        }
    }
    items[items.len() - 1].0
}

/// Generate a labelled telemetry stream with the reference recipe, calling
/// `emit` for every row in time order (devices `dev-000`…, one row each per
/// step). Per row: connections ~ Poisson(8), bytes ~ max(0, N(80000, 25000)),
/// port from {22: .08, 80: .25, 443: .42, 53: .18, 445: .05, 3389: .02},
/// entropy ~ clip(N(3.8, 0.4), 0, 8); with probability `anomaly_rate` a burst:
/// +U{50..149} connections, bytes × U(2.5, 6), entropy + U(1, 2.5) (clipped),
/// port from {4444, 31337, 6667, 1337}. Same seed → same stream (ChaCha8; not
/// numpy's bit stream).
pub fn generate_stream(
    recipe: &StreamRecipe,
    seed: u64,
    mut emit: impl FnMut(&Observation) -> std::io::Result<()>,
) -> std::io::Result<()> {
    const PORTS: [(u16, f64); 6] = [
        (22, 0.08),
        (80, 0.25),
        (443, 0.42),
        (53, 0.18),
        (445, 0.05),
        (3389, 0.02),
    ];
    const BAD_PORTS: [u16; 4] = [4444, 31337, 6667, 1337];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let ids: Vec<String> = (0..recipe.devices).map(|i| format!("dev-{i:03}")).collect();
    let mut o = Observation {
        t: 0,
        device_id: String::new(),
        connections: 0.0,
        bytes: 0.0,
        dst_port: 0,
        payload_entropy: 0.0,
        is_anom: Some(false),
    };
    for t in 0..recipe.steps {
        for id in &ids {
            let mut conns = poisson(&mut rng, 8.0);
            let mut bytes = (80_000.0 + 25_000.0 * std_normal(&mut rng)).max(0.0);
            let mut port = choose_weighted(&mut rng, &PORTS);
            let mut entropy = (3.8 + 0.4 * std_normal(&mut rng)).clamp(0.0, 8.0);
            let mut anom = false;
            if rng.random::<f64>() < recipe.anomaly_rate {
                conns += rng.random_range(50..150);
                bytes *= rng.random_range(2.5..6.0);
                entropy = (entropy + rng.random_range(1.0..2.5)).clamp(0.0, 8.0);
                port = BAD_PORTS[rng.random_range(0..BAD_PORTS.len())];
                anom = true;
            }
            o.t = t as i64;
            o.device_id.clear();
            o.device_id.push_str(id);
            o.connections = conns as f64;
            o.bytes = bytes;
            o.dst_port = port;
            o.payload_entropy = entropy;
            o.is_anom = Some(anom);
            emit(&o)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(dev: &str, c: f64, b: f64, e: f64, port: u16) -> Observation {
        Observation {
            t: 0,
            device_id: dev.into(),
            connections: c,
            bytes: b,
            dst_port: port,
            payload_entropy: e,
            is_anom: None,
        }
    }

    #[test]
    fn rolling_stats_population_std_and_window() {
        let mut r = RollingStats::new(3);
        assert_eq!((r.mean(), r.std()), (0.0, 0.0));
        r.push(1.0);
        assert_eq!(r.std(), 0.0, "one value: std 0");
        r.push(3.0);
        assert_eq!(r.mean(), 2.0);
        assert_eq!(r.std(), 1.0, "ddof = 0");
        r.push(5.0);
        r.push(7.0); // drops 1
        assert_eq!(r.len(), 3);
        assert_eq!(r.mean(), 5.0);
        assert!((r.std() - (8.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn scores_before_update_and_first_rows_are_zero() {
        let mut s = Scorer::new(ZScoreConfig::default()).unwrap();
        assert_eq!(s.score(&obs("a", 100.0, 1e6, 7.0, 443)), 0.0);
        assert_eq!(s.score(&obs("a", 5.0, 10.0, 1.0, 443)), 0.0);
        // Window {100, 5}: mean 52.5, std 47.5 -> z(5) = 1 for conns.
        let sc = s.score(&obs("a", 5.0, 10.0, 1.0, 443));
        let expect = 0.55 * 1.0 + 0.35 * 1.0 + 0.15 * 1.0;
        assert!((sc - expect).abs() < 1e-12, "{sc}");
        // Rare port adds its weight even with no history; devices are separate.
        assert_eq!(s.score(&obs("b", 1.0, 1.0, 1.0, 4444)), 2.0);
        assert_eq!(s.devices(), 2);
    }

    #[test]
    fn numpy_linear_quantile() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_linear(&v, 0.5), Some(2.5));
        assert_eq!(quantile_linear(&v, 1.0), Some(4.0));
        assert_eq!(quantile_linear(&v, 0.0), Some(1.0));
        assert!((quantile_linear(&v, 0.9).unwrap() - 3.7).abs() < 1e-12);
        assert_eq!(quantile_linear(&[], 0.5), None);
        assert_eq!(quantile_linear(&v, 1.5), None);
    }

    #[test]
    fn exact_quantile_matches_sorted() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for n in [1usize, 2, 3, 10, 1001] {
            let v: Vec<f64> = (0..n).map(|_| rng.random::<f64>() * 100.0).collect();
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            for q in [0.0, 0.1, 0.5, 0.9, 0.999, 1.0] {
                let mut e = ExactQuantile::new(n, q).unwrap();
                v.iter().for_each(|&x| e.push(x));
                assert_eq!(e.value(), quantile_linear(&sorted, q), "n={n} q={q}");
            }
        }
        let mut e = ExactQuantile::new(3, 0.5).unwrap();
        e.push(1.0);
        assert_eq!(e.value(), None, "short stream");
    }

    #[test]
    fn median_sigma_mad_and_zero_mad_fallback() {
        let mut sc = Vec::new();
        let (m, s) = median_sigma([1.0, 2.0, 3.0, 4.0, 100.0].into_iter(), 0.0, &mut sc).unwrap();
        assert_eq!(m, 3.0);
        assert!((s - 1.4826).abs() < 1e-12, "MAD 1 despite the outlier: {s}");
        // MAD 0 (eight 8s, one 10, one 7): mean absolute deviation instead.
        let v = [8.0, 8.0, 8.0, 10.0, 8.0, 8.0, 8.0, 8.0, 7.0, 8.0];
        let (m, s) = median_sigma(v.into_iter(), 0.0, &mut sc).unwrap();
        assert_eq!(m, 8.0);
        assert!((s - 1.2533 * 0.3).abs() < 1e-12, "{s}");
        assert_eq!(median_sigma([5.0].into_iter(), 0.0, &mut sc), None);
    }

    #[test]
    fn robust_gate_keeps_bursts_out_of_baseline() {
        let cfg = ZScoreConfig {
            baseline: BaselineMode::Robust(RobustConfig {
                min_obs: 5,
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut s = Scorer::new(cfg).unwrap();
        for i in 0..20 {
            let v = 8.0 + (i % 3) as f64;
            s.score(&obs("a", v, 1000.0 + v, 3.8 + v / 100.0, 443));
        }
        let burst = s.score(&obs("a", 120.0, 5000.0, 6.0, 4444));
        assert!(burst > 8.0, "{burst}");
        assert_eq!(s.gated(), 1);
        // A second burst right after scores just as high: the first did not
        // widen sigma.
        let again = s.score(&obs("a", 120.0, 5000.0, 6.0, 4444));
        assert!((again - burst).abs() < 1e-9);
    }

    #[test]
    fn config_validation() {
        let bad = ZScoreConfig {
            window: 0,
            ..Default::default()
        };
        assert!(Scorer::new(bad).is_err());
        let bad = ZScoreConfig {
            w_bytes: f64::NAN,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        assert!(ExactQuantile::new(10, 1.1).is_err());
    }

    #[test]
    fn generator_is_seeded_and_follows_recipe() {
        let recipe = StreamRecipe {
            devices: 10,
            steps: 500,
            anomaly_rate: 0.01,
        };
        let mut a = Vec::new();
        generate_stream(&recipe, 3, |o| {
            a.push(o.clone());
            Ok(())
        })
        .unwrap();
        let mut b = Vec::new();
        generate_stream(&recipe, 3, |o| {
            b.push(o.clone());
            Ok(())
        })
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 5000);
        let normal: Vec<&Observation> = a.iter().filter(|o| o.is_anom == Some(false)).collect();
        let anom = a.len() - normal.len();
        assert!((20..=80).contains(&anom), "{anom}");
        let mean_c = normal.iter().map(|o| o.connections).sum::<f64>() / normal.len() as f64;
        assert!((mean_c - 8.0).abs() < 0.2, "{mean_c}");
        let mean_b = normal.iter().map(|o| o.bytes).sum::<f64>() / normal.len() as f64;
        assert!((mean_b - 80_000.0).abs() < 1500.0, "{mean_b}");
        assert!(normal
            .iter()
            .all(|o| DEFAULT_COMMON_PORTS.contains(&o.dst_port)));
        assert!(a
            .iter()
            .filter(|o| o.is_anom == Some(true))
            .all(|o| !DEFAULT_COMMON_PORTS.contains(&o.dst_port) && o.connections >= 50.0));
    }
}
