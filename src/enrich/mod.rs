//! Per-lookup enrichment: registrable domain (Public Suffix List), lexical risk,
//! and first-seen state, for every [`Lookup`].
//!
//! [`Enricher::enrich`] is on the hot path. A bounded per-qname cache (keyed by
//! the qname's FxHash) holds the PSL and lexical results, so a repeated name costs
//! one hash of the name, one cache probe and two first-seen probes, and
//! allocates nothing. First-seen state is keyed by 64-bit hashes only; strings
//! are built just for the (rare) newly-seen records queued for persistence.
//!
//! # Names without a registrable domain
//! Reverse lookups (`*.arpa`), unlisted TLDs (`.local`, `.lan`, `.internal`,
//! alternative roots), bare labels, IP literals and the root have
//! `registrable_len == 0` and `registrable_hash == 0`. They are still lexically
//! scored (see [`lexical`]) but are **excluded from first-seen tracking**:
//! `new_global`/`new_host` are `false` and nothing is queued. Rationale: every
//! PTR name or mDNS instance name is unique, so they would flood the bounded
//! sets and the store without telling an analyst anything about new *Internet*
//! domains.
//!
//! # Hashes
//! `qname_hash` is FxHash (rustc-hash 2) of the name bytes without a trailing
//! dot; `registrable_hash` is the same hash of the registrable domain. Both are
//! deterministic across runs and processes (no random seed). The per-host key
//! hashes the client address bytes followed by `registrable_hash`.

#![forbid(unsafe_code)]

pub mod allowlist;
pub mod brand;
pub mod brands;
pub mod firstseen;
pub mod lexical;
pub mod persist;
pub mod popular;
pub mod psl;

pub use firstseen::{FirstSeenSet, Touch};
pub use lexical::{LexicalModel, LexicalScore};
pub use persist::{FirstSeenDelta, FirstSeenSnapshot, Part, PersistError};
pub use psl::Psl;

use crate::event::{Lookup, TsMicros};
use allowlist::AllowList;
use firstseen::hour_of;
use rustc_hash::{FxHashMap, FxHasher};
use serde::{Deserialize, Serialize};
use std::hash::Hasher;
use std::net::IpAddr;

/// Errors from building the enrichment models.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnrichError {
    /// The PSL text lacks the `===BEGIN ICANN DOMAINS===` marker.
    #[error("public suffix list has no `===BEGIN ICANN DOMAINS===` marker")]
    PslNoIcannSection,
    /// The PSL text has an invalid rule.
    #[error("public suffix list: {0}")]
    Psl(String),
    /// The lexical model bytes are not UTF-8.
    #[error("lexical model is not valid UTF-8")]
    ModelNotUtf8,
    /// The lexical model text is malformed.
    #[error("lexical model line {line}: {msg}")]
    Model {
        /// 1-based line (0 = whole file).
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// Reading a training list failed.
    #[error("reading {path}: {source}")]
    Io {
        /// File or directory.
        path: String,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Enrichment settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EnrichConfig {
    /// Use the private section of the PSL too (default `false`: ICANN only).
    pub include_private_suffixes: bool,
    /// A lookup is high risk when `risk >= high_risk_threshold` (default 0.7).
    pub high_risk_threshold: f32,
    /// Per-qname cache entries before the cache is cleared (default 200 000).
    pub domain_cache_cap: usize,
    /// Sensor-wide registrable domains kept in memory (default 1 000 000).
    pub first_seen_cap: usize,
    /// `(host, registrable domain)` pairs kept in memory (default 2 000 000).
    pub host_first_seen_cap: usize,
    /// Apply the embedded default allow-list (default `true`).
    pub default_allowlist: bool,
}

impl Default for EnrichConfig {
    fn default() -> Self {
        EnrichConfig {
            include_private_suffixes: false,
            high_risk_threshold: 0.7,
            domain_cache_cap: 200_000,
            first_seen_cap: 1_000_000,
            host_first_seen_cap: 2_000_000,
            default_allowlist: true,
        }
    }
}

/// What enrichment adds to one lookup. Fixed size, `Copy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Enrichment {
    /// FxHash of the qname bytes (trailing dot removed).
    pub qname_hash: u64,
    /// Length of the registrable domain, which is the last `registrable_len`
    /// bytes of the qname with any trailing dot removed (see
    /// [`Enrichment::registrable`]); 0 when there is none.
    pub registrable_len: u16,
    /// FxHash of the registrable domain (0 when there is none).
    pub registrable_hash: u64,
    /// The domain this name is grouped under for fan-out and beacon features
    /// is `&qname[qname.len() - group_len..]` (see [`group_len`]); 0 only in
    /// hand-built values, where the whole name is its own group.
    pub group_len: u16,
    /// FxHash of that grouping domain.
    pub group_hash: u64,
    /// Lexical risk in `[0, 1]` (see [`lexical`]); 0 when allow-listed.
    pub risk: f32,
    /// `risk >= high_risk_threshold`.
    pub high_risk: bool,
    /// Shannon entropy (bits/char, over bytes) of the *scored part*: the
    /// characters of the labels left of the public suffix, excluding dots,
    /// ordinary host labels in subdomain position (`www`, `mail`, `ns1`,
    /// `_dmarc`, ...) and punycode (`xn--`) labels (see [`lexical`]). For names
    /// without a registrable domain the last label is treated as the suffix
    /// (a single label is used whole); 0 for `.arpa` names and empty input.
    pub entropy: f32,
    /// Longest label of the whole qname, in bytes (saturating).
    pub max_label_len: u8,
    /// Number of labels of the whole qname (saturating; 0 for the root).
    pub labels: u8,
    /// Digits / characters of the scored part (same part as `entropy`).
    pub digit_ratio: f32,
    /// The name carries a lure keyword, a brand outside its own domain, or
    /// punycode (lookalike / phishing shape).
    pub lure: bool,
    /// The name imitates a well-known brand from a domain the brand does not
    /// own ([`brand::impersonation`]); `None` when allow-listed.
    pub impersonation: Option<brand::Impersonation>,
    /// On the allow-list: no risk, never newly seen.
    pub allowed: bool,
    /// The registrable domain is popular and not a shared platform
    /// ([`popular::vouches`]): no lures, no fan-out.
    pub popular: bool,
    /// Infrastructure lookup (reverse `.arpa`, DNS blocklist): kept out of
    /// the behavioural window features.
    pub infra: bool,
    /// On a configured threat-intel list (`[intel]`). Independent of
    /// `allowed`: an intel hit is evidence even for an allow-listed name.
    pub intel: bool,
    /// The registrable domain was never seen by this sensor (within memory).
    pub new_global: bool,
    /// The registrable domain was never seen from this client (within memory).
    pub new_host: bool,
    /// Site prevalence: how many distinct clients the sensor has seen resolve
    /// the registrable domain, this one included (within memory, restored
    /// from the database's per-host first-seen rows at start; 0 when unknown:
    /// no registrable domain, allow-listed, or the table is full). A domain
    /// only one host ever resolves looks like C2, a DGA or a tunnel; one many
    /// hosts resolve does not.
    pub hosts: u16,
}

impl Enrichment {
    /// The registrable domain as a slice of the lookup's qname.
    pub fn registrable<'a>(&self, qname: &'a str) -> Option<&'a str> {
        if self.registrable_len == 0 {
            return None;
        }
        let q = psl::trim_dot(qname);
        q.get(q.len().checked_sub(self.registrable_len as usize)?..)
    }
}

/// A first-seen fact, to persist (`host: None` = sensor-wide) or to preload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstSeenRecord {
    /// Client host, or `None` for the sensor-wide record.
    pub host: Option<IpAddr>,
    /// Registrable domain.
    pub domain: String,
    /// Time of the first lookup.
    pub first_ts: TsMicros,
    /// Time of the latest lookup the sensor recorded (equal to `first_ts` in a
    /// new record; a refresh record of an established domain carries the
    /// lookup that found its stored `last_ts` stale). Packet time.
    #[serde(default)]
    pub last_ts: TsMicros,
}

/// Counters of the enricher (for the run summary / metrics).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EnrichStats {
    /// Lookups enriched.
    pub lookups: u64,
    /// Per-qname cache hits.
    pub cache_hits: u64,
    /// Per-qname cache misses (PSL + lexical work done).
    pub cache_misses: u64,
    /// Times the cache was cleared because it was full.
    pub cache_clears: u64,
    /// Sensor-wide first-seen entries evicted.
    pub global_evicted: u64,
    /// Per-host first-seen entries evicted.
    pub host_evicted: u64,
    /// New first-seen records dropped because the queue was full.
    pub records_dropped: u64,
    /// Refresh records queued for established domains whose stored `last_ts`
    /// was older than the refresh interval.
    pub refreshes: u64,
}

#[derive(Debug, Clone, Copy)]
struct CacheEntry {
    qname_len: u32,
    registrable_len: u16,
    registrable_hash: u64,
    group_len: u16,
    group_hash: u64,
    risk: f32,
    entropy: f32,
    digit_ratio: f32,
    max_label_len: u8,
    labels: u8,
    lure: bool,
    impersonation: Option<brand::Impersonation>,
    allowed: bool,
    popular: bool,
    infra: bool,
    intel: bool,
}

/// Length of the suffix of `q` that names are grouped under for fan-out and
/// beacon features: the registrable domain when the Public Suffix List has a
/// rule for it (`registrable_len > 0`); otherwise the PSL's default `*` rule
/// (the last two labels), so tunnels under made-up TLDs (iodine's `pirate.sea`)
/// still group; reverse (`.arpa`) names and single labels stand alone (the whole
/// name), so PTR sweeps do not look like one domain's fan-out.
///
/// ```
/// use sentineldns::enrich::group_len;
/// let g = |q: &'static str| &q[q.len() - group_len(q, 0) as usize..];
/// assert_eq!(g("paaamiii.pirate.sea"), "pirate.sea");
/// assert_eq!(g("4.3.2.1.in-addr.arpa"), "4.3.2.1.in-addr.arpa");
/// assert_eq!(group_len("www.bbc.co.uk", 9), 9);
/// ```
pub fn group_len(q: &str, registrable_len: u16) -> u16 {
    let whole = u16::try_from(q.len()).unwrap_or(u16::MAX);
    if registrable_len > 0 {
        return registrable_len;
    }
    if !q.ends_with(".arpa") {
        if let Some(last) = q.rfind('.') {
            let start = q[..last].rfind('.').map_or(0, |i| i + 1);
            if start < last {
                return u16::try_from(q.len() - start).unwrap_or(whole);
            }
        }
    }
    whole
}

/// Stable 64-bit FxHash of bytes.
#[inline]
pub fn fx_hash(bytes: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(bytes);
    h.finish()
}

#[inline]
fn host_key(host: IpAddr, registrable_hash: u64) -> u64 {
    let mut h = FxHasher::default();
    match host {
        IpAddr::V4(a) => {
            h.write_u8(4);
            h.write(&a.octets());
        }
        IpAddr::V6(a) => {
            h.write_u8(6);
            h.write(&a.octets());
        }
    }
    h.write_u64(registrable_hash);
    h.finish()
}

/// The enrichment stage. One per pipeline worker; not shared.
#[derive(Debug)]
pub struct Enricher {
    allow: AllowList,
    /// Threat-intel entries (`[intel]`), same format as the allow-list.
    intel: AllowList,
    cfg: EnrichConfig,
    psl: Psl,
    lexical: LexicalModel,
    cache: FxHashMap<u64, CacheEntry>,
    global: FirstSeenSet,
    hosts: FirstSeenSet,
    /// Distinct clients per registrable domain (see [`Enrichment::hosts`]),
    /// at most `first_seen_cap` domains.
    prevalence: FxHashMap<u64, u16>,
    /// New and refreshed keys since the last drain ([`persist`] log records).
    log: Vec<u8>,
    /// Log records drained since the last snapshot.
    log_since_snapshot: u64,
    /// Keys in the last snapshot.
    snapshot_keys: u64,
    /// `[limits] first_seen_rows`: persisted records (snapshot keys and log
    /// records) at most before a snapshot is due.
    persist_rows: u64,
    /// Take a snapshot at the next drain (state restored from rows that the
    /// snapshot must replace).
    snapshot_due: bool,
    stats: EnrichStats,
}

impl Enricher {
    /// At most this many newly-seen records wait for [`Enricher::drain_new_first_seen`];
    /// more are dropped (and counted in [`EnrichStats::records_dropped`]).
    pub const RECORD_QUEUE_CAP: usize = 65_536;

    /// An enricher using the embedded PSL and lexical model (works offline).
    pub fn new(cfg: EnrichConfig) -> Self {
        let psl = Psl::embedded(cfg.include_private_suffixes);
        Self::with_models(cfg, psl, LexicalModel::embedded())
    }

    /// An enricher with explicit models (`cfg.include_private_suffixes` is
    /// ignored: `psl` decides).
    pub fn with_models(cfg: EnrichConfig, psl: Psl, lexical: LexicalModel) -> Self {
        Enricher {
            allow: if cfg.default_allowlist {
                AllowList::default_list()
            } else {
                AllowList::default()
            },
            intel: AllowList::default(),
            global: FirstSeenSet::new(cfg.first_seen_cap),
            hosts: FirstSeenSet::new(cfg.host_first_seen_cap),
            prevalence: FxHashMap::default(),
            cache: FxHashMap::default(),
            log: Vec::new(),
            log_since_snapshot: 0,
            snapshot_keys: 0,
            persist_rows: persist::DEFAULT_FIRST_SEEN_ROWS,
            snapshot_due: false,
            stats: EnrichStats::default(),
            cfg,
            psl,
            lexical,
        }
    }

    /// Add entries to the allow-list (clears the per-name cache).
    pub fn extend_allowlist(&mut self, list: AllowList) {
        self.allow.extend(list);
        self.cache.clear();
    }

    /// Replace the whole allow-list, e.g. on a configuration reload (clears
    /// the per-name cache). `default_allowlist` is not consulted: include
    /// [`AllowList::default_list`] in `list` to keep the embedded entries.
    pub fn replace_allowlist(&mut self, list: AllowList) {
        self.allow = list;
        self.cache.clear();
    }

    /// Replace the threat-intel list, e.g. at startup or on a configuration
    /// reload (clears the per-name cache).
    pub fn replace_intel(&mut self, list: AllowList) {
        self.intel = list;
        self.cache.clear();
    }

    /// The configuration.
    pub fn config(&self) -> &EnrichConfig {
        &self.cfg
    }

    /// The PSL in use.
    pub fn psl(&self) -> &Psl {
        &self.psl
    }

    /// The lexical model in use.
    pub fn lexical(&self) -> &LexicalModel {
        &self.lexical
    }

    /// Counters so far.
    pub fn stats(&self) -> EnrichStats {
        EnrichStats {
            global_evicted: self.global.evicted(),
            host_evicted: self.hosts.evicted(),
            ..self.stats
        }
    }

    /// Restore a persisted first-seen fact (call at startup, **newest
    /// `last_ts` first**, as [`crate::store::Store::load_first_seen`] delivers
    /// them: each record ranks as seen just before the previous one). The
    /// domain should be a registrable domain; it is hashed as given (trailing
    /// dot removed). Its `last_ts` decides when the enricher next queues a
    /// refresh record. Nothing is queued.
    pub fn preload_first_seen(&mut self, rec: &FirstSeenRecord) {
        let d = psl::trim_dot(&rec.domain);
        if d.is_empty() {
            return;
        }
        let h = fx_hash(d.as_bytes());
        let hour = hour_of(rec.last_ts.max(rec.first_ts));
        match rec.host {
            None => self.global.preload(h, hour),
            Some(host) => {
                self.hosts.preload(host_key(host, h), hour);
                self.count_host(h);
            }
        }
    }

    /// One more client for the domain hashed `h`; its new count (0 when the
    /// table is full and `h` is not in it).
    fn count_host(&mut self, h: u64) -> u16 {
        let cap = self.cfg.first_seen_cap.max(1);
        let len = self.prevalence.len();
        match self.prevalence.get_mut(&h) {
            Some(n) => {
                *n = n.saturating_add(1);
                *n
            }
            None if len < cap => {
                self.prevalence.insert(h, 1);
                1
            }
            None => 0,
        }
    }

    /// Distinct clients seen resolving the registrable domain hashed `h`
    /// (see [`Enrichment::hosts`]).
    pub fn prevalence(&self, h: u64) -> u16 {
        self.prevalence.get(&h).copied().unwrap_or(0)
    }

    /// Enrich one lookup. No allocation on a cache hit for already-seen
    /// domains.
    pub fn enrich(&mut self, l: &Lookup<'_>) -> Enrichment {
        self.stats.lookups += 1;
        let q = psl::trim_dot(l.qname);
        let qname_hash = fx_hash(q.as_bytes());
        let c = match self.cache.get(&qname_hash) {
            Some(c) if c.qname_len as usize == q.len() => {
                self.stats.cache_hits += 1;
                *c
            }
            _ => {
                self.stats.cache_misses += 1;
                let c = self.compute(q);
                if self.cache.len() >= self.cfg.domain_cache_cap.max(1) {
                    self.cache.clear();
                    self.stats.cache_clears += 1;
                }
                self.cache.insert(qname_hash, c);
                c
            }
        };
        let mut e = Enrichment {
            qname_hash,
            registrable_len: c.registrable_len,
            registrable_hash: c.registrable_hash,
            group_len: c.group_len,
            group_hash: c.group_hash,
            risk: c.risk,
            high_risk: c.risk >= self.cfg.high_risk_threshold,
            entropy: c.entropy,
            max_label_len: c.max_label_len,
            labels: c.labels,
            digit_ratio: c.digit_ratio,
            lure: c.lure,
            impersonation: c.impersonation,
            allowed: c.allowed,
            popular: c.popular,
            infra: c.infra,
            intel: c.intel,
            new_global: false,
            new_host: false,
            hosts: 0,
        };
        if c.registrable_len > 0 && !c.allowed {
            let hour = hour_of(l.ts);
            let g = self.global.touch(c.registrable_hash, hour);
            let h = self
                .hosts
                .touch(host_key(l.client, c.registrable_hash), hour);
            e.new_global = g == Touch::New;
            e.new_host = h == Touch::New;
            e.hosts = if e.new_host {
                self.count_host(c.registrable_hash)
            } else {
                self.prevalence(c.registrable_hash)
            };
            // New keys get a first-seen record; established keys whose stored
            // `last_ts` is a refresh interval old get a refresh record (same
            // shape: the store keeps MIN first_ts and MAX last_ts), so pruning
            // by `last_ts` keeps domains that are still looked up.
            if g != Touch::Seen {
                self.stats.refreshes += u64::from(g == Touch::Stale);
                self.queue_record(c.registrable_hash, c.registrable_hash, hour, false);
            }
            if h != Touch::Seen {
                self.stats.refreshes += u64::from(h == Touch::Stale);
                let key = host_key(l.client, c.registrable_hash);
                self.queue_record(key, c.registrable_hash, hour, true);
            }
        }
        e
    }

    #[inline]
    fn queue_record(&mut self, key: u64, registrable: u64, hour: u32, host: bool) {
        if self.log.len() >= Self::RECORD_QUEUE_CAP * persist::LOG_RECORD {
            self.stats.records_dropped += 1;
            return;
        }
        persist::push_log(&mut self.log, key, registrable, hour, host);
    }

    /// Cap the persisted first-seen records (snapshot keys and log records;
    /// `[limits] first_seen_rows`, at least 1): past it the next drain takes
    /// a snapshot of the newest 90 %.
    pub fn set_persist_rows(&mut self, rows: u64) {
        self.persist_rows = rows.max(1);
    }

    /// Move what must be persisted since the last drain into `out`: the log
    /// records, or a snapshot of the whole state when one is due (see
    /// [`persist`]). Allocates only for a snapshot.
    pub fn drain_new_first_seen(&mut self, out: &mut FirstSeenDelta) {
        let n = (self.log.len() / persist::LOG_RECORD) as u64;
        self.log_since_snapshot += n;
        let grown =
            self.log_since_snapshot >= persist::MIN_LOG_BEFORE_SNAPSHOT.max(self.snapshot_keys);
        let over = self.snapshot_keys + self.log_since_snapshot > self.persist_rows;
        if self.snapshot_due || (n > 0 && (grown || over)) {
            let (snap, dropped) = self.snapshot();
            self.snapshot_keys = snap.keys();
            self.log_since_snapshot = 0;
            self.snapshot_due = false;
            self.log.clear();
            out.append(&mut FirstSeenDelta {
                snapshot: Some(snap),
                log: Vec::new(),
                dropped,
            });
        } else {
            out.log.append(&mut self.log);
        }
    }

    /// The whole first-seen state (at most 90 % of `persist_rows` keys, the
    /// most recently seen; sensor-wide keys first) and the keys left out.
    pub fn snapshot(&self) -> (FirstSeenSnapshot, u64) {
        let limit = (self.persist_rows - self.persist_rows / 10).max(1) as usize;
        let mut keys = Vec::new();
        let mut dropped = self.global.entries_newest_first(limit, &mut keys) as u64;
        let mut snap = FirstSeenSnapshot::default();
        snap.sensor.reserve(keys.len() * persist::SNAP_RECORD);
        for (k, h) in keys.drain(..) {
            persist::push_snap(&mut snap.sensor, k, h);
        }
        let room = limit.saturating_sub(self.global.len());
        dropped += self.hosts.entries_newest_first(room, &mut keys) as u64;
        snap.host.reserve(keys.len() * persist::SNAP_RECORD);
        for (k, h) in keys {
            persist::push_snap(&mut snap.host, k, h);
        }
        snap.prevalence
            .reserve(self.prevalence.len() * persist::PREV_RECORD);
        let mut prev: Vec<(u64, u16)> = self.prevalence.iter().map(|(h, n)| (*h, *n)).collect();
        prev.sort_unstable();
        for (h, n) in prev {
            persist::push_prev(&mut snap.prevalence, h, n);
        }
        (snap, dropped)
    }

    /// Restore one stored part of the persisted state (call in the order the
    /// rows were written: a snapshot's parts, then the log rows after it).
    /// Returns the records restored. Nothing is queued.
    pub fn restore_first_seen(&mut self, part: Part, data: &[u8]) -> usize {
        let mut n = 0;
        match part {
            Part::Sensor => {
                for (k, h) in persist::snap_records(data) {
                    self.global.preload(k, h);
                    n += 1;
                }
            }
            Part::Host => {
                for (k, h) in persist::snap_records(data) {
                    self.hosts.preload(k, h);
                    n += 1;
                }
            }
            Part::Prevalence => {
                let cap = self.cfg.first_seen_cap.max(1);
                for (h, c) in persist::prev_records(data) {
                    if self.prevalence.len() < cap || self.prevalence.contains_key(&h) {
                        self.prevalence.insert(h, c);
                    }
                    n += 1;
                }
            }
            Part::Log => {
                for r in persist::log_records(data) {
                    if r.host {
                        if self.hosts.touch(r.key, r.hour) == Touch::New {
                            self.count_host(r.registrable);
                        }
                    } else {
                        self.global.touch(r.key, r.hour);
                    }
                    n += 1;
                }
            }
        }
        n
    }

    /// Take a snapshot at the next drain, so it replaces rows the state was
    /// restored from (the legacy `first_seen` table, rows of another key
    /// scheme).
    pub fn snapshot_at_next_drain(&mut self) {
        self.snapshot_due = true;
    }

    /// PSL + lexical work for one (trimmed) qname.
    fn compute(&self, q: &str) -> CacheEntry {
        let reg = self.psl.registrable_domain(q);
        // A search-list miss of a vouched name is scored as that name.
        let search_miss = match reg {
            None => popular::search_list_miss(q, &self.psl),
            Some(_) => None,
        };
        let s = match search_miss {
            Some((name, r)) => self.lexical.score_inner(name, Some(r), false),
            None => {
                let unlisted = reg.is_none() && lexical::is_unlisted_tld(q, &self.psl);
                self.lexical.score_inner(q, reg, unlisted)
            }
        };
        let allowed = self.allow.matches(q);
        let (mut labels, mut max_label) = (0usize, 0usize);
        if !q.is_empty() {
            for label in q.as_bytes().split(|b| *b == b'.') {
                labels += 1;
                max_label = max_label.max(label.len());
            }
        }
        // A registrable domain longer than u16::MAX cannot occur for DNS
        // names (<= 255 bytes); treat it as "none" defensively.
        let reg_len = reg.map_or(0, |r| u16::try_from(r.len()).unwrap_or(0));
        let group_len = group_len(q, reg_len);
        let popular = reg.is_some_and(popular::vouches) || search_miss.is_some();
        let registrable_hash = match reg {
            Some(r) if reg_len > 0 => fx_hash(r.as_bytes()),
            _ => 0,
        };
        let group = q.get(q.len() - group_len as usize..).unwrap_or(q);
        // Most names are grouped under their registrable domain: the same
        // bytes (the same slice of `q`), so the same hash.
        let group_hash = match reg {
            Some(r) if reg_len > 0 && r.as_ptr() == group.as_ptr() && r.len() == group.len() => {
                registrable_hash
            }
            _ => fx_hash(group.as_bytes()),
        };
        CacheEntry {
            qname_len: u32::try_from(q.len()).unwrap_or(u32::MAX),
            registrable_len: reg_len,
            registrable_hash,
            group_len,
            group_hash,
            risk: if allowed { 0.0 } else { s.risk },
            entropy: s.entropy,
            digit_ratio: s.digit_ratio,
            max_label_len: max_label.min(255) as u8,
            labels: labels.min(255) as u8,
            lure: (s.keyword || s.punycode) && !allowed,
            impersonation: if allowed {
                None
            } else {
                brand::impersonation(q, reg)
            },
            allowed,
            popular,
            infra: allowlist::is_infrastructure(q),
            intel: self.intel.matches(q),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::LookupOutcome;

    fn lk(client: [u8; 4], qname: &str, ts: TsMicros) -> Lookup<'_> {
        Lookup {
            outcome: LookupOutcome::Answered,
            ..Lookup::new(ts, IpAddr::from(client), qname)
        }
    }

    #[test]
    fn names_without_a_psl_rule_group_by_the_default_rule() {
        let g = |q: &'static str| &q[q.len() - group_len(q, 0) as usize..];
        assert_eq!(g("abc.pirate.sea"), "pirate.sea");
        assert_eq!(g("x.y.pirate.sea"), "pirate.sea");
        assert_eq!(g("localhost"), "localhost");
        assert_eq!(g("4.3.2.1.in-addr.arpa"), "4.3.2.1.in-addr.arpa");
        assert_eq!(g(".weird"), ".weird");
        let mut e = Enricher::new(EnrichConfig::default());
        let a = e.enrich(&lk([10, 0, 0, 1], "a1.pirate.sea", 1));
        let b = e.enrich(&lk([10, 0, 0, 1], "b2.pirate.sea", 2));
        assert_eq!(a.registrable_len, 0, "sea is not a listed TLD");
        assert_eq!((a.group_len, a.group_hash), (10, fx_hash(b"pirate.sea")));
        assert_eq!(a.group_hash, b.group_hash);
        let c = e.enrich(&lk([10, 0, 0, 1], "www.bbc.co.uk", 3));
        assert_eq!(
            (c.group_len, c.group_hash),
            (c.registrable_len, c.registrable_hash)
        );
    }

    #[test]
    fn intel_hits_are_marked_even_when_allow_listed_and_survive_the_cache() {
        let mut e = Enricher::new(EnrichConfig::default());
        e.extend_allowlist(AllowList::parse("corp.example").unwrap());
        let l = lk([10, 0, 0, 1], "c2.corp.example", 1);
        let before = e.enrich(&l);
        assert!(before.allowed && !before.intel);
        // Replacing the list clears the cached answer for the name.
        e.replace_intel(AllowList::parse("=c2.corp.example\n*.evil.example").unwrap());
        let hit = e.enrich(&l);
        assert!(
            hit.intel && hit.allowed,
            "intel wins: marked although allow-listed"
        );
        assert!(e.enrich(&lk([10, 0, 0, 1], "a.evil.example", 2)).intel);
        assert!(!e.enrich(&lk([10, 0, 0, 1], "evil.example", 3)).intel);
        assert!(!e.enrich(&lk([10, 0, 0, 1], "www.c2.corp.example", 4)).intel);
        e.replace_intel(AllowList::default());
        assert!(!e.enrich(&l).intel);
    }

    #[test]
    fn allow_listed_names_have_no_risk_and_are_never_new() {
        let mut e = Enricher::new(EnrichConfig::default());
        let cdn = e.enrich(&lk([10, 0, 0, 1], "d7leomtv28xjswy.cloudfront.net", 1));
        assert!(cdn.allowed);
        assert_eq!(cdn.risk, 0.0);
        assert!(!cdn.high_risk && !cdn.lure);
        assert!(
            !cdn.new_global && !cdn.new_host,
            "allow-listed domains never count as newly seen"
        );
        let other = e.enrich(&lk([10, 0, 0, 1], "d7leomtv28xjswy.example-cdn.net", 2));
        assert!(!other.allowed && other.risk > 0.5 && other.new_global);
        let mut off = Enricher::new(EnrichConfig {
            default_allowlist: false,
            ..EnrichConfig::default()
        });
        assert!(
            !off.enrich(&lk([10, 0, 0, 1], "d7leomtv28xjswy.cloudfront.net", 1))
                .allowed
        );
        off.extend_allowlist(allowlist::AllowList::parse("example-cdn.net").unwrap());
        assert!(
            off.enrich(&lk([10, 0, 0, 1], "x.example-cdn.net", 2))
                .allowed
        );
    }

    #[test]
    fn infrastructure_lookups_are_flagged() {
        let mut e = Enricher::new(EnrichConfig::default());
        for q in [
            "4.3.2.1.zen.spamhaus.org",
            "7.1.168.192.in-addr.arpa",
            "s1._domainkey.example.com",
        ] {
            assert!(e.enrich(&lk([10, 0, 0, 1], q, 1)).infra, "{q}");
        }
        assert!(!e.enrich(&lk([10, 0, 0, 1], "www.example.com", 1)).infra);
    }

    #[test]
    fn defaults() {
        let c = EnrichConfig::default();
        assert!(!c.include_private_suffixes);
        assert_eq!(c.high_risk_threshold, 0.7);
        assert_eq!(
            (c.domain_cache_cap, c.first_seen_cap, c.host_first_seen_cap),
            (200_000, 1_000_000, 2_000_000)
        );
    }

    #[test]
    fn registrable_and_features() {
        let mut e = Enricher::new(EnrichConfig::default());
        let q = "www.bbc.co.uk";
        let r = e.enrich(&lk([10, 0, 0, 1], q, 1));
        assert_eq!(r.registrable(q), Some("bbc.co.uk"));
        assert_eq!(r.registrable_hash, fx_hash(b"bbc.co.uk"));
        assert_eq!(r.qname_hash, fx_hash(q.as_bytes()));
        assert_eq!((r.labels, r.max_label_len), (4, 3));
        assert!(!r.high_risk && r.risk < 0.3);
        // trailing dot: same hashes, registrable relative to the trimmed name
        let r2 = e.enrich(&lk([10, 0, 0, 1], "www.bbc.co.uk.", 2));
        assert_eq!(r2.qname_hash, r.qname_hash);
        assert_eq!(r2.registrable("www.bbc.co.uk."), Some("bbc.co.uk"));
        let t = "mzxw6ytboi2gk4tfmvzxi5dfon2gk3tfmvzxi5dfon2gk3tf.x9q7zk2w.tunnel.example.com";
        let r = e.enrich(&lk([10, 0, 0, 1], t, 3));
        assert!(r.high_risk, "{r:?}");
        assert!(r.entropy > 3.0);
    }

    /// The log record a lookup of `domain` (a registrable domain) at `ts`
    /// queues: sensor-wide, or for `host`.
    fn rec(host: Option<[u8; 4]>, domain: &str, ts: i64) -> persist::LogRecord {
        let reg = fx_hash(domain.as_bytes());
        persist::LogRecord {
            key: host.map_or(reg, |h| host_key(IpAddr::from(h), reg)),
            registrable: reg,
            hour: hour_of(ts),
            host: host.is_some(),
        }
    }

    fn drained(e: &mut Enricher) -> Vec<persist::LogRecord> {
        let mut out = FirstSeenDelta::default();
        e.drain_new_first_seen(&mut out);
        assert!(out.snapshot.is_none());
        out.records().collect()
    }

    #[test]
    fn first_seen_global_and_host_and_drain() {
        let mut e = Enricher::new(EnrichConfig::default());
        let a = e.enrich(&lk([10, 0, 0, 1], "www.example.com", 100));
        assert!(a.new_global && a.new_host);
        let b = e.enrich(&lk([10, 0, 0, 1], "mail.example.com", 200));
        assert!(!b.new_global && !b.new_host);
        let c = e.enrich(&lk([10, 0, 0, 2], "example.com", 300));
        assert!(!c.new_global && c.new_host);
        let d = e.enrich(&lk([10, 0, 0, 2], "example.com", 400));
        assert!(!d.new_global && !d.new_host);
        let mut out = FirstSeenDelta::default();
        e.drain_new_first_seen(&mut out);
        assert_eq!(
            out.records().collect::<Vec<_>>(),
            vec![
                rec(None, "example.com", 100),
                rec(Some([10, 0, 0, 1]), "example.com", 100),
                rec(Some([10, 0, 0, 2]), "example.com", 300),
            ]
        );
        assert!(drained(&mut e).is_empty());

        // restart: replaying the log restores both sets and the prevalence
        let mut e2 = Enricher::new(EnrichConfig::default());
        assert_eq!(e2.restore_first_seen(Part::Log, &out.log), 3);
        let x = e2.enrich(&lk([10, 0, 0, 1], "example.com", 500));
        assert!(!x.new_global && !x.new_host);
        assert_eq!(x.hosts, 2, "two clients resolved it before the restart");
        let y = e2.enrich(&lk([10, 0, 0, 3], "example.com", 600));
        assert!(!y.new_global && y.new_host);
        assert_eq!(y.hosts, 3);
        assert_eq!(
            drained(&mut e2),
            vec![rec(Some([10, 0, 0, 3]), "example.com", 600)]
        );

        // ... and so does a snapshot, followed by the log after it
        let (snap, dropped) = e2.snapshot();
        assert_eq!((snap.keys(), dropped), (4, 0));
        let mut e3 = Enricher::new(EnrichConfig::default());
        for (part, data) in snap.parts() {
            e3.restore_first_seen(part, data);
        }
        let z = e3.enrich(&lk([10, 0, 0, 3], "www.example.com", 700));
        assert!(!z.new_global && !z.new_host);
        assert_eq!(z.hosts, 3);
        assert!(e3.enrich(&lk([10, 0, 0, 4], "example.com", 800)).new_host);
    }

    #[test]
    fn a_snapshot_is_due_when_the_log_outgrows_it_or_the_row_cap() {
        let mut e = Enricher::new(EnrichConfig::default());
        e.set_persist_rows(100);
        let mut out = FirstSeenDelta::default();
        for i in 0..40 {
            e.enrich(&lk([10, 0, 0, 1], &format!("d{i}.com"), 1));
        }
        e.drain_new_first_seen(&mut out);
        assert_eq!((out.log_records(), out.snapshot.is_none()), (80, true));
        // 80 + 40 > 100 persisted records: a snapshot of the newest 90 keys.
        for i in 40..60 {
            e.enrich(&lk([10, 0, 0, 1], &format!("d{i}.com"), 2));
        }
        e.drain_new_first_seen(&mut out);
        let snap = out.snapshot.clone().expect("snapshot due at the row cap");
        assert_eq!((snap.keys(), out.log_records(), out.dropped), (90, 0, 30));
        // The 60 sensor-wide keys are all in it, then the 30 newest per-host.
        assert_eq!(snap.sensor.len() / persist::SNAP_RECORD, 60);
        // Nothing new: nothing to write, no snapshot.
        let mut none = FirstSeenDelta::default();
        e.drain_new_first_seen(&mut none);
        assert!(none.is_empty());
        // Asked for (rows restored from another scheme or the v1 table).
        e.snapshot_at_next_drain();
        e.drain_new_first_seen(&mut none);
        assert!(none.snapshot.is_some());
    }

    #[test]
    fn established_domains_queue_one_refresh_per_interval() {
        const H: i64 = 3_600 * crate::event::MICROS;
        let mut e = Enricher::new(EnrichConfig::default());
        let t0 = 1_709_546_400 * crate::event::MICROS;
        e.enrich(&lk([10, 0, 0, 1], "www.example.com", t0));
        assert_eq!(drained(&mut e).len(), 2);
        // Looked up all day: nothing to write until the stored hour is 24 h old.
        for i in 0..24 {
            e.enrich(&lk([10, 0, 0, 1], "www.example.com", t0 + i * H));
        }
        assert!(drained(&mut e).is_empty());
        let later = t0 + 24 * H + 5;
        e.enrich(&lk([10, 0, 0, 1], "mail.example.com", later));
        e.enrich(&lk([10, 0, 0, 1], "www.example.com", later + 1));
        assert_eq!(
            drained(&mut e),
            vec![
                rec(None, "example.com", later),
                rec(Some([10, 0, 0, 1]), "example.com", later)
            ]
        );
        assert_eq!(e.stats().refreshes, 2);
        // A preloaded (v1 table) record refreshes from its stored last_ts, not first_ts.
        let mut e2 = Enricher::new(EnrichConfig::default());
        e2.preload_first_seen(&FirstSeenRecord {
            host: None,
            domain: "example.com".into(),
            first_ts: t0 - 100 * H,
            last_ts: t0,
        });
        let r = e2.enrich(&lk([10, 0, 0, 2], "example.com", t0 + 23 * H));
        assert!(!r.new_global && r.new_host);
        let out = drained(&mut e2);
        assert_eq!(out.len(), 1, "only the new host record: {out:?}");
        assert!(out[0].host);
    }

    #[test]
    fn no_registrable_domain_is_not_tracked() {
        let mut e = Enricher::new(EnrichConfig::default());
        for q in [
            "1.0.168.192.in-addr.arpa",
            "printer.local",
            "wpad",
            "",
            "192.168.1.1",
            "co.uk",
        ] {
            let r = e.enrich(&lk([10, 0, 0, 1], q, 1));
            assert_eq!((r.registrable_len, r.registrable_hash), (0, 0), "{q}");
            assert!(!r.new_global && !r.new_host, "{q}");
            assert_eq!(r.registrable(q), None);
        }
        assert!(drained(&mut e).is_empty());
        let r = e.enrich(&lk([10, 0, 0, 1], "1.0.168.192.in-addr.arpa", 1));
        assert_eq!(r.risk, 0.0);
        assert_eq!(e.enrich(&lk([10, 0, 0, 1], "", 1)).labels, 0);
    }

    #[test]
    fn cache_hits_and_clears_when_full() {
        let cfg = EnrichConfig {
            domain_cache_cap: 4,
            ..EnrichConfig::default()
        };
        let mut e = Enricher::new(cfg);
        let first = e.enrich(&lk([10, 0, 0, 1], "a1.example.com", 1));
        let again = e.enrich(&lk([10, 0, 0, 1], "a1.example.com", 2));
        assert_eq!(first.risk, again.risk);
        assert_eq!(e.stats().cache_hits, 1);
        for i in 0..10 {
            let q = format!("h{i}.example.com");
            e.enrich(&lk([10, 0, 0, 1], &q, 3));
        }
        let s = e.stats();
        assert_eq!(s.cache_misses, 11);
        assert!(s.cache_clears >= 2);
        assert!(e.cache.len() <= 4);
    }

    #[test]
    fn first_seen_caps_evict_and_renew() {
        let cfg = EnrichConfig {
            first_seen_cap: 10,
            host_first_seen_cap: 10,
            ..EnrichConfig::default()
        };
        let mut e = Enricher::new(cfg);
        for i in 0..11 {
            let q = format!("d{i}.com");
            assert!(e.enrich(&lk([10, 0, 0, 1], &q, i)).new_global);
        }
        // d0 was the least recently seen: evicted, so new again
        assert!(e.stats().global_evicted >= 1);
        assert!(e.enrich(&lk([10, 0, 0, 1], "d0.com", 99)).new_global);
        assert!(!e.enrich(&lk([10, 0, 0, 1], "d10.com", 99)).new_global);
    }

    #[test]
    fn high_risk_threshold_and_private_suffixes() {
        let cfg = EnrichConfig {
            high_risk_threshold: 0.0,
            include_private_suffixes: true,
            ..EnrichConfig::default()
        };
        let mut e = Enricher::new(cfg);
        let q = "foo.blogspot.com";
        let r = e.enrich(&lk([10, 0, 0, 1], q, 1));
        assert!(r.high_risk);
        assert_eq!(r.registrable(q), Some("foo.blogspot.com"));
    }

    #[test]
    fn record_queue_is_bounded() {
        let mut e = Enricher::new(EnrichConfig::default());
        let n = Enricher::RECORD_QUEUE_CAP / 2 + 10;
        for i in 0..n {
            let q = format!("x{i}.com");
            e.enrich(&lk([10, 0, 0, 1], &q, 1));
        }
        assert_eq!(e.stats().records_dropped, 20);
        let mut out = FirstSeenDelta::default();
        e.drain_new_first_seen(&mut out);
        // The full queue is past the minimum log before a snapshot: the
        // whole state goes as one, with the keys the full queue dropped.
        let snap = out.snapshot.expect("snapshot");
        assert_eq!(snap.keys() as usize, 2 * n);
    }

    #[test]
    fn search_list_misses_of_popular_names_are_vouched_and_scored_as_the_name() {
        let mut e = Enricher::new(EnrichConfig::default());
        let miss = e.enrich(&lk(
            [10, 0, 0, 1],
            "browser-intake-datadoghq.com.acme.internal",
            1,
        ));
        let real = e.enrich(&lk([10, 0, 0, 1], "browser-intake-datadoghq.com", 2));
        assert!(
            miss.popular,
            "a search-list miss of a popular name is vouched"
        );
        assert_eq!(miss.risk, real.risk, "scored as the embedded name");
        assert!(!miss.lure);
        // Not popular, or a public registrable domain: scored as they are.
        let odd = e.enrich(&lk([10, 0, 0, 1], "x8k2qzt4vb.com.acme.internal", 3));
        assert!(!odd.popular);
        let phish = e.enrich(&lk([10, 0, 0, 1], "www.google.com.verify-login.xyz", 4));
        assert!(!phish.popular && phish.lure);
    }
}
