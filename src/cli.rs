//! Command-line interface (clap derive): one variant per subcommand.
//!
//! Options that change results (window length, grace) are parsed here into
//! typed values; [`crate::cmd`] turns them into a validated
//! [`sentineldns::pipeline::PipelineConfig`].
//!
//! Flags that a configuration file can also set (see [`sentineldns::config`]) are
//! `Option`s without clap defaults, so a flag that is not given never
//! overrides the file: defaults < file < environment < flags.

use clap::{Args, Parser, Subcommand, ValueEnum};
use sentineldns::event::{TsMicros, MICROS};
use sentineldns::output::ndjson::NdjsonConfig;
use sentineldns::output::webhook::{MinLabel as WebhookMinLabel, WebhookConfig};
use sentineldns::output::OutputsConfig;
use sentineldns_flows::cli::FlowsArgs;
use std::net::SocketAddr;
use std::path::PathBuf;

/// sentineldns: DNS sensor — replay captures into per-host windows, score them, store them.
#[derive(Debug, Parser)]
#[command(name = "sentineldns", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Configuration file (TOML; see `sentineldns config default`). Default:
    /// $SENTINELDNS_CONFIG, else /etc/sentineldns/sentineldns.toml if it exists.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log level filter (error, warn, info, debug, trace, or a tracing
    /// directive) [default: `[log] level`, else warn].
    #[arg(long, global = true, env = "SENTINELDNS_LOG")]
    pub log_level: Option<String>,
    /// Log format on stderr [default: `[log] format`, else text].
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormatArg>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormatArg {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Replay captures (pcap, pcapng, gzip-compressed) and JSONL DNS events into
    /// per-host windows stored in SQLite.
    ///
    /// Inputs are recognised by content, not by name, and merged in time order.
    /// Damaged packets and lines are counted and reported, never fatal; a file
    /// that cannot be read at all stops the run before anything is written.
    /// SIGINT/SIGTERM stop reading, flush every open window and exit 130.
    Replay(ReplayArgs),
    /// Capture DNS live from network interfaces (cargo feature `capture`,
    /// libpcap) into the same windows, verdicts and outputs as `replay`.
    ///
    /// Opens every interface with a BPF filter (default: DNS over UDP/TCP,
    /// mDNS/LLMNR, IP fragments, and the same inside a VLAN tag), then drops
    /// root to `--user` before the first packet is parsed. Windows close on
    /// packet time. SIGINT/SIGTERM flush every open window and exit; SIGHUP
    /// reloads the allow-list. Kernel, interface and queue drops are counted
    /// and reported.
    Capture(CaptureArgs),
    /// List stored windows, filtered by host and time.
    Windows(WindowsArgs),
    /// List flagged windows (Unusual or Likely Compromise) with their explanation.
    Alerts(AlertsArgs),
    /// Train the extended-isolation-forest bundle from captures or JSONL.
    ///
    /// Builds windows exactly as `replay` does (with a fresh first-seen state),
    /// fits a seeded extended isolation forest on them and writes a versioned,
    /// checksummed bundle. The same input, options and seed give the same bundle.
    Train(TrainArgs),
    /// Replay labelled input, score every window and measure detection quality:
    /// confusion matrix, precision, recall, F1, PR-AUC and ROC-AUC per scenario
    /// and overall, detection delay and false alerts per host-day.
    ///
    /// JSONL input carries its ground truth (`label`, `scenario`); for captures
    /// give it with `--labels FILE`.
    Evaluate(EvaluateArgs),
    /// Write labelled simulated DNS traffic (JSONL, optionally also pcap):
    /// benign workstations, servers and IoT devices plus injected incidents
    /// (DGA beacons, DNS tunnels, slow exfiltration, phishing, NXDOMAIN storms).
    /// The same options and seed always give byte-identical files.
    Simulate(SimulateArgs),
    /// Flow-record (CSV) detectors that ride beside the DNS core, e.g. the
    /// CIC-IDS2017 window detector (`flows baseline`, `flows monitor`, `flows run`).
    Flows(FlowsArgs),
    /// Configuration file: `config check` validates one and prints the
    /// effective settings; `config default` prints a commented example.
    Config(ConfigArgs),
}

/// Options for `config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ConfigCommand,
}

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration (the `--config` file, else the discovered
    /// one): syntax, unknown keys, value ranges, the model loads, allow-list
    /// files parse, outputs, capture user and group exist. Prints the
    /// effective settings (file + environment) and exits 0 when valid; lists
    /// every problem on stderr and exits 2 when not.
    Check(ConfigCheckArgs),
    /// Print a fully commented configuration with every key at its default.
    Default,
}

/// Options for `config check`.
#[derive(Debug, Args)]
pub struct ConfigCheckArgs {
    /// Format of the effective settings on stdout.
    #[arg(long, value_enum, default_value_t = ConfigFormat::Toml)]
    pub format: ConfigFormat,
    /// Print only problems (nothing on stdout).
    #[arg(long, short)]
    pub quiet: bool,
}

/// Output format of `config check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConfigFormat {
    /// TOML, loadable as a configuration file.
    Toml,
    /// JSON.
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

/// Output format for windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned table for people.
    Table,
    /// One JSON object per window per line (for SIEMs and jq).
    Json,
    /// Nothing (summary only).
    None,
}

/// When to draw a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Progress {
    /// When stderr is a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Options that shape windows (shared by `replay`, `train` and `evaluate`).
#[derive(Debug, Clone, Args)]
pub struct WindowArgs {
    /// Window length, e.g. 300, 300s, 5m, 1h [default: 5m; for `replay`:
    /// $SENTINELDNS_WINDOW, else `[sensor] window`, else 5m].
    #[arg(long, value_parser = parse_duration)]
    pub window: Option<TsMicros>,
    /// How long after a window ends late packets still count (packet time)
    /// [default: 30s; for `replay`: `[sensor] grace`, else 30s].
    #[arg(long, value_parser = parse_duration)]
    pub grace: Option<TsMicros>,
    /// How long a query waits for its response before it counts as unanswered.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub pair_timeout: TsMicros,
    /// How many top and riskiest domains to keep per window (1 to 1000).
    #[arg(long, default_value_t = 5, value_parser = parse_top)]
    pub top: usize,
}

/// Options of the commands that run the pipeline into a database (`replay`,
/// `capture`) and override `[sensor]` of the configuration file.
#[derive(Debug, Clone, Args)]
pub struct SensorArgs {
    /// SQLite database to write, created if missing [default:
    /// $SENTINELDNS_DB, else `[sensor] db`, else sentineldns.db].
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Window options.
    #[command(flatten)]
    pub windows: WindowArgs,
    /// Model bundle that scores every window [default: $SENTINELDNS_MODEL,
    /// else `[sensor] model`, else models/default.bin, then
    /// /usr/share/sentineldns/default.bin].
    #[arg(long, conflicts_with = "no_model")]
    pub model: Option<PathBuf>,
    /// Store windows without scoring them (overrides `[sensor] model`).
    #[arg(long)]
    pub no_model: bool,
    /// Keep at most N rows in the database's first-seen table; above it the
    /// domains seen least recently are pruned down to 90 % of N [default:
    /// `[limits] first_seen_rows`, else 3000000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub first_seen_rows: Option<u64>,
}

impl SensorArgs {
    /// These flags as configuration overrides (`threads`: the command's own flag).
    pub fn overrides(&self, threads: Option<u8>) -> sentineldns::config::Overrides {
        sentineldns::config::Overrides {
            window: self.windows.window,
            grace: self.windows.grace,
            model: self.model.clone(),
            no_model: self.no_model,
            db: self.db.clone(),
            threads,
        }
    }
}

/// Options for `capture`. Every option left out comes from the configuration
/// file (`[capture]`, `[sensor]`, `[outputs]`, `[allowlist]`), then the
/// built-in default shown.
#[derive(Debug, Args)]
pub struct CaptureArgs {
    /// Interface to capture on; repeat for several [default: `[capture]
    /// interfaces`].
    #[arg(long = "interface", short = 'i', value_name = "IF")]
    pub interfaces: Vec<String>,
    /// BPF capture filter [default: `[capture] bpf`, else DNS over UDP/TCP,
    /// mDNS, LLMNR, IP fragments, VLAN-tagged DNS].
    #[arg(long)]
    pub bpf: Option<String>,
    /// Bytes captured per packet [default: 65535].
    #[arg(long)]
    pub snaplen: Option<u32>,
    /// Kernel capture buffer per interface, MiB [default: 16].
    #[arg(long)]
    pub buffer_mb: Option<u32>,
    /// Packets the hand-off queue between capture and processing holds;
    /// overflow is dropped and counted (`queue` drops), never blocking capture
    /// [default: 65536].
    #[arg(long)]
    pub queue: Option<usize>,
    /// Do not put interfaces into promiscuous mode.
    #[arg(long)]
    pub no_promisc: bool,
    /// Unprivileged user to switch to after opening the interfaces (when
    /// started as root); `root` keeps root (not recommended) [default:
    /// `[capture] user`, else nobody].
    #[arg(long)]
    pub user: Option<String>,
    /// Group to switch to [default: the user's primary group].
    #[arg(long)]
    pub group: Option<String>,
    /// Also keep a ring of rotated pcap files of everything captured in DIR.
    #[arg(long, value_name = "DIR")]
    pub write_pcap: Option<PathBuf>,
    /// Size of one ring file, MiB [default: 100].
    #[arg(long)]
    pub write_pcap_max_mb: Option<u64>,
    /// Ring files kept per interface [default: 10].
    #[arg(long)]
    pub write_pcap_keep: Option<usize>,
    /// Database, windows and model.
    #[command(flatten)]
    pub sensor: SensorArgs,
    /// How closed windows are printed on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Write the final counters (including drops) as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Allow-list file (one domain per line; `example.com` covers its
    /// subdomains, `=example.com` only itself, `*.example.com` only
    /// subdomains), added to `[allowlist]`; repeatable. SIGHUP re-reads them
    /// with the configuration file.
    #[arg(long, value_name = "FILE")]
    pub allowlist: Vec<PathBuf>,
    /// Do not print the summary on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// NDJSON, webhook and metrics outputs.
    #[command(flatten)]
    pub outputs: OutputArgs,
}

#[cfg(feature = "capture")]
impl CaptureArgs {
    /// The flags of this command that override the configuration file.
    pub fn overrides(&self) -> sentineldns::config::Overrides {
        self.sensor.overrides(None)
    }

    /// `[capture]` from the file with the flags that were given laid over it.
    pub fn apply(
        &self,
        mut c: sentineldns::config::CaptureConfig,
    ) -> sentineldns::config::CaptureConfig {
        if !self.interfaces.is_empty() {
            c.interfaces = self.interfaces.clone();
        }
        if self.bpf.is_some() {
            c.bpf = self.bpf.clone();
        }
        if let Some(v) = self.snaplen {
            c.snaplen = v;
        }
        if let Some(v) = self.buffer_mb {
            c.buffer_mb = v;
        }
        if let Some(v) = self.queue {
            c.queue = v;
        }
        if let Some(v) = &self.user {
            c.user = v.clone();
        }
        if self.group.is_some() {
            c.group = self.group.clone();
        }
        if let Some(dir) = &self.write_pcap {
            let mut w = c
                .write_pcap
                .take()
                .unwrap_or_else(|| sentineldns::config::WritePcapConfig::new(dir.clone()));
            w.dir = dir.clone();
            c.write_pcap = Some(w);
        }
        if let Some(w) = &mut c.write_pcap {
            if let Some(v) = self.write_pcap_max_mb {
                w.max_mb = v;
            }
            if let Some(v) = self.write_pcap_keep {
                w.keep = v;
            }
        }
        c
    }
}

/// Options for `replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Input files: pcap, pcapng (optionally .gz) or JSONL; several are merged in time order.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Database, windows and model.
    #[command(flatten)]
    pub sensor: SensorArgs,
    /// Window output on stdout.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Progress bar on stderr.
    #[arg(long, value_enum, default_value_t = Progress::Auto)]
    pub progress: Progress,
    /// Threads: 1 runs everything on one thread; 2 reads, decodes and pairs on a
    /// second thread (the results are identical) [default: `[sensor] threads`, else 2].
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub threads: Option<u8>,
    /// Also write the run summary as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub summary_json: Option<PathBuf>,
    /// Do not print the run summary on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// NDJSON, webhook and metrics outputs.
    #[command(flatten)]
    pub outputs: OutputArgs,
    /// After the input ends, keep serving `--metrics` until SIGINT/SIGTERM
    /// (so a finished replay can still be scraped).
    #[arg(long, requires = "metrics")]
    pub metrics_hold: bool,
    /// Longest JSONL line (bytes, or with a K/M/G suffix); longer lines are
    /// skipped as `jsonl_line_too_long` without being buffered [default: 1M].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub jsonl_line_bytes: Option<u64>,
}

impl ReplayArgs {
    /// Limits for reading the inputs: `base` (from `[limits]`) with this
    /// command's flags laid over it.
    pub fn source_limits(
        &self,
        base: sentineldns::source::SourceLimits,
    ) -> sentineldns::source::SourceLimits {
        let mut l = base;
        if let Some(n) = self.jsonl_line_bytes {
            l.max_line_bytes = usize::try_from(n).unwrap_or(usize::MAX);
        }
        l
    }

    /// The flags of this command that override the configuration file.
    pub fn overrides(&self) -> sentineldns::config::Overrides {
        self.sensor.overrides(self.threads)
    }
}

/// Outputs beyond SQLite: NDJSON, webhook alerts, Prometheus metrics (shared
/// by every command that produces windows). Each flag overrides the matching
/// `[outputs]` key of the configuration file; flags not given leave it alone.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Write one NDJSON line per window verdict (Elastic Common Schema / EVE
    /// field names) to this file, or to stdout with `-` (which replaces the
    /// window table on stdout).
    #[arg(long, value_name = "PATH|-")]
    pub ndjson: Option<PathBuf>,
    /// Also write one NDJSON line per DNS lookup.
    #[arg(long, requires = "ndjson")]
    pub ndjson_lookups: bool,
    /// Rotate the NDJSON file before it grows past this size (bytes, or with a
    /// K/M/G suffix, powers of 1024): PATH becomes PATH.1, PATH.1 becomes PATH.2, ...
    #[arg(long, value_name = "SIZE", value_parser = parse_size, requires = "ndjson")]
    pub ndjson_max_bytes: Option<u64>,
    /// Rotated NDJSON files to keep (PATH.1 … PATH.N; 0 keeps none) [default: 5].
    #[arg(long, value_name = "N")]
    pub ndjson_keep: Option<usize>,
    /// POST a Slack-compatible alert to this URL (http:// or https://) for each
    /// window at or above `--webhook-min-label`.
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
    /// Lowest verdict that is sent to the webhook [default: likely-compromise].
    #[arg(long, value_enum)]
    pub webhook_min_label: Option<WebhookMinLabel>,
    /// Alerts that may wait for delivery; more are dropped and counted [default: 256].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub webhook_queue: Option<u64>,
    /// Timeout of one webhook request, e.g. 5s, 500ms [default: 5s].
    #[arg(long, value_parser = parse_duration)]
    pub webhook_timeout: Option<TsMicros>,
    /// Serve Prometheus metrics on http://ADDR/metrics and health on /healthz,
    /// e.g. 127.0.0.1:9153 (port 0 picks a free port; the address is printed).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,
}

impl OutputArgs {
    /// The outputs these flags ask for (settings not on the command line keep
    /// their defaults).
    #[cfg(test)]
    pub fn config(&self) -> OutputsConfig {
        self.apply(OutputsConfig::default())
    }

    /// `base` (e.g. the configuration file's `[outputs]`) with the flags that
    /// were given laid over it: `--ndjson` / `--webhook` switch an output on
    /// (keeping the file's other settings for it), the other flags change one
    /// setting of an output that is on.
    pub fn apply(&self, base: OutputsConfig) -> OutputsConfig {
        let mut ndjson = match &self.ndjson {
            Some(p) => Some(NdjsonConfig {
                path: p.clone(),
                ..base.ndjson.unwrap_or_default()
            }),
            None => base.ndjson,
        };
        if let Some(n) = &mut ndjson {
            n.lookups |= self.ndjson_lookups;
            n.max_bytes = self.ndjson_max_bytes.or(n.max_bytes);
            n.keep = self.ndjson_keep.unwrap_or(n.keep);
        }
        let mut webhook = match &self.webhook {
            Some(u) => Some(WebhookConfig {
                url: u.clone(),
                ..base.webhook.unwrap_or_default()
            }),
            None => base.webhook,
        };
        if let Some(w) = &mut webhook {
            w.min_label = self.webhook_min_label.unwrap_or(w.min_label);
            w.queue = self.webhook_queue.map_or(w.queue, |q| q as usize);
            w.timeout_ms = self
                .webhook_timeout
                .map_or(w.timeout_ms, |t| (t / 1000).max(1) as u64);
        }
        OutputsConfig {
            ndjson,
            webhook,
            metrics: self.metrics.or(base.metrics),
        }
    }
}

/// Parse a byte size: `1048576`, `512K`, `100M`, `2G` (powers of 1024).
///
/// ```
/// assert_eq!(sentineldns::cli::parse_size("100M"), Ok(100 << 20));
/// assert!(sentineldns::cli::parse_size("0").is_err());
/// ```
pub use sentineldns::config::parse_size;

/// Options for `train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Training input: captures or (labelled) JSONL; each file is an independent dataset.
    #[arg(required = true, value_name = "INPUT")]
    pub inputs: Vec<PathBuf>,
    /// Where to write the bundle.
    #[arg(long, default_value = "models/default.bin")]
    pub out: PathBuf,
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
    /// Model bundle (default: models/default.bin).
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

/// Parse `300`, `300s`, `5m`, `1h`, `250ms` into microseconds.
///
/// ```
/// assert_eq!(sentineldns::cli::parse_duration("5m"), Ok(300_000_000));
/// assert!(sentineldns::cli::parse_duration("soon").is_err());
/// ```
pub fn parse_duration(s: &str) -> Result<TsMicros, String> {
    sentineldns::config::parse_duration(s)
}

/// Parse `--top`: 1 to 1000 domains per window.
pub fn parse_top(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=1000).contains(&n) => Ok(n),
        _ => Err(format!("{s:?} is not a number from 1 to 1000")),
    }
}

/// Parse RFC 3339 or epoch seconds into unix seconds.
pub fn parse_time(s: &str) -> Result<i64, String> {
    sentineldns::source::jsonl::parse_ts(s)
        .map(|us| us.div_euclid(MICROS))
        .ok_or_else(|| format!("{s:?} is not RFC 3339 (2024-03-01T12:00:00Z) or epoch seconds"))
}

/// Set up `tracing` on stderr: `--log-level` / `SENTINELDNS_LOG` and
/// `--log-format`, else the configuration file's `[log]`, else warn / text.
/// A configuration file that does not load is ignored here (the command that
/// reads it reports the problem).
pub fn init_tracing(cli: &Cli) {
    let file = sentineldns::config::discover(
        cli.config.as_deref(),
        &sentineldns::config::process_env,
        std::path::Path::new(sentineldns::config::SYSTEM_PATH),
    )
    .ok()
    .flatten()
    .and_then(|p| sentineldns::config::Config::load(&p).ok())
    .map(|c| c.log)
    .unwrap_or_default();
    let level = cli.log_level.clone().unwrap_or(file.level);
    let format = cli.log_format.unwrap_or(match file.format {
        sentineldns::config::LogFormat::Text => LogFormatArg::Text,
        sentineldns::config::LogFormat::Json => LogFormatArg::Json,
    });
    let filter = tracing_subscriber::EnvFilter::try_new(&level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Colour only on a terminal: a pipe, a file or the journal get plain text.
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormatArg::Json => b.json().try_init(),
        LogFormatArg::Text => b.try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300"), Ok(300 * MICROS));
        assert_eq!(parse_duration("5m"), Ok(300 * MICROS));
        assert_eq!(parse_duration("1h"), Ok(3600 * MICROS));
        assert_eq!(parse_duration("250ms"), Ok(250_000));
        assert!(parse_duration("five").is_err());
        assert!(parse_duration("-3s").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2048"), Ok(2048));
        assert_eq!(parse_size("512k"), Ok(512 * 1024));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("big").is_err());
        assert!(parse_size("0M").is_err());
    }

    #[test]
    fn top_is_bounded() {
        assert_eq!(parse_top("5"), Ok(5));
        assert_eq!(parse_top("1000"), Ok(1000));
        for bad in ["0", "1001", "18446744073709551615", "x"] {
            assert!(parse_top(bad).unwrap_err().contains("1 to 1000"), "{bad}");
        }
    }

    #[test]
    fn output_flags_build_the_outputs_config() {
        let cli = Cli::try_parse_from([
            "sentineldns",
            "replay",
            "x.jsonl",
            "--ndjson",
            "out.ndjson",
            "--ndjson-lookups",
            "--ndjson-max-bytes",
            "1M",
            "--ndjson-keep",
            "3",
            "--webhook",
            "http://127.0.0.1:1/h",
            "--webhook-min-label",
            "unusual",
            "--metrics",
            "127.0.0.1:0",
        ])
        .unwrap();
        let Command::Replay(a) = cli.command else {
            panic!("not replay")
        };
        let c = a.outputs.config();
        let n = c.ndjson.unwrap();
        assert_eq!((n.lookups, n.max_bytes, n.keep), (true, Some(1 << 20), 3));
        let w = c.webhook.unwrap();
        assert_eq!(w.min_label, WebhookMinLabel::Unusual);
        assert_eq!(w.timeout_ms, 5000);
        assert_eq!(c.metrics, Some("127.0.0.1:0".parse().unwrap()));
        // --ndjson-lookups needs --ndjson; --metrics-hold needs --metrics.
        assert!(Cli::try_parse_from(["sentineldns", "replay", "x", "--ndjson-lookups"]).is_err());
        assert!(Cli::try_parse_from(["sentineldns", "replay", "x", "--metrics-hold"]).is_err());
    }

    #[test]
    fn output_flags_override_config_outputs_only_when_given() {
        let base: OutputsConfig = toml::from_str(
            "metrics = \"127.0.0.1:1000\"\n[ndjson]\npath = \"/file.ndjson\"\nkeep = 2\nlookups = true\n[webhook]\nurl = \"http://h/x\"\nqueue = 9\n",
        )
        .unwrap();
        let parse = |args: &[&str]| {
            let mut v = vec!["sentineldns", "replay", "x.jsonl"];
            v.extend_from_slice(args);
            let Command::Replay(a) = Cli::try_parse_from(v).unwrap().command else {
                panic!("not replay")
            };
            a.outputs.apply(base.clone())
        };
        assert_eq!(parse(&[]), base, "no flags: the file's outputs");
        let c = parse(&["--metrics", "127.0.0.1:2000", "--ndjson-keep", "7"]);
        assert_eq!(c.metrics, Some("127.0.0.1:2000".parse().unwrap()));
        let n = c.ndjson.unwrap();
        assert_eq!(
            (n.path.to_str(), n.keep, n.lookups),
            (Some("/file.ndjson"), 7, true)
        );
        let c = parse(&["--ndjson", "-", "--webhook-timeout", "2s"]);
        let n = c.ndjson.unwrap();
        assert_eq!(
            (n.path.to_str(), n.keep),
            (Some("-"), 2),
            "path from the flag, keep from the file"
        );
        let w = c.webhook.unwrap();
        assert_eq!(
            (w.queue, w.timeout_ms, w.url.as_str()),
            (9, 2000, "http://h/x")
        );
        assert_eq!(c.metrics, base.metrics);
    }

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }
}
