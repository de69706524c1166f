//! Fuzz harnesses: one function per entry point that takes outside bytes.
//!
//! The cargo-fuzz targets in `fuzz/fuzz_targets/` are one-line wrappers around
//! these, and `tests/integration/fuzz_regressions.rs` replays every committed crash and
//! seed input (`fuzz/regressions/<target>/`, `fuzz/corpus/<target>/`) through
//! the same functions on stable Rust, so a crash found once stays fixed.
//! Each harness must never panic on any input; the `assert!`s inside check
//! invariants that hold for every accepted input (a failed one is a finding).
//!
//! | target | entry point |
//! |---|---|
//! | `decode_packet` | [`crate::decode::Decoder::decode`] over a sequence of frames |
//! | `read_capture` | pcap / pcapng file reader, then the decoder |
//! | `parse_dns` | [`crate::decode::parse_dns`] |
//! | `parse_jsonl_line` | [`crate::source::jsonl::parse_line`] |
//! | `read_logs` | Zeek dns.log (TSV, JSON) and Suricata EVE files through [`crate::source::jsonl::JsonlReader`] |
//! | `load_bundle` | [`crate::model::Bundle::from_bytes`] |
//! | `parse_config` | [`crate::config::Config::parse`] |

use crate::decode::{DecodeConfig, Decoder, Location};
use crate::event::RawPacket;
use crate::source::savefile::{CaptureReader, OwnedPacket};
use crate::source::{ByteCounter, InputKind, Opened};
use crate::stats::Stats;

/// Names of every harness, as used for `fuzz/corpus/<name>` and the cargo-fuzz
/// binaries.
pub const TARGETS: [&str; 7] = [
    "decode_packet",
    "read_capture",
    "parse_dns",
    "parse_jsonl_line",
    "read_logs",
    "load_bundle",
    "parse_config",
];

/// Run the harness called `name` on `data`. Returns `false` for an unknown name.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "decode_packet" => decode_packet(data),
        "read_capture" => read_capture(data),
        "parse_dns" => parse_dns(data),
        "parse_jsonl_line" => parse_jsonl_line(data),
        "read_logs" => read_logs(data),
        "load_bundle" => load_bundle(data),
        "parse_config" => parse_config(data),
        _ => return false,
    }
    true
}

const LINKTYPES: [u32; 11] = [1, 113, 276, 101, 12, 14, 228, 229, 0, 108, 147];

fn small_decoder() -> Decoder {
    Decoder::new(DecodeConfig {
        max_fragment_sets: 4,
        max_tcp_flows: 4,
        ..DecodeConfig::default()
    })
}

/// `Decoder::decode` over frames: the first byte picks the linktype, each
/// frame is prefixed by a one-byte length, so one input exercises fragment
/// and TCP state across packets.
pub fn decode_packet(data: &[u8]) {
    let Some((&sel, mut rest)) = data.split_first() else {
        return;
    };
    let linktype = LINKTYPES[usize::from(sel) % LINKTYPES.len()];
    let mut dec = small_decoder();
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
}

/// A whole capture file (pcap or pcapng, as sniffed) read record by record and
/// decoded.
pub fn read_capture(data: &[u8]) {
    let kind = match crate::source::sniff(data) {
        Some(k @ (InputKind::Pcap | InputKind::Pcapng)) => k,
        _ => return,
    };
    let opened = Opened {
        kind,
        gzip: false,
        reader: Box::new(std::io::Cursor::new(data.to_vec())),
        counter: ByteCounter::default(),
        file_size: data.len() as u64,
    };
    let Ok(mut reader) = CaptureReader::new(opened, "fuzz") else {
        return;
    };
    let mut dec = small_decoder();
    let mut stats = Stats::default();
    let mut pkt = OwnedPacket::default();
    let mut n = 0u64;
    while reader.next_into(&mut pkt, &mut stats) {
        n += 1;
        assert!(n <= data.len() as u64, "more records than input bytes");
        let loc = Location {
            source: "fuzz",
            packet: n,
        };
        dec.decode(&pkt.as_raw(), &loc, &mut stats, |_| {});
    }
    dec.expire(i64::MAX, &mut stats);
}

/// One DNS message.
pub fn parse_dns(data: &[u8]) {
    let mut scratch = String::new();
    if let Ok(p) = crate::decode::parse_dns(data, &mut scratch) {
        assert!(p.answers.ips().len() <= 4);
        assert!(p.qname.is_ascii());
        assert!(p.qname.len() <= 255 * 4, "escaped name within bounds");
    }
    // The full answer walk of the outputs: ends, names within bounds, and
    // the whole lookup line stays JSON.
    let mut rr = crate::decode::rr::RrScratch::default();
    let _ = crate::decode::rr::for_each_answer(data, &mut rr, |a| {
        assert!(a.name.is_ascii() && a.name.len() <= 255 * 4);
    });
    let l = crate::event::Lookup {
        detail: crate::event::LookupDetail {
            response: Some(data),
            flags: Some(0x8180),
            ..Default::default()
        },
        ..crate::event::Lookup::new(0, std::net::IpAddr::from([10, 0, 0, 1]), "fuzz.example")
    };
    let mut line = Vec::new();
    crate::output::ndjson::format_lookup(&mut line, &l, &crate::enrich::Enrichment::default());
    assert!(
        serde_json::from_slice::<serde_json::Value>(&line).is_ok(),
        "lookup line is JSON"
    );
}

/// One JSONL line.
pub fn parse_jsonl_line(data: &[u8]) {
    use crate::source::jsonl::{parse_line, JsonEvent};
    if let Ok(line) = std::str::from_utf8(data) {
        let mut ev = JsonEvent::default();
        if parse_line(line, &mut ev).is_ok() {
            // "" is the root (`.`), as the packet decoder writes it; anything
            // else was held to 253 bytes before escaping (at most 4 bytes per
            // byte after).
            assert!(ev.domain.len() <= 253 * 4, "{} bytes", ev.domain.len());
            assert!(!ev.domain.ends_with('.'), "{:?}", ev.domain);
            assert!(ev.host.is_some());
        }
    }
}

/// A whole Zeek dns.log (TSV or JSON) or Suricata EVE file, recognised by
/// content as `replay` does, read to its end (EVE pairing included). Every
/// event has a client, a name within the DNS limits, and there are never more
/// events than lines.
pub fn read_logs(data: &[u8]) {
    use crate::source::jsonl::{JsonEvent, JsonlReader};
    let kind = match crate::source::sniff(data) {
        Some(k @ (InputKind::ZeekTsv | InputKind::ZeekJson | InputKind::SuricataEve)) => k,
        _ => return,
    };
    let opened = Opened {
        kind,
        gzip: false,
        reader: Box::new(std::io::Cursor::new(data.to_vec())),
        counter: ByteCounter::default(),
        file_size: data.len() as u64,
    };
    let mut r = JsonlReader::new(opened, "fuzz");
    let mut stats = Stats::default();
    let mut ev = JsonEvent::default();
    let mut n = 0u64;
    while r.next_into(&mut ev, &mut stats) {
        n += 1;
        assert!(n <= r.line().max(1), "{n} events from {} lines", r.line());
        assert!(ev.host.is_some());
        assert!(ev.domain.len() <= 253 * 4, "{} bytes", ev.domain.len());
        assert!(ev.answers.ips().len() <= 4);
    }
}

/// A model bundle file.
pub fn load_bundle(data: &[u8]) {
    let _ = crate::model::Bundle::from_bytes(data, &crate::detect::MODEL_FEATURES);
}

/// A configuration file's text. An accepted configuration renders back to
/// TOML that is accepted again.
pub fn parse_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = crate::config::Config::parse(text) {
        let again = c.to_toml();
        assert!(
            crate::config::Config::parse(&again).is_ok(),
            "rendered configuration is refused:\n{again}"
        );
    }
}
