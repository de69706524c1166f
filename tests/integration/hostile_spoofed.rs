//! ../shared/data/hostile/gen_spoofed_hosts.py: queries from N distinct
//! (spoofed) client addresses inside one window. Before the open-window cap,
//! one accumulator per address: 1 M sources took 3.66 GB. The test measures
//! its process's peak RSS, so it runs alone in a child process of the test
//! binary ([`util::run_alone`]).

use crate::util;
use sentineldns::aggregate::HostWindow;
use sentineldns::enrich::{Enricher, FirstSeenDelta};
use sentineldns::pipeline::{Pipeline, PipelineConfig, RunEnd, Threads, WindowSink};
use sentineldns::source::merge::Merger;
use sentineldns::stats::{Bound, SkipReason, Stats};
use std::process::Command;
use std::sync::atomic::AtomicBool;

/// Counts what it is given, keeps nothing.
#[derive(Default)]
struct Count {
    windows: u64,
    lookups: u64,
}

impl WindowSink for Count {
    type Error = std::convert::Infallible;
    fn write(&mut self, w: &[HostWindow], _: &FirstSeenDelta) -> Result<(), Self::Error> {
        self.windows += w.len() as u64;
        self.lookups += w.iter().map(|w| u64::from(w.lookups)).sum::<u64>();
        Ok(())
    }
}

/// Peak resident set of this process, in KiB (Linux `VmHWM`).
fn peak_rss_kib() -> u64 {
    util::vm_hwm_kib(std::process::id()).expect("VmHWM in /proc/self/status (Linux)")
}

#[test]
fn spoofed_sources_stay_within_the_open_window_cap() {
    if !util::run_alone("hostile_spoofed::spoofed_sources_stay_within_the_open_window_cap") {
        return; // it ran, and passed, in the child
    }
    const N: u64 = 200_000;
    const CAP: usize = 10_000;
    let script = util::hostile("gen_spoofed_hosts.py");
    let d = tempfile::tempdir().unwrap();
    let pcap = d.path().join("spoofed.pcap");
    let st = Command::new("python3")
        .arg(&script)
        .arg(&pcap)
        .arg(N.to_string())
        .arg("60")
        .status()
        .expect("python3 runs the generator");
    assert!(st.success(), "generator failed: {st}");

    let mut cfg = PipelineConfig::default();
    cfg.aggregate.max_open_windows = CAP;
    let enricher = Enricher::new(cfg.enrich.clone());
    let mut stats = Stats::default();
    let mut merger = Merger::open(std::slice::from_ref(&pcap), &mut stats).unwrap();
    let mut pl = Pipeline::new(&cfg, enricher, Count::default());
    // Reset the peak to the current resident set (Linux >= 4.0), then run.
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
    let before = peak_rss_kib();
    let end = pl
        .run(
            &mut merger,
            &AtomicBool::new(false),
            Threads::One,
            |_, _| {},
        )
        .unwrap();
    let grew_mib = (peak_rss_kib() - before) / 1024;
    assert_eq!(end, RunEnd::Complete);
    let s = pl.stats();
    let sink = pl.into_sink();
    assert_eq!(s.lookups, N, "every query became a lookup");
    // Every lookup is either in a window or counted as evicted.
    assert_eq!(
        sink.lookups + s.skipped(SkipReason::WindowEvicted),
        N,
        "lookups accounted for"
    );
    assert!(
        s.evictions(Bound::HostWindows) >= N - CAP as u64,
        "{}",
        s.evictions(Bound::HostWindows)
    );
    assert!(sink.windows <= CAP as u64, "{}", sink.windows);
    // Unbounded, 200 k accumulators took ~730 MB (3.66 GB per million).
    assert!(
        grew_mib < 160,
        "peak RSS grew {grew_mib} MiB for {N} spoofed sources under a cap of {CAP}"
    );
    eprintln!("peak RSS growth {grew_mib} MiB");
}
