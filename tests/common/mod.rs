//! Test-data helpers of the `tests/flows_*.rs` binaries only: they move to
//! their own crate with `src/flows` (issue 11) and take this file along. The
//! DNS integration tests use the same rule from `tests/integration/util`.
#![allow(dead_code)]

use std::path::PathBuf;

/// The shared data set: `$SENTINELDNS_SHARED_DATA` if set, else
/// `../shared/data` next to this repository. Panics with a clear message when
/// it is missing: a test whose data is absent fails, it never skips.
pub fn shared_data() -> PathBuf {
    let root = std::env::var_os("SENTINELDNS_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    assert!(
        root.is_dir(),
        "shared test data not found at {}: check out ../shared next to this repository or set SENTINELDNS_SHARED_DATA",
        root.display()
    );
    root
}

/// `rel` under [`shared_data`]; panics naming the path when it is missing.
pub fn shared(rel: &str) -> PathBuf {
    let p = shared_data().join(rel);
    assert!(
        p.exists(),
        "shared test data {} is missing (from ../shared/data or $SENTINELDNS_SHARED_DATA)",
        p.display()
    );
    p
}
