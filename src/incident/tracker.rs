//! The incident tracker: a pure core on packet time. [`Tracker::observe`]
//! takes one scored window and says which incident it belongs to;
//! [`Tracker::close_until`] closes the incidents whose quiet period has passed.
//! Both append [`IncidentEvent`]s. The rules are in the parent module docs.

use super::{
    sanitise_domain, EventKind, Family, Incident, IncidentConfig, IncidentEvent, Observation,
    Status, MAX_DOMAINS,
};
use crate::model::Label;
use std::collections::{BTreeMap, HashMap};

/// Counts of what the tracker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackerStats {
    /// Incidents opened.
    pub opened: u64,
    /// Escalations.
    pub escalated: u64,
    /// Updates (windows that joined without escalating).
    pub updated: u64,
    /// Incidents closed (evicted ones included).
    pub closed: u64,
    /// Incidents closed early at the host cap.
    pub evicted: u64,
}

/// Open incidents by host, and the next id to give.
#[derive(Debug, Clone)]
pub struct Tracker {
    cfg: IncidentConfig,
    open: HashMap<String, Incident>,
    next_id: i64,
    stats: TrackerStats,
}

impl Tracker {
    /// An empty tracker; ids start at 1. A cap of 0 is taken as 1.
    pub fn new(mut cfg: IncidentConfig) -> Self {
        cfg.max_hosts = cfg.max_hosts.max(1);
        cfg.quiet_s = cfg.quiet_s.max(1);
        Tracker {
            cfg,
            open: HashMap::new(),
            next_id: 1,
            stats: TrackerStats::default(),
        }
    }

    /// The thresholds.
    pub fn config(&self) -> IncidentConfig {
        self.cfg
    }

    /// Continue after a restart: hold the open incidents `open` (one per
    /// host; for a host given twice the later one wins, the other is left as
    /// stored) and give ids above `max_id` from now on.
    pub fn resume(&mut self, open: Vec<Incident>, max_id: i64) {
        for i in open {
            if i.status == Status::Open {
                self.next_id = self.next_id.max(i.id.saturating_add(1));
                self.open.insert(i.host.clone(), i);
            }
        }
        self.next_id = self.next_id.max(max_id.saturating_add(1));
    }

    /// Counts so far.
    pub fn stats(&self) -> TrackerStats {
        self.stats
    }

    /// Open incidents held.
    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// The open incident of `host`, if any.
    pub fn open_incident(&self, host: &str) -> Option<&Incident> {
        self.open.get(host)
    }

    /// One scored window. Returns the id of the incident it joined or opened
    /// (`None` for a Normal window) and appends what changed to `out`.
    pub fn observe(&mut self, o: &Observation<'_>, out: &mut Vec<IncidentEvent>) -> Option<i64> {
        if o.label == Label::Normal {
            return None;
        }
        let quiet = self.cfg.quiet_s;
        if let Some(inc) = self.open.get_mut(o.host) {
            let gap = o.end.saturating_sub(inc.last_seen);
            if gap < quiet && gap > -quiet {
                let kind = join(inc, o);
                match kind {
                    EventKind::Escalated => self.stats.escalated += 1,
                    _ => self.stats.updated += 1,
                }
                let id = inc.id;
                out.push(IncidentEvent {
                    kind,
                    incident: inc.clone(),
                });
                return Some(id);
            }
            if let Some(mut old) = self.open.remove(o.host) {
                let at = old.last_seen.saturating_add(quiet);
                close(&mut old, at);
                self.stats.closed += 1;
                out.push(IncidentEvent {
                    kind: EventKind::Closed,
                    incident: old,
                });
            }
        }
        if self.open.len() >= self.cfg.max_hosts {
            self.evict_oldest(o.end, out);
        }
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        let mut inc = Incident {
            id,
            host: o.host.to_string(),
            status: Status::Open,
            first_seen: o.start,
            last_seen: o.end,
            closed_at: None,
            windows: 0,
            peak_score: 0.0,
            peak_label: o.label,
            reasons: BTreeMap::new(),
            domains: BTreeMap::new(),
            model_id: String::new(),
            explanation: String::new(),
            updated_at: o.end,
        };
        join(&mut inc, o);
        self.stats.opened += 1;
        out.push(IncidentEvent {
            kind: EventKind::Opened,
            incident: inc.clone(),
        });
        self.open.insert(inc.host.clone(), inc);
        Some(id)
    }

    /// Close every incident whose last flagged window ended `quiet` or more
    /// before `now` (unix seconds of packet time), in id order.
    pub fn close_until(&mut self, now: i64, out: &mut Vec<IncidentEvent>) {
        let quiet = self.cfg.quiet_s;
        let mut due: Vec<(i64, String)> = self
            .open
            .values()
            .filter(|i| now.saturating_sub(i.last_seen) >= quiet)
            .map(|i| (i.id, i.host.clone()))
            .collect();
        due.sort_unstable();
        for (_, host) in due {
            if let Some(mut inc) = self.open.remove(&host) {
                let at = inc.last_seen.saturating_add(quiet);
                close(&mut inc, at);
                self.stats.closed += 1;
                out.push(IncidentEvent {
                    kind: EventKind::Closed,
                    incident: inc,
                });
            }
        }
    }

    fn evict_oldest(&mut self, now: i64, out: &mut Vec<IncidentEvent>) {
        let oldest = self
            .open
            .values()
            .min_by_key(|i| (i.last_seen, i.id))
            .map(|i| i.host.clone());
        if let Some(mut inc) = oldest.and_then(|h| self.open.remove(&h)) {
            let at = now.max(inc.last_seen);
            close(&mut inc, at);
            self.stats.closed += 1;
            self.stats.evicted += 1;
            out.push(IncidentEvent {
                kind: EventKind::Closed,
                incident: inc,
            });
        }
    }
}

fn close(inc: &mut Incident, at: i64) {
    inc.status = Status::Closed;
    inc.closed_at = Some(at);
    inc.updated_at = at;
}

/// Add a flagged window to `inc`: an escalation when its label is above the
/// peak or it brings a new reason family, else an update.
fn join(inc: &mut Incident, o: &Observation<'_>) -> EventKind {
    let had: Vec<Family> = inc.families();
    let new_family = inc.windows > 0 && o.tags.iter().any(|t| !had.contains(&Family::of(t)));
    let rose = inc.windows > 0 && o.label > inc.peak_label;
    let first = inc.windows == 0;
    let score = if o.score.is_finite() { o.score } else { 0.0 };
    if first || score > inc.peak_score || o.label > inc.peak_label {
        inc.peak_score = if first {
            score
        } else {
            inc.peak_score.max(score)
        };
        inc.model_id = o.model_id.to_string();
        inc.explanation = o.explanation.to_string();
    }
    inc.peak_label = inc.peak_label.max(o.label);
    inc.windows = inc.windows.saturating_add(1);
    inc.first_seen = inc.first_seen.min(o.start);
    inc.last_seen = inc.last_seen.max(o.end);
    inc.updated_at = o.end;
    for t in o.tags {
        *inc.reasons.entry((*t).to_string()).or_insert(0) += 1;
    }
    let mut seen: Vec<String> = Vec::new();
    for d in o.domains {
        let Some(d) = sanitise_domain(d) else {
            continue;
        };
        if seen.contains(&d) {
            continue;
        }
        if let Some(n) = inc.domains.get_mut(&d) {
            *n = n.saturating_add(1);
        } else if inc.domains.len() < MAX_DOMAINS {
            inc.domains.insert(d.clone(), 1);
        }
        seen.push(d);
    }
    if rose || new_family {
        EventKind::Escalated
    } else if inc.windows == 1 {
        EventKind::Opened
    } else {
        EventKind::Updated
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60;

    fn obs<'a>(host: &'a str, end: i64, label: Label, tags: &'a [&'a str]) -> Observation<'a> {
        Observation {
            host,
            start: end - 5 * MIN,
            end,
            score: match label {
                Label::Normal => 0.1,
                Label::Unusual => 0.5,
                Label::LikelyCompromise => 0.9,
            },
            label,
            tags,
            domains: &["bad.example", "cdn.example"],
            model_id: "m1",
            explanation: "because",
        }
    }

    fn kinds(ev: &[IncidentEvent]) -> Vec<EventKind> {
        ev.iter().map(|e| e.kind).collect()
    }

    const T0: i64 = 1_700_000_100;

    #[test]
    fn open_join_and_close_after_the_quiet_period() {
        let mut t = Tracker::new(IncidentConfig::default());
        let mut ev = Vec::new();
        let dga = ["nxdomain_spike"];
        assert_eq!(t.observe(&obs("h", T0, Label::Normal, &[]), &mut ev), None);
        let id = t.observe(&obs("h", T0 + 5 * MIN, Label::Unusual, &dga), &mut ev);
        assert_eq!(id, Some(1));
        // Consecutive, then after one quiet window: the same incident.
        assert_eq!(
            t.observe(&obs("h", T0 + 10 * MIN, Label::Unusual, &dga), &mut ev),
            id
        );
        assert_eq!(
            t.observe(
                &obs("h", T0 + 20 * MIN, Label::Unusual, &["dga_like_names"]),
                &mut ev
            ),
            id,
            "one quiet window between flags; dga_like_names is the same family"
        );
        assert_eq!(
            kinds(&ev),
            [EventKind::Opened, EventKind::Updated, EventKind::Updated]
        );
        ev.clear();
        // 10 min after the last flag: still open.
        t.close_until(T0 + 30 * MIN, &mut ev);
        assert!(ev.is_empty());
        assert_eq!(t.open_count(), 1);
        // 15 min after: closed at last flag + quiet.
        t.close_until(T0 + 35 * MIN, &mut ev);
        assert_eq!(kinds(&ev), [EventKind::Closed]);
        let c = &ev[0].incident;
        assert_eq!(c.status, Status::Closed);
        assert_eq!(c.closed_at, Some(T0 + 35 * MIN));
        assert_eq!((c.first_seen, c.last_seen), (T0, T0 + 20 * MIN));
        assert_eq!(c.windows, 3);
        assert_eq!(c.reasons["nxdomain_spike"], 2);
        assert_eq!(c.reasons["dga_like_names"], 1);
        assert_eq!(c.top_domains()[0], ("bad.example", 3));
        assert_eq!(t.open_count(), 0);
        // The next flag opens a new incident.
        ev.clear();
        assert_eq!(
            t.observe(&obs("h", T0 + 40 * MIN, Label::Unusual, &dga), &mut ev),
            Some(2)
        );
        assert_eq!(kinds(&ev), [EventKind::Opened]);
    }

    #[test]
    fn a_flag_after_the_quiet_period_closes_and_opens_without_a_batch_close() {
        let mut t = Tracker::new(IncidentConfig::default());
        let mut ev = Vec::new();
        t.observe(&obs("h", T0, Label::Unusual, &["query_burst"]), &mut ev);
        ev.clear();
        let id = t.observe(
            &obs("h", T0 + 15 * MIN, Label::Unusual, &["query_burst"]),
            &mut ev,
        );
        assert_eq!(id, Some(2));
        assert_eq!(kinds(&ev), [EventKind::Closed, EventKind::Opened]);
        assert_eq!(ev[0].incident.closed_at, Some(T0 + 15 * MIN));
    }

    #[test]
    fn escalates_on_a_label_rise_and_on_a_new_family_only() {
        let mut t = Tracker::new(IncidentConfig::default());
        let mut ev = Vec::new();
        t.observe(&obs("h", T0, Label::Unusual, &["brand_lookalike"]), &mut ev);
        t.observe(
            &obs("h", T0 + 5 * MIN, Label::Unusual, &["lure_follow_up"]),
            &mut ev,
        );
        t.observe(
            &obs(
                "h",
                T0 + 10 * MIN,
                Label::LikelyCompromise,
                &["risky_domains"],
            ),
            &mut ev,
        );
        t.observe(
            &obs("h", T0 + 15 * MIN, Label::Unusual, &["risky_domains"]),
            &mut ev,
        );
        t.observe(
            &obs("h", T0 + 20 * MIN, Label::Unusual, &["encoded_subdomains"]),
            &mut ev,
        );
        t.observe(
            &obs("h", T0 + 25 * MIN, Label::LikelyCompromise, &[]),
            &mut ev,
        );
        assert_eq!(
            kinds(&ev),
            [
                EventKind::Opened,
                EventKind::Updated,   // same family (phishing)
                EventKind::Escalated, // Unusual -> Likely Compromise
                EventKind::Updated,   // lower label, same family
                EventKind::Escalated, // new family: tunnel
                EventKind::Updated,   // Likely again: not a rise
            ]
        );
        let last = &ev[5].incident;
        assert_eq!(last.peak_label, Label::LikelyCompromise);
        assert_eq!(last.peak_score, 0.9);
        assert_eq!(last.windows, 6);
        assert_eq!(last.families(), [Family::Tunnel, Family::Phishing]);
        assert!(ev.iter().all(|e| e.incident.id == 1));
        assert_eq!(t.stats().escalated, 2);
    }

    #[test]
    fn host_cap_evicts_the_oldest_and_counts_it() {
        let mut t = Tracker::new(IncidentConfig {
            max_hosts: 2,
            ..Default::default()
        });
        let mut ev = Vec::new();
        t.observe(&obs("a", T0, Label::Unusual, &["beaconing"]), &mut ev);
        t.observe(&obs("b", T0 + MIN, Label::Unusual, &["beaconing"]), &mut ev);
        t.observe(
            &obs("a", T0 + 2 * MIN, Label::Unusual, &["beaconing"]),
            &mut ev,
        );
        ev.clear();
        // b's last flag is now the oldest.
        let id = t.observe(
            &obs("c", T0 + 3 * MIN, Label::Unusual, &["beaconing"]),
            &mut ev,
        );
        assert_eq!(id, Some(3));
        assert_eq!(kinds(&ev), [EventKind::Closed, EventKind::Opened]);
        assert_eq!(ev[0].incident.host, "b");
        assert_eq!(ev[0].incident.closed_at, Some(T0 + 3 * MIN));
        assert_eq!(t.open_count(), 2);
        assert_eq!(t.stats().evicted, 1);
        assert!(t.open_incident("a").is_some() && t.open_incident("b").is_none());
    }

    #[test]
    fn resume_continues_an_open_incident_and_ids_go_on() {
        let mut t = Tracker::new(IncidentConfig::default());
        let mut ev = Vec::new();
        t.observe(&obs("h", T0, Label::Unusual, &["nxdomain_spike"]), &mut ev);
        let held = t.open_incident("h").cloned().unwrap();
        let mut r = Tracker::new(IncidentConfig::default());
        r.resume(vec![held], 7);
        ev.clear();
        assert_eq!(
            r.observe(
                &obs("h", T0 + 5 * MIN, Label::Unusual, &["nxdomain_spike"]),
                &mut ev
            ),
            Some(1)
        );
        assert_eq!(ev[0].incident.windows, 2);
        assert_eq!(
            r.observe(&obs("g", T0 + 5 * MIN, Label::Unusual, &[]), &mut ev),
            Some(8)
        );
    }

    #[test]
    fn older_traffic_does_not_stretch_an_open_incident() {
        let mut t = Tracker::new(IncidentConfig::default());
        let mut ev = Vec::new();
        t.observe(&obs("h", T0 + 86_400, Label::Unusual, &[]), &mut ev);
        ev.clear();
        assert_eq!(
            t.observe(&obs("h", T0, Label::Unusual, &[]), &mut ev),
            Some(2)
        );
        assert_eq!(kinds(&ev), [EventKind::Closed, EventKind::Opened]);
    }

    #[test]
    fn domains_are_sanitised_and_bounded() {
        let mut t = Tracker::new(IncidentConfig::default());
        let mut ev = Vec::new();
        let names: Vec<String> = (0..100).map(|i| format!("d{i}.example")).collect();
        let mut refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let long = "x".repeat(400);
        refs.push("evil\n\u{7}name.example");
        refs.push(&long);
        refs.push("");
        let o = Observation {
            domains: &refs,
            ..obs("h", T0, Label::Unusual, &[])
        };
        t.observe(&o, &mut ev);
        let inc = t.open_incident("h").unwrap();
        assert_eq!(inc.domains.len(), MAX_DOMAINS);
        assert_eq!(
            sanitise_domain("evil\n\u{7}name.example").unwrap(),
            "evil??name.example"
        );
        assert_eq!(sanitise_domain(&long).unwrap().len(), 253);
        assert_eq!(sanitise_domain("   "), None);
    }
}
