"""The run's traffic: campaign windows, request bodies, and the recording device transport."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from clients.chaos.books import Receipt as Told
from clients.chaos.traffic import (
    RecordingTransport,
    SteadySimulation,
    Window,
    campaign_body,
    one_slot,
    window,
)
from clients.chaos.windows import FEEDBACK, SERVE, CallLog, Tally
from clients.simulator.behaviour import Behaviour, Person
from clients.simulator.transports import Ad, Receipt, TransientError
from servers.campaigns import schedule
from servers.campaigns.validation import validate_spec

KOLKATA = ZoneInfo("Asia/Kolkata")


def test_the_window_opens_an_hour_ago_in_the_platform_zone_and_closes_later() -> None:
    live = window(datetime(2026, 12, 1, 18, 0, 30, 123, tzinfo=UTC), KOLKATA, 900)
    assert live.fields() == {
        "date_range": {"start": "2026-12-01", "end": "2026-12-01"},
        "time_range": {"start": "22:30:30", "end": "23:45:30"},
    }
    past_midnight = window(datetime(2026, 12, 1, 18, 40, tzinfo=UTC), KOLKATA, 900)
    assert past_midnight.fields() == {
        "date_range": {"start": "2026-12-01", "end": "2026-12-02"},
        "time_range": {"start": "23:10:00", "end": "0:25:00"},
    }


def test_a_one_slot_window_is_a_single_pacing_slot_so_the_whole_budget_can_be_spent() -> None:
    now = datetime(2026, 12, 1, 18, 0, 30, tzinfo=UTC)
    body = campaign_body("chaos-x-s5", "chaos x #0", one_slot(now, KOLKATA), cpc="1", budget="8")
    spec = validate_spec({**body, "cpa": "5"})
    assert schedule.slot_count(spec.schedule, KOLKATA) == 1
    assert schedule.remaining_slots(spec.schedule, now, KOLKATA) == 1


def test_an_end_exactly_at_midnight_moves_a_second_so_it_is_not_the_end_of_the_day() -> None:
    live = Window(datetime(2026, 12, 1, 22, 0), datetime(2026, 12, 2, 0, 0))
    assert live.fields()["time_range"]["end"] == "0:00:01"


def test_a_campaign_body_is_valid_for_the_api() -> None:
    live = Window(datetime(2026, 12, 1, 22, 0), datetime(2026, 12, 2, 1, 0))
    body = campaign_body("chaos-x-s0", "chaos x #0", live, cpc="0.5", cpa="5", budget="25")
    spec = validate_spec(body)
    assert spec.campaign_id == "chaos-x-s0"
    assert spec.budget == Decimal("25")


class Flaky:
    """Flaky answers after one transient failure per call."""

    def __init__(self) -> None:
        self.failed: set[str] = set()

    async def serve(self, user_id: str, device_type: str, city: str, state: str) -> Ad:
        if user_id not in self.failed:
            self.failed.add(user_id)
            raise TransientError("HTTP 503")
        return Ad(f"req-{user_id}" if user_id != "nofill" else "", "c1", "text")

    async def feedback(self, request_id: str, flags: tuple[int, int, int]) -> Receipt:
        return Receipt("c1", "click", Decimal("0.0011"), duplicate=False)

    async def close(self) -> None:
        pass


def test_the_recording_transport_notes_attempts_and_answers() -> None:
    log = CallLog(origin=0.0)
    transport = RecordingTransport(Flaky(), log)

    async def play() -> None:
        with pytest.raises(TransientError):
            await transport.serve("u1", "d", "c", "s")
        await transport.serve("u1", "d", "c", "s")
        with pytest.raises(TransientError):
            await transport.serve("nofill", "d", "c", "s")
        await transport.serve("nofill", "d", "c", "s")
        await transport.feedback("req-u1", (1, 1, 0))

    asyncio.run(play())
    assert log.total(SERVE) == Tally(4, 2)
    assert log.total(FEEDBACK) == Tally(1, 1)
    assert transport.answered == {"req-u1": "c1"}
    assert transport.receipts == {"req-u1": Told("c1", Decimal("0.0011"))}


class Slow:
    """Slow answers every call after a short pause, always with a fill."""

    def __init__(self) -> None:
        self.served = 0

    async def serve(self, user_id: str, device_type: str, city: str, state: str) -> Ad:
        await asyncio.sleep(0.01)
        self.served += 1
        return Ad(f"req-{self.served}", "c1", "text")

    async def feedback(self, request_id: str, flags: tuple[int, int, int]) -> Receipt:
        await asyncio.sleep(0.05)
        return Receipt("c1", "view", Decimal(0), duplicate=False)

    async def close(self) -> None:
        pass


def test_stopped_devices_finish_the_feedback_they_owe_and_go() -> None:
    people = [Person(f"u{n}", "Android Mobile", 30) for n in range(10)]
    recording = RecordingTransport(Slow(), CallLog(origin=0.0))
    simulation = SteadySimulation(
        recording, Behaviour(people, seed=1), duration=60, concurrency=8, rate=200
    )

    async def play() -> float:
        running = asyncio.create_task(simulation.run())
        await asyncio.sleep(0.3)
        simulation.stop()
        stopped = time.monotonic()
        await running
        return time.monotonic() - stopped

    took = asyncio.run(play())
    assert took < 1.0  # not the 60 s duration
    assert recording.answered
    assert set(recording.receipts) == set(recording.answered)  # every ad got its feedback
    assert simulation.stats.feedback == len(recording.receipts)
