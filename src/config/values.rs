//! Value types and parsers shared by every section: sizes (`512K`), durations
//! (`5m`, [`Duration`]), the allowed range of a numeric key ([`KeyRange`]) and
//! how a dotted key is shown to a reader of the file ([`display_key`]).

use crate::event::{TsMicros, MICROS};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Parse a size: a number of bytes, or a number with a unit. The units are
/// binary whatever their spelling: `K`, `KB` and `KiB` all mean 1024 bytes,
/// `M`/`MB`/`MiB` 1024², `G`/`GB`/`GiB` 1024³, `T`/`TB`/`TiB` 1024⁴ (so
/// `"100M"` and `"100MiB"` are the same size, as the flags always read it);
/// `B` is bytes. Case and a space before the unit do not matter. Zero is
/// refused.
///
/// ```
/// use sentineldns::config::parse_size;
/// assert_eq!(parse_size("100M"), Ok(100 << 20));
/// assert_eq!(parse_size("100MiB"), parse_size("100 mb"));
/// assert_eq!(parse_size("512K"), Ok(512 * 1024));
/// assert!(parse_size("0").is_err());
/// assert!(parse_size("5 parsecs").is_err());
/// ```
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(not_a_size(s)),
    };
    let n: u64 = num.parse().map_err(|_| not_a_size(s))?;
    if n == 0 {
        return Err("size must be positive".into());
    }
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

fn not_a_size(s: &str) -> String {
    format!("{s:?} is not a size (examples: 1048576, 512K, 100M, 100MiB, 1G; K, M, G are powers of 1024)")
}

/// Parse a duration into microseconds. Accepts what the flags and every
/// duration key of the file accept: a value with units as
/// [humantime](https://docs.rs/humantime) reads it (`"250ms"`, `"5s"`,
/// `"5m"`, `"1h30m"`, `"7d"`, `"2days"`), a decimal with one unit
/// (`"1.5s"`), or a bare number of seconds (`"300"`, kept for backward
/// compatibility).
///
/// ```
/// use sentineldns::config::parse_duration;
/// assert_eq!(parse_duration("5m"), Ok(300_000_000));
/// assert_eq!(parse_duration("1h30m"), Ok(5_400_000_000));
/// assert_eq!(parse_duration("250ms"), Ok(250_000));
/// assert_eq!(parse_duration("300"), Ok(300_000_000));
/// assert!(parse_duration("soon").is_err());
/// ```
pub fn parse_duration(s: &str) -> Result<TsMicros, String> {
    let t = s.trim();
    // Bare numbers (seconds) and one-unit decimals: the original parser.
    if let Ok(us) = sentineldns_model::time::parse_duration(t) {
        return Ok(us);
    }
    match humantime::parse_duration(t) {
        Ok(d) => TsMicros::try_from(d.as_micros())
            .ok()
            .filter(|us| *us <= TsMicros::MAX / 2)
            .ok_or_else(|| format!("{s:?} is out of range")),
        Err(_) if t.starts_with('-') => Err(format!("{s:?} is out of range (negative)")),
        Err(_) => Err(format!(
            "{s:?} is not a duration (examples: 250ms, 30s, 5m, 1h30m, 7d; a bare number is seconds)"
        )),
    }
}

/// A whole number of milliseconds from a duration string: `"5000ms"` (read
/// exactly, any size, so a hostile value is reported as written) or any
/// [`parse_duration`] string, rounded up to the millisecond.
pub(crate) fn parse_millis(s: &str) -> Result<u64, String> {
    let t = s.trim();
    if let Some(n) = t.strip_suffix("ms") {
        if let Ok(v) = n.trim().parse::<u64>() {
            return Ok(v);
        }
    }
    let us = parse_duration(t)?;
    Ok(u64::try_from(us).unwrap_or(0).div_ceil(1000))
}

/// A duration written as `"5m"`, `"30s"`, `"250ms"`, `"1h30m"` (any
/// [`parse_duration`] string) or a number of seconds; held in microseconds.
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

/// The unit of a [`KeyRange`]'s numbers, for showing them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeUnit {
    /// A count or a size: shown as the number.
    Count,
    /// A duration in microseconds: shown as `5m`, `1h`.
    Micros,
    /// A duration in milliseconds: shown as `5s`, `250ms`.
    Millis,
}

/// The allowed range of one numeric configuration key. Every numeric key of
/// every section has one ([`Config::bounds`](super::Config::bounds));
/// [`Config::validate`](super::Config::validate) and
/// [`check`](crate::sensor::check) refuse a value outside it, naming
/// `[section] key`, the value and the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRange {
    /// Dotted key, e.g. `outputs.webhook.queue`.
    pub key: &'static str,
    /// The configured value, in `unit`.
    pub value: u64,
    /// Smallest allowed value.
    pub min: u64,
    /// Largest allowed value.
    pub max: u64,
    /// What the numbers count.
    pub unit: RangeUnit,
}

impl KeyRange {
    /// A count or size key. `value` of any unsigned width; a value that does
    /// not fit `u64` is `u64::MAX` (out of every range).
    pub fn new(key: &'static str, value: impl TryInto<u64>, min: u64, max: u64) -> Self {
        KeyRange {
            key,
            value: value.try_into().unwrap_or(u64::MAX),
            min,
            max,
            unit: RangeUnit::Count,
        }
    }

    /// A duration key (microseconds; negative values count as 0).
    pub fn duration(key: &'static str, value: TsMicros, min: TsMicros, max: TsMicros) -> Self {
        let u = |v: TsMicros| u64::try_from(v).unwrap_or(0);
        KeyRange {
            key,
            value: u(value),
            min: u(min),
            max: u(max),
            unit: RangeUnit::Micros,
        }
    }

    /// A duration key held in milliseconds.
    pub fn millis(key: &'static str, value: u64, min: u64, max: u64) -> Self {
        KeyRange {
            key,
            value,
            min,
            max,
            unit: RangeUnit::Millis,
        }
    }

    /// Whether the value is inside the range.
    pub fn ok(&self) -> bool {
        (self.min..=self.max).contains(&self.value)
    }

    /// `v` (in this range's unit) as the file would write it.
    pub fn show(&self, v: u64) -> String {
        match self.unit {
            RangeUnit::Count => v.to_string(),
            RangeUnit::Micros => {
                Duration(TsMicros::try_from(v).unwrap_or(TsMicros::MAX)).to_string()
            }
            RangeUnit::Millis => match v
                .checked_mul(1000)
                .and_then(|us| TsMicros::try_from(us).ok())
            {
                Some(us) => Duration(us).to_string(),
                None => format!("{v}ms"),
            },
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

impl fmt::Display for KeyRange {
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
    "outputs.kafka",
    "outputs.kafka.topics",
    "outputs.eve",
    "outputs.zeek",
    "outputs.syslog",
    "allowlist",
    "intel",
    "learning",
    "log",
    "limits",
    "incidents",
    "serve",
    "store",
    "triage",
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

/// A byte size: a number, or a string with a unit ([`parse_size`]), e.g.
/// `1048576`, `"512K"`, `"100MiB"`.
pub(crate) fn size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
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

/// [`size`] for an optional key.
pub(crate) fn opt_size<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    size(d).map(Some)
}

/// A duration key held in milliseconds (`u64`): written as a duration
/// string (`"5s"`, `"250ms"`, [`parse_duration`]) or a number of seconds,
/// like every other duration key; shown as a duration string.
///
/// The key's deprecated `NAME_ms` spelling, whose integer counts
/// milliseconds, is rewritten to this one before deserialising (see
/// [`DEPRECATED_MS`]).
pub mod millis {
    use super::*;

    /// Show as `"5s"`, `"250ms"`.
    pub fn serialize<S: Serializer>(ms: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&KeyRange::millis("", *ms, 0, 0).show(*ms))
    }

    /// Read a duration string or a number of seconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Secs(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Secs(s) => s
                .checked_mul(1000)
                .ok_or_else(|| format!("{s} seconds is out of range")),
            Raw::Text(t) => parse_millis(&t),
        }
        .map_err(serde::de::Error::custom)
    }
}

/// The duration keys held in milliseconds whose old spelling `KEY_ms` (an
/// integer of milliseconds) is still read: deprecated, rewritten to `KEY`
/// (`"5000ms"`) before the file is deserialised, and problems with it are
/// reported under the name that was written.
pub const DEPRECATED_MS: &[&str] = &[
    "outputs.webhook.timeout",
    "outputs.webhook.backoff_initial",
    "outputs.webhook.backoff_max",
    "outputs.webhook.breaker_cooldown",
    "outputs.webhook.shutdown_grace",
    "outputs.kafka.linger",
    "outputs.kafka.message_timeout",
    "outputs.kafka.shutdown_grace",
    "triage.batch_wait",
    "triage.timeout",
    "triage.backoff_initial",
    "triage.backoff_max",
    "triage.breaker_cooldown",
    "triage.shutdown_grace",
];

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn durations_take_humantime_and_the_old_forms() {
        for (s, us) in [
            ("300", 300 * MICROS),
            ("1.5s", 1_500_000),
            ("5s", 5 * MICROS),
            ("250ms", 250_000),
            ("1h30m", 5400 * MICROS),
            ("1h 30m", 5400 * MICROS),
            ("2days", 2 * 86_400 * MICROS),
            ("7d", 7 * 86_400 * MICROS),
            (" 10m ", 600 * MICROS),
        ] {
            assert_eq!(parse_duration(s), Ok(us), "{s}");
        }
        for bad in ["", "soon", "-3s", "5x", "1h-30m", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration("5x").unwrap_err().contains("not a duration"));
        assert_eq!(parse_millis("5000ms"), Ok(5000));
        assert_eq!(parse_millis("18446744073709551615ms"), Ok(u64::MAX));
        assert_eq!(parse_millis("5s"), Ok(5000));
        assert_eq!(parse_millis("1500us"), Ok(2));
    }

    #[test]
    fn sizes_are_binary_in_every_spelling() {
        for (s, n) in [
            ("1048576", 1 << 20),
            ("512K", 512 << 10),
            ("512k", 512 << 10),
            ("512KB", 512 << 10),
            ("512KiB", 512 << 10),
            ("100M", 100 << 20),
            ("100 MB", 100 << 20),
            ("100MiB", 100 << 20),
            ("1G", 1 << 30),
            ("2TiB", 2 << 40),
            ("64B", 64),
        ] {
            assert_eq!(parse_size(s), Ok(n), "{s}");
        }
        for bad in [
            "",
            "0",
            "0M",
            "M",
            "1.5M",
            "-1",
            "10 parsecs",
            "99999999999T",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn millisecond_ranges_show_durations() {
        let r = KeyRange::millis("outputs.webhook.timeout", u64::MAX, 1, 3_600_000);
        assert_eq!(
            r.message(),
            "18446744073709551615ms is out of range (1ms to 1h)"
        );
        assert_eq!(r.show(5000), "5s");
        assert_eq!(r.show(250), "250ms");
    }
}
