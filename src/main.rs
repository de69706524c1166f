//! Thin entry point: parse the command line, set up logging, run, print errors once.
#![forbid(unsafe_code)]

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = sentineldns::cli::Cli::parse();
    sentineldns::cli::init_tracing(&cli);
    match sentineldns::cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
