//! NDJSON output: one JSON object per line for every window verdict, one alert
//! per incident opened or escalated ([`incident_line`]) and, optionally, one
//! per DNS lookup, using Elastic Common Schema (ECS; not Suricata EVE)
//! field names where they exist (`@timestamp`, `event.kind`, `source.ip`,
//! `dns.question.name`, ...) and `sentineldns.*` for the rest. Objects are
//! nested (`{"dns":{"question":{"name":..}}}`), the canonical ECS JSON form that
//! Elasticsearch, Filebeat, Vector and jq all read.
//!
//! Lookup lines are on the hot path: [`format_lookup`] hand-formats them into a
//! reused buffer (strings escaped by `serde_json`, numbers and addresses by
//! `core::fmt`), so a line costs no allocation. Window lines (one per host per
//! window) are built with `serde_json`.
//!
//! Output goes to stdout (`-`) or to a file that is rotated by size:
//! `PATH` → `PATH.1` → … → `PATH.N`, the oldest falling off (see
//! [`NdjsonConfig`]). A write error is logged once and counted, the output
//! stops, and [`NdjsonWriter::finish`] returns it; a closed stdout (`| head`)
//! just stops the output.

use super::metrics::{label_value, Metrics, NdjsonMetrics};
use super::OutputError;
use super::{community_id, ecs};
use crate::aggregate::HostWindow;
use crate::decode::rr::{self, RrScratch};
use crate::detect::Verdict;
use crate::enrich::Enrichment;
use crate::event::{qtype, rcode_name, Lookup, TsMicros};
use crate::features::{self, FEATURE_NAMES};
use crate::incident::IncidentEvent;
use crate::model::Label;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::cell::RefCell;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// NDJSON output settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NdjsonConfig {
    /// File to write, or `-` for stdout (default).
    pub path: PathBuf,
    /// Also write one line per DNS lookup (default `false`: verdicts only).
    pub lookups: bool,
    /// Rotate the file before it would grow past this many bytes (default:
    /// never); a number or a size such as `"100M"`. Ignored for stdout.
    #[serde(deserialize_with = "crate::config::opt_size")]
    pub max_bytes: Option<u64>,
    /// Rotated files kept: `PATH.1` (newest) … `PATH.N` (default 5; 0 keeps
    /// none, so rotation just starts `PATH` afresh).
    pub keep: usize,
}

impl Default for NdjsonConfig {
    fn default() -> Self {
        NdjsonConfig {
            path: PathBuf::from("-"),
            lookups: false,
            max_bytes: None,
            keep: 5,
        }
    }
}

impl NdjsonConfig {
    /// Whether the output is stdout.
    pub fn is_stdout(&self) -> bool {
        self.path.as_os_str() == "-"
    }
}

/// `PATH.i`.
pub fn rotated_path(path: &Path, i: usize) -> PathBuf {
    let mut s = OsString::from(path.as_os_str());
    s.push(format!(".{i}"));
    PathBuf::from(s)
}

/// A size-rotated append-only file (shared with the EVE and Zeek outputs,
/// [`super::linefile`]).
#[derive(Debug)]
pub(crate) struct RotatingFile {
    pub(crate) path: PathBuf,
    pub(crate) file: BufWriter<File>,
    size: u64,
    max: Option<u64>,
    keep: usize,
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl RotatingFile {
    pub(crate) fn open(path: &Path, max: Option<u64>, keep: usize) -> io::Result<Self> {
        let f = open_append(path)?;
        let size = f.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_path_buf(),
            file: BufWriter::with_capacity(64 * 1024, f),
            size,
            max,
            keep,
        })
    }

    /// Write one line; rotate first if it would not fit (a line is never split,
    /// and a line longer than the limit gets a file of its own).
    pub(crate) fn write_line(&mut self, line: &[u8], m: &NdjsonMetrics) -> io::Result<()> {
        if self.would_rotate(line.len()) {
            self.rotate()?;
            m.rotations.fetch_add(1, Ordering::Relaxed);
        }
        self.append(line)
    }

    /// Whether `len` more bytes would take the file past its limit (never
    /// for an empty file).
    pub(crate) fn would_rotate(&self, len: usize) -> bool {
        self.max
            .is_some_and(|max| self.size > 0 && self.size + len as u64 > max)
    }

    /// Append without a rotation check (a header that must stay with the
    /// line after it).
    pub(crate) fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    pub(crate) fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        if self.keep == 0 {
            match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        } else {
            for i in (1..self.keep).rev() {
                let from = rotated_path(&self.path, i);
                if from.exists() {
                    std::fs::rename(&from, rotated_path(&self.path, i + 1))?;
                }
            }
            std::fs::rename(&self.path, rotated_path(&self.path, 1))?;
        }
        self.file = BufWriter::with_capacity(64 * 1024, open_append(&self.path)?);
        self.size = 0;
        Ok(())
    }
}

#[derive(Debug)]
enum Dest {
    Stdout(BufWriter<io::Stdout>),
    File(RotatingFile),
}

/// Writes NDJSON lines to stdout or a rotating file.
#[derive(Debug)]
pub struct NdjsonWriter {
    dest: Dest,
    lookups: bool,
    buf: Vec<u8>,
    metrics: Arc<Metrics>,
    error: Option<io::Error>,
    stopped: bool,
}

impl NdjsonWriter {
    /// Open the output described by `cfg` (a file is created or appended to).
    pub fn open(cfg: &NdjsonConfig, metrics: Arc<Metrics>) -> Result<Self, OutputError> {
        let dest = if cfg.is_stdout() {
            Dest::Stdout(BufWriter::with_capacity(64 * 1024, io::stdout()))
        } else {
            if cfg.max_bytes == Some(0) {
                return Err(OutputError::Config(
                    "ndjson max_bytes must be at least 1".into(),
                ));
            }
            Dest::File(
                RotatingFile::open(&cfg.path, cfg.max_bytes, cfg.keep).map_err(|source| {
                    OutputError::Io {
                        path: cfg.path.clone(),
                        source,
                    }
                })?,
            )
        };
        metrics.ndjson.set_configured();
        Ok(NdjsonWriter {
            dest,
            lookups: cfg.lookups,
            buf: Vec::with_capacity(1024),
            metrics,
            error: None,
            stopped: false,
        })
    }

    /// Whether lookup lines are written.
    pub fn wants_lookups(&self) -> bool {
        self.lookups
    }

    fn fail(&mut self, e: io::Error) {
        self.stopped = true;
        if matches!(self.dest, Dest::Stdout(_)) && e.kind() == io::ErrorKind::BrokenPipe {
            tracing::info!("stdout closed: NDJSON output stopped");
            return;
        }
        tracing::error!(error = %e, "NDJSON output failed; it stops here (the store is unaffected)");
        self.metrics.ndjson.errors.fetch_add(1, Ordering::Relaxed);
        self.error = Some(e);
    }

    fn emit_buf(&mut self) -> bool {
        if self.stopped {
            return false;
        }
        let m = &self.metrics.ndjson;
        let r = match &mut self.dest {
            Dest::Stdout(w) => w.write_all(&self.buf),
            Dest::File(f) => f.write_line(&self.buf, m),
        };
        match r {
            Ok(()) => {
                m.bytes.fetch_add(self.buf.len() as u64, Ordering::Relaxed);
                true
            }
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    /// Write one lookup line (nothing unless lookups were asked for). No allocation.
    pub fn write_lookup(&mut self, l: &Lookup<'_>, e: &Enrichment) {
        if !self.lookups || self.stopped {
            return;
        }
        self.buf.clear();
        format_lookup(&mut self.buf, l, e);
        if self.emit_buf() {
            self.metrics
                .ndjson
                .lookup_lines
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Write one window line (with its verdict when it was scored).
    pub fn write_window(&mut self, w: &HostWindow, v: Option<&Verdict>) {
        self.write_window_in(w, v, None);
    }

    /// Write one window line naming the incident it joined, if any.
    pub fn write_window_in(&mut self, w: &HostWindow, v: Option<&Verdict>, incident: Option<i64>) {
        if self.stopped {
            return;
        }
        if self.write_value(&window_line_in(w, v, incident)) {
            self.metrics
                .ndjson
                .window_lines
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Write one window line already built by [`window_line_in`] (counted
    /// as a window line).
    pub fn write_window_value(&mut self, line: &Value) {
        if self.write_value(line) {
            self.metrics
                .ndjson
                .window_lines
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Write one incident line already built by [`incident_line`].
    pub fn write_incident_value(&mut self, line: &Value) {
        if self.write_value(line) {
            self.metrics
                .ndjson
                .incident_lines
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Write one incident alert line ([`incident_line`]).
    pub fn write_incident(&mut self, e: &IncidentEvent) {
        if self.stopped {
            return;
        }
        if self.write_value(&incident_line(e)) {
            self.metrics
                .ndjson
                .incident_lines
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Write one line of any record already shaped by the caller (a window,
    /// a flow detector's alert); counted in the output's bytes. Returns
    /// whether the line was written.
    pub fn write_value(&mut self, v: &Value) -> bool {
        if self.stopped {
            return false;
        }
        self.buf.clear();
        // Serialising a `Value` into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.buf, v);
        self.buf.push(b'\n');
        self.emit_buf()
    }

    /// Push buffered lines out (called after each batch of windows).
    pub fn flush(&mut self) {
        if self.stopped {
            return;
        }
        let r = match &mut self.dest {
            Dest::Stdout(w) => w.flush(),
            Dest::File(f) => f.file.flush(),
        };
        if let Err(e) = r {
            self.fail(e);
        }
    }

    /// Flush and report the first write error, if any.
    pub fn finish(&mut self) -> Result<(), OutputError> {
        self.flush();
        match self.error.take() {
            None => Ok(()),
            Some(source) => Err(OutputError::Io {
                path: match &self.dest {
                    Dest::Stdout(_) => PathBuf::from("-"),
                    Dest::File(f) => f.path.clone(),
                },
                source,
            }),
        }
    }
}

/// Write `ts` as RFC 3339 UTC with microseconds, quoted
/// (`"2024-03-04T08:00:00.250000Z"`). No allocation.
pub fn write_ts(out: &mut Vec<u8>, ts: TsMicros) {
    out.push(b'"');
    crate::time::write_rfc3339_micros(out, ts);
    out.push(b'"');
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    // Writing a JSON string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn write_qtype(out: &mut Vec<u8>, t: u16) {
    match t {
        qtype::A => out.extend_from_slice(b"\"A\""),
        qtype::AAAA => out.extend_from_slice(b"\"AAAA\""),
        qtype::TXT => out.extend_from_slice(b"\"TXT\""),
        qtype::NULL => out.extend_from_slice(b"\"NULL\""),
        qtype::PTR => out.extend_from_slice(b"\"PTR\""),
        qtype::CNAME => out.extend_from_slice(b"\"CNAME\""),
        qtype::MX => out.extend_from_slice(b"\"MX\""),
        qtype::NS => out.extend_from_slice(b"\"NS\""),
        qtype::SOA => out.extend_from_slice(b"\"SOA\""),
        qtype::SRV => out.extend_from_slice(b"\"SRV\""),
        qtype::SVCB => out.extend_from_slice(b"\"SVCB\""),
        qtype::HTTPS => out.extend_from_slice(b"\"HTTPS\""),
        qtype::ANY => out.extend_from_slice(b"\"ANY\""),
        other => {
            let _ = write!(out, "\"TYPE{other}\"");
        }
    }
}

fn write_rcode(out: &mut Vec<u8>, r: u16) {
    if r <= 10 {
        // Borrowed for every code up to 10: no allocation.
        write_str(out, &rcode_name(r));
    } else {
        let _ = write!(out, "\"RCODE{r}\"");
    }
}

fn write_f32(out: &mut Vec<u8>, v: f32) {
    let v = if v.is_finite() { v } else { 0.0 };
    let _ = write!(out, "{:.4}", v);
}

/// Format one lookup as an NDJSON line (with its newline) into `out`, which is
/// appended to. Allocates nothing once `out` has grown to a line's size.
///
/// ```
/// use sentineldns::enrich::Enrichment;
/// use sentineldns::event::Lookup;
/// let l = Lookup { rcode: Some(3), ..Lookup::new(1_709_539_200_250_000, "10.0.0.7".parse()?, "x1.example.com") };
/// let e = Enrichment { registrable_len: 11, ..Default::default() };
/// let mut line = Vec::new();
/// sentineldns::output::ndjson::format_lookup(&mut line, &l, &e);
/// let v: serde_json::Value = serde_json::from_slice(&line)?;
/// assert_eq!(v["@timestamp"], "2024-03-04T08:00:00.250000Z");
/// assert_eq!(v["source"]["ip"], "10.0.0.7");
/// assert_eq!(v["dns"]["question"]["registered_domain"], "example.com");
/// assert_eq!(v["dns"]["response_code"], "NXDOMAIN");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn format_lookup(out: &mut Vec<u8>, l: &Lookup<'_>, e: &Enrichment) {
    RR.with(|rr| {
        let mut rr = rr.borrow_mut();
        format_lookup_with(out, l, e, &mut rr);
    });
}

/// Scratch for [`format_lookup`]: the answer walk's buffers and the
/// addresses it found, reused by every line of a thread.
#[derive(Debug, Default)]
struct LookupScratch {
    rr: RrScratch,
    ips: Vec<IpAddr>,
}

thread_local! {
    static RR: RefCell<LookupScratch> = RefCell::new(LookupScratch::default());
}

fn format_lookup_with(out: &mut Vec<u8>, l: &Lookup<'_>, e: &Enrichment, sc: &mut LookupScratch) {
    let d = &l.detail;
    out.extend_from_slice(b"{\"@timestamp\":");
    write_ts(out, l.ts);
    out.extend_from_slice(b",\"ecs\":{\"version\":\"");
    out.extend_from_slice(ecs::ECS_VERSION.as_bytes());
    out.extend_from_slice(
        b"\"},\"event\":{\"kind\":\"event\",\"category\":[\"network\"],\"type\":[\"protocol\"],\"module\":\"sentineldns\",\"dataset\":\"sentineldns.lookup\"",
    );
    if let Some(us) = l.latency_us {
        let _ = write!(out, ",\"duration\":{}", u64::from(us) * 1000);
    }
    out.extend_from_slice(b"},");
    out.extend_from_slice(ecs::observer_fragment());
    out.extend_from_slice(b",\"network\":{\"protocol\":\"");
    out.extend_from_slice(l.service.as_str().as_bytes());
    out.extend_from_slice(if l.client.is_ipv4() {
        b"\",\"type\":\"ipv4\""
    } else {
        b"\",\"type\":\"ipv6\""
    });
    if let Some(t) = l.transport {
        // ECS: `transport` is the layer-4 protocol; an encrypted DNS
        // transport (from dnstap) is named in `application`.
        let proto = if t.l4() == "tcp" {
            community_id::TCP
        } else {
            community_id::UDP
        };
        let _ = write!(
            out,
            ",\"transport\":\"{}\",\"iana_number\":\"{proto}\"",
            t.l4()
        );
        if t.as_str() != t.l4() {
            let _ = write!(out, ",\"application\":\"{}\"", t.as_str());
        }
        if let (Some(server), Some(cp), Some(sp)) = (l.server, d.client_port, d.server_port) {
            out.extend_from_slice(b",\"community_id\":\"");
            if !community_id::write_v1(out, 0, l.client, cp, server, sp, proto) {
                out.truncate(out.len() - b",\"community_id\":\"".len());
            } else {
                out.push(b'"');
            }
        }
    }
    let _ = write!(out, "}},\"source\":{{\"ip\":\"{}\"", l.client);
    if let Some(p) = d.client_port {
        let _ = write!(out, ",\"port\":{p}");
    }
    out.push(b'}');
    if let Some(s) = l.server {
        let _ = write!(out, ",\"destination\":{{\"ip\":\"{s}\"");
        if let Some(p) = d.server_port {
            let _ = write!(out, ",\"port\":{p}");
        }
        out.push(b'}');
    }
    out.extend_from_slice(b",\"dns\":{\"type\":");
    out.extend_from_slice(if l.rcode.is_some() {
        b"\"answer\""
    } else {
        b"\"query\""
    });
    if let Some(id) = d.id {
        let _ = write!(out, ",\"id\":\"{id}\"");
    }
    if let Some(op) = d.opcode() {
        out.extend_from_slice(b",\"op_code\":");
        write_str(out, &ecs::opcode_name(op));
    }
    if d.flags.is_some() {
        out.extend_from_slice(b",\"header_flags\":[");
        for (i, f) in d.flag_names().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let _ = write!(out, "\"{f}\"");
        }
        out.push(b']');
    }
    out.extend_from_slice(b",\"question\":{\"name\":");
    write_str(out, l.qname);
    out.extend_from_slice(b",\"type\":");
    write_qtype(out, l.qtype);
    if let Some(c) = d.qclass {
        out.extend_from_slice(b",\"class\":");
        write_str(out, &rr::class_name(c));
    }
    if let Some(reg) = e.registrable(l.qname) {
        out.extend_from_slice(b",\"registered_domain\":");
        write_str(out, reg);
        if let Some((_, tld)) = reg.split_once('.') {
            out.extend_from_slice(b",\"top_level_domain\":");
            write_str(out, tld);
        }
        let q = l.qname.strip_suffix('.').unwrap_or(l.qname);
        if let Some(sub) = q
            .len()
            .checked_sub(reg.len() + 1)
            .and_then(|n| q.get(..n))
            .filter(|s| !s.is_empty())
        {
            out.extend_from_slice(b",\"subdomain\":");
            write_str(out, sub);
        }
    }
    out.push(b'}');
    if let Some(r) = l.rcode {
        out.extend_from_slice(b",\"response_code\":");
        write_rcode(out, r);
    }
    sc.ips.clear();
    let mark = out.len();
    out.extend_from_slice(b",\"answers\":[");
    let mut n = 0usize;
    if let Some(wire) = d.response {
        // Every record of the answer section, as the response carried it.
        let ips = &mut sc.ips;
        let _ = rr::for_each_answer(wire, &mut sc.rr, |a| {
            if n > 0 {
                out.push(b',');
            }
            n += 1;
            out.extend_from_slice(b"{\"name\":");
            write_str(out, a.name);
            out.extend_from_slice(b",\"type\":");
            write_str(out, &rr::type_name(a.rtype));
            out.extend_from_slice(b",\"class\":");
            write_str(out, &rr::class_name(a.class));
            let _ = write!(out, ",\"ttl\":{},\"data\":", a.ttl);
            write_str(out, a.data);
            out.push(b'}');
            if matches!(a.rtype, qtype::A | qtype::AAAA) {
                if let Ok(ip) = a.data.parse() {
                    ips.push(ip);
                }
            }
        });
    } else {
        // From a log: the addresses it gave (a TTL only when it is that
        // one answer's own).
        let ips = l.answers.ips();
        for ip in ips {
            if n > 0 {
                out.push(b',');
            }
            n += 1;
            let t = if ip.is_ipv4() { "A" } else { "AAAA" };
            let _ = write!(out, "{{\"data\":\"{ip}\",\"type\":\"{t}\"");
            if let (Some(ttl), 1) = (l.min_ttl, ips.len()) {
                let _ = write!(out, ",\"ttl\":{ttl}");
            }
            out.push(b'}');
            sc.ips.push(*ip);
        }
    }
    if n == 0 {
        out.truncate(mark);
    } else {
        out.push(b']');
    }
    if !sc.ips.is_empty() {
        out.extend_from_slice(b",\"resolved_ip\":[");
        for (i, ip) in sc.ips.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let _ = write!(out, "\"{ip}\"");
        }
        out.push(b']');
    }
    let _ = write!(out, "}},\"related\":{{\"ip\":[\"{}\"", l.client);
    if let Some(s) = l.server.filter(|s| *s != l.client) {
        let _ = write!(out, ",\"{s}\"");
    }
    for ip in &sc.ips {
        let _ = write!(out, ",\"{ip}\"");
    }
    out.push(b']');
    if !l.qname.is_empty() {
        out.extend_from_slice(b",\"hosts\":[");
        write_str(out, l.qname);
        out.push(b']');
    }
    out.extend_from_slice(b"},\"sentineldns\":{\"lookup\":{\"outcome\":\"");
    out.extend_from_slice(l.outcome.as_str().as_bytes());
    let _ = write!(
        out,
        "\",\"answers_total\":{},\"query_bytes\":{},\"response_bytes\":{}",
        l.answers.total, l.query_bytes, l.response_bytes
    );
    if let Some(ttl) = l.min_ttl {
        let _ = write!(out, ",\"min_ttl\":{ttl}");
    }
    if let Some(label) = l.label {
        out.extend_from_slice(b",\"label\":");
        write_str(out, label);
    }
    if let Some(scenario) = l.scenario {
        out.extend_from_slice(b",\"scenario\":");
        write_str(out, scenario);
    }
    out.extend_from_slice(b",\"risk\":");
    write_f32(out, e.risk);
    out.extend_from_slice(b",\"entropy\":");
    write_f32(out, e.entropy);
    let b = |x: bool| if x { "true" } else { "false" };
    let _ = writeln!(
        out,
        ",\"high_risk\":{},\"lure\":{},\"allowed\":{},\"infrastructure\":{},\"new_domain\":{},\"new_for_host\":{}}}}}}}",
        b(e.high_risk),
        b(e.lure),
        b(e.allowed),
        b(e.infra),
        b(e.new_global),
        b(e.new_host)
    );
}

fn round4(x: f64) -> f64 {
    if x.is_finite() {
        (x * 1e4).round() / 1e4
    } else {
        0.0
    }
}

/// The NDJSON object for one closed window and its verdict (if scored).
/// Window lines are events (`event.kind: event`) even when flagged: the alert
/// is the incident line ([`incident_line`]); a flagged window names its
/// incident in `sentineldns.incident_id` (see [`window_line_in`]).
pub fn window_line(w: &HostWindow, v: Option<&Verdict>) -> Value {
    window_line_in(w, v, None)
}

/// [`window_line`] of a window that joined or opened incident `incident`.
pub fn window_line_in(w: &HostWindow, v: Option<&Verdict>, incident: Option<i64>) -> Value {
    let flagged = v.is_some_and(|v| v.label != Label::Normal);
    let mut event = Map::new();
    event.insert("kind".into(), "event".into());
    // ECS pairs both categories with `info`; the alert is the incident line.
    event.insert(
        "category".into(),
        if flagged {
            json!(["network", "intrusion_detection"])
        } else {
            json!(["network"])
        },
    );
    event.insert("type".into(), json!(["info"]));
    event.insert("module".into(), "sentineldns".into());
    event.insert("dataset".into(), "sentineldns.window".into());
    event.insert("start".into(), crate::time::rfc3339_micros(w.start).into());
    event.insert("end".into(), crate::time::rfc3339_micros(w.end).into());
    if let Some(v) = v {
        let risk = round4(v.score * 100.0);
        event.insert("risk_score".into(), json!(risk));
        event.insert("risk_score_norm".into(), json!(risk));
        event.insert("severity".into(), ecs::severity(v.label).into());
    }
    let feats = features::compute(w);
    let features: Map<String, Value> = FEATURE_NAMES
        .iter()
        .zip(feats.iter())
        .map(|(n, x)| ((*n).to_string(), json!(round4(*x))))
        .collect();
    let mut s = Map::new();
    let mut window = json!({
            "start": crate::time::rfc3339_micros(w.start),
            "end": crate::time::rfc3339_micros(w.end),
            "lookups": w.lookups,
            "answered": w.answered,
            "unanswered": w.unanswered,
            "nxdomain": w.nxdomain,
            "nxdomain_names": w.nxdomain_names,
            "servfail": w.servfail,
            "refused": w.refused,
            "unique_domains": w.unique_domains,
            "unique_registrable": w.unique_registrable,
            "new_domains": w.new_domains,
            "high_risk_domains": w.high_risk_domains,
            "high_risk_registrable": w.high_risk_registrable,
            "max_subdomains": w.max_subdomains,
            "max_subdomains_domain": w.max_subdomains_domain,
            "encoded_names": w.encoded_names,
            "encoded_domain": w.encoded_domain,
            "impersonation_domains": w.impersonation_domains,
            "lookalikes": w.lookalikes.iter().map(|l| json!({"name": l.name, "brand": l.brand})).collect::<Vec<_>>(),
            "follow_up_domains": w.follow_up_domains,
            "follow_ups": w.follow_ups,
            "features": features,
    });
    if w.intel_lookups > 0 {
        // Only with a hit, so output without threat-intel lists is unchanged.
        if let Some(o) = window.as_object_mut() {
            o.insert("intel_lookups".into(), w.intel_lookups.into());
            o.insert("intel_domains".into(), json!(w.intel_domains));
        }
    }
    s.insert("window".into(), window);
    if let Some(v) = v {
        s.insert("score".into(), json!(round4(v.score)));
        s.insert("label".into(), v.label.as_str().into());
        s.insert("label_id".into(), label_value(v.label).into());
        s.insert(
            "reasons".into(),
            Value::Array(
                v.reasons
                    .iter()
                    .map(|r| {
                        json!({
                            "tag": r.tag,
                            "feature": r.feature,
                            "value": round4(r.value),
                            "usual": round4(r.usual),
                            "deviation": round4(r.deviation),
                        })
                    })
                    .collect(),
            ),
        );
        s.insert("explanation".into(), v.explanation.clone().into());
        s.insert("model_id".into(), v.model_id.as_ref().into());
    }
    // What the fleet database needs to answer as one sensor's SQLite file
    // does (`serve --postgres`): the query-type and response-code mix and
    // the last lookup's time.
    s.insert(
        "qtypes".into(),
        serde_json::to_value(crate::store::read::QtypeMix::of(w)).unwrap_or(Value::Null),
    );
    s.insert(
        "rcodes".into(),
        serde_json::to_value(crate::store::read::RcodeMix::of(w)).unwrap_or(Value::Null),
    );
    s.insert(
        "last_seen".into(),
        crate::time::rfc3339_micros(w.last_ts).into(),
    );
    if let Some(id) = incident {
        s.insert("incident_id".into(), id.into());
    }
    s.insert(
        "top_domains".into(),
        serde_json::to_value(&w.top_domains).unwrap_or(Value::Null),
    );
    s.insert(
        "risky_domains".into(),
        serde_json::to_value(&w.risky_domains).unwrap_or(Value::Null),
    );
    if w.truth.label.is_some() || w.truth.scenario.is_some() {
        s.insert(
            "truth".into(),
            json!({"label": w.truth.label, "scenario": w.truth.scenario}),
        );
    }
    let mut o = Map::new();
    o.insert(
        "@timestamp".into(),
        crate::time::rfc3339_micros(w.end).into(),
    );
    o.insert("ecs".into(), json!({"version": ecs::ECS_VERSION}));
    o.insert("event".into(), Value::Object(event));
    o.insert("observer".into(), ecs::observer_value());
    o.insert("source".into(), json!({"ip": w.host.to_string()}));
    let mut hosts: Vec<&str> = w.top_domains.iter().map(|d| d.name.as_str()).collect();
    hosts.extend(w.risky_domains.iter().map(|d| d.name.as_str()));
    hosts.sort_unstable();
    hosts.dedup();
    let mut related = json!({"ip": [w.host.to_string()]});
    if !hosts.is_empty() {
        related["hosts"] = json!(hosts);
    }
    o.insert("related".into(), related);
    if let Some(v) = v {
        o.insert("message".into(), v.explanation.clone().into());
        if flagged {
            o.insert("rule".into(), verdict_rule(v));
        }
    }
    o.insert("sentineldns".into(), Value::Object(s));
    Value::Object(o)
}

/// ECS `rule` of a flagged window: named by its first reason (or its
/// label when the model alone flagged it), versioned by the model.
fn verdict_rule(v: &Verdict) -> Value {
    json!({
        "name": v.reasons.first().map_or(v.label.as_str(), |r| r.tag),
        "ruleset": "sentineldns",
        "category": "DNS",
        "version": v.model_id.as_ref(),
    })
}

/// The NDJSON alert for an incident that opened or escalated
/// (`event.kind: alert`, dataset `sentineldns.incident`).
pub fn incident_line(e: &IncidentEvent) -> Value {
    let i = &e.incident;
    let ts = |s: i64| crate::time::rfc3339_micros(s.saturating_mul(crate::event::MICROS));
    let mut event = Map::new();
    event.insert("kind".into(), "alert".into());
    event.insert("category".into(), json!(["intrusion_detection", "network"]));
    event.insert("type".into(), json!(["info"]));
    event.insert(
        "action".into(),
        format!("incident_{}", e.kind.as_str()).into(),
    );
    event.insert("module".into(), "sentineldns".into());
    event.insert("dataset".into(), "sentineldns.incident".into());
    event.insert("start".into(), ts(i.first_seen).into());
    event.insert("end".into(), ts(i.last_seen).into());
    let risk = round4(i.peak_score * 100.0);
    event.insert("risk_score".into(), json!(risk));
    event.insert("risk_score_norm".into(), json!(risk));
    event.insert("severity".into(), ecs::severity(i.peak_label).into());
    let incident = json!({
        "id": i.id,
        "action": e.kind.as_str(),
        "status": i.status.as_str(),
        "first_seen": ts(i.first_seen),
        "last_seen": ts(i.last_seen),
        "windows": i.windows,
        "peak_score": round4(i.peak_score),
        "peak_label": i.peak_label.as_str(),
        "label_id": label_value(i.peak_label),
        "families": i.families().iter().map(|f| f.as_str()).collect::<Vec<_>>(),
        "reasons": i.reason_tags().iter().map(|(t, n)| json!({"tag": t, "windows": n})).collect::<Vec<_>>(),
        "domains": i.top_domains().iter().map(|(d, n)| json!({"name": d, "windows": n})).collect::<Vec<_>>(),
        "model_id": i.model_id,
        "explanation": i.explanation,
        "closed_at": i.closed_at.map(ts),
    });
    let mut o = Map::new();
    o.insert("@timestamp".into(), ts(i.updated_at).into());
    o.insert("ecs".into(), json!({"version": ecs::ECS_VERSION}));
    o.insert("event".into(), Value::Object(event));
    o.insert("observer".into(), ecs::observer_value());
    o.insert("source".into(), json!({"ip": i.host}));
    let mut related = json!({"ip": [i.host]});
    let domains = i.top_domains();
    if !domains.is_empty() {
        related["hosts"] = json!(domains.iter().map(|(d, _)| d).collect::<Vec<_>>());
    }
    o.insert("related".into(), related);
    let families: Vec<&str> = i.families().iter().map(|f| f.as_str()).collect();
    o.insert(
        "rule".into(),
        json!({
            "name": families.first().copied().unwrap_or("anomaly"),
            "ruleset": "sentineldns",
            "category": "DNS",
            "version": i.model_id,
        }),
    );
    o.insert("message".into(), i.explanation.clone().into());
    o.insert("sentineldns".into(), json!({ "incident": incident }));
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Answers, LookupOutcome, Transport, MICROS};

    #[test]
    fn lookup_lines_are_json_with_ecs_names_and_escape_odd_names() {
        let mut answers = Answers::default();
        answers.push("192.0.2.1".parse().unwrap());
        answers.push("2001:db8::1".parse().unwrap());
        answers.total = 3;
        let name = "we\\\"ird.sub.example.co.uk";
        let l = Lookup {
            server: Some("10.0.0.53".parse().unwrap()),
            transport: Some(Transport::Udp),
            rcode: Some(0),
            qtype: 99,
            answers,
            min_ttl: Some(60),
            latency_us: Some(1500),
            outcome: LookupOutcome::Answered,
            ..Lookup::new(1_700_000_000 * MICROS, "fe80::1".parse().unwrap(), name)
        };
        let e = Enrichment {
            registrable_len: "example.co.uk".len() as u16,
            risk: 0.25,
            new_global: true,
            ..Default::default()
        };
        let mut b = Vec::new();
        format_lookup(&mut b, &l, &e);
        assert_eq!(b.last(), Some(&b'\n'));
        assert_eq!(b.iter().filter(|c| **c == b'\n').count(), 1);
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["@timestamp"], "2023-11-14T22:13:20.000000Z");
        assert_eq!(v["event"]["kind"], "event");
        assert_eq!(v["event"]["category"][0], "network");
        assert_eq!(v["event"]["duration"], 1_500_000);
        assert_eq!(v["network"]["transport"], "udp");
        assert_eq!(v["source"]["ip"], "fe80::1");
        assert_eq!(v["destination"]["ip"], "10.0.0.53");
        assert_eq!(v["dns"]["question"]["name"], name);
        assert_eq!(v["dns"]["question"]["type"], "TYPE99");
        assert_eq!(v["dns"]["question"]["registered_domain"], "example.co.uk");
        assert_eq!(v["dns"]["question"]["subdomain"], "we\\\"ird.sub");
        assert_eq!(v["dns"]["response_code"], "NOERROR");
        assert_eq!(v["dns"]["answers"][1]["type"], "AAAA");
        // From a log, two answers share one smallest TTL: not copied into each.
        assert!(v["dns"]["answers"][0].get("ttl").is_none());
        assert_eq!(v["dns"]["resolved_ip"][0], "192.0.2.1");
        assert_eq!(v["ecs"]["version"], ecs::ECS_VERSION);
        assert_eq!(v["observer"]["vendor"], "sentineldns");
        assert_eq!(v["dns"]["question"]["top_level_domain"], "co.uk");
        assert_eq!(
            v["related"]["ip"],
            json!(["fe80::1", "10.0.0.53", "192.0.2.1", "2001:db8::1"])
        );
        assert_eq!(v["sentineldns"]["lookup"]["answers_total"], 3);
        assert_eq!(v["sentineldns"]["lookup"]["new_domain"], true);
        assert_eq!(v["sentineldns"]["lookup"]["outcome"], "answered");
        // An unanswered query has no response code and is a `query`.
        let q = Lookup {
            rcode: None,
            outcome: LookupOutcome::Unanswered,
            ..Lookup::new(0, "10.0.0.1".parse().unwrap(), "a.b")
        };
        b.clear();
        format_lookup(&mut b, &q, &Enrichment::default());
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(v["dns"]["type"], "query");
        assert!(v["dns"].get("response_code").is_none());
        assert!(v["dns"]["question"].get("registered_domain").is_none());
    }

    /// A decoded exchange shows every answer record with its own name, type,
    /// class and TTL, the header flags, id, ports and Community ID.
    #[test]
    fn lookup_lines_carry_every_answer_record_and_the_header() {
        use crate::decode::dns::tests::{push_wire_name, query};
        use crate::event::LookupDetail;
        let mut m = query(0xbeef, "www.example.com", 1);
        m[2] = 0x81; // QR, RD
        m[3] = 0xa0; // RA, AD
        let mut rrs = 0u16;
        let mut add = |m: &mut Vec<u8>, rtype: u16, ttl: u32, rdata: &[u8]| {
            m.extend_from_slice(&[0xC0, 12]);
            m.extend_from_slice(&rtype.to_be_bytes());
            m.extend_from_slice(&1u16.to_be_bytes());
            m.extend_from_slice(&ttl.to_be_bytes());
            m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            m.extend_from_slice(rdata);
            rrs += 1;
        };
        let mut target = Vec::new();
        push_wire_name(&mut target, "cdn.example.net");
        add(&mut m, 5, 3600, &target);
        for i in 1..=6u8 {
            add(&mut m, 1, 20 + u32::from(i), &[192, 0, 2, i]);
        }
        add(&mut m, 16, 5, b"\x0bhello world");
        m[6..8].copy_from_slice(&rrs.to_be_bytes());
        let l = Lookup {
            server: Some("10.0.0.53".parse().unwrap()),
            transport: Some(Transport::Udp),
            rcode: Some(0),
            outcome: LookupOutcome::Answered,
            detail: LookupDetail {
                id: Some(0xbeef),
                client_port: Some(40000),
                server_port: Some(53),
                qclass: Some(1),
                flags: Some(0x81a0),
                response: Some(&m),
            },
            ..Lookup::new(0, "10.0.0.7".parse().unwrap(), "www.example.com")
        };
        let mut b = Vec::new();
        format_lookup(&mut b, &l, &Enrichment::default());
        let v: Value = serde_json::from_slice(&b).unwrap();
        let a = v["dns"]["answers"].as_array().unwrap();
        assert_eq!(a.len(), 8, "{v}");
        assert_eq!(
            a[0],
            json!({"name": "www.example.com", "type": "CNAME", "class": "IN", "ttl": 3600, "data": "cdn.example.net"})
        );
        assert_eq!(a[6]["data"], "192.0.2.6");
        assert_eq!(a[6]["ttl"], 26);
        assert_eq!(a[7]["type"], "TXT");
        assert_eq!(v["dns"]["resolved_ip"].as_array().unwrap().len(), 6);
        assert_eq!(v["dns"]["id"], "48879");
        assert_eq!(v["dns"]["op_code"], "QUERY");
        assert_eq!(v["dns"]["header_flags"], json!(["RD", "RA", "AD"]));
        assert_eq!(v["dns"]["question"]["class"], "IN");
        assert_eq!(v["source"]["port"], 40000);
        assert_eq!(v["destination"]["port"], 53);
        assert_eq!(v["network"]["iana_number"], "17");
        assert_eq!(
            v["network"]["community_id"],
            community_id::v1(0, l.client, 40000, l.server.unwrap(), 53, 17)
                .unwrap()
                .as_str()
        );
    }

    fn metrics() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    #[test]
    fn rotation_keeps_n_files_and_never_splits_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        let cfg = NdjsonConfig {
            path: path.clone(),
            lookups: true,
            max_bytes: Some(2000),
            keep: 3,
        };
        let m = metrics();
        let mut w = NdjsonWriter::open(&cfg, m.clone()).unwrap();
        let names: Vec<String> = (0..200).map(|i| format!("host{i}.example.com")).collect();
        for (i, n) in names.iter().enumerate() {
            let l = Lookup::new(i as i64 * MICROS, "10.0.0.1".parse().unwrap(), n);
            w.write_lookup(&l, &Enrichment::default());
        }
        w.finish().unwrap();
        let rotations = m.ndjson.rotations.load(Ordering::Relaxed);
        assert!(rotations > 3, "{rotations} rotations");
        assert!(path.exists());
        for i in 1..=3 {
            assert!(rotated_path(&path, i).exists(), "{i}");
        }
        assert!(
            !rotated_path(&path, 4).exists(),
            "only 3 rotated files kept"
        );
        // Every kept line is whole JSON, files are within the limit, and the
        // newest lines are in PATH, older ones in PATH.1, PATH.2, PATH.3.
        let mut last_ts = Vec::new();
        for p in [
            rotated_path(&path, 3),
            rotated_path(&path, 2),
            rotated_path(&path, 1),
            path.clone(),
        ] {
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(
                text.len() <= 2000,
                "{} is {} bytes",
                p.display(),
                text.len()
            );
            for line in text.lines() {
                let v: Value = serde_json::from_str(line).unwrap();
                assert!(v["dns"]["question"]["name"].is_string());
                last_ts.push(v["@timestamp"].as_str().unwrap().to_string());
            }
        }
        let mut sorted = last_ts.clone();
        sorted.sort();
        assert_eq!(last_ts, sorted, "files are in age order");
        assert_eq!(
            last_ts.last().map(String::as_str),
            Some("1970-01-01T00:03:19.000000Z"),
            "the newest line is in PATH"
        );
        assert_eq!(m.ndjson.lookup_lines.load(Ordering::Relaxed), 200);
    }

    #[test]
    fn keep_zero_restarts_the_file_and_an_existing_file_is_appended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.ndjson");
        std::fs::write(&path, "{\"old\":1}\n").unwrap();
        let cfg = NdjsonConfig {
            path: path.clone(),
            lookups: true,
            max_bytes: None,
            keep: 0,
        };
        let mut w = NdjsonWriter::open(&cfg, metrics()).unwrap();
        w.write_lookup(
            &Lookup::new(0, "10.0.0.1".parse().unwrap(), "a.com"),
            &Enrichment::default(),
        );
        w.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2, "appended, not truncated");
        let cfg = NdjsonConfig {
            max_bytes: Some(10),
            ..cfg
        };
        let mut w = NdjsonWriter::open(&cfg, metrics()).unwrap();
        w.write_lookup(
            &Lookup::new(0, "10.0.0.1".parse().unwrap(), "b.com"),
            &Enrichment::default(),
        );
        w.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1);
        assert!(text.contains("b.com"));
        assert!(!rotated_path(&path, 1).exists());
    }

    #[test]
    fn lookups_are_off_unless_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("o.ndjson");
        let cfg = NdjsonConfig {
            path: path.clone(),
            ..Default::default()
        };
        let mut w = NdjsonWriter::open(&cfg, metrics()).unwrap();
        w.write_lookup(
            &Lookup::new(0, "10.0.0.1".parse().unwrap(), "a.com"),
            &Enrichment::default(),
        );
        w.finish().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    }

    #[test]
    fn an_unwritable_path_is_an_error_naming_it() {
        let cfg = NdjsonConfig {
            path: PathBuf::from("/nonexistent-dir/x.ndjson"),
            ..Default::default()
        };
        let e = NdjsonWriter::open(&cfg, metrics()).unwrap_err().to_string();
        assert!(e.contains("/nonexistent-dir/x.ndjson"), "{e}");
    }
}
