//! Arguments of the commands that read the database: `windows`, `alerts`.

use super::*;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// Verdict threshold for `alerts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AlertsMinLabel {
    /// Unusual and Likely Compromise.
    Unusual,
    /// Likely Compromise only.
    Likely,
}

/// Which stored windows to read (shared by `windows` and `alerts`).
#[derive(Debug, Args)]
pub struct StoredQuery {
    /// SQLite database to read.
    #[arg(long, default_value = "sentineldns.db", env = "SENTINELDNS_DB")]
    pub db: PathBuf,
    /// Only this client host (IP address).
    #[arg(long)]
    pub host: Option<String>,
    /// Windows starting at or after this time (RFC 3339 or epoch seconds).
    #[arg(long, value_parser = parse_time)]
    pub since: Option<i64>,
    /// Windows starting before this time (RFC 3339 or epoch seconds).
    #[arg(long, value_parser = parse_time)]
    pub until: Option<i64>,
    /// Only windows of this run id.
    #[arg(long)]
    pub run: Option<i64>,
    /// Only the newest N windows.
    #[arg(long)]
    pub limit: Option<u32>,
}

/// Options for `alerts`.
#[derive(Debug, Args)]
pub struct AlertsArgs {
    /// Which windows.
    #[command(flatten)]
    pub query: StoredQuery,
    /// Lowest verdict to list.
    #[arg(long, value_enum, default_value_t = AlertsMinLabel::Unusual)]
    pub min_label: AlertsMinLabel,
    /// Output format (`table` prints each alert with its explanation).
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}

/// Options for `windows`.
#[derive(Debug, Args)]
pub struct WindowsArgs {
    /// Which windows.
    #[command(flatten)]
    pub query: StoredQuery,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
}
