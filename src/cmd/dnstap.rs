//! `sentineldns capture --dnstap unix:PATH|tcp:ADDR:PORT`: the live sensor
//! fed by resolvers' dnstap instead of packets (no libpcap, no privileges).
//!
//! Bind every endpoint (failing, naming it) → open the
//! [`sentineldns::sensor::Sensor`] → decode each queued data frame
//! ([`sentineldns::dnstap::count_payload`]) and feed client messages to the
//! sensor, where they are paired and windowed like decoded packets →
//! on SIGINT/SIGTERM stop the listener, drain the queue, flush every open
//! window and report connections, frames and drops.

use super::replay::{stop_flag, window_printer};
use crate::cli::CaptureArgs;
use anyhow::Context;
use sentineldns::dnstap::listen::{self, Endpoint, ListenConfig, Received};
use sentineldns::dnstap::{count_payload, ClientMessage};
use sentineldns::output::metrics::DropSite;
use sentineldns::sensor::{RunStatus, Sensor, SensorError, SensorOptions};
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Run `capture --dnstap ...`.
pub fn run(a: CaptureArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    if !a.interfaces.is_empty() {
        anyhow::bail!(
            "give --dnstap or --interface, not both: not built yet: reading packets and dnstap in one process (run two sensors)"
        );
    }
    let endpoints = a
        .dnstap
        .iter()
        .map(|s| s.parse::<Endpoint>())
        .collect::<Result<Vec<_>, _>>()?;
    let mut settings = super::settings(config, &a.sensor.overrides(None), &a.outputs)?;
    settings
        .config
        .allowlist
        .files
        .extend(a.allowlist.iter().cloned());
    settings
        .config
        .intel
        .files
        .extend(a.sensor.intel.iter().cloned());
    settings.config.validate(settings.file.as_deref())?;
    settings.config.allowlist.check_files()?;
    settings.config.intel.check_files()?;
    let cfg = super::settings_pipeline_config(&settings, &a.sensor.windows)?;
    let lcfg = ListenConfig {
        endpoints,
        queue_frames: a.queue.unwrap_or(settings.config.capture.queue),
        ..ListenConfig::default()
    };
    let stop = stop_flag()?;
    let listener = listen::listen(&lcfg, stop.clone())?;
    let names = listener.names().to_vec();
    let mut sensor = Sensor::open(
        &settings,
        SensorOptions {
            command: "capture".into(),
            inputs: names.clone(),
            pipeline: cfg,
            first_seen_rows: a.sensor.first_seen_rows,
            printer: window_printer(a.format, &settings.config.outputs),
        },
    )?;
    let metrics = sensor.metrics().clone();
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone())
        .context("installing SIGHUP handler")?;
    eprintln!(
        "capturing dnstap on {} (queue {} frames); SIGINT/SIGTERM to stop",
        names.join(", "),
        lcfg.queue_frames
    );
    sensor.start_clock();
    let mut msg = ClientMessage::default();
    let mut result: Result<(), SensorError> = Ok(());
    let mut feed = |sensor: &mut Sensor, r: &Received| -> Result<(), SensorError> {
        let source = names.get(r.endpoint).map_or("dnstap", String::as_str);
        if count_payload(
            &r.payload,
            &mut msg,
            sensor.source_stats(),
            source,
            r.frame,
            r.offset,
        ) {
            sensor.message(&msg, source, r.frame)?;
        }
        Ok(())
    };
    let mut last_publish = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if let Some(r) = listener.recv(Duration::from_millis(200)) {
            if let Err(e) = feed(&mut sensor, &r) {
                result = Err(e);
                break;
            }
            // drain what is queued before looking at the clock again
            while let Some(r) = listener.try_recv() {
                if let Err(e) = feed(&mut sensor, &r) {
                    result = Err(e);
                    break;
                }
            }
            if result.is_err() {
                break;
            }
        }
        if hup.swap(false, Ordering::Relaxed) {
            if let Some(f) = &settings.file {
                // The environment is laid over the file again, as at start.
                match sentineldns::config::Config::load_layers(
                    Some(f),
                    &sentineldns::config::ProcessEnv,
                ) {
                    Ok((mut c, _)) => {
                        c.allowlist.files.extend(a.allowlist.iter().cloned());
                        c.intel.files.extend(a.sensor.intel.iter().cloned());
                        sensor.reload(&c);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "SIGHUP: configuration does not load, keeping the running settings")
                    }
                }
            } else {
                sensor.reload(&settings.config);
            }
        }
        if last_publish.elapsed() >= Duration::from_secs(1) {
            metrics.publish_stats(&sensor.stats());
            metrics.set_dropped(DropSite::Queue, listener.totals().dropped);
            last_publish = Instant::now();
        }
    }
    let (rest, totals) = listener.shutdown();
    for r in &rest {
        if result.is_err() {
            break;
        }
        result = feed(&mut sensor, r);
    }
    if result.is_ok() {
        result = sensor.finish_input();
    }
    metrics.publish_stats(&sensor.stats());
    metrics.set_dropped(DropSite::Queue, totals.dropped);
    let r = sensor.finish(
        result.map(|()| RunStatus::Stopped),
        Some(("dnstap", serde_json::to_value(totals)?)),
    )?;
    if let Some(p) = &a.summary_json {
        std::fs::write(p, &r.summary).with_context(|| format!("writing {}", p.display()))?;
    }
    if !a.quiet {
        eprintln!(
            "dnstap capture stopped after {:.1}s on {}: {} connection(s) ({} ended with STOP, {} refused at the handshake, {} cut by a bad frame, {} over the limit), {} frames, {} dropped (queue full)",
            r.secs,
            names.join(", "),
            totals.connections,
            totals.finished,
            totals.handshake_errors,
            totals.stream_errors,
            totals.refused,
            totals.frames,
            totals.dropped
        );
        eprintln!(
            "  client messages {}, resolver-side messages {} (not windowed), other {}",
            r.report.dns_messages,
            r.report.dnstap_resolver_messages,
            r.report.dnstap_other_messages
        );
        eprintln!(
            "  dns messages {}, lookups {}, windows {} (db {}, run {})",
            r.report.dns_messages,
            r.report.lookups,
            r.stats.windows,
            r.db.display(),
            r.run
        );
        if r.report.malformed > 0 {
            eprintln!("  malformed: {} (first ones below)", r.report.malformed);
            for e in &r.report.examples {
                eprintln!("    {e}");
            }
        }
        if r.scored {
            eprintln!(
                "  verdicts: {} Normal, {} Unusual, {} Likely Compromise",
                r.verdicts.normal, r.verdicts.unusual, r.verdicts.likely_compromise
            );
            eprintln!("  {}", super::incident_summary(r.outputs.metrics()));
        }
        for line in r.outputs.summary_lines() {
            eprintln!("  {line}");
        }
    }
    if let Some(e) = r.output_error {
        return Err(anyhow::Error::new(e).context("output failed (the database has every window)"));
    }
    Ok(ExitCode::SUCCESS)
}
