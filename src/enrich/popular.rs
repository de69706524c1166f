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

use super::brand::popular_set;
use super::psl::{Psl, EMBEDDED_PSL};
use rustc_hash::FxHashSet;
use std::sync::OnceLock;

/// Popular domains that are shared registration platforms (see module docs).
fn shared_platforms() -> &'static FxHashSet<&'static str> {
    static SET: OnceLock<FxHashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| shared_from(EMBEDDED_PSL, popular_set()))
}

/// The members of `popular` at or above a rule of `psl_text`'s private section.
fn shared_from(
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
        // The rule itself and each parent domain of it.
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
    popular_set().contains(reg) && !shared_platforms().contains(reg)
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
            assert!(
                popular_set().contains(d),
                "{d} should be on the popular list"
            );
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
