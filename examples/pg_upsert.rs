//! Collector write rate into the PostgreSQL fleet database (issue 14): the
//! window verdicts of `replay --ndjson` (the NDJSON file given), repeated
//! under `SENSORS` sensor names, upserted in batches of `BATCH`, then all
//! of it again (a full redelivery), into the database at `URL`, which is
//! emptied of the fleet tables first. Prints rows/s for both passes.
//!
//! ```text
//! eval "$(scripts/fleet-servers.sh start)"
//! sentineldns replay -q --format none --ndjson /tmp/s.ndjson --db /tmp/s.db simulations/sample.jsonl
//! cargo run --release --features postgres --example pg_upsert -- \
//!     "$SENTINELDNS_TEST_POSTGRES" /tmp/s.ndjson 200 500
//! ```
#![forbid(unsafe_code)]

use sentineldns::store::pg::{PgStore, WindowRecord};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 5 {
        return Err("usage: pg_upsert URL NDJSON SENSORS BATCH".into());
    }
    let (url, path) = (&a[1], &a[2]);
    let sensors: usize = a[3].parse()?;
    let batch: usize = a[4].parse()?;
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(path)?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    for s in 0..sensors {
        let name = format!("sensor-{s}");
        rows.extend(
            lines
                .iter()
                .filter_map(|v| WindowRecord::from_ndjson(&name, v)),
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut pg = PgStore::connect(url).await?;
        pg.drop_partitions_before(i64::MAX / 2).await?;
        for pass in ["insert", "redelivery"] {
            let t = Instant::now();
            for chunk in rows.chunks(batch.max(1)) {
                pg.upsert(chunk, &[]).await?;
            }
            let s = t.elapsed().as_secs_f64();
            println!(
                "{pass}: {} windows in {s:.2} s = {:.0} rows/s (batches of {batch}); stored {}",
                rows.len(),
                rows.len() as f64 / s,
                pg.count_windows().await?
            );
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
