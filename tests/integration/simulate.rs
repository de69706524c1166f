//! End-to-end tests of the traffic simulator: determinism, labels, JSONL shape
//! and pcap well-formedness.

use crate::util;
use sentineldns::simulate::{
    write_jsonl, write_pcap, DomainLists, Scenario, SimConfig, SimEvent, Simulator,
};
use std::collections::{BTreeSet, HashMap};
use std::sync::OnceLock;

fn lists() -> DomainLists {
    static L: OnceLock<DomainLists> = OnceLock::new();
    L.get_or_init(DomainLists::embedded).clone()
}

fn jsonl(cfg: &SimConfig) -> Vec<u8> {
    let sim = Simulator::new(cfg.clone(), lists()).unwrap();
    let mut buf = Vec::new();
    write_jsonl(&sim.events(), &mut buf).unwrap();
    buf
}

fn default_events() -> &'static Vec<SimEvent> {
    static E: OnceLock<Vec<SimEvent>> = OnceLock::new();
    E.get_or_init(|| {
        Simulator::new(SimConfig::default(), lists())
            .unwrap()
            .events()
    })
}

#[test]
fn default_run_is_byte_identical_and_seed_sensitive() {
    let cfg = SimConfig::default();
    let a = jsonl(&cfg);
    let b = jsonl(&cfg);
    assert!(a == b, "same seed must give identical bytes");
    let n = a.iter().filter(|b| **b == b'\n').count();
    assert!((20_000..400_000).contains(&n), "{n} events");
    let c = jsonl(&SimConfig {
        seed: 2,
        hours: 1.0,
        ..cfg.clone()
    });
    let d = jsonl(&SimConfig {
        seed: 3,
        hours: 1.0,
        ..cfg
    });
    assert_ne!(c, d);

    // pcap is deterministic too.
    let ev = default_events();
    let small = &ev[..ev.len().min(5000)];
    let (mut p1, mut p2) = (Vec::new(), Vec::new());
    write_pcap(small, &mut p1).unwrap();
    write_pcap(small, &mut p2).unwrap();
    assert!(p1 == p2);
}

#[test]
fn every_scenario_appears_and_labels_are_consistent() {
    let ev = default_events();
    let mut seen = BTreeSet::new();
    for e in ev {
        match e.label {
            "benign" => assert_eq!(e.scenario, "benign"),
            "malicious" => {
                assert!(e.scenario.parse::<Scenario>().is_ok(), "{}", e.scenario);
                seen.insert(e.scenario);
            }
            other => panic!("label {other}"),
        }
    }
    for s in Scenario::ALL {
        assert!(seen.contains(s.as_str()), "{s} missing");
    }
    assert!(ev.windows(2).all(|w| w[0].ts <= w[1].ts), "sorted by ts");

    // Only requested scenarios, even with a single incident host.
    let cfg = SimConfig {
        hosts: 5,
        hours: 3.0,
        incident_hosts: 1,
        scenarios: vec![Scenario::Phishing, Scenario::SlowExfil],
        seed: 11,
        ..SimConfig::default()
    };
    let sim = Simulator::new(cfg, lists()).unwrap();
    let sc: BTreeSet<&str> = sim
        .events()
        .iter()
        .filter(|e| e.is_malicious())
        .map(|e| e.scenario)
        .collect();
    assert_eq!(sc, BTreeSet::from(["phishing", "slow_exfil"]));
    let benign_only = Simulator::new(
        SimConfig {
            hosts: 3,
            hours: 1.0,
            scenarios: vec![],
            ..SimConfig::default()
        },
        lists(),
    )
    .unwrap();
    assert!(benign_only.events().iter().all(|e| !e.is_malicious()));
}

#[test]
fn incidents_start_after_warmup_and_fire_at_start() {
    let cfg = SimConfig::default();
    let sim = Simulator::new(cfg.clone(), lists()).unwrap();
    let ev = default_events();
    let start = cfg.start.timestamp_micros();
    for inc in sim.incidents() {
        assert!(inc.start >= start + 3_600_000_000);
        let first = ev
            .iter()
            .find(|e| {
                e.host == inc.host && e.scenario == inc.scenario.as_str() && e.ts >= inc.start
            })
            .expect("incident emits events");
        // The first malicious lookup falls in the incident's first 5-minute window.
        assert!(first.ts - inc.start < 60_000_000, "{:?}", inc);
    }
    for e in ev.iter().filter(|e| e.is_malicious()) {
        assert!(
            sim.incidents().iter().any(|i| i.host == e.host
                && i.scenario.as_str() == e.scenario
                && i.start <= e.ts
                && e.ts < i.end),
            "malicious event outside its incident: {e:?}"
        );
    }
    // Benign traffic continues on incident hosts during incidents.
    let inc = &sim.incidents()[0];
    assert!(ev.iter().any(|e| e.host == inc.host
        && !e.is_malicious()
        && e.ts >= inc.start
        && e.ts < inc.end + 300_000_000));
}

#[test]
fn scenario_shapes_are_realistic() {
    let ev = default_events();
    let by = |s: &'static str| ev.iter().filter(move |e| e.scenario == s);
    let nx = |s: &'static str| {
        let v: Vec<_> = by(s).filter(|e| e.answered()).collect();
        v.iter().filter(|e| e.rcode == 3).count() as f64 / v.len().max(1) as f64
    };
    assert!(nx("dga_beacon") > 0.8, "dga nx {}", nx("dga_beacon"));
    assert!(
        nx("nxdomain_storm") >= 0.8,
        "storm nx {}",
        nx("nxdomain_storm")
    );
    assert!(nx("dns_tunnel") < 0.05);
    let benign_nx = nx("benign");
    assert!((0.005..0.04).contains(&benign_nx), "benign nx {benign_nx}");
    // Tunnels: long names under one registrable domain, mostly non-A types.
    let tun: Vec<_> = by("dns_tunnel").collect();
    let long = tun.iter().filter(|e| e.domain.len() >= 100).count() as f64 / tun.len() as f64;
    assert!(long > 0.3, "{long}");
    assert!(tun.iter().all(|e| e.domain.len() <= 253));
    // Benign IoT-style regular polling exists (benign beacons).
    let mut per_name: HashMap<(&std::net::IpAddr, &str), Vec<i64>> = HashMap::new();
    for e in ev.iter().filter(|e| !e.is_malicious()) {
        per_name
            .entry((&e.host, e.domain.as_str()))
            .or_default()
            .push(e.ts);
    }
    let regular = per_name.values().any(|ts| {
        ts.len() > 100 && {
            let d: Vec<i64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
            let mean = d.iter().sum::<i64>() as f64 / d.len() as f64;
            d.iter().all(|x| ((*x as f64) - mean).abs() < 1_000_000.0)
        }
    });
    assert!(regular, "no benign beacon found");
    // Benign names with lookalike keywords exist.
    assert!(ev
        .iter()
        .any(|e| !e.is_malicious() && e.domain.starts_with("login.")));
}

#[test]
fn json_lines_parse_with_required_fields() {
    let cfg = SimConfig {
        hosts: 6,
        hours: 2.0,
        seed: 5,
        ..SimConfig::default()
    };
    let buf = jsonl(&cfg);
    let text = std::str::from_utf8(&buf).unwrap();
    let mut prev = String::new();
    let mut n = 0;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for k in [
            "ts", "host", "domain", "qtype", "rcode", "server", "label", "scenario",
        ] {
            assert!(v.get(k).is_some(), "missing {k} in {line}");
        }
        let ts = v["ts"].as_str().unwrap();
        assert_eq!(ts.len(), 24, "{ts}");
        assert!(ts.ends_with('Z'));
        assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok());
        assert!(ts >= prev.as_str(), "unsorted {prev} > {ts}");
        prev = ts.to_string();
        let d = v["domain"].as_str().unwrap();
        assert!(!d.is_empty() && !d.ends_with('.') && d == d.to_ascii_lowercase());
        v["host"]
            .as_str()
            .unwrap()
            .parse::<std::net::IpAddr>()
            .unwrap();
        v["server"]
            .as_str()
            .unwrap()
            .parse::<std::net::IpAddr>()
            .unwrap();
        let qt = v["qtype"].as_str().unwrap();
        match v["rcode"].as_str() {
            Some(rc) => {
                assert!(["NOERROR", "NXDOMAIN", "SERVFAIL"].contains(&rc));
                assert!(v["response_bytes"].as_u64().unwrap() >= 12);
                assert!(v["latency_ms"].as_f64().unwrap() > 0.0);
                if v.get("answers").is_some() {
                    assert!(rc == "NOERROR" && (qt == "A" || qt == "AAAA"));
                    for a in v["answers"].as_array().unwrap() {
                        let ip: std::net::IpAddr = a.as_str().unwrap().parse().unwrap();
                        assert_eq!(ip.is_ipv4(), qt == "A");
                    }
                }
            }
            None => assert!(v["rcode"].is_null()),
        }
        n += 1;
    }
    assert!(n > 1000);
}

#[test]
fn simulation_from_the_full_shared_domain_lists_has_incidents() {
    let dir = util::shared("domains");
    let l = DomainLists::from_dir(&dir).unwrap();
    let sim = Simulator::new(
        SimConfig {
            hosts: 4,
            hours: 2.0,
            ..SimConfig::default()
        },
        l,
    )
    .unwrap();
    assert!(sim.events().iter().any(|e| e.is_malicious()));
}

#[test]
fn pcap_round_trips_through_parsers() {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    let cfg = SimConfig {
        hosts: 12,
        hours: 2.0,
        seed: 4,
        ..SimConfig::default()
    };
    let sim = Simulator::new(cfg, lists()).unwrap();
    let ev = sim.events();
    let mut buf = Vec::new();
    let packets = write_pcap(&ev, &mut buf).unwrap();
    let answered = ev.iter().filter(|e| e.answered()).count() as u64;
    assert_eq!(packets, ev.len() as u64 + answered);

    let (rest, cap) = pcap_parser::parse_pcap(&buf).expect("pcap parses");
    assert!(rest.is_empty());
    assert_eq!(cap.header.network, pcap_parser::Linktype::ETHERNET);
    assert_eq!(cap.blocks.len() as u64, packets);
    let mut last = 0i64;
    let (mut queries, mut responses, mut v6) = (0u64, 0u64, 0u64);
    let mut txids: HashMap<String, Vec<u16>> = HashMap::new();
    for b in &cap.blocks {
        let ts = i64::from(b.ts_sec) * 1_000_000 + i64::from(b.ts_usec);
        assert!(ts >= last, "time order");
        last = ts;
        let p = SlicedPacket::from_ethernet(b.data).expect("ethernet frame");
        match p.net {
            Some(NetSlice::Ipv4(ip)) => {
                let h = ip.header().slice();
                let mut sum = 0u32;
                for c in h.chunks(2) {
                    sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
                }
                while sum > 0xffff {
                    sum = (sum & 0xffff) + (sum >> 16);
                }
                assert_eq!(sum, 0xffff, "IPv4 header checksum");
            }
            Some(NetSlice::Ipv6(_)) => v6 += 1,
            _ => panic!("not IP"),
        }
        let Some(TransportSlice::Udp(udp)) = p.transport else {
            panic!("not UDP")
        };
        let msg = hickory_proto::op::Message::from_vec(udp.payload()).expect("DNS parses");
        assert_eq!(msg.queries().len(), 1);
        if udp.destination_port() == 53 {
            queries += 1;
            txids
                .entry(msg.queries()[0].name().to_string())
                .or_default()
                .push(msg.id());
        } else {
            assert_eq!(udp.source_port(), 53);
            responses += 1;
        }
    }
    assert_eq!(queries, ev.len() as u64);
    assert_eq!(responses, answered);
    assert!(v6 > 0, "IPv6 clients present");
    // Repeated names get fresh transaction ids.
    let repeated = txids
        .values()
        .find(|v| v.len() >= 20)
        .expect("a repeated name");
    let distinct: BTreeSet<_> = repeated.iter().collect();
    assert!(distinct.len() > repeated.len() / 2);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        #[test]
        fn small_configs_never_panic(
            hosts in 1usize..8,
            hours in 0.01f64..1.5,
            seed in any::<u64>(),
            incident_hosts in 0usize..10,
            mask in 0u8..32,
        ) {
            let scenarios: Vec<Scenario> = Scenario::ALL
                .into_iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, s)| s)
                .collect();
            let cfg = SimConfig { hosts, hours, seed, incident_hosts, scenarios, ..SimConfig::default() };
            let sim = Simulator::new(cfg, lists()).unwrap();
            let ev = sim.events();
            prop_assert!(ev.windows(2).all(|w| w[0].ts <= w[1].ts));
            let mut j = Vec::new();
            let s = write_jsonl(&ev, &mut j).unwrap();
            prop_assert_eq!(s.events, ev.len() as u64);
            let mut p = Vec::new();
            write_pcap(&ev[..ev.len().min(300)], &mut p).unwrap();
        }
    }
}
