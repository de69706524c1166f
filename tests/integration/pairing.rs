//! Pairing across a gap in packet time (issue 12 item 6): a query still
//! waiting when the clock jumps is unanswered in its own window, not late.

use crate::util::frames::frame;
use sentineldns::enrich::Enricher;
use sentineldns::event::{RawPacket, MICROS};
use sentineldns::pipeline::{Pipeline, PipelineConfig, VecSink};
use sentineldns::stats::SkipReason;
use std::net::IpAddr;

#[test]
fn pending_queries_before_a_packet_time_gap_are_unanswered_not_late() {
    // A query that never gets its response, then an hour of silence (a
    // second capture, a quiet spell), then traffic again: the query must
    // expire into its own window as unanswered before the jump closes it.
    let t0 = 1_700_000_000 * MICROS;
    let lost = frame([10, 0, 0, 7], 40000, 1, "lost.example.com", false);
    let later: Vec<(i64, Vec<u8>)> = (0..10u16)
        .flat_map(|i| {
            let t = t0 + 3_600 * MICROS + i64::from(i) * MICROS;
            [
                (
                    t,
                    frame([10, 0, 0, 8], 41000 + i, i, "www.example.com", false),
                ),
                (
                    t + 1000,
                    frame([10, 0, 0, 8], 41000 + i, i, "www.example.com", true),
                ),
            ]
        })
        .collect();
    let cfg = PipelineConfig::default();
    let mut pl = Pipeline::new(&cfg, Enricher::new(cfg.enrich.clone()), VecSink::default());
    let feed = |pl: &mut Pipeline<VecSink>, n: u64, ts: i64, f: &[u8]| {
        let pkt = RawPacket {
            ts,
            linktype: 1,
            data: f,
            orig_len: f.len() as u32,
        };
        pl.packet(&pkt, "mem", n).unwrap();
    };
    feed(&mut pl, 1, t0, &lost);
    for (n, (ts, f)) in later.iter().enumerate() {
        feed(&mut pl, n as u64 + 2, *ts, f);
    }
    pl.finish().unwrap();
    let st = pl.stats();
    assert_eq!(st.skipped(SkipReason::LateLookup), 0, "{st:?}");
    assert_eq!((st.unanswered, st.answered), (1, 10));
    let sink = pl.into_sink();
    let w: Vec<_> = sink
        .windows
        .iter()
        .filter(|w| w.host == IpAddr::from([10, 0, 0, 7]))
        .collect();
    assert_eq!(w.len(), 1);
    assert_eq!((w[0].lookups, w[0].unanswered), (1, 1));
    assert!(w[0].start <= t0 && t0 < w[0].end);
}
