//! Triage of the sources `sentineldns flows rules` flags: a
//! [`FlaggedObserver`] over the incident triage worker.
//!
//! The flow crate hands over each flagged context as an owned
//! [`FlaggedSummary`] with the rules' reading; [`FlowTriage`] turns it into
//! an [`Evidence`] packet ([`Evidence::for_flow`]: the same cleaning,
//! escaping and data block as DNS packets) and offers it to the worker
//! without waiting (a full queue yields a `queue_full` record at once).
//! Each record that comes back becomes an [`Annotation`]: a table line
//! (`triage (model, advisory): …` or `triage: none (<why>)`) and an NDJSON
//! `flow_triage` object. The rules' class and severity are printed before the
//! model is asked and are never read back from its answer.

use super::{Evidence, Triage, TriageConfig, TriageCounters, TriageError, TriageRecord};
use sentineldns_flows::cmd::rules::{Annotation, FlaggedObserver};
use sentineldns_flows::rules::FlaggedSummary;
use sentineldns_model::time::rfc3339_millis;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Longest model summary in a table line, in characters.
const TEXT_SUMMARY_CHARS: usize = 400;

/// Language-model triage of flagged flow contexts.
#[derive(Debug)]
pub struct FlowTriage {
    triage: Triage,
    /// Contexts offered and not yet answered, by number.
    pending: HashMap<u64, FlaggedSummary>,
    /// Annotations made but not yet handed out.
    ready: Vec<Annotation>,
    /// Records by status (`ok`, `queue_full`, `failed`, …).
    statuses: BTreeMap<String, u64>,
}

impl FlowTriage {
    /// Start the worker for `cfg`; `None` when the provider is `off`.
    pub fn start(
        cfg: &TriageConfig,
        counters: Arc<TriageCounters>,
    ) -> Result<Option<Self>, TriageError> {
        Ok(Triage::start(cfg, counters)?.map(|triage| FlowTriage {
            triage,
            pending: HashMap::new(),
            ready: Vec::new(),
            statuses: BTreeMap::new(),
        }))
    }

    /// The worker's counters.
    pub fn counters(&self) -> &Arc<TriageCounters> {
        self.triage.counters()
    }

    /// The annotation of `rec`, whose context must be pending.
    fn annotate(&mut self, rec: &TriageRecord) -> Option<Annotation> {
        let n = u64::try_from(rec.incident_id).ok()?;
        let c = self.pending.remove(&n)?;
        let bucket = rec
            .triage_status
            .split(':')
            .next()
            .unwrap_or("")
            .to_string();
        *self.statuses.entry(bucket).or_default() += 1;
        Some(annotation(&c, rec))
    }

    fn collect(&mut self, recs: Vec<TriageRecord>) {
        for r in recs {
            if let Some(a) = self.annotate(&r) {
                self.ready.push(a);
            }
        }
    }
}

impl FlaggedObserver for FlowTriage {
    fn observe(&mut self, c: FlaggedSummary) {
        let ev = Evidence::for_flow(&c);
        self.pending.insert(c.context, c);
        if let Err(rec) = self.triage.offer(ev) {
            self.collect(vec![*rec]);
        }
    }

    fn ready(&mut self) -> Vec<Annotation> {
        let recs = self.triage.drain();
        self.collect(recs);
        std::mem::take(&mut self.ready)
    }

    fn finish(&mut self) -> Vec<Annotation> {
        let recs = self.triage.close();
        self.collect(recs);
        // A record the worker could not hand back (results channel full):
        // the context still gets a line saying so.
        let mut lost: Vec<FlaggedSummary> = self.pending.drain().map(|(_, c)| c).collect();
        lost.sort_by_key(|c| c.context);
        for c in lost {
            let ev = Evidence::for_flow(&c);
            let rec = TriageRecord::new(
                &ev,
                self.triage.config(),
                super::TriageStatus::Failed("record lost".into()),
                None,
            );
            *self.statuses.entry("failed".into()).or_default() += 1;
            self.ready.push(annotation(&c, &rec));
        }
        std::mem::take(&mut self.ready)
    }

    fn report(&self) -> Option<String> {
        let cfg = self.triage.config();
        let counts: Vec<String> = self
            .statuses
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        Some(format!(
            "triage ({} {}, advisory): {}",
            cfg.provider.as_str(),
            strip(cfg.model_name(), 100),
            if counts.is_empty() {
                "no context flagged".to_string()
            } else {
                counts.join("  ")
            }
        ))
    }
}

/// `s` without control characters, at most `cap` characters (an ellipsis
/// marks a cut): model answers and error texts are attacker-influenced and
/// go to a terminal.
fn strip(s: &str, cap: usize) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(cap).collect();
    if s.chars().filter(|c| !c.is_control()).count() > cap {
        out.push('…');
    }
    out
}

/// The table line and the `flow_triage` NDJSON object of `rec`, the record
/// of context `c`.
fn annotation(c: &FlaggedSummary, rec: &TriageRecord) -> Annotation {
    let head = format!(
        "  {} {} #{}",
        strip(&c.key, 100),
        rfc3339_millis(c.window_start),
        c.context
    );
    let text = match &rec.triage {
        Some(v) => format!(
            "{head} triage (model, advisory): {} {}/100 ({} confidence): {}",
            strip(&v.category, 32),
            v.threat_score,
            strip(&v.confidence, 16),
            strip(&v.summary, TEXT_SUMMARY_CHARS)
        ),
        None => format!("{head} triage: none ({})", strip(&rec.triage_status, 200)),
    };
    Annotation {
        context: c.context,
        text,
        json: flow_triage_line(c, rec),
    }
}

/// The NDJSON `flow_triage` record: the context (number, source, window),
/// the rules' class and severity as printed, and the model's verdict or why
/// there is none.
pub fn flow_triage_line(c: &FlaggedSummary, rec: &TriageRecord) -> Value {
    json!({
        "type": "flow_triage",
        "context": c.context,
        "source_ip": c.key,
        "window_start": rfc3339_millis(c.window_start),
        "window_end": rfc3339_millis(c.window_end),
        "rule_class": c.class.as_str(),
        "rule_severity": (c.severity * 1000.0).round() / 1000.0,
        "triage_status": rec.triage_status,
        "triage": rec.triage,
        "provider": rec.provider,
        "model": rec.model,
    })
}
