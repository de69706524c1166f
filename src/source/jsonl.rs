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
//! file goes on. `domain` is held to the DNS limits ([`check_text_name`]: at
//! most 253 bytes after one trailing dot is removed, labels of 1 to 63 bytes).
//!
//! Lines are read with a cap ([`DEFAULT_MAX_LINE_BYTES`], set per reader with
//! [`JsonlReader::with_max_line`]): a longer line is read to its end in
//! bounded chunks, never buffered, and counted once as
//! [`SkipReason::JsonlLineTooLong`] (and as an eviction at
//! [`crate::stats::Bound::JsonlLine`]); reading goes on with the next line.

use super::eve::{EveLine, EvePairer};
use super::zeek::{ZeekLine, ZeekTsv};
use super::{InputKind, Opened};
use crate::decode::dns::check_text_name;
use crate::event::{parse_rcode, qtype, Answers, TsMicros};
use crate::stats::{Bound, SkipReason, Stats};
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
    /// Transport, when the log says (Zeek `proto`, EVE `proto`).
    pub transport: Option<crate::event::Transport>,
    /// How the log saw it (Zeek, EVE: answered, unanswered, unsolicited);
    /// `None` for JSONL, whose lines are lookups already
    /// ([`crate::event::LookupOutcome::Event`]).
    pub outcome: Option<crate::event::LookupOutcome>,
    /// Query message size (0 if not known; sentineldns lookup lines carry it).
    pub query_bytes: u32,
    /// DNS, mDNS or LLMNR (DNS unless a sentineldns lookup line says otherwise).
    pub service: crate::event::DnsService,
    /// Ports, transaction id, question class and header flags, when the log
    /// carries them (Zeek, EVE, sentineldns lookup lines); never response bytes.
    pub detail: crate::event::LookupDetail<'static>,
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

use sentineldns_model::time::epoch_to_micros;
pub use sentineldns_model::time::parse_ts;

/// Lowercase `d` (already trimmed and checked) into `out`.
fn normalise_domain(d: &str, out: &mut String) {
    out.clear();
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
    let domain = raw.domain.trim();
    if domain.is_empty() {
        return Err("`domain` is empty".into());
    }
    let domain = check_text_name(domain).map_err(|e| format!("`domain` refused: {e}"))?;
    normalise_domain(domain, &mut ev.domain);
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
    ev.transport = None;
    ev.outcome = None;
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

/// Default cap on one JSONL line, in bytes (terminator excluded): 1 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// Smallest accepted line cap (a minimal event is about 60 bytes).
pub const MIN_MAX_LINE_BYTES: usize = 256;

/// What one bounded line read produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineRead {
    /// A line of at most the cap is in the buffer.
    Line,
    /// A line longer than the cap was read to its end and discarded; its
    /// length in bytes (terminator excluded).
    TooLong(u64),
    /// End of input.
    Eof,
}

/// Reads one line from `r` into `line` (cleared first, terminator and one
/// trailing `\r` removed), never holding more than `max + 1` bytes: a longer
/// line is consumed to its end chunk by chunk and reported as
/// [`LineRead::TooLong`] with the buffer left empty.
fn read_bounded_line(
    r: &mut dyn BufRead,
    line: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<LineRead> {
    line.clear();
    let mut total: u64 = 0;
    let mut over = false;
    let mut any = false;
    loop {
        let buf = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            break;
        }
        any = true;
        // memchr: SIMD search, ~16× fewer instructions than a byte loop on
        // 1 KB ECS lines (issue 18).
        let (chunk, used, end) = match memchr::memchr(b'\n', buf) {
            Some(i) => (&buf[..i], i + 1, true),
            None => (buf, buf.len(), false),
        };
        total += chunk.len() as u64;
        // One byte of slack for a `\r` before the `\n`.
        if !over && line.len() + chunk.len() > max.saturating_add(1) {
            over = true;
            line.clear();
        }
        if !over {
            line.extend_from_slice(chunk);
        }
        r.consume(used);
        if end {
            break;
        }
    }
    if !any {
        return Ok(LineRead::Eof);
    }
    if line.last() == Some(&b'\r') {
        line.pop();
        total = total.saturating_sub(1);
    }
    if over || line.len() > max {
        line.clear();
        return Ok(LineRead::TooLong(total));
    }
    Ok(LineRead::Line)
}

/// Reads events line by line, holding at most one line of the configured cap.
pub struct JsonlReader {
    format: LineFormat,
    tally: LineTally,
    reader: Box<dyn BufRead + Send>,
    line: Vec<u8>,
    lineno: u64,
    name: String,
    done: bool,
    max_line: usize,
}

impl std::fmt::Debug for JsonlReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonlReader")
            .field("name", &self.name)
            .field("lineno", &self.lineno)
            .field("max_line", &self.max_line)
            .finish()
    }
}

impl JsonlReader {
    /// Wrap an opened JSONL stream with the default line cap; `name` is used in
    /// skip examples.
    pub fn new(opened: Opened, name: &str) -> Self {
        Self::with_max_line(opened, name, DEFAULT_MAX_LINE_BYTES)
    }

    /// Wrap an opened JSONL stream; lines longer than `max_line` bytes
    /// (terminator excluded; raised to [`MIN_MAX_LINE_BYTES`]) are skipped as
    /// [`SkipReason::JsonlLineTooLong`] without being buffered.
    pub fn with_max_line(opened: Opened, name: &str, max_line: usize) -> Self {
        let format = match opened.kind {
            InputKind::ZeekTsv => LineFormat::ZeekTsv(Box::default()),
            InputKind::ZeekJson => LineFormat::ZeekJson,
            InputKind::SuricataEve => LineFormat::Eve(Box::default()),
            InputKind::SentineldnsLookup => LineFormat::Ecs,
            _ => LineFormat::Jsonl,
        };
        JsonlReader {
            format,
            tally: LineTally::default(),
            reader: opened.reader,
            line: Vec::new(),
            lineno: 0,
            name: name.to_string(),
            done: false,
            max_line: max_line.max(MIN_MAX_LINE_BYTES),
        }
    }

    /// Line number of the last line read (1-based).
    pub fn line(&self) -> u64 {
        self.lineno
    }

    /// Read the next valid event into `ev`; bad lines are counted and skipped.
    /// Returns `false` at the end of the file.
    pub fn next_into(&mut self, ev: &mut JsonEvent, stats: &mut Stats) -> bool {
        loop {
            if let LineFormat::Eve(p) = &mut self.format {
                if p.pop_ready(ev) {
                    self.tally.events += 1;
                    return true;
                }
                if self.done {
                    if p.flush_all() {
                        continue;
                    }
                    return false;
                }
            }
            if self.done {
                return false;
            }
            match read_bounded_line(&mut *self.reader, &mut self.line, self.max_line) {
                Ok(LineRead::Eof) => self.done = true,
                Ok(LineRead::TooLong(len)) => {
                    self.lineno += 1;
                    stats.lines += 1;
                    stats.evicted(Bound::JsonlLine, 1);
                    let (n, max) = (self.lineno, self.max_line);
                    stats.skip_at(SkipReason::JsonlLineTooLong, &self.name, "line", n, || {
                        format!("line of {len} bytes is over the {max}-byte line cap")
                    });
                }
                Ok(LineRead::Line) => {
                    self.lineno += 1;
                    stats.lines += 1;
                    let n = self.lineno;
                    let text = match std::str::from_utf8(&self.line) {
                        Ok(t) => t.trim(),
                        Err(e) => {
                            let why = format!("not UTF-8: {e}");
                            self.tally.bad(n, &why);
                            stats.skip_at(SkipReason::JsonlBadLine, &self.name, "line", n, || why);
                            continue;
                        }
                    };
                    if text.is_empty() {
                        continue;
                    }
                    match self.format.parse(text, ev) {
                        Ok(Parsed::Event) => {
                            self.tally.events += 1;
                            return true;
                        }
                        Ok(Parsed::Queued) => self.tally.queued += 1,
                        Ok(Parsed::Header) => {}
                        Ok(Parsed::Ignored) => self.tally.ignored += 1,
                        Err(why) => {
                            self.tally.bad(n, &why);
                            stats.skip_at(SkipReason::JsonlBadLine, &self.name, "line", n, || why)
                        }
                    }
                }
                Err(e) => {
                    // An I/O or decompression error: the rest of the stream is
                    // unusable. Count it at the line it interrupted and stop.
                    self.lineno += 1;
                    stats.lines += 1;
                    let n = self.lineno;
                    stats.skip_at(SkipReason::JsonlBadLine, &self.name, "line", n, || {
                        format!("read error: {e}")
                    });
                    self.done = true;
                }
            }
        }
    }
}

/// How the lines of a line-oriented input are read.
#[derive(Debug)]
enum LineFormat {
    /// This module's JSONL events.
    Jsonl,
    /// Zeek dns.log, ASCII writer.
    ZeekTsv(Box<ZeekTsv>),
    /// Zeek dns.log, JSON writer.
    ZeekJson,
    /// Suricata EVE; DNS halves wait in the pairer.
    Eve(Box<EvePairer>),
    /// sentineldns ECS lookup lines (its own NDJSON/Kafka lookup output).
    Ecs,
}

/// What one good line produced.
enum Parsed {
    /// `ev` holds an event.
    Event,
    /// Taken in; events come out of the pairer later.
    Queued,
    /// A header line.
    Header,
    /// A record that is not DNS (another EVE event type).
    Ignored,
}

impl LineFormat {
    fn parse(&mut self, text: &str, ev: &mut JsonEvent) -> Result<Parsed, String> {
        match self {
            LineFormat::Jsonl => parse_line(text, ev).map(|()| Parsed::Event),
            LineFormat::ZeekTsv(z) => z.parse_line(text, ev).map(|l| match l {
                ZeekLine::Event => Parsed::Event,
                ZeekLine::Header => Parsed::Header,
            }),
            LineFormat::ZeekJson => super::zeek::parse_json_line(text, ev).map(|()| Parsed::Event),
            LineFormat::Ecs => {
                if super::ecs::is_other_record(text) {
                    Ok(Parsed::Ignored)
                } else {
                    super::ecs::parse_line(text, ev).map(|()| Parsed::Event)
                }
            }
            LineFormat::Eve(p) => p.parse_line(text).map(|l| match l {
                EveLine::Dns => Parsed::Queued,
                EveLine::Ignored => Parsed::Ignored,
            }),
        }
    }
}

/// How many first bad lines a rejection report names.
pub const REJECT_EXAMPLES: usize = 3;

/// Per-file line accounting, for telling a file that is wholly rejected.
#[derive(Debug, Default, Clone)]
struct LineTally {
    events: u64,
    queued: u64,
    ignored: u64,
    bad: u64,
    first_bad: Vec<(u64, String)>,
}

impl LineTally {
    fn bad(&mut self, line: u64, why: &str) {
        self.bad += 1;
        if self.first_bad.len() < REJECT_EXAMPLES {
            self.first_bad.push((line, why.to_string()));
        }
    }
}

/// A file none of whose lines gave an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Lines rejected as bad.
    pub bad: u64,
    /// Lines ignored as not DNS (EVE records of other event types).
    pub ignored: u64,
    /// The first bad lines: line number and reason.
    pub first_bad: Vec<(u64, String)>,
}

impl JsonlReader {
    /// After the file is read: `Some` when it had lines but not one event
    /// came of them (every line bad, or nothing DNS in it).
    pub fn rejection(&self) -> Option<Rejection> {
        let t = &self.tally;
        (t.events == 0 && t.queued == 0 && (t.bad > 0 || t.ignored > 0)).then(|| Rejection {
            bad: t.bad,
            ignored: t.ignored,
            first_bad: t.first_bad.clone(),
        })
    }

    /// EVE halves emitted without their partner (expired) and pushed out of
    /// the full pairing map (evicted); zeros for other formats.
    pub fn pairing_counts(&self) -> (u64, u64) {
        match &self.format {
            LineFormat::Eve(p) => (p.expired(), p.evicted()),
            _ => (0, 0),
        }
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

    fn ev_line(d: &str) -> String {
        format!("{{\"ts\":1,\"host\":\"10.0.0.1\",\"domain\":\"{d}\",\"qtype\":\"A\",\"rcode\":0}}")
    }

    fn reader_on(bytes: Vec<u8>, max: usize) -> JsonlReader {
        let o = Opened {
            kind: super::super::InputKind::Jsonl,
            gzip: false,
            reader: Box::new(std::io::Cursor::new(bytes)),
            counter: Default::default(),
            file_size: 0,
        };
        JsonlReader::with_max_line(o, "t.jsonl", max)
    }

    /// (line number, domain) of every event, and the stats.
    fn read_all(mut r: JsonlReader) -> (Vec<(u64, String)>, Stats) {
        let mut st = Stats::default();
        let mut ev = JsonEvent::default();
        let mut got = Vec::new();
        while r.next_into(&mut ev, &mut st) {
            got.push((r.line(), ev.domain.clone()));
        }
        (got, st)
    }

    /// A valid event line padded with spaces inside the object to `len` bytes.
    fn padded(d: &str, len: usize) -> String {
        let l = ev_line(d);
        let mut p = l[..l.len() - 1].to_string();
        p.push_str(&" ".repeat(len - l.len()));
        p.push('}');
        assert_eq!(p.len(), len);
        p
    }

    #[test]
    fn line_cap_edges() {
        let cap = 1000;
        let text = [
            padded("at.cap", cap),
            padded("over.cap", cap + 1),
            padded("crlf.at.cap", cap) + "\r",
            ev_line("after.long"),
            String::new(),
            ev_line("last.no.newline"),
        ]
        .join("\n");
        let (got, st) = read_all(reader_on(text.into_bytes(), cap));
        assert_eq!(
            got,
            [
                (1, "at.cap".to_string()),
                (3, "crlf.at.cap".to_string()),
                (4, "after.long".to_string()),
                (6, "last.no.newline".to_string())
            ]
        );
        assert_eq!(st.skipped(SkipReason::JsonlLineTooLong), 1);
        assert_eq!(st.evictions(Bound::JsonlLine), 1);
        assert_eq!(st.lines, 6);
        let ex = &st.examples()[0];
        assert_eq!((ex.source.as_str(), ex.position), ("t.jsonl", 2));
        assert!(ex.detail.contains("1001 bytes"), "{}", ex.detail);
    }

    #[test]
    fn long_line_is_never_buffered() {
        // 50 MB of one line, then a valid one: the buffer never grows past
        // about twice the cap.
        struct Spaces(usize);
        impl std::io::Read for Spaces {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(self.0);
                buf[..n].fill(b' ');
                self.0 -= n;
                Ok(n)
            }
        }
        let tail = format!("\n{}\n", ev_line("next.example"));
        let src = std::io::Read::chain(
            std::io::Read::chain(&b"{"[..], Spaces(50 << 20)),
            std::io::Cursor::new(tail.into_bytes()),
        );
        let o = Opened {
            kind: super::super::InputKind::Jsonl,
            gzip: false,
            reader: Box::new(std::io::BufReader::new(src)),
            counter: Default::default(),
            file_size: 0,
        };
        let mut r = JsonlReader::with_max_line(o, "t", 4096);
        let (mut st, mut ev) = (Stats::default(), JsonEvent::default());
        assert!(r.next_into(&mut ev, &mut st));
        assert_eq!((r.line(), ev.domain.as_str()), (2, "next.example"));
        assert!(r.line.capacity() <= 2 * 4097, "{}", r.line.capacity());
        assert_eq!(st.skipped(SkipReason::JsonlLineTooLong), 1);
        assert!(!r.next_into(&mut ev, &mut st));
    }

    #[test]
    fn multi_member_gzip_is_capped_like_plain() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bomb.jsonl.gz");
        let mut f = std::fs::File::create(&p).unwrap();
        let member = |data: &[u8]| {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            gz.write_all(data).unwrap();
            gz.finish().unwrap()
        };
        f.write_all(&member(
            format!("{}\n{{", ev_line("first.example")).as_bytes(),
        ))
        .unwrap();
        let spaces = member(&vec![b' '; 1 << 20]);
        for _ in 0..8 {
            f.write_all(&spaces).unwrap();
        }
        f.write_all(&member(
            format!("}}\n{}\n", ev_line("second.example")).as_bytes(),
        ))
        .unwrap();
        drop(f);
        let o = super::super::open(&p).unwrap();
        assert!(o.gzip);
        let (got, st) = read_all(JsonlReader::with_max_line(o, "bomb", 64 << 10));
        assert_eq!(
            got,
            [
                (1, "first.example".to_string()),
                (3, "second.example".to_string())
            ]
        );
        assert_eq!(st.skipped(SkipReason::JsonlLineTooLong), 1);
        assert_eq!(st.examples()[0].position, 2);
    }

    #[test]
    fn invalid_utf8_line_is_bad_and_reading_goes_on() {
        let mut b = b"{\"ts\":1,\xff}\n".to_vec();
        b.extend_from_slice(ev_line("ok.example").as_bytes());
        let (got, st) = read_all(reader_on(b, 1000));
        assert_eq!(got, [(2, "ok.example".to_string())]);
        assert_eq!(st.skipped(SkipReason::JsonlBadLine), 1);
    }

    #[test]
    fn domain_held_to_dns_limits() {
        let mut ev = JsonEvent::default();
        let l63 = "a".repeat(63);
        let max = format!("{l63}.{l63}.{l63}.{}", "b".repeat(61));
        assert_eq!(max.len(), 253);
        parse_line(&ev_line(&format!("{max}.")), &mut ev).unwrap();
        assert_eq!(ev.domain, max);
        parse_line(&ev_line("."), &mut ev).unwrap();
        assert_eq!(ev.domain, "", "the root");
        for (d, why) in [
            (format!("x{max}"), "254 bytes"),
            (format!("{}.com", "a".repeat(64)), "label 1 is 64 bytes"),
            ("a..com".to_string(), "label 2 is empty"),
            (".a.com".to_string(), "label 1 is empty"),
            ("a.com..".to_string(), "label 3 is empty"),
        ] {
            let e = parse_line(&ev_line(&d), &mut ev).unwrap_err();
            assert!(
                e.contains("`domain` refused") && e.contains(why),
                "{d}: {e}"
            );
        }
    }

    /// Found by fuzzing (`fuzz/regressions/parse_jsonl_line/root-domain-dot-and-spaces`):
    /// a domain of "." with spaces is the root, written "" as the packet
    /// decoder writes it; an empty domain is refused.
    #[test]
    fn root_domain_is_the_empty_name_and_empty_is_refused() {
        let mut ev = JsonEvent::default();
        for d in [".", " .   ", ".       "] {
            let line = format!(
                "{{\"ts\":1700000000,\"host\":\"10.0.0.1\",\"domain\":\"{d}\",\"qtype\":\"NS\",\"rcode\":\"NOERROR\"}}"
            );
            parse_line(&line, &mut ev).unwrap();
            assert_eq!(ev.domain, "", "{d:?}");
        }
        let line = "{\"ts\":1700000000,\"host\":\"10.0.0.1\",\"domain\":\"   \",\"qtype\":\"A\",\"rcode\":0}";
        assert!(parse_line(line, &mut ev).unwrap_err().contains("empty"));
    }
}
