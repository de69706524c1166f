//! What is wrong with a running sensor, read from its metrics: the one
//! source of the `degraded` status of both `/healthz` endpoints (the metrics
//! server's, and the API server's under `capture --serve`).
//!
//! Lasting states count while they last: a circuit breaker (webhook, triage)
//! open, the NDJSON output stopped by a write error. Losses count when they
//! rose since the previous health check of the same endpoint: capture drops,
//! and Kafka records that failed delivery or were dropped (queue full,
//! rejected); losses that stopped rising are history, not trouble.

use super::{BreakerState, KafkaDrop, Metrics};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Watches a sensor's [`Metrics`] for trouble (see the module docs). Each
/// health endpoint keeps its own watch: "since the previous check" is per
/// endpoint.
#[derive(Debug)]
pub struct TroubleWatch {
    metrics: Arc<Metrics>,
    last_dropped: AtomicU64,
    last_kafka_lost: AtomicU64,
}

/// Kafka records lost so far (failed, dropped for a full queue or
/// rejected; not those left at shutdown).
fn kafka_lost(m: &Metrics) -> u64 {
    let k = &m.kafka;
    k.failed.load(Ordering::Relaxed)
        + k.dropped_count(KafkaDrop::QueueFull)
        + k.dropped_count(KafkaDrop::Rejected)
}

impl TroubleWatch {
    /// Watch `metrics`; losses counted before now are not trouble.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        TroubleWatch {
            last_dropped: AtomicU64::new(metrics.dropped_total()),
            last_kafka_lost: AtomicU64::new(kafka_lost(&metrics)),
            metrics,
        }
    }

    /// The metrics watched.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// What is wrong now, one sentence each (empty: nothing). Resets the
    /// "since the previous check" marks.
    pub fn trouble(&self) -> Vec<String> {
        let m = &*self.metrics;
        let mut out = Vec::new();
        if m.webhook.is_configured() && m.webhook.breaker() == BreakerState::Open {
            out.push(
                "the webhook circuit breaker is open: alerts are dropped until its cooldown ends"
                    .to_string(),
            );
        }
        if m.triage.is_configured() && m.triage.breaker_state() == BreakerState::Open {
            out.push(
                "the triage circuit breaker is open: incidents are not triaged until its cooldown ends"
                    .to_string(),
            );
        }
        if m.ndjson.configured.load(Ordering::Relaxed)
            && m.ndjson.errors.load(Ordering::Relaxed) > 0
        {
            out.push(
                "the NDJSON output stopped after a write error: no more lines are written (the store is unaffected; see the log)"
                    .to_string(),
            );
        }
        for (name, f) in [("EVE", &m.eve), ("Zeek", &m.zeek)] {
            if f.is_configured() && f.errors.load(Ordering::Relaxed) > 0 {
                out.push(format!(
                    "the {name} output stopped after a write error: no more records are written (the store is unaffected; see the log)"
                ));
            }
        }
        if m.kafka.is_configured() {
            let now = kafka_lost(m);
            let before = self.last_kafka_lost.swap(now, Ordering::Relaxed);
            if now > before {
                out.push(format!(
                    "Kafka lost {} records since the previous health check (delivery failed, queue full or rejected)",
                    now - before
                ));
            }
        }
        let now = m.dropped_total();
        let before = self.last_dropped.swap(now, Ordering::Relaxed);
        if now > before {
            out.push(format!(
                "capture dropped {} packets since the previous health check (kernel, interface or queue)",
                now - before
            ));
        }
        out
    }

    /// The metrics server's `/healthz`: HTTP status (200 `ok`, 503
    /// `degraded`) and JSON body, with the reasons in `warnings` (the first
    /// also in `reason`), as the API server's `/healthz` reports them.
    pub fn health(&self) -> (u16, String) {
        let m = &*self.metrics;
        let trouble = self.trouble();
        let degraded = !trouble.is_empty();
        let mut v = serde_json::json!({
            "status": if degraded { "degraded" } else { "ok" },
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_seconds": (m.uptime_seconds() * 1000.0).round() / 1000.0,
            "input_finished": m.input_finished(),
            "lookups": m.lookups_total(),
            "windows": m.windows_total(),
        });
        if m.webhook.is_configured() {
            v["webhook_breaker"] = m.webhook.breaker().as_str().into();
        }
        if degraded {
            v["reason"] = trouble[0].clone().into();
        }
        v["warnings"] = trouble.into();
        (if degraded { 503 } else { 200 }, v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::metrics::DropSite;

    fn watch() -> (Arc<Metrics>, TroubleWatch) {
        let m = Arc::new(Metrics::default());
        (m.clone(), TroubleWatch::new(m))
    }

    #[test]
    fn a_healthy_sensor_is_ok() {
        let (_, w) = watch();
        let (st, body) = w.health();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!((st, v["status"].as_str()), (200, Some("ok")));
        assert_eq!(v["warnings"], serde_json::json!([]));
    }

    #[test]
    fn an_open_triage_breaker_is_trouble_while_open() {
        let (m, w) = watch();
        m.triage
            .breaker
            .store(BreakerState::Open as u8, Ordering::Relaxed);
        assert!(w.trouble().is_empty(), "triage is off");
        m.triage.configured.store(1, Ordering::Relaxed);
        let t = w.trouble();
        assert!(t[0].contains("triage circuit breaker is open"), "{t:?}");
        assert_eq!(w.trouble().len(), 1, "a lasting state stays trouble");
        let (st, body) = w.health();
        assert_eq!(st, 503);
        assert!(body.contains("\"degraded\""), "{body}");
        m.triage
            .breaker
            .store(BreakerState::HalfOpen as u8, Ordering::Relaxed);
        assert!(w.trouble().is_empty());
    }

    #[test]
    fn a_stopped_ndjson_output_is_trouble() {
        let (m, w) = watch();
        m.ndjson.errors.fetch_add(1, Ordering::Relaxed);
        assert!(w.trouble().is_empty(), "no NDJSON output configured");
        m.ndjson.set_configured();
        let t = w.trouble();
        assert!(t[0].contains("NDJSON output stopped"), "{t:?}");
        assert_eq!(w.trouble().len(), 1, "it does not restart");
    }

    #[test]
    fn kafka_losses_are_trouble_while_they_rise() {
        let (m, w) = watch();
        m.kafka.set_configured(100);
        m.kafka.dropped(KafkaDrop::Shutdown);
        assert!(
            w.trouble().is_empty(),
            "records left at shutdown are not lost"
        );
        m.kafka.failed.fetch_add(2, Ordering::Relaxed);
        m.kafka.dropped(KafkaDrop::QueueFull);
        m.kafka.dropped(KafkaDrop::Rejected);
        let t = w.trouble();
        assert_eq!(t.len(), 1, "{t:?}");
        assert!(t[0].contains("Kafka lost 4 records"), "{t:?}");
        assert!(w.trouble().is_empty(), "no new losses since");
        m.kafka.dropped(KafkaDrop::QueueFull);
        assert!(w.trouble()[0].contains("lost 1 records"));
    }

    #[test]
    fn losses_before_the_watch_began_are_not_trouble() {
        let m = Arc::new(Metrics::default());
        m.kafka.set_configured(10);
        m.kafka.failed.fetch_add(5, Ordering::Relaxed);
        m.set_dropped(DropSite::Kernel, 9);
        let w = TroubleWatch::new(m.clone());
        assert!(w.trouble().is_empty());
        m.set_dropped(DropSite::Interface, 2);
        let t = w.trouble();
        assert!(t[0].contains("dropped 2 packets"), "{t:?}");
    }

    #[test]
    fn several_troubles_are_all_listed() {
        let (m, w) = watch();
        m.webhook.set_configured(8);
        m.webhook.set_breaker(BreakerState::Open);
        m.ndjson.set_configured();
        m.ndjson.errors.fetch_add(1, Ordering::Relaxed);
        let (st, body) = w.health();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(st, 503);
        assert_eq!(v["warnings"].as_array().unwrap().len(), 2, "{v}");
        assert_eq!(v["reason"], v["warnings"][0]);
        assert_eq!(v["webhook_breaker"], "open");
    }
}
