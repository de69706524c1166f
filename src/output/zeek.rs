//! Zeek `dns.log`, in Zeek's ASCII (TSV) form or its JSON form
//! (`LogAscii::use_json`), for tooling that reads Zeek logs (and for
//! sentineldns itself: [`crate::source::zeek`] reads both back).
//!
//! One row per lookup with Zeek's `DNS::Info` columns: `ts` (query time;
//! response time for an unsolicited response), `uid` (`C` + 17 base62
//! characters derived from the flow and the time: stable across runs),
//! `id.orig_h`/`id.orig_p` (client), `id.resp_h`/`id.resp_p` (server),
//! `proto` (`udp`/`tcp`), `trans_id`, `rtt` (interval seconds), `query`
//! (`<root>` for the root), `qclass`/`qclass_name` (`C_INTERNET`, …),
//! `qtype`/`qtype_name` (`A`, …, `*` for ANY, `query-N` without a
//! mnemonic), `rcode`/`rcode_name` (unset without a response), `AA`, `TC`,
//! `RD`, `RA` (from the response's header, else the query's), `Z` (the
//! three reserved bits), `answers` and `TTLs` (parallel vectors), and
//! `rejected` (`T` for REFUSED).
//!
//! `answers` hold what Zeek's scripts make of each answer record: the
//! address for A/AAAA, the target name for CNAME, NS, PTR, DNAME, MX (the
//! exchange), SRV (the target) and SOA (the primary server), `TXT <len>
//! <text>` for each character-string of a TXT or SPF record (joined by a
//! space), and `<unknown type=N>` for the rest. `TTLs` and `rtt` are
//! intervals (`300.000000` in TSV, `300.0` in JSON). Lookups from logs give their addresses, each with the
//! lookup's smallest TTL.
//!
//! TSV follows Zeek's ASCII writer: the `#separator` … `#types` header at
//! the top of every file (`#open` is the first row's time, so a replay
//! writes the same file twice), `#close` at the end of every file (the
//! last row's time); `-` for unset fields, `(empty)` for empty ones, `T`/`F`
//! for booleans; bytes outside printable ASCII, the backslash, the
//! separator and (inside sets) the set separator are written `\xNN`; a
//! string that is exactly `-` or `(empty)` has its first byte escaped. JSON
//! leaves unset fields out.

use super::eve::flow_id;
use super::linefile::LineOutput;
use super::metrics::Metrics;
use super::OutputError;
use crate::decode::rr::{self, RrScratch};
use crate::event::{qtype, rcode_name, Lookup, TsMicros, MICROS};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

/// Which of Zeek's writers to imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ZeekFormat {
    /// Zeek's ASCII writer: tab-separated with a `#` header (default).
    #[default]
    Tsv,
    /// One JSON object per line (`LogAscii::use_json=T`).
    Json,
}

/// `[outputs.zeek]`: where the Zeek `dns.log` goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZeekConfig {
    /// File to write, or `-` for stdout (default).
    pub path: PathBuf,
    /// `tsv` (default) or `json`.
    pub format: ZeekFormat,
    /// Rotate the file before it would grow past this many bytes (default:
    /// never); a number or a size such as `"100M"`. Ignored for stdout.
    #[serde(deserialize_with = "crate::config::opt_size")]
    pub max_bytes: Option<u64>,
    /// Rotated files kept: `PATH.1` … `PATH.N` (default 5).
    pub keep: usize,
}

impl Default for ZeekConfig {
    fn default() -> Self {
        ZeekConfig {
            path: PathBuf::from("-"),
            format: ZeekFormat::Tsv,
            max_bytes: None,
            keep: 5,
        }
    }
}

impl ZeekConfig {
    /// Whether the output is stdout.
    pub fn is_stdout(&self) -> bool {
        self.path.as_os_str() == "-"
    }
}

/// The `#fields` of a Zeek dns.log.
pub const FIELDS: [&str; 24] = [
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "trans_id",
    "rtt",
    "query",
    "qclass",
    "qclass_name",
    "qtype",
    "qtype_name",
    "rcode",
    "rcode_name",
    "AA",
    "TC",
    "RD",
    "RA",
    "Z",
    "answers",
    "TTLs",
    "rejected",
];

/// The `#types` of [`FIELDS`].
pub const TYPES: [&str; 24] = [
    "time",
    "string",
    "addr",
    "port",
    "addr",
    "port",
    "enum",
    "count",
    "interval",
    "string",
    "count",
    "string",
    "count",
    "string",
    "count",
    "string",
    "bool",
    "bool",
    "bool",
    "bool",
    "count",
    "vector[string]",
    "vector[interval]",
    "bool",
];

/// The Zeek output: rows to stdout or a rotating file.
#[derive(Debug)]
pub struct ZeekWriter {
    out: LineOutput,
    format: ZeekFormat,
    buf: Vec<u8>,
    frame: Vec<u8>,
    /// Time of the last row (for `#close`); `None` before the first row of
    /// a file.
    last_ts: Option<TsMicros>,
}

impl ZeekWriter {
    /// Open the output described by `cfg`.
    pub fn open(cfg: &ZeekConfig, metrics: Arc<Metrics>) -> Result<Self, OutputError> {
        let out = LineOutput::open("Zeek", &cfg.path, cfg.max_bytes, cfg.keep, metrics, |m| {
            &m.zeek
        })?;
        Ok(ZeekWriter {
            out,
            format: cfg.format,
            buf: Vec::with_capacity(1024),
            frame: Vec::with_capacity(1024),
            last_ts: None,
        })
    }

    /// Write the row of one lookup. No allocation once buffers have grown
    /// (headers aside).
    pub fn write_lookup(&mut self, l: &Lookup<'_>) {
        if self.out.stopped() {
            return;
        }
        self.buf.clear();
        match self.format {
            ZeekFormat::Tsv => {
                format_tsv(&mut self.buf, l);
                match self.last_ts {
                    None => {
                        self.frame.clear();
                        write_header(&mut self.frame, l.ts);
                        self.out.write_raw(&self.frame);
                    }
                    Some(last) => {
                        self.frame.clear();
                        write_close(&mut self.frame, last);
                        if self.out.would_rotate(self.buf.len() + self.frame.len()) {
                            self.out.write_raw(&self.frame);
                            self.out.rotate();
                            self.frame.clear();
                            write_header(&mut self.frame, l.ts);
                            self.out.write_raw(&self.frame);
                        }
                    }
                }
                self.last_ts = Some(l.ts);
                self.out.write_raw(&self.buf);
                if !self.out.stopped() {
                    self.out.count_records(1);
                }
            }
            ZeekFormat::Json => {
                format_json(&mut self.buf, l);
                self.out.write_records(&self.buf, 1);
            }
        }
    }

    /// Push buffered lines out.
    pub fn flush(&mut self) {
        self.out.flush();
    }

    /// Write `#close` (TSV), flush and report the first write error.
    pub fn finish(&mut self) -> Result<(), OutputError> {
        if let Some(last) = self.last_ts.take() {
            self.frame.clear();
            write_close(&mut self.frame, last);
            self.out.write_raw(&self.frame);
        }
        self.out.finish()
    }
}

fn zeek_date(ts: TsMicros) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(ts.div_euclid(MICROS), 0)
        .unwrap_or_default()
        .format("%Y-%m-%d-%H-%M-%S")
        .to_string()
}

/// The TSV header, `#open` at `ts`.
pub fn write_header(out: &mut Vec<u8>, ts: TsMicros) {
    out.extend_from_slice(
        b"#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n#open\t",
    );
    out.extend_from_slice(zeek_date(ts).as_bytes());
    out.extend_from_slice(b"\n#fields");
    for f in FIELDS {
        out.push(b'\t');
        out.extend_from_slice(f.as_bytes());
    }
    out.extend_from_slice(b"\n#types");
    for t in TYPES {
        out.push(b'\t');
        out.extend_from_slice(t.as_bytes());
    }
    out.push(b'\n');
}

/// The TSV footer, `#close` at `ts`.
pub fn write_close(out: &mut Vec<u8>, ts: TsMicros) {
    out.extend_from_slice(b"#close\t");
    out.extend_from_slice(zeek_date(ts).as_bytes());
    out.push(b'\n');
}

/// Epoch seconds with six decimals (`1709539200.250000`), Zeek's `time`
/// in TSV.
fn write_time(out: &mut Vec<u8>, ts: TsMicros) {
    let _ = write!(
        out,
        "{}.{:06}",
        ts.div_euclid(MICROS),
        ts.rem_euclid(MICROS)
    );
}

/// Seconds with six decimals (`300.000000`): an interval in TSV, as
/// Zeek's ASCII writer prints it.
fn write_secs6(out: &mut Vec<u8>, us: i64) {
    write_time(out, us);
}

/// Seconds with at most six decimals and at least one (`300.0`,
/// `0.000362`): an interval (and a JSON `ts`).
fn write_secs(out: &mut Vec<u8>, us: i64) {
    let frac = us.rem_euclid(MICROS);
    let _ = write!(out, "{}.", us.div_euclid(MICROS));
    if frac == 0 {
        out.push(b'0');
        return;
    }
    let mut digits = [0u8; 6];
    let mut f = frac;
    for d in digits.iter_mut().rev() {
        *d = b'0' + (f % 10) as u8;
        f /= 10;
    }
    let keep = digits.iter().rposition(|d| *d != b'0').map_or(1, |i| i + 1);
    out.extend_from_slice(&digits[..keep]);
}

/// One string field of a TSV row, escaped as Zeek's ASCII writer does.
fn tsv_str(out: &mut Vec<u8>, s: &str, in_set: bool) {
    if s.is_empty() {
        out.extend_from_slice(b"(empty)");
        return;
    }
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        let special = (i == 0 && (s == "-" || s == "(empty)"))
            || c == b'\\'
            || c == b'\t'
            || (in_set && c == b',')
            || !(0x20..0x7f).contains(&c);
        if special {
            let _ = write!(out, "\\x{c:02x}");
        } else {
            out.push(c);
        }
    }
}

fn json_str(out: &mut Vec<u8>, s: &str) {
    // Writing a JSON string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Zeek's name of a query class.
fn qclass_name(c: u16) -> Option<&'static str> {
    Some(match c {
        1 => "C_INTERNET",
        3 => "C_CHAOS",
        4 => "C_HESIOD",
        254 => "C_NONE",
        255 => "C_ANY",
        _ => return None,
    })
}

/// Zeek's name of a query type: the mnemonic, `*` for ANY, `query-N`
/// without one.
fn write_qtype_name(out: &mut Vec<u8>, t: u16, json: bool) {
    if json {
        out.push(b'"');
    }
    match rr::type_mnemonic(t) {
        _ if t == qtype::ANY => out.push(b'*'),
        Some(name) => out.extend_from_slice(name.as_bytes()),
        None => {
            let _ = write!(out, "query-{t}");
        }
    }
    if json {
        out.push(b'"');
    }
}

/// Reusable buffers of the row formatters.
#[derive(Debug, Default)]
struct Scratch {
    rr: RrScratch,
    /// One answer as Zeek writes it.
    answer: String,
    /// The TTLs column, built beside the answers.
    ttls: Vec<u8>,
    /// One TXT character-string.
    text: String,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Zeek's answer string of one record into `s` (cleared); `text` is
/// scratch.
fn answer_text(rtype: u16, data: &str, s: &mut String, text: &mut String) {
    use std::fmt::Write as _;
    s.clear();
    if data.starts_with("\\#") && !matches!(rtype, qtype::TXT | 99) {
        let _ = write!(s, "<unknown type={rtype}>");
        return;
    }
    match rtype {
        qtype::A | qtype::AAAA | qtype::CNAME | qtype::NS | qtype::PTR | 39 => s.push_str(data),
        qtype::MX => s.push_str(data.split_once(' ').map_or(data, |(_, x)| x)),
        qtype::SRV => s.push_str(data.rsplit(' ').next().unwrap_or(data)),
        qtype::SOA => s.push_str(data.split(' ').next().unwrap_or(data)),
        qtype::TXT | 99 => {
            let mut rest = data;
            let mut first = true;
            while let Some(r) = super::eve::next_txt_string(rest, text) {
                rest = r;
                if !first {
                    s.push(' ');
                }
                first = false;
                let _ = write!(s, "TXT {} {}", wire_len(text), text);
            }
        }
        _ => {
            let _ = write!(s, "<unknown type={rtype}>");
        }
    }
    if matches!(
        rtype,
        qtype::CNAME | qtype::NS | qtype::PTR | 39 | qtype::MX | qtype::SRV | qtype::SOA
    ) && s.is_empty()
    {
        s.push_str("<root>");
    }
}

/// Bytes of a character-string whose non-printable bytes are `\DDD`.
fn wire_len(text: &str) -> usize {
    let b = text.as_bytes();
    let (mut n, mut i) = (0, 0);
    while i < b.len() {
        if b[i] == b'\\'
            && b.get(i + 1..i + 4)
                .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        {
            i += 4;
        } else {
            i += 1;
        }
        n += 1;
    }
    n
}

/// Call `f(answer, ttl)` for each answer of `l`, as Zeek shows them.
fn for_each_zeek_answer(
    l: &Lookup<'_>,
    sc: &mut Scratch,
    mut f: impl FnMut(&str, u32, &mut Vec<u8>),
) {
    let Scratch {
        rr: rrs,
        answer,
        ttls,
        text,
    } = sc;
    ttls.clear();
    if let Some(wire) = l.detail.response {
        let _ = rr::for_each_answer(wire, rrs, |a| {
            answer_text(a.rtype, a.data, answer, text);
            f(answer, a.ttl, ttls);
        });
    } else {
        for ip in l.answers.ips() {
            use std::fmt::Write as _;
            answer.clear();
            let _ = write!(answer, "{ip}");
            f(answer, l.min_ttl.unwrap_or(0), ttls);
        }
    }
}

fn uid(l: &Lookup<'_>) -> [u8; 18] {
    const B62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let d = &l.detail;
    let server = l.server.unwrap_or(l.client);
    let proto = l
        .transport
        .map_or(0, |t| if t.l4() == "tcp" { 6 } else { 17 });
    let f = flow_id(
        l.client,
        d.client_port.unwrap_or(0),
        server,
        d.server_port.unwrap_or(0),
        proto,
    );
    let mix = |mut x: u64| {
        // splitmix64 finaliser
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    };
    let a = mix(f ^ mix(l.ts as u64));
    let b = mix(a ^ 0x9e37_79b9_7f4a_7c15);
    let mut n = (u128::from(a) << 64) | u128::from(b);
    let mut out = [b'C'; 18];
    for c in out[1..].iter_mut() {
        *c = B62[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// Flags of the lookup (response's, else query's; none from logs).
fn flags(l: &Lookup<'_>) -> u16 {
    l.detail.flags.unwrap_or(0)
}

/// Format the TSV row of one lookup (with its newline) into `out`.
///
/// ```
/// use sentineldns::event::Lookup;
/// let l = Lookup::new(1_709_539_200_250_000, "10.0.0.7".parse()?, "example.com");
/// let mut row = Vec::new();
/// sentineldns::output::zeek::format_tsv(&mut row, &l);
/// let row = String::from_utf8(row)?;
/// let cols: Vec<&str> = row.trim_end().split('\t').collect();
/// assert_eq!(cols.len(), 24);
/// assert_eq!((cols[0], cols[9], cols[13], cols[15]), ("1709539200.250000", "example.com", "A", "NOERROR"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn format_tsv(out: &mut Vec<u8>, l: &Lookup<'_>) {
    SCRATCH.with(|sc| format_tsv_with(out, l, &mut sc.borrow_mut()))
}

fn format_tsv_with(out: &mut Vec<u8>, l: &Lookup<'_>, sc: &mut Scratch) {
    let d = &l.detail;
    let unset = |out: &mut Vec<u8>| out.extend_from_slice(b"\t-");
    write_time(out, l.ts);
    out.push(b'\t');
    out.extend_from_slice(&uid(l));
    let _ = write!(out, "\t{}", l.client);
    match d.client_port {
        Some(p) => {
            let _ = write!(out, "\t{p}");
        }
        None => unset(out),
    }
    match l.server {
        Some(s) => {
            let _ = write!(out, "\t{s}");
        }
        None => unset(out),
    }
    match d.server_port {
        Some(p) => {
            let _ = write!(out, "\t{p}");
        }
        None => unset(out),
    }
    match l.transport {
        Some(t) => {
            let _ = write!(out, "\t{}", t.l4());
        }
        None => unset(out),
    }
    match d.id {
        Some(id) => {
            let _ = write!(out, "\t{id}");
        }
        None => unset(out),
    }
    match l.latency_us {
        Some(us) => {
            out.push(b'\t');
            write_secs6(out, i64::from(us));
        }
        None => unset(out),
    }
    out.push(b'\t');
    if l.qname.is_empty() {
        out.extend_from_slice(b"<root>");
    } else {
        tsv_str(out, l.qname, false);
    }
    match d.qclass {
        Some(c) => {
            let _ = write!(out, "\t{c}\t");
            match qclass_name(c) {
                Some(n) => out.extend_from_slice(n.as_bytes()),
                None => {
                    let _ = write!(out, "qclass-{c}");
                }
            }
        }
        None => {
            unset(out);
            unset(out);
        }
    }
    let _ = write!(out, "\t{}\t", l.qtype);
    write_qtype_name(out, l.qtype, false);
    match l.rcode {
        Some(r) => {
            let _ = write!(out, "\t{r}\t");
            if r <= 10 {
                out.extend_from_slice(rcode_name(r).as_bytes());
            } else {
                out.push(b'?');
            }
        }
        None => {
            unset(out);
            unset(out);
        }
    }
    let fl = flags(l);
    let tf = |b: bool| if b { "T" } else { "F" };
    let _ = write!(
        out,
        "\t{}\t{}\t{}\t{}\t{}\t",
        tf(fl & 0x0400 != 0),
        tf(fl & 0x0200 != 0),
        tf(fl & 0x0100 != 0),
        tf(fl & 0x0080 != 0),
        (fl >> 4) & 7
    );
    let mark = out.len();
    let mut n = 0;
    for_each_zeek_answer(l, sc, |a, ttl, ttls| {
        if n > 0 {
            out.push(b',');
            ttls.push(b',');
        }
        n += 1;
        tsv_str(out, a, true);
        write_secs6(ttls, i64::from(ttl) * MICROS);
    });
    if n == 0 {
        out.truncate(mark);
        out.extend_from_slice(b"-\t-");
    } else {
        out.push(b'\t');
        out.extend_from_slice(&sc.ttls);
    }
    let _ = writeln!(
        out,
        "\t{}",
        tf(l.rcode == Some(crate::event::rcode::REFUSED))
    );
}

/// Format the JSON row of one lookup (with its newline) into `out`.
///
/// ```
/// use sentineldns::event::Lookup;
/// let l = Lookup::new(1_709_539_200_250_000, "10.0.0.7".parse()?, "example.com");
/// let mut row = Vec::new();
/// sentineldns::output::zeek::format_json(&mut row, &l);
/// let v: serde_json::Value = serde_json::from_slice(&row)?;
/// assert_eq!(v["ts"], 1709539200.25);
/// assert_eq!(v["id.orig_h"], "10.0.0.7");
/// assert_eq!(v["qtype_name"], "A");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn format_json(out: &mut Vec<u8>, l: &Lookup<'_>) {
    SCRATCH.with(|sc| format_json_with(out, l, &mut sc.borrow_mut()))
}

fn format_json_with(out: &mut Vec<u8>, l: &Lookup<'_>, sc: &mut Scratch) {
    let d = &l.detail;
    out.extend_from_slice(b"{\"ts\":");
    write_secs(out, l.ts);
    out.extend_from_slice(b",\"uid\":\"");
    out.extend_from_slice(&uid(l));
    let _ = write!(out, "\",\"id.orig_h\":\"{}\"", l.client);
    if let Some(p) = d.client_port {
        let _ = write!(out, ",\"id.orig_p\":{p}");
    }
    if let Some(s) = l.server {
        let _ = write!(out, ",\"id.resp_h\":\"{s}\"");
    }
    if let Some(p) = d.server_port {
        let _ = write!(out, ",\"id.resp_p\":{p}");
    }
    if let Some(t) = l.transport {
        let _ = write!(out, ",\"proto\":\"{}\"", t.l4());
    }
    if let Some(id) = d.id {
        let _ = write!(out, ",\"trans_id\":{id}");
    }
    if let Some(us) = l.latency_us {
        out.extend_from_slice(b",\"rtt\":");
        write_secs(out, i64::from(us));
    }
    out.extend_from_slice(b",\"query\":");
    json_str(
        out,
        if l.qname.is_empty() {
            "<root>"
        } else {
            l.qname
        },
    );
    if let Some(c) = d.qclass {
        let _ = write!(out, ",\"qclass\":{c},\"qclass_name\":");
        match qclass_name(c) {
            Some(n) => json_str(out, n),
            None => {
                let _ = write!(out, "\"qclass-{c}\"");
            }
        }
    }
    let _ = write!(out, ",\"qtype\":{},\"qtype_name\":", l.qtype);
    write_qtype_name(out, l.qtype, true);
    if let Some(r) = l.rcode {
        let _ = write!(out, ",\"rcode\":{r},\"rcode_name\":");
        if r <= 10 {
            json_str(out, &rcode_name(r));
        } else {
            out.extend_from_slice(b"\"?\"");
        }
    }
    let fl = flags(l);
    let _ = write!(
        out,
        ",\"AA\":{},\"TC\":{},\"RD\":{},\"RA\":{},\"Z\":{}",
        fl & 0x0400 != 0,
        fl & 0x0200 != 0,
        fl & 0x0100 != 0,
        fl & 0x0080 != 0,
        (fl >> 4) & 7
    );
    let mark = out.len();
    out.extend_from_slice(b",\"answers\":[");
    let mut n = 0;
    for_each_zeek_answer(l, sc, |a, ttl, ttls| {
        if n > 0 {
            out.push(b',');
            ttls.push(b',');
        }
        n += 1;
        json_str(out, a);
        write_secs(ttls, i64::from(ttl) * MICROS);
    });
    if n == 0 {
        out.truncate(mark);
    } else {
        out.extend_from_slice(b"],\"TTLs\":[");
        out.extend_from_slice(&sc.ttls);
        out.push(b']');
    }
    let _ = writeln!(
        out,
        ",\"rejected\":{}}}",
        l.rcode == Some(crate::event::rcode::REFUSED)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::LookupOutcome;
    use crate::output::eve::tests::{lookup, response};

    #[test]
    fn tsv_row_is_exact() {
        let wire = response();
        let l = lookup(&wire);
        let mut out = Vec::new();
        format_tsv(&mut out, &l);
        let row = String::from_utf8(out).unwrap();
        let u = String::from_utf8(uid(&l).to_vec()).unwrap();
        assert_eq!(
            row,
            format!(
                "1709539200.250000\t{u}\t10.0.0.7\t40000\t10.0.0.53\t53\tudp\t4660\t0.001500\twww.example.com\t\
                 1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t\
                 web.example.com,93.184.216.34,TXT 11 v=spf1 -all TXT 3 a\"b\t3600.000000,300.000000,60.000000\tF\n"
            )
        );
        assert_eq!(u.len(), 18);
        assert!(u.starts_with('C') && u.bytes().all(|b| b.is_ascii_alphanumeric()));
    }

    #[test]
    fn json_row_is_exact() {
        let wire = response();
        let l = lookup(&wire);
        let mut out = Vec::new();
        format_json(&mut out, &l);
        let row = String::from_utf8(out).unwrap();
        let u = String::from_utf8(uid(&l).to_vec()).unwrap();
        assert_eq!(
            row,
            format!(
                "{{\"ts\":1709539200.25,\"uid\":\"{u}\",\"id.orig_h\":\"10.0.0.7\",\"id.orig_p\":40000,\
                 \"id.resp_h\":\"10.0.0.53\",\"id.resp_p\":53,\"proto\":\"udp\",\"trans_id\":4660,\
                 \"rtt\":0.0015,\"query\":\"www.example.com\",\"qclass\":1,\"qclass_name\":\"C_INTERNET\",\
                 \"qtype\":1,\"qtype_name\":\"A\",\"rcode\":0,\"rcode_name\":\"NOERROR\",\"AA\":false,\
                 \"TC\":false,\"RD\":true,\"RA\":true,\"Z\":0,\"answers\":[\"web.example.com\",\
                 \"93.184.216.34\",\"TXT 11 v=spf1 -all TXT 3 a\\\"b\"],\"TTLs\":[3600.0,300.0,60.0],\
                 \"rejected\":false}}\n"
            )
        );
    }

    /// Every rotated file is a dns.log of its own: header first, `#close`
    /// last, rows counted once.
    #[test]
    fn rotated_files_each_have_header_and_close() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dns.log");
        let metrics = Arc::new(Metrics::default());
        let mut w = ZeekWriter::open(
            &ZeekConfig {
                path: path.clone(),
                max_bytes: Some(1500),
                keep: 10,
                ..Default::default()
            },
            metrics.clone(),
        )
        .unwrap();
        for i in 0..20 {
            let l = Lookup::new(
                1_709_539_200 * MICROS + i * MICROS,
                "10.0.0.7".parse().unwrap(),
                "example.com",
            );
            w.write_lookup(&l);
        }
        w.finish().unwrap();
        let mut rows = 0;
        let mut files = vec![path.clone()];
        files.extend(
            (1..=10)
                .map(|i| crate::output::ndjson::rotated_path(&path, i))
                .filter(|p| p.exists()),
        );
        assert!(files.len() > 2, "{files:?}");
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            assert!(text.starts_with("#separator \\x09\n"), "{f:?}: {text}");
            assert!(
                text.lines()
                    .last()
                    .unwrap()
                    .starts_with("#close\t2024-03-04-08-00-"),
                "{f:?}: {text}"
            );
            assert_eq!(text.matches("#fields").count(), 1, "{f:?}");
            rows += text.lines().filter(|l| !l.starts_with('#')).count();
        }
        assert_eq!(rows, 20);
        let m = &metrics.zeek;
        assert_eq!(m.lines.load(std::sync::atomic::Ordering::Relaxed), 20);
        assert_eq!(
            m.rotations.load(std::sync::atomic::Ordering::Relaxed) as usize,
            files.len() - 1
        );
    }

    #[test]
    fn escaping_and_unset_fields() {
        let l = Lookup {
            rcode: None,
            outcome: LookupOutcome::Unanswered,
            ..Lookup::new(5, "10.0.0.7".parse().unwrap(), "a\tb\\c,d\u{e9}")
        };
        let mut out = Vec::new();
        format_tsv(&mut out, &l);
        let row = String::from_utf8(out).unwrap();
        let cols: Vec<&str> = row.trim_end_matches('\n').split('\t').collect();
        assert_eq!(cols.len(), 24, "{row}");
        assert_eq!(cols[0], "0.000005");
        assert_eq!(cols[9], "a\\x09b\\x5cc,d\\xc3\\xa9");
        for i in [3, 4, 5, 6, 7, 8, 10, 11, 14, 15, 21, 22] {
            assert_eq!(cols[i], "-", "column {} of {row}", FIELDS[i]);
        }
        let mut s = Vec::new();
        tsv_str(&mut s, "-", true);
        tsv_str(&mut s, "x,y", true);
        assert_eq!(s, b"\\x2dx\\x2cy");
        let mut t = Vec::new();
        write_secs(&mut t, 300 * MICROS);
        t.push(b' ');
        write_secs(&mut t, 362);
        assert_eq!(t, b"300.0 0.000362");
        let mut h = Vec::new();
        write_header(&mut h, 1_709_539_200 * MICROS);
        let h = String::from_utf8(h).unwrap();
        assert!(
            h.starts_with("#separator \\x09\n#set_separator\t,\n"),
            "{h}"
        );
        assert!(h.contains("#open\t2024-03-04-08-00-00\n#fields\tts\tuid\tid.orig_h"));
        assert!(h.ends_with("vector[string]\tvector[interval]\tbool\n"));
    }
}
