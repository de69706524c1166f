//! `sentineldns train`: windows from any replayable input → extended isolation
//! forest bundle.

use super::{pipeline_config, windows_in_memory};
use crate::cli::TrainArgs;
use anyhow::Context;
use sentineldns::config::default_model_paths;
use sentineldns::detect::{model_input, MODEL_FEATURES};
use sentineldns::model::{Bundle, ForestParams};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `p` made absolute, with its directory resolved when it exists (so
/// `./models/../models/default.bin` and a symlinked checkout compare equal).
fn resolved(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    match (
        abs.parent().and_then(|d| d.canonicalize().ok()),
        abs.file_name(),
    ) {
        (Some(dir), Some(name)) => dir.join(name),
        _ => abs,
    }
}

/// The shipped model's places that `out` names, if any: the default model
/// paths the sensor searches (`models/default.bin` of the working directory,
/// /usr/share/sentineldns/default.bin) and `models/default.bin` of the
/// checkout this binary was built from.
fn shipped_model_at(out: &Path) -> Option<PathBuf> {
    let target = resolved(out);
    default_model_paths()
        .into_iter()
        .chain([Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default.bin")])
        .find(|p| resolved(p) == target)
}

/// `train --db`: a site model from stored windows ([`sentineldns::learn`]).
fn from_db(a: &TrainArgs, db: &Path) -> anyhow::Result<ExitCode> {
    if !db.exists() {
        anyhow::bail!(
            "database {} does not exist (run `sentineldns replay` or `capture` first)",
            db.display()
        );
    }
    let mut store = sentineldns::store::Store::open(db)?;
    let cfg = sentineldns::config::LearningConfig {
        trim_permille: a.trim_permille,
        seed: a.seed,
        ..Default::default()
    };
    let (det, r) = sentineldns::learn::fit_from_store(&mut store, db, a.since, a.until, &cfg, None)
        .with_context(|| format!("fitting a site model from {}", db.display()))?;
    let t = det.bundle().thresholds;
    let path = det.path().map(Path::to_path_buf).unwrap_or_default();
    eprintln!(
        "site model {} fitted on {} windows from {} to {} ({} left out for evidence, {} most isolated trimmed), seed {}",
        det.id(),
        r.windows,
        r.from.map_or_else(|| "-".into(), sentineldns::time::rfc3339_secs),
        r.to.map_or_else(|| "-".into(), sentineldns::time::rfc3339_secs),
        r.left_out,
        r.trimmed,
        a.seed
    );
    eprintln!(
        "thresholds: unusual {:.3}, likely {:.3}; wrote {} (recorded in {}: the next replay or capture on it scores with this model)",
        t.unusual,
        t.likely,
        path.display(),
        db.display()
    );
    if let Some(out) = &a.out {
        if !a.force {
            if let Some(shipped) = shipped_model_at(out) {
                anyhow::bail!("refusing to overwrite the shipped model {} (--out {}): pass --force to replace it", shipped.display(), out.display());
            }
        }
        std::fs::copy(&path, out)
            .with_context(|| format!("copying {} to {}", path.display(), out.display()))?;
        eprintln!("copied to {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Run `train`.
pub fn run(a: TrainArgs) -> anyhow::Result<ExitCode> {
    if let Some(db) = a.db.clone() {
        return from_db(&a, &db);
    }
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("sentineldns-model.bin"));
    if !a.force {
        if let Some(shipped) = shipped_model_at(&out) {
            anyhow::bail!(
                "refusing to overwrite the shipped model {} (--out {}): pass --force to replace it, or write a site model elsewhere (the default --out is sentineldns-model.bin)",
                shipped.display(),
                out.display()
            );
        }
    }
    let cfg = pipeline_config(&a.windows)?;
    let (windows, stats) = windows_in_memory(&a.inputs, &cfg)?;
    let labelled = windows.iter().filter(|w| w.truth.label.is_some()).count();
    let used: Vec<_> = if a.benign_only {
        if labelled == 0 {
            anyhow::bail!("--benign-only needs labelled input (JSONL with a `label` field, e.g. from `sentineldns simulate`); none of the {} windows has one", windows.len());
        }
        windows
            .iter()
            .filter(|w| w.truth.malicious_lookups == 0)
            .collect()
    } else {
        windows.iter().collect()
    };
    // Windows without unicast lookups (mDNS-only) carry no DNS behaviour to learn.
    let rows: Vec<Vec<f64>> = used
        .iter()
        .filter(|w| w.lookups > 0)
        .map(|w| model_input(w).to_vec())
        .collect();
    if rows.len() < 32 {
        anyhow::bail!("only {} usable windows in the input; training needs at least 32 (more input, or a shorter --window)", rows.len());
    }
    let params = ForestParams {
        n_trees: a.trees,
        sample_size: a.sample_size.min(rows.len()),
        extension_level: Some(a.extension_level),
        max_depth: None,
        seed: a.seed,
    };
    let log1p = [false; MODEL_FEATURES.len()];
    let mut bundle =
        Bundle::train(&MODEL_FEATURES, &rows, &params, &log1p).context("training the model")?;
    if a.calibrate {
        let t = bundle
            .calibrate_thresholds(&rows, a.target_far)
            .context("calibrating thresholds")?;
        eprintln!(
            "calibrated thresholds for a {:.2} % false-alert rate: unusual {:.3}, likely {:.3}",
            100.0 * a.target_far,
            t.unusual,
            t.likely
        );
    }
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    bundle
        .save(&out)
        .with_context(|| format!("writing {}", out.display()))?;
    let flagged = rows
        .iter()
        .filter(|r| bundle.score(r) >= bundle.thresholds.unusual)
        .count();
    eprintln!(
        "trained on {} windows ({} of {} total{}; {} lookups from {} files), {} trees × {} samples, seed {}",
        rows.len(),
        used.len(),
        windows.len(),
        if a.benign_only { ", benign only" } else { "" },
        stats.lookups,
        stats.files,
        params.n_trees,
        params.sample_size,
        params.seed
    );
    eprintln!(
        "thresholds: unusual {:.3}, likely {:.3}; {} training windows ({:.2} %) score as Unusual or worse",
        bundle.thresholds.unusual,
        bundle.thresholds.likely,
        flagged,
        100.0 * flagged as f64 / rows.len() as f64
    );
    eprintln!("wrote {}", out.display());
    Ok(ExitCode::SUCCESS)
}
