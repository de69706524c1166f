//! Where test data lives. Also compiled into `examples/lexical_calibration.rs`
//! (with `datasets.rs`), so it depends on nothing else in `util`.
//!
//! A missing file or folder fails the test that asked for it, naming the path:
//! no test skips or passes vacuously because its data is absent.

use std::path::{Path, PathBuf};

/// The repository checkout (`CARGO_MANIFEST_DIR`).
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `rel` under the checkout (fixtures, models, the shipped sample); panics
/// naming the path when it is missing.
pub fn repo_file(rel: &str) -> PathBuf {
    let p = repo().join(rel);
    assert!(p.exists(), "{} is missing from the checkout", p.display());
    p
}

/// The shared data set: `$SENTINELDNS_SHARED_DATA` if set, else
/// `../shared/data` next to this repository. Panics with a clear message when
/// it is missing: a test whose data is absent fails, it never skips.
pub fn shared_data() -> PathBuf {
    let root = std::env::var_os("SENTINELDNS_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/data"));
    assert!(
        root.is_dir(),
        "shared test data not found at {}: check out ../shared next to this repository or set SENTINELDNS_SHARED_DATA",
        root.display()
    );
    root
}

/// `rel` under [`shared_data`] (`hostile/NAME`, `pcap`, `domains/...`);
/// panics naming the path when it is missing.
pub fn shared(rel: &str) -> PathBuf {
    let p = shared_data().join(rel);
    assert!(
        p.exists(),
        "shared test data {} is missing (from ../shared/data or $SENTINELDNS_SHARED_DATA)",
        p.display()
    );
    p
}

/// A reproducer from `../shared/data/hostile` (see its README.md): inputs
/// that once crashed, hung or exhausted the sensor.
pub fn hostile(name: &str) -> PathBuf {
    shared(&format!("hostile/{name}"))
}

/// The entries of `dir`, sorted; panics when it cannot be read.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| {
            e.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
                .path()
        })
        .collect();
    v.sort();
    v
}

/// Every file under `dir`, recursively, sorted; panics when a folder cannot
/// be read.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in files_in(dir) {
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}
