"""Tests for the CampaignService reads: a MySQL that hangs is refused, not waited on."""

from __future__ import annotations

import asyncio
import threading

import pytest

from servers.campaign_service import service
from servers.errors import UnavailableError


def test_a_read_mysql_does_not_answer_is_refused_unavailable_in_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(service, "READ_PATIENCE", 0.1)
    thawed = threading.Event()

    def frozen_read() -> int:
        thawed.wait(5)
        return 1

    async def run() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(UnavailableError, match="retry"):
            await service._read(frozen_read)
        thawed.set()
        assert await service._read(lambda: 2) == 2  # the next read, MySQL back, succeeds
        return loop.time() - started

    assert asyncio.run(run()) < 1.0
