"""Tests for clients.bench.pipeline: its percentiles, pacing, CPU per event and batch trend."""

from __future__ import annotations

import argparse
import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clients.bench.pipeline import (
    BatchMinute,
    Paced,
    achieved_rate,
    cores_used,
    cpu_per_thousand,
    due_count,
    minute_trend,
    paced_numbers,
    pacing_deadline,
    percentile,
    percentiles,
    register,
    steady_trend_numbers,
    throughput,
    trend_ratio,
    visibility,
)

SECONDS = st.floats(min_value=0, max_value=1e4, allow_nan=False)
RATES = st.floats(min_value=0.1, max_value=1e5, allow_nan=False)


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=200))
def test_percentiles_lie_within_the_values_and_grow_with_the_share(values: list[float]) -> None:
    shares = [percentile(values, share) for share in (1, 50, 95, 99)]
    assert min(values) - 1e-6 <= shares[0] and shares[-1] <= max(values) + 1e-6
    assert all(low <= high + 1e-9 for low, high in itertools.pairwise(shares))


def test_percentiles_of_a_known_spread_and_of_nothing() -> None:
    values = [float(n) for n in range(1, 102)]  # 1 .. 101: the k-th percentile is k + 1
    assert percentiles(values) == {"p50": 51.0, "p95": 96.0, "p99": 100.0}
    assert percentiles([4.321]) == {"p50": 4.32, "p95": 4.32, "p99": 4.32}
    assert percentiles([]) == {}


def test_the_first_event_is_due_at_once_and_one_more_every_slot() -> None:
    assert due_count(-0.1, 100, 50) == 0
    assert due_count(0, 100, 50) == 1
    assert due_count(0.0099, 100, 50) == 1
    assert due_count(0.01, 100, 50) == 2
    assert due_count(0.25, 100, 50) == 26
    assert due_count(3600, 100, 50) == 50  # never more than planned


@given(SECONDS, SECONDS, RATES, st.integers(min_value=1, max_value=10**6))
def test_pacing_never_sends_early_and_never_takes_back(
    earlier: float, later: float, rate: float, count: int
) -> None:
    earlier, later = sorted((earlier, later))
    due = due_count(later, rate, count)
    assert due_count(earlier, rate, count) <= due <= count
    assert (due - 1) / rate <= later + 1e-9  # the last event due was due by then


@given(SECONDS)
def test_a_phase_may_overrun_by_a_tenth_and_at_least_five_seconds(seconds: float) -> None:
    allowed = pacing_deadline(seconds) - seconds
    assert allowed >= 5.0 - 1e-9 and allowed >= seconds / 10 - 1e-9


@given(st.integers(min_value=1, max_value=10**6), RATES)
def test_a_producer_on_time_achieves_its_rate(count: int, rate: float) -> None:
    assert math.isclose(achieved_rate(count, (count - 1) / rate, rate), rate)


def test_a_producer_behind_shows_a_lower_rate_and_one_that_sent_nothing_none() -> None:
    assert achieved_rate(1000, 19.99, 100) == 50.0  # 1,000 events in 20 s of 100 planned
    assert achieved_rate(0, 0.0, 100) == 0.0
    paced = Paced(rate=100, planned=2000, sent=1000, started=0, seconds=19.99, max_late_seconds=9)
    assert paced.achieved_rate == 50.0


def test_cpu_per_thousand_events_and_cores_used() -> None:
    assert cpu_per_thousand(12.0, 6000) == 2.0
    assert cpu_per_thousand(12.0, 0) == 0.0
    assert cores_used(45.0, 30.0) == 1.5
    assert cores_used(1.0, 0.0) == 0.0


def test_visibility_is_the_batch_write_minus_the_stamp_within_the_window() -> None:
    batches = [{"batch_id": 3, "written_at": 110.0}, {"batch_id": 4, "written_at": 125.0}]
    stamped = [(3, 99.0), (3, 100.0), (3, 104.5), (4, 120.0), (4, 121.0), (9, 101.0)]
    assert visibility(stamped, batches, since=100.0, until=121.0) == [10.0, 5.5, 5.0]
    assert visibility(stamped, batches, since=121.0) == [4.0]  # batch 9 has no record


def _batch(started: float | None, seconds: float, rows: int = 100) -> dict[str, object]:
    written = (started or 0.0) + seconds
    return {"started_at": started, "written_at": written, "input_rows": rows, "inserted": rows}


def test_the_trend_groups_busy_batches_by_the_minute_they_started() -> None:
    since = 1000.0
    batches = [
        _batch(990.0, 5.0),  # before the run: light traffic
        _batch(1000.0, 2.0),
        _batch(1030.0, 4.0, rows=300),
        _batch(1059.9, 9.0),
        _batch(1061.0, 0.5, rows=0),  # an idle trigger
        _batch(None, 1.0),  # never recorded its start
        _batch(1090.0, 3.0),
        _batch(1200.0, 8.0),  # minute 4: after a 2-minute run
    ]
    assert minute_trend(batches, since, minutes=2) == [
        BatchMinute(minute=1, batches=3, events=500, median_seconds=4.0, max_seconds=9.0),
        BatchMinute(minute=2, batches=1, events=100, median_seconds=3.0, max_seconds=3.0),
    ]
    assert len(minute_trend(batches, since, minutes=4)) == 3  # minute 3 had no batch


@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=600),
            st.floats(min_value=0, max_value=60),
            st.integers(min_value=0, max_value=10_000),
        ),
        max_size=100,
    )
)
def test_the_trend_counts_every_busy_batch_of_the_run_once(
    runs: list[tuple[float, float, int]],
) -> None:
    batches = [_batch(100.0 + start, seconds, rows) for start, seconds, rows in runs]
    trend = minute_trend(batches, 100.0, minutes=10)
    busy = [rows for start, _, rows in runs if rows and start < 600]
    assert sum(each.batches for each in trend) == len(busy)
    assert sum(each.events for each in trend) == sum(busy)
    assert [each.minute for each in trend] == sorted({each.minute for each in trend})
    assert all(1 <= each.minute <= 10 for each in trend)
    assert all(each.median_seconds <= each.max_seconds for each in trend)


def test_the_ratio_is_the_last_minutes_median_over_the_first() -> None:
    trend = [BatchMinute(1, 6, 60_000, 2.0, 3.0), BatchMinute(10, 6, 60_000, 3.0, 5.0)]
    assert trend_ratio(trend, 10) == 1.5
    assert trend_ratio(trend, 9) is None
    assert trend_ratio(trend[1:], 10) is None
    assert trend_ratio([BatchMinute(1, 1, 1, 0.0, 0.0)], 1) is None


def test_a_paced_phases_numbers_carry_its_prefix_and_percentiles() -> None:
    paced = Paced(rate=100, planned=2000, sent=2000, started=0, seconds=19.99, max_late_seconds=0)
    numbers = paced_numbers("light", paced, [1.0, 2.0, 3.0])
    assert numbers["light_achieved_rate"] == 100.0
    assert numbers["light_latency_events"] == 3
    assert numbers["light_latency_p50_seconds"] == 2.0
    assert set(numbers) >= {"light_latency_p95_seconds", "light_latency_p99_seconds"}
    assert "steady_latency_p50_seconds" not in paced_numbers("steady", paced, [])


def test_the_trend_numbers_round_for_the_reader() -> None:
    trend = [BatchMinute(1, 2, 200, 2.0, 2.5), BatchMinute(2, 1, 100, 2.345, 2.345)]
    numbers = steady_trend_numbers(trend, 2)
    assert numbers["steady_trend_ratio"] == 1.17
    assert numbers["steady_trend"][1] == {
        "minute": 2,
        "batches": 1,
        "events": 100,
        "median_seconds": 2.35,
        "max_seconds": 2.35,
    }
    assert steady_trend_numbers([], 10)["steady_trend_ratio"] is None


def test_throughput_spans_the_busy_batches() -> None:
    batches = [_batch(10.0, 5.0, rows=0), _batch(20.0, 5.0, 500), _batch(25.0, 5.0, 500)]
    assert throughput(batches) == (100.0, 10.0, 2)
    assert throughput([]) == (0.0, 0.0, 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser


def test_the_defaults_are_the_full_benchmark() -> None:
    args = _parser().parse_args(["pipeline"])
    assert (args.events, args.light_rate, args.light_seconds) == (1_000_000, 100.0, 60.0)
    assert (args.steady_rate, args.steady_minutes, args.skip_steady) == (1000.0, 10.0, False)


@pytest.mark.parametrize(
    "flags",
    [
        ["--events", "0"],
        ["--light-rate", "0"],
        ["--light-seconds", "-1"],
        ["--steady-rate", "nan"],
        ["--steady-minutes", "inf"],
        ["--trigger-seconds", "ten"],
    ],
)
def test_flags_must_be_positive_numbers(flags: list[str]) -> None:
    with pytest.raises(SystemExit):
        _parser().parse_args(["pipeline", *flags])
