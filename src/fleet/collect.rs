//! `sentineldns collect`: a Kafka consumer-group member that writes the
//! window verdicts and incidents sensors publish ([`crate::output::kafka`])
//! into the PostgreSQL fleet database ([`PgStore`]).
//!
//! Delivery: at least once from Kafka, exactly once in the tables. Records
//! are gathered into a batch (up to `batch` records or `batch_ms` of wall
//! time), the batch is upserted in ONE transaction ([`PgStore::upsert`],
//! keyed by (sensor, host, window start) and (sensor, incident id)), and only
//! after that transaction committed are the batch's offsets committed to the
//! group (`enable.auto.commit=false`). A collector killed between the two
//! gets the batch again after its restart (or another member gets it after a
//! rebalance); the upsert then rewrites the same rows: no loss, no duplicate.
//! A member that commits offsets of a partition it lost in a rebalance
//! commits only what it already wrote, so nothing is skipped either.
//!
//! The sensor of a record is its `sentineldns.sensor` header
//! ([`crate::fleet::kafka::SENSOR_HEADER`]); a record without one, a value
//! that is not a JSON window or incident object, is skipped and counted,
//! and its offset committed with the batch (bad input never stalls the
//! group).
//!
//! Retention (`keep`) runs on packet time: after a batch whose newest window
//! starts on a later day than before, the day partitions that ended more
//! than `keep` before that window are dropped
//! ([`PgStore::drop_partitions_before`]).

use crate::event::MICROS;
use crate::fleet::kafka::{consumer_config, sensor_of, KafkaError};
use crate::store::pg::{day_of, IncidentRecord, PgError, PgStore, TriageUpdate, WindowRecord};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What a collector reads and where it writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectConfig {
    /// Bootstrap brokers, `HOST:PORT[,HOST:PORT...]`.
    pub brokers: String,
    /// PostgreSQL URL (`postgres://user@host:port/db`).
    pub postgres: String,
    /// Consumer group (default `sentineldns-collect`): the members of one
    /// group split the partitions.
    pub group: String,
    /// Topics to consume (default: the window and incident topics).
    pub topics: Vec<String>,
    /// Records per batch (one transaction; default 5000).
    pub batch: usize,
    /// Longest wait for a batch to fill before it is written (default
    /// 1000 ms).
    pub batch_ms: u64,
    /// Retention in seconds of packet time (`None`: keep everything).
    pub keep_s: Option<i64>,
    /// Stop once no record arrived for this long and nothing is pending
    /// (`None`: run until stopped).
    pub idle_exit: Option<Duration>,
}

impl Default for CollectConfig {
    fn default() -> Self {
        let t = crate::output::kafka::KafkaTopics::default();
        CollectConfig {
            brokers: String::new(),
            postgres: String::new(),
            group: "sentineldns-collect".into(),
            topics: vec![t.windows, t.incidents],
            batch: 5000,
            batch_ms: 1000,
            keep_s: None,
            idle_exit: None,
        }
    }
}

/// Collector failures (each ends the run; offsets of unwritten records are
/// not committed, so a restart resumes without loss).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollectError {
    /// The Kafka side.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// The PostgreSQL side.
    #[error(transparent)]
    Pg(#[from] PgError),
    /// The async runtime for the database client could not start.
    #[error("starting the database runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// Invalid settings.
    #[error("collect: {0}")]
    Config(String),
}

/// Why a record was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Skip {
    /// No `sentineldns.sensor` header.
    NoSensor,
    /// The value is not a JSON object.
    NotJson,
    /// A JSON object that is not a window or incident (or lacks their
    /// fields).
    NotARecord,
}

impl Skip {
    /// Name in logs and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::NoSensor => "no_sensor_header",
            Skip::NotJson => "not_json",
            Skip::NotARecord => "not_a_window_or_incident",
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CollectStats {
    /// Records consumed.
    pub records: u64,
    /// Window records written (a redelivered one counts again).
    pub windows: u64,
    /// Incident records written.
    pub incidents: u64,
    /// Records skipped, by reason.
    pub skipped: BTreeMap<&'static str, u64>,
    /// Transactions committed.
    pub batches: u64,
    /// Offset commits that failed (a rebalance); those records come again.
    pub commit_failures: u64,
    /// Day partitions dropped by retention.
    pub partitions_dropped: u64,
    /// Wall-clock seconds of the run.
    pub secs: f64,
}

impl CollectStats {
    /// Rows written per second of the run.
    pub fn rows_per_s(&self) -> f64 {
        if self.secs > 0.0 {
            (self.windows + self.incidents) as f64 / self.secs
        } else {
            0.0
        }
    }
}

/// One batch: its rows and, per partition, the offset to commit after it.
#[derive(Default)]
struct Batch {
    windows: Vec<WindowRecord>,
    incidents: Vec<IncidentRecord>,
    triage: Vec<TriageUpdate>,
    offsets: BTreeMap<(String, i32), i64>,
    records: usize,
    started: Option<Instant>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.records == 0
    }
}

/// Parse one record into the batch, or count why not.
fn take<M: Message>(m: &M, b: &mut Batch, stats: &mut CollectStats) {
    stats.records += 1;
    b.records += 1;
    b.started.get_or_insert_with(Instant::now);
    b.offsets
        .insert((m.topic().to_string(), m.partition()), m.offset() + 1);
    let skip = |stats: &mut CollectStats, why: Skip| {
        let n = stats.skipped.entry(why.as_str()).or_default();
        *n += 1;
        if *n <= 3 {
            tracing::warn!(
                topic = m.topic(),
                partition = m.partition(),
                offset = m.offset(),
                reason = why.as_str(),
                "record skipped"
            );
        }
    };
    let Some(sensor) = sensor_of(m) else {
        return skip(stats, Skip::NoSensor);
    };
    let Some(v) = m
        .payload()
        .and_then(|p| serde_json::from_slice::<serde_json::Value>(p).ok())
        .filter(serde_json::Value::is_object)
    else {
        return skip(stats, Skip::NotJson);
    };
    if let Some(w) = WindowRecord::from_ndjson(&sensor, &v) {
        b.windows.push(w);
    } else if let Some(i) = IncidentRecord::from_ndjson(&sensor, &v) {
        b.incidents.push(i);
    } else if let Some(t) = TriageUpdate::from_ndjson(&sensor, &v) {
        b.triage.push(t);
    } else {
        skip(stats, Skip::NotARecord);
    }
}

/// A running collector.
pub struct Collector {
    cfg: CollectConfig,
    consumer: BaseConsumer,
    store: PgStore,
    rt: tokio::runtime::Runtime,
    /// Newest window start written (unix seconds, packet time).
    newest_s: Option<i64>,
    /// The day retention last ran for.
    retained_day: Option<i64>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("cfg", &self.cfg.brokers)
            .field("group", &self.cfg.group)
            .finish_non_exhaustive()
    }
}

impl Collector {
    /// Connect to PostgreSQL (migrating the schema) and join the consumer
    /// group.
    pub fn start(cfg: CollectConfig) -> Result<Self, CollectError> {
        if cfg.topics.is_empty() {
            return Err(CollectError::Config("no topics to consume".into()));
        }
        if cfg.batch == 0 {
            return Err(CollectError::Config("batch must be at least 1".into()));
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(CollectError::Runtime)?;
        let store = rt.block_on(PgStore::connect(&cfg.postgres))?;
        let consumer: BaseConsumer = consumer_config(&cfg.brokers, &cfg.group)?
            .create()
            .map_err(|source| KafkaError::Client {
                brokers: cfg.brokers.clone(),
                source,
            })?;
        let topics: Vec<&str> = cfg.topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topics)
            .map_err(|source| KafkaError::Op {
                what: "subscribing",
                source,
            })?;
        tracing::info!(brokers = %cfg.brokers, group = %cfg.group, topics = ?cfg.topics, "collector joined");
        Ok(Collector {
            cfg,
            consumer,
            store,
            rt,
            newest_s: None,
            retained_day: None,
        })
    }

    /// Consume until `stop` is set (or `idle_exit` passes with nothing
    /// pending), writing and committing batch by batch; the batch pending
    /// when stopping is written and committed first.
    pub fn run(&mut self, stop: &AtomicBool) -> Result<CollectStats, CollectError> {
        let t0 = Instant::now();
        let mut stats = CollectStats::default();
        let mut batch = Batch::default();
        let mut last_record = Instant::now();
        let mut last_log = Instant::now();
        let mut logged_rows = 0u64;
        let mut poll_errors = 0u64;
        let batch_wait = Duration::from_millis(self.cfg.batch_ms);
        loop {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            match self.consumer.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    take(&m, &mut batch, &mut stats);
                    last_record = Instant::now();
                }
                Some(Err(e)) => {
                    poll_errors += 1;
                    if poll_errors.is_power_of_two() {
                        tracing::warn!(error = %e, errors = poll_errors, "Kafka consumer error (it keeps retrying)");
                    }
                }
                None => {}
            }
            let due = batch.records >= self.cfg.batch
                || batch.started.is_some_and(|s| s.elapsed() >= batch_wait);
            if due {
                self.write(std::mem::take(&mut batch), &mut stats)?;
            }
            if batch.is_empty()
                && self
                    .cfg
                    .idle_exit
                    .is_some_and(|d| last_record.elapsed() >= d)
            {
                tracing::info!("no record for the idle time: stopping");
                break;
            }
            if last_log.elapsed() >= Duration::from_secs(10) {
                let rows = stats.windows + stats.incidents;
                tracing::info!(
                    records = stats.records,
                    rows,
                    rows_per_s = (rows - logged_rows) as f64 / last_log.elapsed().as_secs_f64(),
                    batches = stats.batches,
                    "collector progress"
                );
                logged_rows = rows;
                last_log = Instant::now();
            }
        }
        if !batch.is_empty() {
            self.write(batch, &mut stats)?;
        }
        stats.secs = t0.elapsed().as_secs_f64();
        Ok(stats)
    }

    /// Write one batch in one transaction, then commit its offsets, then
    /// apply retention.
    fn write(&mut self, b: Batch, stats: &mut CollectStats) -> Result<(), CollectError> {
        if b.is_empty() {
            return Ok(());
        }
        let newest = b.windows.iter().map(|w| w.start.div_euclid(MICROS)).max();
        self.rt
            .block_on(self.store.upsert(&b.windows, &b.incidents))?;
        // After the incidents they annotate (a sensor ships an incident
        // before its triage, on the same key, so in order).
        self.rt.block_on(self.store.set_triage(&b.triage))?;
        stats.windows += b.windows.len() as u64;
        stats.incidents += b.incidents.len() as u64;
        stats.batches += 1;
        // Durable in PostgreSQL: now the group may move past these records.
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), offset) in &b.offsets {
            if let Err(e) = tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset)) {
                return Err(KafkaError::Op {
                    what: "building the offsets to commit",
                    source: e,
                }
                .into());
            }
        }
        if let Err(e) = self.consumer.commit(&tpl, CommitMode::Sync) {
            // A rebalance took a partition: its new owner reads these records
            // again and the upsert rewrites the same rows.
            stats.commit_failures += 1;
            tracing::warn!(error = %e, "offset commit failed (the records will be redelivered; the upsert makes that harmless)");
        }
        if let Some(n) = newest {
            self.newest_s = Some(self.newest_s.map_or(n, |o| o.max(n)));
        }
        self.retention(stats)
    }

    fn retention(&mut self, stats: &mut CollectStats) -> Result<(), CollectError> {
        let (Some(keep), Some(newest)) = (self.cfg.keep_s, self.newest_s) else {
            return Ok(());
        };
        let day = day_of(newest);
        if self.retained_day == Some(day) {
            return Ok(());
        }
        let dropped = self
            .rt
            .block_on(self.store.drop_partitions_before(newest - keep))?;
        if !dropped.is_empty() {
            tracing::info!(
                days = dropped.len(),
                "retention: dropped day partitions older than keep"
            );
        }
        stats.partitions_dropped += dropped.len() as u64;
        self.retained_day = Some(day);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::{Header, OwnedHeaders, OwnedMessage, Timestamp};

    fn msg(sensor: Option<&str>, value: &str, offset: i64) -> OwnedMessage {
        let headers = sensor.map(|s| {
            OwnedHeaders::new().insert(Header {
                key: crate::fleet::kafka::SENSOR_HEADER,
                value: Some(s),
            })
        });
        OwnedMessage::new(
            Some(value.as_bytes().to_vec()),
            Some(b"10.0.0.9".to_vec()),
            "sentineldns.windows".into(),
            Timestamp::NotAvailable,
            2,
            offset,
            headers,
        )
    }

    #[test]
    fn records_are_parsed_or_skipped_and_every_offset_is_committed() {
        let window = r#"{"@timestamp":"2024-03-04T08:05:00.000000Z","event":{"dataset":"sentineldns.window"},"source":{"ip":"10.0.0.9"},"sentineldns":{"window":{"start":"2024-03-04T08:00:00.000000Z","end":"2024-03-04T08:05:00.000000Z"},"score":0.9,"label":"Likely Compromise"}}"#;
        let mut b = Batch::default();
        let mut s = CollectStats::default();
        take(&msg(Some("s1"), window, 7), &mut b, &mut s);
        take(&msg(None, window, 8), &mut b, &mut s);
        take(&msg(Some("s1"), "{not json", 9), &mut b, &mut s);
        take(
            &msg(Some("s1"), r#"{"event":{"dataset":"x"}}"#, 10),
            &mut b,
            &mut s,
        );
        assert_eq!(b.windows.len(), 1);
        assert_eq!(b.windows[0].sensor, "s1");
        assert_eq!(b.windows[0].host, "10.0.0.9");
        assert_eq!(b.windows[0].label.as_deref(), Some("Likely Compromise"));
        assert_eq!(s.records, 4);
        assert_eq!(s.skipped[Skip::NoSensor.as_str()], 1);
        assert_eq!(s.skipped[Skip::NotJson.as_str()], 1);
        assert_eq!(s.skipped[Skip::NotARecord.as_str()], 1);
        assert_eq!(
            b.offsets.get(&("sentineldns.windows".to_string(), 2)),
            Some(&11),
            "the offset after the last record, skipped ones included"
        );
    }
}
