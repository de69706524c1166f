//! Print the lexical-risk distribution on the labelled lists in
//! `../shared/data/domains` (benign, DGA per family, tunnels), and with
//! `--fit`, fit non-negative logistic-regression weights for the lexical
//! features (how the constants in `src/enrich/lexical.rs` were chosen).
//!
//! ```text
//! cargo run --release --example lexical_calibration -- [--th=0.7] [--fit[ --negw=5]] [--worst] [--single] [--holdout]
//! ```
//! `--single`: DGA recall at 2 % benign false positives per single feature;
//! `--holdout`: benign rate with the bigram model trained on half the list.

// The integration tests' data helpers (`datasets` uses `paths`).
#[path = "../tests/integration/util/datasets.rs"]
mod datasets;
#[allow(dead_code)]
#[path = "../tests/integration/util/paths.rs"]
mod paths;

use sentineldns::enrich::lexical::{self, LexicalScore};
use sentineldns::enrich::{LexicalModel, Psl};

type FeatFn = Box<dyn Fn(&LexicalScore) -> f32>;

fn feats(s: &LexicalScore) -> [f32; 10] {
    [
        s.surprise.max(0.0),
        (s.scored_len as f32 - lexical::LEN0).max(0.0),
        (s.entropy - lexical::H0).max(0.0),
        s.digit_ratio,
        (s.max_digit_run as f32 - 2.0).max(0.0),
        (s.max_consonant_run as f32 - 3.0).max(0.0),
        (s.odd_chars.min(8)) as f32,
        s.keyword as u8 as f32,
        s.punycode as u8 as f32,
        s.unlisted_tld as u8 as f32,
    ]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // datasets::root() panics with a clear message when ../shared is missing.
    let _ = datasets::root();
    let psl = Psl::embedded(false);
    let m = LexicalModel::embedded();
    let score = |q: &str| m.score_in(q, &psl);
    let th: f32 = args
        .iter()
        .find_map(|a| a.strip_prefix("--th="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.7);
    let mut sets = vec![datasets::benign()];
    let dga = datasets::dga();
    let all_dga: Vec<String> = dga.iter().flat_map(|s| s.names.iter().cloned()).collect();
    sets.push(datasets::Set {
        name: "dga(all)".into(),
        names: all_dga,
    });
    sets.extend(dga);
    sets.extend(datasets::tunnels());
    println!(
        "{:<40} {:>7} {:>6} {:>6} {:>6} {:>6} {:>7}",
        "set", "n", "mean", "p50", "p90", "p99", ">=0.7"
    );
    for s in &sets {
        let d = datasets::dist(s.names.iter().map(|q| score(q).risk).collect(), th);
        println!(
            "{:<40} {:>7} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>6.2}%",
            s.name,
            d.n,
            d.mean,
            d.p50,
            d.p90,
            d.p99,
            d.high * 100.0
        );
    }
    {
        // ranking quality: threshold at which 2% of benign is high risk
        let mut b: Vec<f32> = sets[0].names.iter().map(|q| score(q).risk).collect();
        b.sort_by(|x, y| y.total_cmp(x));
        let t = b[b.len() / 50];
        for s in &sets[1..2] {
            let n = s.names.iter().filter(|q| score(q).risk >= t).count();
            println!(
                "at benign-2% threshold {t:.4}: {} recall {:.2}%",
                s.name,
                n as f64 * 100.0 / s.names.len() as f64
            );
        }
    }
    if args.iter().any(|a| a == "--holdout") {
        // 2-fold: model from even-indexed benign names, evaluated on the odd ones.
        let mut c = lexical::BigramCounts::default();
        for q in sets[0].names.iter().step_by(2) {
            c.add_name(q, &psl);
        }
        let Ok(half) = LexicalModel::from_text(&c.to_model_text()) else {
            return;
        };
        let rate = |m: &LexicalModel, v: &mut dyn Iterator<Item = &String>| {
            let (mut n, mut h) = (0usize, 0usize);
            for q in v {
                n += 1;
                h += (m.score_in(q, &psl).risk >= th) as usize;
            }
            h as f64 * 100.0 / n as f64
        };
        println!(
            "holdout: benign high-risk in-sample(even) {:.2}%, held-out(odd) {:.2}%; dga {:.2}%",
            rate(&half, &mut sets[0].names.iter().step_by(2)),
            rate(&half, &mut sets[0].names.iter().skip(1).step_by(2)),
            rate(&half, &mut sets[1].names.iter())
        );
    }
    if args.iter().any(|a| a == "--single") {
        let fs: Vec<(&str, FeatFn)> = vec![
            ("surprise", Box::new(|s: &LexicalScore| s.surprise)),
            ("-avg_lp", Box::new(|s: &LexicalScore| -s.bigram_logprob)),
            ("len", Box::new(|s: &LexicalScore| s.scored_len as f32)),
            ("entropy", Box::new(|s: &LexicalScore| s.entropy)),
            (
                "crun",
                Box::new(|s: &LexicalScore| s.max_consonant_run as f32),
            ),
            ("digits", Box::new(|s: &LexicalScore| s.digit_ratio)),
            // surprisal with another reference TAU' = TAU - d: surprise + d * transitions
            (
                "surp(tau=2.0)",
                Box::new(|s: &LexicalScore| s.surprise + 0.5 * s.transitions as f32),
            ),
            (
                "surp(tau=3.0)",
                Box::new(|s: &LexicalScore| s.surprise - 0.5 * s.transitions as f32),
            ),
            (
                "surp+tld",
                Box::new(|s: &LexicalScore| s.surprise + if s.unlisted_tld { 8.0 } else { 0.0 }),
            ),
            ("risk", Box::new(|s: &LexicalScore| s.risk)),
        ];
        let bsc: Vec<LexicalScore> = sets[0].names.iter().map(|q| score(q)).collect();
        let dsc: Vec<LexicalScore> = sets[1].names.iter().map(|q| score(q)).collect();
        for (n, f) in &fs {
            let mut b: Vec<f32> = bsc.iter().map(f).collect();
            b.sort_by(|x, y| y.total_cmp(x));
            let t = b[b.len() / 50];
            let r = dsc.iter().filter(|s| f(s) > t).count() as f64 / dsc.len() as f64;
            println!("single {n:<10} t={t:.3} recall@2%FP {:.2}%", r * 100.0);
        }
    }
    if args.iter().any(|a| a == "--worst") {
        for s in &sets {
            let mut v: Vec<(f32, &String)> = s.names.iter().map(|q| (score(q).risk, q)).collect();
            v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
            let pick: Vec<_> = if s.name == "benign" || s.name.starts_with("plain") {
                v.iter().rev().take(25).collect()
            } else {
                v.iter().take(6).collect()
            };
            println!("== {}", s.name);
            for (r, q) in pick {
                let sc = score(q);
                println!("  {r:.3} {q}  {:?}", sc.contrib);
            }
        }
    }
    if args.iter().any(|a| a == "--fit") {
        // samples: benign (0), plain (0), dga (1), tunnels (1). Unlisted TLD is
        // excluded from the fit (fixed by judgement), everything else is fitted
        // as a non-negative logistic regression with class weights.
        let mut xs: Vec<([f32; 10], f32, f32, bool)> = Vec::new();
        for s in &sets {
            if s.name == "dga(all)" {
                continue;
            }
            let y = if s.name == "benign" || s.name.starts_with("plain") {
                0.0
            } else {
                1.0
            };
            let is_benign_list = s.name == "benign";
            let is_dga = !s.name.starts_with("tunnel") && y > 0.5;
            for q in &s.names {
                let sc = score(q);
                let mut f = feats(&sc);
                f[9] = 0.0;
                let fixed = if sc.unlisted_tld { lexical::W_TLD } else { 0.0 };
                xs.push((f, y, fixed, is_benign_list || is_dga));
            }
        }
        let d = 9;
        let mut mean = [0f32; 10];
        let mut sd = [0f32; 10];
        for k in 0..d {
            mean[k] = xs.iter().map(|x| x.0[k]).sum::<f32>() / xs.len() as f32;
            sd[k] = (xs.iter().map(|x| (x.0[k] - mean[k]).powi(2)).sum::<f32>() / xs.len() as f32)
                .sqrt()
                .max(1e-6);
        }
        let npos = xs.iter().filter(|x| x.1 > 0.5).count() as f32;
        let nneg = xs.len() as f32 - npos;
        let negw: f32 = args
            .iter()
            .find_map(|a| a.strip_prefix("--negw="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(5.0);
        // weights on scaled features (x/sd), constrained >= 0
        let mut w = vec![0f32; d];
        let mut b = 0f32;
        let (mut m1, mut v1) = (vec![0f32; d + 1], vec![0f32; d + 1]);
        for it in 1..=400 {
            let mut g = vec![0f32; d + 1];
            for (x, y, fixed, _) in &xs {
                let z = b + fixed + (0..d).map(|k| w[k] * x[k] / sd[k]).sum::<f32>();
                let p = 1.0 / (1.0 + (-z).exp());
                let wt = if *y > 0.5 { 1.0 / npos } else { negw / nneg };
                let e = (p - y) * wt;
                for k in 0..d {
                    g[k] += e * x[k] / sd[k];
                }
                g[d] += e;
            }
            for k in 0..=d {
                m1[k] = 0.9 * m1[k] + 0.1 * g[k];
                v1[k] = 0.999 * v1[k] + 0.001 * g[k] * g[k];
                let mh = m1[k] / (1.0 - 0.9f32.powi(it));
                let vh = v1[k] / (1.0 - 0.999f32.powi(it));
                let step = 0.05 * mh / (vh.sqrt() + 1e-8);
                if k < d {
                    w[k] = (w[k] - step).max(0.0);
                } else {
                    b -= step;
                }
            }
        }
        let wr: Vec<f32> = (0..d).map(|k| w[k] / sd[k]).collect();
        println!("fit (raw-feature weights): b={b:.3} w={wr:?}");
        let z = |x: &[f32; 10], fixed: f32| b + fixed + (0..d).map(|k| wr[k] * x[k]).sum::<f32>();
        let mut bz: Vec<f32> = xs
            .iter()
            .filter(|x| x.1 < 0.5 && x.3)
            .map(|x| z(&x.0, x.2))
            .collect();
        bz.sort_by(|x, y| y.total_cmp(x));
        let t = bz[bz.len() / 50];
        let dg: Vec<f32> = xs
            .iter()
            .filter(|x| x.1 > 0.5 && x.3)
            .map(|x| z(&x.0, x.2))
            .collect();
        println!(
            "fitted: z at benign 2% = {t:.3}; dga recall there {:.2}%",
            dg.iter().filter(|v| **v >= t).count() as f64 * 100.0 / dg.len() as f64
        );
    }
}
