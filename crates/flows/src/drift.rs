//! Drift detection: ADWIN over a score stream (concept drift) and KL / L1
//! divergence between categorical distributions (data drift).
//!
//! # ADWIN
//!
//! [`Adwin`] is ADWIN2 (Bifet & Gavaldà, "Learning from Time-Changing Data with
//! Adaptive Windowing", SDM 2007). It keeps a window `W` of the most recent
//! values whose mean is statistically indistinguishable everywhere; when some
//! split `W = W0 · W1` (older · newer) has
//!
//! ```text
//! |μ̂(W0) − μ̂(W1)| ≥ ε_cut,   m = 1 / (1/n0 + 1/n1),   δ' = δ / ln n
//! ε_cut = sqrt(2/m · σ²_W · ln(2/δ')) + 2/(3m) · ln(2/δ')
//! ```
//!
//! (the paper's variance-based bound, σ²_W the population variance of `W`,
//! `n = |W|`), the oldest part is dropped and a [`DriftEvent`] is raised. The
//! window is stored as an exponential histogram: row `i` holds at most
//! `max_buckets` buckets of `2^i` values each (total and variance), so memory
//! is `O(max_buckets · log n)` and totals, means and variances stay exact
//! (buckets merge with the parallel-variance formula). Cut points are checked
//! at bucket boundaries every `clock` values, as in the paper's ADWIN2.
//!
//! # Divergence
//!
//! [`CategoryCounts`] counts a categorical column (UNSW `proto` / `state` /
//! `service`, DNS `qtype` / `rcode`) over a window; [`Divergence::between`]
//! compares a reference and a current window. Both are smoothed additively over
//! the union of their categories, `p(c) = (n(c) + α) / (N + α·K)`, so a category
//! unseen in either window keeps a finite KL. Reported:
//!
//! * `kl` = KL(current ‖ reference) = Σ p_cur · ln(p_cur / p_ref), **in nats**
//!   (divide by ln 2 for bits); 0 for identical distributions, not symmetric;
//! * `kl_reverse` = KL(reference ‖ current);
//! * `l1` = Σ |p_cur − p_ref|, in \[0, 2\] (twice the total-variation distance),
//!   symmetric.
//!
//! For the DNS side, [`dns_drift`] takes `(qtype, count)` and `(rcode, count)`
//! pairs of a reference and a current set of windows.

use std::collections::{BTreeMap, VecDeque};

/// Errors from drift parameters.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DriftError {
    /// A parameter is outside its valid range.
    #[error("bad drift parameter: {0}")]
    BadParam(String),
}

/// ADWIN parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdwinConfig {
    /// Confidence: the probability of a false cut per check is bounded by δ.
    /// Smaller is more conservative. Default 0.002.
    pub delta: f64,
    /// Buckets per histogram row before the two oldest merge (the paper's `M`). Default 5.
    pub max_buckets: usize,
    /// Check for a cut every this many values. Default 32.
    pub clock: u64,
    /// Neither sub-window of a cut may hold fewer values than this. Default 5.
    pub min_sub_window: u64,
    /// No check before the window holds this many values. Default 10.
    pub grace: u64,
}

impl Default for AdwinConfig {
    fn default() -> Self {
        Self {
            delta: 0.002,
            max_buckets: 5,
            clock: 32,
            min_sub_window: 5,
            grace: 10,
        }
    }
}

impl AdwinConfig {
    /// Checks the ranges: `0 < delta < 1`, `max_buckets ≥ 2`, `clock ≥ 1`, `min_sub_window ≥ 1`.
    pub fn validate(&self) -> Result<(), DriftError> {
        if !(self.delta > 0.0 && self.delta < 1.0) {
            return Err(DriftError::BadParam(format!(
                "delta {} must be strictly between 0 and 1",
                self.delta
            )));
        }
        if self.max_buckets < 2 {
            return Err(DriftError::BadParam(format!(
                "max_buckets {} must be at least 2",
                self.max_buckets
            )));
        }
        if self.clock == 0 || self.min_sub_window == 0 {
            return Err(DriftError::BadParam(
                "clock and min_sub_window must be at least 1".to_string(),
            ));
        }
        Ok(())
    }
}

/// A detected change of the stream mean.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct DriftEvent {
    /// 0-based index of the value whose insertion triggered the check.
    pub index: u64,
    /// Event time of that value, when the caller gave one (unit is the caller's).
    pub time: Option<f64>,
    /// Mean of the dropped (older) part of the window.
    pub old_mean: f64,
    /// Mean of the window kept (the newer part).
    pub new_mean: f64,
    /// Window width before the cut.
    pub width_before: u64,
    /// Window width after the cut.
    pub width: u64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    total: f64,
    /// Sum of squared deviations from the bucket mean.
    var: f64,
}

/// Streaming ADWIN2 detector (see the module docs).
#[derive(Debug, Clone)]
pub struct Adwin {
    cfg: AdwinConfig,
    /// `rows[i]`: buckets of `2^i` values, oldest at the front.
    rows: Vec<VecDeque<Bucket>>,
    width: u64,
    total: f64,
    /// Sum of squared deviations from the window mean.
    var: f64,
    seen: u64,
}

impl Adwin {
    /// A detector with `cfg` (validated).
    pub fn new(cfg: AdwinConfig) -> Result<Self, DriftError> {
        cfg.validate()?;
        Ok(Self {
            cfg,
            rows: Vec::new(),
            width: 0,
            total: 0.0,
            var: 0.0,
            seen: 0,
        })
    }

    /// A detector with default parameters and this `delta`.
    pub fn with_delta(delta: f64) -> Result<Self, DriftError> {
        Self::new(AdwinConfig {
            delta,
            ..AdwinConfig::default()
        })
    }

    /// Values in the current window.
    pub fn width(&self) -> u64 {
        self.width
    }

    /// Mean of the current window (`NaN` when empty).
    pub fn mean(&self) -> f64 {
        if self.width == 0 {
            f64::NAN
        } else {
            self.total / self.width as f64
        }
    }

    /// Population variance of the current window (`NaN` when empty).
    pub fn variance(&self) -> f64 {
        if self.width == 0 {
            f64::NAN
        } else {
            self.var / self.width as f64
        }
    }

    /// Values seen so far (including dropped ones).
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Buckets currently stored (the memory footprint).
    pub fn buckets(&self) -> usize {
        self.rows.iter().map(VecDeque::len).sum()
    }

    /// Adds a value (non-finite values are ignored and return `None`); returns
    /// the drift event if the window was cut.
    pub fn push(&mut self, x: f64) -> Option<DriftEvent> {
        self.push_at(x, None)
    }

    /// [`push`](Self::push) with the value's event time, copied into the event.
    pub fn push_at(&mut self, x: f64, time: Option<f64>) -> Option<DriftEvent> {
        if !x.is_finite() {
            return None;
        }
        let index = self.seen;
        self.seen += 1;
        self.insert(x);
        if self.seen % self.cfg.clock != 0 || self.width < self.cfg.grace {
            return None;
        }
        let width_before = self.width;
        let (total_before, _) = (self.total, self.var);
        let mut cut = false;
        while self.find_cut() {
            self.drop_oldest();
            cut = true;
        }
        if !cut {
            return None;
        }
        let dropped = width_before - self.width;
        Some(DriftEvent {
            index,
            time,
            old_mean: (total_before - self.total) / dropped as f64,
            new_mean: self.mean(),
            width_before,
            width: self.width,
        })
    }

    fn insert(&mut self, x: f64) {
        if self.width > 0 {
            let mean = self.total / self.width as f64;
            let n = self.width as f64;
            self.var += n * (x - mean) * (x - mean) / (n + 1.0);
        }
        self.width += 1;
        self.total += x;
        if self.rows.is_empty() {
            self.rows.push(VecDeque::new());
        }
        self.rows[0].push_back(Bucket { total: x, var: 0.0 });
        // compress: a row with more than max_buckets merges its two oldest
        let mut i = 0;
        while i < self.rows.len() && self.rows[i].len() > self.cfg.max_buckets {
            let (Some(a), Some(b)) = (self.rows[i].pop_front(), self.rows[i].pop_front()) else {
                break;
            };
            let n = (1u64 << i) as f64;
            let (ma, mb) = (a.total / n, b.total / n);
            let merged = Bucket {
                total: a.total + b.total,
                var: a.var + b.var + n * n / (2.0 * n) * (ma - mb) * (ma - mb),
            };
            if i + 1 == self.rows.len() {
                self.rows.push(VecDeque::new());
            }
            self.rows[i + 1].push_back(merged);
            i += 1;
        }
    }

    /// Whether some bucket boundary splits the window into two sub-windows with
    /// significantly different means.
    fn find_cut(&self) -> bool {
        let n = self.width as f64;
        if self.width < 2 * self.cfg.min_sub_window {
            return false;
        }
        let variance = self.var / n;
        let (mut n0, mut t0) = (0u64, 0.0f64);
        for (i, row) in self.rows.iter().enumerate().rev() {
            let size = 1u64 << i;
            for b in row {
                n0 += size;
                t0 += b.total;
                let n1 = self.width - n0;
                if n1 < self.cfg.min_sub_window {
                    return false;
                }
                if n0 < self.cfg.min_sub_window {
                    continue;
                }
                let t1 = self.total - t0;
                let diff = (t0 / n0 as f64 - t1 / n1 as f64).abs();
                if diff > epsilon_cut(n0, n1, variance, self.cfg.delta) {
                    return true;
                }
            }
        }
        false
    }

    fn drop_oldest(&mut self) {
        let Some(i) = self.rows.iter().rposition(|r| !r.is_empty()) else {
            return;
        };
        let Some(b) = self.rows[i].pop_front() else {
            return;
        };
        let nb = (1u64 << i) as f64;
        let rest = self.width - (1u64 << i);
        if rest == 0 {
            self.width = 0;
            self.total = 0.0;
            self.var = 0.0;
        } else {
            let nr = rest as f64;
            let rest_total = self.total - b.total;
            let (mb, mr) = (b.total / nb, rest_total / nr);
            self.var = (self.var - b.var - nb * nr / (nb + nr) * (mb - mr) * (mb - mr)).max(0.0);
            self.width = rest;
            self.total = rest_total;
        }
        while self.rows.last().is_some_and(VecDeque::is_empty) {
            self.rows.pop();
        }
    }
}

/// ADWIN's cut threshold for sub-windows of `n0` and `n1` values, window
/// population variance `variance` and confidence `delta` (formula in the module docs).
pub fn epsilon_cut(n0: u64, n1: u64, variance: f64, delta: f64) -> f64 {
    let n = (n0 + n1) as f64;
    let m = 1.0 / (1.0 / n0 as f64 + 1.0 / n1 as f64);
    let delta_prime = delta / n.ln().max(f64::MIN_POSITIVE);
    let l = (2.0 / delta_prime).ln();
    (2.0 / m * variance * l).sqrt() + 2.0 / (3.0 * m) * l
}

/// Counts of a categorical column over a window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CategoryCounts {
    counts: BTreeMap<String, u64>,
    total: u64,
}

impl CategoryCounts {
    /// Empty counts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts from `(category, count)` pairs (repeated categories add up);
    /// e.g. the qtype or rcode counts of a set of DNS windows.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, u64)>) -> Self {
        let mut c = Self::new();
        for (k, n) in pairs {
            c.add_n(k, n);
        }
        c
    }

    /// Counts one occurrence of `category`.
    pub fn add(&mut self, category: &str) {
        self.add_n(category, 1);
    }

    /// Counts `n` occurrences of `category`.
    pub fn add_n(&mut self, category: &str, n: u64) {
        if n == 0 {
            return;
        }
        *self.counts.entry(category.to_owned()).or_insert(0) += n;
        self.total += n;
    }

    /// Total count.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Count of one category.
    pub fn get(&self, category: &str) -> u64 {
        self.counts.get(category).copied().unwrap_or(0)
    }

    /// `(category, count)` in category order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.counts.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// The most frequent category (ties: the first in category order).
    pub fn top(&self) -> Option<(&str, u64)> {
        self.iter()
            .fold(None, |best: Option<(&str, u64)>, (k, v)| match best {
                Some((_, bv)) if bv >= v => best,
                _ => Some((k, v)),
            })
    }
}

/// One category's share in both windows (after smoothing).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CategoryShift {
    /// Category.
    pub category: String,
    /// Smoothed probability in the reference window.
    pub reference: f64,
    /// Smoothed probability in the current window.
    pub current: f64,
}

/// Divergence between a reference and a current window of one categorical column.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Divergence {
    /// KL(current ‖ reference) in nats.
    pub kl: f64,
    /// KL(reference ‖ current) in nats.
    pub kl_reverse: f64,
    /// Σ |p_cur − p_ref|, in \[0, 2\].
    pub l1: f64,
    /// Categories in the union of both windows.
    pub categories: usize,
    /// Observations in the reference window.
    pub reference_total: u64,
    /// Observations in the current window.
    pub current_total: u64,
    /// Categories sorted by |p_cur − p_ref|, largest first.
    pub shifts: Vec<CategoryShift>,
}

impl Divergence {
    /// Compares `reference` and `current` with additive smoothing `alpha` (1.0
    /// is Laplace smoothing). `alpha` must be finite and ≥ 0; with `alpha = 0`
    /// a category absent from one window makes the corresponding KL infinite.
    /// Both windows empty gives zeros.
    pub fn between(
        reference: &CategoryCounts,
        current: &CategoryCounts,
        alpha: f64,
    ) -> Result<Divergence, DriftError> {
        if !(alpha.is_finite() && alpha >= 0.0) {
            return Err(DriftError::BadParam(format!(
                "smoothing alpha {alpha} must be finite and >= 0"
            )));
        }
        let mut cats: Vec<&str> = reference.counts.keys().map(String::as_str).collect();
        for k in current.counts.keys() {
            if !reference.counts.contains_key(k) {
                cats.push(k);
            }
        }
        cats.sort_unstable();
        let k = cats.len() as f64;
        let smooth = |c: &CategoryCounts, cat: &str| {
            let den = c.total as f64 + alpha * k;
            if den == 0.0 {
                1.0 / k
            } else {
                (c.get(cat) as f64 + alpha) / den
            }
        };
        let mut p = Vec::with_capacity(cats.len());
        let mut q = Vec::with_capacity(cats.len());
        let mut shifts = Vec::with_capacity(cats.len());
        for cat in &cats {
            let (r, c) = (smooth(reference, cat), smooth(current, cat));
            q.push(r);
            p.push(c);
            shifts.push(CategoryShift {
                category: (*cat).to_owned(),
                reference: r,
                current: c,
            });
        }
        shifts.sort_by(|a, b| {
            (b.current - b.reference)
                .abs()
                .total_cmp(&(a.current - a.reference).abs())
                .then_with(|| a.category.cmp(&b.category))
        });
        Ok(Divergence {
            kl: kl_divergence(&p, &q),
            kl_reverse: kl_divergence(&q, &p),
            l1: l1_distance(&p, &q),
            categories: cats.len(),
            reference_total: reference.total,
            current_total: current.total,
            shifts,
        })
    }
}

/// KL(p ‖ q) = Σ p·ln(p/q) in nats over two probability vectors of equal
/// length (terms with p = 0 are 0; p > 0 with q = 0 gives +∞). Lengths that
/// differ give `NaN`.
pub fn kl_divergence(p: &[f64], q: &[f64]) -> f64 {
    if p.len() != q.len() {
        return f64::NAN;
    }
    p.iter()
        .zip(q)
        .map(|(&pi, &qi)| {
            if pi <= 0.0 {
                0.0
            } else if qi <= 0.0 {
                f64::INFINITY
            } else {
                pi * (pi / qi).ln()
            }
        })
        .sum::<f64>()
        .max(0.0)
}

/// Σ |p − q| over two probability vectors of equal length (`NaN` if they differ).
pub fn l1_distance(p: &[f64], q: &[f64]) -> f64 {
    if p.len() != q.len() {
        return f64::NAN;
    }
    p.iter().zip(q).map(|(a, b)| (a - b).abs()).sum()
}

/// Data drift of DNS traffic between a reference and a current set of windows.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DnsDrift {
    /// Divergence of the query-type mix.
    pub qtype: Divergence,
    /// Divergence of the response-code mix.
    pub rcode: Divergence,
}

/// Compares the qtype and rcode mixes of a reference and a current set of DNS
/// windows, each given as `(name, count)` pairs (e.g. `("A", 812)`,
/// `("NXDOMAIN", 40)`), with smoothing `alpha`.
pub fn dns_drift<'a>(
    reference_qtypes: impl IntoIterator<Item = (&'a str, u64)>,
    current_qtypes: impl IntoIterator<Item = (&'a str, u64)>,
    reference_rcodes: impl IntoIterator<Item = (&'a str, u64)>,
    current_rcodes: impl IntoIterator<Item = (&'a str, u64)>,
    alpha: f64,
) -> Result<DnsDrift, DriftError> {
    Ok(DnsDrift {
        qtype: Divergence::between(
            &CategoryCounts::from_pairs(reference_qtypes),
            &CategoryCounts::from_pairs(current_qtypes),
            alpha,
        )?,
        rcode: Divergence::between(
            &CategoryCounts::from_pairs(reference_rcodes),
            &CategoryCounts::from_pairs(current_rcodes),
            alpha,
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn kl_textbook_values() {
        // KL((0.5,0.5) || (0.9,0.1)) = 0.5·ln(0.5/0.9) + 0.5·ln(0.5/0.1) = 0.5108 nats
        let kl = kl_divergence(&[0.5, 0.5], &[0.9, 0.1]);
        assert!(close(kl, 0.510_825_6, 1e-6), "{kl}");
        // reverse direction: 0.9·ln(1.8) + 0.1·ln(0.2) = 0.3681 nats
        let kl = kl_divergence(&[0.9, 0.1], &[0.5, 0.5]);
        assert!(close(kl, 0.368_064, 1e-6), "{kl}");
        // in bits: 0.5108 / ln 2 = 0.7370
        assert!(close(
            kl_divergence(&[0.5, 0.5], &[0.9, 0.1]) / std::f64::consts::LN_2,
            0.736_966,
            1e-6
        ));
        assert_eq!(kl_divergence(&[1.0, 0.0], &[0.0, 1.0]), f64::INFINITY);
        assert!(kl_divergence(&[1.0], &[0.5, 0.5]).is_nan());
        assert!(close(l1_distance(&[0.5, 0.5], &[0.9, 0.1]), 0.8, 1e-12));
    }

    #[test]
    fn counts_without_smoothing_match_probabilities() {
        let r = CategoryCounts::from_pairs([("tcp", 9), ("udp", 1)]);
        let c = CategoryCounts::from_pairs([("tcp", 5), ("udp", 5)]);
        let d = Divergence::between(&r, &c, 0.0).unwrap();
        assert!(close(d.kl, 0.510_825_6, 1e-6), "{}", d.kl);
        assert!(close(d.kl_reverse, 0.368_064, 1e-6));
        assert!(close(d.l1, 0.8, 1e-12));
        assert_eq!(d.categories, 2);
        assert_eq!(d.reference_total, 10);
    }

    #[test]
    fn identical_is_zero_and_l1_is_symmetric() {
        let a = CategoryCounts::from_pairs([("A", 80), ("AAAA", 15), ("TXT", 5)]);
        let b = CategoryCounts::from_pairs([("AAAA", 30), ("TXT", 60), ("MX", 10)]);
        let same = Divergence::between(&a, &a, 1.0).unwrap();
        assert_eq!(same.kl, 0.0);
        assert_eq!(same.l1, 0.0);
        let ab = Divergence::between(&a, &b, 1.0).unwrap();
        let ba = Divergence::between(&b, &a, 1.0).unwrap();
        assert!(close(ab.l1, ba.l1, 1e-12));
        assert!(close(ab.kl, ba.kl_reverse, 1e-12));
        assert!(ab.kl > 0.5 && ab.kl.is_finite());
        // scaling both windows' counts leaves unsmoothed divergence unchanged
        let a2 = CategoryCounts::from_pairs(a.iter().map(|(k, v)| (k, 3 * v)));
        let d1 = Divergence::between(&a, &b, 0.0).unwrap();
        let d2 = Divergence::between(&a2, &b, 0.0).unwrap();
        assert!(close(d1.l1, d2.l1, 1e-12));
    }

    #[test]
    fn laplace_smoothing_keeps_unseen_categories_finite() {
        // reference has no "MX", current has no "A"
        let r = CategoryCounts::from_pairs([("A", 2), ("AAAA", 1)]);
        let c = CategoryCounts::from_pairs([("AAAA", 1), ("MX", 2)]);
        let d = Divergence::between(&r, &c, 1.0).unwrap();
        // smoothed over {A, AAAA, MX}: ref (3,2,1)/6, cur (1,2,3)/6
        let p: [f64; 3] = [1.0 / 6.0, 2.0 / 6.0, 3.0 / 6.0];
        let q = [3.0 / 6.0, 2.0 / 6.0, 1.0 / 6.0];
        let expect = p[0] * (p[0] / q[0]).ln() + p[2] * (p[2] / q[2]).ln();
        assert!(close(d.kl, expect, 1e-12), "{} vs {expect}", d.kl);
        assert!(close(d.kl, 3.0f64.ln() / 3.0, 1e-12));
        assert!(close(d.l1, 4.0 / 6.0, 1e-12));
        // symmetric case: swapped windows give the same KL here
        assert!(close(d.kl, d.kl_reverse, 1e-12));
        assert_eq!(d.shifts.len(), 3);
        assert_eq!(d.shifts[2].category, "AAAA");
        let raw = Divergence::between(&r, &c, 0.0).unwrap();
        assert_eq!(raw.kl, f64::INFINITY);
        assert!(Divergence::between(&r, &c, -1.0).is_err());
        assert!(Divergence::between(&r, &c, f64::NAN).is_err());
        let empty = Divergence::between(&CategoryCounts::new(), &CategoryCounts::new(), 1.0);
        assert_eq!(empty.unwrap().kl, 0.0);
    }

    #[test]
    fn dns_drift_sees_an_rcode_shift() {
        let q = [("A", 800u64), ("AAAA", 150), ("TXT", 10)];
        let d = dns_drift(
            q,
            q,
            [("NOERROR", 950u64), ("NXDOMAIN", 10)],
            [("NOERROR", 500u64), ("NXDOMAIN", 460)],
            1.0,
        )
        .unwrap();
        assert_eq!(d.qtype.kl, 0.0);
        assert!(d.rcode.kl > 0.3, "{}", d.rcode.kl);
        assert_eq!(d.rcode.shifts[0].category, "NOERROR");
    }

    #[test]
    fn top_category() {
        let c = CategoryCounts::from_pairs([("udp", 3), ("tcp", 3), ("arp", 1)]);
        assert_eq!(c.top(), Some(("tcp", 3)));
        assert_eq!(CategoryCounts::new().top(), None);
    }

    #[test]
    fn epsilon_known_answer() {
        // n0 = n1 = 100: m = 50, δ' = 0.002 / ln 200, ln(2/δ') = ln(1000·ln 200)
        let l = (1000.0 * 200f64.ln()).ln();
        let expect = (2.0 / 50.0 * 0.25 * l).sqrt() + 2.0 / 150.0 * l;
        let e = epsilon_cut(100, 100, 0.25, 0.002);
        assert!(close(e, expect, 1e-12), "{e} vs {expect}");
        assert!(close(e, 0.4072, 1e-4), "{e}");
        // more data, tighter bound; smaller delta, looser bound
        assert!(epsilon_cut(1000, 1000, 0.25, 0.002) < e);
        assert!(epsilon_cut(100, 100, 0.25, 0.0001) > e);
    }

    #[test]
    fn window_statistics_are_exact() {
        let mut a = Adwin::new(AdwinConfig {
            clock: u64::MAX,
            ..AdwinConfig::default()
        })
        .unwrap();
        for i in 1..=100 {
            assert!(a.push(i as f64).is_none());
        }
        assert_eq!(a.width(), 100);
        assert!(close(a.mean(), 50.5, 1e-12));
        // Σ (i − 50.5)² = n(n² − 1)/12 = 83325
        assert!(close(a.variance() * 100.0, 83_325.0, 1e-6));
        assert!(a.push(f64::NAN).is_none());
        assert_eq!(a.seen(), 100);
    }

    #[test]
    fn memory_is_logarithmic() {
        let mut a = Adwin::with_delta(0.002).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..100_000 {
            a.push(rng.random::<f64>());
        }
        // at most M buckets per row, rows = ⌈log2(n/M)⌉ + 1
        let bound = 5 * (((a.width() as f64) / 5.0).log2().ceil() as usize + 1);
        assert!(a.buckets() <= bound, "{} > {bound}", a.buckets());
        assert!(a.buckets() < 100);
    }

    fn bernoulli_stream(seed: u64, n: usize, p: f64) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| f64::from(u8::from(rng.random::<f64>() < p)))
            .collect()
    }

    #[test]
    fn no_false_drift_on_a_long_stationary_stream() {
        for (seed, p) in [(7u64, 0.2), (8, 0.5)] {
            let mut a = Adwin::with_delta(0.002).unwrap();
            let events: Vec<_> = bernoulli_stream(seed, 100_000, p)
                .into_iter()
                .filter_map(|x| a.push(x))
                .collect();
            assert!(events.is_empty(), "seed {seed}: {events:?}");
            assert_eq!(a.width(), 100_000);
        }
    }

    #[test]
    fn detects_a_mean_shift_within_a_bounded_delay() {
        let mut s = bernoulli_stream(11, 5_000, 0.2);
        s.extend(bernoulli_stream(12, 5_000, 0.8));
        let mut a = Adwin::with_delta(0.002).unwrap();
        let events: Vec<DriftEvent> = s
            .iter()
            .enumerate()
            .filter_map(|(i, &x)| a.push_at(x, Some(i as f64)))
            .collect();
        assert!(!events.is_empty());
        let first = events[0];
        assert!(
            first.index >= 5_000,
            "false drift before the shift: {first:?}"
        );
        assert!(first.index < 5_000 + 128, "late: {first:?}");
        assert_eq!(first.time, Some(first.index as f64));
        assert!(first.old_mean < 0.35 && first.new_mean > first.old_mean);
        assert!(first.width < first.width_before);
        // after the cuts the window holds (mostly) the new regime
        assert!(close(a.mean(), 0.8, 0.05), "{}", a.mean());
        assert!(a.width() < 6_000);
    }

    #[test]
    fn detects_a_downward_shift_in_gaussian_scores() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut a = Adwin::with_delta(0.002).unwrap();
        let mut first = None;
        for i in 0..4_000u64 {
            let mu = if i < 2_000 { 0.7 } else { 0.5 };
            let noise: f64 = (0..12).map(|_| rng.random::<f64>()).sum::<f64>() - 6.0;
            if let Some(e) = a.push(mu + 0.1 * noise) {
                first.get_or_insert(e);
            }
        }
        let e = first.expect("drift detected");
        assert!((2_000..2_000 + 160).contains(&e.index), "{e:?}");
        assert!(e.old_mean > e.new_mean);
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(Adwin::with_delta(0.0).is_err());
        assert!(Adwin::with_delta(1.0).is_err());
        assert!(Adwin::with_delta(f64::NAN).is_err());
        assert!(Adwin::new(AdwinConfig {
            max_buckets: 1,
            ..AdwinConfig::default()
        })
        .is_err());
    }
}
