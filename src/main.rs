//! The `sentineldns` binary: parse the command line, set up logging, run the
//! command, print errors once.
//!
//! The command-line layer lives here, outside the library: [`cli`] (clap
//! arguments, flag → configuration merging, tracing setup) and [`cmd`] (one
//! thin runner per subcommand over `sentineldns::sensor::Sensor` and the other
//! library entry points). `flows …` is mounted from the `sentineldns-flows`
//! crate, whose alerts reach the store through `cmd::flows::StoreAlerts`.
#![forbid(unsafe_code)]

mod cli;
mod cmd;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    cli::init_tracing(&cli);
    match cmd::run(cli) {
        Ok(code) => code,
        // A reader that went away (`sentineldns windows | head`) is not an
        // error: stop quietly, as cat, grep and ripgrep do.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

/// Whether `err` comes from writing to a closed pipe.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
