//! Labelled DNS traffic simulator.
//!
//! Generates per-client DNS lookups for a small office network, benign traffic
//! from three host profiles plus labelled incidents, as JSONL events the replay
//! pipeline ingests (and optionally as a pcap of the same lookups). The output
//! trains the isolation-forest model on benign windows and evaluates detection
//! per scenario, so:
//!
//! * benign traffic is *varied*: workstations follow a working day with
//!   browsing bursts (site + its CDN/API/static subdomains + third-party
//!   trackers), idle stretches and background OS/app polling; servers resolve a
//!   few update/NTP/monitoring names at a steady low rate, mail servers add MX,
//!   SPF/DMARC/DKIM TXT and PTR lookups (with the NXDOMAIN share real PTR
//!   lookups have); IoT devices poll one or two vendor endpoints on a fixed
//!   period (benign beacons). Popularity is Zipf over ranked real lists, with a
//!   trickle of never-seen real domains, typos and search-suffix misses
//!   (NXDOMAIN), occasional SERVFAIL and timeouts, A+AAAA pairs, HTTPS records,
//!   legitimate `login`/`secure`/`account` names and a few high-entropy benign
//!   names (CDN hashes, AV reputation look-ups);
//! * incidents ([`Scenario`]) are modelled on real tools and samples: DGA
//!   families' real domains, iodine/dns2tcp/dnscat2 payload shapes (partly
//!   replayed from captures), low-and-slow encoded exfiltration, lookalike
//!   phishing domains (including punycode homoglyphs), and NXDOMAIN storms
//!   (water torture, random names, typo floods). Each incident emits its first
//!   malicious lookup at its start time.
//!
//! Determinism: every random stream is derived from [`SimConfig::seed`] (see
//! `rng`), and events are stably sorted by timestamp, so the same configuration
//! gives byte-identical JSONL and pcap output.
//!
//! A response with `response_bytes == 0` means *no response* (timeout): the
//! JSONL `rcode` is then `null` and the pcap holds only the query.

mod benign;
mod incidents;
mod lists;
mod names;
mod pcap;
mod resolve;
mod rng;

pub use incidents::InjectedIncident;
pub use lists::DomainLists;
pub use pcap::write_pcap;

use crate::event::{qtype, rcode_name, TsMicros, MICROS};
use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::IpAddr;
use std::str::FromStr;

/// Errors from configuring the simulator or loading its lists.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A scenario name that is not one of [`Scenario::ALL`].
    #[error("unknown scenario {0:?} (expected one of dga_beacon, dns_tunnel, slow_exfil, phishing, nxdomain_storm)")]
    UnknownScenario(String),
    /// A configuration value out of range.
    #[error("invalid simulator configuration: {0}")]
    InvalidConfig(String),
    /// A required name list is empty.
    #[error("domain list {0:?} is empty")]
    EmptyList(&'static str),
    /// Reading a list file failed.
    #[error("reading {path}: {source}")]
    Io {
        /// File or directory.
        path: String,
        /// Underlying error.
        #[source]
        source: io::Error,
    },
}

/// Malicious behaviours the simulator can inject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// Periodic batches of DGA lookups, almost all NXDOMAIN.
    DgaBeacon,
    /// High-rate encoded queries under one domain (iodine, dns2tcp, dnscat2).
    DnsTunnel,
    /// One encoded query every 10–60 s under one domain.
    SlowExfil,
    /// A user following a link to lookalike domains.
    Phishing,
    /// Hundreds to thousands of mostly-NXDOMAIN lookups per minute.
    NxdomainStorm,
}

impl Scenario {
    /// Every scenario, in a fixed order.
    pub const ALL: [Scenario; 5] = [
        Scenario::DgaBeacon,
        Scenario::DnsTunnel,
        Scenario::SlowExfil,
        Scenario::Phishing,
        Scenario::NxdomainStorm,
    ];

    /// The label used in JSONL (`dga_beacon`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Scenario::DgaBeacon => "dga_beacon",
            Scenario::DnsTunnel => "dns_tunnel",
            Scenario::SlowExfil => "slow_exfil",
            Scenario::Phishing => "phishing",
            Scenario::NxdomainStorm => "nxdomain_storm",
        }
    }
}

impl std::fmt::Display for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scenario {
    type Err = SimError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase().replace('-', "_");
        Scenario::ALL
            .into_iter()
            .find(|sc| sc.as_str() == t)
            .ok_or_else(|| SimError::UnknownScenario(s.to_string()))
    }
}

/// Simulation parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Number of client hosts (default 20).
    pub hosts: usize,
    /// Length of the run in hours (default 6).
    pub hours: f64,
    /// RNG seed (default 1).
    pub seed: u64,
    /// Start of the run (default 2024-03-04T08:00:00Z, a Monday morning; local
    /// time is taken as UTC).
    pub start: DateTime<Utc>,
    /// Scenarios to inject (default all five). Empty: benign only.
    pub scenarios: Vec<Scenario>,
    /// How many hosts get incidents (default `max(1, hosts / 5)`; capped at
    /// `hosts`).
    pub incident_hosts: usize,
}

impl SimConfig {
    /// Default configuration for `hosts` hosts (incident hosts scaled with it).
    pub fn with_hosts(hosts: usize) -> Self {
        SimConfig {
            hosts,
            incident_hosts: (hosts / 5).max(1),
            ..SimConfig::default()
        }
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            hosts: 20,
            hours: 6.0,
            seed: 1,
            start: Utc
                .with_ymd_and_hms(2024, 3, 4, 8, 0, 0)
                .single()
                .unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
            scenarios: Scenario::ALL.to_vec(),
            incident_hosts: 4,
        }
    }
}

/// Upper bounds that keep a run bounded in time and memory.
pub const MAX_HOSTS: usize = 5_000;
/// Longest run, in hours.
pub const MAX_HOURS: f64 = 24.0 * 31.0;

/// One simulated lookup (query plus its response, if any).
#[derive(Debug, Clone, PartialEq)]
pub struct SimEvent {
    /// Query time, microseconds since the Unix epoch.
    pub ts: TsMicros,
    /// Client address.
    pub host: IpAddr,
    /// Queried name, lowercase, no trailing dot.
    pub domain: String,
    /// Query type number.
    pub qtype: u16,
    /// Response code (meaningless when [`SimEvent::answered`] is false).
    pub rcode: u16,
    /// A/AAAA addresses in the answer.
    pub answers: Vec<IpAddr>,
    /// Answer TTL (smallest), when the response carried records.
    pub ttl: Option<u32>,
    /// Resolver asked.
    pub server: IpAddr,
    /// Size of the DNS response message; 0 = no response.
    pub response_bytes: u32,
    /// Query→response time in milliseconds (0 when unanswered).
    pub latency_ms: f32,
    /// `benign` or `malicious`.
    pub label: &'static str,
    /// `benign` or the [`Scenario::as_str`] of the incident.
    pub scenario: &'static str,
}

impl SimEvent {
    /// Whether a response was sent (a DNS message is at least 12 bytes, so 0
    /// unambiguously means none).
    pub fn answered(&self) -> bool {
        self.response_bytes > 0
    }

    /// Whether this is a malicious (incident) lookup.
    pub fn is_malicious(&self) -> bool {
        self.label == LABEL_MALICIOUS
    }
}

/// Label of benign events (also their scenario).
pub const LABEL_BENIGN: &str = "benign";
/// Label of incident events.
pub const LABEL_MALICIOUS: &str = "malicious";

/// A configured simulation. Generation is lazy and repeatable: every call of
/// [`Simulator::events`] returns the same events.
#[derive(Debug, Clone)]
pub struct Simulator {
    cfg: SimConfig,
    lists: DomainLists,
    hosts: Vec<benign::Host>,
    incidents: Vec<InjectedIncident>,
}

impl Simulator {
    /// Validate `cfg` and `lists` and plan hosts and incidents.
    pub fn new(cfg: SimConfig, lists: DomainLists) -> Result<Self, SimError> {
        if cfg.hosts == 0 || cfg.hosts > MAX_HOSTS {
            return Err(SimError::InvalidConfig(format!(
                "hosts must be 1..={MAX_HOSTS}, got {}",
                cfg.hosts
            )));
        }
        if !cfg.hours.is_finite() || cfg.hours <= 0.0 || cfg.hours > MAX_HOURS {
            return Err(SimError::InvalidConfig(format!(
                "hours must be in (0, {MAX_HOURS}], got {}",
                cfg.hours
            )));
        }
        lists.validate()?;
        let hosts = benign::plan_hosts(&cfg);
        let incidents = incidents::plan(&cfg, &hosts, &lists);
        Ok(Simulator {
            cfg,
            lists,
            hosts,
            incidents,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// The planned incidents (host, scenario, start, end), in plan order.
    pub fn incidents(&self) -> &[InjectedIncident] {
        &self.incidents
    }

    /// Client addresses with their profile name (`workstation`, `server`, `iot`).
    pub fn hosts(&self) -> Vec<(IpAddr, &'static str)> {
        self.hosts
            .iter()
            .map(|h| (h.ip, h.profile.name()))
            .collect()
    }

    /// Start and end of the run, microseconds.
    fn span(&self) -> (TsMicros, TsMicros) {
        let start = self.cfg.start.timestamp_micros();
        let len = (self.cfg.hours * 3600.0 * MICROS as f64) as i64;
        (start, start.saturating_add(len))
    }

    /// Generate all events, sorted by timestamp (ties keep generation order,
    /// which is deterministic).
    pub fn events(&self) -> Vec<SimEvent> {
        let (start, end) = self.span();
        let ctx = resolve::Ctx::new(&self.lists, self.cfg.seed);
        let mut out = Vec::new();
        for h in &self.hosts {
            benign::generate(&ctx, h, start, end, &mut out);
        }
        for (i, inc) in self.incidents.iter().enumerate() {
            if let Some(h) = self.hosts.iter().find(|h| h.ip == inc.host) {
                incidents::generate(&ctx, h, inc, i, &mut out);
            }
        }
        out.retain(|e| e.ts >= start && e.ts < end);
        out.sort_by_key(|e| e.ts);
        out
    }
}

/// Counts over a written event stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SimSummary {
    /// Events written.
    pub events: u64,
    /// Events per scenario name (`benign` included).
    pub per_scenario: BTreeMap<String, u64>,
    /// Distinct client hosts.
    pub hosts: u64,
    /// Events labelled malicious.
    pub malicious: u64,
}

impl SimSummary {
    /// Summarise events without writing them.
    pub fn of(events: &[SimEvent]) -> Self {
        let mut s = SimSummary::default();
        let mut hosts = rustc_hash::FxHashSet::default();
        for e in events {
            s.add(e);
            hosts.insert(e.host);
        }
        s.hosts = hosts.len() as u64;
        s
    }

    fn add(&mut self, e: &SimEvent) {
        self.events += 1;
        *self.per_scenario.entry(e.scenario.to_string()).or_default() += 1;
        if e.is_malicious() {
            self.malicious += 1;
        }
    }
}

#[derive(Serialize)]
struct JsonLine<'a> {
    ts: String,
    host: IpAddr,
    domain: &'a str,
    qtype: std::borrow::Cow<'static, str>,
    rcode: Option<std::borrow::Cow<'static, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    answers: Option<&'a [IpAddr]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<u32>,
    server: IpAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_bytes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_ms: Option<f32>,
    label: &'static str,
    scenario: &'static str,
}

/// RFC 3339 UTC timestamp with milliseconds (`2024-03-04T08:00:00.123Z`).
pub use crate::time::rfc3339_millis as format_ts;

/// Write events as JSONL (one object per line, in the given order) and return
/// what was written. `answers` appears only on answered A/AAAA NOERROR lines;
/// unanswered lookups have `"rcode": null` and no `response_bytes`/`latency_ms`.
pub fn write_jsonl<W: Write>(events: &[SimEvent], mut w: W) -> io::Result<SimSummary> {
    let mut s = SimSummary::default();
    let mut hosts = rustc_hash::FxHashSet::default();
    let mut line = Vec::with_capacity(512);
    for e in events {
        let answered = e.answered();
        let addr_type = e.qtype == qtype::A || e.qtype == qtype::AAAA;
        let j = JsonLine {
            ts: format_ts(e.ts),
            host: e.host,
            domain: &e.domain,
            qtype: qtype::name(e.qtype),
            rcode: answered.then(|| rcode_name(e.rcode)),
            answers: (answered && addr_type && e.rcode == 0).then_some(e.answers.as_slice()),
            ttl: if answered { e.ttl } else { None },
            server: e.server,
            response_bytes: answered.then_some(e.response_bytes),
            latency_ms: answered.then_some(e.latency_ms),
            label: e.label,
            scenario: e.scenario,
        };
        line.clear();
        serde_json::to_writer(&mut line, &j).map_err(io::Error::other)?;
        line.push(b'\n');
        w.write_all(&line)?;
        s.add(e);
        hosts.insert(e.host);
    }
    w.flush()?;
    s.hosts = hosts.len() as u64;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names_round_trip() {
        for s in Scenario::ALL {
            assert_eq!(s.as_str().parse::<Scenario>().unwrap(), s);
            assert_eq!(s.to_string(), s.as_str());
        }
        assert_eq!(
            "DGA-Beacon".parse::<Scenario>().unwrap(),
            Scenario::DgaBeacon
        );
        assert!("dga".parse::<Scenario>().is_err());
    }

    #[test]
    fn default_config_matches_brief() {
        let c = SimConfig::default();
        assert_eq!(c.hosts, 20);
        assert_eq!(c.incident_hosts, 4);
        assert_eq!(c.seed, 1);
        assert_eq!(
            format_ts(c.start.timestamp_micros()),
            "2024-03-04T08:00:00.000Z"
        );
        assert_eq!(c.scenarios.len(), 5);
        assert_eq!(SimConfig::with_hosts(3).incident_hosts, 1);
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let l = DomainLists::embedded();
        for cfg in [
            SimConfig {
                hosts: 0,
                ..SimConfig::default()
            },
            SimConfig {
                hours: 0.0,
                ..SimConfig::default()
            },
            SimConfig {
                hours: f64::NAN,
                ..SimConfig::default()
            },
        ] {
            assert!(matches!(
                Simulator::new(cfg, l.clone()),
                Err(SimError::InvalidConfig(_))
            ));
        }
        assert!(matches!(
            Simulator::new(SimConfig::default(), DomainLists::default()),
            Err(SimError::EmptyList(_))
        ));
    }

    #[test]
    fn unanswered_lines_have_null_rcode() {
        let e = SimEvent {
            ts: 1_709_539_200_123_456,
            host: "10.20.1.10".parse().unwrap(),
            domain: "x.example.com".into(),
            qtype: qtype::A,
            rcode: 0,
            answers: vec![],
            ttl: None,
            server: "10.20.0.53".parse().unwrap(),
            response_bytes: 0,
            latency_ms: 0.0,
            label: LABEL_BENIGN,
            scenario: LABEL_BENIGN,
        };
        let mut buf = Vec::new();
        write_jsonl(std::slice::from_ref(&e), &mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert!(v["rcode"].is_null());
        assert_eq!(v["ts"], "2024-03-04T08:00:00.123Z");
        assert!(v.get("response_bytes").is_none());
    }
}
