"""ghz: a gRPC load generator in Go that cycles through distinct request messages.

Feedback cannot be benchmarked with one repeated body (every request after the first would
be a duplicate, a cheaper path), and h2load sends one body per process; ghz round-robins
through a JSON array of messages, one per request. It is built once with the machine's Go
toolchain into .tools/bin on first use (about two minutes), not by the bootstrap.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FileDescriptor

from clients.bench.loadgen import OVERRUN_SECONDS, Measurement, go_build
from deploy.paths import TOOLS_DIR
from deploy.stack.errors import StackError

GHZ_MODULE = "github.com/bojand/ghz/cmd/ghz@v0.120.0"
GHZ = TOOLS_DIR / "bin" / "ghz"


def ensure_ghz(say: Any = print) -> Path:
    """ensure_ghz returns the ghz binary, building it with `go install` the first time."""
    return go_build(GHZ, ["install", GHZ_MODULE], say)


def write_protoset(path: Path, *files: FileDescriptor) -> Path:
    """write_protoset writes the files and everything they import as one FileDescriptorSet.

    ghz describes the methods from it: its reflection client cannot look methods up in the
    file descriptors Python's reflection service returns.
    """
    ordered: dict[str, FileDescriptor] = {}

    def visit(file: FileDescriptor) -> None:
        if file.name in ordered:
            return
        for dependency in file.dependencies:
            visit(dependency)
        ordered[file.name] = file

    for file in files:
        visit(file)
    protoset = descriptor_pb2.FileDescriptorSet()
    for file in ordered.values():
        file.CopyToProto(protoset.file.add())
    path.write_bytes(protoset.SerializeToString())
    return path


def read_report(report: dict[str, Any], name: str) -> Measurement:
    """read_report turns ghz's JSON report into a Measurement (latencies in ms)."""
    codes: dict[str, int] = report.get("statusCodeDistribution") or {}
    ok = int(codes.get("OK", 0))
    percentiles = {
        int(entry["percentage"]): entry["latency"] / 1e6
        for entry in report.get("latencyDistribution") or []
    }
    return Measurement(
        name=name,
        requests=ok,
        errors=sum(int(n) for code, n in codes.items() if code != "OK"),
        seconds=report["total"] / 1e9,
        p50_ms=percentiles.get(50, 0.0),
        p99_ms=percentiles.get(99, 0.0),
    )


def run(
    name: str,
    target: str,
    method: str,
    messages: Sequence[dict[str, Any]],
    *,
    protoset: Path,
    connections: int,
    seconds: int,
    workdir: Path,
) -> Measurement:
    """run calls method on target closed loop for seconds, one message per request in turn."""
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / f"{name}.json"
    data.write_text(json.dumps(list(messages)))
    argv = [
        str(ensure_ghz()),
        "--insecure",
        f"--protoset={protoset}",
        f"--call={method}",
        f"--data-file={data}",
        f"--concurrency={connections}",
        f"--connections={connections}",
        f"--duration={seconds}s",
        "--duration-stop=wait",  # in-flight calls finish: not counted as errors
        "--timeout=5s",
        "--format=json",
        target,
    ]
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=seconds + OVERRUN_SECONDS, check=False
    )
    if not result.stdout.strip().startswith("{"):
        raise StackError(f"ghz failed: {(result.stdout + result.stderr).strip()[-500:]}")
    return read_report(json.loads(result.stdout), name)
