//! Domain allow-list: lookups of listed domains get no lexical risk and never
//! count as newly seen (they still count as lookups, with their rcode).
//!
//! One entry per line, `#` starts a comment:
//!
//! | entry | matches |
//! |---|---|
//! | `example.com` | `example.com` and every name under it |
//! | `*.example.com` | names under `example.com`, not `example.com` itself |
//! | `=example.com` | exactly `example.com` |
//!
//! Matching walks the name's suffixes (one hash lookup per label, only over
//! the tail no longer than the longest entry, so a huge name costs no more
//! than a 253-byte one), so it costs nothing per packet beyond that and is cached with the rest of the per-name
//! enrichment. The embedded default (`data/allowlist-default.txt`) covers DNS
//! blocklist zones, antivirus reputation services, big CDNs and OS telemetry:
//! high-volume, random-looking names that are infrastructure, not behaviour.

use crate::decode::dns::check_text_name;
use rustc_hash::FxHashMap;

/// The embedded default list.
pub const DEFAULT_TEXT: &str = include_str!("../../data/allowlist-default.txt");

/// A parsed allow-list.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    /// Every listed domain with the kinds of entry it has ([`TREE`]: apex
    /// and everything below, [`BELOW`]: everything below, not the apex,
    /// [`EXACT`]: exactly this name): one lookup per candidate suffix.
    entries: FxHashMap<String, u8>,
    /// Entries (a domain listed as two kinds counts twice).
    count: usize,
    /// Bit `n` set: some entry is `n` bytes long (lengths from 256 on are
    /// all in bit 255), so suffixes of other lengths need no lookup.
    lens: [u64; 4],
    /// Length of the longest entry: no longer suffix can match.
    longest: usize,
}

/// Entry kinds (bits of [`AllowList::entries`]' values).
const TREE: u8 = 1;
const BELOW: u8 = 2;
const EXACT: u8 = 4;

/// A line that is not a domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("allow-list line {line}: {why}: {text:?}")]
pub struct AllowListError {
    /// 1-based line number.
    pub line: usize,
    /// The offending text.
    pub text: String,
    /// What is wrong.
    pub why: &'static str,
}

fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && check_text_name(d) == Ok(d)
        && d.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

impl AllowList {
    /// The embedded default list.
    pub fn default_list() -> Self {
        // Invariant: the embedded list is tested to parse (`default_list_parses`).
        Self::parse(DEFAULT_TEXT).unwrap_or_default()
    }

    /// Parse the text format above.
    pub fn parse(text: &str) -> Result<Self, AllowListError> {
        let mut a = AllowList::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let lower = line.to_ascii_lowercase();
            let lower = lower.trim_end_matches('.');
            let (kind, d) = if let Some(d) = lower.strip_prefix('=') {
                (EXACT, d)
            } else if let Some(d) = lower.strip_prefix("*.") {
                (BELOW, d)
            } else {
                (TREE, lower)
            };
            if !valid_domain(d) {
                return Err(AllowListError {
                    line: i + 1,
                    text: raw.to_string(),
                    why: "not a domain name",
                });
            }
            a.insert(d, kind);
        }
        Ok(a)
    }

    fn insert(&mut self, d: &str, kind: u8) {
        let kinds = match self.entries.get_mut(d) {
            Some(k) => k,
            None => self.entries.entry(d.to_string()).or_insert(0),
        };
        self.count += (kind & !*kinds).count_ones() as usize;
        *kinds |= kind;
        let n = d.len().min(255);
        self.lens[n >> 6] |= 1 << (n & 63);
        self.longest = self.longest.max(d.len());
    }

    /// Merge another list into this one.
    pub fn extend(&mut self, other: AllowList) {
        for (d, kinds) in &other.entries {
            self.insert(d, *kinds);
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The kinds of entry `d` has (0: not listed).
    #[inline]
    fn kinds(&self, d: &str) -> u8 {
        let n = d.len().min(255);
        if self.lens[n >> 6] & (1 << (n & 63)) == 0 {
            return 0;
        }
        self.entries.get(d).copied().unwrap_or(0)
    }

    /// Whether `name` (lowercase, no trailing dot) is allowed.
    ///
    /// Only suffixes no longer than the longest entry (at most 253 bytes) can
    /// match, so only the label boundaries in that tail are looked up: the cost
    /// is bounded by the entry length, not by the length of `name`.
    pub fn matches(&self, name: &str) -> bool {
        if self.is_empty() || name.is_empty() {
            return false;
        }
        let bytes = name.as_bytes();
        if bytes.len() <= self.longest && self.kinds(name) & (EXACT | TREE) != 0 {
            return true;
        }
        // A dot at `i` starts the suffix `name[i + 1..]` of `len - i - 1` bytes.
        let from = bytes.len().saturating_sub(self.longest.saturating_add(1));
        let tail = bytes.get(from..).unwrap_or_default();
        tail.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'.')
            .filter_map(|(j, _)| name.get(from + j + 1..))
            .any(|rest| self.kinds(rest) & (TREE | BELOW) != 0)
    }
}

/// Whether a label of `name` starts with an underscore (`_dmarc.example.com`,
/// `s1._domainkey.example.com`): `name` starts with `_` or contains `._`.
#[inline]
pub(crate) fn has_service_label(name: &str) -> bool {
    let b = name.as_bytes();
    // Most names have no underscore at all: one quick scan for that first.
    b.contains(&b'_')
        && (b.first() == Some(&b'_')
            || b.iter()
                .enumerate()
                .skip(1)
                .any(|(i, &c)| c == b'_' && b[i - 1] == b'.'))
}

/// Infrastructure lookups, kept out of the behavioural features: reverse
/// lookups (`.arpa`), DNS-blocklist style names that embed a reversed IPv4
/// address (`4.3.2.1.zen.spamhaus.org`) or IPv6 nibbles, and service names with
/// an underscore-prefixed label (RFC 8552: `_dmarc`, `s1._domainkey`,
/// `_ldap._tcp`), which mail servers and directory clients look up by design.
pub fn is_infrastructure(name: &str) -> bool {
    if name.ends_with(".arpa") || name == "arpa" {
        return true;
    }
    if has_service_label(name) {
        return true;
    }
    let b = name.as_bytes();
    // One pass over the labels: the first 4 all octets (1-3 digits, at most
    // 255) and a fifth label after them, or the first 32 all hex nibbles and
    // a 33rd after them. Stops as soon as neither can hold.
    let (mut octets, mut nibbles) = (true, true);
    for (i, label) in b.split(|c| *c == b'.').enumerate() {
        if (i == 4 && octets) || (i == 32 && nibbles) {
            return true;
        }
        if i < 4 {
            octets &= !label.is_empty()
                && label.len() <= 3
                && label.iter().all(u8::is_ascii_digit)
                && label.iter().fold(0u16, |v, d| v * 10 + u16::from(d - b'0')) <= 255;
        } else {
            octets = false;
        }
        nibbles &= i < 32 && label.len() == 1 && label[0].is_ascii_hexdigit();
        if !octets && !nibbles {
            return false;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_list_parses() {
        let a = AllowList::parse(DEFAULT_TEXT).unwrap();
        assert!(a.len() > 20);
        assert!(a.matches("d7leomtv28xjswy.cloudfront.net"));
        assert!(a.matches("0b3910ee65bc721f5d8b7edef722e90e.3.sophosxl.net"));
    }

    #[test]
    fn suffix_wildcard_and_apex_semantics() {
        let a =
            AllowList::parse("example.com\n*.cdn.net\n=exact.org  # only the apex\n\n# comment\n")
                .unwrap();
        assert!(a.matches("example.com"));
        assert!(a.matches("a.b.example.com"));
        assert!(!a.matches("notexample.com"), "suffix match is per label");
        assert!(!a.matches("cdn.net"), "*. does not cover the apex");
        assert!(a.matches("x.cdn.net"));
        assert!(a.matches("exact.org"));
        assert!(!a.matches("www.exact.org"), "= is exact");
        assert!(!a.matches(""));
        let e = AllowList::parse("good.com\nbad domain!\n").unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn huge_names_match_in_bounded_time() {
        let a = AllowList::parse("example.com\n*.cdn.net\n=exact.org\n").unwrap();
        let label = "a".repeat(63);
        let long = vec![label.as_str(); (8 << 20) / 64].join(".");
        let t = std::time::Instant::now();
        assert!(a.matches(&format!("{long}.example.com")));
        assert!(a.matches(&format!("{long}.x.cdn.net")));
        assert!(!a.matches(&format!("{long}.exact.org")));
        assert!(!a.matches(&format!("{long}.other.com")));
        assert!(!a.matches(&long));
        // Quadratic matching took tens of seconds on an 8 MB name.
        let took = t.elapsed();
        assert!(took.as_secs_f64() < 1.0, "8 MB names took {took:?}");
        // A suffix exactly as long as the longest entry still matches.
        let max = format!("{}.{}", "b".repeat(63), "c".repeat(60));
        let b = AllowList::parse(&max).unwrap();
        assert!(b.matches(&format!("x.{max}")));
        assert!(b.matches(&max));
        assert!(!b.matches(&max[1..]));
        assert!(AllowList::parse(&format!("{}.com", "a".repeat(64))).is_err());
        assert!(AllowList::parse("a..com").is_err());
    }

    /// Deterministic pseudo-random names made of `pool` labels.
    fn names(pool: &[&str], n: usize, max_labels: u64) -> Vec<String> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        (0..n)
            .map(|_| {
                let k = next() % (max_labels + 1);
                (0..k)
                    .map(|_| pool[(next() % pool.len() as u64) as usize])
                    .collect::<Vec<_>>()
                    .join(".")
            })
            .collect()
    }

    /// `is_infrastructure` as it was (several passes over the labels).
    fn reference_infrastructure(name: &str) -> bool {
        if name.ends_with(".arpa") || name == "arpa" {
            return true;
        }
        if name.starts_with('_') || name.contains("._") {
            return true;
        }
        let mut labels = name.split('.');
        let octets = labels
            .by_ref()
            .take(4)
            .filter(|l| {
                !l.is_empty()
                    && l.len() <= 3
                    && l.bytes().all(|b| b.is_ascii_digit())
                    && l.parse::<u16>().is_ok_and(|v| v <= 255)
            })
            .count();
        if octets == 4 && name.split('.').count() > 4 {
            return true;
        }
        let nibbles = name
            .split('.')
            .take(32)
            .filter(|l| l.len() == 1 && l.bytes().all(|b| b.is_ascii_hexdigit()))
            .count();
        nibbles == 32 && name.split('.').count() > 32
    }

    #[test]
    fn infrastructure_test_agrees_with_the_reference() {
        let octets = [
            "1", "12", "255", "256", "0", "00", "099", "300", "1000", "", "a", "in-addr",
        ];
        let nibbles = ["a", "f", "0", "9", "g", "ab", "", "_x", "x_", "ip6", "arpa"];
        let mut all = names(&octets, 20_000, 7);
        all.extend(names(&nibbles, 20_000, 40));
        all.extend(names(&["a", "b", "1"], 5_000, 36));
        let longer: Vec<String> = all
            .iter()
            .enumerate()
            .take(2_000)
            .map(|(i, n)| format!("{n}.{}", octets[i % octets.len()]))
            .collect();
        all.extend(longer);
        let mut infra = 0;
        for n in &all {
            assert_eq!(is_infrastructure(n), reference_infrastructure(n), "{n:?}");
            infra += usize::from(is_infrastructure(n));
        }
        assert!(infra > 1_000 && infra < all.len() - 1_000, "{infra}");
    }

    #[test]
    fn matching_agrees_with_a_scan_of_every_suffix() {
        let text = "example.com\n*.cdn.net\n=exact.org\ncom.example.com\n=cdn.net\n\
                    *.exact.org\na.b\n";
        let a = AllowList::parse(text).unwrap();
        assert_eq!(a.len(), 7);
        let (mut tree, mut below, mut exact) = (Vec::new(), Vec::new(), Vec::new());
        for line in text.lines() {
            match (line.strip_prefix('='), line.strip_prefix("*.")) {
                (Some(d), _) => exact.push(d),
                (_, Some(d)) => below.push(d),
                _ => tree.push(line),
            }
        }
        let naive = |n: &str| {
            exact.contains(&n)
                || tree.contains(&n)
                || n.match_indices('.').any(|(i, _)| {
                    let rest = &n[i + 1..];
                    tree.contains(&rest) || below.contains(&rest)
                })
        };
        let pool = [
            "example", "com", "cdn", "net", "exact", "org", "a", "b", "x", "",
        ];
        let mut hits = 0;
        for n in names(&pool, 30_000, 5) {
            assert_eq!(a.matches(&n), !n.is_empty() && naive(&n), "{n:?}");
            hits += usize::from(a.matches(&n));
        }
        assert!(hits > 300, "{hits}");
        let mut b = AllowList::parse("=cdn.net\nexample.com").unwrap();
        b.extend(AllowList::parse("*.cdn.net\nexample.com\nx.y").unwrap());
        assert_eq!(b.len(), 4);
        assert!(b.matches("cdn.net") && b.matches("a.cdn.net") && b.matches("q.x.y"));
    }

    #[test]
    fn infrastructure_names() {
        assert!(is_infrastructure("4.3.2.1.in-addr.arpa"));
        assert!(is_infrastructure("155.251.117.184.zen.spamhaus.org"));
        assert!(is_infrastructure(&format!("{}ip6.arpa", "a.".repeat(32))));
        assert!(is_infrastructure(&format!(
            "{}dnsbl.example",
            "f.".repeat(32)
        )));
        assert!(
            !is_infrastructure("1.2.3.4"),
            "a bare address is not a lookup under a zone"
        );
        assert!(!is_infrastructure("www.example.com"));
        assert!(!is_infrastructure("300.2.3.4.example.com"));
        assert!(!is_infrastructure("1.ubuntu.pool.ntp.org"));
        assert!(is_infrastructure("_dmarc.example.com"));
        assert!(is_infrastructure("s1._domainkey.example.com"));
        assert!(is_infrastructure("_ldap._tcp.dc._msdcs.corp.example"));
        assert!(
            !is_infrastructure("my_host.example.com"),
            "an underscore inside a label is not a service label"
        );
    }
}
