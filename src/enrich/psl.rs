//! Public Suffix List matching: the public suffix and the registrable domain of a
//! query name.
//!
//! The list (`data/public_suffix_list.dat`, Debian's 2023 copy) is embedded with
//! `include_str!` and parsed once per process per flavour (ICANN-only or
//! ICANN + private) into a rule trie held in a [`OnceLock`]; every [`Psl`]
//! handle shares it through an [`Arc`]. Matching walks the rule trie with
//! borrowed byte slices and allocates nothing.
//!
//! The trie is ours, with the semantics of the `publicsuffix` crate (2.x with
//! its `punycode` feature), which this module used before: the same rules
//! from the same lines, each also inserted in its `idna::domain_to_ascii`
//! form, and the same walk (a test compares the two on the embedded list).
//! It is one open-addressing table keyed by (parent node, label) with the
//! label bytes in one buffer, so the start-up parse fills a few buffers
//! instead of allocating a hash map and a `Vec` per rule label, and a lookup
//! hashes each label once with FxHash instead of SipHash.
//!
//! # Sections
//! By default only the ICANN section (the text between `===BEGIN ICANN DOMAINS===`
//! and `===END ICANN DOMAINS===`) is used, so `foo.blogspot.com` has the
//! registrable domain `blogspot.com`. With `include_private` the private section
//! (`blogspot.com`, `github.io`, `dyndns.org`, ...) is used as well and the same
//! name maps to `foo.blogspot.com`.
//!
//! # Input handling (documented decisions)
//! * Names are expected in the sensor's normal form: lowercase ASCII, dot
//!   separated. Matching is case-sensitive (no allocation to fold case); the
//!   capture decoder already lowercases.
//! * One trailing dot is ignored; the returned slices never include it.
//! * Empty names, names with an empty label (`a..com`, `.com`) in the part that
//!   is returned, and IP literals (`192.0.2.1`, `::1`) have no suffix and no
//!   registrable domain.
//! * **Unlisted top-level labels** (`printer.local`, `nas.lan`, `corp.internal`,
//!   bare single labels, `.bazar`): the PSL algorithm's implicit `*` rule would make
//!   the TLD itself the suffix; here such names have **no** public suffix and no
//!   registrable domain, because they are not delegated Internet names (mDNS,
//!   split-horizon, alternative roots) and must not pollute first-seen state.
//! * **`.arpa`** (`1.2.0.192.in-addr.arpa`, `ip6.arpa`, `home.arpa`): the public
//!   suffix is reported as listed (`in-addr.arpa`), but there is no registrable
//!   domain: reverse-mapping names are infrastructure, not owned domains.
//! * `\DDD`-escaped bytes and punycode (`xn--`) labels are opaque label bytes;
//!   punycode rules are matched because the ASCII form of every IDN rule is
//!   inserted too. An escape inside the suffix labels simply
//!   matches no rule.
//! * Wildcards and exceptions follow the PSL algorithm exactly: with `*.ck` and
//!   `!www.ck`, `foo.ck` *is* a public suffix (no registrable domain),
//!   `www.foo.ck` is registrable, and `www.ck` is registrable (suffix `ck`).

use super::EnrichError;
use rustc_hash::FxHasher;
use std::hash::Hasher;
use std::net::Ipv4Addr;
use std::sync::{Arc, OnceLock};

/// The embedded list text.
pub(crate) const EMBEDDED_PSL: &str = include_str!("../../data/public_suffix_list.dat");

const ICANN_BEGIN: &str = "===BEGIN ICANN DOMAINS===";
const ICANN_END: &str = "===END ICANN DOMAINS===";

/// A parsed Public Suffix List (cheap to clone: the rule trie is shared).
#[derive(Clone, Debug)]
pub struct Psl {
    list: Arc<Rules>,
    include_private: bool,
}

impl Psl {
    /// The embedded list, parsed once per process (per `include_private` flavour).
    ///
    /// # Panics
    /// Only if the embedded `data/public_suffix_list.dat` does not parse, which
    /// is a build-time invariant checked by the `embedded_psl_parses` test.
    pub fn embedded(include_private: bool) -> Self {
        static ICANN: OnceLock<Arc<Rules>> = OnceLock::new();
        static ALL: OnceLock<Arc<Rules>> = OnceLock::new();
        let cell = if include_private { &ALL } else { &ICANN };
        let list = cell.get_or_init(|| {
            #[allow(clippy::expect_used)] // documented invariant, see above
            let list = parse_list(EMBEDDED_PSL, include_private)
                .expect("embedded data/public_suffix_list.dat must parse");
            Arc::new(list)
        });
        Psl {
            list: Arc::clone(list),
            include_private,
        }
    }

    /// Parse a list in the standard `public_suffix_list.dat` format. The text
    /// must contain the `===BEGIN ICANN DOMAINS===` marker.
    pub fn from_text(text: &str, include_private: bool) -> Result<Self, EnrichError> {
        Ok(Psl {
            list: Arc::new(parse_list(text, include_private)?),
            include_private,
        })
    }

    /// Whether the private section is in use.
    pub fn includes_private(&self) -> bool {
        self.include_private
    }

    /// Length in bytes of the public suffix of `name` (already trimmed), or
    /// `None` when no explicit rule matches (see the module docs).
    #[inline]
    fn suffix_len(&self, name: &str) -> Option<usize> {
        if name.is_empty() || is_ip_literal(name) {
            return None;
        }
        let (len, listed) = self.list.find(name.as_bytes());
        // !listed: only the implicit `*` rule matched (unlisted TLD).
        if !listed || len == 0 || len > name.len() {
            return None;
        }
        Some(len)
    }

    /// The public suffix of `name` (`co.uk` for `www.bbc.co.uk`), without a
    /// trailing dot. `None` for empty names, IP literals and unlisted TLDs.
    pub fn public_suffix<'a>(&self, name: &'a str) -> Option<&'a str> {
        let name = trim_dot(name);
        let len = self.suffix_len(name)?;
        let s = name.get(name.len() - len..)?;
        if s.starts_with('.') {
            return None;
        }
        Some(s)
    }

    /// The registrable domain of `name` (`bbc.co.uk` for `www.bbc.co.uk`): the
    /// public suffix plus one label. `None` when `name` is itself a public
    /// suffix, is empty, an IP literal, under `.arpa` or an unlisted TLD, or
    /// the label left of the suffix is empty. The result is always a suffix of
    /// `name` with any trailing dot removed.
    pub fn registrable_domain<'a>(&self, name: &'a str) -> Option<&'a str> {
        let name = trim_dot(name);
        if name == "arpa" || name.ends_with(".arpa") {
            return None;
        }
        let sfx = self.suffix_len(name)?;
        // Need at least "x." in front of the suffix.
        if name.len() < sfx + 2 {
            return None;
        }
        let dot = name.len() - sfx - 1;
        if name.as_bytes()[dot] != b'.' {
            return None;
        }
        let head = &name.as_bytes()[..dot];
        let start = head.iter().rposition(|b| *b == b'.').map_or(0, |i| i + 1);
        if start == dot {
            return None; // empty label left of the suffix
        }
        name.get(start..)
    }
}

/// Strip one trailing dot.
#[inline]
pub(crate) fn trim_dot(name: &str) -> &str {
    name.strip_suffix('.').unwrap_or(name)
}

/// Whether `name` is an IP literal: dotted-quad IPv4, or anything containing a
/// colon (IPv6, bracketed or not; a colon never appears in a host name).
#[inline]
fn is_ip_literal(name: &str) -> bool {
    let b = name.as_bytes();
    if b.contains(&b':') {
        return true;
    }
    b.first().is_some_and(|c| c.is_ascii_digit())
        && b.last().is_some_and(|c| c.is_ascii_digit())
        && name.parse::<Ipv4Addr>().is_ok()
}

/// The part of the list text the rules are read from: the ICANN section
/// (from the start of its marker's line, so the parser sees the marker) or,
/// with `include_private`, the whole text.
fn section(text: &str, include_private: bool) -> Result<&str, EnrichError> {
    let begin = text
        .find(ICANN_BEGIN)
        .ok_or(EnrichError::PslNoIcannSection)?;
    if include_private {
        return Ok(text);
    }
    let line_start = text[..begin].rfind('\n').map_or(0, |i| i + 1);
    let end = text[begin..]
        .find(ICANN_END)
        .map_or(text.len(), |i| begin + i);
    Ok(&text[line_start..end])
}

/// Parse the rules of [`section`].
fn parse_list(text: &str, include_private: bool) -> Result<Rules, EnrichError> {
    let body = section(text, include_private)?;
    Rules::parse(body).map_err(|e| EnrichError::Psl(e.to_string()))
}

/// Why a list does not parse (the `publicsuffix` crate's errors and messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum RuleError {
    #[error("rule `{0}` contains an empty label")]
    EmptyLabel(String),
    #[error("`{0}`; exceptions only valid at end of rule")]
    ExceptionAtFirstLabel(String),
    #[error("the provided list is not valid")]
    InvalidList,
    #[error("rule `{0}` is invalid")]
    InvalidRule(String),
}

/// No node: marks an empty table slot (the root is never anyone's child).
const NO_NODE: u32 = 0;
/// Leaf states of a node: no rule ends here, a rule, an exception rule.
const NOT_A_RULE: u8 = 0;
const RULE: u8 = 1;
const EXCEPTION: u8 = 2;

/// One trie node: whether a rule ends here, and its `*` child.
#[derive(Debug, Clone, Copy)]
struct Node {
    leaf: u8,
    wildcard: u32,
}

const NEW_NODE: Node = Node {
    leaf: NOT_A_RULE,
    wildcard: NO_NODE,
};

/// One entry of the (parent, label) -> child table; `child == NO_NODE`: empty.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    /// High half of the entry's hash, compared before the label bytes.
    tag: u32,
    parent: u32,
    child: u32,
    /// The label is `labels[start..start + len]`.
    start: u32,
    len: u32,
}

/// The rule trie: node 0 is the root; children are found through one
/// open-addressing table (linear probing, at most half full) keyed by the
/// parent node and the label bytes, which live in one buffer.
#[derive(Debug)]
struct Rules {
    nodes: Vec<Node>,
    slots: Vec<Slot>,
    labels: Vec<u8>,
}

#[inline]
fn slot_hash(parent: u32, label: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write_u32(parent);
    h.write(label);
    h.finish()
}

/// The index of the first `\n` in `b`, eight bytes at a time.
#[inline]
fn newline_in(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = b.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        // Bytes equal to '\n' become zero; the lowest byte flagged by the
        // zero-byte test is always a zero byte (false flags only sit above one).
        let w = u64::from_le_bytes(word) ^ (ONES * u64::from(b'\n'));
        let zero = w.wrapping_sub(ONES) & !w & HIGH;
        if zero != 0 {
            return Some(at + (zero.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&c| c == b'\n')
        .map(|i| at + i)
}

/// The lines of a text with their byte offsets: `str::lines` but for the
/// `\r` of a CRLF line ending, which is kept. Found byte by byte: the lines
/// of the embedded lists are too short for `memchr` to pay.
pub(super) fn lines_at(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let bytes = text.as_bytes();
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= bytes.len() {
            return None;
        }
        let end = newline_in(&bytes[start..]).map_or(bytes.len(), |i| start + i);
        let line = (start, text.get(start..end).unwrap_or_default());
        start = end + 1;
        Some(line)
    })
}

/// `line.split_whitespace().next()`, without decoding characters when the
/// word and the white space before it are ASCII.
#[inline]
pub(super) fn first_word(line: &str) -> Option<&str> {
    // `char::is_whitespace` for ASCII: tab, line feed, vertical tab, form
    // feed, carriage return and space.
    let space = |b: u8| matches!(b, b'\t'..=b'\r' | b' ');
    let b = line.as_bytes();
    let from = b.iter().position(|&c| !space(c))?;
    let len = b[from..]
        .iter()
        .position(|&c| space(c) || !c.is_ascii())
        .unwrap_or(b.len() - from);
    match b.get(from + len) {
        Some(c) if !c.is_ascii() => line.split_whitespace().next(),
        _ if !b[from].is_ascii() => line.split_whitespace().next(),
        _ => line.get(from..from + len),
    }
}

/// The dot-separated labels of a name from the right, as `rsplit('.')`
/// yields them (an empty name is one empty label).
struct Labels<'a> {
    name: &'a [u8],
    /// End of the next label; `None` when all are out.
    end: Option<usize>,
}

impl<'a> Labels<'a> {
    #[inline]
    fn new(name: &'a [u8]) -> Self {
        Labels {
            name,
            end: Some(name.len()),
        }
    }

    #[inline]
    fn next_back(&mut self) -> Option<&'a [u8]> {
        let end = self.end?;
        let head = self.name.get(..end)?;
        match head.iter().rposition(|&b| b == b'.') {
            Some(dot) => {
                self.end = Some(dot);
                head.get(dot + 1..)
            }
            None => {
                self.end = None;
                Some(head)
            }
        }
    }
}

/// The byte offsets (ascending) at which `needle` occurs in a text, to tell
/// which of its lines contain it without searching every line.
pub(super) struct Marks {
    at: Vec<usize>,
    next: usize,
}

impl Marks {
    pub(super) fn new(text: &str, needle: &str) -> Self {
        Marks {
            at: text.match_indices(needle).map(|(i, _)| i).collect(),
            next: 0,
        }
    }

    /// Whether the line at `start..end` of the text contains the needle
    /// (lines asked in ascending order; the needle never spans a line break).
    #[inline]
    pub(super) fn in_line(&mut self, start: usize, end: usize) -> bool {
        while self.at.get(self.next).is_some_and(|&i| i < start) {
            self.next += 1;
        }
        self.at.get(self.next).is_some_and(|&i| i < end)
    }
}

impl Rules {
    /// `publicsuffix::List::from_str`: rules are the first word of every
    /// line that follows a `BEGIN ICANN DOMAINS` or `BEGIN PRIVATE DOMAINS`
    /// line and does not start with `//`; each is inserted as written and in
    /// its `idna::domain_to_ascii` form.
    fn parse(text: &str) -> Result<Self, RuleError> {
        // About one node per line, and lines of about 16 bytes: room for
        // them, the table half full.
        let lines = text.len() / 16 + 1;
        let mut rules = Rules {
            nodes: Vec::with_capacity(lines + 1),
            slots: vec![Slot::default(); (2 * lines + 2).next_power_of_two().max(16)],
            labels: Vec::with_capacity(text.len() / 2),
        };
        rules.nodes.push(NEW_NODE);
        let mut icann = Marks::new(text, "BEGIN ICANN DOMAINS");
        let mut private = Marks::new(text, "BEGIN PRIVATE DOMAINS");
        let mut in_section = false;
        // A `\r` left at the end of a line holds no marker, does not start
        // a comment and is white space.
        for (start, line) in lines_at(text) {
            let end = start + line.len();
            if icann.in_line(start, end) || private.in_line(start, end) {
                in_section = true;
                continue;
            }
            if !in_section || line.starts_with("//") {
                continue;
            }
            let Some(rule) = first_word(line) else {
                continue;
            };
            rules.append(rule)?;
            // A rule of lower-case letters and dots is its own ASCII form
            // (idna's first pass-through test), and inserting a rule twice
            // changes nothing: only the other rules go through idna.
            if !rule.bytes().all(|b| b.is_ascii_lowercase() || b == b'.') {
                let ascii = idna::domain_to_ascii_cow(rule.as_bytes(), idna::AsciiDenyList::EMPTY)
                    .map_err(|_| RuleError::InvalidRule(rule.to_owned()))?;
                if ascii != rule {
                    rules.append(&ascii)?;
                }
            }
        }
        if rules.nodes.len() == 1 {
            return Err(RuleError::InvalidList);
        }
        Ok(rules)
    }

    /// `publicsuffix::List::append`.
    fn append(&mut self, rule: &str) -> Result<(), RuleError> {
        let (rule, leaf) = match rule.strip_prefix('!') {
            Some(_) if !rule.contains('.') => {
                return Err(RuleError::ExceptionAtFirstLabel(rule.to_owned()));
            }
            Some(r) => (r, EXCEPTION),
            None => (rule, RULE),
        };
        let mut node = 0u32;
        let mut labels = Labels::new(rule.as_bytes());
        while let Some(label) = labels.next_back() {
            if label.is_empty() {
                return Err(RuleError::EmptyLabel(rule.to_owned()));
            }
            node = self.child_or_insert(node, label);
        }
        if let Some(n) = self.nodes.get_mut(node as usize) {
            n.leaf = leaf;
        }
        Ok(())
    }

    #[inline]
    fn label(&self, s: &Slot) -> &[u8] {
        let start = s.start as usize;
        self.labels
            .get(start..start + s.len as usize)
            .unwrap_or_default()
    }

    /// The slot holding `(parent, label)`, or the empty slot where it goes.
    #[inline]
    fn probe(&self, parent: u32, label: &[u8], hash: u64) -> usize {
        let mask = self.slots.len() - 1;
        let tag = (hash >> 32) as u32;
        let mut i = hash as usize & mask;
        loop {
            let s = &self.slots[i];
            if s.child == NO_NODE || (s.tag == tag && s.parent == parent && self.label(s) == label)
            {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    fn child_or_insert(&mut self, parent: u32, label: &[u8]) -> u32 {
        let hash = slot_hash(parent, label);
        let i = self.probe(parent, label, hash);
        if self.slots[i].child != NO_NODE {
            return self.slots[i].child;
        }
        let child = self.nodes.len() as u32;
        self.nodes.push(NEW_NODE);
        if label == b"*" {
            if let Some(p) = self.nodes.get_mut(parent as usize) {
                p.wildcard = child;
            }
        }
        let start = self.labels.len() as u32;
        self.labels.extend_from_slice(label);
        self.slots[i] = Slot {
            tag: (hash >> 32) as u32,
            parent,
            child,
            start,
            len: label.len() as u32,
        };
        // Every node but the root has a slot: keep the table at most half full.
        if 2 * self.nodes.len() > self.slots.len() {
            self.grow();
        }
        child
    }

    fn grow(&mut self) {
        let bigger = vec![Slot::default(); 2 * self.slots.len()];
        let old = std::mem::replace(&mut self.slots, bigger);
        let mask = self.slots.len() - 1;
        for s in old.into_iter().filter(|s| s.child != NO_NODE) {
            let mut i = slot_hash(s.parent, self.label(&s)) as usize & mask;
            while self.slots[i].child != NO_NODE {
                i = (i + 1) & mask;
            }
            self.slots[i] = s;
        }
    }

    /// The child of `parent` labelled `label`, or `NO_NODE`.
    #[inline]
    fn child(&self, parent: u32, label: &[u8]) -> u32 {
        self.slots[self.probe(parent, label, slot_hash(parent, label))].child
    }

    #[inline]
    fn node(&self, n: u32) -> Node {
        self.nodes.get(n as usize).copied().unwrap_or(NEW_NODE)
    }

    /// `publicsuffix::List::find` on a list of both sections: the length of
    /// the public suffix of `name`, and whether a listed rule (rather than
    /// the implicit `*`) decided it.
    fn find(&self, name: &[u8]) -> (usize, bool) {
        let mut labels = Labels::new(name);
        // The first label is special: it is the suffix by the implicit
        // wildcard rule even when it is not listed.
        let Some(first) = labels.next_back() else {
            return (0, false);
        };
        let mut len = first.len();
        let mut node = self.child(0, first);
        if node == NO_NODE {
            return (len, false);
        }
        let mut listed = self.node(node).leaf != NOT_A_RULE;
        let mut len_so_far = len;
        while let Some(label) = labels.next_back() {
            node = match self.child(node, label) {
                NO_NODE => match self.node(node).wildcard {
                    NO_NODE => break,
                    w => w,
                },
                c => c,
            };
            let label_plus_dot = label.len() + 1;
            let leaf = self.node(node).leaf;
            if leaf != NOT_A_RULE {
                listed = true;
                if leaf == EXCEPTION {
                    len = len_so_far;
                    break;
                }
                len = len_so_far + label_plus_dot;
            }
            len_so_far += label_plus_dot;
        }
        (len, listed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn icann() -> Psl {
        Psl::embedded(false)
    }

    #[test]
    fn embedded_psl_parses() {
        assert!(parse_list(EMBEDDED_PSL, false).is_ok());
        assert!(parse_list(EMBEDDED_PSL, true).is_ok());
    }

    #[test]
    fn co_uk_and_multi_level() {
        let p = icann();
        assert_eq!(p.registrable_domain("www.bbc.co.uk"), Some("bbc.co.uk"));
        assert_eq!(p.public_suffix("www.bbc.co.uk"), Some("co.uk"));
        assert_eq!(p.registrable_domain("bbc.co.uk"), Some("bbc.co.uk"));
        assert_eq!(p.registrable_domain("co.uk"), None);
        assert_eq!(p.registrable_domain("uk"), None);
        assert_eq!(
            p.registrable_domain("a.b.c.example.com.au"),
            Some("example.com.au")
        );
        assert_eq!(p.public_suffix("a.b.c.example.com.au"), Some("com.au"));
        assert_eq!(p.registrable_domain("www.example.com"), Some("example.com"));
    }

    #[test]
    fn wildcard_and_exception_rules() {
        let p = icann();
        // *.ck, !www.ck
        assert_eq!(p.registrable_domain("foo.ck"), None);
        assert_eq!(p.public_suffix("foo.ck"), Some("foo.ck"));
        assert_eq!(p.registrable_domain("www.foo.ck"), Some("www.foo.ck"));
        assert_eq!(p.registrable_domain("www.ck"), Some("www.ck"));
        assert_eq!(p.registrable_domain("a.www.ck"), Some("www.ck"));
        assert_eq!(p.public_suffix("www.ck"), Some("ck"));
        // *.kawasaki.jp, !city.kawasaki.jp
        assert_eq!(p.registrable_domain("foo.kawasaki.jp"), None);
        assert_eq!(
            p.registrable_domain("a.foo.kawasaki.jp"),
            Some("a.foo.kawasaki.jp")
        );
        assert_eq!(
            p.registrable_domain("city.kawasaki.jp"),
            Some("city.kawasaki.jp")
        );
        assert_eq!(
            p.registrable_domain("www.city.kawasaki.jp"),
            Some("city.kawasaki.jp")
        );
        assert_eq!(p.public_suffix("www.city.kawasaki.jp"), Some("kawasaki.jp"));
    }

    #[test]
    fn private_section_on_and_off() {
        let off = Psl::embedded(false);
        let on = Psl::embedded(true);
        assert!(!off.includes_private() && on.includes_private());
        assert_eq!(
            off.registrable_domain("foo.blogspot.com"),
            Some("blogspot.com")
        );
        assert_eq!(
            on.registrable_domain("foo.blogspot.com"),
            Some("foo.blogspot.com")
        );
        assert_eq!(on.registrable_domain("blogspot.com"), None);
        assert_eq!(on.registrable_domain("www.bbc.co.uk"), Some("bbc.co.uk"));
    }

    #[test]
    fn edge_cases() {
        let p = icann();
        assert_eq!(p.registrable_domain("www.bbc.co.uk."), Some("bbc.co.uk"));
        assert_eq!(p.public_suffix("www.bbc.co.uk."), Some("co.uk"));
        assert_eq!(p.registrable_domain(""), None);
        assert_eq!(p.registrable_domain("."), None);
        assert_eq!(p.registrable_domain("com"), None);
        assert_eq!(p.registrable_domain("localhost"), None);
        assert_eq!(p.registrable_domain("printer.local"), None);
        assert_eq!(p.public_suffix("printer.local"), None);
        assert_eq!(p.registrable_domain("a..com"), None);
        assert_eq!(p.registrable_domain(".com"), None);
        assert_eq!(p.registrable_domain("x.a..com"), None);
        assert_eq!(p.registrable_domain("192.168.1.1"), None);
        assert_eq!(p.registrable_domain("::1"), None);
        assert_eq!(p.registrable_domain("[2001:db8::1]"), None);
        assert_eq!(p.registrable_domain("1.1.168.192.in-addr.arpa"), None);
        assert_eq!(
            p.public_suffix("1.1.168.192.in-addr.arpa"),
            Some("in-addr.arpa")
        );
        assert_eq!(p.registrable_domain("router.home.arpa"), None);
        // numeric label under a real TLD is still a domain
        assert_eq!(p.registrable_domain("1.2.3.4.com"), Some("4.com"));
        // escapes are opaque bytes
        assert_eq!(
            p.registrable_domain("a\\032b.example.com"),
            Some("example.com")
        );
        assert_eq!(
            p.registrable_domain("x.ex\\000ample.com"),
            Some("ex\\000ample.com")
        );
        assert_eq!(p.registrable_domain("x.example.c\\000m"), None);
        // punycode
        assert_eq!(
            p.registrable_domain("www.xn--bcher-kva.example"),
            None,
            ".example is not a delegated TLD"
        );
        assert_eq!(
            p.registrable_domain("www.xn--bcher-kva.com"),
            Some("xn--bcher-kva.com")
        );
        // xn--p1ai is .рф (IDN TLD listed in Unicode; crate adds the ASCII form)
        assert_eq!(
            p.registrable_domain("www.xn--80ak6aa92e.xn--p1ai"),
            Some("xn--80ak6aa92e.xn--p1ai")
        );
        // non-ASCII never panics
        assert_eq!(p.registrable_domain("ü.é"), None);
    }

    /// The list as the `publicsuffix` crate parses it (this module's parser
    /// before it had its own trie).
    fn reference(text: &str, include_private: bool) -> Result<publicsuffix::List, String> {
        let body = section(text, include_private).map_err(|_| "no ICANN section")?;
        body.parse::<publicsuffix::List>()
            .map_err(|e| e.to_string())
    }

    /// Odd shapes, then names at, under and beside every rule of the
    /// embedded list, as written and in ASCII form.
    fn probe_names() -> Vec<String> {
        let mut names: Vec<String> = [
            "",
            ".",
            "..",
            "com",
            "com.",
            ".com",
            "a..com",
            "x.a..com",
            "localhost",
            "printer.local",
            "*",
            "*.ck",
            "!www.ck",
            "www.ck",
            "a.www.ck",
            "foo.ck",
            "a.b.foo.ck",
            "city.kawasaki.jp",
            "a.city.kawasaki.jp",
            "x.y.kawasaki.jp",
            "1.2.0.192.in-addr.arpa",
            "ip6.arpa",
            "home.arpa",
            "a.b.c.d.e.f.g.h.uk",
            "ü.é",
            "xn--p1ai",
            "a.xn--p1ai",
            "рф",
            "a.рф",
            "a.b.рф",
            "WWW.EXAMPLE.COM",
            "www.example.COM",
            "a b.com",
            "a\\032b.example.com",
            "x.example.c\\000m",
            "192.168.1.1",
            "::1",
            "//",
            "a.//",
            "a.-",
            "-.com",
            "a.b.blogspot.com",
            "foo.github.io",
            "a.b.c.s3.amazonaws.com",
            "a.compute.amazonaws.com",
        ]
        .map(String::from)
        .to_vec();
        for line in EMBEDDED_PSL.lines() {
            let Some(rule) = line.split_whitespace().next() else {
                continue;
            };
            if rule.starts_with("//") {
                continue;
            }
            let bare = rule.trim_start_matches('!').trim_start_matches("*.");
            let ascii = idna::domain_to_ascii(bare).unwrap_or_default();
            for r in [rule, bare, ascii.as_str()] {
                names.push(r.to_string());
                names.push(format!("a.{r}"));
                names.push(format!("x.y.{r}"));
                names.push(format!("www.{r}"));
                if let Some((_, parent)) = r.split_once('.') {
                    names.push(format!("q.{parent}"));
                    names.push(format!("p.q.{parent}"));
                }
            }
        }
        names
    }

    #[test]
    fn trie_finds_what_the_publicsuffix_crate_finds() {
        use publicsuffix::Psl as _;
        let names = probe_names();
        assert!(names.len() > 50_000, "{}", names.len());
        for private in [false, true] {
            let ours = parse_list(EMBEDDED_PSL, private).unwrap();
            let theirs = reference(EMBEDDED_PSL, private).unwrap();
            for n in &names {
                let info = theirs.find(n.as_bytes().rsplit(|b| *b == b'.'));
                assert_eq!(
                    ours.find(n.as_bytes()),
                    (info.len, info.typ.is_some()),
                    "{n:?} (private section: {private})"
                );
            }
        }
    }

    #[test]
    fn small_lists_parse_and_fail_as_the_publicsuffix_crate_does() {
        use publicsuffix::Psl as _;
        let head = "// ===BEGIN ICANN DOMAINS===\n";
        let mut names = probe_names();
        names.truncate(300);
        names.extend(
            [
                "a.com",
                "x.y.com",
                "a.co.uk",
                "b.a.com",
                "q.example.org",
                "a.xn--p1ai",
                "a.x",
                "a.b.x",
                "a.ÄÖ.com",
                "a.äö.com",
                "a.xn--4ca0b.com",
                "a.a_b.com",
            ]
            .map(String::from),
        );
        for body in [
            "com\nco.uk\n",
            "com\n!com\n",
            "com\n!a.com\n*.com\n",
            "a..com\n",
            "com.\n",
            "  // indented comment\ncom\n",
            "com extra words\n\n\t\nnet\r\norg",
            "ÄÖ.com\nxn--p1ai\nрф\n",
            "xn--zz-.com\n",
            "xn--a.com\n",
            "a_b.com\n*.*.x\n",
            "",
            "// only a comment\n",
            "COM\nExample.ORG\n",
            "// ===BEGIN PRIVATE DOMAINS===\nblogspot.com\n// ===END PRIVATE DOMAINS===\n",
        ] {
            let text = format!("{head}{body}");
            for private in [false, true] {
                let theirs = reference(&text, private);
                let ours = parse_list(&text, private);
                match (&ours, &theirs) {
                    (Ok(o), Ok(t)) => {
                        for n in &names {
                            let info = t.find(n.as_bytes().rsplit(|b| *b == b'.'));
                            assert_eq!(
                                o.find(n.as_bytes()),
                                (info.len, info.typ.is_some()),
                                "{body:?}: {n}"
                            );
                        }
                    }
                    (Err(EnrichError::Psl(o)), Err(t)) => assert_eq!(o, t, "{body:?}"),
                    _ => panic!(
                        "{body:?}: ours {:?}, theirs {:?}",
                        ours.is_ok(),
                        theirs.is_ok()
                    ),
                }
            }
        }
    }

    #[test]
    fn lines_are_those_of_str_lines() {
        let mut texts: Vec<String> = [
            "",
            "\n",
            "\n\n",
            "a",
            "a\n",
            "a\nb",
            "a\r\nb\r\n",
            "0123456\n89abcdef\n",
            "01234567\n",
            "012345678\n\n",
            "\u{10a}\n\u{a0a}\n",
        ]
        .map(String::from)
        .to_vec();
        texts.push(EMBEDDED_PSL.to_string());
        for n in 0..40 {
            texts.push(format!("{}\n{}", "x".repeat(n), "y".repeat(40 - n)));
        }
        for t in &texts {
            let ours: Vec<&str> = lines_at(t)
                .map(|(at, l)| {
                    assert_eq!(&t[at..at + l.len()], l);
                    l.strip_suffix('\r').unwrap_or(l)
                })
                .collect();
            assert_eq!(ours, t.lines().collect::<Vec<_>>(), "{t:?}");
        }
    }

    #[test]
    fn first_word_is_the_first_white_space_separated_word() {
        for line in [
            "",
            " ",
            "\t\r",
            "com",
            "com ",
            " com",
            "\tcom\x0bx",
            "com\r",
            "\x0c!a.b c",
            "рф",
            " рф x",
            "a\u{a0}b",
            "\u{a0}a b",
            "a\u{2003}",
            "\u{3000}",
            "a.рф\tb",
            "x\u{85}y",
            "// c",
            "\x0b\x0c\x0d a",
        ] {
            assert_eq!(first_word(line), line.split_whitespace().next(), "{line:?}");
        }
    }

    #[test]
    fn from_text_and_errors() {
        let t = "// ===BEGIN ICANN DOMAINS===\ncom\nco.uk\n// ===END ICANN DOMAINS===\n\
                 // ===BEGIN PRIVATE DOMAINS===\nblogspot.com\n// ===END PRIVATE DOMAINS===\n";
        let p = Psl::from_text(t, false).unwrap();
        assert_eq!(
            p.registrable_domain("a.b.blogspot.com"),
            Some("blogspot.com")
        );
        let p = Psl::from_text(t, true).unwrap();
        assert_eq!(
            p.registrable_domain("a.b.blogspot.com"),
            Some("b.blogspot.com")
        );
        assert!(matches!(
            Psl::from_text("com\n", false),
            Err(EnrichError::PslNoIcannSection)
        ));
        assert!(matches!(
            Psl::from_text("// ===BEGIN ICANN DOMAINS===\n!com\n", false),
            Err(EnrichError::Psl(_))
        ));
    }
}
