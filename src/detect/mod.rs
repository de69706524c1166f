//! Detection: a closed [`HostWindow`] → model input → score, label, reason tags
//! and a plain-language explanation ([`Verdict`]).
//!
//! ## What the forest sees
//!
//! [`model_input`] turns a window into [`MODEL_FEATURES`]. It differs from the
//! stored window features ([`crate::features::FEATURE_NAMES`]) in two deliberate
//! ways, both for generalising from simulated training traffic to real networks:
//!
//! * **Rates and per-name means are shrunk toward a prior for small counts**:
//!   rates as `(k + α·p) / (n + α)` with α = 10 lookups, means over distinct
//!   names as `(Σ + 3·typical) / (names + 3)`, and the riskiest name enters only
//!   through the *number* of high-risk names. A window with one odd lookup is
//!   not an outlier; a DGA batch of 30 failed, random names still is.
//! * **Features about the sensor or the network, not the host, are left out**:
//!   `newly_seen_ratio` depends on how long the sensor has been running (on a
//!   fresh install every domain is new) and `mean_latency_ms` on the resolver.
//!   They are still stored and used in explanations (`new_domain_burst`).
//!
//! Counts are fed as `ln(1 + x)`.
//!
//! ## Reasons
//!
//! Each model feature whose robust deviation from the training distribution
//! (`(x − median) / (1.4826·MAD)`, from the bundle) is at least
//! [`REASON_MIN_DEVIATION`] upward can raise a tag, when the window's raw counts
//! back it up (e.g. `nxdomain_spike` needs at least 5 NXDOMAIN answers). Tags:
//! `nxdomain_spike`, `dga_like_names`, `risky_domains`, `long_random_subdomains`,
//! `tunnel_like_qtypes`, `query_burst`, `servfail_spike`, and — from stored
//! window facts that are not model inputs, only on windows that already have a
//! reason — `beaconing` and `new_domain_burst`. Each carries the value, the usual (training median) value
//! and the deviation. `risky_domains` needs two risky registrable domains or a
//! lure: one odd-looking domain is not evidence.
//!
//! ## Indicators
//!
//! `threat_intel` (a lookup of a name on a configured threat-intel list,
//! `[intel]` or `--intel`) leads every reason and makes the window at least
//! **Likely Compromise**, whether or not the name is also allow-listed: a SOC
//! expects an explicit intel hit to alert.
//!
//! Three further findings make a window at least Unusual whatever the forest says and
//! lead its reasons: `brand_lookalike` (a resolved name imitating a brand),
//! `lure_follow_up` (never-seen domains the host resolved within
//! [`crate::aggregate::FOLLOW_UP`] of a lookalike) and `encoded_subdomains`
//! ([`ENCODED_MIN_NAMES`] encoded names under one unvouched domain; from
//! [`ENCODED_EVIDENCE_NAMES`] on they are a reason, so the model's score
//! decides).
//!
//! ## Evidence gate
//!
//! A window with no reason and no indicator is held [`EVIDENCE_GATE_MARGIN`]
//! below the Unusual threshold: an alert must name something to check. On
//! the simulations this removed most false alerts (one odd benign name in a
//! quiet server window) and cost no detection.

use crate::aggregate::HostWindow;
use crate::event::MICROS;
use crate::model::{Bundle, Label, ModelError, Thresholds};
use serde::Serialize;
use std::sync::Arc;

pub mod evidence;
pub mod host;
pub mod slow;
pub mod unit;
pub use evidence::{Evidence, Finding, ENCODED_MIN_NAMES, FINDINGS};
pub use host::HostBaselines;
pub use slow::SlowSignals;
pub use unit::{HostUnit, HostUnits, UnitInfo, UNITS};

/// Model input features, in order (the bundle records and checks them).
///
/// Chosen for the behaviours the sensor must separate (DGA: failures and
/// random names across many domains; tunnels and exfiltration: many long,
/// high-entropy names under one domain, rare record types; storms: rate and
/// failures; phishing: risky lure names) and for stability across networks:
/// response sizes, latency, unanswered queries and infrastructure lookups
/// describe the resolver and the host's role more than its behaviour and only
/// widen the benign tail, so they are stored and explained but not modelled.
pub const MODEL_FEATURES: [&str; 15] = [
    "log_queries_per_min",
    "nxdomain_name_rate_s",
    "servfail_rate_s",
    "high_risk_registrable_ratio_s",
    "log_unique_registrable",
    "log_max_subdomains",
    "mean_qname_len_s",
    "mean_label_entropy_s",
    "mean_risk_s",
    "log_high_risk_registrable",
    "txt_ratio_s",
    "null_ratio_s",
    "rare_qtype_ratio_s",
    "distinct_name_ratio_s",
    "log_risky_lure_names",
];

/// Number of model features.
pub const N_MODEL_FEATURES: usize = MODEL_FEATURES.len();

/// Prior weight (in lookups) of the rate shrinkage.
pub const SHRINK_ALPHA: f64 = 10.0;

/// Distinct encoded names under one unvouched domain that are evidence (the
/// reason `encoded_subdomains`, so the evidence gate lets the model's score
/// stand) without forcing a label: a slow exfiltration trickle leaves two or
/// three per window.
pub const ENCODED_EVIDENCE_NAMES: u32 = 2;

/// How far below the Unusual threshold the evidence gate puts a window
/// without reasons.
pub const EVIDENCE_GATE_MARGIN: f64 = 1e-3;

/// Smallest upward robust deviation that makes a feature a reason.
pub const REASON_MIN_DEVIATION: f64 = 3.0;

fn shrink(k: u64, n: u64, prior: f64) -> f64 {
    (k as f64 + SHRINK_ALPHA * prior) / (n as f64 + SHRINK_ALPHA)
}

/// Prior weight (in distinct names) of the per-name mean shrinkage.
pub const SHRINK_NAMES: f64 = 3.0;

fn shrink_mean(sum: f64, n: u64, prior: f64) -> f64 {
    (sum + SHRINK_NAMES * prior) / (n as f64 + SHRINK_NAMES)
}

fn ln1p(x: f64) -> f64 {
    x.max(0.0).ln_1p()
}

/// The model input vector of a window.
pub fn model_input(w: &HostWindow) -> [f64; N_MODEL_FEATURES] {
    let minutes = ((w.end - w.start) as f64 / (60 * MICROS) as f64).max(1e-9);
    let n = w.lookups as u64;
    let rc = w.with_rcode as u64;
    let uniq = w.unique_domains as u64;
    let q = &w.qtypes;
    [
        ln1p(w.lookups as f64 / minutes),
        shrink(w.nxdomain_names as u64, uniq, 0.02),
        shrink((w.servfail + w.refused) as u64, rc, 0.005),
        shrink(
            w.high_risk_registrable as u64,
            w.unique_registrable as u64,
            0.02,
        ),
        ln1p(w.unique_registrable as f64),
        ln1p(w.max_subdomains as f64),
        shrink_mean(w.qname_len_sum as f64, uniq, 18.0),
        shrink_mean(w.entropy_sum, uniq, 3.0),
        shrink_mean(w.risk_sum, uniq, 0.15),
        ln1p(w.high_risk_registrable as f64),
        shrink(q.txt as u64, n, 0.005),
        shrink(q.null as u64, n, 0.001),
        shrink((q.txt + q.null + q.any + q.rare) as u64, n, 0.01),
        shrink(uniq, n, 0.3),
        ln1p(w.risky_lure_domains as f64),
    ]
}

/// Why a window was scored as it was.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// Tag, e.g. `nxdomain_spike`.
    pub tag: &'static str,
    /// Model feature behind it.
    pub feature: &'static str,
    /// Its value in this window.
    pub value: f64,
    /// Its usual value (median of the training windows).
    pub usual: f64,
    /// Robust deviation from the training distribution.
    pub deviation: f64,
}

impl Reason {
    /// A finding from the window's own counts rather than a deviation from
    /// the training distribution (usual 0, deviation 0).
    pub(crate) fn fact(tag: &'static str, feature: &'static str, value: f64) -> Self {
        Reason {
            tag,
            feature,
            value,
            usual: 0.0,
            deviation: 0.0,
        }
    }
}

/// The verdict on one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Calibrated anomaly score in [0, 1].
    pub score: f64,
    /// Normal, Unusual or Likely Compromise.
    pub label: Label,
    /// Reasons, strongest first.
    pub reasons: Vec<Reason>,
    /// One paragraph for an analyst.
    pub explanation: String,
    /// Id of the model that scored the window ([`Detector::id`]).
    pub model_id: Arc<str>,
    /// The window carries model-independent evidence (a finding that sets a
    /// floor under the label); such windows are left out of site training.
    pub evidence: bool,
}

impl Verdict {
    /// Reason tags, comma separated.
    pub fn tags(&self) -> String {
        self.reasons
            .iter()
            .map(|r| r.tag)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Loading a bundle for detection failed.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// The bundle was trained on other features.
    #[error("model was trained on features {found:?}, this build computes {expected:?}; retrain it with `sentineldns train`")]
    Features {
        /// What this build computes.
        expected: Vec<String>,
        /// What the bundle has.
        found: Vec<String>,
    },
}

/// What a model is to the site it scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelRole {
    /// The shipped model (embedded, or a default-path copy of it): a prior
    /// fitted on other networks. Its score alone never alerts; only
    /// model-independent evidence does (see [`Detector::judge`]).
    Prior,
    /// A model fitted on this site's own traffic (`--learn`, `train --db`,
    /// or a bundle the operator trained and configured).
    Site,
}

impl ModelRole {
    /// `prior` or `site`.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelRole::Prior => "prior",
            ModelRole::Site => "site",
        }
    }
}

/// The id of a model file's bytes: 16 hex digits of their FNV-1a 64 hash.
pub fn model_id(bytes: &[u8]) -> String {
    model_id_of_hash(crate::model::checksum::fnv1a64(bytes))
}

/// [`model_id`] of a file whose FNV-1a 64 is `hash` (as
/// `Bundle::from_bytes_hashed` returns it).
pub fn model_id_of_hash(hash: u64) -> String {
    format!("{hash:016x}")
}

/// Scores windows with a model bundle.
#[derive(Debug, Clone)]
pub struct Detector {
    bundle: Bundle,
    id: Arc<str>,
    role: ModelRole,
    path: Option<std::path::PathBuf>,
}

fn idx(name: &str) -> Option<usize> {
    MODEL_FEATURES.iter().position(|f| *f == name)
}

impl Detector {
    /// Wrap a bundle as a [`ModelRole::Site`] model; its features must be
    /// [`MODEL_FEATURES`] in order. Its id is [`model_id`] of its encoding.
    pub fn new(bundle: Bundle) -> Result<Self, DetectError> {
        let id = model_id(&bundle.to_bytes());
        Self::with_identity(bundle, id, ModelRole::Site)
    }

    /// Wrap a bundle with a known id (e.g. [`model_id`] of the file it was
    /// read from) and role.
    pub fn with_identity(bundle: Bundle, id: String, role: ModelRole) -> Result<Self, DetectError> {
        if bundle
            .feature_names
            .iter()
            .map(String::as_str)
            .ne(MODEL_FEATURES.iter().copied())
        {
            return Err(DetectError::Features {
                expected: MODEL_FEATURES.iter().map(|s| s.to_string()).collect(),
                found: bundle.feature_names.clone(),
            });
        }
        Ok(Detector {
            bundle,
            id: id.into(),
            role,
            path: None,
        })
    }

    /// The same detector, recorded as read from `path`.
    pub fn from_file(mut self, path: std::path::PathBuf) -> Self {
        self.path = Some(path);
        self
    }

    /// The bundle file it was read from (`None`: embedded or in memory).
    pub fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }

    /// Its provenance row for the store's `models` table (a prior or a
    /// configured file; a site model fitted by the sensor adds its training
    /// range and counts).
    pub fn record(&self, run: Option<i64>) -> crate::store::ModelRecord {
        crate::store::ModelRecord {
            id: self.id.to_string(),
            role: self.role.as_str().to_string(),
            path: self.path.as_ref().map(|p| p.display().to_string()),
            fitted_at: None,
            data_from: None,
            data_to: None,
            windows: Some(self.bundle.training_rows as i64),
            left_out: None,
            trimmed: None,
            training_hash: Some(format!("{:016x}", self.bundle.training_hash)),
            unusual: self.bundle.thresholds.unusual,
            likely: self.bundle.thresholds.likely,
            run_id: run,
        }
    }

    /// The model's id (see [`model_id`]).
    pub fn id(&self) -> &Arc<str> {
        &self.id
    }

    /// Prior or site model.
    pub fn role(&self) -> ModelRole {
        self.role
    }

    /// The bundle.
    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    /// Replace the bundle's label thresholds (a configuration override, or a
    /// reload); rejected unless `0 < unusual < likely ≤ 1`.
    pub fn set_thresholds(&mut self, t: Thresholds) -> Result<(), ModelError> {
        t.validate()?;
        self.bundle.thresholds = t;
        Ok(())
    }

    /// How far the window lies beyond the benign training range, in [0, 1]:
    /// the largest `(x − max) / spread` over the model features, clamped, where
    /// `spread = max(max − median, q99 − q01)`. 0 inside the range; 1 when a
    /// feature is a whole benign spread beyond the most extreme training window.
    pub fn exceedance(&self, x: &[f64]) -> f64 {
        x.iter()
            .zip(&self.bundle.stats)
            .map(|(v, s)| {
                let spread = (s.max - s.median).max(s.q99 - s.q01);
                if spread > 1e-9 {
                    ((v - s.max) / spread).clamp(0.0, 1.0)
                } else {
                    0.0
                }
            })
            .fold(0.0, f64::max)
    }

    /// The window's score: the calibrated forest score, raised toward 1 by
    /// [`exceedance`](Self::exceedance). Isolation forests split inside the
    /// training data's range, so every window beyond the most extreme training
    /// window scores like that window; the boost restores the ordering beyond
    /// the range (the forest-plus-robust-statistics agreement of the reference
    /// designs).
    pub fn score(&self, x: &[f64]) -> f64 {
        let s = self.bundle.score(x).clamp(0.0, 1.0);
        (s + (1.0 - s) * self.exceedance(x)).clamp(0.0, 1.0)
    }

    /// Score, label, reasons and explanation for one window.
    ///
    /// 1. The model scores the window ([`score`](Self::score)).
    /// 2. A [`ModelRole::Prior`] does not alert on its score alone: without
    ///    evidence, its score is held just below Unusual (a site model must
    ///    agree before a model score alone alerts; `--learn` fits one).
    /// 3. Evidence gate: with no reason and no evidence the score is held
    ///    just below Unusual (an alert must name something to check).
    /// 4. Each [`Evidence`] sets a floor: Unusual lifts the score to halfway
    ///    between the thresholds, Likely Compromise to halfway between the
    ///    Likely threshold and 1, whatever the model said.
    pub fn judge(&self, w: &HostWindow) -> Verdict {
        self.judge_with(w, self.role == ModelRole::Site)
    }

    /// [`judge`](Self::judge), saying whether the model's score alone may
    /// alert: `false` for a prior and while the sensor is still learning its
    /// site ([`crate::learn`]), whatever the model's role.
    pub fn judge_with(&self, w: &HostWindow, model_may_alert: bool) -> Verdict {
        self.judge_in_context(w, model_may_alert, Vec::new(), None)
    }

    /// [`judge_with`](Self::judge_with) with findings of stateful detectors
    /// (e.g. [`SlowSignals`]) that need more than the window, each with its
    /// sentence for the explanation: they set floors like the window's own
    /// findings.
    ///
    /// `usual` is the host's own range of the model inputs
    /// ([`HostBaselines::usual`]): a model-only alert whose every reason
    /// lies within it is held Normal (see [`host`]).
    pub fn judge_in_context(
        &self,
        w: &HostWindow,
        model_may_alert: bool,
        context: Vec<(Evidence, String)>,
        usual: Option<&[f64; N_MODEL_FEATURES]>,
    ) -> Verdict {
        let x = model_input(w);
        let t = self.bundle.thresholds;
        let mut found: Vec<Evidence> = evidence::evidence(w).collect();
        let mut details = Vec::with_capacity(context.len());
        for (e, d) in context {
            found.push(e);
            details.push(d);
        }
        let floor = found.iter().map(|e| e.floor).max();
        let mut score = self.score(&x);
        let mut reasons = self.reasons(w, &x);
        let mut held = None;
        if floor.is_none() && !model_may_alert && score >= t.unusual {
            held = Some(score);
            score = (t.unusual - EVIDENCE_GATE_MARGIN).max(0.0);
        }
        let mut held_usual = None;
        if let Some(u) = usual.filter(|_| floor.is_none() && held.is_none() && score >= t.unusual) {
            let mut modelled = reasons
                .iter()
                .filter_map(|r| idx(r.feature).map(|i| (i, r)));
            let facts_ok = reasons.iter().all(|r| {
                idx(r.feature).is_some() || matches!(r.tag, "beaconing" | "new_domain_burst")
            });
            if facts_ok
                && modelled.clone().next().is_some()
                && modelled.all(|(i, _)| host::within(u, i, x[i]))
            {
                held_usual = Some(score);
                score = (t.unusual - EVIDENCE_GATE_MARGIN).max(0.0);
            }
        }
        if reasons.is_empty() && floor.is_none() {
            // Evidence gate: an alert must name something the analyst can
            // check. A window whose only oddity is the combination of ordinary
            // values (no feature far off *and* backed by raw counts, no
            // finding) stays just below the Unusual threshold.
            score = score.min((t.unusual - EVIDENCE_GATE_MARGIN).max(0.0));
        }
        match floor {
            Some(Label::LikelyCompromise) => score = score.max(t.likely + 0.5 * (1.0 - t.likely)),
            Some(Label::Unusual) => score = score.max(t.unusual + 0.5 * (t.likely - t.unusual)),
            _ => {}
        }
        reasons.splice(0..0, found.into_iter().map(|e| e.reason));
        let label = self.bundle.label(score);
        let mut explanation = explain_with(w, score, label, &reasons, &details);
        if let Some(h) = held_usual {
            explanation.push_str(&format!(
                " The model scored it {h:.2}, but every value above is within what {} itself has shown in earlier windows that did not alert: usual for this host, so no alert.",
                w.host
            ));
        }
        if let Some(h) = held.filter(|_| !reasons.is_empty()) {
            explanation.push_str(&format!(
                " {} alone scored it {h:.2}; a model score without evidence alerts only once a site model agrees{}.",
                if self.role == ModelRole::Prior { "The shipped prior" } else { "The model" },
                if self.role == ModelRole::Prior { " (learn this network with --learn)" } else { " (the sensor is still learning this network)" }
            ));
        }
        Verdict {
            score,
            label,
            reasons,
            explanation,
            model_id: self.id.clone(),
            evidence: floor.is_some(),
        }
    }

    /// Score, label and reasons of a bare model input vector (no window:
    /// `POST /api/v1/predict` with `features`). The same score as
    /// [`judge`](Self::judge) and the same model-only rules — a prior's score
    /// alone, or a score without any reason, is held just below Unusual — but
    /// no findings (they need the lookups) and no window facts: each model
    /// feature at least [`REASON_MIN_DEVIATION`] above the training median is
    /// a reason tagged `unusual_value`.
    pub fn judge_features(&self, x: &[f64; N_MODEL_FEATURES]) -> Verdict {
        let t = self.bundle.thresholds;
        let raw = self.score(x);
        let mut reasons: Vec<Reason> = MODEL_FEATURES
            .iter()
            .filter_map(|f| self.reason(x, "unusual_value", f))
            .collect();
        reasons.sort_by(|a, b| b.deviation.total_cmp(&a.deviation));
        let gate = (t.unusual - EVIDENCE_GATE_MARGIN).max(0.0);
        let mut score = raw;
        let mut note = String::new();
        if self.role == ModelRole::Prior && score >= t.unusual {
            score = gate;
            note = format!(" The shipped prior alone scored it {raw:.2}; a model score without evidence alerts only once a site model agrees.");
        } else if reasons.is_empty() {
            score = score.min(gate);
        }
        let label = self.bundle.label(score);
        let named: Vec<String> = reasons
            .iter()
            .take(3)
            .map(|r| format!("{} {:.2} (usual {:.2})", r.feature, r.value, r.usual))
            .collect();
        let explanation = if named.is_empty() {
            format!(
                "{label} (score {score:.2}): no model feature is far from its usual value.{note}"
            )
        } else {
            format!("{label} (score {score:.2}): {}.{note}", named.join(", "))
        };
        Verdict {
            score,
            label,
            reasons,
            explanation,
            model_id: self.id.clone(),
            evidence: false,
        }
    }

    fn reason(&self, x: &[f64], tag: &'static str, feature: &'static str) -> Option<Reason> {
        let i = idx(feature)?;
        let value = *x.get(i)?;
        let deviation = self.bundle.deviation(i, value);
        (deviation >= REASON_MIN_DEVIATION).then(|| Reason {
            tag,
            feature,
            value,
            usual: self.bundle.stats.get(i).map_or(0.0, |s| s.median),
            deviation,
        })
    }

    fn strongest(&self, x: &[f64], tag: &'static str, features: &[&'static str]) -> Option<Reason> {
        features
            .iter()
            .filter_map(|f| self.reason(x, tag, f))
            .max_by(|a, b| a.deviation.total_cmp(&b.deviation))
    }

    fn reasons(&self, w: &HostWindow, x: &[f64]) -> Vec<Reason> {
        let mut out = Vec::new();
        let q = &w.qtypes;
        if w.nxdomain >= 5 && w.nxdomain_names >= 3 {
            // Failures on several names: one dead name retried is not a spike.
            out.extend(self.reason(x, "nxdomain_spike", "nxdomain_name_rate_s"));
        }
        let risky = self.strongest(
            x,
            "risky_domains",
            &[
                "high_risk_registrable_ratio_s",
                "mean_risk_s",
                "log_high_risk_registrable",
                "log_risky_lure_names",
            ],
        );
        if let Some(r) = risky {
            // (Many random names that do not exist are the `dga_like_names`
            // finding, decided by counts in `evidence`, not by the model.)
            if w.high_risk_registrable >= 2 || w.risky_lure_domains >= 1 {
                // One odd-looking domain is not evidence; two unrelated ones,
                // or a lure (keyword or brand outside its own domain), are.
                out.push(r);
            }
        }
        if w.max_subdomains >= 10 {
            // Only encoded names (the `encoded_subdomains` finding) describe
            // a tunnel; a wide fan-out alone is neutral.
            let tag = if w.encoded_names >= ENCODED_MIN_NAMES {
                "long_random_subdomains"
            } else {
                "many_subdomains"
            };
            out.extend(self.strongest(
                x,
                tag,
                &[
                    "log_max_subdomains",
                    "mean_qname_len_s",
                    "mean_label_entropy_s",
                ],
            ));
        }
        if q.txt + q.null + q.any + q.rare >= 5 && q.null < evidence::NULL_MIN_LOOKUPS {
            // TXT and rare types alone are mail, domain verification and
            // service discovery as often as tunnels: a neutral reason. NULL
            // lookups are the `tunnel_like_qtypes` finding.
            out.extend(self.strongest(
                x,
                "rare_qtypes",
                &["null_ratio_s", "txt_ratio_s", "rare_qtype_ratio_s"],
            ));
        }
        if w.lookups >= 20 {
            out.extend(self.reason(x, "query_burst", "log_queries_per_min"));
        }
        if w.servfail + w.refused >= 5 {
            out.extend(self.reason(x, "servfail_spike", "servfail_rate_s"));
        }
        // Beaconing is not a model input (benign agents poll on timers too),
        // but a regular contact pattern on a flagged window is worth naming.
        if let Some(b) = &w.beacon {
            if b.queries >= 6 && b.cv < 0.1 && !out.is_empty() {
                out.push(Reason::fact(
                    "beaconing",
                    "beacon_score",
                    1.0 / (1.0 + b.cv),
                ));
            }
        }
        // Sensor-history signal: not a model input (see module docs).
        if w.new_domains >= 10 && w.unique_registrable > 0 {
            let ratio = w.new_domains as f64 / w.unique_registrable as f64;
            if ratio >= 0.5 && !out.is_empty() {
                out.push(Reason::fact(
                    "new_domain_burst",
                    "newly_seen_ratio",
                    ratio.min(1.0),
                ));
            }
        }
        out.sort_by(|a, b| b.deviation.total_cmp(&a.deviation));
        // A few encoded names are worth naming below the finding's minimum
        // (a slow exfiltration trickle leaves two or three per window), as a
        // reason the model's score decides.
        if (ENCODED_EVIDENCE_NAMES..ENCODED_MIN_NAMES).contains(&w.encoded_names) {
            out.insert(
                0,
                Reason::fact(
                    "long_random_labels",
                    "encoded_names",
                    w.encoded_names as f64,
                ),
            );
        }
        out
    }
}

fn pct(x: f64) -> String {
    format!("{:.0} %", 100.0 * x)
}

fn examples(w: &HostWindow, n: usize) -> String {
    let mut names: Vec<&str> = w.lookalikes.iter().map(|l| l.name.as_str()).collect();
    for d in w.risky_domains.iter().filter(|d| d.risk >= 0.5) {
        if !names.contains(&d.name.as_str()) {
            names.push(d.name.as_str());
        }
    }
    if names.is_empty() {
        names = w.top_domains.iter().map(|d| d.name.as_str()).collect();
    }
    names
        .into_iter()
        .take(n)
        .map(safe_name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A name as it may appear in an explanation: DNS name characters kept,
/// anything else (markup, quotes, spaces, control characters) shown as `?`,
/// at most 60 characters.
fn safe_name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(60)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '?'
            }
        })
        .collect();
    if s.chars().nth(60).is_some() {
        out.push('…');
    }
    out
}

/// The analyst paragraph for a window.
pub fn explain(w: &HostWindow, score: f64, label: Label, reasons: &[Reason]) -> String {
    explain_with(w, score, label, reasons, &[])
}

/// [`explain`] with sentences of context findings placed after the head.
pub fn explain_with(
    w: &HostWindow,
    score: f64,
    label: Label,
    reasons: &[Reason],
    details: &[String],
) -> String {
    let minutes = (w.end - w.start) as f64 / (60 * MICROS) as f64;
    let head = format!(
        "{} (score {:.2}) for {} in {}–{} UTC: {} lookups ({:.0}/min).",
        label.as_str(),
        score,
        w.host,
        crate::time::minute_micros(w.start),
        crate::time::hour_minute_micros(w.end),
        w.lookups,
        w.lookups as f64 / minutes.max(1e-9)
    );
    if label == Label::Normal && reasons.is_empty() {
        return format!("{head} Nothing stands out against the training traffic.");
    }
    let mut parts = vec![head];
    parts.extend(details.iter().cloned());
    for r in reasons {
        let s = match r.tag {
            "nxdomain_spike" => format!(
                "{} of {} answered lookups failed ({} NXDOMAIN), for {} of {} distinct names ({}, usually about {}).",
                w.nxdomain,
                w.with_rcode,
                pct(w.nxdomain as f64 / w.with_rcode.max(1) as f64),
                w.nxdomain_names,
                w.unique_domains,
                pct(w.nxdomain_names as f64 / w.unique_domains.max(1) as f64),
                pct(r.usual)
            ),
            "threat_intel" => format!(
                "{} lookup{} of {} on a configured threat-intel list ([intel] files or domains, --intel): {}.",
                w.intel_lookups,
                if w.intel_lookups == 1 { "" } else { "s" },
                if w.intel_domains.len() == 1 { "a domain" } else { "domains" },
                w.intel_domains
                    .iter()
                    .map(|d| safe_name(d))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "lure_follow_up" => format!(
                "Within {} minutes after resolving a brand lookalike, {} resolved {} domain{} never seen on this network before: {} (where phishing kits post credentials or redirect).",
                crate::aggregate::FOLLOW_UP / (60 * MICROS),
                w.host,
                w.follow_up_domains,
                if w.follow_up_domains == 1 { "" } else { "s" },
                w.follow_ups.join(", ")
            ),
            "nxdomain_flood" => {
                let (n, d) = if w.nx_flood_any_names > w.nx_flood_names {
                    (w.nx_flood_any_names, &w.nx_flood_any_domain)
                } else {
                    (w.nx_flood_names, &w.nx_flood_domain)
                };
                format!(
                    "{} distinct names under {} do not exist (NXDOMAIN): a random-subdomain flood against that domain's servers, or malware hammering it.",
                    n,
                    safe_name(d)
                )
            }
            "payload_in_name" => format!(
                "{} name{} carr{} data in plain sight ({}), e.g. {}: something is sending a file or commands through DNS.",
                w.payload_names,
                if w.payload_names == 1 { "" } else { "s" },
                if w.payload_names == 1 { "ies" } else { "y" },
                match w.payload_kind {
                    "base64" => "base64 with padding",
                    "dnscat2" => "the dnscat2 tunnel's marker label",
                    k => k,
                },
                safe_name(&w.payload_example)
            ),
            "long_random_labels" => format!(
                "{} distinct names under {} carry long random labels ({} characters or more); a few are common (hashes in telemetry and CDN names), many are how tunnels carry data.",
                w.encoded_names,
                safe_name(&w.encoded_domain),
                crate::aggregate::ENCODED_MIN_LABEL
            ),
            "encoded_subdomains" => format!(
                "{} distinct names under {} carry long random labels ({} characters or more), the shape of data encoded into DNS names by a tunnel or an exfiltration tool.",
                w.encoded_names,
                w.encoded_domain,
                crate::aggregate::ENCODED_MIN_LABEL
            ),
            "brand_lookalike" => {
                let list = w
                    .lookalikes
                    .iter()
                    .map(|l| format!("{} (imitates {})", l.name, l.brand))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "{} resolved name{} imitate{} a well-known brand from a domain the brand does not own: {}.",
                    w.impersonation_domains,
                    if w.impersonation_domains == 1 { "" } else { "s" },
                    if w.impersonation_domains == 1 { "s" } else { "" },
                    list
                )
            }
            "dga_like_names" => format!(
                "{} distinct domains {} looked up do not exist (NXDOMAIN and no other answer; none popular or allow-listed), e.g. {}: the pattern of a DGA looking for its command server.",
                w.nx_only_registrable,
                w.host,
                w.nx_only_examples
                    .iter()
                    .take(3)
                    .map(|d| safe_name(d))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            "risky_domains" => format!(
                "{} name{} look{} risky (random-looking, lookalike or lure words; riskiest {:.2}).",
                w.high_risk_domains,
                if w.high_risk_domains == 1 { "" } else { "s" },
                if w.high_risk_domains == 1 { "s" } else { "" },
                w.max_risk
            ),
            // Said already by `encoded_subdomains` for the same domain.
            "long_random_subdomains"
                if w.encoded_names >= ENCODED_EVIDENCE_NAMES
                    && w.encoded_domain == w.max_subdomains_domain =>
            {
                String::new()
            }
            "many_subdomains" => format!(
                "{} distinct names under {} alone in this window.",
                w.max_subdomains,
                safe_name(&w.max_subdomains_domain)
            ),
            "long_random_subdomains" => format!(
                "{} distinct names under {} alone, averaging {:.0} characters and {:.1} bits of entropy per character — data encoded into DNS names.",
                w.max_subdomains,
                w.max_subdomains_domain,
                w.qname_len_sum as f64 / w.unique_domains.max(1) as f64,
                w.entropy_sum / w.unique_domains.max(1) as f64
            ),
            "tunnel_like_qtypes" => format!(
                "{} lookups asked for NULL records, which ordinary clients never use and DNS tunnels such as iodine do.",
                w.qtypes.null
            ),
            "rare_qtypes" => format!(
                "{} of the lookups asked for TXT, ANY or other less common record types ({} TXT, {} ANY, {} other; usually about {}).",
                pct((w.qtypes.txt + w.qtypes.null + w.qtypes.any + w.qtypes.rare) as f64 / w.lookups.max(1) as f64),
                w.qtypes.txt,
                w.qtypes.any,
                w.qtypes.rare,
                pct(r.usual)
            ),
            "query_burst" => format!(
                "The query rate is far above normal ({:.0}/min, usually about {:.0}/min).",
                w.lookups as f64 / minutes.max(1e-9),
                r.usual.exp_m1()
            ),
            "servfail_spike" => format!("{} lookups got SERVFAIL or REFUSED.", w.servfail + w.refused),
            "unanswered_spike" => format!("{} queries got no answer at all.", w.unanswered),
            "large_responses" => "Responses are unusually large for this many lookups.".to_string(),
            "beaconing" => match &w.beacon {
                Some(b) => format!(
                    "{} is contacted at a regular interval of {:.0} s ({} lookups).",
                    b.domain, b.mean_interval_s, b.queries
                ),
                None => String::new(),
            },
            "new_domain_burst" => format!(
                "{} of {} domains had never been seen by this sensor before.",
                w.new_domains, w.unique_registrable
            ),
            _ => String::new(),
        };
        if !s.is_empty() {
            parts.push(s);
        }
    }
    let ex = examples(w, 3);
    if !ex.is_empty() {
        parts.push(format!("Examples: {ex}."));
    }
    // Advice follows the most specific behaviour present, not the largest
    // deviation: structure (tunnel) > generated names > failures > lures.
    let has = |t: &str| reasons.iter().any(|r| r.tag == t);
    let action = if has("threat_intel") {
        format!(
            "Treat {} as compromised until cleared: find the process that looked up {}, block {} at the resolver and check the host for the threat the list names.",
            w.host,
            w.intel_domains.first().map_or(String::new(), |d| safe_name(d)),
            if w.intel_domains.len() == 1 { "it" } else { "the listed domains" }
        )
    } else if has("payload_in_name") {
        format!(
            "Find the process on {} that looked up {} (data is leaving through DNS), isolate the host and block the name's domain at the resolver.",
            w.host,
            safe_name(&w.payload_example)
        )
    } else if has("encoded_subdomains") {
        format!(
            "Find the process on {} talking to {} (data may be leaving through DNS) and block that domain at the resolver.",
            w.host, w.encoded_domain
        )
    } else if has("long_random_labels") {
        format!(
            "Find the process on {} talking to {} (data may be leaving through DNS) and block that domain at the resolver if it is not a service you use.",
            w.host,
            safe_name(&w.encoded_domain)
        )
    } else if has("long_random_subdomains") || has("tunnel_like_qtypes") {
        format!(
            "Find the process on {} talking to {} (data may be leaving through DNS) and block that domain at the resolver.",
            w.host, w.max_subdomains_domain
        )
    } else if has("slow_exfil") {
        format!(
            "Find the process on {} talking to {} (data may be leaving through DNS, slowly) and block that domain at the resolver.",
            w.host,
            safe_name(&w.encoded_domain)
        )
    } else if has("slow_beacon") {
        format!(
            "Find the process on {} that calls out on this timer, check the domain's owner and block it at the resolver if unknown.",
            w.host
        )
    } else if has("slow_dga") {
        format!(
            "Check {} for malware that generates domains; the non-existent domains of the last hour are indicators.",
            w.host
        )
    } else if has("nxdomain_flood") {
        format!(
            "Find the process on {} sending these lookups (a bot taking part in a DNS flood, or a broken client) and rate-limit it at the resolver.",
            w.host
        )
    } else if has("dga_like_names") || has("nxdomain_spike") {
        format!(
            "Check {} for malware that generates domains; the names above are indicators.",
            w.host
        )
    } else if has("brand_lookalike") || has("lure_follow_up") {
        format!(
            "Ask the user of {} whether they opened a link or entered credentials on these sites; block the lookalike domains at the resolver and reset the credentials if they did.",
            w.host
        )
    } else if has("risky_domains") {
        format!(
            "Check what on {} looked these names up (phishing link, lookalike site).",
            w.host
        )
    } else if has("beaconing") {
        format!("Check which process on {} calls out on a timer.", w.host)
    } else {
        format!("Review the lookups of {} in this window.", w.host)
    };
    if label != Label::Normal {
        parts.push(action);
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{AggregateConfig, Aggregator};
    use crate::enrich::Enrichment;
    use crate::event::Lookup;
    use crate::model::ForestParams;

    /// A window of `n` lookups of `names` with the given NXDOMAIN share.
    fn window(host: &str, names: &[String], nx_every: usize) -> HostWindow {
        let mut a = Aggregator::new(AggregateConfig::default());
        for (i, name) in names.iter().enumerate() {
            let l = Lookup {
                rcode: Some(if nx_every > 0 && i % nx_every == 0 {
                    3
                } else {
                    0
                }),
                query_bytes: 40,
                response_bytes: 80,
                ..Lookup::new(
                    1_700_000_000 * MICROS + i as i64 * MICROS,
                    host.parse().unwrap(),
                    name,
                )
            };
            let e = Enrichment {
                qname_hash: crate::enrich::fx_hash(name.as_bytes()),
                registrable_len: name.len() as u16,
                registrable_hash: crate::enrich::fx_hash(name.as_bytes()),
                risk: if name.starts_with('x') { 0.95 } else { 0.1 },
                high_risk: name.starts_with('x'),
                entropy: 3.0,
                ..Default::default()
            };
            a.record(&l, &e);
        }
        let mut out = Vec::new();
        a.flush_all(&mut out);
        out.remove(0)
    }

    fn detector() -> Detector {
        // Benign: 40 lookups over 12 popular names, an occasional failure.
        let rows: Vec<Vec<f64>> = (0..300)
            .map(|k| {
                let names: Vec<String> = (0..40)
                    .map(|i| format!("site{}.com", (i * 7 + k) % 12))
                    .collect();
                model_input(&window("10.0.0.1", &names, 15 + k % 20)).to_vec()
            })
            .collect();
        let p = ForestParams {
            n_trees: 50,
            sample_size: 128,
            extension_level: Some(1),
            max_depth: None,
            seed: 1,
        };
        let b = Bundle::train(&MODEL_FEATURES, &rows, &p, &[false; N_MODEL_FEATURES]).unwrap();
        Detector::new(b).unwrap()
    }

    #[test]
    fn benign_is_normal_and_a_dga_burst_is_flagged_with_reasons() {
        let d = detector();
        let benign: Vec<String> = (0..40).map(|i| format!("site{}.com", i % 12)).collect();
        let v = d.judge(&window("10.0.0.1", &benign, 20));
        assert_eq!(v.label, Label::Normal, "{v:?}");
        let dga: Vec<String> = (0..60).map(|i| format!("xq{i}zvkrw.info")).collect();
        let v = d.judge(&window("10.0.0.9", &dga, 1));
        assert_ne!(v.label, Label::Normal, "{v:?}");
        let tags: Vec<&str> = v.reasons.iter().map(|r| r.tag).collect();
        assert!(tags.contains(&"nxdomain_spike"), "{tags:?}");
        assert!(tags.contains(&"dga_like_names"), "{tags:?}");
        assert!(
            v.explanation.contains("60 of 60 answered lookups failed"),
            "{}",
            v.explanation
        );
        assert!(
            v.explanation.contains("10.0.0.9") && v.explanation.contains("xq"),
            "{}",
            v.explanation
        );
        for r in &v.reasons {
            assert!(
                r.deviation >= REASON_MIN_DEVIATION
                    || r.tag == "new_domain_burst"
                    || r.tag == "beaconing"
                    || FINDINGS.iter().any(|f| f.tag() == r.tag),
                "{r:?}"
            );
        }
    }

    #[test]
    fn a_resolved_brand_lookalike_is_at_least_unusual_and_named() {
        let d = detector();
        let mut a = Aggregator::new(AggregateConfig::default());
        let enricher_cfg = crate::enrich::EnrichConfig::default();
        let mut enr = crate::enrich::Enricher::new(enricher_cfg);
        let names = [
            "site1.com",
            "site2.com",
            "paypa1-secure-login.xyz",
            "site3.com",
        ];
        for (i, name) in names.iter().enumerate() {
            let l = Lookup {
                rcode: Some(0),
                ..Lookup::new(
                    1_700_000_000 * MICROS + i as i64,
                    "10.0.0.5".parse().unwrap(),
                    name,
                )
            };
            let e = enr.enrich(&l);
            a.record(&l, &e);
        }
        // The same lookalike that did not resolve is no indicator.
        let l = Lookup {
            rcode: Some(3),
            ..Lookup::new(
                1_700_000_000 * MICROS,
                "10.0.0.6".parse().unwrap(),
                "paypal-verify.top",
            )
        };
        let e = enr.enrich(&l);
        a.record(&l, &e);
        let mut out = Vec::new();
        a.flush_all(&mut out);
        let v = d.judge(&out[0]);
        assert_eq!(out[0].impersonation_domains, 1);
        assert_ne!(v.label, Label::Normal, "{v:?}");
        assert_eq!(v.reasons[0].tag, "brand_lookalike");
        assert!(
            v.explanation
                .contains("paypa1-secure-login.xyz (imitates paypal)"),
            "{}",
            v.explanation
        );
        assert_eq!(out[1].impersonation_domains, 0);
        let v = d.judge(&out[1]);
        assert!(
            v.reasons.iter().all(|r| r.tag != "brand_lookalike"),
            "{v:?}"
        );
    }

    #[test]
    fn a_threat_intel_hit_is_likely_compromise_whatever_the_model_says() {
        let d = detector();
        // An ordinary window the model scores Normal...
        let names: Vec<String> = (0..40).map(|i| format!("site{}.com", i % 12)).collect();
        let plain = window("10.0.0.7", &names, 0);
        assert_eq!(d.judge(&plain).label, Label::Normal);
        // ...with one lookup the aggregator counted as a threat-intel hit.
        let mut a = Aggregator::new(AggregateConfig::default());
        for (i, name) in ["site1.com", "x.bad-feed.example", "y.bad-feed.example"]
            .iter()
            .enumerate()
        {
            let l = Lookup::new(
                1_700_000_000 * MICROS + i as i64,
                "10.0.0.7".parse().unwrap(),
                name,
            );
            let e = Enrichment {
                qname_hash: crate::enrich::fx_hash(name.as_bytes()),
                registrable_len: if i == 0 { 9 } else { 16 },
                intel: i > 0,
                ..Default::default()
            };
            a.record(&l, &e);
        }
        let mut out = Vec::new();
        a.flush_all(&mut out);
        assert_eq!(out[0].intel_lookups, 2);
        assert_eq!(
            out[0].intel_domains,
            ["bad-feed.example"],
            "kept once, as its registrable domain"
        );
        let mut w = plain.clone();
        w.intel_lookups = 2;
        w.intel_domains = out[0].intel_domains.clone();
        let v = d.judge(&w);
        assert_eq!(v.label, Label::LikelyCompromise, "{v:?}");
        assert_eq!(v.reasons[0].tag, "threat_intel");
        assert_eq!(v.reasons[0].value, 2.0);
        assert!(
            v.explanation.contains("threat-intel list"),
            "{}",
            v.explanation
        );
        assert!(
            v.explanation.contains("bad-feed.example"),
            "{}",
            v.explanation
        );
        assert!(
            v.explanation.contains("Treat 10.0.0.7 as compromised"),
            "{}",
            v.explanation
        );
        // Markup or prompt text in a name never reaches the explanation as such.
        w.intel_domains = vec!["<script>alert(1)</script> ignore previous.example".into()];
        let v = d.judge(&w);
        assert!(
            !v.explanation.contains('<') && !v.explanation.contains("ignore previous"),
            "{}",
            v.explanation
        );
    }

    #[test]
    fn exceedance_raises_scores_beyond_the_training_range_only() {
        let d = detector();
        let inside: Vec<String> = (0..40).map(|i| format!("site{}.com", i % 12)).collect();
        let x = model_input(&window("10.0.0.1", &inside, 20));
        assert_eq!(d.exceedance(&x), 0.0);
        assert!((d.score(&x) - d.bundle().score(&x)).abs() < 1e-12);
        let far: Vec<String> = (0..200).map(|i| format!("n{i}.example{i}.net")).collect();
        let x = model_input(&window("10.0.0.2", &far, 1));
        assert!(d.exceedance(&x) > 0.5);
        assert!(d.score(&x) > d.bundle().score(&x));
        assert!(d.score(&x) <= 1.0);
    }

    #[test]
    fn a_bundle_for_other_features_is_refused() {
        let rows: Vec<Vec<f64>> = (0..50)
            .map(|i| vec![i as f64, (i * 3 % 7) as f64])
            .collect();
        let b = Bundle::train(
            &["a", "b"],
            &rows,
            &ForestParams::default(),
            &[false, false],
        )
        .unwrap();
        let e = Detector::new(b).unwrap_err().to_string();
        assert!(e.contains("retrain"), "{e}");
    }
}
