//! Build `data/benign_bigrams.tsv`, the benign character-bigram model embedded
//! by `sentineldns::enrich::LexicalModel::embedded`, from the benign domain lists.
//!
//! ```text
//! cargo run -p sentineldns-tools --bin build_lexicon -- [BENIGN_DIR] [OUT]
//! ```
//! Defaults: `../shared/data/domains/benign` and `data/benign_bigrams.tsv`.
//! Every `*.txt` (one domain per line) and `*.csv` (`rank,domain`) file in the
//! directory is read; names are de-duplicated, reduced to the labels left of
//! their public suffix (embedded ICANN-only PSL) and counted label by label.
//! The output is deterministic; `tests/lexicon.rs` rebuilds it and compares.

use sentineldns::enrich::lexical::build_model_text;
use sentineldns::enrich::Psl;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/data/domains/benign"
        )
        .into()
    }));
    let out = PathBuf::from(args.next().unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../data/benign_bigrams.tsv").into()
    }));
    let text = build_model_text(&dir, &Psl::embedded(false))?;
    std::fs::write(&out, &text)?;
    eprintln!(
        "wrote {} ({} bytes) from {}",
        out.display(),
        text.len(),
        dir.display()
    );
    Ok(())
}
