#!/usr/bin/env bash
# Builds the fuzz targets (nightly) and runs each one for SECONDS, one after the other.
#
#   fuzz/run.sh SECONDS [TARGET...]      # every target when none is named
#   FUZZ_NO_BUILD=1 fuzz/run.sh ...      # run what was built last
#
# Seeds come from fuzz/seeds/<target> (checked in); the growing corpus is fuzz/corpus/<target>,
# crashers land in fuzz/artifacts/<target>/, logs (with the execution counts) in
# fuzz/logs/<target>.log. Fuzzers run at `nice -n 19`. Builds take /tmp/prepull-cargo.lock
# when flock is there, as every cargo build on the shared machine does. A crasher is replayed
# with `fuzz/target/x86_64-unknown-linux-gnu/release/<target> <file>`; keep it as a regression
# in fuzz/regressions/<target>/ (replayed by `cargo test` on stable).
set -euo pipefail
cd "$(dirname "$0")"

if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
    echo "usage: fuzz/run.sh SECONDS [TARGET...]" >&2
    exit 64
fi
seconds=$1
shift
if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^prepull-fuzz$')
fi

lock=()
if command -v flock > /dev/null; then
    lock=(flock /tmp/prepull-cargo.lock)
fi
# No sanitizer: the crates forbid unsafe code, and panics (with debug assertions and overflow
# checks on) are what the targets look for; without ASan the fuzzers run several times faster.
if [[ -z ${FUZZ_NO_BUILD:-} ]]; then
    "${lock[@]}" cargo +nightly fuzz build --sanitizer none --debug-assertions
fi
bin=target/x86_64-unknown-linux-gnu/release

status=0
for target in "${targets[@]}"; do
    [[ -x $bin/$target ]] || { echo "no such target: $target" >&2; exit 64; }
    mkdir -p "corpus/$target" "artifacts/$target" logs
    seeds=()
    [[ -d seeds/$target ]] && seeds=("seeds/$target")
    dict=()
    [[ -f dict/$target.dict ]] && dict=("-dict=dict/$target.dict")
    echo "== $target: ${seconds}s"
    nice -n 19 "$bin/$target" -max_total_time="$seconds" -max_len=16384 -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 "${dict[@]}" \
        -artifact_prefix="artifacts/$target/" "corpus/$target" "${seeds[@]}" \
        > "logs/$target.log" 2>&1 || { status=1; echo "   crashed: see fuzz/logs/$target.log"; }
    grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "logs/$target.log" | tail -n 2 || true
done
exit $status
