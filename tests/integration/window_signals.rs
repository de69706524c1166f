//! Window signals of the popularity prior and the encoded-name / distinct-name
//! features, end to end through the public API: lookups → a real [`Enricher`]
//! (default configuration: embedded PSL, lexical model and allow-list) →
//! [`Aggregator`] → [`HostWindow`], then verdicts from the shipped model
//! (`models/default.bin`): the `encoded_subdomains` indicator, the evidence
//! gate and the `risky_domains` evidence rule.

use sentineldns::aggregate::{
    is_encoded, AggregateConfig, Aggregator, HostWindow, ENCODED_MIN_LABEL,
};
use sentineldns::detect::{
    model_input, Detector, Verdict, ENCODED_EVIDENCE_NAMES, ENCODED_MIN_NAMES,
    EVIDENCE_GATE_MARGIN, MODEL_FEATURES,
};
use sentineldns::enrich::{EnrichConfig, Enricher, Enrichment};
use sentineldns::event::{rcode, Lookup, MICROS};
use sentineldns::model::{Bundle, Label, Thresholds};
use std::net::IpAddr;

const HOST: &str = "10.0.0.7";
/// Start of a 300 s window (a multiple of 300 s).
const T0: i64 = 1_700_000_100 * MICROS;
const NX: u16 = rcode::NXDOMAIN;
const OK: u16 = rcode::NOERROR;

fn host() -> IpAddr {
    HOST.parse().unwrap()
}

/// `n` pseudo-random base32 characters (deterministic per `seed`).
fn b32(seed: &mut u64, n: usize) -> String {
    const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    (0..n)
        .map(|_| {
            *seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            A[(*seed >> 59) as usize] as char
        })
        .collect()
}

/// `n` distinct exfiltration-shaped names: a 40-character base32 label under `domain`.
fn exfil(domain: &str, n: usize, seed: u64) -> Vec<String> {
    let mut s = seed;
    (0..n)
        .map(|_| format!("{}.{domain}", b32(&mut s, 40)))
        .collect()
}

fn enrich(q: &str) -> Enrichment {
    Enricher::new(EnrichConfig::default()).enrich(&Lookup::new(T0, host(), q))
}

/// One host's window over `lookups` (name, rcode), one second apart, enriched
/// by a fresh default [`Enricher`].
fn window<S: AsRef<str>>(lookups: &[(S, u16)]) -> HostWindow {
    let mut e = Enricher::new(EnrichConfig::default());
    let mut a = Aggregator::new(AggregateConfig::default());
    for (i, (q, rc)) in lookups.iter().enumerate() {
        let l = Lookup {
            rcode: Some(*rc),
            ..Lookup::new(T0 + i as i64 * MICROS, host(), q.as_ref())
        };
        let en = e.enrich(&l);
        a.record(&l, &en);
    }
    let mut out = Vec::new();
    a.flush_all(&mut out);
    assert_eq!(out.len(), 1, "expected one window");
    out.pop().unwrap()
}

/// A window of NOERROR lookups of `names`.
fn ok_window<S: AsRef<str>>(names: &[S]) -> HostWindow {
    let v: Vec<(&str, u16)> = names.iter().map(|n| (n.as_ref(), OK)).collect();
    window(&v)
}

fn detector() -> Detector {
    let p = crate::util::repo_file("models/default.bin");
    Detector::new(Bundle::load(&p, &MODEL_FEATURES).expect("shipped model loads"))
        .expect("shipped model matches this build's features")
}

fn tags(v: &Verdict) -> Vec<&'static str> {
    v.reasons.iter().map(|r| r.tag).collect()
}

/// An ordinary browsing window: popular domains only, nothing risky.
fn ordinary() -> HostWindow {
    ok_window(&[
        "www.google.com",
        "mail.google.com",
        "www.wikipedia.org",
        "github.com",
    ])
}

const ONE_RISKY_DOMAIN: [&str; 3] = ["mail.x8k2qzt.com", "www.x8k2qzt.com", "api.x8k2qzt.com"];

// ------------------------------------------------------- the test inputs

#[test]
fn test_names_are_what_the_tests_assume() {
    for q in exfil("fastvaz.cc", 3, 1) {
        let e = enrich(&q);
        assert!(e.high_risk && !e.popular && !e.allowed, "{q}: {e:?}");
        assert_eq!(e.max_label_len, 40);
    }
    // Popular and allow-listed (antivirus hash lookups).
    let e = enrich(&exfil("sophosxl.net", 1, 1)[0]);
    assert!(e.popular && e.allowed && !e.high_risk, "{e:?}");
    // Popular, not allow-listed: random labels keep their (high) risk.
    let e = enrich(&exfil("eum-appdynamics.com", 1, 1)[0]);
    assert!(e.popular && !e.allowed && e.high_risk, "{e:?}");
    for q in ONE_RISKY_DOMAIN
        .iter()
        .chain(&["login.x8k2qzt.com", "www.qzxjvkwpmtrbnhgfdsl.com"])
    {
        let e = enrich(q);
        assert!(e.high_risk && !e.popular && !e.allowed, "{q}: {e:?}");
        assert_eq!(e.lure, q.starts_with("login."), "{q}");
    }
    for q in ["www.google.com", "mail.google.com", "www.wikipedia.org"] {
        let e = enrich(q);
        assert!(!e.high_risk && !e.lure && e.popular, "{q}: {e:?}");
    }
    let e = enrich("safebrowsing.googleapis.com");
    assert!(e.allowed && !e.popular, "{e:?}");
}

// -------------------------------------------------------- encoded names

#[test]
fn exfil_names_under_one_domain_are_counted_as_encoded() {
    let mut names = exfil("fastvaz.cc", 6, 7);
    // A repeated name is one distinct name.
    names.push(names[0].clone());
    let w = ok_window(&names);
    assert_eq!(w.lookups, 7);
    assert_eq!(w.unique_domains, 6);
    assert_eq!(w.encoded_names, 6);
    assert_eq!(w.encoded_domain, "fastvaz.cc");
    assert_eq!(w.max_subdomains, 6);
    assert_eq!(w.max_subdomains_domain, "fastvaz.cc");
    assert_eq!(w.high_risk_domains, 6);
    assert_eq!(w.high_risk_registrable, 1);
}

#[test]
fn encoded_domain_is_the_group_with_most_encoded_names_ties_by_name() {
    let mut names = exfil("zzexfil.cc", 2, 1);
    names.extend(exfil("fastvaz.cc", 4, 2));
    let w = ok_window(&names);
    assert_eq!(
        (w.encoded_names, w.encoded_domain.as_str()),
        (4, "fastvaz.cc")
    );
    assert_eq!(w.high_risk_registrable, 2);

    let mut names = exfil("bbexfil.cc", 3, 3);
    names.extend(exfil("aaexfil.cc", 3, 4));
    let w = ok_window(&names);
    assert_eq!(
        (w.encoded_names, w.encoded_domain.as_str()),
        (3, "aaexfil.cc")
    );
}

#[test]
fn popular_and_allow_listed_domains_vouch_for_encoded_names_and_fan_out() {
    // sophosxl.net: popular and allow-listed; eum-appdynamics.com: popular
    // only (its names stay high risk). Neither counts as encoded or fan-out,
    // even with more names than the unvouched domain.
    let mut names = exfil("sophosxl.net", 6, 11);
    names.extend(exfil("eum-appdynamics.com", 8, 12));
    names.extend(["www.x8k2qzt.com".to_owned(), "api.x8k2qzt.com".to_owned()]);
    let w = ok_window(&names);
    assert_eq!(w.unique_domains, 16);
    assert_eq!(w.unique_registrable, 3);
    assert_eq!(w.encoded_names, 0);
    assert_eq!(w.encoded_domain, "");
    assert_eq!(w.max_subdomains, 2);
    assert_eq!(w.max_subdomains_domain, "x8k2qzt.com");
    // Vouching is not a risk discount: the popular domain's random names are
    // still high risk (the allow-listed ones are not).
    assert_eq!(w.high_risk_domains, 8 + 2);
    assert_eq!(w.high_risk_registrable, 2);
}

#[test]
fn only_vouched_domains_leave_fan_out_and_encoded_empty() {
    let w = ok_window(&exfil("sophosxl.net", 6, 21));
    assert_eq!((w.encoded_names, w.encoded_domain.as_str()), (0, ""));
    assert_eq!(
        (w.max_subdomains, w.max_subdomains_domain.as_str()),
        (0, "")
    );
    let w = ok_window(&exfil("eum-appdynamics.com", 6, 22));
    assert_eq!((w.encoded_names, w.encoded_domain.as_str()), (0, ""));
    assert_eq!(
        (w.max_subdomains, w.max_subdomains_domain.as_str()),
        (0, "")
    );
    assert_eq!(w.high_risk_domains, 6);
    assert_eq!(w.high_risk_registrable, 1);
}

#[test]
fn one_unvouched_name_makes_its_group_unvouched_in_any_order() {
    // safebrowsing.googleapis.com is allow-listed; googleapis.com itself is a
    // shared platform (does not vouch). The group counts once any name in it
    // is not vouched for, whichever comes first.
    let mut names = exfil("googleapis.com", 3, 31);
    for allowed_first in [true, false] {
        if allowed_first {
            names.insert(0, "safebrowsing.googleapis.com".to_owned());
        } else {
            names.remove(0);
            names.push("safebrowsing.googleapis.com".to_owned());
        }
        let w = ok_window(&names);
        assert_eq!(w.max_subdomains, 4, "allowed first: {allowed_first}");
        assert_eq!(w.max_subdomains_domain, "googleapis.com");
        assert_eq!(w.encoded_names, 3);
        assert_eq!(w.encoded_domain, "googleapis.com");
    }
}

#[test]
fn a_long_registrable_label_with_ordinary_subdomains_is_not_encoded() {
    let names: Vec<String> = ["www", "mail", "api", "cdn", "static", "img"]
        .iter()
        .map(|s| format!("{s}.qzxjvkwpmtrbnhgfdsl.com"))
        .collect();
    for q in &names {
        let e = enrich(q);
        // High risk and a label of 19 characters: only its position differs.
        assert!(e.high_risk, "{q}");
        assert!(e.max_label_len as usize >= ENCODED_MIN_LABEL, "{q}");
    }
    let w = ok_window(&names);
    assert_eq!(w.encoded_names, 0);
    assert_eq!(w.encoded_domain, "");
    assert_eq!(w.max_subdomains, 6);
    assert_eq!(w.max_subdomains_domain, "qzxjvkwpmtrbnhgfdsl.com");
    assert_eq!(w.high_risk_domains, 6);
    assert_eq!(w.high_risk_registrable, 1);
}

#[test]
fn is_encoded_edge_cases() {
    let long = "mzxw6ytboi2gk4tfmvzxi5dfon2gk3tf"; // 32 characters
    let hot = Enrichment {
        high_risk: true,
        max_label_len: 40,
        ..Enrichment::default()
    };
    let g = "fastvaz.cc".len();
    let q = format!("{long}.fastvaz.cc");
    assert!(is_encoded(&q, g, &hot));
    // A trailing dot does not shift the subdomain part.
    assert!(is_encoded(&format!("{q}."), g, &hot));
    // Deeper labels count too; any one long label is enough.
    assert!(is_encoded(&format!("a.{long}.b.fastvaz.cc"), g, &hot));
    assert!(is_encoded(&format!("{long}.b.fastvaz.cc."), g, &hot));
    // The name is its own group, or shorter than it: nothing left of it.
    assert!(!is_encoded("fastvaz.cc", g, &hot));
    assert!(!is_encoded("fastvaz.cc.", g, &hot));
    assert!(!is_encoded("vaz.cc", g, &hot));
    assert!(!is_encoded("", g, &hot));
    assert!(!is_encoded(&q, q.len(), &hot));
    assert!(!is_encoded(&q, q.len() + 5, &hot));
    // The long label is the grouping domain's own, not a subdomain label.
    let reg = format!("{long}.com");
    assert!(!is_encoded(&format!("www.{reg}"), reg.len(), &hot));
    assert!(!is_encoded(&format!("www.{reg}."), reg.len(), &hot));
    // Label length boundary.
    let l = |n: usize| format!("{}.fastvaz.cc", "k".repeat(n));
    assert!(!is_encoded(&l(ENCODED_MIN_LABEL - 1), g, &hot));
    assert!(is_encoded(&l(ENCODED_MIN_LABEL), g, &hot));
    // Short labels only, however many.
    assert!(!is_encoded(
        "a1b2c3d4.e5f6g7h8.i9j0k1l2.fastvaz.cc",
        g,
        &hot
    ));
    // Not high risk, or (per the enrichment) no long label at all.
    let cold = Enrichment {
        high_risk: false,
        ..hot
    };
    assert!(!is_encoded(&q, g, &cold));
    let short = Enrichment {
        max_label_len: (ENCODED_MIN_LABEL - 1) as u8,
        ..hot
    };
    assert!(!is_encoded(&q, g, &short));
    // With a real enrichment.
    let names = exfil("fastvaz.cc", 1, 5);
    let e = enrich(&names[0]);
    assert!(is_encoded(&names[0], e.group_len as usize, &e));
    let e = enrich("www.qzxjvkwpmtrbnhgfdsl.com");
    assert!(!is_encoded(
        "www.qzxjvkwpmtrbnhgfdsl.com",
        e.group_len as usize,
        &e
    ));
}

// ------------------------------------------------------- NXDOMAIN names

#[test]
fn a_retried_dead_name_is_one_nxdomain_name() {
    let w = window(&[("dead-name.example.com", NX); 6]);
    assert_eq!(w.nxdomain, 6);
    assert_eq!(w.nxdomain_names, 1);
    assert_eq!(w.unique_domains, 1);
}

#[test]
fn distinct_dead_names_each_count() {
    let names: Vec<(String, u16)> = (0..5)
        .map(|i| (format!("host{i}.example.com"), NX))
        .collect();
    let w = window(&names);
    assert_eq!(w.nxdomain, 5);
    assert_eq!(w.nxdomain_names, 5);
}

#[test]
fn nxdomain_names_counts_names_with_at_least_one_failure() {
    let w = window(&[
        ("a.example.com", NX),
        ("a.example.com", NX),
        ("a.example.com", NX),
        ("b.example.com", OK),
        ("b.example.com", OK),
        // Resolved first, failed later: counts once.
        ("c.example.com", OK),
        ("c.example.com", NX),
        ("c.example.com", NX),
        ("d.example.com", rcode::SERVFAIL),
    ]);
    assert_eq!(w.nxdomain, 5);
    assert_eq!(w.nxdomain_names, 2);
    assert_eq!(w.unique_domains, 4);
}

// -------------------------------------------------- risky registrables

#[test]
fn high_risk_names_under_one_registrable_domain_are_one_risky_domain() {
    let w = ok_window(&["login.x8k2qzt.com", "www.x8k2qzt.com", "api.x8k2qzt.com"]);
    assert_eq!(w.high_risk_domains, 3);
    assert_eq!(w.high_risk_registrable, 1);
    assert_eq!(w.risky_lure_domains, 1);

    let mut names = ONE_RISKY_DOMAIN.to_vec();
    names.extend([
        "www.qzxjvkwpmtrbnhgfdsl.com",
        "www.google.com",
        "github.com",
    ]);
    let w = ok_window(&names);
    assert_eq!(w.high_risk_domains, 4);
    assert_eq!(w.high_risk_registrable, 2);
    assert_eq!(w.unique_registrable, 4);
}

#[test]
fn a_group_becomes_risky_with_its_first_high_risk_name() {
    // Low-risk names first, then random ones, in the same group.
    let mut names = vec!["www.example.com".to_owned(), "mail.example.com".to_owned()];
    assert!(!enrich(&names[0]).high_risk && !enrich(&names[1]).high_risk);
    names.extend(exfil("example.com", 3, 41));
    let w = ok_window(&names);
    assert_eq!(w.high_risk_domains, 3);
    assert_eq!(w.high_risk_registrable, 1);
}

#[test]
fn dga_names_are_each_a_risky_domain() {
    let mut s = 51;
    let names: Vec<(String, u16)> = (0..10)
        .map(|_| (format!("{}.com", b32(&mut s, 14)), NX))
        .collect();
    let w = window(&names);
    assert_eq!(w.high_risk_domains, 10);
    assert_eq!(w.high_risk_registrable, 10);
    assert_eq!(w.nxdomain_names, 10);
    // A random *registrable* label is not an encoded subdomain.
    assert_eq!(w.encoded_names, 0);
}

// ----------------------------------------------------------- verdicts

#[test]
fn encoded_names_are_an_indicator_that_leads_the_reasons() {
    let d = detector();
    let t = d.bundle().thresholds;
    let w = ok_window(&exfil("fastvaz.cc", 6, 7));
    let v = d.judge(&w);
    assert_ne!(v.label, Label::Normal);
    assert!(v.score >= t.unusual + 0.5 * (t.likely - t.unusual));
    assert_eq!(v.reasons[0].tag, "encoded_subdomains");
    assert_eq!(v.reasons[0].feature, "encoded_names");
    assert_eq!(v.reasons[0].value, 6.0);
    assert!(
        v.explanation.contains(&format!(
            "6 distinct names under fastvaz.cc carry long random labels ({ENCODED_MIN_LABEL} characters or more)"
        )),
        "{}",
        v.explanation
    );
    assert!(
        v.explanation
            .contains("Find the process on 10.0.0.7 talking to fastvaz.cc"),
        "{}",
        v.explanation
    );
}

#[test]
fn encoded_indicator_floors_an_ordinary_window_to_unusual() {
    let d = detector();
    let t = d.bundle().thresholds;
    let floor = t.unusual + 0.5 * (t.likely - t.unusual);
    let base = ordinary();
    let raw = d.score(&model_input(&base));
    assert!(
        raw < t.unusual,
        "precondition: ordinary window scores {raw}"
    );
    let v = d.judge(&base);
    assert_eq!(v.label, Label::Normal);
    assert!(v.reasons.is_empty());

    // encoded_names is not a model input: only the indicator moves the score.
    let mut w = base.clone();
    w.encoded_names = ENCODED_MIN_NAMES;
    w.encoded_domain = "fastvaz.cc".into();
    assert_eq!(model_input(&w), model_input(&base));
    let v = d.judge(&w);
    assert_eq!(v.score, floor);
    assert_eq!(v.label, Label::Unusual);
    assert_eq!(tags(&v), ["encoded_subdomains"]);
    assert_eq!(v.reasons[0].value, ENCODED_MIN_NAMES as f64);
    assert!(v.explanation.contains(&format!(
        "{ENCODED_MIN_NAMES} distinct names under fastvaz.cc"
    )));

    // One short of the minimum: no floor, but still evidence — the reason is
    // there and the model's own score stands (the gate does not apply).
    w.encoded_names = ENCODED_MIN_NAMES - 1;
    let v = d.judge(&w);
    assert_eq!(v.score, raw);
    assert_eq!(v.label, Label::Normal);
    assert_eq!(tags(&v), ["long_random_labels"]);
    assert!(
        !v.explanation.contains("tunnel or an exfiltration tool"),
        "a Normal window's explanation never describes a tunnel: {}",
        v.explanation
    );

    // Below the evidence minimum: nothing.
    w.encoded_names = ENCODED_EVIDENCE_NAMES - 1;
    let v = d.judge(&w);
    assert_eq!(v.label, Label::Normal);
    assert!(v.reasons.is_empty());
}

#[test]
fn a_few_encoded_names_are_evidence_that_lets_a_high_model_score_stand() {
    let mut d = detector();
    let t = d.bundle().thresholds;
    let base = ordinary();
    let raw = d.score(&model_input(&base));
    // An Unusual threshold just under this window's raw score: without
    // evidence the gate holds it Normal, with two encoded names it is Unusual.
    d.set_thresholds(Thresholds {
        unusual: raw - 0.01,
        likely: t.likely.max(raw + 0.1),
    })
    .unwrap();
    assert_eq!(d.judge(&base).label, Label::Normal);
    let mut w = base.clone();
    w.encoded_names = ENCODED_EVIDENCE_NAMES;
    w.encoded_domain = "fastvaz.cc".into();
    let v = d.judge(&w);
    assert_eq!(v.score, raw);
    assert_eq!(v.label, Label::Unusual);
    assert_eq!(tags(&v), ["long_random_labels"]);
}

#[test]
fn encoded_reason_comes_first_but_after_a_brand_lookalike() {
    let d = detector();
    let mut names: Vec<(String, u16)> = exfil("fastvaz.cc", 6, 7)
        .into_iter()
        .map(|n| (n, OK))
        .collect();
    names.extend((0..8).map(|i| (format!("host{i}.example.com"), NX)));
    let w = window(&names);
    assert_eq!(w.encoded_names, 6);
    assert_eq!(w.nxdomain_names, 8);
    let v = d.judge(&w);
    let t = tags(&v);
    assert_eq!(t[0], "encoded_subdomains", "{t:?}");
    assert!(t[1..].contains(&"nxdomain_spike"), "{t:?}");
    assert!(!t[1..].contains(&"encoded_subdomains"), "{t:?}");

    let mut w = w;
    w.impersonation_domains = 1;
    let t = tags(&d.judge(&w));
    assert_eq!(&t[..2], ["brand_lookalike", "encoded_subdomains"], "{t:?}");
}

#[test]
fn vouched_encoded_names_raise_no_indicator() {
    let d = detector();
    for domain in ["sophosxl.net", "eum-appdynamics.com"] {
        let w = ok_window(&exfil(domain, 6, 61));
        let v = d.judge(&w);
        assert!(!tags(&v).contains(&"encoded_subdomains"), "{domain}");
        assert!(!tags(&v).contains(&"long_random_subdomains"), "{domain}");
        assert_eq!(v.label, Label::Normal, "{domain}: {}", v.explanation);
    }
}

#[test]
fn evidence_gate_holds_a_window_without_reasons_just_below_unusual() {
    let mut d = detector();
    d.set_thresholds(Thresholds {
        unusual: 0.05,
        likely: 0.75,
    })
    .unwrap();
    let w = ordinary();
    let raw = d.score(&model_input(&w));
    assert!(raw >= 0.05, "precondition: ordinary window scores {raw}");
    let v = d.judge(&w);
    assert!(v.reasons.is_empty(), "{:?}", tags(&v));
    assert_eq!(v.label, Label::Normal);
    assert_eq!(v.score, 0.05 - EVIDENCE_GATE_MARGIN);
    assert!(
        v.explanation.contains("Nothing stands out"),
        "{}",
        v.explanation
    );
    assert!(
        v.explanation.starts_with(&format!(
            "Normal (score {:.2})",
            0.05 - EVIDENCE_GATE_MARGIN
        )),
        "{}",
        v.explanation
    );
}

#[test]
fn evidence_gate_with_the_shipped_thresholds() {
    // Three random names under one domain: the forest finds the window odd,
    // but nothing count-backed names it (see the risky_domains rule).
    let d = detector();
    let t = d.bundle().thresholds;
    let w = ok_window(&ONE_RISKY_DOMAIN);
    let raw = d.score(&model_input(&w));
    assert!(raw >= t.unusual, "precondition: scores {raw}");
    let v = d.judge(&w);
    assert!(v.reasons.is_empty(), "{:?}", tags(&v));
    assert_eq!(v.score, t.unusual - EVIDENCE_GATE_MARGIN);
    assert_eq!(v.label, Label::Normal);
}

#[test]
fn evidence_gate_leaves_windows_with_reasons_alone() {
    let mut d = detector();
    d.set_thresholds(Thresholds {
        unusual: 0.05,
        likely: 0.75,
    })
    .unwrap();
    let names: Vec<(String, u16)> = (0..5)
        .map(|i| (format!("host{i}.example.com"), NX))
        .collect();
    let w = window(&names);
    let v = d.judge(&w);
    assert_eq!(tags(&v), ["nxdomain_spike"]);
    assert_eq!(v.score, d.score(&model_input(&w)));
    assert!(v.score > 0.05);
    assert_ne!(v.label, Label::Normal);
}

#[test]
fn one_risky_registrable_domain_without_a_lure_is_not_a_reason() {
    let d = detector();
    let w = ok_window(&ONE_RISKY_DOMAIN);
    assert_eq!((w.high_risk_domains, w.high_risk_registrable), (3, 1));
    assert_eq!(w.risky_lure_domains, 0);
    // The features deviate enough for a reason: only the evidence rule
    // keeps it out.
    let x = model_input(&w);
    let i = MODEL_FEATURES
        .iter()
        .position(|f| *f == "high_risk_registrable_ratio_s")
        .unwrap();
    assert!(d.bundle().deviation(i, x[i]) >= 3.0);
    let v = d.judge(&w);
    assert!(v.reasons.is_empty(), "{:?}", tags(&v));
    assert_eq!(v.label, Label::Normal);
}

#[test]
fn two_risky_registrable_domains_or_a_lure_are_a_reason() {
    let d = detector();
    let t = d.bundle().thresholds;
    // Two unrelated high-risk registrable domains.
    let w = ok_window(&["www.x8k2qzt.com", "www.qzxjvkwpmtrbnhgfdsl.com"]);
    assert_eq!((w.high_risk_registrable, w.risky_lure_domains), (2, 0));
    let v = d.judge(&w);
    assert_eq!(tags(&v), ["risky_domains"]);
    assert!(v.score >= t.unusual);
    assert_ne!(v.label, Label::Normal);

    // One high-risk registrable domain, but one of its names is a lure.
    let w = ok_window(&["login.x8k2qzt.com", "www.x8k2qzt.com", "api.x8k2qzt.com"]);
    assert_eq!((w.high_risk_registrable, w.risky_lure_domains), (1, 1));
    let v = d.judge(&w);
    assert_eq!(tags(&v), ["risky_domains"]);
    assert_ne!(v.label, Label::Normal);
}

#[test]
fn one_dead_name_retried_is_no_nxdomain_spike() {
    let d = detector();
    let w = window(&[("dead-name.example.com", NX); 6]);
    let v = d.judge(&w);
    assert!(
        !tags(&v).contains(&"nxdomain_spike"),
        "a retried dead name is not a spike: {:?}",
        tags(&v)
    );
    // Three distinct failing names are.
    let mut names: Vec<(String, u16)> = vec![("dead-name.example.com".into(), NX); 3];
    names.extend((0..3).map(|i| (format!("gone{i}.example.com"), NX)));
    let w = window(&names);
    assert_eq!((w.nxdomain, w.nxdomain_names), (6, 4));
    assert!(tags(&d.judge(&w)).contains(&"nxdomain_spike"));
}
