//! Integration tests for the model bundle: determinism, round trips, atomic
//! save/load, every corruption case, fuzzed input, calibration, and a
//! cross-check of our forest against the `extended-isolation-forest` crate.

use std::sync::OnceLock;

use proptest::prelude::*;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sentineldns::model::bundle::{
    Bundle, Label, ModelError, Thresholds, FORMAT_VERSION, HEADER_LEN, MAGIC, MAX_PAYLOAD_BYTES,
};
use sentineldns::model::checksum::fnv1a64;
use sentineldns::model::{ExtendedIsolationForest, ForestParams};

// ---------------------------------------------------------------- helpers

struct Gauss(ChaCha8Rng);
impl Gauss {
    fn new(seed: u64) -> Self {
        Gauss(ChaCha8Rng::seed_from_u64(seed))
    }
    fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn next(&mut self) -> f64 {
        let u1 = 1.0 - self.unit();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

fn auc(inl: &[f64], out: &[f64]) -> f64 {
    let mut wins = 0.0;
    for o in out {
        for i in inl {
            wins += if o > i {
                1.0
            } else if o == i {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (inl.len() * out.len()) as f64
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

const NAMES: [&str; 6] = [
    "queries",
    "distinct_domains",
    "nxdomain_ratio",
    "mean_label_entropy",
    "txt_queries",
    "bytes_out",
];
const LOG1P: [bool; 6] = [true, true, false, false, true, true];

/// DNS-window-like rows: counts (log-normal-ish), a ratio, an entropy, a mostly-zero counter.
fn windows(n: usize, seed: u64) -> Vec<Vec<f64>> {
    let mut g = Gauss::new(seed);
    (0..n)
        .map(|_| {
            let q = (4.0 + 0.5 * g.next()).exp().round();
            vec![
                q,
                (q * (0.3 + 0.05 * g.next())).max(1.0).round(),
                (0.02 + 0.005 * g.next()).clamp(0.0, 1.0),
                3.2 + 0.25 * g.next(),
                if g.unit() < 0.03 { 1.0 } else { 0.0 },
                (q * (80.0 + 10.0 * g.next())).max(0.0),
            ]
        })
        .collect()
}

fn params(seed: u64) -> ForestParams {
    ForestParams {
        n_trees: 100,
        seed,
        ..Default::default()
    }
}

fn train(seed: u64) -> Bundle {
    Bundle::train(&NAMES, &windows(4000, 1), &params(seed), &LOG1P).unwrap()
}

/// A trained bundle shared by the read-only tests.
fn shared() -> &'static Bundle {
    static B: OnceLock<Bundle> = OnceLock::new();
    B.get_or_init(|| train(7))
}

/// A small bundle (few trees) for fuzzing, and its bytes.
fn small_bytes() -> &'static [u8] {
    static B: OnceLock<Vec<u8>> = OnceLock::new();
    B.get_or_init(|| {
        let p = ForestParams {
            n_trees: 3,
            sample_size: 32,
            seed: 1,
            ..Default::default()
        };
        Bundle::train(&NAMES, &windows(300, 2), &p, &LOG1P)
            .unwrap()
            .to_bytes()
    })
}

/// Wraps `payload` in a header and a correct checksum.
fn frame(version: u32, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&MAGIC);
    b.extend_from_slice(&version.to_le_bytes());
    b.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    b.extend_from_slice(payload);
    let sum = fnv1a64(&b);
    b.extend_from_slice(&sum.to_le_bytes());
    b
}

fn payload_of(bytes: &[u8]) -> &[u8] {
    &bytes[HEADER_LEN..bytes.len() - 8]
}

// ---------------------------------------------------------------- determinism & round trip

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() {
    let a = train(7).to_bytes();
    assert_eq!(a, shared().to_bytes());
    let b = train(8).to_bytes();
    assert_ne!(a, b);
}

#[test]
fn round_trip_preserves_everything() {
    let b = shared();
    let bytes = b.to_bytes();
    let back = Bundle::from_bytes(&bytes, &NAMES).unwrap();
    assert_eq!(&back, b);
    for x in windows(200, 99) {
        assert_eq!(back.score(&x).to_bits(), b.score(&x).to_bits());
        let s = b.raw_score(&x);
        assert!(s > 0.0 && s < 1.0);
    }
    assert_eq!(back.to_bytes(), bytes);
}

#[test]
fn save_load_is_atomic_and_leaves_no_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.sdm");
    let b = shared();
    b.save(&path).unwrap();
    // overwrite an existing bundle with a different one
    let mut c = b.clone();
    c.notes = "second".into();
    c.save(&path).unwrap();
    let back = Bundle::load(&path, &NAMES).unwrap();
    assert_eq!(back.notes, "second");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["model.sdm".to_string()],
        "temp file left behind"
    );

    let missing_dir = dir.path().join("no/such/dir/model.sdm");
    let e = b.save(&missing_dir).unwrap_err();
    assert!(matches!(e, ModelError::Io { .. }), "{e}");
    assert!(e.to_string().contains("no/such/dir"), "{e}");
    let e = Bundle::load(&dir.path().join("absent.sdm"), &NAMES).unwrap_err();
    assert!(matches!(e, ModelError::Io { .. }), "{e}");
}

// ---------------------------------------------------------------- corruption

#[test]
fn every_truncation_is_reported_as_truncated() {
    let bytes = small_bytes();
    let len = bytes.len();
    let mut cuts: Vec<usize> = (0..40).collect();
    cuts.extend((1..30).map(|i| i * len / 30));
    cuts.extend([len - 9, len - 8, len - 1]);
    for cut in cuts {
        match Bundle::from_bytes(&bytes[..cut], &NAMES) {
            Err(ModelError::Truncated { need, have }) => {
                assert_eq!(have, cut as u64);
                assert!(need > have);
                if cut >= HEADER_LEN {
                    assert_eq!(need, len as u64);
                }
            }
            other => panic!("cut at {cut}/{len}: {other:?}"),
        }
    }
}

#[test]
fn truncated_file_on_disk_is_reported_as_truncated_with_the_size_needed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.sdm");
    let bytes = small_bytes();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let e = Bundle::load(&path, &NAMES).unwrap_err();
    assert!(matches!(e, ModelError::Truncated { .. }), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("need {} bytes", bytes.len())),
        "{e}"
    );
}

#[test]
fn flipped_bytes_fail_the_checksum() {
    let bytes = small_bytes();
    for pos in [
        HEADER_LEN,
        HEADER_LEN + 1,
        bytes.len() / 2,
        bytes.len() - 9,
        bytes.len() - 1,
    ] {
        let mut b = bytes.to_vec();
        b[pos] ^= 0x40;
        match Bundle::from_bytes(&b, &NAMES) {
            Err(ModelError::Checksum { expected, found }) => assert_ne!(expected, found),
            other => panic!("flip at {pos}: {other:?}"),
        }
    }
}

#[test]
fn foreign_files_are_not_bundles() {
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
    let pcap = [
        0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
    ];
    let pcapng = [
        0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a,
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, data, what) in [
        ("x.png", &png[..], "PNG image"),
        ("x.pcap", &pcap[..], "pcap capture"),
        ("x.pcapng", &pcapng[..], "pcapng capture"),
        ("x.json", &b"{\"model\": 1}"[..], "JSON"),
        ("x.txt", &b"hi"[..], ""),
    ] {
        let e = Bundle::from_bytes(data, &NAMES).unwrap_err();
        assert!(matches!(e, ModelError::NotABundle { .. }), "{name}: {e}");
        let path = dir.path().join(name);
        std::fs::write(&path, data).unwrap();
        let e = Bundle::load(&path, &NAMES).unwrap_err();
        let msg = e.to_string();
        match e {
            ModelError::NotABundle {
                path: Some(p),
                found_magic,
            } => {
                assert_eq!(p, path);
                assert_eq!(found_magic, data[..data.len().min(8)]);
            }
            other => panic!("{name}: {other:?}"),
        }
        assert!(msg.contains(name) && msg.contains(what), "{msg}");
    }
    // An empty file is a truncated bundle, not a foreign one.
    assert!(matches!(
        Bundle::from_bytes(&[], &NAMES),
        Err(ModelError::Truncated { need: 28, have: 0 })
    ));
}

#[test]
fn wrong_version_is_unsupported() {
    let bytes = small_bytes();
    let b = frame(FORMAT_VERSION + 1, payload_of(bytes));
    match Bundle::from_bytes(&b, &NAMES) {
        Err(ModelError::UnsupportedVersion { found, supported }) => {
            assert_eq!((found, supported), (FORMAT_VERSION + 1, FORMAT_VERSION));
        }
        other => panic!("{other:?}"),
    }
    // the version is checked before the checksum
    let mut b = bytes.to_vec();
    b[8] = 9;
    assert!(matches!(
        Bundle::from_bytes(&b, &NAMES),
        Err(ModelError::UnsupportedVersion { found: 9, .. })
    ));
}

#[test]
fn feature_mismatch_names_the_difference() {
    let bytes = small_bytes();
    let mut swapped = NAMES;
    swapped.swap(0, 2);
    let e = Bundle::from_bytes(bytes, &swapped).unwrap_err();
    match &e {
        ModelError::FeatureMismatch { expected, found } => {
            assert_eq!(expected[0], "nxdomain_ratio");
            assert_eq!(found[0], "queries");
        }
        other => panic!("{other:?}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("#0 is 'queries' in model, 'nxdomain_ratio' here"),
        "{msg}"
    );

    let mut renamed = NAMES.to_vec();
    renamed[4] = "txt_ratio";
    let msg = Bundle::from_bytes(bytes, &renamed).unwrap_err().to_string();
    assert!(
        msg.contains("not in model: txt_ratio") && msg.contains("only in model: txt_queries"),
        "{msg}"
    );

    let msg = Bundle::from_bytes(bytes, &NAMES[..5])
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("trained on 6 features but this build computes 5"),
        "{msg}"
    );
}

#[test]
fn huge_or_wrong_declared_length_is_refused_as_invalid_or_truncated() {
    let bytes = small_bytes();
    let mut b = bytes.to_vec();
    b[12..20].copy_from_slice(&u64::MAX.to_le_bytes());
    let e = Bundle::from_bytes(&b, &NAMES).unwrap_err();
    assert!(matches!(e, ModelError::Invalid(_)), "{e}");
    assert!(
        e.to_string().contains(&MAX_PAYLOAD_BYTES.to_string()),
        "{e}"
    );

    b[12..20].copy_from_slice(&MAX_PAYLOAD_BYTES.to_le_bytes());
    assert!(matches!(
        Bundle::from_bytes(&b, &NAMES),
        Err(ModelError::Truncated { need, .. }) if need == MAX_PAYLOAD_BYTES + 28
    ));

    let mut b = bytes.to_vec();
    b.extend_from_slice(b"junk");
    let e = Bundle::from_bytes(&b, &NAMES).unwrap_err();
    assert!(
        matches!(e, ModelError::Invalid(_)) && e.to_string().contains("4 unexpected bytes"),
        "{e}"
    );
}

#[test]
fn garbage_payload_with_valid_checksum_fails_to_decode() {
    let e = Bundle::from_bytes(&frame(FORMAT_VERSION, &[0xff; 64]), &NAMES).unwrap_err();
    assert!(matches!(e, ModelError::Decode(_)), "{e}");
    // a length prefix claiming an enormous vector is stopped by the limits, not allocated
    let mut p = vec![1u8]; // format_version = 1
    p.push(0xfd); // varint tag: u64 follows
    p.extend_from_slice(&(u64::MAX / 2).to_le_bytes());
    let e = Bundle::from_bytes(&frame(FORMAT_VERSION, &p), &NAMES).unwrap_err();
    assert!(matches!(e, ModelError::Decode(_)), "{e}");
    // valid bundle followed by extra payload bytes
    let mut p = payload_of(small_bytes()).to_vec();
    p.push(0);
    let e = Bundle::from_bytes(&frame(FORMAT_VERSION, &p), &NAMES).unwrap_err();
    assert!(e.to_string().contains("1 unused bytes"), "{e}");
}

/// Re-encodes a mutated bundle (valid checksum) and expects `Invalid`.
fn expect_invalid(b: &Bundle, what: &str) {
    let bytes = b.to_bytes();
    match Bundle::from_bytes(&bytes, &NAMES) {
        Err(e @ ModelError::Invalid(_)) => {
            assert!(e.to_string().contains(what), "{e} !~ {what}")
        }
        other => panic!("{what}: {other:?}"),
    }
}

fn mutate_forest(b: &Bundle, f: impl FnOnce(&mut serde_json::Value)) -> Bundle {
    let mut v = serde_json::to_value(&b.forest).unwrap();
    f(&mut v);
    let mut out = b.clone();
    out.forest = serde_json::from_value::<ExtendedIsolationForest>(v).unwrap();
    out
}

#[test]
fn structurally_invalid_bundles_are_rejected_after_decoding() {
    let b = Bundle::from_bytes(small_bytes(), &NAMES).unwrap();
    let split = |v: &mut serde_json::Value| v["trees"][0]["nodes"][0]["Split"].clone();
    assert!(split(&mut serde_json::to_value(&b.forest).unwrap()).is_object());

    let bad = mutate_forest(&b, |v| {
        v["trees"][0]["nodes"][0]["Split"]["left"] = 0.into()
    });
    expect_invalid(&bad, "does not come after the node");
    let bad = mutate_forest(&b, |v| {
        v["trees"][1]["nodes"][0]["Split"]["right"] = 9999.into()
    });
    expect_invalid(&bad, "out of range");
    let bad = mutate_forest(&b, |v| v["dims"] = 5.into());
    expect_invalid(&bad, "");
    let bad = mutate_forest(&b, |v| v["max_depth"] = 1000.into());
    expect_invalid(&bad, "max depth 1000");

    let mut bad = b.clone();
    bad.thresholds = Thresholds {
        unusual: 0.8,
        likely: 0.5,
    };
    expect_invalid(&bad, "unusual < likely");
    let mut bad = b.clone();
    bad.calibration.knots.swap(1, 2);
    expect_invalid(&bad, "not monotone");
    let mut bad = b.clone();
    bad.transform[2].scale = f64::NAN;
    expect_invalid(&bad, "nxdomain_ratio");
    let mut bad = b.clone();
    bad.feature_names.pop();
    expect_invalid(&bad, "5 feature names");
    let mut bad = b.clone();
    bad.stats[0].max = f64::INFINITY;
    expect_invalid(&bad, "statistics of feature 'queries'");
}

// ---------------------------------------------------------------- fuzzing

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Bundle::from_bytes(&bytes, &NAMES);
    }

    #[test]
    fn arbitrary_payload_behind_a_valid_header_never_panics(
        payload in proptest::collection::vec(any::<u8>(), 0..2048)
    ) {
        let r = Bundle::from_bytes(&frame(FORMAT_VERSION, &payload), &NAMES);
        prop_assert!(r.is_err());
    }

    #[test]
    fn mutated_payload_with_fixed_checksum_never_panics(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)
    ) {
        let mut p = payload_of(small_bytes()).to_vec();
        for (i, v) in edits {
            let at = i.index(p.len());
            p[at] = v;
        }
        if let Ok(b) = Bundle::from_bytes(&frame(FORMAT_VERSION, &p), &NAMES) {
            // whatever got through validation must score sanely
            let s = b.score(&[10.0; 6]);
            prop_assert!((0.0..=1.0).contains(&s));
        }
    }
}

// ---------------------------------------------------------------- calibration & thresholds

#[test]
fn calibration_anchors_on_new_windows_like_the_training_ones() {
    let b = shared();
    let held_out = windows(20_000, 3);
    let mut s: Vec<f64> = held_out.iter().map(|x| b.score(x)).collect();
    s.sort_by(f64::total_cmp);
    let median = s[s.len() / 2];
    let over = s.iter().filter(|v| **v >= 0.45).count() as f64 / s.len() as f64;
    assert!((median - 0.2).abs() < 0.02, "held-out median {median}");
    assert!(
        (0.0002..=0.003).contains(&over),
        "held-out fraction >= 0.45: {over}"
    );

    let train = windows(4000, 1);
    let mut t: Vec<f64> = train.iter().map(|x| b.score(x)).collect();
    t.sort_by(f64::total_cmp);
    let median = t[t.len() / 2];
    let over = t.iter().filter(|v| **v >= 0.45).count() as f64 / t.len() as f64;
    assert!((median - 0.2).abs() < 0.02, "training median {median}");
    assert!(
        (0.0002..=0.004).contains(&over),
        "training fraction >= 0.45: {over}"
    );
}

#[test]
fn calibrated_score_is_monotone_in_raw_score() {
    let b = shared();
    let mut pairs: Vec<(f64, f64)> = windows(3000, 4)
        .iter()
        .map(|x| (b.raw_score(x), b.score(x)))
        .collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    for w in pairs.windows(2) {
        assert!(w[1].1 >= w[0].1, "{:?}", w);
        if w[1].0 > w[0].0 {
            assert!(w[1].1 > w[0].1, "not strictly increasing: {:?}", w);
        }
    }
    let c = &b.calibration;
    assert_eq!(c.apply(1.0), 1.0);
    let r_q = c.knots[2].0;
    let r_top = c.max_isolation_raw;
    let r_c = c.knots[3].0;
    assert!((c.apply(r_c) - 0.75).abs() < 1e-12);
    assert!(
        r_c <= (r_q + r_top) / 2.0 + 1e-12,
        "the 0.75 knot is capped halfway to maximal isolation"
    );
}

#[test]
fn calibrate_thresholds_hits_the_target_rate() {
    let mut b = shared().clone();
    let rows = windows(5000, 5);
    for target in [0.001, 0.01, 0.05] {
        let th = b.calibrate_thresholds(&rows, target).unwrap();
        assert_eq!(b.thresholds, th);
        let alerts = rows.iter().filter(|x| b.score(x) >= th.unusual).count();
        let rate = alerts as f64 / rows.len() as f64;
        assert!(rate <= target, "target {target}: rate {rate}");
        assert!(
            rate >= target - 2.0 / rows.len() as f64,
            "target {target}: rate {rate}"
        );
        assert!(th.unusual < th.likely && th.likely <= 1.0);
        assert!(th.likely >= 0.75);
        assert_eq!(
            rows.iter()
                .filter(|x| b.label(b.score(x)) != Label::Normal)
                .count(),
            alerts
        );
    }
    assert!(matches!(
        b.calibrate_thresholds(&rows, 0.0),
        Err(ModelError::BadParams(_))
    ));
    assert!(matches!(
        b.calibrate_thresholds(&rows, 1.0),
        Err(ModelError::BadParams(_))
    ));
    assert!(matches!(
        b.calibrate_thresholds(&[], 0.01),
        Err(ModelError::BadData(_))
    ));
    assert!(matches!(
        b.calibrate_thresholds(&[vec![1.0]], 0.01),
        Err(ModelError::BadData(_))
    ));
    // calibrated thresholds survive a round trip
    let back = Bundle::from_bytes(&b.to_bytes(), &NAMES).unwrap();
    assert_eq!(back.thresholds, b.thresholds);
}

#[test]
fn deviation_explains_in_robust_sigmas() {
    let b = shared();
    assert!(b.deviation(2, 0.02).abs() < 0.5);
    assert!(b.deviation(2, 0.6) > 50.0);
    assert!(b.deviation(0, 1.0) < -3.0);
    assert_eq!(b.deviation(42, 1.0), 0.0);
}

// ---------------------------------------------------------------- cross-check

fn blob<const N: usize>(g: &mut Gauss) -> [f64; N] {
    std::array::from_fn(|_| g.next())
}

fn shell<const N: usize>(g: &mut Gauss, r: f64) -> [f64; N] {
    let v: [f64; N] = blob(g);
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.map(|x| x / norm * r)
}

/// Same data, same hyperparameters: our forest and the `extended-isolation-forest`
/// crate (v0.2.3, unseeded) should agree on the score distribution.
fn cross_check<const N: usize>(radius: f64, ext: usize) -> [f64; 6] {
    let mut g = Gauss::new(1000 + N as u64);
    let train: Vec<[f64; N]> = (0..3000).map(|_| blob(&mut g)).collect();
    let inl: Vec<[f64; N]> = (0..500).map(|_| blob(&mut g)).collect();
    let out: Vec<[f64; N]> = (0..50).map(|_| shell(&mut g, radius)).collect();

    let theirs = extended_isolation_forest::Forest::from_slice(
        &train,
        &extended_isolation_forest::ForestOptions {
            n_trees: 200,
            sample_size: 256,
            max_tree_depth: None,
            extension_level: ext,
        },
    )
    .unwrap();
    let rows: Vec<Vec<f64>> = train.iter().map(|x| x.to_vec()).collect();
    let p = ForestParams {
        extension_level: Some(ext),
        seed: 3,
        ..Default::default()
    };
    let ours = ExtendedIsolationForest::fit(&p.check(N, rows.len()).unwrap(), &rows).unwrap();

    let t_in: Vec<f64> = inl.iter().map(|x| theirs.score(x)).collect();
    let t_out: Vec<f64> = out.iter().map(|x| theirs.score(x)).collect();
    let o_in: Vec<f64> = inl.iter().map(|x| ours.score(x)).collect();
    let o_out: Vec<f64> = out.iter().map(|x| ours.score(x)).collect();
    let r = [
        auc(&o_in, &o_out),
        auc(&t_in, &t_out),
        mean(&o_in),
        mean(&t_in),
        mean(&o_out),
        mean(&t_out),
    ];
    eprintln!(
        "cross-check N={N} ext={ext}: AUC ours {:.4} theirs {:.4}; mean inlier ours {:.4} theirs {:.4}; mean outlier ours {:.4} theirs {:.4}",
        r[0], r[1], r[2], r[3], r[4], r[5]
    );
    assert!(
        r[0] >= 0.9 && r[1] >= 0.9,
        "AUC ours {} theirs {}",
        r[0],
        r[1]
    );
    assert!(
        (r[2] - r[3]).abs() < 0.02,
        "mean inlier ours {} theirs {}",
        r[2],
        r[3]
    );
    assert!(
        (r[4] - r[5]).abs() < 0.04,
        "mean outlier ours {} theirs {}",
        r[4],
        r[5]
    );
    r
}

#[test]
fn cross_check_with_reference_crate_2d() {
    cross_check::<2>(3.5, 1);
    cross_check::<2>(3.5, 0);
}

#[test]
fn cross_check_with_reference_crate_10d() {
    cross_check::<10>(5.0, 9);
    cross_check::<10>(5.0, 0);
}
