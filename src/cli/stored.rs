//! Arguments of the commands that read the database: `windows`, `alerts`,
//! `incidents`.

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
    /// Table: whole cells and lines, whatever the terminal's width
    /// (otherwise the table fits stdout's terminal, or `COLUMNS`).
    #[arg(long, visible_alias = "no-truncate")]
    pub wide: bool,
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
    /// Table: whole cells and lines, whatever the terminal's width
    /// (otherwise the table fits stdout's terminal, or `COLUMNS`).
    #[arg(long, visible_alias = "no-truncate")]
    pub wide: bool,
}

/// Which incidents `incidents` lists, by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IncidentStatusArg {
    /// Still open (a flagged window within the quiet period).
    Open,
    /// Closed after the quiet period.
    Closed,
    /// Both.
    All,
}

/// Options for `incidents`.
#[derive(Debug, Args)]
pub struct IncidentsArgs {
    /// SQLite database to read.
    #[arg(long, default_value = "sentineldns.db", env = "SENTINELDNS_DB")]
    pub db: PathBuf,
    /// Only this client host (IP address).
    #[arg(long)]
    pub host: Option<String>,
    /// Incidents still active at or after this time (last seen; RFC 3339 or
    /// epoch seconds).
    #[arg(long, value_parser = parse_time)]
    pub since: Option<i64>,
    /// Incidents that began before this time (first seen; RFC 3339 or epoch
    /// seconds).
    #[arg(long, value_parser = parse_time)]
    pub until: Option<i64>,
    /// Only incidents opened by this run id.
    #[arg(long)]
    pub run: Option<i64>,
    /// Only the newest N incidents (by first seen).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Lowest peak verdict to list.
    #[arg(long, value_enum, default_value_t = AlertsMinLabel::Unusual)]
    pub min_label: AlertsMinLabel,
    /// Open, closed or all incidents.
    #[arg(long, value_enum, default_value_t = IncidentStatusArg::All)]
    pub status: IncidentStatusArg,
    /// Output format (`table`: two lines per incident; `json`: one object per line).
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Table: whole cells and lines, whatever the terminal's width
    /// (otherwise the table fits stdout's terminal, or `COLUMNS`).
    #[arg(long, visible_alias = "no-truncate")]
    pub wide: bool,
}
