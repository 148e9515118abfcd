"""Tests for clients.bench.cpu: a process's CPU from /proc, and shares per unit of work."""

from __future__ import annotations

import os
import time

from clients.bench.cpu import CpuShare, cpu_seconds, per_unit, tree_cpu_seconds


def test_cpu_seconds_grows_while_the_process_works() -> None:
    before = cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:  # burn 0.2 s of CPU
        pass
    assert cpu_seconds(os.getpid()) - before >= 0.1


def test_a_process_that_is_gone_has_used_nothing() -> None:
    assert cpu_seconds(2**22 + 1) == 0.0  # above the kernel's pid_max default
    assert tree_cpu_seconds(os.getpid()) >= cpu_seconds(os.getpid())


def test_per_unit_is_each_parts_difference_largest_first_and_skips_idle_parts() -> None:
    before = {"adserver": 10.0, "envoy": 2.0, "kafka": 5.0}
    after = {"adserver": 12.0, "envoy": 2.5, "kafka": 5.0, "feedback-service": 3.0}
    shares = per_unit(before, after, units=1000)
    assert shares == [
        CpuShare("feedback-service", 3.0, 3.0),
        CpuShare("adserver", 2.0, 2.0),
        CpuShare("envoy", 0.5, 0.5),
    ]
    assert per_unit(before, after, units=0)[0].ms_per_unit == 0.0
