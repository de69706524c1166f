//! DNS-over-TCP stream reassembly: one buffer per flow *direction*
//! (src, dst, sport, dport), RFC 1035 two-byte length framing, bounded flow
//! table with packet-time idle expiry. Owns [`TcpTable`].
//!
//! Behaviour:
//! * A direction that starts with a SYN is in sync from `ISN + 1`. A direction
//!   first seen without a SYN (capture started mid-connection) waits for a
//!   segment that *looks like* the start of a message ([`plausible_start`]: a
//!   length of at least 12 and, when visible, a sane DNS header); data before
//!   that is counted once as [`SkipReason::TcpStreamLoss`].
//! * In-order data is framed immediately; when nothing is pending the segment
//!   is framed in place and only an incomplete tail is copied into the flow
//!   buffer (which keeps its capacity and is reused).
//! * Retransmissions (data entirely before the expected sequence number) are
//!   ignored; partial overlaps are trimmed.
//! * Up to [`MAX_HELD`] out-of-order segments are held back and spliced in
//!   when the hole fills. When the holdback is full (or a segment jumps more
//!   than `max_buffer` ahead) the hole is declared a gap: loss is counted
//!   once, pending data is discarded, and the held segments plus the current
//!   one are replayed in sequence order looking for a plausible message start.
//!   The same happens as soon as the *other* direction acknowledges bytes past
//!   the hole (the endpoint got data the capture missed, so no retransmission
//!   will fill it): this recovers the messages after a capture drop without
//!   waiting for the holdback to overflow. (If a capture reorders an ACK ahead
//!   of the data it acknowledges, the late data is then treated as a
//!   retransmission; we accept that.)
//! * A frame length under 12 (no DNS message is that short) or a message that
//!   cannot fit `max_buffer` means we lost the framing: counted as loss, then
//!   resync as above.
//! * FIN closes the direction, RST closes both; pending partial data is loss.
//! * The flow table holds at most `max_flows` directions. When a new direction
//!   finds it full, a batch is evicted at once, down to 90 % of the cap (one
//!   scan of the table per `max_flows / 10` new directions, into a reused
//!   scratch vector), cheapest first: directions that never completed a message
//!   and hold nothing (half-open SYNs, idle or desynchronised junk), then
//!   directions between messages (a later message resyncs at its start), then
//!   directions with a message in progress, established ones (that completed a
//!   message before) last; least recently active first within each class.
//!   Evictions are counted at [`Bound::TcpFlows`] (and as loss when data was
//!   pending). A segment of an unknown direction that neither opens it (SYN)
//!   nor starts a message is counted as loss and evicts nothing. So a flood of
//!   half-open or one-segment flows cannot push out established flows that are
//!   making progress, and round-robin flows over the cap lose one batch instead
//!   of everything (strict least-recently-used eviction thrashed).
//!
//! Memory bound: `max_flows * (max_buffer + held data)`; spare buffers from
//! closed flows are pooled (at most [`POOL_MAX`], each at most
//! [`POOL_BUF_CAP`] bytes of capacity).

use super::Location;
use crate::event::TsMicros;
use crate::stats::{Bound, SkipReason, Stats};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Out-of-order segments held per direction before declaring a gap.
pub const MAX_HELD: usize = 8;
/// Spare buffers kept for reuse.
pub const POOL_MAX: usize = 64;
/// Largest capacity a pooled buffer may keep.
pub const POOL_BUF_CAP: usize = 16 * 1024;
/// Smallest possible DNS message (the header).
const MIN_MSG: usize = 12;

/// One direction of a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// Sender address.
    pub src: IpAddr,
    /// Receiver address.
    pub dst: IpAddr,
    /// Sender port.
    pub sport: u16,
    /// Receiver port.
    pub dport: u16,
}

impl FlowKey {
    /// The opposite direction.
    pub fn reverse(&self) -> FlowKey {
        FlowKey {
            src: self.dst,
            dst: self.src,
            sport: self.dport,
            dport: self.sport,
        }
    }
}

/// The parts of a TCP segment reassembly needs.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// Packet time.
    pub ts: TsMicros,
    /// Sequence number.
    pub seq: u32,
    /// SYN flag.
    pub syn: bool,
    /// FIN flag.
    pub fin: bool,
    /// RST flag.
    pub rst: bool,
    /// Acknowledgment number, when the ACK flag is set.
    pub ack: Option<u32>,
    /// Payload bytes.
    pub payload: &'a [u8],
}

struct Held {
    seq: u32,
    data: Vec<u8>,
}

struct Flow {
    /// Sequence number of the next byte expected.
    next_seq: u32,
    /// Framing is known (false: waiting for a plausible message start).
    synced: bool,
    /// Loss already counted for the current desync.
    loss_counted: bool,
    /// Bytes of the incomplete message(s) at the head of the stream.
    buf: Vec<u8>,
    held: Vec<Held>,
    held_bytes: usize,
    order: (TsMicros, u64),
    /// At least one message was completed on this direction.
    delivered: bool,
}

impl Flow {
    fn pending(&self) -> bool {
        !self.buf.is_empty() || !self.held.is_empty()
    }

    /// Eviction class, cheapest to lose first (see the module docs).
    fn rank(&self) -> u8 {
        match (self.pending(), self.delivered) {
            (false, false) => 0,
            (false, true) => 1,
            (true, false) => 2,
            (true, true) => 3,
        }
    }
}

/// Sort key of an eviction candidate: class, then last activity.
type EvictKey = ((u8, (TsMicros, u64)), FlowKey);

/// Bounded per-direction TCP reassembly table.
pub struct TcpTable {
    flows: FxHashMap<FlowKey, Flow>,
    order: BTreeMap<(TsMicros, u64), FlowKey>,
    seq: u64,
    pool: Vec<Vec<u8>>,
    /// Eviction candidates, reused between batches.
    scratch: Vec<EvictKey>,
    max_flows: usize,
    max_buffer: usize,
    timeout: TsMicros,
}

/// Where to report losses (expiry has no packet location).
#[derive(Clone, Copy)]
struct Ctx<'l> {
    loc: Option<&'l Location<'l>>,
    max_buffer: usize,
}

fn count_loss(stats: &mut Stats, ctx: Ctx<'_>, detail: impl FnOnce() -> String) {
    match ctx.loc {
        Some(l) => stats.skip_at(
            SkipReason::TcpStreamLoss,
            l.source,
            "packet",
            l.packet,
            detail,
        ),
        None => stats.skip(SkipReason::TcpStreamLoss),
    }
}

fn recycle(pool: &mut Vec<Vec<u8>>, mut v: Vec<u8>) {
    if pool.len() < POOL_MAX && v.capacity() > 0 && v.capacity() <= POOL_BUF_CAP {
        v.clear();
        pool.push(v);
    }
}

/// Does `d` look like the start of a length-prefixed DNS message?
pub fn plausible_start(d: &[u8]) -> bool {
    let Some(&[a, b]) = d.get(..2) else {
        return false;
    };
    let len = usize::from(u16::from_be_bytes([a, b]));
    if len < MIN_MSG {
        return false;
    }
    let Some(h) = d.get(2..14) else {
        return true; // only the length is visible
    };
    let be = |i: usize| {
        h.get(i..i + 2)
            .map_or(0u32, |s| u32::from(u16::from_be_bytes([s[0], s[1]])))
    };
    let opcode = h.get(2).map_or(0, |f| (f >> 3) & 0x0f);
    if !matches!(opcode, 0 | 1 | 2 | 4 | 5 | 6) {
        return false;
    }
    let (qd, an, ns, ar) = (be(4), be(6), be(8), be(10));
    // a question needs >= 5 bytes, a record >= 11
    qd <= 16 && (qd * 5 + (an + ns + ar) * 11) as usize <= len - MIN_MSG
}

/// Frame messages at the start of `data`; deliver each complete one. Returns
/// the bytes consumed, or `Err((consumed, bad_len))` on a frame length < 12.
fn frame<F: FnMut(&[u8], &mut Stats)>(
    data: &[u8],
    stats: &mut Stats,
    deliver: &mut F,
) -> Result<usize, (usize, usize)> {
    let mut pos = 0usize;
    while let Some(&[a, b]) = data.get(pos..pos + 2) {
        let len = usize::from(u16::from_be_bytes([a, b]));
        if len < MIN_MSG {
            return Err((pos, len));
        }
        let Some(msg) = data.get(pos + 2..pos + 2 + len) else {
            break;
        };
        deliver(msg, stats);
        pos += 2 + len;
    }
    Ok(pos)
}

/// Lose framing: count (once), drop pending data, wait for a plausible start.
fn desync(flow: &mut Flow, pool: &mut Vec<Vec<u8>>, stats: &mut Stats, ctx: Ctx<'_>, why: &str) {
    if !flow.loss_counted {
        count_loss(stats, ctx, || format!("tcp stream: {why}"));
    }
    flow.loss_counted = true;
    flow.synced = false;
    flow.buf.clear();
    for h in flow.held.drain(..) {
        recycle(pool, h.data);
    }
    flow.held_bytes = 0;
}

/// Append in-order bytes to the stream and frame. Returns false on desync.
fn append<F: FnMut(&[u8], &mut Stats)>(
    flow: &mut Flow,
    pool: &mut Vec<Vec<u8>>,
    mut data: &[u8],
    stats: &mut Stats,
    ctx: Ctx<'_>,
    deliver: &mut F,
) -> bool {
    flow.next_seq = flow.next_seq.wrapping_add(data.len() as u32);
    if flow.buf.is_empty() {
        match frame(data, stats, deliver) {
            Ok(used) => data = data.get(used..).unwrap_or(&[]),
            Err((_, bad)) => {
                desync(flow, pool, stats, ctx, &format!("frame length {bad}"));
                return false;
            }
        }
    }
    while !data.is_empty() {
        let room = ctx.max_buffer.saturating_sub(flow.buf.len());
        if room == 0 {
            let n = flow.buf.len();
            desync(
                flow,
                pool,
                stats,
                ctx,
                &format!("message over buffer ({n} bytes)"),
            );
            return false;
        }
        let (now, rest) = data.split_at(room.min(data.len()));
        flow.buf.extend_from_slice(now);
        data = rest;
        match frame(&flow.buf, stats, deliver) {
            Ok(used) => {
                flow.buf.drain(..used);
            }
            Err((_, bad)) => {
                desync(flow, pool, stats, ctx, &format!("frame length {bad}"));
                return false;
            }
        }
    }
    true
}

/// Declare the hole before the held segments lost: count once, discard pending
/// data, then replay the held segments (and `cur`, if any) in sequence order,
/// resyncing at the first plausible message start.
fn gap<F: FnMut(&[u8], &mut Stats)>(
    flow: &mut Flow,
    pool: &mut Vec<Vec<u8>>,
    cur: Option<(u32, &[u8])>,
    stats: &mut Stats,
    ctx: Ctx<'_>,
    deliver: &mut F,
) {
    let base = flow.next_seq;
    let first = flow
        .held
        .iter()
        .map(|h| h.seq)
        .chain(cur.map(|c| c.0))
        .min_by_key(|s| s.wrapping_sub(base))
        .unwrap_or(base);
    let hole = first.wrapping_sub(base);
    count_loss(stats, ctx, || format!("tcp stream: gap of {hole} bytes"));
    let mut held = std::mem::take(&mut flow.held);
    flow.held_bytes = 0;
    flow.loss_counted = true;
    flow.synced = false;
    flow.buf.clear();
    held.sort_by_key(|h| h.seq.wrapping_sub(base));
    let mut cur = cur;
    for h in held.drain(..) {
        if let Some((seq, data)) = cur {
            if h.seq.wrapping_sub(base) > seq.wrapping_sub(base) {
                process(flow, pool, seq, data, false, stats, ctx, deliver);
                cur = None;
            }
        }
        process(flow, pool, h.seq, &h.data, false, stats, ctx, deliver);
        recycle(pool, h.data);
    }
    if let Some((seq, data)) = cur {
        process(flow, pool, seq, data, false, stats, ctx, deliver);
    }
    // `held` is empty now; keep its allocation if the flow's own is fresh.
    if flow.held.capacity() == 0 {
        flow.held = held;
    }
}

/// Feed one segment's data (sequence `seq`) into a flow.
#[allow(clippy::too_many_arguments)]
fn process<F: FnMut(&[u8], &mut Stats)>(
    flow: &mut Flow,
    pool: &mut Vec<Vec<u8>>,
    seq: u32,
    data: &[u8],
    allow_gap: bool,
    stats: &mut Stats,
    ctx: Ctx<'_>,
    deliver: &mut F,
) {
    if !flow.synced {
        if plausible_start(data) {
            flow.synced = true;
            flow.loss_counted = false;
            flow.next_seq = seq;
            flow.buf.clear();
        } else {
            if !flow.loss_counted {
                count_loss(stats, ctx, || {
                    format!("tcp stream: no message start in {} bytes", data.len())
                });
                flow.loss_counted = true;
            }
            return;
        }
    }
    let rel = seq.wrapping_sub(flow.next_seq) as i32;
    if rel > 0 {
        let ahead = rel as usize;
        if ahead <= ctx.max_buffer
            && flow.held.len() < MAX_HELD
            && flow.held_bytes + data.len() <= ctx.max_buffer
        {
            if !flow
                .held
                .iter()
                .any(|h| h.seq == seq && h.data.len() >= data.len())
            {
                let mut v = pool.pop().unwrap_or_default();
                v.extend_from_slice(data);
                flow.held_bytes += data.len();
                flow.held.push(Held { seq, data: v });
            }
            return;
        }
        if !allow_gap {
            return;
        }
        gap(flow, pool, Some((seq, data)), stats, ctx, deliver);
        return;
    }
    let data = if rel < 0 {
        let skip = rel.unsigned_abs() as usize;
        match data.get(skip..) {
            Some(rest) if !rest.is_empty() => rest,
            _ => return, // retransmission
        }
    } else {
        data
    };
    if !append(flow, pool, data, stats, ctx, deliver) {
        return;
    }
    // Splice in held segments that the new data reached.
    while let Some(i) = flow
        .held
        .iter()
        .position(|h| h.seq.wrapping_sub(flow.next_seq) as i32 <= 0)
    {
        let h = flow.held.swap_remove(i);
        flow.held_bytes = flow.held_bytes.saturating_sub(h.data.len());
        let skip = flow.next_seq.wrapping_sub(h.seq) as usize;
        let ok = match h.data.get(skip..) {
            Some(rest) if !rest.is_empty() => append(flow, pool, rest, stats, ctx, deliver),
            _ => true,
        };
        recycle(pool, h.data);
        if !ok {
            return;
        }
    }
}

impl TcpTable {
    /// New table: at most `max_flows` directions, `max_buffer` bytes pending per
    /// direction, idle `timeout`.
    pub fn new(max_flows: usize, max_buffer: usize, timeout: TsMicros) -> Self {
        TcpTable {
            flows: FxHashMap::default(),
            order: BTreeMap::new(),
            seq: 0,
            pool: Vec::new(),
            scratch: Vec::new(),
            max_flows: max_flows.max(1),
            max_buffer: max_buffer.max(2 + MIN_MSG),
            timeout,
        }
    }

    /// Open flow directions.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// No open flows.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    fn close(&mut self, key: &FlowKey, stats: &mut Stats, loc: Option<&Location<'_>>, why: &str) {
        if let Some(mut flow) = self.flows.remove(key) {
            self.order.remove(&flow.order);
            if flow.pending() {
                let n = flow.buf.len() + flow.held_bytes;
                let ctx = Ctx {
                    loc,
                    max_buffer: self.max_buffer,
                };
                count_loss(stats, ctx, || {
                    format!("tcp stream: {why} with {n} bytes pending")
                });
            }
            for h in flow.held.drain(..) {
                recycle(&mut self.pool, h.data);
            }
            recycle(&mut self.pool, flow.buf);
        }
    }

    /// The peer acknowledged `ack` on direction `key`. If that is beyond what we
    /// have while segments are held, the hole was received by the endpoint but
    /// not captured: no retransmission will fill it, so declare the gap now.
    fn acked_gap<F: FnMut(&[u8], &mut Stats)>(
        &mut self,
        key: &FlowKey,
        ack: u32,
        stats: &mut Stats,
        loc: &Location<'_>,
        deliver: &mut F,
    ) {
        let max_buffer = self.max_buffer;
        let TcpTable { flows, pool, .. } = self;
        let Some(flow) = flows.get_mut(key) else {
            return;
        };
        if flow.synced && !flow.held.is_empty() && ack.wrapping_sub(flow.next_seq) as i32 > 0 {
            let ctx = Ctx {
                loc: Some(loc),
                max_buffer,
            };
            let mut any = false;
            let mut d = |m: &[u8], st: &mut Stats| {
                any = true;
                deliver(m, st)
            };
            gap(flow, pool, None, stats, ctx, &mut d);
            flow.delivered |= any;
        }
    }

    /// Make room for one new direction: when the table is full, evict down to
    /// 90 % of the cap, cheapest class first, least recently active first
    /// within a class (see the module docs). One scan per batch, into the
    /// reused scratch vector.
    fn make_room(&mut self, stats: &mut Stats, loc: &Location<'_>) {
        if self.flows.len() < self.max_flows {
            return;
        }
        let target = (self.max_flows * 9 / 10).min(self.max_flows - 1);
        let n = self.flows.len() - target;
        let mut cand = std::mem::take(&mut self.scratch);
        cand.clear();
        cand.extend(self.flows.iter().map(|(k, f)| ((f.rank(), f.order), *k)));
        if n < cand.len() {
            cand.select_nth_unstable(n);
        }
        for (_, key) in cand.iter().take(n) {
            self.close(key, stats, Some(loc), "flow table full, evicted");
        }
        stats.evicted(Bound::TcpFlows, n as u64);
        cand.clear();
        self.scratch = cand;
    }

    /// Close directions idle since before `now - timeout`.
    pub fn expire(&mut self, now: TsMicros, stats: &mut Stats) {
        let cutoff = now.saturating_sub(self.timeout);
        while let Some((&(last, _), &key)) = self.order.first_key_value() {
            if last >= cutoff {
                break;
            }
            self.close(&key, stats, None, "idle timeout");
        }
    }

    /// Process one segment of direction `key`; complete messages go to
    /// `deliver(message, reverse, stats)`, where `reverse` is true for messages
    /// of the opposite direction (released because this segment acknowledged
    /// data the capture never saw).
    pub fn segment<F: FnMut(&[u8], bool, &mut Stats)>(
        &mut self,
        key: FlowKey,
        seg: Segment<'_>,
        stats: &mut Stats,
        loc: &Location<'_>,
        deliver: &mut F,
    ) {
        let nopayload = |stats: &mut Stats| {
            stats.skip_at(
                SkipReason::TcpNoPayload,
                loc.source,
                "packet",
                loc.packet,
                String::new,
            );
        };
        if seg.rst {
            self.close(&key, stats, Some(loc), "reset");
            self.close(&key.reverse(), stats, Some(loc), "reset");
            if seg.payload.is_empty() {
                nopayload(stats);
            }
            return;
        }
        if let Some(ack) = seg.ack {
            let mut rev = |m: &[u8], st: &mut Stats| deliver(m, true, st);
            self.acked_gap(&key.reverse(), ack, stats, loc, &mut rev);
        }
        if seg.syn {
            // A (new) connection: any earlier state of this direction is stale.
            if let Some(f) = self.flows.get(&key) {
                let retransmitted_syn = f.synced && f.next_seq == seg.seq.wrapping_add(1);
                if !retransmitted_syn {
                    self.close(&key, stats, Some(loc), "new syn");
                }
            }
        }
        if seg.payload.is_empty() && !seg.syn {
            nopayload(stats);
            if seg.fin {
                self.close(&key, stats, Some(loc), "fin");
            }
            return;
        }
        if !self.flows.contains_key(&key) {
            if self.flows.len() >= self.max_flows && !seg.syn && !plausible_start(seg.payload) {
                // Nothing to hold: this direction is not worth an eviction.
                stats.skip_at(
                    SkipReason::TcpStreamLoss,
                    loc.source,
                    "packet",
                    loc.packet,
                    || {
                        format!(
                            "tcp stream: no message start in {} bytes (flow table full)",
                            seg.payload.len()
                        )
                    },
                );
                return;
            }
            self.make_room(stats, loc);
            let buf = self.pool.pop().unwrap_or_default();
            self.flows.insert(
                key,
                Flow {
                    next_seq: if seg.syn {
                        seg.seq.wrapping_add(1)
                    } else {
                        seg.seq
                    },
                    synced: seg.syn,
                    loss_counted: false,
                    buf,
                    held: Vec::new(),
                    held_bytes: 0,
                    order: (seg.ts, 0),
                    delivered: false,
                },
            );
        }
        self.seq = self.seq.wrapping_add(1);
        let order = (seg.ts, self.seq);
        let max_buffer = self.max_buffer;
        let TcpTable {
            flows,
            order: idx,
            pool,
            ..
        } = self;
        let Some(flow) = flows.get_mut(&key) else {
            return;
        };
        idx.remove(&flow.order);
        flow.order = order;
        idx.insert(order, key);
        if seg.payload.is_empty() {
            nopayload(stats);
        } else {
            let data_seq = if seg.syn {
                seg.seq.wrapping_add(1)
            } else {
                seg.seq
            };
            let ctx = Ctx {
                loc: Some(loc),
                max_buffer,
            };
            let mut any = false;
            let mut fwd = |m: &[u8], st: &mut Stats| {
                any = true;
                deliver(m, false, st)
            };
            process(
                flow,
                pool,
                data_seq,
                seg.payload,
                true,
                stats,
                ctx,
                &mut fwd,
            );
            flow.delivered |= any;
        }
        if seg.fin {
            self.close(&key, stats, Some(loc), "fin");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOC: Location<'static> = Location {
        source: "t",
        packet: 1,
    };

    fn key() -> FlowKey {
        FlowKey {
            src: IpAddr::from([1, 1, 1, 1]),
            dst: IpAddr::from([2, 2, 2, 2]),
            sport: 1000,
            dport: 53,
        }
    }

    /// A framed message of `n` bytes (n >= 12) whose first two bytes are `id`.
    fn framed(id: u16, n: usize) -> Vec<u8> {
        let mut v = (n as u16).to_be_bytes().to_vec();
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        v.resize(n + 2, 0);
        v
    }

    struct Run {
        t: TcpTable,
        st: Stats,
        got: Vec<u16>,
    }

    impl Run {
        fn new() -> Self {
            Run {
                t: TcpTable::new(16, 70_000, 60_000_000),
                st: Stats::default(),
                got: Vec::new(),
            }
        }
        fn seg(&mut self, seq: u32, syn: bool, fin: bool, payload: &[u8]) {
            let got = &mut self.got;
            let mut d =
                |m: &[u8], _: bool, _: &mut Stats| got.push(u16::from_be_bytes([m[0], m[1]]));
            let s = Segment {
                ts: 1,
                seq,
                syn,
                fin,
                rst: false,
                ack: None,
                payload,
            };
            self.t.segment(key(), s, &mut self.st, &LOC, &mut d);
        }
        fn loss(&self) -> u64 {
            self.st.skipped(SkipReason::TcpStreamLoss)
        }
    }

    #[test]
    fn coalesced_and_split() {
        let mut r = Run::new();
        r.seg(99, true, false, &[]);
        let mut s = framed(1, 20);
        s.extend(framed(2, 30));
        s.extend(framed(3, 40));
        // two whole messages plus the first 10 bytes of the third
        r.seg(100, false, false, &s[..22 + 32 + 10]);
        assert_eq!(r.got, vec![1, 2]);
        r.seg(100 + 64, false, false, &s[64..]);
        assert_eq!(r.got, vec![1, 2, 3]);
        assert_eq!(r.loss(), 0);
        assert!(r.t.flows.get(&key()).is_some_and(|f| f.buf.is_empty()));
    }

    #[test]
    fn byte_by_byte() {
        let mut r = Run::new();
        r.seg(0, true, false, &[]);
        let s = framed(9, 33);
        for (i, b) in s.iter().enumerate() {
            r.seg(1 + i as u32, false, false, &[*b]);
        }
        assert_eq!(r.got, vec![9]);
    }

    #[test]
    fn retransmission_and_out_of_order() {
        let mut r = Run::new();
        r.seg(0, true, false, &[]);
        let s: Vec<u8> = [framed(1, 20), framed(2, 20), framed(3, 20)].concat();
        r.seg(1 + 44, false, false, &s[44..]); // third first (held)
        r.seg(1 + 22, false, false, &s[22..44]); // second (held)
        assert!(r.got.is_empty());
        r.seg(1, false, false, &s[..22]);
        assert_eq!(r.got, vec![1, 2, 3]);
        r.seg(1, false, false, &s[..22]); // retransmit
        r.seg(1 + 10, false, false, &s[10..30]); // overlapping retransmit
        assert_eq!(r.got, vec![1, 2, 3]);
        // partial overlap carrying new data
        let more = framed(4, 20);
        let mut seg = s[60..].to_vec();
        seg.extend_from_slice(&more);
        r.seg(1 + 60, false, false, &seg);
        assert_eq!(r.got, vec![1, 2, 3, 4]);
        assert_eq!(r.loss(), 0);
    }

    #[test]
    fn gap_counts_once_and_resyncs() {
        let mut r = Run::new();
        r.seg(0, true, false, &[]);
        let m1 = framed(1, 100);
        r.seg(1, false, false, &m1[..50]); // first half only; the rest is lost
        let mut seq = 1 + m1.len() as u32 + 1000; // a hole
        for id in 10..10 + MAX_HELD as u16 + 1 {
            let m = framed(id, 20);
            r.seg(seq, false, false, &m);
            seq += m.len() as u32;
        }
        assert_eq!(r.loss(), 1);
        assert_eq!(r.got, (10..10 + MAX_HELD as u16 + 1).collect::<Vec<_>>());
        let m = framed(99, 20);
        r.seg(seq, false, false, &m);
        assert_eq!(r.got.last(), Some(&99));
        assert_eq!(r.loss(), 1);
    }

    #[test]
    fn no_syn_starts_at_plausible_segment() {
        let mut r = Run::new();
        let m1 = framed(1, 40);
        r.seg(5000, false, false, &m1[20..]); // tail of a message: not plausible
        assert_eq!(r.loss(), 1);
        let m2 = framed(2, 20);
        r.seg(5020, false, false, &m2);
        assert_eq!(r.got, vec![2]);
        assert_eq!(r.loss(), 1);
    }

    #[test]
    fn fin_with_partial_counts_loss_and_closes() {
        let mut r = Run::new();
        r.seg(0, true, false, &[]);
        let m = framed(1, 50);
        r.seg(1, false, true, &m[..30]);
        assert_eq!(r.loss(), 1);
        assert_eq!(r.t.len(), 0);
        assert!(r.got.is_empty());
    }

    #[test]
    fn short_frame_length_desyncs() {
        let mut r = Run::new();
        r.seg(0, true, false, &[]);
        let mut s = framed(1, 20);
        s.extend_from_slice(&[0, 3, 1, 2, 3]);
        r.seg(1, false, false, &s);
        assert_eq!(r.got, vec![1]);
        assert_eq!(r.loss(), 1);
        let m = framed(2, 20);
        r.seg(1 + s.len() as u32, false, false, &m);
        assert_eq!(r.got, vec![1, 2]);
    }

    #[test]
    fn table_bound_evicts_oldest_idle() {
        let mut t = TcpTable::new(2, 70_000, 10);
        let mut st = Stats::default();
        let mut d = |_: &[u8], _: bool, _: &mut Stats| {};
        for (i, ts) in [(1u16, 1), (2, 2), (3, 3)] {
            let k = FlowKey { sport: i, ..key() };
            let s = Segment {
                ts,
                seq: 0,
                syn: false,
                fin: false,
                rst: false,
                ack: None,
                payload: &framed(i, 30)[..10],
            };
            t.segment(k, s, &mut st, &LOC, &mut d);
        }
        assert_eq!(t.len(), 2);
        assert_eq!(st.skipped(SkipReason::TcpStreamLoss), 1);
        assert!(!t.flows.contains_key(&FlowKey { sport: 1, ..key() }));
        t.expire(100, &mut st);
        assert_eq!(t.len(), 0);
        assert_eq!(st.skipped(SkipReason::TcpStreamLoss), 3);
    }

    #[test]
    fn ack_beyond_hole_releases_held_segments() {
        let mut r = Run::new();
        r.seg(0, true, false, &[]);
        let m1 = framed(1, 20);
        r.seg(1, false, false, &m1);
        // the next 22 bytes were never captured; message 3 is held
        let m3 = framed(3, 20);
        r.seg(1 + 44, false, false, &m3);
        assert_eq!(r.got, vec![1]);
        // the peer acknowledges everything, including the uncaptured bytes
        let mut rev = Vec::new();
        let mut d = |m: &[u8], reverse: bool, _: &mut Stats| {
            rev.push((u16::from_be_bytes([m[0], m[1]]), reverse))
        };
        let s = Segment {
            ts: 2,
            seq: 777,
            syn: false,
            fin: false,
            rst: false,
            ack: Some(1 + 66),
            payload: &[],
        };
        r.t.segment(key().reverse(), s, &mut r.st, &LOC, &mut d);
        assert_eq!(rev, vec![(3, true)]);
        assert_eq!(r.loss(), 1);
    }

    #[test]
    fn plausibility() {
        assert!(!plausible_start(&[0]));
        assert!(!plausible_start(&[0, 5]));
        assert!(plausible_start(&[0, 30]));
        assert!(plausible_start(&framed(1, 30)));
        let mut f = framed(1, 30);
        f[4] = 0x78; // opcode 15
        assert!(!plausible_start(&f));
        let mut f = framed(1, 30);
        f[9] = 200; // ancount 200 cannot fit in 30 bytes
        assert!(!plausible_start(&f));
    }

    /// Established flows (one message completed, the next in progress) survive
    /// a flood of one-segment and half-open flows many times the cap.
    #[test]
    fn floods_spare_established_flows() {
        let mut t = TcpTable::new(100, 70_000, 60_000_000);
        let mut st = Stats::default();
        let mut got = Vec::new();
        let mut ts = 0;
        let mut seg = |t: &mut TcpTable, st: &mut Stats, k: FlowKey, seq, syn, payload: &[u8]| {
            ts += 1;
            let s = Segment {
                ts,
                seq,
                syn,
                fin: false,
                rst: false,
                ack: None,
                payload,
            };
            t.segment(k, s, st, &LOC, &mut |m: &[u8], _: bool, _: &mut Stats| {
                got.push(u16::from_be_bytes([m[0], m[1]]))
            });
        };
        let est = |i: u16| FlowKey { sport: i, ..key() };
        let second = framed(2, 40);
        for i in 0..10 {
            seg(&mut t, &mut st, est(i), 0, true, &[]);
            seg(&mut t, &mut st, est(i), 1, false, &framed(1, 20));
            seg(&mut t, &mut st, est(i), 23, false, &second[..20]);
        }
        let flood = framed(3, 60);
        for n in 0..10_000u32 {
            let k = FlowKey {
                src: IpAddr::from((0x0a00_0000 + n).to_be_bytes()),
                sport: 9,
                ..key()
            };
            let one_segment = n % 2 == 0;
            let p = if one_segment { &flood[..30] } else { &[][..] };
            seg(&mut t, &mut st, k, 5, !one_segment, p);
        }
        assert!(st.evictions(Bound::TcpFlows) > 9_000);
        for i in 0..10 {
            seg(&mut t, &mut st, est(i), 43, false, &second[20..]);
        }
        assert_eq!(got.iter().filter(|&&id| id == 2).count(), 10);
        assert!(t.len() <= 100);
    }

    /// Eviction is in batches down to 90 % of the cap, half-open first.
    #[test]
    fn eviction_is_batched_and_prefers_empty_flows() {
        let mut t = TcpTable::new(20, 70_000, 60_000_000);
        let mut st = Stats::default();
        let mut d = |_: &[u8], _: bool, _: &mut Stats| {};
        let mk = |sport: u16, ts, syn, payload| {
            (
                FlowKey { sport, ..key() },
                Segment {
                    ts,
                    seq: 0,
                    syn,
                    fin: false,
                    rst: false,
                    ack: None,
                    payload,
                },
            )
        };
        let partial = framed(1, 30);
        // 10 flows with a message in progress (oldest), then 10 SYN-only.
        for i in 0..20u16 {
            let (k, s) = mk(i, i64::from(i), i >= 10, &partial[..10]);
            let s = if i >= 10 {
                Segment { payload: &[], ..s }
            } else {
                s
            };
            t.segment(k, s, &mut st, &LOC, &mut d);
        }
        assert_eq!(t.len(), 20);
        let (k, s) = mk(100, 100, true, &[]);
        t.segment(k, s, &mut st, &LOC, &mut d);
        // 20 -> 18, plus the new one; the two oldest SYN-only flows went.
        assert_eq!(t.len(), 19);
        assert_eq!(st.evictions(Bound::TcpFlows), 2);
        assert_eq!(st.skipped(SkipReason::TcpStreamLoss), 0);
        for i in 0..10 {
            assert!(t.flows.contains_key(&FlowKey { sport: i, ..key() }));
        }
        assert!(!t.flows.contains_key(&FlowKey { sport: 10, ..key() }));
        assert!(!t.flows.contains_key(&FlowKey { sport: 11, ..key() }));
        // A segment that starts nothing does not evict when the table is full.
        let (k, s) = mk(101, 101, true, &[]);
        t.segment(k, s, &mut st, &LOC, &mut d);
        assert_eq!(t.len(), 20);
        let (k, s) = mk(102, 102, false, &partial[20..]);
        t.segment(k, s, &mut st, &LOC, &mut d);
        assert_eq!(t.len(), 20);
        assert_eq!(st.skipped(SkipReason::TcpStreamLoss), 1);
        assert_eq!(st.evictions(Bound::TcpFlows), 2);
    }
}
