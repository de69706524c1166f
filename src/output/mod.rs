//! Outputs beyond SQLite: NDJSON lines ([`ndjson`]), Suricata EVE ([`eve`]),
//! Zeek `dns.log` ([`zeek`]), syslog ([`syslog`]), webhook alerts
//! ([`webhook`]) and Prometheus metrics with a health endpoint ([`metrics`]).
//!
//! This module sits after [`crate::detect`] in the one-way dependency order
//! (`decode → aggregate → detect → store/output`): it reads lookups, closed
//! windows and verdicts and never calls back into the pipeline.
//!
//! [`OutputsConfig`] is the plain, `serde`-deserialisable description of which
//! outputs to run (command-line flags and a configuration file both fill it);
//! [`Outputs::start`] opens them all and hands back one value the command's
//! window sink feeds:
//!
//! * [`Outputs::lookup`] — every enriched lookup (hot path: an atomic add, and
//!   an allocation-free NDJSON line when lookup lines are on);
//! * [`Outputs::batch`] — each batch of closed windows with their verdicts
//!   and incident events (NDJSON window lines, one NDJSON and webhook alert
//!   per incident opened or escalated, verdict and incident counters);
//! * [`Outputs::publish_stats`] — the pipeline's counters, for `/metrics`;
//! * [`Outputs::finish`] — flush NDJSON and drain the webhook at the end of a
//!   run (the metrics server keeps serving until the value is dropped).
//!
//! Nothing here blocks the caller on the network: webhook delivery has its own
//! thread behind a bounded queue, and the metrics server its own thread that
//! only reads atomics.

pub mod breaker;
pub mod community_id;
pub mod ecs;
pub mod eve;
pub mod kafka;
mod linefile;
pub mod metrics;
pub mod ndjson;
pub mod syslog;
pub mod webhook;
pub mod zeek;

use crate::aggregate::HostWindow;
use crate::detect::Verdict;
use crate::enrich::Enrichment;
use crate::event::{Lookup, MICROS};
use crate::incident::IncidentBatch;
use crate::stats::Stats;
use eve::{EveConfig, EveWriter};
use kafka::{KafkaConfig, KafkaOutput};
use metrics::{Metrics, MetricsServer};
use ndjson::{NdjsonConfig, NdjsonWriter};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use syslog::{Syslog, SyslogConfig};
use webhook::{Webhook, WebhookConfig};
use zeek::{ZeekConfig, ZeekWriter};

/// Errors starting or running an output.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    /// Invalid settings.
    #[error("{0}")]
    Config(String),
    /// Opening or writing an output file.
    #[error("NDJSON output {path}: {source}")]
    Io {
        /// The file (`-` for stdout).
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Opening or writing the file of another output (`what`: `EVE`, `Zeek`).
    #[error("{what} output {path}: {source}")]
    File {
        /// Which output.
        what: &'static str,
        /// The file (`-` for stdout).
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The metrics server could not start.
    #[error("metrics server on {addr}: {msg}")]
    Metrics {
        /// Requested address.
        addr: SocketAddr,
        /// Why.
        msg: String,
    },
    /// A worker thread could not be started.
    #[error("cannot start an output thread: {0}")]
    Thread(String),
}

/// Which outputs to run. Every part is optional; the default runs none.
///
/// ```
/// let cfg: sentineldns::output::OutputsConfig = serde_json::from_str(r#"{
///     "ndjson": {"path": "/var/log/sentineldns/events.ndjson", "lookups": true, "max_bytes": 104857600},
///     "webhook": {"url": "https://hooks.slack.com/services/T0/B0/x", "min_label": "unusual"},
///     "metrics": "127.0.0.1:9153"
/// }"#)?;
/// assert_eq!(cfg.ndjson.as_ref().map(|n| n.keep), Some(5));
/// assert!(cfg.webhook.is_some() && cfg.metrics.is_some());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputsConfig {
    /// NDJSON lines to stdout or a rotating file.
    pub ndjson: Option<NdjsonConfig>,
    /// Webhook alerts.
    pub webhook: Option<WebhookConfig>,
    /// Address for `/metrics` and `/healthz` (port 0 picks a free port).
    pub metrics: Option<SocketAddr>,
    /// Records published to Kafka (feature `kafka`).
    pub kafka: Option<KafkaConfig>,
    /// Suricata EVE `dns` records of every lookup.
    pub eve: Option<EveConfig>,
    /// A Zeek `dns.log` of every lookup (TSV or JSON).
    pub zeek: Option<ZeekConfig>,
    /// RFC 5424 syslog messages for verdicts and incidents.
    pub syslog: Option<SyslogConfig>,
}

impl OutputsConfig {
    /// Whether NDJSON (or EVE, or Zeek) goes to stdout (so the command's own
    /// stdout output must stay quiet).
    pub fn ndjson_on_stdout(&self) -> bool {
        self.stdout_outputs() > 0
    }

    /// How many line outputs write to stdout (at most one may).
    fn stdout_outputs(&self) -> usize {
        usize::from(self.ndjson.as_ref().is_some_and(NdjsonConfig::is_stdout))
            + usize::from(self.eve.as_ref().is_some_and(EveConfig::is_stdout))
            + usize::from(self.zeek.as_ref().is_some_and(ZeekConfig::is_stdout))
    }
}

/// The running outputs of one command.
#[derive(Debug)]
pub struct Outputs {
    ndjson: Option<NdjsonWriter>,
    webhook: Option<Webhook>,
    kafka: Option<KafkaOutput>,
    eve: Option<EveWriter>,
    zeek: Option<ZeekWriter>,
    syslog: Option<Syslog>,
    metrics: Arc<Metrics>,
    server: Option<MetricsServer>,
    lookup_lines: bool,
    triage: Option<crate::triage::Triage>,
    /// Triage states not yet taken by the store ([`Outputs::take_triage`]),
    /// in order: `pending` when an incident is handed to the model, then
    /// its result.
    triage_done: Vec<(i64, String, Option<String>)>,
    /// Incidents the webhook alerted whose triage has not arrived yet (id →
    /// alerts waiting): their triage goes to the webhook as an update. Only
    /// filled while triage is on; each triage record takes one out.
    webhook_awaits_triage: std::collections::HashMap<i64, u32>,
}

impl Outputs {
    /// Open every configured output: the NDJSON file, the webhook thread and
    /// the metrics server (bound before this returns). A registry is always
    /// created, so counters can be read even without a server.
    pub fn start(cfg: &OutputsConfig) -> Result<Self, OutputError> {
        if cfg.stdout_outputs() > 1 {
            return Err(OutputError::Config(
                "only one of the NDJSON, EVE and Zeek outputs can write to stdout (-)".into(),
            ));
        }
        let metrics = Arc::new(Metrics::default());
        let ndjson = cfg
            .ndjson
            .as_ref()
            .map(|c| NdjsonWriter::open(c, metrics.clone()))
            .transpose()?;
        let webhook = cfg
            .webhook
            .as_ref()
            .map(|c| Webhook::start(c, metrics.clone()))
            .transpose()?;
        let kafka = cfg
            .kafka
            .as_ref()
            .map(|c| KafkaOutput::start(c, metrics.clone()))
            .transpose()?;
        let eve = cfg
            .eve
            .as_ref()
            .map(|c| EveWriter::open(c, metrics.clone()))
            .transpose()?;
        let zeek = cfg
            .zeek
            .as_ref()
            .map(|c| ZeekWriter::open(c, metrics.clone()))
            .transpose()?;
        let syslog = cfg
            .syslog
            .as_ref()
            .map(|c| Syslog::start(c, metrics.clone()))
            .transpose()?;
        let server = cfg
            .metrics
            .map(|a| MetricsServer::start(a, metrics.clone()))
            .transpose()?;
        Ok(Outputs {
            eve,
            zeek,
            syslog,
            lookup_lines: ndjson.as_ref().is_some_and(NdjsonWriter::wants_lookups),
            ndjson,
            webhook,
            kafka,
            metrics,
            server,
            triage: None,
            triage_done: Vec::new(),
            webhook_awaits_triage: Default::default(),
        })
    }

    /// Start incident triage by a language model ([`crate::triage`]) as
    /// `cfg` says (nothing when its provider is `off`).
    pub fn start_triage(
        &mut self,
        cfg: &crate::triage::TriageConfig,
    ) -> Result<(), crate::triage::TriageError> {
        if let Some(mut old) = self.triage.take() {
            old.close();
        }
        self.triage = crate::triage::Triage::start(cfg, self.metrics.triage.clone())?;
        Ok(())
    }

    /// Whether triage is on.
    pub fn triage_on(&self) -> bool {
        self.triage.is_some()
    }

    /// Write triage records as NDJSON `incident_triage` lines.
    fn write_triage(&mut self, records: &[crate::triage::TriageRecord]) {
        if let Some(n) = &mut self.ndjson {
            for r in records {
                n.write_value(&r.ndjson());
            }
        }
        // The webhook gets the verdict of an incident it alerted, as an
        // update (triage without a verdict sends nothing).
        for r in records {
            if let Some(n) = self.webhook_awaits_triage.get_mut(&r.incident_id) {
                *n -= 1;
                if *n == 0 {
                    self.webhook_awaits_triage.remove(&r.incident_id);
                }
                if let Some(wh) = &self.webhook {
                    wh.offer_triage(r);
                }
            }
        }
        // On the incidents topic, keyed by host like the incident it
        // annotates: the collector stores it with the incident.
        if let Some(k) = &mut self.kafka {
            for r in records {
                k.incident(&r.host, &r.ndjson());
            }
        }
        self.triage_done.extend(records.iter().map(|r| {
            let verdict = r
                .triage
                .as_ref()
                .and_then(|v| serde_json::to_string(v).ok());
            (r.incident_id, r.triage_status.clone(), verdict)
        }));
    }

    /// Triage results finished since the last call, for the store: `(incident
    /// id, status, verdict JSON)` each ([`crate::store::Store::write_triage`]).
    pub fn take_triage(&mut self) -> Vec<(i64, String, Option<String>)> {
        std::mem::take(&mut self.triage_done)
    }

    /// The metrics registry (clone the `Arc` to bump it from other threads).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Where `/metrics` is served, when it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(MetricsServer::local_addr)
    }

    /// One enriched lookup (hot path; allocation-free).
    #[inline]
    pub fn lookup(&mut self, l: &Lookup<'_>, e: &Enrichment) {
        self.metrics.lookup(l.outcome);
        self.metrics.lookup_latency(l.latency_us);
        if self.lookup_lines {
            if let Some(n) = &mut self.ndjson {
                n.write_lookup(l, e);
            }
        }
        if let Some(k) = &mut self.kafka {
            k.lookup(l, e);
        }
        if let Some(w) = &mut self.eve {
            w.write_lookup(l);
        }
        if let Some(z) = &mut self.zeek {
            z.write_lookup(l);
        }
    }

    /// A batch of closed windows without incident tracking (see
    /// [`batch`](Self::batch)).
    pub fn windows(&mut self, windows: &[HostWindow], verdicts: &[Verdict]) {
        self.batch(windows, verdicts, &IncidentBatch::default());
    }

    /// A batch of closed windows and what they did to incidents. `verdicts`
    /// is empty when windows are not scored, otherwise one per window in
    /// order. Every window gets an NDJSON event line (naming its incident);
    /// then every incident that opened or escalated gets one NDJSON alert line
    /// and one webhook alert: alerts are per incident, not per window.
    pub fn batch(
        &mut self,
        windows: &[HostWindow],
        verdicts: &[Verdict],
        incidents: &IncidentBatch,
    ) {
        for (i, w) in windows.iter().enumerate() {
            let v = verdicts.get(i);
            self.metrics.window(w.end.div_euclid(MICROS));
            if let Some(v) = v {
                self.metrics.verdict(v.label);
            }
            let incident = incidents.window_ids.get(i).copied().flatten();
            if let (Some(s), Some(v)) = (&self.syslog, v) {
                s.offer_window(w, v, incident);
            }
            match (&mut self.ndjson, &mut self.kafka) {
                (n, Some(k)) if k.ships(kafka::Ship::Windows) => {
                    // One object for both outputs: the same JSON shape.
                    let line = ndjson::window_line_in(w, v, incident);
                    if let Some(n) = n {
                        n.write_window_value(&line);
                    }
                    k.window(w.host, &line);
                }
                (Some(n), _) => n.write_window_in(w, v, incident),
                (None, _) => {}
            }
        }
        let mut triaged = Vec::new();
        for e in &incidents.events {
            self.metrics.incident(e.kind);
            if !e.kind.alerts() {
                continue;
            }
            if let Some(s) = &self.syslog {
                s.offer_incident(e);
            }
            match (&mut self.ndjson, &mut self.kafka) {
                (n, Some(k)) if k.ships(kafka::Ship::Incidents) => {
                    let line = ndjson::incident_line(e);
                    if let Some(n) = n {
                        n.write_incident_value(&line);
                    }
                    k.incident(&e.incident.host, &line);
                }
                (Some(n), _) => n.write_incident(e),
                (None, _) => {}
            }
            if let Some(wh) = &self.webhook {
                if wh.offer_incident(e) && self.triage.is_some() {
                    *self.webhook_awaits_triage.entry(e.incident.id).or_default() += 1;
                }
            }
            if let Some(t) = &self.triage {
                // The window (and verdict) that opened or escalated it: the
                // last of the batch that joined it.
                let latest = incidents
                    .window_ids
                    .iter()
                    .rposition(|id| *id == Some(e.incident.id))
                    .and_then(|i| Some((windows.get(i)?, verdicts.get(i)?)));
                match t.offer(crate::triage::Evidence::new(e, latest)) {
                    // Stored until the result replaces it: the incident
                    // says its triage is on the way, not "off".
                    Ok(()) => self
                        .triage_done
                        .push((e.incident.id, "pending".to_string(), None)),
                    Err(rec) => triaged.push(*rec),
                }
            }
        }
        if let Some(t) = &self.triage {
            triaged.extend(t.drain());
        }
        self.write_triage(&triaged);
        if let Some(n) = &mut self.ndjson {
            n.flush();
        }
        if let Some(w) = &mut self.eve {
            w.flush();
        }
        if let Some(z) = &mut self.zeek {
            z.flush();
        }
    }

    /// One line per configured output saying what it did (for run summaries).
    pub fn summary_lines(&self) -> Vec<String> {
        use metrics::WebhookDrop;
        use std::sync::atomic::Ordering::Relaxed;
        let mut out = Vec::new();
        let n = &self.metrics.ndjson;
        if self.ndjson.is_some() {
            out.push(format!(
                "ndjson: {} window lines, {} incident lines, {} lookup lines, {} rotations, {} write errors",
                n.window_lines.load(Relaxed),
                n.incident_lines.load(Relaxed),
                n.lookup_lines.load(Relaxed),
                n.rotations.load(Relaxed),
                n.errors.load(Relaxed)
            ));
        }
        for (name, on, m) in [
            ("eve", self.eve.is_some(), &self.metrics.eve),
            ("zeek", self.zeek.is_some(), &self.metrics.zeek),
        ] {
            if on {
                out.push(format!(
                    "{name}: {} records, {} rotations, {} write errors",
                    m.lines.load(Relaxed),
                    m.rotations.load(Relaxed),
                    m.errors.load(Relaxed)
                ));
            }
        }
        if self.syslog.is_some() {
            let s = &self.metrics.syslog;
            out.push(format!(
                "syslog: {} sent, {} failed, {} queue full, {} at shutdown",
                s.sent.load(Relaxed),
                s.failed.load(Relaxed),
                s.queue_full.load(Relaxed),
                s.shutdown.load(Relaxed)
            ));
        }
        let w = &self.metrics.webhook;
        if self.webhook.is_some() {
            out.push(format!(
                "webhook: {} sent, {} failed, {} dropped ({} queue full, {} breaker open, {} at shutdown), {} retries, breaker {}",
                w.sent.load(Relaxed),
                w.failed.load(Relaxed),
                WebhookDrop::ALL.iter().map(|d| w.dropped_count(*d)).sum::<u64>(),
                w.dropped_count(WebhookDrop::QueueFull),
                w.dropped_count(WebhookDrop::BreakerOpen),
                w.dropped_count(WebhookDrop::Shutdown),
                w.retries.load(Relaxed),
                w.breaker().as_str()
            ));
        }
        if self.kafka.is_some() {
            use metrics::KafkaDrop;
            let k = &self.metrics.kafka;
            out.push(format!(
                "kafka: {} delivered, {} failed, {} dropped ({} queue full, {} rejected, {} at shutdown)",
                k.delivered.load(Relaxed),
                k.failed.load(Relaxed),
                KafkaDrop::ALL.iter().map(|d| k.dropped_count(*d)).sum::<u64>(),
                k.dropped_count(KafkaDrop::QueueFull),
                k.dropped_count(KafkaDrop::Rejected),
                k.dropped_count(KafkaDrop::Shutdown),
            ));
        }
        if self.triage.is_some() {
            let t = &self.metrics.triage;
            out.push(format!(
                "triage: {} verdicts, {} requests, {} retries, {} failed attempts, {} queue full, {} breaker open, {} at shutdown, breaker {}",
                t.ok.load(Relaxed),
                t.requests.load(Relaxed),
                t.retries.load(Relaxed),
                crate::triage::FailReason::ALL.iter().map(|r| t.failures(*r)).sum::<u64>(),
                t.queue_full.load(Relaxed),
                t.breaker_open.load(Relaxed),
                t.shutdown.load(Relaxed),
                t.breaker_state().as_str()
            ));
        }
        out
    }

    /// Copy the pipeline's counters into the registry.
    pub fn publish_stats(&self, s: &Stats) {
        self.metrics.publish_stats(s);
    }

    /// End of the run: flush NDJSON, deliver queued webhook alerts (within
    /// the grace period) and mark the input finished. The metrics server keeps
    /// serving until `self` is dropped. Returns the first write error (NDJSON, then EVE, then Zeek).
    pub fn finish(&mut self) -> Result<(), OutputError> {
        if let Some(wh) = &mut self.webhook {
            wh.close();
        }
        if let Some(k) = &mut self.kafka {
            k.close();
        }
        if let Some(s) = &mut self.syslog {
            s.close();
        }
        if let Some(mut t) = self.triage.take() {
            let rest = t.close();
            self.write_triage(&rest);
        }
        self.metrics.set_input_finished();
        let eve = self.eve.as_mut().map_or(Ok(()), EveWriter::finish);
        let zeek = self.zeek.as_mut().map_or(Ok(()), ZeekWriter::finish);
        let ndjson = self.ndjson.as_mut().map_or(Ok(()), NdjsonWriter::finish);
        ndjson.and(eve).and(zeek)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::aggregate::{AggregateConfig, Aggregator};
    use crate::detect::Reason;
    use crate::incident::Tracker;
    use crate::model::Label;
    use serde_json::Value;
    use std::sync::atomic::Ordering;

    /// A closed window of 60 failed lookups of random-looking names.
    pub(crate) fn dga_window(host: &str) -> HostWindow {
        let mut a = Aggregator::new(AggregateConfig::default());
        for i in 0..60 {
            let name = format!("xq{i}zvkrw.info");
            let l = Lookup {
                rcode: Some(3),
                ..Lookup::new(
                    1_709_539_200 * MICROS + i * MICROS,
                    host.parse().unwrap(),
                    &name,
                )
            };
            let e = Enrichment {
                qname_hash: crate::enrich::fx_hash(name.as_bytes()),
                registrable_len: name.len() as u16,
                registrable_hash: crate::enrich::fx_hash(name.as_bytes()),
                risk: 0.95,
                high_risk: true,
                entropy: 3.5,
                ..Default::default()
            };
            a.record(&l, &e);
        }
        let mut out = Vec::new();
        a.flush_all(&mut out);
        out.remove(0)
    }

    fn verdict(label: Label) -> Verdict {
        Verdict {
            score: 0.91,
            label,
            reasons: vec![Reason {
                tag: "dga_like_names",
                feature: "high_risk_ratio_s",
                value: 0.8,
                usual: 0.02,
                deviation: 9.5,
            }],
            explanation: "Likely Compromise (score 0.91) for 10.0.0.9.".into(),
            model_id: "0123456789abcdef".into(),
            evidence: false,
        }
    }

    #[test]
    fn window_lines_carry_ecs_and_verdict_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.ndjson");
        let cfg = OutputsConfig {
            ndjson: Some(NdjsonConfig {
                path: path.clone(),
                lookups: true,
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut o = Outputs::start(&cfg).unwrap();
        let l = Lookup::new(1_709_539_200 * MICROS, "10.0.0.9".parse().unwrap(), "a.com");
        o.lookup(&l, &Enrichment::default());
        let ws = [dga_window("10.0.0.9"), dga_window("10.0.0.10")];
        let vs = [verdict(Label::LikelyCompromise), verdict(Label::Normal)];
        let mut tracker = Tracker::new(Default::default());
        let mut batch = IncidentBatch::default();
        crate::sensor::track_batch(&mut tracker, &ws, &vs, &mut batch);
        o.batch(&ws, &vs, &batch);
        o.windows(&ws[..1], &[]);
        o.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0]["event"]["dataset"], "sentineldns.lookup");
        let a = &lines[1];
        assert_eq!(a["@timestamp"], "2024-03-04T08:05:00.000000Z");
        assert_eq!(
            a["event"]["kind"], "event",
            "a flagged window is an event; its incident is the alert"
        );
        assert_eq!(a["sentineldns"]["incident_id"], 1);
        assert_eq!(a["event"]["dataset"], "sentineldns.window");
        assert_eq!(a["event"]["category"][1], "intrusion_detection");
        assert_eq!(a["source"]["ip"], "10.0.0.9");
        let s = &a["sentineldns"];
        assert_eq!(s["window"]["start"], "2024-03-04T08:00:00.000000Z");
        assert_eq!(s["window"]["end"], "2024-03-04T08:05:00.000000Z");
        assert_eq!(s["window"]["lookups"], 60);
        assert_eq!(s["window"]["nxdomain"], 60);
        assert!(s["window"]["features"]["nxdomain_rate"].is_number());
        assert_eq!(s["score"], 0.91);
        assert_eq!(s["label"], "Likely Compromise");
        assert_eq!(s["reasons"][0]["tag"], "dga_like_names");
        assert_eq!(s["reasons"][0]["usual"], 0.02);
        assert_eq!(s["reasons"][0]["deviation"], 9.5);
        assert!(s["explanation"].as_str().unwrap().contains("10.0.0.9"));
        assert_eq!(a["message"], s["explanation"]);
        assert!(s["top_domains"][0]["name"]
            .as_str()
            .unwrap()
            .ends_with("zvkrw.info"));
        assert_eq!(lines[2]["event"]["kind"], "event", "Normal is not an alert");
        assert!(lines[2]["sentineldns"].get("incident_id").is_none());
        let i = &lines[3];
        assert_eq!(i["event"]["kind"], "alert");
        assert_eq!(i["event"]["dataset"], "sentineldns.incident");
        assert_eq!(i["event"]["action"], "incident_opened");
        assert_eq!(i["source"]["ip"], "10.0.0.9");
        let inc = &i["sentineldns"]["incident"];
        assert_eq!(inc["id"], 1);
        assert_eq!(inc["status"], "open");
        assert_eq!(inc["windows"], 1);
        assert_eq!(inc["peak_label"], "Likely Compromise");
        assert_eq!(inc["families"][0], "dga");
        assert_eq!(inc["reasons"][0]["tag"], "dga_like_names");
        assert_eq!(inc["first_seen"], "2024-03-04T08:00:00.000000Z");
        assert_eq!(inc["last_seen"], "2024-03-04T08:05:00.000000Z");
        assert!(inc["domains"][0]["name"]
            .as_str()
            .unwrap()
            .ends_with("zvkrw.info"));
        // Unscored windows have no verdict fields.
        assert!(lines[4]["sentineldns"].get("score").is_none());
        assert!(lines[4]["sentineldns"].get("label").is_none());
        let m = o.metrics();
        assert_eq!(m.windows_total(), 3);
        assert_eq!(m.verdicts_total(Label::LikelyCompromise), 1);
        assert_eq!(m.verdicts_total(Label::Normal), 1);
        assert_eq!(m.lookups_total(), 1);
        assert_eq!(m.ndjson.window_lines.load(Ordering::Relaxed), 3);
        assert_eq!(m.ndjson.incident_lines.load(Ordering::Relaxed), 1);
        assert_eq!(m.incidents_total(crate::incident::EventKind::Opened), 1);
        assert!(m.input_finished());
    }

    /// Issue 16: the webhook gets the triage of an incident it alerted, as
    /// an update carrying the verdict, escaped; triage of an incident it did
    /// not alert, and triage without a verdict, send nothing.
    #[test]
    fn webhook_updates_carry_the_triage_of_alerted_incidents() {
        use crate::triage::{TriageRecord, TriageVerdict};
        let srv = webhook::tests::TestServer::start();
        let cfg = OutputsConfig {
            webhook: Some(WebhookConfig {
                url: srv.url(),
                min_label: webhook::MinLabel::LikelyCompromise,
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut o = Outputs::start(&cfg).unwrap();
        let ws = [dga_window("10.0.0.9"), dga_window("10.0.0.10")];
        let mut tracker = Tracker::new(Default::default());
        let mut batch = IncidentBatch::default();
        let vs = [verdict(Label::LikelyCompromise), verdict(Label::Unusual)];
        crate::sensor::track_batch(&mut tracker, &ws, &vs, &mut batch);
        // Triage "on": mark what the webhook alerted as awaiting triage.
        for e in &batch.events {
            if e.incident.peak_label == Label::LikelyCompromise {
                o.webhook_awaits_triage.insert(e.incident.id, 1);
            }
        }
        o.batch(&ws, &vs, &batch);
        let ids: Vec<(i64, String)> = batch
            .events
            .iter()
            .map(|e| (e.incident.id, e.incident.host.to_string()))
            .collect();
        let rec = |id: i64, host: &str, status: &str, with: bool| TriageRecord {
            incident_id: id,
            host: host.into(),
            event: "opened",
            triage_status: status.into(),
            triage: with.then(|| TriageVerdict {
                category: "c2".into(),
                threat_score: 88,
                confidence: "high".into(),
                summary: "beacons <script>alert(1)</script>".into(),
                recommended_actions: vec!["isolate <b>now</b>".into()],
            }),
            provider: "ollama",
            model: "m".into(),
        };
        let (likely, unusual) = (&ids[0], &ids[1]);
        o.write_triage(&[
            rec(unusual.0, &unusual.1, "ok", true),
            rec(likely.0, &likely.1, "ok", true),
            rec(likely.0, &likely.1, "breaker_open", false),
        ]);
        o.finish().unwrap();
        let bodies = srv.bodies.lock().unwrap().clone();
        assert_eq!(bodies.len(), 2, "the alert and its triage: {bodies:?}");
        assert!(bodies[0].contains("opened"), "{}", bodies[0]);
        let t: serde_json::Value = serde_json::from_str(&bodies[1]).unwrap();
        assert_eq!(t["sentineldns"]["incident_id"], likely.0);
        assert_eq!(t["sentineldns"]["triage"]["category"], "c2");
        assert_eq!(t["sentineldns"]["triage"]["threat_score"], 88);
        let text = t["blocks"][2]["text"]["text"].as_str().unwrap();
        assert!(
            text.contains("&lt;script&gt;") && !text.contains("<script>"),
            "{text}"
        );
        assert!(text.contains("isolate &lt;b&gt;now"), "{text}");
        assert!(t["text"].as_str().unwrap().contains("threat 88/100"), "{t}");
        assert!(o.webhook_awaits_triage.is_empty());
    }

    /// An incident handed to the model is stored `pending` until its result
    /// (here: `shutdown`, the model never answers) replaces it, in order.
    #[test]
    fn triage_is_pending_until_its_result_arrives() {
        // A model that accepts connections and never answers.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let cfg = crate::triage::TriageConfig {
            provider: crate::triage::Provider::Ollama,
            url: format!("http://{}", silent.local_addr().unwrap()),
            timeout_ms: 60_000,
            shutdown_grace_ms: 50,
            ..Default::default()
        };
        let mut o = Outputs::start(&OutputsConfig::default()).unwrap();
        o.start_triage(&cfg).unwrap();
        let ws = [dga_window("10.0.0.9")];
        let vs = [verdict(Label::LikelyCompromise)];
        let mut tracker = Tracker::new(Default::default());
        let mut batch = IncidentBatch::default();
        crate::sensor::track_batch(&mut tracker, &ws, &vs, &mut batch);
        o.batch(&ws, &vs, &batch);
        let id = batch.events[0].incident.id;
        assert_eq!(o.take_triage(), vec![(id, "pending".to_string(), None)]);
        o.finish().unwrap();
        let after = o.take_triage();
        assert_eq!(after.len(), 1, "{after:?}");
        assert_eq!((after[0].0, after[0].1.as_str()), (id, "shutdown"));
    }

    #[test]
    fn outputs_alert_once_per_incident_at_or_above_the_threshold_and_serve_metrics() {
        let srv = webhook::tests::TestServer::start();
        let cfg = OutputsConfig {
            webhook: Some(WebhookConfig {
                url: srv.url(),
                min_label: webhook::MinLabel::LikelyCompromise,
                ..Default::default()
            }),
            metrics: Some("127.0.0.1:0".parse().unwrap()),
            ..Default::default()
        };
        let mut o = Outputs::start(&cfg).unwrap();
        let addr = o.metrics_addr().unwrap();
        let ws = [
            dga_window("10.0.0.9"),
            dga_window("10.0.0.10"),
            dga_window("10.0.0.11"),
        ];
        let mut tracker = Tracker::new(Default::default());
        let mut batch = IncidentBatch::default();
        let mut feed = |o: &mut Outputs, ws: &[HostWindow], vs: &[Verdict]| {
            crate::sensor::track_batch(&mut tracker, ws, vs, &mut batch);
            o.batch(ws, vs, &batch);
        };
        // Three hosts open two incidents: only the Likely one is sent.
        feed(
            &mut o,
            &ws,
            &[
                verdict(Label::LikelyCompromise),
                verdict(Label::Unusual),
                verdict(Label::Normal),
            ],
        );
        // 10.0.0.9 again at the same label: an update, not sent. 10.0.0.10
        // rises to Likely: an escalation, sent.
        feed(
            &mut o,
            &ws[..2],
            &[
                verdict(Label::LikelyCompromise),
                verdict(Label::LikelyCompromise),
            ],
        );
        o.finish().unwrap();
        let bodies = srv.bodies.lock().unwrap().clone();
        assert_eq!(bodies.len(), 2, "{bodies:?}");
        assert!(bodies[0].contains("10.0.0.9") && bodies[0].contains("Incident #1 opened"));
        assert!(bodies[1].contains("10.0.0.10") && bodies[1].contains("Incident #2 escalated"));
        let (st, body) = metrics::tests::get(addr, "/metrics");
        assert_eq!(st, 200);
        for want in [
            "sentineldns_windows_total 5",
            "sentineldns_verdicts_total{label=\"unusual\"} 1",
            "sentineldns_incidents_total{event=\"opened\"} 2",
            "sentineldns_incidents_total{event=\"escalated\"} 1",
            "sentineldns_incidents_total{event=\"closed\"} 0",
            "sentineldns_webhook_sent_total 2",
            "sentineldns_webhook_breaker_state 0",
            "sentineldns_input_finished 1",
        ] {
            assert!(body.lines().any(|l| l == want), "{want} missing:\n{body}");
        }
    }

    /// `[outputs.eve]`, `[outputs.zeek]` and `[outputs.syslog]` from a
    /// configuration file; two line outputs on stdout are refused.
    #[test]
    fn eve_zeek_and_syslog_from_the_configuration_file() {
        let c: OutputsConfig = toml::from_str(
            "[eve]\npath = \"eve.json\"\nmax_bytes = 1000\ncommunity_id = false\n\
             [zeek]\npath = \"-\"\nformat = \"json\"\n\
             [syslog]\nurl = \"unix:/dev/log\"\nmin_label = \"likely-compromise\"\nfacility = \"daemon\"\n",
        )
        .unwrap();
        let e = c.eve.as_ref().unwrap();
        assert_eq!(
            (e.max_bytes, e.keep, e.community_id),
            (Some(1000), 5, false)
        );
        let z = c.zeek.as_ref().unwrap();
        assert_eq!(z.format, zeek::ZeekFormat::Json);
        assert!(c.ndjson_on_stdout(), "Zeek on stdout silences the table");
        let s = c.syslog.as_ref().unwrap();
        assert_eq!(s.min_label, syslog::SyslogMinLabel::LikelyCompromise);
        assert_eq!(
            s.validate().unwrap(),
            (syslog::Target::Unix("/dev/log".into()), 3)
        );
        assert!(toml::from_str::<OutputsConfig>("[zeek]\nformat = \"csv\"\n").is_err());
        assert!(toml::from_str::<OutputsConfig>("[eve]\npth = \"x\"\n").is_err());
        let two = OutputsConfig {
            ndjson: Some(NdjsonConfig::default()),
            eve: Some(EveConfig::default()),
            ..Default::default()
        };
        let e = Outputs::start(&two).unwrap_err().to_string();
        assert!(e.contains("only one"), "{e}");
    }

    #[test]
    fn config_rejects_unknown_fields() {
        let e = serde_json::from_str::<OutputsConfig>(r#"{"ndjson":{"pth":"x"}}"#);
        assert!(e.is_err());
        let c: OutputsConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, OutputsConfig::default());
    }
}
