//! The sensor, assembled once: model, enricher, store, outputs and the run
//! row around a [`Pipeline`], driven by any source until a stop flag.
//!
//! This is the back half of the data flow (detect → store → outputs) joined to
//! the front half ([`crate::pipeline`]: decode → pair → enrich → aggregate).
//! Every command that produces verdicts (`replay`, `capture`, and later a
//! server or a stream scorer) goes through it, so a packet can be followed from
//! the reader to SQLite without entering the CLI layer:
//!
//! 1. [`Sensor::open`] loads the model ([`load_detector`]), builds the enricher
//!    with the configured allow-list, opens the store with its first-seen row
//!    cap and preloads first-seen state from it, starts the outputs (NDJSON,
//!    webhook, metrics) and begins the run row.
//! 2. [`Sensor::run`] replays a [`Merger`] until it ends or the stop flag is
//!    set; a live source feeds [`Sensor::packet`] and calls
//!    [`Sensor::finish_input`] instead.
//! 3. [`Sensor::finish`] flushes the outputs, finishes the run row (`complete`,
//!    `interrupted`, `stopped` or `failed`) and returns the [`RunReport`].
//!
//! Scoring, storing and the outputs are one sink, [`StoreSink`]; printing
//! windows (a table or JSON on stdout) is one more, a [`WindowPrinter`] the
//! command chooses.

mod check;
mod incidents;
pub use check::{check, Report};
pub use incidents::{resume_tracker, track_batch};

use crate::aggregate::HostWindow;
use crate::config::{
    default_model_paths, read_limited, Config, ConfigError, FileKind, ModelChoice, Settings,
};
use crate::detect::{model_id, Detector, HostUnits, ModelRole, Verdict, MODEL_FEATURES};
use crate::enrich::{Enricher, Enrichment, FirstSeenDelta};
use crate::event::{Lookup, RawPacket, MICROS};
use crate::incident::{IncidentBatch, Tracker};
use crate::learn::{SiteLearner, Step};
use crate::model::{Bundle, Label, Thresholds};
use crate::output::metrics::Metrics;
use crate::output::{OutputError, Outputs};
use crate::pipeline::{Pipeline, PipelineConfig, RunEnd, Threads, WindowSink};
use crate::source::jsonl::JsonEvent;
use crate::source::merge::Merger;
use crate::stats::{Bound, Stats, StatsReport};
use crate::store::{Store, StoreError};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

/// Errors of the sensor: opening its parts, writing windows, finishing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SensorError {
    /// The configuration (e.g. an allow-list file) does not load.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The model bundle does not load, or the thresholds do not apply.
    #[error("{0}")]
    Model(String),
    /// The database does not open, or the run row cannot be written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// First-seen state could not be read from the database.
    #[error("loading first-seen domains")]
    FirstSeen(#[source] StoreError),
    /// A batch of windows could not be written.
    #[error("writing windows")]
    Write(#[source] StoreError),
    /// An output (NDJSON, webhook, metrics server) could not start.
    #[error("starting outputs")]
    Outputs(#[source] OutputError),
    /// Incident triage (`[triage]`, `--triage`) could not start.
    #[error("starting incident triage")]
    Triage(#[source] crate::triage::TriageError),
}

/// Receives every batch of closed windows with their verdicts after they are
/// stored (e.g. the window table on stdout). Printing must not fail the run.
pub trait WindowPrinter {
    /// One batch; `verdicts` is empty when scoring is off, else parallel to `windows`.
    fn print(&mut self, windows: &[HostWindow], verdicts: &[Verdict]);
}

/// Verdicts given so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerdictCounts {
    /// Windows labelled Normal.
    pub normal: u64,
    /// Windows labelled Unusual.
    pub unusual: u64,
    /// Windows labelled Likely Compromise.
    pub likely_compromise: u64,
}

impl VerdictCounts {
    fn count(&mut self, l: Label) {
        match l {
            Label::Normal => self.normal += 1,
            Label::Unusual => self.unusual += 1,
            Label::LikelyCompromise => self.likely_compromise += 1,
        }
    }
}

/// Scores each batch, writes it to the store, hands it (and every lookup) to
/// the outputs and then to the printer.
pub struct StoreSink {
    store: Store,
    run: i64,
    detector: Option<Detector>,
    learner: Option<SiteLearner>,
    units: HostUnits,
    verdicts: Vec<Verdict>,
    counts: VerdictCounts,
    outputs: Outputs,
    printer: Option<Box<dyn WindowPrinter + Send>>,
    incidents: Option<Tracker>,
    incident_batch: IncidentBatch,
    states: crate::store::StateRows,
}

impl StoreSink {
    /// A sink writing run `run` of `store`.
    pub fn new(
        store: Store,
        run: i64,
        detector: Option<Detector>,
        outputs: Outputs,
        printer: Option<Box<dyn WindowPrinter + Send>>,
    ) -> Self {
        StoreSink {
            store,
            run,
            detector,
            learner: None,
            units: HostUnits::new(None),
            verdicts: Vec::new(),
            counts: VerdictCounts::default(),
            outputs,
            printer,
            incidents: None,
            incident_batch: IncidentBatch::default(),
            states: crate::store::StateRows::default(),
        }
    }

    /// Group flagged windows into incidents with `tracker` (scoring on only).
    pub fn with_incidents(mut self, tracker: Tracker) -> Self {
        self.incidents = Some(tracker);
        self
    }

    /// The incident tracker, when incidents are tracked.
    pub fn incidents(&self) -> Option<&Tracker> {
        self.incidents.as_ref()
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The detector, when scoring is on.
    pub fn detector(&self) -> Option<&Detector> {
        self.detector.as_ref()
    }

    /// Learn the site with `learner` ([`crate::learn`]).
    pub fn with_learner(mut self, learner: SiteLearner) -> Self {
        self.learner = Some(learner);
        self
    }

    /// The site learner, when learning is on or a site model was loaded.
    pub fn learner(&self) -> Option<&SiteLearner> {
        self.learner.as_ref()
    }

    /// Verdicts so far.
    pub fn counts(&self) -> VerdictCounts {
        self.counts
    }

    /// The outputs.
    pub fn outputs(&self) -> &Outputs {
        &self.outputs
    }
}

impl WindowSink for StoreSink {
    type Error = SensorError;
    fn write(&mut self, w: &[HostWindow], f: &FirstSeenDelta) -> Result<(), SensorError> {
        self.verdicts.clear();
        if let (Some(l), Some(_)) = (&mut self.learner, &self.detector) {
            match l.before_batch(&mut self.store, w) {
                Step::Nothing => {}
                Step::Fitted(d, r) => {
                    tracing::info!(
                        id = %d.id(),
                        path = %d.path().map_or(String::new(), |p| p.display().to_string()),
                        windows = r.windows,
                        left_out = r.left_out,
                        trimmed = r.trimmed,
                        from = %r.from.map_or_else(String::new, crate::time::rfc3339_secs),
                        to = %r.to.map_or_else(String::new, crate::time::rfc3339_secs),
                        unusual = d.bundle().thresholds.unusual,
                        likely = d.bundle().thresholds.likely,
                        "site model fitted; it scores from now on"
                    );
                    self.detector = Some(*d);
                }
                Step::Failed(e) => {
                    tracing::warn!(error = %e, "site model not fitted yet; the current model keeps scoring");
                }
            }
        }
        if let Some(d) = &self.detector {
            let may_alert =
                d.role() == ModelRole::Site && !self.learner.as_ref().is_some_and(|l| l.learning());
            let scoring = &self.outputs.metrics().scoring;
            for w in w {
                let started = std::time::Instant::now();
                let v = self.units.judge(d, w, may_alert);
                scoring.observe_since(started);
                self.verdicts.push(v);
            }
            for v in &self.verdicts {
                self.counts.count(v.label);
            }
        }
        self.states.clear();
        if self.detector.is_some() {
            self.units.save(w, &mut self.states);
        }
        self.incident_batch.clear();
        if let Some(t) = &mut self.incidents {
            track_batch(t, w, &self.verdicts, &mut self.incident_batch);
        }
        self.store
            .write_batch_with_state(
                self.run,
                w,
                &self.verdicts,
                f,
                &self.incident_batch,
                &self.states,
            )
            .map_err(SensorError::Write)?;
        self.outputs.batch(w, &self.verdicts, &self.incident_batch);
        let triaged = self.outputs.take_triage();
        self.store
            .write_triage(&triaged)
            .map_err(SensorError::Write)?;
        if let Some(p) = &mut self.printer {
            p.print(w, &self.verdicts);
        }
        Ok(())
    }

    #[inline]
    fn lookup(&mut self, l: &Lookup<'_>, e: &Enrichment) {
        self.outputs.lookup(l, e);
    }
}

/// The per-command inputs of [`Sensor::open`] (everything else comes from
/// the [`Settings`]).
pub struct SensorOptions {
    /// Command recorded in the run row (`replay`, `capture`).
    pub command: String,
    /// Inputs recorded in the run row (files, interfaces).
    pub inputs: Vec<String>,
    /// Pipeline configuration (window flags and `[limits]` applied).
    pub pipeline: PipelineConfig,
    /// First-seen row cap laid over `[limits] first_seen_rows` (`--first-seen-rows`).
    pub first_seen_rows: Option<u64>,
    /// Where windows are printed, if anywhere.
    pub printer: Option<Box<dyn WindowPrinter + Send>>,
}

/// How a run ended, as recorded in the run row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    /// All input was read.
    Complete,
    /// Stopped by a signal; open windows were flushed.
    Interrupted,
    /// A live capture was stopped (signal or every interface ended).
    Stopped,
    /// A window batch could not be stored.
    Failed,
}

impl RunStatus {
    /// The `runs.status` value.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Complete => "complete",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Stopped => "stopped",
            RunStatus::Failed => "failed",
        }
    }
}

impl From<RunEnd> for RunStatus {
    fn from(e: RunEnd) -> Self {
        match e {
            RunEnd::Complete => RunStatus::Complete,
            RunEnd::Interrupted => RunStatus::Interrupted,
        }
    }
}

/// What [`Sensor::finish`] returns.
pub struct RunReport {
    /// Run id in the database.
    pub run: i64,
    /// How the run ended.
    pub status: RunStatus,
    /// The database.
    pub db: PathBuf,
    /// Final counters, first-seen bounds included.
    pub stats: Stats,
    /// The counters as reported (`runs.stats`, `--summary-json`).
    pub report: StatsReport,
    /// The JSON stored in `runs.stats`.
    pub summary: String,
    /// Whether windows were scored.
    pub scored: bool,
    /// Verdicts given.
    pub verdicts: VerdictCounts,
    /// Seconds from the start of input to its end.
    pub secs: f64,
    /// The first output error (NDJSON write), if any: the database has every window.
    pub output_error: Option<OutputError>,
    /// The outputs, finished; the metrics server serves until this is dropped.
    pub outputs: Outputs,
}

/// The shipped model bundle (`models/default.bin`), built into the binary so
/// that a sensor scores wherever it runs: [`ModelChoice::Search`] falls back to
/// it when none of [`default_model_paths`] exists.
pub const EMBEDDED_MODEL: &[u8] = include_bytes!("../../models/default.bin");

/// Where a loaded model came from (logged as `model` when it loads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A bundle file: the configured one, or the first of
    /// [`default_model_paths`] that exists.
    File(PathBuf),
    /// [`EMBEDDED_MODEL`]: no model configured and no default file found.
    Embedded,
}

impl std::fmt::Display for ModelSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelSource::File(p) => write!(f, "{}", p.display()),
            ModelSource::Embedded => f.write_str("embedded default"),
        }
    }
}

/// Load the model `choice` names, with `thresholds` (when given) replacing
/// the bundle's. `None` for [`ModelChoice::Off`]. [`ModelChoice::Search`]
/// takes the first of [`default_model_paths`] that exists, else
/// [`EMBEDDED_MODEL`].
pub fn load_model(
    choice: &ModelChoice,
    thresholds: Option<Thresholds>,
) -> Result<Option<(Detector, ModelSource)>, String> {
    let source = match choice {
        ModelChoice::Off => return Ok(None),
        ModelChoice::Path(p) => ModelSource::File(p.clone()),
        ModelChoice::Search => default_model_paths()
            .into_iter()
            .find(|p| p.exists())
            .map_or(ModelSource::Embedded, ModelSource::File),
    };
    let file;
    let bytes = match &source {
        ModelSource::File(path) => {
            file = read_limited(path, FileKind::Model).map_err(|e| e.to_string())?;
            &file[..]
        }
        ModelSource::Embedded => EMBEDDED_MODEL,
    };
    let (bundle, hash) = Bundle::from_bytes_hashed(bytes, &MODEL_FEATURES)
        .map_err(|e| format!("loading model {source}: {e}"))?;
    // The shipped model is a prior wherever it is found: the embedded copy,
    // a default-path file, or any file with the same bytes.
    let id = crate::detect::model_id_of_hash(hash);
    let role = if matches!(choice, ModelChoice::Search) || id == model_id(EMBEDDED_MODEL) {
        ModelRole::Prior
    } else {
        ModelRole::Site
    };
    let mut det =
        Detector::with_identity(bundle, id, role).map_err(|e| format!("model {source}: {e}"))?;
    if let ModelSource::File(p) = &source {
        det = det.from_file(p.clone());
    }
    if let Some(t) = thresholds {
        det.set_thresholds(t).map_err(|e| e.to_string())?;
    }
    Ok(Some((det, source)))
}

/// The detector `settings` ask for (model choice and threshold override), or
/// `None` when scoring is off. [`Sensor::open`] calls it; a command that must
/// fail on the model before opening its inputs calls it first and hands the
/// detector to [`Sensor::with_detector`].
pub fn load_detector(settings: &Settings) -> Result<Option<Detector>, SensorError> {
    let sensor = &settings.config.sensor;
    match load_model(&sensor.model_choice(), sensor.thresholds).map_err(SensorError::Model)? {
        None => Ok(None),
        Some((d, source)) => {
            tracing::info!(model = %source, id = %d.id(), role = d.role().as_str(), thresholds = ?d.bundle().thresholds, "model loaded");
            Ok(Some(d))
        }
    }
}

/// The enricher of `settings`: `cfg`'s enrichment settings with the
/// configuration's allow-list (embedded default, files, inline entries).
pub fn build_enricher(
    settings: &Settings,
    cfg: &mut PipelineConfig,
) -> Result<Enricher, SensorError> {
    let allow = &settings.config.allowlist;
    cfg.enrich.default_allowlist = allow.default;
    let mut e = Enricher::new(cfg.enrich.clone());
    let extra = allow.extra()?;
    if !extra.is_empty() {
        tracing::info!(
            entries = extra.len(),
            "allow-list entries from the configuration"
        );
        e.extend_allowlist(extra);
    }
    let intel = settings.config.intel.build()?;
    if !intel.is_empty() {
        tracing::info!(entries = intel.len(), "threat-intel entries loaded");
        e.replace_intel(intel);
    }
    Ok(e)
}

/// Open the database of `settings` and restore the first-seen state into
/// `enricher` (its snapshot and the log after it, see
/// [`crate::enrich::persist`]) with the persisted-records cap (`[limits]
/// first_seen_rows`, `flag` laid over it). A database written before schema
/// v11 has its v1 `first_seen` rows preloaded instead (the newest, up to 90 %
/// of the in-memory caps), and the first batch snapshots over them.
pub fn open_store(
    settings: &Settings,
    flag: Option<u64>,
    cfg: &PipelineConfig,
    enricher: &mut Enricher,
) -> Result<Store, SensorError> {
    let mut store = Store::open(&settings.config.sensor.db)?;
    enricher.set_persist_rows(flag.unwrap_or(settings.config.limits.first_seen_rows));
    store.set_keep(settings.config.store.keep());
    let t = Instant::now();
    let loaded = store
        .load_first_seen_state(|part, data| enricher.restore_first_seen(part, data))
        .map_err(SensorError::FirstSeen)?;
    if loaded.ignored > 0 {
        enricher.snapshot_at_next_drain();
    }
    let legacy = store
        .legacy_first_seen_rows()
        .map_err(SensorError::FirstSeen)?;
    if legacy > 0 {
        let tenth = |cap: usize| cap - cap / 10;
        let n = store
            .load_first_seen(
                tenth(cfg.enrich.first_seen_cap),
                tenth(cfg.enrich.host_first_seen_cap),
                |r| enricher.preload_first_seen(&r),
            )
            .map_err(SensorError::FirstSeen)?;
        enricher.snapshot_at_next_drain();
        tracing::info!(
            rows = legacy,
            preloaded = n,
            "first-seen rows of the v1 table preloaded; the first batch replaces them with a snapshot"
        );
    }
    tracing::info!(
        rows = loaded.rows,
        records = loaded.records,
        ignored = loaded.ignored,
        secs = t.elapsed().as_secs_f64(),
        "first-seen state restored"
    );
    Ok(store)
}

/// The outputs `settings` ask for (NDJSON, webhook, metrics server), started.
/// Where metrics are served is logged and printed on stderr (the port may
/// have been picked by the OS).
pub fn start_outputs(settings: &Settings) -> Result<Outputs, SensorError> {
    let mut outputs = Outputs::start(&settings.config.outputs).map_err(SensorError::Outputs)?;
    outputs
        .start_triage(&settings.config.triage)
        .map_err(SensorError::Triage)?;
    if let Some(addr) = outputs.metrics_addr() {
        tracing::info!(%addr, "metrics server listening");
        eprintln!("metrics: serving http://{addr}/metrics and http://{addr}/healthz");
    }
    Ok(outputs)
}

/// One sensor run: the pipeline around a [`StoreSink`], and the run row.
pub struct Sensor {
    pipeline: Pipeline<StoreSink>,
    metrics: Arc<Metrics>,
    threads: Threads,
    db: PathBuf,
    run: i64,
    started: Option<Instant>,
    ended: Option<Instant>,
}

impl Sensor {
    /// Assemble the sensor from `settings` and begin a run: load the model,
    /// build the enricher, open the store (first-seen preload), start the
    /// outputs and insert the run row, in that order (each fails before the
    /// next starts, so a bad output never leaves a run row behind).
    pub fn open(settings: &Settings, opts: SensorOptions) -> Result<Self, SensorError> {
        let detector = load_detector(settings)?;
        Self::with_detector(settings, detector, opts)
    }

    /// [`open`](Self::open) with the detector already loaded ([`load_detector`]).
    pub fn with_detector(
        settings: &Settings,
        detector: Option<Detector>,
        opts: SensorOptions,
    ) -> Result<Self, SensorError> {
        let SensorOptions {
            command,
            inputs,
            pipeline: mut cfg,
            first_seen_rows,
            printer,
        } = opts;
        let mut enricher = build_enricher(settings, &mut cfg)?;
        let mut store = open_store(settings, first_seen_rows, &cfg, &mut enricher)?;
        // Every ECS record names this sensor (`observer.name`): the Kafka
        // sensor name when one is set, else the host name.
        crate::output::ecs::set_observer_name(
            settings
                .config
                .outputs
                .kafka
                .as_ref()
                .and_then(|k| k.sensor.as_deref()),
        );
        // Outputs start before the run is recorded, so a port in use or an
        // unwritable NDJSON path fails before anything is written.
        let outputs = start_outputs(settings)?;
        let metrics = outputs.metrics().clone();
        let run = store.begin_run(&command, &inputs, cfg.aggregate.window / MICROS)?;
        // The site model of this database replaces the prior (a model
        // configured explicitly stays).
        let mut detector = detector;
        let mut site_fitted_at = None;
        let learning = &settings.config.learning;
        if detector
            .as_ref()
            .is_some_and(|d| d.role() == ModelRole::Prior)
        {
            match crate::learn::load_site_model(&store) {
                Ok(Some(mut d)) => {
                    if let Some(t) = settings.config.sensor.thresholds {
                        d.set_thresholds(t)
                            .map_err(|e| SensorError::Model(e.to_string()))?;
                    }
                    site_fitted_at = store.model(d.id())?.and_then(|m| m.fitted_at);
                    tracing::info!(id = %d.id(), path = %d.path().map_or(String::new(), |p| p.display().to_string()), "site model of this database loaded; it scores instead of the prior");
                    detector = Some(d);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the site model of this database cannot be used; scoring with the prior");
                }
            }
        }
        if let Some(d) = &detector {
            store.record_model(&d.record(Some(run)))?;
        }
        let learner = (detector.is_some() && (learning.enabled() || site_fitted_at.is_some()))
            .then(|| -> Result<SiteLearner, SensorError> {
                Ok(SiteLearner::new(
                    learning.clone(),
                    settings.config.sensor.db.clone(),
                    Some(run),
                    site_fitted_at,
                    store.first_window_start()?.map(|s| s * MICROS),
                ))
            })
            .transpose()?;
        let tracker = match &detector {
            Some(_) => Some(resume_tracker(settings, &store)?),
            None => None,
        };
        let mut sink = StoreSink::new(store, run, detector, outputs, printer);
        if let Some(t) = tracker {
            sink = sink.with_incidents(t);
        }
        if learning.enabled() {
            sink.units = HostUnits::new(Some(learning.period.0));
        }
        if sink.detector.is_some() {
            for (unit, n, skipped) in sink.units.restore(&sink.store)? {
                if n + skipped > 0 {
                    tracing::info!(
                        unit,
                        restored = n,
                        skipped,
                        "detection unit resumed from the database"
                    );
                }
            }
        }
        if let Some(l) = learner {
            sink = sink.with_learner(l);
        }
        Ok(Sensor {
            pipeline: Pipeline::new(&cfg, enricher, sink),
            metrics,
            threads: if settings.config.sensor.threads == 1 {
                Threads::One
            } else {
                Threads::Two
            },
            db: settings.config.sensor.db.clone(),
            run,
            started: None,
            ended: None,
        })
    }

    /// Run id in the database.
    pub fn run_id(&self) -> i64 {
        self.run
    }

    /// The metrics registry (live drop counters, periodic publishing).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The sink (store, detector, outputs, verdict counts).
    pub fn sink(&self) -> &StoreSink {
        self.pipeline.sink()
    }

    /// Whether windows are scored.
    pub fn scored(&self) -> bool {
        self.sink().detector.is_some()
    }

    /// Add counters a source gathered before the run (files opened, inputs
    /// skipped) and publish them.
    pub fn add_source_stats(&mut self, stats: &Stats) {
        self.pipeline.source_stats().merge(stats);
        self.metrics.publish_stats(stats);
    }

    /// Mutable access to the source/decoder counters (live sources count into them).
    pub fn source_stats(&mut self) -> &mut Stats {
        self.pipeline.source_stats()
    }

    /// The pipeline's counters plus the first-seen bounds it does not see: the
    /// enricher's in-memory evictions and the rows the store pruned at its cap.
    pub fn stats(&self) -> Stats {
        let mut s = self.pipeline.stats();
        let e = self.pipeline.enrich_stats();
        s.set_evicted(Bound::FirstSeenSensor, e.global_evicted);
        s.set_evicted(Bound::FirstSeenHost, e.host_evicted);
        s.set_evicted(
            Bound::FirstSeenRows,
            self.pipeline.sink().store.first_seen_pruned(),
        );
        if let Some(t) = self.pipeline.sink().incidents() {
            s.set_evicted(Bound::IncidentHosts, t.stats().evicted);
        }
        s
    }

    /// Replay every item of `merger` until it ends or `stop` is set, then
    /// flush every open window. `progress` is called every 64 Ki items with
    /// the counters so far (which are also published to the metrics).
    pub fn run(
        &mut self,
        merger: &mut Merger,
        stop: &AtomicBool,
        mut progress: impl FnMut(&Merger, &Stats) + Send,
    ) -> Result<RunEnd, SensorError> {
        let metrics = self.metrics.clone();
        self.started = Some(Instant::now());
        let result = self.pipeline.run(merger, stop, self.threads, |m, s| {
            metrics.publish_stats(s);
            progress(m, s);
        });
        self.ended = Some(Instant::now());
        result
    }

    /// Newest packet time the pipeline has seen (its clock, which closes
    /// windows at `clock - grace`), if any.
    pub fn packet_time(&self) -> Option<crate::event::TsMicros> {
        self.pipeline.max_ts()
    }

    /// Mark the start of a live run (for the report's timing).
    pub fn start_clock(&mut self) {
        self.started = Some(Instant::now());
    }

    /// Feed one captured frame, numbered `number`, from `source` (live use).
    pub fn packet(
        &mut self,
        pkt: &RawPacket<'_>,
        source: &str,
        number: u64,
    ) -> Result<(), SensorError> {
        self.pipeline.packet(pkt, source, number)
    }

    /// Feed one dnstap client message, data frame `frame` of `source`
    /// (live use: `capture --dnstap`).
    pub fn message(
        &mut self,
        msg: &crate::dnstap::ClientMessage,
        source: &str,
        frame: u64,
    ) -> Result<(), SensorError> {
        self.pipeline.message(msg, source, frame)
    }

    /// Feed one DNS event, read from line `line` of `source` (a pushed
    /// stream of JSONL events).
    pub fn event(&mut self, ev: &JsonEvent, source: &str, line: u64) -> Result<(), SensorError> {
        self.pipeline.event(ev, source, line)
    }

    /// End of live input: expire pending queries, close every window and
    /// write the final batch.
    pub fn finish_input(&mut self) -> Result<(), SensorError> {
        let r = self.pipeline.finish();
        self.ended = Some(Instant::now());
        r
    }

    /// Apply what `config` changes without reopening anything: the
    /// allow-list (`[allowlist]`), the threat-intel lists (`[intel]`) and the label thresholds (`[sensor]
    /// thresholds`). A part that does not load is logged and the running one
    /// kept.
    pub fn reload(&mut self, config: &Config) {
        match config.allowlist.build() {
            Ok(list) => {
                tracing::info!(entries = list.len(), "SIGHUP: allow-list reloaded");
                self.pipeline.replace_allowlist(list);
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "SIGHUP: allow-list does not load, keeping the old one")
            }
        }
        match config.intel.build() {
            Ok(list) => {
                tracing::info!(entries = list.len(), "SIGHUP: threat-intel lists reloaded");
                self.pipeline.replace_intel(list);
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "SIGHUP: threat-intel list does not load, keeping the old one")
            }
        }
        if let (Some(t), Some(d)) = (
            config.sensor.thresholds,
            self.pipeline.sink_mut().detector.as_mut(),
        ) {
            match d.set_thresholds(t) {
                Ok(()) => tracing::info!(
                    unusual = t.unusual,
                    likely = t.likely,
                    "SIGHUP: thresholds reloaded"
                ),
                Err(e) => {
                    tracing::error!(error = %e, "SIGHUP: bad thresholds, keeping the old ones")
                }
            }
        }
    }

    /// Finish the run: publish the final counters, flush the outputs and
    /// record the run row with `outcome`'s status (`failed` for an error,
    /// which is returned). `extra` adds a section to the stored summary:
    /// `{"stats": ..., key: value}` instead of the bare stats report.
    pub fn finish(
        self,
        outcome: Result<RunStatus, SensorError>,
        extra: Option<(&str, serde_json::Value)>,
    ) -> Result<RunReport, SensorError> {
        let stats = self.stats();
        let report = StatsReport::from(&stats);
        let summary = match extra {
            None => serde_json::to_string(&report),
            Some((key, value)) => {
                let mut m = serde_json::Map::new();
                m.insert(
                    "stats".into(),
                    serde_json::to_value(&report).unwrap_or_default(),
                );
                m.insert(key.into(), value);
                serde_json::to_string(&serde_json::Value::Object(m))
            }
        }
        .unwrap_or_default();
        let secs = match (self.started, self.ended) {
            (Some(s), Some(e)) => e.duration_since(s).as_secs_f64(),
            (Some(s), None) => s.elapsed().as_secs_f64(),
            _ => 0.0,
        };
        let mut sink = self.pipeline.into_sink();
        sink.outputs.publish_stats(&stats);
        let outputs_done = sink.outputs.finish();
        // Triage that finished after the last batch (within the shutdown
        // grace) is stored before the run row says the run ended.
        let triaged = sink.outputs.take_triage();
        if let Err(e) = sink.store.write_triage(&triaged) {
            tracing::warn!(error = %e, records = triaged.len(), "triage results not stored");
        }
        let status = match outcome {
            Ok(s) => s,
            Err(e) => {
                let _ = sink
                    .store
                    .finish_run(self.run, RunStatus::Failed.as_str(), &summary);
                return Err(e);
            }
        };
        sink.store.finish_run(self.run, status.as_str(), &summary)?;
        Ok(RunReport {
            run: self.run,
            status,
            db: self.db,
            stats,
            report,
            summary,
            scored: sink.detector.is_some(),
            verdicts: sink.counts,
            secs,
            output_error: outputs_done.err(),
            outputs: sink.outputs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::io::Write;
    use std::path::Path;
    use std::sync::atomic::Ordering;

    fn settings(db: &Path, model: Option<PathBuf>, threads: u8) -> Settings {
        let mut config = Config::default();
        config.sensor.db = db.to_path_buf();
        config.sensor.no_model = model.is_none();
        config.sensor.model = model;
        config.sensor.threads = threads;
        Settings {
            file: None,
            config,
            origins: Default::default(),
        }
    }

    fn options(inputs: &[PathBuf]) -> SensorOptions {
        let mut pipeline = PipelineConfig::default();
        pipeline.aggregate.window = 300 * MICROS;
        SensorOptions {
            command: "replay".into(),
            inputs: inputs.iter().map(|p| p.display().to_string()).collect(),
            pipeline,
            first_seen_rows: None,
            printer: None,
        }
    }

    fn count(db: &Path, sql: &str) -> i64 {
        let c = rusqlite::Connection::open(db).unwrap();
        c.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    fn status(db: &Path, run: i64) -> String {
        let c = rusqlite::Connection::open(db).unwrap();
        c.query_row("SELECT status FROM runs WHERE id = ?", [run], |r| r.get(0))
            .unwrap()
    }

    /// `n` lookups of one host, one a second.
    fn jsonl(dir: &Path, n: u64) -> PathBuf {
        let path = dir.join("events.jsonl");
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for i in 0..n {
            writeln!(
                f,
                r#"{{"ts": {}, "host": "10.0.0.{}", "domain": "d{}.example.com", "qtype": "A", "rcode": "NOERROR"}}"#,
                1_700_000_000 + i,
                i % 3,
                i % 50
            )
            .unwrap();
        }
        f.flush().unwrap();
        path
    }

    struct Counting(Arc<std::sync::atomic::AtomicU64>);
    impl WindowPrinter for Counting {
        fn print(&mut self, windows: &[HostWindow], _: &[Verdict]) {
            self.0.fetch_add(windows.len() as u64, Ordering::Relaxed);
        }
    }

    #[test]
    fn sample_run_reports_what_it_stored() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("s.db");
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let input = root.join("simulations/sample.jsonl");
        let s = settings(&db, Some(root.join("models/default.bin")), 2);
        let printed = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut opts = options(std::slice::from_ref(&input));
        opts.printer = Some(Box::new(Counting(printed.clone())));
        let mut sensor = Sensor::open(&s, opts).unwrap();
        assert!(sensor.scored());
        let mut stats = Stats::default();
        let mut merger = Merger::open(std::slice::from_ref(&input), &mut stats).unwrap();
        sensor.add_source_stats(&stats);
        let stop = AtomicBool::new(false);
        let end = sensor.run(&mut merger, &stop, |_, _| {});
        assert_eq!(end.as_ref().ok(), Some(&RunEnd::Complete));
        let r = sensor.finish(end.map(RunStatus::from), None).unwrap();
        assert_eq!(r.status, RunStatus::Complete);
        assert!(r.scored);
        assert!(r.output_error.is_none());
        let windows = count(&db, "SELECT COUNT(*) FROM windows") as u64;
        assert!(windows > 0);
        assert_eq!(r.stats.windows, windows);
        assert_eq!(r.report.windows, windows);
        assert_eq!(printed.load(Ordering::Relaxed), windows);
        let v = r.verdicts;
        assert_eq!(v.normal + v.unusual + v.likely_compromise, windows);
        assert_eq!(
            count(
                &db,
                "SELECT COUNT(*) FROM windows WHERE label = 'Likely Compromise'"
            ) as u64,
            v.likely_compromise
        );
        assert!(v.unusual + v.likely_compromise > 0, "{v:?}");
        assert_eq!(r.report.lines, 18337);
        assert_eq!(status(&db, r.run), "complete");
        let stored: String = rusqlite::Connection::open(&db)
            .unwrap()
            .query_row("SELECT stats FROM runs WHERE id = ?", [r.run], |x| x.get(0))
            .unwrap();
        assert_eq!(stored, r.summary);
        // The same windows as the bare pipeline.
        let cfg = options(&[]).pipeline;
        let mut bare = Pipeline::new(
            &cfg,
            Enricher::new(cfg.enrich.clone()),
            crate::pipeline::VecSink::default(),
        );
        let mut merger = Merger::open(&[input], &mut Stats::default()).unwrap();
        let _ = bare.run(&mut merger, &stop, Threads::Two, |_, _| {});
        let bare = bare.into_sink().windows;
        assert_eq!(bare.len() as u64, windows);
    }

    #[test]
    fn failing_store_marks_the_run_failed() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("f.db");
        let input = jsonl(dir.path(), 2_000);
        let s = settings(&db, None, 1);
        let mut sensor = Sensor::open(&s, options(std::slice::from_ref(&input))).unwrap();
        let run = sensor.run_id();
        // Another process breaks the database under the running sensor.
        rusqlite::Connection::open(&db)
            .unwrap()
            .execute_batch("DROP TABLE windows")
            .unwrap();
        let mut stats = Stats::default();
        let mut merger = Merger::open(&[input], &mut stats).unwrap();
        let end = sensor.run(&mut merger, &AtomicBool::new(false), |_, _| {});
        assert!(matches!(end, Err(SensorError::Write(_))), "{:?}", end.err());
        let err = sensor
            .finish(end.map(RunStatus::from), None)
            .err()
            .expect("the error is returned");
        assert!(err.to_string().starts_with("writing windows"), "{err}");
        assert_eq!(status(&db, run), "failed");
    }

    #[test]
    fn stop_flag_interrupts_and_flushes_open_windows() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("i.db");
        // More than the 64 Ki items between progress calls, so the flag is
        // raised in the middle of the input.
        let input = jsonl(dir.path(), 70_000);
        let s = settings(&db, None, 1);
        let mut sensor = Sensor::open(&s, options(std::slice::from_ref(&input))).unwrap();
        let mut stats = Stats::default();
        let mut merger = Merger::open(&[input], &mut stats).unwrap();
        let stop = AtomicBool::new(false);
        let end = sensor.run(&mut merger, &stop, |_, _| {
            stop.store(true, Ordering::Relaxed)
        });
        assert_eq!(end.as_ref().ok(), Some(&RunEnd::Interrupted));
        let r = sensor.finish(end.map(RunStatus::from), None).unwrap();
        assert_eq!(r.status, RunStatus::Interrupted);
        assert!(!r.scored);
        assert_eq!(r.verdicts, VerdictCounts::default());
        assert_eq!(status(&db, r.run), "interrupted");
        assert!(r.report.lines < 70_000, "{}", r.report.lines);
        let windows = count(&db, "SELECT COUNT(*) FROM windows") as u64;
        assert_eq!(r.stats.windows, windows);
        // Every window the read lines reach was flushed: the last one ends
        // after the last line read.
        let last_end = count(&db, "SELECT MAX(window_end) FROM windows");
        assert!(last_end >= 1_700_000_000 + r.report.lines as i64 - 1);
        // The three hosts have the same windows.
        assert_eq!(windows % 3, 0);
        assert!(windows >= 3 * (r.report.lines / 300));
    }

    #[test]
    fn thresholds_override_applies_to_detection() {
        let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/default.bin");
        let t = Thresholds {
            unusual: 0.2,
            likely: 0.3,
        };
        let (d, _) = load_model(&ModelChoice::Path(model.clone()), Some(t))
            .unwrap()
            .unwrap();
        assert_eq!(d.bundle().thresholds, t);
        assert_eq!(d.bundle().label(0.25), crate::model::Label::Unusual);
        let (d, _) = load_model(&ModelChoice::Path(model), None)
            .unwrap()
            .unwrap();
        assert_eq!(d.bundle().label(0.25), crate::model::Label::Normal);
        assert!(load_model(&ModelChoice::Off, None).unwrap().is_none());
    }
}
