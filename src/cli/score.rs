//! Arguments of `score` (the scaled-out scorer, issue 14).

use super::{parse_duration, OutputArgs, WindowArgs};
use clap::Args;
use sentineldns::event::TsMicros;
use std::path::PathBuf;

/// `sentineldns score`.
#[derive(Debug, Clone, Args)]
pub struct ScoreArgs {
    /// Consumer group: scorers of one group split the lookups topic's
    /// partitions (and publish under one sensor name, by default the group).
    #[arg(long, value_name = "G", default_value = "sentineldns-score")]
    pub group: String,
    /// The lookups topic consumed [default: `[outputs.kafka.topics]
    /// lookups`, else sentineldns.lookups].
    #[arg(long, value_name = "TOPIC")]
    pub lookups_topic: Option<String>,
    /// Topic whose committed offsets (in this group) keep each partition's
    /// closed window boundary; nothing is written to it, but brokers that
    /// check topic names on commit need it created [default: `<lookups
    /// topic>.floors`].
    #[arg(long, value_name = "TOPIC")]
    pub floor_topic: Option<String>,
    /// Window options (as `replay`).
    #[command(flatten)]
    pub windows: WindowArgs,
    /// Model bundle that scores every window (as `replay --model`).
    #[arg(long, conflicts_with = "no_model")]
    pub model: Option<PathBuf>,
    /// Publish windows without scoring them.
    #[arg(long)]
    pub no_model: bool,
    /// Threat-intel list, added to `[intel] files`; repeatable.
    #[arg(long, value_name = "FILE")]
    pub intel: Vec<PathBuf>,
    /// Directory of the per-partition state files (SQLite, rebuilt from the
    /// committed offset when a partition is taken up) [default: a temporary
    /// directory].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// How often durable progress is committed, e.g. 1s, 500ms.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub commit_every: TsMicros,
    /// Close every open window and stop once no record arrived for this long
    /// (for batch jobs and tests, like `replay` at the end of its input)
    /// [default: run until SIGINT/SIGTERM, leaving open windows to the next
    /// owner].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub idle_exit: Option<TsMicros>,
    /// Also write the run counters as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Outputs: `--kafka BROKERS` (required: the lookups are read from and
    /// the verdicts published to it), `--ship` (windows,incidents),
    /// `--sensor-name`.
    #[command(flatten)]
    pub outputs: OutputArgs,
}
