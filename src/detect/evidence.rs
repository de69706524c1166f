//! Evidence no training can unlearn: findings in a window's own counts that
//! are damning on their own and set a floor under its label whatever any
//! model says (issue 12, item 3).
//!
//! Each finding is one [`Finding`] with its thresholds as constants, listed
//! once in [`FINDINGS`], which `judge`, `config check`'s detector listing and
//! the docs read. They need no state beyond the window: the stateful
//! detectors (slow signals over an hour, incidents) are separate units.
//!
//! | tag | finding | floor |
//! |---|---|---|
//! | `threat_intel` | a lookup of a name on a configured threat-intel list | Likely Compromise |
//! | `dga_like_names` | ≥ [`DGA_MIN_DOMAINS`] distinct unvouched registrable domains that do not exist (NXDOMAIN, nothing else) | Unusual; Likely from [`DGA_LIKELY_DOMAINS`] |
//! | `encoded_subdomains` | ≥ [`ENCODED_MIN_NAMES`] distinct encoded names under one unvouched domain | Unusual; Likely from [`ENCODED_LIKELY_NAMES`] |
//! | `payload_in_name` | a name carrying a file's base64 magic (gzip, zip, executable…) or dnscat2's marker | Likely Compromise; base64 with padding alone: Unusual |
//! | `nxdomain_flood` | ≥ [`FLOOD_MIN_NAMES`] distinct names that do not exist under one unvouched domain, or ≥ [`FLOOD_VOUCHED_MIN_NAMES`] under a popular one (random-subdomain "water torture") | Unusual; Likely from [`FLOOD_LIKELY_NAMES`] ([`FLOOD_VOUCHED_LIKELY_NAMES`]) |
//! | `tunnel_like_qtypes` | ≥ [`NULL_MIN_LOOKUPS`] NULL lookups (no ordinary client asks for NULL records) | Unusual |
//! | `brand_lookalike` | a resolved name imitating a brand from a domain the brand does not own | Unusual |
//! | `lure_follow_up` | never-seen domains resolved right after a lookalike | Unusual |
//!
//! "Unvouched" means neither allow-listed nor on the popular-domain list, so
//! DNSBL lookups (`4.3.2.1.zen.spamhaus.org`), antivirus hash lookups and CDN
//! shard names under well-known domains are not evidence; browser probes of
//! random single labels are not registrable domains and never count.

use super::Reason;
use crate::aggregate::HostWindow;
use crate::model::Label;

/// Distinct non-existent unvouched registrable domains in one window that
/// make it at least Unusual (`dga_like_names`). A dictionary DGA at one
/// lookup every 15–40 s leaves 7–20 per window; a person's typos leave one
/// or two.
pub const DGA_MIN_DOMAINS: u32 = 6;

/// From this many non-existent domains the window is Likely Compromise.
pub const DGA_LIKELY_DOMAINS: u32 = 12;

/// Distinct encoded names under one unvouched domain that make a window at
/// least Unusual (`encoded_subdomains`).
pub const ENCODED_MIN_NAMES: u32 = 4;

/// From this many encoded names under one domain the window is Likely
/// Compromise: a tunnel or exfiltration tool at work, not a stray hash.
pub const ENCODED_LIKELY_NAMES: u32 = 20;

/// Distinct NXDOMAIN names under one unvouched domain that make a window at
/// least Unusual (`nxdomain_flood`): 20 a minute for five minutes.
pub const FLOOD_MIN_NAMES: u32 = 100;

/// From this many the window is Likely Compromise.
pub const FLOOD_LIKELY_NAMES: u32 = 500;

/// Distinct NXDOMAIN names under one *popular or allow-listed* domain that
/// make a window at least Unusual: floods aim at well-known domains, but
/// DNSBL and antivirus lookups under them fail by design, so the bar is 100
/// a minute for five minutes (allow-list nothing to silence it; a mail
/// server that busy is worth an entry in a threat-model note).
pub const FLOOD_VOUCHED_MIN_NAMES: u32 = 500;

/// From this many under a popular domain the window is Likely Compromise.
pub const FLOOD_VOUCHED_LIKELY_NAMES: u32 = 1500;

/// NULL lookups that make a window at least Unusual (`tunnel_like_qtypes`).
pub const NULL_MIN_LOOKUPS: u32 = 5;

/// One finding in a window: its reason (a fact, usual 0) and the least label
/// it forces.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// The reason it adds (leading the window's reasons).
    pub reason: Reason,
    /// The least label the window gets.
    pub floor: Label,
}

/// A model-independent finding on one window.
pub trait Finding: Sync {
    /// Its reason tag.
    fn tag(&self) -> &'static str;
    /// One line for docs and `config check`.
    fn summary(&self) -> &'static str;
    /// The finding on `w`, if present.
    fn find(&self, w: &HostWindow) -> Option<Evidence>;
}

fn fact(tag: &'static str, feature: &'static str, value: u32, floor: Label) -> Option<Evidence> {
    Some(Evidence {
        reason: Reason::fact(tag, feature, value as f64),
        floor,
    })
}

fn tiered(
    tag: &'static str,
    feature: &'static str,
    value: u32,
    min: u32,
    likely: u32,
) -> Option<Evidence> {
    match value {
        v if v >= likely => fact(tag, feature, v, Label::LikelyCompromise),
        v if v >= min => fact(tag, feature, v, Label::Unusual),
        _ => None,
    }
}

/// `threat_intel`.
pub struct ThreatIntel;
impl Finding for ThreatIntel {
    fn tag(&self) -> &'static str {
        "threat_intel"
    }
    fn summary(&self) -> &'static str {
        "a lookup of a name on a configured threat-intel list ([intel], --intel): Likely Compromise"
    }
    fn find(&self, w: &HostWindow) -> Option<Evidence> {
        (w.intel_lookups > 0)
            .then(|| {
                fact(
                    self.tag(),
                    "intel_lookups",
                    w.intel_lookups,
                    Label::LikelyCompromise,
                )
            })
            .flatten()
    }
}

/// `brand_lookalike`.
pub struct BrandLookalike;
impl Finding for BrandLookalike {
    fn tag(&self) -> &'static str {
        "brand_lookalike"
    }
    fn summary(&self) -> &'static str {
        "a resolved name imitating a well-known brand from a domain it does not own: Unusual"
    }
    fn find(&self, w: &HostWindow) -> Option<Evidence> {
        (w.impersonation_domains > 0)
            .then(|| {
                fact(
                    self.tag(),
                    "impersonation_domains",
                    w.impersonation_domains,
                    Label::Unusual,
                )
            })
            .flatten()
    }
}

/// `lure_follow_up`.
pub struct LureFollowUp;
impl Finding for LureFollowUp {
    fn tag(&self) -> &'static str {
        "lure_follow_up"
    }
    fn summary(&self) -> &'static str {
        "never-seen domains resolved within minutes of a brand lookalike: Unusual"
    }
    fn find(&self, w: &HostWindow) -> Option<Evidence> {
        (w.follow_up_domains > 0)
            .then(|| {
                fact(
                    self.tag(),
                    "follow_up_domains",
                    w.follow_up_domains,
                    Label::Unusual,
                )
            })
            .flatten()
    }
}

/// `encoded_subdomains`.
pub struct EncodedNames;
impl Finding for EncodedNames {
    fn tag(&self) -> &'static str {
        "encoded_subdomains"
    }
    fn summary(&self) -> &'static str {
        "4+ distinct names carrying encoded data under one unvouched domain: Unusual; 20+: Likely Compromise"
    }
    fn find(&self, w: &HostWindow) -> Option<Evidence> {
        tiered(
            self.tag(),
            "encoded_names",
            w.encoded_names,
            ENCODED_MIN_NAMES,
            ENCODED_LIKELY_NAMES,
        )
    }
}

/// `payload_in_name`.
pub struct PayloadInName;
impl Finding for PayloadInName {
    fn tag(&self) -> &'static str {
        "payload_in_name"
    }
    fn summary(&self) -> &'static str {
        "a name carrying a file's base64 magic or dnscat2's marker: Likely Compromise; base64 with padding: Unusual"
    }
    fn find(&self, w: &HostWindow) -> Option<Evidence> {
        let floor = match w.payload_kind {
            "" => return None,
            "base64" => Label::Unusual,
            _ => Label::LikelyCompromise,
        };
        fact(self.tag(), "payload_names", w.payload_names, floor)
    }
}

/// `nxdomain_flood`.
pub struct NxdomainFlood;
impl Finding for NxdomainFlood {
    fn tag(&self) -> &'static str {
        "nxdomain_flood"
    }
    fn summary(&self) -> &'static str {
        "100+ distinct names that do not exist under one unvouched domain (500+ under a popular one): Unusual; 500+ (1,500+): Likely Compromise"
    }
    fn find(&self, w: &HostWindow) -> Option<Evidence> {
        let unvouched = tiered(
            self.tag(),
            "nx_flood_names",
            w.nx_flood_names,
            FLOOD_MIN_NAMES,
            FLOOD_LIKELY_NAMES,
        );
        let any = tiered(
            self.tag(),
            "nx_flood_names",
            w.nx_flood_any_names,
            FLOOD_VOUCHED_MIN_NAMES,
            FLOOD_VOUCHED_LIKELY_NAMES,
        );
        match (unvouched, any) {
            (Some(a), Some(b)) => Some(if b.floor > a.floor { b } else { a }),
            (a, b) => a.or(b),
        }
    }
}

/// `dga_like_names`.
pub struct NonexistentDomains;
impl Finding for NonexistentDomains {
    fn tag(&self) -> &'static str {
        "dga_like_names"
    }
    fn summary(&self) -> &'static str {
        "6+ distinct unvouched registrable domains that do not exist: Unusual; 12+: Likely Compromise"
    }
    fn find(&self, w: &HostWindow) -> Option<Evidence> {
        tiered(
            self.tag(),
            "nx_only_registrable",
            w.nx_only_registrable,
            DGA_MIN_DOMAINS,
            DGA_LIKELY_DOMAINS,
        )
    }
}

/// `tunnel_like_qtypes` (NULL records).
pub struct NullRecords;
impl Finding for NullRecords {
    fn tag(&self) -> &'static str {
        "tunnel_like_qtypes"
    }
    fn summary(&self) -> &'static str {
        "5+ NULL-record lookups (tunnels such as iodine use them; ordinary clients do not): Unusual"
    }
    fn find(&self, w: &HostWindow) -> Option<Evidence> {
        (w.qtypes.null >= NULL_MIN_LOOKUPS)
            .then(|| fact(self.tag(), "null_lookups", w.qtypes.null, Label::Unusual))
            .flatten()
    }
}

/// Every finding, in the order their reasons lead a window's reasons (most
/// specific first).
pub static FINDINGS: &[&dyn Finding] = &[
    &ThreatIntel,
    &BrandLookalike,
    &LureFollowUp,
    &PayloadInName,
    &EncodedNames,
    &NullRecords,
    &NonexistentDomains,
    &NxdomainFlood,
];

fn window_findings() -> Vec<(&'static str, &'static str)> {
    FINDINGS.iter().map(|f| (f.tag(), f.summary())).collect()
}

/// The window findings unit: [`FINDINGS`] on each window's own counts. The
/// threat-intel lists live in the enrichment stage (reloaded on SIGHUP),
/// which marks the lookups; the lookalike and lure timing in the aggregator,
/// which counts them.
pub static UNIT: super::unit::UnitInfo = super::unit::UnitInfo {
    name: "window_findings",
    file: "src/detect/evidence.rs",
    summary: "evidence in one window's own counts that sets a floor under its verdict whatever any model says",
    findings: window_findings,
    memory: "none of its own (the window's counts; threat-intel lists as configured)",
    persisted: "nothing to persist (the verdicts are in the windows table)",
};

/// The findings on `w`, in [`FINDINGS`] order.
pub fn evidence(w: &HostWindow) -> impl Iterator<Item = Evidence> + '_ {
    FINDINGS.iter().filter_map(move |f| f.find(w))
}

/// The highest floor the findings on `w` set, if any.
pub fn floor(w: &HostWindow) -> Option<Label> {
    evidence(w).map(|e| e.floor).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_follow_the_counts() {
        let mut w = HostWindow::empty("10.0.0.1".parse().unwrap(), 0, 300_000_000);
        assert!(evidence(&w).next().is_none());
        w.nx_only_registrable = DGA_MIN_DOMAINS - 1;
        assert_eq!(floor(&w), None);
        w.nx_only_registrable = DGA_MIN_DOMAINS;
        assert_eq!(floor(&w), Some(Label::Unusual));
        w.nx_only_registrable = DGA_LIKELY_DOMAINS;
        assert_eq!(floor(&w), Some(Label::LikelyCompromise));
        let mut w = HostWindow::empty("10.0.0.1".parse().unwrap(), 0, 300_000_000);
        w.nx_flood_any_names = FLOOD_VOUCHED_MIN_NAMES - 1;
        w.nx_flood_names = FLOOD_MIN_NAMES - 1;
        assert_eq!(floor(&w), None);
        w.nx_flood_any_names = FLOOD_VOUCHED_MIN_NAMES;
        assert_eq!(floor(&w), Some(Label::Unusual));
        w.nx_flood_names = FLOOD_LIKELY_NAMES;
        assert_eq!(floor(&w), Some(Label::LikelyCompromise));
        let mut w = HostWindow::empty("10.0.0.1".parse().unwrap(), 0, 300_000_000);
        w.payload_kind = "base64";
        w.payload_names = 1;
        assert_eq!(floor(&w), Some(Label::Unusual));
        w.payload_kind = "gzip";
        assert_eq!(floor(&w), Some(Label::LikelyCompromise));
    }
}
