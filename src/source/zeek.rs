//! Zeek `dns.log`, in both of Zeek's writers: the ASCII (TSV) writer with its
//! `#separator` / `#fields` header, and JSON lines (`LogAscii::use_json`).
//!
//! Rows become the same [`JsonEvent`]s the JSONL reader yields, so they reach
//! the windows through [`crate::pipeline`] exactly like JSONL events: `ts`,
//! `id.orig_h` (client), `id.resp_h` (server), `proto` (transport), `query`,
//! `qtype` (or `qtype_name`), `rcode` (or `rcode_name`; unset = no response),
//! `rtt` (latency), `answers` (addresses kept, every answer counted) and
//! `TTLs` (the smallest becomes the lookup's TTL); an unset `qtype` is 0. A
//! row whose `query` is unset (a reply with no question) is a bad line. Ports are read but the
//! [`crate::event::Lookup`] has no port fields, so they stop here.
//!
//! The TSV header is honoured as written: the separator (`\x09` escaped),
//! `#set_separator`, `#empty_field` (`(empty)`) and `#unset_field` (`-`);
//! values are unescaped (`\xHH`). Column order comes from `#fields`, so logs
//! with extra or reordered columns read as they are. A row before any
//! `#fields` line, or one missing a required column, is a bad line (counted
//! by the caller with its line number); header lines are not events.

use super::jsonl::JsonEvent;
use crate::decode::dns::check_text_name;
use crate::event::{parse_rcode, qtype, Answers, LookupOutcome, Transport};
use serde::Deserialize;
use std::borrow::Cow;
use std::net::IpAddr;

/// What one line of a Zeek log produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZeekLine {
    /// `ev` holds a lookup.
    Event,
    /// A `#` header line (not an event, not an error).
    Header,
}

/// Column positions of the fields we read, from `#fields`.
#[derive(Debug, Clone, Default)]
struct Columns {
    ts: Option<usize>,
    orig_h: Option<usize>,
    resp_h: Option<usize>,
    proto: Option<usize>,
    rtt: Option<usize>,
    query: Option<usize>,
    qtype: Option<usize>,
    qtype_name: Option<usize>,
    rcode: Option<usize>,
    rcode_name: Option<usize>,
    answers: Option<usize>,
    ttls: Option<usize>,
}

/// State of a TSV reader: the header as read so far.
#[derive(Debug, Clone)]
pub struct ZeekTsv {
    sep: String,
    set_sep: String,
    empty: String,
    unset: String,
    path: Option<String>,
    cols: Option<Columns>,
    scratch: String,
}

impl Default for ZeekTsv {
    fn default() -> Self {
        ZeekTsv {
            sep: "\t".into(),
            set_sep: ",".into(),
            empty: "(empty)".into(),
            unset: "-".into(),
            path: None,
            cols: None,
            scratch: String::new(),
        }
    }
}

/// Replace Zeek's `\xHH` escapes in `s`, writing into `out` (cleared first).
fn unescape_into(s: &str, out: &mut String) {
    out.clear();
    let b = s.as_bytes();
    let mut i = 0;
    let mut bytes: Vec<u8> = Vec::new();
    let mut plain = true;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1] == b'x' {
            if let (Some(h), Some(l)) = (hex(b[i + 2]), hex(b[i + 3])) {
                if plain {
                    bytes.extend_from_slice(&b[..i]);
                    plain = false;
                }
                bytes.push(h << 4 | l);
                i += 4;
                continue;
            }
        }
        if !plain {
            bytes.push(b[i]);
        }
        i += 1;
    }
    if plain {
        out.push_str(s);
    } else {
        out.push_str(&String::from_utf8_lossy(&bytes));
    }
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Fill the name, qtype and rcode of `ev` from their text forms.
fn set_query(
    ev: &mut JsonEvent,
    query: &str,
    qtype_num: Option<&str>,
    qtype_name: Option<&str>,
    rcode_num: Option<&str>,
    rcode_name: Option<&str>,
) -> Result<(), String> {
    let q = query.trim();
    if q.is_empty() {
        return Err("`query` is unset (no question in this transaction)".into());
    }
    // The root, as sentineldns's Zeek output (and Suricata) write it.
    let q = if q == "<root>" { "" } else { q };
    let q = check_text_name(q).map_err(|e| format!("`query` refused: {e}"))?;
    ev.domain.clear();
    ev.domain.extend(q.chars().map(|c| c.to_ascii_lowercase()));
    ev.qtype = match (qtype_num, qtype_name) {
        (Some(n), _) => n
            .trim()
            .parse()
            .map_err(|_| format!("`qtype` {n:?} is not a number"))?,
        (None, Some(s)) => qtype::parse(s).ok_or_else(|| format!("`qtype_name` {s:?} unknown"))?,
        // Zeek leaves qtype unset when a reply carried a name but no usable
        // question section; such a row is still a lookup of that name.
        (None, None) => 0,
    };
    ev.rcode = match (rcode_num, rcode_name) {
        (Some(n), _) => Some(
            n.trim()
                .parse()
                .map_err(|_| format!("`rcode` {n:?} is not a number"))?,
        ),
        (None, Some(s)) => {
            Some(parse_rcode(s).ok_or_else(|| format!("`rcode_name` {s:?} unknown"))?)
        }
        (None, None) => None,
    };
    Ok(())
}

fn parse_ip(field: &str, v: &str) -> Result<IpAddr, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("`{field}` {v:?} is not an IP address"))
}

fn transport(proto: Option<&str>) -> Option<Transport> {
    match proto.map(str::trim) {
        Some(p) if p.eq_ignore_ascii_case("udp") => Some(Transport::Udp),
        Some(p) if p.eq_ignore_ascii_case("tcp") => Some(Transport::Tcp),
        _ => None,
    }
}

/// Seconds (Zeek `interval`) as whole microseconds, saturating.
fn secs_to_us(s: f64) -> Option<u32> {
    (s.is_finite() && s >= 0.0).then(|| (s * 1e6).min(u32::MAX as f64) as u32)
}

fn reset(ev: &mut JsonEvent) {
    ev.answers = Answers::default();
    ev.ttl = None;
    ev.server = None;
    ev.label = None;
    ev.scenario = None;
    ev.response_bytes = 0;
    ev.latency_us = None;
    ev.transport = None;
    ev.outcome = None;
}

/// A row with a response code saw the reply; one without is unanswered.
fn set_outcome(ev: &mut JsonEvent) {
    ev.outcome = Some(if ev.rcode.is_some() {
        LookupOutcome::Answered
    } else {
        LookupOutcome::Unanswered
    });
}

impl ZeekTsv {
    /// The `#path` header, if seen (`dns` for a dns.log).
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    fn header(&mut self, line: &str) -> Result<(), String> {
        if let Some(v) = line.strip_prefix("#separator ") {
            let mut s = String::new();
            unescape_into(v.trim_end_matches(['\r', '\n']), &mut s);
            if s.is_empty() {
                return Err("`#separator` is empty".into());
            }
            self.sep = s;
            return Ok(());
        }
        let mut parts = line.splitn(2, self.sep.as_str());
        let key = parts.next().unwrap_or("");
        let val = parts.next().unwrap_or("");
        match key {
            "#set_separator" => self.set_sep = val.to_string(),
            "#empty_field" => self.empty = val.to_string(),
            "#unset_field" => self.unset = val.to_string(),
            "#path" => self.path = Some(val.to_string()),
            "#fields" => {
                let mut c = Columns::default();
                for (i, name) in val.split(self.sep.as_str()).enumerate() {
                    let slot = match name {
                        "ts" => &mut c.ts,
                        "id.orig_h" => &mut c.orig_h,
                        "id.resp_h" => &mut c.resp_h,
                        "proto" => &mut c.proto,
                        "rtt" => &mut c.rtt,
                        "query" => &mut c.query,
                        "qtype" => &mut c.qtype,
                        "qtype_name" => &mut c.qtype_name,
                        "rcode" => &mut c.rcode,
                        "rcode_name" => &mut c.rcode_name,
                        "answers" => &mut c.answers,
                        "TTLs" => &mut c.ttls,
                        _ => continue,
                    };
                    *slot = Some(i);
                }
                let mut missing = Vec::new();
                for (n, v) in [("ts", c.ts), ("id.orig_h", c.orig_h), ("query", c.query)] {
                    if v.is_none() {
                        missing.push(n);
                    }
                }
                if c.qtype.is_none() && c.qtype_name.is_none() {
                    missing.push("qtype");
                }
                if !missing.is_empty() {
                    let path = self.path.as_deref().unwrap_or("?");
                    self.cols = None;
                    return Err(format!(
                        "`#fields` lacks {} (#path {path}: not a Zeek dns.log?)",
                        missing.join(", ")
                    ));
                }
                self.cols = Some(c);
            }
            _ => {}
        }
        Ok(())
    }

    /// Read one line (terminator removed) into `ev`.
    pub fn parse_line(&mut self, line: &str, ev: &mut JsonEvent) -> Result<ZeekLine, String> {
        if line.starts_with('#') {
            self.header(line)?;
            return Ok(ZeekLine::Header);
        }
        let Some(c) = self.cols.clone() else {
            return Err("row before a usable `#fields` header".into());
        };
        // At most ~24 columns in a dns.log: a small fixed array, no allocation.
        let mut f: [&str; 64] = [""; 64];
        let mut n = 0;
        for v in line.split(self.sep.as_str()) {
            if n < f.len() {
                f[n] = v;
            }
            n += 1;
        }
        let unset = self.unset.as_str();
        let empty = self.empty.as_str();
        let get = |i: Option<usize>| -> Option<&str> {
            let i = i?;
            let v = *f.get(i)?;
            if i >= n || v == unset || v == empty {
                None
            } else {
                Some(v)
            }
        };
        reset(ev);
        let ts = get(c.ts).ok_or("`ts` is unset")?;
        ev.ts = ts
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(sentineldns_model::time::epoch_to_micros)
            .ok_or_else(|| format!("`ts` {ts:?} is not epoch seconds"))?;
        ev.host = Some(parse_ip(
            "id.orig_h",
            get(c.orig_h).ok_or("`id.orig_h` is unset")?,
        )?);
        ev.server = get(c.resp_h)
            .map(|v| parse_ip("id.resp_h", v))
            .transpose()?;
        ev.transport = transport(get(c.proto));
        let mut q = std::mem::take(&mut self.scratch);
        unescape_into(get(c.query).unwrap_or(""), &mut q);
        let r = set_query(
            ev,
            &q,
            get(c.qtype),
            get(c.qtype_name),
            get(c.rcode),
            get(c.rcode_name),
        );
        self.scratch = q;
        r?;
        ev.latency_us = get(c.rtt)
            .and_then(|v| v.trim().parse::<f64>().ok())
            .and_then(secs_to_us);
        if let Some(a) = get(c.answers) {
            for s in a.split(self.set_sep.as_str()) {
                ev.answers.total = ev.answers.total.saturating_add(1);
                if let Ok(ip) = s.trim().parse::<IpAddr>() {
                    ev.answers.push(ip);
                }
            }
        }
        if let Some(t) = get(c.ttls) {
            ev.ttl = t
                .split(self.set_sep.as_str())
                .filter_map(|v| v.trim().parse::<f64>().ok())
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(|v| v.min(u32::MAX as f64) as u32)
                .min();
        }
        set_outcome(ev);
        Ok(ZeekLine::Event)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Num<'a> {
    N(f64),
    #[serde(borrow)]
    S(Cow<'a, str>),
}

#[derive(Deserialize)]
struct RawZeekJson<'a> {
    #[serde(borrow)]
    ts: Num<'a>,
    #[serde(borrow, rename = "id.orig_h")]
    orig_h: Cow<'a, str>,
    #[serde(borrow, rename = "id.resp_h", default)]
    resp_h: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    proto: Option<Cow<'a, str>>,
    #[serde(default)]
    rtt: Option<f64>,
    #[serde(borrow, default)]
    query: Option<Cow<'a, str>>,
    #[serde(default)]
    qtype: Option<u16>,
    #[serde(borrow, default)]
    qtype_name: Option<Cow<'a, str>>,
    #[serde(default)]
    rcode: Option<u16>,
    #[serde(borrow, default)]
    rcode_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    answers: Option<Vec<Cow<'a, str>>>,
    #[serde(default, rename = "TTLs")]
    ttls: Option<Vec<f64>>,
}

/// Read one Zeek JSON `dns.log` line into `ev`. `ts` may be epoch seconds (a
/// number or numeric string) or ISO 8601 (`LogAscii::json_timestamps`).
pub fn parse_json_line(line: &str, ev: &mut JsonEvent) -> Result<(), String> {
    let raw: RawZeekJson<'_> = serde_json::from_str(line).map_err(|e| e.to_string())?;
    reset(ev);
    ev.ts = match &raw.ts {
        Num::N(n) => sentineldns_model::time::epoch_to_micros(*n),
        Num::S(s) => sentineldns_model::time::parse_ts(s),
    }
    .ok_or("`ts` is not epoch seconds or ISO 8601")?;
    ev.host = Some(parse_ip("id.orig_h", &raw.orig_h)?);
    ev.server = raw
        .resp_h
        .as_deref()
        .map(|v| parse_ip("id.resp_h", v))
        .transpose()?;
    ev.transport = transport(raw.proto.as_deref());
    let qt = raw.qtype.map(|n| n.to_string());
    let rc = raw.rcode.map(|n| n.to_string());
    set_query(
        ev,
        raw.query.as_deref().unwrap_or(""),
        qt.as_deref(),
        raw.qtype_name.as_deref(),
        rc.as_deref(),
        raw.rcode_name.as_deref(),
    )?;
    ev.latency_us = raw.rtt.and_then(secs_to_us);
    if let Some(a) = &raw.answers {
        ev.answers.total = a.len().min(u16::MAX as usize) as u16;
        for s in a {
            if let Ok(ip) = s.trim().parse::<IpAddr>() {
                ev.answers.push(ip);
            }
        }
    }
    ev.ttl = raw.ttls.as_ref().and_then(|t| {
        t.iter()
            .filter(|v| v.is_finite() && **v >= 0.0)
            .map(|v| v.min(u32::MAX as f64) as u32)
            .min()
    });
    set_outcome(ev);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool";

    fn tsv() -> ZeekTsv {
        let mut z = ZeekTsv::default();
        let mut ev = JsonEvent::default();
        for l in HEADER.lines() {
            assert_eq!(z.parse_line(l, &mut ev).unwrap(), ZeekLine::Header);
        }
        z
    }

    #[test]
    fn tsv_row_with_rtt_answers_ttls() {
        let mut z = tsv();
        let mut ev = JsonEvent::default();
        let row = "1300475168.652003\tCsWr9d\t141.142.220.118\t35634\t208.80.152.2\t53\ttcp\t14450\t0.031000\tWWW.wikipedia.org\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\twikipedia-lb.wikimedia.org,208.80.152.2\t3600.000000,120.000000\tF";
        assert_eq!(z.parse_line(row, &mut ev).unwrap(), ZeekLine::Event);
        assert_eq!(ev.ts, 1_300_475_168_652_003);
        assert_eq!(ev.domain, "www.wikipedia.org");
        assert_eq!(ev.qtype, 1);
        assert_eq!(ev.rcode, Some(0));
        assert_eq!(ev.latency_us, Some(31_000));
        assert_eq!(ev.answers.total, 2);
        assert_eq!(
            ev.answers.ips(),
            ["208.80.152.2".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(ev.ttl, Some(120));
        assert_eq!(ev.transport, Some(Transport::Tcp));
        assert_eq!(ev.server, Some("208.80.152.2".parse().unwrap()));
        assert_eq!(ev.outcome, Some(LookupOutcome::Answered));
    }

    #[test]
    fn tsv_unset_empty_and_escapes() {
        let mut z = tsv();
        let mut ev = JsonEvent::default();
        let row = "1.5\tC\t10.0.0.1\t5\t10.0.0.2\t53\tudp\t1\t-\ta\\x2eb.example\t-\t-\t28\t-\t-\t-\tF\tF\tT\tF\t0\t(empty)\t-\tF";
        z.parse_line(row, &mut ev).unwrap();
        assert_eq!(ev.domain, "a.b.example");
        assert_eq!(ev.qtype, 28);
        assert_eq!(ev.rcode, None);
        assert_eq!(ev.outcome, Some(LookupOutcome::Unanswered));
        assert_eq!(ev.latency_us, None);
        assert_eq!(ev.answers.total, 0);
        assert_eq!(ev.ttl, None);
    }

    #[test]
    fn tsv_bad_rows_say_why() {
        let mut z = ZeekTsv::default();
        let mut ev = JsonEvent::default();
        assert!(z
            .parse_line("1.0\tx", &mut ev)
            .unwrap_err()
            .contains("#fields"));
        let mut z = tsv();
        for (row, needle) in [
            ("nope\tC\t10.0.0.1", "ts"),
            (
                "1.0\tC\tnot-ip\t5\t10.0.0.2\t53\tudp\t1\t-\ta.b",
                "id.orig_h",
            ),
            (
                "1.0\tC\t10.0.0.1\t5\t10.0.0.2\t53\tudp\t1\t-\t-\t-\t-\t1\tA\t0\tNOERROR",
                "query",
            ),
        ] {
            let e = z.parse_line(row, &mut ev).unwrap_err();
            assert!(e.contains(needle), "{row}: {e}");
        }
        let mut z = ZeekTsv::default();
        z.parse_line("#path\tconn", &mut ev).unwrap();
        let e = z
            .parse_line("#fields\tts\tuid\tid.orig_h\tduration", &mut ev)
            .unwrap_err();
        assert!(e.contains("#path conn"), "{e}");
    }

    #[test]
    fn json_epoch_and_iso_timestamps() {
        let mut ev = JsonEvent::default();
        parse_json_line(r#"{"ts":1300475168.652003,"uid":"C","id.orig_h":"141.142.220.118","id.orig_p":35634,"id.resp_h":"208.80.152.2","id.resp_p":53,"proto":"udp","trans_id":14450,"rtt":0.000188,"query":"www.wikipedia.org","qclass":1,"qtype":1,"qtype_name":"A","rcode":0,"rcode_name":"NOERROR","answers":["wikipedia-lb.wikimedia.org","208.80.152.2"],"TTLs":[3600.0,120.0]}"#, &mut ev).unwrap();
        assert_eq!(ev.ts, 1_300_475_168_652_003);
        assert_eq!(ev.latency_us, Some(188));
        assert_eq!(ev.ttl, Some(120));
        assert_eq!(ev.answers.total, 2);
        assert_eq!(ev.transport, Some(Transport::Udp));
        parse_json_line(r#"{"ts":"2011-03-18T19:06:08.652003Z","uid":"C","id.orig_h":"::1","query":"a.example","qtype_name":"AAAA"}"#, &mut ev).unwrap();
        assert_eq!(ev.ts, 1_300_475_168_652_003);
        assert_eq!(ev.qtype, 28);
        assert_eq!(ev.rcode, None);
        let e = parse_json_line(
            r#"{"ts":1.0,"uid":"C","id.orig_h":"10.0.0.1","qtype":1}"#,
            &mut ev,
        )
        .unwrap_err();
        assert!(e.contains("query"), "{e}");
    }
}
