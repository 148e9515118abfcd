"""Tests for clients.bench.loadgen: framing and reading the load generators' output."""

from __future__ import annotations

import pytest

from clients.bench.loadgen import (
    Measurement,
    _spread,
    grpc_frame,
    percentile,
    read_h2load_log,
    read_wrk_summary,
)
from deploy.stack.errors import StackError


def test_a_grpc_frame_is_a_flag_a_big_endian_length_and_the_message() -> None:
    assert grpc_frame(b"") == b"\x00\x00\x00\x00\x00"
    assert grpc_frame(b"abc") == b"\x00\x00\x00\x00\x03abc"
    assert grpc_frame(b"x" * 300)[:5] == b"\x00\x00\x00\x01\x2c"


def test_percentiles_are_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile([7.0], 0.99) == 7
    assert percentile([], 0.5) == 0


def test_the_h2load_log_counts_200s_and_everything_else() -> None:
    log = "1700000000000000\t200\t1500\n1700000000000100\t200\t900\n1700000000000200\t-1\t5\n\n"
    latencies, errors = read_h2load_log(log)
    assert latencies == [1500.0, 900.0]
    assert errors == 1


def test_the_wrk_summary_is_the_json_line_of_the_script() -> None:
    output = (
        "Running 10s test @ http://x\n"
        '{"requests": 10, "duration_us": 2000000, "status_errors": 1, "socket_errors": 0, '
        '"timeouts": 0, "p50_us": 1000, "p99_us": 9000}\n'
    )
    assert read_wrk_summary(output)["requests"] == 10
    with pytest.raises(StackError, match="no summary"):
        read_wrk_summary("Running 10s test\n")


def test_connections_are_spread_evenly_and_never_zero() -> None:
    assert _spread(32, 32) == [1] * 32
    assert _spread(10, 4) == [3, 3, 2, 2]
    with pytest.raises(ValueError, match="one connection per body"):
        _spread(3, 4)


def test_throughput_is_successes_per_second() -> None:
    measured = Measurement("x", requests=500, errors=3, seconds=2.0, p50_ms=1, p99_ms=2)
    assert measured.throughput == 250
    assert Measurement("x", 0, 0, 0.0, 0, 0).throughput == 0
