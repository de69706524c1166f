//! Model benchmarks: fitting the default forest (200 trees × ψ 256) on a
//! 5000 × 23 matrix, and scoring one row (forest only, and through the bundle).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sentineldns::model::{Bundle, ExtendedIsolationForest, ForestParams};

const ROWS: usize = 5000;
const DIMS: usize = 23;

fn matrix() -> Vec<Vec<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut unit = move || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (0..ROWS)
        .map(|_| {
            (0..DIMS)
                .map(|_| {
                    let (u1, u2) = (1.0 - unit(), unit());
                    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
                })
                .collect()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rows = matrix();
    let params = ForestParams::default();
    let Ok(checked) = params.check(DIMS, ROWS) else {
        return;
    };
    c.bench_function("eif_fit_200x256_on_5000x23", |b| {
        b.iter(|| ExtendedIsolationForest::fit(black_box(&checked), black_box(&rows)))
    });
    let Ok(forest) = ExtendedIsolationForest::fit(&checked, &rows) else {
        return;
    };
    let x = rows[17].clone();
    c.bench_function("eif_score_one_row_23d", |b| {
        b.iter(|| forest.score(black_box(&x)))
    });

    let names: Vec<String> = (0..DIMS).map(|i| format!("f{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let Ok(bundle) = Bundle::train(&names, &rows, &params, &[false; DIMS]) else {
        return;
    };
    c.bench_function("bundle_train_5000x23", |b| {
        b.iter(|| Bundle::train(black_box(&names), black_box(&rows), &params, &[false; DIMS]))
    });
    c.bench_function("bundle_score_one_row_23d", |b| {
        b.iter(|| bundle.score(black_box(&x)))
    });
    let bytes = bundle.to_bytes();
    eprintln!(
        "bundle: {} bytes, {} nodes",
        bytes.len(),
        bundle.forest.n_nodes()
    );
    c.bench_function("bundle_from_bytes", |b| {
        b.iter(|| Bundle::from_bytes(black_box(&bytes), &names))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
