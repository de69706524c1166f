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
//! | `slow_beacon` | an unvouched domain only this host resolves, not among the host's steady contacts of its first [`DEFAULT_BASELINE`] (or learning period) under watch, whose last ≥ [`BEACON_CONTACTS`] contacts (one per burst), spanning ≥ 2 windows, come at a steady 20 s–15 min interval (CV ≤ [`crate::aggregate::REGULAR_MAX_CV`]) | Unusual |
//! | `slow_exfil` | ≥ [`SLOW_EXFIL_NAMES`] encoded names under one unvouched domain in ≥ 2 windows | Unusual |
//!
//! The beacon signal joins the contact times windows hand over
//! ([`HostWindow::contacts`]) across window boundaries, so a once-a-minute
//! timer that starts late in a window is judged on that window's contacts
//! and the next one's: it is flagged at the close of the second window it
//! touches.
//!
//! Memory: at most [`MAX_HOSTS`] hosts (the host seen least recently is
//! dropped, counted in [`SlowSignals::evicted`]), each at most
//! [`MAX_DIGESTS`] digests of a few dozen bytes and [`MAX_TRACKS`] contact
//! tracks of at most [`TRACK_TIMES`] times: about 2.5 KB per host, 160 MB at
//! the cap. The state is saved in the database at each flush
//! ([`SlowSignals::save_host`]) and restored at start, so a restart resumes the
//! hour.

use super::{Evidence, Reason};
use crate::aggregate::HostWindow;
use crate::event::{TsMicros, MICROS};
use crate::model::Label;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::net::IpAddr;

/// The slow signals' tags with one line each (for `config check` and the
/// docs test).
pub const SLOW_FINDINGS: [(&str, &str); 3] = [
    ("slow_dga", "10+ non-existent unvouched domains over the last hour in windows each under dga_like_names' 6: Unusual; 24+: Likely Compromise"),
    ("slow_beacon", "a steady 20 s-15 min timer over its last 6+ contacts, spanning 2+ windows, to an unvouched domain only this host resolves and that was not one of its timers in its first 30 minutes (or the learning period): Unusual"),
    ("slow_exfil", "8+ encoded names under one unvouched domain over 2+ windows of the last hour: Unusual"),
];

fn slow_findings() -> Vec<(&'static str, &'static str)> {
    SLOW_FINDINGS.to_vec()
}

/// The slow-signal unit's registry entry.
pub static UNIT: super::unit::UnitInfo = super::unit::UnitInfo {
    name: "slow_signals",
    file: "src/detect/slow.rs",
    summary: "per-host context over the last hour: attacks too thin for one window",
    findings: slow_findings,
    memory: "65,536 hosts x (24 window digests, 12 followed domains x 12 contacts, 32 usual timers): about 2.5 KB a host, 160 MB at the cap",
    persisted: "detector_state rows per host, in the window batch's transaction; a restart resumes the hour",
};

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
/// Contacts (one per burst) of one domain, over at least two windows, that
/// `slow_beacon` judges.
pub const BEACON_CONTACTS: usize = 6;
/// Domains whose contact times are followed per host at most.
pub const MAX_TRACKS: usize = 12;
/// Contact times kept per followed domain (the latest).
pub const TRACK_TIMES: usize = 12;
/// Encoded names under one domain over the hour for `slow_exfil`.
pub const SLOW_EXFIL_NAMES: u32 = 8;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Digest {
    start: TsMicros,
    nx_only: u32,
    encoded_domain: String,
    encoded: u32,
}

/// The latest contact times of one rarely resolved domain.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Track {
    domain: String,
    /// Sorted, at most [`TRACK_TIMES`], within the last [`HORIZON`].
    times: VecDeque<TsMicros>,
}

#[derive(Debug, Serialize, Deserialize)]
struct HostHour {
    digests: VecDeque<Digest>,
    tracks: Vec<Track>,
    last: TsMicros,
    /// Start of the host's first window seen.
    since: TsMicros,
    /// Steady contacts the host already had in its baseline period:
    /// its usual timers (an IoT device polling its vendor, an agent's check
    /// in), at most [`MAX_USUAL`].
    usual: Vec<String>,
}

impl HostHour {
    /// Append its JSON to `out`: the bytes `serde_json::to_string` writes
    /// (what [`SlowSignals::restore`] reads back), without serde's
    /// per-field machinery (`tests::state_json_matches_serde_json`).
    fn push_json(&self, out: &mut String) {
        use crate::store::json::{push_array, push_int, push_key, push_str};
        out.push('{');
        push_key(out, "digests", true);
        push_array(out, self.digests.iter(), |out, d| {
            out.push('{');
            push_key(out, "start", true);
            push_int(out, d.start);
            push_key(out, "nx_only", false);
            push_int(out, d.nx_only);
            push_key(out, "encoded_domain", false);
            push_str(out, &d.encoded_domain);
            push_key(out, "encoded", false);
            push_int(out, d.encoded);
            out.push('}');
        });
        push_key(out, "tracks", false);
        push_array(out, self.tracks.iter(), |out, t| {
            out.push('{');
            push_key(out, "domain", true);
            push_str(out, &t.domain);
            push_key(out, "times", false);
            push_array(out, t.times.iter(), |out, x| push_int(out, *x));
            out.push('}');
        });
        push_key(out, "last", false);
        push_int(out, self.last);
        push_key(out, "since", false);
        push_int(out, self.since);
        push_key(out, "usual", false);
        push_array(out, self.usual.iter(), |out, u| push_str(out, u));
        out.push('}');
    }

    /// Add the window's contact times to the host's tracks (windows of a
    /// host arrive in start order), forgetting times older than the hour.
    fn join(&mut self, w: &HostWindow) {
        let horizon = w.end - HORIZON;
        for t in &mut self.tracks {
            while t.times.front().is_some_and(|x| *x < horizon) {
                t.times.pop_front();
            }
        }
        self.tracks.retain(|t| !t.times.is_empty());
        for c in w.contacts.iter().filter(|c| c.hosts <= 1) {
            let i = match self.tracks.iter().position(|t| t.domain == c.domain) {
                Some(i) => i,
                None => {
                    if self.tracks.len() >= MAX_TRACKS {
                        // Make room: the track least likely to be a timer
                        // (fewest contacts, then the longest quiet).
                        if let Some(j) = (0..self.tracks.len()).min_by_key(|&j| {
                            let t = &self.tracks[j];
                            (
                                t.times.len(),
                                t.times.back().copied().unwrap_or(TsMicros::MIN),
                            )
                        }) {
                            self.tracks.swap_remove(j);
                        }
                    }
                    self.tracks.push(Track {
                        domain: c.domain.clone(),
                        times: VecDeque::new(),
                    });
                    self.tracks.len() - 1
                }
            };
            let t = &mut self.tracks[i];
            for &x in &c.times {
                if x >= horizon && t.times.back().is_none_or(|l| x > *l) {
                    if t.times.len() >= TRACK_TIMES {
                        t.times.pop_front();
                    }
                    t.times.push_back(x);
                }
            }
        }
    }
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

    /// The name its rows carry in the store's `detector_state`.
    pub const STATE: &'static str = "slow_signals";

    /// Add the state of `host` (as [`SlowSignals::observe`] left it) to the
    /// rows a batch writes, keyed by host, at packet time `end`.
    pub fn save_host(&self, host: &IpAddr, rows: &mut crate::store::StateRows) {
        if let Some(h) = self.hosts.get(host) {
            // (A host's hour is 1-2 KB of JSON: one allocation, no regrowth.)
            let mut json = String::with_capacity(2048);
            h.push_json(&mut json);
            rows.rows.push((
                Self::STATE,
                host.to_string(),
                h.last.div_euclid(MICROS),
                json,
            ));
        }
    }

    /// Rows older than the hour before packet time `now` (unix s) are of no
    /// use to a restart: prune them with the batch.
    pub fn prune(now_s: i64, rows: &mut crate::store::StateRows) {
        rows.prune_before
            .push((Self::STATE, now_s - 2 * HORIZON / MICROS));
    }

    /// Resume from `store`: the saved hosts of the hour before the latest
    /// one saved, at most [`MAX_HOSTS`]. Rows that do not parse (a build
    /// with another layout) are skipped and counted. Returns (hosts
    /// restored, rows skipped).
    pub fn restore(
        &mut self,
        store: &crate::store::Store,
    ) -> Result<(usize, usize), crate::store::StoreError> {
        let mut latest = None;
        store.detector_states(Self::STATE, i64::MIN, 1, |_, t, _| latest = Some(t))?;
        let Some(latest) = latest else {
            return Ok((0, 0));
        };
        let (mut ok, mut bad) = (0, 0);
        store.detector_states(
            Self::STATE,
            latest - HORIZON / MICROS,
            MAX_HOSTS,
            |key, _, state| match (
                key.parse::<IpAddr>(),
                serde_json::from_str::<HostHour>(state),
            ) {
                (Ok(host), Ok(h)) => {
                    self.hosts.insert(host, h);
                    ok += 1;
                }
                _ => bad += 1,
            },
        )?;
        Ok((ok, bad))
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
            tracks: Vec::new(),
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

        // A steady timer to a domain only this host resolves, judged on its
        // contacts of the last hour joined across windows, that was not
        // already one of the host's timers in its baseline period.
        let learning = w.start < h.since + baseline;
        for r in w
            .regular_domains
            .iter()
            .filter(|r| r.hosts <= 1 && (20.0..=900.0).contains(&r.mean_interval_s))
        {
            if learning && h.usual.len() < MAX_USUAL && !h.usual.contains(&r.domain) {
                h.usual.push(r.domain.clone());
            }
        }
        h.join(w);
        for c in w.contacts.iter().filter(|c| c.hosts <= 1) {
            let Some(t) = h.tracks.iter().find(|t| t.domain == c.domain) else {
                continue;
            };
            if t.times.len() < BEACON_CONTACTS || t.times.front().is_none_or(|f| *f >= w.start) {
                continue;
            }
            let times: Vec<TsMicros> = t.times.iter().copied().collect();
            let Some((cv, interval)) = crate::aggregate::interval_stats(&times, BEACON_CONTACTS)
            else {
                continue;
            };
            if cv > crate::aggregate::REGULAR_MAX_CV || !(20.0..=900.0).contains(&interval) {
                continue;
            }
            if learning {
                if h.usual.len() < MAX_USUAL && !h.usual.contains(&c.domain) {
                    h.usual.push(c.domain.clone());
                }
                continue;
            }
            if h.usual.contains(&c.domain) {
                continue;
            }
            out.push((
                finding("slow_beacon", "steady_contacts", times.len() as f64, Label::Unusual),
                format!(
                    "{} has contacted {} every {:.0} s for its last {} contacts (variation {:.0} %), a domain no other host on this network resolves: the rhythm of malware checking in with its server.",
                    w.host,
                    super::safe_name(&c.domain),
                    interval,
                    times.len(),
                    cv * 100.0
                ),
            ));
            break;
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

impl super::unit::HostUnit for SlowSignals {
    fn info(&self) -> &'static super::unit::UnitInfo {
        &UNIT
    }
    fn observe(&mut self, w: &HostWindow, ctx: &mut super::unit::Context) {
        let found = SlowSignals::observe(self, w);
        ctx.findings.extend(found);
    }
    fn save(&self, host: &IpAddr, rows: &mut crate::store::StateRows) {
        self.save_host(host, rows);
    }
    fn prune(&self, now_s: i64, rows: &mut crate::store::StateRows) {
        SlowSignals::prune(now_s, rows);
    }
    fn restore(
        &mut self,
        store: &crate::store::Store,
    ) -> Result<(usize, usize), crate::store::StoreError> {
        SlowSignals::restore(self, store)
    }
    fn evicted(&self) -> u64 {
        self.evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Contacts;

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

    /// `n` contacts every `period` s from `from_s` (seconds), split into the
    /// 5-minute windows they fall in.
    fn timer(domain: &str, hosts: u16, from_s: i64, period: i64, n: i64) -> Vec<(i64, Contacts)> {
        let mut out: Vec<(i64, Contacts)> = Vec::new();
        for k in 0..n {
            let t = from_s + k * period;
            let start_min = t / 300 * 5;
            if out.last().is_none_or(|(m, _)| *m != start_min) {
                out.push((
                    start_min,
                    Contacts {
                        domain: domain.into(),
                        hosts,
                        times: Vec::new(),
                    },
                ));
            }
            out.last_mut().unwrap().1.times.push(t * MICROS);
        }
        out
    }

    fn feed(
        s: &mut SlowSignals,
        windows: &[(i64, Contacts)],
    ) -> Vec<(i64, Vec<(Evidence, String)>)> {
        windows
            .iter()
            .map(|(m, c)| {
                let mut w = window(*m);
                w.contacts = vec![c.clone()];
                (*m, s.observe(&w))
            })
            .collect()
    }

    #[test]
    fn a_timer_to_a_domain_only_this_host_resolves_is_a_beacon_in_the_second_window_it_touches() {
        let mut s = SlowSignals::new();
        // The host's baseline period: its timers then are its usual ones.
        let usual = feed(&mut s, &timer("particle.io", 1, 0, 60, 30));
        assert!(usual.iter().all(|(_, f)| f.is_empty()), "{usual:?}");
        // One hour later a once-a-minute timer starts 20 s before a window
        // boundary: one contact in its first window, five in the next.
        let start = 3600 + 280;
        let got = feed(&mut s, &timer("cdn-metrics-sync.com", 1, start, 60, 11));
        assert_eq!(got[0].1.len(), 0, "one contact is not a timer");
        assert_eq!(got[1].1.len(), 1, "{got:?}");
        let (e, text) = &got[1].1[0];
        assert_eq!(e.reason.tag, "slow_beacon");
        assert!(text.contains("every 60 s"), "{text}");
        // The usual timer goes on and is never flagged.
        let again = feed(&mut s, &timer("particle.io", 1, 3600, 60, 30));
        assert!(again.iter().all(|(_, f)| f.is_empty()), "{again:?}");
        // Irregular contacts are not a timer.
        let mut s2 = SlowSignals::new().with_baseline(0);
        let mut w1 = window(60);
        w1.contacts = vec![Contacts {
            domain: "blog.example".into(),
            hosts: 1,
            times: [3605, 3620, 3700, 3850]
                .iter()
                .map(|t| t * MICROS)
                .collect(),
        }];
        let mut w2 = window(65);
        w2.contacts = vec![Contacts {
            domain: "blog.example".into(),
            hosts: 1,
            times: [3905, 3990, 4000, 4150]
                .iter()
                .map(|t| t * MICROS)
                .collect(),
        }];
        assert!(s2.observe(&w1).is_empty());
        assert!(s2.observe(&w2).is_empty());
        // A domain several hosts resolve (an update service) is not.
        let mut s3 = SlowSignals::new().with_baseline(0);
        let shared = feed(&mut s3, &timer("updates.example", 3, 3600, 60, 20));
        assert!(shared.iter().all(|(_, f)| f.is_empty()), "{shared:?}");
        // Neither is a timer inside one window only (the window's own
        // regularity is the model's input, not this finding).
        let mut s4 = SlowSignals::new().with_baseline(0);
        let inside = feed(&mut s4, &timer("fast.example", 1, 3605, 30, 9));
        assert!(inside.iter().all(|(_, f)| f.is_empty()), "{inside:?}");
    }

    #[test]
    fn contact_tracks_are_bounded_and_keep_a_timer_over_one_off_names() {
        let mut s = SlowSignals::new().with_baseline(0);
        for k in 0..12i64 {
            let mut w = window(60 + 5 * k);
            let t0 = (3600 + 300 * k) * MICROS;
            w.contacts = (0..super::super::super::aggregate::CONTACTS_MAX_DOMAINS as i64)
                .map(|i| Contacts {
                    domain: format!("once-{k}-{i}.example"),
                    hosts: 1,
                    times: vec![t0 + i * MICROS * 7],
                })
                .collect();
            w.contacts.push(Contacts {
                domain: "c2.example".into(),
                hosts: 1,
                times: (0..5).map(|j| t0 + 10 * MICROS + j * 60 * MICROS).collect(),
            });
            let f = s.observe(&w);
            if k >= 1 {
                assert_eq!(f.len(), 1, "window {k}: {f:?}");
            }
        }
        let h = s.hosts.values().next().unwrap();
        assert!(h.tracks.len() <= MAX_TRACKS);
        assert!(h.tracks.iter().all(|t| t.times.len() <= TRACK_TIMES));
    }

    #[test]
    fn state_json_matches_serde_json() {
        let names = [
            "",
            "c2.example",
            "a\"b",
            "back\\slash",
            "<script>alert(1)</script>",
            "tab\tnl\ncr\r\u{0}\u{8}\u{c}\u{1f}\u{7f}",
            "ünïcødé.例え 🦀",
        ];
        let mut hours = vec![HostHour {
            digests: VecDeque::new(),
            tracks: Vec::new(),
            last: 0,
            since: 0,
            usual: Vec::new(),
        }];
        for n in 1..names.len() {
            hours.push(HostHour {
                digests: (0..n)
                    .map(|i| Digest {
                        start: i as i64 * 300 * MICROS - 1,
                        nx_only: [0, 1, u32::MAX][i % 3],
                        encoded_domain: names[(n + i) % names.len()].to_string(),
                        encoded: i as u32,
                    })
                    .collect(),
                tracks: (0..n)
                    .map(|i| Track {
                        domain: names[i].to_string(),
                        times: (0..i as i64)
                            .map(|t| t * 60 * MICROS + i64::MIN / 2)
                            .collect(),
                    })
                    .collect(),
                last: i64::MAX,
                since: i64::MIN,
                usual: names[..n].iter().map(|s| s.to_string()).collect(),
            });
        }
        for h in &hours {
            let mut out = String::new();
            h.push_json(&mut out);
            assert_eq!(out, serde_json::to_string(h).unwrap());
        }
        // And what a real run leaves, through the rows a batch writes.
        let mut s = SlowSignals::new().with_baseline(0);
        for (m, c) in timer("c2\"x\".example", 1, 3600, 60, 40) {
            let mut w = window(m);
            w.contacts = vec![c];
            w.nx_only_registrable = 3;
            w.encoded_domain = "t<\\>.example".into();
            w.encoded_names = 2;
            s.observe(&w);
        }
        let mut rows = crate::store::StateRows::default();
        s.save_host(&window(0).host, &mut rows);
        let h = s.hosts.values().next().unwrap();
        assert!(!h.tracks.is_empty() && !h.digests.is_empty());
        assert_eq!(rows.rows[0].3, serde_json::to_string(h).unwrap());
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
