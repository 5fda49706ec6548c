# Generates mesos/interface/mesos_pb2.py at wheel build time from core/proto's mesos.proto
# with the protoc of the pinned grpcio-tools (pyproject.toml), so the wheel's protobufs are
# the ones remesos speaks and match the protobuf runtime it requires.
import os

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
# REMESOS_PROTO_DIR: the directory holding mesos.proto, for builds outside the tree.
PROTO_DIR = os.environ.get(
    "REMESOS_PROTO_DIR",
    os.path.join(HERE, "..", "..", "core", "proto", "proto", "mesos"),
)


class BuildWithProtos(build_py):
    def run(self):
        super().run()
        from grpc_tools import protoc

        out = os.path.join(self.build_lib, "mesos", "interface")
        os.makedirs(out, exist_ok=True)
        proto = os.path.join(PROTO_DIR, "mesos.proto")
        if not os.path.isfile(proto):
            raise SystemExit(f"mesos.proto not found at {proto} (set REMESOS_PROTO_DIR)")
        rc = protoc.main(["protoc", f"-I{PROTO_DIR}", f"--python_out={out}", proto])
        if rc != 0:
            raise SystemExit(f"protoc failed on {proto} ({rc})")


setup(cmdclass={"build_py": BuildWithProtos})
