//! One (host, window) accumulator: [`Acc::record`] counts a lookup into the
//! window's counters, its distinct names ([`DomStat`]) and registrable domains
//! ([`RegStat`]), within the per-window and aggregator-wide name budgets;
//! [`Acc::finish`] turns it into a [`HostWindow`] (top and riskiest domains,
//! lookalikes, largest fan-out, most encoded domain, most regular beacon).

use super::beacon::{RegStat, BEACON_SAMPLES};
use super::pools::Pools;
use super::{
    AggregateConfig, Beacon, Contacts, DomainCount, HostWindow, Lookalike, RegularContact,
    TXT_EXAMPLES, TXT_EXAMPLE_BYTES,
};
use crate::enrich::Enrichment;
use crate::event::{qtype, rcode, Lookup, LookupOutcome, TsMicros};
use rustc_hash::FxHashMap;

/// A name in an accumulator's arena ([`Acc::names`]): offset and length.
/// One growing buffer per accumulator instead of a `String` per distinct
/// name: a cold window of 200 new names costs a few buffer growths, not 200
/// allocations (and their frees at close).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Name(u32, u32);

impl Name {
    /// Append `s` to `arena` and name it.
    #[inline]
    fn push(arena: &mut String, s: &str) -> Name {
        let off = arena.len() as u32;
        arena.push_str(s);
        Name(off, s.len() as u32)
    }

    /// The text in `arena`.
    #[inline]
    pub(super) fn get(self, arena: &str) -> &str {
        arena
            .get(self.0 as usize..(self.0 + self.1) as usize)
            .unwrap_or_default()
    }
}

/// An arena that grew past this is dropped at window close rather than kept
/// for the next window (a flood of names must not pin its memory).
const ARENA_KEEP: usize = 1 << 20;

#[derive(Debug)]
pub(super) struct DomStat {
    name: Name,
    count: u32,
    nxdomain: u32,
    risk: f32,
    /// Brand imitated, once the name resolved (counted once).
    lookalike: Option<crate::enrich::brand::Impersonation>,
}

#[derive(Debug)]
pub(super) struct Acc {
    pub(super) w: HostWindow,
    pub(super) domains: FxHashMap<u64, DomStat>,
    pub(super) regs: FxHashMap<u64, RegStat>,
    /// Text of the kept names and registrable domains ([`Name`]).
    pub(super) names: String,
    /// Names and registrable domains not kept at the cap (counted since the
    /// aggregator last collected them).
    pub(super) names_dropped: u64,
}

/// The domain a name is grouped under for fan-out and beacon features (see
/// [`crate::enrich::group_len`]; computed once per name by the enricher).
fn group_domain<'a>(qname: &'a str, e: &Enrichment) -> (&'a str, u64) {
    match qname.get(qname.len().saturating_sub(e.group_len as usize)..) {
        Some(g) if e.group_len > 0 => (g, e.group_hash),
        _ => (qname, e.qname_hash),
    }
}

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

/// Base64 of the first bytes of file formats: a label starting with one is a
/// file being carried in names.
const MAGIC: [(&str, &str); 7] = [
    ("H4sI", "gzip"),
    ("UEsDB", "zip"),
    ("TVqQ", "Windows executable"),
    ("JVBERi", "PDF"),
    ("iVBORw", "PNG"),
    ("f0VMR", "ELF"),
    ("N3q8r", "7-Zip"),
];

/// What payload `qname` visibly carries, if any: a label of at least
/// [`ENCODED_MIN_LABEL`] characters starting with a file format's base64
/// magic (`gzip`, `zip`, …) or in base64 with `+`, `/` or `=` (characters
/// no host name has; `base64`), or dnscat2's `dnscat.` marker before
/// encoded data (`dnscat2`). Hex, base32 and plain base64url chunks are
/// [`is_encoded`]'s concern (they need several names to be evidence).
pub fn payload_kind(qname: &str) -> Option<&'static str> {
    let name = qname.trim_end_matches('.');
    let mut labels = name.split('.');
    let first = labels.next().unwrap_or("");
    if first.eq_ignore_ascii_case("dnscat")
        && labels
            .clone()
            .any(|l| l.len() >= ENCODED_MIN_LABEL && l.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Some("dnscat2");
    }
    for l in name.split('.').filter(|l| l.len() >= ENCODED_MIN_LABEL) {
        // Names arrive lowercased (DNS is case-insensitive), so the magic is
        // compared without case.
        if let Some((_, kind)) = MAGIC
            .iter()
            .find(|(m, _)| l.get(..m.len()).is_some_and(|p| p.eq_ignore_ascii_case(m)))
        {
            return Some(kind);
        }
        let b64 = l.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_' | b'*')
        });
        if b64 && l.bytes().any(|b| matches!(b, b'+' | b'/' | b'=')) {
            return Some("base64");
        }
    }
    None
}

fn is_malicious_label(l: &str) -> bool {
    !(l.eq_ignore_ascii_case("benign") || l.eq_ignore_ascii_case("normal") || l == "0")
}

impl Acc {
    pub(super) fn record(
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
        if e.intel {
            // Evidence whatever the name's kind (even an infrastructure or
            // allow-listed name).
            w.intel_lookups += 1;
            let d = e.registrable(l.qname).unwrap_or(l.qname);
            if w.intel_domains.len() < cfg.top_domains && !w.intel_domains.iter().any(|x| x == d) {
                w.intel_domains.push(d.to_string());
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
        if l.qtype == qtype::TXT && !e.allowed && w.txt_examples.len() < TXT_EXAMPLES {
            if let Some(wire) = l.detail.response {
                keep_txt(wire, &mut w.txt_examples);
            }
        }
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
        let first_nx;
        let lookalike = match e.impersonation {
            Some(i) if l.rcode == Some(rcode::NOERROR) => Some(i),
            _ => None,
        };
        match self.domains.get_mut(&e.qname_hash) {
            Some(d) => {
                d.count += 1;
                first_nx = nx && d.nxdomain == 0;
                w.nxdomain_names += first_nx as u32;
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
                first_nx = nx;
                if e.max_label_len as usize >= ENCODED_MIN_LABEL && !e.allowed {
                    if let Some(kind) = payload_kind(l.qname) {
                        w.payload_names += 1;
                        if w.payload_kind.is_empty() {
                            w.payload_kind = kind;
                            w.payload_example = l.qname.to_string();
                        }
                    }
                }
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
                            name: Name::push(&mut self.names, l.qname),
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
                name: Name::push(&mut self.names, reg_name),
                subdomains: 0,
                encoded: 0,
                risky: false,
                vouched: e.allowed || e.popular,
                count: 0,
                hosts: 0,
                nx: 0,
                nx_names: 0,
                other_rcode: 0,
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
        r.nx += nx as u32;
        r.hosts = r.hosts.max(e.hosts);
        r.nx_names += first_nx as u32;
        r.other_rcode += (l.rcode.is_some() && !nx) as u32;
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
    pub(super) fn discard(&mut self, pools: &mut Pools) {
        self.domains.clear();
        for (_, r) in self.regs.drain() {
            pools.put_times(r.times);
        }
        self.clear_names();
    }

    fn clear_names(&mut self) {
        if self.names.capacity() > ARENA_KEEP {
            self.names = String::new();
        } else {
            self.names.clear();
        }
    }

    pub(super) fn finish(&mut self, top: usize, pools: &mut Pools) -> HostWindow {
        let host = self.w.host;
        let mut w = std::mem::replace(&mut self.w, HostWindow::empty(host, 0, 0));
        // Largest subdomain fan-out and most regular beacon (ties: name).
        let mut best_fan: Option<&RegStat> = None;
        let mut best_beacon: Option<(&RegStat, f64, f64)> = None;
        for r in self.regs.values_mut() {
            r.contacts();
            r.regular = r.regularity();
        }
        let names = self.names.as_str();
        let mut best_encoded: Option<&RegStat> = None;
        let mut nx_only: Vec<&str> = Vec::new();
        let mut best_flood: Option<&RegStat> = None;
        let mut best_flood_any: Option<&RegStat> = None;
        for r in self.regs.values() {
            keep_most(&mut best_flood, r, 1, |r| r.nx_names, names);
            let better = r.nx_names > 0
                && best_flood_any.is_none_or(|b| {
                    (r.nx_names, std::cmp::Reverse(r.name.get(names)))
                        > (b.nx_names, std::cmp::Reverse(b.name.get(names)))
                });
            if better {
                best_flood_any = Some(r);
            }
            if r.nx > 0 && r.other_rcode == 0 && !r.vouched && r.name.get(names).contains('.') {
                w.nx_only_registrable += 1;
                nx_only.push(r.name.get(names));
            }
            keep_most(&mut best_fan, r, 0, |r| r.subdomains, names);
            keep_most(&mut best_encoded, r, 1, |r| r.encoded, names);
            let Some((cv, mean)) = r.regular else {
                continue;
            };
            let better = match &best_beacon {
                None => true,
                Some((b, bcv, _)) => {
                    cv < *bcv - 1e-12
                        || ((cv - *bcv).abs() <= 1e-12
                            && (r.count, std::cmp::Reverse(r.name.get(names)))
                                > (b.count, std::cmp::Reverse(b.name.get(names))))
                }
            };
            if better {
                best_beacon = Some((r, cv, mean));
            }
        }
        let mut regular: Vec<RegularContact> = self
            .regs
            .values()
            .filter(|r| !r.vouched)
            .filter_map(|r| {
                let (cv, mean) = r.regular?;
                (cv <= super::REGULAR_MAX_CV).then(|| RegularContact {
                    domain: r.name.get(names).to_string(),
                    lookups: r.count,
                    mean_interval_s: mean,
                    cv,
                    hosts: r.hosts,
                })
            })
            .collect();
        regular.sort_by(|a, b| a.cv.total_cmp(&b.cv).then_with(|| a.domain.cmp(&b.domain)));
        regular.truncate(4);
        w.regular_domains = regular;
        let mut rare: Vec<&RegStat> = self
            .regs
            .values()
            .filter(|r| {
                !r.vouched
                    && r.hosts <= 1
                    && r.name.get(names).contains('.')
                    && (1..=super::CONTACTS_MAX_TIMES).contains(&r.times.len())
            })
            .collect();
        rare.sort_unstable_by(|a, b| {
            b.times
                .len()
                .cmp(&a.times.len())
                .then_with(|| a.name.get(names).cmp(b.name.get(names)))
        });
        w.contacts = rare
            .iter()
            .take(super::CONTACTS_MAX_DOMAINS)
            .map(|r| Contacts {
                domain: r.name.get(names).to_string(),
                hosts: r.hosts,
                times: r.times.to_vec(),
            })
            .collect();
        nx_only.sort_unstable();
        w.nx_only_examples = nx_only.iter().take(top).map(|s| s.to_string()).collect();
        if let Some(b) = best_fan {
            w.max_subdomains = b.subdomains;
            w.max_subdomains_domain = b.name.get(names).to_string();
        }
        if let Some(b) = best_flood_any {
            w.nx_flood_any_names = b.nx_names;
            w.nx_flood_any_domain = b.name.get(names).to_string();
        }
        if let Some(b) = best_flood {
            w.nx_flood_names = b.nx_names;
            w.nx_flood_domain = b.name.get(names).to_string();
        }
        if let Some(b) = best_encoded {
            w.encoded_names = b.encoded;
            w.encoded_domain = b.name.get(names).to_string();
        }
        w.beacon = best_beacon.map(|(r, cv, mean)| Beacon {
            domain: r.name.get(names).to_string(),
            queries: r.count,
            mean_interval_s: mean,
            cv,
        });
        let doms: Vec<&DomStat> = self.domains.values().collect();
        w.top_domains = top_k(&doms, top, names, |a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.name.get(names).cmp(b.name.get(names)))
        });
        w.risky_domains = top_k(&doms, top, names, |a, b| {
            b.risk
                .total_cmp(&a.risk)
                .then_with(|| b.count.cmp(&a.count))
                .then_with(|| a.name.get(names).cmp(b.name.get(names)))
        });
        let mut fakes: Vec<&DomStat> = doms
            .iter()
            .copied()
            .filter(|d| d.lookalike.is_some())
            .collect();
        fakes.sort_unstable_by(|a, b| a.name.get(names).cmp(b.name.get(names)));
        w.lookalikes = fakes
            .iter()
            .take(top)
            .map(|d| Lookalike {
                name: d.name.get(names).to_string(),
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
        self.domains.clear();
        for (_, r) in self.regs.drain() {
            pools.put_times(r.times);
        }
        self.clear_names();
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
    names: &str,
) {
    if r.vouched || key(r) < min {
        return;
    }
    let better = match best {
        None => true,
        Some(b) => {
            (key(r), std::cmp::Reverse(r.name.get(names)))
                > (key(b), std::cmp::Reverse(b.name.get(names)))
        }
    };
    if better {
        *best = Some(r);
    }
}

/// The first `k` of `v` in `cmp` order (a total order: names are unique
/// in a window): one pass keeping the best `k` sorted, so most names cost a
/// single comparison with the current `k`-th, usually decided by the count
/// or risk without looking at the name (a host with 50 000 distinct names
/// is not sorted). `tests::top_k_matches_selection_and_sort` keeps it equal
/// to a partial selection followed by a sort.
fn top_k(
    v: &[&DomStat],
    k: usize,
    names: &str,
    cmp: impl Fn(&DomStat, &DomStat) -> std::cmp::Ordering,
) -> Vec<DomainCount> {
    if k == 0 {
        return Vec::new();
    }
    let mut best: Vec<&DomStat> = Vec::with_capacity(k.min(v.len()) + 1);
    for &d in v {
        if best.len() == k && best.last().is_some_and(|w| cmp(d, w).is_ge()) {
            continue;
        }
        let at = best.partition_point(|b| cmp(b, d).is_lt());
        best.insert(at, d);
        best.truncate(k);
    }
    best.iter().map(|d| dc(d, names)).collect()
}

fn dc(d: &DomStat, names: &str) -> DomainCount {
    DomainCount {
        name: d.name.get(names).to_string(),
        count: d.count,
        nxdomain: d.nxdomain,
        risk: (d.risk as f64 * 1e4).round() / 1e4,
    }
}

/// Keep the TXT answers of response `wire` (up to [`TXT_EXAMPLES`] in all,
/// each cut to [`TXT_EXAMPLE_BYTES`]). Runs only for the first TXT lookups
/// of a window, so its allocations are bounded per window.
fn keep_txt(wire: &[u8], out: &mut Vec<String>) {
    let mut scratch = crate::decode::rr::RrScratch::default();
    let _ = crate::decode::rr::for_each_answer(wire, &mut scratch, |a| {
        if a.rtype == qtype::TXT && out.len() < TXT_EXAMPLES && !a.data.is_empty() {
            let mut end = a.data.len().min(TXT_EXAMPLE_BYTES);
            while !a.data.is_char_boundary(end) {
                end -= 1;
            }
            let t = &a.data[..end];
            if !out.iter().any(|x| x == t) {
                out.push(t.to_string());
            }
        }
    });
}

#[cfg(test)]
mod payload_tests {
    use super::payload_kind;

    #[test]
    fn payloads_are_recognised_by_their_shape() {
        // ndpi's dns-exf.pcap: a gzip file in one name, lowercased on the wire.
        assert_eq!(
            payload_kind(
                "h4sicn03*2qaa3rlc3qudhh0aavjycxwakjehelu5klueow0zjxulgage-.4s2fgaaaa==-.test.txt"
            ),
            Some("gzip")
        );
        assert_eq!(
            payload_kind("dnscat.546b03f50000000000a6023ed4df184d6ac5c2628b47714fdee584fed739.5a03b5b1e1aa8f8fdb1bbe8d5e04952141f7d4f82c7e3b06dcc8b87fad7a.19e4d098dc8c618f8d81cfeb02"),
            Some("dnscat2")
        );
        assert_eq!(
            payload_kind(
                "oncaaaafcaaabdwefmr01ycc+blulhwmph7l/5caaaeuy3vydmuyntuxos1zage.x.dns2tcp.hsc.fr"
            ),
            Some("base64")
        );
        for benign in [
            "www.example.com",
            "r3---sn-ab12cd34.googlevideo.com",
            "d1a2b3c4d5e6f7.cloudfront.net",
            "0123456789abcdef0123456789abcdef.avqs.mcafee.com",
            "dnscat.example.com",
            "_ldap._tcp.dc._msdcs.ad.example-corp.com",
        ] {
            assert_eq!(payload_kind(benign), None, "{benign}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `top_k` replaced: partial selection, then a sort of the first `k`.
    fn top_k_by_selection(
        v: &mut [&DomStat],
        k: usize,
        names: &str,
        cmp: impl Fn(&DomStat, &DomStat) -> std::cmp::Ordering,
    ) -> Vec<DomainCount> {
        let k = k.min(v.len());
        if k == 0 {
            return Vec::new();
        }
        if k < v.len() {
            v.select_nth_unstable_by(k - 1, |a, b| cmp(a, b));
        }
        v[..k].sort_unstable_by(|a, b| cmp(a, b));
        v[..k].iter().map(|d| dc(d, names)).collect()
    }

    #[test]
    fn top_k_matches_selection_and_sort() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(18);
        for round in 0..400 {
            let n = rng.random_range(0..120usize);
            let mut arena = String::new();
            let stats: Vec<DomStat> = (0..n)
                .map(|i| DomStat {
                    // Unique names, in no particular order.
                    name: Name::push(
                        &mut arena,
                        &format!("{}-{i}.example", rng.random_range(0..50u32)),
                    ),
                    // Few distinct values: plenty of ties to break.
                    count: rng.random_range(1..=(1 + round % 6) as u32),
                    nxdomain: rng.random_range(0..3),
                    risk: [0.0f32, 0.25, 0.5, 0.9][rng.random_range(0..4usize)],
                    lookalike: None,
                })
                .collect();
            let by_count = |a: &DomStat, b: &DomStat| {
                b.count
                    .cmp(&a.count)
                    .then_with(|| a.name.get(&arena).cmp(b.name.get(&arena)))
            };
            let by_risk = |a: &DomStat, b: &DomStat| {
                b.risk
                    .total_cmp(&a.risk)
                    .then_with(|| b.count.cmp(&a.count))
                    .then_with(|| a.name.get(&arena).cmp(b.name.get(&arena)))
            };
            for k in [0, 1, 5, 7, 200] {
                let refs: Vec<&DomStat> = stats.iter().collect();
                let mut scratch = refs.clone();
                assert_eq!(
                    top_k(&refs, k, &arena, by_count),
                    top_k_by_selection(&mut scratch, k, &arena, by_count)
                );
                let mut scratch = refs.clone();
                assert_eq!(
                    top_k(&refs, k, &arena, by_risk),
                    top_k_by_selection(&mut scratch, k, &arena, by_risk)
                );
            }
        }
    }
}
