//! Property tests for the evaluation module: arbitrary window sets (hostile host
//! names, NaN / out-of-range scores, odd labels, extreme timestamps) never panic,
//! defined metrics stay in [0, 1], counts add up, and every renderer succeeds.

use proptest::prelude::*;
use sentineldns::evaluate::{
    evaluate, render_html, render_json, render_table, DetectionMetrics, ScoredWindow,
};

fn arb_ts() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => 1_700_000_000i64..1_700_200_000,
        1 => -10_000i64..10_000,
        1 => prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0i64)],
    ]
}

fn arb_window() -> impl Strategy<Value = ScoredWindow> {
    (
        prop::sample::select(vec![
            "10.0.0.1",
            "10.0.0.2",
            "<script>x</script>",
            "h&'\"",
            "",
        ]),
        arb_ts(),
        prop_oneof![4 => 0i64..7_200, 1 => -600i64..0],
        prop_oneof![
            6 => 0.0f64..=1.0,
            1 => prop::num::f64::ANY,
        ],
        prop::sample::select(vec!["Normal", "Unusual", "Likely Compromise", "weird<"]),
        any::<bool>(),
        prop::option::of(prop::sample::select(vec!["dga", "tunnel", "c2<b>"])),
        prop::option::of(arb_ts()),
    )
        .prop_map(
            |(host, start, len, score, label, mal, scen, fm)| ScoredWindow {
                host: host.to_owned(),
                start,
                end: start.saturating_add(len),
                score,
                label: label.to_owned(),
                truth_malicious: mal,
                truth_scenario: scen.map(str::to_owned),
                first_malicious_ts: fm,
                reasons: vec![],
                explanation: String::new(),
            },
        )
}

fn check_metrics(m: &DetectionMetrics) -> Result<(), TestCaseError> {
    for (name, v) in [
        ("precision", m.precision),
        ("recall", m.recall),
        ("f1", m.f1),
        ("pr_auc", m.pr_auc),
        ("roc_auc", m.roc_auc),
    ] {
        prop_assert!(v.is_nan() || (0.0..=1.0).contains(&v), "{name} = {v}");
    }
    prop_assert_eq!(m.support, m.tp + m.fn_);
    prop_assert!(m.detected_incidents <= m.incidents);
    if let (Some(mean), Some(max)) = (m.mean_delay_s, m.max_delay_s) {
        prop_assert!(mean >= 0.0 && max >= mean - 1e-6);
    } else {
        prop_assert_eq!(m.detected_incidents, 0);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_windows_never_panic_and_metrics_in_range(
        ws in prop::collection::vec(arb_window(), 0..40)
    ) {
        let e = evaluate(&ws);
        prop_assert_eq!(e.windows, ws.len());
        let o = &e.overall;
        prop_assert_eq!(o.tp + o.fp + o.tn + o.fn_, ws.len());
        check_metrics(o)?;
        let mut tp_sum = 0;
        for m in e.per_scenario.values() {
            check_metrics(m)?;
            prop_assert_eq!(m.fp, o.fp);
            tp_sum += m.tp;
        }
        prop_assert_eq!(tp_sum, o.tp);
        prop_assert_eq!(e.detection_delays.len(), o.incidents);
        prop_assert!(e.detection_delays.iter().all(|d| !matches!(d.delay_s, Some(s) if s < 0.0)));
        prop_assert!(e.host_days >= 0.0);
        prop_assert!(e.false_alerts_per_host_day.is_nan() || e.false_alerts_per_host_day >= 0.0);
        prop_assert_eq!(e.label_counts.values().sum::<usize>(), ws.len());

        let _ = render_table(&e);
        let j = render_json(&e).to_string();
        prop_assert!(!j.contains("NaN"));
        let h = render_html(&e, &ws, "<script>", &[]);
        prop_assert!(!h.contains("<script"));
        // one timeline per host (at most 60), plus the PR/ROC pair when both
        // classes are present
        let both = ws.iter().any(|w| w.truth_malicious) && ws.iter().any(|w| !w.truth_malicious);
        prop_assert_eq!(h.matches("<svg").count(), e.hosts.min(60) + usize::from(both));
    }
}
