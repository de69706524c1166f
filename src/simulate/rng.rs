//! Seeded randomness for the simulator.
//!
//! Every random stream is a [`ChaCha8Rng`] derived from the run seed and a small
//! tuple of integers (host index, stream id, incident index, ...) through
//! [`derive`]. ChaCha8 is specified bit for bit and `rand`'s `seed_from_u64`,
//! `random::<f64>()` and `random_range` on integers are documented as portable, so
//! the same configuration produces the same events on every platform. Streams
//! are independent: adding a host or an incident does not shift the random
//! numbers another host or incident sees.
//!
//! The distributions we need (exponential, normal, log-normal, Zipf) are small
//! enough to write here rather than pulling in `rand_distr`.

use rand::{Rng as _, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The simulator's RNG.
pub(crate) type Rng = ChaCha8Rng;

/// SplitMix64 finaliser: a cheap, well-mixed 64-bit permutation.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A generator for the stream named by `parts` under `seed`.
pub(crate) fn derive(seed: u64, parts: &[u64]) -> Rng {
    let mut h = mix64(seed);
    for p in parts {
        h = mix64(h ^ mix64(*p));
    }
    Rng::seed_from_u64(h)
}

/// FNV-1a 64 over bytes: a stable (platform independent) hash for deriving
/// per-name properties such as addresses and TTLs.
pub(crate) fn fnv64(bytes: &[u8]) -> u64 {
    mix64(crate::model::checksum::fnv1a64(bytes))
}

/// Convenience draws on top of [`Rng`].
pub(crate) trait Draw {
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64;
    /// Uniform in [lo, hi) (returns `lo` when `hi <= lo`).
    fn uniform(&mut self, lo: f64, hi: f64) -> f64;
    /// Uniform integer in [lo, hi] (returns `lo` when `hi <= lo`).
    fn int(&mut self, lo: u64, hi: u64) -> u64;
    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool;
    /// Exponential with the given mean.
    fn exp(&mut self, mean: f64) -> f64;
    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64;
    /// Log-normal with the given median and log-space sigma.
    fn lognormal(&mut self, median: f64, sigma: f64) -> f64;
    /// Log-uniform in [lo, hi).
    fn log_uniform(&mut self, lo: f64, hi: f64) -> f64;
    /// Index into a collection of `len` items; `len` must be non-zero.
    fn index(&mut self, len: usize) -> usize;
}

impl Draw for Rng {
    fn unit(&mut self) -> f64 {
        self.random::<f64>()
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        if hi <= lo {
            lo
        } else {
            lo + (hi - lo) * self.unit()
        }
    }
    fn int(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            self.random_range(lo..=hi)
        }
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn exp(&mut self, mean: f64) -> f64 {
        -(1.0 - self.unit()).ln() * mean
    }
    fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }
    fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        (self.uniform(lo.ln(), hi.ln())).exp()
    }
    fn index(&mut self, len: usize) -> usize {
        // Invariant: callers pass a non-zero length (lists are validated in
        // `Simulator::new`, built-in tables are non-empty constants).
        debug_assert!(len > 0);
        if len <= 1 {
            0
        } else {
            self.random_range(0..len)
        }
    }
}

/// Pick one element of a non-empty slice.
pub(crate) fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[rng.index(items.len())]
}

/// Zipf-like sampler over ranks `0..n` (`P(k) ∝ 1/(k+1)^s`).
#[derive(Debug, Clone)]
pub(crate) struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// Build for `n` ranks with exponent `s`.
    pub(crate) fn new(n: usize, s: f64) -> Self {
        let mut cdf = Vec::with_capacity(n);
        let mut acc = 0.0;
        for k in 0..n {
            acc += 1.0 / ((k + 1) as f64).powf(s);
            cdf.push(acc);
        }
        Zipf { cdf }
    }

    /// Draw a rank (0 when built for zero ranks).
    pub(crate) fn sample(&self, rng: &mut Rng) -> usize {
        let total = self.cdf.last().copied().unwrap_or(0.0);
        let u = rng.unit() * total;
        self.cdf
            .partition_point(|c| *c <= u)
            .min(self.cdf.len().saturating_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derive_is_deterministic_and_separates_streams() {
        let a: Vec<u64> = (0..4).map(|_| derive(1, &[2, 3]).random()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        let mut x = derive(1, &[2, 3]);
        let mut y = derive(1, &[3, 2]);
        assert_ne!(x.random::<u64>(), y.random::<u64>());
    }

    #[test]
    fn zipf_prefers_low_ranks() {
        let z = Zipf::new(1000, 1.0);
        let mut r = derive(7, &[]);
        let mut low = 0;
        for _ in 0..10_000 {
            if z.sample(&mut r) < 10 {
                low += 1;
            }
        }
        // H(10)/H(1000) ≈ 0.39
        assert!((3000..5000).contains(&low), "{low}");
    }

    #[test]
    fn draws_stay_in_range() {
        let mut r = derive(3, &[1]);
        for _ in 0..1000 {
            let u = r.uniform(2.0, 5.0);
            assert!((2.0..5.0).contains(&u));
            assert!((3..=9).contains(&r.int(3, 9)));
            assert!(r.exp(10.0) >= 0.0);
            let l = r.log_uniform(1.0, 20.0);
            assert!((1.0..=20.0).contains(&l));
        }
        assert_eq!(r.int(5, 5), 5);
        assert_eq!(r.index(1), 0);
    }
}
