//! `sentineldns flows …`: flow-record detectors. Dispatches to one file per
//! detector.

pub mod rules;
pub mod zscore;

use crate::cli::{FlowsArgs, FlowsCommand};
use std::process::ExitCode;

/// Run a `flows` subcommand.
pub fn run(a: FlowsArgs) -> anyhow::Result<ExitCode> {
    match a.command {
        FlowsCommand::Zscore(a) => zscore::run(a),
        FlowsCommand::GenStream(a) => zscore::gen_stream(a),
        FlowsCommand::Rules(a) => rules::run(a),
    }
}
