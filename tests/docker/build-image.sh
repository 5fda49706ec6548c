#!/usr/bin/env bash
# Builds the docker image the docker containerizer's tests and benchmark run
# (core/tests/docker.rs, bench/): busybox alone, made locally with `docker import` — no
# registry is reachable from these machines. Needs busybox-static and a running dockerd.
#
#   bash tests/docker/build-image.sh [socket]     (default /var/run/docker.sock)
set -euo pipefail
socket=${1:-/var/run/docker.sock}
image=remesos-test-busybox:latest
docker=(docker -H "unix://$socket")
if "${docker[@]}" image inspect "$image" >/dev/null 2>&1; then
    exit 0
fi
busybox=$(command -v busybox || true)
[ -n "$busybox" ] || { echo "busybox is missing: apt-get install busybox-static" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/tmp" "$root/etc"
cp "$busybox" "$root/bin/busybox"
for applet in sh echo cat sleep ls id httpd mkdir test head env tr true false wc; do
    ln -s busybox "$root/bin/$applet"
done
echo "root:x:0:0:root:/:/bin/sh" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"
tar -C "$root" -c . | "${docker[@]}" import - "$image" >/dev/null
echo "built $image"
