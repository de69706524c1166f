//! Beacon regularity: the lookup times kept per registrable domain (at most
//! [`BEACON_SAMPLES`], the earliest) and, at window close, the coefficient of
//! variation of the intervals between contacts (bursts closer than
//! [`BEACON_MIN_GAP`] are one contact).

use crate::event::{TsMicros, MICROS};

/// Lookup times kept per registrable domain for the beacon feature (memory
/// bound); a domain looked up more often is judged on its first ones.
pub const BEACON_SAMPLES: usize = 256;

/// Lookup times of one registrable domain: the first few inline (most
/// domains of a window are looked up once or twice: no allocation for them).
pub(super) type Times = smallvec::SmallVec<[TsMicros; 4]>;

/// Lookups of a domain closer together than this count as one contact for the
/// beacon feature.
pub const BEACON_MIN_GAP: TsMicros = MICROS;

#[derive(Debug)]
pub(super) struct RegStat {
    /// The domain, in the accumulator's name arena.
    pub(super) name: super::accumulator::Name,
    pub(super) subdomains: u32,
    /// Distinct encoded names ([`is_encoded`]).
    pub(super) encoded: u32,
    /// At least one high-risk name.
    pub(super) risky: bool,
    /// Allow-listed or popular ([`Enrichment::popular`]): left out of the
    /// fan-out feature.
    pub(super) vouched: bool,
    pub(super) count: u32,
    /// Site prevalence of the domain (most clients seen, [`crate::enrich::Enrichment::hosts`]).
    pub(super) hosts: u16,
    /// Lookups answered NXDOMAIN.
    pub(super) nx: u32,
    /// Distinct names answered NXDOMAIN.
    pub(super) nx_names: u32,
    /// Lookups answered with any other response code.
    pub(super) other_rcode: u32,
    /// The [`BEACON_SAMPLES`] earliest lookup times, so the set kept does not
    /// depend on arrival order (responses can complete lookups out of query
    /// order); sorted at window close. Input is nearly sorted, so appending and
    /// replacing the latest kept time when full is O(1) in the common case.
    pub(super) times: Times,
    /// Latest time in `times`.
    pub(super) latest: TsMicros,
    /// (cv, mean interval) once computed at close.
    pub(super) regular: Option<(f64, f64)>,
}

impl RegStat {
    /// Sort the kept lookup times and keep one per contact: lookups less
    /// than [`BEACON_MIN_GAP`] after the previous kept one (A + AAAA pairs,
    /// retries, a page's parallel fetches) are the same contact, not a
    /// beacon interval. Done once, at window close.
    pub(super) fn contacts(&mut self) {
        self.times.sort_unstable();
        let mut last = TsMicros::MIN;
        self.times.retain(|t| {
            let keep = t.saturating_sub(last) >= BEACON_MIN_GAP;
            if keep {
                last = *t;
            }
            keep
        });
    }

    /// Coefficient of variation and mean of the intervals between the
    /// contacts ([`RegStat::contacts`] first), with at least 4 contacts.
    pub(super) fn regularity(&self) -> Option<(f64, f64)> {
        interval_stats(&self.times, 4)
    }
}

/// Coefficient of variation and mean (seconds) of the intervals between
/// sorted contact times, with at least `min` contacts.
pub fn interval_stats(times: &[TsMicros], min: usize) -> Option<(f64, f64)> {
    if times.len() < min.max(2) {
        return None;
    }
    let n = (times.len() - 1) as f64;
    let (mut sum, mut sum2) = (0.0, 0.0);
    for p in times.windows(2) {
        let dt = (p[1] - p[0]) as f64 / MICROS as f64;
        sum += dt;
        sum2 += dt * dt;
    }
    let mean = sum / n;
    let var = (sum2 / n - mean * mean).max(0.0);
    (mean > 0.0).then(|| (var.sqrt() / mean, mean))
}
