"""Regenerate the Python code for the protobuf contract.

Usage: python proto/generate.py [OUT_DIR]

Writes *_pb2.py, *_pb2.pyi (mypy-protobuf) and *_pb2_grpc.py(i) next to the
sources (or under OUT_DIR, which the staleness test uses). Needs the `dev`
extra (grpcio-tools, mypy-protobuf).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from grpc_tools import protoc  # type: ignore[import-untyped]

PROTO_ROOT = Path(__file__).resolve().parent


def generate(out_dir: Path) -> list[Path]:
    sources = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.glob("tracklog/v1/*.proto"))
    bin_dir = Path(sys.executable).parent
    mypy_plugin = shutil.which("protoc-gen-mypy", path=str(bin_dir)) or "protoc-gen-mypy"
    mypy_grpc_plugin = (
        shutil.which("protoc-gen-mypy_grpc", path=str(bin_dir)) or "protoc-gen-mypy_grpc"
    )
    builtin_includes = Path(protoc.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{builtin_includes}",
        f"--plugin=protoc-gen-mypy={mypy_plugin}",
        f"--plugin=protoc-gen-mypy_grpc={mypy_grpc_plugin}",
        f"--python_out={out_dir}",
        f"--mypy_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        f"--mypy_grpc_out={out_dir}",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    return sorted(out_dir.glob("tracklog/v1/*_pb2*"))


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else PROTO_ROOT
    for path in generate(target):
        print(path)
