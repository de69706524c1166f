//! `sentineldns capture -i IF ...`: the live sensor. Without the `capture`
//! feature it explains how to get it.
//!
//! Order of operations (each step fails with a message naming what was wrong):
//! open every interface and compile the filter (privileged) → drop to the
//! unprivileged user → open the [`sentineldns::sensor::Sensor`]: load the model,
//! open the database, start the outputs, begin the run (as that user, so the
//! files it creates are its own) → start one reader thread per interface →
//! feed batches to the sensor until SIGINT/SIGTERM or every interface ends →
//! drain the queue, flush every open window, report drops.
//! SIGHUP re-reads the configuration file and the allow-list files and
//! applies what can change without reopening anything
//! ([`sentineldns::sensor::Sensor::reload`]): the allow-list (`[allowlist]` plus
//! `--allowlist` files), the threat-intel lists (`[intel]` plus `--intel` files) and the label thresholds (`[sensor] thresholds`).
//! Interfaces, filter, window, database, model and outputs need a restart; a
//! file that no longer loads is reported and the running settings are kept.

/// Run `capture`: packets from interfaces, or dnstap with `--dnstap`.
pub fn run(
    a: crate::cli::CaptureArgs,
    config: Option<&std::path::Path>,
) -> anyhow::Result<std::process::ExitCode> {
    if !a.dnstap.is_empty() {
        return super::dnstap::run(a, config);
    }
    packets(a, config)
}

#[cfg(not(feature = "capture"))]
fn packets(
    _a: crate::cli::CaptureArgs,
    _config: Option<&std::path::Path>,
) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!(
        "this build of sentineldns has no live capture. Rebuild with the `capture` feature \
         (needs libpcap-dev: `apt-get install libpcap-dev && cargo build --release --features capture`) \
         or install the Debian package. Replaying files works without it: `sentineldns replay FILE`, \
         and so does listening for dnstap from resolvers: `sentineldns capture --dnstap unix:PATH`."
    )
}

#[cfg(feature = "capture")]
use live::run as packets;

#[cfg(feature = "capture")]
mod live {
    use super::super::replay::{stop_flag, window_printer};
    use crate::cli::CaptureArgs;
    use anyhow::Context;
    use sentineldns::capture::privdrop::{drop_privileges, Dropped};
    use sentineldns::capture::{self, CaptureTotals, InterfaceConfig, Next, RingConfig};
    use sentineldns::config::{Config, Settings};
    use sentineldns::output::metrics::DropSite;
    use sentineldns::sensor::{RunStatus, Sensor, SensorError, SensorOptions};
    use std::path::{Path, PathBuf};
    use std::process::ExitCode;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// Run `capture`.
    pub fn run(a: CaptureArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
        let mut settings: Settings = super::super::settings(config, &a.overrides(), &a.outputs)?;
        // `--allowlist` files join `[allowlist] files` (and are re-read with them).
        settings
            .config
            .allowlist
            .files
            .extend(a.allowlist.iter().cloned());
        // `--intel` files join `[intel] files` (and are re-read with them).
        settings
            .config
            .intel
            .files
            .extend(a.sensor.intel.iter().cloned());
        settings.config.capture = a.apply(std::mem::take(&mut settings.config.capture));
        // Flags are held to the file's ranges; `--allowlist` files are
        // checked (regular file, size) before any interface is opened.
        settings.config.validate(settings.file.as_deref())?;
        settings.config.allowlist.check_files()?;
        settings.config.intel.check_files()?;
        let capture_cfg = settings.config.capture.clone();
        let cfg = super::super::settings_pipeline_config(&settings, &a.sensor.windows)?;
        if capture_cfg.interfaces.is_empty() {
            anyhow::bail!(
                "no interface to capture on: give --interface IF or set `interfaces` in [capture]{}",
                settings
                    .file
                    .as_ref()
                    .map(|f| format!(" of {}", f.display()))
                    .unwrap_or_default()
            );
        }
        if let Some(bpf) = &capture_cfg.bpf {
            capture::check_filter(bpf).with_context(|| format!("bad BPF filter {bpf:?}"))?;
        }
        let user = capture_cfg.user.clone();
        let group = capture_cfg.group.clone();
        let ccfg = InterfaceConfig {
            interfaces: capture_cfg.interfaces.clone(),
            bpf: capture_cfg.bpf.clone(),
            snaplen: i32::try_from(capture_cfg.snaplen).unwrap_or(i32::MAX),
            buffer_bytes: i32::try_from(u64::from(capture_cfg.buffer_mb) << 20).unwrap_or(i32::MAX),
            promisc: capture_cfg.promisc,
            queue_frames: capture_cfg.queue,
            ring: capture_cfg.write_pcap.as_ref().map(|w| RingConfig {
                dir: w.dir.clone(),
                max_bytes: w.max_mb.max(1) << 20,
                keep: w.keep.max(1),
            }),
        };
        if let Some(r) = &ccfg.ring {
            std::fs::create_dir_all(&r.dir)
                .with_context(|| format!("creating pcap ring directory {}", r.dir.display()))?;
            sentineldns::capture::privdrop::hand_over_dir(&r.dir, &user, group.as_deref())?;
        }
        // `--serve`: the token file is read (and a non-loopback address
        // refused without one) while still privileged, before anything opens.
        let serve_cfg = match a.serve {
            Some(addr) => {
                let mut sc = settings.config.serve.clone();
                sc.listen = addr;
                let token = sc
                    .token_file
                    .as_deref()
                    .map(sentineldns::serve::read_token)
                    .transpose()?;
                if !addr.ip().is_loopback() && token.is_none() {
                    anyhow::bail!(
                        "--serve {addr} is not a loopback address: set [serve] token_file so every /api request needs a token"
                    );
                }
                Some((sc, token))
            }
            None => None,
        };
        // Privileged part: open the interfaces.
        let opened = capture::open(&ccfg)?;
        let dropped = drop_privileges(&user, group.as_deref())?;
        match &dropped {
            Dropped::To { user, uid, gid } => {
                tracing::info!(%user, uid, gid, "dropped privileges after opening the interfaces")
            }
            Dropped::NotRoot { uid } => tracing::info!(uid, "not root: no privileges to drop"),
            Dropped::StayedRoot => {
                tracing::warn!("still running as root (--user root): a decoder bug would run with full privileges")
            }
        }
        let names = opened.interfaces();
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
        if let Some((sc, token)) = serve_cfg {
            let addr = sc.listen;
            let bound = sentineldns::serve::spawn(sentineldns::serve::ServeOptions {
                postgres: None,
                db: settings.config.sensor.db.clone(),
                config: sc,
                token,
                predictor: None,
                live: Some(Arc::new(sentineldns::serve::SensorStatus::new(
                    metrics.clone(),
                ))),
            })
            .with_context(|| format!("serving the API on {addr}"))?;
            eprintln!(
                "serving http://{bound}/ (dashboard; API /api/v1/) over this capture's database"
            );
        }
        let stop = stop_flag()?;
        let hup = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone())
            .context("installing SIGHUP handler")?;
        let cap = opened.start(stop.clone())?;
        eprintln!(
            "capturing on {} (filter: {}); SIGINT/SIGTERM to stop, SIGHUP to reload the allow-list",
            names.join(", "),
            ccfg.bpf.as_deref().unwrap_or("default DNS filter")
        );
        sensor.start_clock();
        let mut last_publish = Instant::now();
        let mut n: u64 = 0;
        let mut result: Result<(), SensorError> = Ok(());
        let publish = |sensor: &Sensor, t: CaptureTotals| {
            metrics.publish_stats(&sensor.stats());
            metrics.set_dropped(DropSite::Kernel, t.kernel_dropped);
            metrics.set_dropped(DropSite::Interface, t.interface_dropped);
            metrics.set_dropped(DropSite::Queue, t.queue_dropped);
        };
        let feed =
            |sensor: &mut Sensor, n: &mut u64, b: &capture::Batch| -> Result<(), SensorError> {
                let iface = names.get(b.iface()).map_or("?", String::as_str);
                for p in b.packets() {
                    *n += 1;
                    sensor.source_stats().packets += 1;
                    sensor.packet(&p, iface, *n)?;
                }
                Ok(())
            };
        loop {
            match cap.next_batch(Duration::from_millis(200)) {
                Next::Batch(b) => {
                    if let Err(e) = feed(&mut sensor, &mut n, &b) {
                        result = Err(e);
                        stop.store(true, Ordering::Relaxed);
                        break;
                    }
                    cap.recycle(b);
                }
                Next::Idle => {}
                Next::Ended => break,
            }
            if stop.load(Ordering::Relaxed) {
                break;
            }
            if hup.swap(false, Ordering::Relaxed) {
                reload(&settings, &a.allowlist, &a.sensor.intel, &mut sensor);
            }
            if last_publish.elapsed() >= Duration::from_secs(1) {
                publish(&sensor, cap.counters().totals());
                last_publish = Instant::now();
            }
        }
        stop.store(true, Ordering::Relaxed);
        let totals = cap.finish(|b| {
            if result.is_ok() {
                if let Err(e) = feed(&mut sensor, &mut n, b) {
                    result = Err(e);
                }
            }
        });
        if result.is_ok() {
            result = sensor.finish_input();
        }
        publish(&sensor, totals);
        let totals_json = serde_json::to_value(totals)?;
        let r = sensor.finish(
            result.map(|()| RunStatus::Stopped),
            Some(("capture", totals_json)),
        )?;
        if let Some(p) = &a.summary_json {
            std::fs::write(p, &r.summary).with_context(|| format!("writing {}", p.display()))?;
        }
        if !a.quiet {
            eprintln!(
                "capture stopped after {:.1}s on {}: {} packets captured, dropped: {} kernel, {} interface, {} queue{}",
                r.secs,
                names.join(", "),
                totals.captured,
                totals.kernel_dropped,
                totals.interface_dropped,
                totals.queue_dropped,
                if totals.interface_errors > 0 {
                    format!(", {} interface(s) failed", totals.interface_errors)
                } else {
                    String::new()
                }
            );
            eprintln!(
                "  dns messages {}, lookups {}, windows {} (db {}, run {})",
                r.report.dns_messages,
                r.report.lookups,
                r.stats.windows,
                r.db.display(),
                r.run
            );
            if r.scored {
                eprintln!(
                    "  verdicts: {} Normal, {} Unusual, {} Likely Compromise",
                    r.verdicts.normal, r.verdicts.unusual, r.verdicts.likely_compromise
                );
                eprintln!("  {}", crate::cmd::incident_summary(r.outputs.metrics()));
            }
            for line in r.outputs.summary_lines() {
                eprintln!("  {line}");
            }
        }
        if let Some(e) = r.output_error {
            return Err(
                anyhow::Error::new(e).context("output failed (the database has every window)")
            );
        }
        Ok(ExitCode::SUCCESS)
    }

    /// SIGHUP: re-read the file and apply the allow-list and thresholds.
    fn reload(
        settings: &Settings,
        allow_files: &[PathBuf],
        intel_files: &[PathBuf],
        sensor: &mut Sensor,
    ) {
        let config = match &settings.file {
            // The environment is laid over the file again, as at start.
            Some(f) => match Config::load_layers(Some(f), &sentineldns::config::ProcessEnv) {
                Ok((mut c, _)) => {
                    c.allowlist.files.extend(allow_files.iter().cloned());
                    c.intel.files.extend(intel_files.iter().cloned());
                    c
                }
                Err(e) => {
                    tracing::error!(error = %e, "SIGHUP: configuration does not load, keeping the running settings");
                    return;
                }
            },
            // No file: the allow-list and intel files (already in the settings) are re-read.
            None => settings.config.clone(),
        };
        sensor.reload(&config);
    }
}
