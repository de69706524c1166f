//! `sentineldns score`: the scaled-out scorer (issue 14 item 2).
//!
//! Sensors that only capture and decode publish every lookup to the lookups
//! topic (`capture|replay --kafka … --ship lookups`, keyed by client host, so
//! a host's lookups stay in one partition). Scorers of one consumer group
//! split the partitions. Each assigned partition gets its own
//! [`Sensor`] — the very pipeline `replay` runs, with its own packet clock
//! (watermark) and a throw-away SQLite state file — and its records are fed
//! in offset order through [`Sensor::event`] after
//! [`crate::source::ecs::parse_line`]. Closed windows go out through the
//! sensor's outputs (the Kafka output: windows and incidents topics,
//! idempotent producer).
//!
//! # Offsets: the exactly-once-per-window argument
//!
//! Windows are aligned to the window length `W` and a window `[s, s+W)`
//! closes when the partition's watermark `B = floor((clock - grace) / W) * W`
//! passes its end (`s < B`), the same rule the aggregator applies. Per
//! partition the scorer keeps, for each still-open window start `s`, the
//! first offset of a record that fell into it. Periodically, and only when
//! every record the partition's producer was handed has been acknowledged
//! (queue depth 0, nothing failed or dropped), it commits
//!
//! * offset `C = min(first offset of any open window, next offset)`, and
//! * in the same commit request, offset `B` (the partition's closed
//!   boundary, µs) for the same partition number of the *floor topic*
//!   (`<lookups topic>.floors` by default; only offsets are committed to
//!   it). Commit metadata would be the natural place, but tansu does not keep
//!   it; an offset is kept by every broker.
//!
//! Every record below `C` belongs to a closed window (already delivered) or
//! was late. A scorer that takes the partition over (rebalance, crash,
//! restart) starts at `C` with a fresh sensor and skips, counted as
//! `already_scored`, every record whose window starts before
//! the committed boundary: those windows were published whole (or the record was
//! late for the previous owner too). With that floor, the effective late
//! fence of the new owner, `max(floor, B')`, equals the one an
//! uninterrupted scorer would have had at every later record (its `B` is the
//! larger of the floor and the `B` of the records after `C`), so every
//! window starting at or after the floor gets exactly the same records
//! and closes at the same record: it is rebuilt whole, and published under
//! the same key `(sensor, host, window_start)`, which the collector upserts.
//! A window whose verdict was delivered but not yet committed is published
//! again identically (the broker then holds it twice; PostgreSQL once).
//!
//! On tansu a taken-up partition is read from its beginning and the records
//! below `C` are skipped (`below_commit`): tansu returns nothing to a fetch
//! that starts inside a producer batch. An eager rebalance (everything
//! revoked, then assigned again) keeps the state of the partitions that come
//! back; only partitions that went away are dropped.
//!
//! A partition has one watermark, moved by every sensor that publishes into
//! it: sensors must be aligned in packet time (live sensors are); one whose
//! stream lags the others by more than the grace has its lookups counted
//! late. Per-origin watermarks are not built.
//!
//! What a takeover does not rebuild is the state older than `C`: the
//! first-seen domains (sensor-wide and per host), detection-unit history,
//! the incident tracker and any site learning. Window *contents* stay
//! exact; features that depend on that history (new-domain counts) and so
//! verdicts of the first windows after a takeover can differ from an
//! uninterrupted run. The sensor-wide first-seen set is also per partition:
//! a domain first seen by hosts in two partitions counts as new in both,
//! where one `replay` of everything counts it once.
//!
//! # End of stream and shutdown
//!
//! A stream has no end; `idle_exit` (for batch jobs and tests) closes every
//! open window of every partition once no record arrived for that long
//! (as `replay` does at the end of its input), waits for delivery and
//! commits past everything with the boundary beyond the newest window.
//! SIGINT/SIGTERM (`stop`) stop consuming, deliver what closed, commit what
//! is durable and leave the open windows to the next owner (never commit
//! past them).

use crate::event::TsMicros;
use crate::fleet::kafka::{consumer_config, KafkaError};
use crate::output::metrics::KafkaDrop;
use crate::sensor::{RunStatus, Sensor, SensorError};
use crate::source::jsonl::JsonEvent;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What the scorer needs besides the per-partition sensors.
#[derive(Debug, Clone)]
pub struct ScoreConfig {
    /// Bootstrap brokers.
    pub brokers: String,
    /// Consumer group.
    pub group: String,
    /// The lookups topic consumed.
    pub topic: String,
    /// The topic whose committed offsets (in this group) hold each
    /// partition's closed boundary: partition `p`'s offset is the
    /// boundary in µs. Only offsets are committed to it, never records.
    pub floor_topic: String,
    /// Window length (µs), as the sensors' pipeline has it.
    pub window: TsMicros,
    /// Grace (µs), as the sensors' pipeline has it.
    pub grace: TsMicros,
    /// Close everything and stop once no record arrived for this long.
    pub idle_exit: Option<Duration>,
    /// How often durable progress is committed.
    pub commit_every: Duration,
    /// Directory of the per-partition state files.
    pub state_dir: PathBuf,
    /// How long a delivery may take before the scorer gives up (delivery
    /// must be confirmed before a commit; this bounds the final wait).
    pub delivery_wait: Duration,
}

/// Scorer failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScoreError {
    /// Kafka client failure.
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    /// The sensor of a partition failed.
    #[error("partition {partition}: {source}")]
    Sensor {
        /// Partition.
        partition: i32,
        /// Cause.
        #[source]
        source: SensorError,
    },
    /// Verdicts could not be delivered: nothing past them is committed.
    #[error("partition {partition}: {failed} verdict records failed delivery and {dropped} were dropped; offsets are not committed past them (a restart re-scores them)")]
    Delivery {
        /// Partition.
        partition: i32,
        /// Failed deliveries.
        failed: u64,
        /// Dropped records.
        dropped: u64,
    },
    /// The floor topic (where closed boundaries are committed) does not exist.
    #[error("topic {0} does not exist on the broker: create it with as many partitions as the lookups topic (scripts/fleet-servers.sh creates sentineldns.lookups.floors)")]
    MissingTopic(String),
    /// The broker did not keep the commit metadata the resume rule needs.
    #[error("the broker did not keep the closed boundary committed for partition {0} of the floor topic: the scorer cannot resume exactly on this broker")]
    NoMetadata(i32),
    /// A state file could not be removed.
    #[error("state file {path}: {source}")]
    State {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// Counters of one scorer run.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ScoreStats {
    /// Records consumed.
    pub records: u64,
    /// Lookups fed to a sensor.
    pub lookups: u64,
    /// Records that are not lookup lines (counted, skipped).
    pub bad: u64,
    /// Records of windows a previous owner published (skipped on resume).
    pub already_scored: u64,
    /// Records below a partition's committed offset, re-read after a
    /// takeover and skipped.
    pub below_commit: u64,
    /// Windows closed (and handed to the outputs).
    pub windows: u64,
    /// Offset commits.
    pub commits: u64,
    /// Commits the group refused while its membership changed (the broker
    /// restarted, a rebalance ran): retried at the next commit; the next
    /// owner of a lost partition re-reads from the older committed offset.
    pub commits_refused: u64,
    /// Assignment changes seen.
    pub rebalances: u64,
    /// Partitions taken up.
    pub partitions_opened: u64,
    /// Wall-clock seconds.
    pub secs: f64,
    /// Wall-clock seconds from the first record to the last: the time
    /// spent scoring, without the group join and the idle wait.
    pub busy_secs: f64,
}

/// One assigned partition.
struct Part {
    sensor: Sensor,
    db: PathBuf,
    /// Open window start → first offset of a record in it.
    open: BTreeMap<TsMicros, i64>,
    /// Next offset to read.
    next: Option<i64>,
    /// Windows starting before this were published (by us or an earlier owner).
    floor: TsMicros,
    /// The committed offset the partition resumes at (`None`: never
    /// committed, the group starts at the beginning).
    start_at: Option<i64>,
    /// Whether the consumer was sent back to `start_at`.
    sought: bool,
    /// Records fed.
    line: u64,
}

/// The scorer: a consumer group member with one sensor per partition.
pub struct Scorer<F> {
    cfg: ScoreConfig,
    consumer: BaseConsumer,
    open_sensor: F,
    parts: BTreeMap<i32, Part>,
    assigned: BTreeSet<i32>,
    ev: JsonEvent,
    stats: ScoreStats,
    generation: u64,
    metadata_checked: bool,
    /// Windows closed by sensors already dropped.
    windows_done: u64,
}

impl<F> Scorer<F>
where
    F: FnMut(i32, &std::path::Path) -> Result<Sensor, SensorError>,
{
    /// Join the consumer group. `open_sensor(partition, db)` assembles the
    /// sensor of a partition with its state in `db` (a fresh file).
    pub fn start(cfg: ScoreConfig, open_sensor: F) -> Result<Self, ScoreError> {
        if cfg.window <= 0 || cfg.grace < 0 {
            return Err(KafkaError::Config("window must be positive".into()).into());
        }
        std::fs::create_dir_all(&cfg.state_dir).map_err(|source| ScoreError::State {
            path: cfg.state_dir.clone(),
            source,
        })?;
        let mut cc = consumer_config(&cfg.brokers, &cfg.group)?;
        cc.set("client.id", "sentineldns-score");
        let consumer: BaseConsumer = cc.create().map_err(|source| KafkaError::Client {
            brokers: cfg.brokers.clone(),
            source,
        })?;
        // The floor topic must exist before anything is scored: its
        // commits carry the closed boundaries. A broker that does not answer
        // yet is not an error (sensors and scorers may start before it).
        match consumer.fetch_metadata(Some(&cfg.floor_topic), Duration::from_secs(10)) {
            Ok(md) => {
                let missing = md.topics().iter().all(|t| {
                    t.name() != cfg.floor_topic || t.error().is_some() || t.partitions().is_empty()
                });
                if missing {
                    return Err(ScoreError::MissingTopic(cfg.floor_topic.clone()));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, topic = %cfg.floor_topic, "could not check the floor topic yet (broker not answering)");
            }
        }
        consumer
            .subscribe(&[cfg.topic.as_str()])
            .map_err(|source| KafkaError::Op {
                what: "subscribing",
                source,
            })?;
        tracing::info!(brokers = %cfg.brokers, group = %cfg.group, topic = %cfg.topic, "scorer joined");
        Ok(Scorer {
            cfg,
            consumer,
            open_sensor,
            parts: BTreeMap::new(),
            assigned: BTreeSet::new(),
            ev: JsonEvent::default(),
            stats: ScoreStats::default(),
            generation: 0,
            metadata_checked: false,
            windows_done: 0,
        })
    }

    /// The boundary below which windows of `p` are closed.
    fn boundary(&self, p: &Part) -> TsMicros {
        let b = p.sensor.packet_time().map_or(TsMicros::MIN, |t| {
            t.saturating_sub(self.cfg.grace).div_euclid(self.cfg.window) * self.cfg.window
        });
        b.max(p.floor)
    }

    /// Take up partition `partition`: a fresh sensor, the committed floor.
    fn open_part(
        &mut self,
        partition: i32,
        floor: TsMicros,
        start_at: Option<i64>,
    ) -> Result<(), ScoreError> {
        self.generation += 1;
        let db = self.cfg.state_dir.join(format!(
            "p{partition}-{}-{}.db",
            std::process::id(),
            self.generation
        ));
        remove_db(&db)?;
        let sensor = (self.open_sensor)(partition, &db)
            .map_err(|source| ScoreError::Sensor { partition, source })?;
        tracing::info!(partition, closed_before = floor, offset = ?start_at, "partition taken up");
        self.stats.partitions_opened += 1;
        self.parts.insert(
            partition,
            Part {
                sensor,
                db,
                open: BTreeMap::new(),
                next: None,
                floor,
                start_at,
                sought: false,
                line: 0,
            },
        );
        Ok(())
    }

    /// Drop every partition's state (its open windows are rebuilt by the
    /// next owner from the committed offset).
    fn drop_parts(&mut self) -> Result<(), ScoreError> {
        for (partition, p) in std::mem::take(&mut self.parts) {
            self.drop_part(partition, p)?;
        }
        Ok(())
    }

    /// Close one partition's sensor without closing its open windows
    /// (what closed is delivered first) and remove its state file.
    fn drop_part(&mut self, partition: i32, p: Part) -> Result<(), ScoreError> {
        let db = p.db.clone();
        self.windows_done += p.sensor.stats().windows;
        if let Err(source) = p.sensor.finish(Ok(RunStatus::Interrupted), None) {
            tracing::warn!(partition, error = %source, "partition state closed with an error");
        }
        tracing::info!(partition, "partition given up");
        remove_db(&db)
    }

    /// React to an assignment change: drop the partitions that went away
    /// (their open windows are rebuilt by the next owner from the committed
    /// offset), take up the new ones from their committed offsets and
    /// floors; partitions kept go on as they were.
    fn check_assignment(&mut self) -> Result<(), ScoreError> {
        let Ok(a) = self.consumer.assignment() else {
            return Ok(());
        };
        let now: BTreeSet<i32> = a
            .elements_for_topic(&self.cfg.topic)
            .iter()
            .map(|e| e.partition())
            .collect();
        if now == self.assigned {
            return Ok(());
        }
        if now.is_empty() {
            // The eager protocol revokes everything before it assigns
            // again: keep the partitions' state until the new assignment
            // says which went away (no record arrives meanwhile).
            return Ok(());
        }
        self.stats.rebalances += 1;
        tracing::info!(partitions = ?now, "assignment changed");
        let gone: Vec<i32> = self
            .parts
            .keys()
            .copied()
            .filter(|p| !now.contains(p))
            .collect();
        for partition in gone {
            if let Some(p) = self.parts.remove(&partition) {
                self.drop_part(partition, p)?;
            }
        }
        let added: Vec<i32> = now
            .iter()
            .copied()
            .filter(|p| !self.parts.contains_key(p))
            .collect();
        if !added.is_empty() {
            let mut ask = TopicPartitionList::new();
            for &p in &added {
                ask.add_partition(&self.cfg.topic, p);
                ask.add_partition(&self.cfg.floor_topic, p);
            }
            let committed = self
                .consumer
                .committed_offsets(ask, Duration::from_secs(10))
                .map_err(|source| KafkaError::Op {
                    what: "reading committed offsets",
                    source,
                })?;
            for partition in added {
                let at = |topic: &str| {
                    committed
                        .find_partition(topic, partition)
                        .and_then(|e| match e.offset() {
                            Offset::Offset(o) if o >= 0 => Some(o),
                            _ => None,
                        })
                };
                let floor = at(&self.cfg.floor_topic)
                    .filter(|&f| f > 0)
                    .unwrap_or(TsMicros::MIN);
                let start_at = at(&self.cfg.topic);
                self.open_part(partition, floor, start_at)?;
            }
        }
        self.assigned = now;
        self.seek_pending();
        Ok(())
    }

    /// Send every partition taken up with a committed offset back to the
    /// beginning of the partition; [`Self::take`] skips the records below
    /// the committed offset. Not to the committed offset itself: tansu
    /// returns nothing to a fetch that starts inside a producer batch (and
    /// the committed offset of an open window usually is inside one), and
    /// librdkafka may keep the fetch position of a partition it held before
    /// the rebalance. The cost is re-reading the partition (bounded by the
    /// topic's retention) on each takeover. Retried each loop until the
    /// seek is accepted.
    fn seek_pending(&mut self) {
        for (&partition, p) in &mut self.parts {
            let (Some(c), None, false) = (p.start_at, p.next, p.sought) else {
                continue;
            };
            match self.consumer.seek(
                &self.cfg.topic,
                partition,
                Offset::Beginning,
                Duration::from_secs(5),
            ) {
                Ok(()) => {
                    p.sought = true;
                    tracing::info!(partition, committed = c, "fetch rewound to the beginning; records below the committed offset are skipped");
                }
                Err(e) => {
                    tracing::debug!(partition, error = %e, "seek to the committed offset not accepted yet");
                }
            }
        }
    }

    /// Feed one record.
    fn take<M: Message>(&mut self, m: &M) -> Result<(), ScoreError> {
        self.stats.records += 1;
        let partition = m.partition();
        if !self.parts.contains_key(&partition) {
            // A record of a partition not taken up yet (the assignment
            // changed in this poll).
            self.check_assignment()?;
        }
        let window = self.cfg.window;
        let Some(p) = self.parts.get(&partition) else {
            return Ok(());
        };
        let b = self.boundary(p);
        let p = self.parts.get_mut(&partition).expect("checked above");
        if p.next.is_some_and(|n| m.offset() < n) {
            // Redelivered below what was read (a seek): already fed.
            return Ok(());
        }
        if p.next.is_none() {
            if let Some(c) = p.start_at {
                if m.offset() < c {
                    // Below the committed offset: scored before.
                    self.stats.below_commit += 1;
                    return Ok(());
                }
                if m.offset() > c {
                    // The fetch kept an older position: wait for the seek
                    // back to the committed offset (`seek_pending`).
                    if p.sought {
                        tracing::debug!(
                            partition,
                            offset = m.offset(),
                            to = c,
                            "record before the rewind took effect (ignored)"
                        );
                    }
                    return Ok(());
                }
            }
        }
        p.next = Some(m.offset() + 1);
        let text = m.payload().and_then(|b| std::str::from_utf8(b).ok());
        let Some(text) = text else {
            self.stats.bad += 1;
            return Ok(());
        };
        if let Err(e) = crate::source::ecs::parse_line(text, &mut self.ev) {
            self.stats.bad += 1;
            if self.stats.bad.is_power_of_two() {
                tracing::warn!(partition, offset = m.offset(), error = %e, bad = self.stats.bad, "record is not a lookup line (skipped, counted)");
            }
            return Ok(());
        }
        let start = self.ev.ts.div_euclid(window) * window;
        if start < p.floor {
            self.stats.already_scored += 1;
            return Ok(());
        }
        p.line += 1;
        let source = format!("kafka:{}/{partition}", self.cfg.topic);
        p.sensor
            .event(&self.ev, &source, p.line)
            .map_err(|source| ScoreError::Sensor { partition, source })?;
        self.stats.lookups += 1;
        if start >= b {
            p.open.entry(start).or_insert(m.offset());
        }
        let p = self.parts.get(&partition).expect("present");
        let b = self.boundary(p);
        let p = self.parts.get_mut(&partition).expect("present");
        let still = p.open.split_off(&b);
        p.open = still;
        Ok(())
    }

    /// Commit, for every partition whose outputs have delivered everything
    /// handed to them, `min(open window offsets, next)` with its floor.
    fn commit(&mut self) -> Result<(), ScoreError> {
        let mut tpl = TopicPartitionList::new();
        for (&partition, p) in &self.parts {
            let Some(next) = p.next else { continue };
            let k = &p.sensor.metrics().kafka;
            let failed = k.failed.load(Ordering::Relaxed);
            let dropped = k.dropped_count(KafkaDrop::QueueFull)
                + k.dropped_count(KafkaDrop::Rejected)
                + k.dropped_count(KafkaDrop::Shutdown);
            if failed + dropped > 0 {
                return Err(ScoreError::Delivery {
                    partition,
                    failed,
                    dropped,
                });
            }
            if k.queue_depth() > 0 {
                continue;
            }
            let offset = p.open.values().copied().min().unwrap_or(next).min(next);
            let b = self.boundary(p);
            let floor = b.max(p.floor);
            tpl.add_partition_offset(&self.cfg.topic, partition, Offset::Offset(offset))
                .map_err(|source| KafkaError::Op {
                    what: "building the commit",
                    source,
                })?;
            if floor > 0 {
                tpl.add_partition_offset(&self.cfg.floor_topic, partition, Offset::Offset(floor))
                    .map_err(|source| KafkaError::Op {
                        what: "building the commit",
                        source,
                    })?;
            }
        }
        if tpl.count() == 0 {
            return Ok(());
        }
        if let Err(source) = self.consumer.commit(&tpl, CommitMode::Sync) {
            if membership_changed(&source) {
                // Not committing is always safe here: the committed offset
                // stays at or below every open window's first record.
                self.stats.commits_refused += 1;
                tracing::warn!(error = %source, refused = self.stats.commits_refused, "offset commit refused while the group changes (retried)");
                return Ok(());
            }
            return Err(KafkaError::Op {
                what: "committing offsets",
                source,
            }
            .into());
        }
        self.stats.commits += 1;
        if !self.metadata_checked {
            self.metadata_checked = true;
            let back = self
                .consumer
                .committed_offsets(tpl.clone(), Duration::from_secs(10))
                .map_err(|source| KafkaError::Op {
                    what: "reading committed offsets",
                    source,
                })?;
            for e in tpl.elements_for_topic(&self.cfg.floor_topic) {
                let kept = back
                    .find_partition(&self.cfg.floor_topic, e.partition())
                    .map(|b| b.offset());
                if kept != Some(e.offset()) {
                    return Err(ScoreError::NoMetadata(e.partition()));
                }
            }
        }
        Ok(())
    }

    /// Wait (bounded) until every partition's producer has no record in flight.
    fn wait_delivered(&self) {
        let deadline = Instant::now() + self.cfg.delivery_wait;
        while Instant::now() < deadline
            && self
                .parts
                .values()
                .any(|p| p.sensor.metrics().kafka.queue_depth() > 0)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Close every open window of every partition (end of stream).
    fn flush_all(&mut self) -> Result<(), ScoreError> {
        let window = self.cfg.window;
        for (&partition, p) in &mut self.parts {
            p.sensor
                .finish_input()
                .map_err(|source| ScoreError::Sensor { partition, source })?;
            // Everything up to the newest window is closed now.
            if let Some(&last) = p.open.keys().next_back() {
                p.floor = p.floor.max(last.saturating_add(window));
            }
            p.open.clear();
        }
        Ok(())
    }

    fn count_windows(&mut self) {
        let live: u64 = self.parts.values().map(|p| p.sensor.stats().windows).sum();
        self.stats.windows = self.windows_done + live;
    }

    /// Consume until `stop` is set or the stream is idle for `idle_exit`.
    pub fn run(&mut self, stop: &AtomicBool) -> Result<ScoreStats, ScoreError> {
        let t0 = Instant::now();
        let mut last_record = Instant::now();
        let mut last_commit = Instant::now();
        let mut last_check = Instant::now() - ASSIGNMENT_CHECK;
        let mut first_record: Option<Instant> = None;
        let mut last_taken = Instant::now();
        let mut poll_errors = 0u64;
        loop {
            if stop.load(Ordering::Relaxed) {
                tracing::info!("stopping: open windows are left to the next owner");
                break;
            }
            // Detached: the record outlives the borrow of the consumer
            // while the assignment is checked and the sensor fed.
            let polled = self
                .consumer
                .poll(Duration::from_millis(100))
                .map(|r| r.map(|m| m.detach()));
            // Asking librdkafka for the assignment is a round trip to its
            // main thread: once per record it was most of the scorer's time
            // (BENCHMARKS.md). A record of a partition not taken up yet
            // checks at once (`take`); otherwise every ASSIGNMENT_CHECK and
            // whenever a poll comes back empty.
            if polled.is_none() || last_check.elapsed() >= ASSIGNMENT_CHECK {
                last_check = Instant::now();
                let rebalances = self.stats.rebalances;
                self.check_assignment()?;
                self.seek_pending();
                if self.stats.rebalances != rebalances {
                    // The idle clock starts when partitions are (re)assigned.
                    last_record = Instant::now();
                }
            }
            match polled {
                Some(Ok(m)) => {
                    self.take(&m)?;
                    last_record = Instant::now();
                    first_record.get_or_insert(last_record);
                    last_taken = last_record;
                }
                Some(Err(e)) => {
                    poll_errors += 1;
                    if poll_errors.is_power_of_two() {
                        tracing::warn!(error = %e, errors = poll_errors, "Kafka consumer error (it keeps retrying)");
                    }
                }
                None => {}
            }
            if last_commit.elapsed() >= self.cfg.commit_every {
                self.commit()?;
                last_commit = Instant::now();
                self.count_windows();
            }
            if let Some(d) = self.cfg.idle_exit {
                if last_record.elapsed() >= d && !self.parts.is_empty() {
                    tracing::info!("no record for the idle time: closing every window");
                    self.flush_all()?;
                    break;
                }
            }
        }
        self.wait_delivered();
        self.commit()?;
        self.drop_parts()?;
        self.count_windows();
        self.stats.secs = t0.elapsed().as_secs_f64();
        self.stats.busy_secs = first_record.map_or(0.0, |f| {
            last_taken.saturating_duration_since(f).as_secs_f64()
        });
        Ok(self.stats.clone())
    }
}

/// How often the consumer's assignment is read back while records flow.
const ASSIGNMENT_CHECK: Duration = Duration::from_millis(100);

/// Whether a commit failed because the group's membership or coordinator
/// changed (a rebalance, a restarted broker) rather than for good.
fn membership_changed(e: &rdkafka::error::KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as C;
    matches!(
        e.rdkafka_error_code(),
        Some(
            C::UnknownMemberId
                | C::IllegalGeneration
                | C::RebalanceInProgress
                | C::NotCoordinator
                | C::CoordinatorNotAvailable
                | C::CoordinatorLoadInProgress
                | C::RequestTimedOut
                | C::AllBrokersDown
                | C::BrokerTransportFailure
                | C::WaitingForCoordinator
                | C::UnknownGroup
                | C::OperationTimedOut
        )
    )
}

fn remove_db(db: &std::path::Path) -> Result<(), ScoreError> {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        let p = PathBuf::from(p);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(ScoreError::State { path: p, source }),
        }
    }
    Ok(())
}
