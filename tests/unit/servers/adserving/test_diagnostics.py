"""Tests for servers.adserving.diagnostics: counting sampled requests, swapping, bounds, flushing.

The flush's SQL is checked against the real MariaDB in tests/integration/test_diagnose.py;
here the engine is a fake that records what a flush hands it, or fails as MySQL out of
reach does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from servers.adserving import diagnostics
from servers.adserving.diagnostics import (
    BELOW_FLOOR,
    CAPPED,
    ENTERED,
    MATCHED,
    MIN_FLUSH_SECONDS,
    WON,
    DeliveryCounters,
    Tally,
    minute_of,
)
from servers.adserving.sampling import DeliverySample

NOW = datetime(2026, 12, 3, 12, 30, 15, tzinfo=UTC)
MINUTE = datetime(2026, 12, 3, 12, 30)


def sample(
    *,
    at: datetime = NOW,
    matched: Sequence[str] = ("a", "b", "c"),
    capped: Sequence[str] = (),
    below: Sequence[str] = (),
    entered: Sequence[str] = ("a", "b"),
    winner: str | None = "a",
    clearing: str | None = "0.0004",
) -> DeliverySample:
    """sample is a sampled request: by default a, b and c matched, a and b entered, a won."""
    return DeliverySample(
        at=at,
        matched=matched,
        frequency_capped=capped,
        below_floor=below,
        entered=entered,
        winner=winner,
        clearing_cpm=None if clearing is None else Decimal(clearing),
    )


class FakeConnection:
    """FakeConnection records what is executed on it."""

    def __init__(self, log: list[tuple[str, Any]]) -> None:
        self.log = log

    def execute(self, statement: Any, parameters: Any = None) -> None:
        self.log.append((str(statement).split()[0], parameters))


class FakeEngine:
    """FakeEngine hands out FakeConnections, or fails every transaction while down."""

    def __init__(self) -> None:
        self.down = False
        self.committed: list[list[tuple[str, Any]]] = []

    @contextmanager
    def begin(self) -> Iterator[FakeConnection]:
        if self.down:
            raise OperationalError("INSERT", {}, Exception("Can't connect to MySQL server"))
        log: list[tuple[str, Any]] = []
        yield FakeConnection(log)
        self.committed.append(log)


def counters(engine: FakeEngine | None = None, **kwargs: Any) -> DeliveryCounters:
    """counters is a DeliveryCounters over a fake engine."""
    fake: Any = engine or FakeEngine()
    engine_: Engine = fake
    return DeliveryCounters(engine_, 5.0, clock=lambda: NOW, **kwargs)


def cell(tally: Tally, campaign_id: str, minute: datetime = MINUTE) -> diagnostics.Cell:
    return tally.cells[minute][campaign_id]


def test_minute_of_is_naive_utc_truncated() -> None:
    """A request's minute is its UTC minute, as delivery_stats.minute holds it."""
    from zoneinfo import ZoneInfo

    at = datetime(2026, 12, 3, 18, 0, 59, 999999, tzinfo=ZoneInfo("Asia/Kolkata"))
    assert minute_of(at) == datetime(2026, 12, 3, 12, 30)
    assert minute_of(datetime(2026, 1, 1, 1, 2, 3)) == datetime(2026, 1, 1, 1, 2)


def test_observe_counts_every_stage_per_campaign() -> None:
    """Each list counts one for each campaign in it; the winner counts a win."""
    tally = counters()
    tally.observe(sample(capped=("c",), below=("b",)))
    taken = tally.take()
    assert taken.requests == {MINUTE: 1}
    assert cell(taken, "a").counts == [1, 0, 0, 1, 1]
    assert cell(taken, "b").counts == [1, 0, 1, 1, 0]
    assert cell(taken, "c").counts == [1, 1, 0, 0, 0]
    assert taken.size == 3


def test_lost_auctions_sum_their_clearing_price() -> None:
    """An entrant that lost adds the clearing CPM; the winner adds nothing."""
    tally = counters()
    tally.observe(sample(clearing="0.0004"))
    tally.observe(sample(winner="b", clearing="0.0003"))
    taken = tally.take()
    assert cell(taken, "a").outbid_clearing_cpm == Decimal("0.0003")
    assert cell(taken, "b").outbid_clearing_cpm == Decimal("0.0004")
    assert cell(taken, "a").counts[WON] == 1 and cell(taken, "b").counts[WON] == 1
    assert cell(taken, "a").counts[ENTERED] == 2


def test_no_fill_counts_the_request_and_no_win() -> None:
    """A request nobody won counts as sampled and matched, with no win and no outbid sum."""
    tally = counters()
    tally.observe(sample(entered=(), winner=None, clearing=None))
    taken = tally.take()
    assert taken.requests == {MINUTE: 1}
    assert cell(taken, "a").counts == [1, 0, 0, 0, 0]
    assert cell(taken, "a").outbid_clearing_cpm == 0


def test_minutes_are_apart() -> None:
    """Requests in different minutes count in different cells."""
    tally = counters()
    tally.observe(sample())
    tally.observe(sample(at=NOW + timedelta(minutes=1)))
    taken = tally.take()
    assert sorted(taken.requests) == [MINUTE, MINUTE + timedelta(minutes=1)]
    assert taken.size == 6


def test_take_swaps_the_counters_out() -> None:
    """take returns what was counted and leaves empty counters for the next requests."""
    tally = counters()
    tally.observe(sample())
    first = tally.take()
    assert first
    tally.observe(sample())
    second = tally.take()
    assert cell(first, "a").counts == cell(second, "a").counts == [1, 0, 0, 1, 1]
    assert not tally.take()


def test_the_bound_drops_new_cells_and_counts_them() -> None:
    """Past max_cells no new cell is made; the dropped counts show in the metric."""
    tally = counters(max_cells=2)
    before = diagnostics.DROPPED._value.get()
    tally.observe(sample(matched=("a", "b", "c"), entered=("a", "c"), winner="c"))
    taken = tally.take()
    assert taken.size == 2
    assert set(taken.cells[MINUTE]) == {"a", "b"}
    assert cell(taken, "a").counts[MATCHED] == 1
    assert cell(taken, "a").outbid_clearing_cpm == Decimal("0.0004")
    # c matched, entered and won: three counts dropped
    assert diagnostics.DROPPED._value.get() - before == 3
    assert taken.requests == {MINUTE: 1}  # the request itself still counts


def test_observe_never_raises() -> None:
    """A sample the counters cannot read is logged and skipped."""
    tally = counters()
    broken: Any = DeliverySample(
        at="not a time",  # type: ignore[arg-type]
        matched=(),
        frequency_capped=(),
        below_floor=(),
        entered=(),
        winner=None,
        clearing_cpm=None,
    )
    tally.observe(broken)
    tally.observe(sample())
    assert tally.take().requests == {MINUTE: 1}


def test_give_back_adds_to_what_came_since() -> None:
    """Counters a flush could not write are merged with those counted meanwhile."""
    tally = counters()
    tally.observe(sample())
    taken = tally.take()
    tally.observe(sample(winner="b", clearing="0.0001"))
    tally.give_back(taken)
    merged = tally.take()
    assert merged.requests == {MINUTE: 2}
    assert cell(merged, "a").counts == [2, 0, 0, 2, 1]
    assert cell(merged, "a").outbid_clearing_cpm == Decimal("0.0001")
    assert cell(merged, "b").outbid_clearing_cpm == Decimal("0.0004")
    assert merged.size == 3


def test_give_back_keeps_the_bound() -> None:
    """Merging back never grows the counters past max_cells."""
    tally = counters(max_cells=3)
    tally.observe(sample())
    taken = tally.take()
    tally.observe(sample(at=NOW + timedelta(minutes=1)))
    tally.give_back(taken)
    assert tally.take().size == 3


def test_flush_writes_one_transaction_of_additive_upserts() -> None:
    """A flush hands both tables' rows to one transaction, and purges old rows on its first."""
    engine = FakeEngine()
    tally = counters(engine)
    tally.observe(sample())
    assert asyncio.run(tally.flush())
    assert len(engine.committed) == 1
    statements = [name for name, _ in engine.committed[0]]
    assert statements == ["INSERT", "INSERT", "DELETE", "DELETE"]
    rows = engine.committed[0][0][1]
    assert [row["campaign_id"] for row in rows] == ["a", "b", "c"]
    assert rows[1]["outbid_clearing_cpm"] == Decimal("0.0004")
    assert engine.committed[0][1][1] == [{"minute": MINUTE, "requests": 1}]
    # the next flush has nothing to write and no purge due: no transaction at all
    assert asyncio.run(tally.flush())
    assert len(engine.committed) == 1


def test_a_failed_flush_keeps_the_counters_for_the_next() -> None:
    """MySQL down: nothing is lost, the next flush writes the sum."""
    engine = FakeEngine()
    tally = counters(engine)
    tally.observe(sample())
    engine.down = True
    assert not asyncio.run(tally.flush())
    tally.observe(sample())
    engine.down = False
    assert asyncio.run(tally.flush())
    rows = engine.committed[0][0][1]
    assert rows[0]["matched"] == 2 and rows[0]["won"] == 2
    assert engine.committed[0][1][1] == [{"minute": MINUTE, "requests": 2}]


def test_run_flushes_until_stopped_and_close_flushes_the_rest() -> None:
    """run flushes on its interval; what is counted after the last one is flushed by close."""
    engine = FakeEngine()
    tally = DeliveryCounters(engine, 0)  # type: ignore[arg-type]
    assert tally.flush_seconds == MIN_FLUSH_SECONDS

    async def scenario() -> None:
        stopping = asyncio.Event()
        task = asyncio.create_task(tally.run(stopping))
        tally.observe(sample(at=datetime.now(UTC)))
        deadline = asyncio.get_running_loop().time() + 5
        while not any(name == "INSERT" for log in engine.committed for name, _ in log):
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.01)
        stopping.set()
        await asyncio.wait_for(task, 5)
        tally.observe(sample(at=datetime.now(UTC)))
        await tally.close()

    asyncio.run(scenario())
    inserts = [params for log in engine.committed for name, params in log if name == "INSERT"]
    assert len(inserts) == 4  # two flushes, each with both tables


@given(
    st.lists(
        st.tuples(
            st.sets(st.sampled_from("abcdef")),
            st.sets(st.sampled_from("abcdef")),
            st.integers(0, 10),
        ),
        max_size=30,
    )
)
def test_counts_match_the_samples(requests: list[tuple[set[str], set[str], int]]) -> None:
    """Over any samples, each counter is how many samples listed the campaign there."""
    tally = counters()
    for matched, entered, pick in requests:
        entrants = sorted(entered & matched)
        winner = entrants[pick % len(entrants)] if entrants else None
        tally.observe(
            sample(
                matched=sorted(matched),
                capped=sorted(matched - entered),
                below=(),
                entered=entrants,
                winner=winner,
                clearing="0.0001" if winner else None,
            )
        )
    taken = tally.take()
    cells = taken.cells.get(MINUTE, {})
    for campaign_id, got in cells.items():
        listed = [(m, e & m) for m, e, _ in requests]
        assert got.counts[MATCHED] == sum(campaign_id in m for m, _ in listed)
        assert got.counts[CAPPED] == sum(campaign_id in m - e for m, e in listed)
        assert got.counts[BELOW_FLOOR] == 0
        assert got.counts[ENTERED] == sum(campaign_id in e for _, e in listed)
        lost = got.counts[ENTERED] - got.counts[WON]
        assert got.outbid_clearing_cpm == Decimal("0.0001") * lost
    assert taken.requests.get(MINUTE, 0) == len(requests)


@pytest.mark.parametrize("seconds", [0, 0.001, MIN_FLUSH_SECONDS, 7.5])
def test_flush_interval_has_a_floor(seconds: float) -> None:
    """Tiny or zero flush intervals are taken as MIN_FLUSH_SECONDS."""
    assert counters().flush_seconds == 5.0
    fake: Any = FakeEngine()
    assert DeliveryCounters(fake, seconds).flush_seconds == max(seconds, MIN_FLUSH_SECONDS)
