//! FNV-1a 64-bit hash: the bundle checksum and the training-matrix fingerprint.
//!
//! Owned here so the on-disk format depends on nothing outside this file. Why
//! FNV-1a 64 rather than `crc32fast`:
//!
//! * the bundle trailer is 8 bytes; FNV-1a 64 fills it, CRC-32 would need padding;
//! * it is ten lines with published test vectors, so the format cannot drift
//!   with a dependency update, and it adds no crate;
//! * any change confined to a single byte is *always* detected: each step
//!   `h ← (h ⊕ b)·P mod 2⁶⁴` is a bijection of `h` (P is odd), so two states that
//!   differ stay different through the rest of the input; other corruptions
//!   collide with probability ≈ 2⁻⁶⁴;
//! * speed is not a concern: a 10 MB bundle hashes in ~10 ms, once per load.
//!
//! It is an integrity check against accidental corruption (truncated copies, bad
//! disks), **not** a MAC: anyone who can write the file can recompute it. Loading
//! therefore still bounds and validates everything after the checksum passes.

/// FNV-1a 64 offset basis.
const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64 prime.
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// Incremental FNV-1a 64 hasher.
#[derive(Debug, Clone, Copy)]
pub struct Fnv1a64(u64);

impl Default for Fnv1a64 {
    fn default() -> Self {
        Self::new()
    }
}

impl Fnv1a64 {
    /// Hasher in its initial state.
    pub const fn new() -> Self {
        Fnv1a64(OFFSET_BASIS)
    }

    /// Feeds bytes.
    #[inline]
    pub fn update(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
        self.0 = h;
    }

    /// A hasher in the state it has after the bytes whose hash is `h`:
    /// `resume(fnv1a64(a))` fed `b` finishes at `fnv1a64(a ‖ b)`.
    pub const fn resume(h: u64) -> Self {
        Fnv1a64(h)
    }

    /// Current hash value.
    pub const fn finish(&self) -> u64 {
        self.0
    }
}

/// FNV-1a 64 of `bytes`.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h = Fnv1a64::new();
    h.update(bytes);
    h.finish()
}

/// Stable fingerprint of a training matrix: FNV-1a 64 over the row count and
/// column count (u64 little-endian) followed by every value's IEEE-754 bits
/// (u64 little-endian) in row-major order.
pub fn hash_matrix(rows: &[Vec<f64>]) -> u64 {
    let mut h = Fnv1a64::new();
    h.update(&(rows.len() as u64).to_le_bytes());
    h.update(&(rows.first().map_or(0, Vec::len) as u64).to_le_bytes());
    for row in rows {
        for v in row {
            h.update(&v.to_bits().to_le_bytes());
        }
    }
    h.finish()
}

/// Bytes as spaced lowercase hex (`"53 44 4e"`), `<empty>` for none: how
/// error messages show the first bytes of a file or a checksum.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let _ = write!(s, "{b:02x}");
    }
    if s.is_empty() {
        s.push_str("<empty>");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_test_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn incremental_equals_one_shot() {
        let mut h = Fnv1a64::new();
        h.update(b"foo");
        h.update(b"bar");
        assert_eq!(h.finish(), fnv1a64(b"foobar"));
    }

    #[test]
    fn every_single_byte_change_is_detected() {
        let data: Vec<u8> = (0..64u8).collect();
        let base = fnv1a64(&data);
        for i in 0..data.len() {
            for flip in [1u8, 0x80, 0xff] {
                let mut d = data.clone();
                d[i] ^= flip;
                assert_ne!(fnv1a64(&d), base, "byte {i} flip {flip:#x}");
            }
        }
    }

    #[test]
    fn matrix_hash_sees_values_order_and_shape() {
        let a = vec![vec![1.0, 2.0], vec![3.0, 4.0]];
        let b = vec![vec![3.0, 4.0], vec![1.0, 2.0]];
        let c = vec![vec![1.0, 2.0, 3.0, 4.0]];
        let z = vec![vec![-0.0, 2.0], vec![3.0, 4.0]];
        let d = vec![vec![0.0, 2.0], vec![3.0, 4.0]];
        assert_eq!(hash_matrix(&a), hash_matrix(&a.clone()));
        assert_ne!(hash_matrix(&a), hash_matrix(&b));
        assert_ne!(hash_matrix(&a), hash_matrix(&c));
        assert_ne!(hash_matrix(&z), hash_matrix(&d));
    }
}
