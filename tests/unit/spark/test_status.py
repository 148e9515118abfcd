"""spark.status: the writer's committed offsets read straight from a Spark checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

from spark.status import committed_offsets, read_batches, status_age


def _checkpoint(
    root: Path, batches: dict[int, dict[str, dict[str, int]]], commits: list[int]
) -> Path:
    (root / "offsets").mkdir(parents=True)
    (root / "commits").mkdir()
    for batch, offsets in batches.items():
        lines = ["v1", json.dumps({"batchWatermarkMs": 0}), json.dumps(offsets)]
        (root / "offsets" / str(batch)).write_text("\n".join(lines))
    for batch in commits:
        (root / "commits" / str(batch)).write_text("v1\n{}")
        (root / "commits" / f".{batch}.crc").write_text("")
    return root


def test_committed_offsets_are_those_of_the_newest_commit(tmp_path: Path) -> None:
    checkpoint = _checkpoint(
        tmp_path,
        {
            0: {"user-feedback": {"0": 5, "1": 7}},
            1: {"user-feedback": {"0": 9, "1": 7}},
            2: {"user-feedback": {"0": 12, "1": 8}},  # planned, not committed: a crash
        },
        commits=[0, 1],
    )
    assert committed_offsets(checkpoint, "user-feedback") == {0: 9, 1: 7}
    assert committed_offsets(checkpoint, "other") == {}


def test_no_checkpoint_means_nothing_committed(tmp_path: Path) -> None:
    assert committed_offsets(tmp_path / "missing", "user-feedback") == {}


def test_status_files_missing(tmp_path: Path) -> None:
    from servers.settings import Settings

    settings = Settings(run_dir=tmp_path)
    assert status_age(settings) is None
    assert read_batches(settings) == []
