//! Slow signals: per-host context over the last hour (issue 12, item 4).
//!
//! A dictionary DGA at one lookup every 15–40 s, a beacon once a minute and
//! exfiltration at tens of bytes per second are too thin for one 5-minute
//! window. [`SlowSignals`] keeps, per host, a digest of each of its windows
//! of the last [`HORIZON`] and raises findings a single window cannot:
//!
//! | tag | finding over the last hour | floor |
//! |---|---|---|
//! | `slow_dga` | ≥ [`SLOW_DGA_DOMAINS`] non-existent unvouched registrable domains in ≥ 2 windows that each stayed under the window finding's threshold, the current one included with ≥ 2 | Unusual; Likely from [`SLOW_DGA_LIKELY`] |
//! | `slow_beacon` | an unvouched domain only this host resolves, not among the host's steady contacts of its first [`DEFAULT_BASELINE`] (or learning period) under watch, contacted at a steady 20 s–15 min interval (CV ≤ [`crate::aggregate::REGULAR_MAX_CV`]) in ≥ [`BEACON_WINDOWS`] windows with the same period (±20 %) | Unusual |
//! | `slow_exfil` | ≥ [`SLOW_EXFIL_NAMES`] encoded names under one unvouched domain in ≥ 2 windows | Unusual |
//!
//! Memory: at most [`MAX_HOSTS`] hosts (the host seen least recently is
//! dropped, counted in [`SlowSignals::evicted`]), each at most
//! [`MAX_DIGESTS`] digests of a few dozen bytes: under 40 MB at the cap. The
//! state lives in memory: after a restart the hour fills again (the windows
//! themselves are in the database).

use super::{Evidence, Reason};
use crate::aggregate::HostWindow;
use crate::event::{TsMicros, MICROS};
use crate::model::Label;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::net::IpAddr;

/// The slow signals' tags with one line each (for `config check` and the
/// docs test).
pub const SLOW_FINDINGS: [(&str, &str); 3] = [
    ("slow_dga", "10+ non-existent unvouched domains over the last hour in windows each under dga_like_names' 6: Unusual; 24+: Likely Compromise"),
    ("slow_beacon", "a steady 20 s-15 min timer, in 2+ windows, to an unvouched domain only this host resolves and that was not one of its timers in its first 30 minutes (or the learning period): Unusual"),
    ("slow_exfil", "8+ encoded names under one unvouched domain over 2+ windows of the last hour: Unusual"),
];

/// How far back the slow signals look.
pub const HORIZON: TsMicros = 3600 * MICROS;
/// Hosts followed at most.
pub const MAX_HOSTS: usize = 65_536;
/// Window digests kept per host at most (an hour of 5-minute windows, plus
/// room for shorter windows).
pub const MAX_DIGESTS: usize = 24;
/// Non-existent domains over the hour for `slow_dga`.
pub const SLOW_DGA_DOMAINS: u32 = 10;
/// … and for Likely Compromise.
pub const SLOW_DGA_LIKELY: u32 = 24;
/// Windows with the same steady contact for `slow_beacon`.
pub const BEACON_WINDOWS: usize = 2;
/// Encoded names under one domain over the hour for `slow_exfil`.
pub const SLOW_EXFIL_NAMES: u32 = 8;

#[derive(Debug, Clone)]
struct Digest {
    start: TsMicros,
    nx_only: u32,
    encoded_domain: String,
    encoded: u32,
    /// (domain, mean interval s) of steady contacts to domains only this
    /// host resolves.
    steady: Vec<(String, f64)>,
}

#[derive(Debug)]
struct HostHour {
    digests: VecDeque<Digest>,
    last: TsMicros,
    /// Start of the host's first window seen.
    since: TsMicros,
    /// Steady contacts the host already had in its baseline period:
    /// its usual timers (an IoT device polling its vendor, an agent's check
    /// in), at most [`MAX_USUAL`].
    usual: Vec<String>,
}

/// Usual steady contacts remembered per host.
pub const MAX_USUAL: usize = 32;

/// How long a host is watched before its steady contacts stop being its
/// usual ones (when the sensor is not learning; otherwise the learning
/// period).
pub const DEFAULT_BASELINE: TsMicros = 1800 * MICROS;

/// The slow-signal detector (see the module docs).
#[derive(Debug)]
pub struct SlowSignals {
    hosts: FxHashMap<IpAddr, HostHour>,
    evicted: u64,
    baseline: TsMicros,
}

impl Default for SlowSignals {
    fn default() -> Self {
        SlowSignals {
            hosts: FxHashMap::default(),
            evicted: 0,
            baseline: DEFAULT_BASELINE,
        }
    }
}

fn finding(tag: &'static str, feature: &'static str, value: f64, floor: Label) -> Evidence {
    Evidence {
        reason: Reason::fact(tag, feature, value),
        floor,
    }
}

impl SlowSignals {
    /// An empty detector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Watch each host for `baseline` (packet time from its first window)
    /// before its steady contacts stop counting as its usual ones: the
    /// sensor's learning period when it learns.
    pub fn with_baseline(mut self, baseline: TsMicros) -> Self {
        self.baseline = baseline.max(0);
        self
    }

    /// Hosts dropped at [`MAX_HOSTS`].
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Hosts followed.
    pub fn hosts(&self) -> usize {
        self.hosts.len()
    }

    /// Record `w` (windows of a host arrive in start order) and return the
    /// findings over its last hour with one sentence each for the
    /// explanation.
    pub fn observe(&mut self, w: &HostWindow) -> Vec<(Evidence, String)> {
        if !self.hosts.contains_key(&w.host) && self.hosts.len() >= MAX_HOSTS {
            if let Some(oldest) = self
                .hosts
                .iter()
                .min_by_key(|(_, h)| h.last)
                .map(|(k, _)| *k)
            {
                self.hosts.remove(&oldest);
                self.evicted += 1;
            }
        }
        let baseline = self.baseline;
        let h = self.hosts.entry(w.host).or_insert_with(|| HostHour {
            digests: VecDeque::new(),
            last: w.end,
            since: w.start,
            usual: Vec::new(),
        });
        h.last = h.last.max(w.end);
        while h
            .digests
            .front()
            .is_some_and(|d| d.start <= w.start - HORIZON || h.digests.len() >= MAX_DIGESTS)
        {
            h.digests.pop_front();
        }
        let digest = Digest {
            start: w.start,
            nx_only: w.nx_only_registrable,
            encoded_domain: w.encoded_domain.clone(),
            encoded: w.encoded_names,
            steady: w
                .regular_domains
                .iter()
                .filter(|r| r.hosts <= 1 && (20.0..=900.0).contains(&r.mean_interval_s))
                .map(|r| (r.domain.clone(), r.mean_interval_s))
                .collect(),
        };
        let mut out = Vec::new();

        // Non-existent domains in windows below the window finding's
        // threshold (a burst that already raised `dga_like_names` is the
        // window detector's; its echo must not flag the host's next hour),
        // the current window included with at least two.
        let slow = |n: u32| n > 0 && n < super::evidence::DGA_MIN_DOMAINS;
        if digest.nx_only >= 2 && slow(digest.nx_only) {
            let windows = h.digests.iter().filter(|d| slow(d.nx_only)).count() + 1;
            let total: u32 = h
                .digests
                .iter()
                .filter(|d| slow(d.nx_only))
                .map(|d| d.nx_only)
                .sum::<u32>()
                + digest.nx_only;
            if windows >= 2 && total >= SLOW_DGA_DOMAINS {
                let floor = if total >= SLOW_DGA_LIKELY {
                    Label::LikelyCompromise
                } else {
                    Label::Unusual
                };
                out.push((
                    finding("slow_dga", "nx_only_registrable_hour", total as f64, floor),
                    format!(
                        "Over the last hour {} looked up {} distinct domains that do not exist, in {} windows: a domain generator working slowly to stay under per-window thresholds.",
                        w.host, total, windows
                    ),
                ));
            }
        }

        // A steady contact seen in earlier windows too, that was not already
        // one of the host's timers in its baseline period under watch.
        let learning = w.start < h.since + baseline;
        for (domain, _) in &digest.steady {
            if learning && h.usual.len() < MAX_USUAL && !h.usual.contains(domain) {
                h.usual.push(domain.clone());
            }
        }
        for (domain, interval) in digest
            .steady
            .iter()
            .filter(|(d, _)| !learning && !h.usual.contains(d))
        {
            let earlier = h
                .digests
                .iter()
                .filter(|d| {
                    d.steady
                        .iter()
                        .any(|(x, i)| x == domain && (i / interval - 1.0).abs() <= 0.2)
                })
                .count();
            if earlier + 1 >= BEACON_WINDOWS {
                out.push((
                    finding("slow_beacon", "steady_windows", (earlier + 1) as f64, Label::Unusual),
                    format!(
                        "{} has contacted {} every {:.0} s in {} windows running, a domain no other host on this network resolves: the rhythm of malware checking in with its server.",
                        w.host,
                        super::safe_name(domain),
                        interval,
                        earlier + 1
                    ),
                ));
                break;
            }
        }

        // Encoded names under one domain, spread over windows.
        if digest.encoded > 0 && !digest.encoded_domain.is_empty() {
            let same: Vec<&Digest> = h
                .digests
                .iter()
                .filter(|d| d.encoded > 0 && d.encoded_domain == digest.encoded_domain)
                .collect();
            let total: u32 = same.iter().map(|d| d.encoded).sum::<u32>() + digest.encoded;
            if !same.is_empty() && total >= SLOW_EXFIL_NAMES {
                out.push((
                    finding("slow_exfil", "encoded_names_hour", total as f64, Label::Unusual),
                    format!(
                        "Over the last hour {} sent {} names carrying encoded data under {} in {} windows: a slow exfiltration trickle.",
                        w.host,
                        total,
                        super::safe_name(&digest.encoded_domain),
                        same.len() + 1
                    ),
                ));
            }
        }
        h.digests.push_back(digest);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::RegularContact;

    fn window(start_min: i64) -> HostWindow {
        let start = start_min * 60 * MICROS;
        HostWindow::empty("10.0.0.7".parse().unwrap(), start, start + 300 * MICROS)
    }

    #[test]
    fn a_slow_dga_is_found_over_windows_and_a_single_typo_burst_is_not() {
        let mut s = SlowSignals::new();
        let mut w = window(0);
        w.nx_only_registrable = 5;
        assert!(
            s.observe(&w).is_empty(),
            "one window alone is the window detector's job"
        );
        let mut w = window(5);
        w.nx_only_registrable = 5;
        let f = s.observe(&w);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].0.reason.tag, "slow_dga");
        assert_eq!(f[0].0.floor, Label::Unusual);
        // More than an hour later the old windows no longer count.
        let mut w = window(120);
        w.nx_only_registrable = 2;
        assert!(s.observe(&w).is_empty());
        // A fast burst the window finding caught does not echo for an hour.
        let mut w = window(200);
        w.nx_only_registrable = 40;
        assert!(s.observe(&w).is_empty());
        let mut w = window(205);
        w.nx_only_registrable = 3;
        assert!(s.observe(&w).is_empty());
        // Another host is followed apart.
        let mut o = window(125);
        o.host = "10.0.0.8".parse().unwrap();
        o.nx_only_registrable = 9;
        assert!(s.observe(&o).is_empty());
    }

    #[test]
    fn a_steady_contact_to_a_domain_only_this_host_resolves_is_a_beacon_in_its_second_window() {
        let mut s = SlowSignals::new();
        let contact = |hosts| RegularContact {
            domain: "cdn-metrics-sync.com".into(),
            lookups: 5,
            mean_interval_s: 60.0,
            cv: 0.03,
            hosts,
        };
        // The host's baseline period: its timers then are its usual ones.
        let mut usual = contact(1);
        usual.domain = "particle.io".into();
        for m in [0, 5] {
            let mut w = window(m);
            w.regular_domains = vec![usual.clone()];
            assert!(s.observe(&w).is_empty());
        }
        let mut w = window(60);
        w.regular_domains = vec![contact(1), usual.clone()];
        assert!(s.observe(&w).is_empty());
        let mut w = window(65);
        w.regular_domains = vec![usual.clone(), contact(1)];
        let f = s.observe(&w);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].0.reason.tag, "slow_beacon");
        assert!(f[0].1.contains("every 60 s"), "{}", f[0].1);
        // A domain several hosts resolve (an update service) is not.
        let mut s = SlowSignals::new();
        for m in [60, 65, 70] {
            let mut w = window(m);
            w.regular_domains = vec![contact(3)];
            assert!(s.observe(&w).is_empty());
        }
    }

    #[test]
    fn hosts_are_bounded() {
        let mut s = SlowSignals::new();
        for i in 0..(MAX_HOSTS as u32 + 10) {
            let mut w = window(0);
            w.host = IpAddr::from(i.to_be_bytes());
            s.observe(&w);
        }
        assert_eq!(s.hosts(), MAX_HOSTS);
        assert_eq!(s.evicted(), 10);
    }
}
