//! `sentineldns windows`: query stored windows by host, time and run.

use super::output::{Printer, WindowView};
use super::query_stored;
use crate::cli::WindowsArgs;
use anyhow::Context;
use std::process::ExitCode;

/// Run `windows`.
pub fn run(a: WindowsArgs) -> anyhow::Result<ExitCode> {
    let rows = query_stored(&a.query, Vec::new())?;
    Printer::with_width(a.format, super::table::width(a.wide))
        .print(rows.iter().map(WindowView::from))
        .context("writing to stdout")?;
    tracing::info!(windows = rows.len(), "listed");
    Ok(ExitCode::SUCCESS)
}
