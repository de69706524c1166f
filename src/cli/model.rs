//! Arguments of the model commands: `train`, `evaluate`, `simulate`.

use super::*;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// Options for `train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Training input: captures or (labelled) JSONL; each file is an independent dataset.
    #[arg(
        required_unless_present = "db",
        conflicts_with = "db",
        value_name = "INPUT"
    )]
    pub inputs: Vec<PathBuf>,
    /// Fit a site model from the windows stored in this database instead of
    /// from input files, as `--learn` does: windows with evidence left out,
    /// the most isolated `--trim-permille` ‰ trimmed, thresholds calibrated.
    /// The model is written beside the database (`DB.models/site-ID.bin`) and
    /// recorded there, so the next `replay`/`capture` on DB scores with it.
    #[arg(long, value_name = "DB")]
    pub db: Option<PathBuf>,
    /// With `--db`: windows starting at or after this time (RFC 3339 or epoch seconds).
    #[arg(long, requires = "db", value_parser = crate::cli::values::parse_time)]
    pub since: Option<i64>,
    /// With `--db`: windows starting before this time (RFC 3339 or epoch seconds).
    #[arg(long, requires = "db", value_parser = crate::cli::values::parse_time)]
    pub until: Option<i64>,
    /// With `--db`: share of the most isolated windows trimmed before the
    /// final fit, per mille.
    #[arg(long, requires = "db", default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=200))]
    pub trim_permille: u64,
    /// Where to write the bundle [default: sentineldns-model.bin; with
    /// `--db`, beside the database, and a copy here when given]. Score with
    /// it through `--model FILE` or `[sensor] model`. The shipped model is
    /// never overwritten without `--force`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Allow `--out` to replace the shipped model (`models/default.bin` of the
    /// checkout or the working directory, /usr/share/sentineldns/default.bin):
    /// how `models/README.md` rebuilds it.
    #[arg(long)]
    pub force: bool,
    /// Train only on windows whose ground truth is benign (needs labelled input).
    #[arg(long)]
    pub benign_only: bool,
    /// Trees in the forest.
    #[arg(long, default_value_t = 200)]
    pub trees: usize,
    /// Windows sampled per tree.
    #[arg(long, default_value_t = 256)]
    pub sample_size: usize,
    /// Extension level: split hyperplanes span this many + 1 features (0 = the
    /// classic axis-parallel isolation forest, features − 1 = fully extended).
    /// 1 measured best on DNS windows (see BENCHMARKS.md).
    #[arg(long, default_value_t = 1)]
    pub extension_level: usize,
    /// RNG seed.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Set the Unusual threshold from a target false-alert rate on the training windows.
    #[arg(long)]
    pub calibrate: bool,
    /// Target false-alert rate for `--calibrate` (fraction of training windows flagged).
    #[arg(long, default_value_t = 0.002)]
    pub target_far: f64,
    /// Window options (must match how the model will be used).
    #[command(flatten)]
    pub windows: WindowArgs,
}

/// Options for `evaluate`.
#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Labelled input: JSONL with `label`/`scenario`, or captures with `--labels`.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Model bundle (default: models/default.bin, then
    /// /usr/share/sentineldns/default.bin, then the copy built into the binary).
    #[arg(long, env = "SENTINELDNS_MODEL")]
    pub model: Option<PathBuf>,
    /// Ground truth for captures: JSON array of {"host", "label", "scenario",
    /// "from", "to"}; a host's windows overlapping [from, to) of a malicious
    /// entry are malicious.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// Output format for the metrics.
    #[arg(long, value_enum, default_value_t = EvalFormat::Table)]
    pub format: EvalFormat,
    /// Also write an HTML report with a score timeline per host.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,
    /// How many false alerts and missed windows the table lists with their
    /// explanation, highest score first (0: none). JSON and HTML list all.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub review: usize,
    /// Score each input as a sensor with `--learn DURATION` would: the
    /// first DURATION of packet time with the model as a prior (only
    /// evidence alerts), then a site model fitted on that input's own
    /// windows (see `[learning]`; seed 1, 2 % trimmed, refit daily).
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::values::parse_duration)]
    pub learn: Option<i64>,
    /// Window options (must match the model's).
    #[command(flatten)]
    pub windows: WindowArgs,
}

/// Output format of `evaluate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EvalFormat {
    /// Readable table.
    Table,
    /// JSON document.
    Json,
}

/// Options for `simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// JSONL file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write the same traffic as a pcap (Ethernet, UDP DNS queries and responses).
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Client hosts.
    #[arg(long, default_value_t = 20)]
    pub hosts: usize,
    /// Hours of traffic.
    #[arg(long, default_value_t = 6.0)]
    pub hours: f64,
    /// RNG seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Start time (RFC 3339).
    #[arg(long, default_value = "2024-03-04T08:00:00Z")]
    pub start: String,
    /// Incident scenarios to inject, comma separated (dga_beacon, dns_tunnel,
    /// slow_exfil, phishing, nxdomain_storm); `none` for benign traffic only.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "dga_beacon,dns_tunnel,slow_exfil,phishing,nxdomain_storm"
    )]
    pub scenarios: Vec<String>,
    /// Hosts that get incidents (default: one in five).
    #[arg(long)]
    pub incident_hosts: Option<usize>,
    /// Load the full domain lists from this directory (layout of
    /// shared/data/domains) instead of the embedded samples.
    #[arg(long, value_name = "DIR")]
    pub lists: Option<PathBuf>,
}
