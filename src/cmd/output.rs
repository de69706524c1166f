//! Renders windows as a table or as JSON lines, identically for `replay` (fresh
//! windows) and `windows` (stored ones): both go through [`WindowView`].

use sentineldns::aggregate::HostWindow;
use sentineldns::detect::Verdict;
use sentineldns::event::MICROS;
use sentineldns::features::{self, FEATURE_NAMES};
use sentineldns::store::StoredWindow;
use serde_json::{json, Map, Value};
use std::io::{self, Write};

/// The fields shown for one window (table and JSON share them).
#[derive(Debug, Clone)]
pub struct WindowView {
    /// Client host.
    pub host: String,
    /// Start, unix seconds.
    pub start: i64,
    /// End, unix seconds.
    pub end: i64,
    /// Lookups.
    pub lookups: i64,
    /// Features in [`FEATURE_NAMES`] order.
    pub features: Vec<f64>,
    /// Top domains.
    pub top_domains: Value,
    /// Riskiest domains.
    pub risky_domains: Value,
    /// Ground truth.
    pub truth_label: Option<String>,
    /// Ground-truth scenario.
    pub truth_scenario: Option<String>,
    /// Score (once scored).
    pub score: Option<f64>,
    /// Verdict (once scored).
    pub label: Option<String>,
    /// Reasons (JSON array of {tag, feature, value, usual, deviation}).
    pub reasons: Value,
    /// Explanation (once scored).
    pub explanation: Option<String>,
}

impl WindowView {
    /// A fresh window with its verdict, if it was scored.
    pub fn scored(w: &HostWindow, v: Option<&Verdict>) -> Self {
        let mut view = WindowView::from(w);
        if let Some(v) = v {
            view.score = Some((v.score * 1e4).round() / 1e4);
            view.label = Some(v.label.as_str().to_string());
            view.reasons = serde_json::to_value(&v.reasons).unwrap_or(Value::Null);
            view.explanation = Some(v.explanation.clone());
        }
        view
    }

    /// The reason tags.
    pub fn reason_tags(&self) -> Vec<String> {
        match &self.reasons {
            Value::Array(a) => a
                .iter()
                .filter_map(|r| r.get("tag").and_then(Value::as_str).map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }
}

impl From<&HostWindow> for WindowView {
    fn from(w: &HostWindow) -> Self {
        WindowView {
            host: w.host.to_string(),
            start: w.start.div_euclid(MICROS),
            end: w.end.div_euclid(MICROS),
            lookups: w.lookups as i64,
            features: features::compute(w).to_vec(),
            top_domains: serde_json::to_value(&w.top_domains).unwrap_or(Value::Null),
            risky_domains: serde_json::to_value(&w.risky_domains).unwrap_or(Value::Null),
            truth_label: w.truth.label.clone(),
            truth_scenario: w.truth.scenario.clone(),
            score: None,
            label: None,
            reasons: Value::Null,
            explanation: None,
        }
    }
}

impl From<&StoredWindow> for WindowView {
    fn from(w: &StoredWindow) -> Self {
        WindowView {
            host: w.host.clone(),
            start: w.window_start,
            end: w.window_end,
            lookups: w.lookups,
            features: w.features.clone(),
            top_domains: serde_json::from_str(&w.top_domains).unwrap_or(Value::Null),
            risky_domains: serde_json::from_str(&w.risky_domains).unwrap_or(Value::Null),
            truth_label: w.truth_label.clone(),
            truth_scenario: w.truth_scenario.clone(),
            score: w.score.map(|s| (s * 1e4).round() / 1e4),
            label: w.label.clone(),
            reasons: w
                .reasons
                .as_deref()
                .and_then(|r| serde_json::from_str(r).ok())
                .unwrap_or(Value::Null),
            explanation: w.explanation.clone(),
        }
    }
}

/// RFC 3339 UTC for unix seconds.
pub use sentineldns::time::rfc3339_secs as rfc3339;

impl WindowView {
    fn feature(&self, name: &str) -> f64 {
        FEATURE_NAMES
            .iter()
            .position(|n| *n == name)
            .and_then(|i| self.features.get(i).copied())
            .unwrap_or(0.0)
    }

    /// The JSON object (one line of `--format json`).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("host".into(), json!(self.host));
        m.insert("window_start".into(), json!(rfc3339(self.start)));
        m.insert("window_end".into(), json!(rfc3339(self.end)));
        m.insert("lookups".into(), json!(self.lookups));
        for (n, v) in FEATURE_NAMES.iter().zip(&self.features) {
            let v = if v.fract() == 0.0 && v.abs() < 1e15 {
                json!(*v as i64)
            } else {
                json!((v * 1e6).round() / 1e6)
            };
            m.insert((*n).into(), v);
        }
        m.insert("top_domains".into(), self.top_domains.clone());
        m.insert("risky_domains".into(), self.risky_domains.clone());
        m.insert("truth_label".into(), json!(self.truth_label));
        m.insert("truth_scenario".into(), json!(self.truth_scenario));
        m.insert("score".into(), json!(self.score));
        m.insert("label".into(), json!(self.label));
        m.insert("reasons".into(), self.reasons.clone());
        m.insert("explanation".into(), json!(self.explanation));
        Value::Object(m)
    }

    fn top_names(&self) -> String {
        match &self.top_domains {
            Value::Array(a) => a
                .iter()
                .take(3)
                .filter_map(|d| {
                    let n = d.get("name")?.as_str()?;
                    let c = d.get("count")?.as_u64()?;
                    Some(format!("{n}({c})"))
                })
                .collect::<Vec<_>>()
                .join(" "),
            _ => String::new(),
        }
    }
}

impl sentineldns::sensor::WindowPrinter for Printer {
    fn print(&mut self, windows: &[HostWindow], verdicts: &[Verdict]) {
        // A closed stdout (e.g. `| head`) must not lose stored data: ignore it.
        let _ = Printer::print(
            self,
            windows
                .iter()
                .enumerate()
                .map(|(i, w)| WindowView::scored(w, verdicts.get(i))),
        );
    }
}

/// Writes windows in one format; prints the table header once.
#[derive(Debug)]
pub struct Printer {
    format: crate::cli::OutputFormat,
    header_done: bool,
}

const HEADER: &str = "WINDOW_START          HOST                            LOOKUPS    QPM   NX%  RISKY%  NEW%  UNIQ   REG  MAXSUB  LEN  ENTR  RARE%  SCORE  LABEL              TRUTH      REASONS / TOP DOMAINS";

impl Printer {
    /// New printer.
    pub fn new(format: crate::cli::OutputFormat) -> Self {
        Printer {
            format,
            header_done: false,
        }
    }

    /// Print a batch. Errors are I/O errors on stdout (e.g. a closed pipe).
    pub fn print(&mut self, views: impl IntoIterator<Item = WindowView>) -> io::Result<()> {
        use crate::cli::OutputFormat;
        if self.format == OutputFormat::None {
            return Ok(());
        }
        let stdout = io::stdout();
        let mut out = io::BufWriter::new(stdout.lock());
        for v in views {
            match self.format {
                OutputFormat::Json => {
                    serde_json::to_writer(&mut out, &v.to_json())?;
                    out.write_all(b"\n")?;
                }
                OutputFormat::Table => {
                    if !self.header_done {
                        writeln!(out, "{HEADER}")?;
                        self.header_done = true;
                    }
                    let label = v.label.clone().unwrap_or_else(|| "-".into());
                    let score = v.score.map_or("-".to_string(), |s| format!("{s:.2}"));
                    let truth = match (&v.truth_label, &v.truth_scenario) {
                        (Some(_), Some(sc)) => sc.clone(),
                        (Some(t), None) => t.clone(),
                        _ => "-".into(),
                    };
                    let tags = v.reason_tags();
                    let tail = if tags.is_empty() {
                        v.top_names()
                    } else {
                        tags.join(",")
                    };
                    writeln!(
                        out,
                        "{:<21} {:<31} {:>7} {:>6.1} {:>5.1} {:>7.1} {:>5.1} {:>5} {:>5} {:>7} {:>4.0} {:>5.2} {:>6.1}  {:>5}  {:<18} {:<10} {}",
                        rfc3339(v.start),
                        v.host,
                        v.lookups,
                        v.feature("queries_per_min"),
                        100.0 * v.feature("nxdomain_rate"),
                        100.0 * v.feature("high_risk_domain_ratio"),
                        100.0 * v.feature("newly_seen_ratio"),
                        v.feature("unique_domains"),
                        v.feature("unique_registrable_domains"),
                        v.feature("max_subdomains_per_domain"),
                        v.feature("mean_qname_len"),
                        v.feature("mean_label_entropy"),
                        100.0 * v.feature("rare_qtype_ratio"),
                        score,
                        label,
                        truth,
                        tail
                    )?;
                }
                OutputFormat::None => {}
            }
        }
        out.flush()
    }
}
