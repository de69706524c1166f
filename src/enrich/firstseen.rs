//! Bounded, hash-keyed "first seen" sets.
//!
//! A [`FirstSeenSet`] remembers 64-bit keys (hashes of a registrable domain, or
//! of a `(client host, registrable domain)` pair). Each key's value packs two
//! things into one `u64`: the set's logical tick at which the key was last
//! seen (high [`TICK_BITS`] bits, for LRU eviction) and the packet-time hour
//! last persisted for it (low [`HOUR_BITS`] bits, modulo 2^20 hours, so the
//! caller can refresh the stored `last_ts` once per [`DEFAULT_REFRESH_HOURS`]
//! without writing on every lookup). Ticks are unique per set and dominate
//! the comparison, so ordering values orders keys by recency.
//!
//! When an insert takes the set over its cap, the least-recently-seen entries
//! are evicted **in bulk** down to 90 % of the cap: one `select_nth_unstable`
//! over the values plus one `retain`, i.e. O(cap) work every ~cap/10 inserts,
//! amortised O(1) per insert. Eviction is deterministic for a given input
//! order. The scratch buffer is kept between evictions, so steady state does
//! not allocate.
//!
//! Preloaded keys ([`FirstSeenSet::preload`], newest first) take ticks counting
//! down from [`PRELOAD_BASE`], touches count up from it, so every preloaded key
//! is older than every touched one and the newest preloaded key is the
//! youngest of them. If the tick ever reaches 2^44 (years at a million lookups
//! per second), the ticks are renumbered by rank, keeping the order.
//!
//! An evicted key that shows up again is reported as new again: "first seen"
//! is exact only within memory; the persistent store (which keeps the minimum
//! `first_ts` per key) is the long-term truth.

use crate::event::{TsMicros, MICROS};
use rustc_hash::FxHashMap;
use std::collections::hash_map::Entry;

/// Bits of the packed value that hold the persisted hour.
pub const HOUR_BITS: u32 = 20;
/// Bits of the packed value that hold the LRU tick.
pub const TICK_BITS: u32 = 64 - HOUR_BITS;
const HOUR_MASK: u64 = (1 << HOUR_BITS) - 1;
/// Hour differences at or above this (modulo 2^20) mean packet time went back.
const HOUR_HALF: u32 = 1 << (HOUR_BITS - 1);
/// First tick of touches; preloads count down from here.
pub const PRELOAD_BASE: u64 = 1 << 40;
/// Default refresh interval of a key's persisted `last_ts`, hours of packet time.
pub const DEFAULT_REFRESH_HOURS: u32 = 24;

/// Packet-time hour of `ts`, modulo 2^[`HOUR_BITS`] (differences are taken
/// with wrapping, so the modulus never matters for intervals under 59 years).
#[inline]
pub fn hour_of(ts: TsMicros) -> u32 {
    (ts.div_euclid(3_600 * MICROS) as u64 & HOUR_MASK) as u32
}

/// What [`FirstSeenSet::touch`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    /// Not in the set: inserted (persist a first-seen record).
    New,
    /// In the set, persisted recently enough.
    Seen,
    /// In the set, but its persisted hour is at least the refresh interval
    /// old: the stored hour was moved to now (persist a refresh record).
    Stale,
}

/// A bounded set of 64-bit keys with least-recently-seen bulk eviction.
#[derive(Debug, Clone)]
pub struct FirstSeenSet {
    map: FxHashMap<u64, u64>,
    cap: usize,
    scratch: Vec<u64>,
    evicted: u64,
    /// Next tick of a touch.
    clock: u64,
    /// Next tick of a preload (counts down).
    floor: u64,
    /// Ticks are renumbered when `clock` reaches this.
    tick_limit: u64,
    refresh_hours: u32,
}

impl FirstSeenSet {
    /// A set that holds at most `cap` keys (a cap of 0 is treated as 1).
    pub fn new(cap: usize) -> Self {
        FirstSeenSet {
            map: FxHashMap::default(),
            cap: cap.max(1),
            scratch: Vec::new(),
            evicted: 0,
            clock: PRELOAD_BASE,
            floor: PRELOAD_BASE - 1,
            tick_limit: 1 << TICK_BITS,
            refresh_hours: DEFAULT_REFRESH_HOURS,
        }
    }

    /// Report a key as [`Touch::Stale`] once its persisted hour is `hours`
    /// old (clamped to 1 ..= 2^19 - 1; the default is
    /// [`DEFAULT_REFRESH_HOURS`]).
    pub fn set_refresh_hours(&mut self, hours: u32) {
        self.refresh_hours = hours.clamp(1, HOUR_HALF - 1);
    }

    /// Mark `key` as seen now, at packet-time hour `hour` (see [`hour_of`]).
    /// No allocation unless the key is new and the map grows.
    #[inline]
    pub fn touch(&mut self, key: u64, hour: u32) -> Touch {
        if self.clock >= self.tick_limit {
            self.renumber();
        }
        let tick = self.clock << HOUR_BITS;
        self.clock += 1;
        let hour = hour & HOUR_MASK as u32;
        match self.map.entry(key) {
            Entry::Occupied(mut e) => {
                let stored = (*e.get() & HOUR_MASK) as u32;
                let age = hour.wrapping_sub(stored) & HOUR_MASK as u32;
                let stale = age >= self.refresh_hours && age < HOUR_HALF;
                let kept = if stale { hour } else { stored };
                *e.get_mut() = tick | u64::from(kept);
                if stale {
                    Touch::Stale
                } else {
                    Touch::Seen
                }
            }
            Entry::Vacant(v) => {
                v.insert(tick | u64::from(hour));
                if self.map.len() > self.cap {
                    self.evict();
                }
                Touch::New
            }
        }
    }

    /// Restore a persisted key whose stored `last_ts` falls in `hour`. Call
    /// **newest first**: each preloaded key ranks as seen just before the
    /// previous one. A key already present is left alone.
    pub fn preload(&mut self, key: u64, hour: u32) {
        if let Entry::Vacant(v) = self.map.entry(key) {
            v.insert((self.floor << HOUR_BITS) | u64::from(hour & HOUR_MASK as u32));
            self.floor = self.floor.saturating_sub(1);
            if self.map.len() > self.cap {
                self.evict();
            }
        }
    }

    /// Whether `key` is in the set (does not refresh it).
    pub fn contains(&self, key: u64) -> bool {
        self.map.contains_key(&key)
    }

    /// Persisted hour of `key`, if present.
    pub fn hour(&self, key: u64) -> Option<u32> {
        self.map.get(&key).map(|v| (v & HOUR_MASK) as u32)
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The cap.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Keys evicted so far.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Append at most `max` entries as `(key, persisted hour)`, **most
    /// recently seen first** (the order [`FirstSeenSet::preload`] takes), to
    /// `out`. Returns the entries left out by `max`. O(n log n); for the
    /// occasional snapshot of the persisted state, not the hot path.
    pub fn entries_newest_first(&self, max: usize, out: &mut Vec<(u64, u32)>) -> usize {
        let mut order: Vec<(u64, u64)> = self.map.iter().map(|(k, v)| (*v, *k)).collect();
        order.sort_unstable_by(|a, b| b.cmp(a));
        let left_out = order.len().saturating_sub(max);
        out.extend(
            order
                .into_iter()
                .take(max)
                .map(|(v, k)| (k, (v & HOUR_MASK) as u32)),
        );
        left_out
    }

    /// Drop the least-recently-seen entries down to 90 % of the cap.
    fn evict(&mut self) {
        let target = self.cap - self.cap / 10;
        let n = self.map.len().saturating_sub(target);
        if n == 0 {
            return;
        }
        self.scratch.clear();
        self.scratch.extend(self.map.values().copied());
        let (_, &mut threshold, _) = self.scratch.select_nth_unstable(n - 1);
        let before = self.map.len();
        self.map.retain(|_, t| *t > threshold);
        self.evicted += (before - self.map.len()) as u64;
    }

    /// Give every key a new tick by rank (same order), restarting the clock.
    fn renumber(&mut self) {
        let mut order: Vec<(u64, u64)> = self.map.iter().map(|(k, v)| (*v, *k)).collect();
        order.sort_unstable();
        for (rank, (v, k)) in order.into_iter().enumerate() {
            self.map
                .insert(k, ((rank as u64 + 1) << HOUR_BITS) | (v & HOUR_MASK));
        }
        self.clock = self.map.len() as u64 + 1;
        self.floor = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_only_once() {
        let mut s = FirstSeenSet::new(10);
        assert_eq!(s.touch(1, 0), Touch::New);
        assert_eq!(s.touch(1, 0), Touch::Seen);
        assert_eq!(s.touch(2, 0), Touch::New);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn bulk_evicts_least_recently_seen() {
        let mut s = FirstSeenSet::new(100);
        for k in 0..100u64 {
            assert_eq!(s.touch(k, 0), Touch::New);
        }
        // refresh the first 20 keys: now the oldest are 20..
        for k in 0..20u64 {
            assert_eq!(s.touch(k, 0), Touch::Seen);
        }
        assert_eq!(s.touch(1000, 0), Touch::New);
        // 101 > 100: evicted down to 90 => 11 oldest (keys 20..31) gone
        assert_eq!(s.len(), 90);
        assert_eq!(s.evicted(), 11);
        for k in 0..20u64 {
            assert!(s.contains(k));
        }
        for k in 20..31u64 {
            assert!(!s.contains(k), "{k}");
        }
        for k in 31..100u64 {
            assert!(s.contains(k));
        }
        assert!(s.contains(1000));
        // re-seen after eviction counts as new again
        assert_eq!(s.touch(20, 0), Touch::New);
    }

    #[test]
    fn never_exceeds_cap_and_is_deterministic() {
        let run = || {
            let mut s = FirstSeenSet::new(1000);
            for i in 0..50_000u64 {
                s.touch(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % 5000, 0);
                assert!(s.len() <= 1000);
            }
            let mut keys: Vec<u64> = s.map.keys().copied().collect();
            keys.sort_unstable();
            keys
        };
        assert_eq!(run(), run());
        let mut tiny = FirstSeenSet::new(0);
        assert_eq!(tiny.touch(1, 0), Touch::New);
        assert_eq!(tiny.touch(2, 0), Touch::New);
        assert_eq!(tiny.len(), 1);
        assert!(tiny.contains(2));
    }

    #[test]
    fn stale_once_per_refresh_interval_and_never_backwards() {
        let mut s = FirstSeenSet::new(10);
        let h0 = hour_of(1_709_546_400 * MICROS);
        assert_eq!(s.touch(7, h0), Touch::New);
        assert_eq!(s.touch(7, h0 + 23), Touch::Seen);
        assert_eq!(s.hour(7), Some(h0));
        assert_eq!(s.touch(7, h0 + 24), Touch::Stale);
        assert_eq!(s.hour(7), Some(h0 + 24));
        assert_eq!(s.touch(7, h0 + 30), Touch::Seen, "refreshed: fresh again");
        // Packet time going back never refreshes nor moves the hour back.
        assert_eq!(s.touch(7, h0 - 1000), Touch::Seen);
        assert_eq!(s.hour(7), Some(h0 + 24));
        // Wrapping at 2^20 hours is not an age.
        let top = (1u32 << HOUR_BITS) - 2;
        assert_eq!(s.touch(8, top), Touch::New);
        assert_eq!(s.touch(8, top + 30), Touch::Stale);
        assert_eq!(s.hour(8), Some((top + 30) & HOUR_MASK as u32));
        s.set_refresh_hours(0);
        assert_eq!(s.touch(9, 5), Touch::New);
        assert_eq!(s.touch(9, 6), Touch::Stale, "clamped to 1 hour");
        assert_eq!(hour_of(-1), (1 << HOUR_BITS) - 1);
    }

    #[test]
    fn preload_newest_first_ranks_older_than_touches() {
        let mut s = FirstSeenSet::new(10);
        // Preloaded newest first: 0 is the newest, 9 the oldest.
        for k in 0..10u64 {
            s.preload(k, 3);
        }
        s.preload(0, 99);
        assert_eq!(s.hour(0), Some(3), "a present key is left alone");
        assert_eq!(s.touch(100, 4), Touch::New);
        // Over the cap (11 > 10): down to 9, the two oldest preloads go.
        assert_eq!(s.len(), 9);
        assert!(!s.contains(9) && !s.contains(8));
        assert!(s.contains(0) && s.contains(7) && s.contains(100));
        assert_eq!(s.touch(0, 3), Touch::Seen);
    }

    #[test]
    fn entries_come_out_newest_first_and_restore_the_same_order() {
        let mut s = FirstSeenSet::new(10);
        for k in 0..6u64 {
            s.touch(k, k as u32);
        }
        s.touch(2, 9); // 2 is now the newest (its hour stays 2: not stale)
        let mut out = Vec::new();
        assert_eq!(s.entries_newest_first(4, &mut out), 2);
        assert_eq!(out, vec![(2, 2), (5, 5), (4, 4), (3, 3)]);
        // Preloading them (newest first) ranks them the same way: one touch
        // over the cap of 4 evicts the oldest, 3.
        let mut r = FirstSeenSet::new(4);
        for (k, h) in &out {
            r.preload(*k, *h);
        }
        assert_eq!(r.touch(100, 0), Touch::New);
        assert!(!r.contains(3));
        assert!(r.contains(2) && r.contains(5) && r.contains(4) && r.contains(100));
        assert_eq!(r.hour(5), Some(5));
    }

    #[test]
    fn ticks_renumber_keeping_lru_order() {
        let mut s = FirstSeenSet::new(10);
        s.tick_limit = PRELOAD_BASE + 12;
        for k in 0..10u64 {
            s.touch(k, k as u32);
        }
        s.touch(0, 0); // 0 is now the newest
        s.touch(1, 1);
        s.touch(2, 2); // renumbered first: clock was at the limit
        assert!(s.clock < PRELOAD_BASE);
        s.touch(50, 0); // over the cap: 3 and 4 (the oldest) go
        assert!(!s.contains(3) && !s.contains(4), "{:?}", s.map);
        for k in [0, 1, 2, 5, 9, 50] {
            assert!(s.contains(k), "{k}");
        }
        assert_eq!(s.hour(9), Some(9), "hours survive renumbering");
    }
}
