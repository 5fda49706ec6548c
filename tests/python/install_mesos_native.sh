#!/usr/bin/env bash
# Builds the project's two Python wheels into target/wheels and installs them into .venv
# (Python 3.11, made by setup_venv.sh) and .venv312 (Python 3.12, when one is on the
# machine: pyenv's or python3.12):
#   mesos.interface  python/interface: Scheduler/Executor and mesos_pb2, generated from
#                    core/proto's mesos.proto at build time (pinned grpcio-tools)
#   mesos.native     python/: the PyO3 extension (maturin), one abi3 wheel for 3.10+
# and, for the compatibility test, .venv-mesos172: PyPI's mesos.interface 1.7.2 (protobuf 3,
# the 1.7 schema) with our mesos.native.
# Prints `NAME=python` lines for tests/run.sh to export: REMESOS_PYTHON_MESOS172, and
# REMESOS_PYTHON312 when a 3.12 was found.
set -euo pipefail
cd "$(dirname "$0")/../.."
MATURIN_VERSION=1.16.0
wheels=target/wheels
mkdir -p "$wheels"
rm -f "$wheels"/mesos_interface-*.whl "$wheels"/mesos_native-*.whl
[ -x .venv/bin/python ] || python3 -m venv .venv
pip=(.venv/bin/python -m pip -q --disable-pip-version-check)
"${pip[@]}" install "maturin==$MATURIN_VERSION"
"${pip[@]}" wheel --no-deps -w "$wheels" python/interface
rm -rf python/interface/build python/interface/*.egg-info
.venv/bin/maturin build --quiet --release --locked -m python/Cargo.toml -o "$wheels" \
    --interpreter .venv/bin/python >&2
install_into() {
    "$1" -m pip -q --disable-pip-version-check install --force-reinstall \
        "$wheels"/mesos_interface-*.whl "$wheels"/mesos_native-*.whl
    "$1" -c "import mesos.native, mesos.scheduler, mesos.executor; from mesos.interface import mesos_pb2; print('mesos.native ready on', __import__('sys').version.split()[0])" >&2
}
install_into .venv/bin/python
[ -x .venv-mesos172/bin/python ] || .venv/bin/python -m venv .venv-mesos172
.venv-mesos172/bin/python -m pip -q --disable-pip-version-check install "mesos.interface==1.7.2"
.venv-mesos172/bin/python -m pip -q --disable-pip-version-check install --force-reinstall --no-deps \
    "$wheels"/mesos_native-*.whl
echo "REMESOS_PYTHON_MESOS172=$PWD/.venv-mesos172/bin/python"
python312=""
if command -v pyenv >/dev/null && pyenv prefix 3.12 >/dev/null 2>&1; then
    python312="$(pyenv prefix 3.12 | head -1)/bin/python3.12"
elif command -v python3.12 >/dev/null; then
    python312=$(command -v python3.12)
fi
if [ -n "$python312" ] && [ -x "$python312" ]; then
    [ -x .venv312/bin/python ] || "$python312" -m venv .venv312
    install_into .venv312/bin/python
    echo "REMESOS_PYTHON312=$PWD/.venv312/bin/python"
fi
