//! IP fragment reassembly for IPv4 and IPv6: a bounded table of fragment sets
//! keyed by (source, destination, identification, protocol), expiring on packet
//! time. Owns [`Reassembler`].
//!
//! Policy (conservative, favouring "drop and count" over guessing):
//! * At most `max_sets` sets are open; a new set when full evicts the set that
//!   was started first (counted [`SkipReason::FragmentDropped`]).
//! * A set lives at most `timeout` after its *first* fragment (RFC 791 / Linux
//!   behaviour; a trickle of fragments cannot keep a set alive forever).
//! * The reassembled payload may not exceed 65 535 bytes; at most
//!   [`MAX_FRAGMENTS`] fragments per set.
//! * An exact duplicate of a fragment already held is ignored (first copy
//!   wins); any other overlap, a second "last fragment" with a different end or
//!   data past the end drops the whole set (overlap evasion is the classic
//!   attack on reassemblers, and DNS never needs it).
//!
//! Buffers of completed or dropped sets go to a small pool and are reused.
//! Hand-written rather than etherparse's `defrag` module because we need the
//! table bound, packet-time expiry and the drop-on-overlap policy above.

use super::Location;
use crate::event::TsMicros;
use crate::stats::{Bound, SkipReason, Stats};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Largest reassembled payload.
pub const MAX_DATAGRAM: usize = 65_535;
/// Most fragments accepted for one datagram.
pub const MAX_FRAGMENTS: usize = 128;
/// Most spare buffers kept for reuse.
const POOL_MAX: usize = 16;

/// Identity of a fragmented datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FragKey {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Identification.
    pub id: u32,
    /// Protocol of the fragmented payload.
    pub proto: u8,
}

struct FragSet {
    started: TsMicros,
    order: (TsMicros, u64),
    buf: Vec<u8>,
    /// Received byte ranges, sorted by start, never overlapping.
    ranges: Vec<(u32, u32)>,
    /// Payload length, once the last fragment (MF = 0) has been seen.
    total: Option<u32>,
}

/// One fragment to add.
#[derive(Debug, Clone, Copy)]
pub struct Fragment<'a> {
    /// Datagram identity.
    pub key: FragKey,
    /// Byte offset of `data` in the reassembled payload.
    pub offset: usize,
    /// More-fragments flag.
    pub more: bool,
    /// This fragment's data.
    pub data: &'a [u8],
}

/// What became of a fragment.
#[derive(Debug, PartialEq, Eq)]
pub enum FragOutcome {
    /// Stored; the datagram is not complete yet (counted as held).
    Held,
    /// The datagram is complete: its payload (transport header onwards). Hand
    /// the buffer back with [`Reassembler::recycle`].
    Complete(Vec<u8>),
    /// The fragment (and its set) was dropped (already counted).
    Dropped,
}

/// Bounded reassembly table.
pub struct Reassembler {
    sets: FxHashMap<FragKey, FragSet>,
    order: BTreeMap<(TsMicros, u64), FragKey>,
    seq: u64,
    pool: Vec<Vec<u8>>,
    max_sets: usize,
    timeout: TsMicros,
}

impl Reassembler {
    /// New table holding at most `max_sets` sets for at most `timeout` each.
    pub fn new(max_sets: usize, timeout: TsMicros) -> Self {
        Reassembler {
            sets: FxHashMap::default(),
            order: BTreeMap::new(),
            seq: 0,
            pool: Vec::new(),
            max_sets: max_sets.max(1),
            timeout,
        }
    }

    /// Open sets.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// No open sets.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// Return a completed datagram buffer for reuse.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.pool.len() < POOL_MAX {
            buf.clear();
            self.pool.push(buf);
        }
    }

    fn remove(&mut self, key: &FragKey) {
        if let Some(set) = self.sets.remove(key) {
            self.order.remove(&set.order);
            self.recycle(set.buf);
        }
    }

    /// Drop sets started before `now - timeout`; each counts as dropped.
    pub fn expire(&mut self, now: TsMicros, stats: &mut Stats) {
        let cutoff = now.saturating_sub(self.timeout);
        while let Some((&(started, n), &key)) = self.order.first_key_value() {
            if started >= cutoff {
                break;
            }
            self.order.remove(&(started, n));
            if let Some(set) = self.sets.remove(&key) {
                self.recycle(set.buf);
            }
            stats.skip(SkipReason::FragmentDropped);
        }
    }

    /// Add one fragment; returns whether it completed its datagram.
    pub fn insert(
        &mut self,
        now: TsMicros,
        frag: Fragment<'_>,
        stats: &mut Stats,
        loc: &Location<'_>,
    ) -> FragOutcome {
        let Fragment {
            key,
            offset,
            more,
            data,
        } = frag;
        let drop = |stats: &mut Stats, why: &'static str, a: i64, b: i64| {
            stats.skip_at(
                SkipReason::FragmentDropped,
                loc.source,
                "packet",
                loc.packet,
                || format!("fragment {why} ({a}, {b})"),
            );
        };
        let (off_i, len_i) = (offset as i64, data.len() as i64);
        let end = match offset.checked_add(data.len()) {
            Some(e) if e <= MAX_DATAGRAM => e,
            _ => {
                self.remove(&key);
                drop(stats, "beyond 65535 bytes: offset, len", off_i, len_i);
                return FragOutcome::Dropped;
            }
        };
        // A stale set with the same key (id reuse after a lost fragment) goes.
        if let Some(set) = self.sets.get(&key) {
            let started = set.started;
            if now.saturating_sub(started) > self.timeout {
                self.remove(&key);
                drop(stats, "set timed out: started, now", started, now);
            }
        }
        if !self.sets.contains_key(&key) {
            while self.sets.len() >= self.max_sets {
                let Some((_, oldest)) = self.order.pop_first() else {
                    break;
                };
                if let Some(set) = self.sets.remove(&oldest) {
                    self.recycle(set.buf);
                }
                stats.evicted(Bound::FragmentSets, 1);
                drop(
                    stats,
                    "table full, evicted oldest set: sets, id",
                    self.max_sets as i64,
                    i64::from(oldest.id),
                );
            }
            self.seq = self.seq.wrapping_add(1);
            let order = (now, self.seq);
            self.order.insert(order, key);
            let buf = self.pool.pop().unwrap_or_default();
            self.sets.insert(
                key,
                FragSet {
                    started: now,
                    order,
                    buf,
                    ranges: Vec::new(),
                    total: None,
                },
            );
        }
        let Some(set) = self.sets.get_mut(&key) else {
            return FragOutcome::Dropped;
        };
        // `end` <= 65535 so these fit.
        let (s, e) = (offset as u32, end as u32);
        let mut fault: Option<&'static str> = None;
        let mut duplicate = false;
        for &(rs, re) in &set.ranges {
            if rs == s && re == e {
                duplicate = true;
                break;
            }
            if s < re && rs < e {
                fault = Some("overlap: offset, end");
                break;
            }
        }
        if fault.is_none() && !duplicate {
            if !more {
                match set.total {
                    Some(t) if t != e => fault = Some("second last fragment: offset, end"),
                    _ => {
                        if set.ranges.iter().any(|&(_, re)| re > e) {
                            fault = Some("data past last fragment: offset, end");
                        }
                    }
                }
            } else if set.total.is_some_and(|t| e > t) {
                fault = Some("data past last fragment: offset, end");
            }
            if set.ranges.len() >= MAX_FRAGMENTS {
                fault = Some("too many fragments, at: offset, end");
            }
        }
        if let Some(why) = fault {
            self.remove(&key);
            drop(stats, why, off_i, end as i64);
            return FragOutcome::Dropped;
        }
        if !duplicate {
            if !more {
                set.total = Some(e);
            }
            if !data.is_empty() {
                if set.buf.len() < end {
                    set.buf.resize(end, 0);
                }
                if let Some(dst) = set.buf.get_mut(offset..end) {
                    dst.copy_from_slice(data);
                }
                let at = set.ranges.partition_point(|&(rs, _)| rs < s);
                set.ranges.insert(at, (s, e));
            }
        }
        if let Some(total) = set.total {
            let mut covered = 0u32;
            let mut contiguous = true;
            for &(rs, re) in &set.ranges {
                if rs != covered {
                    contiguous = false;
                    break;
                }
                covered = re;
            }
            if contiguous && covered == total {
                let mut buf = std::mem::take(&mut set.buf);
                buf.truncate(total as usize);
                let order = set.order;
                self.sets.remove(&key);
                self.order.remove(&order);
                return FragOutcome::Complete(buf);
            }
        }
        stats.skip_at(
            SkipReason::FragmentHeld,
            loc.source,
            "packet",
            loc.packet,
            String::new,
        );
        FragOutcome::Held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOC: Location<'static> = Location {
        source: "t",
        packet: 1,
    };

    fn frag(key: FragKey, offset: usize, more: bool, data: &[u8]) -> Fragment<'_> {
        Fragment {
            key,
            offset,
            more,
            data,
        }
    }

    fn key(id: u32) -> FragKey {
        FragKey {
            src: IpAddr::from([1, 1, 1, 1]),
            dst: IpAddr::from([2, 2, 2, 2]),
            id,
            proto: 17,
        }
    }

    #[test]
    fn in_order_and_out_of_order() {
        let mut r = Reassembler::new(4, 30_000_000);
        let mut st = Stats::default();
        assert_eq!(
            r.insert(0, frag(key(1), 0, true, &[1; 8]), &mut st, &LOC),
            FragOutcome::Held
        );
        assert_eq!(
            r.insert(0, frag(key(1), 8, false, &[2; 3]), &mut st, &LOC),
            FragOutcome::Complete(vec![1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2])
        );
        assert!(r.is_empty());
        // last first, then a duplicate, then the middle, then the head
        assert_eq!(
            r.insert(0, frag(key(2), 16, false, &[3; 2]), &mut st, &LOC),
            FragOutcome::Held
        );
        assert_eq!(
            r.insert(0, frag(key(2), 16, false, &[3; 2]), &mut st, &LOC),
            FragOutcome::Held
        );
        assert_eq!(
            r.insert(0, frag(key(2), 8, true, &[2; 8]), &mut st, &LOC),
            FragOutcome::Held
        );
        let FragOutcome::Complete(b) = r.insert(0, frag(key(2), 0, true, &[1; 8]), &mut st, &LOC)
        else {
            panic!()
        };
        assert_eq!(b.len(), 18);
        assert_eq!(b[17], 3);
        assert_eq!(st.skipped(SkipReason::FragmentHeld), 4);
        assert_eq!(st.skipped(SkipReason::FragmentDropped), 0);
    }

    #[test]
    fn overlap_drops_set() {
        let mut r = Reassembler::new(4, 30_000_000);
        let mut st = Stats::default();
        r.insert(0, frag(key(1), 0, true, &[1; 16]), &mut st, &LOC);
        assert_eq!(
            r.insert(0, frag(key(1), 8, false, &[2; 16]), &mut st, &LOC),
            FragOutcome::Dropped
        );
        assert_eq!(r.len(), 0);
        assert_eq!(st.skipped(SkipReason::FragmentDropped), 1);
        // conflicting last fragments
        r.insert(0, frag(key(2), 16, false, &[1; 8]), &mut st, &LOC);
        assert_eq!(
            r.insert(0, frag(key(2), 32, false, &[1; 8]), &mut st, &LOC),
            FragOutcome::Dropped
        );
        // data beyond the end set by the last fragment
        r.insert(0, frag(key(3), 8, false, &[1; 8]), &mut st, &LOC);
        assert_eq!(
            r.insert(0, frag(key(3), 16, true, &[1; 8]), &mut st, &LOC),
            FragOutcome::Dropped
        );
        assert_eq!(st.skipped(SkipReason::FragmentDropped), 3);
        assert!(r.is_empty());
    }

    #[test]
    fn oversize_drops() {
        let mut r = Reassembler::new(4, 30_000_000);
        let mut st = Stats::default();
        r.insert(0, frag(key(1), 0, true, &[1; 8]), &mut st, &LOC);
        assert_eq!(
            r.insert(0, frag(key(1), 65_528, false, &[1; 16]), &mut st, &LOC),
            FragOutcome::Dropped
        );
        assert!(r.is_empty());
    }

    #[test]
    fn table_bound_and_timeouts() {
        let mut r = Reassembler::new(2, 10);
        let mut st = Stats::default();
        r.insert(0, frag(key(1), 0, true, &[1; 8]), &mut st, &LOC);
        r.insert(1, frag(key(2), 0, true, &[1; 8]), &mut st, &LOC);
        r.insert(2, frag(key(3), 0, true, &[1; 8]), &mut st, &LOC);
        assert_eq!(r.len(), 2);
        assert_eq!(st.skipped(SkipReason::FragmentDropped), 1);
        assert_eq!(st.evictions(Bound::FragmentSets), 1);
        // key(1) was evicted: its tail alone does not complete
        assert_eq!(
            r.insert(3, frag(key(1), 8, false, &[1; 8]), &mut st, &LOC),
            FragOutcome::Held
        );
        // a set older than the timeout is replaced, not completed
        assert_eq!(
            r.insert(30, frag(key(3), 8, false, &[1; 8]), &mut st, &LOC),
            FragOutcome::Held
        );
        r.expire(100, &mut st);
        assert!(r.is_empty());
    }
}
