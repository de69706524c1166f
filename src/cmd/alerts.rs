//! `sentineldns alerts`: flagged windows with their explanation.

use super::output::{rfc3339, Printer, WindowView};
use super::query_stored;
use super::table;
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
            let mut out = std::io::BufWriter::new(stdout.lock());
            table(&mut out, &views, table::width(a.wide))?;
            out.flush()?;
        }
        f => Printer::new(f).print(views).context("writing to stdout")?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Indent of an alert's explanation.
const INDENT: &str = "    ";

/// Per alert: one line of facts, cut at `width` (the reason tags give way
/// first), then its explanation wrapped at `width` on word boundaries.
fn table(out: &mut impl Write, views: &[WindowView], width: Option<usize>) -> std::io::Result<()> {
    for v in views {
        let facts = format!(
            "{}  {:<15} {:<18} score {:.2}  [{}]",
            rfc3339(v.start),
            v.host,
            v.label.as_deref().unwrap_or("-"),
            v.score.unwrap_or(0.0),
            v.reason_tags().join(", ")
        );
        writeln!(out, "{}", table::fit(&facts, width))?;
        if let Some(e) = &v.explanation {
            let inner = width.map(|w| w.saturating_sub(INDENT.len()).max(20));
            for line in table::wrap(e, inner) {
                writeln!(out, "{INDENT}{line}")?;
            }
        }
    }
    if views.is_empty() {
        writeln!(out, "no alerts")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::table::display_width;

    fn alert(explanation: &str) -> WindowView {
        let w = sentineldns::store::StoredWindow {
            id: 1,
            run_id: 1,
            host: "192.168.100.200".into(),
            lookups: 10,
            features: Vec::new(),
            top_domains: "[]".into(),
            risky_domains: "[]".into(),
            truth_label: None,
            truth_scenario: None,
            window_start: 1_700_000_000,
            window_end: 1_700_000_300,
            score: Some(0.8123),
            label: Some("Likely Compromise".into()),
            reasons: Some(
                r#"[{"tag":"nxdomain_burst"},{"tag":"dga_like_names"},{"tag":"tunnel_like_subdomains"}]"#
                    .into(),
            ),
            explanation: Some(explanation.into()),
        };
        WindowView::from(&w)
    }

    #[test]
    fn alerts_fit_the_width_and_explanations_wrap_on_words() {
        let e = "Flagged: 62% of lookups failed with NXDOMAIN (usual 1%), under \
                 <script>.example and ünïcödé-名前.example, with random-looking labels.";
        let v = [alert(e)];
        let mut buf = Vec::new();
        table(&mut buf, &v, Some(60)).unwrap();
        let text = String::from_utf8(buf).unwrap();
        for l in text.lines() {
            assert!(display_width(l) <= 60, "{l}");
        }
        assert!(text.lines().next().unwrap().ends_with('…'), "{text}");
        let words: Vec<&str> = text
            .lines()
            .skip(1)
            .flat_map(str::split_whitespace)
            .collect();
        assert_eq!(
            words,
            e.split_whitespace().collect::<Vec<_>>(),
            "no word cut"
        );
        let mut buf = Vec::new();
        table(&mut buf, &v, None).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(text.contains(e));
        assert!(text.contains("tunnel_like_subdomains]"));
    }
}
