"""Tests for clients.bench.serve: how rounds of measurements are summarised."""

from __future__ import annotations

from clients.bench.loadgen import Measurement
from clients.bench.serve import median


def test_the_median_run_is_the_middle_throughput() -> None:
    runs = [
        Measurement(str(n), requests=n, errors=0, seconds=1.0, p50_ms=1, p99_ms=2)
        for n in (5, 9, 7)
    ]
    assert median(runs).name == "7"
    assert median(runs[:2]).name == "5"  # the lower middle of an even count
