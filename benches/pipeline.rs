//! The whole pipeline (issue 18): a generated capture replayed as
//! `sentineldns replay` does it — read, decode, pair, enrich (first-seen
//! state included), per-host windows, scoring with the shipped model,
//! incidents, and the SQLite batch writes — on one thread and on two.
//!
//! ```text
//! cargo bench --bench pipeline
//! ```
//!
//! The capture is the one `gen_bench_pcap` writes (same module), small
//! enough for criterion's repetitions: 20,000 query/response pairs from 500
//! clients (`low`), and the same from 1,750 clients at the rate of the
//! full-size high-cardinality capture (`high-cardinality`: most (host,
//! domain) pairs new, one window per host). Each iteration writes a fresh database. The peer
//! comparison with dnstop and tshark on the full-size captures is
//! `scripts/bench/peers.sh`; the figures are in BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sentineldns::config::{Config, Settings};
use sentineldns::pipeline::PipelineConfig;
use sentineldns::sensor::{Sensor, SensorOptions};
use sentineldns::source::merge::Merger;
use sentineldns::stats::Stats;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

#[path = "../tools/src/capture.rs"]
#[allow(dead_code)]
mod capture;

fn replay(pcap: &Path, db: &Path, threads: u8) -> u64 {
    let mut config = Config::default();
    config.sensor.db = db.to_path_buf();
    config.sensor.threads = threads;
    let settings = Settings {
        file: None,
        config,
        origins: Default::default(),
    };
    let mut pipeline = PipelineConfig::default();
    settings.config.limits.apply_to(&mut pipeline);
    let mut stats = Stats::default();
    let mut merger = Merger::open(&[pcap.to_path_buf()], &mut stats).expect("capture opens");
    let mut sensor = Sensor::open(
        &settings,
        SensorOptions {
            command: "bench".into(),
            inputs: vec![pcap.display().to_string()],
            pipeline,
            first_seen_rows: None,
            printer: None,
        },
    )
    .expect("sensor assembles");
    sensor.add_source_stats(&stats);
    let end = sensor.run(&mut merger, &AtomicBool::new(false), |_, _| {});
    let r = sensor
        .finish(end.map(Into::into), None)
        .expect("run finishes");
    r.verdicts.normal + r.verdicts.unusual + r.verdicts.likely_compromise
}

fn pipeline(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(10);
    let cases = [
        (
            "low",
            capture::Params {
                pairs: 20_000,
                ..Default::default()
            },
        ),
        (
            "high-cardinality",
            capture::Params {
                pairs: 20_000,
                clients: 1_750,
                // The full-size capture's rate (500,000 pairs an hour).
                span_secs: Some(144),
                random_names: 20_000,
            },
        ),
    ];
    for (name, p) in cases {
        let pcap = dir.path().join(format!("{name}.pcap"));
        let packets = capture::write(&pcap, &p).expect("capture written");
        g.throughput(Throughput::Elements(packets));
        for threads in [1u8, 2] {
            let mut n = 0u64;
            g.bench_function(format!("{name}/{threads}-thread"), |b| {
                b.iter_batched(
                    || {
                        n += 1;
                        let db: PathBuf = dir.path().join(format!("{name}-{threads}-{n}.db"));
                        db
                    },
                    |db| {
                        let windows = replay(&pcap, &db, threads);
                        assert!(windows > 0, "the replay scored no window");
                        for ext in ["", "-wal", "-shm"] {
                            let _ = std::fs::remove_file(format!("{}{ext}", db.display()));
                        }
                    },
                    BatchSize::PerIteration,
                )
            });
        }
    }
    g.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
