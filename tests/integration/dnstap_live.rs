//! dnstap input (issue 15), on real resolver output.
//!
//! * Replay of `tests/fixtures/dnstap/unbound.fstrm`, written by a real
//!   unbound through `fstrm_capture` (scripts/dnstap-fixture.sh): the
//!   lookups dig made, with their transports (UDP, TCP, DoT, DoH); a
//!   truncated copy keeps what precedes the cut and names its offset; a
//!   file whose every frame is garbage exits 2 naming it.
//! * Live (feature `capture`, root): unbound from Debian in a network
//!   namespace `sdtNNNN` logs client queries and responses to
//!   `sentineldns capture --dnstap unix:…` while `sentineldns capture
//!   --interface` captures the same veth; dig asks over UDP and TCP from
//!   10.231.7.2 and over DoT and DoH from 10.231.7.3. The UDP/TCP lookups
//!   and windows of 10.231.7.2 must be the same from dnstap as from the
//!   packets; the DoT/DoH lookups of 10.231.7.3 are seen by dnstap only.
//!   Needs root, iproute2, unbound (built with --enable-dnstap), dig ≥ 9.18
//!   (+tls, +https) and openssl; `.ci/run` installs them. Missing ones fail
//!   the test, naming them.

use crate::util::{self, json_lines, read_json, stored_windows};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    let p = util::repo_file("tests/fixtures/dnstap/unbound.fstrm");
    assert!(
        p.exists(),
        "{} is missing (scripts/dnstap-fixture.sh writes it)",
        p.display()
    );
    p
}

/// (client, qname, qtype, rcode, transport) → count, from NDJSON lookup lines.
type LookupCounts = BTreeMap<(String, String, String, String, String), u64>;

fn lookup_counts(ndjson: &Path) -> LookupCounts {
    let text =
        std::fs::read(ndjson).unwrap_or_else(|e| panic!("{} not written: {e}", ndjson.display()));
    let mut m = LookupCounts::new();
    for v in json_lines(&text) {
        if v["event"]["dataset"] != "sentineldns.lookup" {
            continue;
        }
        let s = |x: &serde_json::Value| x.as_str().unwrap_or("-").to_string();
        let transport = if v["network"]["application"].is_string() {
            s(&v["network"]["application"])
        } else {
            s(&v["network"]["transport"])
        };
        *m.entry((
            s(&v["source"]["ip"]),
            s(&v["dns"]["question"]["name"]),
            s(&v["dns"]["question"]["type"]),
            s(&v["dns"]["response_code"]),
            transport,
        ))
        .or_default() += 1;
    }
    m
}

fn replay(dir: &Path, input: &Path) -> std::process::Output {
    util::sensor()
        .args(["replay", "--no-model", "--format", "none", "--db"])
        .arg(dir.join("r.db"))
        .arg("--summary-json")
        .arg(dir.join("r.json"))
        .arg("--ndjson")
        .arg(dir.join("r.ndjson"))
        .arg("--ndjson-lookups")
        .arg(input)
        .output()
        .expect("run sentineldns replay")
}

#[test]
fn a_real_unbound_dnstap_file_replays_to_the_lookups_dig_made() {
    let dir = tempfile::tempdir().unwrap();
    let out = replay(dir.path(), &fixture());
    util::assert_success(&out, "replay of the unbound dnstap fixture");
    let c = lookup_counts(&dir.path().join("r.ndjson"));
    let host = "10.231.9.2";
    let get = |name: &str, rcode: &str, t: &str| {
        c.get(&(
            host.to_string(),
            name.to_string(),
            "A".to_string(),
            rcode.to_string(),
            t.to_string(),
        ))
        .copied()
        .unwrap_or(0)
    };
    // scripts/dnstap-fixture.sh: a readiness query, then the list below
    assert_eq!(get("www.example.test", "NOERROR", "udp"), 1, "{c:?}");
    assert_eq!(get("mail.example.test", "NOERROR", "udp"), 2, "{c:?}");
    for i in 1..=3 {
        assert_eq!(
            get(&format!("nx{i}.example.test"), "NXDOMAIN", "udp"),
            1,
            "{c:?}"
        );
    }
    assert_eq!(get("www.example.test", "NOERROR", "tcp"), 1, "{c:?}");
    assert_eq!(get("nx4.example.test", "NXDOMAIN", "tcp"), 1, "{c:?}");
    assert_eq!(get("www.example.test", "NOERROR", "dot"), 1, "{c:?}");
    assert_eq!(get("nx5.example.test", "NXDOMAIN", "dot"), 1, "{c:?}");
    assert_eq!(get("www.example.test", "NOERROR", "doh"), 1, "{c:?}");
    assert_eq!(c.values().sum::<u64>(), 12, "{c:?}");
    let s = read_json(&dir.path().join("r.json"));
    assert_eq!(s["dnstap_frames"], 24, "{s}");
    assert_eq!(s["dns_messages"], 24, "{s}");
    assert_eq!(s["answered"], 12, "{s}");
    assert_eq!(s["dnstap_resolver_messages"], 0, "{s}");
    let w = stored_windows(&dir.path().join("r.db"));
    let total: u64 = w.iter().map(|w| w["lookups"].as_u64().unwrap()).sum();
    assert_eq!(total, 12);
    let nx: f64 = w
        .iter()
        .map(|w| w["nxdomain_rate"].as_f64().unwrap() * w["lookups"].as_f64().unwrap())
        .sum();
    assert_eq!(nx.round() as u64, 5);
}

#[test]
fn a_cut_dnstap_file_keeps_what_precedes_the_cut_and_garbage_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let whole = std::fs::read(fixture()).unwrap();
    // cut 10 bytes into the last data frame (the STOP frame is 12 bytes)
    let cut = dir.path().join("cut.fstrm");
    std::fs::write(&cut, &whole[..whole.len() - 12 - 20]).unwrap();
    let out = replay(dir.path(), &cut);
    util::assert_success(&out, "replay of a cut dnstap file");
    let s = read_json(&dir.path().join("r.json"));
    assert_eq!(s["skipped"]["dnstap_bad_frame"], 1, "{s}");
    let ex = s["examples"].to_string();
    assert!(ex.contains("cut.fstrm") && ex.contains("truncated"), "{ex}");
    assert!(ex.contains("offset"), "{ex}");
    assert_eq!(s["dnstap_frames"], 23, "{s}");

    // START, then data frames that are not Dnstap protobufs
    let start_len = 42;
    let mut bad = whole[..start_len].to_vec();
    for _ in 0..3 {
        bad.extend_from_slice(&[0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff]);
    }
    let badp = dir.path().join("garbage.fstrm");
    std::fs::write(&badp, &bad).unwrap();
    let out = replay(dir.path(), &badp);
    assert_eq!(out.status.code(), Some(2), "{}", util::stderr(&out));
    let e = util::stderr(&out);
    assert!(
        e.contains("garbage.fstrm") && e.contains("no usable dnstap message"),
        "{e}"
    );
    assert!(e.contains("frame 1 at offset 42"), "{e}");
}

#[cfg(feature = "capture")]
mod live {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Command, Stdio};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    fn sh(cmd: &str, args: &[&str]) -> std::process::Output {
        Command::new(cmd)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {cmd}: {e} (install it: see .ci/run)"))
    }

    fn must(cmd: &str, args: &[&str]) {
        let o = sh(cmd, args);
        assert!(
            o.status.success(),
            "{cmd} {args:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    struct Lab {
        ns: String,
        host_if: String,
        resolver: Option<Child>,
    }

    impl Drop for Lab {
        fn drop(&mut self) {
            if let Some(mut r) = self.resolver.take() {
                let _ = r.kill();
                let _ = r.wait();
            }
            let _ = sh("ip", &["link", "del", &self.host_if]);
            let _ = sh("ip", &["netns", "del", &self.ns]);
        }
    }

    /// A child whose stderr is followed on a thread.
    struct Proc {
        child: Child,
        lines: mpsc::Receiver<String>,
        log: Vec<String>,
    }

    impl Proc {
        fn start(mut cmd: Command, ready: &str) -> Proc {
            let mut child = cmd
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start sentineldns");
            let stderr = child.stderr.take().unwrap();
            let (tx, lines) = mpsc::channel();
            std::thread::spawn(move || {
                for l in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let _ = tx.send(l);
                }
            });
            let mut p = Proc {
                child,
                lines,
                log: Vec::new(),
            };
            p.wait_for(ready);
            p
        }

        fn wait_for(&mut self, what: &str) {
            let t0 = Instant::now();
            while !self.log.iter().any(|l| l.contains(what)) {
                match self.lines.recv_timeout(Duration::from_secs(1)) {
                    Ok(l) => self.log.push(l),
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        panic!(
                            "sentineldns exited before {what:?}:\n{}",
                            self.log.join("\n")
                        )
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => assert!(
                        t0.elapsed() < Duration::from_secs(30),
                        "no {what:?} after 30 s:\n{}",
                        self.log.join("\n")
                    ),
                }
            }
        }

        /// SIGTERM; it must exit 0 within 20 s. Returns its stderr.
        fn stop(mut self) -> String {
            must("kill", &["-TERM", &self.child.id().to_string()]);
            let t0 = Instant::now();
            let status = loop {
                if let Some(s) = self.child.try_wait().unwrap() {
                    break s;
                }
                assert!(t0.elapsed() < Duration::from_secs(20), "no exit on SIGTERM");
                std::thread::sleep(Duration::from_millis(100));
            };
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(2) {
                match self.lines.recv_timeout(Duration::from_millis(200)) {
                    Ok(l) => self.log.push(l),
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                }
            }
            let text = self.log.join("\n");
            assert!(status.success(), "exit {status:?}\n{text}");
            text
        }
    }

    fn require_environment() {
        let uid = sh("id", &["-u"]);
        assert_eq!(
            String::from_utf8_lossy(&uid.stdout).trim(),
            "0",
            "the live dnstap test needs root (it creates a network namespace and captures packets to compare)"
        );
        for tool in ["ip", "unbound", "dig", "openssl"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            assert!(
                found,
                "{tool} is not installed (.ci/run installs iproute2 unbound bind9-dnsutils openssl)"
            );
        }
        let v = sh("unbound", &["-V"]);
        assert!(
            String::from_utf8_lossy(&v.stdout).contains("--enable-dnstap"),
            "this unbound is built without dnstap (`unbound -V` lacks --enable-dnstap)"
        );
    }

    const N: u8 = 7;

    fn ip(last: u8) -> String {
        format!("10.231.{N}.{last}")
    }

    /// Namespace, veth (host end 10.231.7.2 and .3), certificate, unbound
    /// config with dnstap to `sock`. Unbound is not started yet.
    fn lab(dir: &Path, sock: &Path) -> (Lab, PathBuf) {
        let id = std::process::id() % 10_000;
        let lab = Lab {
            ns: format!("sdt{N}x{id}"),
            host_if: format!("sdth{N}x{id}"),
            resolver: None,
        };
        let peer = format!("sdtp{N}x{id}");
        let _ = sh("ip", &["netns", "del", &lab.ns]);
        let _ = sh("ip", &["link", "del", &lab.host_if]);
        must("ip", &["netns", "add", &lab.ns]);
        must(
            "ip",
            &[
                "link",
                "add",
                &lab.host_if,
                "type",
                "veth",
                "peer",
                "name",
                &peer,
            ],
        );
        must("ip", &["link", "set", &peer, "netns", &lab.ns]);
        for last in [2, 3] {
            must(
                "ip",
                &[
                    "addr",
                    "add",
                    &format!("{}/24", ip(last)),
                    "dev",
                    &lab.host_if,
                ],
            );
        }
        must("ip", &["link", "set", &lab.host_if, "up"]);
        let nsx = |args: &[&str]| {
            let mut a = vec!["netns", "exec", &lab.ns];
            a.extend_from_slice(args);
            must("ip", &a);
        };
        nsx(&["ip", "addr", "add", &format!("{}/24", ip(1)), "dev", &peer]);
        nsx(&["ip", "link", "set", &peer, "up"]);
        nsx(&["ip", "link", "set", "lo", "up"]);
        let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
        must(
            "openssl",
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "30",
                "-subj",
                "/CN=resolver.test",
                "-keyout",
                key.to_str().unwrap(),
                "-out",
                cert.to_str().unwrap(),
            ],
        );
        let conf = dir.join("unbound.conf");
        std::fs::write(
            &conf,
            format!(
                r#"server:
    interface: {server}@53
    interface: {server}@853
    interface: {server}@443
    interface: 127.0.0.1@53
    tls-port: 853
    https-port: 443
    http-endpoint: "/dns-query"
    tls-service-key: "{key}"
    tls-service-pem: "{cert}"
    access-control: 10.231.0.0/16 allow
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{dir}"
    pidfile: "{dir}/unbound.pid"
    use-syslog: no
    logfile: ""
    do-ip6: no
    module-config: "iterator"
    local-zone: "." static
    local-zone: "example.test." static
    local-data: "www.example.test. 60 IN A 10.9.9.9"
    local-data: "mail.example.test. 60 IN A 10.9.9.10"
    local-data: "cfg.example.test. 60 IN TXT \"v=1\""
remote-control:
    control-enable: no
dnstap:
    dnstap-enable: yes
    dnstap-socket-path: "{sock}"
    dnstap-send-identity: yes
    dnstap-send-version: yes
    dnstap-log-client-query-messages: yes
    dnstap-log-client-response-messages: yes
"#,
                dir = dir.display(),
                server = ip(1),
                key = key.display(),
                cert = cert.display(),
                sock = sock.display(),
            ),
        )
        .unwrap();
        (lab, conf)
    }

    fn dig(from: u8, args: &[&str]) {
        let at = format!("@{}", ip(1));
        let b = ip(from);
        let mut a = vec![at.as_str(), "-b", b.as_str(), "+time=3", "+tries=1"];
        a.extend_from_slice(args);
        let o = sh("dig", &a);
        assert!(
            o.status.success() && String::from_utf8_lossy(&o.stdout).contains("status:"),
            "dig {a:?} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Per-host totals over the stored windows: lookups, NXDOMAINs, TXT
    /// lookups, and the per-name counts of the top domains.
    fn window_totals(db: &Path) -> BTreeMap<String, (u64, u64, u64, BTreeMap<String, u64>)> {
        let mut m: BTreeMap<String, (u64, u64, u64, BTreeMap<String, u64>)> = BTreeMap::new();
        for w in stored_windows(db) {
            let e = m
                .entry(w["host"].as_str().unwrap().to_string())
                .or_default();
            let n = w["lookups"].as_u64().unwrap();
            e.0 += n;
            e.1 += (w["nxdomain_rate"].as_f64().unwrap() * n as f64).round() as u64;
            e.2 += (w["txt_ratio"].as_f64().unwrap() * n as f64).round() as u64;
            for d in w["top_domains"].as_array().unwrap() {
                *e.3.entry(d["name"].as_str().unwrap().to_string())
                    .or_default() += d["count"].as_u64().unwrap();
            }
        }
        m
    }

    #[test]
    fn dnstap_from_a_live_unbound_gives_the_packet_windows_and_sees_dot_and_doh() {
        require_environment();
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        must("chmod", &["0777", data.to_str().unwrap()]);
        must("chmod", &["0755", dir.path().to_str().unwrap()]);
        let sock = dir.path().join("tap.sock");
        let (mut lab, conf) = lab(dir.path(), &sock);

        // 1. the dnstap sensor listens before unbound starts
        let mut cmd = util::sensor();
        cmd.args(["--log-level", "info", "capture", "--no-model"])
            .arg("--dnstap")
            .arg(format!("unix:{}", sock.display()))
            .args([
                "--window", "1m", "--grace", "10s", "--format", "none", "--db",
            ])
            .arg(data.join("dnstap.db"))
            .arg("--summary-json")
            .arg(data.join("dnstap.json"))
            .arg("--ndjson")
            .arg(data.join("dnstap.ndjson"))
            .arg("--ndjson-lookups");
        let mut tap = Proc::start(cmd, "capturing dnstap on");

        // 2. unbound connects (handshake) and answers (readiness from inside
        //    the namespace, client 127.0.0.1, which the veth never sees)
        let ub_log = dir.path().join("unbound.log");
        lab.resolver = Some(
            Command::new("ip")
                .args(["netns", "exec", &lab.ns, "unbound", "-d", "-c"])
                .arg(&conf)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&ub_log).unwrap())
                .spawn()
                .expect("start unbound"),
        );
        let t0 = Instant::now();
        loop {
            let o = sh(
                "ip",
                &[
                    "netns",
                    "exec",
                    &lab.ns,
                    "dig",
                    "@127.0.0.1",
                    "www.example.test",
                    "+short",
                    "+time=1",
                    "+tries=1",
                ],
            );
            if String::from_utf8_lossy(&o.stdout).contains("10.9.9.9") {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "unbound did not come up: {}",
                std::fs::read_to_string(&ub_log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        tap.wait_for("dnstap sender connected");

        // 3. the packet sensor on the host end of the veth
        let mut cmd = util::sensor();
        cmd.args(["--log-level", "info", "capture", "--no-model"])
            .args(["--interface", &lab.host_if, "--user", "nobody"])
            .args([
                "--window", "1m", "--grace", "10s", "--format", "none", "--db",
            ])
            .arg(data.join("pcap.db"))
            .arg("--ndjson")
            .arg(data.join("pcap.ndjson"))
            .arg("--ndjson-lookups");
        let pcap = Proc::start(cmd, "capturing on");

        // 4. traffic: from .2 over UDP and TCP, from .3 over DoT and DoH
        for _ in 0..5 {
            dig(2, &["www.example.test", "A"]);
            dig(2, &["mail.example.test", "A"]);
        }
        for i in 0..6 {
            dig(2, &[&format!("q{i}zx.example.test"), "A"]);
        }
        for _ in 0..3 {
            dig(2, &["+tcp", "www.example.test", "A"]);
        }
        dig(2, &["+tcp", "q9zx.example.test", "A"]);
        dig(2, &["cfg.example.test", "TXT"]);
        dig(2, &["cfg.example.test", "TXT"]);
        for _ in 0..3 {
            dig(3, &["-p", "853", "+tls", "www.example.test", "A"]);
        }
        dig(3, &["-p", "853", "+tls", "dotnx.example.test", "A"]);
        for _ in 0..2 {
            dig(3, &["-p", "443", "+https", "mail.example.test", "A"]);
        }

        // 5. stop: packets first; unbound (its dnstap stream ends); dnstap
        std::thread::sleep(Duration::from_secs(2));
        let pcap_text = pcap.stop();
        if let Some(mut r) = lab.resolver.take() {
            must("kill", &["-TERM", &r.id().to_string()]);
            let _ = r.wait();
        }
        std::thread::sleep(Duration::from_millis(500));
        let tap_text = tap.stop();
        assert!(
            tap_text.contains("dnstap capture stopped") && tap_text.contains("0 dropped"),
            "{tap_text}"
        );
        assert!(!sock.exists(), "the socket is removed at exit");

        // 6. compare
        let from_pcap = lookup_counts(&data.join("pcap.ndjson"));
        let from_tap = lookup_counts(&data.join("dnstap.ndjson"));
        let host2 = |m: &LookupCounts| -> LookupCounts {
            m.iter()
                .filter(|(k, _)| k.0 == ip(2))
                .map(|(k, v)| (k.clone(), *v))
                .collect()
        };
        assert_eq!(
            host2(&from_tap),
            host2(&from_pcap),
            "UDP/TCP lookups of {} differ\npcap: {pcap_text}\ndnstap: {tap_text}",
            ip(2)
        );
        assert_eq!(host2(&from_pcap).values().sum::<u64>(), 10 + 6 + 4 + 2);
        // DoT and DoH: dnstap only
        assert!(
            from_pcap.keys().all(|k| k.0 != ip(3)),
            "the packet path cannot read DoT/DoH: {from_pcap:?}"
        );
        let by_transport = |t: &str| -> u64 {
            from_tap
                .iter()
                .filter(|(k, _)| k.0 == ip(3) && k.4 == t)
                .map(|(_, v)| *v)
                .sum()
        };
        assert_eq!(by_transport("dot"), 4, "{from_tap:?}");
        assert_eq!(by_transport("doh"), 2, "{from_tap:?}");
        // windows: the same for .2; .3 only from dnstap
        let wp = window_totals(&data.join("pcap.db"));
        let wt = window_totals(&data.join("dnstap.db"));
        assert_eq!(wt.get(&ip(2)), wp.get(&ip(2)), "windows of {}", ip(2));
        let w2 = &wp[&ip(2)];
        assert_eq!((w2.0, w2.1, w2.2), (22, 7, 2), "{w2:?}");
        let w3 = &wt[&ip(3)];
        assert_eq!((w3.0, w3.1), (6, 1), "{w3:?}");
        assert!(!wp.contains_key(&ip(3)), "{wp:?}");
        let s = read_json(&data.join("dnstap.json"));
        assert!(s["dnstap"]["connections"].as_u64().unwrap() >= 1, "{s}");
        assert_eq!(s["dnstap"]["dropped"], 0, "{s}");
        assert_eq!(s["stats"]["dnstap_resolver_messages"], 0, "{s}");
        drop(lab);
    }
}
