//! The sensor's configuration file (TOML): parsing, validation, discovery,
//! layering with environment variables and command-line flags, and reload.
//!
//! # Sections
//!
//! Every section and every key is optional; omitted keys take the defaults
//! below. Unknown keys are errors that name the file, line, column and key
//! (every struct here is `#[serde(deny_unknown_fields)]`).
//!
//! | section | struct | what |
//! |---|---|---|
//! | `[sensor]` | [`SensorConfig`] | window, grace, model, thresholds, database, threads |
//! | `[capture]` | [`CaptureConfig`] | interfaces, BPF filter, buffers, privilege drop, pcap ring |
//! | `[outputs]` | [`OutputsConfig`] | NDJSON, webhook, metrics (see [`crate::output`]) |
//! | `[allowlist]` | [`AllowlistConfig`] | allow-list files, inline entries, embedded default |
//! | `[intel]` | [`IntelConfig`] | threat-intel domain lists (files, inline entries) |
//! | `[learning]` | [`LearningConfig`] | site learning: period, retrain_every, horizon, min_windows |
//! | `[log]` | [`LogConfig`] | log level and format |
//! | `[limits]` | [`LimitsConfig`] | memory bounds: open windows, names, pending queries, flows, first-seen |
//! | `[incidents]` | [`IncidentsConfig`] | quiet period that closes an incident, cap on hosts with an open one |
//! | `[store]` | [`StoreConfig`] | retention of windows in the SQLite database |
//! | `[serve]` | [`ServeConfig`] | `sentineldns serve`: listen address, token file, predict, body and page caps |
//! | `[triage]` | [`crate::triage::TriageConfig`] | incident triage by a language model: provider, URL, model, key, queue, batching, retries, breaker |
//!
//! Every numeric key has an allowed range ([`Config::bounds`]); a value
//! outside it is refused by `config check` and by every command that loads
//! the file, naming `[section] key`, the value and the range. Files the
//! configuration names must be regular files within a size limit per kind
//! ([`FileKind`], [`read_limited`]).
//!
//! `sentineldns config default` prints [`DEFAULT_TOML`], every key with its
//! default and a comment.
//!
//! # Discovery
//!
//! [`discover`]: `--config FILE`, else the file named by `SENTINELDNS_CONFIG`,
//! else [`SYSTEM_PATH`] (`/etc/sentineldns/sentineldns.toml`) if it exists,
//! else no file (built-in defaults). A file named explicitly (flag or
//! variable) that does not exist is an error.
//!
//! Relative paths inside a file (`sensor.model`, `sensor.db`,
//! `allowlist.files`, `capture.write_pcap.dir`, `outputs.ndjson.path`) are
//! relative to the directory holding that file, so a configuration means the
//! same thing whatever the working directory.
//!
//! # Precedence
//!
//! Lowest to highest: built-in defaults < configuration file < environment
//! variables < command-line flags. A flag that is not given does not override
//! anything (the flags are `Option`s; see [`Overrides`]). The environment
//! variables are:
//!
//! | variable | overrides |
//! |---|---|
//! | `SENTINELDNS_CONFIG` | which file is read (discovery, above) |
//! | `SENTINELDNS_DB` | `sensor.db` |
//! | `SENTINELDNS_MODEL` | `sensor.model` (and clears `sensor.no_model`) |
//! | `SENTINELDNS_WINDOW` | `sensor.window` |
//! | `SENTINELDNS_METRICS` | `outputs.metrics` |
//! | `SENTINELDNS_LOG` | `log.level` |
//!
//! [`Settings::resolve`] applies all layers; commands that run the pipeline
//! (`replay`, `capture`) share it.
//!
//! # Reload
//!
//! [`Config::load`] reads and validates a file without side effects, so a
//! running sensor can call it on SIGHUP and keep its old settings when the new
//! file is invalid. What a reload may change: the allow-list
//! ([`AllowlistConfig::build`]), the outputs and the thresholds. Interfaces,
//! BPF filter, buffers and the window length need a restart.
//!
//! # Checking
//!
//! [`crate::sensor::check`] goes further than parsing: the model loads, allow-list files
//! parse, output settings are valid, the capture user and group exist. It
//! collects every problem it finds (one per section for parse errors: TOML
//! deserialisation stops at the first error inside a section).
//!
//! # Layout
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | [`Config`], [`ConfigError`], validation and the environment layer |
//! | `values.rs` | [`Duration`], [`parse_size`], [`parse_duration`], [`KeyRange`], [`display_key`] |
//! | `files.rs` | [`FileKind`], [`check_file`], [`read_limited`], [`read_limited_text`] |
//! | `parse.rs` | TOML text to a [`Config`] and located [`Problem`]s |
//! | `sections/` | one file per section: sensor, capture, allowlist, limits, log |
//! | `discovery.rs` | [`discover`], [`process_env`], [`Overrides`], [`Settings`] |
//!
//! Loading the model a configuration names is [`crate::sensor::load_model`];
//! the `config check` report ([`crate::sensor::check`]) lives with the sensor
//! because it loads the model and the allow-lists.

mod discovery;
pub(crate) mod files;
pub(crate) mod parse;
mod sections;
mod values;

pub use discovery::{discover, process_env, Overrides, Settings};
pub use files::{
    check_file, read_limited, read_limited_text, FileKind, MAX_ALLOWLIST_BYTES, MAX_CONFIG_BYTES,
    MAX_MODEL_BYTES,
};
pub use parse::{Problem, Problems};
pub use sections::{
    default_model_paths, AllowlistConfig, CaptureConfig, Ids, IncidentsConfig, IntelConfig,
    LearningConfig, LimitsConfig, LogConfig, LogFormat, ModelChoice, SensorConfig, ServeConfig,
    StoreConfig, WritePcapConfig, DEFAULT_FIRST_SEEN_ROWS, DEFAULT_JSONL_LINE_BYTES,
    DEFAULT_MAX_BODY, DEFAULT_SERVE_LISTEN, MAX_PAGE,
};
pub use values::{display_key, parse_duration, parse_size, Duration, KeyRange};

use crate::enrich::allowlist::AllowListError;
use crate::output::OutputsConfig;
use files::read_config;
use parse::{parse_text, rebase};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Environment variable naming the configuration file.
pub const ENV_CONFIG: &str = "SENTINELDNS_CONFIG";
/// Environment variable overriding `sensor.db`.
pub const ENV_DB: &str = "SENTINELDNS_DB";
/// Environment variable overriding `sensor.model`.
pub const ENV_MODEL: &str = "SENTINELDNS_MODEL";
/// Environment variable overriding `sensor.window`.
pub const ENV_WINDOW: &str = "SENTINELDNS_WINDOW";
/// Environment variable overriding `outputs.metrics`.
pub const ENV_METRICS: &str = "SENTINELDNS_METRICS";
/// Environment variable overriding `log.level`.
pub const ENV_LOG: &str = "SENTINELDNS_LOG";
/// The system-wide configuration file, read when it exists and no other is named.
pub const SYSTEM_PATH: &str = "/etc/sentineldns/sentineldns.toml";

/// A fully commented configuration with every key at its default
/// (`sentineldns config default`). Parses to [`Config::default`].
pub const DEFAULT_TOML: &str = include_str!("../config_default.toml");

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[sensor]`.
    pub sensor: SensorConfig,
    /// `[capture]`.
    pub capture: CaptureConfig,
    /// `[outputs]`.
    pub outputs: OutputsConfig,
    /// `[allowlist]`.
    pub allowlist: AllowlistConfig,
    /// `[intel]`.
    pub intel: IntelConfig,
    /// `[learning]`.
    pub learning: LearningConfig,
    /// `[log]`.
    pub log: LogConfig,
    /// `[limits]`.
    pub limits: LimitsConfig,
    /// `[incidents]`.
    pub incidents: IncidentsConfig,
    /// `[serve]`.
    pub serve: ServeConfig,
    /// `[store]`.
    pub store: StoreConfig,
    /// `[triage]`.
    pub triage: crate::triage::TriageConfig,
}

/// Errors loading or applying a configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file named explicitly (flag or `SENTINELDNS_CONFIG`) does not exist.
    #[error("configuration file {} does not exist", .0.display())]
    NotFound(PathBuf),
    /// A file could not be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The configuration is invalid.
    #[error("invalid configuration:\n{0}")]
    Invalid(Problems),
    /// An environment variable has a bad value.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable.
        var: &'static str,
        /// What is wrong.
        message: String,
    },
    /// An allow-list file does not parse.
    #[error("allow-list {}: {source}", path.display())]
    AllowList {
        /// The file.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: AllowListError,
    },
    /// A threat-intel list does not parse.
    #[error("threat-intel list {}: {source}", path.display())]
    Intel {
        /// The file.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: AllowListError,
    },
    /// A capture user or group does not exist.
    #[error("{0}")]
    Account(String),
    /// A file the configuration names is not a regular file (a device, FIFO,
    /// directory or socket); it was not opened.
    #[error("{kind} {}: not a regular file (it is {what})", path.display())]
    NotRegularFile {
        /// What the file is for.
        kind: &'static str,
        /// The file.
        path: PathBuf,
        /// What it is instead.
        what: &'static str,
    },
    /// A file the configuration names is larger than its kind allows.
    #[error("{kind} {}: {size} bytes is over the limit of {limit} bytes", path.display())]
    TooLarge {
        /// What the file is for.
        kind: &'static str,
        /// The file.
        path: PathBuf,
        /// Its size (at least this much, when it grew while being read).
        size: u64,
        /// The limit.
        limit: u64,
    },
}

impl Config {
    /// Parse and validate TOML text (relative paths stay as written).
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let p = parse_text(text, None);
        if p.problems.is_empty() {
            Ok(p.config)
        } else {
            Err(ConfigError::Invalid(Problems(p.problems)))
        }
    }

    /// Read, parse and validate a file; relative paths in it become relative
    /// to its directory. No side effects: safe to call on SIGHUP and keep the
    /// old configuration when this fails.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = read_config(path)?;
        let p = parse_text(&text, Some(path));
        if p.problems.is_empty() {
            Ok(p.config)
        } else {
            Err(ConfigError::Invalid(Problems(p.problems)))
        }
    }

    /// The allowed range of every numeric key of every section (window and
    /// grace, which depend on each other, are checked by
    /// [`crate::pipeline::PipelineConfig::validate`]; thresholds are floats
    /// checked while parsing).
    pub fn bounds(&self) -> Vec<KeyRange> {
        let mut b = vec![KeyRange::new("sensor.threads", self.sensor.threads, 1, 2)];
        let c = &self.capture;
        b.push(KeyRange::new("capture.snaplen", c.snaplen, 64, 262_144));
        b.push(KeyRange::new("capture.buffer_mb", c.buffer_mb, 1, 4096));
        b.push(KeyRange::new("capture.queue", c.queue, 1, 1 << 24));
        if let Some(w) = &c.write_pcap {
            b.push(KeyRange::new(
                "capture.write_pcap.max_mb",
                w.max_mb,
                1,
                65_536,
            ));
            b.push(KeyRange::new("capture.write_pcap.keep", w.keep, 1, 100_000));
        }
        if let Some(n) = &self.outputs.ndjson {
            if let Some(m) = n.max_bytes {
                b.push(KeyRange::new("outputs.ndjson.max_bytes", m, 1, 1 << 40));
            }
            b.push(KeyRange::new("outputs.ndjson.keep", n.keep, 0, 1000));
        }
        if let Some(w) = &self.outputs.webhook {
            b.extend(w.bounds());
        }
        if let Some(k) = &self.outputs.kafka {
            b.extend(k.bounds());
        }
        for (key, keep) in [
            (
                "outputs.eve.keep",
                self.outputs.eve.as_ref().map(|e| e.keep),
            ),
            (
                "outputs.zeek.keep",
                self.outputs.zeek.as_ref().map(|z| z.keep),
            ),
        ] {
            if let Some(k) = keep {
                b.push(KeyRange::new(key, k, 0, 1000));
            }
        }
        for (key, max) in [
            (
                "outputs.eve.max_bytes",
                self.outputs.eve.as_ref().and_then(|e| e.max_bytes),
            ),
            (
                "outputs.zeek.max_bytes",
                self.outputs.zeek.as_ref().and_then(|z| z.max_bytes),
            ),
        ] {
            if let Some(m) = max {
                b.push(KeyRange::new(key, m, 1, 1 << 40));
            }
        }
        if let Some(s) = &self.outputs.syslog {
            b.extend(s.bounds());
        }
        b.extend(self.limits.bounds());
        b.extend(self.learning.bounds());
        b.extend(self.incidents.bounds());
        b.extend(self.serve.bounds());
        b.extend(self.store.bounds());
        b.extend(self.triage.bounds());
        b
    }

    /// Every problem of the values themselves: each numeric key in its range
    /// ([`bounds`](Self::bounds)) and the checks between values. The one
    /// validation every path runs: parsing a file, [`check`], and
    /// [`validate`](Self::validate) after the environment and the command
    /// line are applied.
    pub(crate) fn value_problems(&self) -> Vec<(&'static str, String)> {
        let mut out: Vec<(&'static str, String)> = self
            .bounds()
            .into_iter()
            .filter(|b| !b.ok())
            .map(|b| (b.key, b.message()))
            .collect();
        let s = &self.sensor;
        let pc = crate::pipeline::PipelineConfig {
            aggregate: crate::aggregate::AggregateConfig {
                window: s.window.0,
                grace: s.grace.0,
                ..Default::default()
            },
            ..Default::default()
        };
        match pc.validate() {
            Ok(()) => {}
            Err(e @ crate::pipeline::PipelineConfigError::Window(_)) => {
                out.push(("sensor.window", e.to_string()));
            }
            Err(e) => out.push(("sensor.grace", e.to_string())),
        }
        out.extend(self.store.problem());
        if let Some(w) = &self.outputs.webhook {
            if let Err(e) = w.validate_url() {
                out.push(("outputs.webhook.url", e.to_string()));
            }
        }
        if let Some(k) = &self.outputs.kafka {
            out.extend(k.problems());
        }
        out.extend(self.serve.problems());
        if let Err(e) = self.triage.validate_url() {
            out.push(("triage.url", e.to_string()));
        }
        out
    }

    /// Validate the values ([`bounds`](Self::bounds) and the checks between
    /// values) of a configuration that was changed after it was loaded (by
    /// the environment or command-line flags). `file` names the file in the
    /// problems.
    pub fn validate(&self, file: Option<&Path>) -> Result<(), ConfigError> {
        let problems: Vec<Problem> = self
            .value_problems()
            .into_iter()
            .map(|(key, message)| Problem {
                file: file.map(Path::to_path_buf),
                position: None,
                key: Some(key.to_string()),
                message,
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(Problems(problems)))
        }
    }

    pub(crate) fn relative_to(&mut self, dir: &Path, db_set: bool) {
        if let Some(m) = &mut self.sensor.model {
            rebase(dir, m);
        }
        if db_set {
            rebase(dir, &mut self.sensor.db);
        }
        for f in &mut self.allowlist.files {
            rebase(dir, f);
        }
        for f in &mut self.intel.files {
            rebase(dir, f);
        }
        if let Some(w) = &mut self.capture.write_pcap {
            rebase(dir, &mut w.dir);
        }
        if let Some(t) = &mut self.serve.token_file {
            rebase(dir, t);
        }
        if let Some(m) = &mut self.serve.flow_model {
            rebase(dir, m);
        }
        if let Some(n) = &mut self.outputs.ndjson {
            if !n.is_stdout() {
                rebase(dir, &mut n.path);
            }
        }
        if let Some(e) = &mut self.outputs.eve {
            if !e.is_stdout() {
                rebase(dir, &mut e.path);
            }
        }
        if let Some(z) = &mut self.outputs.zeek {
            if !z.is_stdout() {
                rebase(dir, &mut z.path);
            }
        }
    }

    /// Apply the environment layer: `env(name)` returns a variable's value
    /// (empty values are ignored). See the module docs for the variables.
    pub fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let get = |v: &str| env(v).filter(|s| !s.trim().is_empty());
        if let Some(v) = get(ENV_DB) {
            self.sensor.db = PathBuf::from(v);
        }
        if let Some(v) = get(ENV_MODEL) {
            self.sensor.model = Some(PathBuf::from(v));
            self.sensor.no_model = false;
        }
        if let Some(v) = get(ENV_WINDOW) {
            self.sensor.window =
                Duration(parse_duration(&v).map_err(|message| ConfigError::Env {
                    var: ENV_WINDOW,
                    message,
                })?);
        }
        if let Some(v) = get(ENV_METRICS) {
            self.outputs.metrics =
                Some(
                    v.trim()
                        .parse::<SocketAddr>()
                        .map_err(|e| ConfigError::Env {
                            var: ENV_METRICS,
                            message: format!("{v:?} is not an address like 127.0.0.1:9153: {e}"),
                        })?,
                );
        }
        if let Some(v) = get(ENV_LOG) {
            self.log.level = v;
        }
        Ok(())
    }

    /// The configuration as TOML (for `config check --format toml`).
    pub fn to_toml(&self) -> String {
        // Invariant: every field serialises (strings, numbers, tables).
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot render: {e}\n"))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::event::{TsMicros, MICROS};
    use crate::model::Thresholds;
    use crate::output::webhook::MinLabel;
    use crate::sensor::check;

    pub(crate) fn no_env(_: &str) -> Option<String> {
        None
    }

    pub(crate) fn problems(text: &str) -> Vec<Problem> {
        match Config::parse(text) {
            Err(ConfigError::Invalid(p)) => p.0,
            other => panic!("expected problems in\n{text}\ngot {other:?}"),
        }
    }

    const FULL: &str = r#"
[sensor]
window = "10m"
grace = 45
model = "models/other.bin"
no_model = false
db = "/var/lib/sentineldns/sentineldns.db"
thresholds = { unusual = 0.5, likely = 0.8 }
threads = 1

[capture]
interfaces = ["eth0", "eth1"]
bpf = "udp port 53 or tcp port 53"
snaplen = 1500
buffer_mb = 32
user = "sentineldns"
group = "adm"
queue = 1024
write_pcap = { dir = "/var/lib/sentineldns/pcap", max_mb = 50, keep = 4 }

[outputs]
metrics = "127.0.0.1:9153"
[outputs.ndjson]
path = "/var/log/sentineldns/events.ndjson"
lookups = true
max_bytes = 1048576
[outputs.webhook]
url = "https://hooks.example.com/x"
min_label = "unusual"

[allowlist]
files = ["/etc/sentineldns/allow.txt"]
domains = ["corp.example", "*.cdn.example", "=exact.example"]
default = false

[log]
level = "info"
format = "json"

[learning]
period = "30m"
retrain_every = "1d"
horizon = "7d"
min_windows = 48
trim_permille = 20
seed = 7
"#;

    #[test]
    fn every_section_parses() {
        let c = Config::parse(FULL).unwrap();
        let s = &c.sensor;
        assert_eq!(s.window, Duration(600 * MICROS));
        assert_eq!(s.grace, Duration(45 * MICROS));
        assert_eq!(
            s.model_choice(),
            ModelChoice::Path("models/other.bin".into())
        );
        assert_eq!(
            s.thresholds,
            Some(Thresholds {
                unusual: 0.5,
                likely: 0.8
            })
        );
        assert_eq!(s.threads, 1);
        let cap = &c.capture;
        assert_eq!(cap.interfaces, ["eth0", "eth1"]);
        assert_eq!(cap.bpf.as_deref(), Some("udp port 53 or tcp port 53"));
        assert_eq!((cap.snaplen, cap.buffer_mb, cap.queue), (1500, 32, 1024));
        assert_eq!(
            (cap.user.as_str(), cap.group.as_deref()),
            ("sentineldns", Some("adm"))
        );
        let w = cap.write_pcap.as_ref().unwrap();
        assert_eq!((w.max_mb, w.keep), (50, 4));
        assert_eq!(c.outputs.metrics, Some("127.0.0.1:9153".parse().unwrap()));
        let n = c.outputs.ndjson.as_ref().unwrap();
        assert!(n.lookups && n.max_bytes == Some(1 << 20) && n.keep == 5);
        assert_eq!(
            c.outputs.webhook.as_ref().unwrap().min_label,
            MinLabel::Unusual
        );
        assert!(!c.allowlist.default);
        assert_eq!(c.allowlist.domains.len(), 3);
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(c.log.level, "info");
        // The effective-settings rendering reads back to the same configuration.
        assert_eq!(Config::parse(&c.to_toml()).unwrap(), c);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["sensor"]["window"], "10m");
    }

    #[test]
    fn the_default_document_is_the_defaults() {
        assert_eq!(Config::parse(DEFAULT_TOML).unwrap(), Config::default());
        assert_eq!(Config::parse("").unwrap(), Config::default());
        let d = Config::default();
        assert_eq!(d.sensor.window.to_string(), "5m");
        assert_eq!(d.sensor.grace.to_string(), "30s");
        assert_eq!(
            (d.capture.snaplen, d.capture.buffer_mb, d.capture.queue),
            (65535, 16, 65536)
        );
        assert_eq!(d.capture.user, "nobody");
        assert!(d.allowlist.default);
        // Every key of every section appears in the default document.
        let keys = [
            "window",
            "grace",
            "model",
            "no_model",
            "db",
            "thresholds",
            "threads",
            "interfaces",
            "bpf",
            "snaplen",
            "buffer_mb",
            "user",
            "group",
            "queue",
            "write_pcap",
            "metrics",
            "ndjson",
            "webhook",
            "files",
            "domains",
            "default",
            "level",
            "format",
            "limits",
            "max_open_windows",
            "max_names_per_window",
            "max_names_total",
            "max_clock_jump",
            "pending_queries",
            "tcp_flows",
            "ip_fragment_sets",
            "first_seen_cap",
            "host_first_seen_cap",
            "first_seen_rows",
            "jsonl_line_bytes",
            "incidents",
            "quiet",
            "max_hosts",
            "serve",
            "listen",
            "token_file",
            "predict",
            "flow_model",
            "max_body",
            "page_max",
            "store",
            "keep",
            "triage",
            "provider",
            "url",
            "api_key_env",
            "api_key_file",
            "batch_max",
            "batch_wait_ms",
            "timeout_ms",
            "max_attempts",
            "backoff_initial_ms",
            "backoff_max_ms",
            "breaker_failures",
            "breaker_cooldown_ms",
            "shutdown_grace_ms",
            "max_tokens",
        ];
        for k in keys {
            assert!(
                DEFAULT_TOML.lines().any(|l| l
                    .trim_start_matches(['#', ' '])
                    .starts_with(&format!("{k} ="))
                    || l.contains(&format!("[{k}]"))
                    || l.contains(&format!(".{k}]"))),
                "{k} not documented in config_default.toml"
            );
        }
    }

    #[test]
    fn unknown_key_names_line_column_and_key() {
        let p = problems("# comment\n[sensor]\nwindow = \"5m\"\n  windw = \"10m\"\n");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].position, Some((4, 3)), "{}", p[0]);
        assert!(p[0].message.contains("unknown field `windw`"), "{}", p[0]);
        let p = problems("[sensr]\nwindow = 1\n");
        assert_eq!(p[0].position, Some((1, 2)), "{}", p[0]);
        assert!(p[0].message.contains("sensr"), "{}", p[0]);
        // Nested tables are strict too.
        let p = problems("[outputs.ndjson]\npath = \"x\"\n\nrotate = 1\n");
        assert_eq!(p[0].position.map(|x| x.0), Some(4), "{}", p[0]);
        let p = problems("[capture]\nwrite_pcap = { dir = \"/x\", size = 3 }\n");
        assert_eq!(p[0].position.map(|x| x.0), Some(2), "{}", p[0]);
        // Syntax errors are located as well.
        let p = problems("[sensor]\nwindow = \n");
        assert_eq!(p[0].position.map(|x| x.0), Some(2), "{}", p[0]);
    }

    #[test]
    fn bad_values_are_reported_per_section_with_lines() {
        let text = "[sensor]\nthresholds = { unusual = 0.8, likely = 0.5 }\n\
                    [capture]\nsnaplen = 10\n\
                    [log]\nformat = \"xml\"\n\
                    [allowlist]\ndomains = [\"bad domain!\"]\n";
        let p = problems(text);
        assert_eq!(p.len(), 4, "{p:#?}");
        let lines: Vec<usize> = p.iter().map(|p| p.position.unwrap().0).collect();
        assert_eq!(lines, [2, 4, 6, 8], "{p:#?}");
        assert!(p[0].message.contains("0 < unusual < likely"), "{}", p[0]);
        assert!(
            p[1].message.contains("10 is out of range (64 to 262144)"),
            "{}",
            p[1]
        );
        assert!(p[2].message.contains("xml") && p[3].message.contains("bad domain!"));
        for (text, line, want) in [
            ("[sensor]\nthreads = 3\n", 2, "out of range"),
            ("[sensor]\nwindow = \"5x\"\n", 2, "not a duration"),
            (
                "[sensor]\nthresholds = { unusual = 0.5, likely = 1.5 }\n",
                2,
                "likely <= 1",
            ),
            (
                "[sensor]\nthresholds = { unusual = 0.5, likely = 0.9, extreme = 1 }\n",
                2,
                "extreme",
            ),
            ("[capture]\ninterfaces = [\"\"]\n", 2, "not an interface"),
            ("[capture]\nqueue = 0\n", 2, "out of range"),
            ("[log]\nlevel = \"loud=[\"\n", 2, "not a log level"),
            ("[outputs]\nmetrics = \"localhost\"\n", 2, "socket address"),
            // Cross-value checks point at the key.
            (
                "[sensor]\nwindow = \"1m\"\n\ngrace = \"2m\"\n",
                4,
                "grace period",
            ),
            ("[outputs.webhook]\nurl = \"ftp://x\"\n", 2, "http://"),
        ] {
            let p = problems(text);
            assert_eq!(p.len(), 1, "{text}: {p:#?}");
            assert_eq!(p[0].position.map(|x| x.0), Some(line), "{text}: {}", p[0]);
            assert!(p[0].to_string().contains(want), "{text}: {}", p[0]);
        }
    }

    #[test]
    fn load_names_the_file_and_rebases_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(
            &path,
            "[sensor]\ndb = \"data/x.db\"\nmodel = \"/abs/m.bin\"\n[allowlist]\nfiles = [\"allow.txt\"]\n[outputs.ndjson]\npath = \"-\"\n",
        )
        .unwrap();
        let c = Config::load(&path).unwrap();
        assert_eq!(c.sensor.db, dir.path().join("data/x.db"));
        assert_eq!(c.sensor.model.as_deref(), Some(Path::new("/abs/m.bin")));
        assert_eq!(c.allowlist.files, [dir.path().join("allow.txt")]);
        assert!(c.outputs.ndjson.unwrap().is_stdout());
        // A default path is not the file's: it stays as it is.
        std::fs::write(&path, "[sensor]\nthreads = 1\n").unwrap();
        assert_eq!(
            Config::load(&path).unwrap().sensor.db,
            Path::new("sentineldns.db")
        );
        std::fs::write(&path, "[sensor]\nbogus = 1\n").unwrap();
        let e = Config::load(&path).unwrap_err().to_string();
        assert!(
            e.contains(&format!("{}: line 2, column 1", path.display())) && e.contains("bogus"),
            "{e}"
        );
        let e = Config::load(&dir.path().join("nope.toml")).unwrap_err();
        assert!(matches!(e, ConfigError::NotFound(_)), "{e}");
    }

    /// A TOML document setting dotted `key` to `value` (with the keys its
    /// table requires).
    fn doc(key: &str, value: &str) -> String {
        let (table, k) = key.rsplit_once('.').unwrap();
        let required = match table {
            "outputs.webhook" => "url = \"http://127.0.0.1:9/x\"\n",
            "capture.write_pcap" => "dir = \"/x\"\n",
            "learning" if k != "period" => "period = \"30m\"\n",
            _ => "",
        };
        format!("[{table}]\n{required}{k} = {value}\n")
    }

    #[test]
    fn every_numeric_key_is_held_to_its_range() {
        // FULL has every optional table, so this is every bound there is.
        let bounds = Config::parse(FULL).unwrap().bounds();
        assert!(bounds.len() >= 25, "{}", bounds.len());
        assert!(Config::default().bounds().iter().all(KeyRange::ok));
        for b in &bounds {
            assert!(b.ok(), "{b}: the example is valid");
            let mut outside = vec![b.max.saturating_add(1)];
            if b.min > 0 {
                outside.push(b.min - 1);
            }
            for v in outside {
                let value = if b.duration {
                    format!("\"{}\"", Duration(v as TsMicros))
                } else {
                    v.to_string()
                };
                let text = doc(b.key, &value);
                let p = problems(&text);
                assert_eq!(p.len(), 1, "{text}: {p:#?}");
                let shown = p[0].to_string();
                let (table, k) = b.key.rsplit_once('.').unwrap();
                assert_eq!(p[0].key.as_deref(), Some(b.key), "{shown}");
                assert!(
                    shown.contains(&format!("[{table}] {k}:")),
                    "names the key: {shown}"
                );
                assert!(shown.contains("out of range"), "{shown}");
                assert!(
                    shown.contains(&KeyRange { value: b.min, ..*b }.show(b.min))
                        && shown.contains(&KeyRange { value: b.max, ..*b }.show(b.max)),
                    "names the range: {shown}"
                );
                assert_eq!(p[0].position.map(|x| x.0), Some(text.lines().count()));
            }
            // The limits themselves are allowed.
            for v in [b.min, b.max] {
                let value = if b.duration {
                    format!("\"{}\"", Duration(v as TsMicros))
                } else {
                    v.to_string()
                };
                let text = doc(b.key, &value);
                assert!(Config::parse(&text).is_ok(), "{text}");
            }
        }
    }

    #[test]
    fn hostile_webhook_numbers_are_refused_with_key_value_and_range() {
        let p = problems(
            "[outputs.webhook]\nurl = \"http://127.0.0.1:9/x\"\nqueue = 18446744073709551615\ntimeout_ms = 18446744073709551615\n",
        );
        let text: Vec<String> = p.iter().map(ToString::to_string).collect();
        assert_eq!(p.len(), 2, "{text:#?}");
        assert_eq!(
            text[0],
            "line 3, column 1: [outputs.webhook] queue: 18446744073709551615 is out of range (1 to 1000000)"
        );
        assert!(text[1].contains(
            "[outputs.webhook] timeout_ms: 18446744073709551615 is out of range (1 to 3600000)"
        ));
        let p = problems("[outputs.webhook]\nurl = \"http://a/b\"\nqueue = 1000000000\n");
        assert!(p[0].to_string().contains("1000000000 is out of range"));
        // A value of the wrong type names its key too.
        let p = problems("[outputs.webhook]\nurl = \"http://a/b\"\nqueue = -1\n");
        assert_eq!(
            p[0].key.as_deref(),
            Some("outputs.webhook.queue"),
            "{}",
            p[0]
        );
        let p = problems("[sensor]\nwindow = \"5m\"\nthreads = 300\n");
        assert!(p[0].to_string().contains("[sensor] threads:"), "{}", p[0]);
    }

    #[test]
    fn flags_and_environment_are_held_to_the_same_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path().join("none.toml");
        let flags = Overrides {
            threads: Some(9),
            ..Default::default()
        };
        let e = Settings::resolve_with(None, &flags, &no_env, &sys).unwrap_err();
        assert!(
            e.to_string()
                .contains("[sensor] threads: 9 is out of range (1 to 2)"),
            "{e}"
        );
        let env = |k: &str| (k == ENV_WINDOW).then(|| "48h".to_string());
        let e = Settings::resolve_with(None, &Overrides::default(), &env, &sys).unwrap_err();
        assert!(e.to_string().contains("[sensor] window"), "{e}");
        // Changed after loading (command-line outputs): `validate` catches it.
        let mut c = Config::default();
        c.outputs.webhook = Some(crate::output::webhook::WebhookConfig {
            url: "http://a/b".into(),
            shutdown_grace_ms: u64::MAX,
            ..Default::default()
        });
        let e = c.validate(Some(Path::new("/etc/s.toml"))).unwrap_err();
        assert!(
            e.to_string()
                .contains("/etc/s.toml: [outputs.webhook] shutdown_grace_ms: 18446744073709551615 is out of range (0 to 300000)"),
            "{e}"
        );
        // `check` reports a value the environment put out of range.
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "[sensor]\nno_model = true\n").unwrap();
        let r = check(Some(&path), &env, &sys, &path, &path);
        assert!(
            r.problems
                .iter()
                .any(|p| p.to_string().contains("[sensor] window")),
            "{:?}",
            r.problems
        );
    }
}
