//! Run counters: every packet, message and line is accounted for here.
//!
//! One [`Stats`] struct per run, owned by the pipeline and passed by `&mut` to the
//! sources, decoders and pairing stage. Skips are counted by [`SkipReason`]; the
//! first few skips keep their location ([`SkipExample`]) so the run summary can
//! say which file and packet or line was bad. Nothing here allocates per packet
//! except the bounded example list.

use serde::Serialize;
use std::fmt;

/// Why an input unit (packet, message or line) was not turned into a lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Link type we do not decode (802.11, FDDI, ...).
    UnsupportedLinktype,
    /// Link-layer header shorter than it claims.
    TruncatedLink,
    /// IP header missing, short or inconsistent.
    TruncatedIp,
    /// Not IPv4/IPv6 (ARP, LLDP, ...).
    NotIp,
    /// IP payload is neither UDP nor TCP (ICMP, ESP, ...).
    NotUdpTcp,
    /// UDP/TCP header short or inconsistent.
    TruncatedTransport,
    /// UDP/TCP but not on a DNS, mDNS or LLMNR port.
    NotDnsPort,
    /// IP fragment held for reassembly (not an error).
    FragmentHeld,
    /// Fragment dropped: table full, overlap, too large or timed out.
    FragmentDropped,
    /// TCP segment with no payload (SYN, ACK, FIN).
    TcpNoPayload,
    /// TCP stream data lost (gap, buffer overflow, flow table full).
    TcpStreamLoss,
    /// DNS message shorter than its 12-byte header or a section ran off the end.
    DnsTruncated,
    /// DNS name with a compression loop, forward pointer or over-long label/name.
    DnsBadName,
    /// Other DNS parse failure (bogus counts, bad record lengths).
    DnsMalformed,
    /// A capture record that pcap-parser could not read (bogus lengths).
    CaptureRecord,
    /// JSONL line that is not valid JSON or lacks required fields.
    JsonlBadLine,
    /// Lookup older than the window watermark (arrived after its window closed).
    LateLookup,
    /// JSONL line longer than the line cap (read to its end, never buffered whole).
    JsonlLineTooLong,
    /// Packet or event stamped far ahead of the stream's packet clock.
    FutureTimestamp,
    /// Lookup lost with a (host, window) accumulator evicted at the host cap.
    WindowEvicted,
}

impl SkipReason {
    /// All reasons, in report order.
    pub const ALL: [SkipReason; 20] = [
        SkipReason::UnsupportedLinktype,
        SkipReason::TruncatedLink,
        SkipReason::TruncatedIp,
        SkipReason::NotIp,
        SkipReason::NotUdpTcp,
        SkipReason::TruncatedTransport,
        SkipReason::NotDnsPort,
        SkipReason::FragmentHeld,
        SkipReason::FragmentDropped,
        SkipReason::TcpNoPayload,
        SkipReason::TcpStreamLoss,
        SkipReason::DnsTruncated,
        SkipReason::DnsBadName,
        SkipReason::DnsMalformed,
        SkipReason::CaptureRecord,
        SkipReason::JsonlBadLine,
        SkipReason::LateLookup,
        SkipReason::JsonlLineTooLong,
        SkipReason::FutureTimestamp,
        SkipReason::WindowEvicted,
    ];

    /// Stable snake_case name (used in summaries, JSON and metrics).
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::UnsupportedLinktype => "unsupported_linktype",
            SkipReason::TruncatedLink => "truncated_link",
            SkipReason::TruncatedIp => "truncated_ip",
            SkipReason::NotIp => "not_ip",
            SkipReason::NotUdpTcp => "not_udp_tcp",
            SkipReason::TruncatedTransport => "truncated_transport",
            SkipReason::NotDnsPort => "not_dns_port",
            SkipReason::FragmentHeld => "fragment_held",
            SkipReason::FragmentDropped => "fragment_dropped",
            SkipReason::TcpNoPayload => "tcp_no_payload",
            SkipReason::TcpStreamLoss => "tcp_stream_loss",
            SkipReason::DnsTruncated => "dns_truncated",
            SkipReason::DnsBadName => "dns_bad_name",
            SkipReason::DnsMalformed => "dns_malformed",
            SkipReason::CaptureRecord => "capture_record",
            SkipReason::JsonlBadLine => "jsonl_bad_line",
            SkipReason::LateLookup => "late_lookup",
            SkipReason::JsonlLineTooLong => "jsonl_line_too_long",
            SkipReason::FutureTimestamp => "future_timestamp",
            SkipReason::WindowEvicted => "window_evicted",
        }
    }

    /// Whether this reason means the input was damaged (as opposed to simply not DNS).
    pub fn is_malformed(self) -> bool {
        matches!(
            self,
            SkipReason::TruncatedLink
                | SkipReason::TruncatedIp
                | SkipReason::TruncatedTransport
                | SkipReason::FragmentDropped
                | SkipReason::TcpStreamLoss
                | SkipReason::DnsTruncated
                | SkipReason::DnsBadName
                | SkipReason::DnsMalformed
                | SkipReason::CaptureRecord
                | SkipReason::JsonlBadLine
                | SkipReason::JsonlLineTooLong
                | SkipReason::FutureTimestamp
        )
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bounded table or buffer: every one an attacker could push against has a
/// limit (a config key, see README "Memory bounds"), and every time a limit
/// is reached the entries evicted or refused are counted here, in the run
/// summary (`caps`) and in Prometheus (`sentineldns_bound_evictions_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// Open (host, window) accumulators (`[limits] max_hosts_per_window`).
    HostWindows,
    /// Sensor-wide first-seen domains held in memory (`first_seen_cap`).
    FirstSeenSensor,
    /// Per-host first-seen domains held in memory (`host_first_seen_cap`).
    FirstSeenHost,
    /// First-seen rows kept in the database (`[limits] first_seen_rows`).
    FirstSeenRows,
    /// TCP flow directions being reassembled (`[limits] tcp_flows`).
    TcpFlows,
    /// Queries waiting for their response (`[limits] pending_queries`).
    PendingQueries,
    /// Bytes of one JSONL line (`[limits] jsonl_line_bytes`).
    JsonlLine,
    /// Distinct names and registrable domains kept per window
    /// (`[limits] max_names_per_window`; beyond it they are counted, not kept).
    WindowNames,
    /// IP fragment sets being reassembled (`[limits] ip_fragment_sets`).
    FragmentSets,
}

impl Bound {
    /// All bounds, in report order.
    pub const ALL: [Bound; 9] = [
        Bound::HostWindows,
        Bound::FirstSeenSensor,
        Bound::FirstSeenHost,
        Bound::FirstSeenRows,
        Bound::TcpFlows,
        Bound::PendingQueries,
        Bound::JsonlLine,
        Bound::WindowNames,
        Bound::FragmentSets,
    ];

    /// Stable snake_case name (summaries, JSON, metrics label `table`).
    pub fn as_str(self) -> &'static str {
        match self {
            Bound::HostWindows => "host_windows",
            Bound::FirstSeenSensor => "first_seen_sensor",
            Bound::FirstSeenHost => "first_seen_host",
            Bound::FirstSeenRows => "first_seen_rows",
            Bound::TcpFlows => "tcp_flows",
            Bound::PendingQueries => "pending_queries",
            Bound::JsonlLine => "jsonl_line",
            Bound::WindowNames => "window_names",
            Bound::FragmentSets => "ip_fragment_sets",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a skipped unit was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkipExample {
    /// Input file (or interface) name.
    pub source: String,
    /// 1-based packet number (captures) or line number (JSONL).
    pub position: u64,
    /// `packet` or `line`.
    pub unit: &'static str,
    /// Why it was skipped.
    pub reason: SkipReason,
    /// Detail from the decoder (e.g. `need 12 bytes, have 7`).
    pub detail: String,
}

impl fmt::Display for SkipExample {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}: {} ({})",
            self.source, self.unit, self.position, self.reason, self.detail
        )
    }
}

/// Counters for one run.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Files opened.
    pub files: u64,
    /// Capture records read.
    pub packets: u64,
    /// Captured bytes read.
    pub bytes: u64,
    /// JSONL lines read (including blank and bad ones).
    pub lines: u64,
    /// DNS messages decoded (queries + responses).
    pub dns_messages: u64,
    /// Of which queries.
    pub dns_queries: u64,
    /// Of which responses.
    pub dns_responses: u64,
    /// mDNS messages.
    pub mdns_messages: u64,
    /// LLMNR messages.
    pub llmnr_messages: u64,
    /// DNS messages that came over TCP.
    pub tcp_messages: u64,
    /// IP datagrams completed by fragment reassembly.
    pub reassembled_datagrams: u64,
    /// Lookups produced (all outcomes).
    pub lookups: u64,
    /// Queries paired with a response.
    pub answered: u64,
    /// Queries with no response within the pairing timeout.
    pub unanswered: u64,
    /// Responses with no matching query.
    pub unsolicited: u64,
    /// Retransmitted queries (same key while pending).
    pub duplicate_queries: u64,
    /// Lookups from JSONL events.
    pub events: u64,
    /// Windows closed.
    pub windows: u64,
    skips: [u64; SkipReason::ALL.len()],
    evictions: [u64; Bound::ALL.len()],
    examples: Vec<SkipExample>,
}

impl Stats {
    /// How many skip examples are kept with their location.
    pub const MAX_EXAMPLES: usize = 20;

    /// Count one skip.
    #[inline]
    pub fn skip(&mut self, reason: SkipReason) {
        self.skips[reason.index()] += 1;
    }

    /// Count `n` skips at once.
    pub fn skip_n(&mut self, reason: SkipReason, n: u64) {
        self.skips[reason.index()] += n;
    }

    /// Count one skip and, while there is room, remember where it happened.
    /// `detail` is only evaluated when the example is kept.
    pub fn skip_at(
        &mut self,
        reason: SkipReason,
        source: &str,
        unit: &'static str,
        position: u64,
        detail: impl FnOnce() -> String,
    ) {
        self.skip(reason);
        if reason.is_malformed() && self.examples.len() < Self::MAX_EXAMPLES {
            self.examples.push(SkipExample {
                source: source.to_string(),
                position,
                unit,
                reason,
                detail: detail(),
            });
        }
    }

    /// Count `n` entries evicted (or refused) because `bound` was reached.
    #[inline]
    pub fn evicted(&mut self, bound: Bound, n: u64) {
        self.evictions[bound.index()] += n;
    }

    /// Raise the eviction count of `bound` to the cumulative `total` kept by
    /// the stage that owns the table (never lowers it).
    pub fn set_evicted(&mut self, bound: Bound, total: u64) {
        let c = &mut self.evictions[bound.index()];
        *c = (*c).max(total);
    }

    /// Entries evicted or refused at `bound`.
    pub fn evictions(&self, bound: Bound) -> u64 {
        self.evictions[bound.index()]
    }

    /// Non-zero eviction counts in report order.
    pub fn eviction_counts(&self) -> Vec<(Bound, u64)> {
        Bound::ALL
            .iter()
            .map(|b| (*b, self.evictions(*b)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// Number of skips for `reason`.
    pub fn skipped(&self, reason: SkipReason) -> u64 {
        self.skips[reason.index()]
    }

    /// Total of all skips that mean damaged input.
    pub fn malformed_total(&self) -> u64 {
        SkipReason::ALL
            .iter()
            .filter(|r| r.is_malformed())
            .map(|r| self.skipped(*r))
            .sum()
    }

    /// Non-zero skip counts in report order.
    pub fn skip_counts(&self) -> Vec<(SkipReason, u64)> {
        SkipReason::ALL
            .iter()
            .map(|r| (*r, self.skipped(*r)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// The first few skips with their location.
    pub fn examples(&self) -> &[SkipExample] {
        &self.examples
    }

    /// Add another run's counters (used when several workers merge).
    pub fn merge(&mut self, o: &Stats) {
        self.files += o.files;
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.lines += o.lines;
        self.dns_messages += o.dns_messages;
        self.dns_queries += o.dns_queries;
        self.dns_responses += o.dns_responses;
        self.mdns_messages += o.mdns_messages;
        self.llmnr_messages += o.llmnr_messages;
        self.tcp_messages += o.tcp_messages;
        self.reassembled_datagrams += o.reassembled_datagrams;
        self.lookups += o.lookups;
        self.answered += o.answered;
        self.unanswered += o.unanswered;
        self.unsolicited += o.unsolicited;
        self.duplicate_queries += o.duplicate_queries;
        self.events += o.events;
        self.windows += o.windows;
        for (a, b) in self.skips.iter_mut().zip(o.skips.iter()) {
            *a += b;
        }
        for (a, b) in self.evictions.iter_mut().zip(o.evictions.iter()) {
            *a += b;
        }
        for e in &o.examples {
            if self.examples.len() < Self::MAX_EXAMPLES {
                self.examples.push(e.clone());
            }
        }
    }
}

/// A serialisable snapshot of [`Stats`] for `--format json` summaries.
#[derive(Debug, Clone, Serialize)]
pub struct StatsReport {
    /// Files opened.
    pub files: u64,
    /// Capture records read.
    pub packets: u64,
    /// Bytes read.
    pub bytes: u64,
    /// JSONL lines read.
    pub lines: u64,
    /// DNS messages decoded.
    pub dns_messages: u64,
    /// Queries.
    pub dns_queries: u64,
    /// Responses.
    pub dns_responses: u64,
    /// mDNS messages.
    pub mdns_messages: u64,
    /// LLMNR messages.
    pub llmnr_messages: u64,
    /// Messages over TCP.
    pub tcp_messages: u64,
    /// Datagrams from fragments.
    pub reassembled_datagrams: u64,
    /// Lookups.
    pub lookups: u64,
    /// Answered.
    pub answered: u64,
    /// Unanswered.
    pub unanswered: u64,
    /// Unsolicited.
    pub unsolicited: u64,
    /// Retransmitted queries.
    pub duplicate_queries: u64,
    /// JSONL events.
    pub events: u64,
    /// Windows closed.
    pub windows: u64,
    /// Total malformed units.
    pub malformed: u64,
    /// Skips by reason.
    pub skipped: std::collections::BTreeMap<&'static str, u64>,
    /// Entries evicted or refused at a memory bound, by table (non-zero only).
    pub caps: std::collections::BTreeMap<&'static str, u64>,
    /// First few skips with location.
    pub examples: Vec<SkipExample>,
}

impl From<&Stats> for StatsReport {
    fn from(s: &Stats) -> Self {
        StatsReport {
            files: s.files,
            packets: s.packets,
            bytes: s.bytes,
            lines: s.lines,
            dns_messages: s.dns_messages,
            dns_queries: s.dns_queries,
            dns_responses: s.dns_responses,
            mdns_messages: s.mdns_messages,
            llmnr_messages: s.llmnr_messages,
            tcp_messages: s.tcp_messages,
            reassembled_datagrams: s.reassembled_datagrams,
            lookups: s.lookups,
            answered: s.answered,
            unanswered: s.unanswered,
            unsolicited: s.unsolicited,
            duplicate_queries: s.duplicate_queries,
            events: s.events,
            windows: s.windows,
            malformed: s.malformed_total(),
            skipped: s
                .skip_counts()
                .into_iter()
                .map(|(r, n)| (r.as_str(), n))
                .collect(),
            caps: s
                .eviction_counts()
                .into_iter()
                .map(|(b, n)| (b.as_str(), n))
                .collect(),
            examples: s.examples.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_are_bounded_and_only_for_malformed() {
        let mut s = Stats::default();
        for i in 0..100 {
            s.skip_at(SkipReason::DnsTruncated, "f.pcap", "packet", i, || {
                "short".into()
            });
            s.skip_at(SkipReason::NotDnsPort, "f.pcap", "packet", i, || "x".into());
        }
        assert_eq!(s.skipped(SkipReason::DnsTruncated), 100);
        assert_eq!(s.examples().len(), Stats::MAX_EXAMPLES);
        assert!(s
            .examples()
            .iter()
            .all(|e| e.reason == SkipReason::DnsTruncated));
        assert_eq!(s.malformed_total(), 100);
    }

    #[test]
    fn reason_indices_match_all_order() {
        for (i, r) in SkipReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        for (i, b) in Bound::ALL.iter().enumerate() {
            assert_eq!(b.index(), i);
        }
    }

    #[test]
    fn evictions_merge_and_report_non_zero_only() {
        let mut a = Stats::default();
        a.evicted(Bound::HostWindows, 3);
        a.set_evicted(Bound::TcpFlows, 5);
        a.set_evicted(Bound::TcpFlows, 2);
        let mut b = Stats::default();
        b.evicted(Bound::HostWindows, 1);
        b.merge(&a);
        assert_eq!(b.evictions(Bound::HostWindows), 4);
        assert_eq!(b.evictions(Bound::TcpFlows), 5);
        let r = StatsReport::from(&b);
        assert_eq!(r.caps.len(), 2);
        assert_eq!(r.caps["host_windows"], 4);
    }
}
