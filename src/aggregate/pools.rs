//! Reusable per-window allocations (beacon time buffers; names live in each
//! accumulator's arena, which is pooled with the accumulator),
//! shared by every accumulator and bounded, so window turnover does not churn
//! the allocator.

use super::beacon::Times;

/// Reusable per-window allocations (beacon heaps), shared by all
/// accumulators so window turnover does not churn the allocator. Bounded.
#[derive(Debug, Default)]
pub(super) struct Pools {
    pub(super) times: Vec<Times>,
}

impl Pools {
    const CAP: usize = 1 << 16;

    pub(super) fn put_times(&mut self, mut t: Times) {
        if !t.spilled() {
            return; // inline: nothing to reuse
        }
        // Only small buffers are reused: a pooled 256-sample buffer handed to
        // every new domain would cost 2 KB per domain under a flood of names.
        if self.times.len() < Self::CAP && t.capacity() <= 16 {
            t.clear();
            self.times.push(t);
        }
    }
}
