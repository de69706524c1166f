//! `sentineldns incidents`: stored incidents, filtered like `alerts`, as a
//! table (a line of facts, then details wrapped to the terminal's width, or
//! 100 columns off a terminal) or one JSON object per line.

use super::table;
use crate::cli::{AlertsMinLabel, IncidentStatusArg, IncidentsArgs, OutputFormat};
use anyhow::Context;
use sentineldns::event::MICROS;
use sentineldns::incident::Status;
use sentineldns::model::Label;
use sentineldns::store::{IncidentQuery, Store, StoredIncident};
use sentineldns::time::minute_micros;
use serde_json::json;
use std::io::Write;
use std::process::ExitCode;

/// Run `incidents`.
pub fn run(a: IncidentsArgs) -> anyhow::Result<ExitCode> {
    if !a.db.exists() {
        anyhow::bail!(
            "database {} does not exist (run `sentineldns replay` first)",
            a.db.display()
        );
    }
    if let Some(h) = &a.host {
        h.parse::<std::net::IpAddr>()
            .with_context(|| format!("--host {h:?} is not an IP address"))?;
    }
    let labels = match a.min_label {
        AlertsMinLabel::Unusual => vec![Label::Unusual, Label::LikelyCompromise],
        AlertsMinLabel::Likely => vec![Label::LikelyCompromise],
    };
    let store = Store::open(&a.db)?;
    let rows = store.query_incidents(&IncidentQuery {
        host: a.host.clone(),
        since: a.since,
        until: a.until,
        run: a.run,
        status: match a.status {
            IncidentStatusArg::Open => Some(Status::Open),
            IncidentStatusArg::Closed => Some(Status::Closed),
            IncidentStatusArg::All => None,
        },
        labels,
        limit: a.limit,
    })?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match a.format {
        OutputFormat::Table => table(&mut out, &rows, width(a.wide)),
        OutputFormat::Json => {
            for r in &rows {
                writeln!(out, "{}", json_row(r))?;
            }
            Ok(())
        }
        OutputFormat::None => Ok(()),
    }
    .and_then(|()| out.flush())
    .context("writing to stdout")?;
    Ok(ExitCode::SUCCESS)
}

/// Width of the table when stdout is not a terminal and `COLUMNS` is unset
/// (the table's width before it fitted the terminal).
const DEFAULT_WIDTH: usize = 100;

/// Indent of an incident's detail lines.
const INDENT: &str = "      ";

/// The width the table is laid out for: no limit with `--wide`, else the
/// terminal's (or `COLUMNS`), else [`DEFAULT_WIDTH`].
fn width(wide: bool) -> Option<usize> {
    if wide {
        None
    } else {
        Some(table::terminal_columns().unwrap_or(DEFAULT_WIDTH))
    }
}

fn minute(secs: i64) -> String {
    minute_micros(secs.saturating_mul(MICROS))
}

/// Per incident: one line of facts (89 columns with an IPv4 host, cut at
/// `width`), then its reasons, domains and the explanation of its peak
/// window, indented and wrapped at `width` on word boundaries (`None`: one
/// line each).
fn table(
    out: &mut impl Write,
    rows: &[StoredIncident],
    width: Option<usize>,
) -> std::io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "no incidents");
    }
    let inner = width.map(|w| w.saturating_sub(INDENT.len()).max(20));
    let header = format!(
        "{:>5} {:<15} {:<6} {:<16} {:<16} {:>4} {:<17} {:>5}",
        "ID", "HOST", "STATUS", "FIRST SEEN (UTC)", "LAST SEEN", "WIN", "PEAK", "SCORE"
    );
    writeln!(out, "{}", table::fit(&header, width))?;
    for r in rows {
        let i = &r.incident;
        let facts = format!(
            "{:>5} {:<15} {:<6} {:<16} {:<16} {:>4} {:<17} {:>5.2}",
            i.id,
            i.host,
            i.status.as_str(),
            minute(i.first_seen),
            minute(i.last_seen),
            i.windows,
            i.peak_label.as_str(),
            i.peak_score
        );
        writeln!(out, "{}", table::fit(&facts, width))?;
        let reasons: Vec<String> = i
            .reason_tags()
            .iter()
            .map(|(t, n)| format!("{t}×{n}"))
            .collect();
        let domains: Vec<&str> = i.top_domains().iter().map(|(d, _)| *d).collect();
        let list = |v: &[String]| {
            if v.is_empty() {
                "-".to_string()
            } else {
                v.join(", ")
            }
        };
        let domains: Vec<String> = domains
            .iter()
            .map(|d| table::truncate(d, 40).into_owned())
            .collect();
        let mut details = vec![
            format!("reasons: {}", list(&reasons)),
            format!("domains: {}", list(&domains)),
            i.explanation.clone(),
        ];
        details.extend(triage_line(r));
        for d in &details {
            for line in table::wrap(d, inner) {
                writeln!(out, "{INDENT}{line}")?;
            }
        }
    }
    Ok(())
}

/// The triage of `r` in one line: the model's verdict (an annotation: the
/// label above is the sensor's), or why there is none; `None` when triage
/// was off. Model text is attacker-influenced: control characters are
/// dropped and it is capped.
fn triage_line(r: &StoredIncident) -> Option<String> {
    let status = r.triage_status.as_deref()?;
    let clean = |s: &str, cap: usize| -> String {
        let t: String = s.chars().filter(|c| !c.is_control()).take(cap).collect();
        if s.chars().count() > cap {
            format!("{t}…")
        } else {
            t
        }
    };
    let verdict = r.triage.as_ref().map(|t| {
        format!(
            "{} {}/100 ({} confidence): {}",
            clean(t["category"].as_str().unwrap_or("?"), 32),
            t["threat_score"].as_u64().unwrap_or(0),
            clean(t["confidence"].as_str().unwrap_or("?"), 16),
            clean(t["summary"].as_str().unwrap_or(""), 400)
        )
    });
    Some(match (status, verdict) {
        ("ok", Some(v)) => format!("triage (model, advisory): {v}"),
        (s, Some(v)) => format!(
            "triage (model, advisory): {v} [latest update: {}]",
            clean(s, 200)
        ),
        (s, None) => format!("triage: none ({})", clean(s, 200)),
    })
}

fn json_row(r: &StoredIncident) -> serde_json::Value {
    let i = &r.incident;
    json!({
        "id": i.id,
        "run_id": r.run_id,
        "host": i.host,
        "status": i.status.as_str(),
        "first_seen": i.first_seen,
        "last_seen": i.last_seen,
        "closed_at": i.closed_at,
        "windows": i.windows,
        "peak_score": i.peak_score,
        "peak_label": i.peak_label.as_str(),
        "families": i.families().iter().map(|f| f.as_str()).collect::<Vec<_>>(),
        "reasons": i.reasons,
        "domains": i.top_domains().iter().map(|(d, n)| json!({"name": d, "windows": n})).collect::<Vec<_>>(),
        "model_id": i.model_id,
        "explanation": i.explanation,
        "updated_at": i.updated_at,
        "triage_status": r.triage_status.as_deref().unwrap_or("off"),
        "triage": r.triage,
    })
}

#[cfg(test)]
mod tests {
    use super::table::wrap;

    #[test]
    fn wrap_keeps_lines_within_the_width() {
        let text = "a ".repeat(120) + &"x".repeat(300);
        for l in wrap(&text, Some(94)) {
            assert!(l.chars().count() <= 94, "{l}");
        }
        assert_eq!(wrap("one two three", Some(7)), ["one two", "three"]);
        assert!(wrap("", Some(10)).is_empty());
    }
}
