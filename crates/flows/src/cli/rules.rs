//! Options of `sentineldns flows rules`.

use clap::{Args, ValueEnum};
use sentineldns_model::time::parse_duration;
use sentineldns_model::time::TsMicros;
use std::path::PathBuf;

/// Options for `flows rules`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Flow CSV (CICFlowMeter-style: Timestamp, Source IP, Destination IP,
    /// Destination Port, Total Length of Fwd Packets) or HTTP-log CSV (ts,
    /// src_ip, path, bytes).
    #[arg(value_name = "INPUT.csv")]
    pub input: PathBuf,
    /// Which layout the input has (`auto`: HTTP log when a path/url column exists).
    #[arg(long, value_enum, default_value_t = RulesInput::Auto)]
    pub kind: RulesInput,
    /// Flag a source with more than this many distinct endpoints in the window.
    #[arg(long, default_value_t = 10)]
    pub max_endpoints: usize,
    /// Flag a source sending more than this many bytes in the window.
    #[arg(long, default_value_t = 10_000_000)]
    pub max_bytes: u64,
    /// Sliding window (event time): 60, 60s, 5m…
    #[arg(long, default_value = "60", value_parser = parse_duration)]
    pub window: TsMicros,
    /// Forget a source after this much event time without events.
    #[arg(long, default_value = "300", value_parser = parse_duration)]
    pub idle_ttl: TsMicros,
    /// Flagged contexts held for triage; more are dropped and counted.
    #[arg(long, default_value_t = 10_000)]
    pub queue: usize,
    /// Contexts per hand-off to triage.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Hand off a partial batch once its oldest context waited this long (event time).
    #[arg(long, default_value = "10", value_parser = parse_duration)]
    pub max_wait: TsMicros,
    /// Hold events this long to put an out-of-order file in time order (bounded
    /// by --reorder-cap). Sampled/shuffled datasets need their whole time span
    /// (e.g. 120h); 0 expects time-ordered input.
    #[arg(long, default_value = "0", value_parser = parse_duration)]
    pub max_lateness: TsMicros,
    /// Most events held for reordering.
    #[arg(long, default_value_t = 1_000_000)]
    pub reorder_cap: usize,
    /// Endpoints listed per context.
    #[arg(long, default_value_t = 5)]
    pub samples: usize,
    /// Output format of the flagged contexts.
    #[arg(long, value_enum, default_value_t = RulesFormat::Table)]
    pub format: RulesFormat,
}

/// Input layout for `flows rules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RulesInput {
    /// Decide from the header.
    Auto,
    /// Flow records: endpoint = destination ip:port.
    Flows,
    /// HTTP log: endpoint = URL path (query string dropped).
    Http,
}

/// Output format for `flows rules`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RulesFormat {
    /// Aligned table.
    Table,
    /// One JSON object per flagged context per line.
    Json,
}
