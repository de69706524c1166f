//! Name building blocks: payload encoders, IDNA punycode, pronounceable
//! attacker domains, typos, and stable per-name answer addresses.
//!
//! Everything returns lowercase ASCII without a trailing dot, with labels of at
//! most 63 bytes and names of at most 253 bytes, as a resolver would accept.

use super::rng::{fnv64, pick, Draw, Rng};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Maximum length of one DNS label.
pub(crate) const MAX_LABEL: usize = 63;
/// Maximum length of a presentation-format name without the trailing dot.
pub(crate) const MAX_NAME: usize = 253;

/// How payload bytes are turned into label characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// RFC 4648 base32, lowercase, no padding (iodine's default upstream codec).
    Base32,
    /// Base64 as dns2tcp uses it (`+` and `/` kept), lowercased by the resolver path.
    Base64,
    /// Base64url-like alphabet (`-` and `_`), lowercase.
    Base64Url,
    /// Lowercase hex (dnscat2).
    Hex,
}

const B32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const HEX: &[u8; 16] = b"0123456789abcdef";

/// `n` characters of encoded random payload.
pub(crate) fn encoded_chars(rng: &mut Rng, enc: Encoding, n: usize) -> String {
    let mut s = String::with_capacity(n);
    for i in 0..n {
        let c = match enc {
            Encoding::Base32 => B32[rng.index(32)],
            Encoding::Base64 => B64[rng.index(64)].to_ascii_lowercase(),
            Encoding::Base64Url => {
                // A leading '-' is legal in DNS but never produced by real tools'
                // first label character; keep names tidy.
                let c = B64URL[rng.index(64)].to_ascii_lowercase();
                if i == 0 && c == b'-' {
                    b'a'
                } else {
                    c
                }
            }
            Encoding::Hex => HEX[rng.index(16)],
        };
        s.push(char::from(c));
    }
    s
}

/// Split `payload` into dot-separated labels of at most `label_len` characters.
pub(crate) fn split_labels(payload: &str, label_len: usize) -> String {
    let label_len = label_len.clamp(1, MAX_LABEL);
    let bytes = payload.as_bytes();
    let mut out = String::with_capacity(payload.len() + payload.len() / label_len + 1);
    for (i, chunk) in bytes.chunks(label_len).enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.extend(chunk.iter().map(|b| char::from(*b)));
    }
    out
}

/// `sub.zone`, trimmed so the whole name fits in [`MAX_NAME`] bytes (labels of
/// `sub` are dropped from the front when too long).
pub(crate) fn join_under(sub: &str, zone: &str) -> String {
    let room = MAX_NAME.saturating_sub(zone.len() + 1);
    let mut s = sub.trim_matches('.');
    while s.len() > room {
        match s.find('.') {
            Some(i) => s = &s[i + 1..],
            None => {
                s = &s[s.len() - room.min(s.len())..];
                break;
            }
        }
    }
    if s.is_empty() {
        zone.to_string()
    } else {
        format!("{s}.{zone}")
    }
}

const CONSONANTS: &[&str] = &[
    "b", "c", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "cr", "st",
    "tr", "pl", "gr", "ch", "sh", "th",
];
const VOWELS: &[&str] = &["a", "e", "i", "o", "u", "io", "ea", "ou", "y"];
const WORDS: &[&str] = &[
    "cloud",
    "sync",
    "data",
    "cdn",
    "edge",
    "metrics",
    "telemetry",
    "update",
    "static",
    "api",
    "secure",
    "net",
    "web",
    "link",
    "node",
    "host",
    "stat",
    "track",
    "feed",
    "media",
    "soft",
    "online",
    "global",
    "fast",
    "core",
    "system",
    "service",
    "check",
    "stream",
    "hub",
];
const ATTACKER_TLDS: &[&str] = &[
    "com", "net", "org", "info", "xyz", "io", "top", "online", "site", "biz", "cc", "ru", "club",
];

/// A pronounceable made-up word of `syllables` consonant+vowel pairs.
pub(crate) fn pronounceable(rng: &mut Rng, syllables: usize) -> String {
    let mut s = String::new();
    for _ in 0..syllables {
        s.push_str(pick::<&str>(rng, CONSONANTS));
        s.push_str(pick::<&str>(rng, VOWELS));
    }
    if rng.chance(0.4) {
        s.push_str(pick::<&str>(rng, CONSONANTS));
    }
    s
}

/// A plausible attacker-registered domain: never in the benign lists, sometimes
/// word-like ("cdn-sync-stat.net"), sometimes pronounceable ("brevotal.com").
pub(crate) fn attacker_domain(rng: &mut Rng) -> String {
    let tld = pick(rng, ATTACKER_TLDS);
    let base = match rng.index(3) {
        0 => format!("{}{}", pick(rng, WORDS), pronounceable(rng, 1)),
        1 => format!("{}-{}", pick(rng, WORDS), pick(rng, WORDS)),
        _ => {
            let n = 2 + rng.index(2);
            pronounceable(rng, n)
        }
    };
    format!("{base}.{tld}")
}

/// A random lowercase alphanumeric string of `n` characters.
pub(crate) fn random_alnum(rng: &mut Rng, n: usize) -> String {
    const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..n).map(|_| char::from(A[rng.index(A.len())])).collect()
}

/// A random lowercase letter string of `n` characters.
pub(crate) fn random_alpha(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'a' + rng.index(26) as u8))
        .collect()
}

/// A typo of `name` (one edit in its leftmost label of the registrable part):
/// deletion, duplication, transposition, neighbour-key substitution, or a
/// missing dot after `www`.
pub(crate) fn typo(rng: &mut Rng, name: &str) -> String {
    for _ in 0..8 {
        let t = typo_once(rng, name);
        if t != name {
            return t;
        }
    }
    format!("x{name}")
}

fn typo_once(rng: &mut Rng, name: &str) -> String {
    if let Some(rest) = name.strip_prefix("www.") {
        if rng.chance(0.25) {
            return format!("www{rest}");
        }
    }
    let (label, suffix) = match name.find('.') {
        Some(i) => (&name[..i], &name[i..]),
        None => (name, ""),
    };
    let mut b: Vec<u8> = label.bytes().collect();
    if b.len() < 2 {
        b.push(b'x');
        return format!("{}{suffix}", String::from_utf8_lossy(&b));
    }
    let i = rng.index(b.len());
    match rng.index(4) {
        0 => {
            b.remove(i);
        }
        1 => {
            let c = b[i];
            b.insert(i, c);
        }
        2 => {
            let j = if i + 1 < b.len() { i + 1 } else { i - 1 };
            b.swap(i, j);
        }
        _ => {
            const ROWS: [&[u8]; 3] = [b"qwertyuiop", b"asdfghjkl", b"zxcvbnm"];
            let c = b[i];
            let mut repl = c;
            for row in ROWS {
                if let Some(p) = row.iter().position(|x| *x == c) {
                    repl = if p + 1 < row.len() {
                        row[p + 1]
                    } else {
                        row[p - 1]
                    };
                }
            }
            if repl == c {
                repl = b'e';
            }
            b[i] = repl;
        }
    }
    if b.first() == Some(&b'-') {
        b[0] = b'a';
    }
    if b.last() == Some(&b'-') {
        if let Some(l) = b.last_mut() {
            *l = b'a';
        }
    }
    format!("{}{suffix}", String::from_utf8_lossy(&b))
}

/// Public prefixes answer addresses are drawn from (CDNs, clouds, hosters).
const V4_PREFIXES: &[[u8; 2]] = &[
    [104, 16],
    [104, 18],
    [172, 67],
    [142, 250],
    [172, 217],
    [151, 101],
    [13, 32],
    [52, 84],
    [54, 230],
    [20, 190],
    [40, 126],
    [23, 45],
    [23, 215],
    [185, 199],
    [93, 184],
    [31, 13],
    [157, 240],
    [199, 232],
    [3, 160],
    [18, 244],
];
const V6_PREFIXES: &[[u16; 2]] = &[
    [0x2606, 0x4700],
    [0x2a00, 0x1450],
    [0x2a04, 0x4e42],
    [0x2600, 0x9000],
    [0x2620, 0x01ec],
    [0x2a03, 0x2880],
    [0x2600, 0x1406],
];

/// Stable IPv4 addresses for `name` (the same name resolves alike for every host).
pub(crate) fn v4_for(name: &str, n: usize, rotate: usize) -> Vec<IpAddr> {
    let h = fnv64(name.as_bytes());
    let p = V4_PREFIXES[(h % V4_PREFIXES.len() as u64) as usize];
    (0..n)
        .map(|i| {
            let k = mix_index(h, (i + rotate) % n.max(1));
            IpAddr::V4(Ipv4Addr::new(p[0], p[1], (k >> 8) as u8, (k as u8).max(1)))
        })
        .collect()
}

/// Stable IPv6 addresses for `name`.
pub(crate) fn v6_for(name: &str, n: usize, rotate: usize) -> Vec<IpAddr> {
    let h = fnv64(name.as_bytes()) ^ 0x5555;
    let p = V6_PREFIXES[(h % V6_PREFIXES.len() as u64) as usize];
    (0..n)
        .map(|i| {
            let k = mix_index(h, (i + rotate) % n.max(1));
            IpAddr::V6(Ipv6Addr::new(
                p[0],
                p[1],
                (k >> 48) as u16,
                (k >> 32) as u16,
                0,
                0,
                (k >> 16) as u16,
                (k as u16).max(1),
            ))
        })
        .collect()
}

fn mix_index(h: u64, i: usize) -> u64 {
    super::rng::mix64(h ^ (i as u64).wrapping_mul(0x9E37_79B9))
}

/// IDNA punycode (RFC 3492) of one Unicode label, with the `xn--` prefix when
/// the label is not pure ASCII.
pub(crate) fn punycode_label(label: &str) -> String {
    const BASE: u32 = 36;
    const TMIN: u32 = 1;
    const TMAX: u32 = 26;
    const SKEW: u32 = 38;
    const DAMP: u32 = 700;
    fn adapt(mut delta: u32, numpoints: u32, first: bool) -> u32 {
        delta /= if first { DAMP } else { 2 };
        delta += delta / numpoints;
        let mut k = 0;
        while delta > ((BASE - TMIN) * TMAX) / 2 {
            delta /= BASE - TMIN;
            k += BASE;
        }
        k + (BASE - TMIN + 1) * delta / (delta + SKEW)
    }
    fn digit(d: u32) -> char {
        // d < 36 by construction
        if d < 26 {
            char::from(b'a' + d as u8)
        } else {
            char::from(b'0' + (d - 26) as u8)
        }
    }
    let cps: Vec<u32> = label.chars().map(u32::from).collect();
    if cps.iter().all(|c| *c < 0x80) {
        return label.to_string();
    }
    let mut out: String = label.chars().filter(char::is_ascii).collect();
    let b = out.chars().count() as u32;
    if b > 0 {
        out.push('-');
    }
    let (mut n, mut delta, mut bias, mut h) = (0x80u32, 0u32, 72u32, b);
    let total = cps.len() as u32;
    while h < total {
        let m = cps.iter().copied().filter(|c| *c >= n).min().unwrap_or(n);
        delta = delta.saturating_add((m - n).saturating_mul(h + 1));
        n = m;
        for c in &cps {
            if *c < n {
                delta = delta.saturating_add(1);
            }
            if *c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = if k <= bias {
                        TMIN
                    } else if k >= bias + TMAX {
                        TMAX
                    } else {
                        k - bias
                    };
                    if q < t {
                        break;
                    }
                    out.push(digit(t + (q - t) % (BASE - t)));
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                out.push(digit(q));
                bias = adapt(delta, h + 1, h == b);
                delta = 0;
                h += 1;
            }
        }
        delta += 1;
        n += 1;
    }
    format!("xn--{out}")
}

#[cfg(test)]
mod tests {
    use super::super::rng::derive;
    use super::*;

    #[test]
    fn punycode_matches_known_vectors() {
        // Cyrillic 'а' (U+0430) in "pаypal": the classic homograph.
        assert_eq!(punycode_label("p\u{430}ypal"), "xn--pypal-4ve");
        assert_eq!(punycode_label("bücher"), "xn--bcher-kva");
        assert_eq!(punycode_label("münchen"), "xn--mnchen-3ya");
        assert_eq!(punycode_label("example"), "example");
    }

    #[test]
    fn encoders_use_their_alphabets() {
        let mut r = derive(1, &[]);
        let s = encoded_chars(&mut r, Encoding::Hex, 40);
        assert!(s.bytes().all(|b| b.is_ascii_hexdigit()));
        let s = encoded_chars(&mut r, Encoding::Base32, 40);
        assert!(s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)));
        let s = encoded_chars(&mut r, Encoding::Base64, 200);
        assert!(s.bytes().all(|b| !b.is_ascii_uppercase()));
        assert_eq!(split_labels("abcdef", 4), "abcd.ef");
    }

    #[test]
    fn join_under_respects_name_limit() {
        let sub = split_labels(&"a".repeat(400), 63);
        let n = join_under(&sub, "tunnel.example.org");
        assert!(n.len() <= MAX_NAME, "{}", n.len());
        assert!(n.ends_with(".tunnel.example.org"));
        assert!(n.split('.').all(|l| !l.is_empty() && l.len() <= MAX_LABEL));
    }

    #[test]
    fn typos_differ_and_stay_valid() {
        let mut r = derive(2, &[]);
        for _ in 0..200 {
            let t = typo(&mut r, "www.google.com");
            assert_ne!(t, "www.google.com");
            assert!(t.split('.').all(|l| !l.is_empty()));
        }
    }

    #[test]
    fn addresses_are_stable_per_name() {
        assert_eq!(v4_for("example.com", 2, 0), v4_for("example.com", 2, 0));
        assert_ne!(v4_for("example.com", 1, 0), v4_for("example.org", 1, 0));
        assert!(v6_for("example.com", 1, 0)[0].is_ipv6());
    }
}
