//! Property tests: arbitrary input never panics; risk is always finite in [0, 1].

use proptest::prelude::*;
use sentineldns::enrich::{LexicalModel, Psl};

fn name_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z0-9.\\-_]{0,80}",
        "([a-z0-9\\-]{0,20}\\.){0,6}(com|co\\.uk|ck|kawasaki\\.jp|arpa|local|bazar|)\\.?",
        "[\\\\0-9a-z.+/=]{0,253}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn psl_and_score_never_panic(name in name_like()) {
        let psl = Psl::embedded(false);
        let m = LexicalModel::embedded();
        let reg = psl.registrable_domain(&name);
        let _ = psl.public_suffix(&name);
        if let Some(r) = reg {
            let trimmed = name.strip_suffix('.').unwrap_or(&name);
            prop_assert!(trimmed.ends_with(r));
            prop_assert!(!r.is_empty() && !r.starts_with('.'));
        }
        for s in [m.score(&name, reg), m.score(&name, None), m.score_in(&name, &psl)] {
            prop_assert!(s.risk.is_finite() && (0.0..=1.0).contains(&s.risk), "{s:?}");
            prop_assert!(s.entropy.is_finite() && s.entropy >= 0.0);
            prop_assert!(s.digit_ratio.is_finite());
        }
        // a wrong `registrable` hint must not panic either
        let _ = m.score(&name, Some("example.com"));
        let _ = m.score(&name, Some(""));
    }
}
