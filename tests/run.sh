#!/usr/bin/env bash
# The whole remesos test suite, as CI runs it (`.ci/run` calls this script).
#
# Installs what the tests need when it is missing (Debian packages; Apache's mesos jars come
# from Maven Central inside the compatibility test), checks formatting and lints, then runs
# every test once in the release profile — unit tests, the end-to-end tests that start the
# `remesos` binary, and the protocol compatibility test — and prints one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

need_packages=()
command -v python3 >/dev/null || need_packages+=(python3)
command -v java >/dev/null || need_packages+=(default-jdk-headless)
command -v mvn >/dev/null || need_packages+=(maven)
command -v nm >/dev/null || need_packages+=(binutils)   # the JNI symbol test reads libmesos.so
command -v curl >/dev/null || need_packages+=(curl)      # adversarial.rs: a client in another network namespace
command -v ip >/dev/null || need_packages+=(iproute2)    # adversarial.rs: ip netns, veth
if [ ${#need_packages[@]} -gt 0 ]; then
    echo "installing ${need_packages[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_packages[@]}"
fi
command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }
python3 -m venv --help >/dev/null 2>&1 || need_venv=1
if [ "${need_venv:-0}" = 1 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && $SUDO DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
fi

echo "== python peers (pymesos in .venv)"
bash tests/python/setup_venv.sh
export REMESOS_PYTHON="$PWD/.venv/bin/python"

echo "== libmesos.so (jni-driver; the Java, Hadoop and Spark end-to-end tests load it)"
cargo build --release --locked -p remesos-jni

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

# cargo-deny (deny.toml): licenses, sources (crates.io only), bans. Not `advisories`: its
# database cannot be fetched here.
echo "== cargo deny check bans licenses sources"
command -v cargo-deny >/dev/null || cargo install --locked cargo-deny
cargo deny --locked check bans licenses sources

echo "== cargo test --release"
log=$(mktemp)
set +e
# --no-fail-fast: every suite runs and is counted, even after a failure.
cargo test --workspace --release --locked --no-fail-fast 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

awk -v secs=$(( $(date +%s) - started )) -v status="$status" '
    /^test result:/ {
        suites++
        for (i = 1; i <= NF; i++) {
            if ($(i+1) ~ /^passed/) passed += $i
            if ($(i+1) ~ /^failed/) failed += $i
            if ($(i+1) ~ /^ignored/) ignored += $i
        }
    }
    END {
        verdict = (status == 0 && failed == 0) ? "ok" : "FAILED"
        printf "remesos test suite: %s. %d passed; %d failed; %d ignored; %d suites; %ds\n", verdict, passed, failed, ignored, suites, secs
    }' "$log"
rm -f "$log"
exit "$status"
