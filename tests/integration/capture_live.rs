//! Live capture against real DNS software, in a network namespace this test
//! creates: unbound answers in namespace `sdnsNNNN` behind a veth pair, `dig`
//! asks from the host side over UDP and TCP, and `sentineldns capture` listens
//! on the host end of the veth (only addresses in 10.231.0.0/24 are used).
//!
//! Checks: the lookups stored match what dig sent (names, NXDOMAINs, TCP),
//! windows appear, SIGHUP reloads the allow-list, SIGTERM flushes the open
//! window and exits 0, and the process had dropped root to `nobody` while it
//! ran. Needs root, iproute2, unbound and dig (`.ci/run` installs them); when
//! they are missing the test fails saying why — it never skips silently.

use crate::util::{self, read_json, stored_windows};
use std::io::{BufRead, BufReader};
use std::path::Path;
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

/// Tears the namespace, veth and resolver down whatever happens.
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

/// Root plus `tools` (and iproute2, unbound, dig, which every live test uses).
fn require_environment(tools: &[&str]) {
    let uid = sh("id", &["-u"]);
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "live capture tests need root (they create a network namespace and open a capture)"
    );
    for tool in ["ip", "unbound", "dig"].iter().chain(tools) {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            found,
            "{tool} is not installed (.ci/run installs iproute2 unbound bind9-dnsutils dnsperf)"
        );
    }
}

/// A namespace `sdns{n}{pid}` with unbound on 10.231.{n}.1 and the host end
/// at 10.231.{n}.2 (`n` keeps parallel tests apart).
fn lab(dir: &Path, n: u8) -> Lab {
    let id = std::process::id() % 10_000;
    let lab = Lab {
        ns: format!("sdns{n}x{id}"),
        host_if: format!("sdh{n}x{id}"),
        resolver: None,
    };
    let peer = format!("sdp{n}x{id}");
    let ip = |last: u8| format!("10.231.{n}.{last}");
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
    must(
        "ip",
        &["addr", "add", &format!("{}/24", ip(2)), "dev", &lab.host_if],
    );
    must("ip", &["link", "set", &lab.host_if, "up"]);
    let nsx = |args: &[&str]| {
        let mut a = vec!["netns", "exec", &lab.ns];
        a.extend_from_slice(args);
        must("ip", &a);
    };
    nsx(&["ip", "addr", "add", &format!("{}/24", ip(1)), "dev", &peer]);
    nsx(&["ip", "link", "set", &peer, "up"]);
    nsx(&["ip", "link", "set", "lo", "up"]);
    let conf = dir.join("unbound.conf");
    std::fs::write(
        &conf,
        format!(
            r#"server:
    interface: {server}
    port: 53
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
"#,
            dir = dir.display(),
            server = ip(1)
        ),
    )
    .unwrap();
    let ub_log = dir.join("unbound.log");
    let resolver = Command::new("ip")
        .args(["netns", "exec", &lab.ns, "unbound", "-d", "-c"])
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&ub_log).unwrap())
        .spawn()
        .expect("start unbound");
    let mut lab = lab;
    lab.resolver = Some(resolver);
    // Wait until it answers.
    let t0 = Instant::now();
    loop {
        let at = format!("@{}", ip(1));
        let o = sh(
            "dig",
            &[&at, "www.example.test", "+short", "+time=1", "+tries=1"],
        );
        if String::from_utf8_lossy(&o.stdout).contains("10.9.9.9") {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "unbound did not come up in the namespace: {}\ndig: {}\n{}\n{}",
            std::fs::read_to_string(&ub_log).unwrap_or_default(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&sh("ip", &["-br", "addr"]).stdout),
            String::from_utf8_lossy(&sh("ip", &["netns", "exec", &lab.ns, "ss", "-lunp"]).stdout),
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    lab
}

fn dig(n: u8, args: &[&str]) {
    let at = format!("@10.231.{n}.1");
    let mut a = vec![at.as_str(), "+time=2", "+tries=1"];
    a.extend_from_slice(args);
    let o = sh("dig", &a);
    assert!(o.status.success(), "dig {args:?} failed");
}

fn uid_of(pid: u32) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace()
        .skip(1)
        .map(|v| v.parse().unwrap())
        .collect()
}

/// A running `sentineldns capture` whose stderr is followed on a thread.
struct Sensor {
    child: Child,
    lines: mpsc::Receiver<String>,
    log: Vec<String>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Sensor {
    /// Start `program args...` (the sensor, or a wrapper such as setpriv
    /// around it) and wait until it is capturing.
    fn start(mut cmd: Command) -> Sensor {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sentineldns capture");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut s = Sensor {
            child,
            lines,
            log: Vec::new(),
            reader: Some(reader),
        };
        s.wait_until(|log| log.iter().any(|l| l.contains("capturing on")));
        s
    }

    fn pid(&self) -> String {
        self.child.id().to_string()
    }

    /// Read stderr until `done(log)` holds (30 s at most).
    fn wait_until(&mut self, done: impl Fn(&[String]) -> bool) {
        let t0 = Instant::now();
        while !done(&self.log) {
            match self.lines.recv_timeout(Duration::from_secs(1)) {
                Ok(l) => self.log.push(l),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("the sensor exited early; stderr:\n{}", self.text())
                }
                Err(mpsc::RecvTimeoutError::Timeout) => assert!(
                    t0.elapsed() < Duration::from_secs(30),
                    "the sensor did not get there; stderr so far:\n{}",
                    self.text()
                ),
            }
        }
    }

    fn text(&self) -> String {
        self.log.join("\n")
    }

    /// SIGTERM; the exit must come within 20 s and be a success. Returns the
    /// whole stderr.
    fn stop(mut self) -> String {
        must("kill", &["-TERM", &self.pid()]);
        let t0 = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "sensor did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        if let Some(r) = self.reader.take() {
            r.join().unwrap();
        }
        while let Ok(l) = self.lines.try_recv() {
            self.log.push(l);
        }
        assert!(status.success(), "exit {status:?}\n{}", self.text());
        self.text()
    }
}

/// A scratch directory the sensor can write after dropping to `nobody`.
fn writable_dir(dir: &Path) -> std::path::PathBuf {
    let data = dir.join("data");
    std::fs::create_dir(&data).unwrap();
    must("chmod", &["0777", data.to_str().unwrap()]);
    must("chmod", &["0755", dir.to_str().unwrap()]);
    data
}

#[test]
fn live_capture_of_a_real_resolver_stores_what_dig_asked_and_flushes_on_sigterm() {
    require_environment(&[]);
    let dir = tempfile::tempdir().unwrap();
    let data = writable_dir(dir.path());
    let allow = data.join("allow.txt");
    std::fs::write(&allow, "# empty at start\n").unwrap();
    let intel = data.join("intel.txt");
    std::fs::write(&intel, "# empty at start\n").unwrap();
    let config = data.join("sensor.toml");
    let thresholds = |u: f64, l: f64| {
        std::fs::write(
            &config,
            format!("[sensor]\nthresholds = {{ unusual = {u}, likely = {l} }}\n"),
        )
        .unwrap()
    };
    thresholds(0.45, 0.75);
    let lab = lab(dir.path(), 0);
    let db = data.join("live.db");
    let summary = data.join("summary.json");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api = format!("127.0.0.1:{port}");
    let mut cmd = util::sensor();
    cmd.args(["capture", "--interface", &lab.host_if, "--user", "nobody"])
        .args(["--serve", &api])
        .args(["--window", "1m", "--grace", "10s", "--format", "none"])
        .args(["--log-level", "info", "--db"])
        .arg(&db)
        .arg("--config")
        .arg(&config)
        .arg("--summary-json")
        .arg(&summary)
        .arg("--allowlist")
        .arg(&allow)
        .arg("--intel")
        .arg(&intel)
        .arg("--write-pcap")
        .arg(data.join("ring"));
    let mut sensor = Sensor::start(cmd);

    // It dropped root before reading packets.
    let uids = uid_of(sensor.child.id());
    assert!(uids.iter().all(|u| *u == 65534), "uids {uids:?}");

    // `--serve`: the API answers over the capture's own database while it
    // runs, and its health is the sensor's (no trouble yet).
    sensor.wait_until(|log| log.iter().any(|l| l.contains("serving http://")));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let get = |path: &str| -> (u16, serde_json::Value) {
        let r = agent.get(&format!("http://{api}{path}")).call().unwrap();
        let status = r.status().as_u16();
        let text = r.into_body().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap())
    };
    let (status, health) = get("/healthz");
    assert_eq!(
        (status, health["status"].as_str()),
        (200, Some("ok")),
        "{health}"
    );
    let (status, runs) = get("/api/v1/runs");
    assert_eq!(status, 200, "{runs}");
    assert!(runs.to_string().contains("\"capture\""), "{runs}");

    // Traffic: 10 resolving lookups, 12 NXDOMAIN, 3 over TCP, 2 TXT.
    for _ in 0..5 {
        dig(0, &["www.example.test", "A"]);
        dig(0, &["mail.example.test", "A"]);
    }
    for i in 0..12 {
        dig(0, &[&format!("q{i}xkzvt.example.test"), "A"]);
    }
    for _ in 0..3 {
        dig(0, &["+tcp", "www.example.test", "A"]);
    }
    dig(0, &["cfg.example.test", "TXT"]);
    dig(0, &["cfg.example.test", "TXT"]);

    // SIGHUP re-reads the allow-list file (one entry more, then one less) and
    // the configuration's thresholds.
    fn reloaded(log: &[String]) -> Vec<u64> {
        log.iter()
            .filter(|l| l.contains("allow-list reloaded"))
            .filter_map(|l| {
                l.split("entries=")
                    .nth(1)?
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
            .collect()
    }
    std::fs::write(&allow, "example.test\n").unwrap();
    std::fs::write(&intel, "bad.example.test\n").unwrap();
    must("kill", &["-HUP", &sensor.pid()]);
    sensor.wait_until(|log| reloaded(log).len() == 1);
    sensor.wait_until(|log| {
        log.iter()
            .any(|l| l.contains("threat-intel lists reloaded") && l.contains("entries=1"))
    });
    // A threat-intel list that no longer parses keeps the running one.
    std::fs::write(&intel, "not a domain!\n").unwrap();
    std::fs::write(&allow, "# empty again\n").unwrap();
    thresholds(0.5, 0.8);
    must("kill", &["-HUP", &sensor.pid()]);
    sensor.wait_until(|log| reloaded(log).len() == 2);
    sensor.wait_until(|log| {
        log.iter()
            .any(|l| l.contains("thresholds reloaded") && l.contains("unusual=0.5"))
    });
    sensor.wait_until(|log| {
        log.iter()
            .any(|l| l.contains("threat-intel list does not load") && l.contains("intel.txt"))
    });
    let counts = reloaded(&sensor.log);
    assert_eq!(counts[0], counts[1] + 1, "{}", sensor.text());

    let text = sensor.stop();
    assert!(
        text.contains("dropped: 0 kernel, 0 interface, 0 queue"),
        "{text}"
    );

    // What was stored is what dig sent (only queries from 10.231.0.2).
    let windows = stored_windows(&db);
    assert!(!windows.is_empty(), "no window stored\n{text}");
    let (mut lookups, mut nx, mut txt) = (0, 0.0, 0.0);
    for w in &windows {
        assert_eq!(w["host"], "10.231.0.2", "{w}");
        let n = w["lookups"].as_u64().unwrap();
        lookups += n;
        // Every lookup was answered, so rates are shares of all lookups.
        nx += w["nxdomain_rate"].as_f64().unwrap() * n as f64;
        txt += w["txt_ratio"].as_f64().unwrap() * n as f64;
    }
    assert_eq!(lookups, 10 + 12 + 3 + 2, "{text}");
    assert_eq!(nx.round() as u64, 12);
    assert_eq!(txt.round() as u64, 2);
    let s = read_json(&summary);
    assert!(s["stats"]["tcp_messages"].as_u64().unwrap() >= 6, "{s}");
    assert_eq!(s["capture"]["queue_dropped"], 0);

    // The forensic ring holds the same traffic: replaying it gives the same lookups.
    let ring: Vec<_> = std::fs::read_dir(data.join("ring"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(ring.len(), 1, "{ring:?}");
    let replayed = util::sensor()
        .args(["replay", "--no-model", "--format", "none", "--db"])
        .arg(data.join("replay.db"))
        .arg("--summary-json")
        .arg(data.join("replay.json"))
        .arg(&ring[0])
        .output()
        .unwrap();
    assert!(
        replayed.status.success(),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    let r = read_json(&data.join("replay.json"));
    assert_eq!(r["lookups"], s["stats"]["lookups"], "{r}");
    drop(lab);
}

#[test]
fn capture_on_a_missing_interface_fails_naming_it() {
    let out = util::sensor()
        .args(["capture", "--interface", "nosuchif9", "--no-model"])
        .args(["--db", "/nonexistent/never-created.db"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("nosuchif9"), "{e}");
}

#[test]
fn a_bad_filter_is_refused_before_anything_opens() {
    let out = util::sensor()
        .args(["capture", "--interface", "lo", "--bpf", "udp port"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("bad BPF filter"), "{e}");
}

/// The systemd way: not root at all, only CAP_NET_RAW (+ CAP_NET_ADMIN for
/// promiscuous mode) as ambient capabilities (`setpriv` does what
/// `AmbientCapabilities=` does). Capture works and there is nothing to drop.
#[test]
fn capture_runs_unprivileged_with_ambient_capabilities() {
    require_environment(&[]);
    let dir = tempfile::tempdir().unwrap();
    let data = writable_dir(dir.path());
    let lab = lab(dir.path(), 1);
    let db = data.join("caps.db");
    let mut cmd = Command::new("setpriv");
    util::hermetic(&mut cmd)
        .args(["--reuid", "nobody", "--regid", "nogroup", "--clear-groups"])
        .args([
            "--inh-caps",
            "+net_raw,+net_admin",
            "--ambient-caps",
            "+net_raw,+net_admin",
        ])
        .arg(util::EXE)
        .args(["capture", "--interface", &lab.host_if, "--no-model"])
        .args(["--format", "none", "--log-level", "info", "--db"])
        .arg(&db)
        .current_dir(&data);
    let sensor = Sensor::start(cmd);
    assert!(
        sensor.log.iter().any(|l| l.contains("not root")),
        "{}",
        sensor.text()
    );
    for _ in 0..4 {
        dig(1, &["www.example.test", "A"]);
    }
    let text = sensor.stop();
    let lookups: u64 = stored_windows(&db)
        .iter()
        .map(|w| w["lookups"].as_u64().unwrap())
        .sum();
    assert_eq!(lookups, 4, "{text}");
}

/// A real load generator: dnsperf sends a fixed set of queries as fast as the
/// resolver answers them; every completed query is stored as a lookup, and
/// whatever could not be kept would show up as a counted drop (none expected
/// at this rate), never as a silent loss.
#[test]
fn dnsperf_queries_are_all_stored_or_counted() {
    require_environment(&["dnsperf"]);
    let dir = tempfile::tempdir().unwrap();
    let data = writable_dir(dir.path());
    let lab = lab(dir.path(), 3);
    let queries = data.join("queries.txt");
    let mut q = String::new();
    for i in 0..500 {
        match i % 3 {
            0 => q.push_str("www.example.test A\n"),
            1 => q.push_str("mail.example.test A\n"),
            _ => q.push_str(&format!("n{i}.example.test A\n")),
        }
    }
    std::fs::write(&queries, q).unwrap();
    let db = data.join("perf.db");
    let summary = data.join("perf.json");
    let mut cmd = util::sensor();
    cmd.args(["capture", "--interface", &lab.host_if, "--no-model"])
        .args(["--format", "none", "--db"])
        .arg(&db)
        .arg("--summary-json")
        .arg(&summary)
        .current_dir(&data);
    let sensor = Sensor::start(cmd);
    // Each query once (-n 1), 4 clients.
    let out = sh(
        "dnsperf",
        &[
            "-s",
            "10.231.3.1",
            "-d",
            queries.to_str().unwrap(),
            "-n",
            "1",
            "-c",
            "4",
            "-t",
            "2",
        ],
    );
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    let completed: u64 = report
        .lines()
        .find(|l| l.contains("Queries completed:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no dnsperf report:\n{report}"));
    assert!(completed >= 490, "{report}");
    sensor.stop();
    let s = read_json(&summary);
    let c = &s["capture"];
    let dropped = c["kernel_dropped"].as_u64().unwrap()
        + c["interface_dropped"].as_u64().unwrap()
        + c["queue_dropped"].as_u64().unwrap();
    let answered = s["stats"]["answered"].as_u64().unwrap();
    // Every completed query is an answered lookup, unless its packets were
    // dropped, in which case the drop was counted.
    assert!(
        answered + dropped >= completed,
        "answered {answered} + dropped {dropped} < completed {completed}\n{s}"
    );
    assert!(answered <= 500, "{s}");
    drop(lab);
}
