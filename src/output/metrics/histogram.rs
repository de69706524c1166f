//! Fixed-bucket histograms of durations, for the hot path.
//!
//! A [`Histogram`] is a fixed array of `AtomicU64` bucket counters and an
//! `AtomicU64` sum, both in microseconds. [`Histogram::observe_us`] finds the
//! bucket with a search over at most [`MAX_BOUNDS`] integers and does two
//! relaxed atomic adds: no allocation, no lock, no floating point. The count
//! is not kept separately: it is the sum of the buckets, so the rendered
//! `_count` always equals the `+Inf` bucket.
//!
//! Rendering (from [`Histogram::snapshot`]) makes the buckets cumulative and writes
//! the bounds as `le` labels in seconds, the Prometheus base unit.
//!
//! # Why not the `prometheus-client` crate
//!
//! We weighed replacing the hand-written renderer (`expose.rs`) with the
//! official `prometheus-client` crate and decided against it:
//!
//! * its `Histogram` takes a lock on every observation (an `f64` sum, a
//!   count and the buckets behind one lock, with a TODO to move to atomics);
//!   the DNS-latency histogram is observed once per lookup on the windowing
//!   thread, which must never wait for a scrape;
//! * every existing family (about sixty, most generated from
//!   [`crate::stats::COUNTERS`]) would have to be re-registered through its
//!   registry and encoder for no change in output, and its OpenMetrics
//!   encoder differs in details (`# EOF`, `_created`, unit lines) that
//!   dashboards and the integration tests do not expect;
//! * the exposition format is small and stable: histograms add three sample
//!   kinds (`_bucket{le=…}`, `_sum`, `_count`), rendered here in forty lines
//!   and checked by a parser in the tests.

use std::sync::atomic::{AtomicU64, Ordering};

/// Most finite bucket bounds a histogram may have.
pub const MAX_BOUNDS: usize = 16;

/// Bounds (microseconds) of DNS lookup latency: 100 µs to 5 s.
pub const LOOKUP_LATENCY_US: &[u64] = &[
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000,
];

/// Bounds (microseconds) of scoring one window: 10 µs to 1 s.
pub const SCORING_US: &[u64] = &[
    10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000, 1_000_000,
];

/// Bounds (microseconds) of an outbound HTTP request (webhook, triage):
/// 5 ms to 60 s (a triage request to a language model takes seconds).
pub const HTTP_REQUEST_US: &[u64] = &[
    5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
    10_000_000, 30_000_000, 60_000_000,
];

/// A histogram of durations with fixed bounds (see the module docs).
#[derive(Debug)]
pub struct Histogram {
    /// Finite upper bounds, microseconds, strictly increasing.
    bounds: &'static [u64],
    /// Observations per bucket (not cumulative); index `bounds.len()` is `+Inf`.
    buckets: [AtomicU64; MAX_BOUNDS + 1],
    /// Sum of the observations, microseconds.
    sum_us: AtomicU64,
}

impl Default for Histogram {
    /// A histogram with the [`HTTP_REQUEST_US`] bounds.
    fn default() -> Self {
        Histogram::new(HTTP_REQUEST_US)
    }
}

impl Histogram {
    /// A histogram with these bounds (microseconds, strictly increasing; at
    /// most [`MAX_BOUNDS`]: the rest are ignored).
    pub fn new(bounds: &'static [u64]) -> Self {
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]));
        Histogram {
            bounds: &bounds[..bounds.len().min(MAX_BOUNDS)],
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            sum_us: AtomicU64::new(0),
        }
    }

    /// Record one observation of `us` microseconds (two relaxed atomic adds).
    #[inline]
    pub fn observe_us(&self, us: u64) {
        let i = self.bounds.partition_point(|b| *b < us);
        if let Some(b) = self.buckets.get(i) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// Record the time elapsed since `start`.
    #[inline]
    pub fn observe_since(&self, start: std::time::Instant) {
        let us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.observe_us(us);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.buckets[..=self.bounds.len()]
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .sum()
    }

    /// Sum of the observations so far, microseconds.
    pub fn sum_us(&self) -> u64 {
        self.sum_us.load(Ordering::Relaxed)
    }

    /// A consistent-enough snapshot: cumulative counts per finite bound,
    /// then the `+Inf` count (= the count), then the sum in microseconds.
    /// Buckets are read once each, so the cumulative counts never decrease.
    pub fn snapshot(&self) -> (Vec<(u64, u64)>, u64, u64) {
        let mut acc = 0u64;
        let mut finite = Vec::with_capacity(self.bounds.len());
        for (i, b) in self.bounds.iter().enumerate() {
            acc += self.buckets[i].load(Ordering::Relaxed);
            finite.push((*b, acc));
        }
        acc += self.buckets[self.bounds.len()].load(Ordering::Relaxed);
        (finite, acc, self.sum_us())
    }
}

/// Microseconds as decimal seconds, without trailing zeros (`250` →
/// `0.00025`, `1000000` → `1`).
pub fn seconds(us: u64) -> String {
    let whole = us / 1_000_000;
    let frac = us % 1_000_000;
    if frac == 0 {
        return whole.to_string();
    }
    let f = format!("{frac:06}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_that_holds_them() {
        let h = Histogram::new(&[10, 100]);
        for us in [0, 10, 11, 100, 101, 5_000] {
            h.observe_us(us);
        }
        let (finite, inf, sum) = h.snapshot();
        assert_eq!(finite, vec![(10, 2), (100, 4)], "le is inclusive");
        assert_eq!(inf, 6);
        assert_eq!(h.count(), 6);
        assert_eq!(sum, 5_222);
    }

    #[test]
    fn bounds_render_as_seconds() {
        assert_eq!(seconds(250), "0.00025");
        assert_eq!(seconds(1_000_000), "1");
        assert_eq!(seconds(2_500_000), "2.5");
        assert_eq!(seconds(0), "0");
        for b in [LOOKUP_LATENCY_US, SCORING_US, HTTP_REQUEST_US] {
            assert!(b.len() <= MAX_BOUNDS);
            assert!(b.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
