//! Writes a large dnstap Frame Streams file for throughput benchmarks by
//! looping the client frames of a real one (default: the unbound fixture,
//! `tests/fixtures/dnstap/unbound.fstrm`). Loop `k` moves every time by
//! `k × 2 s` and the client to `10.{k / 250 % 250}.{k % 250}.2` (ports
//! and DNS messages unchanged), so the file holds many hosts and windows.
//!
//! ```text
//! cargo run --release -p sentineldns-tools --bin gen_bench_dnstap -- /tmp/bench.fstrm 1000000
//! ```
//! (arguments: OUT, number of messages [default 1 000 000], SOURCE file)

use sentineldns::dnstap::fstrm::{self, ControlType, Frame, FrameReader, DNSTAP_CONTENT_TYPE};
use sentineldns::dnstap::{decode_dnstap, encode_dnstap, pb};
use std::io::{BufWriter, Write};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let out = args
        .get(1)
        .ok_or("usage: gen_bench_dnstap OUT [MESSAGES] [SOURCE]")?;
    let n: u64 = args.get(2).map_or(Ok(1_000_000), |s| s.parse())?;
    let src = args.get(3).cloned().unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/dnstap/unbound.fstrm"
        )
        .into()
    });
    let file = std::fs::File::open(&src).map_err(|e| format!("{src}: {e}"))?;
    let mut r = FrameReader::new(std::io::BufReader::new(file));
    let mut frames: Vec<pb::Dnstap> = Vec::new();
    while let Some(f) = r.next_frame().map_err(|e| format!("{src}: {e}"))? {
        if f == Frame::Data {
            let d = decode_dnstap(r.payload()).map_err(|e| format!("{src}: {e}"))?;
            if d.message
                .as_ref()
                .is_some_and(|m| m.query_address.is_some())
            {
                frames.push(d);
            }
        }
    }
    if frames.is_empty() {
        return Err(format!("{src}: no client frame to loop").into());
    }
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(out)?);
    fstrm::write_control(&mut w, ControlType::Start, Some(DNSTAP_CONTENT_TYPE))?;
    let mut written = 0u64;
    let mut k = 0u64;
    'outer: loop {
        for f in &frames {
            if written == n {
                break 'outer;
            }
            let mut d = f.clone();
            if let Some(m) = d.message.as_mut() {
                let shift = k * 2;
                m.query_time_sec = m.query_time_sec.map(|t| t + shift);
                m.response_time_sec = m.response_time_sec.map(|t| t + shift);
                m.query_address = Some(vec![10, (k / 250 % 250) as u8, (k % 250) as u8, 2]);
            }
            fstrm::write_data(&mut w, &encode_dnstap(&d))?;
            written += 1;
        }
        k += 1;
    }
    fstrm::write_control(&mut w, ControlType::Stop, None)?;
    w.flush()?;
    eprintln!(
        "wrote {out}: {written} dnstap messages looped from {} frames of {src}",
        frames.len()
    );
    Ok(())
}
