//! The shipped `data/benign_bigrams.tsv` must equal a fresh build from the
//! benign lists (so the model and its sources cannot drift apart).

use sentineldns::enrich::lexical::build_model_text;
use sentineldns::enrich::{LexicalModel, Psl};
use std::path::Path;

const BENIGN: &str = "/work/shared/data/domains/benign";

#[test]
fn shipped_model_matches_rebuild() {
    let shipped = include_str!("../data/benign_bigrams.tsv");
    assert!(LexicalModel::from_text(shipped).is_ok());
    if !Path::new(BENIGN).is_dir() {
        println!("SKIP shipped_model_matches_rebuild: {BENIGN} is absent");
        return;
    }
    let rebuilt = build_model_text(Path::new(BENIGN), &Psl::embedded(false)).unwrap();
    assert!(
        rebuilt == shipped,
        "data/benign_bigrams.tsv is stale: run `cargo run --example build_lexicon`"
    );
}
