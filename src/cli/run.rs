//! Arguments of the commands that run the pipeline (`replay`, `capture`)
//! and how their flags are laid over the configuration file: defaults <
//! file < environment < flags.

use super::*;
use clap::{Args, ValueEnum};
use sentineldns::event::TsMicros;
use sentineldns::output::ndjson::NdjsonConfig;
use sentineldns::output::webhook::{MinLabel as WebhookMinLabel, WebhookConfig};
use sentineldns::output::OutputsConfig;
use std::net::SocketAddr;
use std::path::PathBuf;

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
    /// How long a query waits for its response before it counts as
    /// unanswered [default: 10s; for the commands that read the
    /// configuration: $SENTINELDNS_SENSOR_PAIR_TIMEOUT, else `[sensor]
    /// pair_timeout`, else 10s].
    #[arg(long, value_parser = parse_duration)]
    pub pair_timeout: Option<TsMicros>,
    /// How many top and riskiest domains to keep per window (1 to 1000)
    /// [default: 5; for the commands that read the configuration:
    /// $SENTINELDNS_SENSOR_TOP, else `[sensor] top`, else 5].
    #[arg(long, value_parser = parse_top)]
    pub top: Option<usize>,
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
    /// /usr/share/sentineldns/default.bin, then the copy built into the binary].
    #[arg(long, conflicts_with = "no_model")]
    pub model: Option<PathBuf>,
    /// Store windows without scoring them (overrides `[sensor] model`).
    #[arg(long)]
    pub no_model: bool,
    /// Persist at most N first-seen keys (snapshot and log records of
    /// `first_seen_state`); above it a snapshot keeps the 90 % of N seen most
    /// recently [default: `[limits] first_seen_rows`, else 3000000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub first_seen_rows: Option<u64>,
    /// Threat-intel list (allow-list syntax: `example.com` covers its
    /// subdomains, `=example.com` only itself, `*.example.com` only
    /// subdomains), added to `[intel] files`; repeatable. A lookup of a listed
    /// name makes its window Likely Compromise. `capture` re-reads them on SIGHUP.
    #[arg(long, value_name = "FILE")]
    pub intel: Vec<PathBuf>,
    /// Learn this network for DURATION of packet time (e.g. `30m`), then fit
    /// a site model from the stored windows and score with it (refit every
    /// `[learning] retrain_every`). While learning only evidence alerts.
    /// Overrides `[learning] period`; the site model is kept beside the
    /// database and a restart uses it.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub learn: Option<i64>,
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
            learn: self.learn,
            pair_timeout: self.windows.pair_timeout,
            top: self.windows.top,
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
    /// Listen for dnstap from resolvers instead of capturing packets:
    /// `unix:PATH` or `tcp:ADDRESS:PORT`; repeat for several. Frame Streams
    /// with the bidirectional handshake; works without the `capture`
    /// feature and without privileges. `--queue` bounds the frames waiting.
    #[arg(long, value_name = "unix:PATH|tcp:ADDR:PORT")]
    pub dnstap: Vec<String>,
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
    /// Do not put interfaces into promiscuous mode [default: `[capture]
    /// promisc`, else promiscuous].
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
    /// Also serve the HTTP API (and dashboard) over this sensor's database
    /// at ADDR, as `sentineldns serve` does (`[serve]` settings apply; a
    /// non-loopback address needs `[serve] token_file`); `/healthz` then
    /// also reports the sensor's trouble (breakers, outputs, drops).
    #[arg(long, value_name = "ADDR")]
    pub serve: Option<std::net::SocketAddr>,
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
        if self.no_promisc {
            c.promisc = false;
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
    /// Input files: pcap, pcapng, JSONL, Zeek dns.log (TSV or JSON) or Suricata EVE (any optionally
    /// .gz), recognised by content; several are merged in time order.
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
    /// Publish window verdicts and incidents (see `--ship`) to the Kafka
    /// brokers HOST:PORT[,HOST:PORT...] as their NDJSON objects, keyed by
    /// client host (`[outputs.kafka]`; needs the `kafka` build feature).
    #[arg(long, value_name = "BROKERS")]
    pub kafka: Option<String>,
    /// What the Kafka output publishes, comma-separated: windows, incidents,
    /// lookups [default: `[outputs.kafka] ship`, else windows,incidents].
    /// `--ship lookups` makes a capture-and-decode sensor for `score --kafka`.
    #[arg(long, value_enum, value_delimiter = ',', value_name = "KINDS")]
    pub ship: Vec<sentineldns::output::kafka::Ship>,
    /// Records the Kafka producer may hold while the brokers are slow or
    /// down; more are dropped and counted [default: 100000].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub kafka_queue: Option<u64>,
    /// This sensor's name in the `sentineldns.sensor` header of its Kafka
    /// records [default: `[outputs.kafka] sensor`, else the host name].
    #[arg(long, value_name = "NAME")]
    pub sensor_name: Option<String>,
    /// Incident triage by a language model.
    #[command(flatten)]
    pub triage_flags: TriageArgs,
    /// Write every lookup as Suricata EVE `dns` records (Suricata 7,
    /// `version: 2`) to this file, or to stdout with `-` (`[outputs.eve]`
    /// sets rotation).
    #[arg(long, value_name = "PATH|-")]
    pub eve: Option<PathBuf>,
    /// Write every lookup as a Zeek dns.log row to this file, or to stdout
    /// with `-` (`[outputs.zeek]` sets rotation).
    #[arg(long, value_name = "PATH|-")]
    pub zeek: Option<PathBuf>,
    /// Zeek writer to imitate: tsv (ASCII, with the `#` header) or json
    /// [default: `[outputs.zeek] format`, else tsv].
    #[arg(long, value_enum, requires = "zeek")]
    pub zeek_format: Option<sentineldns::output::zeek::ZeekFormat>,
    /// Send RFC 5424 syslog messages for verdicts at or above
    /// `--syslog-min-label` and for incidents that open or escalate:
    /// udp://HOST:PORT, tcp://HOST:PORT (octet-counted) or unix:PATH.
    #[arg(long, value_name = "URL")]
    pub syslog: Option<String>,
    /// Lowest verdict sent to syslog [default: `[outputs.syslog]
    /// min_label`, else unusual].
    #[arg(long, value_enum)]
    pub syslog_min_label: Option<sentineldns::output::syslog::SyslogMinLabel>,
}

/// The triage flags (`--triage`, `--triage-url`, `--triage-model`), shared
/// by the DNS pipeline commands and `flows rules`; each overrides the
/// matching `[triage]` key.
#[derive(Debug, Clone, Default, Args)]
pub struct TriageArgs {
    /// Triage each incident that opens or escalates (or each source `flows
    /// rules` flags) with a language model:
    /// a local Ollama, an OpenAI-compatible server (llama.cpp, vLLM, LM
    /// Studio, OpenAI) or Anthropic; `off` disables it [default: `[triage]
    /// provider`, else off]. Triage annotates; it never changes a verdict.
    #[arg(long, value_enum, value_name = "PROVIDER")]
    pub triage: Option<sentineldns::triage::Provider>,
    /// Base URL of the model API [default: the provider's usual address:
    /// http://127.0.0.1:11434, https://api.openai.com, https://api.anthropic.com].
    #[arg(long, value_name = "URL")]
    pub triage_url: Option<String>,
    /// Model to ask [default: `[triage] model`, else llama3.2, gpt-4o-mini
    /// or claude-3-5-haiku-latest].
    #[arg(long, value_name = "NAME")]
    pub triage_model: Option<String>,
}

impl TriageArgs {
    /// `[triage]` from the file with these flags laid over it. A
    /// `--triage` that names another provider than the file's drops the
    /// file's URL and model (they belong to the other provider).
    pub fn apply(
        &self,
        mut t: sentineldns::triage::TriageConfig,
    ) -> sentineldns::triage::TriageConfig {
        if let Some(p) = self.triage {
            if p != t.provider {
                t.url.clear();
                t.model.clear();
            }
            t.provider = p;
        }
        if let Some(u) = &self.triage_url {
            t.url = u.clone();
        }
        if let Some(m) = &self.triage_model {
            t.model = m.clone();
        }
        t
    }
}

impl OutputArgs {
    /// `[triage]` from the file with the triage flags laid over it. A
    /// `--triage` that names another provider than the file's drops the
    /// file's URL (it belongs to the other provider).
    pub fn apply_triage(
        &self,
        t: sentineldns::triage::TriageConfig,
    ) -> sentineldns::triage::TriageConfig {
        self.triage_flags.apply(t)
    }

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
        let mut kafka = match &self.kafka {
            Some(b) => Some(sentineldns::output::kafka::KafkaConfig {
                brokers: b.clone(),
                ..base.kafka.unwrap_or_default()
            }),
            None => base.kafka,
        };
        if let Some(k) = &mut kafka {
            if !self.ship.is_empty() {
                k.ship = self.ship.clone();
            }
            k.queue = self.kafka_queue.map_or(k.queue, |q| q as usize);
            if let Some(n) = &self.sensor_name {
                k.sensor = Some(n.clone());
            }
        }
        let eve = match &self.eve {
            Some(p) => Some(sentineldns::output::eve::EveConfig {
                path: p.clone(),
                ..base.eve.unwrap_or_default()
            }),
            None => base.eve,
        };
        let mut zeek = match &self.zeek {
            Some(p) => Some(sentineldns::output::zeek::ZeekConfig {
                path: p.clone(),
                ..base.zeek.unwrap_or_default()
            }),
            None => base.zeek,
        };
        if let (Some(z), Some(f)) = (&mut zeek, self.zeek_format) {
            z.format = f;
        }
        let mut syslog = match &self.syslog {
            Some(u) => Some(sentineldns::output::syslog::SyslogConfig {
                url: u.clone(),
                ..base.syslog.unwrap_or_default()
            }),
            None => base.syslog,
        };
        if let (Some(s), Some(m)) = (&mut syslog, self.syslog_min_label) {
            s.min_label = m;
        }
        OutputsConfig {
            ndjson,
            webhook,
            kafka,
            metrics: self.metrics.or(base.metrics),
            eve,
            zeek,
            syslog,
        }
    }
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
