//! Regenerate `data/popular_domains.txt`: the popular registrable domains that
//! contain a brand of `sentineldns::enrich::brand::BRANDS`, from the top-50k list.
//!
//! ```text
//! cargo run -p sentineldns-tools --bin build_brand_domains -- \
//!     ../shared/data/domains/benign/top50k_kmikholap_top-1m.csv > data/popular_domains.txt
//! ```
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: build_brand_domains RANKED_LIST.csv > data/popular_domains.txt");
        return ExitCode::from(2);
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            print!("{}", sentineldns::enrich::brand::build_popular_list(&text));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{path}: {e}");
            ExitCode::from(1)
        }
    }
}
