//! `sentineldns replay FILE...`: the main job. Opens every input (failing early,
//! naming the file, if one is unusable), restores first-seen state from the
//! database, runs the pipeline with a progress bar, writes each batch of closed
//! windows to SQLite in one transaction, prints them, feeds the configured
//! outputs (NDJSON, webhook, metrics; see [`crate::output`]), and reports the run.
//!
//! Settings come from [`super::settings`]: the configuration file (window,
//! grace, model / no_model, thresholds, db, threads, outputs, allow-list),
//! then the environment, then the flags given.

use super::output::{Printer, WindowView};
use crate::aggregate::HostWindow;
use crate::cli::{Progress, ReplayArgs};
use crate::detect::{Detector, Verdict};
use crate::enrich::{Enrichment, FirstSeenRecord};
use crate::event::Lookup;
use crate::model::Label;
use crate::output::{Outputs, OutputsConfig};
use crate::pipeline::{Pipeline, RunEnd, Threads, WindowSink};
use crate::source::merge::Merger;
use crate::stats::{Bound, Stats, StatsReport};
use crate::store::Store;
use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

/// Scores each batch, writes it to the store, prints it and hands it (and
/// every lookup) to the outputs.
pub struct StoreSink {
    /// The database.
    pub store: Store,
    /// Run id in the database.
    pub run: i64,
    /// Window output on stdout.
    pub printer: Printer,
    /// Scores windows, when a model is loaded.
    pub detector: Option<Detector>,
    verdicts: Vec<Verdict>,
    /// Verdicts so far: Normal, Unusual, Likely Compromise.
    pub labels: [u64; 3],
    /// NDJSON, webhook and metrics.
    pub outputs: Outputs,
}

impl StoreSink {
    /// A sink writing run `run` of `store`.
    pub fn new(
        store: Store,
        run: i64,
        printer: Printer,
        detector: Option<Detector>,
        outputs: Outputs,
    ) -> Self {
        StoreSink {
            store,
            run,
            printer,
            detector,
            verdicts: Vec::new(),
            labels: [0; 3],
            outputs,
        }
    }
}

impl WindowSink for StoreSink {
    type Error = anyhow::Error;
    fn write(&mut self, w: &[HostWindow], f: &[FirstSeenRecord]) -> anyhow::Result<()> {
        self.verdicts.clear();
        if let Some(d) = &self.detector {
            self.verdicts.extend(w.iter().map(|w| d.judge(w)));
            for v in &self.verdicts {
                let i = match v.label {
                    Label::Normal => 0,
                    Label::Unusual => 1,
                    Label::LikelyCompromise => 2,
                };
                self.labels[i] += 1;
            }
        }
        self.store
            .write_batch(self.run, w, &self.verdicts, f)
            .context("writing windows")?;
        self.outputs.windows(w, &self.verdicts);
        // A closed stdout (e.g. `| head`) must not lose stored data: ignore it.
        let verdicts = &self.verdicts;
        let _ = self.printer.print(
            w.iter()
                .enumerate()
                .map(|(i, w)| WindowView::scored(w, verdicts.get(i))),
        );
        Ok(())
    }

    #[inline]
    fn lookup(&mut self, l: &Lookup<'_>, e: &Enrichment) {
        self.outputs.lookup(l, e);
    }
}

/// The window printer for stdout: NDJSON on stdout replaces the window table
/// there (shared by `replay` and `capture`).
pub fn window_printer(format: crate::cli::OutputFormat, outputs: &OutputsConfig) -> Printer {
    if outputs.ndjson_on_stdout() {
        Printer::new(crate::cli::OutputFormat::None)
    } else {
        Printer::new(format)
    }
}

/// Install SIGINT/SIGTERM handlers that set the returned flag; a second signal
/// terminates immediately.
pub fn stop_flag() -> anyhow::Result<Arc<AtomicBool>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, stop.clone())
            .context("installing signal handler")?;
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handler")?;
    }
    Ok(stop)
}

fn progress_bar(mode: Progress, total: u64) -> ProgressBar {
    let show = match mode {
        Progress::Always => true,
        Progress::Never => false,
        Progress::Auto => std::io::stderr().is_terminal(),
    };
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    pb.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb
}

/// Human summary of a run on stderr.
pub fn print_summary(r: &StatsReport, secs: f64, end: RunEnd, db: &str, run: i64) {
    let rate = if secs > 0.0 {
        r.packets as f64 / secs
    } else {
        0.0
    };
    eprintln!(
        "run {run} {}: {} file(s), {} packets, {} lines in {:.2}s ({:.0} packets/s)",
        match end {
            RunEnd::Complete => "complete",
            RunEnd::Interrupted => "interrupted (open windows flushed)",
        },
        r.files,
        r.packets,
        r.lines,
        secs,
        rate
    );
    eprintln!(
        "  dns messages {} (queries {}, responses {}, tcp {}, mdns {}, llmnr {}, from fragments {})",
        r.dns_messages,
        r.dns_queries,
        r.dns_responses,
        r.tcp_messages,
        r.mdns_messages,
        r.llmnr_messages,
        r.reassembled_datagrams
    );
    eprintln!(
        "  lookups {} (answered {}, unanswered {}, unsolicited {}, events {}, retransmits {})",
        r.lookups, r.answered, r.unanswered, r.unsolicited, r.events, r.duplicate_queries
    );
    eprintln!("  windows {} written to {db}", r.windows);
    if !r.skipped.is_empty() {
        let parts: Vec<String> = r.skipped.iter().map(|(k, v)| format!("{k} {v}")).collect();
        eprintln!("  skipped: {}", parts.join(", "));
    }
    if !r.caps.is_empty() {
        let parts: Vec<String> = r.caps.iter().map(|(k, v)| format!("{k} {v}")).collect();
        eprintln!(
            "  memory bounds reached (entries evicted or refused): {}",
            parts.join(", ")
        );
    }
    if r.malformed > 0 {
        eprintln!("  malformed input: {} (first ones below)", r.malformed);
        for e in &r.examples {
            eprintln!("    {e}");
        }
    }
}

/// The pipeline's counters plus the first-seen bounds it does not see: the
/// enricher's in-memory evictions and the rows the store pruned at its cap
/// (shared by `replay` and `capture`).
pub fn bounded_stats(pipeline: &Pipeline<StoreSink>) -> Stats {
    let mut s = pipeline.stats();
    let e = pipeline.enrich_stats();
    s.set_evicted(Bound::FirstSeenSensor, e.global_evicted);
    s.set_evicted(Bound::FirstSeenHost, e.host_evicted);
    s.set_evicted(
        Bound::FirstSeenRows,
        pipeline.sink().store.first_seen_pruned(),
    );
    s
}

/// Run `replay`; `config` is the global `--config` flag.
pub fn run(a: ReplayArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let settings = super::settings(config, &a.overrides(), &a.outputs)?;
    let sensor = &settings.config.sensor;
    let mut cfg = super::settings_pipeline_config(&settings, &a.sensor.windows)?;
    let detector = super::settings_detector(&settings)?;
    let db = sensor.db.clone();
    let mut stats = Stats::default();
    let mut merger = Merger::open_with(&a.files, a.source_limits(cfg.source), &mut stats)?;
    let mut enricher = super::settings_enricher(&settings, &mut cfg)?;
    let mut store = super::open_store(&settings, a.sensor.first_seen_rows, &cfg, &mut enricher)?;
    let names: Vec<String> = a.files.iter().map(|p| p.display().to_string()).collect();
    // Outputs start before the run is recorded, so a port in use or an
    // unwritable NDJSON path fails before anything is written.
    let out_cfg = settings.config.outputs.clone();
    let outputs = super::start_outputs(&out_cfg)?;
    let metrics = outputs.metrics().clone();
    let run = store.begin_run(
        "replay",
        &names,
        cfg.aggregate.window / crate::event::MICROS,
    )?;
    for i in merger.inputs() {
        tracing::info!(file = %i.name, kind = i.kind.as_str(), gzip = i.gzip, bytes = i.size, "input opened");
    }
    let stop = stop_flag()?;
    let scored = detector.is_some();
    let sink = StoreSink::new(
        store,
        run,
        window_printer(a.format, &out_cfg),
        detector,
        outputs,
    );
    let mut pipeline = Pipeline::new(&cfg, enricher, sink);
    pipeline.source_stats().merge(&stats);
    metrics.publish_stats(&stats);
    let pb = progress_bar(a.progress, merger.total_bytes());
    let threads = if sensor.threads == 1 {
        Threads::One
    } else {
        Threads::Two
    };
    let t0 = Instant::now();
    let result = pipeline.run(&mut merger, &stop, threads, |m, s| {
        metrics.publish_stats(s);
        pb.set_position(m.bytes_read());
        pb.set_message(format!(
            "{} pkts, {} lines, {} windows",
            s.packets, s.lines, s.windows
        ));
    });
    pb.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();
    let final_stats = bounded_stats(&pipeline);
    let report = StatsReport::from(&final_stats);
    let summary = serde_json::to_string(&report)?;
    let mut sink = pipeline.into_sink();
    sink.outputs.publish_stats(&final_stats);
    let outputs_done = sink.outputs.finish();
    let end = match result {
        Ok(end) => end,
        Err(e) => {
            let _ = sink.store.finish_run(run, "failed", &summary);
            return Err(e);
        }
    };
    let status = match end {
        RunEnd::Complete => "complete",
        RunEnd::Interrupted => "interrupted",
    };
    sink.store.finish_run(run, status, &summary)?;
    if let Some(p) = &a.summary_json {
        std::fs::write(p, &summary).with_context(|| format!("writing {}", p.display()))?;
    }
    if !a.quiet {
        print_summary(&report, secs, end, &db.display().to_string(), run);
        if scored {
            eprintln!(
                "  verdicts: {} Normal, {} Unusual, {} Likely Compromise (`sentineldns alerts --db {}` explains them)",
                sink.labels[0],
                sink.labels[1],
                sink.labels[2],
                db.display()
            );
        }
        for line in sink.outputs.summary_lines() {
            eprintln!("  {line}");
        }
    }
    outputs_done.context("output failed (the database has every window)")?;
    if a.metrics_hold && end == RunEnd::Complete {
        if let Some(addr) = sink.outputs.metrics_addr() {
            eprintln!(
                "metrics: input finished; still serving http://{addr}/metrics until SIGINT/SIGTERM"
            );
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
    Ok(match end {
        RunEnd::Complete => ExitCode::SUCCESS,
        RunEnd::Interrupted => ExitCode::from(130),
    })
}
