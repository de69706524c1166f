//! `sentineldns flows zscore` and `sentineldns flows gen-stream`.
//!
//! A quantile threshold needs every score: instead of holding them, the input
//! is read three times (count the rows, find the exact quantile keeping only
//! the values that can matter, then write), so memory stays
//! `O(devices × window + (1−q)·rows)`. A value threshold needs one pass.

use crate::cli::zscore::{GenStreamArgs, ZscoreArgs};
use crate::zscore::{
    generate_stream, BaselineMode, ExactQuantile, Observation, RobustConfig, Scorer, StreamInput,
    StreamRecipe, Threshold, ZScoreConfig,
};
use anyhow::Context;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;

/// Skipped-row messages printed before the rest are only counted.
const SHOWN_SKIPS: u64 = 5;

/// Result of one pass over the input.
#[derive(Debug, Default)]
struct Pass {
    rows: u64,
    skipped: u64,
    devices: usize,
    gated: u64,
    labelled: bool,
}

/// Score every row of `path` with a fresh scorer, calling `f(row, score)`.
fn pass(
    path: &Path,
    cfg: &ZScoreConfig,
    report_skips: bool,
    mut f: impl FnMut(&Observation, f64) -> anyhow::Result<()>,
) -> anyhow::Result<Pass> {
    let mut input = StreamInput::open(path)?;
    let mut scorer = Scorer::new(cfg.clone()).context("invalid options")?;
    let mut p = Pass {
        labelled: input.has_labels(),
        ..Default::default()
    };
    while let Some(r) = input.next_observation() {
        match r {
            Ok(o) => {
                let s = scorer.score(&o);
                p.rows += 1;
                f(&o, s)?;
            }
            Err(e) => {
                p.skipped += 1;
                if report_skips && p.skipped <= SHOWN_SKIPS {
                    eprintln!("skipped row: {e}");
                }
            }
        }
    }
    p.devices = scorer.devices();
    p.gated = scorer.gated();
    Ok(p)
}

/// Run `flows zscore`.
pub fn run(a: ZscoreArgs) -> anyhow::Result<ExitCode> {
    let baseline = if a.robust {
        BaselineMode::Robust(RobustConfig {
            gate: a.gate,
            min_obs: a.min_obs,
            ..Default::default()
        })
    } else {
        BaselineMode::Classic
    };
    let cfg = ZScoreConfig {
        window: a.window,
        w_connections: a.weights[0],
        w_bytes: a.weights[1],
        w_entropy: a.weights[2],
        w_rare_port: a.rare_port_weight,
        common_ports: a.common_ports.clone(),
        baseline,
    };
    cfg.validate().context("invalid options")?;
    let threshold = match (a.quantile, a.threshold) {
        (Some(q), _) => Threshold::Quantile(q),
        (None, Some(t)) => Threshold::Value(t),
        (None, None) if a.robust => Threshold::Value(a.gate),
        (None, None) => Threshold::Quantile(0.999),
    };
    let thr = match threshold {
        Threshold::Value(t) => {
            anyhow::ensure!(t.is_finite(), "--threshold must be a finite number");
            t
        }
        Threshold::Quantile(q) => {
            anyhow::ensure!(
                (0.0..=1.0).contains(&q),
                "--quantile must be in 0..=1, got {q}"
            );
            let mut n = 0usize;
            pass(&a.input, &cfg, false, |_, _| {
                n += 1;
                Ok(())
            })?;
            let mut eq = ExactQuantile::new(n, q)?;
            pass(&a.input, &cfg, false, |_, s| {
                eq.push(s);
                Ok(())
            })?;
            eq.value()
                .with_context(|| format!("{}: no scorable rows", a.input.display()))?
        }
    };

    let mut out = match &a.out {
        Some(p) => Some(BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => None,
    };
    let mut header_written = false;
    let mut conf = sentineldns_model::metrics::Confusion::default();
    let mut alerts = 0u64;
    let mut top: Vec<(f64, i64, String, Option<bool>)> = Vec::new();
    let p = pass(&a.input, &cfg, true, |o, s| {
        let alert = s >= thr;
        if let Some(w) = out.as_mut() {
            if !header_written {
                if o.is_anom.is_some() {
                    writeln!(w, "t,device_id,score,is_anom,alert")?;
                } else {
                    writeln!(w, "t,device_id,score,alert")?;
                }
                header_written = true;
            }
            match o.is_anom {
                Some(l) => writeln!(
                    w,
                    "{},{},{:?},{},{}",
                    o.t, o.device_id, s, l as u8, alert as u8
                )?,
                None => writeln!(w, "{},{},{:?},{}", o.t, o.device_id, s, alert as u8)?,
            }
        }
        if let Some(l) = o.is_anom {
            conf.add(l, alert);
        }
        if alert {
            alerts += 1;
            if a.top > 0 {
                top.push((s, o.t, o.device_id.clone(), o.is_anom));
                if top.len() > 4 * a.top {
                    top.sort_by(|x, y| y.0.total_cmp(&x.0));
                    top.truncate(a.top);
                }
            }
        }
        Ok(())
    })?;
    if let Some(mut w) = out {
        if !header_written {
            writeln!(w, "t,device_id,score,is_anom,alert")?;
        }
        w.flush()?;
    }

    match threshold {
        Threshold::Quantile(q) => println!("threshold: {thr} (quantile {q} of {} scores)", p.rows),
        Threshold::Value(_) => println!("threshold: {thr} (value)"),
    }
    println!(
        "rows: {}  devices: {}  skipped: {}  alerts: {}{}",
        p.rows,
        p.devices,
        p.skipped,
        alerts,
        if a.robust {
            format!("  kept out of baseline: {}", p.gated)
        } else {
            String::new()
        }
    );
    if p.labelled {
        println!(
            "precision: {:.4}  recall: {:.4}  (tp {} fp {} fn {}, anomalies {})",
            // The reference's definition: 0 (not undefined) without alerts.
            zero_if_nan(conf.precision()),
            zero_if_nan(conf.recall()),
            conf.tp,
            conf.fp,
            conf.fn_,
            conf.tp + conf.fn_
        );
    }
    if a.top > 0 && !top.is_empty() {
        top.sort_by(|x, y| y.0.total_cmp(&x.0));
        top.truncate(a.top);
        println!("top alerts:");
        println!("  {:>6}  {:<12} {:>10}  is_anom", "t", "device_id", "score");
        for (s, t, d, l) in &top {
            let l = l.map_or("-".to_owned(), |l| (l as u8).to_string());
            println!("  {t:>6}  {d:<12} {s:>10.4}  {l}");
        }
    }
    if let Some(o) = &a.out {
        println!("scores written to {}", o.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Run `flows gen-stream`.
pub fn gen_stream(a: GenStreamArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&a.anomaly_rate),
        "--anomaly-rate must be in 0..=1"
    );
    let recipe = StreamRecipe {
        devices: a.devices,
        steps: a.steps,
        anomaly_rate: a.anomaly_rate,
    };
    let f =
        std::fs::File::create(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let mut w = BufWriter::new(f);
    writeln!(
        w,
        "t,device_id,connections,bytes,dst_port,payload_entropy,is_anom"
    )?;
    let (mut rows, mut anom) = (0u64, 0u64);
    generate_stream(&recipe, a.seed, |o| {
        rows += 1;
        let l = o.is_anom == Some(true);
        anom += l as u64;
        writeln!(
            w,
            "{},{},{},{:?},{},{:?},{}",
            o.t, o.device_id, o.connections as u64, o.bytes, o.dst_port, o.payload_entropy, l as u8
        )
    })
    .with_context(|| format!("writing {}", a.out.display()))?;
    w.flush()?;
    println!(
        "wrote {} ({rows} rows, {anom} injected anomalies, seed {})",
        a.out.display(),
        a.seed
    );
    Ok(ExitCode::SUCCESS)
}

/// 0 for an undefined ratio, as the reference notebook prints it.
fn zero_if_nan(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x
    }
}
