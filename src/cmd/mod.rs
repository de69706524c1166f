//! Subcommand implementations: the CLI edge, where `anyhow` errors with context live.
//!
//! One file per subcommand; [`output`] renders windows the same way for all of them.

pub mod output;
pub mod replay;
pub mod simulate;
pub mod windows;

use crate::cli::{Cli, Command};
use std::process::ExitCode;

/// Run the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Replay(a) => replay::run(a),
        Command::Windows(a) => windows::run(a),
        Command::Simulate(a) => simulate::run(a),
    }
}
