#!/usr/bin/env bash
# Prepares what the Spark end-to-end tests (core/tests/spark.rs) and bench/spark/ use, once;
# later calls return at once. Separate from tests/python/setup_venv.sh (pymesos) on purpose.
#
#   .venv-spark35/                pyspark 3.5.3 from PyPI (its jars include spark-mesos_2.12 and
#                                 Apache's mesos-1.4.3-shaded-protobuf.jar)
#   .venv-spark4/                 pyspark 4.0.0 from PyPI (no Mesos code; spark-plugin/ adds it)
#   .venv-spark4-newest/          pyspark 4.3.0, the newest Spark 4 release on PyPI when this was
#                                 written (`pip index versions pyspark`): the plugin, built
#                                 against 4.0.0, is tested on it too
#   .cache/spark/remesos-sparkpi.jar                tests/spark/java/RemesosSparkPi.java, compiled
#   .cache/spark/spark-3.5.3-bin-remesos.tgz        a Spark distribution laid out as Apache's
#                                 spark-3.5.3-bin-hadoop3.tgz (bin/ jars/ ...), made from the pip
#                                 install, served over HTTP by the tests as spark.executor.uri
#   spark-plugin/target/remesos-spark-plugin-*.jar  Maven build of the Spark 4 plugin
#
# Every step is skipped when its output exists. REMESOS_SPARK_SKIP_PLUGIN=1 skips the plugin.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
cache=$root/.cache/spark
mkdir -p "$cache"
pip_opts=(-q --disable-pip-version-check)

venv() { # venv <dir> <requirement>
    local dir=$1 req=$2
    if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c "import pyspark" 2>/dev/null; then
        return
    fi
    echo "spark setup: creating $dir ($req)"
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install "${pip_opts[@]}" "$req"
}
venv .venv-spark35 "pyspark==3.5.3"
venv .venv-spark4 "pyspark==4.0.0"
venv .venv-spark4-newest "pyspark==4.3.0"

spark_home() { "$1/bin/python" -c "import os, pyspark; print(os.path.dirname(pyspark.__file__))"; }
home35=$(spark_home .venv-spark35)

# Apache publishes no spark-examples_2.12 3.x jar on Maven Central (only 1.x), so the JVM
# SparkPi is ours (tests/spark/java), compiled against the pyspark install's jars.
sparkpi=$cache/remesos-sparkpi.jar
if [ ! -s "$sparkpi" ] || [ tests/spark/java/RemesosSparkPi.java -nt "$sparkpi" ]; then
    echo "spark setup: compiling tests/spark/java/RemesosSparkPi.java"
    classes=$(mktemp -d)
    javac -nowarn --release 8 -cp "$home35/jars/*" -d "$classes" tests/spark/java/RemesosSparkPi.java 2>&1 | grep -v "^warning" || true
    jar cf "$sparkpi" -C "$classes" .
    rm -rf "$classes"
fi

tarball=$cache/spark-3.5.3-bin-remesos.tgz
if [ ! -s "$tarball" ]; then
    echo "spark setup: building $tarball from $home35"
    stage=$(mktemp -d)
    dist=$stage/spark-3.5.3-bin-remesos
    mkdir -p "$dist"
    # What a binary distribution holds and an executor uses: bin/ (spark-class and the
    # scripts it sources), jars/, conf-less. Not the pip-only find_spark_home.py, so the
    # scripts take SPARK_HOME from their own location, as in Apache's tarball.
    cp -r "$home35/bin" "$home35/jars" "$dist/"
    [ -d "$home35/sbin" ] && cp -r "$home35/sbin" "$dist/"
    [ -d "$home35/python" ] && cp -r "$home35/python" "$dist/"
    echo "Spark 3.5.3 (from pyspark 3.5.3 on PyPI), repackaged for remesos tests" > "$dist/RELEASE"
    tar -C "$stage" -cf - spark-3.5.3-bin-remesos | gzip -1 > "$tarball.part"
    mv "$tarball.part" "$tarball"
    rm -rf "$stage"
fi

plugin_jar=$(ls spark-plugin/target/remesos-spark-plugin-*.jar 2>/dev/null | head -1 || true)
stale=1
if [ -n "$plugin_jar" ] && [ -z "$(find spark-plugin/src spark-plugin/pom.xml -newer "$plugin_jar")" ]; then
    stale=0
fi
if [ "${REMESOS_SPARK_SKIP_PLUGIN:-0}" != 1 ] && [ "$stale" = 1 ]; then
    echo "spark setup: building spark-plugin (mvn package)"
    # Apache's mesos-1.4.3-shaded-protobuf.jar (the classifier artifact spark-mesos 3.5 depends
    # on) is not served by the Maven Central mirror here; pyspark 3.5.3 ships the same file,
    # so put that one in the local repository under its Maven coordinates.
    m2=${HOME}/.m2/repository/org/apache/mesos/mesos/1.4.3/mesos-1.4.3-shaded-protobuf.jar
    if [ ! -s "$m2" ]; then
        mvn -q -B install:install-file -Dfile="$home35/jars/mesos-1.4.3-shaded-protobuf.jar" \
            -DgroupId=org.apache.mesos -DartifactId=mesos -Dversion=1.4.3 \
            -Dclassifier=shaded-protobuf -Dpackaging=jar
    fi
    (cd spark-plugin && mvn -q -B package -DskipTests)
fi
echo "spark setup: ready"
