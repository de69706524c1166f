//! `sentineldns alerts`: flagged windows with their explanation.

use super::output::{rfc3339, Printer, WindowView};
use super::query_stored;
use crate::cli::{AlertsArgs, AlertsMinLabel, OutputFormat};
use anyhow::Context;
use std::io::Write;
use std::process::ExitCode;

/// Run `alerts`.
pub fn run(a: AlertsArgs) -> anyhow::Result<ExitCode> {
    let labels = match a.min_label {
        AlertsMinLabel::Unusual => vec!["Unusual".to_string(), "Likely Compromise".to_string()],
        AlertsMinLabel::Likely => vec!["Likely Compromise".to_string()],
    };
    let rows = query_stored(&a.query, labels)?;
    let views: Vec<WindowView> = rows.iter().map(WindowView::from).collect();
    match a.format {
        OutputFormat::Table => {
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            for v in &views {
                writeln!(
                    out,
                    "{}  {:<15} {:<18} score {:.2}  [{}]",
                    rfc3339(v.start),
                    v.host,
                    v.label.as_deref().unwrap_or("-"),
                    v.score.unwrap_or(0.0),
                    v.reason_tags().join(", ")
                )?;
                if let Some(e) = &v.explanation {
                    writeln!(out, "    {e}")?;
                }
            }
            if views.is_empty() {
                writeln!(out, "no alerts")?;
            }
        }
        f => Printer::new(f).print(views).context("writing to stdout")?,
    }
    Ok(ExitCode::SUCCESS)
}
