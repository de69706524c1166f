//! `sentineldns flows …`: the flow-record detectors' command-line edge
//! (the binary calls [`run`] with its [`AlertSink`]).
//!
//! One file per detector: [`cicids`] (CIC-IDS2017 windows: `baseline`,
//! `monitor`, `run`), [`zscore`] (`zscore`, `gen-stream`), [`rules`]
//! (`rules`), [`drift`] (KL / L1 data drift and ADWIN concept
//! drift), [`burst`] (burst alerts), [`classifier`] (`train-classifier` and
//! `score`). Helpers shared by them (columns named on the command line) live here.

pub mod burst;
pub mod cicids;
pub mod classifier;
pub mod drift;
pub mod rules;
pub mod zscore;

use crate::alert::AlertSink;
use crate::cli::{FlowsArgs, FlowsCommand};
use crate::csvin::{normalize, CsvError, CsvInput};
use std::process::ExitCode;

/// Run a `flows` subcommand; alerts a command is asked to keep (`--db`) go
/// to `sink`.
///
/// A closed stdout (`… | head`) ends the command quietly with success, as
/// other Unix tools do.
pub fn run(a: FlowsArgs, sink: &mut dyn AlertSink) -> anyhow::Result<ExitCode> {
    let r = match a.command {
        FlowsCommand::Baseline(a) => cicids::baseline(a),
        FlowsCommand::Monitor(a) => cicids::monitor(a, sink),
        FlowsCommand::Run(a) => cicids::run(a, sink),
        FlowsCommand::ShowBaseline(a) => cicids::show_baseline(a),
        FlowsCommand::Zscore(a) => zscore::run(a),
        FlowsCommand::GenStream(a) => zscore::gen_stream(a),
        FlowsCommand::Rules(a) => rules::run(a),
        FlowsCommand::Drift(a) => drift::run(a),
        FlowsCommand::Burst(a) => burst::run(a),
        FlowsCommand::TrainClassifier(a) => classifier::train(a),
        FlowsCommand::Score(a) => classifier::score(a),
    };
    match r {
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            Ok(ExitCode::SUCCESS)
        }
        r => r,
    }
}

/// Indices of columns named on the command line (matched like
/// [`CsvInput::require`]: trimmed, case-insensitive, ignoring ` _-.`), or one
/// error naming every missing column and the file.
pub fn require_named(input: &CsvInput, names: &[String]) -> Result<Vec<usize>, CsvError> {
    let normalized: Vec<String> = input.headers().iter().map(|h| normalize(h)).collect();
    let mut idx = Vec::with_capacity(names.len());
    let mut missing = Vec::new();
    for n in names {
        let want = normalize(n);
        match normalized.iter().position(|h| *h == want) {
            Some(i) => idx.push(i),
            None => missing.push(n.clone()),
        }
    }
    if missing.is_empty() {
        Ok(idx)
    } else {
        Err(CsvError::MissingColumns {
            path: input.path().to_path_buf(),
            missing,
        })
    }
}

/// Prints up to five skipped rows and the total on stderr.
pub fn report_skips(what: &str, skips: &[(u64, String)]) {
    if skips.is_empty() {
        return;
    }
    for (line, reason) in skips.iter().take(5) {
        eprintln!("  skipped line {line}: {reason}");
    }
    if skips.len() > 5 {
        eprintln!("  … and {} more", skips.len() - 5);
    }
    eprintln!("{what}: {} rows skipped", skips.len());
}
