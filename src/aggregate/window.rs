//! What a closed window is: [`HostWindow`] and the parts it carries
//! ([`DomainCount`], [`Lookalike`], [`Beacon`], [`QtypeCounts`], [`Truth`]).
//! The features, the detectors, the store and the outputs read these.

use crate::event::{qtype, TsMicros};
use serde::Serialize;
use std::net::IpAddr;

/// A domain and how it appeared in a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainCount {
    /// The name.
    pub name: String,
    /// Lookups of it.
    pub count: u32,
    /// Of which NXDOMAIN.
    pub nxdomain: u32,
    /// Its lexical risk, rounded to 4 decimals (stable through JSON and SQLite).
    pub risk: f64,
}

/// A resolved name imitating a brand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lookalike {
    /// The name looked up.
    pub name: String,
    /// The brand it imitates.
    pub brand: &'static str,
}

/// The most regular repeated lookup of a window (beacon candidate).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Beacon {
    /// Registrable domain.
    pub domain: String,
    /// Lookups of it.
    pub queries: u32,
    /// Mean seconds between lookups.
    pub mean_interval_s: f64,
    /// Coefficient of variation of the intervals (0 = perfectly periodic).
    pub cv: f64,
}

/// A domain a host contacted at a regular interval in one window (see
/// [`HostWindow::regular_domains`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegularContact {
    /// Registrable (grouping) domain.
    pub domain: String,
    /// Lookups of it in the window.
    pub lookups: u32,
    /// Mean interval between contacts, seconds.
    pub mean_interval_s: f64,
    /// Coefficient of variation of the intervals.
    pub cv: f64,
    /// Site prevalence: clients seen resolving it.
    pub hosts: u16,
}

/// The contact times of one rarely resolved domain in one window (see
/// [`HostWindow::contacts`]): what the slow beacon signal strings together
/// across windows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contacts {
    /// Registrable (grouping) domain.
    pub domain: String,
    /// Site prevalence: clients seen resolving it.
    pub hosts: u16,
    /// Contact times in the window, sorted, one per burst
    /// ([`super::BEACON_MIN_GAP`]).
    pub times: Vec<crate::event::TsMicros>,
}

/// Lookups per query type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QtypeCounts {
    /// A.
    pub a: u32,
    /// AAAA.
    pub aaaa: u32,
    /// TXT.
    pub txt: u32,
    /// NULL.
    pub null: u32,
    /// ANY.
    pub any: u32,
    /// PTR.
    pub ptr: u32,
    /// MX, SRV, CNAME, NS, SOA, HTTPS, SVCB (ordinary but not address).
    pub common_other: u32,
    /// Every other type.
    pub rare: u32,
}

impl QtypeCounts {
    pub(super) fn add(&mut self, t: u16) {
        match t {
            qtype::A => self.a += 1,
            qtype::AAAA => self.aaaa += 1,
            qtype::TXT => self.txt += 1,
            qtype::NULL => self.null += 1,
            qtype::ANY => self.any += 1,
            qtype::PTR => self.ptr += 1,
            qtype::MX
            | qtype::SRV
            | qtype::CNAME
            | qtype::NS
            | qtype::SOA
            | qtype::HTTPS
            | qtype::SVCB => self.common_other += 1,
            _ => self.rare += 1,
        }
    }
}

/// Ground truth carried by labelled input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Truth {
    /// Lookups that carried any label.
    pub labelled_lookups: u32,
    /// Lookups labelled as anything other than `benign`/`normal`.
    pub malicious_lookups: u32,
    /// `malicious` if any lookup was, `benign` if all labelled ones were, else none.
    pub label: Option<String>,
    /// Scenario of the first malicious lookup.
    pub scenario: Option<String>,
    /// Time of the earliest malicious lookup.
    pub first_malicious_ts: Option<TsMicros>,
}

/// Most TXT answers kept per window ([`HostWindow::txt_examples`]).
pub const TXT_EXAMPLES: usize = 3;
/// Longest TXT answer kept, in bytes (cut at a character boundary).
pub const TXT_EXAMPLE_BYTES: usize = 200;

/// Everything observed for one host in one window. Features are derived from
/// it by [`crate::features`]; a verdict attaches to it downstream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostWindow {
    /// Client host.
    pub host: IpAddr,
    /// Window start (inclusive), packet time.
    pub start: TsMicros,
    /// Window end (exclusive).
    pub end: TsMicros,
    /// First lookup in the window.
    pub first_ts: TsMicros,
    /// Last lookup in the window.
    pub last_ts: TsMicros,
    /// Unicast lookups.
    pub lookups: u32,
    /// Paired query + response.
    pub answered: u32,
    /// Lookups without a response (timed out, or a JSONL event with no rcode).
    pub unanswered: u32,
    /// Response without query.
    pub unsolicited: u32,
    /// From JSONL events.
    pub events: u32,
    /// mDNS / LLMNR queries (not in the other counts).
    pub multicast: u32,
    /// Infrastructure lookups: reverse (`.arpa`) and DNS-blocklist names (not
    /// in the other counts).
    pub infra_lookups: u32,
    /// Lookups with a response code.
    pub with_rcode: u32,
    /// NXDOMAIN responses.
    pub nxdomain: u32,
    /// SERVFAIL responses.
    pub servfail: u32,
    /// REFUSED responses.
    pub refused: u32,
    /// Other non-zero response codes.
    pub other_error: u32,
    /// Distinct names.
    pub unique_domains: u32,
    /// Distinct names at or above the high-risk threshold.
    pub high_risk_domains: u32,
    /// Distinct high-risk names shaped like lures (keyword, brand, punycode).
    pub risky_lure_domains: u32,
    /// Of those, names whose registrable domain the sensor had never seen.
    pub new_risky_lure_domains: u32,
    /// Distinct names imitating a well-known brand (see
    /// [`crate::enrich::brand`]) that resolved (NOERROR).
    pub impersonation_domains: u32,
    /// Distinct names under registrable domains never seen by the sensor
    /// before, neither popular nor allow-listed, that this host resolved within
    /// [`FOLLOW_UP`](super::FOLLOW_UP) after it resolved a brand lookalike (possibly in an earlier
    /// window; reloads of such a domain count in later windows too): where a
    /// phishing kit posts credentials or redirects.
    pub follow_up_domains: u32,
    /// Lookups of names on a configured threat-intel list (`[intel]`),
    /// counted before the multicast and infrastructure splits.
    pub intel_lookups: u32,
    /// Distinct names looked up that are on a threat-intel list, each as its
    /// registrable domain (the name itself when it has none), first seen
    /// first, at most `top_domains`.
    pub intel_domains: Vec<String>,
    /// Distinct registrable domains.
    pub unique_registrable: u32,
    /// Registrable domains never seen by the sensor before.
    pub new_domains: u32,
    /// Registrable domains never seen from this host before.
    pub new_host_domains: u32,
    /// Most distinct names under one registrable domain, among domains that are
    /// neither allow-listed nor popular ([`crate::enrich::popular`]).
    pub max_subdomains: u32,
    /// That registrable domain.
    pub max_subdomains_domain: String,
    /// Most distinct *encoded* names ([`is_encoded`](super::is_encoded): high risk, a subdomain
    /// label of at least [`ENCODED_MIN_LABEL`](super::ENCODED_MIN_LABEL) characters) under one registrable
    /// domain that is neither allow-listed nor popular: data carried in names.
    pub encoded_names: u32,
    /// That registrable domain (empty when `encoded_names` is 0).
    pub encoded_domain: String,
    /// Distinct grouping domains (registrable domains) with at least one
    /// high-risk name: `login.x8k2q.com` and `www.x8k2q.com` are one risky
    /// domain, ten DGA names are ten.
    pub high_risk_registrable: u32,
    /// Distinct names that got at least one NXDOMAIN (an app retrying one dead
    /// name counts once; a DGA or water torture counts every name).
    pub nxdomain_names: u32,
    /// Distinct registrable domains (with at least two labels) that got
    /// NXDOMAIN and no other answer in the window and are neither
    /// allow-listed nor popular: domains that do not exist. Many of them
    /// from one host is a DGA looking for its server; typos, search-domain
    /// leaks (one domain) and browser probes (single labels) stay few.
    pub nx_only_registrable: u32,
    /// Some of those domains (name order), at most `top_domains`.
    pub nx_only_examples: Vec<String>,
    /// Most distinct names that got NXDOMAIN under one registrable domain
    /// that is neither allow-listed nor popular (a random-subdomain flood).
    pub nx_flood_names: u32,
    /// That domain.
    pub nx_flood_domain: String,
    /// Most distinct NXDOMAIN names under one registrable domain, popular and
    /// allow-listed ones included (floods aimed at well-known domains).
    pub nx_flood_any_names: u32,
    /// That domain.
    pub nx_flood_any_domain: String,
    /// Distinct names carrying a recognisable payload
    /// ([`payload_kind`](super::payload_kind): base64 with padding, a file
    /// format's magic bytes, a tunnel tool's marker label).
    pub payload_names: u32,
    /// The payload kind of the first such name (`gzip`, `base64`, `dnscat2`, …).
    pub payload_kind: &'static str,
    /// The first such name.
    pub payload_example: String,
    /// TXT answer data of the first lookups of TXT records that are not
    /// allow-listed (at most [`TXT_EXAMPLES`] of [`TXT_EXAMPLE_BYTES`]
    /// bytes each, presentation form), for the triage evidence: what a TXT
    /// tunnel or a C2 channel sent back. Only lookups decoded from DNS
    /// messages have them (logs carry no TXT data).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub txt_examples: Vec<String>,
    /// Sum of name lengths over distinct names.
    pub qname_len_sum: u64,
    /// Longest name.
    pub max_qname_len: u32,
    /// Sum of label entropy over distinct names.
    pub entropy_sum: f64,
    /// Highest label entropy.
    pub max_entropy: f32,
    /// Sum of lexical risk over distinct names.
    pub risk_sum: f64,
    /// Highest lexical risk.
    pub max_risk: f32,
    /// Lookups per query type.
    pub qtypes: QtypeCounts,
    /// Response bytes.
    pub response_bytes: u64,
    /// Query bytes.
    pub query_bytes: u64,
    /// Sum of latencies of paired lookups.
    pub latency_sum_us: u64,
    /// Paired lookups with a latency.
    pub latency_n: u32,
    /// Most regular repeated contact, if any domain had ≥ 4 contacts (lookups
    /// less than [`BEACON_MIN_GAP`](super::BEACON_MIN_GAP) apart are one contact).
    pub beacon: Option<Beacon>,
    /// Unvouched domains contacted at a regular interval (coefficient of
    /// variation at most [`REGULAR_MAX_CV`](super::REGULAR_MAX_CV), at least
    /// 4 contacts), most regular first, at most 4: what the slow-signal
    /// detector follows across windows.
    pub regular_domains: Vec<RegularContact>,
    /// Contact times of the unvouched domains only this host resolves
    /// (prevalence ≤ 1) with at most [`super::CONTACTS_MAX_TIMES`] contacts in
    /// the window, most contacted first (ties: name), at most
    /// [`super::CONTACTS_MAX_DOMAINS`]: a beacon slower than a window holds
    /// too few contacts per window to look regular, so the slow signals
    /// ([`crate::detect::SlowSignals`]) join them across windows. Not part of
    /// the window's JSON.
    #[serde(skip)]
    pub contacts: Vec<Contacts>,
    /// Most looked-up names (count desc, name asc).
    pub top_domains: Vec<DomainCount>,
    /// Riskiest names (risk desc, name asc).
    pub risky_domains: Vec<DomainCount>,
    /// Resolved brand lookalikes (name asc), at most `top_domains`.
    pub lookalikes: Vec<Lookalike>,
    /// The follow-up names (first seen first), at most `top_domains`.
    pub follow_ups: Vec<String>,
    /// More distinct names than were kept.
    pub names_saturated: bool,
    /// Ground truth from labelled input.
    pub truth: Truth,
}

impl HostWindow {
    /// A window of `host` over `[start, end)` with nothing in it.
    pub fn empty(host: IpAddr, start: TsMicros, end: TsMicros) -> Self {
        HostWindow {
            host,
            start,
            end,
            first_ts: TsMicros::MAX,
            last_ts: TsMicros::MIN,
            lookups: 0,
            answered: 0,
            unanswered: 0,
            unsolicited: 0,
            events: 0,
            multicast: 0,
            infra_lookups: 0,
            with_rcode: 0,
            nxdomain: 0,
            servfail: 0,
            refused: 0,
            other_error: 0,
            unique_domains: 0,
            high_risk_domains: 0,
            risky_lure_domains: 0,
            new_risky_lure_domains: 0,
            impersonation_domains: 0,
            follow_up_domains: 0,
            intel_lookups: 0,
            intel_domains: Vec::new(),
            unique_registrable: 0,
            new_domains: 0,
            new_host_domains: 0,
            max_subdomains: 0,
            max_subdomains_domain: String::new(),
            encoded_names: 0,
            encoded_domain: String::new(),
            high_risk_registrable: 0,
            nxdomain_names: 0,
            nx_only_registrable: 0,
            nx_only_examples: Vec::new(),
            nx_flood_names: 0,
            nx_flood_domain: String::new(),
            nx_flood_any_names: 0,
            nx_flood_any_domain: String::new(),
            payload_names: 0,
            payload_kind: "",
            payload_example: String::new(),
            txt_examples: Vec::new(),
            qname_len_sum: 0,
            max_qname_len: 0,
            entropy_sum: 0.0,
            max_entropy: 0.0,
            risk_sum: 0.0,
            max_risk: 0.0,
            qtypes: QtypeCounts::default(),
            response_bytes: 0,
            query_bytes: 0,
            latency_sum_us: 0,
            latency_n: 0,
            beacon: None,
            regular_domains: Vec::new(),
            contacts: Vec::new(),
            top_domains: Vec::new(),
            risky_domains: Vec::new(),
            lookalikes: Vec::new(),
            follow_ups: Vec::new(),
            names_saturated: false,
            truth: Truth::default(),
        }
    }
}
