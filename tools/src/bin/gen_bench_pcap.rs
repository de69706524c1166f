//! Writes a synthetic but well-formed capture for throughput benchmarks:
//! Ethernet/IPv4/UDP DNS, `PAIRS` query/response pairs (2 packets each) from
//! 500 client hosts to two resolvers, names drawn from a fixed vocabulary of
//! ~20 k names (popular domains with service subdomains, some random-looking
//! ones), about 4 % NXDOMAIN, A/AAAA answers. Deterministic (fixed LCG seed).
//!
//! ```text
//! cargo run --release -p sentineldns-tools --bin gen_bench_pcap -- /tmp/bench.pcap 600000
//! ```
//!
//! Optional arguments make a high-cardinality capture (issue 18): `CLIENTS`
//! (default 500), `SPAN_SECS` (default: ~1 ms between queries) and
//! `RANDOM_NAMES` (default 20 000), e.g. 1,750 clients over one hour:
//!
//! ```text
//! gen_bench_pcap /tmp/highcard.pcap 500000 1750 3600 20000
//! ```
//!
//! The defaults write exactly the file earlier versions wrote.

#[path = "../capture.rs"]
mod capture;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).cloned().unwrap_or_else(|| "bench.pcap".into());
    let d = capture::Params::default();
    let arg = |i: usize| args.get(i).and_then(|s| s.parse::<u64>().ok());
    let p = capture::Params {
        pairs: arg(2).unwrap_or(d.pairs),
        clients: arg(3).unwrap_or(d.clients),
        span_secs: arg(4),
        random_names: arg(5).map_or(d.random_names, |n| n as usize),
    };
    let n = capture::write(std::path::Path::new(&path), &p)?;
    eprintln!("wrote {n} packets to {path}");
    Ok(())
}
