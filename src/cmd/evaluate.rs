//! `sentineldns evaluate`: replay labelled input, score it, measure detection.

use super::{load_detector, pipeline_config, windows_in_memory};
use crate::cli::{EvalFormat, EvaluateArgs};
use anyhow::Context;
use sentineldns::aggregate::HostWindow;
use sentineldns::evaluate::{
    evaluate, render_html, render_json, render_review, render_table, ModelLines, ScoredWindow,
};
use sentineldns::event::MICROS;
use serde::Deserialize;
use std::process::ExitCode;

/// One ground-truth entry of a `--labels` file.
#[derive(Debug, Clone, Deserialize)]
pub struct LabelEntry {
    /// Client IP.
    pub host: String,
    /// `benign` or anything else (malicious).
    pub label: String,
    /// Scenario name.
    #[serde(default)]
    pub scenario: Option<String>,
    /// Start of the period (RFC 3339 or epoch seconds).
    pub from: String,
    /// End of the period.
    pub to: String,
}

/// Parsed label period.
#[derive(Debug, Clone)]
struct Period {
    host: String,
    malicious: bool,
    scenario: Option<String>,
    from: i64,
    to: i64,
}

fn load_labels(path: &std::path::Path) -> anyhow::Result<Vec<Period>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let entries: Vec<LabelEntry> = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a JSON array of label entries", path.display()))?;
    entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let t = |s: &str| {
                sentineldns::source::jsonl::parse_ts(s).ok_or_else(|| {
                    anyhow::anyhow!("{}: entry {}: bad time {s:?}", path.display(), i + 1)
                })
            };
            Ok(Period {
                malicious: !e.label.eq_ignore_ascii_case("benign"),
                from: t(&e.from)?,
                to: t(&e.to)?,
                host: e.host,
                scenario: e.scenario,
            })
        })
        .collect()
}

/// Ground truth of a window: from its labelled lookups, or from label periods.
fn truth(w: &HostWindow, periods: &[Period]) -> (bool, Option<String>, Option<i64>) {
    if periods.is_empty() {
        let mal = w.truth.malicious_lookups > 0;
        return (
            mal,
            if mal { w.truth.scenario.clone() } else { None },
            w.truth.first_malicious_ts.map(|t| t.div_euclid(MICROS)),
        );
    }
    let host = w.host.to_string();
    for p in periods.iter().filter(|p| p.malicious && p.host == host) {
        if p.from < w.end && p.to > w.start {
            let first = p.from.max(w.first_ts).max(w.start);
            return (true, p.scenario.clone(), Some(first.div_euclid(MICROS)));
        }
    }
    (false, None, None)
}

/// Run `evaluate`.
pub fn run(a: EvaluateArgs) -> anyhow::Result<ExitCode> {
    let cfg = pipeline_config(&a.windows)?;
    let (det, model) = load_detector(a.model.as_deref())?;
    let periods = match &a.labels {
        Some(p) => load_labels(p)?,
        None => Vec::new(),
    };
    // Each input is its own network: the same address in two inputs is two
    // hosts (this matters for false alerts per host-day).
    let mut windows = Vec::new();
    let mut stats = sentineldns::stats::Stats::default();
    for (i, input) in a.inputs.iter().enumerate() {
        let (ws, st) = windows_in_memory(std::slice::from_ref(input), &cfg)?;
        stats.merge(&st);
        windows.extend(ws.into_iter().map(|w| (i, w)));
    }
    let many = a.inputs.len() > 1;
    // Each input is scored as its own sensor would: in (start, host) order,
    // with the slow signals and, with --learn, site learning.
    windows.retain(|(_, w)| w.lookups > 0);
    windows.sort_by_cached_key(|(i, w)| (*i, w.start, w.host.to_string()));
    let learning = sentineldns::config::LearningConfig {
        period: sentineldns::config::Duration(a.learn.unwrap_or(0)),
        ..Default::default()
    };
    let mut verdicts = Vec::with_capacity(windows.len());
    // The models that scored the windows, whose thresholds the report draws.
    let mut models = vec![ModelLines {
        name: format!("prior {}", det.id()),
        unusual: det.bundle().thresholds.unusual,
        likely: det.bundle().thresholds.likely,
    }];
    for i in 0..a.inputs.len() {
        let ws: Vec<HostWindow> = windows
            .iter()
            .filter(|(j, _)| *j == i)
            .map(|(_, w)| w.clone())
            .collect();
        let sentineldns::learn::Offline {
            verdicts: vs,
            fitted,
        } = sentineldns::learn::score_offline(&ws, &det, &learning)
            .with_context(|| format!("scoring {}", a.inputs[i].display()))?;
        for (d, _) in &fitted {
            models.push(ModelLines {
                name: format!("site model {}", d.id()),
                unusual: d.bundle().thresholds.unusual,
                likely: d.bundle().thresholds.likely,
            });
        }
        for (d, r) in &fitted {
            eprintln!(
                "{}: site model {} fitted on {} windows ({} left out for evidence, {} trimmed) from {} to {}; thresholds {:.3} / {:.3}",
                a.inputs[i].display(),
                d.id(),
                r.windows,
                r.left_out,
                r.trimmed,
                r.from.map_or_else(String::new, sentineldns::time::rfc3339_secs),
                r.to.map_or_else(String::new, sentineldns::time::rfc3339_secs),
                d.bundle().thresholds.unusual,
                d.bundle().thresholds.likely
            );
        }
        if a.learn.is_some() && fitted.is_empty() {
            eprintln!(
                "{}: no site model fitted (too few windows or too short); every window was scored by the prior",
                a.inputs[i].display()
            );
        }
        verdicts.extend(vs);
    }
    let scored: Vec<ScoredWindow> = windows
        .iter()
        .zip(verdicts)
        .map(|((i, w), v)| {
            let (truth_malicious, truth_scenario, first_malicious_ts) = truth(w, &periods);
            ScoredWindow {
                host: if many {
                    format!("{}@{}", w.host, i + 1)
                } else {
                    w.host.to_string()
                },
                start: w.start.div_euclid(MICROS),
                end: w.end.div_euclid(MICROS),
                score: v.score,
                label: v.label.as_str().to_string(),
                truth_malicious,
                truth_scenario,
                first_malicious_ts,
                reasons: v.reasons.iter().map(|r| r.tag.to_string()).collect(),
                explanation: v.explanation,
            }
        })
        .collect();
    if periods.is_empty() && windows.iter().all(|(_, w)| w.truth.label.is_none()) {
        anyhow::bail!("the input carries no ground truth: use labelled JSONL (`sentineldns simulate`) or pass --labels FILE");
    }
    let e = evaluate(&scored);
    match a.format {
        EvalFormat::Table => {
            println!(
                "model {} · {} windows from {} lookups in {} file(s)",
                model,
                scored.len(),
                stats.lookups,
                stats.files
            );
            print!("{}", render_table(&e));
            print!("{}", render_review(&e, a.review));
        }
        EvalFormat::Json => {
            let mut j = render_json(&e);
            if let Some(o) = j.as_object_mut() {
                o.insert("model".into(), serde_json::json!(model.to_string()));
                o.insert(
                    "inputs".into(),
                    serde_json::json!(a
                        .inputs
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()),
                );
            }
            println!("{}", serde_json::to_string_pretty(&j)?);
        }
    }
    if let Some(r) = &a.report {
        let title = format!(
            "sentineldns evaluation: {}",
            a.inputs
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        std::fs::write(r, render_html(&e, &scored, &title, &models))
            .with_context(|| format!("writing {}", r.display()))?;
        eprintln!("wrote report {}", r.display());
    }
    Ok(ExitCode::SUCCESS)
}
