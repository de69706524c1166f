//! Command-line interface (clap derive): one variant per subcommand.
//!
//! [`Cli`] and [`Command`] are here; the arguments live by concern: [`run`]
//! (`replay`, `capture` and the flag → configuration merging), [`model`]
//! (`train`, `evaluate`, `simulate`), [`stored`] (`windows`, `alerts`,
//! `incidents`), [`serve`] (`serve`),
//! [`config`] (`config check|default`), [`values`] (value parsers) and
//! [`logging`] (tracing set-up). `flows` mounts `sentineldns_flows::cli`.
//!
//! Options that change results (window length, grace) are parsed here into
//! typed values; [`crate::cmd`] turns them into a validated
//! [`sentineldns::pipeline::PipelineConfig`].
//!
//! Flags that a configuration file can also set (see [`sentineldns::config`]) are
//! `Option`s without clap defaults, so a flag that is not given never
//! overrides the file: defaults < file < environment < flags.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

mod collect;
mod config;
mod docs;
mod flows;
mod logging;
mod model;
mod run;
mod score;
mod serve;
mod stored;
mod values;

pub use collect::*;
pub use config::*;
pub use docs::*;
pub use flows::*;
pub use logging::*;
pub use model::*;
pub use run::*;
pub use score::*;
pub use serve::*;
pub use stored::*;
pub use values::*;

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
// Parsed once at start-up and moved into its runner: the size difference
// between variants (`capture` has the most flags) costs nothing.
#[allow(clippy::large_enum_variant)]
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
    /// and reported. With `--dnstap unix:PATH|tcp:ADDR:PORT` it listens for
    /// resolvers' dnstap instead (no libpcap, no privileges needed).
    Capture(CaptureArgs),
    /// List stored windows, filtered by host and time.
    Windows(WindowsArgs),
    /// List flagged windows (Unusual or Likely Compromise) with their explanation.
    Alerts(AlertsArgs),
    /// List incidents: consecutive flagged windows of one host with related
    /// reasons, opened, escalated and closed after a quiet period.
    Incidents(IncidentsArgs),
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
    Flows(FlowsCli),
    /// Configuration file: `config check` validates one and prints the
    /// effective settings; `config default` prints a commented example.
    Config(ConfigArgs),
    /// Serve a JSON API over a database: hosts, windows, incidents, one
    /// host's timeline, runs and models (read-only), optionally online
    /// scoring (--predict), /healthz, /metrics and an OpenAPI document at
    /// /api/v1/openapi.json (docs page /api/v1/docs).
    ///
    /// Loopback by default; any other address needs a bearer token
    /// (--token-file). Reads the database while a sensor writes it.
    /// SIGINT/SIGTERM stop it.
    Serve(ServeArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell), e.g.
    /// `sentineldns completions bash > /etc/bash_completion.d/sentineldns`.
    Completions(CompletionsArgs),
    /// Print the man page, or write one page per command with `--out DIR`.
    Man(ManArgs),
    /// Fleet collector: consume the window verdicts and incidents sensors
    /// publish to Kafka (`replay`/`capture --kafka`) and upsert them into
    /// PostgreSQL, one transaction per batch, committing offsets only after
    /// it (needs the `kafka` and `postgres` build features).
    Collect(CollectArgs),
    /// Fleet scorer: consume the lookups capture-only sensors publish
    /// (`capture|replay --kafka … --ship lookups`), window and score them per
    /// partition exactly as `replay` does, and publish the verdicts and
    /// incidents to Kafka, committing offsets only past windows whose
    /// verdicts were delivered (needs the `kafka` build feature).
    Score(ScoreArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use sentineldns::event::MICROS;
    use sentineldns::output::webhook::MinLabel as WebhookMinLabel;
    use sentineldns::output::OutputsConfig;

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
