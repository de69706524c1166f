//! dnstap input (issue 15): what resolvers export about every query and
//! response, including those of DoT, DoH and DoQ clients no packet sensor
//! can read.
//!
//! * [`fstrm`]: the Frame Streams framing (data and control frames, the
//!   bidirectional handshake).
//! * [`pb`]: the Dnstap protobuf types, generated at build time from
//!   `proto/dnstap.proto` (the published schema) by prost.
//! * [`decode_payload`] turns one data frame into a [`ClientMessage`]:
//!   `CLIENT_QUERY` and `CLIENT_RESPONSE` become DNS messages that go through
//!   the same pairer as decoded packets (so the same windows come out);
//!   resolver-side messages (`RESOLVER_*`, `FORWARDER_*`, `AUTH_*`) are
//!   counted apart and never windowed as clients.
//! * [`DnstapFileReader`]: replay of a Frame Streams file (recognised by its
//!   START frame, [`crate::source::is_dnstap_frame_stream`]).
//! * [`listen`]: the live listener (`capture --dnstap unix:PATH|tcp:ADDR`).

pub mod fstrm;
pub mod listen;

use crate::event::{Transport, TsMicros, MICROS};
use crate::stats::{SkipReason, Stats};
use fstrm::{ControlType, Frame, FrameReader, FstrmError};
use prost::Message as _;
use std::io::BufRead;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The Dnstap protobuf types (generated from `proto/dnstap.proto`).
#[allow(missing_docs, clippy::all, clippy::pedantic)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/dnstap.rs"));
}

/// A `CLIENT_QUERY` or `CLIENT_RESPONSE`, as the DNS message it carries and
/// where it went: for a query `src` is the client, for a response `src` is
/// the server. The buffers are reused from message to message.
#[derive(Debug, Clone)]
pub struct ClientMessage {
    /// Query time for a query, response time for a response.
    pub ts: TsMicros,
    /// Sender.
    pub src: IpAddr,
    /// Receiver.
    pub dst: IpAddr,
    /// Sender port.
    pub sport: u16,
    /// Receiver port.
    pub dport: u16,
    /// From `socket_protocol` (see [`decode_payload`] for older resolvers).
    pub transport: Transport,
    /// Whether it is the response.
    pub response: bool,
    /// The DNS message in wire format.
    pub wire: Vec<u8>,
}

impl Default for ClientMessage {
    fn default() -> Self {
        ClientMessage {
            ts: 0,
            src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            sport: 0,
            dport: 0,
            transport: Transport::Udp,
            response: false,
            wire: Vec::new(),
        }
    }
}

/// What a data frame held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// A client-side message, written into the [`ClientMessage`].
    Client,
    /// `RESOLVER_*`, `FORWARDER_*` or `AUTH_*`: the resolver's own traffic.
    ResolverSide,
    /// `STUB_*`, `TOOL_*`, `UPDATE_*` or a type this schema does not know.
    Other,
}

/// A data frame that is not a usable dnstap message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Not a Dnstap protobuf.
    #[error("not a Dnstap protobuf: {0}")]
    Protobuf(String),
    /// A Dnstap of another type, or without its message.
    #[error("Dnstap payload without a message (type {0})")]
    NoMessage(i32),
    /// A field a client message needs is absent.
    #[error("{kind} without {field}")]
    Missing {
        /// CLIENT_QUERY or CLIENT_RESPONSE.
        kind: &'static str,
        /// The field.
        field: &'static str,
    },
    /// An address that is neither 4 nor 16 bytes.
    #[error("{field} has {len} bytes, not an IPv4 or IPv6 address")]
    BadAddress {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
    },
    /// A port over 65535.
    #[error("{field} {value} is not a port")]
    BadPort {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u32,
    },
    /// A socket_protocol this schema does not define.
    #[error("unknown socket_protocol {0}")]
    UnknownProtocol(i32),
    /// A time that does not fit packet time.
    #[error("{field} {value} is out of range")]
    BadTime {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u64,
    },
}

/// `socket_protocol` → [`Transport`] (`None`: a value the schema lacks).
pub fn transport_of(socket_protocol: i32) -> Option<Transport> {
    use pb::SocketProtocol as P;
    Some(match P::try_from(socket_protocol).ok()? {
        P::Udp => Transport::Udp,
        P::Tcp => Transport::Tcp,
        P::Dot => Transport::Dot,
        P::Doh => Transport::Doh,
        P::DnsCryptUdp => Transport::DnsCryptUdp,
        P::DnsCryptTcp => Transport::DnsCryptTcp,
        P::Doq => Transport::Doq,
    })
}

fn addr(field: &'static str, b: &[u8]) -> Result<IpAddr, MessageError> {
    if let Ok(a) = <[u8; 4]>::try_from(b) {
        return Ok(IpAddr::V4(Ipv4Addr::from(a)));
    }
    if let Ok(a) = <[u8; 16]>::try_from(b) {
        return Ok(IpAddr::V6(Ipv6Addr::from(a)));
    }
    Err(MessageError::BadAddress {
        field,
        len: b.len(),
    })
}

fn port(field: &'static str, p: Option<u32>) -> Result<u16, MessageError> {
    let p = p.unwrap_or(0);
    u16::try_from(p).map_err(|_| MessageError::BadPort { field, value: p })
}

fn time(
    field: &'static str,
    sec: Option<u64>,
    nsec: Option<u32>,
) -> Option<Result<TsMicros, MessageError>> {
    let sec = sec?;
    let nsec = nsec.unwrap_or(0).min(999_999_999);
    Some(
        i64::try_from(sec)
            .ok()
            .and_then(|s| s.checked_mul(MICROS))
            .and_then(|us| us.checked_add(i64::from(nsec / 1000)))
            .ok_or(MessageError::BadTime { field, value: sec }),
    )
}

/// Decode a Dnstap protobuf (for tools that rewrite frames).
pub fn decode_dnstap(payload: &[u8]) -> Result<pb::Dnstap, MessageError> {
    pb::Dnstap::decode(payload).map_err(|e| MessageError::Protobuf(e.to_string()))
}

/// Encode a Dnstap protobuf.
pub fn encode_dnstap(d: &pb::Dnstap) -> Vec<u8> {
    d.encode_to_vec()
}

/// Decode one data frame payload. A client message is written into `out`
/// (its buffers reused).
pub fn decode_payload(payload: &[u8], out: &mut ClientMessage) -> Result<Decoded, MessageError> {
    let d = pb::Dnstap::decode(payload).map_err(|e| MessageError::Protobuf(e.to_string()))?;
    let Some(m) = d.message else {
        return Err(MessageError::NoMessage(d.r#type));
    };
    use pb::message::Type as T;
    let response = match T::try_from(m.r#type) {
        Ok(T::ClientQuery) => false,
        Ok(T::ClientResponse) => true,
        Ok(
            T::ResolverQuery
            | T::ResolverResponse
            | T::ForwarderQuery
            | T::ForwarderResponse
            | T::AuthQuery
            | T::AuthResponse,
        ) => return Ok(Decoded::ResolverSide),
        _ => return Ok(Decoded::Other),
    };
    let kind = if response {
        "CLIENT_RESPONSE"
    } else {
        "CLIENT_QUERY"
    };
    let missing = |field| MessageError::Missing { kind, field };
    let transport = match m.socket_protocol {
        None => None,
        Some(p) => Some(transport_of(p).ok_or(MessageError::UnknownProtocol(p))?),
    };
    let client = addr(
        "query_address",
        m.query_address.as_deref().ok_or(missing("query_address"))?,
    )?;
    let server = match m.response_address.as_deref() {
        Some(b) => addr("response_address", b)?,
        None if client.is_ipv4() => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let cport = port("query_port", m.query_port)?;
    let sport = port("response_port", m.response_port)?;
    // Resolvers that predate the DOT/DOH values (unbound 1.17 among them)
    // label DNS-over-TLS client messages `TCP` and leave socket_protocol
    // out for DNS over HTTPS; a client message on the server's port 853
    // (RFC 7858: DNS over TLS only) or 443 (a DNS message to the resolver
    // over HTTPS) is DoT or DoH. Otherwise an absent value is UDP, the
    // schema's default.
    let transport = match (transport, sport) {
        (Some(Transport::Tcp) | None, 853) => Transport::Dot,
        (Some(Transport::Tcp) | None, 443) => Transport::Doh,
        (Some(t), _) => t,
        (None, _) => Transport::Udp,
    };
    let qtime = time("query_time_sec", m.query_time_sec, m.query_time_nsec);
    let rtime = time(
        "response_time_sec",
        m.response_time_sec,
        m.response_time_nsec,
    );
    let (ts, wire) = if response {
        let ts = rtime.or(qtime).ok_or(missing("response_time_sec"))??;
        (ts, m.response_message.ok_or(missing("response_message"))?)
    } else {
        let ts = qtime.ok_or(missing("query_time_sec"))??;
        (ts, m.query_message.ok_or(missing("query_message"))?)
    };
    out.ts = ts;
    out.transport = transport;
    out.response = response;
    if response {
        (out.src, out.dst, out.sport, out.dport) = (server, client, sport, cport);
    } else {
        (out.src, out.dst, out.sport, out.dport) = (client, server, cport, sport);
    }
    out.wire = wire;
    Ok(Decoded::Client)
}

/// Classify and count one decoded frame: `true` for a client message in
/// `out`; resolver-side and other messages are counted, bad ones skipped
/// with `source`, the frame number and its offset.
pub fn count_payload(
    payload: &[u8],
    out: &mut ClientMessage,
    stats: &mut Stats,
    source: &str,
    frame: u64,
    offset: u64,
) -> bool {
    stats.dnstap_frames += 1;
    match decode_payload(payload, out) {
        Ok(Decoded::Client) => true,
        Ok(Decoded::ResolverSide) => {
            stats.dnstap_resolver_messages += 1;
            false
        }
        Ok(Decoded::Other) => {
            stats.dnstap_other_messages += 1;
            false
        }
        Err(e) => {
            stats.skip_at(SkipReason::DnstapBadMessage, source, "frame", frame, || {
                format!("at byte offset {offset}: {e}")
            });
            false
        }
    }
}

/// Tally of one replayed file, for the all-rejected check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileTally {
    /// Data frames read.
    pub frames: u64,
    /// Client messages produced.
    pub client: u64,
    /// Resolver-side and other messages counted.
    pub counted: u64,
    /// Data frames rejected.
    pub bad: u64,
    /// The first rejected frames, `frame N at offset X: reason`.
    pub first_bad: Vec<String>,
    /// The framing error that ended the file early, if any.
    pub fatal: Option<String>,
}

/// Replays a Frame Streams file of dnstap messages, one client message at a
/// time, in file order.
pub struct DnstapFileReader {
    frames: FrameReader<Box<dyn BufRead + Send>>,
    name: String,
    number: u64,
    done: bool,
    tally: FileTally,
}

impl DnstapFileReader {
    /// Read `reader` (positioned at the START frame), named `name` in skips.
    pub fn new(reader: Box<dyn BufRead + Send>, name: &str) -> Self {
        DnstapFileReader {
            frames: FrameReader::new(reader),
            name: name.to_string(),
            number: 0,
            done: false,
            tally: FileTally::default(),
        }
    }

    /// 1-based number of the data frame returned last.
    pub fn frame(&self) -> u64 {
        self.number
    }

    /// What was read so far.
    pub fn tally(&self) -> &FileTally {
        &self.tally
    }

    /// Whether nothing usable came out although something was wrong: no
    /// client message, and rejected frames or a framing error.
    pub fn all_rejected(&self) -> bool {
        self.tally.client == 0 && (self.tally.bad > 0 || self.tally.fatal.is_some())
    }

    /// The next client message into `out`; `false` at the end of the file
    /// (or at a framing error, which is counted and logged with its offset).
    pub fn next_into(&mut self, out: &mut ClientMessage, stats: &mut Stats) -> bool {
        while !self.done {
            match self.frames.next_frame() {
                Ok(None) => self.done = true,
                Ok(Some(Frame::Control(c))) => {
                    if c.kind == ControlType::Start && !c.offers_dnstap() {
                        self.fail(
                            stats,
                            FstrmError::BadControl {
                                offset: self.frames.frame_offset(),
                                detail: format!(
                                    "START with content type {:?}, not protobuf:dnstap.Dnstap",
                                    c.content_types
                                        .iter()
                                        .map(|t| String::from_utf8_lossy(t).into_owned())
                                        .collect::<Vec<_>>()
                                ),
                            },
                        );
                    }
                    // STOP ends a segment; a later START may begin another
                    // (files concatenated from several captures).
                }
                Ok(Some(Frame::Data)) => {
                    self.number += 1;
                    self.tally.frames += 1;
                    let offset = self.frames.frame_offset();
                    let before = stats.skipped(SkipReason::DnstapBadMessage);
                    let client = count_payload(
                        self.frames.payload(),
                        out,
                        stats,
                        &self.name,
                        self.number,
                        offset,
                    );
                    if client {
                        self.tally.client += 1;
                        return true;
                    }
                    if stats.skipped(SkipReason::DnstapBadMessage) > before {
                        self.tally.bad += 1;
                        if self.tally.first_bad.len() < 3 {
                            let why = decode_payload(self.frames.payload(), out)
                                .err()
                                .map(|e| e.to_string())
                                .unwrap_or_default();
                            self.tally
                                .first_bad
                                .push(format!("frame {} at offset {offset}: {why}", self.number));
                        }
                    } else {
                        self.tally.counted += 1;
                    }
                }
                Err(e) => self.fail(stats, e),
            }
        }
        false
    }

    fn fail(&mut self, stats: &mut Stats, e: FstrmError) {
        let offset = e.offset();
        stats.skip_at(
            SkipReason::DnstapBadFrame,
            &self.name,
            "frame",
            self.number + 1,
            || format!("at byte offset {offset}: {e}"),
        );
        tracing::warn!(file = %self.name, offset, error = %e, "dnstap file: bad frame, the rest of the file is not read");
        self.tally.fatal = Some(e.to_string());
        self.done = true;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A CLIENT_QUERY or CLIENT_RESPONSE payload for `wire`.
    pub(crate) fn client_payload(
        response: bool,
        proto: i32,
        client: [u8; 4],
        cport: u32,
        ts_sec: u64,
        wire: &[u8],
    ) -> Vec<u8> {
        let mut m = pb::Message {
            r#type: if response { 6 } else { 5 },
            socket_family: Some(1),
            socket_protocol: Some(proto),
            query_address: Some(client.to_vec()),
            response_address: Some(vec![10, 0, 0, 53]),
            query_port: Some(cport),
            response_port: Some(53),
            query_time_sec: Some(ts_sec),
            query_time_nsec: Some(250_000_000),
            ..Default::default()
        };
        if response {
            m.response_time_sec = Some(ts_sec);
            m.response_time_nsec = Some(260_000_000);
            m.response_message = Some(wire.to_vec());
        } else {
            m.query_message = Some(wire.to_vec());
        }
        pb::Dnstap {
            identity: Some(b"test".to_vec()),
            r#type: 1,
            message: Some(m),
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn client_messages_are_oriented_and_timed() {
        let mut out = ClientMessage::default();
        let q = client_payload(false, 3, [10, 1, 2, 3], 40000, 1_700_000_000, b"wire-q");
        assert_eq!(decode_payload(&q, &mut out), Ok(Decoded::Client));
        assert_eq!(out.src, IpAddr::from([10, 1, 2, 3]));
        assert_eq!(out.dst, IpAddr::from([10, 0, 0, 53]));
        assert_eq!((out.sport, out.dport), (40000, 53));
        assert_eq!(out.transport, Transport::Dot);
        assert_eq!(out.ts, 1_700_000_000 * MICROS + 250_000);
        assert!(!out.response);
        let r = client_payload(true, 7, [10, 1, 2, 3], 40000, 1_700_000_000, b"wire-r");
        assert_eq!(decode_payload(&r, &mut out), Ok(Decoded::Client));
        assert_eq!(out.src, IpAddr::from([10, 0, 0, 53]));
        assert_eq!((out.sport, out.dport), (53, 40000));
        assert_eq!(out.transport, Transport::Doq);
        assert_eq!(out.ts, 1_700_000_000 * MICROS + 260_000);
        assert_eq!(out.wire, b"wire-r");
        // TCP on the server's port 853 / 443 is DoT / DoH (older resolvers)
        let mut d = pb::Dnstap::decode(&q[..]).unwrap();
        d.message.as_mut().unwrap().socket_protocol = Some(2);
        for (p, want) in [
            (853, Transport::Dot),
            (443, Transport::Doh),
            (53, Transport::Tcp),
        ] {
            d.message.as_mut().unwrap().response_port = Some(p);
            decode_payload(&d.encode_to_vec(), &mut out).unwrap();
            assert_eq!(out.transport, want, "port {p}");
        }
        // unbound 1.17 leaves socket_protocol out for DoH
        d.message.as_mut().unwrap().socket_protocol = None;
        for (p, want) in [(443, Transport::Doh), (53, Transport::Udp)] {
            d.message.as_mut().unwrap().response_port = Some(p);
            decode_payload(&d.encode_to_vec(), &mut out).unwrap();
            assert_eq!(out.transport, want, "port {p}");
        }
    }

    #[test]
    fn resolver_side_and_bad_payloads_are_told_apart() {
        let mut out = ClientMessage::default();
        let mut d =
            pb::Dnstap::decode(&client_payload(false, 1, [1, 2, 3, 4], 1, 1, b"x")[..]).unwrap();
        for (t, want) in [
            (3, Decoded::ResolverSide),
            (8, Decoded::ResolverSide),
            (2, Decoded::ResolverSide),
            (11, Decoded::Other),
            (99, Decoded::Other),
        ] {
            d.message.as_mut().unwrap().r#type = t;
            assert_eq!(
                decode_payload(&d.encode_to_vec(), &mut out),
                Ok(want),
                "type {t}"
            );
        }
        d.message.as_mut().unwrap().r#type = 5;
        d.message.as_mut().unwrap().query_address = Some(vec![1, 2, 3]);
        let e = decode_payload(&d.encode_to_vec(), &mut out).unwrap_err();
        assert!(e.to_string().contains("query_address has 3 bytes"), "{e}");
        d.message.as_mut().unwrap().query_address = Some(vec![1, 2, 3, 4]);
        d.message.as_mut().unwrap().socket_protocol = Some(42);
        assert_eq!(
            decode_payload(&d.encode_to_vec(), &mut out),
            Err(MessageError::UnknownProtocol(42))
        );
        d.message.as_mut().unwrap().socket_protocol = None;
        d.message.as_mut().unwrap().query_message = None;
        let e = decode_payload(&d.encode_to_vec(), &mut out).unwrap_err();
        assert!(
            e.to_string().contains("CLIENT_QUERY without query_message"),
            "{e}"
        );
        assert!(matches!(
            decode_payload(b"\xff\xff\xff garbage", &mut out),
            Err(MessageError::Protobuf(_))
        ));
    }

    #[test]
    fn file_reader_counts_and_stops_at_a_bad_frame() {
        let mut v = Vec::new();
        fstrm::write_control(&mut v, ControlType::Start, Some(fstrm::DNSTAP_CONTENT_TYPE)).unwrap();
        let q = client_payload(false, 1, [10, 0, 0, 1], 1000, 1_700_000_000, b"q");
        fstrm::write_data(&mut v, &q).unwrap();
        fstrm::write_data(&mut v, b"\x08garbage").unwrap();
        let mut d = pb::Dnstap::decode(&q[..]).unwrap();
        d.message.as_mut().unwrap().r#type = 3;
        fstrm::write_data(&mut v, &d.encode_to_vec()).unwrap();
        fstrm::write_data(&mut v, &q).unwrap();
        let cut = v.len() - 3; // truncated last frame
        let mut r = DnstapFileReader::new(
            Box::new(std::io::Cursor::new(v[..cut].to_vec())),
            "t.dnstap",
        );
        let mut stats = Stats::default();
        let mut out = ClientMessage::default();
        assert!(r.next_into(&mut out, &mut stats));
        assert_eq!(r.frame(), 1);
        assert!(!r.next_into(&mut out, &mut stats));
        assert_eq!(stats.dnstap_frames, 3);
        assert_eq!(stats.dnstap_resolver_messages, 1);
        assert_eq!(stats.skipped(SkipReason::DnstapBadMessage), 1);
        assert_eq!(stats.skipped(SkipReason::DnstapBadFrame), 1);
        let t = r.tally();
        assert_eq!((t.client, t.bad, t.counted), (1, 1, 1));
        assert!(
            t.first_bad[0].starts_with("frame 2 at offset"),
            "{:?}",
            t.first_bad
        );
        assert!(t.fatal.as_deref().unwrap().contains("truncated"), "{t:?}");
        assert!(!r.all_rejected());
    }
}
