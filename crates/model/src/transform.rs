//! Per-feature training statistics ([`FeatureStats`]) and the raw-feature →
//! forest-input transform ([`FeatureTransform`]).
//!
//! # Why a transform
//!
//! The axis-parallel isolation forest is scale-invariant, but the extended forest
//! mixes coordinates in `n·x`, so a feature measured in thousands (bytes, query
//! counts) would dominate one measured in [0, 1] (ratios). Each feature is
//! therefore put on a common robust scale before fitting and scoring.
//!
//! # The transform, per feature
//!
//! 1. optional compression: `v = sign(x)·ln(1 + |x|)` when the feature is flagged
//!    `log1p` (counts, rates, byte totals: heavy right tails); identity otherwise.
//!    The signed form keeps the map total and monotone on negative inputs;
//! 2. robust z: `z = (v − center) / scale`, where on the *training* values of `v`
//!    `center = median` and `scale` is the first positive of
//!    `1.4826·MAD`, `IQR / 1.349`, `1.2533·mean|v − median|` (all three are
//!    consistent estimators of σ for normal data; the fall-backs matter for
//!    mostly-zero DNS counters whose MAD and IQR are 0), floored at
//!    `1e-6·max(1, |center|)` for constant features;
//! 3. clip to `±clip` (`clip` = [`Z_CLIP`] = 10): beyond ten robust σ a window
//!    is isolated at the first relevant split anyway, and clipping keeps one
//!    absurd counter from flattening every other coordinate of the hyperplanes.
//!
//! Non-finite inputs: NaN maps to `z = 0` (the training median: "no evidence"),
//! `±∞` to `±clip`.
//!
//! [`FeatureStats`] are of the **raw** training values (before step 1) and are
//! informational: they let reports say "NXDOMAIN ratio 0.62, training p99 0.04".

use serde::{Deserialize, Serialize};

/// Clip applied to transformed values, in robust standard deviations.
pub const Z_CLIP: f64 = 10.0;

/// Gaussian-consistency factor for the median absolute deviation.
pub const MAD_TO_SIGMA: f64 = 1.4826;

/// Summary of one feature's raw training values (quantiles by linear
/// interpolation between order statistics, "type 7").
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FeatureStats {
    /// Median.
    pub median: f64,
    /// Median absolute deviation from the median (unscaled).
    pub mad: f64,
    /// 1st percentile.
    pub q01: f64,
    /// 5th percentile.
    pub q05: f64,
    /// 25th percentile.
    pub q25: f64,
    /// 75th percentile.
    pub q75: f64,
    /// 95th percentile.
    pub q95: f64,
    /// 99th percentile.
    pub q99: f64,
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

/// Quantile `q ∈ [0, 1]` of ascending `sorted` by linear interpolation; 0 if empty.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return 0.0;
    }
    let h = (n - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    let (a, b) = (sorted[lo.min(n - 1)], sorted[hi]);
    a + (h - lo as f64) * (b - a)
}

/// Sorts a copy ascending (total order; callers pass finite values).
pub(crate) fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

/// Median absolute deviation of ascending `sorted` around `median`.
fn mad(sorted: &[f64], median: f64) -> f64 {
    let dev: Vec<f64> = self::sorted(
        &sorted
            .iter()
            .map(|v| (v - median).abs())
            .collect::<Vec<_>>(),
    );
    quantile_sorted(&dev, 0.5)
}

impl FeatureStats {
    /// Statistics of finite `values` (all zero when empty).
    pub fn from_values(values: &[f64]) -> Self {
        let s = sorted(values);
        let q = |p| quantile_sorted(&s, p);
        let median = q(0.5);
        FeatureStats {
            median,
            mad: mad(&s, median),
            q01: q(0.01),
            q05: q(0.05),
            q25: q(0.25),
            q75: q(0.75),
            q95: q(0.95),
            q99: q(0.99),
            min: s.first().copied().unwrap_or(0.0),
            max: s.last().copied().unwrap_or(0.0),
            mean: if s.is_empty() {
                0.0
            } else {
                s.iter().sum::<f64>() / s.len() as f64
            },
        }
    }

    /// All fields finite and quantiles ordered.
    pub fn is_valid(&self) -> bool {
        let all = [
            self.median,
            self.mad,
            self.q01,
            self.q05,
            self.q25,
            self.q75,
            self.q95,
            self.q99,
            self.min,
            self.max,
            self.mean,
        ];
        all.iter().all(|v| v.is_finite())
            && self.mad >= 0.0
            && self.min <= self.q01
            && self.q01 <= self.q05
            && self.q05 <= self.q25
            && self.q25 <= self.median
            && self.median <= self.q75
            && self.q75 <= self.q95
            && self.q95 <= self.q99
            && self.q99 <= self.max
    }
}

/// How one raw feature becomes a forest input coordinate (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FeatureTransform {
    /// Apply the signed `ln(1 + |x|)` before standardising.
    pub log1p: bool,
    /// Median of the (compressed) training values.
    pub center: f64,
    /// Robust scale of the (compressed) training values; > 0.
    pub scale: f64,
    /// Symmetric clip of the standardised value; > 0.
    pub clip: f64,
}

impl FeatureTransform {
    /// Fits the transform on one column of finite raw training values.
    pub fn fit(raw: &[f64], log1p: bool) -> Self {
        let compressed: Vec<f64> = raw.iter().map(|&x| compress(x, log1p)).collect();
        let s = sorted(&compressed);
        let center = quantile_sorted(&s, 0.5);
        let mad_sigma = MAD_TO_SIGMA * mad(&s, center);
        let iqr_sigma = (quantile_sorted(&s, 0.75) - quantile_sorted(&s, 0.25)) / 1.349;
        let meanad_sigma = if s.is_empty() {
            0.0
        } else {
            1.2533 * s.iter().map(|v| (v - center).abs()).sum::<f64>() / s.len() as f64
        };
        let floor = 1e-6 * center.abs().max(1.0);
        let scale = [mad_sigma, iqr_sigma, meanad_sigma]
            .into_iter()
            .find(|v| *v > 0.0 && v.is_finite())
            .unwrap_or(floor)
            .max(floor);
        FeatureTransform {
            log1p,
            center,
            scale,
            clip: Z_CLIP,
        }
    }

    /// Unclipped robust z of a raw value (NaN → 0).
    #[inline]
    pub fn z(&self, x: f64) -> f64 {
        if x.is_nan() {
            return 0.0;
        }
        (compress(x, self.log1p) - self.center) / self.scale
    }

    /// Forest input for a raw value: [`z`](Self::z) clipped to `±clip`.
    #[inline]
    pub fn apply(&self, x: f64) -> f64 {
        let z = self.z(x);
        if z.is_nan() {
            // ∞ − ∞ cannot occur with a finite center; kept total anyway.
            0.0
        } else {
            z.clamp(-self.clip, self.clip)
        }
    }

    /// Center and scale finite, scale and clip positive.
    pub fn is_valid(&self) -> bool {
        self.center.is_finite()
            && self.scale.is_finite()
            && self.scale > 0.0
            && self.clip.is_finite()
            && self.clip > 0.0
    }
}

/// Step 1 of the transform: signed `ln(1 + |x|)` or identity.
#[inline]
fn compress(x: f64, log1p: bool) -> f64 {
    if log1p {
        x.signum() * x.abs().ln_1p()
    } else {
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&s, 0.0), 1.0);
        assert_eq!(quantile_sorted(&s, 1.0), 4.0);
        assert_eq!(quantile_sorted(&s, 0.5), 2.5);
        assert_eq!(quantile_sorted(&[], 0.5), 0.0);
        assert_eq!(quantile_sorted(&[7.0], 0.3), 7.0);
    }

    #[test]
    fn stats_of_known_column() {
        let v: Vec<f64> = (0..=100).map(f64::from).collect();
        let s = FeatureStats::from_values(&v);
        assert_eq!((s.median, s.min, s.max, s.mean), (50.0, 0.0, 100.0, 50.0));
        assert_eq!((s.q01, s.q25, s.q99), (1.0, 25.0, 99.0));
        assert_eq!(s.mad, 25.0);
        assert!(s.is_valid());
    }

    #[test]
    fn robust_z_and_clip() {
        let v: Vec<f64> = (0..=100).map(f64::from).collect();
        let t = FeatureTransform::fit(&v, false);
        assert_eq!(t.center, 50.0);
        assert!((t.scale - 1.4826 * 25.0).abs() < 1e-9);
        assert_eq!(t.z(50.0), 0.0);
        assert_eq!(t.apply(1e12), Z_CLIP);
        assert_eq!(t.apply(f64::NEG_INFINITY), -Z_CLIP);
        assert_eq!(t.apply(f64::NAN), 0.0);
        assert!(t.is_valid());
    }

    #[test]
    fn mostly_zero_counter_falls_back_to_mean_abs_dev() {
        let mut v = vec![0.0; 99];
        v.push(1.0);
        let t = FeatureTransform::fit(&v, false);
        assert_eq!(t.center, 0.0);
        assert!((t.scale - 1.2533 * 0.01).abs() < 1e-12, "{}", t.scale);
        assert!(t.apply(1.0) > 5.0);
    }

    #[test]
    fn constant_feature_uses_floor() {
        let t = FeatureTransform::fit(&[3.0; 10], false);
        assert!(t.scale > 0.0 && t.scale <= 3e-6);
        assert_eq!(t.apply(3.0), 0.0);
        assert_eq!(t.apply(4.0), Z_CLIP);
    }

    #[test]
    fn log1p_compresses_heavy_tails() {
        let v: Vec<f64> = (0..1000).map(|i| f64::from(i % 10)).collect();
        let t = FeatureTransform::fit(&v, true);
        assert!(t.log1p);
        assert!((t.center - 4.5f64.ln_1p()).abs() < 0.2);
        assert!(t.z(1e6) < 50.0, "log keeps huge counts finite and moderate");
        assert!(t.z(-5.0) < t.z(0.0), "signed log1p stays monotone");
    }
}
