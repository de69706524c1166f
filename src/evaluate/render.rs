//! Text and JSON renderings of an [`Evaluation`].
//!
//! [`render_table`] is for people at a terminal: one aligned row per scenario plus the
//! overall row, then the run-level figures. [`render_json`] is for machines: every
//! number of the [`Evaluation`], undefined values (`NaN`, `None`) as JSON `null`, keys
//! in a stable order.

use super::{Delay, DetectionMetrics, Evaluation, ReviewItem};
use serde_json::{json, Map, Value};

/// JSON schema tag written at the top of [`render_json`].
pub const JSON_SCHEMA: &str = "sentineldns.evaluation/1";

/// A ratio in \[0, 1\] with three decimals, or `n/a` when undefined.
pub fn fmt_ratio(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "n/a".to_owned()
    }
}

/// A duration in seconds for people: `42s`, `3m05s`, `2h07m`, `1d03h`; `n/a` for
/// `None` or non-finite values.
pub fn fmt_duration(s: Option<f64>) -> String {
    let Some(s) = s.filter(|s| s.is_finite()) else {
        return "n/a".to_owned();
    };
    let t = s.max(0.0).round() as u64;
    match t {
        0..=59 => format!("{t}s"),
        60..=3599 => format!("{}m{:02}s", t / 60, t % 60),
        3600..=86_399 => format!("{}h{:02}m", t / 3600, (t % 3600) / 60),
        _ => format!("{}d{:02}h", t / 86_400, (t % 86_400) / 3600),
    }
}

/// A rate with two decimals, or `n/a` when undefined.
pub fn fmt_rate(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2}")
    } else {
        "n/a".to_owned()
    }
}

/// Column headers of the metrics table (shared with the HTML report).
pub const COLUMNS: [&str; 14] = [
    "scope",
    "support",
    "TP",
    "FP",
    "FN",
    "TN",
    "precision",
    "recall",
    "F1",
    "PR-AUC",
    "ROC-AUC",
    "detected",
    "mean delay",
    "max delay",
];

/// The cells of one metrics row, in [`COLUMNS`] order.
pub fn metric_cells(scope: &str, m: &DetectionMetrics) -> Vec<String> {
    vec![
        scope.to_owned(),
        m.support.to_string(),
        m.tp.to_string(),
        m.fp.to_string(),
        m.fn_.to_string(),
        m.tn.to_string(),
        fmt_ratio(m.precision),
        fmt_ratio(m.recall),
        fmt_ratio(m.f1),
        fmt_ratio(m.pr_auc),
        fmt_ratio(m.roc_auc),
        format!("{}/{}", m.detected_incidents, m.incidents),
        fmt_duration(m.mean_delay_s),
        fmt_duration(m.max_delay_s),
    ]
}

/// The metric rows of the report: one per scenario (sorted), then `overall`.
pub fn metric_rows(e: &Evaluation) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = e
        .per_scenario
        .iter()
        .map(|(s, m)| metric_cells(s, m))
        .collect();
    rows.push(metric_cells("overall", &e.overall));
    rows
}

/// Full UTC timestamp `YYYY-MM-DD HH:MM:SS` (the raw number if out of range).
pub use crate::time::datetime_secs as fmt_ts;

/// One review line: `host  start  label score  [scenario]  tags`.
pub fn review_line(r: &ReviewItem) -> String {
    let scen = r
        .scenario
        .as_deref()
        .map_or_else(String::new, |s| format!("  {s}"));
    let tags = if r.reasons.is_empty() {
        "(no reasons)".to_owned()
    } else {
        r.reasons.join(",")
    };
    format!(
        "{}  {}  {} {}{scen}  {tags}",
        r.host,
        fmt_ts(r.start),
        r.label,
        fmt_ratio(r.score)
    )
}

/// The review section of the table: up to `n` false alerts and `n` missed windows,
/// each with its explanation; nothing when `n` is 0.
pub fn render_review(e: &Evaluation, n: usize) -> String {
    let mut out = String::new();
    if n == 0 {
        return out;
    }
    for (title, items) in [
        ("false alerts (benign windows flagged)", &e.false_alerts),
        ("missed windows (malicious, Normal)", &e.missed),
    ] {
        if items.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "\n{title}: {}{}\n",
            items.len(),
            if items.len() > n {
                format!(", top {n} by score")
            } else {
                String::new()
            }
        ));
        for r in items.iter().take(n) {
            out.push_str("  ");
            out.push_str(&review_line(r));
            out.push('\n');
            if !r.explanation.is_empty() {
                out.push_str("    ");
                out.push_str(&r.explanation);
                out.push('\n');
            }
        }
    }
    out
}

/// Readable, column-aligned plain text (metrics only; see [`render_review`]).
pub fn render_table(e: &Evaluation) -> String {
    let header: Vec<String> = COLUMNS.iter().map(|c| (*c).to_owned()).collect();
    let rows = metric_rows(e);
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| -> String {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            let pad = w.saturating_sub(c.chars().count());
            if i == 0 {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            }
        }
        s.trim_end().to_owned()
    };

    let mut out = String::new();
    out.push_str(&line(&header));
    out.push('\n');
    let total: usize = widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
    out.push_str(&"-".repeat(total));
    out.push('\n');
    for r in &rows {
        out.push_str(&line(r));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&format!(
        "windows: {}   hosts: {}   host-days: {:.2}   false alerts/host-day: {}\n",
        e.windows,
        e.hosts,
        e.host_days,
        fmt_rate(e.false_alerts_per_host_day)
    ));
    let ai = &e.alert_incidents;
    out.push_str(&format!(
        "incidents: {}   false incidents: {}   false incidents/host-day: {}   incident alerts: {} (quiet {}s)\n",
        ai.incidents,
        ai.false_incidents,
        fmt_rate(ai.false_incidents_per_host_day),
        ai.alerts,
        ai.quiet_s
    ));
    let labels: Vec<String> = e
        .label_counts
        .iter()
        .map(|(l, n)| format!("{l}={n}"))
        .collect();
    out.push_str(&format!("labels: {}\n", labels.join("  ")));
    out.push_str(
        "per-scenario rows: that scenario's windows vs all benign windows (FP/TN shared); \
         delays: first malicious lookup -> close of first flagged window\n",
    );
    out
}

/// A finite float as a JSON number, anything else as `null`.
pub fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// An optional float as a JSON number or `null`.
pub fn opt_num(x: Option<f64>) -> Value {
    x.map_or(Value::Null, num)
}

/// One [`DetectionMetrics`] as a JSON object.
pub fn metrics_json(m: &DetectionMetrics) -> Value {
    json!({
        "support": m.support,
        "tp": m.tp,
        "fp": m.fp,
        "tn": m.tn,
        "fn": m.fn_,
        "precision": num(m.precision),
        "recall": num(m.recall),
        "f1": num(m.f1),
        "pr_auc": num(m.pr_auc),
        "roc_auc": num(m.roc_auc),
        "incidents": m.incidents,
        "detected_incidents": m.detected_incidents,
        "mean_delay_s": opt_num(m.mean_delay_s),
        "max_delay_s": opt_num(m.max_delay_s),
    })
}

/// One [`Delay`] as a JSON object.
pub fn delay_json(d: &Delay) -> Value {
    json!({
        "host": d.host,
        "scenario": d.scenario,
        "first_malicious": d.first_malicious,
        "first_flag": d.first_flag,
        "delay_s": opt_num(d.delay_s),
    })
}

/// One [`ReviewItem`] as a JSON object.
pub fn review_json(r: &ReviewItem) -> Value {
    json!({
        "host": r.host,
        "start": r.start,
        "score": num(r.score),
        "label": r.label,
        "scenario": r.scenario,
        "reasons": r.reasons,
        "explanation": r.explanation,
    })
}

/// The whole evaluation as JSON; undefined values are `null`.
pub fn render_json(e: &Evaluation) -> Value {
    let per_scenario: Map<String, Value> = e
        .per_scenario
        .iter()
        .map(|(s, m)| (s.clone(), metrics_json(m)))
        .collect();
    let label_counts: Map<String, Value> = e
        .label_counts
        .iter()
        .map(|(l, n)| (l.clone(), Value::from(*n)))
        .collect();
    json!({
        "schema": JSON_SCHEMA,
        "windows": e.windows,
        "hosts": e.hosts,
        "host_days": num(e.host_days),
        "false_alerts_per_host_day": num(e.false_alerts_per_host_day),
        "incidents": {
            "incidents": e.alert_incidents.incidents,
            "false_incidents": e.alert_incidents.false_incidents,
            "false_incidents_per_host_day": num(e.alert_incidents.false_incidents_per_host_day),
            "alerts": e.alert_incidents.alerts,
            "quiet_s": e.alert_incidents.quiet_s,
        },
        "label_counts": label_counts,
        "overall": metrics_json(&e.overall),
        "per_scenario": per_scenario,
        "detection_delays": e.detection_delays.iter().map(delay_json).collect::<Vec<_>>(),
        "false_alerts": e.false_alerts.iter().map(review_json).collect::<Vec<_>>(),
        "missed": e.missed.iter().map(review_json).collect::<Vec<_>>(),
    })
}
