//! Regenerate the simulator's embedded lists in `data/sim/` from the full lists.
//!
//! ```text
//! cargo run -p sentineldns-tools --bin build_sim_lists -- [SRC_DIR] [OUT_DIR]
//! ```
//!
//! `SRC_DIR` defaults to `../shared/data/domains` (layout `benign/`, `dga/`,
//! `tunneling/`), `OUT_DIR` to `data/sim`. The selection is deterministic
//! (evenly spaced samples), so re-running on the same inputs gives the same
//! files:
//!
//! * `benign_top.txt`: the 3,000 most popular domains in rank order;
//! * `benign_tail.txt`: 1,000 rarely visited domains (not in the top 50k);
//! * `dga.csv`: `family,domain`, 250 samples from each of a handful of families
//!   with different styles (random letters, dictionary words, hex-ish);
//! * `tunnel.csv`: `tool,payload`, 150 sanitised tunnel payloads per tool.

use sentineldns::simulate::DomainLists;
use std::fmt::Write as _;

const TOP: usize = 3000;
const TAIL: usize = 1000;
const PER_FAMILY: usize = 250;
const PER_TOOL: usize = 150;
const FAMILIES: &[&str] = &[
    "banjori",
    "conficker",
    "cryptolocker",
    "matsnu",
    "necurs",
    "qakbot",
    "suppobox",
    "tinba",
    "zeus",
];

fn spaced<T: Clone>(v: &[T], n: usize) -> Vec<T> {
    if v.len() <= n {
        return v.to_vec();
    }
    (0..n).map(|i| v[i * v.len() / n].clone()).collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let src = args.next().unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/domains").to_string()
    });
    let out = std::path::PathBuf::from(args.next().unwrap_or_else(|| "data/sim".to_string()));
    let lists = DomainLists::from_dir(&src)?;
    std::fs::create_dir_all(&out)?;

    let top: Vec<String> = lists.benign.iter().take(TOP).cloned().collect();
    let all: std::collections::HashSet<&String> = lists.benign.iter().collect();
    let tail_pool: Vec<String> = lists
        .benign_tail
        .iter()
        .filter(|d| !all.contains(d))
        .cloned()
        .collect();
    let tail = spaced(&tail_pool, TAIL);

    let mut s = String::from("# most popular registrable domains, rank order (top50k list)\n");
    top.iter().for_each(|d| {
        let _ = writeln!(s, "{d}");
    });
    std::fs::write(out.join("benign_top.txt"), s)?;

    let mut s = String::from("# rarely visited benign domains (opendns random list)\n");
    tail.iter().for_each(|d| {
        let _ = writeln!(s, "{d}");
    });
    std::fs::write(out.join("benign_tail.txt"), s)?;

    let mut s = String::from("# family,domain (baderj DGA examples / andrewaeva samples)\n");
    for (fam, v) in &lists.dga {
        if FAMILIES.contains(&fam.as_str()) {
            for d in spaced(v, PER_FAMILY) {
                let _ = writeln!(s, "{fam},{d}");
            }
        }
    }
    std::fs::write(out.join("dga.csv"), s)?;

    let mut s =
        String::from("# tool,payload (netrack tunnel captures, zone stripped, sanitised)\n");
    for (tool, v) in &lists.tunnel_names {
        for p in spaced(v, PER_TOOL) {
            let _ = writeln!(s, "{tool},{p}");
        }
    }
    std::fs::write(out.join("tunnel.csv"), s)?;
    println!(
        "wrote {} top, {} tail, {} dga families, {} tunnel tools to {}",
        top.len(),
        tail.len(),
        lists
            .dga
            .iter()
            .filter(|(f, _)| FAMILIES.contains(&f.as_str()))
            .count(),
        lists.tunnel_names.len(),
        out.display()
    );
    Ok(())
}
