//! Options of `sentineldns flows zscore` and `sentineldns flows gen-stream`.

use clap::Args;
use std::path::PathBuf;

/// Options for `flows zscore`.
#[derive(Debug, Args)]
pub struct ZscoreArgs {
    /// Telemetry CSV: t, device_id, connections, bytes, dst_port,
    /// payload_entropy and optionally is_anom (ground truth).
    #[arg(value_name = "STREAM.csv")]
    pub input: PathBuf,
    /// Write per-row scores here (t, device_id, score, is_anom, alert).
    #[arg(long, value_name = "SCORES.csv")]
    pub out: Option<PathBuf>,
    /// Observations per device in the rolling window.
    #[arg(long, default_value_t = 60)]
    pub window: usize,
    /// Alert on scores at or above this quantile of all scores (numpy
    /// `linear`). Default 0.999, or the --gate value (8) with `--robust`.
    #[arg(long, conflicts_with = "threshold")]
    pub quantile: Option<f64>,
    /// Alert on scores at or above this value.
    #[arg(long)]
    pub threshold: Option<f64>,
    /// Robust baseline: median/MAD statistics, rows scoring >= --gate stay out
    /// of the baseline, fleet baseline while a device warms up.
    #[arg(long)]
    pub robust: bool,
    /// With --robust: score at or above which a row does not update the baseline.
    #[arg(long, default_value_t = 8.0, requires = "robust")]
    pub gate: f64,
    /// With --robust: clean observations before a device's own window is used.
    #[arg(long, default_value_t = 20, requires = "robust")]
    pub min_obs: usize,
    /// Weights of |z| for connections, bytes, entropy.
    #[arg(long, value_delimiter = ',', num_args = 3, default_values_t = [0.55, 0.35, 0.15])]
    pub weights: Vec<f64>,
    /// Weight added for a destination port outside --common-ports.
    #[arg(long, default_value_t = 2.0)]
    pub rare_port_weight: f64,
    /// Destination ports that are not rare.
    #[arg(long, value_delimiter = ',', default_values_t = [22u16, 53, 80, 443, 445, 3389])]
    pub common_ports: Vec<u16>,
    /// Print the N highest-scoring alerts.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

/// Options for `flows gen-stream`.
#[derive(Debug, Args)]
pub struct GenStreamArgs {
    /// RNG seed (ChaCha8; the same seed always writes the same file).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// CSV file to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Devices.
    #[arg(long, default_value_t = 50)]
    pub devices: usize,
    /// One-minute steps.
    #[arg(long, default_value_t = 1440)]
    pub steps: usize,
    /// Probability that a row is an injected burst.
    #[arg(long, default_value_t = 0.0015)]
    pub anomaly_rate: f64,
}
