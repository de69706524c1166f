//! Tables and text that fit the terminal (issue 17).
//!
//! The width a table is laid out for ([`width`]):
//!
//! * `--wide` (or `--no-truncate`): no limit;
//! * else the `COLUMNS` environment variable, when it holds a positive
//!   integer (set it to lay out for a width, e.g. in a script or a test);
//! * else the width of stdout when it is a terminal;
//! * else no limit. Output that goes to a pipe or a file is not truncated:
//!   `grep`, `less -S` and diffs see whole lines, as before this module.
//!   Machines should read `--format json`, which always holds the full text.
//!
//! Within a width, cells longer than their column are cut with `…`, columns
//! of least use are dropped first (see [`Layout`]), and explanations are
//! wrapped on word boundaries ([`wrap`]). Widths are display widths
//! (`unicode-width`): a CJK character takes two columns, a combining mark
//! none. Text is never escaped or altered otherwise: a name such as
//! `<script>` is printed as it is, only shortened.

use std::borrow::Cow;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// The ellipsis that ends a cut cell (one column wide).
pub const ELLIPSIS: char = '…';

/// The width tables are laid out for, `None` for no limit (see the module
/// docs).
pub fn width(wide: bool) -> Option<usize> {
    if wide {
        return None;
    }
    terminal_columns()
}

/// `COLUMNS` when it holds a positive integer, else the width of stdout
/// when it is a terminal, else `None`.
pub fn terminal_columns() -> Option<usize> {
    columns_from(std::env::var("COLUMNS").ok().as_deref(), || {
        terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| usize::from(w.0))
    })
}

fn columns_from(env: Option<&str>, tty: impl FnOnce() -> Option<usize>) -> Option<usize> {
    match env.and_then(|v| v.trim().parse::<usize>().ok()) {
        Some(n) if n > 0 => Some(n),
        _ => tty().filter(|n| *n > 0),
    }
}

/// Display width of `s` in terminal columns.
pub fn display_width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` cut to at most `max` display columns, ending with [`ELLIPSIS`] when
/// cut (borrowed when it already fits).
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    if display_width(s) <= max {
        return Cow::Borrowed(s);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    let mut out = String::with_capacity(max + 3);
    let mut used = 0;
    for c in s.chars() {
        let w = UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push(ELLIPSIS);
    Cow::Owned(out)
}

/// `s` cut to `max` columns when there is a limit, else whole.
pub fn fit(s: &str, max: Option<usize>) -> Cow<'_, str> {
    match max {
        Some(m) => truncate(s, m),
        None => Cow::Borrowed(s),
    }
}

/// `text` in lines of at most `width` display columns, broken at spaces (a
/// word longer than the width is broken inside); one line, unchanged, when
/// there is no limit. Empty text gives no line.
pub fn wrap(text: &str, width: Option<usize>) -> Vec<Cow<'_, str>> {
    if text.trim().is_empty() {
        return Vec::new();
    }
    match width {
        None => vec![Cow::Borrowed(text)],
        Some(w) => textwrap::wrap(
            text,
            textwrap::Options::new(w.max(1))
                .break_words(true)
                // Never at a hyphen: domain names hold them.
                .word_splitter(textwrap::WordSplitter::NoHyphenation),
        ),
    }
}

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Padded on the right.
    Left,
    /// Padded on the left.
    Right,
}

/// One fixed-width column of a [`Layout`].
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Header text.
    pub header: &'static str,
    /// Width when there is room.
    pub width: usize,
    /// Narrowest the column may be squeezed to (= `width`: never).
    pub min: usize,
    /// Spaces before the column (none before the first one).
    pub gap: usize,
    /// Alignment.
    pub align: Align,
    /// When the table is too wide, columns are dropped by rising rank;
    /// `None` is never dropped.
    pub drop_rank: Option<u8>,
}

impl Column {
    /// A column that is never dropped or squeezed.
    pub const fn new(header: &'static str, width: usize, gap: usize, align: Align) -> Self {
        Column {
            header,
            width,
            min: width,
            gap,
            align,
            drop_rank: None,
        }
    }

    /// Dropped, when the table is too wide, before columns of higher rank.
    pub const fn drop(mut self, rank: u8) -> Self {
        self.drop_rank = Some(rank);
        self
    }

    /// May be squeezed down to `min` columns when dropping is not enough.
    pub const fn squeeze(mut self, min: usize) -> Self {
        self.min = min;
        self
    }
}

/// Fixed columns then a free last column (`tail`), laid out once for a
/// width: columns are dropped by [`Column::drop_rank`] and squeezed to their
/// [`Column::min`] until the fixed part leaves `tail_min` columns for the
/// tail; the tail takes the rest. Without a limit every column is kept at
/// its width, cells longer than their column push the next ones right (as
/// `format!` padding does) and the tail is whole.
#[derive(Debug, Clone)]
pub struct Layout {
    /// (index into the columns given, width) of the columns kept.
    kept: Vec<(usize, usize, Column)>,
    /// Header of the free last column.
    tail_header: &'static str,
    /// Spaces before the tail.
    tail_gap: usize,
    /// Width left for the tail (`None`: no limit).
    tail: Option<usize>,
    /// The whole width (`None`: no limit).
    width: Option<usize>,
}

impl Layout {
    /// Lay `cols` then a tail out for `width`.
    pub fn new(
        cols: &[Column],
        tail_header: &'static str,
        tail_gap: usize,
        tail_min: usize,
        width: Option<usize>,
    ) -> Self {
        let mut kept: Vec<(usize, usize, Column)> = cols
            .iter()
            .enumerate()
            .map(|(i, c)| (i, c.width, *c))
            .collect();
        let Some(w) = width else {
            return Layout {
                kept,
                tail_header,
                tail_gap,
                tail: None,
                width: None,
            };
        };
        let used = |k: &[(usize, usize, Column)]| -> usize {
            k.iter()
                .enumerate()
                .map(|(n, (_, cw, c))| cw + if n == 0 { 0 } else { c.gap })
                .sum::<usize>()
                + tail_gap
        };
        while used(&kept) + tail_min > w {
            let victim = kept
                .iter()
                .enumerate()
                .filter_map(|(n, (_, _, c))| c.drop_rank.map(|r| (r, n)))
                .min();
            match victim {
                Some((_, n)) => {
                    kept.remove(n);
                }
                None => break,
            }
        }
        let mut excess = (used(&kept) + tail_min).saturating_sub(w);
        for (_, cw, c) in kept.iter_mut() {
            let give = (*cw - c.min).min(excess);
            *cw -= give;
            excess -= give;
        }
        let tail = w.saturating_sub(used(&kept));
        Layout {
            kept,
            tail_header,
            tail_gap,
            tail: Some(tail),
            width: Some(w),
        }
    }

    /// Whether the column at `index` (in the columns given) is shown.
    pub fn shows(&self, index: usize) -> bool {
        self.kept.iter().any(|(i, _, _)| *i == index)
    }

    /// The header line.
    pub fn header(&self) -> String {
        let cells: Vec<&str> = self.kept.iter().map(|(_, _, c)| c.header).collect();
        self.line(&cells, self.tail_header)
    }

    /// One row: `cells` in the order of the columns given (cells of dropped
    /// columns are skipped), then the tail. The line never exceeds the
    /// width.
    pub fn row<S: AsRef<str>>(&self, cells: &[S], tail: &str) -> String {
        let shown: Vec<&str> = self
            .kept
            .iter()
            .map(|(i, _, _)| cells.get(*i).map_or("", |s| s.as_ref()))
            .collect();
        self.line(&shown, tail)
    }

    fn line(&self, shown: &[&str], tail: &str) -> String {
        let mut out = String::with_capacity(self.width.unwrap_or(200));
        for (n, ((_, cw, c), cell)) in self.kept.iter().zip(shown).enumerate() {
            if n > 0 {
                out.extend(std::iter::repeat_n(' ', c.gap));
            }
            let cell = if self.width.is_some() {
                truncate(cell, *cw)
            } else {
                Cow::Borrowed(*cell)
            };
            let pad = cw.saturating_sub(display_width(&cell));
            match c.align {
                Align::Left => {
                    out.push_str(&cell);
                    out.extend(std::iter::repeat_n(' ', pad));
                }
                Align::Right => {
                    out.extend(std::iter::repeat_n(' ', pad));
                    out.push_str(&cell);
                }
            }
        }
        if !self.kept.is_empty() {
            out.extend(std::iter::repeat_n(' ', self.tail_gap));
        }
        out.push_str(&fit(tail, self.tail));
        match self.width {
            Some(w) if display_width(&out) > w => truncate(&out, w).into_owned(),
            _ => out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_come_from_the_environment_then_the_terminal() {
        assert_eq!(columns_from(Some("80"), || Some(200)), Some(80));
        assert_eq!(columns_from(Some(" 132 "), || None), Some(132));
        assert_eq!(columns_from(Some("0"), || Some(200)), Some(200));
        assert_eq!(columns_from(Some("wide"), || None), None);
        assert_eq!(columns_from(None, || Some(100)), Some(100));
        assert_eq!(
            columns_from(None, || None),
            None,
            "not a terminal: no limit"
        );
        assert_eq!(width(true), None, "--wide");
    }

    #[test]
    fn truncation_counts_display_columns() {
        assert_eq!(truncate("abcdef", 6), "abcdef");
        assert!(matches!(truncate("abcdef", 6), Cow::Borrowed(_)));
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abcdef", 1), "…");
        assert_eq!(truncate("abcdef", 0), "");
        // Two columns per CJK character: 5 columns hold two and the ellipsis.
        let cjk = "例え.テスト";
        assert_eq!(display_width(cjk), 11);
        let t = truncate(cjk, 6);
        assert_eq!(t, "例え.…");
        assert!(display_width(&t) <= 6);
        // Multibyte but narrow: cut on characters, never inside one.
        assert_eq!(truncate("bücher.example", 7), "bücher…");
        assert_eq!(truncate("xn--bcher-kva.ü", 20), "xn--bcher-kva.ü");
    }

    #[test]
    fn markup_is_printed_as_it_is_only_shortened() {
        let name = "<script>alert(1)</script>.evil.example";
        assert_eq!(fit(name, None), name);
        let t = truncate(name, 12);
        assert_eq!(t, "<script>ale…");
        assert_eq!(display_width(&t), 12);
    }

    #[test]
    fn wrapping_breaks_at_spaces_within_the_width() {
        let text = "Flagged because the share of NXDOMAIN answers (62%) is far above this \
                    host's usual 1%, with long random-looking names under one domain.";
        let lines = wrap(text, Some(40));
        assert!(lines.len() > 2, "{lines:?}");
        for l in &lines {
            assert!(display_width(l) <= 40, "{l}");
            assert!(!l.starts_with(' ') && !l.ends_with(' '), "{l:?}");
        }
        assert_eq!(lines.join(" "), text, "no word is split or lost");
        assert_eq!(wrap(text, None), vec![text]);
        assert!(wrap("  ", Some(10)).is_empty());
        // A word longer than the width is broken, not left overlong.
        for l in wrap(&"x".repeat(50), Some(20)) {
            assert!(display_width(&l) <= 20);
        }
        for l in wrap("名前 が とても 長い ドメイン です", Some(8)) {
            assert!(display_width(&l) <= 8, "{l}");
        }
    }

    const COLS: [Column; 4] = [
        Column::new("A", 4, 0, Align::Left),
        Column::new("HOST", 10, 1, Align::Left).squeeze(6),
        Column::new("N", 3, 1, Align::Right).drop(1),
        Column::new("M", 3, 1, Align::Right).drop(0),
    ];

    #[test]
    fn a_layout_drops_then_squeezes_then_cuts_the_tail() {
        let wide = Layout::new(&COLS, "TAIL", 1, 4, None);
        assert_eq!(wide.header(), "A    HOST         N   M TAIL");
        assert_eq!(
            wide.row(&["1", "10.0.0.1", "5", "6"], "a long tail"),
            "1    10.0.0.1     5   6 a long tail"
        );
        // 4+1+10+1+3+1 (M dropped) +1+4 = 25.
        let l = Layout::new(&COLS, "TAIL", 1, 4, Some(26));
        assert!(!l.shows(3) && l.shows(2));
        let r = l.row(&["1", "10.0.0.1", "5", "6"], "a long tail");
        assert_eq!(r, "1    10.0.0.1     5 a lon…");
        // Both dropped, HOST squeezed to 6.
        let l = Layout::new(&COLS, "TAIL", 1, 4, Some(16));
        let r = l.row(&["1", "2001:db8::1", "5", "6"], "tail");
        assert_eq!(r, "1    2001:… tail");
        assert_eq!(display_width(&r), 16);
        // Too narrow for anything: the line is still cut to the width.
        let l = Layout::new(&COLS, "TAIL", 1, 4, Some(5));
        assert!(display_width(&l.row(&["1", "2", "3", "4"], "tail")) <= 5);
        assert!(display_width(&l.header()) <= 5);
    }
}
