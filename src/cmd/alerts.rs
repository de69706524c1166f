//! `sentineldns alerts`: flagged windows with their explanation.

use super::output::{rfc3339, Printer, WindowView};
use crate::cli::{AlertsArgs, MinLabel, OutputFormat};
use crate::store::{Store, WindowQuery};
use anyhow::Context;
use std::io::Write;
use std::process::ExitCode;

/// Run `alerts`.
pub fn run(a: AlertsArgs) -> anyhow::Result<ExitCode> {
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
        MinLabel::Unusual => vec!["Unusual".to_string(), "Likely Compromise".to_string()],
        MinLabel::Likely => vec!["Likely Compromise".to_string()],
    };
    let store = Store::open(&a.db)?;
    let rows = store.query_windows(&WindowQuery {
        host: a.host.clone(),
        since: a.since,
        until: a.until,
        run: a.run,
        limit: a.limit,
        labels,
    })?;
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
