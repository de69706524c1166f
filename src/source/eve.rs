//! Suricata EVE JSON, `event_type: dns` records, into the same
//! [`JsonEvent`]s the JSONL reader yields.
//!
//! Suricata has written DNS three ways, and all three are read:
//! * one record per query and one per answer RR (`type: query` / `type:
//!   answer` with top-level `rrname`, `rrtype`, `ttl`, `rdata`; Suricata 4 and
//!   the `detailed` answers of later versions without `version`);
//! * `version: 2`: one `query` record, one `answer` record carrying `rcode`,
//!   `answers` (`rrname`, `rrtype`, `ttl`, `rdata`) and/or `grouped`;
//! * `version: 3` (Suricata 8): `type: request` / `response` with a
//!   `queries` array and the same `answers` / `grouped`.
//!
//! Query and answer halves are paired by DNS id and flow (`flow_id`, or the
//! address/port pair in either direction when there is none) in a bounded
//! map ([`MAX_PENDING`]). A complete response (v2, v3, or a record with no
//! `rdata`) is emitted at once with its latency (answer time − query time);
//! per-RR answers are merged until the pair is [`LINGER`] old by the file's
//! own clock. A query never answered becomes an unanswered lookup (rcode
//! unset), as in the packet path; an answer never queried is a lookup of its
//! own. Entries pushed out of the full map are emitted too and counted
//! ([`EvePairer::evicted`]), as are expiries ([`EvePairer::expired`]).
//!
//! Timestamps are ISO 8601 with a `+0000`-style offset (RFC 3339's
//! `+00:00` also works). Records of other event types are ignored, not
//! errors.

use super::jsonl::JsonEvent;
use crate::decode::dns::check_text_name;
use crate::event::{parse_rcode, qtype, Answers, LookupOutcome, Transport, TsMicros};
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

/// Most query/answer halves waiting for their other half.
pub const MAX_PENDING: usize = 65_536;

/// How long (file time) a half waits for the other before it is emitted.
pub const LINGER: TsMicros = 2_000_000;

#[derive(Deserialize)]
#[serde(untagged)]
enum Text<'a> {
    #[serde(borrow)]
    S(Cow<'a, str>),
    Other(serde::de::IgnoredAny),
}

impl Text<'_> {
    fn as_str(&self) -> Option<&str> {
        match self {
            Text::S(s) => Some(s),
            Text::Other(_) => None,
        }
    }
}

#[derive(Deserialize)]
struct RawRr<'a> {
    #[serde(borrow, default)]
    rrtype: Option<Cow<'a, str>>,
    #[serde(default)]
    ttl: Option<u32>,
    #[serde(borrow, default)]
    rdata: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct RawQuery<'a> {
    #[serde(borrow, default)]
    rrname: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    rrtype: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawDns<'a> {
    #[serde(default)]
    version: Option<u32>,
    #[serde(borrow, rename = "type", default)]
    kind: Option<Cow<'a, str>>,
    #[serde(default)]
    id: Option<u16>,
    #[serde(borrow, default)]
    rrname: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    rrtype: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    rcode: Option<Cow<'a, str>>,
    #[serde(default)]
    ttl: Option<u32>,
    #[serde(borrow, default)]
    rdata: Option<Text<'a>>,
    #[serde(borrow, default)]
    queries: Option<Vec<RawQuery<'a>>>,
    #[serde(borrow, default)]
    answers: Option<Vec<RawRr<'a>>>,
    #[serde(borrow, default)]
    grouped: Option<HashMap<Cow<'a, str>, Vec<Text<'a>>>>,
}

#[derive(Deserialize)]
struct RawEve<'a> {
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    #[serde(default)]
    flow_id: Option<u64>,
    #[serde(borrow, default)]
    src_ip: Option<Cow<'a, str>>,
    #[serde(default)]
    src_port: Option<u16>,
    #[serde(borrow, default)]
    dest_ip: Option<Cow<'a, str>>,
    #[serde(default)]
    dest_port: Option<u16>,
    #[serde(borrow, default)]
    proto: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    dns: Option<RawDns<'a>>,
}

/// Suricata's timestamp (`2016-05-24T23:27:01.960780+0000`), or RFC 3339.
pub fn parse_eve_ts(s: &str) -> Option<TsMicros> {
    let t = s.trim();
    suricata_ts(t.as_bytes()).or_else(|| {
        chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z")
            .ok()
            .map(|d| d.timestamp_micros())
            .or_else(|| sentineldns_model::time::parse_ts(t))
    })
}

/// Suricata's exact shape, `YYYY-MM-DDTHH:MM:SS[.f{1,9}]±HHMM` (years 1970
/// to 9999, seconds 0 to 59), read by hand: chrono's format-string parser
/// cost ~3,100 instructions a line, 12 % of an EVE replay (issue 18).
/// `None` for anything else, which then goes to chrono as before; the two
/// agree on every input this accepts (tested).
fn suricata_ts(b: &[u8]) -> Option<TsMicros> {
    fn num(b: &[u8]) -> Option<i64> {
        let mut n = 0i64;
        for &c in b {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + i64::from(c - b'0');
        }
        Some(n)
    }
    if b.len() < 24
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
    let (h, mi, sec) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    let mut i = 19;
    let mut micros = 0i64;
    if b[i] == b'.' {
        let start = i + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        let digits = end - start;
        if !(1..=9).contains(&digits) {
            return None;
        }
        // Nanoseconds, then truncated to microseconds as chrono's
        // `timestamp_micros` does for times after 1970.
        let mut nanos = num(&b[start..end])?;
        for _ in digits..9 {
            nanos *= 10;
        }
        micros = nanos / 1000;
        i = end;
    }
    let tz = b.get(i..)?;
    if tz.len() != 5 || !(tz[0] == b'+' || tz[0] == b'-') {
        return None;
    }
    let (oh, om) = (num(&tz[1..3])?, num(&tz[3..5])?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mdays = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1970..=9999).contains(&y)
        || !(1..=12).contains(&mo)
        || d < 1
        || d > mdays[(mo - 1) as usize]
        || h > 23
        || mi > 59
        || sec > 59
        || oh > 23
        || om > 59
    {
        return None;
    }
    // Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    let (yy, mm) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mm + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let offset = (oh * 3600 + om * 60) * if tz[0] == b'-' { -1 } else { 1 };
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset;
    Some(secs * 1_000_000 + micros)
}

/// Ports on which the server side of a DNS exchange listens.
fn is_dns_port(p: u16) -> bool {
    matches!(p, 53 | 853 | 5353 | 5355 | 443)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum FlowKey {
    Id(u64),
    Pair(IpAddr, u16, IpAddr, u16),
}

type Key = (FlowKey, u16);

#[derive(Debug)]
struct Pending {
    ev: JsonEvent,
    query_ts: Option<TsMicros>,
    answered: bool,
    last: TsMicros,
}

/// What one EVE line did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EveLine {
    /// A DNS record, taken into the pairing map (events may now be ready).
    Dns,
    /// A record of another event type (flow, alert, stats …): not DNS.
    Ignored,
}

/// Pairs EVE DNS halves; ready lookups come out of [`EvePairer::pop_ready`].
#[derive(Debug, Default)]
pub struct EvePairer {
    pending: HashMap<Key, Pending>,
    ready: VecDeque<JsonEvent>,
    clock: TsMicros,
    last_scan: TsMicros,
    expired: u64,
    evicted: u64,
    spare: Vec<JsonEvent>,
}

impl EvePairer {
    /// Halves emitted because their partner did not come within [`LINGER`].
    pub fn expired(&self) -> u64 {
        self.expired
    }

    /// Halves emitted early because the map was full.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// The next lookup ready to go, oldest first among those released together.
    pub fn pop_ready(&mut self, ev: &mut JsonEvent) -> bool {
        match self.ready.pop_front() {
            Some(mut e) => {
                std::mem::swap(ev, &mut e);
                self.spare.push(e);
                true
            }
            None => false,
        }
    }

    /// Release everything still waiting (end of file). Returns whether any was.
    pub fn flush_all(&mut self) -> bool {
        if self.pending.is_empty() {
            return false;
        }
        let mut out: Vec<Pending> = self.pending.drain().map(|(_, p)| p).collect();
        out.sort_by_key(|p| p.ev.ts);
        for p in out {
            if !p.answered {
                self.expired += 1;
            }
            self.ready.push_back(p.ev);
        }
        true
    }

    fn release_old(&mut self) {
        if self.clock.saturating_sub(self.last_scan) < LINGER / 2 {
            return;
        }
        self.last_scan = self.clock;
        let horizon = self.clock.saturating_sub(LINGER);
        let mut old: Vec<Key> = self
            .pending
            .iter()
            .filter(|(_, p)| p.last < horizon)
            .map(|(k, _)| *k)
            .collect();
        old.sort_by_key(|k| self.pending.get(k).map(|p| p.ev.ts));
        for k in old {
            if let Some(p) = self.pending.remove(&k) {
                self.expired += 1;
                self.ready.push_back(p.ev);
            }
        }
    }

    fn evict_one(&mut self) {
        let oldest = self
            .pending
            .iter()
            .min_by_key(|(_, p)| p.last)
            .map(|(k, _)| *k);
        if let Some(k) = oldest {
            if let Some(p) = self.pending.remove(&k) {
                self.evicted += 1;
                self.ready.push_back(p.ev);
            }
        }
    }

    fn fresh(&mut self) -> JsonEvent {
        self.spare.pop().unwrap_or_default()
    }

    /// Read one EVE line.
    pub fn parse_line(&mut self, line: &str) -> Result<EveLine, String> {
        let raw: RawEve<'_> = serde_json::from_str(line).map_err(|e| e.to_string())?;
        if raw.event_type != "dns" {
            return Ok(EveLine::Ignored);
        }
        let ts = parse_eve_ts(&raw.timestamp)
            .ok_or_else(|| format!("`timestamp` {:?} is not ISO 8601", raw.timestamp))?;
        let dns = raw.dns.as_ref().ok_or("`dns` object missing")?;
        let ip = |v: &Option<Cow<'_, str>>, f: &str| -> Result<IpAddr, String> {
            let v = v.as_deref().ok_or_else(|| format!("`{f}` missing"))?;
            v.trim()
                .parse()
                .map_err(|_| format!("`{f}` {v:?} is not an IP address"))
        };
        let (src, dst) = (ip(&raw.src_ip, "src_ip")?, ip(&raw.dest_ip, "dest_ip")?);
        let (sp, dp) = (raw.src_port.unwrap_or(0), raw.dest_port.unwrap_or(0));
        let kind = dns.kind.as_deref().unwrap_or("");
        let is_query = match kind {
            "query" | "request" => true,
            "answer" | "response" => false,
            other => return Err(format!("`dns.type` {other:?} is neither query nor answer")),
        };
        // The client: the sender of a query; for an answer, the side that is
        // not on a DNS port (Suricata logs TCP answers in the flow's direction).
        let (client, server) = if is_query || (!is_dns_port(sp) && is_dns_port(dp)) {
            (src, dst)
        } else {
            (dst, src)
        };
        let (cport, sport) = if client == src { (sp, dp) } else { (dp, sp) };
        let flow = match raw.flow_id {
            Some(f) => FlowKey::Id(f),
            None => FlowKey::Pair(client, cport, server, sport),
        };
        let key: Key = (flow, dns.id.unwrap_or(0));
        // Name and type: v3 `queries[0]`, else top-level.
        let q0 = dns.queries.as_ref().and_then(|q| q.first());
        let rrname = q0
            .and_then(|q| q.rrname.as_deref())
            .or(dns.rrname.as_deref());
        let rrtype = q0
            .and_then(|q| q.rrtype.as_deref())
            .or(dns.rrtype.as_deref());
        let complete = !is_query
            && (dns.version.unwrap_or(1) >= 2
                || dns.answers.is_some()
                || dns.grouped.is_some()
                || dns.queries.is_some()
                || dns.rdata.is_none());
        self.clock = self.clock.max(ts);

        if is_query {
            if let Some(p) = self.pending.get_mut(&key) {
                if p.query_ts.is_none() {
                    // The answer was logged first: complete it now.
                    p.query_ts = Some(ts);
                    p.ev.outcome = Some(LookupOutcome::Answered);
                    p.ev.latency_us = latency(ts, p.last);
                    p.ev.ts = ts;
                    if let Some(p) = self.pending.remove(&key) {
                        self.ready.push_back(p.ev);
                    }
                    self.release_old();
                    return Ok(EveLine::Dns);
                }
                // A retransmission reusing the id: the old one goes as it is.
                if let Some(p) = self.pending.remove(&key) {
                    self.expired += u64::from(!p.answered);
                    self.ready.push_back(p.ev);
                }
            }
            let mut ev = self.fresh();
            fill_base(&mut ev, ts, client, server, raw.proto.as_deref());
            set_name_type(&mut ev, rrname, rrtype)?;
            ev.rcode = None;
            ev.outcome = Some(LookupOutcome::Unanswered);
            if self.pending.len() >= MAX_PENDING {
                self.evict_one();
            }
            self.pending.insert(
                key,
                Pending {
                    ev,
                    query_ts: Some(ts),
                    answered: false,
                    last: ts,
                },
            );
        } else {
            let rcode = match dns.rcode.as_deref() {
                Some(r) => Some(
                    parse_rcode(r)
                        .ok_or_else(|| format!("`rcode` {r:?} is not a response code"))?,
                ),
                None => Some(0),
            };
            if !self.pending.contains_key(&key) {
                let mut ev = self.fresh();
                fill_base(&mut ev, ts, client, server, raw.proto.as_deref());
                set_name_type(&mut ev, rrname, rrtype)?;
                if self.pending.len() >= MAX_PENDING {
                    self.evict_one();
                }
                self.pending.insert(
                    key,
                    Pending {
                        ev,
                        query_ts: None,
                        answered: false,
                        last: ts,
                    },
                );
            }
            let Some(p) = self.pending.get_mut(&key) else {
                return Err("pairing map lost an entry".into());
            };
            p.answered = true;
            p.last = ts;
            p.ev.rcode = rcode;
            p.ev.outcome = Some(if p.query_ts.is_some() {
                LookupOutcome::Answered
            } else {
                LookupOutcome::Unsolicited
            });
            if let Some(q) = p.query_ts {
                p.ev.latency_us = latency(q, ts);
            }
            let ev = &mut p.ev;
            let mut add = |rrtype: Option<&str>, ttl: Option<u32>, rdata: Option<&str>| {
                ev.answers.total = ev.answers.total.saturating_add(1);
                if let Some(t) = ttl {
                    ev.ttl = Some(ev.ttl.map_or(t, |m| m.min(t)));
                }
                let is_addr = matches!(rrtype, None | Some("A") | Some("AAAA"));
                if let Some(ip) = rdata
                    .filter(|_| is_addr)
                    .and_then(|d| d.trim().parse::<IpAddr>().ok())
                {
                    ev.answers.push(ip);
                }
            };
            if let Some(a) = &dns.answers {
                for rr in a {
                    add(
                        rr.rrtype.as_deref(),
                        rr.ttl,
                        rr.rdata.as_ref().and_then(Text::as_str),
                    );
                }
            } else if let Some(g) = &dns.grouped {
                for (t, vals) in g {
                    for v in vals {
                        add(Some(t), None, v.as_str());
                    }
                }
            } else if dns.rdata.is_some() {
                add(
                    dns.rrtype.as_deref(),
                    dns.ttl,
                    dns.rdata.as_ref().and_then(Text::as_str),
                );
            }
            if complete && p.query_ts.is_some() {
                if let Some(p) = self.pending.remove(&key) {
                    self.ready.push_back(p.ev);
                }
            }
        }
        self.release_old();
        Ok(EveLine::Dns)
    }
}

fn latency(q: TsMicros, a: TsMicros) -> Option<u32> {
    let d = a.checked_sub(q)?;
    (d >= 0).then(|| d.min(u32::MAX as i64) as u32)
}

fn fill_base(
    ev: &mut JsonEvent,
    ts: TsMicros,
    client: IpAddr,
    server: IpAddr,
    proto: Option<&str>,
) {
    ev.ts = ts;
    ev.host = Some(client);
    ev.server = Some(server);
    ev.transport = match proto {
        Some(p) if p.eq_ignore_ascii_case("udp") => Some(Transport::Udp),
        Some(p) if p.eq_ignore_ascii_case("tcp") => Some(Transport::Tcp),
        _ => None,
    };
    ev.answers = Answers::default();
    ev.ttl = None;
    ev.rcode = None;
    ev.label = None;
    ev.scenario = None;
    ev.response_bytes = 0;
    ev.latency_us = None;
}

fn set_name_type(ev: &mut JsonEvent, name: Option<&str>, ty: Option<&str>) -> Result<(), String> {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    let name = name.ok_or("`rrname` missing")?;
    // Suricata writes the root as `<root>`.
    let name = if name == "<root>" { "" } else { name };
    let name = check_text_name(name).map_err(|e| format!("`rrname` refused: {e}"))?;
    ev.domain.clear();
    ev.domain
        .extend(name.chars().map(|c| c.to_ascii_lowercase()));
    let ty = ty.ok_or("`rrtype` missing")?;
    ev.qtype = qtype::parse(ty).ok_or_else(|| format!("`rrtype` {ty:?} is not a query type"))?;
    Ok(())
}

#[cfg(test)]
mod tests {

    /// The hand-read Suricata timestamp agrees with chrono's parse on
    /// every shape it accepts, and leaves everything else to chrono.
    #[test]
    fn suricata_timestamps_read_by_hand_match_chrono() {
        let chrono_ts = |t: &str| {
            chrono::DateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f%z")
                .ok()
                .map(|d| d.timestamp_micros())
        };
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut accepted = 0;
        for _ in 0..50_000 {
            let frac = match next(4) {
                0 => String::new(),
                1 => format!(".{:06}", next(1_000_000)),
                2 => format!(".{}", next(10)),
                _ => format!(".{:09}", next(1_000_000_000)),
            };
            let t = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{frac}{}{:02}{:02}",
                1969 + next(140),
                next(14),
                next(33),
                next(25),
                next(61),
                next(61),
                if next(2) == 0 { '+' } else { '-' },
                next(25),
                next(61)
            );
            let fast = suricata_ts(t.as_bytes());
            if fast.is_some() {
                accepted += 1;
                assert_eq!(fast, chrono_ts(&t), "{t}");
            }
            assert_eq!(
                parse_eve_ts(&t),
                chrono_ts(&t).or_else(|| sentineldns_model::time::parse_ts(&t)),
                "{t}"
            );
        }
        assert!(accepted > 20_000, "{accepted}");
        assert_eq!(
            parse_eve_ts("2016-05-24T23:27:01.960780+0000"),
            Some(1_464_132_421_960_780)
        );
        for other in [
            "2016-05-24T23:27:01Z",
            "2016-05-24 23:27:01",
            "2016-05-24T23:27:01.960780+00:00",
        ] {
            assert_eq!(suricata_ts(other.as_bytes()), None, "{other}");
        }
    }

    use super::*;

    fn drain(p: &mut EvePairer) -> Vec<JsonEvent> {
        let mut out = Vec::new();
        let mut ev = JsonEvent::default();
        while p.pop_ready(&mut ev) {
            out.push(ev.clone());
        }
        out
    }

    #[test]
    fn timestamps_with_plus_0000() {
        assert_eq!(
            parse_eve_ts("2016-05-24T23:27:01.960780+0000"),
            Some(1_464_132_421_960_780)
        );
        assert_eq!(
            parse_eve_ts("2016-05-24T17:27:01.960780-0600"),
            Some(1_464_132_421_960_780)
        );
        assert_eq!(
            parse_eve_ts("2016-05-24T23:27:01.960780+00:00"),
            Some(1_464_132_421_960_780)
        );
        assert_eq!(parse_eve_ts("yesterday"), None);
    }

    #[test]
    fn v2_query_and_grouped_answer_pair_with_latency() {
        let mut p = EvePairer::default();
        p.parse_line(r#"{"timestamp":"2020-03-05T02:49:15.650000+0000","flow_id":7,"event_type":"dns","src_ip":"172.31.8.201","src_port":47930,"dest_ip":"172.31.0.2","dest_port":53,"proto":"UDP","dns":{"version":2,"type":"query","id":60065,"rrname":"Host.Example","rrtype":"A","tx_id":0}}"#).unwrap();
        assert!(drain(&mut p).is_empty());
        p.parse_line(r#"{"timestamp":"2020-03-05T02:49:15.653247+0000","flow_id":7,"event_type":"dns","src_ip":"172.31.8.201","src_port":47930,"dest_ip":"172.31.0.2","dest_port":53,"proto":"UDP","dns":{"version":2,"type":"answer","id":60065,"flags":"8180","qr":true,"rrname":"host.example","rrtype":"A","rcode":"NOERROR","answers":[{"rrname":"host.example","rrtype":"CNAME","ttl":300,"rdata":"x.example"},{"rrname":"x.example","rrtype":"A","ttl":60,"rdata":"172.31.8.201"}],"grouped":{"A":["172.31.8.201"]}}}"#).unwrap();
        let got = drain(&mut p);
        assert_eq!(got.len(), 1);
        let e = &got[0];
        assert_eq!(e.domain, "host.example");
        assert_eq!(e.host, Some("172.31.8.201".parse().unwrap()));
        assert_eq!(e.server, Some("172.31.0.2".parse().unwrap()));
        assert_eq!(e.latency_us, Some(3_247));
        assert_eq!(e.ttl, Some(60));
        assert_eq!(e.answers.total, 2);
        assert_eq!(e.answers.ips().len(), 1);
        assert_eq!(e.rcode, Some(0));
        assert_eq!(e.transport, Some(Transport::Udp));
        assert_eq!(e.outcome, Some(LookupOutcome::Answered));
    }

    #[test]
    fn v3_request_and_response() {
        let mut p = EvePairer::default();
        p.parse_line(r#"{"timestamp":"2026-09-21T14:13:20.000000+0000","event_type":"dns","src_ip":"10.77.0.23","src_port":40000,"dest_ip":"10.77.0.1","dest_port":53,"proto":"UDP","dns":{"version":3,"type":"request","id":4660,"queries":[{"rrname":"_googlecast._tcp.example.com","rrtype":"A"}]}}"#).unwrap();
        p.parse_line(r#"{"timestamp":"2026-09-21T14:13:20.010000+0000","event_type":"dns","src_ip":"10.77.0.1","src_port":53,"dest_ip":"10.77.0.23","dest_port":40000,"proto":"UDP","dns":{"version":3,"type":"response","id":4660,"rcode":"NXDOMAIN","queries":[{"rrname":"_googlecast._tcp.example.com","rrtype":"A"}]}}"#).unwrap();
        let got = drain(&mut p);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].rcode, Some(3));
        assert_eq!(got[0].latency_us, Some(10_000));
        assert_eq!(got[0].host, Some("10.77.0.23".parse().unwrap()));
    }

    #[test]
    fn unanswered_query_expires_and_is_counted() {
        let mut p = EvePairer::default();
        let q = |ts: &str, id: u16, name: &str| {
            format!(
                r#"{{"timestamp":"{ts}","event_type":"dns","src_ip":"10.0.0.1","src_port":999,"dest_ip":"10.0.0.2","dest_port":53,"proto":"UDP","dns":{{"type":"query","id":{id},"rrname":"{name}","rrtype":"A"}}}}"#
            )
        };
        p.parse_line(&q("2020-01-01T00:00:00.000000+0000", 1, "a.example"))
            .unwrap();
        p.parse_line(&q("2020-01-01T00:00:05.000000+0000", 2, "b.example"))
            .unwrap();
        let got = drain(&mut p);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].domain, "a.example");
        assert_eq!(got[0].rcode, None);
        assert_eq!(got[0].outcome, Some(LookupOutcome::Unanswered));
        assert_eq!(p.expired(), 1);
        assert!(p.flush_all());
        assert_eq!(drain(&mut p).len(), 1);
        assert_eq!(
            p.parse_line(r#"{"timestamp":"2020-01-01T00:00:00+0000","event_type":"flow"}"#)
                .unwrap(),
            EveLine::Ignored
        );
        for (bad, needle) in [
            (
                r#"{"timestamp":"x","event_type":"dns","src_ip":"1.1.1.1","dest_ip":"1.1.1.1","dns":{"type":"query"}}"#,
                "timestamp",
            ),
            (
                r#"{"timestamp":"2020-01-01T00:00:00+0000","event_type":"dns","src_ip":"1.1.1.1","dest_ip":"1.1.1.1"}"#,
                "dns",
            ),
            (
                r#"{"timestamp":"2020-01-01T00:00:00+0000","event_type":"dns","src_ip":"1.1.1.1","dest_ip":"1.1.1.1","dns":{"type":"query","rrtype":"A"}}"#,
                "rrname",
            ),
        ] {
            let e = p.parse_line(bad).unwrap_err();
            assert!(e.contains(needle), "{bad}: {e}");
        }
    }
}
