//! Classification metrics: confusion matrix, precision / recall / F1, average
//! precision (PR-AUC) and Mann–Whitney ROC-AUC.
//!
//! All functions are total: degenerate inputs give `NaN` for undefined ratios, never a
//! panic. Scores are sanitised by [`rank_score`] before ranking so that `NaN` or
//! out-of-range scores cannot break the sort.

/// Confusion-matrix counts (the DNS evaluation and the flow detectors share it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Confusion {
    /// Flagged positives.
    pub tp: usize,
    /// Flagged negatives.
    pub fp: usize,
    /// Unflagged negatives.
    pub tn: usize,
    /// Unflagged positives.
    pub fn_: usize,
}

impl Confusion {
    /// Count one window.
    pub fn add(&mut self, positive: bool, flagged: bool) {
        match (positive, flagged) {
            (true, true) => self.tp += 1,
            (true, false) => self.fn_ += 1,
            (false, true) => self.fp += 1,
            (false, false) => self.tn += 1,
        }
    }

    /// TP / (TP + FP), `NaN` when nothing was flagged.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// TP / (TP + FN), `NaN` when there are no positives.
    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// 2·TP / (2·TP + FP + FN), `NaN` when there are neither positives nor flags.
    pub fn f1(&self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }
}

/// `num / den`, or `NaN` when `den` is zero.
pub fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        f64::NAN
    } else {
        num as f64 / den as f64
    }
}

/// The score used for ranking: `NaN` becomes 0.0, everything else is clamped to
/// \[0, 1\].
pub fn rank_score(s: f64) -> f64 {
    if s.is_nan() {
        0.0
    } else {
        s.clamp(0.0, 1.0)
    }
}

/// Average precision as scikit-learn's `average_precision_score`:
/// Σ (R<sub>n</sub> − R<sub>n−1</sub>)·P<sub>n</sub> over distinct thresholds in
/// decreasing score order (tied scores enter together). `NaN` without positives.
pub fn average_precision(rows: &[(bool, f64)]) -> f64 {
    let n_pos = rows.iter().filter(|r| r.0).count();
    if n_pos == 0 {
        return f64::NAN;
    }
    let mut sorted: Vec<(bool, f64)> = rows.iter().map(|&(p, s)| (p, rank_score(s))).collect();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1));

    let (mut tp, mut fp) = (0usize, 0usize);
    let mut prev_recall = 0.0;
    let mut ap = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let threshold = sorted[i].1;
        // take the whole block of tied scores
        while i < sorted.len() && sorted[i].1 == threshold {
            if sorted[i].0 {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        let recall = tp as f64 / n_pos as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    ap.clamp(0.0, 1.0)
}

/// The steps of a ranking: `(tp, fp)` after each block of tied scores, in
/// decreasing score order (the thresholds [`average_precision`] walks).
fn ranked_steps(rows: &[(bool, f64)]) -> Vec<(usize, usize)> {
    let mut sorted: Vec<(bool, f64)> = rows.iter().map(|&(p, s)| (p, rank_score(s))).collect();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut steps = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let threshold = sorted[i].1;
        while i < sorted.len() && sorted[i].1 == threshold {
            if sorted[i].0 {
                tp += 1;
            } else {
                fp += 1;
            }
            i += 1;
        }
        steps.push((tp, fp));
    }
    steps
}

/// The ROC curve: `(false-positive rate, true-positive rate)` from `(0, 0)`
/// through one point per distinct score (highest first) to `(1, 1)`. Its
/// trapezoidal area is [`roc_auc`] (ties as a diagonal segment). Empty unless
/// both classes are present.
pub fn roc_curve(rows: &[(bool, f64)]) -> Vec<(f64, f64)> {
    let n_pos = rows.iter().filter(|r| r.0).count();
    let n_neg = rows.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return Vec::new();
    }
    let mut points = vec![(0.0, 0.0)];
    points.extend(
        ranked_steps(rows)
            .into_iter()
            .map(|(tp, fp)| (fp as f64 / n_neg as f64, tp as f64 / n_pos as f64)),
    );
    points
}

/// The precision–recall curve: `(recall, precision)`, one point per distinct
/// score (highest first). [`average_precision`] is the step-wise area
/// Σ (Rₙ − Rₙ₋₁)·Pₙ over these points. Empty without positives.
pub fn pr_curve(rows: &[(bool, f64)]) -> Vec<(f64, f64)> {
    let n_pos = rows.iter().filter(|r| r.0).count();
    if n_pos == 0 {
        return Vec::new();
    }
    ranked_steps(rows)
        .into_iter()
        .map(|(tp, fp)| (tp as f64 / n_pos as f64, tp as f64 / (tp + fp) as f64))
        .collect()
}

/// ROC-AUC as the Mann–Whitney U statistic normalised by n<sub>pos</sub>·n<sub>neg</sub>,
/// ties counting ½ (mid-ranks). `NaN` unless both classes are present.
pub fn roc_auc(rows: &[(bool, f64)]) -> f64 {
    let n_pos = rows.iter().filter(|r| r.0).count();
    let n_neg = rows.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return f64::NAN;
    }
    let mut sorted: Vec<(bool, f64)> = rows.iter().map(|&(p, s)| (p, rank_score(s))).collect();
    sorted.sort_by(|a, b| a.1.total_cmp(&b.1));

    // Sum of the (1-based, mid-rank for ties) ranks of the positives.
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j < sorted.len() && sorted[j].1 == sorted[i].1 {
            j += 1;
        }
        // ranks i+1 ..= j share the mean rank
        let mid_rank = (i + 1 + j) as f64 / 2.0;
        let pos_in_block = sorted[i..j].iter().filter(|r| r.0).count();
        rank_sum_pos += mid_rank * pos_in_block as f64;
        i = j;
    }
    let np = n_pos as f64;
    let u = rank_sum_pos - np * (np + 1.0) / 2.0;
    (u / (np * n_neg as f64)).clamp(0.0, 1.0)
}
