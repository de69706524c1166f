//! The shipped `data/benign_bigrams.tsv` must equal a fresh build from the
//! benign lists (so the model and its sources cannot drift apart).

use crate::util;
use sentineldns::enrich::lexical::build_model_text;
use sentineldns::enrich::{LexicalModel, Psl};

#[test]
fn shipped_model_matches_rebuild() {
    let shipped = include_str!("../../data/benign_bigrams.tsv");
    assert!(LexicalModel::from_text(shipped).is_ok());
    let benign = util::shared("domains/benign");
    let rebuilt = build_model_text(&benign, &Psl::embedded(false)).unwrap();
    assert!(
        rebuilt == shipped,
        "data/benign_bigrams.tsv is stale: run `cargo run -p sentineldns-tools --bin build_lexicon`"
    );
}
