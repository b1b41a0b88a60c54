//! Replays the fuzz targets' inputs kept in `fuzz/regressions/<target>/` (every crasher the
//! fuzzers found, and interesting corpus inputs) and `fuzz/seeds/<target>/` through the same
//! entry functions the fuzz targets call (`prepull_storage::fuzzing`), on the stable toolchain.
//! A failure names the input file; run it under the fuzzer with
//! `fuzz/target/x86_64-unknown-linux-gnu/release/<target> <file>`.

use std::path::PathBuf;

use prepull_storage::fuzzing;

/// Runs `entry` on every kept input of `target`; returns how many there were.
fn replay(target: &str, entry: fn(&[u8])) -> usize {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut count = 0;
    for kept in ["regressions", "seeds"] {
        let Ok(dir) = std::fs::read_dir(fuzz.join(kept).join(target)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = dir.map(|entry| entry.expect("readable").path()).collect();
        files.sort();
        for file in files {
            let input = std::fs::read(&file).expect("readable input");
            eprintln!("replaying {}", file.display());
            entry(&input);
            count += 1;
        }
    }
    count
}

#[test]
fn continue_token_inputs_keep_their_invariants() {
    assert!(
        replay("continue_token", fuzzing::continue_token) > 0,
        "no kept inputs for continue_token"
    );
}

#[test]
fn embedded_record_inputs_keep_their_invariants() {
    assert!(
        replay("embedded_record", fuzzing::embedded_record) > 0,
        "no kept inputs for embedded_record"
    );
}
