//! `sentineldns windows`: query stored windows by host, time and run.

use super::output::{Printer, WindowView};
use crate::cli::WindowsArgs;
use crate::store::{Store, WindowQuery};
use anyhow::Context;
use std::process::ExitCode;

/// Run `windows`.
pub fn run(a: WindowsArgs) -> anyhow::Result<ExitCode> {
    if !a.db.exists() {
        anyhow::bail!(
            "database {} does not exist (run `sentineldns replay` first)",
            a.db.display()
        );
    }
    if let Some(h) = &a.host {
        h.parse::<std::net::IpAddr>()
            .with_context(|| format!("--host {h:?} is not an IP address"))?;
    }
    let store = Store::open(&a.db)?;
    let rows = store.query_windows(&WindowQuery {
        host: a.host.clone(),
        since: a.since,
        until: a.until,
        run: a.run,
        limit: a.limit,
        labels: Vec::new(),
    })?;
    let n = rows.len();
    Printer::new(a.format)
        .print(rows.iter().map(WindowView::from))
        .context("writing to stdout")?;
    tracing::info!(windows = n, "listed");
    Ok(ExitCode::SUCCESS)
}
