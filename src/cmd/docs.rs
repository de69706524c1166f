//! `completions` and `man`: generated from the clap definitions.

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use anyhow::Context;
use clap::CommandFactory;
use std::io::Write;
use std::process::ExitCode;

/// Print the completions of `a.shell` to stdout.
pub fn completions(a: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "sentineldns", &mut out);
    std::io::stdout()
        .lock()
        .write_all(&out)
        .context("writing to stdout")?;
    Ok(ExitCode::SUCCESS)
}

/// Print the main man page, or write every command's page into `a.out`.
pub fn man(a: ManArgs) -> anyhow::Result<ExitCode> {
    let cmd = Cli::command();
    match a.out {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .context("rendering the man page")?;
            std::io::stdout()
                .lock()
                .write_all(&out)
                .context("writing to stdout")?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(cmd, &dir)
                .with_context(|| format!("writing man pages to {}", dir.display()))?;
            let n = std::fs::read_dir(&dir)
                .map(|d| d.filter(|e| e.is_ok()).count())
                .unwrap_or(0);
            eprintln!("wrote the man pages to {} ({n} files)", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
