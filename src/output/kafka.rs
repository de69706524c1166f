//! Kafka output (issue 14): window verdicts, incident alerts and optionally
//! every lookup, published to Kafka topics as the very JSON objects the
//! NDJSON output writes ([`super::ndjson`]: one JSON shape), keyed by the
//! client host's IP text so a host's records stay in one partition, with a
//! `sentineldns.sensor` header (`sentineldns::fleet::kafka::SENSOR_HEADER`)
//! naming the sensor.
//!
//! [`KafkaConfig`] (`[outputs.kafka]`, `--kafka BROKERS`) is always compiled,
//! so a configuration file is checked the same by every build; the producer
//! needs the cargo feature `kafka`, and a build without it refuses a Kafka
//! output when the outputs start, saying so.
//!
//! The producer is librdkafka's (rust-rdkafka `ThreadedProducer`): `send`
//! only copies the record into librdkafka's bounded queue
//! (`queue.buffering.max.messages` = `queue`) and returns; its own threads
//! batch, compress, send and retry, and a polling thread counts the delivery
//! reports. The windowing thread therefore never waits on the network: a
//! full queue drops the record and counts it (`queue_full`). While a broker
//! is down, records wait in that queue (up to `message_timeout_ms`, then they
//! count as failed) and go out when it is back; with `acks = "all"` the
//! producer is idempotent, so its retries write no duplicates. At the end of
//! a run the producer flushes until `shutdown_grace_ms` passes
//! ([`super::breaker::Shutdown`]); what is still queued then is purged and
//! counted (`shutdown`).

use serde::{Deserialize, Serialize};

/// Largest `queue` (librdkafka's own maximum is 2^31 − 1 messages; ten
/// million records of a few hundred bytes is already gigabytes).
pub const MAX_QUEUE: u64 = 10_000_000;
/// Longest `message_timeout_ms` (one day).
pub const MAX_MESSAGE_TIMEOUT_MS: u64 = 86_400_000;
/// Longest `shutdown_grace_ms` (five minutes).
pub const MAX_GRACE_MS: u64 = 300_000;

/// Broker acknowledgement a record needs before it counts as delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Acks {
    /// Every in-sync replica (`"all"`, default; the producer is idempotent).
    #[default]
    #[serde(rename = "all")]
    All,
    /// The partition leader only (`"1"`; not idempotent).
    #[serde(rename = "1")]
    One,
    /// None (`"0"`: fire and forget; not idempotent).
    #[serde(rename = "0")]
    Zero,
}

/// Compression of record batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// None.
    None,
    /// gzip.
    Gzip,
    /// Snappy.
    Snappy,
    /// LZ4.
    Lz4,
    /// Zstandard (default: the best ratio for JSON at little CPU).
    #[default]
    Zstd,
}

impl Compression {
    /// librdkafka's `compression.type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// A kind of record the Kafka output publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Ship {
    /// Window verdicts (`sentineldns.window` objects).
    Windows,
    /// Incidents opened or escalated (`sentineldns.incident` objects).
    Incidents,
    /// Every lookup (`sentineldns.lookup` objects), for scorers that window
    /// and score them elsewhere (`score --kafka`).
    Lookups,
}

fn default_ship() -> Vec<Ship> {
    vec![Ship::Windows, Ship::Incidents]
}

/// Topic of each kind of record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaTopics {
    /// Window verdicts (default `sentineldns.windows`).
    pub windows: String,
    /// Incident alerts (default `sentineldns.incidents`).
    pub incidents: String,
    /// Lookups (default `sentineldns.lookups`).
    pub lookups: String,
}

impl Default for KafkaTopics {
    fn default() -> Self {
        KafkaTopics {
            windows: "sentineldns.windows".into(),
            incidents: "sentineldns.incidents".into(),
            lookups: "sentineldns.lookups".into(),
        }
    }
}

/// `[outputs.kafka]`: where and how records are published.
///
/// ```
/// let c: sentineldns::output::kafka::KafkaConfig = toml::from_str(r#"
///     brokers = "10.0.0.5:9092,10.0.0.6:9092"
///     sensor = "branch-7"
///     acks = "all"
///     compression = "lz4"
///     queue = 200000
///     ship = ["lookups"]
///     [topics]
///     lookups = "dns.lookups"
/// "#)?;
/// assert_eq!(c.topics.lookups, "dns.lookups");
/// assert_eq!(c.topics.windows, "sentineldns.windows");
/// assert_eq!(c.ship, [sentineldns::output::kafka::Ship::Lookups]);
/// # Ok::<(), toml::de::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap brokers, `HOST:PORT[,HOST:PORT...]` (required).
    pub brokers: String,
    /// The sensor's name in the `sentineldns.sensor` header of every record
    /// (the collector keys PostgreSQL rows by it). Default: the host name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensor: Option<String>,
    /// Topic names.
    pub topics: KafkaTopics,
    /// `"all"` (default, idempotent), `"1"` or `"0"`.
    pub acks: Acks,
    /// `none`, `gzip`, `snappy`, `lz4` or `zstd` (default).
    pub compression: Compression,
    /// Records the producer may hold (queued or in flight) before new ones
    /// are dropped and counted (default 100000; 1 to 10000000).
    pub queue: usize,
    /// What to publish (default `["windows", "incidents"]`).
    pub ship: Vec<Ship>,
    /// How long the producer waits to fill a batch, key `linger` (default
    /// `"5ms"`; 0 to 1 min). Held in milliseconds, like the two below.
    #[serde(rename = "linger", with = "crate::config::millis")]
    pub linger_ms: u64,
    /// How long a record may wait for a broker (an outage) before it counts
    /// as failed, key `message_timeout` (default `"10m"`; 1 s to 1 day).
    #[serde(rename = "message_timeout", with = "crate::config::millis")]
    pub message_timeout_ms: u64,
    /// At the end of a run, how long queued records may still be delivered,
    /// key `shutdown_grace` (default `"10s"`; 0 to 5 min); the rest are
    /// counted as dropped.
    #[serde(rename = "shutdown_grace", with = "crate::config::millis")]
    pub shutdown_grace_ms: u64,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: String::new(),
            sensor: None,
            topics: KafkaTopics::default(),
            acks: Acks::All,
            compression: Compression::Zstd,
            queue: 100_000,
            ship: default_ship(),
            linger_ms: 5,
            message_timeout_ms: 600_000,
            shutdown_grace_ms: 10_000,
        }
    }
}

impl KafkaConfig {
    /// The numeric keys and their ranges.
    pub fn bounds(&self) -> Vec<crate::config::KeyRange> {
        use crate::config::KeyRange;
        vec![
            KeyRange::new("outputs.kafka.queue", self.queue, 1, MAX_QUEUE),
            KeyRange::millis("outputs.kafka.linger", self.linger_ms, 0, 60_000),
            KeyRange::millis(
                "outputs.kafka.message_timeout",
                self.message_timeout_ms,
                1000,
                MAX_MESSAGE_TIMEOUT_MS,
            ),
            KeyRange::millis(
                "outputs.kafka.shutdown_grace",
                self.shutdown_grace_ms,
                0,
                MAX_GRACE_MS,
            ),
        ]
    }

    /// The checks that are not ranges: `(key, problem)` each.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let b = self.brokers.trim();
        if b.is_empty() {
            out.push((
                "outputs.kafka.brokers",
                "brokers must be set, e.g. \"127.0.0.1:9092\"".to_string(),
            ));
        } else if b
            .split(',')
            .any(|h| h.trim().is_empty() || !h.contains(':'))
        {
            out.push((
                "outputs.kafka.brokers",
                format!("{b:?} must be HOST:PORT[,HOST:PORT...]"),
            ));
        }
        if self.ship.is_empty() {
            out.push((
                "outputs.kafka.ship",
                "ship must name at least one of windows, incidents, lookups".to_string(),
            ));
        }
        for (key, t) in [
            ("outputs.kafka.topics.windows", &self.topics.windows),
            ("outputs.kafka.topics.incidents", &self.topics.incidents),
            ("outputs.kafka.topics.lookups", &self.topics.lookups),
        ] {
            if let Err(e) = check_topic(t) {
                out.push((key, e));
            }
        }
        if self.sensor.as_deref().is_some_and(|s| s.trim().is_empty()) {
            out.push((
                "outputs.kafka.sensor",
                "sensor must not be empty (leave it out for the host name)".to_string(),
            ));
        }
        out
    }

    /// Whether records of `kind` are published.
    pub fn ships(&self, kind: Ship) -> bool {
        self.ship.contains(&kind)
    }

    /// The sensor name: `sensor`, else the host name, else `"sensor"`.
    pub fn sensor_name(&self) -> String {
        if let Some(s) = self.sensor.as_deref().map(str::trim) {
            if !s.is_empty() {
                return s.to_string();
            }
        }
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "sensor".to_string())
    }
}

/// Kafka's own rule for topic names: 1 to 249 of `[A-Za-z0-9._-]`, not `.`
/// or `..`.
pub fn check_topic(t: &str) -> Result<(), String> {
    if t.is_empty() || t.len() > 249 || t == "." || t == ".." {
        return Err(format!(
            "topic {t:?} must be 1 to 249 characters, not . or .."
        ));
    }
    if let Some(c) = t
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "topic {t:?}: {c:?} is not allowed (A-Z a-z 0-9 . _ -)"
        ));
    }
    Ok(())
}

#[cfg(feature = "kafka")]
pub use producer::KafkaOutput;

/// The Kafka output of a build without the `kafka` feature: it cannot be
/// started ([`KafkaOutput::start`] says so), so no value of it exists.
#[cfg(not(feature = "kafka"))]
#[derive(Debug)]
pub enum KafkaOutput {}

#[cfg(not(feature = "kafka"))]
impl KafkaOutput {
    /// Always an error: this build has no Kafka client.
    pub fn start(
        _cfg: &KafkaConfig,
        _metrics: std::sync::Arc<super::metrics::Metrics>,
    ) -> Result<Self, super::OutputError> {
        Err(super::OutputError::Config(
            "Kafka output: this sentineldns was built without the `kafka` feature; rebuild with `cargo build --release --features kafka`".into(),
        ))
    }
    /// Unreachable (no value exists).
    pub fn lookup(&mut self, _l: &crate::event::Lookup<'_>, _e: &crate::enrich::Enrichment) {
        match *self {}
    }
    /// Unreachable (no value exists).
    pub fn window(&mut self, _host: std::net::IpAddr, _line: &serde_json::Value) {
        match *self {}
    }
    /// Unreachable (no value exists).
    pub fn incident(&mut self, _host: &str, _line: &serde_json::Value) {
        match *self {}
    }
    /// Unreachable (no value exists).
    pub fn ships(&self, _kind: Ship) -> bool {
        match *self {}
    }
    /// Unreachable (no value exists).
    pub fn close(&mut self) {
        match *self {}
    }
}

#[cfg(feature = "kafka")]
mod producer {
    use super::{KafkaConfig, Ship};
    use crate::enrich::Enrichment;
    use crate::event::Lookup;
    use crate::fleet::kafka::{producer_config, SENSOR_HEADER};
    use crate::output::breaker::Shutdown;
    use crate::output::metrics::{KafkaDrop, KafkaMetrics, Metrics};
    use crate::output::OutputError;
    use rdkafka::error::{KafkaError as RdError, RDKafkaErrorCode};
    use rdkafka::message::{Header, OwnedHeaders};
    use rdkafka::producer::{
        BaseRecord, DeliveryResult, Producer, ProducerContext, PurgeConfig, ThreadedProducer,
    };
    use rdkafka::ClientContext;
    use std::fmt::Write as _;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// Counts delivery reports (on the producer's polling thread).
    struct Reports {
        m: Arc<KafkaMetrics>,
    }

    impl ClientContext for Reports {}

    impl ProducerContext for Reports {
        type DeliveryOpaque = ();

        fn delivery(&self, r: &DeliveryResult<'_>, _: ()) {
            match r {
                Ok(_) => {
                    self.m.delivered.fetch_add(1, Ordering::Relaxed);
                }
                Err((
                    RdError::MessageProduction(
                        RDKafkaErrorCode::PurgeQueue | RDKafkaErrorCode::PurgeInflight,
                    ),
                    _,
                )) => {
                    self.m.dropped(KafkaDrop::Shutdown);
                }
                Err((e, _)) => {
                    let n = self.m.failed.fetch_add(1, Ordering::Relaxed);
                    // One line per power of two: an outage is visible
                    // without a line per record.
                    if (n + 1).is_power_of_two() {
                        tracing::warn!(error = %e, failed = n + 1, "Kafka delivery failed");
                    }
                }
            }
        }
    }

    /// The running Kafka producer of one command.
    pub struct KafkaOutput {
        producer: ThreadedProducer<Reports>,
        cfg: KafkaConfig,
        ship: [bool; 3],
        headers: OwnedHeaders,
        buf: Vec<u8>,
        key: String,
        m: Arc<KafkaMetrics>,
        shutdown: Shutdown,
        rejected_logged: bool,
    }

    impl std::fmt::Debug for KafkaOutput {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("KafkaOutput")
                .field("brokers", &self.cfg.brokers)
                .field("ship", &self.cfg.ship)
                .finish_non_exhaustive()
        }
    }

    impl KafkaOutput {
        /// Create the producer (it connects in the background: a broker that
        /// is down now is not an error, its records wait in the queue).
        pub fn start(cfg: &KafkaConfig, metrics: Arc<Metrics>) -> Result<Self, OutputError> {
            let problems = cfg.problems();
            if let Some((key, p)) = problems.first() {
                return Err(OutputError::Config(format!("{key}: {p}")));
            }
            let client = producer_config(cfg).map_err(|e| OutputError::Config(e.to_string()))?;
            let m = metrics.kafka.clone();
            let producer: ThreadedProducer<Reports> = client
                .create_with_context(Reports { m: m.clone() })
                .map_err(|e| {
                    OutputError::Config(format!("Kafka producer for {}: {e}", cfg.brokers))
                })?;
            let sensor = cfg.sensor_name();
            let headers = OwnedHeaders::new_with_capacity(1).insert(Header {
                key: SENSOR_HEADER,
                value: Some(sensor.as_str()),
            });
            m.set_configured(cfg.queue);
            tracing::info!(
                brokers = %cfg.brokers,
                sensor = %sensor,
                ship = ?cfg.ship,
                "Kafka output started"
            );
            Ok(KafkaOutput {
                producer,
                ship: [
                    cfg.ships(Ship::Windows),
                    cfg.ships(Ship::Incidents),
                    cfg.ships(Ship::Lookups),
                ],
                cfg: cfg.clone(),
                headers,
                buf: Vec::with_capacity(1024),
                key: String::with_capacity(48),
                m,
                shutdown: Shutdown::default(),
                rejected_logged: false,
            })
        }

        /// Whether records of `kind` are published.
        pub fn ships(&self, kind: Ship) -> bool {
            self.ship[kind as usize]
        }

        /// Hand `self.buf` (key `self.key`) to the producer: never waits.
        fn send(&mut self, kind: Ship) {
            let topic = match kind {
                Ship::Windows => &self.cfg.topics.windows,
                Ship::Incidents => &self.cfg.topics.incidents,
                Ship::Lookups => &self.cfg.topics.lookups,
            };
            let rec = BaseRecord::to(topic)
                .key(self.key.as_bytes())
                .payload(&self.buf[..])
                .headers(self.headers.clone());
            match self.producer.send(rec) {
                Ok(()) => {
                    self.m.enqueued.fetch_add(1, Ordering::Relaxed);
                }
                Err((RdError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    self.m.dropped(KafkaDrop::QueueFull);
                }
                Err((e, _)) => {
                    self.m.dropped(KafkaDrop::Rejected);
                    if !self.rejected_logged {
                        self.rejected_logged = true;
                        tracing::warn!(error = %e, topic = %topic, "Kafka refused a record (counted as dropped: rejected)");
                    }
                }
            }
        }

        /// One lookup, as its NDJSON line (when lookups are shipped).
        pub fn lookup(&mut self, l: &Lookup<'_>, e: &Enrichment) {
            if !self.ship[Ship::Lookups as usize] {
                return;
            }
            self.buf.clear();
            crate::output::ndjson::format_lookup(&mut self.buf, l, e);
            if self.buf.last() == Some(&b'\n') {
                self.buf.pop();
            }
            self.key.clear();
            let _ = write!(self.key, "{}", l.client);
            self.send(Ship::Lookups);
        }

        /// One window object (when windows are shipped).
        pub fn window(&mut self, host: std::net::IpAddr, line: &serde_json::Value) {
            if !self.ship[Ship::Windows as usize] {
                return;
            }
            self.buf.clear();
            // Serialising a `Value` into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut self.buf, line);
            self.key.clear();
            let _ = write!(self.key, "{host}");
            self.send(Ship::Windows);
        }

        /// One incident object (when incidents are shipped).
        pub fn incident(&mut self, host: &str, line: &serde_json::Value) {
            if !self.ship[Ship::Incidents as usize] {
                return;
            }
            self.buf.clear();
            let _ = serde_json::to_writer(&mut self.buf, line);
            self.key.clear();
            self.key.push_str(host);
            self.send(Ship::Incidents);
        }

        /// End of the run: deliver what is queued until
        /// `shutdown_grace_ms` passes, then purge the rest (counted as
        /// dropped at shutdown).
        pub fn close(&mut self) {
            self.shutdown
                .begin(Duration::from_millis(self.cfg.shutdown_grace_ms));
            let deadline = self.shutdown.deadline().unwrap_or_else(Instant::now);
            // Flush in slices so the deadline is kept whatever librdkafka does.
            loop {
                if self.producer.in_flight_count() <= 0 {
                    break;
                }
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                let _ = self.producer.flush(left.min(Duration::from_millis(200)));
            }
            let left = self.producer.in_flight_count();
            if left > 0 {
                tracing::warn!(
                    records = left,
                    grace_ms = self.cfg.shutdown_grace_ms,
                    "Kafka output: records still queued at the shutdown deadline are dropped"
                );
                self.producer
                    .purge(PurgeConfig::default().queue().inflight());
                // The purge reports each record through the delivery
                // callback: poll them in (bounded).
                let _ = self.producer.flush(Duration::from_millis(500));
            }
        }
    }
}
