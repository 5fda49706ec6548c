#!/usr/bin/env bash
# Assembles a Hadoop 1.2.1 home for MesosScheduler from Maven Central (cached in ~/.m2):
#
#   hadoop-plugin/dist/assemble.sh <HADOOP_HOME>
#
#   <HADOOP_HOME>/bin/hadoop            the launcher beside this script
#   <HADOOP_HOME>/lib/*.jar             hadoop-core, hadoop-examples, their runtime jars,
#                                       Apache's mesos-1.11.0.jar + protobuf-java, and
#                                       hadoop-remesos-<version>.jar (MesosScheduler, built here)
#   <HADOOP_HOME>/lib/jsp-2.1/*.jar     Jetty's JSP 2.1 jars, after lib/ on the classpath as in
#                                       the release (before it, Jasper 5.5 breaks the web UI start)
#
# The caller writes <HADOOP_HOME>/conf/{core,mapred}-site.xml. Set SKIP_PLUGIN_TESTS=1 to
# build the plugin without running its unit tests.
set -euo pipefail
home=${1:?usage: assemble.sh HADOOP_HOME}
here=$(cd "$(dirname "$0")" && pwd)
plugin=$(cd "$here/.." && pwd)
mkdir -p "$home/bin" "$home/lib/jsp-2.1" "$home/conf"
home=$(cd "$home" && pwd)
mvn=(mvn -q -B -Dstyle.color=never)
"${mvn[@]}" -f "$here/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$home/lib" -DexcludeArtifactIds=jsp-2.1,jsp-api-2.1
"${mvn[@]}" -f "$here/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$home/lib/jsp-2.1" -DincludeArtifactIds=jsp-2.1,jsp-api-2.1
skip=()
[ "${SKIP_PLUGIN_TESTS:-0}" = 1 ] && skip=(-DskipTests)
"${mvn[@]}" -f "$plugin/pom.xml" "${skip[@]}" package
cp "$plugin"/target/hadoop-remesos-*.jar "$home/lib/"
cp "$here/bin/hadoop" "$home/bin/hadoop"
chmod +x "$home/bin/hadoop"
echo "$home"
