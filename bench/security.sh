#!/usr/bin/env bash
# The cost of security (issue 14): the launch bench (core/benches/launch.rs) run twice on the
# same machine, once plain and once with TLS + authentication on, and the ratio of each figure.
#
#   bench/security.sh [TASKS]        TASKS per run (default 2000); REQUESTS=<n> GETs of
#                                    /master/state-summary per run (default 2000)
#   BENCH_TLS=0 bench/security.sh    authentication only (no LIBPROCESS_SSL_*)
#
# Secure run: `remesos local` with --authenticate_frameworks --authenticate_http_frameworks
# --http_framework_authenticators=basic --authenticate_http_readonly
# --authenticate_http_readwrite --credentials=<file>; every request and the framework present
# HTTP Basic; with TLS, LIBPROCESS_SSL_ENABLED=true and a self-signed certificate made here
# (openssl), server certificates not verified (libprocess's default).
# Prints the machine, the date, both runs and a markdown row of ratios (secure / plain) to
# paste into bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
tasks=${1:-2000}
export REQUESTS=${REQUESTS:-2000}
tls=${BENCH_TLS:-1}

cargo build --release -p remesos --bin remesos
run() {
    cargo bench -q -p remesos --bench launch -- "$tasks" "$@" | tee /dev/stderr | grep '^RESULT ' | cut -d' ' -f2-
}

echo "== plain" >&2
plain=$(run)

echo "== secure (authentication$([ "$tls" = 1 ] && echo ' + TLS'))" >&2
if [ "$tls" = 1 ]; then
    certs=$(mktemp -d)
    trap 'rm -rf "$certs"' EXIT
    openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
        -addext subjectAltName=IP:127.0.0.1 \
        -keyout "$certs/key.pem" -out "$certs/cert.pem" 2>/dev/null
    secure=$(LIBPROCESS_SSL_ENABLED=true LIBPROCESS_SSL_CERT_FILE="$certs/cert.pem" \
        LIBPROCESS_SSL_KEY_FILE="$certs/key.pem" run --secure)
else
    secure=$(run --secure)
fi

machine="$(nproc) vCPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), \
$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1 /proc/loadavg)"
PLAIN="$plain" SECURE="$secure" MACHINE="$machine" python3 - <<'EOF'
import datetime, json, os
p, s = json.loads(os.environ["PLAIN"]), json.loads(os.environ["SECURE"])
mode = "auth + TLS" if s["tls"] else "auth"
print(f"machine: {os.environ['MACHINE']}; date: {datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC")
print("| run | tasks | tasks/s | offer->RUNNING p50 ms | state-summary p50 µs | p99 µs | mean µs |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name, r in (("plain", p), (mode, s)):
    print(f"| {name} | {r['tasks']} | {r['tasks_per_s']:.0f} | {r['running_p50_ms']:.0f} | "
          f"{r['request_p50_us']:.0f} | {r['request_p99_us']:.0f} | {r['request_mean_us']:.0f} |")
ratio = lambda k: s[k] / p[k] if p[k] else float("nan")
print(f"| ratio {mode} / plain | | {ratio('tasks_per_s'):.2f} | {ratio('running_p50_ms'):.2f} | "
      f"{ratio('request_p50_us'):.2f} | {ratio('request_p99_us'):.2f} | {ratio('request_mean_us'):.2f} |")
EOF
