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
//! anything (the flags are `Option`s; see [`Overrides`]).
//!
//! # Environment
//!
//! Every key is also a variable `SENTINELDNS_<SECTION>_<KEY>`
//! ([`var_name`], [`env_settings`]): `SENTINELDNS_SENSOR_WINDOW`,
//! `SENTINELDNS_OUTPUTS_WEBHOOK_URL`. The variables are laid over the parsed
//! TOML table before it is deserialised, so their values are checked like
//! the file's and a problem names the variable. The short names
//! `SENTINELDNS_DB`, `SENTINELDNS_MODEL`, `SENTINELDNS_WINDOW`,
//! `SENTINELDNS_METRICS` and `SENTINELDNS_LOG` still work;
//! `SENTINELDNS_CONFIG` names the file (discovery, above). A set
//! `SENTINELDNS_<SECTION>_...` variable that names no key is a problem.
//!
//! [`Settings::resolve`] applies all layers and records where each value
//! came from ([`Origins`]); commands that run the pipeline share it.
//!
//! # Durations and sizes
//!
//! Durations are [`parse_duration`] strings (humantime: `"250ms"`,
//! `"1h30m"`; a bare number is seconds), in the file, the variables and the
//! flags. Sizes are [`parse_size`] strings (`"100M"`, `"100MiB"`: powers of
//! 1024). The old millisecond keys (`timeout_ms`, ...) are deprecated
//! spellings of duration keys ([`DEPRECATED_MS`]).
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
//! collects every problem it finds: a key that does not deserialise is
//! reported and set aside, and the rest of its section is read again.
//!
//! # Layout
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | [`Config`], [`ConfigError`], validation |
//! | `env.rs` | the variables of the keys ([`EnvSource`], [`ProcessEnv`], [`env_settings`]) |
//! | `values.rs` | [`Duration`], [`parse_size`], [`parse_duration`], [`KeyRange`], [`display_key`], [`millis`] |
//! | `files.rs` | [`FileKind`], [`check_file`], [`read_limited`], [`read_limited_text`] |
//! | `parse.rs` | TOML text and variables to a [`Config`], located [`Problem`]s, [`Origins`] |
//! | `sections/` | one file per section: sensor, capture, allowlist, limits, log |
//! | `discovery.rs` | [`discover`], [`process_env`], [`Overrides`], [`Settings`] |
//!
//! Loading the model a configuration names is [`crate::sensor::load_model`];
//! the `config check` report ([`crate::sensor::check`]) lives with the sensor
//! because it loads the model and the allow-lists.

mod discovery;
mod env;
pub(crate) mod files;
pub(crate) mod parse;
mod sections;
pub(crate) mod values;

pub use discovery::{discover, process_env, Overrides, Settings};
pub use env::{settings as env_settings, var_name, EnvList, EnvSource, Kind, ProcessEnv, Setting};
pub use files::{
    check_file, read_limited, read_limited_text, FileKind, MAX_ALLOWLIST_BYTES, MAX_CONFIG_BYTES,
    MAX_MODEL_BYTES,
};
pub use parse::{Origin, Origins, Problem, Problems};
pub use sections::{
    default_model_paths, AllowlistConfig, CaptureConfig, Ids, IncidentsConfig, IntelConfig,
    LearningConfig, LimitsConfig, LogConfig, LogFormat, ModelChoice, SensorConfig, ServeConfig,
    StoreConfig, WritePcapConfig, DEFAULT_FIRST_SEEN_ROWS, DEFAULT_JSONL_LINE_BYTES,
    DEFAULT_MAX_BODY, DEFAULT_SERVE_LISTEN, MAX_PAGE,
};
pub(crate) use values::opt_size;
pub use values::{
    display_key, millis, parse_duration, parse_size, Duration, KeyRange, RangeUnit, DEPRECATED_MS,
};

use crate::enrich::allowlist::AllowListError;
use crate::output::OutputsConfig;
use files::read_config;
use parse::{parse_layers, parse_text, rebase};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Environment variable naming the configuration file.
pub const ENV_CONFIG: &str = "SENTINELDNS_CONFIG";
/// Short variable for `sensor.db` (also `SENTINELDNS_SENSOR_DB`).
pub const ENV_DB: &str = "SENTINELDNS_DB";
/// Short variable for `sensor.model` (also `SENTINELDNS_SENSOR_MODEL`).
pub const ENV_MODEL: &str = "SENTINELDNS_MODEL";
/// Short variable for `sensor.window` (also `SENTINELDNS_SENSOR_WINDOW`).
pub const ENV_WINDOW: &str = "SENTINELDNS_WINDOW";
/// Short variable for `outputs.metrics` (also `SENTINELDNS_OUTPUTS_METRICS`).
pub const ENV_METRICS: &str = "SENTINELDNS_METRICS";
/// Short variable for `log.level` (also `SENTINELDNS_LOG_LEVEL`).
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
        let mut b = vec![
            KeyRange::new("sensor.threads", self.sensor.threads, 1, 2),
            KeyRange::new("sensor.top", self.sensor.top, 1, 1000),
            KeyRange::duration(
                "sensor.pair_timeout",
                self.sensor.pair_timeout.0,
                1000,
                3600 * crate::event::MICROS,
            ),
        ];
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
            pair: crate::pair::PairConfig {
                timeout: s.pair_timeout.0,
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
                env: None,
                message,
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(Problems(problems)))
        }
    }

    /// Make the paths the file gave (`from_file(dotted key)`) relative to
    /// `dir`, the file's directory.
    pub(crate) fn relative_to(&mut self, dir: &Path, from_file: &dyn Fn(&str) -> bool) {
        let one = |key: &str, p: &mut PathBuf| {
            if from_file(key) {
                rebase(dir, p);
            }
        };
        if let Some(m) = &mut self.sensor.model {
            one("sensor.model", m);
        }
        one("sensor.db", &mut self.sensor.db);
        for f in &mut self.allowlist.files {
            one("allowlist.files", f);
        }
        for f in &mut self.intel.files {
            one("intel.files", f);
        }
        if let Some(w) = &mut self.capture.write_pcap {
            one("capture.write_pcap.dir", &mut w.dir);
        }
        if let Some(t) = &mut self.serve.token_file {
            one("serve.token_file", t);
        }
        if let Some(m) = &mut self.serve.flow_model {
            one("serve.flow_model", m);
        }
        if let Some(n) = &mut self.outputs.ndjson {
            if !n.is_stdout() {
                one("outputs.ndjson.path", &mut n.path);
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

    /// Read and parse `file` (none: the defaults) with the variables of
    /// `env` laid over it (see the module docs, Environment); validated. Also
    /// returns where each value came from.
    pub fn load_layers(
        file: Option<&Path>,
        env: &dyn EnvSource,
    ) -> Result<(Config, Origins), ConfigError> {
        let text = match file {
            Some(f) => read_config(f)?,
            None => String::new(),
        };
        let p = parse_layers(&text, file, env);
        if p.problems.is_empty() {
            Ok((p.config, p.origins))
        } else {
            Err(ConfigError::Invalid(Problems(p.problems)))
        }
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
    use crate::event::MICROS;
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
            "pair_timeout",
            "top",
            "promisc",
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
            "batch_wait",
            "timeout",
            "max_attempts",
            "backoff_initial",
            "backoff_max",
            "breaker_failures",
            "breaker_cooldown",
            "shutdown_grace",
            "max_tokens",
            "linger",
            "message_timeout",
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
            "sensor" if k == "pair_timeout" => "window = \"1d\"\ngrace = \"2h\"\n",
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
                let value = match b.unit {
                    RangeUnit::Count => v.to_string(),
                    _ => format!("\"{}\"", b.show(v)),
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
                let value = match b.unit {
                    RangeUnit::Count => v.to_string(),
                    _ => format!("\"{}\"", b.show(v)),
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
        // A deprecated key is named as written; its milliseconds are shown
        // as a duration.
        assert!(
            text[1].contains(
                "line 4, column 1: [outputs.webhook] timeout_ms: 18446744073709551615ms is out of range (1ms to 1h)"
            ),
            "{text:#?}"
        );
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
                .contains("/etc/s.toml: [outputs.webhook] shutdown_grace: 18446744073709551615ms is out of range (0s to 5m)"),
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

    #[test]
    fn every_problem_of_one_section_is_listed_with_its_key_and_line() {
        let text = "[outputs.webhook]\nurl = \"ftp://x\"\nqueue = -1\ntimeout = \"soon\"\nbogus = 1\nmax_attempts = 0\n\
                    [sensor]\nthreads = 3\nwindw = \"5m\"\ntop = 0\n";
        let p = problems(text);
        let shown: Vec<String> = p.iter().map(ToString::to_string).collect();
        for (line, key, what) in [
            (2, "[outputs.webhook] url", "http://"),
            (3, "[outputs.webhook] queue", "-1"),
            (4, "[outputs.webhook] timeout", "not a duration"),
            (5, "[outputs.webhook]", "bogus"),
            (
                6,
                "[outputs.webhook] max_attempts",
                "0 is out of range (1 to 100)",
            ),
            (8, "[sensor] threads", "3 is out of range (1 to 2)"),
            (9, "[sensor]", "windw"),
            (10, "[sensor] top", "0 is out of range (1 to 1000)"),
        ] {
            assert!(
                p.iter().any(|p| p.position.map(|x| x.0) == Some(line)
                    && p.to_string().contains(key)
                    && p.message.contains(what)),
                "line {line} {key} {what}: {shown:#?}"
            );
        }
        assert_eq!(p.len(), 8, "{shown:#?}");
    }

    #[test]
    fn durations_and_sizes_take_one_style_and_deprecated_keys_still_work() {
        let new = Config::parse(
            "[outputs.webhook]\nurl = \"http://a/b\"\ntimeout = \"1m30s\"\nbackoff_initial = \"250ms\"\n\
             [outputs.ndjson]\npath = \"/x\"\nmax_bytes = \"100MiB\"\n\
             [triage]\nbatch_wait = 2\n[sensor]\npair_timeout = \"5s\"\ntop = 12\n",
        )
        .unwrap();
        let w = new.outputs.webhook.as_ref().unwrap();
        assert_eq!((w.timeout_ms, w.backoff_initial_ms), (90_000, 250));
        assert_eq!(
            new.outputs.ndjson.as_ref().unwrap().max_bytes,
            Some(100 << 20)
        );
        assert_eq!(new.triage.batch_wait_ms, 2000, "a bare number is seconds");
        assert_eq!(
            (new.sensor.pair_timeout.micros(), new.sensor.top),
            (5 * MICROS, 12)
        );
        let old = Config::parse(
            "[outputs.webhook]\nurl = \"http://a/b\"\ntimeout_ms = 90000\nbackoff_initial_ms = 250\n\
             [outputs.ndjson]\npath = \"/x\"\nmax_bytes = 104857600\n\
             [triage]\nbatch_wait_ms = 2000\n[sensor]\npair_timeout = \"5s\"\ntop = 12\n",
        )
        .unwrap();
        assert_eq!(old, new);
        // The effective settings use the new spellings and read back.
        let shown = old.to_toml();
        assert!(
            shown.contains("timeout = \"90s\"") && !shown.contains("timeout_ms"),
            "{shown}"
        );
        assert_eq!(Config::parse(&shown).unwrap(), old);
        let p = problems("[triage]\ntimeout = \"1m\"\ntimeout_ms = 60000\n");
        assert_eq!(p.len(), 1, "{p:#?}");
        assert!(
            p[0].to_string()
                .contains("[triage] timeout_ms: set either timeout or timeout_ms"),
            "{}",
            p[0]
        );
        let p = problems("[outputs.ndjson]\npath = \"/x\"\nmax_bytes = \"100 parsecs\"\n");
        assert!(
            p[0].to_string().contains("[outputs.ndjson] max_bytes"),
            "{}",
            p[0]
        );
    }

    #[test]
    fn every_setting_is_an_environment_variable_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(
            &path,
            "[sensor]\nwindow = \"10m\"\ntop = 7\ndb = \"rel.db\"\n[outputs.webhook]\nurl = \"http://file/x\"\ntimeout_ms = 3000\n",
        )
        .unwrap();
        let env = EnvList::new([
            ("SENTINELDNS_SENSOR_TOP", "9"),
            ("SENTINELDNS_SENSOR_DB", "env.db"),
            ("SENTINELDNS_OUTPUTS_WEBHOOK_TIMEOUT", "7s"),
            ("SENTINELDNS_OUTPUTS_NDJSON_PATH", "-"),
            ("SENTINELDNS_OUTPUTS_NDJSON_MAX_BYTES", "1M"),
            ("SENTINELDNS_CAPTURE_INTERFACES", "eth0, eth1"),
            ("SENTINELDNS_CAPTURE_PROMISC", "false"),
            (
                "SENTINELDNS_SENSOR_THRESHOLDS",
                "{ unusual = 0.5, likely = 0.8 }",
            ),
            ("SENTINELDNS_TRIAGE_SHUTDOWN_GRACE_MS", "1500"),
            ("SENTINELDNS_LOG_FORMAT", "json"),
        ]);
        let (c, origins) = Config::load_layers(Some(&path), &env).unwrap();
        assert_eq!(
            c.sensor.window.to_string(),
            "10m",
            "the file's, not overridden"
        );
        assert_eq!(c.sensor.top, 9);
        assert_eq!(c.sensor.db, Path::new("env.db"), "not relative to the file");
        let w = c.outputs.webhook.as_ref().unwrap();
        assert_eq!((w.url.as_str(), w.timeout_ms), ("http://file/x", 7000));
        let n = c.outputs.ndjson.as_ref().unwrap();
        assert!(n.is_stdout() && n.max_bytes == Some(1 << 20));
        assert_eq!(c.capture.interfaces, ["eth0", "eth1"]);
        assert!(!c.capture.promisc);
        assert_eq!(c.sensor.thresholds.map(|t| t.likely), Some(0.8));
        assert_eq!(c.triage.shutdown_grace_ms, 1500);
        assert_eq!(c.log.format, LogFormat::Json);
        assert_eq!(origins.of("sensor.window"), &Origin::File(2));
        assert_eq!(
            origins.of("sensor.top"),
            &Origin::Env("SENTINELDNS_SENSOR_TOP".into())
        );
        assert_eq!(
            origins.of("outputs.webhook.timeout"),
            &Origin::Env("SENTINELDNS_OUTPUTS_WEBHOOK_TIMEOUT".into())
        );
        assert_eq!(
            origins.of("sensor.thresholds.likely"),
            &Origin::Env("SENTINELDNS_SENSOR_THRESHOLDS".into())
        );
        assert_eq!(origins.of("sensor.grace"), &Origin::Default);
        // Bad values name their variable; unknown variables are named.
        let env = EnvList::new([
            ("SENTINELDNS_SENSOR_WINDOW", "soon"),
            ("SENTINELDNS_OUTPUTS_WEBHOOK_QUEUE", "0"),
            ("SENTINELDNS_SENSOR_THREADS", "two"),
            ("SENTINELDNS_SENSOR_TOPP", "3"),
            ("SENTINELDNS_TEST_POSTGRES", "ignored: not a section"),
        ]);
        let e = Config::load_layers(Some(&path), &env)
            .unwrap_err()
            .to_string();
        for want in [
            "SENTINELDNS_SENSOR_WINDOW: [sensor] window: \"soon\" is not a duration",
            "SENTINELDNS_OUTPUTS_WEBHOOK_QUEUE: [outputs.webhook] queue: 0 is out of range (1 to 1000000)",
            "SENTINELDNS_SENSOR_THREADS: [sensor] threads",
            "SENTINELDNS_SENSOR_TOPP: no setting has this variable (did you mean SENTINELDNS_SENSOR_TOP?)",
        ] {
            assert!(e.contains(want), "{want:?} missing from:\n{e}");
        }
        assert!(!e.contains("TEST_POSTGRES"), "{e}");
    }

    #[test]
    fn the_example_thresholds_are_the_shipped_models() {
        let line = DEFAULT_TOML
            .lines()
            .find(|l| l.starts_with("# thresholds = "))
            .unwrap();
        let c = Config::parse(&format!("[sensor]\n{}\n", &line[2..])).unwrap();
        let shipped = crate::model::Bundle::from_bytes(
            crate::sensor::EMBEDDED_MODEL,
            &crate::detect::MODEL_FEATURES,
        )
        .unwrap()
        .thresholds;
        let t = c.sensor.thresholds.unwrap();
        // Written to three decimals.
        assert!(
            (t.unusual - shipped.unusual).abs() < 5e-4 && (t.likely - shipped.likely).abs() < 5e-4,
            "{line} vs the shipped {shipped:?}"
        );
    }
}
