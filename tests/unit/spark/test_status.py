"""spark.status: the writer's committed offsets read straight from a Spark checkpoint."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest
from confluent_kafka import KafkaException

from spark.status import (
    committed_offsets,
    end_offsets,
    query_troubles,
    read_batches,
    status_age,
    write_json,
)


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


def test_query_troubles_name_restarting_and_restarted_queries() -> None:
    record = {
        "queries": {
            "feedback-events": {"state": "running", "restarts": 0},
            "campaign-kpis": {
                "state": "restarting",
                "restarts": 2,
                "restart_at": 108.0,
                "last_error": "StreamingQueryException: " + "table doesn't exist " * 20,
            },
        }
    }
    (trouble,) = query_troubles(record, now=100.0)
    assert trouble.startswith("campaign-kpis restarting in 8 s (2 restarts: StreamingQuery")
    assert len(trouble) < 200
    record["queries"]["campaign-kpis"] = {"state": "running", "restarts": 1, "last_error": "x"}
    assert query_troubles(record, now=100.0) == ["campaign-kpis running (1 restart)"]
    record["queries"]["feedback-events"] = {"state": "failed", "restarts": 12, "last_error": "e"}
    assert query_troubles(record, now=100.0)[0] == "feedback-events failed (12 restarts: e)"


def test_no_status_or_healthy_queries_have_no_troubles() -> None:
    assert query_troubles(None) == []
    assert query_troubles({"pid": 1}) == []
    assert query_troubles({"queries": {"campaign-kpis": {"state": "running"}}}) == []


def test_status_writes_from_several_threads_never_collide(tmp_path: Path) -> None:
    # The writer's heartbeat and its batch callbacks write the status file at the same time.
    path = tmp_path / "status.json"
    errors: list[BaseException] = []

    def write(thread: int) -> None:
        try:
            for number in range(200):
                write_json(path, {"thread": thread, "number": number})
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert json.loads(path.read_text())["number"] == 199
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]  # no temporary files left


def test_the_lag_probe_of_a_broker_that_is_down_raises_without_writing_to_the_terminal(
    capfd: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{closed.getsockname()[1]}"
        with pytest.raises(KafkaException):
            end_offsets(address, "feedback")
    assert capfd.readouterr().err == ""
