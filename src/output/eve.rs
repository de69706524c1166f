//! Suricata EVE JSON `dns` records, as Suricata 7 writes them with
//! `version: 2` (the default of its `dns` logger), for tooling that reads
//! EVE (and for sentineldns itself: [`crate::source::eve`] reads them back).
//!
//! A lookup becomes up to two lines, like a Suricata DNS transaction:
//!
//! * a `type: "query"` record at query time, from the client to the server
//!   (`src_*` = client), with `version: 2`, `id`, `rrname`, `rrtype`, `tx_id` (always 0:
//!   sentineldns does not number transactions per flow) and `opcode`;
//! * a `type: "answer"` record at response time (query time + latency),
//!   from the server to the client, with `version: 2`, `id`, `flags` (the
//!   header's flags word in lowercase hex without padding, `8180`), the set
//!   flags among `qr`, `aa`, `tc`, `rd`, `ra`, `z` as `true` (Suricata writes
//!   no `false`), `opcode`, `rrname`, `rrtype`, `rcode` (`NOERROR`, …; a
//!   number for codes without a name), then `answers` (one object per answer
//!   record: `rrname`, `rrtype`, `ttl` and `rdata`, or `soa` / `srv` objects)
//!   and `grouped` (the `rdata` values by record type, types in order of
//!   first appearance).
//!
//! An answered lookup gets both, an unanswered one (or an mDNS query) only the
//! query, an unsolicited response only the answer. Lookups that came from
//! logs (no DNS message) get the answer's addresses as `A`/`AAAA` records
//! with the lookup's smallest TTL, and `flags` with only QR and the RCODE.
//!
//! Value styles follow Suricata: names without the trailing dot, `<root>` for
//! the root; AAAA `rdata` in Suricata's full form (`2001:0db8:0000:…`); MX
//! `rdata` is the exchange only; TXT gives one answer object per
//! character-string with the text unquoted (`v=spf1 -all`; `\"` and `\\`
//! unescaped, other non-printable bytes stay `\DDD`); SOA and SRV are
//! objects (`soa: {mname, rname, serial, refresh, retry, expire, minimum}`,
//! `srv: {priority, weight, port, name}`); record types Suricata does not
//! show (NULL, DNSKEY, …) have no `rdata` and no `grouped` entry; a type
//! without a mnemonic is its number (`"65280"`).
//!
//! Every record has `timestamp` (`2024-03-04T08:00:00.250000+0000`, UTC),
//! `flow_id` (a stable number below 2^53 from the flow's addresses, ports
//! and protocol, the same on both records), `event_type: "dns"`, `src_ip`,
//! `src_port`, `dest_ip`, `dest_port`, `proto` (`UDP`/`TCP`) and, when the
//! ports are known, `community_id` (Community ID v1, as Suricata's
//! `community-id: yes`). A lookup whose server is not known (some logs) has
//! `dest_ip` `0.0.0.0` (or `::`).
//!
//! Lines are hand-formatted into reused buffers: no allocation per lookup
//! once they have grown.

use super::community_id;
use super::linefile::LineOutput;
use super::metrics::Metrics;
use super::OutputError;
use crate::decode::rr::{self, RrScratch};
use crate::event::{qtype, rcode_name, Lookup, LookupOutcome, TsMicros};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::Arc;

/// `[outputs.eve]`: where Suricata EVE `dns` records go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EveConfig {
    /// File to write, or `-` for stdout (default).
    pub path: PathBuf,
    /// Rotate the file before it would grow past this many bytes (default:
    /// never); a number or a size such as `"100M"`. Ignored for stdout.
    #[serde(deserialize_with = "crate::config::opt_size")]
    pub max_bytes: Option<u64>,
    /// Rotated files kept: `PATH.1` … `PATH.N` (default 5).
    pub keep: usize,
    /// Write `community_id` (default `true`).
    pub community_id: bool,
}

impl Default for EveConfig {
    fn default() -> Self {
        EveConfig {
            path: PathBuf::from("-"),
            max_bytes: None,
            keep: 5,
            community_id: true,
        }
    }
}

impl EveConfig {
    /// Whether the output is stdout.
    pub fn is_stdout(&self) -> bool {
        self.path.as_os_str() == "-"
    }
}

/// The EVE output: records to stdout or a rotating file.
#[derive(Debug)]
pub struct EveWriter {
    out: LineOutput,
    buf: Vec<u8>,
    community_id: bool,
}

impl EveWriter {
    /// Open the output described by `cfg`.
    pub fn open(cfg: &EveConfig, metrics: Arc<Metrics>) -> Result<Self, OutputError> {
        let out = LineOutput::open("EVE", &cfg.path, cfg.max_bytes, cfg.keep, metrics, |m| {
            &m.eve
        })?;
        Ok(EveWriter {
            out,
            buf: Vec::with_capacity(2048),
            community_id: cfg.community_id,
        })
    }

    /// Write the records of one lookup. No allocation once buffers have grown.
    pub fn write_lookup(&mut self, l: &Lookup<'_>) {
        if self.out.stopped() {
            return;
        }
        self.buf.clear();
        let n = format_lookup(&mut self.buf, l, self.community_id);
        if n > 0 {
            self.out.write_records(&self.buf, n);
        }
    }

    /// Push buffered lines out.
    pub fn flush(&mut self) {
        self.out.flush();
    }

    /// Flush and report the first write error.
    pub fn finish(&mut self) -> Result<(), OutputError> {
        self.out.finish()
    }
}

/// Reusable buffers of [`format_lookup`].
#[derive(Debug, Default)]
struct Scratch {
    rr: RrScratch,
    /// JSON-encoded values of `grouped`, back to back.
    arena: Vec<u8>,
    /// (record type, range in `arena`) of each grouped value, in order.
    groups: Vec<(u16, usize, usize)>,
    /// One TXT character-string, unescaped.
    text: String,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// A stable flow number below 2^53 (JSON-safe) from the flow's endpoints
/// and protocol: FNV-1a over client address, client port, server address,
/// server port and protocol number.
pub fn flow_id(client: IpAddr, cport: u16, server: IpAddr, sport: u16, proto: u8) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: &[u8]| {
        for x in b {
            h ^= u64::from(*x);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    match client {
        IpAddr::V4(a) => eat(&a.octets()),
        IpAddr::V6(a) => eat(&a.octets()),
    }
    eat(&cport.to_be_bytes());
    match server {
        IpAddr::V4(a) => eat(&a.octets()),
        IpAddr::V6(a) => eat(&a.octets()),
    }
    eat(&sport.to_be_bytes());
    eat(&[proto]);
    // Never 0 (Suricata's flow ids are positive).
    (h & ((1 << 53) - 1)).max(1)
}

/// Write `ts` as Suricata does (`2024-03-04T08:00:00.250000+0000`), quoted.
pub fn write_eve_ts(out: &mut Vec<u8>, ts: TsMicros) {
    out.push(b'"');
    crate::time::write_rfc3339_micros(out, ts);
    if out.last() == Some(&b'Z') {
        out.pop();
    }
    out.extend_from_slice(b"+0000\"");
}

fn write_str(out: &mut Vec<u8>, s: &str) {
    // Writing a JSON string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// A name as Suricata shows it: `<root>` for the root.
fn write_name(out: &mut Vec<u8>, s: &str) {
    if s.is_empty() {
        out.extend_from_slice(b"\"<root>\"");
    } else {
        write_str(out, s);
    }
}

/// A record type as Suricata names it: the mnemonic, or the number.
fn write_rrtype(out: &mut Vec<u8>, t: u16) {
    match rr::type_mnemonic(t) {
        Some(name) => {
            out.push(b'"');
            out.extend_from_slice(name.as_bytes());
            out.push(b'"');
        }
        None => {
            let _ = write!(out, "\"{t}\"");
        }
    }
}

fn write_rcode(out: &mut Vec<u8>, r: u16) {
    if r <= 10 {
        write_str(out, &rcode_name(r));
    } else {
        let _ = write!(out, "\"{r}\"");
    }
}

/// AAAA as Suricata prints it: eight groups of four hex digits.
fn write_full_v6(out: &mut Vec<u8>, a: &Ipv6Addr) {
    out.push(b'"');
    for (i, s) in a.segments().iter().enumerate() {
        if i > 0 {
            out.push(b':');
        }
        let _ = write!(out, "{s:04x}");
    }
    out.push(b'"');
}

struct Flow {
    client: IpAddr,
    server: IpAddr,
    cport: Option<u16>,
    sport: Option<u16>,
    proto: Option<(&'static str, u8)>,
    id: u64,
}

fn flow_of(l: &Lookup<'_>) -> Flow {
    let server = l.server.unwrap_or(match l.client {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    });
    let proto = l.transport.map(|t| {
        if t.l4() == "tcp" {
            ("TCP", community_id::TCP)
        } else {
            ("UDP", community_id::UDP)
        }
    });
    let (cport, sport) = (l.detail.client_port, l.detail.server_port);
    Flow {
        client: l.client,
        server,
        cport,
        sport,
        proto,
        id: flow_id(
            l.client,
            cport.unwrap_or(0),
            server,
            sport.unwrap_or(0),
            proto.map_or(0, |p| p.1),
        ),
    }
}

/// The fields before `dns`: `{"timestamp":…,"dns":` (open).
fn head(out: &mut Vec<u8>, ts: TsMicros, f: &Flow, to_server: bool, cid: bool) {
    out.extend_from_slice(b"{\"timestamp\":");
    write_eve_ts(out, ts);
    let _ = write!(out, ",\"flow_id\":{},\"event_type\":\"dns\"", f.id);
    let (src, sp, dst, dp) = if to_server {
        (f.client, f.cport, f.server, f.sport)
    } else {
        (f.server, f.sport, f.client, f.cport)
    };
    let _ = write!(out, ",\"src_ip\":\"{src}\"");
    if let Some(p) = sp {
        let _ = write!(out, ",\"src_port\":{p}");
    }
    let _ = write!(out, ",\"dest_ip\":\"{dst}\"");
    if let Some(p) = dp {
        let _ = write!(out, ",\"dest_port\":{p}");
    }
    if let Some((name, num)) = f.proto {
        let _ = write!(out, ",\"proto\":\"{name}\"");
        if let (true, Some(cp), Some(sp)) = (cid, f.cport, f.sport) {
            let mark = out.len();
            out.extend_from_slice(b",\"community_id\":\"");
            if community_id::write_v1(out, 0, f.client, cp, f.server, sp, num) {
                out.push(b'"');
            } else {
                out.truncate(mark);
            }
        }
    }
    out.extend_from_slice(b",\"dns\":");
}

/// Format the EVE records of one lookup (each with its newline) into `out`,
/// which is appended to; returns how many (0 to 2). See the module docs
/// for what each carries.
///
/// ```
/// use sentineldns::event::{Lookup, LookupOutcome};
/// let l = Lookup { outcome: LookupOutcome::Unanswered, rcode: None,
///     ..Lookup::new(1_709_539_200_250_000, "10.0.0.7".parse()?, "example.com") };
/// let mut out = Vec::new();
/// assert_eq!(sentineldns::output::eve::format_lookup(&mut out, &l, true), 1);
/// let v: serde_json::Value = serde_json::from_slice(&out)?;
/// assert_eq!(v["timestamp"], "2024-03-04T08:00:00.250000+0000");
/// assert_eq!(v["dns"]["type"], "query");
/// assert_eq!(v["dns"]["rrname"], "example.com");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn format_lookup(out: &mut Vec<u8>, l: &Lookup<'_>, community_id: bool) -> u64 {
    SCRATCH.with(|sc| {
        let mut sc = sc.borrow_mut();
        format_lookup_with(out, l, community_id, &mut sc)
    })
}

fn format_lookup_with(out: &mut Vec<u8>, l: &Lookup<'_>, cid: bool, sc: &mut Scratch) -> u64 {
    let f = flow_of(l);
    let d = &l.detail;
    let id = d.id.unwrap_or(0);
    let mut n = 0;
    if l.outcome != LookupOutcome::Unsolicited {
        head(out, l.ts, &f, true, cid);
        let _ = write!(
            out,
            "{{\"version\":2,\"type\":\"query\",\"id\":{id},\"rrname\":"
        );
        write_name(out, l.qname);
        out.extend_from_slice(b",\"rrtype\":");
        write_rrtype(out, l.qtype);
        let _ = writeln!(
            out,
            ",\"tx_id\":0,\"opcode\":{}}}}}",
            d.opcode().unwrap_or(0)
        );
        n += 1;
    }
    let Some(rcode) = l.rcode else {
        return n;
    };
    let ts = if l.outcome == LookupOutcome::Unsolicited {
        l.ts
    } else {
        l.ts.saturating_add(i64::from(l.latency_us.unwrap_or(0)))
    };
    head(out, ts, &f, false, cid);
    // Log-derived lookups: QR and the RCODE only.
    let flags = d.flags.unwrap_or(0x8000 | (rcode & 0x0f));
    let _ = write!(
        out,
        "{{\"version\":2,\"type\":\"answer\",\"id\":{id},\"flags\":\"{flags:x}\""
    );
    for (bit, name) in [
        (0x8000u16, "qr"),
        (0x0400, "aa"),
        (0x0200, "tc"),
        (0x0100, "rd"),
        (0x0080, "ra"),
        (0x0040, "z"),
    ] {
        if flags & bit != 0 {
            let _ = write!(out, ",\"{name}\":true");
        }
    }
    let _ = write!(out, ",\"opcode\":{},\"rrname\":", (flags >> 11) & 0x0f);
    write_name(out, l.qname);
    out.extend_from_slice(b",\"rrtype\":");
    write_rrtype(out, l.qtype);
    out.extend_from_slice(b",\"rcode\":");
    write_rcode(out, rcode);
    write_answers(out, l, sc);
    out.extend_from_slice(b"}}\n");
    n + 1
}

/// `,"answers":[…],"grouped":{…}` (nothing when there are none).
fn write_answers(out: &mut Vec<u8>, l: &Lookup<'_>, sc: &mut Scratch) {
    let Scratch {
        rr: rrs,
        arena,
        groups,
        text,
    } = sc;
    arena.clear();
    groups.clear();
    let mark = out.len();
    out.extend_from_slice(b",\"answers\":[");
    let mut count = 0usize;
    let mut group = |arena: &mut Vec<u8>, t: u16, write: &dyn Fn(&mut Vec<u8>)| {
        let start = arena.len();
        write(arena);
        groups.push((t, start, arena.len()));
    };
    if let Some(wire) = l.detail.response {
        let _ = rr::for_each_answer(wire, rrs, |a| {
            let entry = |out: &mut Vec<u8>, count: &mut usize| {
                if *count > 0 {
                    out.push(b',');
                }
                *count += 1;
                out.extend_from_slice(b"{\"rrname\":");
                write_name(out, a.name);
                out.extend_from_slice(b",\"rrtype\":");
                write_rrtype(out, a.rtype);
                let _ = write!(out, ",\"ttl\":{}", a.ttl);
            };
            let data = a.data;
            let raw = data.starts_with("\\#");
            match a.rtype {
                qtype::A if !raw => {
                    entry(out, &mut count);
                    out.extend_from_slice(b",\"rdata\":");
                    write_str(out, data);
                    out.push(b'}');
                    group(arena, a.rtype, &|b| write_str(b, data));
                }
                qtype::AAAA if !raw => {
                    entry(out, &mut count);
                    out.extend_from_slice(b",\"rdata\":");
                    match data.parse::<Ipv6Addr>() {
                        Ok(ip) => {
                            write_full_v6(out, &ip);
                            group(arena, a.rtype, &|b| write_full_v6(b, &ip));
                        }
                        Err(_) => write_str(out, data),
                    }
                    out.push(b'}');
                }
                qtype::CNAME | qtype::NS | qtype::PTR | qtype::MX if !raw => {
                    let name = if a.rtype == qtype::MX {
                        data.split_once(' ').map_or(data, |(_, x)| x)
                    } else {
                        data
                    };
                    entry(out, &mut count);
                    out.extend_from_slice(b",\"rdata\":");
                    write_name(out, name);
                    out.push(b'}');
                    group(arena, a.rtype, &|b| write_name(b, name));
                }
                qtype::TXT if !raw => {
                    let mut rest = data;
                    while let Some(r) = next_txt_string(rest, text) {
                        rest = r;
                        entry(out, &mut count);
                        out.extend_from_slice(b",\"rdata\":");
                        write_str(out, text);
                        out.push(b'}');
                        let t: &str = text;
                        group(arena, a.rtype, &|b| write_str(b, t));
                    }
                }
                qtype::SOA if !raw => {
                    entry(out, &mut count);
                    let mut p = data.split(' ');
                    let (m, r) = (p.next().unwrap_or(""), p.next().unwrap_or(""));
                    let nums: [u32; 5] =
                        std::array::from_fn(|_| p.next().and_then(|x| x.parse().ok()).unwrap_or(0));
                    let soa = |b: &mut Vec<u8>| {
                        b.extend_from_slice(b"{\"mname\":");
                        write_name(b, m);
                        b.extend_from_slice(b",\"rname\":");
                        write_name(b, r);
                        let _ = write!(
                            b,
                            ",\"serial\":{},\"refresh\":{},\"retry\":{},\"expire\":{},\"minimum\":{}}}",
                            nums[0], nums[1], nums[2], nums[3], nums[4]
                        );
                    };
                    out.extend_from_slice(b",\"soa\":");
                    soa(out);
                    out.push(b'}');
                    group(arena, a.rtype, &soa);
                }
                qtype::SRV if !raw => {
                    entry(out, &mut count);
                    let mut p = data.split(' ');
                    let nums: [u16; 3] =
                        std::array::from_fn(|_| p.next().and_then(|x| x.parse().ok()).unwrap_or(0));
                    let target = p.next().unwrap_or("");
                    let srv = |b: &mut Vec<u8>| {
                        let _ = write!(
                            b,
                            "{{\"priority\":{},\"weight\":{},\"port\":{},\"name\":",
                            nums[0], nums[1], nums[2]
                        );
                        write_name(b, target);
                        b.push(b'}');
                    };
                    out.extend_from_slice(b",\"srv\":");
                    srv(out);
                    out.push(b'}');
                    group(arena, a.rtype, &srv);
                }
                _ => {
                    entry(out, &mut count);
                    out.push(b'}');
                }
            }
        });
    } else {
        for ip in l.answers.ips() {
            if count > 0 {
                out.push(b',');
            }
            count += 1;
            out.extend_from_slice(b"{\"rrname\":");
            write_name(out, l.qname);
            let t = match ip {
                IpAddr::V4(_) => qtype::A,
                IpAddr::V6(_) => qtype::AAAA,
            };
            out.extend_from_slice(b",\"rrtype\":");
            write_rrtype(out, t);
            if let Some(ttl) = l.min_ttl {
                let _ = write!(out, ",\"ttl\":{ttl}");
            }
            out.extend_from_slice(b",\"rdata\":");
            match ip {
                IpAddr::V4(a) => {
                    let _ = write!(out, "\"{a}\"");
                    group(arena, t, &|b| {
                        let _ = write!(b, "\"{a}\"");
                    });
                }
                IpAddr::V6(a) => {
                    write_full_v6(out, a);
                    group(arena, t, &|b| write_full_v6(b, a));
                }
            }
            out.push(b'}');
        }
    }
    if count == 0 {
        out.truncate(mark);
        return;
    }
    out.push(b']');
    if groups.is_empty() {
        return;
    }
    out.extend_from_slice(b",\"grouped\":{");
    let mut first_type = true;
    for (i, (t, _, _)) in groups.iter().enumerate() {
        if groups[..i].iter().any(|(u, _, _)| u == t) {
            continue;
        }
        if !first_type {
            out.push(b',');
        }
        first_type = false;
        write_rrtype(out, *t);
        out.extend_from_slice(b":[");
        let mut first = true;
        for (u, s, e) in groups[i..].iter() {
            if u == t {
                if !first {
                    out.push(b',');
                }
                first = false;
                out.extend_from_slice(&arena[*s..*e]);
            }
        }
        out.push(b']');
    }
    out.push(b'}');
}

/// The next quoted character-string of a TXT presentation (`"a b" "c"`)
/// into `text`, unescaped (`\"` and `\\`; `\DDD` stays); returns the rest
/// after it, or `None` when there is none.
pub(crate) fn next_txt_string<'a>(s: &'a str, text: &mut String) -> Option<&'a str> {
    let start = s.find('"')?;
    text.clear();
    let mut chars = s[start + 1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some(&s[start + 1 + i + 1..]),
            '\\' => match chars.next() {
                Some((_, q @ ('"' | '\\'))) => text.push(q),
                Some((_, d)) => {
                    text.push('\\');
                    text.push(d);
                }
                None => text.push('\\'),
            },
            c => text.push(c),
        }
    }
    // Unterminated: what there was.
    Some("")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::event::{LookupDetail, Transport};

    /// A response to `www.example.com A` (id 0x1234, flags 0x8180) with
    /// a CNAME, an A and a TXT of two strings, compressed names.
    pub(crate) fn response() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0];
        // Question at 12: www.example.com A IN.
        m.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        // CNAME www.example.com -> web.example.com (pointer to example.com at 16).
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0x0e, 0x10, 0, 6]);
        let cname_at = m.len();
        m.extend_from_slice(b"\x03web\xc0\x10");
        // A web.example.com 93.184.216.34, TTL 300.
        m.extend_from_slice(&[0xc0, cname_at as u8, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4]);
        m.extend_from_slice(&[93, 184, 216, 34]);
        // TXT web.example.com "v=spf1 -all" "a\"b", TTL 60.
        let txt = b"\x0bv=spf1 -all\x03a\"b";
        m.extend_from_slice(&[0xc0, cname_at as u8, 0, 16, 0, 1, 0, 0, 0, 60, 0]);
        m.push(txt.len() as u8);
        m.extend_from_slice(txt);
        m
    }

    pub(crate) fn lookup(wire: &[u8]) -> Lookup<'_> {
        Lookup {
            server: Some("10.0.0.53".parse().unwrap()),
            transport: Some(Transport::Udp),
            latency_us: Some(1500),
            outcome: LookupOutcome::Answered,
            min_ttl: Some(60),
            detail: LookupDetail {
                id: Some(0x1234),
                client_port: Some(40000),
                server_port: Some(53),
                qclass: Some(1),
                flags: Some(0x8180),
                response: Some(wire),
            },
            ..Lookup::new(
                1_709_539_200_250_000,
                "10.0.0.7".parse().unwrap(),
                "www.example.com",
            )
        }
    }

    #[test]
    fn answered_lookup_is_a_query_and_a_version_2_answer() {
        let wire = response();
        let l = lookup(&wire);
        let mut out = Vec::new();
        assert_eq!(format_lookup(&mut out, &l, true), 2);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let fid = flow_id(l.client, 40000, l.server.unwrap(), 53, 17);
        let mut cid = Vec::new();
        assert!(community_id::write_v1(
            &mut cid,
            0,
            l.client,
            40000,
            l.server.unwrap(),
            53,
            17
        ));
        let cid = String::from_utf8(cid).unwrap();
        assert_eq!(
            lines[0],
            format!(
                "{{\"timestamp\":\"2024-03-04T08:00:00.250000+0000\",\"flow_id\":{fid},\"event_type\":\"dns\",\
                 \"src_ip\":\"10.0.0.7\",\"src_port\":40000,\"dest_ip\":\"10.0.0.53\",\"dest_port\":53,\
                 \"proto\":\"UDP\",\"community_id\":\"{cid}\",\"dns\":{{\"version\":2,\"type\":\"query\",\"id\":4660,\
                 \"rrname\":\"www.example.com\",\"rrtype\":\"A\",\"tx_id\":0,\"opcode\":0}}}}"
            )
        );
        assert_eq!(
            lines[1],
            format!(
                "{{\"timestamp\":\"2024-03-04T08:00:00.251500+0000\",\"flow_id\":{fid},\"event_type\":\"dns\",\
                 \"src_ip\":\"10.0.0.53\",\"src_port\":53,\"dest_ip\":\"10.0.0.7\",\"dest_port\":40000,\
                 \"proto\":\"UDP\",\"community_id\":\"{cid}\",\"dns\":{{\"version\":2,\"type\":\"answer\",\
                 \"id\":4660,\"flags\":\"8180\",\"qr\":true,\"rd\":true,\"ra\":true,\"opcode\":0,\
                 \"rrname\":\"www.example.com\",\"rrtype\":\"A\",\"rcode\":\"NOERROR\",\"answers\":[\
                 {{\"rrname\":\"www.example.com\",\"rrtype\":\"CNAME\",\"ttl\":3600,\"rdata\":\"web.example.com\"}},\
                 {{\"rrname\":\"web.example.com\",\"rrtype\":\"A\",\"ttl\":300,\"rdata\":\"93.184.216.34\"}},\
                 {{\"rrname\":\"web.example.com\",\"rrtype\":\"TXT\",\"ttl\":60,\"rdata\":\"v=spf1 -all\"}},\
                 {{\"rrname\":\"web.example.com\",\"rrtype\":\"TXT\",\"ttl\":60,\"rdata\":\"a\\\"b\"}}],\
                 \"grouped\":{{\"CNAME\":[\"web.example.com\"],\"A\":[\"93.184.216.34\"],\
                 \"TXT\":[\"v=spf1 -all\",\"a\\\"b\"]}}}}}}"
            )
        );
        assert!(fid < 1 << 53);
    }

    #[test]
    fn unanswered_unsolicited_and_log_lookups() {
        let wire = response();
        let base = lookup(&wire);
        let mut out = Vec::new();
        let q = Lookup {
            outcome: LookupOutcome::Unanswered,
            rcode: None,
            latency_us: None,
            detail: LookupDetail {
                response: None,
                flags: Some(0x0100),
                ..base.detail
            },
            ..base
        };
        assert_eq!(format_lookup(&mut out, &q, false), 1);
        assert!(!String::from_utf8_lossy(&out).contains("community_id"));
        out.clear();
        let u = Lookup {
            outcome: LookupOutcome::Unsolicited,
            latency_us: None,
            ..base
        };
        assert_eq!(format_lookup(&mut out, &u, true), 1);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["dns"]["type"], "answer");
        assert_eq!(v["timestamp"], "2024-03-04T08:00:00.250000+0000");
        out.clear();
        // From a log: no wire, two addresses, no server.
        let mut answers = crate::event::Answers::default();
        answers.push("192.0.2.1".parse().unwrap());
        answers.push("2001:db8::1".parse().unwrap());
        let g = Lookup {
            rcode: Some(3),
            answers,
            min_ttl: Some(30),
            ..Lookup::new(1_709_539_200_000_000, "10.0.0.7".parse().unwrap(), "")
        };
        assert_eq!(format_lookup(&mut out, &g, true), 2);
        let text = String::from_utf8(out).unwrap();
        let a: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
        assert_eq!(a["dest_ip"], "10.0.0.7");
        assert_eq!(a["src_ip"], "0.0.0.0");
        assert_eq!(a["dns"]["flags"], "8003");
        assert_eq!(a["dns"]["rcode"], "NXDOMAIN");
        assert_eq!(a["dns"]["rrname"], "<root>");
        assert_eq!(
            a["dns"]["grouped"]["AAAA"][0],
            "2001:0db8:0000:0000:0000:0000:0000:0001"
        );
        assert_eq!(a["dns"]["answers"][0]["ttl"], 30);
        assert!(a.get("community_id").is_none() && a.get("proto").is_none());
    }

    #[test]
    fn txt_strings_are_unquoted() {
        let mut t = String::new();
        let rest = next_txt_string(r#""a \"q\" \\ \009" "b""#, &mut t).unwrap();
        assert_eq!(t, r#"a "q" \ \009"#);
        assert_eq!(next_txt_string(rest, &mut t), Some(""));
        assert_eq!(t, "b");
        assert_eq!(next_txt_string("", &mut t), None);
        assert_eq!(
            flow_id("::1".parse().unwrap(), 1, "::2".parse().unwrap(), 53, 6),
            flow_id("::1".parse().unwrap(), 1, "::2".parse().unwrap(), 53, 6)
        );
    }
}
