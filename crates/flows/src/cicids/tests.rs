//! Tests of the CIC-IDS2017 window detector.

use super::*;
use std::io::Write;

fn csv_file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

const NEW_HEADER: &str = "Src IP,Dst IP,Dst Port,Flow Duration,Total Fwd Packet,Total Bwd packets,Total Length of Fwd Packet,Total Length of Bwd Packet,Flow Bytes/s,Flow Packets/s,Label\n";
const OLD_HEADER: &str = " Source IP, Destination IP, Destination Port, Flow Duration, Total Fwd Packets, Total Backward Packets,Total Length of Fwd Packets, Total Length of Bwd Packets,Flow Bytes/s, Flow Packets/s, Label\n";

fn row(src: &str, dst: &str, port: u16, label: &str) -> String {
    format!("{src},{dst},{port},1000,2,1,100,50,150000,3000,{label}\n")
}

fn conc(ip: &str, ip_share: f64, port: u16, port_share: f64) -> Concentration {
    Concentration {
        top_dst_ip: ip.into(),
        top_dst_ip_share: ip_share,
        top_dst_public: ip.parse::<IpAddr>().is_ok_and(is_public),
        top_dst_port: port,
        top_dst_port_share: port_share,
    }
}

#[test]
fn z_score_and_std_guard() {
    assert_eq!(z_score(13.0, 10.0, 1.5), 2.0);
    assert_eq!(
        mean_std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]),
        (5.0, 2.0)
    );
    // std 0 → 5 % of the mean; std 0 and mean 0 → absolute floor.
    assert_eq!(guarded_std(0.0, 20.0), 1.0);
    assert_eq!(guarded_std(0.0, 0.0), ABS_STD_FLOOR);
    assert_eq!(guarded_std(3.0, 20.0), 3.0);
    assert_eq!(z_score(22.0, 20.0, guarded_std(0.0, 20.0)), 2.0);
}

#[test]
fn severity_buckets() {
    assert_eq!(Severity::of(0.0), Severity::Low);
    assert_eq!(Severity::of(2.999), Severity::Low);
    assert_eq!(Severity::of(3.0), Severity::Medium);
    assert_eq!(Severity::of(5.99), Severity::Medium);
    assert_eq!(Severity::of(6.0), Severity::High);
    assert_eq!(Severity::of(9.99), Severity::High);
    assert_eq!(Severity::of(10.0), Severity::Critical);
    assert_eq!(Severity::of(f64::NAN), Severity::Low);
}

#[test]
fn decision_from_votes() {
    assert_eq!(Decision::of(true, true), Decision::Confirmed);
    assert_eq!(Decision::of(true, false), Decision::Suspicious);
    assert_eq!(Decision::of(false, true), Decision::Suspicious);
    assert_eq!(Decision::of(false, false), Decision::Normal);
}

#[test]
fn pattern_rules() {
    let zero = [0.0; N_FEATURES];
    let spread = conc("192.168.10.3", 0.2, 53, 0.3);
    // Vertical scan: 95 ports on one target, short flows.
    let f = [500.0, 200.0, 1.0, 1.0, 95.0, 20.0, 6e4, 2.0];
    let mut z = zero;
    z[F_PORTS] = 49.0;
    z[F_DST] = -9.0;
    assert_eq!(
        classify(&f, &z, &conc("192.168.10.50", 1.0, 80, 0.02)),
        (Pattern::PortScan, Confidence::High)
    );
    // Same fan-out with long flows: still a scan, medium confidence.
    let mut f2 = f;
    f2[F_PPF] = 20.0;
    assert_eq!(classify(&f2, &z, &spread).0, Pattern::PortScan);
    assert_eq!(classify(&f2, &z, &spread).1, Confidence::Medium);
    // SSH brute force: one source, one internal target on port 22.
    let f = [4.7e5, 5500.0, 1.0, 1.0, 1.0, 400.0, 4.6, 55.0];
    let mut z = zero;
    z[F_SRC] = -18.0;
    z[F_DST] = -9.0;
    z[F_PORTS] = -4.0;
    let ssh = conc("192.168.10.50", 1.0, 22, 1.0);
    assert_eq!(
        classify(&f, &z, &ssh),
        (Pattern::BruteForce, Confidence::High)
    );
    // Same shape on port 80 to an internal server: DDoS (inbound, no surge → Medium).
    let web = conc("192.168.10.50", 1.0, 80, 1.0);
    assert_eq!(classify(&f, &z, &web), (Pattern::DDoS, Confidence::Medium));
    // With a packet surge: High.
    let mut zs = z;
    zs[F_PACKETS] = 4.0;
    assert_eq!(classify(&f, &zs, &web), (Pattern::DDoS, Confidence::High));
    // Several internal hosts to one public address at a low rate: Botnet.
    let mut fb = f;
    fb[F_SRC] = 5.0;
    let mut zb = z;
    zb[F_PPS] = -1.3;
    let c2 = conc("205.174.165.73", 1.0, 8080, 1.0);
    assert_eq!(classify(&fb, &zb, &c2), (Pattern::Botnet, Confidence::High));
    // Concentrated on a public address but flooding: DDoS.
    zb[F_PPS] = 5.0;
    assert_eq!(classify(&fb, &zb, &c2), (Pattern::DDoS, Confidence::High));
    // Infiltration: diversity drop with a rate spike, not concentrated.
    let mut z = zero;
    z[F_DST] = -3.0;
    z[F_PPS] = 4.0;
    assert_eq!(classify(&[0.0; 8], &z, &spread).0, Pattern::Infiltration);
    // Web attack: many sources with elevated rate.
    let mut z = zero;
    z[F_SRC] = 5.0;
    z[F_PPS] = 2.5;
    let f = [1e6, 2000.0, 60.0, 40.0, 6.0, 6e5, 9e3, 19.0];
    assert_eq!(classify(&f, &z, &spread).0, Pattern::WebAttack);
    // Nothing matches.
    assert_eq!(
        classify(&f, &zero, &spread),
        (Pattern::Unknown, Confidence::Low)
    );
    // Horizontal scan: many targets, few sources, short flows.
    let mut z = zero;
    z[F_DST] = 12.0;
    z[F_SRC] = -5.0;
    let f = [500.0, 200.0, 1.0, 95.0, 1.0, 20.0, 6e4, 2.0];
    assert_eq!(classify(&f, &z, &spread).0, Pattern::PortScan);
}

#[test]
fn public_addresses() {
    let p = |s: &str| is_public(s.parse().unwrap());
    assert!(p("205.174.165.73"));
    assert!(p("8.8.8.8"));
    assert!(!p("192.168.10.50"));
    assert!(!p("172.16.0.1"));
    assert!(!p("10.1.2.3"));
    assert!(!p("100.64.0.1"));
    assert!(!p("fe80::1"));
    assert!(p("2001:4860::8888"));
}

#[test]
fn both_header_generations_map_to_the_same_flows() {
    let body = row("10.0.0.1", "10.0.0.2", 443, "BENIGN") + &row("10.0.0.3", "8.8.8.8", 53, "DDoS");
    for header in [NEW_HEADER, OLD_HEADER] {
        let f = csv_file(&format!("{header}{body}"));
        let mut r = WindowReader::open(f.path(), 2).unwrap();
        assert!(r.has_labels());
        let w = r.next_window().unwrap();
        assert_eq!(w.flows, 2);
        assert_eq!(
            w.features,
            [300.0, 6.0, 2.0, 2.0, 2.0, 150000.0, 3000.0, 3.0]
        );
        assert_eq!(w.attack_ratio, Some(0.5));
        assert!(r.next_window().is_none());
    }
}

#[test]
fn invalid_rows_are_counted_by_reason() {
    let mut text = String::from(NEW_HEADER);
    text += &row("10.0.0.1", "10.0.0.2", 80, "BENIGN");
    text += "10.0.0.1,10.0.0.2,80,1000,2,1,100,50,NaN,3000,BENIGN\n";
    text += "10.0.0.1,10.0.0.2,80,1000,2,1,100,50,Infinity,3000,BENIGN\n";
    text += "10.0.0.1,10.0.0.2,80,1000,2,1,100,50,150,inf,BENIGN\n";
    text += "10.0.0.1,10.0.0.2,80,-5,2,1,100,50,150,3,BENIGN\n";
    text += "10.0.0.1,10.0.0.2,80,1000,2,1,100,50,-150,3,BENIGN\n";
    text += "10.0.0.1,10.0.0.2,80,1000,two,1,100,50,150,3,BENIGN\n";
    text += "10.0.0.1,10.0.0.2,80,1000,,1,100,50,150,3,BENIGN\n";
    text += ",10.0.0.2,80,1000,2,1,100,50,150,3,BENIGN\n";
    text += "10.0.0.1,10.0.0.2,70000,1000,2,1,100,50,150,3,BENIGN\n";
    text += "10.0.0.1,10.0.0.2,80\n";
    text += &row("10.0.0.1", "10.0.0.4", 80, "BENIGN");
    let f = csv_file(&text);
    let mut r = WindowReader::open(f.path(), 10).unwrap();
    // 2 valid flows < half a window of 10: dropped as a short tail.
    assert!(r.next_window().is_none());
    let c = r.counts();
    assert_eq!(c.rows, 12);
    assert_eq!(c.valid, 2);
    assert_eq!(c.tail_dropped, 2);
    assert_eq!(c.invalid_for(InvalidReason::NaN), 1);
    assert_eq!(c.invalid_for(InvalidReason::Infinite), 2);
    assert_eq!(c.invalid_for(InvalidReason::NegativeDuration), 1);
    assert_eq!(c.invalid_for(InvalidReason::NegativeValue), 1);
    assert_eq!(c.invalid_for(InvalidReason::Unparsable), 2);
    assert_eq!(c.invalid_for(InvalidReason::MissingAddress), 1);
    assert_eq!(c.invalid_for(InvalidReason::BadPort), 1);
    assert_eq!(c.invalid_for(InvalidReason::Malformed), 1);
    assert_eq!(c.invalid_total(), 10);
    assert!(
        c.invalid_summary().contains("2 Infinity"),
        "{}",
        c.invalid_summary()
    );
}

#[test]
fn windows_and_partial_tail_rule() {
    let mut text = String::from(NEW_HEADER);
    for i in 0..13 {
        text += &row(
            &format!("10.0.0.{i}"),
            "10.0.1.1",
            80 + (i % 2) as u16,
            "BENIGN",
        );
    }
    // 13 flows, window 4: three full windows, a tail of 1 < 2 is dropped.
    let f = csv_file(&text);
    let mut r = WindowReader::open(f.path(), 4).unwrap();
    let ws: Vec<_> = std::iter::from_fn(|| r.next_window()).collect();
    assert_eq!(ws.len(), 3);
    assert_eq!(ws[2].first_flow, 8);
    assert_eq!(r.counts().tail_dropped, 1);
    // Window 5: two full windows and a tail of 3 ≥ 2.5 kept, totals scaled ×5/3.
    let mut r = WindowReader::open(f.path(), 5).unwrap();
    let ws: Vec<_> = std::iter::from_fn(|| r.next_window()).collect();
    assert_eq!(ws.len(), 3);
    assert_eq!(ws[2].flows, 3);
    assert!((ws[2].features[F_BYTES] - 750.0).abs() < 1e-9);
    assert_eq!(ws[2].features[F_SRC], 3.0);
    assert_eq!(ws[2].features[F_PPF], 3.0);
    assert_eq!(ws[0].concentration.top_dst_ip, "10.0.1.1");
    assert_eq!(ws[0].concentration.top_dst_ip_share, 1.0);
    assert_eq!(ws[0].concentration.top_dst_port, 80);
    assert!((ws[0].concentration.top_dst_port_share - 0.6).abs() < 1e-12);
}

#[test]
fn missing_columns_refuse_the_file_naming_them() {
    let f = csv_file("Src IP,Dst IP,Label\n1.2.3.4,5.6.7.8,BENIGN\n");
    let e = WindowReader::open(f.path(), 10).unwrap_err().to_string();
    assert!(e.contains("Destination Port"), "{e}");
    assert!(e.contains("Flow Packets/s"), "{e}");
    assert!(e.contains(&f.path().display().to_string()), "{e}");
}

fn synthetic_windows(n: usize) -> Vec<FlowWindow> {
    (0..n)
        .map(|i| {
            let k = (i % 5) as f64;
            FlowWindow {
                file: "b.csv".into(),
                index: i,
                first_flow: (i * 100) as u64,
                flows: 100,
                features: [
                    1e6 + 1e5 * k,
                    1900.0 + 50.0 * k,
                    13.0 + (i % 3) as f64,
                    40.0 + k,
                    7.0 + (i % 2) as f64,
                    6e5 + 1e4 * k,
                    9e3 + 100.0 * k,
                    19.0 + 0.5 * k,
                ],
                attack_ratio: Some(0.0),
                concentration: conc("192.168.10.3", 0.3, 53, 0.4),
            }
        })
        .collect()
}

#[test]
fn baseline_scores_round_trips_and_rejects_foreign_files() {
    let ws = synthetic_windows(30);
    let opts = BaselineOptions {
        window: 100,
        trees: 50,
        seed: 7,
    };
    let b = Baseline::train(&ws, 3000, vec!["b.csv".into()], &opts).unwrap();
    assert_eq!(b.windows(), 30);
    assert!(b.benign_ceiling() > 0.0);
    // A baseline window is quiet; a scan-like window is CONFIRMED.
    let quiet = b.score(ws[3].clone(), ZVote::Calibrated);
    assert_eq!(quiet.decision, Decision::Normal, "{quiet:?}");
    let mut scan = ws[0].clone();
    scan.features = [500.0, 200.0, 1.0, 1.0, 95.0, 20.0, 6e4, 2.0];
    scan.concentration = conc("192.168.10.50", 1.0, 80, 0.02);
    let v = b.score(scan.clone(), ZVote::Calibrated);
    assert_eq!(v.decision, Decision::Confirmed, "{v:?}");
    assert_eq!(v.severity, Severity::Critical);
    assert_eq!(v.pattern, Pattern::PortScan);
    assert_eq!(v.top.len(), 3);
    assert!(v.top[0].z.abs() >= v.top[1].z.abs() && v.top[1].z.abs() >= v.top[2].z.abs());
    let sum: f64 = v.z.iter().map(|z| z.abs()).sum();
    assert!((sum - v.anomaly_index).abs() < 1e-9);

    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("b.json");
    b.save(&p).unwrap();
    let back = Baseline::load(&p).unwrap();
    assert_eq!(back.features(), b.features());
    let v2 = back.score(scan, ZVote::Calibrated);
    assert_eq!(v2.forest_score, v.forest_score);

    // Old JSON baseline, foreign file, other version, flipped forest byte,
    // binary, truncated: each a clear error, never a panic.
    let good = std::fs::read(&p).unwrap();
    let mut other_version = good.clone();
    other_version[8..12].copy_from_slice(&99u32.to_le_bytes());
    let mut flipped = good.clone();
    let mid = good.len() / 2;
    flipped[mid] ^= 0x40;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"{\"kind\": \"sentineldns-flow-baseline\", \"version\": 1}".to_vec(),
            "format version 1 is not supported",
        ),
        (
            b"{\"kind\": \"something-else\"}".to_vec(),
            "not a sentineldns flow baseline",
        ),
        (other_version, "version 99"),
        (flipped, "checksum mismatch"),
        (
            b"\x7fELF\0\0\0\0\0\0".to_vec(),
            "not a sentineldns flow baseline",
        ),
        (good[..good.len() / 2].to_vec(), "truncated"),
        (b"SDN".to_vec(), "not a sentineldns flow baseline"),
    ];
    for (content, want) in cases {
        std::fs::write(&p, content).unwrap();
        let e = Baseline::load(&p).unwrap_err().to_string();
        assert!(e.contains(want), "{want}: {e}");
    }
}

#[test]
fn too_few_windows_is_an_error() {
    let e = Baseline::train(
        &synthetic_windows(2),
        200,
        vec![],
        &BaselineOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(e, CicidsError::TooFewWindows { found: 2, .. }));
}

/// The header the PyPI `cicflowmeter` 0.2.0 writes (first columns of the
/// real file `scripts/real-traffic/flows-lab.sh` produces; the detector reads
/// only these).
const PYPI_HEADER: &str = "src_ip,dst_ip,src_port,dst_port,protocol,timestamp,flow_duration,flow_byts_s,flow_pkts_s,fwd_pkts_s,bwd_pkts_s,tot_fwd_pkts,tot_bwd_pkts,totlen_fwd_pkts,totlen_bwd_pkts\n";
/// The Java CICFlowMeter-V4 header (CSE-CIC-IDS2018 spelling).
const V4_HEADER: &str = "Flow ID,Src IP,Src Port,Dst IP,Dst Port,Protocol,Timestamp,Flow Duration,Tot Fwd Pkts,Tot Bwd Pkts,TotLen Fwd Pkts,TotLen Bwd Pkts,Flow Byts/s,Flow Pkts/s,Label\n";

#[test]
fn every_dialect_is_recognised_named_and_normalised() {
    // The same two flows (1 ms, 3 packets, 150 bytes) in each dialect.
    let pypi = format!(
        "{PYPI_HEADER}10.0.0.1,10.0.0.2,40000,443,6,2026-12-04 05:20:00,1000.0,150000.0,3000.0,2000.0,1000.0,2,1,100,50\n\
         10.0.0.3,8.8.8.8,40001,53,17,2026-12-04 05:20:01,1000.0,150000.0,3000.0,2000.0,1000.0,2,1,100,50\n"
    );
    let v4 = format!(
        "{V4_HEADER}f1,10.0.0.1,40000,10.0.0.2,443,6,04/12/2026 05:20:00,1000,2,1,100,50,150000,3000,Benign\n\
         f2,10.0.0.3,40001,8.8.8.8,53,17,04/12/2026 05:20:01,1000,2,1,100,50,150000,3000,DDoS\n"
    );
    // UNSW-NB15 with its header: dur in seconds, no rate columns.
    let unsw =
        "srcip,sport,dstip,dsport,proto,state,dur,sbytes,dbytes,spkts,dpkts,attack_cat,label\n\
                10.0.0.1,40000,10.0.0.2,443,tcp,FIN,0.001,100,50,2,1,,0\n\
                10.0.0.3,40001,8.8.8.8,53,udp,CON,0.001,100,50,2,1,DoS,1\n"
            .to_owned();
    for (text, dialect, labels) in [
        (pypi, Dialect::CicflowmeterPython, None),
        (v4, Dialect::CicflowmeterV4, Some(0.5)),
        (unsw, Dialect::UnswNb15, Some(0.5)),
        (
            format!(
                "{NEW_HEADER}{}",
                row("10.0.0.1", "10.0.0.2", 443, "BENIGN")
                    + &row("10.0.0.3", "8.8.8.8", 53, "DDoS")
            ),
            Dialect::Cicids2017,
            Some(0.5),
        ),
    ] {
        let f = csv_file(&text);
        let mut r = WindowReader::open(f.path(), 2).unwrap();
        assert_eq!(r.dialect(), dialect, "{text}");
        let w = r.next_window().unwrap();
        assert_eq!(w.flows, 2, "{dialect}");
        // bytes, packets, sources, destinations, ports, mean bytes/s, mean packets/s, packets/flow
        assert_eq!(
            w.features,
            [300.0, 6.0, 2.0, 2.0, 2.0, 150000.0, 3000.0, 3.0],
            "{dialect}: units normalised to the CIC-IDS2017 ones"
        );
        assert_eq!(w.attack_ratio, labels, "{dialect}");
    }
}

#[test]
fn parse_flow_normalises_the_duration_to_seconds() {
    let f = csv_file(&format!(
        "{PYPI_HEADER}10.0.0.1,10.0.0.2,40000,443,6,2026-12-04 05:20:00,14067.0,616336.1,995.2,497.6,497.6,7,7,555,8115\n"
    ));
    let mut input = crate::csvin::CsvInput::open(f.path()).unwrap();
    let layout = Layout::resolve(&input).unwrap();
    let mut rec = csv::StringRecord::new();
    assert!(input.next_record(&mut rec).unwrap());
    let flow = parse_flow(&rec, &layout).unwrap();
    assert!((flow.duration_s - 0.014067).abs() < 1e-12, "{flow:?}");
    assert_eq!(flow.packets, 14.0);
    assert_eq!(flow.bytes, 8670.0);
    // UNSW-NB15: seconds as written, rates derived (0 for a zero duration).
    let f = csv_file(
        "srcip,dstip,dsport,dur,sbytes,dbytes,spkts,dpkts\n10.0.0.1,10.0.0.2,80,2.5,1000,4000,10,10\n10.0.0.1,10.0.0.2,80,0,60,0,1,0\n",
    );
    let mut input = crate::csvin::CsvInput::open(f.path()).unwrap();
    let layout = Layout::resolve(&input).unwrap();
    assert_eq!(layout.dialect, Dialect::UnswNb15);
    assert!(input.next_record(&mut rec).unwrap());
    let flow = parse_flow(&rec, &layout).unwrap();
    assert_eq!(flow.duration_s, 2.5);
    assert_eq!(flow.bytes_per_sec, 2000.0);
    assert_eq!(flow.packets_per_sec, 8.0);
    assert!(input.next_record(&mut rec).unwrap());
    let flow = parse_flow(&rec, &layout).unwrap();
    assert_eq!((flow.bytes_per_sec, flow.packets_per_sec), (0.0, 0.0));
}

#[test]
fn raw_unsw_without_header_and_gzip_are_read() {
    use flate2::write::GzEncoder;
    // Two rows in the 49-column layout of the raw UNSW-NB15_1..4.csv files
    // (no header row; attack_cat empty for normal traffic, label 0/1).
    let normal = "10.40.85.1,33662,10.40.85.30,80,tcp,FIN,0.121478,258,172,252,254,0,0,http,14159.0,9442.0,4,3,255,255,624479720,2126105686,65,57,1,0,2.68,0.03,1421927414,1421927415,40.49,60.73,0.0,0.0,0.0,0,0,1,0,0,1,2,1,1,1,1,1,,0\n";
    let attack = "175.45.176.1,1464,149.171.126.18,53,udp,CON,0.001119,146,178,254,252,0,0,dns,521894.5,636282.4,2,2,0,0,0,0,73,89,0,0,0.0,0.0,1421927414,1421927414,0.01,0.01,0.0,0.0,0.0,0,0,0,0,0,2,2,1,1,1,1,1,Exploits,1\n";
    let text = format!("{normal}{attack}");
    let plain = csv_file(&text);
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    let mut zipped = tempfile::NamedTempFile::new().unwrap();
    zipped.write_all(&gz.finish().unwrap()).unwrap();
    for f in [plain.path(), zipped.path()] {
        let mut r = WindowReader::open(f, 2).unwrap();
        assert_eq!(r.dialect(), Dialect::UnswNb15);
        let w = r.next_window().expect("both rows read");
        assert_eq!(w.flows, 2);
        assert_eq!(w.attack_ratio, Some(0.5));
        assert_eq!(w.features[0], 258.0 + 172.0 + 146.0 + 178.0);
        assert_eq!(r.counts().rows, 2, "no row taken for a header");
    }
}
