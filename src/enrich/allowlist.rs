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
use rustc_hash::FxHashSet;

/// The embedded default list.
pub const DEFAULT_TEXT: &str = include_str!("../../data/allowlist-default.txt");

/// A parsed allow-list.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    /// Apex and everything below.
    tree: FxHashSet<String>,
    /// Everything below, not the apex.
    below: FxHashSet<String>,
    /// Exactly these names.
    exact: FxHashSet<String>,
    /// Length of the longest entry: no longer suffix can match.
    longest: usize,
}

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
            let (set, d) = if let Some(d) = lower.strip_prefix('=') {
                (&mut a.exact, d)
            } else if let Some(d) = lower.strip_prefix("*.") {
                (&mut a.below, d)
            } else {
                (&mut a.tree, lower)
            };
            if !valid_domain(d) {
                return Err(AllowListError {
                    line: i + 1,
                    text: raw.to_string(),
                    why: "not a domain name",
                });
            }
            a.longest = a.longest.max(d.len());
            set.insert(d.to_string());
        }
        Ok(a)
    }

    /// Merge another list into this one.
    pub fn extend(&mut self, other: AllowList) {
        self.tree.extend(other.tree);
        self.below.extend(other.below);
        self.exact.extend(other.exact);
        self.longest = self.longest.max(other.longest);
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.tree.len() + self.below.len() + self.exact.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        if bytes.len() <= self.longest && (self.exact.contains(name) || self.tree.contains(name)) {
            return true;
        }
        // A dot at `i` starts the suffix `name[i + 1..]` of `len - i - 1` bytes.
        let from = bytes.len().saturating_sub(self.longest.saturating_add(1));
        let tail = bytes.get(from..).unwrap_or_default();
        tail.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'.')
            .filter_map(|(j, _)| name.get(from + j + 1..))
            .any(|rest| self.tree.contains(rest) || self.below.contains(rest))
    }
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
