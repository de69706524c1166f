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
//! | `[log]` | [`LogConfig`] | log level and format |
//! | `[limits]` | [`LimitsConfig`] | memory bounds: open windows, names, pending queries, flows, first-seen |
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
//! [`check`] goes further than parsing: the model loads, allow-list files
//! parse, output settings are valid, the capture user and group exist. It
//! collects every problem it finds (one per section for parse errors: TOML
//! deserialisation stops at the first error inside a section).

use crate::detect::{Detector, MODEL_FEATURES};
use crate::enrich::allowlist::{AllowList, AllowListError};
use crate::event::{TsMicros, MICROS};
use crate::model::{Bundle, Thresholds};
use crate::output::OutputsConfig;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
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
pub const DEFAULT_TOML: &str = include_str!("config_default.toml");

/// Where the model is looked for when none is configured, in order.
pub fn default_model_paths() -> Vec<PathBuf> {
    vec![
        PathBuf::from("models/default.bin"),
        PathBuf::from("/usr/share/sentineldns/default.bin"),
    ]
}

/// Parse a size: bytes, or with a `K`, `M` or `G` suffix (powers of 1024).
///
/// ```
/// assert_eq!(sentineldns::config::parse_size("100M"), Ok(100 << 20));
/// assert!(sentineldns::config::parse_size("0").is_err());
/// ```
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, shift) = match t.char_indices().last() {
        Some((i, c)) if c.eq_ignore_ascii_case(&'k') => (&t[..i], 10),
        Some((i, c)) if c.eq_ignore_ascii_case(&'m') => (&t[..i], 20),
        Some((i, c)) if c.eq_ignore_ascii_case(&'g') => (&t[..i], 30),
        _ => (t, 0),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a size (examples: 1048576, 512K, 100M, 1G)"))?;
    if n == 0 {
        return Err("size must be positive".into());
    }
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

pub use sentineldns_model::time::parse_duration;

/// A duration written as `"5m"`, `"30s"`, `"250ms"`, `"1h"` or a number of
/// seconds; held in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub TsMicros);

impl Duration {
    /// Microseconds.
    pub fn micros(self) -> TsMicros {
        self.0
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = self.0;
        if us != 0 && us % (3600 * MICROS) == 0 {
            write!(f, "{}h", us / (3600 * MICROS))
        } else if us != 0 && us % (60 * MICROS) == 0 {
            write!(f, "{}m", us / (60 * MICROS))
        } else if us % MICROS == 0 {
            write!(f, "{}s", us / MICROS)
        } else if us % 1000 == 0 {
            write!(f, "{}ms", us / 1000)
        } else {
            write!(f, "{}s", us as f64 / MICROS as f64)
        }
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(s) => parse_duration(&s.to_string()),
            Raw::Text(t) => parse_duration(&t),
        }
        .map(Duration)
        .map_err(serde::de::Error::custom)
    }
}

/// The allowed range of one numeric configuration key. Every numeric key of
/// every section has one ([`Config::bounds`]); [`Config::validate`] and
/// [`check`] refuse a value outside it, naming `[section] key`, the value and
/// the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// Dotted key, e.g. `outputs.webhook.queue`.
    pub key: &'static str,
    /// The configured value (durations in microseconds).
    pub value: u64,
    /// Smallest allowed value.
    pub min: u64,
    /// Largest allowed value.
    pub max: u64,
    /// The values are durations in microseconds (rendered as `5m`, `1h`).
    pub duration: bool,
}

impl Bound {
    /// A count, size or millisecond key. `value` of any unsigned width; a
    /// value that does not fit `u64` is `u64::MAX` (out of every range).
    pub fn new(key: &'static str, value: impl TryInto<u64>, min: u64, max: u64) -> Self {
        Bound {
            key,
            value: value.try_into().unwrap_or(u64::MAX),
            min,
            max,
            duration: false,
        }
    }

    /// A duration key (microseconds; negative values count as 0).
    pub fn duration(key: &'static str, value: TsMicros, min: TsMicros, max: TsMicros) -> Self {
        let u = |v: TsMicros| u64::try_from(v).unwrap_or(0);
        Bound {
            key,
            value: u(value),
            min: u(min),
            max: u(max),
            duration: true,
        }
    }

    /// Whether the value is inside the range.
    pub fn ok(&self) -> bool {
        (self.min..=self.max).contains(&self.value)
    }

    fn show(&self, v: u64) -> String {
        if self.duration {
            Duration(TsMicros::try_from(v).unwrap_or(TsMicros::MAX)).to_string()
        } else {
            v.to_string()
        }
    }

    /// `VALUE is out of range (MIN to MAX)`, without the key.
    pub fn message(&self) -> String {
        format!(
            "{} is out of range ({} to {})",
            self.show(self.value),
            self.show(self.min),
            self.show(self.max)
        )
    }
}

impl fmt::Display for Bound {
    /// `[outputs.webhook] queue = 0 is out of range (1 to 1000000)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", display_key(self.key), self.message())
    }
}

/// The tables of the configuration file (for [`display_key`]).
const TABLES: &[&str] = &[
    "sensor",
    "capture",
    "capture.write_pcap",
    "outputs",
    "outputs.ndjson",
    "outputs.webhook",
    "allowlist",
    "log",
    "limits",
];

/// A dotted key as a reader of the file sees it: `sensor.window` →
/// `[sensor] window`, a table such as `outputs.webhook` → `[outputs.webhook]`.
pub fn display_key(dotted: &str) -> String {
    if TABLES.contains(&dotted) {
        return format!("[{dotted}]");
    }
    match dotted.rsplit_once('.') {
        Some((table, key)) => format!("[{table}] {key}"),
        None => format!("[{dotted}]"),
    }
}

/// Largest configuration file read (1 MiB).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// Largest allow-list file read (64 MiB: about 2 million entries; the
/// embedded default list is 1.4 KB).
pub const MAX_ALLOWLIST_BYTES: u64 = 64 << 20;
/// Largest model bundle read (512 MiB; the shipped `models/default.bin` is 1.7 MB).
pub const MAX_MODEL_BYTES: u64 = 512 << 20;

/// A kind of file the configuration names: its size limit and its name in
/// messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// The configuration file itself ([`MAX_CONFIG_BYTES`]).
    Config,
    /// An allow-list file ([`MAX_ALLOWLIST_BYTES`]).
    AllowList,
    /// A model bundle ([`MAX_MODEL_BYTES`]).
    Model,
}

impl FileKind {
    /// Largest file of this kind that is read.
    pub fn limit(self) -> u64 {
        match self {
            FileKind::Config => MAX_CONFIG_BYTES,
            FileKind::AllowList => MAX_ALLOWLIST_BYTES,
            FileKind::Model => MAX_MODEL_BYTES,
        }
    }

    /// Name in messages.
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Config => "configuration file",
            FileKind::AllowList => "allow-list file",
            FileKind::Model => "model bundle",
        }
    }
}

/// What a path that is not a regular file is.
fn file_type_name(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

/// Check that `path` is a regular file no larger than `kind`'s limit, without
/// opening it (a FIFO is refused, not waited on).
pub fn check_file(path: &Path, kind: FileKind) -> Result<u64, ConfigError> {
    let meta = std::fs::metadata(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    check_meta(path, kind, &meta)
}

fn check_meta(path: &Path, kind: FileKind, meta: &std::fs::Metadata) -> Result<u64, ConfigError> {
    if !meta.is_file() {
        return Err(ConfigError::NotRegularFile {
            kind: kind.name(),
            path: path.to_path_buf(),
            what: file_type_name(meta.file_type()),
        });
    }
    let size = meta.len();
    if size > kind.limit() {
        return Err(ConfigError::TooLarge {
            kind: kind.name(),
            path: path.to_path_buf(),
            size,
            limit: kind.limit(),
        });
    }
    Ok(size)
}

/// Read a file the configuration names: refused unless it is a regular file
/// (checked before opening, so a FIFO or `/dev/zero` never blocks or fills
/// memory), opened non-blocking and checked again, and read through
/// `take(limit + 1)`, so a file that grows or is swapped after the check
/// still cannot exceed `kind`'s limit.
pub fn read_limited(path: &Path, kind: FileKind) -> Result<Vec<u8>, ConfigError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source: std::io::Error| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    check_file(path, kind)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io)?;
    let size = check_meta(path, kind, &file.metadata().map_err(io)?)?;
    read_capped(file, path, kind.name(), size, kind.limit())
}

/// Read at most `limit` bytes of `r` (`size` is what its metadata said):
/// more is [`ConfigError::TooLarge`], found after reading `limit + 1` bytes,
/// never more.
fn read_capped(
    r: impl std::io::Read,
    path: &Path,
    kind: &'static str,
    size: u64,
    limit: u64,
) -> Result<Vec<u8>, ConfigError> {
    use std::io::Read;
    let mut bytes = Vec::with_capacity(usize::try_from(size.min(limit)).unwrap_or(0));
    r.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    let read = bytes.len() as u64;
    if read > limit {
        return Err(ConfigError::TooLarge {
            kind,
            path: path.to_path_buf(),
            size: size.max(read),
            limit,
        });
    }
    Ok(bytes)
}

/// [`read_limited`] as UTF-8 text.
pub fn read_limited_text(path: &Path, kind: FileKind) -> Result<String, ConfigError> {
    String::from_utf8(read_limited(path, kind)?).map_err(|_| ConfigError::Read {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
    })
}

/// A byte size: a number, or a string with a K/M/G suffix (powers of 1024),
/// e.g. `1048576`, `"512K"`, `"1M"`.
fn size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bytes(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Bytes(b) => Ok(b),
        Raw::Text(t) => parse_size(&t).map_err(serde::de::Error::custom),
    }
}

fn thresholds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Thresholds>, D::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        unusual: f64,
        likely: f64,
    }
    let r = Raw::deserialize(d)?;
    let t = Thresholds {
        unusual: r.unusual,
        likely: r.likely,
    };
    if t.validate().is_err() {
        return Err(serde::de::Error::custom(format!(
            "thresholds must satisfy 0 < unusual < likely <= 1, found unusual {}, likely {}",
            t.unusual, t.likely
        )));
    }
    Ok(Some(t))
}

/// `[sensor]`: how lookups become scored windows, and where they are stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SensorConfig {
    /// Window length (default `"5m"`; 1 s to 1 day).
    pub window: Duration,
    /// How long after a window ends late packets still count (default `"30s"`;
    /// at least the 10 s pairing timeout, shorter than the window).
    pub grace: Duration,
    /// Model bundle (default: none configured, so [`default_model_paths`] are
    /// searched).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<PathBuf>,
    /// Store windows without scoring them (default `false`).
    pub no_model: bool,
    /// SQLite database (default `"sentineldns.db"`).
    pub db: PathBuf,
    /// Override the model bundle's label thresholds (default: the bundle's);
    /// `0 < unusual < likely ≤ 1`.
    #[serde(
        deserialize_with = "thresholds",
        skip_serializing_if = "Option::is_none"
    )]
    pub thresholds: Option<Thresholds>,
    /// Pipeline threads, 1 or 2 (default 2; results are identical).
    pub threads: u8,
}

impl Default for SensorConfig {
    fn default() -> Self {
        SensorConfig {
            window: Duration(300 * MICROS),
            grace: Duration(30 * MICROS),
            model: None,
            no_model: false,
            db: PathBuf::from("sentineldns.db"),
            thresholds: None,
            threads: 2,
        }
    }
}

/// Which model a command uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelChoice {
    /// No scoring.
    Off,
    /// This bundle.
    Path(PathBuf),
    /// The first of [`default_model_paths`] that exists.
    Search,
}

impl SensorConfig {
    /// The model this configuration asks for.
    pub fn model_choice(&self) -> ModelChoice {
        match (&self.model, self.no_model) {
            (_, true) => ModelChoice::Off,
            (Some(p), false) => ModelChoice::Path(p.clone()),
            (None, false) => ModelChoice::Search,
        }
    }
}

fn interfaces<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Vec::<String>::deserialize(d)?;
    for name in &v {
        let ok = !name.is_empty()
            && name.len() <= 15
            && name
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'/' && b != b'\\');
        if !ok {
            return Err(serde::de::Error::custom(format!(
                "{name:?} is not an interface name (1 to 15 printable characters, no '/')"
            )));
        }
    }
    Ok(v)
}

fn account_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() || s.contains([':', '\n', '/']) || s.len() > 64 {
        return Err(serde::de::Error::custom(format!(
            "{s:?} is not a user or group name"
        )));
    }
    Ok(s)
}

fn opt_account_name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    account_name(d).map(Some)
}

/// `[capture]`: live capture (read by the `capture` command only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptureConfig {
    /// Interfaces to capture on, e.g. `["eth0"]` (default: none; capture
    /// refuses to start without one).
    #[serde(deserialize_with = "interfaces")]
    pub interfaces: Vec<String>,
    /// BPF filter (default: absent, the built-in DNS filter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bpf: Option<String>,
    /// Bytes captured per packet (default 65535; 64 to 262144).
    pub snaplen: u32,
    /// Kernel capture buffer in MiB (default 16; 1 to 4096).
    pub buffer_mb: u32,
    /// User to drop privileges to after opening the interfaces (default `"nobody"`).
    #[serde(deserialize_with = "account_name")]
    pub user: String,
    /// Group to drop to (default: absent, the user's primary group).
    #[serde(
        deserialize_with = "opt_account_name",
        skip_serializing_if = "Option::is_none"
    )]
    pub group: Option<String>,
    /// Packets queued between capture and decoding (default 65536; 1 to 16777216).
    pub queue: usize,
    /// Also write captured packets to rotating pcap files (default: off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_pcap: Option<WritePcapConfig>,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            interfaces: Vec::new(),
            bpf: None,
            snaplen: 65535,
            buffer_mb: 16,
            user: "nobody".into(),
            group: None,
            queue: 65536,
            write_pcap: None,
        }
    }
}

/// `[capture.write_pcap]`: a ring of pcap files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WritePcapConfig {
    /// Directory of the files (required).
    pub dir: PathBuf,
    /// Size of one file in MiB before the next is started (default 100; 1 to 65536).
    #[serde(default = "WritePcapConfig::default_max_mb")]
    pub max_mb: u64,
    /// Files kept; the oldest is deleted (default 10; 1 to 100000).
    #[serde(default = "WritePcapConfig::default_keep")]
    pub keep: usize,
}

impl WritePcapConfig {
    /// A ring in `dir` with the default size and count.
    pub fn new(dir: PathBuf) -> Self {
        WritePcapConfig {
            dir,
            max_mb: Self::default_max_mb(),
            keep: Self::default_keep(),
        }
    }

    fn default_max_mb() -> u64 {
        100
    }
    fn default_keep() -> usize {
        10
    }
}

/// User and group ids to drop to, from [`CaptureConfig::ids`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ids {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

impl CaptureConfig {
    /// Resolve `user` and `group` (or the user's primary group) through
    /// `/etc/passwd` and `/etc/group`.
    pub fn ids(&self) -> Result<Ids, ConfigError> {
        self.ids_from(Path::new("/etc/passwd"), Path::new("/etc/group"))
    }

    /// [`ids`](Self::ids) with other account files (tests).
    pub fn ids_from(&self, passwd: &Path, group: &Path) -> Result<Ids, ConfigError> {
        let (uid, primary) = lookup_account(passwd, &self.user, 2, 3)?.ok_or_else(|| {
            ConfigError::Account(format!(
                "capture user {:?} does not exist in {}",
                self.user,
                passwd.display()
            ))
        })?;
        let gid = match &self.group {
            None => primary,
            Some(g) => {
                lookup_account(group, g, 2, 2)?
                    .ok_or_else(|| {
                        ConfigError::Account(format!(
                            "capture group {g:?} does not exist in {}",
                            group.display()
                        ))
                    })?
                    .0
            }
        };
        Ok(Ids { uid, gid })
    }
}

/// Find `name` in a colon-separated account file (`/etc/passwd`,
/// `/etc/group`) and return the numeric fields `a` and `b` of its line.
fn lookup_account(
    file: &Path,
    name: &str,
    a: usize,
    b: usize,
) -> Result<Option<(u32, u32)>, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
        path: file.to_path_buf(),
        source,
    })?;
    for line in text.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.first() == Some(&name) {
            let num = |i: usize| f.get(i).and_then(|v| v.parse::<u32>().ok());
            if let (Some(x), Some(y)) = (num(a), num(b)) {
                return Ok(Some((x, y)));
            }
        }
    }
    Ok(None)
}

fn allow_entries<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Vec::<String>::deserialize(d)?;
    for e in &v {
        if e.contains(['\n', '#']) || e.trim().is_empty() {
            return Err(serde::de::Error::custom(format!(
                "{e:?} is not an allow-list entry"
            )));
        }
        AllowList::parse(e).map_err(|err| {
            serde::de::Error::custom(format!("{e:?} is not an allow-list entry: {}", err.why))
        })?;
    }
    Ok(v)
}

/// `[allowlist]`: domains whose lookups get no lexical risk and never count
/// as newly seen (format: [`crate::enrich::allowlist`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AllowlistConfig {
    /// Allow-list files, one entry per line (default: none).
    pub files: Vec<PathBuf>,
    /// Inline entries: `example.com`, `*.example.com`, `=example.com` (default: none).
    #[serde(deserialize_with = "allow_entries")]
    pub domains: Vec<String>,
    /// Also use the embedded default list (default `true`).
    pub default: bool,
}

impl Default for AllowlistConfig {
    fn default() -> Self {
        AllowlistConfig {
            files: Vec::new(),
            domains: Vec::new(),
            default: true,
        }
    }
}

impl AllowlistConfig {
    /// The files and inline entries (not the embedded default).
    pub fn extra(&self) -> Result<AllowList, ConfigError> {
        let mut list = AllowList::default();
        for f in &self.files {
            let text = read_limited_text(f, FileKind::AllowList)?;
            let parsed = AllowList::parse(&text).map_err(|source| ConfigError::AllowList {
                path: f.clone(),
                source,
            })?;
            list.extend(parsed);
        }
        let inline = AllowList::parse(&self.domains.join("\n")).map_err(|source| {
            ConfigError::AllowList {
                path: PathBuf::from("[allowlist] domains"),
                source,
            }
        })?;
        list.extend(inline);
        Ok(list)
    }

    /// Check every file without reading it: each is a regular file within
    /// [`MAX_ALLOWLIST_BYTES`] (so a command refuses a bad one before doing
    /// any work; [`extra`](Self::extra) checks again as it reads).
    pub fn check_files(&self) -> Result<(), ConfigError> {
        for f in &self.files {
            check_file(f, FileKind::AllowList)?;
        }
        Ok(())
    }

    /// The whole list: the embedded default (when `default`), the files and
    /// the inline entries. This is what a reload installs.
    pub fn build(&self) -> Result<AllowList, ConfigError> {
        let mut list = if self.default {
            AllowList::default_list()
        } else {
            AllowList::default()
        };
        list.extend(self.extra()?);
        Ok(list)
    }
}

/// `[limits]`: memory bounds an attacker can push against (spoofed sources,
/// random subdomains, TCP and fragment floods, long JSONL lines). Each table
/// evicts or refuses beyond its bound and counts it in the run summary and in
/// Prometheus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Open (host, window) accumulators (default 50000; 1 to 5000000).
    pub max_open_windows: usize,
    /// Distinct names kept per host window (default 65536; 1 to 1048576).
    pub max_names_per_window: usize,
    /// Distinct names kept over all open windows (default 2000000; 1000 to
    /// 100000000).
    pub max_names_total: usize,
    /// How far ahead of the packet clock one timestamp may jump before it
    /// must be confirmed (default `"10m"`; 1 s to 1 day).
    pub max_clock_jump: Duration,
    /// Queries waiting for their response (default 1048576; 1 to 16777216).
    pub pending_queries: usize,
    /// TCP flow directions being reassembled (default 4096; 1 to 262144).
    pub tcp_flows: usize,
    /// IP datagrams being reassembled from fragments (default 1024; 1 to 65536).
    pub ip_fragment_sets: usize,
    /// Sensor-wide first-seen registrable domains kept in memory (default
    /// 1000000; 1 to 50000000).
    pub first_seen_cap: usize,
    /// First-seen (host, registrable domain) pairs kept in memory (default
    /// 2000000; 1 to 50000000).
    pub host_first_seen_cap: usize,
    /// First-seen domains kept in the database (default 3000000; 1000 to
    /// 100000000).
    pub first_seen_rows: u64,
    /// Longest JSONL input line in bytes; a number or `"1M"`-style size
    /// (default 1 MiB; 1 KiB to 64 MiB).
    #[serde(deserialize_with = "size")]
    pub jsonl_line_bytes: u64,
}

/// Default of [`LimitsConfig::first_seen_rows`].
pub const DEFAULT_FIRST_SEEN_ROWS: u64 = 3_000_000;
/// Default of [`LimitsConfig::jsonl_line_bytes`] (1 MiB).
pub const DEFAULT_JSONL_LINE_BYTES: u64 = 1 << 20;

impl Default for LimitsConfig {
    fn default() -> Self {
        let p = crate::pipeline::PipelineConfig::default();
        LimitsConfig {
            max_open_windows: p.aggregate.max_open_windows,
            max_names_per_window: p.aggregate.max_names_per_window,
            max_names_total: p.aggregate.max_names_total,
            max_clock_jump: Duration(p.clock.max_jump),
            pending_queries: p.pair.max_pending,
            tcp_flows: p.decode.max_tcp_flows,
            ip_fragment_sets: p.decode.max_fragment_sets,
            first_seen_cap: p.enrich.first_seen_cap,
            host_first_seen_cap: p.enrich.host_first_seen_cap,
            first_seen_rows: DEFAULT_FIRST_SEEN_ROWS,
            jsonl_line_bytes: DEFAULT_JSONL_LINE_BYTES,
        }
    }
}

impl LimitsConfig {
    /// The allowed range of every key.
    pub fn bounds(&self) -> Vec<Bound> {
        vec![
            Bound::new(
                "limits.max_open_windows",
                self.max_open_windows,
                1,
                5_000_000,
            ),
            Bound::new(
                "limits.max_names_per_window",
                self.max_names_per_window,
                1,
                1 << 20,
            ),
            Bound::new(
                "limits.max_names_total",
                self.max_names_total,
                1000,
                100_000_000,
            ),
            Bound::duration(
                "limits.max_clock_jump",
                self.max_clock_jump.0,
                MICROS,
                86_400 * MICROS,
            ),
            Bound::new("limits.pending_queries", self.pending_queries, 1, 1 << 24),
            Bound::new("limits.tcp_flows", self.tcp_flows, 1, 1 << 18),
            Bound::new("limits.ip_fragment_sets", self.ip_fragment_sets, 1, 1 << 16),
            Bound::new("limits.first_seen_cap", self.first_seen_cap, 1, 50_000_000),
            Bound::new(
                "limits.host_first_seen_cap",
                self.host_first_seen_cap,
                1,
                50_000_000,
            ),
            Bound::new(
                "limits.first_seen_rows",
                self.first_seen_rows,
                1000,
                100_000_000,
            ),
            Bound::new(
                "limits.jsonl_line_bytes",
                self.jsonl_line_bytes,
                1 << 10,
                64 << 20,
            ),
        ]
    }

    /// Lay the bounds over a pipeline configuration (the fields that exist
    /// there; `first_seen_rows` and `jsonl_line_bytes` are read by the store
    /// and the JSONL reader).
    pub fn apply_to(&self, cfg: &mut crate::pipeline::PipelineConfig) {
        cfg.aggregate.max_open_windows = self.max_open_windows;
        cfg.aggregate.max_names_per_window = self.max_names_per_window;
        cfg.aggregate.max_names_total = self.max_names_total;
        cfg.clock.max_jump = self.max_clock_jump.0;
        cfg.pair.max_pending = self.pending_queries;
        cfg.decode.max_tcp_flows = self.tcp_flows;
        cfg.decode.max_fragment_sets = self.ip_fragment_sets;
        cfg.enrich.first_seen_cap = self.first_seen_cap;
        cfg.enrich.host_first_seen_cap = self.host_first_seen_cap;
        cfg.source.max_line_bytes = usize::try_from(self.jsonl_line_bytes).unwrap_or(usize::MAX);
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (default).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

fn log_level<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s = String::deserialize(d)?;
    tracing_subscriber::EnvFilter::try_new(&s)
        .map_err(|e| serde::de::Error::custom(format!("{s:?} is not a log level: {e}")))?;
    Ok(s)
}

/// `[log]`: logging on stderr.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Level filter: error, warn, info, debug, trace or a tracing directive (default `"warn"`).
    #[serde(deserialize_with = "log_level")]
    pub level: String,
    /// `"text"` (default) or `"json"`.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "warn".into(),
            format: LogFormat::Text,
        }
    }
}

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
    /// `[log]`.
    pub log: LogConfig,
    /// `[limits]`.
    pub limits: LimitsConfig,
}

/// One thing wrong with a configuration, located as precisely as known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, when the configuration came from one.
    pub file: Option<PathBuf>,
    /// 1-based line and column.
    pub position: Option<(usize, usize)>,
    /// Dotted key, e.g. `sensor.window`, when known.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(p) = &self.file {
            write!(f, "{}", p.display())?;
            sep = ": ";
        }
        if let Some((l, c)) = self.position {
            write!(f, "{sep}line {l}, column {c}")?;
            sep = ": ";
        }
        if let Some(k) = &self.key {
            write!(f, "{sep}{}", display_key(k))?;
            sep = ": ";
        }
        write!(f, "{sep}{}", self.message)
    }
}

/// Problems, one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
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

/// Line and column (1-based) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Where each dotted key (`sensor`, `sensor.window`, `outputs.webhook.url`)
/// starts in the source.
type KeyPositions = BTreeMap<String, (usize, usize)>;

fn collect_positions(
    text: &str,
    prefix: &str,
    table: &toml::de::DeTable<'_>,
    out: &mut KeyPositions,
) {
    for (k, v) in table.iter() {
        let key = if prefix.is_empty() {
            k.get_ref().to_string()
        } else {
            format!("{prefix}.{}", k.get_ref())
        };
        out.insert(key.clone(), line_col(text, k.span().start));
        if let toml::de::DeValue::Table(t) = v.get_ref() {
            collect_positions(text, &key, t, out);
        }
    }
}

/// A parsed file: the configuration (when it is valid), every problem, and
/// key positions for locating later problems.
struct Parsed {
    config: Config,
    problems: Vec<Problem>,
    positions: KeyPositions,
    file: Option<PathBuf>,
}

impl Parsed {
    fn problem(&self, key: &str, message: String) -> Problem {
        Problem {
            file: self.file.clone(),
            position: self.positions.get(key).copied(),
            key: Some(key.to_string()),
            message,
        }
    }
}

fn parse_text(text: &str, file: Option<&Path>) -> Parsed {
    let mut p = Parsed {
        config: Config::default(),
        problems: Vec::new(),
        positions: KeyPositions::new(),
        file: file.map(Path::to_path_buf),
    };
    let root = match toml::de::DeTable::parse(text) {
        Ok(r) => r,
        Err(e) => {
            p.problems.push(Problem {
                file: p.file.clone(),
                position: e.span().map(|s| line_col(text, s.start)),
                key: None,
                message: e.message().trim().to_string(),
            });
            return p;
        }
    };
    collect_positions(text, "", root.get_ref(), &mut p.positions);
    // One section at a time, so a mistake in one section does not hide the
    // mistakes in the others. Spans stay positions in `text`.
    for (k, v) in root.into_inner() {
        let name = k.get_ref().to_string();
        let span = k.span().start..v.span().end;
        let mut one = toml::de::DeTable::new();
        one.insert(k, v);
        let de = toml::de::Deserializer::from(toml::Spanned::new(span, one));
        match Config::deserialize(de) {
            Ok(part) => match name.as_str() {
                "sensor" => p.config.sensor = part.sensor,
                "capture" => p.config.capture = part.capture,
                "outputs" => p.config.outputs = part.outputs,
                "allowlist" => p.config.allowlist = part.allowlist,
                "log" => p.config.log = part.log,
                "limits" => p.config.limits = part.limits,
                _ => {}
            },
            Err(e) => {
                let position = e.span().map(|s| line_col(text, s.start));
                // The key the error is in: the last key of this section
                // that starts at or before the error.
                let key = position
                    .and_then(|pos| {
                        let prefix = format!("{name}.");
                        p.positions
                            .iter()
                            .filter(|(k, at)| k.starts_with(&prefix) && **at <= pos)
                            .max_by_key(|(_, at)| **at)
                            .map(|(k, _)| k.clone())
                    })
                    .unwrap_or_else(|| name.clone());
                p.problems.push(Problem {
                    file: p.file.clone(),
                    position: position.or_else(|| p.positions.get(&name).copied()),
                    key: Some(key),
                    message: e.message().trim().to_string(),
                })
            }
        }
    }
    let values = p.config.value_problems();
    for (key, msg) in values {
        let pr = p.problem(key, msg);
        p.problems.push(pr);
    }
    p.problems.sort_by_key(|p| p.position);
    if let Some(dir) = file.and_then(Path::parent) {
        // The default database stays relative to the working directory.
        let db_set = p.positions.contains_key("sensor.db");
        p.config.relative_to(dir, db_set);
    }
    p
}

fn rebase(dir: &Path, p: &mut PathBuf) {
    if p.is_relative() && !p.as_os_str().is_empty() {
        *p = dir.join(&*p);
    }
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
    pub fn bounds(&self) -> Vec<Bound> {
        let mut b = vec![Bound::new("sensor.threads", self.sensor.threads, 1, 2)];
        let c = &self.capture;
        b.push(Bound::new("capture.snaplen", c.snaplen, 64, 262_144));
        b.push(Bound::new("capture.buffer_mb", c.buffer_mb, 1, 4096));
        b.push(Bound::new("capture.queue", c.queue, 1, 1 << 24));
        if let Some(w) = &c.write_pcap {
            b.push(Bound::new("capture.write_pcap.max_mb", w.max_mb, 1, 65_536));
            b.push(Bound::new("capture.write_pcap.keep", w.keep, 1, 100_000));
        }
        if let Some(n) = &self.outputs.ndjson {
            if let Some(m) = n.max_bytes {
                b.push(Bound::new("outputs.ndjson.max_bytes", m, 1, 1 << 40));
            }
            b.push(Bound::new("outputs.ndjson.keep", n.keep, 0, 1000));
        }
        if let Some(w) = &self.outputs.webhook {
            b.extend(w.bounds());
        }
        b.extend(self.limits.bounds());
        b
    }

    /// Every problem of the values themselves: each numeric key in its range
    /// ([`bounds`](Self::bounds)) and the checks between values. The one
    /// validation every path runs: parsing a file, [`check`], and
    /// [`validate`](Self::validate) after the environment and the command
    /// line are applied.
    fn value_problems(&self) -> Vec<(&'static str, String)> {
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
        if let Some(w) = &self.outputs.webhook {
            if let Err(e) = w.validate_url() {
                out.push(("outputs.webhook.url", e.to_string()));
            }
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

    fn relative_to(&mut self, dir: &Path, db_set: bool) {
        if let Some(m) = &mut self.sensor.model {
            rebase(dir, m);
        }
        if db_set {
            rebase(dir, &mut self.sensor.db);
        }
        for f in &mut self.allowlist.files {
            rebase(dir, f);
        }
        if let Some(w) = &mut self.capture.write_pcap {
            rebase(dir, &mut w.dir);
        }
        if let Some(n) = &mut self.outputs.ndjson {
            if !n.is_stdout() {
                rebase(dir, &mut n.path);
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

fn read_config(path: &Path) -> Result<String, ConfigError> {
    read_limited_text(path, FileKind::Config).map_err(|e| match e {
        ConfigError::Read { path, source } if source.kind() == std::io::ErrorKind::NotFound => {
            ConfigError::NotFound(path)
        }
        other => other,
    })
}

/// Which file to read: `explicit` (the `--config` flag), else
/// `SENTINELDNS_CONFIG` (through `env`), else `system` if it exists, else
/// none. A named file that does not exist is [`ConfigError::NotFound`].
pub fn discover(
    explicit: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    system: &Path,
) -> Result<Option<PathBuf>, ConfigError> {
    let named = explicit
        .map(Path::to_path_buf)
        .or_else(|| env(ENV_CONFIG).filter(|s| !s.is_empty()).map(PathBuf::from));
    match named {
        Some(p) if p.exists() => Ok(Some(p)),
        Some(p) => Err(ConfigError::NotFound(p)),
        None => Ok(system.exists().then(|| system.to_path_buf())),
    }
}

/// The process environment, as [`Config::apply_env`] and [`discover`] want it.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Command-line flags of the pipeline commands; `None` / `false` = not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--window`.
    pub window: Option<TsMicros>,
    /// `--grace`.
    pub grace: Option<TsMicros>,
    /// `--model` (also clears `no_model`).
    pub model: Option<PathBuf>,
    /// `--no-model`.
    pub no_model: bool,
    /// `--db`.
    pub db: Option<PathBuf>,
    /// `--threads`.
    pub threads: Option<u8>,
}

impl Overrides {
    /// Apply the flags that were given.
    pub fn apply(&self, c: &mut Config) {
        if let Some(w) = self.window {
            c.sensor.window = Duration(w);
        }
        if let Some(g) = self.grace {
            c.sensor.grace = Duration(g);
        }
        if let Some(m) = &self.model {
            c.sensor.model = Some(m.clone());
            c.sensor.no_model = false;
        }
        if self.no_model {
            c.sensor.no_model = true;
        }
        if let Some(d) = &self.db {
            c.sensor.db = d.clone();
        }
        if let Some(t) = self.threads {
            c.sensor.threads = t;
        }
    }
}

/// The effective settings of one run: every layer applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The file that was read, if any.
    pub file: Option<PathBuf>,
    /// The merged configuration.
    pub config: Config,
}

impl Settings {
    /// Discover and load the file (`explicit` = `--config`), then apply the
    /// process environment and `overrides`.
    pub fn resolve(explicit: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::resolve_with(explicit, overrides, &process_env, Path::new(SYSTEM_PATH))
    }

    /// [`resolve`](Self::resolve) with an explicit environment and system path (tests).
    pub fn resolve_with(
        explicit: Option<&Path>,
        overrides: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
        system: &Path,
    ) -> Result<Self, ConfigError> {
        let file = discover(explicit, env, system)?;
        let mut config = match &file {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        config.apply_env(env)?;
        overrides.apply(&mut config);
        config.validate(file.as_deref())?;
        Ok(Settings { file, config })
    }
}

/// Load the model `choice` names, with `thresholds` (when given) replacing
/// the bundle's. `None` for [`ModelChoice::Off`].
pub fn load_model(
    choice: &ModelChoice,
    thresholds: Option<Thresholds>,
) -> Result<Option<(Detector, PathBuf)>, String> {
    let path = match choice {
        ModelChoice::Off => return Ok(None),
        ModelChoice::Path(p) => p.clone(),
        ModelChoice::Search => default_model_paths()
            .into_iter()
            .find(|p| p.exists())
            .ok_or_else(|| {
                format!(
                    "no model bundle found (looked for {}); set sensor.model, pass --model FILE, train one with `sentineldns train`, or use --no-model",
                    default_model_paths()
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?,
    };
    let bytes = read_limited(&path, FileKind::Model).map_err(|e| e.to_string())?;
    let bundle = Bundle::from_bytes(&bytes, &MODEL_FEATURES)
        .map_err(|e| format!("loading model {}: {e}", path.display()))?;
    let mut det = Detector::new(bundle).map_err(|e| format!("model {}: {e}", path.display()))?;
    if let Some(t) = thresholds {
        det.set_thresholds(t).map_err(|e| e.to_string())?;
    }
    Ok(Some((det, path)))
}

/// What [`check`] found.
#[derive(Debug)]
pub struct Report {
    /// The file that was read, if any.
    pub file: Option<PathBuf>,
    /// The effective configuration (file and environment applied), when it parsed.
    pub config: Option<Config>,
    /// Every problem found; empty = valid.
    pub problems: Vec<Problem>,
}

/// Validate everything a sensor would need: parse (unknown keys, value
/// ranges), environment values, the model loads (unless `no_model`), every
/// allow-list file parses, output settings, the capture user and group exist
/// in `passwd` / `group`.
pub fn check(
    explicit: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    system: &Path,
    passwd: &Path,
    group: &Path,
) -> Report {
    let mut report = Report {
        file: None,
        config: None,
        problems: Vec::new(),
    };
    let whole = |message: String, file: Option<PathBuf>| Problem {
        file,
        position: None,
        key: None,
        message,
    };
    let file = match discover(explicit, env, system) {
        Ok(f) => f,
        Err(e) => {
            report.problems.push(whole(e.to_string(), None));
            return report;
        }
    };
    report.file = file.clone();
    let mut parsed = match &file {
        None => parse_text("", None),
        Some(p) => match read_config(p) {
            Ok(text) => parse_text(&text, Some(p)),
            Err(e) => {
                report.problems.push(whole(e.to_string(), None));
                return report;
            }
        },
    };
    report.problems.append(&mut parsed.problems);
    if let Err(e) = parsed.config.apply_env(env) {
        report.problems.push(whole(e.to_string(), None));
    }
    // Values the environment changed are held to the same ranges.
    for (key, msg) in parsed.config.value_problems() {
        let pr = parsed.problem(key, msg);
        if !report.problems.contains(&pr) {
            report.problems.push(pr);
        }
    }
    let c = &parsed.config;
    if let Err(msg) = load_model(&c.sensor.model_choice(), c.sensor.thresholds) {
        let key = if c.sensor.model.is_some() {
            "sensor.model"
        } else {
            "sensor"
        };
        report.problems.push(parsed.problem(key, msg));
    }
    if let Err(e) = c.allowlist.extra() {
        report
            .problems
            .push(parsed.problem("allowlist.files", e.to_string()));
    }
    if let Err(e) = c.capture.ids_from(passwd, group) {
        let key = match e {
            ConfigError::Account(ref m) if m.contains("group") => "capture.group",
            _ => "capture.user",
        };
        report.problems.push(parsed.problem(key, e.to_string()));
    }
    report.config = Some(parsed.config);
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::webhook::MinLabel;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn problems(text: &str) -> Vec<Problem> {
        match Config::parse(text) {
            Err(ConfigError::Invalid(p)) => p.0,
            other => panic!("expected problems, got {other:?}"),
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

    #[test]
    fn discovery_order() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.toml");
        let b = dir.path().join("b.toml");
        let sys = dir.path().join("system.toml");
        std::fs::write(&a, "").unwrap();
        std::fs::write(&b, "").unwrap();
        let env_b = |k: &str| (k == ENV_CONFIG).then(|| b.display().to_string());
        assert_eq!(discover(Some(&a), &env_b, &sys).unwrap(), Some(a.clone()));
        assert_eq!(discover(None, &env_b, &sys).unwrap(), Some(b.clone()));
        assert_eq!(discover(None, &no_env, &sys).unwrap(), None);
        std::fs::write(&sys, "").unwrap();
        assert_eq!(discover(None, &no_env, &sys).unwrap(), Some(sys.clone()));
        let missing = dir.path().join("missing.toml");
        assert!(matches!(
            discover(Some(&missing), &no_env, &sys),
            Err(ConfigError::NotFound(p)) if p == missing
        ));
        let env_missing = |k: &str| (k == ENV_CONFIG).then(|| missing.display().to_string());
        assert!(discover(None, &env_missing, &sys).is_err());
    }

    #[test]
    fn precedence_defaults_file_env_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(
            &path,
            "[sensor]\nwindow = \"10m\"\ndb = \"/file.db\"\nmodel = \"/file.bin\"\n[outputs]\nmetrics = \"127.0.0.1:1000\"\n[log]\nlevel = \"info\"\n",
        )
        .unwrap();
        let sys = dir.path().join("none.toml");
        let none = Overrides::default();
        // Defaults only.
        let s = Settings::resolve_with(None, &none, &no_env, &sys).unwrap();
        assert_eq!(s.config, Config::default());
        assert_eq!(s.file, None);
        // File over defaults.
        let s = Settings::resolve_with(Some(&path), &none, &no_env, &sys).unwrap();
        let c = &s.config;
        assert_eq!(c.sensor.window.micros(), 600 * MICROS);
        assert_eq!(c.sensor.db, Path::new("/file.db"));
        assert_eq!(
            c.sensor.model_choice(),
            ModelChoice::Path("/file.bin".into())
        );
        assert_eq!(c.outputs.metrics, Some("127.0.0.1:1000".parse().unwrap()));
        assert_eq!(
            c.sensor.grace.micros(),
            30 * MICROS,
            "unset keys keep defaults"
        );
        // Environment over file.
        let env = |k: &str| {
            match k {
                ENV_WINDOW => Some("2m"),
                ENV_DB => Some("/env.db"),
                ENV_MODEL => Some("/env.bin"),
                ENV_METRICS => Some("127.0.0.1:2000"),
                ENV_LOG => Some("debug"),
                _ => None,
            }
            .map(String::from)
        };
        let s = Settings::resolve_with(Some(&path), &none, &env, &sys).unwrap();
        let c = &s.config;
        assert_eq!(c.sensor.window.micros(), 120 * MICROS);
        assert_eq!(c.sensor.db, Path::new("/env.db"));
        assert_eq!(
            c.sensor.model_choice(),
            ModelChoice::Path("/env.bin".into())
        );
        assert_eq!(c.outputs.metrics, Some("127.0.0.1:2000".parse().unwrap()));
        assert_eq!(c.log.level, "debug");
        // Flags over environment; flags not given change nothing.
        let flags = Overrides {
            window: Some(60 * MICROS),
            db: Some("/flag.db".into()),
            no_model: true,
            ..Default::default()
        };
        let s = Settings::resolve_with(Some(&path), &flags, &env, &sys).unwrap();
        let c = &s.config;
        assert_eq!(c.sensor.window.micros(), 60 * MICROS);
        assert_eq!(c.sensor.db, Path::new("/flag.db"));
        assert_eq!(c.sensor.model_choice(), ModelChoice::Off);
        assert_eq!(c.outputs.metrics, Some("127.0.0.1:2000".parse().unwrap()));
        let flags = Overrides {
            model: Some("/flag.bin".into()),
            ..Default::default()
        };
        let s = Settings::resolve_with(Some(&path), &flags, &env, &sys).unwrap();
        assert_eq!(
            s.config.sensor.model_choice(),
            ModelChoice::Path("/flag.bin".into())
        );
        // A bad environment value is an error naming the variable.
        let bad = |k: &str| (k == ENV_WINDOW).then(|| "soon".to_string());
        let e = Settings::resolve_with(None, &none, &bad, &sys).unwrap_err();
        assert!(e.to_string().contains(ENV_WINDOW), "{e}");
    }

    #[test]
    fn allowlist_from_files_inline_and_default() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("allow.txt");
        std::fs::write(&f, "# ours\nintranet.example\n").unwrap();
        let a = AllowlistConfig {
            files: vec![f.clone()],
            domains: vec!["*.cdn.example".into(), "=exact.example".into()],
            default: false,
        };
        let l = a.build().unwrap();
        assert_eq!(l.len(), 3);
        assert!(l.matches("host.intranet.example"));
        assert!(l.matches("x.cdn.example") && !l.matches("cdn.example"));
        assert!(l.matches("exact.example") && !l.matches("www.exact.example"));
        assert!(!l.matches("d7leomtv28xjswy.cloudfront.net"));
        let with_default = AllowlistConfig {
            default: true,
            ..a.clone()
        };
        assert!(with_default
            .build()
            .unwrap()
            .matches("d7leomtv28xjswy.cloudfront.net"));
        assert_eq!(with_default.extra().unwrap().len(), 3);
        std::fs::write(&f, "ok.example\nnot a domain\n").unwrap();
        let e = a.build().unwrap_err().to_string();
        assert!(e.contains("allow.txt") && e.contains("line 2"), "{e}");
    }

    #[test]
    fn capture_accounts_from_passwd_and_group() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        let group = dir.path().join("group");
        std::fs::write(
            &passwd,
            "root:x:0:0:root:/root:/bin/sh\nsentineldns:x:998:997::/var/lib/sentineldns:/usr/sbin/nologin\n",
        )
        .unwrap();
        std::fs::write(&group, "root:x:0:\nadm:x:4:syslog\n").unwrap();
        let mut c = CaptureConfig {
            user: "sentineldns".into(),
            ..Default::default()
        };
        assert_eq!(
            c.ids_from(&passwd, &group).unwrap(),
            Ids { uid: 998, gid: 997 }
        );
        c.group = Some("adm".into());
        assert_eq!(
            c.ids_from(&passwd, &group).unwrap(),
            Ids { uid: 998, gid: 4 }
        );
        c.group = Some("wheel".into());
        assert!(c
            .ids_from(&passwd, &group)
            .unwrap_err()
            .to_string()
            .contains("group \"wheel\""));
        c.user = "nobody".into();
        assert!(c
            .ids_from(&passwd, &group)
            .unwrap_err()
            .to_string()
            .contains("user \"nobody\""));
    }

    #[test]
    fn check_lists_every_problem_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(
            &path,
            "[sensor]\nmodel = \"missing.bin\"\n[capture]\nuser = \"ghost\"\n[allowlist]\nfiles = [\"nope.txt\"]\n[log]\nlevl = \"info\"\n",
        )
        .unwrap();
        let passwd = dir.path().join("passwd");
        std::fs::write(&passwd, "root:x:0:0::/root:/bin/sh\n").unwrap();
        let r = check(Some(&path), &no_env, &path, &passwd, &passwd);
        let text: Vec<String> = r.problems.iter().map(ToString::to_string).collect();
        assert_eq!(r.problems.len(), 4, "{text:#?}");
        let has = |needle: &str, line: usize| {
            r.problems
                .iter()
                .any(|p| p.to_string().contains(needle) && p.position.map(|x| x.0) == Some(line))
        };
        assert!(has("levl", 8), "{text:#?}");
        assert!(has("missing.bin", 2), "{text:#?}");
        assert!(has("ghost", 4), "{text:#?}");
        assert!(has("nope.txt", 6), "{text:#?}");
        // A valid file with no model needed checks clean.
        std::fs::write(
            &path,
            "[sensor]\nno_model = true\n[capture]\nuser = \"root\"\n",
        )
        .unwrap();
        let r = check(Some(&path), &no_env, &path, &passwd, &passwd);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert!(r.config.unwrap().sensor.no_model);
    }

    #[test]
    fn thresholds_override_applies_to_detection() {
        let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default.bin");
        let t = Thresholds {
            unusual: 0.2,
            likely: 0.3,
        };
        let (d, _) = load_model(&ModelChoice::Path(model.clone()), Some(t))
            .unwrap()
            .unwrap();
        assert_eq!(d.bundle().thresholds, t);
        assert_eq!(d.bundle().label(0.25), crate::model::Label::Unusual);
        let (d, _) = load_model(&ModelChoice::Path(model), None)
            .unwrap()
            .unwrap();
        assert_eq!(d.bundle().label(0.25), crate::model::Label::Normal);
        assert!(load_model(&ModelChoice::Off, None).unwrap().is_none());
    }

    #[test]
    fn durations_render_in_their_largest_unit() {
        for (us, s) in [
            (300 * MICROS, "5m"),
            (7200 * MICROS, "2h"),
            (90 * MICROS, "90s"),
            (250_000, "250ms"),
            (0, "0s"),
            (1_500, "0.0015s"),
        ] {
            assert_eq!(Duration(us).to_string(), s);
            assert_eq!(parse_duration(s), Ok(us));
        }
    }

    /// A TOML document setting dotted `key` to `value` (with the keys its
    /// table requires).
    fn doc(key: &str, value: &str) -> String {
        let (table, k) = key.rsplit_once('.').unwrap();
        let required = match table {
            "outputs.webhook" => "url = \"http://127.0.0.1:9/x\"\n",
            "capture.write_pcap" => "dir = \"/x\"\n",
            _ => "",
        };
        format!("[{table}]\n{required}{k} = {value}\n")
    }

    #[test]
    fn every_numeric_key_is_held_to_its_range() {
        // FULL has every optional table, so this is every bound there is.
        let bounds = Config::parse(FULL).unwrap().bounds();
        assert!(bounds.len() >= 25, "{}", bounds.len());
        assert!(Config::default().bounds().iter().all(Bound::ok));
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
                    shown.contains(&Bound { value: b.min, ..*b }.show(b.min))
                        && shown.contains(&Bound { value: b.max, ..*b }.show(b.max)),
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

    #[test]
    fn limits_parse_with_defaults_and_reach_the_pipeline_config() {
        let d = LimitsConfig::default();
        let mut pc = crate::pipeline::PipelineConfig::default();
        let before = format!("{pc:?}");
        d.apply_to(&mut pc);
        assert_eq!(
            format!("{pc:?}"),
            before,
            "the defaults are the pipeline's defaults"
        );
        assert_eq!(
            d.max_open_windows,
            crate::aggregate::DEFAULT_MAX_OPEN_WINDOWS
        );
        assert_eq!(d.max_clock_jump.to_string(), "10m");
        assert_eq!(
            (d.first_seen_rows, d.jsonl_line_bytes),
            (3_000_000, 1 << 20)
        );
        let c = Config::parse(
            "[limits]\nmax_open_windows = 10\nmax_names_per_window = 11\nmax_names_total = 1234\nmax_clock_jump = \"30s\"\n\
             pending_queries = 12\ntcp_flows = 13\nip_fragment_sets = 14\nfirst_seen_cap = 15\n\
             host_first_seen_cap = 16\nfirst_seen_rows = 5000\njsonl_line_bytes = \"512K\"\n",
        )
        .unwrap();
        let l = &c.limits;
        assert_eq!((l.first_seen_rows, l.jsonl_line_bytes), (5000, 512 << 10));
        let mut pc = crate::pipeline::PipelineConfig::default();
        l.apply_to(&mut pc);
        assert_eq!(pc.aggregate.max_open_windows, 10);
        assert_eq!(pc.aggregate.max_names_per_window, 11);
        assert_eq!(pc.aggregate.max_names_total, 1234);
        assert_eq!(pc.clock.max_jump, 30 * MICROS);
        assert_eq!(pc.pair.max_pending, 12);
        assert_eq!(pc.decode.max_tcp_flows, 13);
        assert_eq!(pc.decode.max_fragment_sets, 14);
        assert_eq!(pc.enrich.first_seen_cap, 15);
        assert_eq!(pc.enrich.host_first_seen_cap, 16);
        assert_eq!(
            Config::parse("[limits]\njsonl_line_bytes = 2048\n")
                .unwrap()
                .limits
                .jsonl_line_bytes,
            2048
        );
        let p = problems("[limits]\njsonl_line_bytes = \"1G\"\n");
        assert!(
            p[0].to_string().contains(
                "[limits] jsonl_line_bytes: 1073741824 is out of range (1024 to 67108864)"
            ),
            "{}",
            p[0]
        );
        let p = problems("[limits]\njsonl_line_bytes = \"lots\"\n");
        assert!(
            p[0].to_string().contains("[limits] jsonl_line_bytes"),
            "{}",
            p[0]
        );
        // The effective settings show the section and read back.
        let shown = c.to_toml();
        assert!(
            shown.contains("[limits]") && shown.contains("max_open_windows = 10"),
            "{shown}"
        );
        assert_eq!(Config::parse(&shown).unwrap(), c);
    }

    #[test]
    fn named_files_must_be_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        for (path, what) in [
            (PathBuf::from("/dev/zero"), "a character device"),
            (dir.path().to_path_buf(), "a directory"),
        ] {
            let e = read_limited(&path, FileKind::AllowList).unwrap_err();
            assert!(matches!(e, ConfigError::NotRegularFile { .. }), "{e}");
            let text = e.to_string();
            assert!(
                text.contains(&path.display().to_string())
                    && text.contains("not a regular file")
                    && text.contains(what),
                "{text}"
            );
        }
        // A FIFO is refused without being opened (opening would block).
        let fifo = dir.path().join("fifo");
        let st = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(st.success());
        let (tx, rx) = std::sync::mpsc::channel();
        let f2 = fifo.clone();
        std::thread::spawn(move || {
            let _ = tx.send(read_limited(&f2, FileKind::AllowList).map(|_| ()));
        });
        let r = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("a FIFO must not block");
        assert!(r.unwrap_err().to_string().contains("it is a FIFO"));
        // Through the allow-list, the model and the configuration file.
        let a = AllowlistConfig {
            files: vec!["/dev/zero".into()],
            ..Default::default()
        };
        assert!(a
            .check_files()
            .unwrap_err()
            .to_string()
            .contains("not a regular file"));
        assert!(a
            .extra()
            .unwrap_err()
            .to_string()
            .contains("allow-list file /dev/zero: not a regular file"));
        let e = load_model(&ModelChoice::Path("/dev/zero".into()), None).unwrap_err();
        assert!(
            e.contains("model bundle /dev/zero: not a regular file"),
            "{e}"
        );
        let e = Config::load(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("configuration file /dev/zero: not a regular file"),
            "{e}"
        );
        let e = Config::load(&fifo).unwrap_err().to_string();
        assert!(e.contains("FIFO"), "{e}");
    }

    #[test]
    fn named_files_are_size_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.txt");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_ALLOWLIST_BYTES + 1).unwrap(); // sparse
        let a = AllowlistConfig {
            files: vec![big.clone()],
            ..Default::default()
        };
        for e in [a.check_files().unwrap_err(), a.extra().unwrap_err()] {
            let text = e.to_string();
            assert!(
                text.contains("big.txt")
                    && text.contains("67108865 bytes")
                    && text.contains("limit of 67108864 bytes"),
                "{text}"
            );
        }
        // At the limit it is read (a sparse file of NULs is not an allow-list,
        // but it is not refused for its size).
        let cfg = dir.path().join("c.toml");
        let f = std::fs::File::create(&cfg).unwrap();
        f.set_len(MAX_CONFIG_BYTES + 1).unwrap();
        let e = Config::load(&cfg).unwrap_err().to_string();
        assert!(e.contains("over the limit of 1048576 bytes"), "{e}");
        // What grows after the check is still cut at the limit: an endless
        // reader costs limit + 1 bytes, then an error.
        let e = read_capped(std::io::repeat(0), &big, "allow-list file", 0, 4096).unwrap_err();
        assert!(
            matches!(
                e,
                ConfigError::TooLarge {
                    size: 4097,
                    limit: 4096,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(read_capped(&b"abc"[..], &big, "x", 3, 3).unwrap(), b"abc");
    }
}
