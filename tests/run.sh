#!/usr/bin/env bash
# The remesos test suite, as CI runs it (`.ci/run` calls this script with no argument).
#
#   bash tests/run.sh          both tiers: what CI runs
#   bash tests/run.sh fast     static checks and the fast tier only: needs nothing but cargo
#   bash tests/run.sh e2e      the end-to-end tier only (prepares and builds what it needs)
#
# Fast tier: `cargo fmt`, `cargo clippy`, then the unit and in-process tests — every crate's
#   library and binary tests, doc tests, and the replay of the fuzz corpora. No daemon, JVM,
#   ZooKeeper or network peer; a few minutes.
# End-to-end tier: installs what it needs when it is missing (Debian packages, the pymesos
#   and pyspark venvs, Maven artifacts), builds every artifact the tests start, in order —
#   the `remesos` binary and libmesos.so, the project's jar, the Hadoop plugin (its own unit
#   tests run here) and a Hadoop 1.2.1 home, the Spark set-up — then runs every integration
#   test target (real binaries, JVMs, ZooKeeper, Spark, Hadoop). Tests build nothing.
#
# Prints one summary line over everything that ran.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tier=${1:-all}
case "$tier" in
    all | fast | e2e) ;;
    *) echo "usage: tests/run.sh [all|fast|e2e]" >&2; exit 2 ;;
esac
started=$(date +%s)
command -v cargo >/dev/null || { echo "cargo is required (https://rustup.rs)"; exit 1; }

# Integration test targets that belong to the fast tier (in-process, no external peer):
# the fuzz-corpus replay, the dependency rule, the JSON dialect golden tests.
fast_targets=(fuzz_corpora layers json)

log=$(mktemp)
# The dockerd this script started (e2e_prepare), stopped at exit.
dockerd_pid=""
stop_dockerd() {
    [ -n "$dockerd_pid" ] || return 0
    kill "$dockerd_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$dockerd_pid" 2>/dev/null || true
    # dockerd leaves its default network namespace mounted under exec-root.
    umount "$dockerd_dir"/exec/netns/* 2>/dev/null || true
    rm -rf "$dockerd_dir" || true
}
trap 'rm -f "$log"; stop_dockerd' EXIT
status=0
# Runs one cargo test command; its output is kept for the summary, a failure is remembered
# and the suite goes on (every suite runs and is counted, even after a failure).
run_tests() {
    set +e
    cargo test --workspace --release --locked --no-fail-fast "$@" 2>&1 | tee -a "$log"
    local rc=${PIPESTATUS[0]}
    set -e
    [ "$rc" -eq 0 ] || status=$rc
}

apt_install() {
    local SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    # `env`: after an empty $SUDO an assignment word would be taken for the command's name.
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

fast_tier() {
    echo "== cargo fmt --check"
    cargo fmt --all --check
    echo "== cargo clippy"
    cargo clippy --workspace --all-targets --locked -- -D warnings

    # cargo-deny (deny.toml): licenses, sources (crates.io only), bans. Not `advisories`: its
    # database cannot be fetched here. Installing it compiles ~210 crates (14 min on a loaded
    # 2-vCPU machine), once.
    echo "== cargo deny check bans licenses sources"
    command -v cargo-deny >/dev/null || cargo install --locked cargo-deny
    cargo deny --locked check bans licenses sources

    echo "== fast tier: unit and in-process tests"
    local selection=(--lib --bins)
    for t in "${fast_targets[@]}"; do selection+=(--test "$t"); done
    run_tests "${selection[@]}"
    run_tests --doc
}

# Debian's docker-registry on a free loopback port with a temporary storage directory;
# mesos_images.rs pushes its images there (and corrupts one blob in the storage).
start_image_registry() {
    local port storage
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    storage=$(mktemp -d /tmp/remesos-registry.XXXXXX)
    printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s/data\nhttp:\n  addr: 127.0.0.1:%s\n' \
        "$storage" "$port" > "$storage/config.yml"
    /usr/bin/docker-registry serve "$storage/config.yml" >"$storage/registry.log" 2>&1 &
    registry_pid=$! registry_storage=$storage
    # Keeps the suite's own cleanup (the log) and adds the registry's.
    trap 'kill "$registry_pid" 2>/dev/null; wait "$registry_pid" 2>/dev/null || true; rm -rf "$registry_storage"; rm -f "$log"; stop_dockerd' EXIT
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && break
        sleep 0.1
    done
    export REMESOS_REGISTRY="127.0.0.1:$port" REMESOS_REGISTRY_STORAGE="$storage/data"
}

e2e_prepare() {
    local need=()
    command -v python3 >/dev/null || need+=(python3)
    command -v java >/dev/null || need+=(default-jdk-headless)
    command -v mvn >/dev/null || need+=(maven)
    command -v nm >/dev/null || need+=(binutils)   # the JNI symbol test reads libmesos.so
    command -v curl >/dev/null || need+=(curl)     # adversarial.rs: a client in another network namespace
    command -v ip >/dev/null || need+=(iproute2)   # adversarial.rs: ip netns, veth
    [ -x /bin/busybox ] || need+=(busybox-static)   # mesos_images.rs: the test images' rootfs
    [ -x /usr/bin/docker-registry ] || need+=(docker-registry)   # mesos_images.rs: a registry v2
    command -v promtool >/dev/null || need+=(prometheus)   # prometheus.rs: a real Prometheus, promtool
    command -v chromium >/dev/null || need+=(chromium)   # webui.rs: the web UI in a real browser
    command -v chromedriver >/dev/null || need+=(chromium-driver)   # webui.rs: WebDriver
    command -v mkfs.xfs >/dev/null || need+=(xfsprogs)   # disk_xfs.rs: an XFS loop filesystem
    if [ ${#need[@]} -gt 0 ]; then
        echo "installing ${need[*]}"
        apt_install "${need[@]}"
    fi
    python3 -m venv --help >/dev/null 2>&1 || apt_install python3-venv

    echo "== a docker registry v2 on loopback for mesos_images.rs (temporary storage, stopped at exit)"
    start_image_registry

    echo "== python peers (pymesos and pyspark 3.5 in .venv)"
    bash tests/python/setup_venv.sh
    export REMESOS_PYTHON="$root/.venv/bin/python"

    echo "== build: the remesos binary and libmesos.so"
    cargo build --release --locked -p remesos -p remesos-jni --lib --bins

    echo "== build: the mesos.interface and mesos.native wheels, installed into .venv (3.11) and .venv312 (3.12)"
    local pythons
    pythons=$(bash tests/python/install_mesos_native.sh)
    for p in $pythons; do export "${p?}"; done

    echo "== build: the project's jar (java/, with libmesos.so inside)"
    mvn -q -B -f java/pom.xml -Dremesos.native.dir="$root/target/release" package -DskipTests

    echo "== build: the Hadoop plugin (its unit tests run here) and a Hadoop 1.2.1 home"
    export REMESOS_HADOOP_HOME="$root/.cache/hadoop/hadoop-1.2.1"
    rm -rf "$REMESOS_HADOOP_HOME"
    bash hadoop-plugin/dist/assemble.sh "$REMESOS_HADOOP_HOME" >/dev/null

    echo "== build: Spark 3.5 and 4 venvs, the SparkPi jar, the Spark 4 plugin"
    bash tests/spark/setup.sh

    start_dockerd
}

# dockerd for core/tests/docker.rs, framework_containers.rs and spark.rs (the docker
# containerizer), from Debian's docker.io:
# on /var/run/docker.sock unless one already answers there, without iptables (these
# machines have none to spare) and with a bridge of its own for BRIDGE containers, its data
# under a temporary directory; then the tests' images (tests/docker/build-*image.sh).
start_dockerd() {
    command -v dockerd >/dev/null || apt_install docker.io
    dpkg -s busybox-static >/dev/null 2>&1 || apt_install busybox-static
    if ! docker -H unix:///var/run/docker.sock version >/dev/null 2>&1; then
        echo "== dockerd (bridge remesos-br0, data under a temporary directory)"
        dockerd_dir=$(mktemp -d /tmp/remesos-dockerd.XXXXXX)
        if ! ip link show remesos-br0 >/dev/null 2>&1; then
            ip link add remesos-br0 type bridge
            ip addr add 172.31.254.1/24 dev remesos-br0
            ip link set remesos-br0 up
        fi
        dockerd --iptables=false --ip-masq=false --bridge=remesos-br0 \
            --data-root "$dockerd_dir/data" --exec-root "$dockerd_dir/exec" \
            --pidfile "$dockerd_dir/dockerd.pid" -H unix:///var/run/docker.sock \
            >"$dockerd_dir/dockerd.log" 2>&1 &
        dockerd_pid=$!
        for _ in $(seq 300); do
            docker -H unix:///var/run/docker.sock version >/dev/null 2>&1 && break
            kill -0 "$dockerd_pid" 2>/dev/null || { cat "$dockerd_dir/dockerd.log"; exit 1; }
            sleep 0.1
        done
    fi
    bash tests/docker/build-image.sh /var/run/docker.sock
    # spark.rs: Spark 3.5's executors in an image of bash, busybox and the JDK's libraries
    # (the JDK and Spark come in as volumes); the tests push it into their registry.
    bash tests/docker/build-jvm-image.sh /var/run/docker.sock
}

e2e_tier() {
    e2e_prepare
    echo "== end-to-end tier: real binaries, JVMs, ZooKeeper, Spark, Hadoop"
    local selection=() name
    for file in core/tests/*.rs core/proto/tests/*.rs jni-driver/tests/*.rs; do
        name=$(basename "$file" .rs)
        [[ " ${fast_targets[*]} " == *" $name "* ]] || selection+=(--test "$name")
    done
    run_tests "${selection[@]}"
}

case "$tier" in
    fast) fast_tier ;;
    e2e) e2e_tier ;;
    all) fast_tier; e2e_tier ;;
esac

awk -v secs=$(( $(date +%s) - started )) -v status="$status" -v tier="$tier" '
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
        label = (tier == "all") ? "" : " (" tier " tier)"
        printf "remesos test suite%s: %s. %d passed; %d failed; %d ignored; %d suites; %ds\n", label, verdict, passed, failed, ignored, suites, secs
    }' "$log"
exit "$status"
