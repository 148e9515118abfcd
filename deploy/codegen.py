"""Regenerates generated/ from protos/: Python messages, gRPC stubs, type stubs, descriptor set.

Run: `adplatform protos generate` (or `python -m deploy.codegen`). `adplatform protos check`
regenerates into a scratch directory and fails if generated/ differs, which CI runs.
"""

from __future__ import annotations

import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

from google.api import annotations_pb2
from grpc_tools import protoc

from deploy.paths import REPO_ROOT, TOOLS_DIR

PROTO_ROOT = REPO_ROOT / "protos"
GENERATED = REPO_ROOT / "generated"
DESCRIPTOR_SET = GENERATED / "adplatform.binpb"
PROTO_INCLUDE = TOOLS_DIR / "proto-include"
GOOGLE_API_PROTOS = ("annotations.proto", "http.proto")
# The error details the servers send (servers/status.py): only in the descriptor set, so that
# Envoy's transcoder can render them in JSON error bodies; Python has them from the wheel.
ERROR_DETAIL_PROTOS = ("google/rpc/error_details.proto",)


def proto_files() -> list[str]:
    """proto_files lists the contract files relative to protos/, in a stable order."""
    return sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))


def stage_google_api() -> Path:
    """stage_google_api copies the google/api and error-detail protos of googleapis-common-protos.

    protoc and buf read them from PROTO_INCLUDE.
    """
    googleapis = Path(annotations_pb2.__file__).parent.parent.parent
    staged = [f"google/api/{name}" for name in GOOGLE_API_PROTOS] + list(ERROR_DETAIL_PROTOS)
    for name in staged:
        target = PROTO_INCLUDE / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(googleapis / name, target)
    return PROTO_INCLUDE


def generate(out: Path = GENERATED) -> None:
    """generate writes the Python code and descriptor set for every contract into out."""
    include = stage_google_api()
    builtin = Path(protoc.__file__).parent / "_proto"
    bin_dir = Path(sys.executable).parent
    package_dir = out / "adplatform" / "v1"
    if package_dir.exists():
        shutil.rmtree(package_dir)
    package_dir.mkdir(parents=True)
    includes = [f"-I{PROTO_ROOT}", f"-I{include}", f"-I{builtin}"]
    python = [
        f"--python_out={out}",
        f"--grpc_python_out={out}",
        # Type stubs from mypy-protobuf: typed messages, stubs and (a)sync servicers.
        f"--plugin=protoc-gen-mypy={bin_dir / 'protoc-gen-mypy'}",
        f"--plugin=protoc-gen-mypy_grpc={bin_dir / 'protoc-gen-mypy_grpc'}",
        f"--mypy_out=quiet:{out}",
        f"--mypy_grpc_out=quiet:{out}",
        *proto_files(),
    ]
    descriptor_set = [
        f"--descriptor_set_out={out / DESCRIPTOR_SET.name}",
        "--include_imports",
        "--include_source_info",
        *proto_files(),
        *ERROR_DETAIL_PROTOS,
    ]
    for args in (python, descriptor_set):
        if protoc.main(["grpc_tools.protoc", *includes, *args]) != 0:
            raise SystemExit("protoc failed; see the messages above")
    (out / "adplatform" / "__init__.py").write_text('"""Code generated from protos/."""\n')
    (package_dir / "__init__.py").write_text('"""Code generated from protos/adplatform/v1."""\n')


def stale_files() -> list[str]:
    """stale_files regenerates into a scratch directory and lists what differs in generated/."""
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Path(scratch)
        generate(fresh)
        fresh_files = {p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file()}
        current_files = {
            p.relative_to(GENERATED)
            for p in GENERATED.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
        differing = [
            str(rel)
            for rel in sorted(fresh_files | current_files)
            if rel not in fresh_files
            or rel not in current_files
            or not filecmp.cmp(fresh / rel, GENERATED / rel, shallow=False)
        ]
    return differing


if __name__ == "__main__":
    generate()
    sys.exit(0)
