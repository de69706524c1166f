//! `sentineldns flows …`: the flow-record detectors of [`crate::flows`].
//!
//! One file per detector; this module only dispatches [`FlowsCommand`].

pub mod cicids;
pub mod rules;
pub mod zscore;

use crate::cli::{FlowsArgs, FlowsCommand};
use std::process::ExitCode;

/// Run a `flows` subcommand.
pub fn run(a: FlowsArgs) -> anyhow::Result<ExitCode> {
    match a.command {
        FlowsCommand::Baseline(a) => cicids::baseline(a),
        FlowsCommand::Monitor(a) => cicids::monitor(a),
        FlowsCommand::Run(a) => cicids::run(a),
        FlowsCommand::Zscore(a) => zscore::run(a),
        FlowsCommand::GenStream(a) => zscore::gen_stream(a),
        FlowsCommand::Rules(a) => rules::run(a),
    }
}
