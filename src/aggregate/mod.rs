//! Per-host tumbling windows on packet time.
//!
//! A pure core in the style of vector's aggregate transform: [`Aggregator::record`]
//! adds an enriched lookup to the window `[floor(ts / W) * W, + W)` of its client
//! host, and [`Aggregator::advance`] closes every window whose end is at or before
//! the watermark (`max packet time seen - grace`), so packets that arrive a little
//! late (within the grace period) still count. A lookup for a window that was
//! already closed is counted ([`Aggregator::late_lookups`], reported as
//! `late_lookup`), never silently merged elsewhere. There are no timers, threads or wall-clock reads: the same input
//! always yields the same windows, in the same order (sorted by start, then host).
//!
//! Memory: one accumulator per open (host, window); each keeps its distinct names
//! (bounded by `max_names_per_window`, beyond which new names are still counted
//! but not kept) and distinct registrable domains. Closed accumulators are
//! cleared and reused, so steady state allocates only for names never seen in
//! the window before.
//!
//! mDNS/LLMNR (`Multicast`) lookups are counted in `multicast` only, and
//! infrastructure lookups (reverse `.arpa` names, DNS-blocklist queries) in
//! `infra_lookups` only; every other count and feature is about the host's own
//! unicast DNS behaviour.

use crate::enrich::Enrichment;
use crate::event::{qtype, rcode, Lookup, LookupOutcome, TsMicros, MICROS};
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::net::IpAddr;

/// Window parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AggregateConfig {
    /// Window length.
    pub window: TsMicros,
    /// How far behind the newest packet a window may still receive lookups.
    pub grace: TsMicros,
    /// How many top and riskiest domains each window keeps.
    pub top_domains: usize,
    /// Distinct names kept per window (memory bound).
    pub max_names_per_window: usize,
    /// Distinct names and registrable domains kept over all open windows
    /// (memory bound: a random-subdomain flood from many hosts at once).
    /// Beyond it, new names are counted in their window, not kept.
    pub max_names_total: usize,
    /// Open (host, window) accumulators at most (memory bound against a flood
    /// of spoofed source addresses). When a new one would exceed it, the 10 %
    /// with the fewest lookups (then the oldest last lookup) are evicted: their
    /// lookups are counted ([`Aggregator::evicted_lookups`]), not scored.
    pub max_open_windows: usize,
}

/// Default of [`AggregateConfig::max_names_total`]: at most ~300 bytes per
/// kept name or registrable domain, so about 600 MB (see README, "Memory bounds").
pub const DEFAULT_MAX_NAMES_TOTAL: usize = 2_000_000;

/// Default of [`AggregateConfig::max_open_windows`]: about 200 MB of
/// accumulators at the measured ~3.7 KB each (see README, "Memory bounds").
pub const DEFAULT_MAX_OPEN_WINDOWS: usize = 50_000;

impl Default for AggregateConfig {
    fn default() -> Self {
        AggregateConfig {
            window: 300 * MICROS,
            grace: 30 * MICROS,
            top_domains: 5,
            max_names_per_window: 65_536,
            max_names_total: DEFAULT_MAX_NAMES_TOTAL,
            max_open_windows: DEFAULT_MAX_OPEN_WINDOWS,
        }
    }
}

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
    fn add(&mut self, t: u16) {
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
    /// [`FOLLOW_UP`] after it resolved a brand lookalike (possibly in an earlier
    /// window; reloads of such a domain count in later windows too): where a
    /// phishing kit posts credentials or redirects.
    pub follow_up_domains: u32,
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
    /// Most distinct *encoded* names ([`is_encoded`]: high risk, a subdomain
    /// label of at least [`ENCODED_MIN_LABEL`] characters) under one registrable
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
    /// less than [`BEACON_MIN_GAP`] apart are one contact).
    pub beacon: Option<Beacon>,
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
    fn empty(host: IpAddr, start: TsMicros, end: TsMicros) -> Self {
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
            unique_registrable: 0,
            new_domains: 0,
            new_host_domains: 0,
            max_subdomains: 0,
            max_subdomains_domain: String::new(),
            encoded_names: 0,
            encoded_domain: String::new(),
            high_risk_registrable: 0,
            nxdomain_names: 0,
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
            top_domains: Vec::new(),
            risky_domains: Vec::new(),
            lookalikes: Vec::new(),
            follow_ups: Vec::new(),
            names_saturated: false,
            truth: Truth::default(),
        }
    }
}

#[derive(Debug)]
struct DomStat {
    name: String,
    count: u32,
    nxdomain: u32,
    risk: f32,
    /// Brand imitated, once the name resolved (counted once).
    lookalike: Option<crate::enrich::brand::Impersonation>,
}

/// Lookup times kept per registrable domain for the beacon feature (memory
/// bound); a domain looked up more often is judged on its first ones.
pub const BEACON_SAMPLES: usize = 256;

/// Lookups of a domain closer together than this count as one contact for the
/// beacon feature.
pub const BEACON_MIN_GAP: TsMicros = MICROS;

#[derive(Debug)]
struct RegStat {
    name: String,
    subdomains: u32,
    /// Distinct encoded names ([`is_encoded`]).
    encoded: u32,
    /// At least one high-risk name.
    risky: bool,
    /// Allow-listed or popular ([`Enrichment::popular`]): left out of the
    /// fan-out feature.
    vouched: bool,
    count: u32,
    /// The [`BEACON_SAMPLES`] earliest lookup times, so the set kept does not
    /// depend on arrival order (responses can complete lookups out of query
    /// order); sorted at window close. Input is nearly sorted, so appending and
    /// replacing the latest kept time when full is O(1) in the common case.
    times: Vec<TsMicros>,
    /// Latest time in `times`.
    latest: TsMicros,
    /// (cv, mean interval) once computed at close.
    regular: Option<(f64, f64)>,
}

impl RegStat {
    /// Coefficient of variation and mean of the sorted inter-lookup intervals.
    fn regularity(&mut self) -> Option<(f64, f64)> {
        if self.times.len() < 4 {
            return None;
        }
        let mut times = std::mem::take(&mut self.times);
        times.sort_unstable();
        // One event per burst: lookups less than a second after the previous
        // kept one (A + AAAA pairs, retries, a page's parallel fetches) are
        // the same contact, not a beacon interval.
        let mut last = TsMicros::MIN;
        times.retain(|t| {
            let keep = t.saturating_sub(last) >= BEACON_MIN_GAP;
            if keep {
                last = *t;
            }
            keep
        });
        if times.len() < 4 {
            times.clear();
            self.times = times;
            return None;
        }
        let n = (times.len() - 1) as f64;
        let (mut sum, mut sum2) = (0.0, 0.0);
        for p in times.windows(2) {
            let dt = (p[1] - p[0]) as f64 / MICROS as f64;
            sum += dt;
            sum2 += dt * dt;
        }
        times.clear();
        self.times = times;
        let mean = sum / n;
        let var = (sum2 / n - mean * mean).max(0.0);
        (mean > 0.0).then(|| (var.sqrt() / mean, mean))
    }
}

/// Reusable per-window allocations (names, beacon heaps), shared by all
/// accumulators so window turnover does not churn the allocator. Bounded.
#[derive(Debug, Default)]
struct Pools {
    strings: Vec<String>,
    times: Vec<Vec<TsMicros>>,
}

impl Pools {
    const CAP: usize = 1 << 16;

    fn string(&mut self, s: &str) -> String {
        let mut out = self.strings.pop().unwrap_or_default();
        out.push_str(s);
        out
    }

    fn put_string(&mut self, mut s: String) {
        if self.strings.len() < Self::CAP {
            s.clear();
            self.strings.push(s);
        }
    }

    fn put_times(&mut self, mut t: Vec<TsMicros>) {
        // Only small buffers are reused: a pooled 256-sample buffer handed to
        // every new domain would cost 2 KB per domain under a flood of names.
        if self.times.len() < Self::CAP && t.capacity() <= 16 {
            t.clear();
            self.times.push(t);
        }
    }
}

#[derive(Debug)]
struct Acc {
    w: HostWindow,
    domains: FxHashMap<u64, DomStat>,
    regs: FxHashMap<u64, RegStat>,
    /// Names and registrable domains not kept at the cap (counted since the
    /// aggregator last collected them).
    names_dropped: u64,
}

/// The domain a name is grouped under for fan-out and beacon features (see
/// [`crate::enrich::group_len`]; computed once per name by the enricher).
fn group_domain<'a>(qname: &'a str, e: &Enrichment) -> (&'a str, u64) {
    match qname.get(qname.len().saturating_sub(e.group_len as usize)..) {
        Some(g) if e.group_len > 0 => (g, e.group_hash),
        _ => (qname, e.qname_hash),
    }
}

/// How long after resolving a brand lookalike a host's never-seen domains
/// count as follow-ups ([`HostWindow::follow_up_domains`]).
pub const FOLLOW_UP: TsMicros = 5 * 60 * MICROS;

/// A host's latest resolved lookalike and the follow-up domains seen since.
#[derive(Debug, Clone, Copy)]
struct LureState {
    ts: TsMicros,
    /// Registrable-domain hashes of the follow-ups (first four).
    domains: [u64; 4],
    n: u8,
}

impl Default for LureState {
    fn default() -> Self {
        LureState {
            ts: TsMicros::MIN,
            domains: [0; 4],
            n: 0,
        }
    }
}

/// Most hosts whose last lookalike is remembered at once (memory bound).
pub const LURE_HOSTS_CAP: usize = 65_536;

/// Shortest subdomain label that counts as encoded data (base32/hex/base64
/// chunks of tunnels and exfiltration are 20–63 characters; host names and
/// CDN shard labels are shorter).
pub const ENCODED_MIN_LABEL: usize = 16;

/// Whether `qname` (grouped under a domain of `group_len` bytes) carries
/// encoded data: lexically high risk, with a label of at least
/// [`ENCODED_MIN_LABEL`] characters *left of* the grouping domain, so a long
/// registrable label (`www.averyverylongbrandname.com`) does not count.
pub fn is_encoded(qname: &str, group_len: usize, e: &Enrichment) -> bool {
    if !e.high_risk || (e.max_label_len as usize) < ENCODED_MIN_LABEL {
        return false;
    }
    let sub = qname
        .trim_end_matches('.')
        .len()
        .checked_sub(group_len + 1)
        .and_then(|n| qname.get(..n));
    sub.is_some_and(|s| s.split('.').any(|l| l.len() >= ENCODED_MIN_LABEL))
}

fn is_malicious_label(l: &str) -> bool {
    !(l.eq_ignore_ascii_case("benign") || l.eq_ignore_ascii_case("normal") || l == "0")
}

impl Acc {
    fn record(
        &mut self,
        l: &Lookup<'_>,
        e: &Enrichment,
        follow_up: bool,
        cfg: &AggregateConfig,
        room: bool,
        pools: &mut Pools,
    ) {
        // `room`: the aggregator-wide budget (max_names_total) has room.
        let max_names = if room { cfg.max_names_per_window } else { 0 };
        let w = &mut self.w;
        w.first_ts = w.first_ts.min(l.ts);
        w.last_ts = w.last_ts.max(l.ts);
        if let Some(label) = l.label {
            w.truth.labelled_lookups += 1;
            if is_malicious_label(label) {
                w.truth.malicious_lookups += 1;
                w.truth.first_malicious_ts =
                    Some(w.truth.first_malicious_ts.map_or(l.ts, |t| t.min(l.ts)));
                if w.truth.scenario.is_none() {
                    w.truth.scenario = l.scenario.map(str::to_string);
                }
            }
        }
        if l.outcome == LookupOutcome::Multicast {
            w.multicast += 1;
            return;
        }
        if e.infra {
            w.infra_lookups += 1;
            return;
        }
        w.lookups += 1;
        match l.outcome {
            LookupOutcome::Answered => w.answered += 1,
            LookupOutcome::Unanswered => {}
            LookupOutcome::Unsolicited => w.unsolicited += 1,
            LookupOutcome::Event => w.events += 1,
            LookupOutcome::Multicast => {}
        }
        // No response code means no response, whether a query timed out on the
        // wire or a JSONL event says `"rcode": null`.
        if l.rcode.is_none() {
            w.unanswered += 1;
        }
        let nx = l.rcode == Some(rcode::NXDOMAIN);
        if let Some(rc) = l.rcode {
            w.with_rcode += 1;
            match rc {
                rcode::NOERROR => {}
                rcode::NXDOMAIN => w.nxdomain += 1,
                rcode::SERVFAIL => w.servfail += 1,
                rcode::REFUSED => w.refused += 1,
                _ => w.other_error += 1,
            }
        }
        w.qtypes.add(l.qtype);
        w.response_bytes += l.response_bytes as u64;
        w.query_bytes += l.query_bytes as u64;
        if let Some(lat) = l.latency_us {
            w.latency_sum_us += lat as u64;
            w.latency_n += 1;
        }
        if e.new_global {
            w.new_domains += 1;
        }
        if e.new_host {
            w.new_host_domains += 1;
        }

        // Distinct names.
        let mut new_name = false;
        let lookalike = match e.impersonation {
            Some(i) if l.rcode == Some(rcode::NOERROR) => Some(i),
            _ => None,
        };
        match self.domains.get_mut(&e.qname_hash) {
            Some(d) => {
                d.count += 1;
                w.nxdomain_names += (nx && d.nxdomain == 0) as u32;
                d.nxdomain += nx as u32;
                if d.lookalike.is_none() && lookalike.is_some() {
                    d.lookalike = lookalike;
                    w.impersonation_domains += 1;
                }
            }
            None => {
                new_name = true;
                if follow_up {
                    w.follow_up_domains += 1;
                    if w.follow_ups.len() < cfg.top_domains {
                        w.follow_ups.push(l.qname.to_string());
                    }
                }
                w.unique_domains += 1;
                w.nxdomain_names += nx as u32;
                w.high_risk_domains += e.high_risk as u32;
                w.risky_lure_domains += (e.high_risk && e.lure) as u32;
                w.new_risky_lure_domains += (e.high_risk && e.lure && e.new_global) as u32;
                w.impersonation_domains += lookalike.is_some() as u32;
                let len = l.qname.len() as u32;
                w.qname_len_sum += len as u64;
                w.max_qname_len = w.max_qname_len.max(len);
                w.entropy_sum += e.entropy as f64;
                w.max_entropy = w.max_entropy.max(e.entropy);
                w.risk_sum += e.risk as f64;
                w.max_risk = w.max_risk.max(e.risk);
                if self.domains.len() < max_names {
                    self.domains.insert(
                        e.qname_hash,
                        DomStat {
                            name: pools.string(l.qname),
                            count: 1,
                            nxdomain: nx as u32,
                            risk: e.risk,
                            lookalike,
                        },
                    );
                } else {
                    w.names_saturated = true;
                    self.names_dropped += 1;
                }
            }
        }

        // Registrable domains: distinct subdomains and lookup regularity.
        let (reg_name, reg_key) = group_domain(l.qname, e);
        if self.regs.len() >= max_names && !self.regs.contains_key(&reg_key) {
            // (also when the aggregator-wide budget is spent)
            // Beyond the cap (one host resolving random registrable domains):
            // counted, not kept.
            w.unique_registrable += 1;
            w.high_risk_registrable += e.high_risk as u32;
            w.names_saturated = true;
            self.names_dropped += 1;
            return;
        }
        let r = self.regs.entry(reg_key).or_insert_with(|| {
            w.unique_registrable += 1;
            RegStat {
                name: pools.string(reg_name),
                subdomains: 0,
                encoded: 0,
                risky: false,
                vouched: e.allowed || e.popular,
                count: 0,
                times: pools.times.pop().unwrap_or_default(),
                latest: TsMicros::MIN,
                regular: None,
            }
        });
        if new_name {
            r.subdomains += 1;
            r.encoded += is_encoded(l.qname, reg_name.len(), e) as u32;
            if e.high_risk && !r.risky {
                r.risky = true;
                w.high_risk_registrable += 1;
            }
        }
        r.vouched &= e.allowed || e.popular;
        r.count += 1;
        if r.times.len() < BEACON_SAMPLES {
            r.times.push(l.ts);
            r.latest = r.latest.max(l.ts);
        } else if l.ts < r.latest {
            // Full and earlier than the latest kept: replace the latest (rare).
            if let Some(i) = r.times.iter().position(|t| *t == r.latest) {
                r.times[i] = l.ts;
            }
            r.latest = r.times.iter().copied().max().unwrap_or(l.ts);
        }
    }

    /// Drop what this accumulator holds (eviction), returning its buffers to
    /// the pools.
    fn discard(&mut self, pools: &mut Pools) {
        for (_, d) in self.domains.drain() {
            pools.put_string(d.name);
        }
        for (_, r) in self.regs.drain() {
            pools.put_string(r.name);
            pools.put_times(r.times);
        }
    }

    fn finish(&mut self, top: usize, pools: &mut Pools) -> HostWindow {
        let host = self.w.host;
        let mut w = std::mem::replace(&mut self.w, HostWindow::empty(host, 0, 0));
        // Largest subdomain fan-out and most regular beacon (ties: name).
        let mut best_fan: Option<&RegStat> = None;
        let mut best_beacon: Option<(&RegStat, f64, f64)> = None;
        for r in self.regs.values_mut() {
            r.regular = r.regularity();
        }
        let mut best_encoded: Option<&RegStat> = None;
        for r in self.regs.values() {
            keep_most(&mut best_fan, r, 0, |r| r.subdomains);
            keep_most(&mut best_encoded, r, 1, |r| r.encoded);
            let Some((cv, mean)) = r.regular else {
                continue;
            };
            let better = match &best_beacon {
                None => true,
                Some((b, bcv, _)) => {
                    cv < *bcv - 1e-12
                        || ((cv - *bcv).abs() <= 1e-12
                            && (r.count, std::cmp::Reverse(&r.name))
                                > (b.count, std::cmp::Reverse(&b.name)))
                }
            };
            if better {
                best_beacon = Some((r, cv, mean));
            }
        }
        if let Some(b) = best_fan {
            w.max_subdomains = b.subdomains;
            w.max_subdomains_domain = b.name.clone();
        }
        if let Some(b) = best_encoded {
            w.encoded_names = b.encoded;
            w.encoded_domain = b.name.clone();
        }
        w.beacon = best_beacon.map(|(r, cv, mean)| Beacon {
            domain: r.name.clone(),
            queries: r.count,
            mean_interval_s: mean,
            cv,
        });
        let mut doms: Vec<&DomStat> = self.domains.values().collect();
        w.top_domains = top_k(&mut doms, top, |a, b| {
            b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name))
        });
        w.risky_domains = top_k(&mut doms, top, |a, b| {
            b.risk
                .total_cmp(&a.risk)
                .then_with(|| b.count.cmp(&a.count))
                .then_with(|| a.name.cmp(&b.name))
        });
        let mut fakes: Vec<&DomStat> = doms
            .iter()
            .copied()
            .filter(|d| d.lookalike.is_some())
            .collect();
        fakes.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        w.lookalikes = fakes
            .iter()
            .take(top)
            .map(|d| Lookalike {
                name: d.name.clone(),
                brand: d.lookalike.map_or("", |i| i.brand_name()),
            })
            .collect();
        w.truth.label = if w.truth.malicious_lookups > 0 {
            Some("malicious".into())
        } else if w.truth.labelled_lookups > 0 {
            Some("benign".into())
        } else {
            None
        };
        for (_, d) in self.domains.drain() {
            pools.put_string(d.name);
        }
        for (_, r) in self.regs.drain() {
            pools.put_string(r.name);
            pools.put_times(r.times);
        }
        w
    }
}

/// Keep in `best` the unvouched group with the largest `key` of at least
/// `min` (ties: the smaller name).
fn keep_most<'a>(
    best: &mut Option<&'a RegStat>,
    r: &'a RegStat,
    min: u32,
    key: fn(&RegStat) -> u32,
) {
    if r.vouched || key(r) < min {
        return;
    }
    let better = match best {
        None => true,
        Some(b) => (key(r), std::cmp::Reverse(&r.name)) > (key(b), std::cmp::Reverse(&b.name)),
    };
    if better {
        *best = Some(r);
    }
}

/// The first `k` of `v` in `cmp` order: partial selection, then a sort of
/// only those `k` (a host with 50 000 distinct names is not sorted twice).
fn top_k(
    v: &mut [&DomStat],
    k: usize,
    cmp: impl Fn(&&DomStat, &&DomStat) -> std::cmp::Ordering,
) -> Vec<DomainCount> {
    let k = k.min(v.len());
    if k == 0 {
        return Vec::new();
    }
    if k < v.len() {
        v.select_nth_unstable_by(k - 1, &cmp);
    }
    v[..k].sort_unstable_by(&cmp);
    v[..k].iter().map(|d| dc(d)).collect()
}

fn dc(d: &DomStat) -> DomainCount {
    DomainCount {
        name: d.name.clone(),
        count: d.count,
        nxdomain: d.nxdomain,
        risk: (d.risk as f64 * 1e4).round() / 1e4,
    }
}

/// Closed or evicted accumulators kept for reuse at most.
const POOL_CAP: usize = 4096;

/// The windowing state.
#[derive(Debug)]
pub struct Aggregator {
    cfg: AggregateConfig,
    open: FxHashMap<(IpAddr, TsMicros), Acc>,
    pool: Vec<Acc>,
    pools: Pools,
    /// Every window ending at or before this is closed.
    closed_until: TsMicros,
    keys: Vec<(TsMicros, IpAddr)>,
    /// Eviction candidates: (lookups, last lookup, host, window start).
    victims: Vec<(u32, TsMicros, IpAddr, TsMicros)>,
    late: u64,
    evicted_windows: u64,
    evicted_lookups: u64,
    names_dropped: u64,
    /// Names and registrable domains held by all open accumulators.
    kept_names: usize,
    /// Latest resolved brand lookalike per host, kept for [`FOLLOW_UP`].
    lures: FxHashMap<IpAddr, LureState>,
}

impl Aggregator {
    /// New aggregator. `cfg.window` must be positive.
    pub fn new(cfg: AggregateConfig) -> Self {
        Aggregator {
            cfg: AggregateConfig {
                window: cfg.window.max(1),
                ..cfg
            },
            open: FxHashMap::default(),
            pool: Vec::new(),
            pools: Pools::default(),
            closed_until: TsMicros::MIN,
            keys: Vec::new(),
            victims: Vec::new(),
            late: 0,
            evicted_windows: 0,
            evicted_lookups: 0,
            names_dropped: 0,
            kept_names: 0,
            lures: FxHashMap::default(),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &AggregateConfig {
        &self.cfg
    }

    /// Open (host, window) accumulators.
    pub fn open_windows(&self) -> usize {
        self.open.len()
    }

    /// Lookups that arrived after their window had closed.
    pub fn late_lookups(&self) -> u64 {
        self.late
    }

    /// (host, window) accumulators evicted at [`AggregateConfig::max_open_windows`].
    pub fn evicted_windows(&self) -> u64 {
        self.evicted_windows
    }

    /// Lookups lost with evicted accumulators.
    pub fn evicted_lookups(&self) -> u64 {
        self.evicted_lookups
    }

    /// Names and registrable domains held by the open windows now.
    pub fn kept_names(&self) -> usize {
        self.kept_names
    }

    /// Names and registrable domains counted but not kept because a window
    /// held [`AggregateConfig::max_names_per_window`] already, or all open
    /// windows held [`AggregateConfig::max_names_total`].
    pub fn names_dropped(&self) -> u64 {
        self.names_dropped
    }

    /// Evict the open accumulators with the fewest lookups (ties: the oldest
    /// last lookup) down to 90 % of the cap. Amortised O(1) per new window:
    /// one pass over the table every `cap / 10` insertions. A real host's
    /// window, with its many lookups, outlives a flood of one-lookup spoofed
    /// sources.
    fn evict(&mut self) {
        let cap = self.cfg.max_open_windows.max(1);
        let target = cap - cap / 10;
        let n = (self.open.len() + 1)
            .saturating_sub(target)
            .min(self.open.len());
        if n == 0 {
            return;
        }
        if self.evicted_windows == 0 {
            tracing::warn!(
                cap,
                "open-window cap reached: evicting the quietest host windows (a flood of spoofed sources?); raise [limits] max_open_windows if this network really has this many active hosts"
            );
        }
        self.victims.clear();
        self.victims.extend(self.open.iter().map(|((h, s), a)| {
            let w = &a.w;
            (w.lookups + w.multicast + w.infra_lookups, w.last_ts, *h, *s)
        }));
        if n < self.victims.len() {
            self.victims.select_nth_unstable(n - 1);
        }
        for i in 0..n {
            let (count, _, h, s) = self.victims[i];
            if let Some(mut acc) = self.open.remove(&(h, s)) {
                self.kept_names -= acc.domains.len() + acc.regs.len();
                acc.discard(&mut self.pools);
                self.evicted_windows += 1;
                self.evicted_lookups += u64::from(count);
                if self.pool.len() < POOL_CAP {
                    self.pool.push(acc);
                }
            }
        }
    }

    /// Add one enriched lookup.
    pub fn record(&mut self, l: &Lookup<'_>, e: &Enrichment) {
        let w = self.cfg.window;
        let start = l.ts.div_euclid(w) * w;
        let end = start.saturating_add(w);
        if end <= self.closed_until {
            self.late += 1;
            return;
        }
        let follow_up = self.follow_up(l, e);
        if self.open.len() >= self.cfg.max_open_windows.max(1)
            && !self.open.contains_key(&(l.client, start))
        {
            self.evict();
        }
        let acc = match self.open.get_mut(&(l.client, start)) {
            Some(a) => a,
            None => {
                let mut a = self.pool.pop().unwrap_or_else(|| Acc {
                    w: HostWindow::empty(l.client, start, end),
                    domains: FxHashMap::default(),
                    regs: FxHashMap::default(),
                    names_dropped: 0,
                });
                a.w = HostWindow::empty(l.client, start, end);
                self.open.entry((l.client, start)).or_insert(a)
            }
        };
        let before = acc.domains.len() + acc.regs.len();
        let room = self.kept_names < self.cfg.max_names_total;
        acc.record(l, e, follow_up, &self.cfg, room, &mut self.pools);
        self.kept_names += (acc.domains.len() + acc.regs.len()).saturating_sub(before);
        self.names_dropped += std::mem::take(&mut acc.names_dropped);
    }

    /// Track resolved brand lookalikes per host; whether `l` is a follow-up
    /// (see [`HostWindow::follow_up_domains`]): a never-seen domain within
    /// [`FOLLOW_UP`] of the host's latest lookalike, or a later lookup of a
    /// domain that was one (a reload of the drop page in the next window).
    fn follow_up(&mut self, l: &Lookup<'_>, e: &Enrichment) -> bool {
        if l.rcode != Some(rcode::NOERROR) {
            return false;
        }
        if e.impersonation.is_some() {
            if self.lures.len() < LURE_HOSTS_CAP || self.lures.contains_key(&l.client) {
                let s = self.lures.entry(l.client).or_default();
                s.ts = s.ts.max(l.ts);
            }
            return false;
        }
        if e.popular || e.allowed || e.infra || e.registrable_len == 0 {
            return false;
        }
        let Some(s) = self.lures.get_mut(&l.client) else {
            return false;
        };
        if l.ts < s.ts || l.ts - s.ts > FOLLOW_UP {
            return false;
        }
        if s.domains[..s.n as usize].contains(&e.registrable_hash) {
            return true;
        }
        if e.new_global {
            if (s.n as usize) < s.domains.len() {
                s.domains[s.n as usize] = e.registrable_hash;
                s.n += 1;
            }
            return true;
        }
        false
    }

    /// Move the watermark to `max_ts - grace` and close every window that ends at
    /// or before it, appending them to `out` sorted by (start, host).
    pub fn advance(&mut self, max_ts: TsMicros, out: &mut Vec<HostWindow>) {
        let wm = max_ts.saturating_sub(self.cfg.grace);
        let boundary = wm.div_euclid(self.cfg.window) * self.cfg.window;
        if boundary > self.closed_until {
            self.close(boundary, out);
        }
    }

    /// Close every open window (end of input or shutdown).
    pub fn flush_all(&mut self, out: &mut Vec<HostWindow>) {
        self.close(TsMicros::MAX, out);
    }

    fn close(&mut self, boundary: TsMicros, out: &mut Vec<HostWindow>) {
        // Only move the late-data fence forward for real boundaries, so that a
        // final flush does not turn later input (another file) into late data.
        if boundary != TsMicros::MAX {
            self.closed_until = boundary;
            let horizon = boundary.saturating_sub(FOLLOW_UP + self.cfg.grace);
            self.lures.retain(|_, s| s.ts >= horizon);
        }
        self.keys.clear();
        self.keys.extend(
            self.open
                .iter()
                .filter(|(_, a)| a.w.end <= boundary)
                .map(|((h, s), _)| (*s, *h)),
        );
        self.keys.sort_unstable();
        for i in 0..self.keys.len() {
            let (s, h) = self.keys[i];
            if let Some(mut acc) = self.open.remove(&(h, s)) {
                self.kept_names -= acc.domains.len() + acc.regs.len();
                out.push(acc.finish(self.cfg.top_domains, &mut self.pools));
                if self.pool.len() < POOL_CAP {
                    self.pool.push(acc);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn lookup(ts_s: f64, host: &str, name: &'static str, rc: u16) -> Lookup<'static> {
        Lookup {
            rcode: Some(rc),
            query_bytes: 30,
            response_bytes: 60,
            ..Lookup::new((ts_s * MICROS as f64) as i64, host.parse().unwrap(), name)
        }
    }

    fn enr(name: &str, reg_len: usize, risk: f32) -> Enrichment {
        use std::hash::{Hash, Hasher};
        let h = |s: &str| {
            let mut x = rustc_hash::FxHasher::default();
            s.hash(&mut x);
            x.finish()
        };
        Enrichment {
            qname_hash: h(name),
            registrable_len: reg_len as u16,
            registrable_hash: h(&name[name.len() - reg_len..]),
            group_len: reg_len as u16,
            group_hash: h(&name[name.len() - reg_len..]),
            risk,
            high_risk: risk >= 0.7,
            entropy: 2.5,
            max_label_len: 8,
            labels: 2,
            digit_ratio: 0.0,
            new_global: false,
            new_host: false,
            ..Default::default()
        }
    }

    #[test]
    fn windows_close_on_watermark_with_grace_and_late_data_is_counted() {
        let mut a = Aggregator::new(AggregateConfig::default());
        let mut out = Vec::new();
        let l1 = lookup(10.0, "10.0.0.1", "a.example.com", 0);
        a.record(&l1, &enr(l1.qname, 11, 0.1));
        // 310 s: past the window end but within grace, window stays open.
        a.advance(310 * MICROS, &mut out);
        assert!(out.is_empty());
        let late = lookup(299.0, "10.0.0.1", "b.example.com", 3);
        a.record(&late, &enr(late.qname, 11, 0.1));
        a.advance(331 * MICROS, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].lookups, 2);
        assert_eq!(out[0].nxdomain, 1);
        assert_eq!(out[0].unique_registrable, 1);
        assert_eq!(out[0].max_subdomains, 2);
        assert_eq!((out[0].start, out[0].end), (0, 300 * MICROS));
        let too_late = lookup(100.0, "10.0.0.1", "c.example.com", 0);
        a.record(&too_late, &enr(too_late.qname, 11, 0.1));
        assert_eq!(a.late_lookups(), 1);
    }

    #[test]
    fn output_is_sorted_and_top_domains_deterministic() {
        let mut a = Aggregator::new(AggregateConfig::default());
        for (t, h, n) in [
            (1.0, "10.0.0.9", "z.com"),
            (2.0, "10.0.0.1", "b.com"),
            (3.0, "10.0.0.1", "a.com"),
            (4.0, "10.0.0.1", "b.com"),
            (400.0, "10.0.0.1", "c.com"),
        ] {
            let l = lookup(t, h, n, 0);
            a.record(&l, &enr(n, n.len(), 0.2));
        }
        let mut out = Vec::new();
        a.flush_all(&mut out);
        let keys: Vec<_> = out
            .iter()
            .map(|w| (w.start / MICROS, w.host.to_string()))
            .collect();
        assert_eq!(
            keys,
            [
                (0, "10.0.0.1".into()),
                (0, "10.0.0.9".into()),
                (300, "10.0.0.1".into())
            ]
        );
        let top: Vec<_> = out[0]
            .top_domains
            .iter()
            .map(|d| (d.name.as_str(), d.count))
            .collect();
        assert_eq!(top, [("b.com", 2), ("a.com", 1)]);
    }

    #[test]
    fn periodic_lookups_form_a_beacon() {
        let mut a = Aggregator::new(AggregateConfig::default());
        for i in 0..10 {
            let l = lookup(i as f64 * 30.0, "10.0.0.1", "c2.evil.net", 0);
            a.record(&l, &enr(l.qname, 8, 0.5));
            let j = lookup(
                i as f64 * 30.0 + (i * i) as f64,
                "10.0.0.1",
                "www.news.com",
                0,
            );
            a.record(&j, &enr(j.qname, 8, 0.1));
        }
        let mut out = Vec::new();
        a.flush_all(&mut out);
        let b = out[0].beacon.as_ref().unwrap();
        assert_eq!(b.domain, "evil.net");
        assert!(b.cv < 1e-9 && (b.mean_interval_s - 30.0).abs() < 1e-9);
    }

    #[test]
    fn infrastructure_lookups_are_counted_apart() {
        let mut a = Aggregator::new(AggregateConfig::default());
        let user = lookup(1.0, "10.0.0.1", "www.example.com", 0);
        a.record(&user, &enr(user.qname, 11, 0.1));
        for (i, q) in ["1.2.3.4.zen.spamhaus.org", "5.6.7.8.zen.spamhaus.org"]
            .iter()
            .enumerate()
        {
            let l = lookup(2.0 + i as f64, "10.0.0.1", q, 3);
            a.record(
                &l,
                &Enrichment {
                    infra: true,
                    ..enr(q, 16, 0.9)
                },
            );
        }
        let mut out = Vec::new();
        a.flush_all(&mut out);
        let w = &out[0];
        assert_eq!(w.infra_lookups, 2);
        assert_eq!(
            (w.lookups, w.nxdomain, w.unique_domains, w.high_risk_domains),
            (1, 0, 1, 0)
        );
    }

    #[test]
    fn fan_out_groups_by_the_enrichers_grouping_domain() {
        let mut a = Aggregator::new(AggregateConfig::default());
        for n in ["a1.pirate.sea", "b2.pirate.sea", "c3.pirate.sea"] {
            let l = lookup(1.0, "10.0.0.1", n, 0);
            let e = Enrichment {
                qname_hash: crate::enrich::fx_hash(n.as_bytes()),
                group_len: 10,
                group_hash: crate::enrich::fx_hash(b"pirate.sea"),
                ..Default::default()
            };
            a.record(&l, &e);
        }
        let mut out = Vec::new();
        a.flush_all(&mut out);
        assert_eq!(out[0].max_subdomains, 3);
        assert_eq!(out[0].max_subdomains_domain, "pirate.sea");
        assert_eq!(out[0].unique_registrable, 1);
    }

    #[test]
    fn beacon_ignores_arrival_order_and_collapses_bursts() {
        let beacon = |times: &[f64]| {
            let mut a = Aggregator::new(AggregateConfig::default());
            for t in times {
                let l = lookup(*t, "10.0.0.1", "c2.evil.net", 0);
                a.record(&l, &enr(l.qname, 8, 0.5));
            }
            let mut out = Vec::new();
            a.flush_all(&mut out);
            out[0].beacon.clone()
        };
        let sorted = beacon(&[0.0, 60.0, 120.0, 185.0, 240.0]);
        let shuffled = beacon(&[60.0, 0.0, 185.0, 120.0, 240.0]);
        assert_eq!(sorted, shuffled);
        assert!(sorted.is_some());
        // Bursts: each contact is an A + AAAA pair 5 ms apart.
        let bursts = beacon(&[0.0, 0.005, 60.0, 60.005, 120.0, 120.005, 180.0, 180.005]);
        let b = bursts.expect("four contacts");
        assert!(
            b.cv < 1e-3 && (b.mean_interval_s - 60.0).abs() < 0.01,
            "{b:?}"
        );
        // Past the sample cap, the earliest contacts are kept whatever the order.
        let many: Vec<f64> = (0..400)
            .map(|i| i as f64 * 10.0 % 300.0 + (i / 30) as f64 * 0.001)
            .collect();
        let mut rev = many.clone();
        rev.reverse();
        assert_eq!(beacon(&many), beacon(&rev));
        // A single burst is not a beacon.
        assert_eq!(beacon(&[0.0, 0.002, 0.02, 0.025]), None);
    }

    #[test]
    fn open_window_cap_evicts_the_quietest_hosts_and_counts_them() {
        let mut a = Aggregator::new(AggregateConfig {
            max_open_windows: 100,
            ..Default::default()
        });
        // two real hosts, busy from the start of the window
        for i in 0..20 {
            for h in ["192.168.1.10", "192.168.1.11"] {
                let l = lookup(1.0 + f64::from(i), h, "www.example.com", 0);
                a.record(&l, &enr("www.example.com", 11, 0.1));
            }
        }
        // 10 000 spoofed one-lookup sources in the same window
        for i in 0..10_000u32 {
            let host = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
            let l = Lookup {
                client: host.parse().unwrap(),
                ..lookup(30.0 + f64::from(i) * 0.01, "10.0.0.1", "www.example.com", 0)
            };
            a.record(&l, &enr("www.example.com", 11, 0.1));
            assert!(a.open_windows() <= 100);
        }
        assert_eq!(a.evicted_windows(), a.evicted_lookups());
        assert!(a.evicted_windows() >= 9_900, "{}", a.evicted_windows());
        let mut out = Vec::new();
        a.flush_all(&mut out);
        let kept: u64 = out.iter().map(|w| u64::from(w.lookups)).sum();
        assert_eq!(
            kept + a.evicted_lookups(),
            40 + 10_000,
            "every lookup accounted for"
        );
        for h in ["192.168.1.10", "192.168.1.11"] {
            let w = out.iter().find(|w| w.host.to_string() == h);
            assert_eq!(w.map(|w| w.lookups), Some(20), "{h} keeps its whole window");
        }
    }

    #[test]
    fn names_over_all_open_windows_are_held_to_the_total_budget() {
        let mut a = Aggregator::new(AggregateConfig {
            max_names_total: 100,
            ..Default::default()
        });
        // 50 hosts, 20 distinct registrable domains each, one window
        let names: Vec<String> = (0..20).map(|i| format!("r{i}.com")).collect();
        for h in 0..50u32 {
            for n in &names {
                let name: &'static str = Box::leak(n.clone().into_boxed_str());
                let l = Lookup {
                    client: format!("10.0.1.{h}").parse().unwrap(),
                    ..lookup(1.0 + f64::from(h), "10.0.0.1", name, 0)
                };
                a.record(&l, &enr(name, name.len(), 0.1));
                assert!(a.kept_names() <= 100 + 2, "{}", a.kept_names());
            }
        }
        assert!(a.names_dropped() > 0);
        let mut out = Vec::new();
        a.flush_all(&mut out);
        assert_eq!(a.kept_names(), 0, "closing returns the budget");
        // every window still counts all its names
        assert!(out
            .iter()
            .all(|w| w.unique_registrable == 20 && w.lookups == 20));
        assert!(out.iter().any(|w| w.names_saturated));
    }

    #[test]
    fn names_beyond_the_cap_are_counted_not_kept() {
        let mut a = Aggregator::new(AggregateConfig {
            max_names_per_window: 2,
            ..Default::default()
        });
        for n in ["a.x.com", "b.x.com", "c.x.com", "d.x.com"] {
            let l = lookup(1.0, "10.0.0.1", n, 0);
            a.record(&l, &enr(n, 5, 0.1));
        }
        let mut out = Vec::new();
        a.flush_all(&mut out);
        assert_eq!(out[0].unique_domains, 4);
        assert!(out[0].names_saturated);
        assert_eq!(out[0].top_domains.len(), 2);
        assert_eq!(a.names_dropped(), 2);
        // one host resolving random registrable domains: the per-domain map is
        // held to the same cap
        let mut a = Aggregator::new(AggregateConfig {
            max_names_per_window: 2,
            ..Default::default()
        });
        for n in ["a.com", "b.com", "c.com", "d.com", "e.com"] {
            let l = lookup(1.0, "10.0.0.1", n, 0);
            a.record(&l, &enr(n, n.len(), 0.1));
        }
        assert_eq!(a.open.values().map(|acc| acc.regs.len()).sum::<usize>(), 2);
        let mut out = Vec::new();
        a.flush_all(&mut out);
        assert_eq!(out[0].unique_registrable, 5);
        assert_eq!(a.names_dropped(), 3 + 3);
    }

    #[test]
    fn never_seen_domains_right_after_a_resolved_lookalike_are_follow_ups() {
        use crate::enrich::{EnrichConfig, Enricher};
        let mut en = Enricher::new(EnrichConfig::default());
        let mut a = Aggregator::new(AggregateConfig::default());
        let feed = |a: &mut Aggregator, en: &mut Enricher, l: Lookup<'static>| {
            let e = en.enrich(&l);
            a.record(&l, &e);
        };
        let nx = rcode::NXDOMAIN;
        let ok = rcode::NOERROR;
        // A failed lookalike arms nothing; a resolved one does.
        feed(
            &mut a,
            &mut en,
            lookup(10.0, "10.0.0.1", "paypal-verify-login.xyz", nx),
        );
        feed(
            &mut a,
            &mut en,
            lookup(20.0, "10.0.0.1", "zorbifal.site", ok),
        );
        feed(
            &mut a,
            &mut en,
            lookup(30.0, "10.0.0.1", "paypal-secure-login.top", ok),
        );
        // Never seen, resolved, within 5 minutes (next window): a follow-up.
        feed(
            &mut a,
            &mut en,
            lookup(330.0, "10.0.0.1", "negoutar.site", ok),
        );
        // Popular, failed, or another host: not follow-ups.
        feed(
            &mut a,
            &mut en,
            lookup(331.0, "10.0.0.1", "www.wikipedia.org", ok),
        );
        feed(
            &mut a,
            &mut en,
            lookup(332.0, "10.0.0.1", "drop-box-x.info", nx),
        );
        feed(
            &mut a,
            &mut en,
            lookup(333.0, "10.0.0.2", "quimbatol.site", ok),
        );
        // Too late: more than 5 minutes after the lookalike.
        feed(
            &mut a,
            &mut en,
            lookup(340.0, "10.0.0.1", "kistubrea.club", ok),
        );
        let mut out = Vec::new();
        a.flush_all(&mut out);
        let get = |host: &str, start: i64| {
            out.iter()
                .find(|w| w.host.to_string() == host && w.start == start * MICROS)
                .unwrap()
        };
        let first = get("10.0.0.1", 0);
        assert_eq!(first.impersonation_domains, 1);
        assert_eq!(
            first.follow_up_domains, 0,
            "zorbifal.site came before the lure"
        );
        let second = get("10.0.0.1", 300);
        assert_eq!(second.follow_up_domains, 1);
        assert_eq!(second.follow_ups, ["negoutar.site"]);
        assert_eq!(get("10.0.0.2", 300).follow_up_domains, 0);
    }
}
