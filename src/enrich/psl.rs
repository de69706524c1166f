//! Public Suffix List matching: the public suffix and the registrable domain of a
//! query name.
//!
//! The list (`data/public_suffix_list.dat`, Debian's 2023 copy) is embedded with
//! `include_str!` and parsed once per process per flavour (ICANN-only or
//! ICANN + private) into a [`publicsuffix::List`] held in a [`OnceLock`]; every
//! [`Psl`] handle shares it through an [`Arc`]. Matching walks the rule trie with
//! borrowed byte slices and allocates nothing.
//!
//! # Sections
//! By default only the ICANN section (the text between `===BEGIN ICANN DOMAINS===`
//! and `===END ICANN DOMAINS===`) is used, so `foo.blogspot.com` has the
//! registrable domain `blogspot.com`. With `include_private` the private section
//! (`blogspot.com`, `github.io`, `dyndns.org`, ...) is used as well and the same
//! name maps to `foo.blogspot.com`.
//!
//! # Input handling (documented decisions)
//! * Names are expected in the sensor's normal form: lowercase ASCII, dot
//!   separated. Matching is case-sensitive (no allocation to fold case); the
//!   capture decoder already lowercases.
//! * One trailing dot is ignored; the returned slices never include it.
//! * Empty names, names with an empty label (`a..com`, `.com`) in the part that
//!   is returned, and IP literals (`192.0.2.1`, `::1`) have no suffix and no
//!   registrable domain.
//! * **Unlisted top-level labels** (`printer.local`, `nas.lan`, `corp.internal`,
//!   bare single labels, `.bazar`): the PSL algorithm's implicit `*` rule would make
//!   the TLD itself the suffix; here such names have **no** public suffix and no
//!   registrable domain, because they are not delegated Internet names (mDNS,
//!   split-horizon, alternative roots) and must not pollute first-seen state.
//! * **`.arpa`** (`1.2.0.192.in-addr.arpa`, `ip6.arpa`, `home.arpa`): the public
//!   suffix is reported as listed (`in-addr.arpa`), but there is no registrable
//!   domain: reverse-mapping names are infrastructure, not owned domains.
//! * `\DDD`-escaped bytes and punycode (`xn--`) labels are opaque label bytes;
//!   punycode rules are matched because the `publicsuffix` crate also inserts
//!   the ASCII form of every IDN rule. An escape inside the suffix labels simply
//!   matches no rule.
//! * Wildcards and exceptions follow the PSL algorithm exactly: with `*.ck` and
//!   `!www.ck`, `foo.ck` *is* a public suffix (no registrable domain),
//!   `www.foo.ck` is registrable, and `www.ck` is registrable (suffix `ck`).

use super::EnrichError;
use publicsuffix::{List, Psl as _};
use std::net::Ipv4Addr;
use std::sync::{Arc, OnceLock};

/// The embedded list text.
pub(crate) const EMBEDDED_PSL: &str = include_str!("../../data/public_suffix_list.dat");

const ICANN_BEGIN: &str = "===BEGIN ICANN DOMAINS===";
const ICANN_END: &str = "===END ICANN DOMAINS===";

/// A parsed Public Suffix List (cheap to clone: the rule trie is shared).
#[derive(Clone, Debug)]
pub struct Psl {
    list: Arc<List>,
    include_private: bool,
}

impl Psl {
    /// The embedded list, parsed once per process (per `include_private` flavour).
    ///
    /// # Panics
    /// Only if the embedded `data/public_suffix_list.dat` does not parse, which
    /// is a build-time invariant checked by the `embedded_psl_parses` test.
    pub fn embedded(include_private: bool) -> Self {
        static ICANN: OnceLock<Arc<List>> = OnceLock::new();
        static ALL: OnceLock<Arc<List>> = OnceLock::new();
        let cell = if include_private { &ALL } else { &ICANN };
        let list = cell.get_or_init(|| {
            #[allow(clippy::expect_used)] // documented invariant, see above
            let list = parse_list(EMBEDDED_PSL, include_private)
                .expect("embedded data/public_suffix_list.dat must parse");
            Arc::new(list)
        });
        Psl {
            list: Arc::clone(list),
            include_private,
        }
    }

    /// Parse a list in the standard `public_suffix_list.dat` format. The text
    /// must contain the `===BEGIN ICANN DOMAINS===` marker.
    pub fn from_text(text: &str, include_private: bool) -> Result<Self, EnrichError> {
        Ok(Psl {
            list: Arc::new(parse_list(text, include_private)?),
            include_private,
        })
    }

    /// Whether the private section is in use.
    pub fn includes_private(&self) -> bool {
        self.include_private
    }

    /// Length in bytes of the public suffix of `name` (already trimmed), or
    /// `None` when no explicit rule matches (see the module docs).
    #[inline]
    fn suffix_len(&self, name: &str) -> Option<usize> {
        if name.is_empty() || is_ip_literal(name) {
            return None;
        }
        let info = self.list.find(name.as_bytes().rsplit(|b| *b == b'.'));
        // typ == None: only the implicit `*` rule matched (unlisted TLD).
        info.typ?;
        if info.len == 0 || info.len > name.len() {
            return None;
        }
        Some(info.len)
    }

    /// The public suffix of `name` (`co.uk` for `www.bbc.co.uk`), without a
    /// trailing dot. `None` for empty names, IP literals and unlisted TLDs.
    pub fn public_suffix<'a>(&self, name: &'a str) -> Option<&'a str> {
        let name = trim_dot(name);
        let len = self.suffix_len(name)?;
        let s = name.get(name.len() - len..)?;
        if s.starts_with('.') {
            return None;
        }
        Some(s)
    }

    /// The registrable domain of `name` (`bbc.co.uk` for `www.bbc.co.uk`): the
    /// public suffix plus one label. `None` when `name` is itself a public
    /// suffix, is empty, an IP literal, under `.arpa` or an unlisted TLD, or
    /// the label left of the suffix is empty. The result is always a suffix of
    /// `name` with any trailing dot removed.
    pub fn registrable_domain<'a>(&self, name: &'a str) -> Option<&'a str> {
        let name = trim_dot(name);
        if name == "arpa" || name.ends_with(".arpa") {
            return None;
        }
        let sfx = self.suffix_len(name)?;
        // Need at least "x." in front of the suffix.
        if name.len() < sfx + 2 {
            return None;
        }
        let dot = name.len() - sfx - 1;
        if name.as_bytes()[dot] != b'.' {
            return None;
        }
        let head = &name.as_bytes()[..dot];
        let start = head.iter().rposition(|b| *b == b'.').map_or(0, |i| i + 1);
        if start == dot {
            return None; // empty label left of the suffix
        }
        name.get(start..)
    }
}

/// Strip one trailing dot.
#[inline]
pub(crate) fn trim_dot(name: &str) -> &str {
    name.strip_suffix('.').unwrap_or(name)
}

/// Whether `name` is an IP literal: dotted-quad IPv4, or anything containing a
/// colon (IPv6, bracketed or not; a colon never appears in a host name).
#[inline]
fn is_ip_literal(name: &str) -> bool {
    let b = name.as_bytes();
    if b.contains(&b':') {
        return true;
    }
    b.first().is_some_and(|c| c.is_ascii_digit())
        && b.last().is_some_and(|c| c.is_ascii_digit())
        && name.parse::<Ipv4Addr>().is_ok()
}

/// Cut the ICANN section (with its BEGIN line, which the parser needs) or,
/// with `include_private`, use the whole text.
fn parse_list(text: &str, include_private: bool) -> Result<List, EnrichError> {
    let begin = text
        .find(ICANN_BEGIN)
        .ok_or(EnrichError::PslNoIcannSection)?;
    let body = if include_private {
        text
    } else {
        // Start at the beginning of the marker's line so the parser sees it.
        let line_start = text[..begin].rfind('\n').map_or(0, |i| i + 1);
        let end = text[begin..]
            .find(ICANN_END)
            .map_or(text.len(), |i| begin + i);
        &text[line_start..end]
    };
    body.parse::<List>()
        .map_err(|e| EnrichError::Psl(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn icann() -> Psl {
        Psl::embedded(false)
    }

    #[test]
    fn embedded_psl_parses() {
        assert!(parse_list(EMBEDDED_PSL, false).is_ok());
        assert!(parse_list(EMBEDDED_PSL, true).is_ok());
    }

    #[test]
    fn co_uk_and_multi_level() {
        let p = icann();
        assert_eq!(p.registrable_domain("www.bbc.co.uk"), Some("bbc.co.uk"));
        assert_eq!(p.public_suffix("www.bbc.co.uk"), Some("co.uk"));
        assert_eq!(p.registrable_domain("bbc.co.uk"), Some("bbc.co.uk"));
        assert_eq!(p.registrable_domain("co.uk"), None);
        assert_eq!(p.registrable_domain("uk"), None);
        assert_eq!(
            p.registrable_domain("a.b.c.example.com.au"),
            Some("example.com.au")
        );
        assert_eq!(p.public_suffix("a.b.c.example.com.au"), Some("com.au"));
        assert_eq!(p.registrable_domain("www.example.com"), Some("example.com"));
    }

    #[test]
    fn wildcard_and_exception_rules() {
        let p = icann();
        // *.ck, !www.ck
        assert_eq!(p.registrable_domain("foo.ck"), None);
        assert_eq!(p.public_suffix("foo.ck"), Some("foo.ck"));
        assert_eq!(p.registrable_domain("www.foo.ck"), Some("www.foo.ck"));
        assert_eq!(p.registrable_domain("www.ck"), Some("www.ck"));
        assert_eq!(p.registrable_domain("a.www.ck"), Some("www.ck"));
        assert_eq!(p.public_suffix("www.ck"), Some("ck"));
        // *.kawasaki.jp, !city.kawasaki.jp
        assert_eq!(p.registrable_domain("foo.kawasaki.jp"), None);
        assert_eq!(
            p.registrable_domain("a.foo.kawasaki.jp"),
            Some("a.foo.kawasaki.jp")
        );
        assert_eq!(
            p.registrable_domain("city.kawasaki.jp"),
            Some("city.kawasaki.jp")
        );
        assert_eq!(
            p.registrable_domain("www.city.kawasaki.jp"),
            Some("city.kawasaki.jp")
        );
        assert_eq!(p.public_suffix("www.city.kawasaki.jp"), Some("kawasaki.jp"));
    }

    #[test]
    fn private_section_on_and_off() {
        let off = Psl::embedded(false);
        let on = Psl::embedded(true);
        assert!(!off.includes_private() && on.includes_private());
        assert_eq!(
            off.registrable_domain("foo.blogspot.com"),
            Some("blogspot.com")
        );
        assert_eq!(
            on.registrable_domain("foo.blogspot.com"),
            Some("foo.blogspot.com")
        );
        assert_eq!(on.registrable_domain("blogspot.com"), None);
        assert_eq!(on.registrable_domain("www.bbc.co.uk"), Some("bbc.co.uk"));
    }

    #[test]
    fn edge_cases() {
        let p = icann();
        assert_eq!(p.registrable_domain("www.bbc.co.uk."), Some("bbc.co.uk"));
        assert_eq!(p.public_suffix("www.bbc.co.uk."), Some("co.uk"));
        assert_eq!(p.registrable_domain(""), None);
        assert_eq!(p.registrable_domain("."), None);
        assert_eq!(p.registrable_domain("com"), None);
        assert_eq!(p.registrable_domain("localhost"), None);
        assert_eq!(p.registrable_domain("printer.local"), None);
        assert_eq!(p.public_suffix("printer.local"), None);
        assert_eq!(p.registrable_domain("a..com"), None);
        assert_eq!(p.registrable_domain(".com"), None);
        assert_eq!(p.registrable_domain("x.a..com"), None);
        assert_eq!(p.registrable_domain("192.168.1.1"), None);
        assert_eq!(p.registrable_domain("::1"), None);
        assert_eq!(p.registrable_domain("[2001:db8::1]"), None);
        assert_eq!(p.registrable_domain("1.1.168.192.in-addr.arpa"), None);
        assert_eq!(
            p.public_suffix("1.1.168.192.in-addr.arpa"),
            Some("in-addr.arpa")
        );
        assert_eq!(p.registrable_domain("router.home.arpa"), None);
        // numeric label under a real TLD is still a domain
        assert_eq!(p.registrable_domain("1.2.3.4.com"), Some("4.com"));
        // escapes are opaque bytes
        assert_eq!(
            p.registrable_domain("a\\032b.example.com"),
            Some("example.com")
        );
        assert_eq!(
            p.registrable_domain("x.ex\\000ample.com"),
            Some("ex\\000ample.com")
        );
        assert_eq!(p.registrable_domain("x.example.c\\000m"), None);
        // punycode
        assert_eq!(
            p.registrable_domain("www.xn--bcher-kva.example"),
            None,
            ".example is not a delegated TLD"
        );
        assert_eq!(
            p.registrable_domain("www.xn--bcher-kva.com"),
            Some("xn--bcher-kva.com")
        );
        // xn--p1ai is .рф (IDN TLD listed in Unicode; crate adds the ASCII form)
        assert_eq!(
            p.registrable_domain("www.xn--80ak6aa92e.xn--p1ai"),
            Some("xn--80ak6aa92e.xn--p1ai")
        );
        // non-ASCII never panics
        assert_eq!(p.registrable_domain("ü.é"), None);
    }

    #[test]
    fn from_text_and_errors() {
        let t = "// ===BEGIN ICANN DOMAINS===\ncom\nco.uk\n// ===END ICANN DOMAINS===\n\
                 // ===BEGIN PRIVATE DOMAINS===\nblogspot.com\n// ===END PRIVATE DOMAINS===\n";
        let p = Psl::from_text(t, false).unwrap();
        assert_eq!(
            p.registrable_domain("a.b.blogspot.com"),
            Some("blogspot.com")
        );
        let p = Psl::from_text(t, true).unwrap();
        assert_eq!(
            p.registrable_domain("a.b.blogspot.com"),
            Some("b.blogspot.com")
        );
        assert!(matches!(
            Psl::from_text("com\n", false),
            Err(EnrichError::PslNoIcannSection)
        ));
        assert!(matches!(
            Psl::from_text("// ===BEGIN ICANN DOMAINS===\n!com\n", false),
            Err(EnrichError::Psl(_))
        ));
    }
}
