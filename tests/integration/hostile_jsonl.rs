//! Regression tests for the hostile JSONL reproducers in
//! `../shared/data/hostile` (see its README.md): the gzip line bomb
//! (`make_jsonl_line_bomb.sh`) and the quadratic long name
//! (`gen_jsonl_quadratic_name.py`). Both are generated here, at a size that
//! still proves the bound.

use crate::util;
use sentineldns::enrich::allowlist::AllowList;
use sentineldns::source::merge::{Item, Merger};
use sentineldns::source::SourceLimits;
use sentineldns::stats::{Bound, SkipReason, Stats};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// An `A` / `NOERROR` lookup as one JSONL line.
fn event(ts: u64, host: &str, domain: &str) -> String {
    util::event_line(ts as f64, host, domain, "A", "NOERROR")
}

fn gzip_member(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(data).expect("compress in memory");
    gz.finish().expect("compress in memory")
}

/// As `make_jsonl_line_bomb.sh`: a gzip file of concatenated members holding
/// one line of `line_mb` MiB (`{` then spaces), then a valid event. Returns
/// the path.
fn line_bomb(dir: &Path, line_mb: usize) -> std::path::PathBuf {
    let p = dir.join("bomb.jsonl.gz");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&p).expect("create bomb"));
    f.write_all(&gzip_member(b"{")).expect("write bomb");
    let chunk_mb = 8;
    let spaces = gzip_member(&vec![b' '; chunk_mb << 20]);
    for _ in 0..line_mb / chunk_mb {
        f.write_all(&spaces).expect("write bomb");
    }
    let tail = format!(
        "}}\n{}",
        event(1_709_543_702, "10.0.0.7", "after.bomb.example")
    );
    f.write_all(&gzip_member(tail.as_bytes()))
        .expect("write bomb");
    f.flush().expect("write bomb");
    p
}

/// Reproducer: a gzip JSONL file whose first line is 1.1 GiB. The line was
/// buffered whole (1 GB RSS per GB; 4 GB aborted with exit 134 and left the
/// run `running`). Now it must replay under a 1 GiB address-space limit (less
/// than the line), skip the line once as `jsonl_line_too_long` and still
/// count the next line.
#[test]
fn jsonl_line_bomb_is_bounded() {
    let prlimit = Command::new("prlimit").arg("--version").output();
    assert!(
        prlimit.is_ok_and(|o| o.status.success()),
        "this test needs `prlimit` (util-linux) to bound the replay's address space"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let line_mb = 1152;
    let bomb = line_bomb(dir.path(), line_mb);
    let db = dir.path().join("bomb.db");
    let t = Instant::now();
    let mut prlimit = Command::new("prlimit");
    let mut child = util::hermetic(&mut prlimit)
        .arg(format!("--as={}", 1u64 << 30))
        .arg("--")
        .arg(util::EXE)
        .args([
            "replay",
            "--no-model",
            "--format",
            "none",
            "--progress",
            "never",
            "--db",
        ])
        .arg(&db)
        .arg(&bomb)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start prlimit");
    // prlimit execs the binary: same pid. VmHWM only grows; poll it.
    let pid = child.id();
    let mut hwm = 0;
    while child.try_wait().expect("wait").is_none() {
        hwm = hwm.max(util::vm_hwm_kib(pid).unwrap_or(0));
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("replay output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "line bomb: {line_mb} MiB line replayed in {:.1} s, peak RSS seen {} MiB",
        t.elapsed().as_secs_f64(),
        hwm / 1024
    );
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        hwm < 256 * 1024,
        "peak RSS {hwm} KiB for a {line_mb} MiB line"
    );
    assert!(stderr.contains("jsonl_line_too_long 1"), "{stderr}");
    assert!(
        stderr.contains("line 1"),
        "the skip names its line: {stderr}"
    );
    let status: String = util::db_value(&db, "SELECT status FROM runs");
    assert_eq!(status, "complete");
    let lookups: i64 = util::db_value(
        &db,
        "SELECT COALESCE(SUM(lookups), 0) FROM windows WHERE host = '10.0.0.7'",
    );
    assert_eq!(lookups, 1, "the line after the bomb is a lookup");
}

/// As `gen_jsonl_quadratic_name.py 8192`: a name of 8 MiB of 63-byte labels.
fn quadratic_name(kb: usize) -> String {
    let mut s = String::with_capacity((kb << 10) + 4);
    let mut i = 0u64;
    while s.len() + 64 <= kb << 10 {
        // 63 pseudo-random label bytes
        for _ in 0..63 {
            i = i
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s.push(b"abcdefghijklmnopqrstuvwxyz0123456789"[(i >> 33) as usize % 36] as char);
        }
        s.push('.');
    }
    s.push_str("com");
    s
}

/// Reproducer: one JSONL lookup whose name is 8 MiB (33 s in the allow-list
/// before, stored twice). It must be refused with a reason, fast, while a
/// 253-byte name still passes; and the allow-list must not be quadratic.
#[test]
fn jsonl_quadratic_name_is_refused_fast() {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = dir.path().join("long.jsonl");
    let long = quadratic_name(8192);
    let l63 = "a".repeat(63);
    let max = format!("{l63}.{l63}.{l63}.{}", "b".repeat(61));
    assert_eq!(max.len(), 253);
    let text = [
        event(1_709_543_702, "10.0.0.7", &long),
        event(1_709_543_703, "10.0.0.7", &max),
        event(1_709_543_704, "10.0.0.7", &format!("x{max}")),
    ]
    .concat();
    std::fs::write(&p, text).expect("write input");
    let mut stats = Stats::default();
    let limits = SourceLimits {
        max_line_bytes: 16 << 20,
    };
    let t = Instant::now();
    let mut m = Merger::open_with(std::slice::from_ref(&p), limits, &mut stats).expect("open");
    let mut got = Vec::new();
    while let Some(it) = m.next_item(&mut stats) {
        if let Item::Event { event, line, .. } = it {
            got.push((line, event.domain.clone()));
        }
    }
    let took = t.elapsed();
    eprintln!("8 MiB name: read and refused in {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert_eq!(got, [(2, max.clone())]);
    assert_eq!(stats.skipped(SkipReason::JsonlBadLine), 2);
    let ex = stats.examples();
    assert_eq!(ex[0].position, 1);
    assert!(
        ex[0].detail.contains("over the 253-byte limit") && ex[0].detail.len() < 200,
        "{}",
        ex[0].detail
    );
    assert!(ex[1].detail.contains("254 bytes"), "{}", ex[1].detail);
    // With the default cap the same line is over-long instead, and not buffered.
    let mut stats = Stats::default();
    let mut m = Merger::open(std::slice::from_ref(&p), &mut stats).expect("open");
    let mut n = 0;
    while m.next_item(&mut stats).is_some() {
        n += 1;
    }
    assert_eq!(n, 1);
    assert_eq!(stats.skipped(SkipReason::JsonlLineTooLong), 1);
    assert_eq!(stats.evictions(Bound::JsonlLine), 1);
    // Any other route to the allow-list: linear, not quadratic.
    let a = AllowList::default_list();
    let t = Instant::now();
    assert!(!a.matches(&long));
    assert!(a.matches(&format!("{long}.cloudfront.net")));
    let took = t.elapsed();
    eprintln!("allow-list on an 8 MiB name: {took:?}");
    assert!(took < Duration::from_millis(500), "{took:?}");
}

/// `replay --jsonl-line-bytes` sets the cap: a 600-byte valid line is a lookup
/// by default and `jsonl_line_too_long` under a 512-byte cap.
#[test]
fn replay_jsonl_line_bytes_flag_sets_the_cap() {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = dir.path().join("wide.jsonl");
    let e = event(1_709_543_702, "10.0.0.7", "wide.example");
    let wide = format!(
        "{}{}}}\n",
        &e[..e.len() - 2],
        " ".repeat(600 - (e.len() - 1))
    );
    assert_eq!(wide.len(), 601);
    std::fs::write(
        &p,
        [wide, event(1_709_543_703, "10.0.0.7", "b.example")].concat(),
    )
    .expect("write input");
    let run = |extra: &[&str], db: &str| {
        let out = util::sensor()
            .args([
                "replay",
                "--no-model",
                "--format",
                "none",
                "--progress",
                "never",
            ])
            .args(extra)
            .arg("--db")
            .arg(dir.path().join(db))
            .arg(&p)
            .output()
            .expect("run replay");
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let default = run(&[], "a.db");
    assert!(!default.contains("jsonl_line_too_long"), "{default}");
    let capped = run(&["--jsonl-line-bytes", "512"], "b.db");
    assert!(capped.contains("jsonl_line_too_long 1"), "{capped}");
    assert!(
        capped.contains("600 bytes is over the 512-byte line cap"),
        "{capped}"
    );
}
