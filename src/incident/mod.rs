//! Incidents, not windows: consecutive flagged windows of one host with
//! related reasons become one incident that is opened, updated, escalated and
//! closed after a quiet period of packet time.
//!
//! This module owns the incident unit: its state ([`Incident`]), its
//! thresholds ([`IncidentConfig`]: quiet period, host cap), its memory bound
//! and the events it emits ([`IncidentEvent`]). The pure core is
//! [`Tracker`] (`tracker.rs`): it is fed one window at a time
//! ([`Observation`]) and never reads the wall clock, so replay, simulate,
//! capture and `evaluate` agree. The sensor feeds it after scoring each batch
//! and stores the incidents it touched in the same transaction as the
//! windows (`crate::store`); the outputs send one alert per
//! [`EventKind::Opened`] and one per [`EventKind::Escalated`].
//!
//! It sits in the bottom layer beside `evaluate` (it names only
//! [`crate::model::Label`]), so `evaluate` runs the same tracker.
//!
//! # Rules
//!
//! * **Flagged.** A window is flagged when its label is not Normal.
//! * **Families.** Reason tags are grouped into related families
//!   ([`Family::of`]): `dga` (`nxdomain_spike`, `dga_like_names`), `tunnel`
//!   (`encoded_subdomains`, `long_random_subdomains`, `tunnel_like_qtypes`),
//!   `phishing` (`brand_lookalike`, `lure_follow_up`, `risky_domains`),
//!   `intel` (`threat_intel`), `volume` (`query_burst`, `servfail_spike`),
//!   `beacon` (`beaconing`) and `other` (anything else, e.g.
//!   `new_domain_burst`).
//! * **Joining.** A host has at most one open incident. A flagged window of the
//!   host joins it when the window ends less than `quiet` after the
//!   incident's last flagged window ended (and not `quiet` or more before
//!   it, for a replay of older traffic): with 5-minute windows and the default
//!   15-minute quiet period, flags in consecutive windows, or with one quiet
//!   window between them, stay one incident. A window with reasons of a
//!   *different* family joins as well, as an escalation: the same host
//!   misbehaving in a new way within minutes is one story for an analyst
//!   (a phishing click followed by a tunnel), and splitting it would page
//!   twice for one compromise. Otherwise the open incident is closed and a new
//!   one opened.
//! * **Escalation.** A joining window escalates the incident when its label is
//!   above the incident's peak label, or when it brings a reason family the
//!   incident did not have yet; any other joining window is an update.
//! * **Closing.** After every batch the tracker closes each incident whose
//!   last flagged window ended `quiet` or more before the batch's latest window
//!   end (packet time); `closed_at` = last flagged end + `quiet`, so the
//!   result does not depend on how windows were batched. Nothing is closed
//!   when a run finishes: open incidents are stored and a restarted sensor
//!   loads them ([`Tracker::resume`]) and continues them.
//! * **Memory bound.** At most [`IncidentConfig::max_hosts`] open incidents
//!   (one per host) are held, each a few hundred bytes (reason counts are
//!   bounded by the number of tags, domains by [`MAX_DOMAINS`]). Opening one
//!   more first closes the one whose last flag is oldest (`closed_at` = the
//!   new window's end) and counts it ([`TrackerStats::evicted`], reported as
//!   the bound `incident_hosts`).

mod tracker;

pub use tracker::{Tracker, TrackerStats};

use crate::model::Label;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Default quiet period, seconds of packet time (15 minutes).
pub const DEFAULT_QUIET_S: i64 = 15 * 60;
/// Default cap on hosts with an open incident.
pub const DEFAULT_MAX_HOSTS: usize = 10_000;
/// Distinct domains counted per incident (the first ones seen are kept).
pub const MAX_DOMAINS: usize = 32;
/// Domains reported per incident (most frequent first).
pub const REPORTED_DOMAINS: usize = 5;
/// Longest domain kept, in bytes (a DNS name is at most 253).
pub const MAX_DOMAIN_LEN: usize = 253;

/// Thresholds of the tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncidentConfig {
    /// Quiet period in seconds: an incident closes once this much packet time
    /// has passed since its last flagged window ended.
    pub quiet_s: i64,
    /// Hosts with an open incident held at once.
    pub max_hosts: usize,
}

impl Default for IncidentConfig {
    fn default() -> Self {
        IncidentConfig {
            quiet_s: DEFAULT_QUIET_S,
            max_hosts: DEFAULT_MAX_HOSTS,
        }
    }
}

/// A group of related reason tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// Failed lookups of generated names.
    Dga,
    /// Data carried in names or rare record types.
    Tunnel,
    /// Lookalikes, lures and what follows them.
    Phishing,
    /// A threat-intel list hit.
    Intel,
    /// Rate and failure storms.
    Volume,
    /// Periodic lookups.
    Beacon,
    /// Anything else.
    Other,
}

impl Family {
    /// The family of a reason tag.
    pub fn of(tag: &str) -> Family {
        match tag {
            "nxdomain_spike" | "dga_like_names" => Family::Dga,
            "encoded_subdomains" | "long_random_subdomains" | "tunnel_like_qtypes" => {
                Family::Tunnel
            }
            "brand_lookalike" | "lure_follow_up" | "risky_domains" => Family::Phishing,
            "threat_intel" => Family::Intel,
            "query_burst" | "servfail_spike" => Family::Volume,
            "beaconing" => Family::Beacon,
            _ => Family::Other,
        }
    }

    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Dga => "dga",
            Family::Tunnel => "tunnel",
            Family::Phishing => "phishing",
            Family::Intel => "intel",
            Family::Volume => "volume",
            Family::Beacon => "beacon",
            Family::Other => "other",
        }
    }
}

/// Open or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Still collecting windows.
    Open,
    /// Quiet for the quiet period (or evicted at the host cap).
    Closed,
}

impl Status {
    /// `open` or `closed` (the `incidents.status` value).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Closed => "closed",
        }
    }

    /// Parse [`as_str`](Self::as_str).
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "open" => Some(Status::Open),
            "closed" => Some(Status::Closed),
            _ => None,
        }
    }
}

/// One incident. Times are unix seconds of packet time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    /// Id (the `incidents` row id when stored).
    pub id: i64,
    /// Client host.
    pub host: String,
    /// Open or closed.
    pub status: Status,
    /// Start of its first flagged window.
    pub first_seen: i64,
    /// End of its last flagged window.
    pub last_seen: i64,
    /// When it closed (last flagged end + quiet, or the eviction time).
    pub closed_at: Option<i64>,
    /// Flagged windows in it.
    pub windows: u32,
    /// Highest score of its windows.
    pub peak_score: f64,
    /// Highest label of its windows.
    pub peak_label: Label,
    /// Reason tag → windows that gave it.
    pub reasons: BTreeMap<String, u32>,
    /// Domain → flagged windows it was among the top or riskiest domains of
    /// (at most [`MAX_DOMAINS`] distinct, sanitised).
    pub domains: BTreeMap<String, u32>,
    /// Model that scored the peak window.
    pub model_id: String,
    /// Explanation of the peak window.
    pub explanation: String,
    /// Packet time of the last change (a window joined, or it closed).
    pub updated_at: i64,
}

impl Incident {
    /// The reason families it has.
    pub fn families(&self) -> Vec<Family> {
        let mut f: Vec<Family> = self.reasons.keys().map(|t| Family::of(t)).collect();
        f.sort_unstable();
        f.dedup();
        f
    }

    /// The [`REPORTED_DOMAINS`] most frequent domains (ties by name).
    pub fn top_domains(&self) -> Vec<(&str, u32)> {
        let mut d: Vec<(&str, u32)> = self.domains.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        d.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        d.truncate(REPORTED_DOMAINS);
        d
    }

    /// Reason tags, most windows first (ties by name).
    pub fn reason_tags(&self) -> Vec<(&str, u32)> {
        let mut r: Vec<(&str, u32)> = self.reasons.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        r.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        r
    }
}

/// What happened to an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// A flagged window opened it (alert).
    Opened,
    /// A joining window raised its label or brought a new reason family (alert).
    Escalated,
    /// A joining window added nothing new.
    Updated,
    /// Quiet for the quiet period, or evicted at the host cap.
    Closed,
}

impl EventKind {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Opened => "opened",
            EventKind::Escalated => "escalated",
            EventKind::Updated => "updated",
            EventKind::Closed => "closed",
        }
    }

    /// Whether the outputs alert on it (opened, escalated).
    pub fn alerts(self) -> bool {
        matches!(self, EventKind::Opened | EventKind::Escalated)
    }
}

/// One change of an incident, with the incident as it is after it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentEvent {
    /// What happened.
    pub kind: EventKind,
    /// The incident after the change.
    pub incident: Incident,
}

/// What a batch of windows did to incidents: the events (each with the
/// incident after it) and, parallel to the windows, the incident each joined.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentBatch {
    /// Incident events of the batch, in order.
    pub events: Vec<IncidentEvent>,
    /// Per window, the incident it joined or opened (`None`: not flagged, or
    /// incidents off). Empty means none.
    pub window_ids: Vec<Option<i64>>,
}

impl IncidentBatch {
    /// Empty it for the next batch.
    pub fn clear(&mut self) {
        self.events.clear();
        self.window_ids.clear();
    }
}

/// What the tracker needs of one scored window.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// Client host.
    pub host: &'a str,
    /// Window start, unix seconds.
    pub start: i64,
    /// Window end, unix seconds.
    pub end: i64,
    /// Score.
    pub score: f64,
    /// Label.
    pub label: Label,
    /// Reason tags.
    pub tags: &'a [&'a str],
    /// Domains worth naming (top and riskiest).
    pub domains: &'a [&'a str],
    /// Model that scored it.
    pub model_id: &'a str,
    /// Its explanation.
    pub explanation: &'a str,
}

/// A domain fit to store and show: control characters replaced by `?`, at
/// most [`MAX_DOMAIN_LEN`] bytes (cut at a character boundary). `None` when
/// nothing is left.
pub fn sanitise_domain(d: &str) -> Option<String> {
    let mut s = String::with_capacity(d.len().min(MAX_DOMAIN_LEN));
    for c in d.chars() {
        let c = if c.is_control() { '?' } else { c };
        if s.len() + c.len_utf8() > MAX_DOMAIN_LEN {
            break;
        }
        s.push(c);
    }
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Parse a label name as stored (`Normal`, `Unusual`, `Likely Compromise`).
pub fn parse_label(s: &str) -> Option<Label> {
    match s {
        "Normal" => Some(Label::Normal),
        "Unusual" => Some(Label::Unusual),
        "Likely Compromise" => Some(Label::LikelyCompromise),
        _ => None,
    }
}
