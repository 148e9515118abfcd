"""Tests for servers.storage.replica: when a read may go to the replica, and its fallback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from servers.storage.replica import (
    LAG_CHECK_SECONDS,
    MAX_LAG_SECONDS,
    RETRY_AFTER_SECONDS,
    LagTolerantReads,
    ReplicaState,
    lag_acceptable,
    lag_check_due,
    replica_engine,
    use_replica,
)

NOW = 1000.0


def test_a_replica_never_heard_of_is_tried() -> None:
    assert use_replica(ReplicaState(), NOW)


@pytest.mark.parametrize(
    ("lag", "acceptable"),
    [(None, False), (0, True), (MAX_LAG_SECONDS, True), (MAX_LAG_SECONDS + 1, False)],
)
def test_a_replica_is_read_only_while_it_replicates_within_the_bound(
    lag: int | None, acceptable: bool
) -> None:
    assert lag_acceptable(lag) is acceptable
    assert use_replica(ReplicaState(checked_at=NOW, lag=lag), NOW + 1) is acceptable


def test_a_lagging_replica_is_checked_again_once_the_check_is_due() -> None:
    lagging = ReplicaState(checked_at=NOW, lag=MAX_LAG_SECONDS * 10)
    assert not use_replica(lagging, NOW + LAG_CHECK_SECONDS - 0.1)
    assert lag_check_due(lagging, NOW + LAG_CHECK_SECONDS)
    assert use_replica(lagging, NOW + LAG_CHECK_SECONDS)


def test_a_failed_replica_is_left_alone_for_a_while() -> None:
    failed = ReplicaState(failed_at=NOW, checked_at=NOW, lag=0)
    assert not use_replica(failed, NOW)
    assert not use_replica(failed, NOW + RETRY_AFTER_SECONDS - 0.1)
    assert use_replica(failed, NOW + RETRY_AFTER_SECONDS)


@given(
    failed_ago=st.none() | st.floats(0, 100),
    checked_ago=st.none() | st.floats(0, 100),
    lag=st.none() | st.integers(0, 100),
)
def test_the_replica_is_used_only_when_no_rule_refuses_it(
    failed_ago: float | None, checked_ago: float | None, lag: int | None
) -> None:
    state = ReplicaState(
        failed_at=None if failed_ago is None else NOW - failed_ago,
        checked_at=None if checked_ago is None else NOW - checked_ago,
        lag=lag,
    )
    recently_failed = failed_ago is not None and failed_ago < RETRY_AFTER_SECONDS
    known_lagging = checked_ago is not None and checked_ago < LAG_CHECK_SECONDS
    known_lagging = known_lagging and not lag_acceptable(lag)
    assert use_replica(state, NOW) is (not recently_failed and not known_lagging)


def test_the_replica_engine_connects_briefly_unless_the_url_says_otherwise() -> None:
    url = "mysql+pymysql://u:p@127.0.0.1:1/adplatform"
    short, own = replica_engine(url), replica_engine(url + "?connect_timeout=7")
    try:
        assert make_url(str(short.url)).query["connect_timeout"] == "1"
        assert own.url.query["connect_timeout"] == "7"
    finally:
        short.dispose()
        own.dispose()


@pytest.fixture
def primary() -> Iterator[Engine]:
    """primary is an in-memory database that says which engine answered."""
    engine = create_engine("sqlite://")
    yield engine
    engine.dispose()


def answered_by(reads: LagTolerantReads, primary: Engine) -> str:
    """answered_by runs a read and says whether the primary or the replica answered."""
    return reads.run(lambda c: "primary" if c.engine is primary else "replica")


def test_without_a_replica_every_read_is_the_primary_s(primary: Engine) -> None:
    assert answered_by(LagTolerantReads(primary, None), primary) == "primary"


def test_a_replica_that_keeps_up_answers(primary: Engine) -> None:
    replica = create_engine("sqlite://")
    reads = LagTolerantReads(primary, replica, clock=lambda: NOW)
    reads.state = ReplicaState(checked_at=NOW, lag=0)
    assert answered_by(reads, primary) == "replica"
    replica.dispose()


def test_a_replica_that_fails_leaves_the_read_to_the_primary(primary: Engine) -> None:
    """SQLite has no SHOW SLAVE STATUS: the lag check fails as an unreachable replica would."""
    replica = create_engine("sqlite://")
    reads = LagTolerantReads(primary, replica, clock=lambda: NOW)
    assert answered_by(reads, primary) == "primary"
    assert reads.state.failed_at == NOW
    replica.dispose()


def test_a_replica_that_cannot_be_reached_leaves_the_read_to_the_primary(primary: Engine) -> None:
    unreachable = replica_engine("mysql+pymysql://u:p@127.0.0.1:1/adplatform")
    reads = LagTolerantReads(primary, unreachable, clock=lambda: NOW)
    assert reads.run(lambda c: c.engine is primary)
    assert reads.state.failed_at == NOW
    unreachable.dispose()
