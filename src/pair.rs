//! Pairs DNS queries with their responses into [`Lookup`]s.
//!
//! A query waits in a table keyed by (client, server, client port, server port,
//! transaction id, transport) until its response arrives, or until the pairing
//! timeout passes on *packet time* (then it becomes an `Unanswered` lookup). A
//! response whose query was not seen becomes an `Unsolicited` lookup keyed to
//! its destination (the client), so one-way taps still produce windows. A
//! retransmitted query (same key while pending) is counted once. mDNS and LLMNR
//! queries are answered by any host on the link, so they are passed through as
//! `Multicast` lookups and their responses are not paired.
//!
//! The table is bounded (`max_pending`); query names live in pooled strings, so
//! steady-state pairing does not allocate. Expired queries are emitted sorted by
//! (query time, arrival order) so that results never depend on hash order.

use crate::event::{
    DnsMessage, DnsService, Lookup, LookupDetail, LookupOutcome, Transport, TsMicros, MICROS,
};
use crate::stats::{Bound, Stats};
use rustc_hash::FxHashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;

/// Pairing parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PairConfig {
    /// How long a query waits for its response (packet time).
    pub timeout: TsMicros,
    /// Most queries waiting at once; beyond it the oldest are expired early.
    pub max_pending: usize,
}

impl Default for PairConfig {
    fn default() -> Self {
        PairConfig {
            timeout: 10 * MICROS,
            max_pending: 1 << 20,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    client: IpAddr,
    server: IpAddr,
    cport: u16,
    sport: u16,
    id: u16,
    transport: Transport,
}

#[derive(Debug)]
struct Pending {
    ts: TsMicros,
    seq: u64,
    qtype: u16,
    qbytes: u32,
    service: DnsService,
    /// Header flags and question class of the query, for its unanswered lookup.
    flags: u16,
    qclass: u16,
    qname: String,
}

/// The query/response pairing table.
#[derive(Debug, Default)]
pub struct Pairer {
    cfg: PairConfig,
    pending: FxHashMap<Key, Pending>,
    pool: Vec<String>,
    seq: u64,
    last_expire: TsMicros,
    /// Packet time between two expiry scans.
    scan_step: TsMicros,
    expired: Vec<(TsMicros, u64, Key)>,
}

impl Pairer {
    /// New empty table.
    pub fn new(cfg: PairConfig) -> Self {
        Pairer {
            cfg,
            scan_step: MICROS,
            ..Default::default()
        }
    }

    /// Scan for expired queries at most once per `step` of packet time
    /// (default 1 s, at least 1 µs). The pipeline narrows it when the window
    /// grace exceeds the timeout by less than a second, so that a query is
    /// always expired before the watermark closes its window.
    pub fn with_scan_step(mut self, step: TsMicros) -> Self {
        self.scan_step = step.max(1);
        self
    }

    /// Queries waiting for a response.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Feed one decoded message; calls `emit` for each lookup it completes.
    pub fn push<F: FnMut(&Lookup<'_>)>(
        &mut self,
        m: &DnsMessage<'_>,
        stats: &mut Stats,
        mut emit: F,
    ) {
        if m.service != DnsService::Dns {
            if !m.response {
                stats.lookups += 1;
                emit(&Lookup {
                    ts: m.ts,
                    client: m.src,
                    server: Some(m.dst),
                    transport: Some(m.transport),
                    service: m.service,
                    qname: m.qname,
                    qtype: m.qtype,
                    rcode: None,
                    answers: Default::default(),
                    min_ttl: None,
                    latency_us: None,
                    query_bytes: m.size,
                    response_bytes: 0,
                    outcome: LookupOutcome::Multicast,
                    label: None,
                    scenario: None,
                    detail: LookupDetail {
                        id: Some(m.id),
                        client_port: Some(m.sport),
                        server_port: Some(m.dport),
                        qclass: (m.qdcount > 0).then_some(m.qclass),
                        flags: Some(header_flags(m.wire)),
                        response: None,
                    },
                });
            }
            return;
        }
        if !m.response {
            let key = Key {
                client: m.src,
                server: m.dst,
                cport: m.sport,
                sport: m.dport,
                id: m.id,
                transport: m.transport,
            };
            // One hash and probe per query (entry), except when the table is
            // full and room must be made first.
            if self.pending.len() >= self.cfg.max_pending.max(1) {
                if self.pending.contains_key(&key) {
                    stats.duplicate_queries += 1;
                    return;
                }
                self.make_room(stats, &mut emit);
            }
            let slot = match self.pending.entry(key) {
                Entry::Occupied(_) => {
                    stats.duplicate_queries += 1;
                    return;
                }
                Entry::Vacant(v) => v,
            };
            let mut qname = self.pool.pop().unwrap_or_default();
            qname.clear();
            qname.push_str(m.qname);
            self.seq += 1;
            slot.insert(Pending {
                ts: m.ts,
                seq: self.seq,
                qtype: m.qtype,
                qbytes: m.size,
                service: m.service,
                flags: header_flags(m.wire),
                qclass: m.qclass,
                qname,
            });
            return;
        }
        let key = Key {
            client: m.dst,
            server: m.src,
            cport: m.dport,
            sport: m.sport,
            id: m.id,
            transport: m.transport,
        };
        // One hash and probe per response: the entry is taken only when the
        // names agree.
        let matched = match self.pending.entry(key) {
            Entry::Occupied(o) if o.get().qname == m.qname => Some(o.remove()),
            _ => None,
        };
        stats.lookups += 1;
        match matched {
            Some(p) => {
                stats.answered += 1;
                let latency = (m.ts - p.ts).clamp(0, u32::MAX as i64) as u32;
                emit(&Lookup {
                    ts: p.ts,
                    client: m.dst,
                    server: Some(m.src),
                    transport: Some(m.transport),
                    service: p.service,
                    qname: m.qname,
                    qtype: p.qtype,
                    rcode: Some(m.rcode),
                    answers: m.answers,
                    min_ttl: m.min_ttl,
                    latency_us: Some(latency),
                    query_bytes: p.qbytes,
                    response_bytes: m.size,
                    outcome: LookupOutcome::Answered,
                    label: None,
                    scenario: None,
                    detail: response_detail(m),
                });
                self.pool.push(p.qname);
            }
            None => {
                stats.unsolicited += 1;
                emit(&Lookup {
                    ts: m.ts,
                    client: m.dst,
                    server: Some(m.src),
                    transport: Some(m.transport),
                    service: m.service,
                    qname: m.qname,
                    qtype: m.qtype,
                    rcode: Some(m.rcode),
                    answers: m.answers,
                    min_ttl: m.min_ttl,
                    latency_us: None,
                    query_bytes: 0,
                    response_bytes: m.size,
                    outcome: LookupOutcome::Unsolicited,
                    label: None,
                    scenario: None,
                    detail: response_detail(m),
                });
            }
        }
    }

    /// Expire queries older than `now - timeout`. Cheap to call per packet: it
    /// scans the table at most once per second of packet time (see
    /// [`Pairer::with_scan_step`]).
    pub fn expire<F: FnMut(&Lookup<'_>)>(&mut self, now: TsMicros, stats: &mut Stats, mut emit: F) {
        if now.saturating_sub(self.last_expire) < self.scan_step && now >= self.last_expire {
            return;
        }
        self.last_expire = now;
        self.expire_before(now.saturating_sub(self.cfg.timeout), stats, &mut emit);
    }

    /// Emit every waiting query as unanswered (end of input).
    pub fn flush_all<F: FnMut(&Lookup<'_>)>(&mut self, stats: &mut Stats, mut emit: F) {
        self.expire_before(TsMicros::MAX, stats, &mut emit);
    }

    /// The table is full: expire the oldest queries early, down to 90 % of
    /// `max_pending`, in one pass (amortised O(1) per query even under a flood
    /// of queries that are all younger than the timeout). They become
    /// unanswered lookups as usual and are counted as [`Bound::PendingQueries`].
    fn make_room<F: FnMut(&Lookup<'_>)>(&mut self, stats: &mut Stats, emit: &mut F) {
        let cap = self.cfg.max_pending.max(1);
        let n = (self.pending.len() + 1)
            .saturating_sub(cap - cap / 10)
            .min(self.pending.len());
        if n == 0 {
            return;
        }
        self.expired.clear();
        self.expired
            .extend(self.pending.iter().map(|(k, p)| (p.ts, p.seq, *k)));
        if n < self.expired.len() {
            self.expired
                .select_nth_unstable_by_key(n - 1, |(ts, seq, _)| (*ts, *seq));
            self.expired.truncate(n);
        }
        stats.evicted(Bound::PendingQueries, n as u64);
        self.emit_expired(stats, emit);
    }

    fn expire_before<F: FnMut(&Lookup<'_>)>(
        &mut self,
        horizon: TsMicros,
        stats: &mut Stats,
        emit: &mut F,
    ) {
        self.expired.clear();
        self.expired.extend(
            self.pending
                .iter()
                .filter(|(_, p)| p.ts < horizon)
                .map(|(k, p)| (p.ts, p.seq, *k)),
        );
        self.emit_expired(stats, emit);
    }

    /// Emit the queries listed in `self.expired` as unanswered, in (query
    /// time, arrival) order.
    fn emit_expired<F: FnMut(&Lookup<'_>)>(&mut self, stats: &mut Stats, emit: &mut F) {
        if self.expired.is_empty() {
            return;
        }
        self.expired
            .sort_unstable_by_key(|(ts, seq, _)| (*ts, *seq));
        for i in 0..self.expired.len() {
            let key = self.expired[i].2;
            if let Some(p) = self.pending.remove(&key) {
                stats.lookups += 1;
                stats.unanswered += 1;
                emit(&Lookup {
                    ts: p.ts,
                    client: key.client,
                    server: Some(key.server),
                    transport: Some(key.transport),
                    service: p.service,
                    qname: &p.qname,
                    qtype: p.qtype,
                    rcode: None,
                    answers: Default::default(),
                    min_ttl: None,
                    latency_us: None,
                    query_bytes: p.qbytes,
                    response_bytes: 0,
                    outcome: LookupOutcome::Unanswered,
                    label: None,
                    scenario: None,
                    detail: LookupDetail {
                        id: Some(key.id),
                        client_port: Some(key.cport),
                        server_port: Some(key.sport),
                        qclass: (p.qclass != 0).then_some(p.qclass),
                        flags: Some(p.flags),
                        response: None,
                    },
                });
                self.pool.push(p.qname);
            }
        }
    }
}

/// Header bytes 2–3 of a DNS message (0 when it is shorter than that; the
/// decoder only yields messages with a whole header).
fn header_flags(wire: &[u8]) -> u16 {
    match wire {
        [_, _, a, b, ..] => u16::from_be_bytes([*a, *b]),
        _ => 0,
    }
}

/// The details of a lookup completed by response `m`.
fn response_detail<'a>(m: &DnsMessage<'a>) -> LookupDetail<'a> {
    LookupDetail {
        id: Some(m.id),
        client_port: Some(m.dport),
        server_port: Some(m.sport),
        qclass: (m.qdcount > 0).then_some(m.qclass),
        flags: Some(header_flags(m.wire)),
        response: (!m.wire.is_empty()).then_some(m.wire),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Answers;

    fn msg(ts: i64, response: bool, id: u16, name: &'static str) -> DnsMessage<'static> {
        let c: IpAddr = "10.0.0.2".parse().unwrap();
        let s: IpAddr = "10.0.0.1".parse().unwrap();
        let (src, dst, sport, dport) = if response {
            (s, c, 53, 40000)
        } else {
            (c, s, 40000, 53)
        };
        DnsMessage {
            ts,
            src,
            dst,
            sport,
            dport,
            transport: Transport::Udp,
            service: DnsService::Dns,
            id,
            response,
            opcode: 0,
            rcode: if response { 3 } else { 0 },
            truncated: false,
            qname: name,
            qtype: 1,
            qclass: 1,
            qdcount: 1,
            answers: Answers::default(),
            min_ttl: None,
            size: 40,
            wire: &[],
        }
    }

    type Seen = Vec<(i64, String, LookupOutcome, Option<u32>)>;

    fn run(msgs: &[DnsMessage<'static>], end: bool) -> (Seen, Stats) {
        let mut p = Pairer::new(PairConfig::default());
        let mut s = Stats::default();
        let mut out = Vec::new();
        for m in msgs {
            let mut e =
                |l: &Lookup<'_>| out.push((l.ts, l.qname.to_string(), l.outcome, l.latency_us));
            p.expire(m.ts, &mut s, &mut e);
            p.push(m, &mut s, &mut e);
        }
        if end {
            p.flush_all(&mut s, |l| {
                out.push((l.ts, l.qname.to_string(), l.outcome, l.latency_us))
            });
        }
        (out, s)
    }

    #[test]
    fn query_and_response_pair_with_latency() {
        let (out, s) = run(
            &[
                msg(1_000_000, false, 7, "a.com"),
                msg(1_020_000, true, 7, "a.com"),
            ],
            true,
        );
        assert_eq!(
            out,
            vec![(
                1_000_000,
                "a.com".into(),
                LookupOutcome::Answered,
                Some(20_000)
            )]
        );
        assert_eq!(
            (s.answered, s.unanswered, s.unsolicited, s.lookups),
            (1, 0, 0, 1)
        );
    }

    #[test]
    fn unanswered_expire_on_packet_time_in_order() {
        let (out, s) = run(
            &[
                msg(1_000_000, false, 1, "b.com"),
                msg(1_000_000, false, 2, "a.com"),
                msg(30_000_000, false, 3, "c.com"),
            ],
            false,
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].1, "b.com");
        assert_eq!(out[1].1, "a.com");
        assert_eq!(s.unanswered, 2);
    }

    #[test]
    fn unsolicited_and_mismatched_names_and_duplicates() {
        let (out, s) = run(
            &[
                msg(1, false, 9, "x.com"),
                msg(2, false, 9, "x.com"),
                msg(3, true, 9, "y.com"),
                msg(4, true, 5, "z.com"),
            ],
            true,
        );
        assert_eq!(s.duplicate_queries, 1);
        assert_eq!(s.unsolicited, 2);
        assert_eq!(s.unanswered, 1);
        assert_eq!(
            out.iter()
                .filter(|o| o.2 == LookupOutcome::Unsolicited)
                .count(),
            2
        );
    }

    #[test]
    fn multicast_queries_pass_through() {
        let mut m = msg(1, false, 0, "printer.local");
        m.service = DnsService::Mdns;
        let mut r = msg(2, true, 0, "printer.local");
        r.service = DnsService::Mdns;
        let (out, s) = run(&[m, r], true);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].2, LookupOutcome::Multicast);
        assert_eq!(s.unanswered + s.unsolicited, 0);
    }

    #[test]
    fn a_full_table_evicts_the_oldest_tenth_in_one_pass() {
        let mut p = Pairer::new(PairConfig {
            max_pending: 100,
            ..PairConfig::default()
        });
        let mut s = Stats::default();
        let mut out = Vec::new();
        // 200 000 fresh queries (all younger than the timeout) from distinct ids
        // and ports: a flood that once cost one table scan per query.
        let t = std::time::Instant::now();
        for i in 0..200_000u32 {
            let mut m = msg(1_000_000 + i64::from(i), false, i as u16, "q.example");
            m.sport = 1024 + (i >> 16) as u16;
            p.push(&m, &mut s, |l| out.push((l.ts, l.outcome)));
            assert!(p.pending.len() <= 100);
        }
        assert!(t.elapsed().as_secs() < 20, "{:?}", t.elapsed());
        let evicted = s.evictions(Bound::PendingQueries);
        assert_eq!(evicted as usize, out.len());
        assert_eq!(
            out.len() + p.pending.len(),
            200_000,
            "every query accounted for"
        );
        assert!(out.iter().all(|o| o.1 == LookupOutcome::Unanswered));
        // oldest first, in order
        assert!(out.windows(2).all(|w| w[0].0 <= w[1].0));
        assert_eq!(out[0].0, 1_000_000);
    }
    #[test]
    fn a_duplicate_at_a_full_table_evicts_nothing() {
        let mut p = Pairer::new(PairConfig {
            max_pending: 2,
            ..PairConfig::default()
        });
        let mut s = Stats::default();
        let mut out = Vec::new();
        for (ts, id) in [(1, 1), (2, 2), (3, 2)] {
            p.push(&msg(ts, false, id, "d.example"), &mut s, |l| out.push(l.ts));
        }
        assert_eq!(s.duplicate_queries, 1);
        assert_eq!(s.evictions(Bound::PendingQueries), 0);
        assert!(out.is_empty());
        assert_eq!(p.pending.len(), 2);
        // A new query at the full table makes room as before.
        p.push(&msg(4, false, 3, "d.example"), &mut s, |l| out.push(l.ts));
        assert_eq!(out, vec![1]);
        assert_eq!(p.pending.len(), 2);
    }

    #[test]
    fn a_response_with_another_name_leaves_the_query_waiting() {
        let (out, s) = run(
            &[
                msg(1, false, 4, "a.example"),
                msg(2, true, 4, "b.example"),
                msg(3, true, 4, "a.example"),
            ],
            true,
        );
        assert_eq!((s.unsolicited, s.answered, s.unanswered), (1, 1, 0));
        assert_eq!(out[0].2, LookupOutcome::Unsolicited);
        assert_eq!(
            out[1],
            (1, "a.example".into(), LookupOutcome::Answered, Some(2))
        );
    }
    #[test]
    fn an_ipv4_query_is_not_answered_from_the_ipv6_address_with_its_bits() {
        let q = msg(1, false, 8, "v.example");
        let mut r = msg(2, true, 8, "v.example");
        // ::10.0.0.1 → ::10.0.0.2: same low 32 bits as the query's addresses.
        r.src = "::a00:1".parse().unwrap();
        r.dst = "::a00:2".parse().unwrap();
        let (out, s) = run(&[q, r], true);
        assert_eq!((s.answered, s.unsolicited, s.unanswered), (0, 1, 1));
        assert_eq!(out.len(), 2);
        // And with the IPv4 addresses it pairs.
        let (_, s) = run(&[q, msg(2, true, 8, "v.example")], true);
        assert_eq!((s.answered, s.unsolicited, s.unanswered), (1, 0, 0));
    }
}
