#!/usr/bin/env bash
# Builds the small image Spark executors run in (core/tests/spark.rs, the
# `spark.mesos.executor.docker.image` tests): busybox, bash, `/usr/bin/env`, and the shared
# libraries the host's JDK and bash link against — no JDK and no Spark. Those come in as
# read-only volumes (`spark.mesos.executor.docker.volumes`), as a site that keeps one JDK and
# one Spark on every agent would run it. Made with `docker import` of a tarball of host files:
# no outside registry is reachable from these machines.
#
#   bash tests/docker/build-jvm-image.sh [socket] [registry]
#
# socket: the dockerd to build in (default /var/run/docker.sock). registry: a registry v2 on
# loopback (host:port, e.g. tests/run.sh's $REMESOS_REGISTRY) to push the image to as well,
# for the mesos containerizer (`--docker_registry`); dockerd trusts 127.0.0.0/8 over plain
# http. Needs busybox-static, bash and a JDK (`java` on PATH).
set -euo pipefail
socket=${1:-/var/run/docker.sock}
registry=${2:-}
image=remesos-test-jvm:latest
docker=(docker -H "unix://$socket")

if ! "${docker[@]}" image inspect "$image" >/dev/null 2>&1; then
    busybox=$(command -v busybox || true)
    [ -n "$busybox" ] || { echo "busybox is missing: apt-get install busybox-static" >&2; exit 1; }
    java=$(command -v java || true)
    [ -n "$java" ] || { echo "java is missing: apt-get install default-jdk-headless" >&2; exit 1; }
    java_home=$(dirname "$(dirname "$(readlink -f "$java")")")
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
    mkdir -p "$root/bin" "$root/usr/bin" "$root/tmp" "$root/etc" "$root/proc" "$root/sys" \
        "$root/dev" "$root/mnt/mesos/sandbox"
    chmod 1777 "$root/tmp"
    cp "$busybox" "$root/bin/busybox"
    # Every applet spark-class, load-spark-env.sh and Hadoop's Shell may call (dirname, ps,
    # setsid, id, ...): all of them.
    for applet in $("$busybox" --list); do
        [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
    done
    ln -s /bin/busybox "$root/usr/bin/env"   # spark-class starts with #!/usr/bin/env bash
    cp "$(readlink -f /bin/bash)" "$root/bin/bash"
    # The libraries bash, the JVM launcher, libjvm and the JDK's core native libraries load,
    # at the paths the dynamic linker looks for them; libraries the JDK loads later (AWT,
    # sound) are left out on purpose.
    objects=(/bin/bash "$java_home/bin/java" "$java_home/lib/server/libjvm.so")
    for lib in jli java net nio zip jimage management management_ext extnet verify jaas prefs; do
        [ -e "$java_home/lib/lib$lib.so" ] && objects+=("$java_home/lib/lib$lib.so")
    done
    for lib in $(ldd "${objects[@]}" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $1 !~ /:$/ {print $1}' | sort -u); do
        case "$lib" in "$java_home"/*) continue ;; esac
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    printf '127.0.0.1 localhost\n' >"$root/etc/hosts"
    tar -C "$root" -c . | "${docker[@]}" import - "$image" >/dev/null
    echo "built $image"
fi

if [ -n "$registry" ]; then
    "${docker[@]}" tag "$image" "$registry/$image"
    "${docker[@]}" push "$registry/$image" >/dev/null
    echo "pushed $registry/$image"
fi
