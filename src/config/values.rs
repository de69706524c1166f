//! Value types and parsers shared by every section: sizes (`512K`), durations
//! (`5m`, [`Duration`]), the allowed range of a numeric key ([`KeyRange`]) and
//! how a dotted key is shown to a reader of the file ([`display_key`]).

use crate::event::{TsMicros, MICROS};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

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
/// every section has one ([`Config::bounds`](super::Config::bounds));
/// [`Config::validate`](super::Config::validate) and
/// [`check`](crate::sensor::check) refuse a value outside it, naming
/// `[section] key`, the value and the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRange {
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

impl KeyRange {
    /// A count, size or millisecond key. `value` of any unsigned width; a
    /// value that does not fit `u64` is `u64::MAX` (out of every range).
    pub fn new(key: &'static str, value: impl TryInto<u64>, min: u64, max: u64) -> Self {
        KeyRange {
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
        KeyRange {
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

    pub(crate) fn show(&self, v: u64) -> String {
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
    "outputs.eve",
    "outputs.zeek",
    "outputs.syslog",
    "allowlist",
    "intel",
    "learning",
    "log",
    "limits",
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

/// A byte size: a number, or a string with a K/M/G suffix (powers of 1024),
/// e.g. `1048576`, `"512K"`, `"1M"`.
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
}
