//! Zeek dns.log (TSV and JSON) and Suricata EVE as `replay` inputs (issue
//! 15): real logs from the projects' own test suites (tests/fixtures/logs,
//! provenance in tests/fixtures/README.md) become the same lookups and
//! windows as the packet path; a file none of whose lines is usable fails
//! with exit 2 naming the file, its first bad lines and its likely format.

use crate::util::{bin, json_lines, repo_file};
use serde_json::Value;
use std::path::Path;

/// Replay `files` with lookup NDJSON on stdout; (lookups, windows, stderr).
fn replay(files: &[&Path]) -> (Vec<Value>, Vec<Value>, String) {
    let d = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["replay", "--ndjson", "-", "--ndjson-lookups", "--db"])
        .arg(d.path().join("s.db"))
        .args(files)
        .assert()
        .success()
        .get_output()
        .clone();
    let (mut lookups, mut windows) = (Vec::new(), Vec::new());
    for v in json_lines(&out.stdout) {
        match v["event"]["dataset"].as_str() {
            Some("sentineldns.lookup") => lookups.push(v),
            Some("sentineldns.window") => windows.push(v),
            _ => {}
        }
    }
    (
        lookups,
        windows,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fixture(name: &str) -> std::path::PathBuf {
    repo_file(&format!("tests/fixtures/logs/{name}"))
}

fn by_name<'a>(lookups: &'a [Value], name: &str) -> &'a Value {
    lookups
        .iter()
        .find(|l| l["dns"]["question"]["name"] == name)
        .unwrap_or_else(|| panic!("no lookup of {name} in {lookups:#?}"))
}

#[test]
fn zeek_tsv_baseline_carries_answers_ttls_transport_and_counts_the_row_without_query() {
    let f = fixture("zeek-duplicate-reponses-dns.log");
    let (lookups, windows, err) = replay(&[&f]);
    assert_eq!(lookups.len(), 1, "{lookups:#?}");
    let l = &lookups[0];
    assert_eq!(l["dns"]["question"]["name"], "www.cmu.edu");
    assert_eq!(l["dns"]["question"]["type"], "A");
    assert_eq!(l["source"]["ip"], "55.247.223.174");
    assert_eq!(l["destination"]["ip"], "222.195.43.124");
    assert_eq!(l["network"]["transport"], "udp");
    assert_eq!(l["dns"]["resolved_ip"], serde_json::json!(["128.2.10.163"]));
    assert_eq!(l["sentineldns"]["lookup"]["answers_total"], 4);
    assert_eq!(l["sentineldns"]["lookup"]["min_ttl"], 5);
    assert_eq!(l["sentineldns"]["lookup"]["outcome"], "answered");
    assert_eq!(windows.len(), 1);
    // The second row is a reply with no question: a counted skip at its line.
    assert!(err.contains("jsonl_bad_line 1"), "{err}");
    assert!(err.contains("dns.log line 10"), "{err}");
}

#[test]
fn zeek_tsv_baselines_merge_with_ipv6_and_unset_fields() {
    let files = [
        fixture("zeek-ipv6-frag-dns.log"),
        fixture("zeek-dns-key-dns.log"),
        fixture("zeek-multiple-txt-strings-dns.log"),
    ];
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let (lookups, _, err) = replay(&refs);
    assert_eq!(lookups.len(), 4, "{lookups:#?}\n{err}");
    let v6 = by_name(&lookups, "txtpadding_323.n1.netalyzr.icsi.berkeley.edu");
    assert_eq!(v6["source"]["ip"], "2001:470:1f11:81f:d138:5f55:6d4:1fe2");
    assert_eq!(v6["dns"]["question"]["type"], "TXT");
    assert_eq!(v6["sentineldns"]["lookup"]["min_ttl"], 1);
    let key = by_name(&lookups, "paypal.com");
    // qtype 48 (DNSKEY) has no name in the sensor's table.
    assert_eq!(key["dns"]["question"]["type"], "TYPE48");
    assert!(
        key["sentineldns"]["lookup"].get("min_ttl").is_none(),
        "{key}"
    );
    // qtype unset in this baseline: read as type 0, TTLs kept.
    let txt = by_name(&lookups, "flkr._domainkey.flickr.com");
    assert_eq!(txt["sentineldns"]["lookup"]["min_ttl"], 900);
    assert_eq!(txt["sentineldns"]["lookup"]["answers_total"], 3);
}

#[test]
fn zeek_json_log_is_read_not_rejected_line_by_line() {
    // Issue 15: this used to be `jsonl_bad_line … missing field 'host'` on
    // every line and exit 0 with 0 windows.
    let f = fixture("zeek-json-dns-converted.log");
    let (lookups, windows, err) = replay(&[&f]);
    assert_eq!(lookups.len(), 3, "{err}");
    assert!(!windows.is_empty());
    // Epoch float and ISO 8601 `ts` both read.
    let iso = by_name(&lookups, "txtpadding_3230.n1.netalyzr.icsi.berkeley.edu");
    assert_eq!(iso["@timestamp"], "2012-03-07T01:38:13.592245Z");
    assert_eq!(
        by_name(&lookups, "www.cmu.edu")["sentineldns"]["lookup"]["min_ttl"],
        5
    );
    assert!(err.contains("line 4"), "{err}");
}

#[test]
fn suricata_eve_per_rr_answers_pair_with_their_queries() {
    let f = fixture("suricata-verify-dns-json-log.json");
    let (lookups, windows, _) = replay(&[&f]);
    assert_eq!(lookups.len(), 4, "{lookups:#?}");
    assert_eq!(windows.len(), 1);
    for l in &lookups {
        assert_eq!(l["source"]["ip"], "10.16.1.11");
        assert_eq!(l["destination"]["ip"], "10.16.1.1");
        assert_eq!(l["sentineldns"]["lookup"]["outcome"], "answered");
    }
    let first = &lookups[0];
    assert_eq!(first["dns"]["question"]["name"], "client-cf.dropbox.com");
    // 23:27:02.333141 − 23:27:01.960780 (`+0000` timestamps).
    assert_eq!(first["event"]["duration"], 372_361_000u64);
    let block = by_name(&lookups, "block.dropbox.com");
    assert_eq!(block["sentineldns"]["lookup"]["answers_total"], 2);
    assert_eq!(
        block["dns"]["resolved_ip"],
        serde_json::json!(["45.58.70.33"])
    );
    assert_eq!(block["sentineldns"]["lookup"]["min_ttl"], 8);
}

#[test]
fn suricata_eve_tcp_answers_logged_in_flow_direction_keep_the_client() {
    let f = fixture("suricata-verify-dns-tcp-www-google-com.json");
    let (lookups, _, _) = replay(&[&f]);
    assert_eq!(lookups.len(), 1);
    let l = &lookups[0];
    assert_eq!(l["source"]["ip"], "10.16.1.11");
    assert_eq!(l["network"]["transport"], "tcp");
    assert_eq!(l["sentineldns"]["lookup"]["answers_total"], 12);
    assert_eq!(l["event"]["duration"], 40_000u64);
}

#[test]
fn suricata_eve_v2_and_v3_layouts_and_bad_lines_counted() {
    let f = fixture("suricata-eve-v2-v3-written.json");
    let (lookups, _, err) = replay(&[&f]);
    assert_eq!(lookups.len(), 4, "{lookups:#?}");
    let v2 = by_name(&lookups, "ip-172-31-8-201.ap-southeast-2.compute.internal");
    assert_eq!(v2["sentineldns"]["lookup"]["outcome"], "answered");
    let unsolicited = lookups
        .iter()
        .find(|l| l["dns"]["question"]["type"] == "AAAA")
        .unwrap();
    assert_eq!(
        unsolicited["sentineldns"]["lookup"]["outcome"],
        "unsolicited"
    );
    let nx = by_name(&lookups, "_googlecast._tcp.example.com");
    assert_eq!(nx["dns"]["response_code"], "NXDOMAIN");
    assert_eq!(nx["event"]["duration"], 10_000_000u64);
    let v3 = by_name(&lookups, "www.example.com");
    assert_eq!(v3["source"]["ip"], "192.168.10.23");
    assert_eq!(
        v3["dns"]["resolved_ip"],
        serde_json::json!(["203.0.113.10"])
    );
    assert_eq!(v3["sentineldns"]["lookup"]["min_ttl"], 60);
    assert!(err.contains("line 8"), "{err}");
    assert!(err.contains("timestamp"), "{err}");
}

#[test]
fn gzip_compressed_eve_reads_like_the_plain_file() {
    use std::io::Write;
    let d = tempfile::tempdir().unwrap();
    let gz = d.path().join("eve.json.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&std::fs::read(fixture("suricata-verify-dns-json-log.json")).unwrap())
        .unwrap();
    enc.finish().unwrap();
    let (lookups, _, _) = replay(&[&gz]);
    assert_eq!(lookups.len(), 4);
}

/// Run replay on `f`, expecting exit 2; returns stderr.
fn rejected(f: &Path) -> String {
    let d = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["replay", "--quiet", "--db"])
        .arg(d.path().join("s.db"))
        .arg(f)
        .assert()
        .code(2)
        .get_output()
        .clone();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_file_whose_every_line_is_rejected_exits_2_naming_file_lines_and_format() {
    let d = tempfile::tempdir().unwrap();
    // JSON lines that are no format we read (here: a Zeek conn.log in JSON
    // would be read as Zeek; this is a generic SIEM export without a host).
    let f = d.path().join("export.json");
    std::fs::write(
        &f,
        "{\"time\":1,\"name\":\"a.example\"}\n{\"time\":2,\"name\":\"b.example\"}\n",
    )
    .unwrap();
    let err = rejected(&f);
    assert!(err.contains("export.json"), "{err}");
    assert!(err.contains("line 1:") && err.contains("line 2:"), "{err}");
    assert!(err.contains("missing field `ts`"), "{err}");
    assert!(err.contains("not sentineldns JSONL"), "{err}");

    // A Zeek log that is not a dns.log.
    let f = d.path().join("conn.log");
    std::fs::write(
        &f,
        "#separator \\x09\n#path\tconn\n#fields\tts\tuid\tid.orig_h\tduration\n1.0\tC\t10.0.0.1\t0.5\n",
    )
    .unwrap();
    let err = rejected(&f);
    assert!(
        err.contains("conn.log") && err.contains("#path conn"),
        "{err}"
    );
    assert!(err.contains("Zeek ASCII log"), "{err}");

    // EVE with no DNS at all.
    let f = d.path().join("alerts.json");
    std::fs::write(
        &f,
        "{\"timestamp\":\"2020-01-01T00:00:00.000000+0000\",\"event_type\":\"alert\"}\n",
    )
    .unwrap();
    let err = rejected(&f);
    assert!(
        err.contains("alerts.json") && err.contains("1 not DNS"),
        "{err}"
    );
    assert!(err.contains("Suricata EVE"), "{err}");
}

#[test]
fn dnstap_frame_streams_file_whose_frames_are_all_garbage_exits_2() {
    // Decoded since issue 15 (tests/integration/dnstap_live.rs replays a real
    // one); a file with nothing usable is still an error naming it.
    let d = tempfile::tempdir().unwrap();
    let ct = b"protobuf:dnstap.Dnstap";
    let mut f = vec![0u8; 4];
    for v in [4 + 8 + ct.len() as u32, 2, 1, ct.len() as u32] {
        f.extend_from_slice(&v.to_be_bytes());
    }
    f.extend_from_slice(ct);
    f.extend_from_slice(&[0, 0, 0, 2, 0xff, 0xff]);
    let p = d.path().join("resolver.fstrm");
    std::fs::write(&p, &f).unwrap();
    let err = rejected(&p);
    assert!(err.contains("resolver.fstrm"), "{err}");
    assert!(err.contains("no usable dnstap message"), "{err}");
}
