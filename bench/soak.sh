#!/bin/sh
# The soak with faults (core/benches/soak.rs; method and figures in core/benches/README.md).
# Builds the release `remesos` binary the soak starts, then runs it. Everything is passed
# through the environment: SOAK_SECS (default 120), SOAK_RATE (tasks/s, 5), SOAK_AGENTS (3),
# SOAK_SEED (printed; repeat a run's fault schedule with it), SOAK_DRAIN_SECS (180),
# SOAK_FAULT_SECS (4..12), SOAK_OUTAGE_SECS (1..8), SOAK_KEEP=1 (keep logs and work dirs).
# Exits non-zero if a launched task never reached a terminal state the framework saw.
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p remesos --bin remesos
exec cargo bench -p remesos --bench soak "$@"
