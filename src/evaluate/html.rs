//! Self-contained HTML evaluation report.
//!
//! One file, no scripts, no external assets: inline CSS, the summary and incident
//! tables, and one score timeline per host drawn with plotters' SVG backend and
//! inlined as `<svg>`. Plot text is SVG `<text>` (plotters' built-in font metrics), so
//! rendering needs no font files. Every piece of input text (title, host names,
//! scenarios, labels) is HTML-escaped with [`escape`]; plotters escapes the tick
//! labels it writes itself.
//!
//! Timelines: x = time (UTC), y = score in \[0, 1\]; a light red band behind every
//! stretch covered by ground-truth malicious windows; dashed reference lines at
//! the "Unusual" and "Likely Compromise" thresholds of every model that scored
//! the windows ([`ModelLines`]: the shipped prior's own, and each site model's);
//! one point per window at its
//! mid-time, grey for `Normal`, orange for `Unusual`, red for `Likely Compromise`,
//! purple for any other label. Hosts with incidents come first (by name), then benign
//! hosts (most false alerts first, then by name); at most [`MAX_HOST_PLOTS`] are drawn
//! and the page says how many were left out. A precision–recall and a ROC curve
//! of the window ranking (score against ground truth) follow the summary.
//! Output is deterministic.

use super::metrics::rank_score;
use super::render::{fmt_duration, fmt_rate, fmt_ratio, fmt_ts, metric_rows, COLUMNS};
use super::{Evaluation, ReviewItem, ScoredWindow, NORMAL_LABEL};
use plotters::prelude::*;
use sentineldns_model::metrics::{pr_curve, roc_curve};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A model whose thresholds the timelines draw (drawing only: flagging uses
/// the verdict labels the model gave).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelLines {
    /// How the page names it (model id, "prior", "site model …").
    pub name: String,
    /// Its "Unusual" score threshold.
    pub unusual: f64,
    /// Its "Likely Compromise" score threshold.
    pub likely: f64,
}
/// Curve chart size in pixels (width, height) of the PR and ROC pair.
pub const CURVE_SIZE: (u32, u32) = (760, 340);
/// At most this many host timelines are drawn.
pub const MAX_HOST_PLOTS: usize = 60;
/// At most this many incident rows are listed.
pub const MAX_INCIDENT_ROWS: usize = 200;
/// Timeline size in pixels (width, height).
pub const PLOT_SIZE: (u32, u32) = (1100, 210);

const BAND: RGBColor = RGBColor(230, 70, 70);
const LINE: RGBColor = RGBColor(70, 110, 160);
const GREY: RGBColor = RGBColor(150, 150, 150);
const ORANGE: RGBColor = RGBColor(245, 140, 0);
const DARK_RED: RGBColor = RGBColor(200, 0, 0);
const PURPLE: RGBColor = RGBColor(130, 60, 170);

/// Escape `& < > " '` for HTML text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Per-host view of the windows, for ordering and captions.
struct HostView<'a> {
    name: &'a str,
    windows: Vec<&'a ScoredWindow>,
    scenarios: Vec<&'a str>,
    false_alerts: usize,
    flagged: usize,
}

fn host_views(windows: &[ScoredWindow]) -> Vec<HostView<'_>> {
    let mut by_host: BTreeMap<&str, Vec<&ScoredWindow>> = BTreeMap::new();
    for w in windows {
        by_host.entry(w.host.as_str()).or_default().push(w);
    }
    let mut views: Vec<HostView<'_>> = by_host
        .into_iter()
        .map(|(name, mut ws)| {
            ws.sort_by_key(|w| (w.start, w.end));
            let mut scenarios: Vec<&str> = ws.iter().filter_map(|w| w.scenario()).collect();
            scenarios.sort_unstable();
            scenarios.dedup();
            let flagged = ws.iter().filter(|w| w.flagged()).count();
            let false_alerts = ws
                .iter()
                .filter(|w| w.flagged() && !w.truth_malicious)
                .count();
            HostView {
                name,
                windows: ws,
                scenarios,
                false_alerts,
                flagged,
            }
        })
        .collect();
    // incident hosts first (by name), then benign hosts by false alerts desc, name
    views.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
    views
}

/// Incident hosts first (by name), then benign hosts by false alerts (descending)
/// and name.
fn sort_key<'a>(v: &HostView<'a>) -> (bool, std::cmp::Reverse<usize>, &'a str) {
    let benign = v.scenarios.is_empty();
    let fa = if benign { v.false_alerts } else { 0 };
    (benign, std::cmp::Reverse(fa), v.name)
}

/// Merge the [start, end] spans of the malicious windows so overlapping windows give
/// one even band.
fn malicious_bands(ws: &[&ScoredWindow]) -> Vec<(i64, i64)> {
    let mut spans: Vec<(i64, i64)> = ws
        .iter()
        .filter(|w| w.truth_malicious)
        .map(|w| (w.start, w.end.max(w.start)))
        .collect();
    spans.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for (s, e) in spans {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

fn label_style(label: &str) -> (RGBColor, i32) {
    match label {
        NORMAL_LABEL => (GREY, 2),
        "Unusual" => (ORANGE, 4),
        "Likely Compromise" => (DARK_RED, 4),
        _ => (PURPLE, 4),
    }
}

/// Draw one host's timeline as an SVG string.
fn host_svg(
    ws: &[&ScoredWindow],
    models: &[ModelLines],
) -> Result<String, Box<dyn std::error::Error>> {
    // x axis in f64 *hours since the hour at or before the first window*: plotters
    // then puts ticks on round hour counts, i.e. on whole clock hours (or round
    // fractions of an hour for short spans). f64 also avoids the plain i64
    // subtraction plotters uses for i64 ranges, which could overflow on absurd input.
    let first = ws.iter().map(|w| w.start).min().unwrap_or(0) as f64;
    let last = ws.iter().map(|w| w.end.max(w.start)).max().unwrap_or(0) as f64;
    let origin = (first / 3600.0).floor() * 3600.0;
    let hours = |ts: f64| (ts - origin) / 3600.0;
    let x0 = hours(first);
    let mut x1 = hours(last);
    if x1 - x0 < 1.0 / 60.0 || !x1.is_finite() {
        x1 = x0 + 1.0 / 60.0;
    }
    let long_span = last - first > 86_400.0;
    let fmt_x = move |h: &f64| {
        crate::time::tick_label_secs((origin + h * 3600.0).round() as i64, long_span)
    };
    let fmt_y = |y: &f64| format!("{y:.2}");
    let mid =
        |w: &ScoredWindow| hours(w.start as f64 + (w.end as f64 - w.start as f64).max(0.0) / 2.0);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, PLOT_SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(44)
            .build_cartesian_2d(x0..x1, 0f64..1f64)?;
        chart
            .configure_mesh()
            .x_labels(8)
            .y_labels(5)
            .x_label_formatter(&fmt_x)
            .y_label_formatter(&fmt_y)
            .y_desc("score")
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(215, 215, 215))
            .label_style(("sans-serif", 12))
            .draw()?;

        chart.draw_series(malicious_bands(ws).into_iter().map(|(s, e)| {
            Rectangle::new(
                [(hours(s as f64), 0.0), (hours(e as f64), 1.0)],
                BAND.mix(0.18).filled(),
            )
        }))?;
        for (i, m) in models.iter().enumerate() {
            // the first model dashed, the next ones dotted ever finer
            let (dash, gap) = if i == 0 { (6, 4) } else { (2, 2 + i as u32) };
            for (t, color) in [(m.unusual, ORANGE), (m.likely, DARK_RED)] {
                let t = rank_score(t);
                chart.draw_series(DashedLineSeries::new(
                    vec![(x0, t), (x1, t)],
                    dash,
                    gap,
                    color.mix(0.8).stroke_width(1),
                ))?;
            }
        }
        chart.draw_series(LineSeries::new(
            ws.iter().map(|w| (mid(w), rank_score(w.score))),
            LINE.stroke_width(1),
        ))?;
        // normal points first so alerts are drawn on top
        let mut ordered: Vec<&&ScoredWindow> = ws.iter().collect();
        ordered.sort_by_key(|w| w.flagged());
        chart.draw_series(ordered.into_iter().map(|w| {
            let (color, r) = label_style(&w.label);
            Circle::new((mid(w), rank_score(w.score)), r, color.filled())
        }))?;
        root.present()?;
    }
    Ok(svg)
}

const CSS: &str = "body{font-family:sans-serif;margin:24px;color:#222;max-width:1160px}\
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}\
h3{font-size:15px;margin:18px 0 2px}\
table{border-collapse:collapse;font-size:13px}\
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}\
th{background:#f3f3f3}td.l,th.l{text-align:left}tr.overall td{font-weight:bold;background:#fafafa}\
.meta,.caption,.note{font-size:13px;color:#555}.caption{margin:0 0 4px}\
.sw{display:inline-block;width:12px;height:12px;vertical-align:middle;margin:0 4px 0 12px;border-radius:6px}\
.band{border-radius:0;background:rgba(230,70,70,.25)}\
.dash{border-radius:0;height:0;border-top:2px dashed #999}\
dl{font-size:13px}dt{font-weight:bold;margin-top:6px}dd{margin-left:18px}\
svg{display:block}";

/// The precision–recall and ROC curves of the window ranking as one SVG.
fn curves_svg(rows: &[(bool, f64)]) -> Result<String, Box<dyn std::error::Error>> {
    let pr = pr_curve(rows);
    let roc = roc_curve(rows);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, CURVE_SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let (left, right) = root.split_horizontally(CURVE_SIZE.0 / 2);
        for (area, points, caption, x_desc, y_desc, step) in [
            (&left, &pr, "precision–recall", "recall", "precision", true),
            (
                &right,
                &roc,
                "ROC",
                "false-positive rate",
                "true-positive rate",
                false,
            ),
        ] {
            let mut chart = ChartBuilder::on(area)
                .caption(caption, ("sans-serif", 14))
                .margin(10)
                .x_label_area_size(34)
                .y_label_area_size(44)
                .build_cartesian_2d(0f64..1f64, 0f64..1.02f64)?;
            chart
                .configure_mesh()
                .x_labels(6)
                .y_labels(6)
                .x_desc(x_desc)
                .y_desc(y_desc)
                .x_label_formatter(&|v| format!("{v:.1}"))
                .y_label_formatter(&|v| format!("{v:.1}"))
                .light_line_style(RGBColor(238, 238, 238))
                .bold_line_style(RGBColor(215, 215, 215))
                .label_style(("sans-serif", 11))
                .draw()?;
            if !step {
                chart.draw_series(DashedLineSeries::new(
                    vec![(0.0, 0.0), (1.0, 1.0)],
                    4,
                    4,
                    GREY.stroke_width(1),
                ))?;
            }
            // PR as the step function average precision integrates; ROC as segments.
            let mut line: Vec<(f64, f64)> = Vec::with_capacity(points.len() * 2);
            for &(x, y) in points.iter() {
                if step {
                    if let Some(&(_, py)) = line.last() {
                        line.push((x, py));
                    } else {
                        line.push((0.0, y));
                    }
                }
                line.push((x, y));
            }
            chart.draw_series(LineSeries::new(line, LINE.stroke_width(2)))?;
        }
        root.present()?;
    }
    Ok(svg)
}

/// Render the report. `windows` must be the rows `e` was computed from;
/// `models` are the models that scored them (their thresholds are drawn).
pub fn render_html(
    e: &Evaluation,
    windows: &[ScoredWindow],
    title: &str,
    models: &[ModelLines],
) -> String {
    let mut h = String::new();
    let t = escape(title);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{t}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{t}</h1>\n"
    );
    let labels: Vec<String> = e
        .label_counts
        .iter()
        .map(|(l, n)| format!("{}: {n}", escape(l)))
        .collect();
    let _ = writeln!(
        h,
        "<p class=\"meta\">{} windows · {} hosts · {:.2} host-days · false alerts per host-day: \
         <b>{}</b> · incidents: {} ({} false, <b>{}</b> per host-day) · labels: {}</p>",
        e.windows,
        e.hosts,
        e.host_days,
        fmt_rate(e.false_alerts_per_host_day),
        e.alert_incidents.incidents,
        e.alert_incidents.false_incidents,
        fmt_rate(e.alert_incidents.false_incidents_per_host_day),
        labels.join(", ")
    );

    // summary table
    h.push_str("<h2>Summary</h2>\n<table>\n<tr>");
    for (i, c) in COLUMNS.iter().enumerate() {
        let cls = if i == 0 { " class=\"l\"" } else { "" };
        let _ = write!(h, "<th{cls}>{}</th>", escape(c));
    }
    h.push_str("<th>FA/host-day</th></tr>\n");
    let rows = metric_rows(e);
    let n_rows = rows.len();
    for (ri, row) in rows.into_iter().enumerate() {
        let overall = ri + 1 == n_rows;
        h.push_str(if overall {
            "<tr class=\"overall\">"
        } else {
            "<tr>"
        });
        for (i, c) in row.iter().enumerate() {
            let cls = if i == 0 { " class=\"l\"" } else { "" };
            let _ = write!(h, "<td{cls}>{}</td>", escape(c));
        }
        let fa = if overall {
            fmt_rate(e.false_alerts_per_host_day)
        } else {
            "—".to_owned()
        };
        let _ = writeln!(h, "<td>{fa}</td></tr>");
    }
    h.push_str(
        "</table>\n<p class=\"note\">Scenario rows: that scenario's malicious windows against \
         <i>all</i> benign windows, so FP, TN and false alerts per host-day are shared with the \
         overall row. Detected = incidents with a flagged window / incidents. Delays over \
         detected incidents.</p>\n",
    );

    // curves
    h.push_str("<h2>Precision–recall and ROC</h2>\n");
    let rows: Vec<(bool, f64)> = windows
        .iter()
        .map(|w| (w.truth_malicious, w.score))
        .collect();
    if rows.iter().any(|r| r.0) && rows.iter().any(|r| !r.0) {
        let _ = writeln!(
            h,
            "<p class=\"note\">Every window ranked by its score against ground truth \
             (PR-AUC {}, ROC-AUC {}; dashed: chance).</p>",
            fmt_ratio(e.overall.pr_auc),
            fmt_ratio(e.overall.roc_auc)
        );
        match curves_svg(&rows) {
            Ok(svg) => h.push_str(&svg),
            Err(err) => {
                let _ = write!(
                    h,
                    "<p class=\"note\">curves unavailable: {}</p>",
                    escape(&err.to_string())
                );
            }
        }
        h.push('\n');
    } else {
        h.push_str(
            "<p class=\"note\">No curves: they need both malicious and benign windows.</p>\n",
        );
    }

    // incidents
    let _ = writeln!(h, "<h2>Incidents ({})</h2>", e.detection_delays.len());
    if e.detection_delays.is_empty() {
        h.push_str("<p class=\"note\">No ground-truth incidents.</p>\n");
    } else {
        h.push_str(
            "<table>\n<tr><th class=\"l\">host</th><th class=\"l\">scenario</th>\
             <th>first malicious (UTC)</th><th>first flag (UTC)</th><th>delay</th></tr>\n",
        );
        for d in e.detection_delays.iter().take(MAX_INCIDENT_ROWS) {
            let _ = writeln!(
                h,
                "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&d.host),
                escape(&d.scenario),
                fmt_ts(d.first_malicious),
                d.first_flag.map_or_else(|| "missed".to_owned(), fmt_ts),
                fmt_duration(d.delay_s)
            );
        }
        h.push_str("</table>\n");
        if e.detection_delays.len() > MAX_INCIDENT_ROWS {
            let _ = writeln!(
                h,
                "<p class=\"note\">First {MAX_INCIDENT_ROWS} of {} incidents listed.</p>",
                e.detection_delays.len()
            );
        }
    }

    review_table(
        &mut h,
        "False alerts",
        "Benign windows that were flagged, highest score first: what to review before \
         tuning allow-lists or thresholds.",
        &e.false_alerts,
    );
    review_table(
        &mut h,
        "Missed windows",
        "Malicious windows left Normal, highest score first.",
        &e.missed,
    );

    // timelines
    let views = host_views(windows);
    let shown = views.len().min(MAX_HOST_PLOTS);
    h.push_str("<h2>Score timelines</h2>\n");
    let _ = writeln!(
        h,
        "<p class=\"note\">Showing {shown} of {} hosts (at most {MAX_HOST_PLOTS}): hosts with \
         incidents first, then benign hosts with the most false alerts. Time axis in UTC; one \
         point per window at its mid-time.</p>",
        views.len()
    );
    let _ = writeln!(
        h,
        "<p class=\"note\">\
         <span class=\"sw band\"></span>ground-truth malicious windows\
         <span class=\"sw\" style=\"background:#969696\"></span>Normal\
         <span class=\"sw\" style=\"background:#f58c00\"></span>Unusual\
         <span class=\"sw\" style=\"background:#c80000\"></span>Likely Compromise\
         <span class=\"sw dash\"></span>thresholds (Unusual / Likely Compromise): {}</p>",
        threshold_legend(models)
    );
    for v in views.iter().take(shown) {
        let scen = if v.scenarios.is_empty() {
            "benign".to_owned()
        } else {
            let s: Vec<String> = v.scenarios.iter().map(|s| escape(s)).collect();
            format!("scenario: {}", s.join(", "))
        };
        let _ = writeln!(
            h,
            "<section class=\"host\">\n<h3>{}</h3>\n<p class=\"caption\">{scen} · {} windows · \
             {} flagged · {} false alerts</p>",
            escape(v.name),
            v.windows.len(),
            v.flagged,
            v.false_alerts
        );
        match host_svg(&v.windows, models) {
            Ok(svg) => h.push_str(&svg),
            Err(err) => {
                let _ = write!(
                    h,
                    "<p class=\"note\">timeline unavailable: {}</p>",
                    escape(&err.to_string())
                );
            }
        }
        h.push_str("\n</section>\n");
    }

    h.push_str(DEFINITIONS);
    h.push_str("</body>\n</html>\n");
    h
}

/// "prior 0.656 / 0.800 (dashed); site model x 0.51 / 0.73 (dotted)".
fn threshold_legend(models: &[ModelLines]) -> String {
    if models.is_empty() {
        return "none drawn".to_owned();
    }
    models
        .iter()
        .enumerate()
        .map(|(i, m)| {
            format!(
                "{} {:.3} / {:.3} ({})",
                escape(&m.name),
                m.unusual,
                m.likely,
                if i == 0 { "dashed" } else { "dotted" }
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A review section: one row per window with its explanation (at most
/// [`MAX_INCIDENT_ROWS`] rows).
fn review_table(h: &mut String, title: &str, note: &str, items: &[ReviewItem]) {
    let _ = writeln!(h, "<h2>{title} ({})</h2>", items.len());
    if items.is_empty() {
        h.push_str("<p class=\"note\">None.</p>\n");
        return;
    }
    let _ = writeln!(h, "<p class=\"note\">{note}</p>");
    h.push_str(
        "<table>\n<tr><th class=\"l\">host</th><th>window start (UTC)</th><th class=\"l\">label</th>\
         <th>score</th><th class=\"l\">scenario</th><th class=\"l\">reasons</th>\
         <th class=\"l\">explanation</th></tr>\n",
    );
    for r in items.iter().take(MAX_INCIDENT_ROWS) {
        let _ = writeln!(
            h,
            "<tr><td class=\"l\">{}</td><td>{}</td><td class=\"l\">{}</td><td>{}</td>\
             <td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            escape(&r.host),
            fmt_ts(r.start),
            escape(&r.label),
            fmt_ratio(r.score),
            escape(r.scenario.as_deref().unwrap_or("benign")),
            escape(&r.reasons.join(", ")),
            escape(&r.explanation)
        );
    }
    h.push_str("</table>\n");
    if items.len() > MAX_INCIDENT_ROWS {
        let _ = writeln!(
            h,
            "<p class=\"note\">First {MAX_INCIDENT_ROWS} of {} listed.</p>",
            items.len()
        );
    }
}

const DEFINITIONS: &str = "<h2>Definitions</h2>\n<dl>\n\
<dt>Flagged</dt><dd>verdict label other than Normal (Unusual or Likely Compromise).</dd>\n\
<dt>Positive</dt><dd>window with ground-truth malicious lookups; TP/FN/FP/TN count windows.</dd>\n\
<dt>Per-scenario</dt><dd>positives of that scenario plus all benign windows; \
precision = TP<sub>S</sub> / (TP<sub>S</sub> + FP<sub>all</sub>).</dd>\n\
<dt>PR-AUC</dt><dd>step-wise average precision (as scikit-learn) from the score; n/a without positives.</dd>\n\
<dt>ROC-AUC</dt><dd>Mann–Whitney, ties count ½; n/a without both positives and negatives.</dd>\n\
<dt>Incident</dt><dd>malicious windows of one host and scenario; a gap over 1 hour starts a new one.</dd>\n\
<dt>Delay</dt><dd>close (end) of the incident's first flagged window minus its first malicious lookup, \
at least 0; missed incidents have none.</dd>\n\
<dt>False alerts per host-day</dt><dd>flagged benign windows / Σ per-host observed span \
(first window start to last window end) in days.</dd>\n</dl>\n";
