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
    /// dnstap data frame that is not a usable Dnstap message (bad protobuf,
    /// a client message without its address, time or DNS message).
    DnstapBadMessage,
    /// Frame Streams damage (truncated frame, garbage length, bad control
    /// frame): the rest of that file or connection is not read.
    DnstapBadFrame,
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
    pub const ALL: [SkipReason; 22] = [
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
        SkipReason::DnstapBadMessage,
        SkipReason::DnstapBadFrame,
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
            SkipReason::DnstapBadMessage => "dnstap_bad_message",
            SkipReason::DnstapBadFrame => "dnstap_bad_frame",
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
                | SkipReason::DnstapBadMessage
                | SkipReason::DnstapBadFrame
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
    /// Hosts with an open incident (`[incidents] max_hosts`; beyond it the
    /// incident with the oldest flag is closed early).
    IncidentHosts,
}

impl Bound {
    /// All bounds, in report order.
    pub const ALL: [Bound; 10] = [
        Bound::HostWindows,
        Bound::FirstSeenSensor,
        Bound::FirstSeenHost,
        Bound::FirstSeenRows,
        Bound::TcpFlows,
        Bound::PendingQueries,
        Bound::JsonlLine,
        Bound::WindowNames,
        Bound::FragmentSets,
        Bound::IncidentHosts,
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
            Bound::IncidentHosts => "incident_hosts",
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

/// A Prometheus metric family a run counter is exported in (every run
/// counter is a Prometheus `counter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromFamily {
    /// Metric name, e.g. `sentineldns_input_files_total`.
    pub name: &'static str,
    /// `# HELP` text.
    pub help: &'static str,
    /// Where the family sits in the exposition.
    pub group: PromGroup,
}

/// Where a family of run counters sits in the exposition: the input
/// counters come before the packet drops of live capture, the decoding
/// counters after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromGroup {
    /// Files, records, bytes, lines read.
    Input,
    /// What was decoded from them.
    Decode,
}

/// One Prometheus series of a run counter: its family and label set (`""`
/// for a family with one series, else e.g. `{type="query"}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromSeries {
    /// The family.
    pub family: PromFamily,
    /// Label set, with braces.
    pub labels: &'static str,
}

const fn prom(name: &'static str, group: PromGroup, help: &'static str) -> Option<PromSeries> {
    Some(PromSeries {
        family: PromFamily { name, help, group },
        labels: "",
    })
}

const fn prom_in(family: PromFamily, labels: &'static str) -> Option<PromSeries> {
    Some(PromSeries { family, labels })
}

const DNS_DECODED: PromFamily = PromFamily {
    name: "sentineldns_dns_messages_decoded_total",
    help: "DNS messages decoded, by type (query, response).",
    group: PromGroup::Decode,
};

const DNS_MULTICAST: PromFamily = PromFamily {
    name: "sentineldns_dns_multicast_messages_total",
    help: "mDNS and LLMNR messages decoded, by service.",
    group: PromGroup::Decode,
};

/// A line of the human run summary made of counters: `HEAD n (part n, part n, ...)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryLine {
    /// `dns messages ... (queries ..., responses ..., ...)`.
    Dns,
    /// `lookups ... (answered ..., unanswered ..., ...)`.
    Lookups,
}

/// Where a counter appears in the human run summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryPart {
    /// The line.
    pub line: SummaryLine,
    /// Position on the line: 0 is the line's head, the others are listed in
    /// parentheses in this order.
    pub rank: u8,
    /// Label, e.g. `retransmits`.
    pub label: &'static str,
}

const fn summary(line: SummaryLine, rank: u8, label: &'static str) -> Option<SummaryPart> {
    Some(SummaryPart { line, rank, label })
}

/// One run counter, every surface it appears on: the [`Stats`] field and
/// the run summary JSON key are both `key`; `prom` is its Prometheus series
/// (`None`: not exported from [`Stats`], e.g. lookups and windows, which the
/// metrics registry counts live); `summary` is its place in the human run
/// summary (`None`: on a line of its own shape, files, packets and lines on
/// the first, windows on the last).
#[derive(Debug, Clone, Copy)]
pub struct Counter {
    /// Field of [`Stats`] and [`StatsReport`], key of the run summary JSON.
    pub key: &'static str,
    /// What it counts.
    pub help: &'static str,
    /// Prometheus series.
    pub prom: Option<PromSeries>,
    /// Place in the human summary.
    pub summary: Option<SummaryPart>,
    /// The value in a [`Stats`].
    pub stat: fn(&Stats) -> u64,
    /// The value in a [`StatsReport`].
    pub report: fn(&StatsReport) -> u64,
}

/// The one table of run counters. Generates the counter fields of [`Stats`]
/// and [`StatsReport`] (in this order, which is the order of the JSON keys),
/// their merge and copy, and [`COUNTERS`], which the Prometheus registry
/// ([`crate::output::metrics`]) and the human summary read.
macro_rules! run_counters {
    ($(
        $(#[doc = $doc:literal])+
        $field:ident: prom $prom:expr, summary $summary:expr;
    )*) => {
        /// Counters for one run.
        #[derive(Debug, Clone, Default)]
        pub struct Stats {
            $(
                $(#[doc = $doc])+
                pub $field: u64,
            )*
            skips: [u64; SkipReason::ALL.len()],
            evictions: [u64; Bound::ALL.len()],
            examples: Vec<SkipExample>,
        }

        impl Stats {
            fn merge_counters(&mut self, o: &Stats) {
                $(self.$field += o.$field;)*
            }
        }

        /// A serialisable snapshot of [`Stats`] for `--format json` summaries.
        #[derive(Debug, Clone, Serialize)]
        pub struct StatsReport {
            $(
                $(#[doc = $doc])+
                pub $field: u64,
            )*
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
                    $($field: s.$field,)*
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

        /// Every run counter, in [`Stats`] field order.
        pub const COUNTERS: &[Counter] = &[$(
            Counter {
                key: stringify!($field),
                help: concat!($($doc),+),
                prom: $prom,
                summary: $summary,
                stat: |s: &Stats| s.$field,
                report: |r: &StatsReport| r.$field,
            },
        )*];
    };
}

use PromGroup::{Decode, Input};
use SummaryLine::{Dns, Lookups};

run_counters! {
    /// Files opened.
    files: prom prom("sentineldns_input_files_total", Input, "Input files opened."),
        summary None;
    /// Capture records read.
    packets: prom prom(
        "sentineldns_packets_captured_total",
        Input,
        "Capture records read (replayed or captured).",
    ),
        summary None;
    /// Captured bytes read.
    bytes: prom prom("sentineldns_captured_bytes_total", Input, "Captured bytes read."),
        summary None;
    /// JSONL lines read (including blank and bad ones).
    lines: prom prom(
        "sentineldns_jsonl_lines_total",
        Input,
        "JSONL event lines read (including blank and bad ones).",
    ),
        summary None;
    /// dnstap data frames read (files and connections).
    dnstap_frames: prom prom(
        "sentineldns_dnstap_frames_total",
        Input,
        "dnstap data frames read (files and connections).",
    ),
        summary None;
    /// dnstap resolver-side messages (RESOLVER_*, FORWARDER_*, AUTH_*):
    /// counted, never windowed as clients.
    dnstap_resolver_messages: prom prom(
        "sentineldns_dnstap_resolver_messages_total",
        Input,
        "dnstap resolver-side messages (RESOLVER_*, FORWARDER_*, AUTH_*), counted apart from client lookups.",
    ),
        summary None;
    /// dnstap messages of other types (STUB_*, TOOL_*, UPDATE_*, unknown).
    dnstap_other_messages: prom prom(
        "sentineldns_dnstap_other_messages_total",
        Input,
        "dnstap messages of other types (STUB_*, TOOL_*, UPDATE_*, unknown).",
    ),
        summary None;
    /// DNS messages decoded (queries + responses).
    dns_messages: prom None, summary summary(Dns, 0, "dns messages");
    /// Of which queries.
    dns_queries: prom prom_in(DNS_DECODED, "{type=\"query\"}"),
        summary summary(Dns, 1, "queries");
    /// Of which responses.
    dns_responses: prom prom_in(DNS_DECODED, "{type=\"response\"}"),
        summary summary(Dns, 2, "responses");
    /// mDNS messages.
    mdns_messages: prom prom_in(DNS_MULTICAST, "{service=\"mdns\"}"),
        summary summary(Dns, 4, "mdns");
    /// LLMNR messages.
    llmnr_messages: prom prom_in(DNS_MULTICAST, "{service=\"llmnr\"}"),
        summary summary(Dns, 5, "llmnr");
    /// DNS messages that came over TCP.
    tcp_messages: prom prom(
        "sentineldns_dns_tcp_messages_total",
        Decode,
        "DNS messages reassembled from TCP streams.",
    ),
        summary summary(Dns, 3, "tcp");
    /// IP datagrams completed by fragment reassembly.
    reassembled_datagrams: prom prom(
        "sentineldns_reassembled_datagrams_total",
        Decode,
        "IP datagrams completed by fragment reassembly.",
    ),
        summary summary(Dns, 6, "from fragments");
    /// Lookups produced (all outcomes).
    lookups: prom None, summary summary(Lookups, 0, "lookups");
    /// Queries paired with a response.
    answered: prom None, summary summary(Lookups, 1, "answered");
    /// Queries with no response within the pairing timeout.
    unanswered: prom None, summary summary(Lookups, 2, "unanswered");
    /// Responses with no matching query.
    unsolicited: prom None, summary summary(Lookups, 3, "unsolicited");
    /// Retransmitted queries (same key while pending).
    duplicate_queries: prom prom(
        "sentineldns_duplicate_queries_total",
        Decode,
        "Retransmitted queries (same key while pending).",
    ),
        summary summary(Lookups, 5, "retransmits");
    /// Lookups from JSONL events.
    events: prom None, summary summary(Lookups, 4, "events");
    /// Windows closed.
    windows: prom None, summary None;
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
        self.merge_counters(o);
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

impl StatsReport {
    /// One counter line of the human summary, e.g. `lookups 9 (answered 7,
    /// unanswered 1, unsolicited 0, events 1, retransmits 0)`.
    pub fn summary_line(&self, line: SummaryLine) -> String {
        let mut parts: Vec<(u8, &str, u64)> = COUNTERS
            .iter()
            .filter_map(|c| {
                let p = c.summary.filter(|p| p.line == line)?;
                Some((p.rank, p.label, (c.report)(self)))
            })
            .collect();
        parts.sort_by_key(|p| p.0);
        let mut out = String::new();
        for (i, (_, label, v)) in parts.iter().enumerate() {
            match i {
                0 => out = format!("{label} {v}"),
                1 => out.push_str(&format!(" ({label} {v}")),
                _ => out.push_str(&format!(", {label} {v}")),
            }
        }
        if parts.len() > 1 {
            out.push(')');
        }
        out
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

    #[test]
    fn the_counter_table_drives_the_json_keys_and_the_summary() {
        let s = Stats {
            dns_messages: 5,
            dns_queries: 3,
            dns_responses: 2,
            tcp_messages: 1,
            reassembled_datagrams: 4,
            lookups: 9,
            answered: 7,
            unanswered: 1,
            events: 1,
            duplicate_queries: 2,
            ..Default::default()
        };
        let mut t = Stats::default();
        t.merge(&s);
        t.merge(&s);
        let r = StatsReport::from(&t);
        let v = serde_json::to_value(&r).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let table: Vec<&str> = COUNTERS.iter().map(|c| c.key).collect();
        assert_eq!(keys[..table.len()], table[..], "JSON keys follow the table");
        for c in COUNTERS {
            assert_eq!(v[c.key], (c.report)(&r), "{}", c.key);
            assert_eq!((c.stat)(&t), (c.report)(&r), "{}", c.key);
        }
        assert_eq!(
            r.summary_line(SummaryLine::Dns),
            "dns messages 10 (queries 6, responses 4, tcp 2, mdns 0, llmnr 0, from fragments 8)"
        );
        assert_eq!(
            r.summary_line(SummaryLine::Lookups),
            "lookups 18 (answered 14, unanswered 2, unsolicited 0, events 2, retransmits 4)"
        );
    }
}
