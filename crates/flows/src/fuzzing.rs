//! Fuzz harness of the flow detectors' input (the DNS sensor's are in
//! `sentineldns::fuzzing`): one function per cargo-fuzz target in `fuzz/`,
//! also run over the committed seeds and crash reproducers by the tests, so
//! a fixed crash stays fixed without a nightly toolchain.
//!
//! | target | exercises |
//! |---|---|
//! | `flow_csv` | the CSV flow reader, [`crate::cicids::parse_flow`] and [`crate::rules::parse_flow_ts`] |

/// Names of this crate's harnesses (`fuzz/corpus/<name>`, cargo-fuzz binaries).
pub const TARGETS: [&str; 1] = ["flow_csv"];

/// Run the harness called `name` on `data`. Returns `false` for an unknown name.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "flow_csv" => flow_csv(data),
        _ => return false,
    }
    true
}

/// A CICFlowMeter CSV file: header, rows, and the flow parser on every row.
pub fn flow_csv(data: &[u8]) {
    use crate::cicids::{parse_flow, Layout};
    use crate::csvin::CsvInput;
    let reader = Box::new(std::io::Cursor::new(data.to_vec()));
    let Ok(mut input) = CsvInput::from_reader(std::path::Path::new("fuzz.csv"), reader) else {
        return;
    };
    let layout = Layout::resolve(&input).ok();
    let mut rec = csv::StringRecord::new();
    let mut rows = 0usize;
    loop {
        match input.next_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                if let Some(layout) = &layout {
                    let _ = parse_flow(&rec, layout);
                }
                for f in rec.iter() {
                    let _ = crate::rules::parse_flow_ts(f);
                }
            }
            Err(_) => {}
        }
        rows += 1;
        assert!(rows <= data.len() + 1, "more rows than input bytes");
    }
}
