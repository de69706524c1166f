//! JSONL DNS events: one JSON object per line.
//!
//! Required fields: `ts` (RFC 3339 string, or epoch seconds as a number or
//! numeric string), `host` (client IP), `domain` (alias `qname`, `query`),
//! `qtype` (name like `"AAAA"` or number), `rcode` (name like `"NXDOMAIN"` or
//! number). Optional: `answers` (array of IPs; other strings are ignored),
//! `ttl`, `server`, `label` (ground truth, e.g. `benign` / `malicious`),
//! `scenario`, `response_bytes`, `latency_ms`. Unknown fields are ignored, so
//! SIEM exports with extra fields load as they are.
//!
//! A line that is not JSON, lacks a required field or has a value of the wrong
//! shape is counted as [`SkipReason::JsonlBadLine`] with its line number; the
//! file goes on.

use super::Opened;
use crate::event::{parse_rcode, qtype, Answers, TsMicros, MICROS};
use crate::stats::{SkipReason, Stats};
use serde::Deserialize;
use std::borrow::Cow;
use std::io::BufRead;
use std::net::IpAddr;

/// One event, owned. Buffers are reused between lines by [`JsonlReader::next_into`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JsonEvent {
    /// Event time.
    pub ts: TsMicros,
    /// Client.
    pub host: Option<IpAddr>,
    /// Queried name, lowercase, no trailing dot.
    pub domain: String,
    /// Query type.
    pub qtype: u16,
    /// Response code (`None` if given as null: no response).
    pub rcode: Option<u16>,
    /// Answer addresses.
    pub answers: Answers,
    /// Answer TTL.
    pub ttl: Option<u32>,
    /// Resolver.
    pub server: Option<IpAddr>,
    /// Ground-truth label.
    pub label: Option<String>,
    /// Ground-truth scenario.
    pub scenario: Option<String>,
    /// Response size.
    pub response_bytes: u32,
    /// Latency.
    pub latency_us: Option<u32>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum TsValue<'a> {
    Num(f64),
    #[serde(borrow)]
    Str(Cow<'a, str>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum CodeValue<'a> {
    Num(u16),
    #[serde(borrow)]
    Str(Cow<'a, str>),
}

#[derive(Deserialize)]
struct RawEvent<'a> {
    #[serde(borrow)]
    ts: TsValue<'a>,
    #[serde(borrow)]
    host: Cow<'a, str>,
    #[serde(borrow, alias = "qname", alias = "query")]
    domain: Cow<'a, str>,
    #[serde(borrow)]
    qtype: CodeValue<'a>,
    #[serde(borrow)]
    rcode: Option<CodeValue<'a>>,
    #[serde(borrow, default)]
    answers: Option<Vec<Cow<'a, str>>>,
    #[serde(default)]
    ttl: Option<u32>,
    #[serde(borrow, default)]
    server: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    label: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    scenario: Option<Cow<'a, str>>,
    #[serde(default)]
    response_bytes: Option<u32>,
    #[serde(default)]
    latency_ms: Option<f64>,
}

/// Parse an event timestamp: RFC 3339, or epoch seconds (number or numeric
/// string; values that only make sense as milliseconds or microseconds since
/// 1970, i.e. above 1e11 and 1e14, are scaled accordingly).
pub fn parse_ts(s: &str) -> Option<TsMicros> {
    let t = s.trim();
    if let Ok(n) = t.parse::<f64>() {
        return epoch_to_micros(n);
    }
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| d.timestamp_micros())
}

fn epoch_to_micros(n: f64) -> Option<TsMicros> {
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    let secs = if n > 1e14 {
        n / 1e6
    } else if n > 1e11 {
        n / 1e3
    } else {
        n
    };
    let us = (secs * MICROS as f64).round();
    (us < i64::MAX as f64).then_some(us as i64)
}

fn normalise_domain(d: &str, out: &mut String) {
    out.clear();
    let d = d.trim().trim_end_matches('.');
    out.extend(d.chars().map(|c| c.to_ascii_lowercase()));
}

/// Fill `ev` from one line. Errors are human-readable reasons.
pub fn parse_line(line: &str, ev: &mut JsonEvent) -> Result<(), String> {
    let raw: RawEvent<'_> = serde_json::from_str(line).map_err(|e| e.to_string())?;
    ev.ts = match &raw.ts {
        TsValue::Num(n) => epoch_to_micros(*n),
        TsValue::Str(s) => parse_ts(s),
    }
    .ok_or_else(|| "`ts` is not RFC 3339 or epoch seconds".to_string())?;
    ev.host = Some(
        raw.host
            .trim()
            .parse()
            .map_err(|_| format!("`host` {:?} is not an IP address", raw.host))?,
    );
    if raw.domain.trim().is_empty() {
        return Err("`domain` is empty".into());
    }
    normalise_domain(&raw.domain, &mut ev.domain);
    ev.qtype = match &raw.qtype {
        CodeValue::Num(n) => *n,
        CodeValue::Str(s) => {
            qtype::parse(s).ok_or_else(|| format!("`qtype` {s:?} is not a query type"))?
        }
    };
    ev.rcode = match &raw.rcode {
        None => None,
        Some(CodeValue::Num(n)) => Some(*n),
        Some(CodeValue::Str(s)) => {
            Some(parse_rcode(s).ok_or_else(|| format!("`rcode` {s:?} is not a response code"))?)
        }
    };
    ev.answers = Answers::default();
    if let Some(a) = &raw.answers {
        ev.answers.total = a.len().min(u16::MAX as usize) as u16;
        for s in a {
            if let Ok(ip) = s.trim().parse::<IpAddr>() {
                ev.answers.push(ip);
            }
        }
    }
    ev.ttl = raw.ttl;
    ev.server = match raw.server.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(
            s.parse()
                .map_err(|_| format!("`server` {s:?} is not an IP address"))?,
        ),
    };
    set_opt(&mut ev.label, raw.label.as_deref());
    set_opt(&mut ev.scenario, raw.scenario.as_deref());
    ev.response_bytes = raw.response_bytes.unwrap_or(0);
    ev.latency_us = raw
        .latency_ms
        .filter(|l| l.is_finite() && *l >= 0.0)
        .map(|l| (l * 1000.0).min(u32::MAX as f64) as u32);
    Ok(())
}

fn set_opt(slot: &mut Option<String>, v: Option<&str>) {
    match v.map(str::trim) {
        None | Some("") => *slot = None,
        Some(v) => {
            let s = slot.get_or_insert_with(String::new);
            s.clear();
            s.push_str(v);
        }
    }
}

/// Reads events line by line.
pub struct JsonlReader {
    reader: Box<dyn BufRead + Send>,
    line: String,
    lineno: u64,
    name: String,
    done: bool,
}

impl std::fmt::Debug for JsonlReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonlReader")
            .field("name", &self.name)
            .field("lineno", &self.lineno)
            .finish()
    }
}

impl JsonlReader {
    /// Wrap an opened JSONL stream; `name` is used in skip examples.
    pub fn new(opened: Opened, name: &str) -> Self {
        JsonlReader {
            reader: opened.reader,
            line: String::new(),
            lineno: 0,
            name: name.to_string(),
            done: false,
        }
    }

    /// Line number of the last line read (1-based).
    pub fn line(&self) -> u64 {
        self.lineno
    }

    /// Read the next valid event into `ev`; bad lines are counted and skipped.
    /// Returns `false` at the end of the file.
    pub fn next_into(&mut self, ev: &mut JsonEvent, stats: &mut Stats) -> bool {
        while !self.done {
            self.line.clear();
            match self.reader.read_line(&mut self.line) {
                Ok(0) => self.done = true,
                Ok(_) => {
                    self.lineno += 1;
                    stats.lines += 1;
                    let t = self.line.trim();
                    if t.is_empty() {
                        continue;
                    }
                    match parse_line(t, ev) {
                        Ok(()) => return true,
                        Err(why) => {
                            let n = self.lineno;
                            stats.skip_at(SkipReason::JsonlBadLine, &self.name, "line", n, || why)
                        }
                    }
                }
                Err(e) => {
                    // Invalid UTF-8 on a line, or an I/O error: count and go on
                    // (read_line has consumed the bad bytes) unless it is I/O.
                    self.lineno += 1;
                    stats.lines += 1;
                    let n = self.lineno;
                    let fatal = e.kind() != std::io::ErrorKind::InvalidData;
                    stats.skip_at(SkipReason::JsonlBadLine, &self.name, "line", n, || {
                        e.to_string()
                    });
                    if fatal {
                        self.done = true;
                    }
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_event() {
        let mut ev = JsonEvent::default();
        parse_line(
            r#"{"ts":"2024-03-01T12:00:00.250Z","host":"10.0.0.5","domain":"WWW.Example.COM.","qtype":"AAAA","rcode":"NXDOMAIN","answers":["1.2.3.4","x"],"ttl":60,"server":"10.0.0.1","label":"malicious","scenario":"dga","extra":{"a":1}}"#,
            &mut ev,
        )
        .unwrap();
        assert_eq!(ev.ts, 1_709_294_400_250_000);
        assert_eq!(ev.domain, "www.example.com");
        assert_eq!(ev.qtype, 28);
        assert_eq!(ev.rcode, Some(3));
        assert_eq!(ev.answers.ips().len(), 1);
        assert_eq!(ev.answers.total, 2);
        assert_eq!(ev.label.as_deref(), Some("malicious"));
        assert_eq!(ev.scenario.as_deref(), Some("dga"));
    }

    #[test]
    fn epoch_numbers_and_codes() {
        let mut ev = JsonEvent::default();
        parse_line(
            r#"{"ts":1700000000.5,"host":"::1","qname":"a.b","qtype":16,"rcode":0}"#,
            &mut ev,
        )
        .unwrap();
        assert_eq!(ev.ts, 1_700_000_000_500_000);
        assert_eq!(ev.qtype, 16);
        assert_eq!(ev.rcode, Some(0));
        assert_eq!(parse_ts("1700000000000"), Some(1_700_000_000_000_000));
    }

    #[test]
    fn bad_lines_say_why() {
        let mut ev = JsonEvent::default();
        for (line, needle) in [
            ("not json", "expected"),
            (
                r#"{"host":"1.2.3.4","domain":"a","qtype":"A","rcode":0}"#,
                "ts",
            ),
            (
                r#"{"ts":1,"host":"nope","domain":"a","qtype":"A","rcode":0}"#,
                "host",
            ),
            (
                r#"{"ts":1,"host":"1.1.1.1","domain":"a","qtype":"BOGUS","rcode":0}"#,
                "qtype",
            ),
            (
                r#"{"ts":"yesterday","host":"1.1.1.1","domain":"a","qtype":"A","rcode":0}"#,
                "ts",
            ),
            (
                r#"{"ts":1,"host":"1.1.1.1","domain":"","qtype":"A","rcode":0}"#,
                "domain",
            ),
        ] {
            let e = parse_line(line, &mut ev).unwrap_err();
            assert!(e.contains(needle), "{line}: {e}");
        }
    }
}
