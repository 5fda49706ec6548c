#!/usr/bin/env bash
# Fuzzes every target (or those named) in turn, one at a time, niced:
#   bash fuzz/run.sh [-t seconds-per-target] [-r runs] [target ...]
# Builds once with optimizations, debug assertions and overflow checks on (-O -a) and no
# sanitizer (-s none: Rust is memory-safe, the aim is panics, overflows and hangs).
# New inputs go into fuzz/corpus/<target>/ (minimize before committing:
# `cargo +nightly fuzz cmin -O -a -s none <target>`); crashes into fuzz/artifacts/<target>/.
# CI may run it briefly (`-t 30`) after `cargo test --release` replayed the corpora.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=60
runs=10000000
while getopts "t:r:" opt; do
    case $opt in
        t) seconds=$OPTARG ;;
        r) runs=$OPTARG ;;
        *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
cargo +nightly fuzz build -O -a -s none
for target in "${targets[@]}"; do
    echo "== $target (${seconds}s, at most $runs runs)"
    nice -n 10 cargo +nightly fuzz run -O -a -s none "$target" -- \
        -max_total_time="$seconds" -runs="$runs" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1
done
