//! [`Calibration`]: maps the raw EIF score to the calibrated score in [0, 1]
//! that reports and thresholds use.
//!
//! Raw isolation scores are hard to read: ≈ 0.5 is "average", the usable range
//! depends on ψ and on the data, and the top is `2^(−1/c(ψ))` (≈ 0.935 for ψ =
//! 256), not 1. The calibrated score pins a few meaningful points instead.
//!
//! # Formula
//!
//! From the **out-of-bag** raw scores `r_i` of the training windows (each row
//! scored only by the trees whose subsample did not contain it, see
//! [`crate::forest::ExtendedIsolationForest::fit_with_oob_scores`]):
//!
//! | raw anchor | meaning | calibrated |
//! |---|---|---|
//! | `0` | (unreachable) | `0` |
//! | `a = median(r_i)` | a typical training window | `0.20` |
//! | `b = quantile(r_i, 0.999)` | rarer than 99.9 % of training windows | `0.45` |
//! | `c = min(max(r_i), (b + m) / 2)`, `m = 2^(−1/c(ψ))` | more isolated than every training window (capped halfway to a point isolated at the first split of every tree, `E[h] = 1`) | `0.75` |
//! | `1` | (unreachable) | `1` |
//!
//! and the calibrated score is the **piecewise-linear interpolation** through
//! `(0, 0), (a, 0.2), (b, 0.45), (c, 0.75), (1, 1)`, with the raw score clamped
//! to [0, 1] first. Quantiles interpolate linearly between order statistics.
//! The knots are made strictly increasing (each at least `1e-9` above the
//! previous; a training set where that is impossible is rejected), so the map is
//! strictly monotone: ranking by calibrated score equals ranking by raw score.
//! With the default thresholds (0.45 / 0.75) about 0.1 % of training windows are
//! "Unusual" (≈ 0.3 false alerts per host-day at 288 windows a day), and a
//! window is "Likely Compromise" only when it is more isolated than anything in
//! the (benign) training data;
//! [`crate::bundle::Bundle::calibrate_thresholds`] re-targets that rate on
//! held-out windows.
//!
//! In practice a new window outside the training data's hull scores like the
//! most extreme training windows in that direction (intercepts are drawn inside
//! the data's bounding box), so raw scores well above `b` are rare and the 0.75
//! point, which sits halfway to the theoretical maximum, marks windows isolated
//! far beyond the 0.5 % cut-off (the bundle tests see novel far-out windows
//! land between 0.45 and 0.75).

use serde::{Deserialize, Serialize};

use super::error::ModelError;
use super::transform::{quantile_sorted, sorted};

/// Quantiles of the training raw scores kept in [`Calibration::raw_quantiles`].
pub const RAW_QUANTILE_LEVELS: [f64; 11] = [
    0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99, 0.995, 0.999,
];
/// Calibrated score of the training median.
pub const MEDIAN_SCORE: f64 = 0.20;
/// Training quantile that maps to [`UNUSUAL_SCORE`].
pub const UNUSUAL_QUANTILE: f64 = 1.0 - 0.001;
/// Calibrated score at the [`UNUSUAL_QUANTILE`] of training raw scores.
pub const UNUSUAL_SCORE: f64 = 0.45;
/// Calibrated score halfway (in raw score) between that quantile and maximal isolation.
pub const LIKELY_SCORE: f64 = 0.75;
/// Minimum spacing between raw knots.
const KNOT_GAP: f64 = 1e-9;

/// Raw-score → calibrated-score map (see the module docs for the formula).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// `(q, raw score)` quantiles of the training windows' raw scores, at
    /// [`RAW_QUANTILE_LEVELS`] (informational, and for drift checks).
    pub raw_quantiles: Vec<(f64, f64)>,
    /// Raw score of a maximally isolated point, `2^(−1/c(ψ))`.
    pub max_isolation_raw: f64,
    /// `(raw, calibrated)` knots of the piecewise-linear map, strictly increasing
    /// in both coordinates, from `(0, 0)` to `(1, 1)`.
    pub knots: Vec<(f64, f64)>,
}

impl Calibration {
    /// Builds the map from the training windows' raw scores and the forest's
    /// maximal-isolation raw score.
    pub fn from_training_scores(
        raw_scores: &[f64],
        max_isolation_raw: f64,
    ) -> Result<Self, ModelError> {
        if raw_scores.is_empty() || raw_scores.iter().any(|r| !r.is_finite()) {
            return Err(ModelError::BadData(
                "calibration needs at least one finite training score".to_string(),
            ));
        }
        let s = sorted(raw_scores);
        let raw_quantiles: Vec<(f64, f64)> = RAW_QUANTILE_LEVELS
            .iter()
            .map(|&q| (q, quantile_sorted(&s, q)))
            .collect();
        let a = quantile_sorted(&s, 0.5).max(KNOT_GAP);
        let b = quantile_sorted(&s, UNUSUAL_QUANTILE).max(a + KNOT_GAP);
        // Likely Compromise: more isolated than every training window (the
        // largest out-of-bag score), but never beyond maximal isolation.
        let m = max_isolation_raw.clamp(b, 1.0);
        let top = s.last().copied().unwrap_or(b);
        let c = top.min((b + m) / 2.0).max(b + KNOT_GAP);
        let knots = vec![
            (0.0, 0.0),
            (a, MEDIAN_SCORE),
            (b, UNUSUAL_SCORE),
            (c, LIKELY_SCORE),
            (1.0, 1.0),
        ];
        let cal = Calibration {
            raw_quantiles,
            max_isolation_raw,
            knots,
        };
        cal.validate().map_err(|e| {
            ModelError::BadData(format!(
                "training scores too degenerate to calibrate (median {a}, q99.5 {b}): {e}"
            ))
        })?;
        Ok(cal)
    }

    /// Calibrated score of a raw score (clamped to [0, 1]; NaN → 0).
    /// Allocation-free; strictly increasing on [0, 1] for a validated map.
    pub fn apply(&self, raw: f64) -> f64 {
        if raw.is_nan() {
            return 0.0;
        }
        let r = raw.clamp(0.0, 1.0);
        let mut prev = (0.0, 0.0);
        for &(x, y) in &self.knots {
            if r <= x {
                let span = x - prev.0;
                if span <= 0.0 {
                    return y;
                }
                return prev.1 + (r - prev.0) / span * (y - prev.1);
            }
            prev = (x, y);
        }
        prev.1
    }

    /// The raw score that maps to calibrated `score` (inverse of [`apply`](Self::apply)).
    pub fn inverse(&self, score: f64) -> f64 {
        let s = score.clamp(0.0, 1.0);
        let mut prev = (0.0, 0.0);
        for &(x, y) in &self.knots {
            if s <= y {
                let span = y - prev.1;
                if span <= 0.0 {
                    return x;
                }
                return prev.0 + (s - prev.1) / span * (x - prev.0);
            }
            prev = (x, y);
        }
        prev.0
    }

    /// Knots finite, from (0, 0) to (1, 1), strictly increasing in both
    /// coordinates; raw quantiles finite, in [0, 1], non-decreasing.
    pub fn validate(&self) -> Result<(), ModelError> {
        let inv = |m: String| Err(ModelError::Invalid(format!("calibration: {m}")));
        if self.knots.len() < 2 || self.knots.len() > 64 {
            return inv(format!("{} knots (2 to 64)", self.knots.len()));
        }
        if self.knots.first() != Some(&(0.0, 0.0)) || self.knots.last() != Some(&(1.0, 1.0)) {
            return inv("knots must run from (0, 0) to (1, 1)".to_string());
        }
        for (i, w) in self.knots.windows(2).enumerate() {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            if !(x0.is_finite() && y0.is_finite() && x1.is_finite() && y1.is_finite()) {
                return inv(format!("knot {} is not finite", i + 1));
            }
            if x1 <= x0 || y1 <= y0 {
                return inv(format!(
                    "not monotone between knot {i} ({x0}, {y0}) and knot {} ({x1}, {y1})",
                    i + 1
                ));
            }
        }
        if !(self.max_isolation_raw > 0.0 && self.max_isolation_raw <= 1.0) {
            return inv(format!(
                "max isolation raw score {} outside (0, 1]",
                self.max_isolation_raw
            ));
        }
        if self.raw_quantiles.len() > 1024 {
            return inv(format!("{} raw quantiles", self.raw_quantiles.len()));
        }
        let mut prev = (0.0, 0.0);
        for &(q, r) in &self.raw_quantiles {
            if !(0.0..=1.0).contains(&q) || !(0.0..=1.0).contains(&r) || q < prev.0 || r < prev.1 {
                return inv(format!(
                    "raw quantile ({q}, {r}) out of range or out of order"
                ));
            }
            prev = (q, r);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal() -> Calibration {
        let scores: Vec<f64> = (0..1000)
            .map(|i| 0.35 + 0.2 * f64::from(i) / 1000.0)
            .collect();
        Calibration::from_training_scores(&scores, 0.935).unwrap()
    }

    #[test]
    fn anchors_land_where_documented() {
        let c = cal();
        let (a, b) = (c.knots[1].0, c.knots[2].0);
        assert!((c.apply(a) - 0.2).abs() < 1e-12);
        assert!((c.apply(b) - 0.45).abs() < 1e-12);
        // Likely: the largest training score (0.5498), below the halfway cap.
        let top = 0.35 + 0.2 * 999.0 / 1000.0;
        assert!((c.apply(top) - 0.75).abs() < 1e-12);
        assert!(top < (b + 0.935) / 2.0);
        assert_eq!(c.apply(1.0), 1.0);
        assert_eq!(c.apply(0.0), 0.0);
        assert_eq!(c.apply(f64::NAN), 0.0);
        assert_eq!(c.apply(7.0), 1.0);
    }

    #[test]
    fn strictly_monotone_and_invertible() {
        let c = cal();
        let mut prev = -1.0;
        for i in 0..=10_000 {
            let r = f64::from(i) / 10_000.0;
            let s = c.apply(r);
            assert!(s > prev, "not increasing at {r}");
            assert!((c.inverse(s) - r).abs() < 1e-9);
            prev = s;
        }
    }

    #[test]
    fn ties_still_give_strict_knots() {
        let c = Calibration::from_training_scores(&[0.4; 50], 0.9).unwrap();
        c.validate().unwrap();
        assert!(c.apply(0.4) <= 0.45 && c.apply(0.41) > 0.45);
    }

    #[test]
    fn validate_rejects_broken_maps() {
        let mut c = cal();
        c.knots.swap(1, 2);
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("not monotone"));
        let mut c = cal();
        c.knots[2].1 = f64::NAN;
        assert!(c.validate().is_err());
        let mut c = cal();
        c.knots.pop();
        assert!(c.validate().is_err());
        let mut c = cal();
        c.raw_quantiles.reverse();
        assert!(c.validate().is_err());
        assert!(Calibration::from_training_scores(&[], 0.9).is_err());
    }
}
