//! The one brand list: every brand whose lookalikes are flagged
//! ([`crate::enrich::brand`]), each marked with whether it also counts for
//! lexical risk ([`crate::enrich::lexical`]).
//!
//! Brands are the most-phished brands of public phishing reports (APWG,
//! Vade, Cloudflare): mail and office suites, banks, payment, parcel
//! services, crypto exchanges, social networks, file sharing. Brands that are
//! ordinary words or too short to be distinctive (`ups`, `visa`, `ledger`) are
//! left out: as tokens they occur in too many honest names.
//!
//! The lexical subset ([`LEXICAL`], 28 brands) is the one the lexical scorer
//! and the shipped model were built with: a brand inside a subdomain or a
//! hyphenated registrable label raises lexical risk. Marking another brand
//! `lex` moves lexical scores (retrain and re-check the model).
//! Lookalike detection uses all of them ([`NAMES`], 51, in this order: a
//! detected impersonation stores its brand as an index into it).

/// One brand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Brand {
    /// Lowercase ASCII name as it appears in domain labels.
    pub name: &'static str,
    /// Whether the lexical scorer counts it (a lure keyword).
    pub lexical: bool,
}

/// A brand for lookalike detection only.
const fn brand(name: &'static str) -> Brand {
    Brand {
        name,
        lexical: false,
    }
}

/// A brand for lookalike detection and lexical risk.
const fn lex(name: &'static str) -> Brand {
    Brand {
        name,
        lexical: true,
    }
}

/// Every brand, in index order.
pub const ALL: &[Brand] = &[
    lex("paypal"),
    lex("apple"),
    lex("icloud"),
    lex("microsoft"),
    lex("office365"),
    lex("outlook"),
    brand("onedrive"),
    brand("sharepoint"),
    lex("google"),
    brand("gmail"),
    brand("yahoo"),
    lex("amazon"),
    lex("netflix"),
    brand("spotify"),
    lex("facebook"),
    lex("instagram"),
    lex("whatsapp"),
    brand("telegram"),
    lex("linkedin"),
    brand("twitter"),
    brand("tiktok"),
    brand("discord"),
    brand("roblox"),
    lex("steam"),
    lex("dropbox"),
    brand("wetransfer"),
    lex("docusign"),
    lex("adobe"),
    lex("chase"),
    lex("wellsfargo"),
    brand("bankofamerica"),
    lex("citibank"),
    lex("hsbc"),
    brand("barclays"),
    brand("santander"),
    brand("americanexpress"),
    brand("amex"),
    brand("mastercard"),
    lex("binance"),
    lex("coinbase"),
    brand("kraken"),
    lex("metamask"),
    brand("blockchain"),
    brand("trezor"),
    lex("ebay"),
    brand("walmart"),
    brand("booking"),
    brand("airbnb"),
    lex("dhl"),
    lex("fedex"),
    lex("usps"),
];

const fn count_lexical() -> usize {
    let (mut i, mut n) = (0, 0);
    while i < ALL.len() {
        if ALL[i].lexical {
            n += 1;
        }
        i += 1;
    }
    n
}

const N_LEXICAL: usize = count_lexical();

const fn names() -> [&'static str; ALL.len()] {
    let mut out = [""; ALL.len()];
    let mut i = 0;
    while i < ALL.len() {
        out[i] = ALL[i].name;
        i += 1;
    }
    out
}

const fn lexical_names() -> [&'static str; N_LEXICAL] {
    let mut out = [""; N_LEXICAL];
    let (mut i, mut j) = (0, 0);
    while i < ALL.len() {
        if ALL[i].lexical {
            out[j] = ALL[i].name;
            j += 1;
        }
        i += 1;
    }
    out
}

/// Every brand's name, in index order (lookalike detection).
pub const NAMES: [&str; ALL.len()] = names();

/// The brands that count for lexical risk.
pub const LEXICAL: [&str; N_LEXICAL] = lexical_names();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lexical_subset_is_the_one_the_scorer_was_built_with() {
        // The 28 brands of the lexical scorer before the lists were merged:
        // the lexical score and the shipped model depend on exactly these.
        let mut lexical = LEXICAL.to_vec();
        lexical.sort_unstable();
        assert_eq!(
            lexical,
            [
                "adobe",
                "amazon",
                "apple",
                "binance",
                "chase",
                "citibank",
                "coinbase",
                "dhl",
                "docusign",
                "dropbox",
                "ebay",
                "facebook",
                "fedex",
                "google",
                "hsbc",
                "icloud",
                "instagram",
                "linkedin",
                "metamask",
                "microsoft",
                "netflix",
                "office365",
                "outlook",
                "paypal",
                "steam",
                "usps",
                "wellsfargo",
                "whatsapp",
            ]
        );
        assert_eq!(NAMES.len(), 51);
        assert_eq!(NAMES[0], "paypal");
        assert_eq!(NAMES[50], "usps");
        let mut unique = NAMES.to_vec();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), NAMES.len(), "no brand twice");
        assert!(NAMES.iter().all(|n| !n.is_empty()
            && n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())));
    }
}
