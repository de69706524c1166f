//! `sentineldns flows train-classifier` and `sentineldns flows score`: the
//! UNSW-NB15 random-forest classifier.

use super::report_skips;
use crate::classifier::{FlowModel, TrainParams};
use crate::cli::{FlowsFormat, FlowsScoreArgs, FlowsTrainArgs, ScoreFormat};
use crate::unsw::{
    encode, feature_names, read_flows, stratified_split, Vocabulary, CATEGORICAL, VOCAB_MIN_COUNT,
};
use anyhow::Context;
use serde_json::json;
use std::io::Write;
use std::process::ExitCode;

/// Run `flows train-classifier`.
pub fn train(a: FlowsTrainArgs) -> anyhow::Result<ExitCode> {
    if !(0.0..1.0).contains(&a.test_fraction) {
        anyhow::bail!("--test-fraction {} must be in [0, 1)", a.test_fraction);
    }
    let mut rows = Vec::new();
    for input in &a.inputs {
        let f = read_flows(input, true)?;
        let skips: Vec<(u64, String)> = f.skipped.into_iter().map(|s| (s.line, s.reason)).collect();
        report_skips(&input.display().to_string(), &skips);
        rows.extend(f.rows);
    }
    let labels: Vec<bool> = rows.iter().map(|r| r.label == Some(true)).collect();
    let (train_idx, test_idx) = stratified_split(&labels, a.test_fraction, a.seed);
    let vocabs: Vec<Vocabulary> = (0..CATEGORICAL.len())
        .map(|k| {
            Vocabulary::fit(
                train_idx.iter().map(|&i| rows[i].categorical[k].as_str()),
                VOCAB_MIN_COUNT,
            )
        })
        .collect();
    let take = |idx: &[usize]| -> (Vec<Vec<f64>>, Vec<bool>) {
        idx.iter()
            .map(|&i| (encode(&rows[i], &vocabs), labels[i]))
            .unzip()
    };
    let (x_train, y_train) = take(&train_idx);
    let (x_test, y_test) = take(&test_idx);
    let names = feature_names();
    let mut model = FlowModel::train(
        &names,
        vocabs,
        &x_train,
        &y_train,
        TrainParams {
            trees: a.trees,
            seed: a.seed,
        },
    )
    .context("training the flow classifier")?;
    if !x_test.is_empty() {
        model.holdout = Some(model.evaluate(&x_test, &y_test));
    }
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    model
        .save(&a.out)
        .with_context(|| format!("writing {}", a.out.display()))?;
    let pos = y_train.iter().filter(|&&b| b).count();
    eprintln!(
        "trained {} trees on {} rows ({} attack, {} normal) x {} features, seed {}; wrote {}",
        a.trees,
        x_train.len(),
        pos,
        x_train.len() - pos,
        names.len(),
        a.seed,
        a.out.display()
    );
    let mut out = std::io::stdout().lock();
    match (a.format, model.holdout) {
        (FlowsFormat::Table, Some(h)) => {
            writeln!(
                out,
                "held-out split: {} rows ({} attack, {} normal), test fraction {}",
                h.rows,
                h.positives,
                h.rows - h.positives,
                a.test_fraction
            )?;
            writeln!(out, "ROC-AUC    {:.4}", h.roc_auc)?;
            writeln!(
                out,
                "precision  {:.4}  (score >= {})",
                h.precision, model.threshold
            )?;
            writeln!(out, "recall     {:.4}", h.recall)?;
            writeln!(out, "F1         {:.4}", h.f1)?;
        }
        (FlowsFormat::Table, None) => writeln!(out, "no held-out split (--test-fraction 0)")?,
        (FlowsFormat::Json, h) => writeln!(
            out,
            "{}",
            json!({
                "train_rows": x_train.len(), "trees": a.trees, "seed": a.seed,
                "test_fraction": a.test_fraction, "threshold": model.threshold,
                "holdout": h, "training_hash": format!("{:016x}", model.training_hash),
            })
        )?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Run `flows score`.
pub fn score(a: FlowsScoreArgs) -> anyhow::Result<ExitCode> {
    let names = feature_names();
    let mut model = FlowModel::load(&a.model, &names)
        .with_context(|| format!("loading flow model {}", a.model.display()))?;
    if let Some(t) = a.threshold {
        if !(t.is_finite() && t > 0.0 && t <= 1.0) {
            anyhow::bail!("--threshold {t} must be in (0, 1]");
        }
        model.threshold = t;
    }
    let f = read_flows(&a.input, false)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut flagged = 0u64;
    let written = (|| -> std::io::Result<()> {
        if a.format == ScoreFormat::Csv {
            writeln!(out, "line,score,label,proto,service,state")?;
        }
        for row in &f.rows {
            let s = model.score(&encode(row, &model.vocabularies));
            let label = model.label(s);
            flagged += u64::from(label);
            match a.format {
                ScoreFormat::Ndjson => writeln!(
                    out,
                    "{}",
                    json!({"line": row.line, "score": s, "label": label})
                )?,
                ScoreFormat::Csv => {
                    let [p, sv, st] = &row.categorical;
                    let q = |v: &str| {
                        if v.contains([',', '"', '\n', '\r']) {
                            format!("\"{}\"", v.replace('"', "\"\""))
                        } else {
                            v.to_string()
                        }
                    };
                    writeln!(out, "{},{s},{label},{},{},{}", row.line, q(p), q(sv), q(st))?;
                }
            }
        }
        out.flush()
    })();
    match written {
        // the reader went away (`| head`): stop quietly, as other Unix tools do
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        r => r.context("writing scores")?,
    }
    let skips: Vec<(u64, String)> = f.skipped.into_iter().map(|s| (s.line, s.reason)).collect();
    report_skips(&a.input.display().to_string(), &skips);
    eprintln!(
        "scored {} records, {} labelled attack (score >= {})",
        f.rows.len(),
        flagged,
        model.threshold
    );
    Ok(ExitCode::SUCCESS)
}
