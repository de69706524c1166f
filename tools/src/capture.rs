//! The deterministic benchmark capture (issue 18): Ethernet/IPv4/UDP DNS
//! query/response pairs from `clients` hosts to two resolvers, names drawn
//! from ~200 popular names (80 %) and `random_names` random-looking ones,
//! about 4 % NXDOMAIN, A/AAAA answers, responses 0.3–20 ms after their
//! queries, records in time order. Fixed LCG seed: the same parameters
//! write the same bytes. Shared by `gen_bench_pcap` and the whole-pipeline
//! bench (`benches/pipeline.rs` includes this file).

use std::io::{BufWriter, Write};

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn encode_name(name: &str, out: &mut Vec<u8>) {
    for label in name.split('.') {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

fn dns(
    id: u16,
    name: &str,
    qtype: u16,
    response: bool,
    rcode: u8,
    answers: u8,
    rng: &mut Lcg,
) -> Vec<u8> {
    let mut m = Vec::with_capacity(128);
    m.extend_from_slice(&id.to_be_bytes());
    let flags: u16 = if response {
        0x8180 | rcode as u16
    } else {
        0x0100
    };
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(&(if response { answers as u16 } else { 0 }).to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    encode_name(name, &mut m);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    if response {
        for _ in 0..answers {
            m.extend_from_slice(&[0xc0, 0x0c]);
            m.extend_from_slice(&qtype.to_be_bytes());
            m.extend_from_slice(&1u16.to_be_bytes());
            m.extend_from_slice(&(60 + rng.below(3600) as u32).to_be_bytes());
            if qtype == 28 {
                m.extend_from_slice(&16u16.to_be_bytes());
                m.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
                m.extend_from_slice(&rng.next().to_be_bytes()[..8]);
                m.extend_from_slice(&(rng.next() as u32).to_be_bytes());
            } else {
                m.extend_from_slice(&4u16.to_be_bytes());
                m.extend_from_slice(&(rng.next() as u32).to_be_bytes());
            }
        }
    }
    m
}

fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            (c[0] as u16) << 8
        };
        sum += w as u32;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(42 + payload.len());
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00]);
    let total = (20 + 8 + payload.len()) as u16;
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0];
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&src);
    ip.extend_from_slice(&dst);
    let c = checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&dport.to_be_bytes());
    f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(payload);
    f
}

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// Query/response pairs (two packets each).
    pub pairs: u64,
    /// Client hosts (1 to 60,000).
    pub clients: u64,
    /// Seconds the capture spans; `None`: about 1 ms between queries.
    pub span_secs: Option<u64>,
    /// Random-looking registrable names besides the popular ones.
    pub random_names: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            pairs: 600_000,
            clients: 500,
            span_secs: None,
            random_names: 20_000,
        }
    }
}

/// Write the capture to `path`; returns the packets written.
pub fn write(path: &std::path::Path, p: &Params) -> std::io::Result<u64> {
    let pairs = p.pairs;
    let clients = p.clients.clamp(1, 60_000);
    // Mean microseconds between queries (the default 500 + U(0, 1000) is 1 ms).
    let step: u64 = p
        .span_secs
        .map_or(1000, |secs| (secs * 1_000_000 / pairs.max(1)).max(2));
    let random_names = p.random_names;
    let mut rng = Lcg(0x5eed);
    let bases = [
        "google.com",
        "youtube.com",
        "facebook.com",
        "microsoft.com",
        "apple.com",
        "amazon.com",
        "netflix.com",
        "github.com",
        "wikipedia.org",
        "cloudflare.com",
        "bbc.co.uk",
        "akamaized.net",
        "office.com",
        "windowsupdate.com",
        "slack.com",
        "zoom.us",
        "linkedin.com",
        "example.org",
    ];
    let subs = [
        "www", "api", "cdn", "mail", "login", "static", "img", "edge", "s3", "update",
    ];
    let mut names: Vec<String> = Vec::new();
    for b in bases {
        names.push(b.to_string());
        for s in subs {
            names.push(format!("{s}.{b}"));
        }
    }
    for i in 0..random_names {
        let n: String = (0..(6 + i % 10))
            .map(|_| (b'a' + rng.below(26) as u8) as char)
            .collect();
        names.push(format!(
            "{n}.{}",
            ["com", "net", "org", "info", "io"][i % 5]
        ));
    }
    let f = std::fs::File::create(path)?;
    let mut w = BufWriter::with_capacity(1 << 20, f);
    w.write_all(&0xa1b2c3d4u32.to_le_bytes())?;
    w.write_all(&2u16.to_le_bytes())?;
    w.write_all(&4u16.to_le_bytes())?;
    w.write_all(&[0; 8])?;
    w.write_all(&65535u32.to_le_bytes())?;
    w.write_all(&1u32.to_le_bytes())?;
    let mut ts_us: u64 = 1_700_000_000_000_000;
    let rec = |w: &mut BufWriter<std::fs::File>, ts: u64, data: &[u8]| -> std::io::Result<()> {
        w.write_all(&((ts / 1_000_000) as u32).to_le_bytes())?;
        w.write_all(&((ts % 1_000_000) as u32).to_le_bytes())?;
        w.write_all(&(data.len() as u32).to_le_bytes())?;
        w.write_all(&(data.len() as u32).to_le_bytes())?;
        w.write_all(data)
    };
    let mut pending: std::collections::BinaryHeap<std::cmp::Reverse<(u64, Vec<u8>)>> =
        Default::default();
    for i in 0..pairs {
        // Popular names dominate (Zipf-like via squaring a uniform draw).
        let u = rng.below(1 << 20) as f64 / (1u64 << 20) as f64;
        let idx = if rng.below(10) < 8 {
            ((u * u) * 198.0) as usize
        } else {
            (u * names.len() as f64) as usize
        };
        let name = &names[idx.min(names.len() - 1)];
        let c = i % clients;
        let client = [
            10,
            1 + (c / 62_500) as u8,
            (c / 250 % 250) as u8,
            (c % 250) as u8 + 1,
        ];
        let server = [10, 0, 0, 53 + (i % 2) as u8];
        let sport = 1024 + (rng.below(60000) as u16);
        let id = rng.next() as u16;
        let qtype = if rng.below(4) == 0 { 28 } else { 1 };
        let nx = idx >= 198 && rng.below(5) == 0;
        let q = dns(id, name, qtype, false, 0, 0, &mut rng);
        let r = dns(
            id,
            name,
            qtype,
            true,
            if nx { 3 } else { 0 },
            if nx { 0 } else { 1 + rng.below(3) as u8 },
            &mut rng,
        );
        ts_us += step / 2 + rng.below(step);
        // Responses wait in a heap so that records stay in timestamp order.
        while let Some(std::cmp::Reverse((t, _))) = pending.peek() {
            if *t > ts_us {
                break;
            }
            let std::cmp::Reverse((t, data)) = pending.pop().expect("peeked");
            rec(&mut w, t, &data)?;
        }
        rec(&mut w, ts_us, &frame(client, server, sport, 53, &q))?;
        pending.push(std::cmp::Reverse((
            ts_us + 300 + rng.below(20_000),
            frame(server, client, 53, sport, &r),
        )));
    }
    while let Some(std::cmp::Reverse((t, data))) = pending.pop() {
        rec(&mut w, t, &data)?;
    }
    w.flush()?;
    Ok(pairs * 2)
}
