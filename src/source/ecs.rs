//! sentineldns's own ECS lookup lines read back into [`JsonEvent`]s.
//!
//! The NDJSON `lookups` output and the Kafka lookups topic carry one line per
//! lookup, written by [`crate::output::ndjson::format_lookup`] (`event.dataset`
//! `sentineldns.lookup`). That line holds everything the pipeline took from
//! the lookup: microsecond `@timestamp`, client (`source.ip`), resolver
//! (`destination.ip`), `network.protocol` and `transport`, question name and
//! type, response code, up to four answer addresses with the smallest TTL,
//! latency (`event.duration`, ns), query and response sizes, the total answer
//! count, the outcome and any ground-truth label/scenario. Reading it back and
//! feeding it to [`crate::sensor::Sensor::event`] rebuilds the same lookup, so
//! `sentineldns score` (and `replay` of a lookup file) windows and scores it
//! as the sensor that captured it would have. The enrichment fields of the
//! line (`risk`, `lure`, `new_domain`, ...) are ignored: the reader's own
//! enricher recomputes them.
//!
//! Other sentineldns records of the same NDJSON file (window and incident
//! lines, `event.module` `sentineldns` with another dataset) are passed over
//! as ignored records, so a `--ndjson --ndjson-lookups` file replays as it is.
//! A line that is not such a record, lacks a required field or carries a
//! value of the wrong shape is an error (the caller counts it as a bad line).

use super::jsonl::JsonEvent;
use crate::decode::dns::check_text_name;
use crate::event::{
    parse_rcode, qtype, Answers, DnsService, LookupDetail, LookupOutcome, Transport,
};
use serde::Deserialize;
use std::borrow::Cow;
use std::net::IpAddr;

/// The `event.dataset` of a lookup line.
pub const DATASET: &str = "sentineldns.lookup";

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(rename = "@timestamp", borrow)]
    timestamp: Cow<'a, str>,
    #[serde(borrow)]
    event: Event<'a>,
    #[serde(borrow, default)]
    network: Option<Network<'a>>,
    #[serde(borrow)]
    source: Endpoint<'a>,
    #[serde(borrow, default)]
    destination: Option<Endpoint<'a>>,
    #[serde(borrow)]
    dns: Dns<'a>,
    #[serde(borrow)]
    sentineldns: Sentineldns<'a>,
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    dataset: Cow<'a, str>,
    #[serde(default)]
    duration: Option<u64>,
}

#[derive(Deserialize)]
struct Network<'a> {
    #[serde(borrow, default)]
    protocol: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    transport: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Endpoint<'a> {
    #[serde(borrow)]
    ip: Cow<'a, str>,
    #[serde(default)]
    port: Option<u16>,
}

#[derive(Deserialize)]
struct Dns<'a> {
    #[serde(borrow)]
    question: Question<'a>,
    #[serde(borrow, default)]
    response_code: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    resolved_ip: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    op_code: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    header_flags: Option<Vec<Cow<'a, str>>>,
}

#[derive(Deserialize)]
struct Question<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow, rename = "type")]
    qtype: Cow<'a, str>,
    #[serde(borrow, default)]
    class: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Sentineldns<'a> {
    #[serde(borrow)]
    lookup: LookupFields<'a>,
}

#[derive(Deserialize)]
struct LookupFields<'a> {
    #[serde(borrow)]
    outcome: Cow<'a, str>,
    #[serde(default)]
    answers_total: u16,
    #[serde(default)]
    query_bytes: u32,
    #[serde(default)]
    response_bytes: u32,
    #[serde(default)]
    min_ttl: Option<u32>,
    #[serde(borrow, default)]
    label: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    scenario: Option<Cow<'a, str>>,
}

/// Whether `line` is another sentineldns record (a window or incident line
/// of the same NDJSON output), to be passed over rather than read.
pub fn is_other_record(line: &str) -> bool {
    line.contains("\"module\":\"sentineldns\"")
        && !line.contains("\"dataset\":\"sentineldns.lookup\"")
}

fn outcome(s: &str) -> Option<LookupOutcome> {
    Some(match s {
        "answered" => LookupOutcome::Answered,
        "unanswered" => LookupOutcome::Unanswered,
        "unsolicited" => LookupOutcome::Unsolicited,
        "event" => LookupOutcome::Event,
        "multicast" => LookupOutcome::Multicast,
        _ => return None,
    })
}

fn ip(s: &str, what: &str) -> Result<IpAddr, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("`{what}` {s:?} is not an IP address"))
}

fn set_opt(slot: &mut Option<String>, v: Option<&str>) {
    match v {
        None => *slot = None,
        Some(v) => {
            let s = slot.get_or_insert_with(String::new);
            s.clear();
            s.push_str(v);
        }
    }
}

/// Fill `ev` from one lookup line. Errors are human-readable reasons.
pub fn parse_line(line: &str, ev: &mut JsonEvent) -> Result<(), String> {
    let raw: Line<'_> = serde_json::from_str(line).map_err(|e| e.to_string())?;
    if raw.event.dataset != DATASET {
        return Err(format!(
            "`event.dataset` is {:?}, not {DATASET:?}",
            raw.event.dataset
        ));
    }
    ev.ts = crate::source::jsonl::parse_ts(&raw.timestamp)
        .ok_or_else(|| "`@timestamp` is not RFC 3339".to_string())?;
    ev.host = Some(ip(&raw.source.ip, "source.ip")?);
    ev.server = match &raw.destination {
        None => None,
        Some(d) => Some(ip(&d.ip, "destination.ip")?),
    };
    let name = raw.dns.question.name.as_ref();
    if name.is_empty() {
        return Err("`dns.question.name` is empty".into());
    }
    check_text_name(name).map_err(|e| format!("`dns.question.name` refused: {e}"))?;
    ev.domain.clear();
    ev.domain
        .extend(name.chars().map(|c| c.to_ascii_lowercase()));
    ev.qtype = qtype::parse(&raw.dns.question.qtype).ok_or_else(|| {
        format!(
            "`dns.question.type` {:?} is not a query type",
            raw.dns.question.qtype
        )
    })?;
    ev.rcode = match &raw.dns.response_code {
        None => None,
        Some(r) => {
            Some(parse_rcode(r).ok_or_else(|| format!("`dns.response_code` {r:?} is not a code"))?)
        }
    };
    let l = &raw.sentineldns.lookup;
    ev.answers = Answers::default();
    for a in raw.dns.resolved_ip.iter().flatten() {
        ev.answers.push(ip(a, "dns.resolved_ip")?);
    }
    ev.answers.total = l.answers_total;
    ev.ttl = l.min_ttl;
    ev.latency_us = match raw.event.duration {
        None => None,
        Some(ns) => Some(
            u32::try_from(ns / 1000).map_err(|_| format!("`event.duration` {ns} is too large"))?,
        ),
    };
    ev.query_bytes = l.query_bytes;
    ev.response_bytes = l.response_bytes;
    ev.outcome = Some(
        outcome(&l.outcome)
            .ok_or_else(|| format!("`sentineldns.lookup.outcome` {:?} is unknown", l.outcome))?,
    );
    let net = raw.network.as_ref();
    ev.service = match net.and_then(|n| n.protocol.as_deref()) {
        None | Some("dns") => DnsService::Dns,
        Some("mdns") => DnsService::Mdns,
        Some("llmnr") => DnsService::Llmnr,
        Some(p) => return Err(format!("`network.protocol` {p:?} is unknown")),
    };
    ev.transport = match net.and_then(|n| n.transport.as_deref()) {
        None => None,
        Some("udp") => Some(Transport::Udp),
        Some("tcp") => Some(Transport::Tcp),
        Some(t) => return Err(format!("`network.transport` {t:?} is unknown")),
    };
    set_opt(&mut ev.label, l.label.as_deref());
    set_opt(&mut ev.scenario, l.scenario.as_deref());
    ev.detail = detail(&raw, ev.rcode)?;
    Ok(())
}

/// Ports, id, class and header flags of a line (all optional).
fn detail(raw: &Line<'_>, rcode: Option<u16>) -> Result<LookupDetail<'static>, String> {
    let dns = &raw.dns;
    let id = match &dns.id {
        None => None,
        Some(s) => Some(
            s.parse::<u16>()
                .map_err(|_| format!("`dns.id` {s:?} is not a transaction id"))?,
        ),
    };
    let qclass = match &dns.question.class {
        None => None,
        Some(c) => {
            Some(class_number(c).ok_or_else(|| format!("`dns.question.class` {c:?} is unknown"))?)
        }
    };
    let flags = match (&dns.header_flags, &dns.op_code) {
        (None, None) => None,
        (names, op) => {
            let mut f = 0u16;
            for n in names.iter().flatten() {
                f |= match n.as_ref() {
                    "AA" => 0x0400,
                    "TC" => 0x0200,
                    "RD" => 0x0100,
                    "RA" => 0x0080,
                    "AD" => 0x0020,
                    "CD" => 0x0010,
                    other => return Err(format!("`dns.header_flags` {other:?} is unknown")),
                };
            }
            let op = match op.as_deref() {
                None | Some("QUERY") => 0,
                Some("IQUERY") => 1,
                Some("STATUS") => 2,
                Some("NOTIFY") => 4,
                Some("UPDATE") => 5,
                Some("DSO") => 6,
                Some(n) => n
                    .parse::<u8>()
                    .ok()
                    .filter(|n| *n < 16)
                    .ok_or_else(|| format!("`dns.op_code` {n:?} is unknown"))?,
            };
            f |= u16::from(op) << 11;
            if let Some(r) = rcode {
                f |= 0x8000 | (r & 0x0f);
            }
            Some(f)
        }
    };
    Ok(LookupDetail {
        id,
        client_port: raw.source.port,
        server_port: raw.destination.as_ref().and_then(|d| d.port),
        qclass,
        flags,
        response: None,
    })
}

fn class_number(c: &str) -> Option<u16> {
    Some(match c {
        "IN" => 1,
        "CH" => 3,
        "HS" => 4,
        "NONE" => 254,
        "ANY" => 255,
        other => other.strip_prefix("CLASS")?.parse().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enrich::Enrichment;
    use crate::event::Lookup;

    fn roundtrip(l: &Lookup<'_>) -> JsonEvent {
        let mut out = Vec::new();
        crate::output::ndjson::format_lookup(&mut out, l, &Enrichment::default());
        let text = std::str::from_utf8(&out).unwrap();
        assert_eq!(
            crate::source::sniff(text.as_bytes()),
            Some(crate::source::InputKind::SentineldnsLookup)
        );
        let mut ev = JsonEvent::default();
        parse_line(text.trim_end(), &mut ev).unwrap();
        ev
    }

    #[test]
    fn a_lookup_line_reads_back_into_the_same_lookup() {
        let mut answers = Answers::default();
        answers.push("192.0.2.7".parse().unwrap());
        answers.push("2001:db8::1".parse().unwrap());
        answers.total = 3;
        let l = Lookup {
            server: Some("10.0.0.53".parse().unwrap()),
            transport: Some(Transport::Tcp),
            service: DnsService::Mdns,
            qtype: 28,
            rcode: Some(3),
            answers,
            min_ttl: Some(42),
            latency_us: Some(1234),
            query_bytes: 40,
            response_bytes: 321,
            outcome: LookupOutcome::Answered,
            label: Some("malicious"),
            scenario: Some("dga"),
            ..Lookup::new(
                1_700_000_000_123_456,
                "10.1.2.3".parse().unwrap(),
                "x.example.com",
            )
        };
        let ev = roundtrip(&l);
        assert_eq!(ev.ts, l.ts);
        assert_eq!(ev.host, Some(l.client));
        assert_eq!(ev.server, l.server);
        assert_eq!(ev.transport, l.transport);
        assert_eq!(ev.service, l.service);
        assert_eq!(ev.domain, l.qname);
        assert_eq!(ev.qtype, l.qtype);
        assert_eq!(ev.rcode, l.rcode);
        assert_eq!(ev.answers, l.answers);
        assert_eq!(ev.ttl, l.min_ttl);
        assert_eq!(ev.latency_us, l.latency_us);
        assert_eq!(ev.query_bytes, l.query_bytes);
        assert_eq!(ev.response_bytes, l.response_bytes);
        assert_eq!(ev.outcome, Some(l.outcome));
        assert_eq!(ev.label.as_deref(), l.label);
        assert_eq!(ev.scenario.as_deref(), l.scenario);
        // Ports, id, class and header flags survive the round trip.
        let d = LookupDetail {
            id: Some(4242),
            client_port: Some(51000),
            server_port: Some(53),
            qclass: Some(1),
            flags: Some(0x8583),
            response: None,
        };
        let ev = roundtrip(&Lookup { detail: d, ..l });
        assert_eq!(ev.detail, d);
    }

    #[test]
    fn an_unanswered_lookup_without_optional_fields_reads_back() {
        let l = Lookup {
            rcode: None,
            outcome: LookupOutcome::Unanswered,
            qtype: 65,
            ..Lookup::new(1_700_000_000_000_001, "fe80::1".parse().unwrap(), "a.b")
        };
        let ev = roundtrip(&l);
        assert_eq!(ev.rcode, None);
        assert_eq!(ev.server, None);
        assert_eq!(ev.transport, None);
        assert_eq!(ev.latency_us, None);
        assert_eq!(ev.outcome, Some(LookupOutcome::Unanswered));
        assert_eq!(ev.qtype, 65);
        assert_eq!(ev.ts, l.ts);
    }

    #[test]
    fn bad_lines_are_errors_not_panics() {
        let mut ev = JsonEvent::default();
        for bad in [
            "",
            "{}",
            "not json",
            r#"{"@timestamp":"2023-11-14T22:13:20Z","event":{"dataset":"other"},"source":{"ip":"10.0.0.1"},"dns":{"question":{"name":"a.b","type":"A"}},"sentineldns":{"lookup":{"outcome":"event"}}}"#,
            r#"{"@timestamp":"2023-11-14T22:13:20Z","event":{"dataset":"sentineldns.lookup"},"source":{"ip":"nope"},"dns":{"question":{"name":"a.b","type":"A"}},"sentineldns":{"lookup":{"outcome":"event"}}}"#,
            r#"{"@timestamp":"2023-11-14T22:13:20Z","event":{"dataset":"sentineldns.lookup","duration":99999999999999999},"source":{"ip":"10.0.0.1"},"dns":{"question":{"name":"a.b","type":"A"}},"sentineldns":{"lookup":{"outcome":"event"}}}"#,
            r#"{"@timestamp":"2023-11-14T22:13:20Z","event":{"dataset":"sentineldns.lookup"},"source":{"ip":"10.0.0.1"},"dns":{"question":{"name":"a.b","type":"A"}},"sentineldns":{"lookup":{"outcome":"maybe"}}}"#,
        ] {
            assert!(parse_line(bad, &mut ev).is_err(), "{bad}");
        }
    }
}
