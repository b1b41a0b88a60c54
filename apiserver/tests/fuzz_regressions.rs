//! Replays the fuzz targets' inputs kept in `fuzz/regressions/<target>/` (every crasher the
//! fuzzers found, and interesting corpus inputs) and `fuzz/seeds/<target>/` through the same
//! entry functions the fuzz targets call (`prepull_apiserver::registry::fuzzing`), on the stable toolchain.
//! A failure names the input file; run it under the fuzzer with
//! `fuzz/target/x86_64-unknown-linux-gnu/release/<target> <file>`.

use std::path::PathBuf;

use prepull_apiserver::registry::fuzzing;

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
fn decode_kind_inputs_keep_their_invariants() {
    assert!(
        replay("decode_kind", fuzzing::decode_kind) > 0,
        "no kept inputs for decode_kind"
    );
}

#[test]
fn patch_inputs_keep_their_invariants() {
    assert!(
        replay("patch", fuzzing::patch) > 0,
        "no kept inputs for patch"
    );
}

#[test]
fn apply_inputs_keep_their_invariants() {
    assert!(
        replay("apply", fuzzing::apply) > 0,
        "no kept inputs for apply"
    );
}

#[test]
fn splice_resource_version_inputs_keep_their_invariants() {
    assert!(
        replay("splice_resource_version", fuzzing::splice_resource_version) > 0,
        "no kept inputs for splice_resource_version"
    );
}
