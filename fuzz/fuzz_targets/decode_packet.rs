//! Fuzz `Decoder::decode`: the input is split into frames; the first byte picks
//! the linktype, each frame is prefixed by a one-byte length, so one input
//! exercises fragment and TCP state across packets.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sentineldns::decode::{DecodeConfig, Decoder, Location};
use sentineldns::event::RawPacket;
use sentineldns::stats::Stats;

const LINKTYPES: [u32; 11] = [1, 113, 276, 101, 12, 14, 228, 229, 0, 108, 147];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, mut rest)) = data.split_first() else {
        return;
    };
    let linktype = LINKTYPES[usize::from(sel) % LINKTYPES.len()];
    let mut dec = Decoder::new(DecodeConfig {
        max_fragment_sets: 4,
        max_tcp_flows: 4,
        ..DecodeConfig::default()
    });
    let mut stats = Stats::default();
    let mut n = 0u64;
    while let Some((&len, tail)) = rest.split_first() {
        let take = usize::from(len).min(tail.len());
        let (frame, next) = tail.split_at(take);
        rest = next;
        n += 1;
        let pkt = RawPacket {
            ts: n as i64 * 1_000,
            linktype,
            data: frame,
            orig_len: frame.len() as u32,
        };
        let loc = Location {
            source: "fuzz",
            packet: n,
        };
        dec.decode(&pkt, &loc, &mut stats, |m| {
            assert!(m.answers.ips().len() <= 4);
        });
    }
    dec.expire(i64::MAX, &mut stats);
    assert_eq!(dec.open_tcp_flows(), 0);
    assert_eq!(dec.open_fragment_sets(), 0);
});
