//! `sentineldns collect`: the fleet collector ([`sentineldns::fleet::collect`]),
//! Kafka → PostgreSQL. SIGINT/SIGTERM stop it after the pending batch is
//! written and its offsets committed.

use crate::cli::CollectArgs;
use std::process::ExitCode;

/// Run `collect`.
#[cfg(all(feature = "kafka", feature = "postgres"))]
pub fn run(a: CollectArgs) -> anyhow::Result<ExitCode> {
    use sentineldns::event::MICROS;
    use sentineldns::fleet::collect::{CollectConfig, Collector};
    if a.lookups {
        anyhow::bail!(
            "collect --lookups: not built yet: the fleet database has no lookup table (windows and incidents are collected)"
        );
    }
    let cfg = CollectConfig {
        brokers: a.kafka,
        postgres: a.postgres,
        group: a.group,
        topics: vec![a.windows_topic, a.incidents_topic],
        batch: a.batch as usize,
        batch_ms: (a.batch_wait / 1000).max(1) as u64,
        keep_s: a.keep.map(|k| k.div_euclid(MICROS)),
        idle_exit: a
            .idle_exit
            .map(|d| std::time::Duration::from_micros(d.max(0) as u64)),
    };
    let stop = super::replay::stop_flag()?;
    let mut c = Collector::start(cfg)?;
    let s = c.run(&stop)?;
    let skipped: u64 = s.skipped.values().sum();
    eprintln!(
        "collect: {} records, {} windows and {} incidents upserted in {} transactions, {} skipped, {} failed offset commits, {} day partitions dropped, in {:.2}s ({:.0} rows/s)",
        s.records,
        s.windows,
        s.incidents,
        s.batches,
        skipped,
        s.commit_failures,
        s.partitions_dropped,
        s.secs,
        s.rows_per_s()
    );
    for (why, n) in &s.skipped {
        eprintln!("  skipped {why}: {n}");
    }
    Ok(if stop.load(std::sync::atomic::Ordering::Relaxed) {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

/// Run `collect`: this build lacks the features it needs.
#[cfg(not(all(feature = "kafka", feature = "postgres")))]
pub fn run(_a: CollectArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!(
        "collect: this sentineldns was built without the `kafka` and `postgres` features; rebuild with `cargo build --release --features kafka,postgres`"
    )
}
