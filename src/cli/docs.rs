//! `completions` and `man`: shell completions and man pages generated from
//! the clap definitions of [`super::Cli`].

use clap::Args;
use std::path::PathBuf;

/// `sentineldns completions SHELL`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// Shell to write completions for (bash, zsh, fish, elvish, powershell).
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `sentineldns man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per command (sentineldns.1, sentineldns-replay.1,
    /// sentineldns-flows-run.1, …) into this directory instead of printing
    /// the main page.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}
