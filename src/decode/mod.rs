//! Packet decoder: link-layer frames in, DNS messages out.
//!
//! [`Decoder::decode`] takes one captured frame through the layers
//! ([`link`] → [`ip`] → [`frag`] → UDP / [`tcp`] → [`dns`]) and calls the
//! caller's closure once per complete DNS, mDNS or LLMNR message. Every frame
//! that yields nothing is counted under exactly one [`SkipReason`] (plus
//! [`SkipReason::FragmentDropped`] / [`SkipReason::TcpStreamLoss`] for state it
//! had to throw away, and [`SkipReason::DnsMalformed`] for a yielded message
//! whose answer section is damaged). The decoder owns all scratch state
//! (qname buffer, fragment and TCP tables), so the common UDP path does not
//! allocate. All timeouts run on packet time.
//!
//! Ports: UDP/TCP 53 → DNS, UDP 5353 → mDNS, UDP/TCP 5355 → LLMNR (source or
//! destination; 53 wins over 5353/5355 when both ends match different services).
//!
//! Counters: every yielded message increments `dns_messages` and exactly one
//! of `dns_queries` / `dns_responses`; mDNS and LLMNR messages are included
//! there and additionally counted in `mdns_messages` / `llmnr_messages`.

pub mod dns;
pub mod frag;
pub mod ip;
pub mod link;
pub mod rr;
pub mod tcp;

#[cfg(test)]
mod tests;

pub use dns::{parse_dns, DnsError, DnsParsed, NameFault};

use crate::event::{DnsMessage, DnsService, RawPacket, Transport, TsMicros, MICROS};
use crate::stats::{SkipReason, Stats};
use etherparse::{TcpSlice, UdpSlice};
use std::net::IpAddr;

/// Limits of the decoder's state tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeConfig {
    /// Concurrent IP reassemblies (default 1024).
    pub max_fragment_sets: usize,
    /// Lifetime of a fragment set from its first fragment (default 30 s).
    pub fragment_timeout: TsMicros,
    /// Concurrent TCP flow directions (default 4096).
    pub max_tcp_flows: usize,
    /// Bytes buffered per TCP direction (default 65 537 + 4 096).
    pub max_tcp_buffer: usize,
    /// TCP direction idle timeout (default 60 s).
    pub tcp_flow_timeout: TsMicros,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            max_fragment_sets: 1024,
            fragment_timeout: 30 * MICROS,
            max_tcp_flows: 4096,
            max_tcp_buffer: 65_537 + 4096,
            tcp_flow_timeout: 60 * MICROS,
        }
    }
}

/// Where a packet came from, for skip examples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location<'a> {
    /// File or interface name.
    pub source: &'a str,
    /// 1-based packet number.
    pub packet: u64,
}

/// Stateful frame decoder (fragment and TCP reassembly live here). One per
/// capture stream; not shared between threads.
pub struct Decoder {
    frags: frag::Reassembler,
    tcp: tcp::TcpTable,
    name: String,
}

/// Transport endpoints of a message.
#[derive(Clone, Copy)]
struct Meta {
    ts: TsMicros,
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    transport: Transport,
    service: DnsService,
}

#[inline]
fn skip(
    stats: &mut Stats,
    loc: &Location<'_>,
    reason: SkipReason,
    detail: impl FnOnce() -> String,
) {
    stats.skip_at(reason, loc.source, "packet", loc.packet, detail);
}

fn udp_service(sport: u16, dport: u16) -> Option<DnsService> {
    let has = |p: u16| sport == p || dport == p;
    if has(53) {
        Some(DnsService::Dns)
    } else if has(5353) {
        Some(DnsService::Mdns)
    } else if has(5355) {
        Some(DnsService::Llmnr)
    } else {
        None
    }
}

fn tcp_service(sport: u16, dport: u16) -> Option<DnsService> {
    let has = |p: u16| sport == p || dport == p;
    if has(53) {
        Some(DnsService::Dns)
    } else if has(5355) {
        Some(DnsService::Llmnr)
    } else {
        None
    }
}

/// Parse one DNS message and hand it to `on_msg`, counting. Returns 1 if yielded.
fn deliver<F: FnMut(&DnsMessage<'_>)>(
    msg: &[u8],
    meta: &Meta,
    name: &mut String,
    stats: &mut Stats,
    loc: &Location<'_>,
    on_msg: &mut F,
) -> usize {
    // Test builds: the differential test of `parse_dns` collects every
    // message of the real captures here.
    #[cfg(test)]
    tests::tap(msg);
    // By reference, as in `Decoder::decode`: no copy of the parsed message.
    let parsed = parse_dns(msg, name);
    let p = match &parsed {
        Ok(p) => p,
        Err(e) => {
            skip(stats, loc, e.reason(), || e.to_string());
            return 0;
        }
    };
    if let Some(e) = p.answers_error {
        skip(stats, loc, SkipReason::DnsMalformed, || {
            format!("answer section: {e}")
        });
    }
    stats.dns_messages += 1;
    if p.response {
        stats.dns_responses += 1;
    } else {
        stats.dns_queries += 1;
    }
    match meta.service {
        DnsService::Dns => {}
        DnsService::Mdns => stats.mdns_messages += 1,
        DnsService::Llmnr => stats.llmnr_messages += 1,
    }
    if meta.transport == Transport::Tcp {
        stats.tcp_messages += 1;
    }
    let m = DnsMessage {
        ts: meta.ts,
        src: meta.src,
        dst: meta.dst,
        sport: meta.sport,
        dport: meta.dport,
        transport: meta.transport,
        service: meta.service,
        id: p.id,
        response: p.response,
        opcode: p.opcode,
        rcode: p.rcode,
        truncated: p.truncated,
        qname: p.qname,
        qtype: p.qtype,
        qclass: p.qclass,
        qdcount: p.qdcount,
        answers: p.answers,
        min_ttl: p.min_ttl,
        size: u32::try_from(msg.len()).unwrap_or(u32::MAX),
        wire: msg,
    };
    on_msg(&m);
    1
}

impl Decoder {
    /// A decoder with the given limits.
    pub fn new(cfg: DecodeConfig) -> Self {
        Decoder {
            frags: frag::Reassembler::new(cfg.max_fragment_sets, cfg.fragment_timeout),
            tcp: tcp::TcpTable::new(cfg.max_tcp_flows, cfg.max_tcp_buffer, cfg.tcp_flow_timeout),
            name: String::with_capacity(256),
        }
    }

    /// Decode one link-layer frame. Calls `on_msg` once per complete DNS message
    /// it yields (0, 1, or several for TCP); returns how many were yielded.
    /// Skips are counted in `stats` with `loc` as their example location.
    pub fn decode<F: FnMut(&DnsMessage<'_>)>(
        &mut self,
        pkt: &RawPacket<'_>,
        loc: &Location<'_>,
        stats: &mut Stats,
        mut on_msg: F,
    ) -> usize {
        let net = match link::network_payload(pkt.linktype, pkt.data) {
            Ok(n) => n,
            Err(e) => {
                skip(stats, loc, e.reason, || e.to_string());
                return 0;
            }
        };
        // Matched by reference: the packet is used where `parse` left it
        // (moving it out of the `Result` copied it once more per packet).
        let parsed = ip::parse(net);
        let ip = match &parsed {
            Ok(ip) => ip,
            Err(e) => {
                skip(stats, loc, e.reason(), || e.to_string());
                return 0;
            }
        };
        let Some(fi) = ip.frag else {
            return self.transport(pkt.ts, ip, ip.proto, ip.payload, loc, stats, &mut on_msg);
        };
        let fragment = frag::Fragment {
            key: frag::FragKey {
                src: ip.src,
                dst: ip.dst,
                id: fi.id,
                proto: ip.proto,
            },
            offset: fi.offset,
            more: fi.more,
            data: ip.payload,
        };
        let buf = match self.frags.insert(pkt.ts, fragment, stats, loc) {
            frag::FragOutcome::Complete(buf) => buf,
            frag::FragOutcome::Held | frag::FragOutcome::Dropped => return 0,
        };
        stats.reassembled_datagrams += 1;
        let n = if fi.v6 {
            match ip::skip_v6_exts(ip.proto, &buf) {
                Ok((proto, payload)) => {
                    self.transport(pkt.ts, ip, proto, payload, loc, stats, &mut on_msg)
                }
                Err(e) => {
                    skip(stats, loc, e.reason(), || e.to_string());
                    0
                }
            }
        } else {
            self.transport(pkt.ts, ip, ip.proto, &buf, loc, stats, &mut on_msg)
        };
        self.frags.recycle(buf);
        n
    }

    #[allow(clippy::too_many_arguments)]
    fn transport<F: FnMut(&DnsMessage<'_>)>(
        &mut self,
        ts: TsMicros,
        ip: &ip::IpPacket<'_>,
        proto: u8,
        payload: &[u8],
        loc: &Location<'_>,
        stats: &mut Stats,
        on_msg: &mut F,
    ) -> usize {
        match proto {
            ip::PROTO_UDP => {
                let udp = match UdpSlice::from_slice_lax(payload) {
                    Ok(u) => u,
                    Err(e) => {
                        skip(stats, loc, SkipReason::TruncatedTransport, || {
                            format!("udp header: need {} bytes, have {}", e.required_len, e.len)
                        });
                        return 0;
                    }
                };
                let (sport, dport) = (udp.source_port(), udp.destination_port());
                let Some(service) = udp_service(sport, dport) else {
                    skip(stats, loc, SkipReason::NotDnsPort, String::new);
                    return 0;
                };
                let meta = Meta {
                    ts,
                    src: ip.src,
                    dst: ip.dst,
                    sport,
                    dport,
                    transport: Transport::Udp,
                    service,
                };
                deliver(udp.payload(), &meta, &mut self.name, stats, loc, on_msg)
            }
            ip::PROTO_TCP => {
                let tcp = match TcpSlice::from_slice(payload) {
                    Ok(t) => t,
                    Err(e) => {
                        skip(stats, loc, SkipReason::TruncatedTransport, || {
                            format!("tcp header: {e}")
                        });
                        return 0;
                    }
                };
                let (sport, dport) = (tcp.source_port(), tcp.destination_port());
                let Some(service) = tcp_service(sport, dport) else {
                    skip(stats, loc, SkipReason::NotDnsPort, String::new);
                    return 0;
                };
                let meta = Meta {
                    ts,
                    src: ip.src,
                    dst: ip.dst,
                    sport,
                    dport,
                    transport: Transport::Tcp,
                    service,
                };
                let key = tcp::FlowKey {
                    src: ip.src,
                    dst: ip.dst,
                    sport,
                    dport,
                };
                let seg = tcp::Segment {
                    ts,
                    seq: tcp.sequence_number(),
                    syn: tcp.syn(),
                    fin: tcp.fin(),
                    rst: tcp.rst(),
                    ack: tcp.ack().then(|| tcp.acknowledgment_number()),
                    payload: tcp.payload(),
                };
                let rmeta = Meta {
                    src: ip.dst,
                    dst: ip.src,
                    sport: dport,
                    dport: sport,
                    ..meta
                };
                let name = &mut self.name;
                let mut n = 0usize;
                let mut cb = |msg: &[u8], reverse: bool, stats: &mut Stats| {
                    let m = if reverse { &rmeta } else { &meta };
                    n += deliver(msg, m, name, stats, loc, on_msg);
                };
                self.tcp.segment(key, seg, stats, loc, &mut cb);
                n
            }
            other => {
                skip(stats, loc, SkipReason::NotUdpTcp, || {
                    format!("ip protocol {other}")
                });
                0
            }
        }
    }

    /// Evict fragment sets started, and TCP flows idle, before `now - timeout`
    /// (packet time). Counted as FragmentDropped / TcpStreamLoss (the latter only
    /// when data was pending).
    pub fn expire(&mut self, now: TsMicros, stats: &mut Stats) {
        self.frags.expire(now, stats);
        self.tcp.expire(now, stats);
    }

    /// Open TCP flow directions.
    pub fn open_tcp_flows(&self) -> usize {
        self.tcp.len()
    }

    /// Open fragment sets.
    pub fn open_fragment_sets(&self) -> usize {
        self.frags.len()
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(DecodeConfig::default())
    }
}
