//! Detection-quality evaluation on labelled replays.
//!
//! The scorer emits one [`ScoredWindow`] per host per time window. When the replay is
//! labelled (a simulator run or an annotated capture) every window also says whether it
//! held malicious lookups and of which scenario. [`evaluate`] turns those rows into an
//! [`Evaluation`]; [`render_table`], [`render_json`] and [`render_html`] present it.
//!
//! # Definitions
//!
//! These are the exact rules the numbers follow. They are chosen so that a SOC reviewer
//! can recompute any figure by hand from the window rows.
//!
//! **Flagged.** A window is *flagged* when its verdict label is not exactly `"Normal"`
//! (so `"Unusual"` and `"Likely Compromise"` both count as alerts; any other,
//! unexpected label also counts as an alert rather than being silently dropped).
//! The continuous `score` is used only for the ranking metrics (PR-AUC, ROC-AUC).
//!
//! **Positive / negative.** A window is *positive* when `truth_malicious` is true and
//! *negative* (benign) otherwise. `truth_malicious` is authoritative: a benign window
//! that nevertheless carries a `truth_scenario` is benign and its scenario is ignored;
//! a malicious window without a scenario is attributed to the scenario
//! [`UNATTRIBUTED`].
//!
//! **Confusion matrix.** TP = flagged positives, FN = unflagged positives,
//! FP = flagged negatives, TN = unflagged negatives. `support` = TP + FN.
//!
//! **Overall metrics** use every window.
//!
//! **Per-scenario metrics.** For scenario *S* the evaluation set is
//! {positive windows of scenario *S*} ∪ {all negative windows}. Windows of other
//! scenarios are left out (they are neither positives nor negatives for *S*). Hence
//! TP<sub>S</sub> and FN<sub>S</sub> are the scenario's own, while FP and TN are the
//! overall FP and TN, shared by every scenario:
//! P<sub>S</sub> = TP<sub>S</sub> / (TP<sub>S</sub> + FP<sub>all</sub>). Per-scenario
//! precision therefore reads "if only scenario *S* were present in this traffic, what
//! fraction of alerts would be true"; it falls with the scenario's base rate, and the
//! per-scenario FPs are not additive (the TPs are: Σ TP<sub>S</sub> = TP<sub>overall</sub>).
//! The scenario's PR-AUC and ROC-AUC are computed on the same set.
//!
//! **Precision, recall, F1.** P = TP/(TP+FP), R = TP/(TP+FN),
//! F1 = 2·TP/(2·TP+FP+FN) (equal to the harmonic mean of P and R where both are
//! defined). A ratio whose denominator is zero is *undefined*: it is stored as `NaN`,
//! printed as `n/a` and written to JSON as `null`. So precision is undefined when
//! nothing was flagged, recall when there are no positives, F1 only when there are
//! neither positives nor flags. Defined values always lie in \[0, 1\].
//!
//! **PR-AUC** is average precision exactly as scikit-learn's
//! `average_precision_score`: step-wise, no interpolation,
//! AP = Σ<sub>n</sub> (R<sub>n</sub> − R<sub>n−1</sub>)·P<sub>n</sub> over the distinct
//! score thresholds in decreasing order, windows with tied scores entering together.
//! Undefined (`NaN`/`null`) when there are no positives; with positives but no negatives
//! it is 1.0, as in scikit-learn.
//!
//! **ROC-AUC** is the Mann–Whitney statistic: the probability that a random positive
//! scores higher than a random negative, ties counting ½ (identical to scikit-learn's
//! `roc_auc_score`). Undefined (`NaN`/`null`) unless there is at least one positive and
//! one negative.
//!
//! For both AUCs a `NaN` score is ranked as 0.0 (least suspicious) and other scores are
//! clamped to \[0, 1\].
//!
//! **Incidents.** An incident is contiguous malicious activity of one scenario on one
//! host: the positive windows with the same (host, scenario), in start order, where a
//! window starting more than [`INCIDENT_GAP_S`] (one hour) after the latest end of the
//! incident's windows so far starts a new incident. Overlapping (sliding) windows
//! therefore stay in one incident.
//!
//! **Detection delay.** For an incident, `first_malicious` is the earliest
//! `first_malicious_ts` of its windows (a window without one contributes its `start`).
//! The incident is *detected* when at least one of its own windows is flagged; flags on
//! benign windows of the same host do not count. `first_flag` is the **end** of the
//! earliest-closing flagged window of the incident — the moment the verdict becomes
//! available, since a window is scored when it closes — and
//! `delay_s = max(0, first_flag − first_malicious)`. Undetected incidents have
//! `first_flag = delay_s = None`. Per scenario (and overall) the report gives the mean
//! and maximum delay over the *detected* incidents and the count detected / total.
//!
//! **False alerts per host-day** = flagged negative windows (windows with no malicious
//! lookups at all; the overall FP) divided by `host_days`. `host_days` is the sum over
//! hosts of that host's observed span — last window end minus first window start,
//! idle gaps included, and at least its longest window — in days (86 400 s). Undefined
//! (`NaN`/`null`) when the total is zero (e.g. only zero-length windows).
//!
//! **False incidents per host-day.** The sensor alerts per incident, not per window
//! ([`crate::incident`]), so the same [`Tracker`] (default thresholds: 15-minute quiet
//! period) is run over the evaluated windows in (end, host, start) order, with each
//! window's label and reason tags. An incident is *false* when none of its windows is
//! positive (`truth_malicious`). `false_incidents_per_host_day` = false incidents /
//! `host_days` (the same host-days as above; undefined when zero). An unexpected label
//! string counts as Unusual, as it counts as flagged above.
//!
//! **Label counts** are the number of windows per verdict label string, as given.
//!
//! # Layout
//!
//! - [`metrics`]: confusion matrix, average precision and ROC-AUC.
//! - [`incidents`]: incident splitting and detection delays.
//! - [`render`]: the plain-text table and the JSON document.
//! - [`html`]: the self-contained HTML report with per-host SVG score timelines.

use crate::incident::{parse_label, IncidentConfig, Observation, Tracker};
use crate::model::Label;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub mod html;
pub mod incidents;
pub mod metrics;
pub mod render;

#[cfg(test)]
mod tests;

pub use html::{render_html, ModelLines};
pub use render::{render_json, render_review, render_table};

/// The verdict label that is *not* an alert.
pub const NORMAL_LABEL: &str = "Normal";
/// Scenario name given to malicious windows whose `truth_scenario` is `None`.
pub const UNATTRIBUTED: &str = "(unattributed)";
/// A gap longer than this (seconds) between malicious windows of the same host and
/// scenario starts a new incident.
pub const INCIDENT_GAP_S: i64 = 3600;
/// Seconds per day, for host-days.
pub const SECS_PER_DAY: f64 = 86_400.0;

/// One scored host window from a labelled replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoredWindow {
    /// Host identifier (usually the client IP).
    pub host: String,
    /// Window start, Unix seconds.
    pub start: i64,
    /// Window end, Unix seconds (the moment the window is scored).
    pub end: i64,
    /// Suspicion score in \[0, 1\].
    pub score: f64,
    /// Verdict label: `"Normal"`, `"Unusual"` or `"Likely Compromise"`.
    pub label: String,
    /// Ground truth: the window holds at least one malicious lookup.
    pub truth_malicious: bool,
    /// Scenario of the malicious lookups in the window, `None` if benign.
    pub truth_scenario: Option<String>,
    /// Unix seconds of the earliest malicious lookup in the window.
    pub first_malicious_ts: Option<i64>,
    /// Human-readable reasons the scorer gave.
    pub reasons: Vec<String>,
    /// The scorer's plain-language explanation (empty when it gave none).
    #[serde(default)]
    pub explanation: String,
}

impl ScoredWindow {
    /// Whether the verdict is an alert (label other than `"Normal"`).
    pub fn flagged(&self) -> bool {
        self.label != NORMAL_LABEL
    }

    /// The scenario this window counts towards: `Some` only for positive windows
    /// ([`UNATTRIBUTED`] when the truth names none).
    pub fn scenario(&self) -> Option<&str> {
        if self.truth_malicious {
            Some(self.truth_scenario.as_deref().unwrap_or(UNATTRIBUTED))
        } else {
            None
        }
    }
}

/// Detection quality for one evaluation set (overall or one scenario).
///
/// Undefined ratios are `NaN` (see the module docs); delay statistics are `None` when
/// no incident was detected.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectionMetrics {
    /// Flagged positives.
    pub tp: usize,
    /// Flagged negatives.
    pub fp: usize,
    /// Unflagged negatives.
    pub tn: usize,
    /// Unflagged positives.
    pub fn_: usize,
    /// TP / (TP + FP); `NaN` when nothing was flagged.
    pub precision: f64,
    /// TP / (TP + FN); `NaN` when there are no positives.
    pub recall: f64,
    /// 2·TP / (2·TP + FP + FN); `NaN` when there are neither positives nor flags.
    pub f1: f64,
    /// Average precision (scikit-learn definition); `NaN` without positives.
    pub pr_auc: f64,
    /// Mann–Whitney ROC-AUC, ties ½; `NaN` without both classes.
    pub roc_auc: f64,
    /// Number of positive windows (TP + FN).
    pub support: usize,
    /// Mean detection delay over detected incidents, seconds.
    pub mean_delay_s: Option<f64>,
    /// Maximum detection delay over detected incidents, seconds.
    pub max_delay_s: Option<f64>,
    /// Incidents with at least one flagged window.
    pub detected_incidents: usize,
    /// All incidents.
    pub incidents: usize,
}

/// Detection delay of one incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delay {
    /// Host of the incident.
    pub host: String,
    /// Scenario of the incident.
    pub scenario: String,
    /// Earliest malicious lookup of the incident, Unix seconds.
    pub first_malicious: i64,
    /// End (close time) of the earliest-closing flagged window of the incident, Unix
    /// seconds; `None` when the incident was never flagged.
    pub first_flag: Option<i64>,
    /// `max(0, first_flag − first_malicious)` seconds; `None` when undetected.
    pub delay_s: Option<f64>,
}

/// Everything [`evaluate`] measures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    /// DetectionMetrics over every window.
    pub overall: DetectionMetrics,
    /// DetectionMetrics per scenario (positives of that scenario ∪ all negatives).
    pub per_scenario: BTreeMap<String, DetectionMetrics>,
    /// Distinct hosts.
    pub hosts: usize,
    /// Sum of per-host observed spans, days.
    pub host_days: f64,
    /// Flagged benign windows per host-day; `NaN` when `host_days` is zero.
    pub false_alerts_per_host_day: f64,
    /// One entry per incident, ordered by (first malicious, host, scenario).
    pub detection_delays: Vec<Delay>,
    /// Incidents the sensor would alert on, and how many were false.
    pub alert_incidents: IncidentFigures,
    /// Number of windows evaluated.
    pub windows: usize,
    /// Windows per verdict label.
    pub label_counts: BTreeMap<String, usize>,
    /// Every false alert (flagged benign window), highest score first: what an
    /// analyst reviews to tune allow-lists and thresholds.
    pub false_alerts: Vec<ReviewItem>,
    /// Every missed malicious window (positive, not flagged), highest score first.
    pub missed: Vec<ReviewItem>,
}

/// The sensor's incidents over the evaluated windows (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentFigures {
    /// Incidents opened.
    pub incidents: usize,
    /// Incidents none of whose windows is positive.
    pub false_incidents: usize,
    /// False incidents per host-day; `NaN` when `host_days` is zero.
    pub false_incidents_per_host_day: f64,
    /// Alerts the sensor sends for them: one per incident opened and one per
    /// escalation.
    pub alerts: usize,
    /// Quiet period used, seconds.
    pub quiet_s: i64,
}

/// Run the incident tracker with `cfg` over `windows` and count incidents,
/// false incidents and alerts; `host_days` is the denominator.
pub fn incident_figures(
    windows: &[ScoredWindow],
    cfg: IncidentConfig,
    host_days: f64,
) -> IncidentFigures {
    let mut order: Vec<&ScoredWindow> = windows.iter().collect();
    order.sort_by(|a, b| (a.end, &a.host, a.start).cmp(&(b.end, &b.host, b.start)));
    let mut tracker = Tracker::new(cfg);
    let mut events = Vec::new();
    // incident id -> has a positive window
    let mut truth: BTreeMap<i64, bool> = BTreeMap::new();
    let mut alerts = 0usize;
    for w in order {
        let label = if w.flagged() {
            parse_label(&w.label)
                .filter(|l| *l != Label::Normal)
                .unwrap_or(Label::Unusual)
        } else {
            Label::Normal
        };
        let tags: Vec<&str> = w.reasons.iter().map(String::as_str).collect();
        let o = Observation {
            host: &w.host,
            start: w.start,
            end: w.end,
            score: w.score,
            label,
            tags: &tags,
            domains: &[],
            model_id: "",
            explanation: &w.explanation,
        };
        events.clear();
        if let Some(id) = tracker.observe(&o, &mut events) {
            *truth.entry(id).or_insert(false) |= w.truth_malicious;
        }
        alerts += events.iter().filter(|e| e.kind.alerts()).count();
    }
    let false_incidents = truth.values().filter(|m| !**m).count();
    IncidentFigures {
        incidents: truth.len(),
        false_incidents,
        false_incidents_per_host_day: if host_days > 0.0 {
            false_incidents as f64 / host_days
        } else {
            f64::NAN
        },
        alerts,
        quiet_s: tracker.config().quiet_s,
    }
}

/// One window singled out for review (a false alert or a missed window).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewItem {
    /// Host of the window.
    pub host: String,
    /// Window start, Unix seconds.
    pub start: i64,
    /// Suspicion score.
    pub score: f64,
    /// Verdict label.
    pub label: String,
    /// Ground-truth scenario (missed windows only).
    pub scenario: Option<String>,
    /// Reason tags the scorer gave.
    pub reasons: Vec<String>,
    /// The scorer's explanation.
    pub explanation: String,
}

impl ReviewItem {
    fn of(w: &ScoredWindow) -> Self {
        ReviewItem {
            host: w.host.clone(),
            start: w.start,
            score: w.score,
            label: w.label.clone(),
            scenario: w.scenario().map(str::to_owned),
            reasons: w.reasons.clone(),
            explanation: w.explanation.clone(),
        }
    }
}

/// Windows matching `keep` as review items, highest score first (ties: host, start).
fn review(windows: &[ScoredWindow], keep: impl Fn(&ScoredWindow) -> bool) -> Vec<ReviewItem> {
    let mut items: Vec<ReviewItem> = windows
        .iter()
        .filter(|w| keep(w))
        .map(ReviewItem::of)
        .collect();
    items.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.host.cmp(&b.host))
            .then(a.start.cmp(&b.start))
    });
    items
}

/// Evaluate scored windows against their ground truth. Never panics; see the module
/// docs for every definition.
pub fn evaluate(windows: &[ScoredWindow]) -> Evaluation {
    let delays = incidents::detection_delays(windows);

    let overall = metrics::compute(
        windows
            .iter()
            .map(|w| (w.truth_malicious, w.flagged(), w.score)),
        delays.iter(),
    );

    let mut scenarios: Vec<&str> = windows.iter().filter_map(ScoredWindow::scenario).collect();
    scenarios.sort_unstable();
    scenarios.dedup();
    let per_scenario = scenarios
        .into_iter()
        .map(|s| {
            let rows = windows
                .iter()
                .filter(|w| !matches!(w.scenario(), Some(ws) if ws != s))
                .map(|w| (w.truth_malicious, w.flagged(), w.score));
            let m = metrics::compute(rows, delays.iter().filter(|d| d.scenario == s));
            (s.to_owned(), m)
        })
        .collect();

    let host_days = host_days(windows);
    let false_alerts_per_host_day = if host_days > 0.0 {
        overall.fp as f64 / host_days
    } else {
        f64::NAN
    };

    let alert_incidents = incident_figures(windows, IncidentConfig::default(), host_days);

    let mut label_counts = BTreeMap::new();
    for w in windows {
        *label_counts.entry(w.label.clone()).or_insert(0usize) += 1;
    }
    let mut hosts: Vec<&str> = windows.iter().map(|w| w.host.as_str()).collect();
    hosts.sort_unstable();
    hosts.dedup();

    Evaluation {
        overall,
        per_scenario,
        hosts: hosts.len(),
        host_days,
        false_alerts_per_host_day,
        detection_delays: delays,
        alert_incidents,
        windows: windows.len(),
        label_counts,
        false_alerts: review(windows, |w| !w.truth_malicious && w.flagged()),
        missed: review(windows, |w| w.truth_malicious && !w.flagged()),
    }
}

/// Sum over hosts of max(last end − first start, longest window), in days. Negative
/// spans (malformed rows) count as zero.
pub fn host_days(windows: &[ScoredWindow]) -> f64 {
    // host -> (first start, last end, longest window)
    let mut spans: BTreeMap<&str, (i64, i64, i64)> = BTreeMap::new();
    for w in windows {
        let len = w.end.saturating_sub(w.start).max(0);
        spans
            .entry(w.host.as_str())
            .and_modify(|(s, e, l)| {
                *s = (*s).min(w.start);
                *e = (*e).max(w.end);
                *l = (*l).max(len);
            })
            .or_insert((w.start, w.end, len));
    }
    spans
        .values()
        .map(|&(s, e, l)| e.saturating_sub(s).max(l).max(0) as f64 / SECS_PER_DAY)
        .sum()
}
