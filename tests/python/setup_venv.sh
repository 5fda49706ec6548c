#!/usr/bin/env bash
# Creates .venv with the Python peers the end-to-end tests use: pymesos (PyPI) and its
# dependencies. pymesos depends on http-parser, whose C extension does not build on
# Python 3.11; http-parser ships a pure-Python parser that pymesos falls back to, so we
# install that package's Python modules without building the extension.
#
# pyspark 3.5.x (an sdist) is here too: its deps/jars hold Apache's
# mesos-1.4.3-shaded-protobuf.jar (not on Maven Central) and spark-mesos, which the JNI and
# Spark tests run unmodified. They land in the venv's site-packages/pyspark/jars/
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.venv
PYSPARK_VERSION=3.5.3
have_pyspark() {
    "$venv/bin/python" -c "import pyspark, sys; sys.exit(pyspark.__version__ != '$PYSPARK_VERSION')" 2>/dev/null
}
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import pymesos, http_parser.pyparser" 2>/dev/null; then
    if ! have_pyspark; then
        "$venv/bin/pip" install -q --disable-pip-version-check "pyspark==$PYSPARK_VERSION"
    fi
    exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check addict==2.4.0 kazoo six
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps pymesos==0.3.15
work=$(mktemp -d)
"$venv/bin/pip" download -q --disable-pip-version-check --no-deps --no-binary :all: http-parser==0.9.0 -d "$work"
tar xzf "$work"/http-parser-0.9.0.tar.gz -C "$work"
site=$("$venv/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
mkdir -p "$site/http_parser"
cp "$work"/http-parser-0.9.0/http_parser/*.py "$site/http_parser/"
rm -rf "$work"
have_pyspark || "$venv/bin/pip" install -q --disable-pip-version-check "pyspark==$PYSPARK_VERSION"
"$venv/bin/python" -c "import pymesos; from http_parser.http import HttpParser; print('pymesos ready:', HttpParser.__module__)"
