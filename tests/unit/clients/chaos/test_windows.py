"""Window accounting: calls per fault window, by the moment they were sent."""

from __future__ import annotations

from clients.chaos.windows import FEEDBACK, SERVE, CallLog, FaultWindow, Tally, report


def test_a_tally_counts_only_calls_sent_inside_the_window() -> None:
    log = CallLog(origin=100.0)
    log.add(100.05, SERVE, True)  # before
    log.add(101.0, SERVE, True)
    log.add(101.5, SERVE, False)
    log.add(101.9, FEEDBACK, False)
    log.add(102.0, SERVE, True)  # the window's end is excluded
    assert log.tally(SERVE, 101.0, 102.0) == Tally(sent=2, answered=1)
    assert log.tally(FEEDBACK, 101.0, 102.0) == Tally(sent=1, answered=0)
    assert log.total(SERVE) == Tally(sent=4, answered=3)


def test_a_window_shorter_than_a_bucket_still_counts_its_bucket() -> None:
    log = CallLog(origin=0.0)
    log.add(5.01, SERVE, True)
    assert log.tally(SERVE, 5.0, 5.02) == Tally(1, 1)


def test_the_success_rate_is_none_without_traffic() -> None:
    assert Tally(0, 0).success_rate is None
    assert Tally(4, 3).success_rate == 0.75


def test_a_part_that_never_came_back_is_counted_to_the_end_of_the_run() -> None:
    log = CallLog(origin=0.0)
    for second in range(10):
        log.add(float(second), SERVE, second < 3)
    back = FaultWindow("kafka", 2.0, 2.0, 4.0, 10, 11)
    never = FaultWindow("envoy", 5.0, 5.0, None, 20, None)
    rows = report(log, [back, never], run_end=10.0)
    assert rows[0].serve == Tally(2, 1)
    assert rows[1].serve == Tally(5, 0)
    assert back.back_after == 2.0
    assert never.back_after is None
