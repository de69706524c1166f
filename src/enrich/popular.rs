//! Popularity prior: does a top-ranked registrable domain vouch for a name?
//!
//! Random-looking labels are the mark of DGAs and tunnels, but popular
//! services use them too: video CDNs (`r4---sn-5hne6nzy.googlevideo.com`),
//! anti-virus cloud lookups (hash labels under `sophosxl.net`), real-user
//! monitoring and ad-tech hosts. An attacker can put any label under a domain
//! they own, but cannot own a domain from the top of a popularity ranking, so
//! a name whose registrable domain is there is *vouched for*: lure words and
//! brands in it are not lures ([`super::lexical`]), and its subdomain fan-out
//! and encoded-looking names do not make the window's fan-out or encoded-name
//! counts ([`crate::aggregate`]). Its lexical risk itself is kept: measured on
//! the simulations, discounting it made the benign training windows so clean
//! that the few remaining odd names became outliers (more false alerts, not
//! fewer). This is the "top sites" prior Zeek scripts and
//! RITA apply with Alexa/Tranco lists.
//!
//! The list is `data/popular_domains.txt` ([`super::brand::POPULAR_DOMAINS`]:
//! the first 10,000 of a top-50k ranking plus every listed domain carrying a
//! phished brand). Two guards keep the prior honest:
//!
//! * **Shared platforms do not vouch.** A domain under which anyone can
//!   register a name — every domain at or above a rule of the Public Suffix
//!   List's *private* section (`duckdns.org`, `github.io`, `web.app`,
//!   `amazonaws.com`, `herokuapp.com`, ...) — vouches for nothing, because a
//!   tunnel can live at `t.attacker.duckdns.org`. (With `psl.include_private`
//!   the registrable domain is already `attacker.duckdns.org`, which is not
//!   listed.)
//! * **Failures are not discounted.** NXDOMAIN counts and rates are untouched:
//!   water torture against a popular victim (`x8k2.victim.com`) is still a
//!   storm.

use super::brand::POPULAR_DOMAINS;
use super::psl::{first_word, lines_at, Marks, Psl, EMBEDDED_PSL};
use rustc_hash::FxHashMap;
#[cfg(test)]
use rustc_hash::FxHashSet;
use std::sync::OnceLock;

/// The popular registrable domains ([`POPULAR_DOMAINS`]), each marked with
/// whether it is a shared registration platform (see the module docs), so
/// one hash lookup tells both.
#[derive(Debug)]
pub(crate) struct Popular {
    /// Domain -> shared platform.
    map: FxHashMap<&'static str, bool>,
}

/// What the popular list says about a registrable domain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Standing {
    /// On the popular list.
    pub popular: bool,
    /// Popular and not a shared platform: it vouches for its names ([`vouches`]).
    pub vouches: bool,
}

impl Popular {
    /// The non-empty, non-comment lines of `list` (trimmed), marked shared
    /// when at or above a rule of `psl_text`'s private section.
    fn build(list: &'static str, psl_text: &str) -> Self {
        // Room for lines of 12 bytes or more.
        let mut map = FxHashMap::with_capacity_and_hasher(list.len() / 12, Default::default());
        for (_, line) in lines_at(list) {
            // `str::trim`, which also drops the `\r` of a CRLF line; ASCII
            // lines need no decoding.
            let d = if line.is_ascii() {
                line.trim_ascii()
            } else {
                line.trim()
            };
            if !d.is_empty() && !d.starts_with('#') {
                map.insert(d, false);
            }
        }
        for_each_private_rule_domain(psl_text, |d| {
            if let Some(shared) = map.get_mut(d) {
                *shared = true;
            }
        });
        Popular { map }
    }

    /// Whether `domain` is on the popular list.
    #[inline]
    pub(crate) fn contains(&self, domain: &str) -> bool {
        self.map.contains_key(domain)
    }

    /// Whether `domain` is popular and whether it vouches.
    #[inline]
    pub(crate) fn standing(&self, domain: &str) -> Standing {
        match self.map.get(domain) {
            Some(&shared) => Standing {
                popular: true,
                vouches: !shared,
            },
            None => Standing::default(),
        }
    }
}

/// The popular list, parsed once.
pub(crate) fn popular() -> &'static Popular {
    static SET: OnceLock<Popular> = OnceLock::new();
    SET.get_or_init(|| Popular::build(POPULAR_DOMAINS, EMBEDDED_PSL))
}

/// Call `f` with every rule of `psl_text`'s private section (the lines after
/// the `===BEGIN PRIVATE DOMAINS===` line, up to the line with
/// `===END PRIVATE DOMAINS===`; `!` and `*.` prefixes dropped) and with each
/// parent domain of it.
fn for_each_private_rule_domain<'t>(psl_text: &'t str, mut f: impl FnMut(&'t str)) {
    const BEGIN: &str = "===BEGIN PRIVATE DOMAINS===";
    const END: &str = "===END PRIVATE DOMAINS===";
    let Some(begin) = psl_text.find(BEGIN) else {
        return;
    };
    // An END line before the BEGIN line ends the section before it starts.
    let begin_line = psl_text[..begin].rfind('\n').map_or(0, |i| i + 1);
    if psl_text[..begin_line].contains(END) {
        return;
    }
    // The rules: the lines after the BEGIN line that hold no BEGIN marker,
    // up to the first that holds an END marker. A marker never starts or
    // ends with white space, so it is in a trimmed line iff it is in the line.
    let after = psl_text[begin..]
        .find('\n')
        .map_or(psl_text.len(), |i| begin + i + 1);
    let rest = &psl_text[after..];
    let mut begins = Marks::new(rest, BEGIN);
    let mut ends = Marks::new(rest, END);
    for (start, raw) in lines_at(rest) {
        let end = start + raw.len();
        if begins.in_line(start, end) {
            continue;
        }
        if ends.in_line(start, end) {
            break;
        }
        let line = raw.trim();
        if line.is_empty() || line.starts_with("//") {
            continue;
        }
        // `trim_start_matches('!')`, then `trim_start_matches("*.")`.
        let mut rule = first_word(line).unwrap_or("").trim_start_matches('!');
        while let Some(r) = rule.strip_prefix("*.") {
            rule = r;
        }
        // The rule itself and each parent domain of it.
        let mut s = rule;
        loop {
            f(s);
            match s.bytes().position(|b| b == b'.') {
                Some(i) => s = &s[i + 1..],
                None => break,
            }
        }
    }
}

/// The members of `popular` at or above a rule of `psl_text`'s private section.
#[cfg(test)]
fn shared_from(
    psl_text: &'static str,
    popular: &FxHashSet<&'static str>,
) -> FxHashSet<&'static str> {
    let mut out = FxHashSet::default();
    for_each_private_rule_domain(psl_text, |s| {
        if let Some(&p) = popular.get(s) {
            out.insert(p);
        }
    });
    out
}

/// Labels a search-list suffix may add (`.corp.example.internal`).
const SEARCH_SUFFIX_MAX_LABELS: usize = 3;

/// A search-list miss of a vouched name: `q` has no public registrable domain
/// (its top-level label is unlisted or private-use, so it cannot be a public
/// phishing site) and is a vouched name with up to three labels appended
/// (`browser-intake-datadoghq.com.acme.internal`, the stub resolver trying
/// its search list). Returns the embedded name and its registrable domain.
/// Callers check first that `q` has no registrable domain.
pub fn search_list_miss<'a>(q: &'a str, psl: &Psl) -> Option<(&'a str, &'a str)> {
    let mut end = q.len();
    for _ in 0..SEARCH_SUFFIX_MAX_LABELS {
        end = q[..end].rfind('.')?;
        let prefix = &q[..end];
        if let Some(r) = psl.registrable_domain(prefix) {
            return vouches(r).then_some((prefix, r));
        }
    }
    None
}

/// Whether the registrable domain `reg` (lower-case, no trailing dot) vouches
/// for the names under it: popular and not a shared platform.
pub fn vouches(reg: &str) -> bool {
    popular().standing(reg).vouches
}

/// Whether the registrable domain `reg` is popular and whether it vouches
/// ([`vouches`]), in one lookup.
#[inline]
pub(crate) fn standing(reg: &str) -> Standing {
    popular().standing(reg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn popular_services_vouch() {
        for d in [
            "googlevideo.com",
            "sophosxl.net",
            "google.com",
            "microsoft.com",
        ] {
            assert!(vouches(d), "{d}");
        }
    }

    #[test]
    fn unknown_and_partial_names_do_not() {
        for d in [
            "fastvaz.cc",
            "telemetry-net.org",
            "com",
            "",
            "video.com.evil",
        ] {
            assert!(!vouches(d), "{d}");
        }
    }

    #[test]
    fn shared_registration_platforms_do_not_vouch() {
        // Popular, but anyone can register under them (PSL private section).
        for d in ["github.io", "amazonaws.com", "blogspot.com"] {
            assert!(popular().contains(d), "{d} should be on the popular list");
            assert!(!vouches(d), "{d}");
        }
    }

    #[test]
    fn search_list_misses_of_vouched_names_are_found() {
        let psl = Psl::embedded(false);
        let f = |q: &'static str| search_list_miss(q, &psl);
        assert_eq!(
            f("browser-intake-datadoghq.com.acme.internal"),
            Some((
                "browser-intake-datadoghq.com",
                "browser-intake-datadoghq.com"
            ))
        );
        assert_eq!(
            f("www.google.com.corp.acme.lan"),
            Some(("www.google.com", "google.com"))
        );
        // Not vouched, too many labels appended, nothing embedded.
        assert_eq!(f("x8k2qzt.com.acme.internal"), None);
        assert_eq!(f("www.google.com.a.b.c.internal"), None);
        assert_eq!(f("printer.acme.internal"), None);
        assert_eq!(f("localhost"), None);
    }

    /// The shared platforms as they were found before [`Popular`]: every
    /// line of the whole text searched for both markers.
    fn reference_shared(
        psl_text: &'static str,
        popular: &FxHashSet<&'static str>,
    ) -> FxHashSet<&'static str> {
        let mut out = FxHashSet::default();
        let mut private = false;
        for line in psl_text.lines() {
            let line = line.trim();
            if line.contains("===BEGIN PRIVATE DOMAINS===") {
                private = true;
                continue;
            }
            if line.contains("===END PRIVATE DOMAINS===") {
                break;
            }
            if !private || line.is_empty() || line.starts_with("//") {
                continue;
            }
            let rule = line
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_start_matches('!')
                .trim_start_matches("*.");
            let mut s = rule;
            loop {
                if let Some(&p) = popular.get(s) {
                    out.insert(p);
                }
                match s.find('.') {
                    Some(i) => s = &s[i + 1..],
                    None => break,
                }
            }
        }
        out
    }

    #[test]
    fn popular_map_is_the_popular_list_with_its_shared_platforms() {
        let set: FxHashSet<&'static str> = POPULAR_DOMAINS
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let shared = reference_shared(EMBEDDED_PSL, &set);
        assert!(shared.len() > 10 && set.len() > 10_000);
        assert_eq!(shared_from(EMBEDDED_PSL, &set), shared);
        let p = popular();
        assert_eq!(p.map.len(), set.len());
        for d in &set {
            let want = !shared.contains(d);
            assert_eq!(
                p.standing(d),
                Standing {
                    popular: true,
                    vouches: want
                },
                "{d}"
            );
        }
        assert_eq!(p.standing("not-on-the-list.example"), Standing::default());
        // Marker lines in odd places: the same domains as the line-by-line scan.
        let pop: FxHashSet<&'static str> =
            ["a.com", "b.net", "c.org", "d.io"].into_iter().collect();
        for text in [
            "// ===END PRIVATE DOMAINS===\n// ===BEGIN PRIVATE DOMAINS===\na.com\n",
            "// ===BEGIN PRIVATE DOMAINS===\n x.a.com extra\n// ===BEGIN PRIVATE DOMAINS===\nb.net\n\
             // ===END PRIVATE DOMAINS=== ===BEGIN PRIVATE DOMAINS===\n!c.org\n\
             // ===END PRIVATE DOMAINS===\n*.d.io\n",
            "// ===BEGIN PRIVATE DOMAINS=== ===END PRIVATE DOMAINS===\r\n*.*.d.io\r\nc.org",
            "a.com\n// ===BEGIN PRIVATE DOMAINS===",
            "b.net\n",
        ] {
            assert_eq!(shared_from(text, &pop), reference_shared(text, &pop), "{text:?}");
        }
    }

    #[test]
    fn shared_platforms_are_read_from_the_private_section_only() {
        let popular: FxHashSet<&'static str> = ["example.com", "cloud.net", "plain.org"]
            .into_iter()
            .collect();
        let psl = "// ===BEGIN ICANN DOMAINS===\ncom\nplain.org\n// ===END ICANN DOMAINS===\n\
                   // ===BEGIN PRIVATE DOMAINS===\n// comment\n*.apps.cloud.net\n\
                   !www.example.com\n// ===END PRIVATE DOMAINS===\nplain.org\n";
        let s = shared_from(psl, &popular);
        let mut got: Vec<&str> = s.into_iter().collect();
        got.sort_unstable();
        assert_eq!(got, ["cloud.net", "example.com"]);
    }
}
