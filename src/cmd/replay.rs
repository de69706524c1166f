//! `sentineldns replay FILE...`: the main job, a thin shell around
//! [`sentineldns::sensor::Sensor`]. Loads the model, opens every input (failing
//! early, naming the file, if one is unusable), opens the sensor (first-seen
//! state from the database, outputs, run row), runs it with a progress bar
//! (each batch of closed windows is scored, written to SQLite in one
//! transaction, handed to the outputs and printed), and reports the run.
//!
//! Settings come from [`super::settings`]: the configuration file (window,
//! grace, model / no_model, thresholds, db, threads, outputs, allow-list),
//! then the environment, then the flags given.

use super::output::Printer;
use crate::cli::{Progress, ReplayArgs};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sentineldns::output::OutputsConfig;
use sentineldns::pipeline::RunEnd;
use sentineldns::sensor::{load_detector, RunStatus, Sensor, SensorOptions, WindowPrinter};
use sentineldns::source::merge::Merger;
use sentineldns::stats::{Stats, StatsReport, SummaryLine};
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// The window printer for stdout: NDJSON on stdout replaces the window table
/// there (shared by `replay` and `capture`).
pub fn window_printer(
    format: crate::cli::OutputFormat,
    outputs: &OutputsConfig,
) -> Option<Box<dyn WindowPrinter + Send>> {
    let printer = if outputs.ndjson_on_stdout() {
        Printer::new(crate::cli::OutputFormat::None)
    } else {
        Printer::new(format)
    };
    Some(Box::new(printer))
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
    eprintln!("  {}", r.summary_line(SummaryLine::Dns));
    eprintln!("  {}", r.summary_line(SummaryLine::Lookups));
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

/// Run `replay`; `config` is the global `--config` flag.
pub fn run(a: ReplayArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let mut settings = super::settings(config, &a.overrides(), &a.outputs)?;
    // `--intel` files join `[intel] files`.
    settings
        .config
        .intel
        .files
        .extend(a.sensor.intel.iter().cloned());
    settings.config.intel.check_files()?;
    let cfg = super::settings_pipeline_config(&settings, &a.sensor.windows)?;
    // The model is checked before the inputs are opened, the inputs before
    // the database and the outputs.
    let detector = load_detector(&settings)?;
    let mut stats = Stats::default();
    let mut merger = Merger::open_with(&a.files, a.source_limits(cfg.source), &mut stats)?;
    let names: Vec<String> = a.files.iter().map(|p| p.display().to_string()).collect();
    let mut sensor = Sensor::with_detector(
        &settings,
        detector,
        SensorOptions {
            command: "replay".into(),
            inputs: names,
            pipeline: cfg,
            first_seen_rows: a.sensor.first_seen_rows,
            printer: window_printer(a.format, &settings.config.outputs),
        },
    )?;
    for i in merger.inputs() {
        tracing::info!(file = %i.name, kind = i.kind.as_str(), gzip = i.gzip, bytes = i.size, "input opened");
    }
    let stop = stop_flag()?;
    sensor.add_source_stats(&stats);
    let pb = progress_bar(a.progress, merger.total_bytes());
    let result = sensor.run(&mut merger, &stop, |m, s| {
        pb.set_position(m.bytes_read());
        pb.set_message(format!(
            "{} pkts, {} lines, {} windows",
            s.packets, s.lines, s.windows
        ));
    });
    pb.finish_and_clear();
    let end = result.as_ref().ok().copied();
    let r = sensor.finish(result.map(RunStatus::from), None)?;
    let end = end.unwrap_or(RunEnd::Complete);
    if let Some(p) = &a.summary_json {
        std::fs::write(p, &r.summary).with_context(|| format!("writing {}", p.display()))?;
    }
    if !a.quiet {
        print_summary(&r.report, r.secs, end, &r.db.display().to_string(), r.run);
        if r.scored {
            eprintln!(
                "  verdicts: {} Normal, {} Unusual, {} Likely Compromise (`sentineldns alerts --db {}` explains them)",
                r.verdicts.normal,
                r.verdicts.unusual,
                r.verdicts.likely_compromise,
                r.db.display()
            );
            eprintln!(
                "  {} (`sentineldns incidents --db {}` lists them)",
                crate::cmd::incident_summary(r.outputs.metrics()),
                r.db.display()
            );
        }
        for line in r.outputs.summary_lines() {
            eprintln!("  {line}");
        }
    }
    let (expired, evicted) = merger.pairing_counts();
    if expired + evicted > 0 {
        tracing::info!(
            expired,
            evicted,
            "EVE DNS halves emitted without their partner"
        );
    }
    merger.check_rejected()?;
    if let Some(e) = r.output_error {
        return Err(anyhow::Error::new(e).context("output failed (the database has every window)"));
    }
    if a.metrics_hold && end == RunEnd::Complete {
        if let Some(addr) = r.outputs.metrics_addr() {
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
