//! `sentineldns flows drift`: KL / L1 divergence of categorical columns between
//! a reference and a current CSV, and ADWIN over a numeric column of the current CSV.

use super::{report_skips, require_named};
use crate::cli::{FlowsDriftArgs, FlowsFormat};
use crate::csvin::CsvInput;
use crate::drift::{Adwin, CategoryCounts, Divergence, DriftEvent};
use anyhow::Context;
use sentineldns_model::time::MICROS;
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Run `flows drift`.
pub fn run(a: FlowsDriftArgs) -> anyhow::Result<ExitCode> {
    if a.reference.is_none() && a.adwin_column.is_none() {
        anyhow::bail!(
            "nothing to do: give --reference REF.csv (categorical divergence) and/or --adwin-column COLUMN (ADWIN over --current)"
        );
    }
    // Validate parameters before reading anything.
    let adwin = match &a.adwin_column {
        Some(_) => Some(Adwin::with_delta(a.delta).context("--delta")?),
        None => None,
    };
    if !(a.alpha.is_finite() && a.alpha >= 0.0) {
        anyhow::bail!("--alpha {} must be finite and >= 0", a.alpha);
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if let Some(reference) = &a.reference {
        if a.columns.is_empty() {
            anyhow::bail!("--columns is empty");
        }
        let (ref_counts, ref_skips) = read_categories(reference, &a.columns)?;
        let (cur_counts, cur_skips) = read_categories(&a.current, &a.columns)?;
        report_skips(&reference.display().to_string(), &ref_skips);
        report_skips(&a.current.display().to_string(), &cur_skips);
        if a.format == FlowsFormat::Table {
            writeln!(
                out,
                "{:<12} {:>6} {:>8} {:>8} {:>14} {:>14} {:>7}  largest shift",
                "column", "cats", "ref_n", "cur_n", "KL(cur||ref)", "KL(ref||cur)", "L1"
            )?;
        }
        for (col, (r, c)) in a.columns.iter().zip(ref_counts.iter().zip(&cur_counts)) {
            let d = Divergence::between(r, c, a.alpha)?;
            match a.format {
                FlowsFormat::Table => {
                    let shift = d.shifts.first().map_or(String::new(), |s| {
                        format!("{} {:.3} -> {:.3}", s.category, s.reference, s.current)
                    });
                    writeln!(
                        out,
                        "{:<12} {:>6} {:>8} {:>8} {:>14.4} {:>14.4} {:>7.4}  {shift}",
                        col,
                        d.categories,
                        d.reference_total,
                        d.current_total,
                        d.kl,
                        d.kl_reverse,
                        d.l1
                    )?;
                }
                FlowsFormat::Json => {
                    let top: Vec<_> = d.shifts.iter().take(5).collect();
                    writeln!(
                        out,
                        "{}",
                        json!({
                            "kind": "divergence", "column": col, "unit": "nats",
                            "kl": d.kl, "kl_reverse": d.kl_reverse, "l1": d.l1,
                            "categories": d.categories, "reference_n": d.reference_total,
                            "current_n": d.current_total, "alpha": a.alpha, "top_shifts": top,
                        })
                    )?;
                }
            }
        }
    }
    if let (Some(col), Some(mut adwin)) = (&a.adwin_column, adwin) {
        let (events, skips) = run_adwin(&a.current, col, a.time_column.as_deref(), &mut adwin)?;
        report_skips(&a.current.display().to_string(), &skips);
        match a.format {
            FlowsFormat::Table => {
                writeln!(
                out,
                    "ADWIN over {col} (delta {}): {} values, {} drift event(s); final window {} values, mean {:.4}",
                    a.delta,
                    adwin.seen(),
                    events.len(),
                    adwin.width(),
                    adwin.mean()
                )?;
                for (line, e) in &events {
                    let time = e.time.map_or(String::new(), |t| format!(" time {t}"));
                    writeln!(
                out,
                        "  drift at line {line} (value #{}){time}: mean {:.4} -> {:.4}, window {} -> {}",
                        e.index + 1,
                        e.old_mean,
                        e.new_mean,
                        e.width_before,
                        e.width
                    )?;
                }
            }
            FlowsFormat::Json => {
                for (line, e) in &events {
                    writeln!(
                        out,
                        "{}",
                        json!({
                            "kind": "drift", "column": col, "line": line, "index": e.index,
                            "time": e.time, "old_mean": e.old_mean, "new_mean": e.new_mean,
                            "width_before": e.width_before, "width": e.width, "delta": a.delta,
                        })
                    )?;
                }
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

type Skips = Vec<(u64, String)>;

fn read_categories(
    path: &Path,
    columns: &[String],
) -> anyhow::Result<(Vec<CategoryCounts>, Skips)> {
    let mut input = CsvInput::open(path)?;
    let idx = require_named(&input, columns)?;
    let mut counts = vec![CategoryCounts::new(); columns.len()];
    let mut skips = Vec::new();
    let mut rec = csv::StringRecord::new();
    while input
        .next_row(&mut rec, |l, m| skips.push((l, m)))
        .is_some()
    {
        for (c, &i) in counts.iter_mut().zip(&idx) {
            let v = rec.get(i).unwrap_or("").trim();
            c.add(if v.is_empty() { "-" } else { v });
        }
    }
    Ok((counts, skips))
}

fn run_adwin(
    path: &Path,
    column: &str,
    time_column: Option<&str>,
    adwin: &mut Adwin,
) -> anyhow::Result<(Vec<(u64, DriftEvent)>, Skips)> {
    let mut input = CsvInput::open(path)?;
    let mut names = vec![column.to_string()];
    names.extend(time_column.map(str::to_string));
    let idx = require_named(&input, &names)?;
    let mut events = Vec::new();
    let mut skips = Vec::new();
    let mut rec = csv::StringRecord::new();
    while let Some(line) = input.next_row(&mut rec, |l, m| skips.push((l, m))) {
        let raw = rec.get(idx[0]).unwrap_or("").trim();
        let value = match raw.parse::<f64>() {
            Ok(v) if v.is_finite() => v,
            _ => {
                skips.push((line, format!("{column}: {raw:?} is not a finite number")));
                continue;
            }
        };
        let time = match idx.get(1) {
            None => None,
            Some(&i) => {
                let raw = rec.get(i).unwrap_or("").trim();
                match sentineldns_model::time::parse_ts(raw) {
                    Some(us) => Some(us as f64 / MICROS as f64),
                    None => {
                        skips.push((
                            line,
                            format!("time {raw:?} is not RFC 3339 or epoch seconds"),
                        ));
                        continue;
                    }
                }
            }
        };
        if let Some(e) = adwin.push_at(value, time) {
            events.push((line, e));
        }
    }
    Ok((events, skips))
}
