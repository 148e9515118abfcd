"""Load generators for the benchmarks: h2load (gRPC over HTTP/2) and wrk (HTTP/1.1 JSON).

Both are C programs from Debian that cost the server little CPU, which matters on a small
machine they share. Every run is closed loop (each connection waits for its answer) and
bounded: a warm-up, then a measured duration; a process that overruns is killed.

h2load sends one request body per process, so a mix of gRPC requests runs one h2load per
body (connections spread over them) and merges their per-request logs. wrk rotates through
all the bodies from a Lua script. h2load sees only HTTP status: a gRPC error travels in the
trailers, so callers check the answers themselves (serve.py does).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.stack.errors import StackError

OVERRUN_SECONDS = 30  # beyond warm-up + duration before a generator is killed
GO_FALLBACK = "/usr/local/go/bin/go"  # where the Go tarball installs when not on PATH

# WRK_SCRIPT cycles through the bodies (one JSON document per line of the file given after
# `--`), each thread from its own offset, and prints the summary as one JSON line.
WRK_SCRIPT = """
local bodies = {}
local next_body = 0
local headers = {["content-type"] = "application/json"}
local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("offset", counter * 7919)
end
init = function(args)
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
  next_body = offset or 0
end
request = function()
  next_body = next_body % #bodies + 1
  return wrk.format("POST", wrk.path, headers, bodies[next_body])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, '
    .. '"timeouts": %d, "p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class Measurement:
    """Measurement is one load run: successful requests, errors and their latency."""

    name: str
    requests: int  # answered with HTTP 200 within the measured duration
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float

    @property
    def throughput(self) -> float:
        """throughput is successful requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0


def cells(measurement: Mapping[str, Any]) -> list[str]:
    """cells is a measurement (as in a result's JSON) as table cells: req/s, p50, p99, errors."""
    return [
        f"{measurement['throughput']:,.0f}",
        f"{measurement['p50_ms']:.2f}",
        f"{measurement['p99_ms']:.2f}",
        f"{measurement['errors']:,}",
    ]


def grpc_frame(message: bytes) -> bytes:
    """grpc_frame is a gRPC length-prefixed message: no compression flag, 4-byte big length."""
    return b"\x00" + len(message).to_bytes(4, "big") + message


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """percentile is the nearest-rank percentile of ascending values (0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def read_h2load_log(text: str) -> tuple[list[float], int]:
    """read_h2load_log parses --log-file lines: latencies (µs) of HTTP 200s, and other count."""
    latencies: list[float] = []
    errors = 0
    for line in text.splitlines():
        columns = line.split("\t")
        if len(columns) < 3:
            continue
        if columns[1] == "200":
            latencies.append(float(columns[2]))
        else:
            errors += 1
    return latencies, errors


def _binary(name: str, package: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise StackError(f"{name} not found: install {package} (deploy/bootstrap.sh does)")
    return found


def go_build(
    binary: Path, argv: Sequence[str], say: Callable[[str], None], cwd: Path | None = None
) -> Path:
    """go_build returns binary, running the Go toolchain's argv (GOBIN: its folder) if absent.

    The Go load generators are built once on first use (.tools/bin), not by the bootstrap.
    """
    if binary.exists():
        return binary
    go = shutil.which("go") or (GO_FALLBACK if Path(GO_FALLBACK).exists() else None)
    if go is None:
        raise StackError(
            f"{binary.name} needs Go to build once (install golang) or put it in {binary.parent}"
        )
    say(f"building {binary.name} into {binary.parent}, once …")
    binary.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(binary.parent), "GOFLAGS": "-mod=mod"}
    result = subprocess.run(
        [go, *argv], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0 or not binary.exists():
        raise StackError(f"building {binary.name} failed: {result.stderr.strip()[-800:]}")
    return binary


def _finish(processes: Sequence[subprocess.Popen[bytes]], timeout: float) -> None:
    """_finish waits for every process, killing all if one overruns or fails."""
    try:
        for process in processes:
            process.wait(timeout)
    except subprocess.TimeoutExpired:
        for process in processes:
            process.kill()
        raise StackError(f"a load generator ran over its {timeout:.0f}s bound") from None
    failed = [process for process in processes if process.returncode != 0]
    if failed:
        stderr = failed[0].stderr.read().decode(errors="replace") if failed[0].stderr else ""
        raise StackError(f"a load generator failed: {stderr.strip()[-500:]}")


def h2load_grpc(
    name: str,
    url: str,
    bodies: Sequence[bytes],
    *,
    connections: int,
    duration: int,
    warmup: int,
    workdir: Path,
) -> Measurement:
    """h2load_grpc drives a unary gRPC method (url ends in /package.Service/Method).

    Each body (an already framed message) gets its own h2load process; the connections
    are spread over them, at least one each, one request in flight per connection.
    """
    binary = _binary("h2load", "nghttp2-client")
    workdir.mkdir(parents=True, exist_ok=True)
    processes, logs = [], []
    spread = _spread(connections, len(bodies))
    for number, (body, clients) in enumerate(zip(bodies, spread, strict=True)):
        body_file = workdir / f"{name}-{number}.bin"
        body_file.write_bytes(body)
        log_file = workdir / f"{name}-{number}.tsv"
        log_file.unlink(missing_ok=True)
        logs.append(log_file)
        argv = [
            binary,
            *("-D", str(duration), "--warm-up-time", str(warmup)),
            *("-c", str(clients), "-m", "1", "-t", "1"),
            *("-d", str(body_file), "--log-file", str(log_file)),
            *("-H", "content-type: application/grpc", "-H", "te: trailers"),
            url,
        ]
        processes.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    _finish(processes, duration + warmup + OVERRUN_SECONDS)
    latencies: list[float] = []
    errors = 0
    for log_file in logs:
        found, failed = read_h2load_log(log_file.read_text())
        latencies.extend(found)
        errors += failed
    latencies.sort()
    return Measurement(
        name=name,
        requests=len(latencies),
        errors=errors,
        seconds=float(duration),
        p50_ms=percentile(latencies, 0.50) / 1000,
        p99_ms=percentile(latencies, 0.99) / 1000,
    )


def _spread(connections: int, processes: int) -> list[int]:
    """_spread divides connections over processes as evenly as possible."""
    if processes < 1 or connections < processes:
        raise ValueError(f"need at least one connection per body ({processes} bodies)")
    base, extra = divmod(connections, processes)
    return [base + (1 if number < extra else 0) for number in range(processes)]


def read_wrk_summary(text: str) -> dict[str, int]:
    """read_wrk_summary finds the JSON line WRK_SCRIPT's done() printed in wrk's output."""
    for line in reversed(text.splitlines()):
        if line.startswith("{") and '"requests"' in line:
            summary: dict[str, int] = json.loads(line)
            return summary
    raise StackError(f"wrk printed no summary: {text.strip()[-300:]}")


def wrk_json(
    name: str,
    url: str,
    bodies: Sequence[str],
    *,
    connections: int,
    duration: int,
    warmup: int,
    workdir: Path,
) -> Measurement:
    """wrk_json POSTs the JSON bodies in rotation to url over HTTP/1.1 keep-alive."""
    binary = _binary("wrk", "wrk")
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / "rotate.lua"
    script.write_text(WRK_SCRIPT)
    body_file = workdir / f"{name}.jsonl"
    body_file.write_text("".join(f"{body}\n" for body in bodies))

    def run(seconds: int) -> str:
        argv = [
            binary,
            *("-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "5s"),
            *("-s", str(script), url, "--", str(body_file)),
        ]
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _finish([process], seconds + OVERRUN_SECONDS)
        return process.stdout.read().decode() if process.stdout else ""

    if warmup:
        run(warmup)
    summary = read_wrk_summary(run(duration))
    errors = summary["status_errors"] + summary["socket_errors"] + summary["timeouts"]
    return Measurement(
        name=name,
        requests=summary["requests"] - summary["status_errors"],
        errors=errors,
        seconds=summary["duration_us"] / 1e6,
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
    )
