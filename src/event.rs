//! Owned and borrowed value types that flow between the pipeline stages.
//!
//! This module sits at the bottom of the dependency graph: every other module may
//! use it, it uses nothing of the crate but [`crate::stats`]. The hot path passes
//! *borrowed* values ([`RawPacket`], [`DnsMessage`], [`Lookup`]) by reference so
//! that the common case allocates nothing per packet; only [`crate::aggregate::HostWindow`] (one per
//! host per window) is owned.

use serde::Serialize;
use std::net::IpAddr;

pub use sentineldns_model::time::{TsMicros, MICROS};

/// A link-layer frame as read from a capture, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct RawPacket<'a> {
    /// Capture timestamp.
    pub ts: TsMicros,
    /// Link type (pcap LINKTYPE_* number) of the interface this frame came from.
    pub linktype: u32,
    /// Captured bytes (may be shorter than `orig_len` when a snaplen applied).
    pub data: &'a [u8],
    /// Original length on the wire.
    pub orig_len: u32,
}

/// Transport that carried a DNS message. Packets give UDP or TCP; dnstap
/// (`socket_protocol`) also tells the encrypted ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// UDP datagram (possibly reassembled from IP fragments).
    Udp,
    /// TCP stream with the RFC 1035 two-byte length prefix.
    Tcp,
    /// DNS over TLS (RFC 7858), from dnstap.
    Dot,
    /// DNS over HTTPS (RFC 8484), from dnstap.
    Doh,
    /// DNSCrypt over UDP, from dnstap.
    #[serde(rename = "dnscrypt-udp")]
    DnsCryptUdp,
    /// DNSCrypt over TCP, from dnstap.
    #[serde(rename = "dnscrypt-tcp")]
    DnsCryptTcp,
    /// DNS over QUIC (RFC 9250), from dnstap.
    Doq,
}

impl Transport {
    /// Stable lowercase name (`udp`, `tcp`, `dot`, `doh`, `dnscrypt-udp`,
    /// `dnscrypt-tcp`, `doq`).
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Dot => "dot",
            Transport::Doh => "doh",
            Transport::DnsCryptUdp => "dnscrypt-udp",
            Transport::DnsCryptTcp => "dnscrypt-tcp",
            Transport::Doq => "doq",
        }
    }

    /// The layer-4 protocol underneath (`udp` or `tcp`; QUIC runs on UDP).
    pub fn l4(self) -> &'static str {
        match self {
            Transport::Udp | Transport::DnsCryptUdp | Transport::Doq => "udp",
            Transport::Tcp | Transport::Dot | Transport::Doh | Transport::DnsCryptTcp => "tcp",
        }
    }
}

/// Which DNS-family protocol a message belongs to (by port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DnsService {
    /// Unicast DNS, port 53.
    #[default]
    Dns,
    /// Multicast DNS, port 5353.
    Mdns,
    /// Link-local multicast name resolution, port 5355.
    Llmnr,
}

impl DnsService {
    /// Stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            DnsService::Dns => "dns",
            DnsService::Mdns => "mdns",
            DnsService::Llmnr => "llmnr",
        }
    }
}

/// Up to [`Answers::CAP`] A/AAAA addresses from an answer section, plus the total
/// number of answer records. Fixed size: no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answers {
    ips: [IpAddr; Answers::CAP],
    n: u8,
    /// Total answer records (any type) in the response.
    pub total: u16,
}

impl Default for Answers {
    fn default() -> Self {
        Answers {
            ips: [IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED); Answers::CAP],
            n: 0,
            total: 0,
        }
    }
}

impl Answers {
    /// How many addresses are kept.
    pub const CAP: usize = 4;

    /// Keep `ip` if there is room; returns whether it was kept.
    pub fn push(&mut self, ip: IpAddr) -> bool {
        if (self.n as usize) < Self::CAP {
            self.ips[self.n as usize] = ip;
            self.n += 1;
            true
        } else {
            false
        }
    }

    /// The kept addresses.
    pub fn ips(&self) -> &[IpAddr] {
        &self.ips[..self.n as usize]
    }
}

/// One decoded DNS message (query or response). The name is borrowed from the
/// decoder's scratch buffer and is only valid during the callback.
#[derive(Debug, Clone, Copy)]
pub struct DnsMessage<'a> {
    /// Packet time of the (last) packet that completed this message.
    pub ts: TsMicros,
    /// Source address and port.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// UDP or TCP.
    pub transport: Transport,
    /// DNS, mDNS or LLMNR.
    pub service: DnsService,
    /// Transaction id.
    pub id: u16,
    /// QR bit.
    pub response: bool,
    /// OPCODE (0 = QUERY).
    pub opcode: u8,
    /// RCODE from the header (4 bits; EDNS extended bits are not merged).
    pub rcode: u16,
    /// TC bit.
    pub truncated: bool,
    /// First question name: lowercase ASCII, dot separated, no trailing dot,
    /// non-printable bytes escaped as `\DDD`. Empty for the root or no question.
    pub qname: &'a str,
    /// First question type (0 when there is no question).
    pub qtype: u16,
    /// First question class.
    pub qclass: u16,
    /// Number of questions.
    pub qdcount: u16,
    /// A/AAAA answers and the answer count (responses only).
    pub answers: Answers,
    /// Smallest TTL among answer records.
    pub min_ttl: Option<u32>,
    /// Size of the DNS message in bytes (without the TCP length prefix).
    pub size: u32,
    /// The whole DNS message (no TCP length prefix), borrowed from the
    /// decoder's buffer: outputs that show every answer record, the header
    /// flags or the question class read it from here, off the hot path.
    pub wire: &'a [u8],
}

/// How a lookup was observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LookupOutcome {
    /// Query and its response were both seen.
    Answered,
    /// Query seen, no response within the pairing timeout.
    Unanswered,
    /// Response seen without its query (e.g. one-way tap, query before capture start).
    Unsolicited,
    /// Came from a JSONL event (already a lookup).
    Event,
    /// mDNS / LLMNR query: answered by any host on the link, so not paired.
    Multicast,
}

impl LookupOutcome {
    /// Stable lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            LookupOutcome::Answered => "answered",
            LookupOutcome::Unanswered => "unanswered",
            LookupOutcome::Unsolicited => "unsolicited",
            LookupOutcome::Event => "event",
            LookupOutcome::Multicast => "multicast",
        }
    }
}

/// One DNS lookup by a client: a paired query/response, an unanswered query, an
/// unsolicited response, or a JSONL event. Borrowed name, no allocation.
#[derive(Debug, Clone, Copy)]
pub struct Lookup<'a> {
    /// Query time (response time for unsolicited responses).
    pub ts: TsMicros,
    /// The client that asked (the host windows are keyed by).
    pub client: IpAddr,
    /// The resolver that was asked, when known.
    pub server: Option<IpAddr>,
    /// UDP/TCP, when known.
    pub transport: Option<Transport>,
    /// DNS, mDNS or LLMNR.
    pub service: DnsService,
    /// Queried name (normalised like [`DnsMessage::qname`]).
    pub qname: &'a str,
    /// Query type.
    pub qtype: u16,
    /// Response code; `None` when no response was seen.
    pub rcode: Option<u16>,
    /// Addresses in the answer.
    pub answers: Answers,
    /// Smallest answer TTL.
    pub min_ttl: Option<u32>,
    /// Response time minus query time.
    pub latency_us: Option<u32>,
    /// Query message size (0 if not seen).
    pub query_bytes: u32,
    /// Response message size (0 if not seen).
    pub response_bytes: u32,
    /// How it was observed.
    pub outcome: LookupOutcome,
    /// Ground-truth label from labelled input (`benign`, `malicious`, ...).
    pub label: Option<&'a str>,
    /// Ground-truth scenario name from labelled input.
    pub scenario: Option<&'a str>,
    /// Protocol details of the exchange (ports, transaction id, header
    /// flags, the response's bytes) when it was decoded from DNS messages;
    /// empty for lookups that came from logs or events.
    pub detail: LookupDetail<'a>,
}

/// Protocol details of one lookup, for the outputs that show them (ECS
/// `dns.id`, `dns.header_flags`, every answer record, ports, Community ID).
/// All borrowed or `Copy`: building it costs nothing on the hot path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LookupDetail<'a> {
    /// Transaction id.
    pub id: Option<u16>,
    /// The client's port.
    pub client_port: Option<u16>,
    /// The server's port.
    pub server_port: Option<u16>,
    /// Question class (1 = IN); `None` when not known.
    pub qclass: Option<u16>,
    /// Header bytes 2–3 (QR, OPCODE, AA, TC, RD, RA, Z, AD, CD, RCODE) of the
    /// response when one was seen, else of the query.
    pub flags: Option<u16>,
    /// The response message (no TCP length prefix), when one was seen.
    pub response: Option<&'a [u8]>,
}

impl LookupDetail<'_> {
    /// OPCODE from the header flags.
    pub fn opcode(&self) -> Option<u8> {
        self.flags.map(|f| ((f >> 11) & 0x0f) as u8)
    }

    /// The set header flags by their two-letter names, in header order
    /// (`AA`, `TC`, `RD`, `RA`, `AD`, `CD`; `DO` lives in EDNS and is not
    /// reported).
    pub fn flag_names(&self) -> impl Iterator<Item = &'static str> {
        const BITS: [(u16, &str); 6] = [
            (0x0400, "AA"),
            (0x0200, "TC"),
            (0x0100, "RD"),
            (0x0080, "RA"),
            (0x0020, "AD"),
            (0x0010, "CD"),
        ];
        let f = self.flags.unwrap_or(0);
        BITS.into_iter()
            .filter(move |(b, _)| f & b != 0)
            .map(|(_, n)| n)
    }
}

impl<'a> Lookup<'a> {
    /// A NOERROR `A` lookup of `qname` by `client` at `ts`, from an event
    /// (no server, transport, answers, sizes or labels): a starting point for
    /// struct-update syntax, `Lookup { rcode: Some(3), ..Lookup::new(ts, ip, name) }`.
    pub fn new(ts: TsMicros, client: IpAddr, qname: &'a str) -> Self {
        Lookup {
            ts,
            client,
            server: None,
            transport: None,
            service: DnsService::Dns,
            qname,
            qtype: qtype::A,
            rcode: Some(rcode::NOERROR),
            answers: Answers::default(),
            min_ttl: None,
            latency_us: None,
            query_bytes: 0,
            response_bytes: 0,
            outcome: LookupOutcome::Event,
            label: None,
            scenario: None,
            detail: LookupDetail::default(),
        }
    }
}

/// DNS RCODE numbers used by features.
pub mod rcode {
    /// No error.
    pub const NOERROR: u16 = 0;
    /// Server failure.
    pub const SERVFAIL: u16 = 2;
    /// Non-existent domain.
    pub const NXDOMAIN: u16 = 3;
    /// Refused.
    pub const REFUSED: u16 = 5;
}

/// DNS QTYPE numbers used by features.
pub mod qtype {
    /// IPv4 address.
    pub const A: u16 = 1;
    /// Name server.
    pub const NS: u16 = 2;
    /// Canonical name.
    pub const CNAME: u16 = 5;
    /// Start of authority.
    pub const SOA: u16 = 6;
    /// NULL record (used by iodine).
    pub const NULL: u16 = 10;
    /// Pointer (reverse lookups).
    pub const PTR: u16 = 12;
    /// Mail exchanger.
    pub const MX: u16 = 15;
    /// Text record (tunnels, verification).
    pub const TXT: u16 = 16;
    /// IPv6 address.
    pub const AAAA: u16 = 28;
    /// Service locator.
    pub const SRV: u16 = 33;
    /// Service binding.
    pub const SVCB: u16 = 64;
    /// HTTPS binding.
    pub const HTTPS: u16 = 65;
    /// Any record (`*`).
    pub const ANY: u16 = 255;

    /// Name of a common query type, or `TYPE<n>` for others.
    pub fn name(t: u16) -> std::borrow::Cow<'static, str> {
        let s = match t {
            A => "A",
            NS => "NS",
            CNAME => "CNAME",
            SOA => "SOA",
            NULL => "NULL",
            PTR => "PTR",
            MX => "MX",
            TXT => "TXT",
            AAAA => "AAAA",
            SRV => "SRV",
            SVCB => "SVCB",
            HTTPS => "HTTPS",
            ANY => "ANY",
            _ => return std::borrow::Cow::Owned(format!("TYPE{t}")),
        };
        std::borrow::Cow::Borrowed(s)
    }

    /// Parse a query type name (`A`, `txt`, `TYPE99`) or number.
    pub fn parse(s: &str) -> Option<u16> {
        let u = s.trim().to_ascii_uppercase();
        Some(match u.as_str() {
            "A" => A,
            "NS" => NS,
            "CNAME" => CNAME,
            "SOA" => SOA,
            "NULL" => NULL,
            "PTR" => PTR,
            "MX" => MX,
            "TXT" => TXT,
            "AAAA" => AAAA,
            "SRV" => SRV,
            "SVCB" => SVCB,
            "HTTPS" => HTTPS,
            "ANY" | "*" => ANY,
            "HINFO" => 13,
            "RP" => 17,
            "SIG" => 24,
            "KEY" => 25,
            "LOC" => 29,
            "NAPTR" => 35,
            "DNAME" => 39,
            "OPT" => 41,
            "SSHFP" => 44,
            "NSEC3" => 50,
            "NSEC3PARAM" => 51,
            "TLSA" => 52,
            "SPF" => 99,
            "DS" => 43,
            "RRSIG" => 46,
            "NSEC" => 47,
            "DNSKEY" => 48,
            "CAA" => 257,
            "AXFR" => 252,
            "IXFR" => 251,
            other => {
                if let Some(n) = other.strip_prefix("TYPE") {
                    return n.parse().ok();
                }
                return other.parse().ok();
            }
        })
    }
}

/// DNS RCODE names.
pub fn rcode_name(r: u16) -> std::borrow::Cow<'static, str> {
    let s = match r {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        _ => return std::borrow::Cow::Owned(format!("RCODE{r}")),
    };
    std::borrow::Cow::Borrowed(s)
}

/// Parse an RCODE name (`NXDOMAIN`, `noerror`) or number.
pub fn parse_rcode(s: &str) -> Option<u16> {
    let u = s.trim().to_ascii_uppercase();
    Some(match u.as_str() {
        "NOERROR" | "NO_ERROR" => 0,
        "FORMERR" => 1,
        "SERVFAIL" => 2,
        "NXDOMAIN" | "NX_DOMAIN" => 3,
        "NOTIMP" => 4,
        "REFUSED" => 5,
        "YXDOMAIN" => 6,
        "YXRRSET" => 7,
        "NXRRSET" => 8,
        "NOTAUTH" => 9,
        "NOTZONE" => 10,
        other => return other.strip_prefix("RCODE").unwrap_or(other).parse().ok(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_cap_is_respected() {
        let mut a = Answers::default();
        for i in 0..10u8 {
            a.push(IpAddr::from([10, 0, 0, i]));
        }
        assert_eq!(a.ips().len(), Answers::CAP);
        assert_eq!(a.ips()[3], IpAddr::from([10, 0, 0, 3]));
    }

    #[test]
    fn qtype_and_rcode_names_round_trip() {
        for t in [1u16, 16, 10, 255, 28, 99] {
            assert_eq!(qtype::parse(&qtype::name(t)), Some(t));
        }
        for r in [0u16, 2, 3, 5, 15] {
            assert_eq!(parse_rcode(&rcode_name(r)), Some(r));
        }
        assert_eq!(qtype::parse("txt"), Some(16));
        // Every mnemonic the record walker (and so the EVE and Zeek
        // outputs) writes reads back.
        for t in 0..=300u16 {
            assert_eq!(
                qtype::parse(&crate::decode::rr::type_name(t)),
                Some(t),
                "{t}"
            );
        }
        assert_eq!(parse_rcode("nxdomain"), Some(3));
    }
}
