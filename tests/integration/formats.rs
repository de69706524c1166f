//! Formats that are what they say (issue 17): the Suricata EVE and Zeek
//! dns.log (TSV and JSON) outputs are read back by sentineldns's own EVE
//! and Zeek readers and give the same lookups per host (names, types,
//! response codes, addresses) and the same number of windows as the replay
//! that wrote them; syslog messages reach UDP, TCP and unix-socket
//! receivers as well-formed RFC 5424, escaped, and a receiver that cannot
//! be reached does not hold the replay up.

use crate::util::{assert_success, json_lines, repo_file, run_with_deadline, sensor, shared};
use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One lookup as compared across formats.
type Key = (String, String, String, Vec<String>);

#[derive(Debug)]
struct Replay {
    /// Per client host, its lookups (name, type, response code, sorted
    /// addresses), sorted.
    lookups: BTreeMap<String, Vec<Key>>,
    windows: usize,
    stderr: String,
}

/// Replay `inputs` (`--no-model`) with lookup NDJSON in a file and `extra`
/// flags.
fn replay<S: AsRef<OsStr>>(dir: &Path, tag: &str, inputs: &[PathBuf], extra: &[S]) -> Replay {
    let nd = dir.join(format!("{tag}.ndjson"));
    let mut c = sensor();
    c.args([
        "replay",
        "--no-model",
        "--quiet",
        "--format",
        "none",
        "--db",
    ])
    .arg(dir.join(format!("{tag}.db")))
    .arg("--ndjson")
    .arg(&nd)
    .arg("--ndjson-lookups")
    .args(extra)
    .args(inputs);
    let o = run_with_deadline(c, Duration::from_secs(120));
    assert_success(&o, tag);
    let text = std::fs::read_to_string(&nd).unwrap();
    let mut lookups: BTreeMap<String, Vec<Key>> = BTreeMap::new();
    let mut windows = 0;
    for v in json_lines(text) {
        match v["event"]["dataset"].as_str() {
            Some("sentineldns.lookup") => {
                let s = |x: &Value| x.as_str().unwrap_or("").to_string();
                let mut ips: Vec<String> = v["dns"]["resolved_ip"]
                    .as_array()
                    .map(|a| a.iter().map(s).collect())
                    .unwrap_or_default();
                ips.sort();
                lookups.entry(s(&v["source"]["ip"])).or_default().push((
                    s(&v["dns"]["question"]["name"]),
                    s(&v["dns"]["question"]["type"]),
                    s(&v["dns"]["response_code"]),
                    ips,
                ));
            }
            Some("sentineldns.window") => windows += 1,
            _ => {}
        }
    }
    for l in lookups.values_mut() {
        l.sort();
    }
    Replay {
        lookups,
        windows,
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn assert_same(what: &str, a: &Replay, b: &Replay) {
    assert!(!a.lookups.is_empty(), "{what}: no lookups at all");
    assert_eq!(
        a.lookups.keys().collect::<Vec<_>>(),
        b.lookups.keys().collect::<Vec<_>>(),
        "{what}: hosts differ\n{}",
        b.stderr
    );
    for (host, la) in &a.lookups {
        let lb = &b.lookups[host];
        if la != lb {
            let only_a: Vec<_> = la.iter().filter(|k| !lb.contains(k)).take(5).collect();
            let only_b: Vec<_> = lb.iter().filter(|k| !la.contains(k)).take(5).collect();
            panic!(
                "{what}: lookups of {host} differ ({} vs {}); only in the original: {only_a:?}; only read back: {only_b:?}",
                la.len(),
                lb.len()
            );
        }
    }
    assert_eq!(a.windows, b.windows, "{what}: window counts differ");
}

/// Replay `inputs` writing EVE, Zeek TSV and Zeek JSON, then replay each
/// output and compare.
fn round_trip(inputs: &[PathBuf]) {
    let d = tempfile::tempdir().unwrap();
    let (eve, tsv) = (d.path().join("eve.json"), d.path().join("dns.log"));
    let zjson = d.path().join("dns.json");
    let orig = replay(
        d.path(),
        "orig",
        inputs,
        &[
            OsStr::new("--eve"),
            eve.as_os_str(),
            OsStr::new("--zeek"),
            tsv.as_os_str(),
        ],
    );
    // The JSON writer in a second run of the same input.
    let again = replay(
        d.path(),
        "orig2",
        inputs,
        &[
            OsStr::new("--zeek"),
            zjson.as_os_str(),
            OsStr::new("--zeek-format"),
            OsStr::new("json"),
        ],
    );
    assert_same("the same input twice", &orig, &again);
    let header = std::fs::read_to_string(&tsv).unwrap();
    assert!(
        header.starts_with("#separator \\x09\n"),
        "{}",
        &header[..80]
    );
    assert!(header
        .trim_end()
        .lines()
        .last()
        .unwrap()
        .starts_with("#close\t"));
    for (what, file) in [("EVE", &eve), ("Zeek TSV", &tsv), ("Zeek JSON", &zjson)] {
        let back = replay(d.path(), what, std::slice::from_ref(file), &[] as &[&str]);
        assert_same(what, &orig, &back);
    }
}

#[test]
fn eve_and_zeek_of_a_udp_capture_read_back_as_the_same_lookups() {
    round_trip(&[shared("pcap/dns-oarc/dnscap/dns.pcap")]);
}

#[test]
fn eve_and_zeek_of_a_tcp_capture_read_back_as_the_same_lookups() {
    round_trip(&[shared("pcap/dns-oarc/dnscap/dnso1tcp.pcap")]);
}

#[test]
fn eve_and_zeek_of_the_simulation_read_back_as_the_same_lookups() {
    round_trip(&[repo_file("simulations/sample.jsonl")]);
}

/// The parts of an RFC 5424 message: (PRI, version, MSGID, SD, MSG).
fn parse_5424(m: &str) -> (u16, String, String, String) {
    let rest = m.strip_prefix('<').unwrap_or_else(|| panic!("no PRI: {m}"));
    let (pri, rest) = rest.split_once('>').unwrap();
    let pri: u16 = pri.parse().unwrap();
    assert!(pri < 192, "{m}");
    let rest = rest
        .strip_prefix("1 ")
        .unwrap_or_else(|| panic!("not version 1: {m}"));
    let f: Vec<&str> = rest.splitn(6, ' ').collect();
    assert_eq!(f.len(), 6, "{m}");
    let (ts, host, app, _pid, msgid, sd_msg) = (f[0], f[1], f[2], f[3], f[4], f[5]);
    assert!(ts.ends_with('Z') && ts.contains('T'), "{m}");
    assert!(!host.is_empty() && app == "sentineldns", "{m}");
    assert!(sd_msg.starts_with("[sentineldns@32473 "), "{m}");
    // The SD element ends at the first `]` not escaped by `\`.
    let b = sd_msg.as_bytes();
    let mut i = 1;
    let mut in_q = false;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'"' => in_q = !in_q,
            b']' if !in_q => break,
            _ => {}
        }
        i += 1;
    }
    assert!(i < b.len(), "unterminated SD: {m}");
    let sd = sd_msg[..=i].to_string();
    let msg = sd_msg[i + 1..].trim_start().to_string();
    (pri, msgid.to_string(), sd, msg)
}

/// A JSONL input whose DGA-looking host gets flagged, with a hostile name.
fn flagged_input(dir: &Path) -> PathBuf {
    let p = dir.join("in.jsonl");
    let mut s = String::new();
    for i in 0..80 {
        s.push_str(&crate::util::event_line(
            1_709_539_200.0 + f64::from(i),
            "10.0.0.9",
            &format!("xq{i}zvkrw{}.info", i * 7919 % 1000),
            "A",
            "NXDOMAIN",
        ));
    }
    // A name with `]`, `"`, a newline and a control character
    // (JSON-escaped).
    s.push_str(
        "{\"ts\":1709539290.0,\"host\":\"10.0.0.9\",\"domain\":\"a]b\\\"c\\n\\u0001d.evil.info\",\"qtype\":\"A\",\"rcode\":\"NXDOMAIN\"}\n",
    );
    std::fs::write(&p, s).unwrap();
    p
}

fn replay_syslog(dir: &Path, url: &str, input: &Path) -> std::process::Output {
    let mut c = sensor();
    // A database of its own: a second run over the same one would join the
    // incident the first opened instead of opening one.
    let db = dir.join(format!("{}.db", &url[..3]));
    c.args(["replay", "--quiet", "--format", "none", "--db"])
        .arg(db)
        .args(["--syslog", url, "--syslog-min-label", "unusual"])
        .arg(input);
    run_with_deadline(c, Duration::from_secs(120))
}

fn check_messages(msgs: &[String]) {
    assert!(!msgs.is_empty(), "no syslog message");
    let mut incident = false;
    for m in msgs {
        let (pri, msgid, sd, msg) = parse_5424(m);
        assert_eq!(pri / 8, 16, "facility local0: {m}");
        assert!(matches!(pri % 8, 2 | 4), "crit or warning: {m}");
        assert!(sd.contains("host=\"10.0.0.9\""), "{m}");
        assert!(sd.contains(" label=\"") && sd.contains(" score=\""), "{m}");
        assert!(!m.contains('\n') && !m.contains('\u{1}'), "{m:?}");
        assert!(!msg.is_empty());
        let ts = m.split(' ').nth(1).unwrap();
        assert!(ts.starts_with("2024-03-04T08:"), "packet time: {m}");
        incident |= msgid == "incident" && sd.contains(" incident=\"");
    }
    assert!(incident, "no incident message in {msgs:#?}");
}

#[test]
fn syslog_reaches_udp_tcp_and_unix_receivers_as_rfc5424() {
    let d = tempfile::tempdir().unwrap();
    let input = flagged_input(d.path());

    // UDP.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let url = format!("udp://{}", udp.local_addr().unwrap());
    let o = replay_syslog(d.path(), &url, &input);
    assert_success(&o, "replay --syslog udp");
    let mut msgs = Vec::new();
    let mut buf = [0u8; 4096];
    udp.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    while let Ok(n) = udp.recv(&mut buf) {
        msgs.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    check_messages(&msgs);

    // TCP, octet-counted.
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}", tcp.local_addr().unwrap());
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let (mut s, _) = tcp.accept().unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        all
    });
    let o = replay_syslog(d.path(), &url, &input);
    assert_success(&o, "replay --syslog tcp");
    let all = reader.join().unwrap();
    let mut msgs = Vec::new();
    let mut rest = &all[..];
    while !rest.is_empty() {
        let sp = rest.iter().position(|b| *b == b' ').expect("octet count");
        let n: usize = std::str::from_utf8(&rest[..sp]).unwrap().parse().unwrap();
        msgs.push(String::from_utf8_lossy(&rest[sp + 1..sp + 1 + n]).into_owned());
        rest = &rest[sp + 1 + n..];
    }
    check_messages(&msgs);
    // The hostile name reaches the messages through the explanation: no
    // newline or control character survives (checked above), and the
    // message still parses as one RFC 5424 message (its `]` and `"` are
    // MSG text; parameter escaping is unit-tested in output::syslog).
    assert!(
        msgs.iter().any(|m| m.contains("d.evil.info")),
        "the hostile name is not in any message: {msgs:#?}"
    );

    // A unix datagram socket.
    let sock = d.path().join("log.sock");
    let unix = std::os::unix::net::UnixDatagram::bind(&sock).unwrap();
    unix.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let o = replay_syslog(d.path(), &format!("unix:{}", sock.display()), &input);
    assert_success(&o, "replay --syslog unix");
    let mut msgs = Vec::new();
    while let Ok(n) = unix.recv(&mut buf) {
        msgs.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    check_messages(&msgs);
}

#[test]
fn an_unreachable_syslog_receiver_does_not_block_the_replay() {
    let d = tempfile::tempdir().unwrap();
    let input = flagged_input(d.path());
    // A port nobody listens on.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}", l.local_addr().unwrap());
    drop(l);
    let t0 = Instant::now();
    let mut c = sensor();
    c.args(["replay", "--format", "none", "--db"])
        .arg(d.path().join("u.db"))
        .args(["--syslog", &url])
        .arg(&input);
    let o = run_with_deadline(c, Duration::from_secs(60));
    assert_success(&o, "replay with an unreachable syslog");
    assert!(t0.elapsed() < Duration::from_secs(30));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("syslog: 0 sent"), "{err}");
}
