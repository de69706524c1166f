//! Command-line arguments of `sentineldns flows …` (clap derive). The
//! `sentineldns` binary mounts [`FlowsArgs`] as its `flows` subcommand.

use clap::{Args, Subcommand, ValueEnum};
use sentineldns_model::time::{parse_duration, TsMicros};
use std::path::PathBuf;

pub mod rules;
pub mod zscore;

/// Options for `flows`: one subcommand per flow-detector action.
#[derive(Debug, Args)]
pub struct FlowsArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: FlowsCommand,
}

/// `flows` subcommands. New flow detectors add variants here.
#[derive(Debug, Subcommand)]
pub enum FlowsCommand {
    /// Build a benign baseline from CICFlowMeter CSVs (CIC-IDS2017, either header
    /// generation): windows of N flows → per-feature mean/std, a leave-one-out
    /// benign ceiling, and a seeded extended isolation forest, saved as JSON.
    Baseline(FlowsBaselineArgs),
    /// Score CICFlowMeter CSVs window by window against a baseline: z-scores,
    /// anomaly index, severity, likely pattern, isolation forest, and the final
    /// CONFIRMED / SUSPICIOUS / NORMAL decision. Alerts are printed and
    /// optionally written to CSV and SQLite.
    Monitor(FlowsMonitorArgs),
    /// Baseline and monitor in one go: `--benign` files build the baseline,
    /// the positional files are monitored.
    Run(FlowsRunArgs),
    /// Print a baseline's statistics (window, per-feature mean / std / median,
    /// benign ceiling, provenance) as JSON, the forest as its size and checksum.
    ShowBaseline(FlowsShowBaselineArgs),
    /// Per-device rolling z-score of connections, bytes and entropy plus a
    /// rare-port term, scored before each row updates the baseline.
    Zscore(zscore::ZscoreArgs),
    /// Write a synthetic labelled device-telemetry stream (input for `zscore`).
    GenStream(zscore::GenStreamArgs),
    /// Per-source sliding-window rules (more than N unique endpoints or B bytes
    /// in a window) over flow CSVs or HTTP-log CSVs, with rule-based triage.
    Rules(rules::RulesArgs),
    /// Data drift (KL / L1 divergence of categorical columns between a
    /// reference and a current CSV) and concept drift (ADWIN over a numeric
    /// column of the current CSV, e.g. the scores written by `flows score`).
    Drift(FlowsDriftArgs),
    /// Burst alerts: at least N records scoring at or above a threshold
    /// within W of event time raise one alert (NDJSON on stdout).
    Burst(FlowsBurstArgs),
    /// Train the random-forest flow classifier on labelled UNSW-NB15 CSVs and
    /// report ROC-AUC, precision and recall on a stratified held-out split.
    TrainClassifier(FlowsTrainArgs),
    /// Score UNSW-NB15 records with a trained flow classifier: one JSON object
    /// per record (`{"line", "score", "label"}`) or CSV.
    Score(FlowsScoreArgs),
}

/// Isolation-forest options of the flow baseline.
#[derive(Debug, Clone, Args)]
pub struct FlowsForestArgs {
    /// Trees in the isolation forest.
    #[arg(long, default_value_t = 200)]
    pub trees: usize,
    /// Isolation-forest seed (same data + seed = same forest).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// Output options of flow monitoring.
#[derive(Debug, Clone, Args)]
pub struct FlowsOutputArgs {
    /// Also write every alert (one row per alerted window) to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub alerts_csv: Option<PathBuf>,
    /// Also store alerts in this SQLite database (table `flow_alerts`).
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Also write every alert as one ECS-shaped NDJSON line (the output
    /// `replay --ndjson` writes DNS verdicts to; `event.dataset`
    /// `sentineldns.flow_alert`), appended to this file, or `-` for stdout
    /// (with `-q`, so the alert blocks do not mix in).
    #[arg(long, value_name = "PATH|-")]
    pub ndjson: Option<PathBuf>,
    /// When the z-score side votes: `calibrated` = severity HIGH or above AND
    /// anomaly index above the baseline's benign ceiling; `severity` = severity
    /// HIGH or above (the reference design).
    #[arg(long, value_enum, default_value_t = ZVoteMode::Calibrated)]
    pub z_vote: ZVoteMode,
    /// Do not print alert blocks on stdout (summaries still go to stderr).
    #[arg(long, short)]
    pub quiet: bool,
}

/// z-score vote rule of `flows monitor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ZVoteMode {
    /// Severity HIGH or CRITICAL and index above the benign ceiling.
    Calibrated,
    /// Severity HIGH or CRITICAL.
    Severity,
}

/// Options for `flows baseline`.
#[derive(Debug, Args)]
pub struct FlowsBaselineArgs {
    /// Benign CICFlowMeter CSV files.
    #[arg(required = true, value_name = "BENIGN.csv")]
    pub files: Vec<PathBuf>,
    /// Where to write the baseline (JSON).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Window length in flows.
    #[arg(long, default_value_t = 10_000)]
    pub window: usize,
    /// Forest options.
    #[command(flatten)]
    pub forest: FlowsForestArgs,
}

/// Options for `flows monitor`.
#[derive(Debug, Args)]
pub struct FlowsMonitorArgs {
    /// Baseline written by `flows baseline` (or `flows run --save-baseline`).
    #[arg(long, value_name = "FILE")]
    pub baseline: PathBuf,
    /// CICFlowMeter CSV files to score.
    #[arg(required = true, value_name = "INPUT.csv")]
    pub files: Vec<PathBuf>,
    /// Window length in flows; must equal the baseline's (default: the baseline's).
    #[arg(long)]
    pub window: Option<usize>,
    /// Output options.
    #[command(flatten)]
    pub output: FlowsOutputArgs,
}

/// Options for `flows show-baseline`.
#[derive(Debug, Args)]
pub struct FlowsShowBaselineArgs {
    /// Baseline written by `flows baseline` (or `flows run --save-baseline`).
    #[arg(value_name = "BASELINE")]
    pub baseline: PathBuf,
}

/// Options for `flows run`.
#[derive(Debug, Args)]
pub struct FlowsRunArgs {
    /// Benign CSV for the baseline; repeat the flag or separate with commas.
    #[arg(
        long,
        required = true,
        value_delimiter = ',',
        value_name = "BENIGN.csv"
    )]
    pub benign: Vec<PathBuf>,
    /// CICFlowMeter CSV files to score.
    #[arg(required = true, value_name = "INPUT.csv")]
    pub files: Vec<PathBuf>,
    /// Window length in flows.
    #[arg(long, default_value_t = 10_000)]
    pub window: usize,
    /// Also save the baseline to this file.
    #[arg(long, value_name = "FILE")]
    pub save_baseline: Option<PathBuf>,
    /// Forest options.
    #[command(flatten)]
    pub forest: FlowsForestArgs,
    /// Output options.
    #[command(flatten)]
    pub output: FlowsOutputArgs,
}

/// Output format of `flows drift`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FlowsFormat {
    /// Readable table.
    Table,
    /// One JSON object per line.
    Json,
}

/// Options for `flows drift`.
#[derive(Debug, Args)]
pub struct FlowsDriftArgs {
    /// The current window: a CSV file.
    #[arg(long, value_name = "CUR.csv")]
    pub current: PathBuf,
    /// The reference window: a CSV file; with it, the categorical `--columns`
    /// of both files are compared.
    #[arg(long, value_name = "REF.csv")]
    pub reference: Option<PathBuf>,
    /// Categorical columns to compare (needs `--reference`).
    #[arg(long, value_delimiter = ',', default_value = "proto,state,service")]
    pub columns: Vec<String>,
    /// Additive smoothing added to every category count (1 = Laplace).
    #[arg(long, default_value_t = 1.0)]
    pub alpha: f64,
    /// Run ADWIN over this numeric column of `--current`, in row order.
    #[arg(long, value_name = "COLUMN")]
    pub adwin_column: Option<String>,
    /// ADWIN confidence δ (smaller = fewer, surer drift events).
    #[arg(long, default_value_t = 0.002)]
    pub delta: f64,
    /// Column with the event time of each row (RFC 3339 or epoch seconds),
    /// reported with ADWIN drift events.
    #[arg(long, value_name = "COLUMN")]
    pub time_column: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FlowsFormat::Table)]
    pub format: FlowsFormat,
}

/// Options for `flows burst`.
#[derive(Debug, Args)]
pub struct FlowsBurstArgs {
    /// Scored records: a CSV with time, score and context columns.
    #[arg(value_name = "INPUT.csv")]
    pub input: PathBuf,
    /// Event-time column (RFC 3339 or epoch seconds).
    #[arg(long, default_value = "stime")]
    pub time_column: String,
    /// Score column.
    #[arg(long, default_value = "score")]
    pub score_column: String,
    /// A record is an anomaly when its score is at or above this.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f64,
    /// Anomalies needed within the window (N).
    #[arg(long, default_value_t = 10)]
    pub min_hits: usize,
    /// Window length W (event time), e.g. 300, 5m, 1h.
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    pub window: TsMicros,
    /// Minimum time between two alerts (default: the window length).
    #[arg(long, value_parser = parse_duration)]
    pub cooldown: Option<TsMicros>,
    /// Context columns summarised in each alert (most frequent values).
    #[arg(long, value_delimiter = ',', default_value = "proto,state,service")]
    pub context: Vec<String>,
}

/// Options for `flows train-classifier`.
#[derive(Debug, Args)]
pub struct FlowsTrainArgs {
    /// Labelled UNSW-NB15 CSV files (`label` column, 1 = attack).
    #[arg(required = true, value_name = "UNSW.csv")]
    pub inputs: Vec<PathBuf>,
    /// Where to write the model.
    #[arg(long, value_name = "MODEL")]
    pub out: PathBuf,
    /// Seed for the split and the forest.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Trees in the forest.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..))]
    pub trees: u16,
    /// Fraction of each class held out for the reported metrics (0 = train on everything).
    #[arg(long, default_value_t = 0.3)]
    pub test_fraction: f64,
    /// Output format of the metrics.
    #[arg(long, value_enum, default_value_t = FlowsFormat::Table)]
    pub format: FlowsFormat,
}

/// Output format of `flows score`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScoreFormat {
    /// One JSON object per record.
    Ndjson,
    /// CSV with a header: line,score,label,proto,state,service.
    Csv,
}

/// Options for `flows score`.
#[derive(Debug, Args)]
pub struct FlowsScoreArgs {
    /// Model written by `flows train-classifier`.
    #[arg(long, value_name = "MODEL")]
    pub model: PathBuf,
    /// UNSW-NB15 records to score (a `label` column is not needed).
    #[arg(value_name = "INPUT.csv")]
    pub input: PathBuf,
    /// Label threshold on the score (default: the model's, 0.5).
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ScoreFormat::Ndjson)]
    pub format: ScoreFormat,
}
