//! Renders windows as a table or as JSON lines, identically for `replay` (fresh
//! windows) and `windows` (stored ones): both go through [`WindowView`].

use super::table::{self, Align, Column, Layout};
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
    layout: Layout,
}

/// The window table's fixed columns, in order (the tail, reasons or top
/// domains, comes last). Without a width limit they print as they always
/// have; within one, the feature columns go first (rarest use first), then
/// truth, NX% and lookups, and the host is squeezed to an IPv4 address.
const COLUMNS: [Column; 16] = [
    Column::new("WINDOW_START", 21, 0, Align::Left),
    Column::new("HOST", 31, 1, Align::Left).squeeze(15),
    Column::new("LOOKUPS", 7, 1, Align::Right).drop(11),
    Column::new("QPM", 6, 1, Align::Right).drop(8),
    Column::new("NX%", 5, 1, Align::Right).drop(10),
    Column::new("RISKY%", 7, 1, Align::Right).drop(7),
    Column::new("NEW%", 5, 1, Align::Right).drop(6),
    Column::new("UNIQ", 5, 1, Align::Right).drop(5),
    Column::new("REG", 5, 1, Align::Right).drop(4),
    Column::new("MAXSUB", 7, 1, Align::Right).drop(3),
    Column::new("LEN", 4, 1, Align::Right).drop(2),
    Column::new("ENTR", 5, 1, Align::Right).drop(1),
    Column::new("RARE%", 6, 1, Align::Right).drop(0),
    Column::new("SCORE", 5, 2, Align::Right),
    Column::new("LABEL", 18, 2, Align::Left),
    Column::new("TRUTH", 10, 1, Align::Left).drop(9),
];

/// Header of the window table's last column.
const TAIL: &str = "REASONS / TOP DOMAINS";

/// Fewest columns left for the reasons when columns are dropped.
const TAIL_MIN: usize = 16;

impl Printer {
    /// New printer, laid out for the terminal ([`table::width`]).
    pub fn new(format: crate::cli::OutputFormat) -> Self {
        Printer::with_width(format, table::width(false))
    }

    /// New printer laid out for `width` columns (`None`: no limit).
    pub fn with_width(format: crate::cli::OutputFormat, width: Option<usize>) -> Self {
        Printer {
            format,
            header_done: false,
            layout: Layout::new(&COLUMNS, TAIL, 1, TAIL_MIN, width),
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
                        writeln!(out, "{}", self.layout.header())?;
                        self.header_done = true;
                    }
                    writeln!(out, "{}", self.row(&v))?;
                }
                OutputFormat::None => {}
            }
        }
        out.flush()
    }

    /// One table row.
    fn row(&self, v: &WindowView) -> String {
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
        let f = |n: &str| v.feature(n);
        // Cells of dropped columns are not formatted.
        let l = &self.layout;
        let cell = |i: usize, s: &dyn Fn() -> String| if l.shows(i) { s() } else { String::new() };
        let cells = [
            rfc3339(v.start),
            v.host.clone(),
            cell(2, &|| v.lookups.to_string()),
            cell(3, &|| format!("{:.1}", f("queries_per_min"))),
            cell(4, &|| format!("{:.1}", 100.0 * f("nxdomain_rate"))),
            cell(5, &|| format!("{:.1}", 100.0 * f("high_risk_domain_ratio"))),
            cell(6, &|| format!("{:.1}", 100.0 * f("newly_seen_ratio"))),
            cell(7, &|| f("unique_domains").to_string()),
            cell(8, &|| f("unique_registrable_domains").to_string()),
            cell(9, &|| f("max_subdomains_per_domain").to_string()),
            cell(10, &|| format!("{:.0}", f("mean_qname_len"))),
            cell(11, &|| format!("{:.2}", f("mean_label_entropy"))),
            cell(12, &|| format!("{:.1}", 100.0 * f("rare_qtype_ratio"))),
            score,
            label,
            truth,
        ];
        l.row(&cells, &tail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::OutputFormat;

    fn view(host: &str, domains: &str) -> WindowView {
        WindowView {
            host: host.into(),
            start: 1_700_000_000,
            end: 1_700_000_300,
            lookups: 1234,
            features: vec![1.5; FEATURE_NAMES.len()],
            top_domains: serde_json::json!([{"name": domains, "count": 7}]),
            risky_domains: Value::Null,
            truth_label: None,
            truth_scenario: None,
            score: Some(0.71),
            label: Some("Likely Compromise".into()),
            reasons: Value::Null,
            explanation: None,
        }
    }

    #[test]
    fn the_window_table_fits_the_width_it_is_given() {
        let v = view(
            "2001:db8:ffff:ffff:ffff:ffff:ffff:1",
            &"<script>x".repeat(20),
        );
        for w in [40, 80, 100, 120, 178] {
            let p = Printer::with_width(OutputFormat::Table, Some(w));
            for line in [p.layout.header(), p.row(&v)] {
                assert!(table::display_width(&line) <= w, "{w}: {line}");
            }
            assert!(p.row(&v).ends_with(table::ELLIPSIS), "{w}");
            if w >= 80 {
                assert!(p.row(&v).contains("<script>x"), "markup kept as it is");
            }
        }
        let p = Printer::with_width(OutputFormat::Table, Some(80));
        assert!(p.layout.header().contains("SCORE  LABEL"));
        assert!(p.row(&v).contains("Likely Compromise"));
    }

    #[test]
    fn without_a_limit_the_table_is_as_it_always_was() {
        let p = Printer::with_width(OutputFormat::Table, None);
        assert_eq!(
            p.layout.header(),
            "WINDOW_START          HOST                            LOOKUPS    QPM   NX%  RISKY%  NEW%  UNIQ   REG  MAXSUB  LEN  ENTR  RARE%  SCORE  LABEL              TRUTH      REASONS / TOP DOMAINS"
        );
        let long = "a".repeat(300);
        let row = p.row(&view("10.0.0.1", &long));
        assert!(row.contains(&format!("{long}(7)")), "{row}");
        // The format of the table before it fitted the terminal.
        let v = view("10.0.0.1", &long);
        let tail = format!("{long}(7)");
        let before = format!(
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
            "0.71",
            "Likely Compromise",
            "-",
            tail
        );
        assert_eq!(row, before);
    }
}
