//! `sentineldns capture -i IF ...`: the live sensor. Without the `capture`
//! feature it explains how to get it.
//!
//! Order of operations (each step fails with a message naming what was wrong):
//! open every interface and compile the filter (privileged) → drop to the
//! unprivileged user → load the model, open the database, start the outputs
//! (as that user, so the files it creates are its own) → start one reader
//! thread per interface → process batches until SIGINT/SIGTERM or every
//! interface ends → drain the queue, flush every open window, report drops.
//! SIGHUP re-reads the allow-list files.

/// Run `capture`.
#[cfg(not(feature = "capture"))]
pub fn run(_a: crate::cli::CaptureArgs) -> anyhow::Result<std::process::ExitCode> {
    anyhow::bail!(
        "this build of sentineldns has no live capture. Rebuild with the `capture` feature \
         (needs libpcap-dev: `apt-get install libpcap-dev && cargo build --release --features capture`) \
         or install the Debian package. Replaying files works without it: `sentineldns replay FILE`."
    )
}

#[cfg(feature = "capture")]
pub use live::run;

#[cfg(feature = "capture")]
mod live {
    use super::super::output::Printer;
    use super::super::replay::{stop_flag, StoreSink};
    use crate::capture::privdrop::{drop_privileges, Dropped};
    use crate::capture::{self, CaptureConfig, CaptureTotals, Next, RingConfig};
    use crate::cli::CaptureArgs;
    use crate::enrich::allowlist::AllowList;
    use crate::enrich::Enricher;
    use crate::output::metrics::DropSite;
    use crate::pipeline::Pipeline;
    use crate::stats::StatsReport;
    use crate::store::Store;
    use anyhow::Context;
    use std::path::PathBuf;
    use std::process::ExitCode;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// The allow-list: the embedded default plus `files`.
    fn load_allowlist(files: &[PathBuf]) -> anyhow::Result<AllowList> {
        let mut list = AllowList::default_list();
        for f in files {
            let text =
                std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
            list.extend(
                AllowList::parse(&text).with_context(|| format!("allow-list {}", f.display()))?,
            );
        }
        Ok(list)
    }

    /// Run `capture`.
    pub fn run(a: CaptureArgs) -> anyhow::Result<ExitCode> {
        let cfg = super::super::pipeline_config(&a.windows)?;
        if let Some(bpf) = &a.bpf {
            capture::check_filter(bpf).with_context(|| format!("bad BPF filter {bpf:?}"))?;
        }
        let ccfg = CaptureConfig {
            interfaces: a.interfaces.clone(),
            bpf: a.bpf.clone(),
            snaplen: a.snaplen,
            buffer_bytes: a.buffer_mb.saturating_mul(1 << 20),
            promisc: !a.no_promisc,
            queue_frames: a.queue,
            ring: a.write_pcap.as_ref().map(|dir| RingConfig {
                dir: dir.clone(),
                max_bytes: a.write_pcap_max_mb.max(1) << 20,
                keep: a.write_pcap_keep.max(1),
            }),
        };
        if let Some(r) = &ccfg.ring {
            std::fs::create_dir_all(&r.dir)
                .with_context(|| format!("creating pcap ring directory {}", r.dir.display()))?;
            crate::capture::privdrop::hand_over_dir(&r.dir, &a.user, a.group.as_deref())?;
        }
        // Privileged part: open the interfaces.
        let opened = capture::open(&ccfg)?;
        let dropped = drop_privileges(&a.user, a.group.as_deref())?;
        match &dropped {
            Dropped::To { user, uid, gid } => {
                tracing::info!(%user, uid, gid, "dropped privileges after opening the interfaces")
            }
            Dropped::NotRoot { uid } => tracing::info!(uid, "not root: no privileges to drop"),
            Dropped::StayedRoot => {
                tracing::warn!("still running as root (--user root): a decoder bug would run with full privileges")
            }
        }
        let detector = if a.no_model {
            None
        } else {
            let (d, path) = super::super::load_detector(a.model.as_deref())?;
            tracing::info!(model = %path.display(), "model loaded");
            Some(d)
        };
        let mut store = Store::open(&a.db)?;
        let mut enricher = Enricher::new(cfg.enrich.clone());
        let allow_files: Vec<PathBuf> = a.allowlist.clone();
        enricher.set_allowlist(load_allowlist(&allow_files)?);
        store
            .load_first_seen(cfg.enrich.first_seen_cap, |r| {
                enricher.preload_first_seen(&r)
            })
            .context("loading first-seen domains")?;
        let out_cfg = a.outputs.config();
        let outputs = super::super::start_outputs(&out_cfg)?;
        let metrics = outputs.metrics().clone();
        let names = opened.interfaces();
        let run = store.begin_run("capture", &names, a.windows.window / crate::event::MICROS)?;
        let stop = stop_flag()?;
        let hup = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone())
            .context("installing SIGHUP handler")?;
        let format = if out_cfg.ndjson_on_stdout() {
            crate::cli::OutputFormat::None
        } else {
            a.format
        };
        let sink = StoreSink::new(store, run, Printer::new(format), detector, outputs);
        let mut pipeline = Pipeline::new(&cfg, enricher, sink);
        let cap = opened.start(stop.clone())?;
        eprintln!(
            "capturing on {} (filter: {}); SIGINT/SIGTERM to stop, SIGHUP to reload the allow-list",
            names.join(", "),
            a.bpf.as_deref().unwrap_or("default DNS filter")
        );
        let t0 = Instant::now();
        let mut last_publish = Instant::now();
        let mut n: u64 = 0;
        let mut result: anyhow::Result<()> = Ok(());
        let publish = |p: &Pipeline<StoreSink>, t: CaptureTotals| {
            metrics.publish_stats(&p.stats());
            metrics.set_dropped(DropSite::Kernel, t.kernel_dropped);
            metrics.set_dropped(DropSite::Interface, t.interface_dropped);
            metrics.set_dropped(DropSite::Queue, t.queue_dropped);
        };
        let feed = |pipeline: &mut Pipeline<StoreSink>,
                    n: &mut u64,
                    b: &capture::Batch|
         -> anyhow::Result<()> {
            let iface = names.get(b.iface()).map_or("?", String::as_str);
            for p in b.packets() {
                *n += 1;
                pipeline.source_stats().packets += 1;
                pipeline.packet(&p, iface, *n)?;
            }
            Ok(())
        };
        loop {
            match cap.next_batch(Duration::from_millis(200)) {
                Next::Batch(b) => {
                    if let Err(e) = feed(&mut pipeline, &mut n, &b) {
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
                match load_allowlist(&allow_files) {
                    Ok(list) => {
                        tracing::info!(entries = list.len(), "SIGHUP: allow-list reloaded");
                        pipeline.set_allowlist(list);
                    }
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "SIGHUP: reload failed, keeping the old allow-list")
                    }
                }
            }
            if last_publish.elapsed() >= Duration::from_secs(1) {
                publish(&pipeline, cap.counters().totals());
                last_publish = Instant::now();
            }
        }
        stop.store(true, Ordering::Relaxed);
        let totals = cap.finish(|b| {
            if result.is_ok() {
                if let Err(e) = feed(&mut pipeline, &mut n, b) {
                    result = Err(e);
                }
            }
        });
        if result.is_ok() {
            result = pipeline.finish();
        }
        publish(&pipeline, totals);
        let secs = t0.elapsed().as_secs_f64();
        let final_stats = pipeline.stats();
        let report = StatsReport::from(&final_stats);
        let summary = serde_json::json!({ "stats": report, "capture": totals });
        let summary = serde_json::to_string(&summary)?;
        let mut sink = pipeline.into_sink();
        let outputs_done = sink.outputs.finish();
        if let Err(e) = result {
            let _ = sink.store.finish_run(run, "failed", &summary);
            return Err(e);
        }
        sink.store.finish_run(run, "stopped", &summary)?;
        if let Some(p) = &a.summary_json {
            std::fs::write(p, &summary).with_context(|| format!("writing {}", p.display()))?;
        }
        if !a.quiet {
            eprintln!(
                "capture stopped after {secs:.1}s on {}: {} packets captured, dropped: {} kernel, {} interface, {} queue{}",
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
                "  dns messages {}, lookups {}, windows {} (db {}, run {run})",
                report.dns_messages,
                report.lookups,
                final_stats.windows,
                a.db.display()
            );
            if sink.detector.is_some() {
                eprintln!(
                    "  verdicts: {} Normal, {} Unusual, {} Likely Compromise",
                    sink.labels[0], sink.labels[1], sink.labels[2]
                );
            }
            for line in sink.outputs.summary_lines() {
                eprintln!("  {line}");
            }
        }
        outputs_done.context("output failed (the database has every window)")?;
        Ok(ExitCode::SUCCESS)
    }
}
