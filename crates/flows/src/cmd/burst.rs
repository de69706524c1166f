//! `sentineldns flows burst`: burst alerts over a scored CSV (NDJSON alerts on stdout).

use super::{report_skips, require_named};
use crate::burst::{BurstConfig, BurstDetector};
use crate::cli::FlowsBurstArgs;
use crate::csvin::CsvInput;
use anyhow::Context;
use std::io::Write;
use std::process::ExitCode;

/// Run `flows burst`.
pub fn run(a: FlowsBurstArgs) -> anyhow::Result<ExitCode> {
    let fields: Vec<&str> = a.context.iter().map(String::as_str).collect();
    let mut cfg = BurstConfig::new(a.min_hits, a.window, a.threshold, &fields);
    if let Some(c) = a.cooldown {
        cfg.cooldown = c;
    }
    let mut det = BurstDetector::new(cfg).context("invalid burst options")?;
    let mut input = CsvInput::open(&a.input)?;
    let mut names = vec![a.time_column.clone(), a.score_column.clone()];
    names.extend(a.context.iter().cloned());
    let idx = require_named(&input, &names)?;
    let stdout = std::io::stdout();
    let mut out = std::io::LineWriter::new(stdout.lock());
    let mut rec = csv::StringRecord::new();
    let mut skips = Vec::new();
    let mut rows = 0u64;
    while let Some(line) = input.next_row(&mut rec, |l, m| skips.push((l, m))) {
        let raw_t = rec.get(idx[0]).unwrap_or("").trim();
        let Some(ts) = sentineldns_model::time::parse_ts(raw_t) else {
            skips.push((
                line,
                format!("time {raw_t:?} is not RFC 3339 or epoch seconds"),
            ));
            continue;
        };
        let raw_s = rec.get(idx[1]).unwrap_or("").trim();
        let score = match raw_s.parse::<f64>() {
            Ok(s) if !s.is_nan() => s,
            _ => {
                skips.push((line, format!("score {raw_s:?} is not a number")));
                continue;
            }
        };
        rows += 1;
        let ctx: Vec<&str> = idx[2..]
            .iter()
            .map(|&i| rec.get(i).unwrap_or("-").trim())
            .collect();
        if let Some(alert) = det.observe(ts, score, &ctx) {
            let mut v = serde_json::to_value(&alert)?;
            v["line"] = line.into();
            writeln!(out, "{v}")?;
        }
    }
    out.flush()?;
    report_skips(&a.input.display().to_string(), &skips);
    eprintln!(
        "{} records, {} burst alert(s) (>= {} scores >= {} within {} s)",
        rows,
        det.alerts(),
        a.min_hits,
        a.threshold,
        a.window as f64 / 1e6
    );
    Ok(ExitCode::SUCCESS)
}
