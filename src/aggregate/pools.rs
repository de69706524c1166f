//! Reusable per-window allocations (name strings, beacon time buffers),
//! shared by every accumulator and bounded, so window turnover does not churn
//! the allocator.

use crate::event::TsMicros;

/// Reusable per-window allocations (names, beacon heaps), shared by all
/// accumulators so window turnover does not churn the allocator. Bounded.
#[derive(Debug, Default)]
pub(super) struct Pools {
    pub(super) strings: Vec<String>,
    pub(super) times: Vec<Vec<TsMicros>>,
}

impl Pools {
    const CAP: usize = 1 << 16;

    pub(super) fn string(&mut self, s: &str) -> String {
        let mut out = self.strings.pop().unwrap_or_default();
        out.push_str(s);
        out
    }

    pub(super) fn put_string(&mut self, mut s: String) {
        if self.strings.len() < Self::CAP {
            s.clear();
            self.strings.push(s);
        }
    }

    pub(super) fn put_times(&mut self, mut t: Vec<TsMicros>) {
        // Only small buffers are reused: a pooled 256-sample buffer handed to
        // every new domain would cost 2 KB per domain under a flood of names.
        if self.times.len() < Self::CAP && t.capacity() <= 16 {
            t.clear();
            self.times.push(t);
        }
    }
}
