//! `sentineldns score`: the scaled-out scorer ([`sentineldns::fleet::score`]).
//! SIGINT/SIGTERM stop it: what closed is delivered and committed, open
//! windows are left to the next owner of their partition.

use crate::cli::ScoreArgs;
use std::path::Path;
use std::process::ExitCode;

/// Run `score`; `config` is the global `--config` flag.
#[cfg(feature = "kafka")]
pub fn run(a: ScoreArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    use sentineldns::fleet::score::{ScoreConfig, Scorer};
    use sentineldns::output::kafka::Ship;
    use sentineldns::sensor::{load_detector, Sensor, SensorOptions};
    use std::time::Duration;

    let Some(brokers) = a.outputs.kafka.clone() else {
        anyhow::bail!("score needs --kafka BROKERS: the lookups are read from it and the verdicts published to it");
    };
    if a.outputs.ndjson.is_some() || a.outputs.metrics.is_some() || a.outputs.webhook.is_some() {
        anyhow::bail!(
            "score --ndjson/--metrics/--webhook: not built yet (each partition runs its own sensor; only the Kafka output is shared-safe)"
        );
    }
    let overrides = sentineldns::config::Overrides {
        window: a.windows.window,
        grace: a.windows.grace,
        model: a.model.clone(),
        no_model: a.no_model,
        db: None,
        threads: Some(1),
        learn: None,
        pair_timeout: a.windows.pair_timeout,
        top: a.windows.top,
    };
    let mut settings = super::settings(config, &overrides, &a.outputs)?;
    settings.config.intel.files.extend(a.intel.iter().cloned());
    settings.config.intel.check_files()?;
    if settings.config.outputs.ndjson.is_some()
        || settings.config.outputs.metrics.is_some()
        || settings.config.outputs.webhook.is_some()
    {
        anyhow::bail!(
            "score with [outputs.ndjson], [outputs.metrics] or [outputs.webhook] configured: not built yet (only the Kafka output is used by the scorer)"
        );
    }
    if settings.config.learning.enabled() {
        anyhow::bail!(
            "score with [learning] on: not built yet (site learning needs one database of the whole site; a scorer holds per-partition state)"
        );
    }
    let k = settings
        .config
        .outputs
        .kafka
        .as_mut()
        .context("score needs [outputs.kafka]")?;
    if a.outputs.ship.is_empty() {
        k.ship = vec![Ship::Windows, Ship::Incidents];
    }
    if k.ships(Ship::Lookups) {
        anyhow::bail!("score --ship lookups: the scorer consumes the lookups topic and does not publish lookups again (ship windows,incidents)");
    }
    if k.sensor.as_deref().is_none_or(|s| s.trim().is_empty()) {
        // One name for the whole group: a partition that moves between
        // scorers republishes its windows under the same key.
        k.sensor = Some(a.group.clone());
    }
    let topic = a
        .lookups_topic
        .clone()
        .unwrap_or_else(|| k.topics.lookups.clone());
    let message_timeout_ms = k.message_timeout_ms;
    let cfg = super::settings_pipeline_config(&settings, &a.windows)?;
    // The model is checked once before joining the group.
    load_detector(&settings)?;
    // Our own directory when none is given, removed at the end.
    let own_dir = a
        .state_dir
        .is_none()
        .then(|| std::env::temp_dir().join(format!("sentineldns-score-{}", std::process::id())));
    let state_dir = a
        .state_dir
        .clone()
        .or_else(|| own_dir.clone())
        .context("no state directory")?;
    let score_cfg = ScoreConfig {
        brokers: brokers.clone(),
        group: a.group.clone(),
        floor_topic: a
            .floor_topic
            .clone()
            .unwrap_or_else(|| format!("{topic}.floors")),
        topic,
        window: cfg.aggregate.window,
        grace: cfg.aggregate.grace,
        idle_exit: a.idle_exit.map(|d| Duration::from_micros(d.max(0) as u64)),
        commit_every: Duration::from_micros(a.commit_every.max(1000) as u64),
        state_dir,
        delivery_wait: Duration::from_millis(message_timeout_ms.max(1000)),
    };
    let stop = super::replay::stop_flag()?;
    let base = settings.clone();
    let mut scorer = Scorer::start(score_cfg, move |partition, db: &Path| {
        let mut s = base.clone();
        s.config.sensor.db = db.to_path_buf();
        let detector = load_detector(&s)?;
        Sensor::with_detector(
            &s,
            detector,
            SensorOptions {
                command: "score".into(),
                inputs: vec![format!("kafka partition {partition}")],
                pipeline: cfg.clone(),
                first_seen_rows: None,
                printer: None,
            },
        )
    })?;
    let s = scorer.run(&stop);
    drop(scorer);
    if let Some(d) = &own_dir {
        if let Err(e) = std::fs::remove_dir_all(d) {
            tracing::warn!(dir = %d.display(), error = %e, "state directory not removed");
        }
    }
    let s = s?;
    if let Some(p) = &a.summary_json {
        std::fs::write(p, serde_json::to_string(&s)?)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    eprintln!(
        "score: {} records, {} lookups scored, {} windows, {} bad records, {} records of windows already published, {} commits, {} partitions taken up, {} assignment changes, in {:.2}s; {:.0} lookups/s over the {:.2}s from the first record to the last",
        s.records,
        s.lookups,
        s.windows,
        s.bad,
        s.already_scored,
        s.commits,
        s.partitions_opened,
        s.rebalances,
        s.secs,
        s.lookups as f64 / s.busy_secs.max(1e-3),
        s.busy_secs
    );
    Ok(if stop.load(std::sync::atomic::Ordering::Relaxed) {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

/// Run `score`: this build lacks the feature it needs.
#[cfg(not(feature = "kafka"))]
pub fn run(_a: ScoreArgs, _config: Option<&Path>) -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "score: this sentineldns was built without the `kafka` feature; rebuild with `cargo build --release --features kafka`"
    )
}
