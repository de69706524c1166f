//! Subcommand implementations: the CLI edge, where `anyhow` errors with context live.
//!
//! One file per subcommand; [`output`] renders windows the same way for all of
//! them. Helpers shared by several commands (settings and pipeline
//! configuration from flags, model loading by path, building windows in
//! memory) live here. Assembling and running the sensor (model, enricher,
//! store, outputs, run row) is the library's [`sentineldns::sensor`]: `replay` and
//! `capture` only turn flags into [`Settings`] and report.

pub mod alerts;
pub mod capture;
pub mod collect;
pub mod config;
pub mod dnstap;
pub mod docs;
pub mod evaluate;
pub mod flows;
pub mod incidents;
pub mod output;
pub mod replay;
pub mod score;
pub mod serve;
pub mod simulate;
pub mod table;
pub mod train;
pub mod windows;

use crate::cli::{Cli, Command, OutputArgs, StoredQuery, WindowArgs};
use anyhow::Context;
use sentineldns::aggregate::{AggregateConfig, HostWindow};
use sentineldns::config::{ModelChoice, Overrides, Settings};
use sentineldns::detect::Detector;
use sentineldns::enrich::Enricher;
use sentineldns::pair::PairConfig;
use sentineldns::pipeline::{Pipeline, PipelineConfig, Threads, VecSink};
use sentineldns::sensor::ModelSource;
use sentineldns::source::merge::Merger;
use sentineldns::stats::Stats;
use sentineldns::store::{Store, StoredWindow, WindowQuery};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

/// Run the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Replay(a) => replay::run(a, cli.config.as_deref()),
        Command::Capture(a) => capture::run(a, cli.config.as_deref()),
        Command::Windows(a) => windows::run(a),
        Command::Alerts(a) => alerts::run(a),
        Command::Incidents(a) => incidents::run(a),
        Command::Train(a) => train::run(a),
        Command::Evaluate(a) => evaluate::run(a),
        Command::Simulate(a) => simulate::run(a),
        Command::Flows(a) => flows::run(a, cli.config.as_deref()),
        Command::Config(a) => config::run(a, cli.config.as_deref()),
        Command::Serve(a) => serve::run(a, cli.config.as_deref()),
        Command::Completions(a) => docs::completions(a),
        Command::Man(a) => docs::man(a),
        Command::Collect(a) => collect::run(a),
        Command::Score(a) => score::run(a, cli.config.as_deref()),
    }
}

/// Stored windows matching the query flags (and, if not empty, these labels).
pub fn query_stored(q: &StoredQuery, labels: Vec<String>) -> anyhow::Result<Vec<StoredWindow>> {
    if !q.db.exists() {
        anyhow::bail!(
            "database {} does not exist (run `sentineldns replay` first)",
            q.db.display()
        );
    }
    if let Some(h) = &q.host {
        h.parse::<std::net::IpAddr>()
            .with_context(|| format!("--host {h:?} is not an IP address"))?;
    }
    let store = Store::open(&q.db)?;
    Ok(store.query_windows(&WindowQuery {
        host: q.host.clone(),
        since: q.since,
        until: q.until,
        run: q.run,
        limit: q.limit,
        labels,
    })?)
}

/// The run summary's incident line: `incidents: N opened, M escalated, K closed`.
pub fn incident_summary(m: &sentineldns::output::metrics::Metrics) -> String {
    use sentineldns::incident::EventKind;
    format!(
        "incidents: {} opened, {} escalated, {} closed",
        m.incidents_total(EventKind::Opened),
        m.incidents_total(EventKind::Escalated),
        m.incidents_total(EventKind::Closed)
    )
}

/// Pipeline configuration from the window flags, validated. Window and grace
/// not given on the command line take the built-in defaults (commands that
/// read the configuration file fill them from [`Settings`] first).
pub fn pipeline_config(a: &WindowArgs) -> anyhow::Result<PipelineConfig> {
    let defaults = sentineldns::config::SensorConfig::default();
    let cfg = PipelineConfig {
        aggregate: AggregateConfig {
            window: a.window.unwrap_or(defaults.window.micros()),
            grace: a.grace.unwrap_or(defaults.grace.micros()),
            top_domains: a.top.unwrap_or(defaults.top),
            ..Default::default()
        },
        pair: PairConfig {
            timeout: a.pair_timeout.unwrap_or(defaults.pair_timeout.micros()),
            ..Default::default()
        },
        ..Default::default()
    };
    cfg.validate().context("invalid options")?;
    Ok(cfg)
}

/// Load the model bundle: the given path, else the first default that
/// exists, else the embedded default.
pub fn load_detector(model: Option<&Path>) -> anyhow::Result<(Detector, ModelSource)> {
    let choice = match model {
        Some(p) => ModelChoice::Path(p.to_path_buf()),
        None => ModelChoice::Search,
    };
    sentineldns::sensor::load_model(&choice, None)
        .map_err(anyhow::Error::msg)?
        .ok_or_else(|| anyhow::anyhow!("no model"))
}

/// The effective settings of a pipeline command: the configuration file
/// (`config` = `--config`, else discovered), the environment, then the
/// command's flags (`overrides`, and `outputs` laid over `[outputs]`).
/// Shared by `replay` and `capture`.
pub fn settings(
    config: Option<&Path>,
    overrides: &Overrides,
    outputs: &OutputArgs,
) -> anyhow::Result<Settings> {
    let mut s = Settings::resolve(config, overrides)?;
    if let Some(f) = &s.file {
        tracing::info!(file = %f.display(), "configuration loaded");
    }
    s.config.outputs = outputs.apply(std::mem::take(&mut s.config.outputs));
    s.config.triage = outputs.apply_triage(std::mem::take(&mut s.config.triage));
    // The same validation as `config check`, now with the flags applied, and
    // the files the configuration names, before any work is done.
    s.config.validate(s.file.as_deref())?;
    s.config.allowlist.check_files()?;
    s.config.intel.check_files()?;
    Ok(s)
}

/// The pipeline configuration of a pipeline command: window, grace, pairing
/// timeout and top domains from `settings` (file, environment, flags; the
/// flags of `a` are in them already when they were given), and `[limits]`;
/// validated.
pub fn settings_pipeline_config(
    settings: &Settings,
    a: &WindowArgs,
) -> anyhow::Result<PipelineConfig> {
    let sensor = &settings.config.sensor;
    let mut windows = a.clone();
    windows.window = Some(sensor.window.micros());
    windows.grace = Some(sensor.grace.micros());
    windows.pair_timeout = windows.pair_timeout.or(Some(sensor.pair_timeout.micros()));
    windows.top = windows.top.or(Some(sensor.top));
    let mut cfg = pipeline_config(&windows)?;
    settings.config.limits.apply_to(&mut cfg);
    Ok(cfg)
}

/// Build every window of `inputs` in memory, with a fresh first-seen state
/// (as a newly installed sensor would), for training and evaluation. Each
/// input is an independent dataset (its own pipeline): simulations or captures
/// from different networks may reuse the same addresses and times.
pub fn windows_in_memory(
    inputs: &[PathBuf],
    cfg: &PipelineConfig,
) -> anyhow::Result<(Vec<HostWindow>, Stats)> {
    // Open every input first, so an unreadable one fails before any work.
    let mut total = Stats::default();
    let mut mergers = Vec::with_capacity(inputs.len());
    for input in inputs {
        let mut stats = Stats::default();
        mergers.push((
            Merger::open_with(std::slice::from_ref(input), cfg.source, &mut stats)?,
            stats,
        ));
    }
    let mut windows = Vec::new();
    for (mut merger, stats) in mergers {
        let mut p = Pipeline::new(cfg, Enricher::new(cfg.enrich.clone()), VecSink::default());
        p.source_stats().merge(&stats);
        let stop = AtomicBool::new(false);
        match p.run(&mut merger, &stop, Threads::Two, |_, _| {}) {
            Ok(_) => {}
            Err(never) => match never {},
        }
        merger.check_rejected()?;
        total.merge(&p.stats());
        windows.extend(p.into_sink().windows);
    }
    Ok((windows, total))
}
