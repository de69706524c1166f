//! Bounded, hash-keyed "first seen" sets.
//!
//! A [`FirstSeenSet`] remembers 64-bit keys (hashes of a registrable domain, or
//! of a `(client host, registrable domain)` pair) together with the logical tick
//! at which each was last seen. When an insert takes the set over its cap, the
//! least-recently-seen entries are evicted **in bulk** down to 90 % of the cap:
//! one `select_nth_unstable` over the ticks plus one `retain`, i.e. O(cap) work
//! every ~cap/10 inserts, amortised O(1) per insert. Ticks are unique per set
//! (the caller's counter advances on every lookup), so exactly the oldest
//! entries go and eviction is deterministic for a given input order. The
//! scratch buffer is kept between evictions, so steady state does not allocate.
//!
//! An evicted key that shows up again is reported as new again: "first seen"
//! is exact only within memory; the persistent store (which keeps the minimum
//! `first_ts` per key) is the long-term truth.

use rustc_hash::FxHashMap;
use std::collections::hash_map::Entry;

/// A bounded set of 64-bit keys with least-recently-seen bulk eviction.
#[derive(Debug, Clone)]
pub struct FirstSeenSet {
    map: FxHashMap<u64, u64>,
    cap: usize,
    scratch: Vec<u64>,
    evicted: u64,
}

impl FirstSeenSet {
    /// A set that holds at most `cap` keys (a cap of 0 is treated as 1).
    pub fn new(cap: usize) -> Self {
        FirstSeenSet {
            map: FxHashMap::default(),
            cap: cap.max(1),
            scratch: Vec::new(),
            evicted: 0,
        }
    }

    /// Mark `key` as seen at `tick`; returns `true` if it was not in the set.
    /// `tick` must increase from call to call for eviction to be exact LRU.
    #[inline]
    pub fn touch(&mut self, key: u64, tick: u64) -> bool {
        match self.map.entry(key) {
            Entry::Occupied(mut e) => {
                *e.get_mut() = tick;
                false
            }
            Entry::Vacant(v) => {
                v.insert(tick);
                if self.map.len() > self.cap {
                    self.evict();
                }
                true
            }
        }
    }

    /// Whether `key` is in the set (does not refresh it).
    pub fn contains(&self, key: u64) -> bool {
        self.map.contains_key(&key)
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_only_once() {
        let mut s = FirstSeenSet::new(10);
        assert!(s.touch(1, 1));
        assert!(!s.touch(1, 2));
        assert!(s.touch(2, 3));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn bulk_evicts_least_recently_seen() {
        let mut s = FirstSeenSet::new(100);
        for k in 0..100u64 {
            assert!(s.touch(k, k));
        }
        // refresh the first 20 keys: now the oldest are 20..
        for k in 0..20u64 {
            assert!(!s.touch(k, 100 + k));
        }
        assert!(s.touch(1000, 500));
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
        assert!(s.touch(20, 501));
    }

    #[test]
    fn never_exceeds_cap_and_is_deterministic() {
        let run = || {
            let mut s = FirstSeenSet::new(1000);
            let mut t = 0;
            for i in 0..50_000u64 {
                t += 1;
                s.touch(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % 5000, t);
                assert!(s.len() <= 1000);
            }
            let mut keys: Vec<u64> = s.map.keys().copied().collect();
            keys.sort_unstable();
            keys
        };
        assert_eq!(run(), run());
        let mut tiny = FirstSeenSet::new(0);
        assert!(tiny.touch(1, 1));
        assert!(tiny.touch(2, 2));
        assert_eq!(tiny.len(), 1);
        assert!(tiny.contains(2));
    }
}
