//! The Prometheus text exposition (format 0.0.4) of the registry, table
//! driven: [`Metrics::render`] lists every metric family once (name, type,
//! help, samples) and one loop writes them. The run counters copied from
//! [`crate::stats::Stats`] are not listed here: their names, labels and help
//! come from [`COUNTERS`], the one table of run counters.

use super::histogram::{self, Histogram};
use super::process::ProcessStats;
use super::{
    label_index, label_value, outcome_index, DropSite, KafkaDrop, Metrics, WebhookDrop,
    INCIDENT_EVENTS, LABELS, OUTCOMES,
};
use crate::stats::{Bound, PromGroup, SkipReason, COUNTERS};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// A sample value: integers as they are, floats with three decimals,
/// microseconds as exact decimal seconds.
#[derive(Debug, Clone, Copy)]
enum Value {
    Int(u64),
    Float(f64),
    Micros(u64),
}

/// One metric family: `# HELP`, `# TYPE`, then one line per sample.
#[derive(Debug)]
struct Family<'a> {
    name: &'a str,
    kind: &'static str,
    help: &'a str,
    /// (what follows the family name: a sample suffix such as `_bucket`,
    /// if any, then the label set with braces, or `""`; value).
    samples: Vec<(String, Value)>,
}

const COUNTER: &str = "counter";
const GAUGE: &str = "gauge";
const HISTOGRAM: &str = "histogram";

/// A histogram family: cumulative `_bucket{le="…"}` samples ending with
/// `le="+Inf"`, then `_sum` (seconds) and `_count` (= the `+Inf` bucket).
fn histogram<'a>(name: &'a str, help: &'a str, h: &Histogram) -> Family<'a> {
    let (finite, count, sum_us) = h.snapshot();
    let mut samples: Vec<(String, Value)> = finite
        .into_iter()
        .map(|(le, n)| {
            (
                format!("_bucket{{le=\"{}\"}}", histogram::seconds(le)),
                Value::Int(n),
            )
        })
        .collect();
    samples.push(("_bucket{le=\"+Inf\"}".into(), Value::Int(count)));
    samples.push(("_sum".into(), Value::Micros(sum_us)));
    samples.push(("_count".into(), Value::Int(count)));
    Family {
        name,
        kind: HISTOGRAM,
        help,
        samples,
    }
}

/// The process families (Prometheus' standard names, without our prefix),
/// each present only when it could be read.
fn process_families(p: &ProcessStats, out: &mut Vec<Family<'static>>) {
    use Value::{Float, Int};
    if let Some(v) = p.cpu_seconds {
        out.push(one(
            "process_cpu_seconds_total",
            COUNTER,
            "Total user and system CPU time spent in seconds.",
            Float(v),
        ));
    }
    if let Some(v) = p.open_fds {
        out.push(one(
            "process_open_fds",
            GAUGE,
            "Number of open file descriptors.",
            Int(v),
        ));
    }
    if let Some(v) = p.resident_bytes {
        out.push(one(
            "process_resident_memory_bytes",
            GAUGE,
            "Resident memory size in bytes.",
            Int(v),
        ));
    }
    if let Some(v) = p.start_time_seconds {
        out.push(one(
            "process_start_time_seconds",
            GAUGE,
            "Start time of the process since unix epoch in seconds.",
            Float(v),
        ));
    }
    if let Some(v) = p.virtual_bytes {
        out.push(one(
            "process_virtual_memory_bytes",
            GAUGE,
            "Virtual memory size in bytes.",
            Int(v),
        ));
    }
}

/// A family with one unlabelled sample.
fn one<'a>(name: &'a str, kind: &'static str, help: &'a str, v: Value) -> Family<'a> {
    Family {
        name,
        kind,
        help,
        samples: vec![(String::new(), v)],
    }
}

/// A family with one sample per `(label value, value)`, labelled `label`.
fn by<'a, 'b>(
    name: &'a str,
    kind: &'static str,
    help: &'a str,
    label: &str,
    items: impl IntoIterator<Item = (&'b str, u64)>,
) -> Family<'a> {
    Family {
        name,
        kind,
        help,
        samples: items
            .into_iter()
            .map(|(l, v)| (format!("{{{label}=\"{l}\"}}"), Value::Int(v)))
            .collect(),
    }
}

fn ld(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

impl Metrics {
    /// The run counters of `group` exported to Prometheus, in table order,
    /// consecutive series of one family gathered.
    fn stat_families(&self, group: PromGroup, out: &mut Vec<Family<'static>>) {
        for (c, a) in COUNTERS.iter().zip(&self.stats.counters) {
            let Some(p) = c.prom.filter(|p| p.family.group == group) else {
                continue;
            };
            let sample = (p.labels.to_string(), Value::Int(ld(a)));
            match out.last_mut() {
                Some(f) if f.name == p.family.name => f.samples.push(sample),
                _ => out.push(Family {
                    name: p.family.name,
                    kind: COUNTER,
                    help: p.family.help,
                    samples: vec![sample],
                }),
            }
        }
    }

    /// Render every metric in the Prometheus text exposition format (0.0.4).
    pub fn render(&self) -> String {
        use Value::{Float, Int};
        let c = &self.stats;
        let mut f = vec![
            Family {
                name: "sentineldns_build_info",
                kind: GAUGE,
                help: "Build information (always 1).",
                samples: vec![(
                    format!("{{version=\"{}\"}}", env!("CARGO_PKG_VERSION")),
                    Int(1),
                )],
            },
            one(
                "sentineldns_start_time_seconds",
                GAUGE,
                "Unix time the sensor started.",
                Float(self.start_unix),
            ),
            one(
                "sentineldns_uptime_seconds",
                GAUGE,
                "Seconds since the sensor started.",
                Float(self.uptime_seconds()),
            ),
            one(
                "sentineldns_input_finished",
                GAUGE,
                "1 once the input was read to the end (replay) or the run stopped.",
                Int(u64::from(self.input_finished())),
            ),
        ];
        self.stat_families(PromGroup::Input, &mut f);
        f.push(by(
            "sentineldns_packets_dropped_total",
            COUNTER,
            "Packets dropped before decoding, by where (kernel, interface, queue).",
            "where",
            DropSite::ALL.map(|s| (s.as_str(), ld(&self.dropped[s as usize]))),
        ));
        self.stat_families(PromGroup::Decode, &mut f);
        let skips = |malformed: bool| {
            SkipReason::ALL
                .iter()
                .zip(&c.skips)
                .filter(move |(r, _)| r.is_malformed() == malformed)
                .map(|(r, a)| (r.as_str(), ld(a)))
        };
        f.push(by(
            "sentineldns_malformed_total",
            COUNTER,
            "Damaged input units (packets, messages, lines), by reason.",
            "reason",
            skips(true),
        ));
        f.push(by(
            "sentineldns_skipped_total",
            COUNTER,
            "Input units skipped without being damaged (not DNS, held fragments, late lookups), by reason.",
            "reason",
            skips(false),
        ));
        f.push(by(
            "sentineldns_bound_evictions_total",
            COUNTER,
            "Entries evicted or refused because a memory bound was reached, by table.",
            "table",
            Bound::ALL
                .iter()
                .zip(&c.evictions)
                .map(|(b, a)| (b.as_str(), ld(a))),
        ));
        f.push(by(
            "sentineldns_lookups_total",
            COUNTER,
            "Lookups that reached the windows, by outcome.",
            "outcome",
            OUTCOMES.map(|o| (o.as_str(), ld(&self.lookups[outcome_index(o)]))),
        ));
        f.push(histogram(
            "sentineldns_lookup_latency_seconds",
            "Query-to-response latency of answered lookups that carry one (pcap pairing, dnstap, logs with a duration).",
            &self.lookup_latency,
        ));
        f.push(one(
            "sentineldns_windows_total",
            COUNTER,
            "Per-host windows closed.",
            Int(ld(&self.windows)),
        ));
        f.push(one(
            "sentineldns_last_window_end_seconds",
            GAUGE,
            "End (packet time, unix seconds) of the newest closed window.",
            Int(self.last_window_end.load(Ordering::Relaxed).max(0) as u64),
        ));
        f.push(by(
            "sentineldns_verdicts_total",
            COUNTER,
            "Scored windows, by verdict label.",
            "label",
            LABELS.map(|l| (label_value(l), ld(&self.verdicts[label_index(l)]))),
        ));
        f.push(histogram(
            "sentineldns_window_scoring_duration_seconds",
            "Time to score one closed window (model, detection units, explanation).",
            &self.scoring,
        ));
        f.push(by(
            "sentineldns_incidents_total",
            COUNTER,
            "Incident events: opened, escalated (higher label or a new reason family), closed.",
            "event",
            INCIDENT_EVENTS.map(|k| (k.as_str(), self.incidents_total(k))),
        ));
        let n = &self.ndjson;
        if n.configured.load(Ordering::Relaxed) {
            f.extend([
                by(
                    "sentineldns_ndjson_lines_total",
                    COUNTER,
                    "NDJSON lines written, by kind (window, lookup).",
                    "kind",
                    [
                        ("window", ld(&n.window_lines)),
                        ("lookup", ld(&n.lookup_lines)),
                        ("incident", ld(&n.incident_lines)),
                    ],
                ),
                one(
                    "sentineldns_ndjson_bytes_total",
                    COUNTER,
                    "NDJSON bytes written.",
                    Int(ld(&n.bytes)),
                ),
                one(
                    "sentineldns_ndjson_rotations_total",
                    COUNTER,
                    "NDJSON file rotations.",
                    Int(ld(&n.rotations)),
                ),
                one(
                    "sentineldns_ndjson_write_errors_total",
                    COUNTER,
                    "NDJSON write errors (the output stops at the first).",
                    Int(ld(&n.errors)),
                ),
            ]);
        }
        let formats: Vec<(&str, &super::LineMetrics)> = [("eve", &self.eve), ("zeek", &self.zeek)]
            .into_iter()
            .filter(|(_, m)| m.is_configured())
            .collect();
        if !formats.is_empty() {
            let each = |pick: fn(&super::LineMetrics) -> &AtomicU64| {
                formats
                    .iter()
                    .map(move |(n, m)| (*n, ld(pick(m))))
                    .collect::<Vec<_>>()
            };
            f.extend([
                by(
                    "sentineldns_format_lines_total",
                    COUNTER,
                    "Records written in another tool's format (Suricata EVE, Zeek dns.log).",
                    "format",
                    each(|m| &m.lines),
                ),
                by(
                    "sentineldns_format_bytes_total",
                    COUNTER,
                    "Bytes written in another tool's format, headers included.",
                    "format",
                    each(|m| &m.bytes),
                ),
                by(
                    "sentineldns_format_rotations_total",
                    COUNTER,
                    "File rotations of the EVE and Zeek outputs.",
                    "format",
                    each(|m| &m.rotations),
                ),
                by(
                    "sentineldns_format_write_errors_total",
                    COUNTER,
                    "Write errors of the EVE and Zeek outputs (an output stops at its first).",
                    "format",
                    each(|m| &m.errors),
                ),
            ]);
        }
        let s = &self.syslog;
        if s.is_configured() {
            f.push(by(
                "sentineldns_syslog_messages_total",
                COUNTER,
                "Syslog messages, by what became of them: sent, failed (receiver unreachable or write failed), queue_full, shutdown (still queued at exit).",
                "result",
                [
                    ("sent", ld(&s.sent)),
                    ("failed", ld(&s.failed)),
                    ("queue_full", ld(&s.queue_full)),
                    ("shutdown", ld(&s.shutdown)),
                ],
            ));
            f.push(one(
                "sentineldns_syslog_connects_total",
                COUNTER,
                "Syslog connections (re)established.",
                Int(ld(&s.connects)),
            ));
        }
        let w = &self.webhook;
        if w.configured.load(Ordering::Relaxed) {
            f.extend([
                one(
                    "sentineldns_webhook_enqueued_total",
                    COUNTER,
                    "Alerts accepted into the webhook queue.",
                    Int(ld(&w.enqueued)),
                ),
                one(
                    "sentineldns_webhook_sent_total",
                    COUNTER,
                    "Alerts delivered to the webhook (HTTP 2xx).",
                    Int(ld(&w.sent)),
                ),
                one(
                    "sentineldns_webhook_failed_total",
                    COUNTER,
                    "Alerts given up after every delivery attempt failed.",
                    Int(ld(&w.failed)),
                ),
                one(
                    "sentineldns_webhook_retries_total",
                    COUNTER,
                    "Webhook delivery attempts after the first.",
                    Int(ld(&w.retries)),
                ),
                by(
                    "sentineldns_webhook_dropped_total",
                    COUNTER,
                    "Alerts dropped without delivery, by reason (queue_full, breaker_open, shutdown).",
                    "reason",
                    WebhookDrop::ALL.map(|d| (d.as_str(), w.dropped_count(d))),
                ),
                one(
                    "sentineldns_webhook_breaker_state",
                    GAUGE,
                    "Webhook circuit breaker: 0 closed, 1 open, 2 half-open.",
                    Int(w.breaker() as u64),
                ),
                one(
                    "sentineldns_webhook_breaker_opened_total",
                    COUNTER,
                    "Times the webhook circuit breaker opened.",
                    Int(ld(&w.breaker_opened)),
                ),
                one(
                    "sentineldns_webhook_queue_depth",
                    GAUGE,
                    "Alerts waiting in the webhook queue.",
                    Int(ld(&w.queue_depth)),
                ),
                one(
                    "sentineldns_webhook_queue_capacity",
                    GAUGE,
                    "Capacity of the webhook queue.",
                    Int(ld(&w.queue_capacity)),
                ),
                histogram(
                    "sentineldns_webhook_request_duration_seconds",
                    "Duration of each webhook delivery attempt (HTTP request and response), whatever its outcome.",
                    &w.request_duration,
                ),
            ]);
        }
        let k = &*self.kafka;
        if k.is_configured() {
            f.extend([
                one(
                    "sentineldns_kafka_enqueued_total",
                    COUNTER,
                    "Records accepted into the Kafka producer's queue.",
                    Int(ld(&k.enqueued)),
                ),
                one(
                    "sentineldns_kafka_delivered_total",
                    COUNTER,
                    "Records the Kafka broker acknowledged.",
                    Int(ld(&k.delivered)),
                ),
                one(
                    "sentineldns_kafka_failed_total",
                    COUNTER,
                    "Records whose Kafka delivery failed (retries exhausted or message timeout).",
                    Int(ld(&k.failed)),
                ),
                by(
                    "sentineldns_kafka_dropped_total",
                    COUNTER,
                    "Records dropped without delivery, by reason (queue_full, rejected, shutdown).",
                    "reason",
                    KafkaDrop::ALL.map(|d| (d.as_str(), k.dropped_count(d))),
                ),
                one(
                    "sentineldns_kafka_queue_depth",
                    GAUGE,
                    "Records queued in the Kafka producer or in flight to the broker.",
                    Int(k.queue_depth()),
                ),
                one(
                    "sentineldns_kafka_queue_capacity",
                    GAUGE,
                    "Capacity of the Kafka producer's queue (messages).",
                    Int(ld(&k.queue_capacity)),
                ),
            ]);
        }
        let t = &*self.triage;
        if t.is_configured() {
            use crate::triage::FailReason;
            f.extend([
                one(
                    "sentineldns_triage_enqueued_total",
                    COUNTER,
                    "Incidents accepted into the triage queue.",
                    Int(ld(&t.enqueued)),
                ),
                one(
                    "sentineldns_triage_requests_total",
                    COUNTER,
                    "Requests made to the language-model API (attempts).",
                    Int(ld(&t.requests)),
                ),
                one(
                    "sentineldns_triage_verdicts_total",
                    COUNTER,
                    "Verdicts received that passed the schema.",
                    Int(ld(&t.ok)),
                ),
                one(
                    "sentineldns_triage_retries_total",
                    COUNTER,
                    "Triage attempts after the first.",
                    Int(ld(&t.retries)),
                ),
                by(
                    "sentineldns_triage_failures_total",
                    COUNTER,
                    "Failed triage attempts, by reason (transport, timeout, http, invalid_response).",
                    "reason",
                    FailReason::ALL.map(|r| (r.as_str(), t.failures(r))),
                ),
                by(
                    "sentineldns_triage_dropped_total",
                    COUNTER,
                    "Incidents not triaged, by reason (queue_full, breaker_open, shutdown).",
                    "reason",
                    [
                        ("queue_full", ld(&t.queue_full)),
                        ("breaker_open", ld(&t.breaker_open)),
                        ("shutdown", ld(&t.shutdown)),
                    ],
                ),
                one(
                    "sentineldns_triage_breaker_state",
                    GAUGE,
                    "Triage circuit breaker: 0 closed, 1 open, 2 half-open.",
                    Int(t.breaker_state() as u64),
                ),
                one(
                    "sentineldns_triage_breaker_opened_total",
                    COUNTER,
                    "Times the triage circuit breaker opened.",
                    Int(ld(&t.breaker_opened)),
                ),
                one(
                    "sentineldns_triage_queue_depth",
                    GAUGE,
                    "Incidents waiting in the triage queue.",
                    Int(ld(&t.queue_depth)),
                ),
                histogram(
                    "sentineldns_triage_request_duration_seconds",
                    "Duration of each request to the language-model API (attempts), whatever its outcome.",
                    &t.request_duration,
                ),
            ]);
        }
        process_families(&ProcessStats::read(), &mut f);
        let mut out = String::with_capacity(8192);
        for fam in &f {
            let _ = writeln!(out, "# HELP {} {}", fam.name, fam.help);
            let _ = writeln!(out, "# TYPE {} {}", fam.name, fam.kind);
            for (labels, v) in &fam.samples {
                let _ = match v {
                    Int(v) => writeln!(out, "{}{labels} {v}", fam.name),
                    Float(v) => writeln!(out, "{}{labels} {v:.3}", fam.name),
                    Value::Micros(us) => {
                        writeln!(out, "{}{labels} {}", fam.name, histogram::seconds(*us))
                    }
                };
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse;
    use super::super::{BreakerState, DropSite};
    use crate::event::LookupOutcome;
    use crate::model::Label;
    use crate::output::metrics::Metrics;
    use crate::stats::{SkipReason, Stats};

    #[test]
    fn render_follows_conventions_and_values_move() {
        let m = Metrics::default();
        let before = parse(&m.render());
        assert_eq!(before["sentineldns_windows_total"], 0.0);
        assert!(!before.contains_key("sentineldns_webhook_sent_total"));
        let mut s = Stats::default();
        s.packets = 10;
        s.dns_queries = 4;
        s.skip_n(SkipReason::DnsTruncated, 2);
        s.skip_n(SkipReason::NotDnsPort, 3);
        s.evicted(crate::stats::Bound::HostWindows, 7);
        m.publish_stats(&s);
        // An older snapshot does not move counters back.
        m.publish_stats(&Stats::default());
        m.lookup(LookupOutcome::Answered);
        m.lookup(LookupOutcome::Event);
        m.window(1_700_000_300);
        m.verdict(Label::Unusual);
        m.set_dropped(DropSite::Kernel, 7);
        m.webhook.set_configured(16);
        m.webhook.set_breaker(BreakerState::Open);
        let after = parse(&m.render());
        assert_eq!(after["sentineldns_packets_captured_total"], 10.0);
        assert_eq!(
            after["sentineldns_dns_messages_decoded_total{type=\"query\"}"],
            4.0
        );
        assert_eq!(
            after["sentineldns_malformed_total{reason=\"dns_truncated\"}"],
            2.0
        );
        assert_eq!(
            after["sentineldns_skipped_total{reason=\"not_dns_port\"}"],
            3.0
        );
        assert!(!after.contains_key("sentineldns_malformed_total{reason=\"not_dns_port\"}"));
        assert_eq!(
            after["sentineldns_bound_evictions_total{table=\"host_windows\"}"],
            7.0
        );
        assert_eq!(
            after["sentineldns_bound_evictions_total{table=\"tcp_flows\"}"],
            0.0
        );
        assert_eq!(
            after["sentineldns_lookups_total{outcome=\"answered\"}"],
            1.0
        );
        assert_eq!(after["sentineldns_lookups_total{outcome=\"event\"}"], 1.0);
        assert_eq!(after["sentineldns_windows_total"], 1.0);
        assert_eq!(
            after["sentineldns_last_window_end_seconds"],
            1_700_000_300.0
        );
        assert_eq!(after["sentineldns_verdicts_total{label=\"unusual\"}"], 1.0);
        assert_eq!(
            after["sentineldns_packets_dropped_total{where=\"kernel\"}"],
            7.0
        );
        assert_eq!(after["sentineldns_webhook_breaker_state"], 1.0);
        assert_eq!(after["sentineldns_webhook_queue_capacity"], 16.0);
    }

    #[test]
    fn histograms_and_process_metrics_are_exposed() {
        let m = Metrics::default();
        let before = parse(&m.render());
        assert_eq!(before["sentineldns_lookup_latency_seconds_count"], 0.0);
        assert_eq!(
            before["sentineldns_lookup_latency_seconds_bucket{le=\"+Inf\"}"],
            0.0
        );
        assert!(!before.contains_key("sentineldns_webhook_request_duration_seconds_count"));
        m.lookup_latency(Some(300));
        m.lookup_latency(Some(20_000));
        m.lookup_latency(Some(9_000_000));
        m.lookup_latency(None);
        m.scoring.observe_us(42);
        m.webhook.set_configured(4);
        m.webhook.request_duration.observe_us(120_000);
        m.triage
            .configured
            .store(1, std::sync::atomic::Ordering::Relaxed);
        m.triage.request_duration.observe_us(3_000_000);
        let after = parse(&m.render());
        let h = "sentineldns_lookup_latency_seconds";
        assert_eq!(after[&format!("{h}_count")], 3.0);
        assert_eq!(after[&format!("{h}_bucket{{le=\"0.00025\"}}")], 0.0);
        assert_eq!(after[&format!("{h}_bucket{{le=\"0.0005\"}}")], 1.0);
        assert_eq!(after[&format!("{h}_bucket{{le=\"0.025\"}}")], 2.0);
        assert_eq!(after[&format!("{h}_bucket{{le=\"5\"}}")], 2.0);
        assert_eq!(after[&format!("{h}_bucket{{le=\"+Inf\"}}")], 3.0);
        assert!((after[&format!("{h}_sum")] - 9.0203).abs() < 1e-9);
        assert_eq!(
            after["sentineldns_window_scoring_duration_seconds_sum"],
            0.000042
        );
        assert_eq!(
            after["sentineldns_webhook_request_duration_seconds_bucket{le=\"0.25\"}"],
            1.0
        );
        assert_eq!(
            after["sentineldns_triage_request_duration_seconds_count"],
            1.0
        );
        if cfg!(target_os = "linux") {
            for name in [
                "process_cpu_seconds_total",
                "process_resident_memory_bytes",
                "process_virtual_memory_bytes",
                "process_open_fds",
                "process_start_time_seconds",
            ] {
                assert!(after.contains_key(name), "{name}");
            }
            assert!(after["process_resident_memory_bytes"] > 0.0);
        }
    }
}
