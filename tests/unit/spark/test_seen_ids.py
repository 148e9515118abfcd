"""spark.seen_ids: each request id archived once per window, a replay takes the same rows."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spark.seen_ids import SLICES, Seen, SeenIds

WINDOW = 3600.0
NOW = 1_800_000_000.0


def _ids(count: int) -> list[str]:
    return [str(uuid.UUID(int=n + 1)) for n in range(count)]


def test_a_copy_in_a_later_batch_is_a_duplicate_and_the_first_is_not(tmp_path: Path) -> None:
    seen = SeenIds(tmp_path / "ids.sqlite3", WINDOW)
    first = [Seen(i, 0, n) for n, i in enumerate(_ids(3))]
    assert seen.duplicates(0, first, NOW) == []
    copy = Seen(first[1].request_id, 0, 10)
    assert seen.duplicates(1, [copy, Seen(_ids(4)[3], 0, 11)], NOW + 10) == [copy]


def test_within_a_batch_the_lowest_position_wins(tmp_path: Path) -> None:
    seen = SeenIds(tmp_path / "ids.sqlite3", WINDOW)
    (request_id,) = _ids(1)
    later, earlier = Seen(request_id, 1, 7), Seen(request_id, 1, 3)
    assert seen.duplicates(0, [later, earlier], NOW) == [later]


def test_a_replayed_batch_takes_the_same_rows_again(tmp_path: Path) -> None:
    seen = SeenIds(tmp_path / "ids.sqlite3", WINDOW)
    seen.duplicates(0, [Seen(i, 0, n) for n, i in enumerate(_ids(2))], NOW)
    batch = [Seen(_ids(2)[0], 0, 5), Seen(str(uuid.uuid4()), 0, 6), Seen(str(uuid.uuid4()), 0, 6)]
    once = seen.duplicates(1, batch, NOW + 1)
    assert seen.duplicates(1, batch, NOW + 90) == once  # the crash came, the replay came later
    assert once[0] == batch[0]


def test_the_index_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "ids.sqlite3"
    first = SeenIds(path, WINDOW)
    first.duplicates(0, [Seen(_ids(1)[0], 2, 9)], NOW)
    first.close()
    copy = Seen(_ids(1)[0], 2, 40)
    assert SeenIds(path, WINDOW).duplicates(1, [copy], NOW + 5) == [copy]


def test_ids_are_kept_at_least_the_window_and_forgotten_after(tmp_path: Path) -> None:
    seen = SeenIds(tmp_path / "ids.sqlite3", WINDOW)
    (request_id,) = _ids(1)
    seen.duplicates(0, [Seen(request_id, 0, 0)], NOW)
    copy = Seen(request_id, 0, 1)
    assert seen.duplicates(1, [copy], NOW + WINDOW) == [copy]
    later = NOW + WINDOW + 2 * WINDOW / SLICES  # past the window and its last slice
    seen.duplicates(2, [Seen(str(uuid.uuid4()), 0, 2)], later)  # a batch evicts what expired
    assert seen.duplicates(3, [Seen(request_id, 0, 3)], later + 1) == []  # the stated bound


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.lists(st.tuples(st.integers(0, 15), st.integers(0, 2)), max_size=12),
        min_size=1,
        max_size=6,
    ),
    st.sets(st.integers(0, 5)),
)
def test_every_id_is_taken_once_whatever_the_copies_and_replays(
    tmp_path_factory: pytest.TempPathFactory,
    batches: list[list[tuple[int, int]]],
    replayed: set[int],
) -> None:
    directory = tmp_path_factory.mktemp("seen")
    seen = SeenIds(directory / "ids.sqlite3", WINDOW)
    ids = _ids(16)
    offsets = {partition: 0 for partition in range(3)}
    taken: list[str] = []
    for batch_id, picks in enumerate(batches):
        records = []
        for pick, partition in picks:
            records.append(Seen(ids[pick], partition, offsets[partition]))
            offsets[partition] += 1
        repeated = seen.duplicates(batch_id, records, NOW + batch_id)
        if batch_id in replayed:  # the batch died before its commit and came again
            assert seen.duplicates(batch_id, records, NOW + batch_id + 0.5) == repeated
        taken += [r.request_id for r in records if r not in repeated]
    assert sorted(taken) == sorted({ids[p] for picks in batches for p, _ in picks})
