"""Tests for servers.feedback.server: workers share the port, the parent exports the metrics."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from deploy.stack.net import free_port
from servers import exporter, settings, workers
from servers.feedback import server


def _config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **overrides: Any) -> settings.Settings:
    """_config is a configuration on free ports, with a multiprocess metrics directory."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    return settings.Settings(
        run_dir=tmp_path,
        feedback_port=free_port(),
        feedback_metrics_port=free_port(),
        **overrides,
    )


def test_a_worker_shares_the_port_and_leaves_metrics_to_the_parent(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = _config(monkeypatch, tmp_path)
    spec = server.build(config)
    try:
        assert spec.port == config.feedback_port
        assert spec.reuse_port is True  # the kernel spreads connections over the workers
        assert spec.metrics_port is None  # the parent exports the merged metrics
        assert len(spec.background) == 1  # the worker's own outbox relay
    finally:
        for close in spec.on_stop:
            asyncio.run(close())


def test_main_supervises_feedback_workers_with_the_merged_export(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = _config(monkeypatch, tmp_path, feedback_workers=3)
    monkeypatch.setattr(settings, "load", lambda: config)
    seen: dict[str, Any] = {}

    def supervise(
        count: int,
        work: Callable[[], None],
        grace_seconds: float,
        *,
        exporters: Sequence[workers.Exporter] = (),
        on_exit: Callable[[int], None] = lambda pid: None,
    ) -> int:
        seen.update(count=count, grace=grace_seconds, on_exit=on_exit)
        seen["exported"] = [getattr(e, "address", None) for e in exporters]
        return 7

    monkeypatch.setattr(workers, "supervise", supervise)
    assert server.main() == 7
    assert seen["count"] == 3
    assert seen["grace"] > config.shutdown_grace_seconds
    assert seen["exported"] == [(config.host, config.feedback_metrics_port)]
    assert seen["on_exit"] is exporter.mark_dead
    with socket.create_server((config.host, config.feedback_metrics_port)):
        pass  # the parent's export was closed on the way out


def test_main_stops_with_a_clear_message_when_the_metrics_port_is_taken(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = _config(monkeypatch, tmp_path)
    monkeypatch.setattr(settings, "load", lambda: config)
    taken = socket.create_server((config.host, config.feedback_metrics_port))
    expected = f"cannot export metrics on .*{config.feedback_metrics_port}"
    with taken, pytest.raises(SystemExit, match=expected):
        server.main()
