//! Lexical risk of a query name: how machine-generated / encoded / phishy it looks.
//!
//! # What is scored
//! The **scored part** of a name is every label left of its public suffix
//! (`www.bbc.co.uk` → `www`, `bbc`), except *ordinary host labels* in subdomain
//! position: a fixed list ([`ORDINARY_LABELS`]: `www`, `mail`, `cdn`, `api`, `m`,
//! `ns`, `smtp`, ...; a trailing number is ignored, so `www2` and `ns1` count)
//! and short DNS service labels (`_dmarc`, `_tcp`, ...). The registrable label
//! itself is always scored. Long random subdomains of a benign registrable
//! domain (tunnels) are therefore scored in full, while `www.example.com` scores
//! exactly like `example.com`. Without a registrable domain (unlisted TLD such as
//! `.local` or `.bazar`) the last label is treated as the suffix; a single label
//! is scored whole. Names under `.arpa` (reverse lookups) are exempt: risk 0.
//!
//! # Features (all over the scored part; dots are label boundaries)
//! * `len`: scored characters (dots excluded).
//! * `surprise`: excess surprisal against the benign character-bigram model,
//!   `Σ (−ln P(next | prev) − TAU)` over every transition of every scored label
//!   including the start (`^`) and end (`$`) boundaries, `TAU` = [`TAU`] nats
//!   (about the surprisal of an ordinary benign transition). Characters outside
//!   `[a-z0-9-]` get the model's floor log-probability.
//! * `entropy`: Shannon entropy in bits/char of the scored characters.
//! * `digit_ratio` and `max_digit_run`; `max_consonant_run` (letters other than
//!   `aeiou`); `odd_chars`: characters outside `[a-z0-9-]` (`_`, `+`, `/`,
//!   `=`, escapes, non-ASCII: typical of base32/64 tunnels).
//! * `keyword`: a phishing/lure word (`login`, `verify`, `secure`, `wallet`,
//!   `account`, `update`, `signin`, `support`, `bank`, ...) anywhere left of
//!   the public suffix, or a well-known brand (`paypal`, `apple`, ...) in a
//!   *subdomain* label or embedded with extra characters in the registrable
//!   label (`paypal.com.evil.xyz`, `paypal-help.net`) — never when the
//!   registrable label *is* the brand. Under a registrable domain that
//!   vouches for its names ([`super::popular::vouches`]: popular, not a shared
//!   platform) neither lure words nor brands count (`account.eum-appdynamics.com`),
//!   and a brand inside a popular registrable label is the brand's own domain
//!   (`googleapis.com`, `microsoftazuread-sso.com`).
//! * `punycode`: a scored label starts with `xn--`. Such labels are an
//!   encoding of Unicode text, so they contribute *only* this flag (no
//!   bigram, length, entropy or character features).
//!
//! # Formula (monotone: every weight is non-negative and every term is
//! non-decreasing in its feature)
//! ```text
//! z    = B                                         B          = -3.3
//!      + W_SURPRISE * max(0, surprise)             W_SURPRISE = 0.35 /nat  (TAU = 2.5 nats)
//!      + W_LEN      * max(0, len − 20)             W_LEN      = 0.1 /char
//!      + W_ENTROPY  * max(0, entropy − 3.8)        W_ENTROPY  = 1.0 /bit
//!      + W_DIGITS   * digit_ratio                  W_DIGITS   = 0.5
//!      + W_DRUN     * max(0, max_digit_run − 4)    W_DRUN     = 0.2 /digit
//!      + W_CRUN     * max(0, max_consonant_run − 5) W_CRUN    = 0.3 /letter
//!      + W_ODD      * min(odd_chars, 8)            W_ODD      = 0.6 /char
//!      + W_KEYWORD  * keyword                      W_KEYWORD  = 1.0
//!      + W_PUNY     * punycode                     W_PUNY     = 1.0
//!      + W_TLD      * unlisted_tld                 W_TLD      = 2.8
//! risk = 1 / (1 + e^(−z))          high risk (default) ⇔ risk ≥ 0.7 ⇔ z ≥ 0.85
//! ```
//! `unlisted_tld` (only from [`LexicalModel::score_in`]): the TLD is
//! alphabetic, not in the PSL and not private-use (`.bazar`, `.bit`, ...;
//! alternative roots used by malware). On its own it gives risk ≈ 0.38.
//!
//! How the constants were chosen (`examples/lexical_calibration.rs`): excess
//! bigram surprisal is by far the strongest single feature (recall at 2 %
//! benign false positives: ~60 % of the pooled DGA lists; `TAU` = 2.5 was the
//! best of 1.5–4.0); adding the unlisted-TLD term takes it to ~81 %. A
//! non-negative logistic regression gave the length / entropy / digit /
//! consonant terms little or no weight beyond surprisal, so they are kept small
//! and only act at extremes (long encoded tunnel labels, hex hashes). `B` puts
//! 1.5 % of the benign lists (1.7 % when the bigram model is trained on the
//! other half only) at or above 0.7. Each term is reported in
//! [`LexicalScore::contrib`] so an analyst can see *why* a name scored high.
//! Known limits: wordlist and pronounceable DGAs (matsnu, suppobox, nymaim2,
//! pushdo, simda, ...) are lexically benign and are not detected; real IDNs
//! get +1.0; hash-like benign names (CDN shards) score high.
//!
//! # Model file
//! `data/benign_bigrams.tsv` is produced by `tools/src/bin/build_lexicon.rs` from the
//! benign lists (see [`build_model_text`]): `#` header lines with counts, then
//! one `prev next<TAB>ln P` row per pair over the alphabet `[a-z0-9-]` with `^`
//! (label start, as `prev`) and `$` (label end, as `next`); Laplace (+1)
//! smoothing. A label boundary plays the role of `.`.

use super::psl::{trim_dot, Psl};
use super::EnrichError;
use std::collections::BTreeSet;
use std::path::Path;

/// Number of symbols: boundary, `a`-`z`, `0`-`9`, `-`.
const NSYM: usize = 38;
/// Boundary symbol index (`^` as previous, `$` as next).
const BOUNDARY: usize = 0;

/// Embedded benign bigram model.
pub(crate) const EMBEDDED_MODEL: &str = include_str!("../../data/benign_bigrams.tsv");

/// Subdomain labels that are never scored (after stripping trailing digits).
pub const ORDINARY_LABELS: &[&str] = &[
    "www",
    "w",
    "m",
    "mobile",
    "mail",
    "email",
    "webmail",
    "smtp",
    "imap",
    "pop",
    "pop3",
    "mx",
    "ns",
    "dns",
    "cdn",
    "static",
    "assets",
    "img",
    "images",
    "media",
    "api",
    "apis",
    "app",
    "apps",
    "web",
    "ftp",
    "vpn",
    "remote",
    "portal",
    "blog",
    "shop",
    "store",
    "news",
    "docs",
    "dev",
    "test",
    "stage",
    "staging",
    "beta",
    "en",
    "de",
    "fr",
    "es",
    "it",
    "ru",
    "uk",
    "us",
    "cn",
    "jp",
    "edge",
    "gw",
    "proxy",
    "autodiscover",
    "autoconfig",
    "time",
    "ntp",
    "cloud",
    "s",
    "a",
    "b",
    "c",
    "d",
    "e",
    "i",
    "v",
    "ws",
    "wss",
    "api-v",
    "js",
    "css",
    "video",
    "download",
    "files",
    "upload",
    "ads",
    "ad",
    "track",
    "metrics",
    "stats",
    "analytics",
    "play",
    "login",
    "auth",
    "sso",
    "id",
    "accounts",
    "secure",
];

/// Substring search for a fixed set of up to 64 words of two or more bytes.
/// Two tables built at compile time give, for a byte, the words whose first
/// (second) byte it is; at each position of the text their intersection
/// names the few words that may start there (usually none), and only those
/// are compared. A scan costs a few instructions per byte and allocates
/// nothing.
pub(crate) struct WordSet {
    words: &'static [&'static str],
    /// Bit `w` of `first[b]`: word `w` starts with byte `b`.
    first: [u64; 256],
    /// Bit `w` of `second[b]`: the second byte of word `w` is `b`.
    second: [u64; 256],
}

impl WordSet {
    /// The set of `words` (at most 64, each at least two bytes: checked
    /// when built).
    const fn new(words: &'static [&'static str]) -> Self {
        assert!(words.len() <= 64, "a WordSet has at most 64 words");
        let mut first = [0u64; 256];
        let mut second = [0u64; 256];
        let mut i = 0;
        while i < words.len() {
            let w = words[i].as_bytes();
            assert!(w.len() >= 2, "a word of a WordSet has two bytes or more");
            first[w[0] as usize] |= 1 << i;
            second[w[1] as usize] |= 1 << i;
            i += 1;
        }
        WordSet {
            words,
            first,
            second,
        }
    }

    /// Whether some word occurs in `text` and is shorter than `max_len` bytes.
    #[inline]
    fn occurs_shorter_than(&self, text: &str, max_len: usize) -> bool {
        let t = text.as_bytes();
        let Some(&head) = t.first() else {
            return false;
        };
        // Words starting at `i` have their first byte `t[i]` (`here`) and
        // their second `t[i + 1]`.
        let mut here = self.first[usize::from(head)];
        for (i, &next) in t[1..].iter().enumerate() {
            let mut candidates = here & self.second[usize::from(next)];
            here = self.first[usize::from(next)];
            while candidates != 0 {
                let w = self.words[candidates.trailing_zeros() as usize];
                candidates &= candidates - 1;
                if w.len() < max_len && t[i..].starts_with(w.as_bytes()) {
                    return true;
                }
            }
        }
        false
    }

    /// Whether some word occurs in `text`.
    #[inline]
    pub(crate) fn is_match(&self, text: &str) -> bool {
        self.occurs_shorter_than(text, usize::MAX)
    }
}

/// All [`KEYWORDS`].
static KEYWORD_SET: WordSet = WordSet::new(KEYWORDS);

/// All [`BRANDS`].
static BRAND_SET: WordSet = WordSet::new(BRANDS);

fn keywords() -> &'static WordSet {
    &KEYWORD_SET
}

fn brands() -> &'static WordSet {
    &BRAND_SET
}

/// Phishing / lure keywords (substring match in the scored part).
pub const KEYWORDS: &[&str] = &[
    "login",
    "logon",
    "signin",
    "sign-in",
    "verify",
    "verification",
    "secure",
    "wallet",
    "account",
    "update",
    "support",
    "bank",
    "confirm",
    "unlock",
    "recover",
    "billing",
    "password",
    "webscr",
    "authenticate",
    "suspended",
    "invoice",
    "helpdesk",
];

/// Brands that phishing puts into subdomains or hyphenated registrable labels:
/// the lexical subset of the one brand list ([`crate::enrich::brands::LEXICAL`]).
pub const BRANDS: &[&str] = &super::brands::LEXICAL;

/// Top-level labels in private or special use (RFC 6762, RFC 6761, RFC 2606,
/// common home-router and AD defaults): not flagged as `unlisted_tld`.
pub const PRIVATE_USE_TLDS: &[&str] = &[
    "local",
    "localhost",
    "localdomain",
    "lan",
    "home",
    "internal",
    "intranet",
    "corp",
    "private",
    "domain",
    "example",
    "invalid",
    "test",
    "workgroup",
    "mshome",
    "router",
    "gateway",
    "dlink",
    "belkin",
    "fritz",
    "wpad",
    "alt",
    "onion",
    "i2p",
    "ip",
    "intra",
];

/// Whether `name` ends in an alphabetic top-level label that the PSL does not
/// list and that is not in [`PRIVATE_USE_TLDS`] (alternative roots such as
/// EmerDNS `.bazar`, OpenNIC, Namecoin `.bit`).
pub fn is_unlisted_tld(name: &str, psl: &Psl) -> bool {
    let name = trim_dot(name);
    let Some((_, tld)) = name.rsplit_once('.') else {
        return false;
    };
    tld.len() >= 2
        && tld.bytes().all(|b| b.is_ascii_lowercase())
        && !PRIVATE_USE_TLDS.contains(&tld)
        && psl.public_suffix(name).is_none()
}

/// Bias: the logit of a name with no risk signal at all (risk ≈ 0.05).
pub const B: f32 = -3.3;
/// Surprisal reference per transition (nats); ≈ the mean surprisal of a
/// benign transition, so ordinary names have `surprise` ≤ 0.
pub const TAU: f32 = 2.5;
/// Weight per nat of excess surprisal.
pub const W_SURPRISE: f32 = 0.35;
/// Length reference (scored characters).
pub const LEN0: f32 = 20.0;
/// Weight per scored character beyond `LEN0`.
pub const W_LEN: f32 = 0.1;
/// Entropy reference (bits/char); only long, varied strings exceed it.
pub const H0: f32 = 3.8;
/// Weight per bit/char of entropy beyond `H0`.
pub const W_ENTROPY: f32 = 1.0;
/// Weight of the digit ratio.
pub const W_DIGITS: f32 = 0.5;
/// Digit-run reference.
pub const DRUN0: f32 = 4.0;
/// Weight per digit beyond a run of `DRUN0`.
pub const W_DRUN: f32 = 0.2;
/// Consonant-run reference.
pub const CRUN0: f32 = 5.0;
/// Weight per consonant beyond a run of `CRUN0`.
pub const W_CRUN: f32 = 0.3;
/// Weight per odd character (counted up to 8).
pub const W_ODD: f32 = 0.6;
/// Weight of a keyword / brand hit.
pub const W_KEYWORD: f32 = 1.0;
/// Weight of a punycode label.
pub const W_PUNY: f32 = 1.0;
/// Weight of an unlisted (alternative-root) TLD.
pub const W_TLD: f32 = 2.8;

/// The benign character-bigram model.
#[derive(Clone, Debug)]
pub struct LexicalModel {
    /// `ln P(next | prev)` at `prev * EXT + next`, over the alphabet's
    /// symbols and one more, [`ODD`] (a byte outside the alphabet), whose row
    /// and column hold the floor: the smallest log-probability of the model.
    ext: Box<[f32; EXT * EXT]>,
}

/// Symbols of [`LexicalModel::ext`]: the alphabet and [`ODD`].
const EXT: usize = NSYM + 1;
/// The symbol of a byte outside `[a-z0-9-]`.
const ODD: usize = NSYM;
/// Per byte: the low six bits are its symbol (`sym`, or [`ODD`]); bit 6 is
/// set for digits, bit 7 for lower-case consonants (letters but `aeiou`).
const CLASS: [u8; 256] = byte_classes();
const DIGIT: u8 = 1 << 6;
const CONSONANT: u8 = 1 << 7;

const fn byte_classes() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = match c {
            b'a'..=b'z' => 1 + (c - b'a'),
            b'0'..=b'9' => 27 + (c - b'0'),
            b'-' => 37,
            _ => ODD as u8,
        };
        if c.is_ascii_digit() {
            t[b] |= DIGIT;
        }
        if c.is_ascii_lowercase() && !matches!(c, b'a' | b'e' | b'i' | b'o' | b'u') {
            t[b] |= CONSONANT;
        }
        b += 1;
    }
    t
}

/// Per-term contributions to the logit `z` (for explanations).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Contributions {
    /// Excess surprisal term.
    pub surprise: f32,
    /// Length term.
    pub length: f32,
    /// Entropy term.
    pub entropy: f32,
    /// Digit ratio + digit run terms.
    pub digits: f32,
    /// Consonant run term.
    pub consonants: f32,
    /// Odd-character term.
    pub odd_chars: f32,
    /// Keyword / brand term.
    pub keyword: f32,
    /// Punycode term.
    pub punycode: f32,
    /// Unlisted-TLD term.
    pub unlisted_tld: f32,
}

/// Lexical features and risk of one name.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LexicalScore {
    /// Risk in `[0, 1]` (see the module docs for the formula).
    pub risk: f32,
    /// Shannon entropy (bits/char) of the scored characters.
    pub entropy: f32,
    /// Mean `ln P` per bigram transition over the scored labels (0 if none).
    pub bigram_logprob: f32,
    /// Excess surprisal `Σ(−ln P − TAU)` (nats; can be negative).
    pub surprise: f32,
    /// Bigram transitions scored (label boundaries included), saturating.
    pub transitions: u16,
    /// Longest run of consonants.
    pub max_consonant_run: u8,
    /// Longest run of digits.
    pub max_digit_run: u8,
    /// Fraction of scored characters that are digits.
    pub digit_ratio: f32,
    /// Scored characters (dots excluded), saturating.
    pub scored_len: u16,
    /// Scored characters outside `[a-z0-9-]`, saturating.
    pub odd_chars: u16,
    /// Lure keyword or brand-in-subdomain.
    pub keyword: bool,
    /// A scored label is punycode.
    pub punycode: bool,
    /// The top-level label is not in the PSL nor private-use (only set by
    /// [`LexicalModel::score_in`]).
    pub unlisted_tld: bool,
    /// Per-term contributions to the logit.
    pub contrib: Contributions,
}

#[inline]
fn sym(b: u8) -> Option<usize> {
    match b {
        b'a'..=b'z' => Some(1 + (b - b'a') as usize),
        b'0'..=b'9' => Some(27 + (b - b'0') as usize),
        b'-' => Some(37),
        _ => None,
    }
}

fn sym_char(s: usize, as_prev: bool) -> char {
    match s {
        BOUNDARY => {
            if as_prev {
                '^'
            } else {
                '$'
            }
        }
        1..=26 => (b'a' + (s - 1) as u8) as char,
        27..=36 => (b'0' + (s - 27) as u8) as char,
        _ => '-',
    }
}

fn parse_sym(c: char, as_prev: bool) -> Option<usize> {
    match c {
        '^' if as_prev => Some(BOUNDARY),
        '$' if !as_prev => Some(BOUNDARY),
        c if c.is_ascii() => sym(c as u8),
        _ => None,
    }
}

/// Whether a subdomain label is an ordinary host/service label (not scored).
pub fn is_ordinary_label(label: &str) -> bool {
    let b = label.as_bytes();
    if b.first() == Some(&b'_') {
        return b.len() <= 20
            && b[1..]
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_');
    }
    let stem = label.trim_end_matches(|c: char| c.is_ascii_digit());
    !stem.is_empty() && ORDINARY_LABELS.contains(&stem)
}

impl LexicalModel {
    /// The embedded model (`data/benign_bigrams.tsv`), parsed once.
    ///
    /// # Panics
    /// Only if the embedded file does not parse: a build-time invariant checked
    /// by the `embedded_model_parses` test.
    pub fn embedded() -> Self {
        static M: std::sync::OnceLock<LexicalModel> = std::sync::OnceLock::new();
        M.get_or_init(|| {
            #[allow(clippy::expect_used)] // documented invariant
            LexicalModel::from_text(EMBEDDED_MODEL)
                .expect("embedded data/benign_bigrams.tsv must parse")
        })
        .clone()
    }

    /// Parse a model from UTF-8 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EnrichError> {
        let text = std::str::from_utf8(bytes).map_err(|_| EnrichError::ModelNotUtf8)?;
        Self::from_text(text)
    }

    /// Parse a model in the `benign_bigrams.tsv` format; every one of the
    /// 38×38 rows must be present exactly once.
    pub fn from_text(text: &str) -> Result<Self, EnrichError> {
        let mut table = vec![f32::NAN; NSYM * NSYM];
        let mut seen = 0usize;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |msg: &str| EnrichError::Model {
                line: i + 1,
                msg: msg.to_string(),
            };
            let (key, val) = line
                .split_once('\t')
                .ok_or_else(|| bad("expected `ab<TAB>logprob`"))?;
            let mut ch = key.chars();
            let (Some(a), Some(b), None) = (ch.next(), ch.next(), ch.next()) else {
                return Err(bad("key must be two characters"));
            };
            let (Some(pa), Some(nb)) = (parse_sym(a, true), parse_sym(b, false)) else {
                return Err(bad("character outside the alphabet"));
            };
            let lp: f32 = val.trim().parse().map_err(|_| bad("bad log-probability"))?;
            if !lp.is_finite() || lp > 0.0 {
                return Err(bad("log-probability must be finite and <= 0"));
            }
            let slot = &mut table[pa * NSYM + nb];
            if !slot.is_nan() {
                return Err(bad("duplicate row"));
            }
            *slot = lp;
            seen += 1;
        }
        if seen != NSYM * NSYM {
            return Err(EnrichError::Model {
                line: 0,
                msg: format!("expected {} rows, found {seen}", NSYM * NSYM),
            });
        }
        let floor = table.iter().copied().fold(0.0f32, f32::min);
        let mut ext = Box::new([floor; EXT * EXT]);
        for p in 0..NSYM {
            ext[p * EXT..p * EXT + NSYM].copy_from_slice(&table[p * NSYM..(p + 1) * NSYM]);
        }
        Ok(LexicalModel { ext })
    }

    /// Score a name. `registrable` should be what [`Psl::registrable_domain`]
    /// returned for it (a suffix of `qname`); `None` means "no registrable
    /// domain" and the last label is treated as the suffix. This form cannot
    /// tell an unlisted TLD from a name that is itself a public suffix, so
    /// `unlisted_tld` is always `false`; [`LexicalModel::score_in`] (used by the
    /// enricher) can. Never panics, allocates nothing; `risk` is always finite
    /// and in `[0, 1]`.
    pub fn score(&self, qname: &str, registrable: Option<&str>) -> LexicalScore {
        self.score_inner(qname, registrable, false)
    }

    /// Score a name, looking its registrable domain up in `psl` and setting
    /// `unlisted_tld` when its top-level label is alphabetic, absent from the
    /// PSL and not a private-use name ([`PRIVATE_USE_TLDS`]). This is what
    /// [`crate::enrich::Enricher`] uses.
    pub fn score_in(&self, qname: &str, psl: &Psl) -> LexicalScore {
        let reg = psl.registrable_domain(qname);
        let unlisted = reg.is_none() && is_unlisted_tld(qname, psl);
        self.score_inner(qname, reg, unlisted)
    }

    /// [`LexicalModel::score`] with the `unlisted_tld` flag supplied by the
    /// caller (who already did the PSL lookup).
    pub(crate) fn score_inner(
        &self,
        qname: &str,
        registrable: Option<&str>,
        unlisted_tld: bool,
    ) -> LexicalScore {
        let name = trim_dot(qname);
        if name == "arpa" || name.ends_with(".arpa") {
            return LexicalScore::default();
        }
        // The registrable domain, when it is a non-empty suffix of the name.
        let reg = registrable
            .map(trim_dot)
            .filter(|r| !r.is_empty() && name.ends_with(r));
        // Byte offset where the registrable label starts and where the scored part ends.
        let (reg_start, scored_end) = match reg {
            Some(r) => {
                let start = name.len() - r.len();
                let end = r
                    .bytes()
                    .position(|b| b == b'.')
                    .map_or(name.len(), |i| start + i);
                (start, end)
            }
            None => match name.rfind('.') {
                Some(i) => (name[..i].rfind('.').map_or(0, |j| j + 1), i),
                None => (0, name.len()),
            },
        };
        let scored = &name[..scored_end];
        let reg_label = &name[reg_start..scored_end];
        // Lure words and brands mean nothing under a domain the attacker cannot
        // own (`account.eum-appdynamics.com`, `oauth2.googleapis.com`): a popular
        // registrable domain vouches for its names (shared platforms excepted),
        // and a popular domain carrying a brand belongs to the brand.
        let standing = reg.map_or_else(Default::default, super::popular::standing);
        let vouched = standing.vouches;
        let brand_owned = standing.popular;

        let mut hist = [0u16; 256];
        let mut n: u32 = 0;
        let mut digits: u32 = 0;
        let mut odd: u32 = 0;
        let mut max_drun: u32 = 0;
        let mut max_crun: u32 = 0;
        let mut lp_sum: f32 = 0.0;
        let mut transitions: u32 = 0;
        let mut punycode = false;
        let mut keyword = false;
        // Bytes seen (bit `c` of the 256): the entropy visits only these.
        let mut seen = [0u64; 4];
        let mut off = 0usize;
        for piece in scored.as_bytes().split(|b| *b == b'.') {
            let label = &scored[off..off + piece.len()];
            let is_reg = off == reg_start;
            off += label.len() + 1;
            if !is_reg && is_ordinary_label(label) {
                continue;
            }
            if label.starts_with("xn--") {
                // An encoding, not text: flagged, but not scored lexically.
                punycode = true;
                continue;
            }
            if !is_reg && !vouched && brands().is_match(label) {
                keyword = true;
            }
            // `lp(prev, sym(c))` with the symbols of `CLASS` and the table
            // `ext`: the same log-probabilities, added in the same order.
            let mut prev = BOUNDARY;
            let (mut drun, mut crun) = (0u32, 0u32);
            for &c in label.as_bytes() {
                let class = CLASS[usize::from(c)];
                let s = usize::from(class & 0x3f);
                lp_sum += self.ext[prev * EXT + s];
                transitions += 1;
                prev = s;
                n += 1;
                hist[c as usize] = hist[c as usize].saturating_add(1);
                seen[(c >> 6) as usize] |= 1u64 << (c & 63);
                if class & DIGIT != 0 {
                    digits += 1;
                    drun += 1;
                    max_drun = max_drun.max(drun);
                } else {
                    drun = 0;
                }
                if class & CONSONANT != 0 {
                    crun += 1;
                    max_crun = max_crun.max(crun);
                } else {
                    crun = 0;
                }
                if s == ODD {
                    odd += 1;
                }
            }
            if !label.is_empty() {
                lp_sum += self.ext[prev * EXT + BOUNDARY];
                transitions += 1;
            }
        }
        if !keyword {
            // A brand inside a longer registrable label (paypal-secure.com),
            // not the brand's own domain (paypal.com).
            keyword = (!vouched && keywords().is_match(scored))
                || (!brand_owned && brands().occurs_shorter_than(reg_label, reg_label.len()));
        }
        let nf = n as f32;
        let entropy = if n == 0 {
            0.0
        } else {
            // Over the bytes seen, in ascending order: the same terms in the
            // same order as a pass over all 256 counts skipping the zeros.
            let mut h = 0.0f32;
            for (w, &bits) in seen.iter().enumerate() {
                let mut bits = bits;
                while bits != 0 {
                    let c = hist[w * 64 + bits.trailing_zeros() as usize];
                    bits &= bits - 1;
                    let p = c as f32 / nf;
                    h -= p * p.log2();
                }
            }
            h
        };
        let digit_ratio = if n == 0 { 0.0 } else { digits as f32 / nf };
        let surprise = -lp_sum - TAU * transitions as f32;
        let bigram_logprob = if transitions == 0 {
            0.0
        } else {
            lp_sum / transitions as f32
        };
        let contrib = Contributions {
            surprise: W_SURPRISE * surprise.max(0.0),
            length: W_LEN * (nf - LEN0).max(0.0),
            entropy: W_ENTROPY * (entropy - H0).max(0.0),
            digits: W_DIGITS * digit_ratio + W_DRUN * (max_drun as f32 - DRUN0).max(0.0),
            consonants: W_CRUN * (max_crun as f32 - CRUN0).max(0.0),
            odd_chars: W_ODD * odd.min(8) as f32,
            keyword: if keyword { W_KEYWORD } else { 0.0 },
            punycode: if punycode { W_PUNY } else { 0.0 },
            unlisted_tld: if unlisted_tld { W_TLD } else { 0.0 },
        };
        let z = B
            + contrib.surprise
            + contrib.length
            + contrib.entropy
            + contrib.digits
            + contrib.consonants
            + contrib.odd_chars
            + contrib.keyword
            + contrib.punycode
            + contrib.unlisted_tld;
        let risk = if n == 0 { 0.0 } else { sigmoid(z) };
        LexicalScore {
            risk,
            entropy,
            bigram_logprob,
            surprise,
            max_consonant_run: max_crun.min(255) as u8,
            max_digit_run: max_drun.min(255) as u8,
            digit_ratio,
            scored_len: n.min(u16::MAX as u32) as u16,
            transitions: transitions.min(u16::MAX as u32) as u16,
            odd_chars: odd.min(u16::MAX as u32) as u16,
            keyword,
            punycode,
            unlisted_tld,
            contrib,
        }
    }
}

/// Logistic function, clamped so the result is always finite and in `[0, 1]`.
#[inline]
fn sigmoid(z: f32) -> f32 {
    if !z.is_finite() {
        return if z > 0.0 { 1.0 } else { 0.0 };
    }
    let z = z.clamp(-40.0, 40.0);
    (1.0 / (1.0 + (-z).exp())).clamp(0.0, 1.0)
}

/// Bigram counts over scored labels, the input of the model file.
#[derive(Clone, Debug)]
pub struct BigramCounts {
    counts: Vec<u64>,
    names: u64,
    labels: u64,
}

impl Default for BigramCounts {
    fn default() -> Self {
        BigramCounts {
            counts: vec![0; NSYM * NSYM],
            names: 0,
            labels: 0,
        }
    }
}

impl BigramCounts {
    /// Count the transitions of one label (`^label$`). Labels with characters
    /// outside `[a-z0-9-]` are skipped.
    pub fn add_label(&mut self, label: &str) {
        if label.is_empty() || !label.bytes().all(|b| sym(b).is_some()) {
            return;
        }
        let mut prev = BOUNDARY;
        for b in label.bytes() {
            let s = sym(b).unwrap_or(BOUNDARY);
            self.counts[prev * NSYM + s] += 1;
            prev = s;
        }
        self.counts[prev * NSYM + BOUNDARY] += 1;
        self.labels += 1;
    }

    /// Count the scored part of a benign name: the labels left of its public
    /// suffix. Names without a registrable domain are skipped.
    pub fn add_name(&mut self, name: &str, psl: &Psl) {
        let name = trim_dot(name);
        let Some(reg) = psl.registrable_domain(name) else {
            return;
        };
        let start = name.len() - reg.len();
        let end = reg.find('.').map_or(name.len(), |i| start + i);
        for label in name[..end].split('.') {
            self.add_label(label);
        }
        self.names += 1;
    }

    /// Render the model file (deterministic: fixed row order, 6 decimals).
    pub fn to_model_text(&self) -> String {
        use std::fmt::Write;
        let total: u64 = self.counts.iter().sum();
        let mut s = String::with_capacity(NSYM * NSYM * 14 + 400);
        s.push_str(
            "# sentineldns benign character-bigram model v1 (tools/src/bin/build_lexicon.rs)\n",
        );
        s.push_str("# alphabet\t^$abcdefghijklmnopqrstuvwxyz0123456789-\n");
        s.push_str(
            "# smoothing\tlaplace+1; value = ln((count(prev,next)+1) / (count(prev,*)+38))\n",
        );
        let _ = writeln!(s, "# names\t{}", self.names);
        let _ = writeln!(s, "# labels\t{}", self.labels);
        let _ = writeln!(s, "# transitions\t{total}");
        for p in 0..NSYM {
            let row: u64 = self.counts[p * NSYM..(p + 1) * NSYM].iter().sum();
            for nx in 0..NSYM {
                let c = self.counts[p * NSYM + nx];
                let lp = ((c as f64 + 1.0) / (row as f64 + NSYM as f64)).ln();
                let _ = writeln!(s, "{}{}\t{:.6}", sym_char(p, true), sym_char(nx, false), lp);
            }
        }
        s
    }
}

/// Read the benign training names from every `*.txt` / `*.csv` file in `dir`
/// (sorted by file name). Text files hold one domain per line; CSV files hold
/// `rank,domain` (the last field is used). Names are lowercased, trimmed,
/// stripped of a trailing dot and de-duplicated (sorted set).
pub fn read_benign_names(dir: &Path) -> Result<BTreeSet<String>, EnrichError> {
    let io = |e: std::io::Error| EnrichError::Io {
        path: dir.display().to_string(),
        source: e,
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("txt" | "csv")))
        .collect();
    files.sort();
    let mut names = BTreeSet::new();
    for f in &files {
        let text = std::fs::read_to_string(f).map_err(|e| EnrichError::Io {
            path: f.display().to_string(),
            source: e,
        })?;
        for line in text.lines() {
            let field = line
                .rsplit(',')
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches('"');
            let d = trim_dot(field).to_ascii_lowercase();
            if d.is_empty() || d == "domain" {
                continue;
            }
            names.insert(d);
        }
    }
    Ok(names)
}

/// Build the model file text from the benign lists in `dir` using `psl`
/// (the ICANN-only embedded list for the shipped model).
pub fn build_model_text(dir: &Path, psl: &Psl) -> Result<String, EnrichError> {
    let names = read_benign_names(dir)?;
    let mut c = BigramCounts::default();
    for n in &names {
        c.add_name(n, psl);
    }
    Ok(c.to_model_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matchers_agree_with_naive_search() {
        for name in [
            "paypal-secure-login.com",
            "paypal",
            "mypaypal",
            "applecare",
            "login.microsoftonline",
            "www.example.com",
            "verify-account-wallet",
            "xn--pple-43d",
            "",
            "signinsecure",
        ] {
            assert_eq!(
                keywords().is_match(name),
                KEYWORDS.iter().any(|k| name.contains(k)),
                "{name}"
            );
            assert_eq!(
                brands().is_match(name),
                BRANDS.iter().any(|b| name.contains(b)),
                "{name}"
            );
            let naive = BRANDS
                .iter()
                .any(|b| name != *b && name.len() > b.len() && name.contains(b));
            let fast = brands().occurs_shorter_than(name, name.len());
            assert_eq!(fast, naive, "{name}");
        }
    }

    /// The automaton the scorer used before [`WordSet`].
    fn automaton(words: &[&str]) -> aho_corasick::AhoCorasick {
        aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::Standard)
            .build(words)
            .unwrap()
    }

    #[test]
    fn word_sets_find_what_the_automaton_found() {
        let (kw, br) = (automaton(KEYWORDS), automaton(BRANDS));
        let mut texts: Vec<String> = Vec::new();
        for w in KEYWORDS.iter().chain(BRANDS) {
            texts.push(w.to_string());
            texts.push(format!("x{w}"));
            texts.push(format!("{w}-x"));
            texts.push(format!("my{w}{w}.com"));
            texts.push(w[..w.len() - 1].to_string());
            texts.push(w[1..].to_string());
        }
        let mut state = 7u64;
        let alphabet = b"abcdefghiklmnoprstuvwy0123-.\xc3";
        for _ in 0..50_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let len = (state >> 58) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1);
                    alphabet[(state >> 33) as usize % alphabet.len()]
                })
                .collect();
            texts.push(String::from_utf8_lossy(&bytes).into_owned());
        }
        let mut hits = 0;
        for t in &texts {
            assert_eq!(keywords().is_match(t), kw.is_match(t), "{t:?}");
            assert_eq!(brands().is_match(t), br.is_match(t), "{t:?}");
            for n in [0, 4, 6, t.len(), usize::MAX] {
                let old = br.find_overlapping_iter(t.as_str()).any(|m| m.len() < n);
                assert_eq!(brands().occurs_shorter_than(t, n), old, "{t:?} {n}");
            }
            hits += usize::from(kw.is_match(t) || br.is_match(t));
        }
        assert!(hits > 200, "{hits}");
    }

    fn m() -> LexicalModel {
        LexicalModel::embedded()
    }

    #[test]
    fn byte_classes_and_the_extended_table_are_the_symbols_and_the_model() {
        for b in 0..=255u8 {
            let class = CLASS[usize::from(b)];
            assert_eq!(usize::from(class & 0x3f), sym(b).unwrap_or(ODD), "{b}");
            assert_eq!(class & DIGIT != 0, b.is_ascii_digit(), "{b}");
            let consonant = b.is_ascii_lowercase() && !b"aeiou".contains(&b);
            assert_eq!(class & CONSONANT != 0, consonant, "{b}");
        }
        // `lp(prev, next)` as the model file gives it, `floor` for a symbol
        // outside the alphabet.
        let mut table = vec![f32::NAN; NSYM * NSYM];
        for line in EMBEDDED_MODEL.lines().filter(|l| !l.starts_with('#')) {
            let (key, val) = line.split_once('\t').unwrap();
            let mut ch = key.chars();
            let p = parse_sym(ch.next().unwrap(), true).unwrap();
            let n = parse_sym(ch.next().unwrap(), false).unwrap();
            table[p * NSYM + n] = val.trim().parse().unwrap();
        }
        let floor = table.iter().copied().fold(0.0f32, f32::min);
        let model = m();
        for p in 0..EXT {
            for n in 0..EXT {
                let want = if p < NSYM && n < NSYM {
                    table[p * NSYM + n]
                } else {
                    floor
                };
                assert_eq!(model.ext[p * EXT + n].to_bits(), want.to_bits(), "{p} {n}");
            }
        }
    }

    #[test]
    fn embedded_model_parses() {
        assert!(LexicalModel::from_text(EMBEDDED_MODEL).is_ok());
    }

    #[test]
    fn model_parse_errors() {
        assert!(matches!(
            LexicalModel::from_bytes(&[0xff]),
            Err(EnrichError::ModelNotUtf8)
        ));
        assert!(LexicalModel::from_text("ab\t-1.0\n").is_err());
        assert!(LexicalModel::from_text("abc\t-1.0\n").is_err());
        assert!(LexicalModel::from_text("ab\tx\n").is_err());
        let dup = format!("{EMBEDDED_MODEL}ab\t-1.0\n");
        assert!(LexicalModel::from_text(&dup).is_err());
    }

    #[test]
    fn ordinary_subdomains_are_not_penalised() {
        let m = m();
        let psl = Psl::embedded(false);
        for (a, b) in [
            ("www.wikipedia.org", "wikipedia.org"),
            ("mail.example.com", "example.com"),
            ("cdn.shopify.com", "shopify.com"),
            ("api.github.com", "github.com"),
            ("ns1.example.co.uk", "example.co.uk"),
            ("_dmarc.example.com", "example.com"),
        ] {
            let sa = m.score(a, psl.registrable_domain(a));
            let sb = m.score(b, psl.registrable_domain(b));
            assert_eq!(sa.risk, sb.risk, "{a}");
        }
    }

    #[test]
    fn obvious_cases() {
        let m = m();
        let psl = Psl::embedded(false);
        let r = |q: &str| m.score(q, psl.registrable_domain(q)).risk;
        assert!(r("google.com") < 0.2);
        assert!(r("wikipedia.org") < 0.2);
        assert!(r("xjw7qk2v9zpl4m.com") > 0.7);
        assert!(
            r("mzxw6ytboi2gk4tfmvzxi5dfon2gk3tfmvzxi.dfmvzxi5dfon2gk3tf.tunnel.example.com") > 0.9
        );
        assert!(r("paypal.com.account-verify.xyz") > r("account-verify.xyz"));
        let s = m.score("xn--80ak6aa92e.com", Some("xn--80ak6aa92e.com"));
        assert!(s.punycode);
        assert_eq!(r("1.0.168.192.in-addr.arpa"), 0.0);
        assert_eq!(r(""), 0.0);
    }

    // ------------------------------------------- popularity prior (vouching)

    /// `keyword` flag of `q` scored the way the enricher does (PSL lookup,
    /// private suffixes off).
    fn kw(q: &str) -> bool {
        m().score_in(q, &Psl::embedded(false)).keyword
    }

    #[test]
    fn lure_words_do_not_count_under_a_vouched_domain() {
        use crate::enrich::popular::vouches;
        assert!(vouches("eum-appdynamics.com"));
        assert!(!vouches("eum-appdynamics.net"));
        // `account` is a lure word: not under a popular domain, yes elsewhere.
        assert!(!kw("account.eum-appdynamics.com"));
        assert!(kw("account.eum-appdynamics.net"));
        assert!(!kw("login.secure.eum-appdynamics.com"));
        assert!(kw("login.secure.eum-appdynamics.net"));
        let s = m().score_in("account.eum-appdynamics.com", &Psl::embedded(false));
        assert_eq!(s.contrib.keyword, 0.0);
        let s = m().score_in("account.eum-appdynamics.net", &Psl::embedded(false));
        assert_eq!(s.contrib.keyword, W_KEYWORD);
    }

    #[test]
    fn brands_in_subdomains_do_not_count_under_a_vouched_domain() {
        assert!(!kw("paypal.eum-appdynamics.com"));
        assert!(kw("paypal.eum-appdynamics.net"));
        assert!(!kw("microsoft.eum-appdynamics.com"));
        assert!(kw("microsoft.eum-appdynamics.net"));
    }

    #[test]
    fn a_brand_inside_a_popular_registrable_label_is_the_brands_own() {
        use crate::enrich::brand::popular_set;
        use crate::enrich::popular::vouches;
        // googleapis.com is popular but a shared platform (PSL private
        // section): it does not vouch, yet `google` in it is Google's own.
        assert!(popular_set().contains("googleapis.com"));
        assert!(!vouches("googleapis.com"));
        assert!(!kw("oauth2.googleapis.com"));
        assert!(!kw("googleapis.com"));
        assert!(!kw("microsoftazuread-sso.com"));
        // The same shapes on unlisted domains are lures.
        assert!(kw("oauth2.googleapis-cdn.com"));
        assert!(kw("microsoftazuread-sso.net"));
    }

    #[test]
    fn shared_platforms_and_lookalike_registrations_still_lure() {
        use crate::enrich::popular::vouches;
        assert!(!vouches("web.app"));
        // Brand and lure words in a subdomain of a shared platform.
        assert!(kw("login-paypal-x8.web.app"));
        assert!(kw("paypal.web.app"));
        // Brand embedded in a longer registrable label of an unlisted domain.
        assert!(kw("paypal-secure-login.com"));
        assert!(kw("paypal-help.net"));
        assert!(kw("www.paypal-help.net"));
        // The brand's own domain is not a lure.
        assert!(!kw("paypal.com"));
        assert!(!kw("www.paypal.com"));
    }

    #[test]
    fn vouching_needs_the_registrable_domain_to_be_a_suffix_of_the_name() {
        let m = m();
        // A registrable domain that is not the name's own vouches for nothing.
        assert!(
            m.score("account.foo.net", Some("eum-appdynamics.com"))
                .keyword
        );
        assert!(
            !m.score("account.eum-appdynamics.com", Some("eum-appdynamics.com"))
                .keyword
        );
        // Trailing dots on either side are ignored.
        assert!(
            !m.score("account.eum-appdynamics.com.", Some("eum-appdynamics.com."))
                .keyword
        );
        assert!(
            !m.score("account.eum-appdynamics.com.", Some("eum-appdynamics.com"))
                .keyword
        );
        // No registrable domain: nothing vouches.
        assert!(m.score("account.eum-appdynamics.com", None).keyword);
    }

    #[test]
    fn vouching_removes_only_the_keyword_contribution() {
        let m = m();
        let psl = Psl::embedded(false);
        // Same scored labels (the suffix is not scored): only the popularity of
        // the registrable domain differs, so only the keyword term may differ.
        let v = m.score_in("login-x7k2q9.eum-appdynamics.com", &psl);
        let u = m.score_in("login-x7k2q9.eum-appdynamics.net", &psl);
        assert!(!v.keyword && u.keyword);
        assert_eq!(v.contrib.keyword, 0.0);
        assert_eq!(u.contrib.keyword, W_KEYWORD);
        let rest = |c: &Contributions| {
            [
                c.surprise,
                c.length,
                c.entropy,
                c.digits,
                c.consonants,
                c.odd_chars,
                c.punycode,
                c.unlisted_tld,
            ]
        };
        assert_eq!(rest(&v.contrib), rest(&u.contrib));
        assert_eq!(v.entropy, u.entropy);
        // The lexical risk itself is kept (lower only by the keyword term).
        assert!(v.risk > 0.5, "{}", v.risk);
        assert!(v.risk < u.risk);
    }
}
