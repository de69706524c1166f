//! Real captures through the decoder: pinned DNS message counts (cross-checked
//! with tshark, see each case) and a no-panic walk over every file under
//! ../shared/data/pcap (a missing file fails the test).
//!
//! pcap-parser is used here only to iterate records (pcap and pcapng, gzip via
//! flate2). When the data directory is absent the tests print a note and pass.

use crate::util;
use pcap_parser::traits::PcapNGPacketBlock;
use pcap_parser::{create_reader, Block, PcapBlockOwned, PcapError};
use sentineldns::decode::{DecodeConfig, Decoder, Location};
use sentineldns::event::{RawPacket, Transport};
use sentineldns::stats::{SkipReason, Stats};
use std::io::Read;
use std::path::Path;

fn data() -> std::path::PathBuf {
    util::shared("pcap")
}

/// Call `f` for every record of the capture at `path`. Returns false if the
/// file is not a capture at all; a file that cannot be opened fails the test.
fn for_each_packet(path: &Path, mut f: impl FnMut(&RawPacket<'_>)) -> bool {
    let file =
        std::fs::File::open(path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let input: Box<dyn Read + Send> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    let Ok(mut reader) = create_reader(1 << 16, input) else {
        return false;
    };
    let mut linktype = 1u32;
    let mut nanos = false;
    let mut ifaces: Vec<(u32, u64, i64)> = Vec::new(); // linktype, resolution, offset
    loop {
        match reader.next() {
            Ok((offset, block)) => {
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        linktype = h.network.0 as u32;
                        nanos = h.is_nanosecond_precision();
                    }
                    PcapBlockOwned::Legacy(b) => {
                        let frac = if nanos {
                            i64::from(b.ts_usec) / 1000
                        } else {
                            i64::from(b.ts_usec)
                        };
                        let data = &b.data[..(b.caplen as usize).min(b.data.len())];
                        f(&RawPacket {
                            ts: i64::from(b.ts_sec) * 1_000_000 + frac,
                            linktype,
                            data,
                            orig_len: b.origlen,
                        });
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => ifaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => ifaces.push((
                        idb.linktype.0 as u32,
                        idb.ts_resolution().unwrap_or(1_000_000),
                        idb.if_tsoffset,
                    )),
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        if let Some(&(lt, res, off)) = ifaces.get(epb.if_id as usize) {
                            let (sec, frac) = epb.decode_ts(off as u64, res);
                            let us = (u128::from(frac) * 1_000_000 / u128::from(res.max(1))) as i64;
                            f(&RawPacket {
                                ts: i64::from(sec) * 1_000_000 + us,
                                linktype: lt,
                                data: epb.packet_data(),
                                orig_len: epb.origlen,
                            });
                        }
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        if let Some(&(lt, _, _)) = ifaces.first() {
                            f(&RawPacket {
                                ts: 0,
                                linktype: lt,
                                data: spb.packet_data(),
                                orig_len: spb.origlen,
                            });
                        }
                    }
                    _ => {}
                }
                reader.consume(offset);
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if reader.refill().is_err() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    true
}

#[derive(Debug, Default)]
struct Outcome {
    stats: Stats,
    messages: usize,
    tcp: usize,
    qnames: Vec<String>,
    packets: u64,
}

fn run(rel: &str) -> Outcome {
    let path = util::shared(&format!("pcap/{rel}"));
    let mut dec = Decoder::new(DecodeConfig::default());
    let mut out = Outcome::default();
    let name = path.display().to_string();
    let ok = for_each_packet(&path, |pkt| {
        out.packets += 1;
        let loc = Location {
            source: &name,
            packet: out.packets,
        };
        let qnames = &mut out.qnames;
        let tcp = &mut out.tcp;
        out.messages += dec.decode(pkt, &loc, &mut out.stats, |m| {
            qnames.push(m.qname.to_string());
            if m.transport == Transport::Tcp {
                *tcp += 1;
            }
        });
    });
    assert!(ok, "{rel}: unreadable");
    out
}

/// Expected DNS/mDNS/LLMNR message counts. The tshark column is
/// `tshark -r F -Y "dns||mdns||llmnr" -T fields -e dns.id | tr , '\n' | grep -c .`
/// (messages, not frames: TCP segments may carry several).
const PINNED: &[(&str, usize, &str)] = &[
    // Ethernet, UDP, IPv4
    ("dns-oarc/dnscap/dns.pcap", 82, "tshark 82"),
    // Ethernet + 802.1Q
    ("dns-oarc/dnscap/vlan11.pcap", 82, "tshark 82"),
    // Linux SLL2
    ("dns-oarc/dnscap/sll2.pcap", 2, "tshark 2"),
    // Ethernet + QinQ + PPPoE session (frames 4-5)
    ("ndpi/dns.pcap", 5, "tshark 5"),
    // BSD null loopback
    ("zeek/dns-svcb.pcap", 2, "tshark 2"),
    // raw IP (linktype 101), IPv4 and IPv6
    ("dns-oarc/dnsjit/pellets.pcap", 91, "tshark 91"),
    ("dns-oarc/dnsjit/ip6-udp-padd.pcap", 1, "tshark 1"),
    // raw IPv4 (228)
    ("zeek/dns__dns_extended_rcode.pcap", 2, "tshark 2"),
    // IPv4 fragments, raw IPv4
    ("dns-oarc/dnscap/frags.pcap", 82, "tshark 82"),
    // IPv4 fragments, Ethernet
    ("ndpi/dns_fragmented.pcap", 43, "tshark 43"),
    // IPv6 fragments
    ("zeek/ipv6-fragmented-dns.pcap", 5, "tshark 5"),
    // gzip, big-endian pcap
    ("dns-oarc/packetq/sample-bigendian.pcap.gz", 2, "tshark 2"),
    // TCP with SYN
    ("dns-oarc/dnscap/dnso1tcp.pcap", 82, "tshark 82"),
    ("dns-oarc/dnscap/dnsotcp-many1pkt.pcap", 4, "tshark 4"),
    ("dns-oarc/dnscap/dnsotcp-manyopkts.pcap", 3, "tshark 3"),
    ("dns-oarc/dnscap/1qtcppadd.pcap", 2, "tshark 2"),
    ("dns-oarc/dnsjit/ip6-tcp-padd.pcap", 2, "tshark 2"),
    (
        "suricata-verify/dns__dns-tcp-multirequest-buffer__dns-tcp-multirequest-buffer.pcap",
        40,
        "tshark 40",
    ),
    // TCP without SYN
    ("dns-oarc/dnscap/1qtcpnosyn.pcap", 2, "tshark 2"),
    // TCP edge cases
    (
        "dns-oarc/dnsjit/tcp-response-with-trailing-junk.pcap",
        20,
        "tshark 20",
    ),
    (
        "suricata-verify/dns-reversed-tcp-1__dns.pcap",
        1,
        "tshark 1",
    ),
    ("suricata-verify/dns-tcp-ts-gap__input.pcap", 5, "tshark 5"),
];

#[test]
fn pinned_message_counts_match_tshark() {
    let mut failures = Vec::new();
    for &(rel, want, why) in PINNED {
        let o = run(rel);
        if o.messages != want {
            failures.push(format!(
                "{rel}: got {} want {want} ({why}); skips {:?}",
                o.messages,
                o.stats.skip_counts()
            ));
        }
        assert_eq!(o.stats.dns_messages as usize, o.messages, "{rel}");
        assert_eq!(
            o.stats.dns_queries + o.stats.dns_responses,
            o.stats.dns_messages,
            "{rel}"
        );
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn fragments_are_reassembled() {
    let o = run("dns-oarc/dnscap/frags.pcap");
    assert!(o.stats.reassembled_datagrams > 0);
    assert_eq!(o.stats.skipped(SkipReason::FragmentDropped), 0);
    let o = run("zeek/ipv6-fragmented-dns.pcap");
    assert_eq!(o.stats.reassembled_datagrams, 1);
    assert!(o.qnames.iter().any(|q| q.starts_with("txtpadding_3")));
}

#[test]
fn tcp_messages_are_marked_tcp() {
    let o = run("dns-oarc/dnscap/dnso1tcp.pcap");
    assert_eq!(o.tcp, o.messages);
    assert_eq!(o.stats.tcp_messages as usize, o.messages);
    assert_eq!(o.stats.skipped(SkipReason::TcpStreamLoss), 0);
}

#[test]
fn every_capture_decodes_without_panic() {
    let files = util::files_under(&data());
    assert!(
        files.len() > 100,
        "only {} captures under {}",
        files.len(),
        data().display()
    );
    let verbose = std::env::var_os("DECODE_REAL_VERBOSE").is_some();
    let mut total = Stats::default();
    let mut readable = 0;
    for path in &files {
        // A small config so the table bounds and evictions are exercised too.
        let mut dec = Decoder::new(DecodeConfig {
            max_fragment_sets: 8,
            max_tcp_flows: 16,
            ..DecodeConfig::default()
        });
        let mut stats = Stats::default();
        let mut n = 0u64;
        let mut msgs = 0usize;
        let name = path.display().to_string();
        let ok = for_each_packet(path, |pkt| {
            n += 1;
            let loc = Location {
                source: &name,
                packet: n,
            };
            msgs += dec.decode(pkt, &loc, &mut stats, |m| {
                assert!(m.qname.len() <= 4 * 255);
                assert!(m.answers.ips().len() <= 4);
            });
            if n % 64 == 0 {
                dec.expire(pkt.ts, &mut stats);
            }
        });
        dec.expire(i64::MAX, &mut stats);
        assert_eq!(dec.open_tcp_flows(), 0);
        assert_eq!(dec.open_fragment_sets(), 0);
        if ok {
            readable += 1;
        }
        if verbose && ok {
            println!("{}\t{n}\t{msgs}\t{:?}", name, stats.skip_counts());
        }
        total.merge(&stats);
    }
    assert!(readable > 100, "only {readable} readable captures");
    assert!(total.dns_messages > 10_000);
}
