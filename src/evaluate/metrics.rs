//! Evaluation metrics: [`compute`] turns scored rows and incidents into
//! [`DetectionMetrics`]. The generic pieces (confusion matrix, ratios, PR- and ROC-AUC)
//! live in [`sentineldns_model::metrics`], shared with the flow detectors.

pub use sentineldns_model::metrics::{average_precision, rank_score, ratio, roc_auc, Confusion};

use super::{Delay, DetectionMetrics};

/// Build [`DetectionMetrics`] from `(positive, flagged, score)` rows and the incidents that
/// belong to the same evaluation set.
pub fn compute<'a>(
    rows: impl Iterator<Item = (bool, bool, f64)>,
    delays: impl Iterator<Item = &'a Delay>,
) -> DetectionMetrics {
    let mut c = Confusion::default();
    let mut ranked = Vec::new();
    for (positive, flagged, score) in rows {
        c.add(positive, flagged);
        ranked.push((positive, score));
    }

    let mut incidents = 0usize;
    let mut detected: Vec<f64> = Vec::new();
    for d in delays {
        incidents += 1;
        if let Some(s) = d.delay_s {
            detected.push(s);
        }
    }
    let mean_delay_s = if detected.is_empty() {
        None
    } else {
        Some(detected.iter().sum::<f64>() / detected.len() as f64)
    };
    let max_delay_s = detected.iter().copied().reduce(f64::max);

    DetectionMetrics {
        tp: c.tp,
        fp: c.fp,
        tn: c.tn,
        fn_: c.fn_,
        precision: c.precision(),
        recall: c.recall(),
        f1: c.f1(),
        pr_auc: average_precision(&ranked),
        roc_auc: roc_auc(&ranked),
        support: c.tp + c.fn_,
        mean_delay_s,
        max_delay_s,
        detected_incidents: detected.len(),
        incidents,
    }
}
