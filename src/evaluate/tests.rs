//! Unit tests for the evaluation module: hand-computed confusion matrices, AUCs
//! checked against scikit-learn's published outputs, degenerate inputs, incident
//! splitting, detection delays, false alerts per host-day and the three renderers.

use super::incidents::incidents;
use super::metrics::{average_precision, roc_auc};
use super::*;
use sentineldns_model::metrics::{pr_curve, roc_curve};

const EPS: f64 = 1e-12;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < EPS
}

/// A window builder: host, [start, end), score, label, truth scenario.
fn w(
    host: &str,
    start: i64,
    end: i64,
    score: f64,
    label: &str,
    scen: Option<&str>,
) -> ScoredWindow {
    ScoredWindow {
        host: host.to_owned(),
        start,
        end,
        score,
        label: label.to_owned(),
        truth_malicious: scen.is_some(),
        truth_scenario: scen.map(str::to_owned),
        first_malicious_ts: scen.map(|_| start),
        reasons: Vec::new(),
        explanation: String::new(),
    }
}

const N: &str = "Normal";
const U: &str = "Unusual";
const L: &str = "Likely Compromise";

// ---------------------------------------------------------------- confusion matrix

#[test]
fn confusion_matrix_hand_computed() {
    // 4 positives (2 flagged), 6 negatives (1 flagged)
    let ws = vec![
        w("a", 0, 300, 0.9, L, Some("dga")),
        w("a", 300, 600, 0.6, U, Some("dga")),
        w("a", 600, 900, 0.3, N, Some("dga")),
        w("a", 900, 1200, 0.2, N, Some("dga")),
        w("b", 0, 300, 0.5, U, None),
        w("b", 300, 600, 0.1, N, None),
        w("b", 600, 900, 0.1, N, None),
        w("c", 0, 300, 0.1, N, None),
        w("c", 300, 600, 0.1, N, None),
        w("c", 600, 900, 0.1, N, None),
    ];
    let e = evaluate(&ws);
    let m = &e.overall;
    assert_eq!((m.tp, m.fp, m.tn, m.fn_, m.support), (2, 1, 5, 2, 4));
    assert!(close(m.precision, 2.0 / 3.0));
    assert!(close(m.recall, 0.5));
    // F1 = 2PR/(P+R) = 2·(2/3)·(1/2)/(7/6) = 4/7
    assert!(close(m.f1, 4.0 / 7.0));
    assert_eq!(e.windows, 10);
    assert_eq!(e.hosts, 3);
    assert_eq!(e.label_counts.get(N), Some(&7));
    assert_eq!(e.label_counts.get(U), Some(&2));
    assert_eq!(e.label_counts.get(L), Some(&1));
}

#[test]
fn per_scenario_uses_own_positives_and_all_benign() {
    let ws = vec![
        w("a", 0, 300, 0.9, L, Some("A")),
        w("a", 300, 600, 0.8, L, Some("A")),
        w("b", 0, 300, 0.2, N, Some("B")),
        w("b", 300, 600, 0.3, N, Some("B")),
        w("c", 0, 300, 0.5, U, None),
        w("c", 300, 600, 0.1, N, None),
        w("c", 600, 900, 0.1, N, None),
        w("c", 900, 1200, 0.1, N, None),
    ];
    let e = evaluate(&ws);
    let o = &e.overall;
    assert_eq!((o.tp, o.fp, o.tn, o.fn_), (2, 1, 3, 2));
    let a = &e.per_scenario["A"];
    assert_eq!((a.tp, a.fp, a.tn, a.fn_, a.support), (2, 1, 3, 0, 2));
    assert!(close(a.precision, 2.0 / 3.0));
    assert!(close(a.recall, 1.0));
    assert!(close(a.f1, 0.8));
    // A's positives (0.9, 0.8) outrank every benign score (max 0.5)
    assert!(close(a.pr_auc, 1.0));
    assert!(close(a.roc_auc, 1.0));
    let b = &e.per_scenario["B"];
    assert_eq!((b.tp, b.fp, b.tn, b.fn_), (0, 1, 3, 2));
    assert!(close(b.precision, 0.0));
    assert!(close(b.recall, 0.0));
    assert!(close(b.f1, 0.0));
    // B positives 0.2, 0.3 vs benign 0.5, 0.1, 0.1, 0.1: each beats 3 of 4 -> 6/8
    assert!(close(b.roc_auc, 0.75));
    // TPs add up across scenarios, FPs are shared
    let tp_sum: usize = e.per_scenario.values().map(|m| m.tp).sum();
    assert_eq!(tp_sum, o.tp);
    assert!(e
        .per_scenario
        .values()
        .all(|m| m.fp == o.fp && m.tn == o.tn));
}

#[test]
fn truth_malicious_is_authoritative_and_unattributed_is_named() {
    let mut benign_with_scen = w("a", 0, 300, 0.1, N, None);
    benign_with_scen.truth_scenario = Some("ghost".into());
    let mut mal_without_scen = w("b", 0, 300, 0.9, L, Some("x"));
    mal_without_scen.truth_scenario = None;
    let e = evaluate(&[benign_with_scen, mal_without_scen]);
    assert!(!e.per_scenario.contains_key("ghost"));
    assert_eq!(e.per_scenario[UNATTRIBUTED].tp, 1);
    assert_eq!(e.overall.tn, 1);
    assert_eq!(e.detection_delays[0].scenario, UNATTRIBUTED);
}

#[test]
fn unknown_labels_count_as_flags() {
    let e = evaluate(&[
        w("a", 0, 1, 0.5, "Weird", None),
        w("a", 1, 2, 0.5, "normal", None),
    ]);
    assert_eq!(e.overall.fp, 2);
}

// ---------------------------------------------------------------- AUCs

#[test]
fn auc_matches_sklearn_docs_example() {
    // scikit-learn docs:
    //   y_true = [0, 0, 1, 1]; y_scores = [0.1, 0.4, 0.35, 0.8]
    //   average_precision_score -> 0.8333...   roc_auc_score -> 0.75
    // By hand: descending 0.8(+) 0.4(-) 0.35(+) 0.1(-)
    //   thresholds: P,R = (1, .5) (.5, .5) (2/3, 1) (.5, 1)
    //   AP = .5·1 + 0·.5 + .5·(2/3) + 0·.5 = 5/6
    //   ROC: pairs (pos,neg): .35>.1 yes, .35>.4 no, .8>both yes -> 3/4
    let rows = [(false, 0.1), (false, 0.4), (true, 0.35), (true, 0.8)];
    assert!(close(average_precision(&rows), 5.0 / 6.0));
    assert!(close(roc_auc(&rows), 0.75));
}

#[test]
fn auc_ties() {
    // y = [1, 0, 1, 0], s = [.5, .5, .5, .2]; sklearn: AP = 0.6667, ROC = 0.75
    // AP: one threshold block at .5 holds 2 pos + 1 neg -> P = 2/3 at R = 1.
    // ROC: each positive ties the .5 negative (½) and beats .2 (1): (1.5+1.5)/4.
    let rows = [(true, 0.5), (false, 0.5), (true, 0.5), (false, 0.2)];
    assert!(close(average_precision(&rows), 2.0 / 3.0));
    assert!(close(roc_auc(&rows), 0.75));
    // everything tied: ROC ½, AP = base rate
    let flat = [(true, 0.3), (false, 0.3), (false, 0.3), (false, 0.3)];
    assert!(close(roc_auc(&flat), 0.5));
    assert!(close(average_precision(&flat), 0.25));
}

#[test]
fn auc_inverted_ranking() {
    // y = [1, 1, 0, 0], s = [.1, .2, .8, .9]; sklearn: ROC 0.0, AP 0.41666...
    // AP: desc .9(-) .8(-) .2(+) .1(+): (R .5, P 1/3), (R 1, P 1/2) -> .5/3 + .5/2 = 5/12
    let rows = [(true, 0.1), (true, 0.2), (false, 0.8), (false, 0.9)];
    assert!(close(roc_auc(&rows), 0.0));
    assert!(close(average_precision(&rows), 5.0 / 12.0));
}

/// Trapezoidal area under a curve of (x, y) points.
fn trapezoid(points: &[(f64, f64)]) -> f64 {
    points
        .windows(2)
        .map(|p| (p[1].0 - p[0].0) * (p[1].1 + p[0].1) / 2.0)
        .sum()
}

/// Step-wise area Σ (Rₙ − Rₙ₋₁)·Pₙ of a PR curve.
fn steps(points: &[(f64, f64)]) -> f64 {
    let mut prev = 0.0;
    points
        .iter()
        .map(|&(r, p)| {
            let a = (r - prev) * p;
            prev = r;
            a
        })
        .sum()
}

#[test]
fn curves_agree_with_the_areas() {
    for rows in [
        vec![(false, 0.1), (false, 0.4), (true, 0.35), (true, 0.8)],
        vec![(true, 0.5), (false, 0.5), (true, 0.5), (false, 0.2)],
        vec![(true, 0.1), (true, 0.2), (false, 0.8), (false, 0.9)],
        vec![(true, f64::NAN), (false, 0.0), (true, 7.0), (false, -3.0)],
    ] {
        let roc = roc_curve(&rows);
        assert_eq!(roc.first(), Some(&(0.0, 0.0)));
        assert_eq!(roc.last(), Some(&(1.0, 1.0)));
        assert!(close(trapezoid(&roc), roc_auc(&rows)), "{rows:?}: {roc:?}");
        let pr = pr_curve(&rows);
        assert!(
            close(steps(&pr), average_precision(&rows)),
            "{rows:?}: {pr:?}"
        );
    }
    // by hand: .8(+) .4(-) .35(+) .1(-)
    let rows = [(false, 0.1), (false, 0.4), (true, 0.35), (true, 0.8)];
    assert_eq!(
        roc_curve(&rows),
        vec![(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]
    );
    assert_eq!(
        pr_curve(&rows),
        vec![(0.5, 1.0), (0.5, 0.5), (1.0, 2.0 / 3.0), (1.0, 0.5)]
    );
    assert!(roc_curve(&[(false, 0.2)]).is_empty());
    assert!(pr_curve(&[(false, 0.2)]).is_empty());
}

#[test]
fn auc_degenerate() {
    assert!(average_precision(&[]).is_nan());
    assert!(roc_auc(&[]).is_nan());
    let neg_only = [(false, 0.2), (false, 0.9)];
    assert!(average_precision(&neg_only).is_nan());
    assert!(roc_auc(&neg_only).is_nan());
    let pos_only = [(true, 0.2), (true, 0.9)];
    assert!(close(average_precision(&pos_only), 1.0));
    assert!(roc_auc(&pos_only).is_nan());
}

#[test]
fn nan_and_out_of_range_scores_rank_as_clamped() {
    // NaN ranks as 0.0, 7.0 as 1.0, -3 as 0.0
    let rows = [(true, f64::NAN), (false, 0.0), (true, 7.0), (false, -3.0)];
    // pos NaN(=0) ties both negatives (0, 0): ½+½; pos 1.0 beats both: 2 -> 3/4
    assert!(close(roc_auc(&rows), 0.75));
    let ap = average_precision(&rows);
    assert!((0.0..=1.0).contains(&ap));
}

// ---------------------------------------------------------------- degenerate evaluations

#[test]
fn empty_input() {
    let e = evaluate(&[]);
    assert_eq!(e.windows, 0);
    assert_eq!(e.hosts, 0);
    assert!(e.per_scenario.is_empty());
    let m = &e.overall;
    assert!(m.precision.is_nan() && m.recall.is_nan() && m.f1.is_nan());
    assert!(m.pr_auc.is_nan() && m.roc_auc.is_nan());
    assert_eq!(m.mean_delay_s, None);
    assert!(e.false_alerts_per_host_day.is_nan());
    let j = render_json(&e);
    assert!(j["overall"]["precision"].is_null());
    assert!(j["false_alerts_per_host_day"].is_null());
    assert!(render_table(&e).contains("n/a"));
    assert!(render_html(&e, &[], "empty", &[]).contains("Showing 0 of 0 hosts"));
}

#[test]
fn no_positives() {
    let ws = [w("a", 0, 300, 0.9, U, None), w("a", 300, 600, 0.1, N, None)];
    let m = evaluate(&ws).overall;
    assert_eq!((m.tp, m.fp, m.tn, m.fn_), (0, 1, 1, 0));
    assert!(close(m.precision, 0.0));
    assert!(m.recall.is_nan());
    assert!(close(m.f1, 0.0));
    assert!(m.pr_auc.is_nan() && m.roc_auc.is_nan());
    assert_eq!(m.incidents, 0);
}

#[test]
fn nothing_flagged() {
    let ws = [
        w("a", 0, 300, 0.4, N, Some("s")),
        w("a", 300, 600, 0.1, N, None),
    ];
    let m = evaluate(&ws).overall;
    assert!(m.precision.is_nan());
    assert!(close(m.recall, 0.0));
    assert!(close(m.f1, 0.0));
    assert!(close(m.roc_auc, 1.0));
    assert_eq!((m.detected_incidents, m.incidents), (0, 1));
    assert_eq!(m.mean_delay_s, None);
    assert_eq!(m.max_delay_s, None);
}

#[test]
fn no_negatives() {
    let ws = [
        w("a", 0, 300, 0.9, L, Some("s")),
        w("a", 300, 600, 0.2, N, Some("s")),
    ];
    let m = evaluate(&ws).overall;
    assert!(close(m.precision, 1.0));
    assert!(close(m.recall, 0.5));
    assert!(close(m.pr_auc, 1.0));
    assert!(m.roc_auc.is_nan());
}

// ---------------------------------------------------------------- incidents and delays

#[test]
fn incident_split_on_gap_over_one_hour() {
    let ws = vec![
        w("h", 0, 300, 0.1, N, Some("s")),
        w("h", 300, 600, 0.1, N, Some("s")),
        // gap of exactly 3600 s after the previous end: same incident
        w("h", 4200, 4500, 0.1, N, Some("s")),
        // gap of 3601 s: new incident
        w("h", 8101, 8400, 0.1, N, Some("s")),
        // other scenario on the same host: its own incident
        w("h", 350, 650, 0.1, N, Some("t")),
        // other host
        w("g", 0, 300, 0.1, N, Some("s")),
    ];
    let inc = incidents(&ws);
    let shape: Vec<(&str, &str, usize)> = inc
        .iter()
        .map(|i| (i.host, i.scenario, i.windows.len()))
        .collect();
    assert_eq!(
        shape,
        vec![("g", "s", 1), ("h", "s", 3), ("h", "s", 1), ("h", "t", 1)]
    );
    let e = evaluate(&ws);
    assert_eq!(e.overall.incidents, 4);
    assert_eq!(e.per_scenario["s"].incidents, 3);
    assert_eq!(e.per_scenario["t"].incidents, 1);
}

#[test]
fn overlapping_windows_stay_one_incident_and_order_is_irrelevant() {
    // sliding 10-minute windows every 5 minutes, given out of order
    let ws = vec![
        w("h", 600, 1200, 0.1, N, Some("s")),
        w("h", 0, 600, 0.1, N, Some("s")),
        w("h", 300, 900, 0.1, N, Some("s")),
    ];
    let inc = incidents(&ws);
    assert_eq!(inc.len(), 1);
    let starts: Vec<i64> = inc[0].windows.iter().map(|w| w.start).collect();
    assert_eq!(starts, vec![0, 300, 600]);
}

#[test]
fn delay_is_first_flagged_window_end_minus_first_malicious() {
    let mut a = w("h", 0, 300, 0.3, N, Some("s"));
    a.first_malicious_ts = Some(150);
    let mut b = w("h", 300, 600, 0.6, U, Some("s"));
    b.first_malicious_ts = Some(310);
    let c = w("h", 600, 900, 0.9, L, Some("s"));
    // benign flagged window on the same host before the incident does not detect it
    let pre = w("h", -300, 0, 0.9, L, None);
    let e = evaluate(&[c, b, a, pre]);
    assert_eq!(e.detection_delays.len(), 1);
    let d = &e.detection_delays[0];
    assert_eq!(d.first_malicious, 150);
    assert_eq!(d.first_flag, Some(600));
    assert_eq!(d.delay_s, Some(450.0));
    let m = &e.per_scenario["s"];
    assert_eq!((m.detected_incidents, m.incidents), (1, 1));
    assert_eq!(m.mean_delay_s, Some(450.0));
    assert_eq!(m.max_delay_s, Some(450.0));
}

#[test]
fn delay_missing_first_malicious_uses_window_start_and_is_floored() {
    let mut a = w("h", 1000, 1300, 0.9, L, Some("s"));
    a.first_malicious_ts = None;
    let mut b = w("g", 1000, 1300, 0.9, L, Some("s"));
    b.first_malicious_ts = Some(5000); // inconsistent truth: after the window closed
    let e = evaluate(&[a, b]);
    let by_host: BTreeMap<&str, &Delay> = e
        .detection_delays
        .iter()
        .map(|d| (d.host.as_str(), d))
        .collect();
    assert_eq!(by_host["h"].first_malicious, 1000);
    assert_eq!(by_host["h"].delay_s, Some(300.0));
    assert_eq!(by_host["g"].delay_s, Some(0.0));
}

#[test]
fn delay_stats_mean_max_and_missed() {
    let ws = vec![
        // incident 1: detected after 300 s
        w("a", 0, 300, 0.9, L, Some("s")),
        // incident 2: detected after 900 s (third window)
        w("b", 0, 300, 0.1, N, Some("s")),
        w("b", 300, 600, 0.1, N, Some("s")),
        w("b", 600, 900, 0.9, U, Some("s")),
        // incident 3: missed
        w("c", 0, 300, 0.1, N, Some("s")),
        // incident 4, other scenario: detected after 600 s
        w("d", 100, 700, 0.9, L, Some("t")),
    ];
    let e = evaluate(&ws);
    let s = &e.per_scenario["s"];
    assert_eq!((s.detected_incidents, s.incidents), (2, 3));
    assert_eq!(s.mean_delay_s, Some(600.0));
    assert_eq!(s.max_delay_s, Some(900.0));
    let o = &e.overall;
    assert_eq!((o.detected_incidents, o.incidents), (3, 4));
    assert_eq!(o.mean_delay_s, Some(600.0));
    assert_eq!(o.max_delay_s, Some(900.0));
    let missed: Vec<&Delay> = e
        .detection_delays
        .iter()
        .filter(|d| d.delay_s.is_none())
        .collect();
    assert_eq!(missed.len(), 1);
    assert_eq!(missed[0].host, "c");
    assert_eq!(missed[0].first_flag, None);
    // ordered by first malicious, then host
    let order: Vec<&str> = e.detection_delays.iter().map(|d| d.host.as_str()).collect();
    assert_eq!(order, vec!["a", "b", "c", "d"]);
}

// ---------------------------------------------------------------- false alerts per host-day

#[test]
fn false_alerts_per_host_day() {
    let ws = vec![
        // host a observed 0 .. 43 200 (half a day, idle gap included)
        w("a", 0, 300, 0.9, U, None),
        w("a", 42_900, 43_200, 0.9, L, None),
        // flagged malicious window: not a false alert
        w("a", 300, 600, 0.9, L, Some("s")),
        // host b: one 300-s window, flagged benign
        w("b", 1_000, 1_300, 0.5, U, None),
    ];
    let e = evaluate(&ws);
    let hd = 0.5 + 300.0 / 86_400.0;
    assert!(close(e.host_days, hd));
    assert_eq!(e.overall.fp, 3);
    assert!(close(e.false_alerts_per_host_day, 3.0 / hd));
}

#[test]
fn false_incidents_per_host_day() {
    let ws = vec![
        // a: flags at 0-300 and 300-600 (benign) and 600-900 (malicious) form one
        // incident with a positive window: not false.
        w("a", 0, 300, 0.9, U, None),
        w("a", 300, 600, 0.9, U, None),
        w("a", 600, 900, 0.9, L, Some("s")),
        // a, hours later: a benign flag opens a second, false incident.
        w("a", 42_900, 43_200, 0.9, U, None),
        // b: two benign flags with one quiet window between them: one false incident.
        w("b", 1_000, 1_300, 0.5, U, None),
        w("b", 1_300, 1_600, 0.1, N, None),
        w("b", 1_600, 1_900, 0.5, U, None),
        // c: benign, never flagged.
        w("c", 0, 300, 0.1, N, None),
    ];
    let e = evaluate(&ws);
    let hd = 0.5 + 900.0 / 86_400.0 + 300.0 / 86_400.0;
    assert!(close(e.host_days, hd));
    let f = &e.alert_incidents;
    assert_eq!(f.incidents, 3);
    assert_eq!(f.false_incidents, 2);
    assert!(close(f.false_incidents_per_host_day, 2.0 / hd));
    // a: opened, escalated to Likely; a again: opened; b: opened.
    assert_eq!(f.alerts, 4);
    assert_eq!(f.quiet_s, 900);
    assert_eq!(e.overall.fp, 5, "windows still count one by one");
    let j = render_json(&e);
    assert_eq!(j["incidents"]["false_incidents"], 2);
    assert!(render_table(&e).contains("false incidents: 2"));
}

#[test]
fn host_days_at_least_one_window_and_zero_length_is_undefined() {
    // two identical windows on one host: span = one window length
    let ws = [w("a", 0, 600, 0.1, N, None), w("a", 0, 600, 0.1, N, None)];
    assert!(close(host_days(&ws), 600.0 / 86_400.0));
    let zero = [w("a", 5, 5, 0.9, U, None)];
    let e = evaluate(&zero);
    assert_eq!(e.host_days, 0.0);
    assert!(e.false_alerts_per_host_day.is_nan());
}

// ---------------------------------------------------------------- renderers

fn sample() -> Vec<ScoredWindow> {
    vec![
        w("10.0.0.5", 0, 300, 0.2, N, None),
        w("10.0.0.5", 300, 600, 0.8, L, Some("dns-tunnel")),
        w("10.0.0.5", 600, 900, 0.5, U, Some("dns-tunnel")),
        w("10.0.0.7", 0, 300, 0.5, U, None),
        w("10.0.0.7", 300, 600, 0.1, N, None),
        w("10.0.0.9", 0, 300, 0.3, N, Some("dga")),
    ]
}

#[test]
fn table_is_aligned_and_complete() {
    let t = render_table(&evaluate(&sample()));
    let lines: Vec<&str> = t.lines().collect();
    // header, rule, dga, dns-tunnel, overall: same width (last column right-aligned)
    let width = lines[0].chars().count();
    for l in &lines[1..5] {
        assert_eq!(l.chars().count(), width, "misaligned line {l:?}");
    }
    assert!(lines[2].starts_with("dga "));
    assert!(lines[3].starts_with("dns-tunnel "));
    assert!(lines[4].starts_with("overall "));
    assert!(t.contains("false alerts/host-day"));
    assert!(t.contains("Likely Compromise=1"));
    // dga: nothing detected -> n/a delays
    assert!(lines[2].contains("0/1"));
    assert!(lines[2].trim_end().ends_with("n/a"));
}

#[test]
fn duration_formatting() {
    use super::render::fmt_duration;
    assert_eq!(fmt_duration(Some(42.0)), "42s");
    assert_eq!(fmt_duration(Some(185.0)), "3m05s");
    assert_eq!(fmt_duration(Some(7_620.0)), "2h07m");
    assert_eq!(fmt_duration(Some(97_200.0)), "1d03h");
    assert_eq!(fmt_duration(None), "n/a");
    assert_eq!(fmt_duration(Some(f64::NAN)), "n/a");
}

#[test]
fn json_has_all_fields_and_nulls() {
    let e = evaluate(&sample());
    let j = render_json(&e);
    assert_eq!(j["schema"], "sentineldns.evaluation/1");
    assert_eq!(j["windows"], 6);
    assert_eq!(j["hosts"], 3);
    assert_eq!(j["overall"]["tp"], 2);
    assert_eq!(j["overall"]["fp"], 1);
    assert_eq!(j["overall"]["fn"], 1);
    assert_eq!(j["overall"]["tn"], 2);
    assert_eq!(j["per_scenario"]["dga"]["detected_incidents"], 0);
    assert!(j["per_scenario"]["dga"]["mean_delay_s"].is_null());
    // first malicious 300 (window start), flagged window closes at 600
    assert_eq!(j["per_scenario"]["dns-tunnel"]["mean_delay_s"], 300.0);
    assert_eq!(j["label_counts"]["Unusual"], 2);
    assert_eq!(j["detection_delays"].as_array().map(Vec::len), Some(2));
    // serialises to valid JSON text (no NaN literals)
    let text = j.to_string();
    assert!(!text.contains("NaN"));
    let back: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(back, j);
}

#[test]
fn html_has_one_svg_per_host_and_is_deterministic() {
    let ws = sample();
    let e = evaluate(&ws);
    let models = [
        html::ModelLines {
            name: "prior <m1>".into(),
            unusual: 0.656,
            likely: 0.8,
        },
        html::ModelLines {
            name: "site model s1".into(),
            unusual: 0.5,
            likely: 0.7,
        },
    ];
    let a = render_html(&e, &ws, "Replay <A> & B", &models);
    let b = render_html(&e, &ws, "Replay <A> & B", &models);
    assert_eq!(a, b);
    // one timeline per host plus the PR/ROC pair
    assert_eq!(a.matches("<svg").count(), 4);
    assert!(a.contains("<h2>Precision–recall and ROC</h2>"));
    // each model's own thresholds, named (and escaped), not fixed constants
    assert!(
        a.contains("prior &lt;m1&gt; 0.656 / 0.800 (dashed); site model s1 0.500 / 0.700 (dotted)"),
        "{}",
        &a[a.find("thresholds (").unwrap()..][..200]
    );
    assert!(!a.contains("0.45 / 0.75"));
    assert!(a.contains("<title>Replay &lt;A&gt; &amp; B</title>"));
    assert!(!a.contains("<script"));
    // self-contained: no external references of any kind
    for needle in ["<link", "href=", "src=", "url(", "@import"] {
        assert!(!a.contains(needle), "external reference {needle}");
    }
    // incident hosts first (by name), benign host last
    let p5 = a.find("<h3>10.0.0.5</h3>").unwrap();
    let p9 = a.find("<h3>10.0.0.9</h3>").unwrap();
    let p7 = a.find("<h3>10.0.0.7</h3>").unwrap();
    assert!(p5 < p9 && p9 < p7);
    assert!(a.contains("scenario: dns-tunnel"));
    assert!(a.contains("Showing 3 of 3 hosts"));
}

#[test]
fn html_escapes_hostile_text() {
    let mut ws = sample();
    ws[0].host = "<script>alert(1)</script>".into();
    ws[1].host = "<script>alert(1)</script>".into();
    ws[1].truth_scenario = Some("\"><img src=x onerror=alert(2)>".into());
    ws[3].label = "<b>odd</b>".into();
    let e = evaluate(&ws);
    let h = render_html(&e, &ws, "<script>t</script>", &[]);
    assert!(!h.contains("<script"));
    assert!(!h.contains("<img"));
    assert!(!h.contains("<b>odd"));
    assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(h.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
}

#[test]
fn html_caps_host_plots() {
    let ws: Vec<ScoredWindow> = (0..70)
        .map(|i| w(&format!("h{i:02}"), 0, 300, 0.1, N, None))
        .collect();
    let e = evaluate(&ws);
    let h = render_html(&e, &ws, "cap", &[]);
    // all benign: no curves, so only timelines
    assert!(h.contains("No curves"));
    assert_eq!(h.matches("<svg").count(), html::MAX_HOST_PLOTS);
    assert!(h.contains("Showing 60 of 70 hosts"));
}

#[test]
fn html_single_zero_length_window_still_draws() {
    let ws = [w("a", 100, 100, f64::NAN, U, Some("s"))];
    let e = evaluate(&ws);
    let h = render_html(&e, &ws, "t", &[]);
    assert_eq!(h.matches("<svg").count(), 1);
}

// ------------------------------------------------- false alerts and missed

/// `w` with reason tags and an explanation.
fn wr(
    host: &str,
    start: i64,
    score: f64,
    label: &str,
    scen: Option<&str>,
    reasons: &[&str],
    explanation: &str,
) -> ScoredWindow {
    ScoredWindow {
        reasons: reasons.iter().map(|r| (*r).to_owned()).collect(),
        explanation: explanation.to_owned(),
        ..w(host, start, start + 300, score, label, scen)
    }
}

fn review_sample() -> Vec<ScoredWindow> {
    vec![
        // benign, flagged: false alerts (three tied at 0.7)
        wr("b", 0, 0.7, U, None, &["risky_domains"], "b odd."),
        wr("a", 300, 0.7, L, None, &[], ""),
        wr(
            "a",
            0,
            0.7,
            U,
            None,
            &["nxdomain_spike", "beaconing"],
            "a odd.",
        ),
        wr("c", 0, 0.9, "Unknown", None, &[], "c odd."),
        // benign, Normal however high the score: not listed
        wr("d", 0, 0.95, N, None, &[], "fine."),
        // malicious, flagged: not listed
        wr("e", 0, 0.99, L, Some("dga"), &["dga_like_names"], "caught."),
        // malicious, Normal: missed
        wr("f", 0, 0.3, N, Some("dga"), &[], "f quiet."),
        wr("g", 600, 0.4, N, None, &[], ""),
    ]
}

#[test]
fn review_lists_false_alerts_and_missed_by_score_then_host_then_start() {
    let mut ws = review_sample();
    // `g` is positive without a scenario.
    ws[7].truth_malicious = true;
    let e = evaluate(&ws);
    let key = |r: &ReviewItem| (r.host.clone(), r.start, r.score);
    assert_eq!(
        e.false_alerts.iter().map(key).collect::<Vec<_>>(),
        [
            ("c".to_owned(), 0, 0.9),
            ("a".to_owned(), 0, 0.7),
            ("a".to_owned(), 300, 0.7),
            ("b".to_owned(), 0, 0.7),
        ]
    );
    assert_eq!(
        e.missed.iter().map(key).collect::<Vec<_>>(),
        [("g".to_owned(), 600, 0.4), ("f".to_owned(), 0, 0.3)]
    );
    assert_eq!(
        e.false_alerts[1],
        ReviewItem {
            host: "a".into(),
            start: 0,
            score: 0.7,
            label: U.into(),
            scenario: None,
            reasons: vec!["nxdomain_spike".into(), "beaconing".into()],
            explanation: "a odd.".into(),
        }
    );
    assert_eq!(e.false_alerts[0].label, "Unknown");
    assert_eq!(e.missed[0].scenario.as_deref(), Some(UNATTRIBUTED));
    assert_eq!(e.missed[1].scenario.as_deref(), Some("dga"));
    assert_eq!(e.missed[1].explanation, "f quiet.");
    // Input order does not matter.
    ws.reverse();
    let r = evaluate(&ws);
    assert_eq!(r.false_alerts, e.false_alerts);
    assert_eq!(r.missed, e.missed);
}

#[test]
fn review_is_empty_when_nothing_is_wrong() {
    let ws = [
        wr("a", 0, 0.9, U, Some("dga"), &[], "x"),
        wr("b", 0, 0.1, N, None, &[], "y"),
    ];
    let e = evaluate(&ws);
    assert!(e.false_alerts.is_empty());
    assert!(e.missed.is_empty());
    assert_eq!(render_review(&e, 10), "");
    let j = render_json(&e);
    assert_eq!(j["false_alerts"], serde_json::json!([]));
    assert_eq!(j["missed"], serde_json::json!([]));
    let h = render_html(&e, &ws, "t", &[]);
    assert!(h.contains("<h2>False alerts (0)</h2>\n<p class=\"note\">None.</p>"));
    assert!(h.contains("<h2>Missed windows (0)</h2>\n<p class=\"note\">None.</p>"));
}

#[test]
fn render_review_lists_the_top_n_with_explanations() {
    let e = evaluate(&review_sample());
    assert_eq!(render_review(&e, 0), "");
    let expected = "\n\
false alerts (benign windows flagged): 4, top 2 by score\n  \
c  1970-01-01 00:00:00  Unknown 0.900  (no reasons)\n    \
c odd.\n  \
a  1970-01-01 00:00:00  Unusual 0.700  nxdomain_spike,beaconing\n    \
a odd.\n\
\n\
missed windows (malicious, Normal): 1\n  \
f  1970-01-01 00:00:00  Normal 0.300  dga  (no reasons)\n    \
f quiet.\n";
    assert_eq!(render_review(&e, 2), expected);
    // n at least the count: no "top n"; a window without an explanation
    // gets no explanation line.
    let all = render_review(&e, 4);
    assert!(all.contains("false alerts (benign windows flagged): 4\n"));
    assert!(!all.contains("top"));
    assert!(all.contains(
        "  a  1970-01-01 00:05:00  Likely Compromise 0.700  (no reasons)\n  b  1970-01-01"
    ));
    assert_eq!(all.lines().filter(|l| l.starts_with("    ")).count(), 4);
    assert_eq!(
        render_review(&e, 1)
            .lines()
            .filter(|l| l.starts_with("  "))
            .count(),
        4
    );
}

#[test]
fn json_lists_false_alerts_and_missed() {
    let e = evaluate(&sample());
    let j = render_json(&e);
    assert_eq!(
        j["false_alerts"],
        serde_json::json!([{
            "host": "10.0.0.7",
            "start": 0,
            "score": 0.5,
            "label": "Unusual",
            "scenario": null,
            "reasons": [],
            "explanation": "",
        }])
    );
    assert_eq!(j["missed"].as_array().map(Vec::len), Some(1));
    assert_eq!(j["missed"][0]["host"], "10.0.0.9");
    assert_eq!(j["missed"][0]["scenario"], "dga");
    assert_eq!(j["missed"][0]["label"], "Normal");

    let e = evaluate(&review_sample());
    let j = render_json(&e);
    let fa = j["false_alerts"].as_array().unwrap();
    assert_eq!(fa.len(), 4);
    assert_eq!(
        fa[1]["reasons"],
        serde_json::json!(["nxdomain_spike", "beaconing"])
    );
    assert_eq!(fa[1]["explanation"], "a odd.");
    assert_eq!(j["missed"][0]["explanation"], "f quiet.");
    // A NaN score is null, not an invalid literal.
    let mut ws = review_sample();
    ws[0].score = f64::NAN;
    let text = render_json(&evaluate(&ws)).to_string();
    assert!(!text.contains("NaN"));
    assert!(text.contains("\"score\":null"));
}

#[test]
fn html_has_review_sections_with_escaped_explanations() {
    let mut ws = review_sample();
    ws[0].explanation = "<script>x</script> & more".into();
    let e = evaluate(&ws);
    let h = render_html(&e, &ws, "t", &[]);
    let fa = h
        .find("<h2>False alerts (4)</h2>")
        .expect("false alerts section");
    let mi = h
        .find("<h2>Missed windows (1)</h2>")
        .expect("missed section");
    assert!(fa < mi);
    let section = &h[fa..mi];
    assert_eq!(section.matches("<tr><td class=\"l\">").count(), 4);
    // highest score first, then host, then start
    let pos = |s: &str| section.find(s).unwrap();
    assert!(pos("c odd.") < pos("a odd.") && pos("a odd.") < pos("&lt;script&gt;"));
    assert!(section.contains("&lt;script&gt;x&lt;/script&gt; &amp; more"));
    assert!(!h.contains("<script"));
    assert!(section.contains("<td class=\"l\">nxdomain_spike, beaconing</td>"));
    assert!(section.contains("<td>1970-01-01 00:05:00</td>"));
    assert!(section.contains("<td class=\"l\">benign</td>"));
    let missed = &h[mi..];
    assert!(missed.contains("<td class=\"l\">dga</td>"));
    assert!(missed.contains("f quiet."));
}

#[test]
fn html_review_table_is_capped() {
    let n = html::MAX_INCIDENT_ROWS + 3;
    let ws: Vec<ScoredWindow> = (0..n)
        .map(|i| wr(&format!("h{i:03}"), 0, 0.6, U, None, &[], "odd."))
        .collect();
    let e = evaluate(&ws);
    assert_eq!(e.false_alerts.len(), n);
    let h = render_html(&e, &ws, "cap", &[]);
    assert!(h.contains(&format!("<h2>False alerts ({n})</h2>")));
    assert!(h.contains(&format!("First {} of {n} listed.", html::MAX_INCIDENT_ROWS)));
    assert_eq!(
        h.matches("<td class=\"l\">odd.</td>").count(),
        html::MAX_INCIDENT_ROWS
    );
}
