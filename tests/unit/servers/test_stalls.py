"""Tests for servers.storage.stalls: a MySQL that hangs is told from one that is busy."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from servers.storage.stalls import Stalls


def test_a_free_worker_means_not_stalled_however_long_the_others_run() -> None:
    stalls = Stalls(workers=3, stalled_after=1.0)
    stalls.begin(0.0)
    stalls.begin(0.0)
    assert not stalls.stalled(100.0)


def test_every_worker_held_past_the_bound_is_stalled() -> None:
    stalls = Stalls(workers=2, stalled_after=1.0)
    stalls.begin(0.0)
    stalls.begin(0.5)
    assert not stalls.stalled(1.5)  # the younger call has run 1 s: not yet past the bound
    assert stalls.stalled(1.6)


def test_a_call_that_ends_frees_its_worker_and_lifts_the_refusal() -> None:
    stalls = Stalls(workers=2, stalled_after=1.0)
    first = stalls.begin(0.0)
    stalls.begin(0.0)
    assert stalls.stalled(5.0)
    stalls.end(first)
    assert not stalls.stalled(5.0)
    assert stalls.busy() == 1


def test_after_mysql_left_a_call_unanswered_one_probe_at_a_time() -> None:
    stalls = Stalls(workers=4, stalled_after=1.0)
    stalls.end(stalls.begin(0.0), answered=False)  # timed out: MySQL said nothing
    assert not stalls.stalled(10.0)  # nothing in flight: the next call is the probe
    probe = stalls.begin(10.0)
    assert stalls.stalled(10.0)  # the others wait for the probe's word, refused at once
    stalls.end(probe, answered=False)
    assert not stalls.stalled(20.0)  # the probe failed too: the next call probes again
    probe = stalls.begin(20.0)
    stalls.end(probe)  # MySQL answered: back to normal
    stalls.begin(20.0)
    assert not stalls.stalled(20.0)


def test_a_refusal_is_an_answer() -> None:
    stalls = Stalls(workers=2, stalled_after=1.0)
    stalls.end(stalls.begin(0.0), answered=True)  # say, a duplicate key: MySQL is there
    stalls.begin(1.0)
    assert not stalls.stalled(1.0)


def test_a_pool_needs_a_worker() -> None:
    with pytest.raises(ValueError, match="workers"):
        Stalls(workers=0, stalled_after=1.0)


@given(
    workers=st.integers(1, 5),
    starts=st.lists(st.floats(0, 100), max_size=8),
    now=st.floats(0, 200),
)
def test_stalled_needs_every_worker_busy_past_the_bound(
    workers: int, starts: list[float], now: float
) -> None:
    stalls = Stalls(workers, stalled_after=1.0)
    for start in starts:
        stalls.begin(start)
    expected = len(starts) >= workers and all(now - start > 1.0 for start in starts)
    assert stalls.stalled(now) == expected
