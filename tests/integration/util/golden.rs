//! Golden files: output compared with a committed copy under `tests/golden`.
//!
//! A difference fails the test with a line diff (`-` expected, `+` actual).
//! After an intended change, rewrite the files and review them like code:
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test --test integration golden::
//! git diff tests/golden
//! ```

use super::repo;
use std::fmt::Write as _;

/// The variable that rewrites the golden files instead of comparing.
pub const UPDATE_VAR: &str = "UPDATE_GOLDEN";

/// Compare `actual` with `tests/golden/<name>` (or rewrite that file when
/// `UPDATE_GOLDEN=1`). A missing golden file fails, saying how to create it.
pub fn assert_golden(name: &str, actual: &str) {
    let path = repo().join("tests/golden").join(name);
    if std::env::var_os(UPDATE_VAR).is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("tests/golden"))
            .unwrap_or_else(|e| panic!("cannot create tests/golden: {e}"));
        std::fs::write(&path, actual)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        eprintln!("{UPDATE_VAR}=1: rewrote {}", path.display());
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "golden file {} cannot be read ({e}); create it with \
             `{UPDATE_VAR}=1 cargo test --test integration golden::` and commit it",
            path.display()
        )
    });
    if expected != actual {
        panic!(
            "output differs from {} (- expected, + actual):\n{}\n\
             If the change is intended, rewrite the file with \
             `{UPDATE_VAR}=1 cargo test --test integration golden::` and review `git diff tests/golden`.",
            path.display(),
            line_diff(&expected, actual)
        );
    }
}

/// A line diff of `a` (expected) and `b` (actual): the changed lines with
/// up to three lines of context, `-` for lines only in `a`, `+` only in `b`.
pub fn line_diff(a: &str, b: &str) -> String {
    const CONTEXT: usize = 3;
    const MAX_LINES: usize = 300;
    let a: Vec<&str> = a.lines().collect();
    let b: Vec<&str> = b.lines().collect();
    // Common prefix and suffix need no table.
    let pre = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (x, y) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    if x.is_empty() && y.is_empty() {
        return "(the lines are equal: the texts differ in line endings or the final newline)"
            .into();
    }
    // Longest common subsequence of the middle, then walk it.
    let (n, m) = (x.len(), y.len());
    let w = m + 1;
    let mut lcs = vec![0u32; (n + 1) * w];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * w + j] = if x[i] == y[j] {
                lcs[(i + 1) * w + j + 1] + 1
            } else {
                lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &str)> = a[pre.saturating_sub(CONTEXT)..pre]
        .iter()
        .map(|l| (' ', *l))
        .collect();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && x[i] == y[j] {
            ops.push((' ', x[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) {
            ops.push(('-', x[i]));
            i += 1;
        } else {
            ops.push(('+', y[j]));
            j += 1;
        }
    }
    ops.extend(a[a.len() - suf..].iter().take(CONTEXT).map(|l| (' ', *l)));
    let mut out = format!(
        "@@ from line {} (expected {} lines, actual {} lines) @@\n",
        pre.saturating_sub(CONTEXT) + 1,
        a.len(),
        b.len()
    );
    for (k, (op, line)) in ops.iter().enumerate() {
        if k == MAX_LINES {
            let _ = writeln!(out, "... {} more diff lines", ops.len() - MAX_LINES);
            break;
        }
        let _ = writeln!(out, "{op} {line}");
    }
    out
}
