"""One chaos run: own campaigns, steady traffic, the faults one after another, then the books.

1. check every part is running and healthy; note where the instruction topics end;
2. create the run's serving campaigns through the API and wait until they are applied;
3. start devices (serve + feedback through Envoy) and campaign managers (creates, updates);
4. for each fault: steady traffic for ``lead`` s, inject it, wait until its part serves
   again (supervision brings it back: nothing here restarts anything), settle ``settle`` s;
5. stop the traffic, stop half the managed campaigns, wait for the pipeline to drain
   (outbox empty, writer's Kafka lag 0, Ad Manager caught up), then read MySQL, Kafka and
   Hive and check the books (clients/chaos/books.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from clients.chaos import books, evidence, inject, windows
from clients.chaos.plan import FREEZE, ISOLATE, Fault, expected_seconds
from clients.chaos.render import Outcome
from clients.chaos.traffic import (
    DRY_BUDGETS,
    SERVING_BUDGETS,
    SERVING_CPA,
    SERVING_CPC,
    CampaignApi,
    Devices,
    Managers,
    Window,
    campaign_body,
    one_slot,
    window,
)
from deploy.stack.auth import mint_token
from deploy.stack.errors import StackError
from servers.settings import Settings
from spark import catchup

Progress = Callable[[str], None]
RECOVERY_ALLOWANCE = 60.0  # seconds per fault the campaign windows allow for a recovery
BURST = 150  # instructions sent at once while the Ad Manager is killed
BURST_HEAD = 20  # of which this many are accepted before the kill
PUBLISHING_WAIT = 5.0  # seconds to wait for an outbox backlog before killing the relay


@dataclass(frozen=True)
class Options:
    """Options are a run's knobs (the command line's flags)."""

    rate: float
    concurrency: int
    instruction_rate: float
    lead: float
    settle: float
    recovery_timeout: float
    drain_timeout: float
    seed: int


async def chaos(
    settings: Settings,
    faults: Sequence[Fault],
    options: Options,
    progress: Progress,
    stack: inject.Parts | None = None,
) -> Outcome:
    """chaos runs the faults under traffic and returns the outcome with its books.

    stack is what the faults strike: the local stack by default, or a cluster's hosts.
    """
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)  # like Ctrl-C
    stack = stack or inject.Stack(settings)
    sick = await asyncio.to_thread(stack.unhealthy)
    if sick:
        raise StackError(f"chaos needs a healthy stack; not healthy: {', '.join(sick)}")
    run = Run(settings, stack, options, progress)
    try:
        return await run.play(faults)
    finally:
        run.db.dispose()


class Run:
    """Run is one chaos run's state: its campaigns, traffic, faults struck and evidence."""

    def __init__(
        self, settings: Settings, stack: inject.Parts, options: Options, progress: Progress
    ) -> None:
        self.settings = settings
        self.stack = stack
        self.options = options
        self.progress = progress
        self.started = time.monotonic()
        self.db = evidence.database(settings)
        self.run_id = datetime.now(UTC).strftime("%m%d%H%M") + uuid.uuid4().hex[:4]
        topics = settings.instructions_topic, settings.dead_letter_topic
        self.starts = {topic: evidence.end_offsets(settings, topic) for topic in topics}
        self.api = CampaignApi(settings, mint_token(settings))
        self.log = windows.CallLog(time.monotonic())
        self.struck: list[tuple[Fault, windows.FaultWindow]] = []

    def known(self, campaign_ids: Sequence[str]) -> list[str]:
        """known lists which of the campaigns the Ad Manager has applied."""
        return evidence.applied(self.db, campaign_ids)

    async def play(self, faults: Sequence[Fault]) -> Outcome:
        """play runs the steps of the module docstring and returns the outcome."""
        options, settings = self.options, self.settings
        tz = ZoneInfo(settings.timezone)
        now = datetime.now(UTC)
        planned = expected_seconds(faults, options.lead, options.settle, RECOVERY_ALLOWANCE)
        tomorrow = now.astimezone(tz).replace(tzinfo=None, microsecond=0) + timedelta(days=1)
        serving = await self.create_serving(window(now, tz, planned * 1.5 + 600), one_slot(now, tz))
        devices = self.devices(limit=planned * 3 + 600)
        managers = Managers(
            self.api,
            self.run_id,
            Window(tomorrow, tomorrow + timedelta(days=1)),
            rate=options.instruction_rate,
        )
        traffic = asyncio.create_task(devices.run())
        management = asyncio.create_task(managers.run(self.known))
        self.progress(f"run {self.run_id}: {options.rate:g} ads/s through Envoy")
        try:
            for fault in faults:
                await asyncio.sleep(options.lead)
                await self.strike(fault, managers)
                await asyncio.sleep(options.settle)
        finally:
            devices.stop()
            managers.stop()
        self.progress("stopping traffic (each device finishes its feedback)")
        await traffic
        await management
        run_end = time.monotonic()
        await managers.finish(self.known)
        await self.api.close()
        campaign_ids = serving + managers.created
        checks = await self.drain()
        self.progress("reading MySQL, Kafka and the Hive archive")
        checks = await asyncio.to_thread(self.books, devices, campaign_ids) + checks
        reports = windows.report(self.log, [hit for _, hit in self.struck], run_end)
        return Outcome(
            rate=options.rate,
            faults=[(fault, row) for (fault, _), row in zip(self.struck, reports, strict=True)],
            checks=checks,
            serve=self.log.total(windows.SERVE),
            feedback=self.log.total(windows.FEEDBACK),
            instructions=len(self.api.accepted),
            seconds=time.monotonic() - self.started,
            extra={
                "run_id": self.run_id,
                "campaigns": campaign_ids,
                "feedback_abandoned": devices.abandoned,
                "api_refusals": self.api.refused,
            },
        )

    def devices(self, limit: float) -> Devices:
        """devices are the simulator's users over the stack's population."""
        from clients.simulator.behaviour import Behaviour
        from clients.simulator.commands import load_people

        people = load_people(self.settings)
        behaviour = Behaviour(people, seed=self.options.seed)  # type: ignore[arg-type]
        return Devices(
            self.settings,
            behaviour,
            self.log,
            rate=self.options.rate,
            concurrency=self.options.concurrency,
            limit=limit,
        )

    async def create_serving(self, live: Window, short: Window) -> list[str]:
        """create_serving creates the run's serving campaigns and waits until all are applied."""
        plan = [(budget, live) for budget in SERVING_BUDGETS]
        plan += [(budget, short) for budget in DRY_BUDGETS]
        return await _create_serving(self.api, self.run_id, plan, self.known, self.progress)

    async def strike(self, fault: Fault, managers: Managers) -> None:
        """strike injects one fault, waits for its part, and notes the window."""
        self.progress(f"{fault.name}: {fault.describe()} ({fault.summary})")
        hit = await _strike(self.stack, fault, managers, self.known, self.options.recovery_timeout)
        back = "never" if hit.back_after is None else f"after {hit.back_after:.1f} s"
        self.progress(f"{fault.name}: back {back} {hit.note}".rstrip())
        self.struck.append((fault, hit))

    async def drain(self) -> list[books.Check]:
        """drain waits for the outbox, the writer and the Ad Manager; a check if they did not."""
        timeout = self.options.drain_timeout
        self.progress(f"waiting up to {timeout:.0f} s for the pipeline to drain")
        drained = await asyncio.to_thread(catchup.wait, self.settings, timeout)
        applied = await asyncio.to_thread(evidence.wait_applied, self.settings, timeout)
        self.progress(f"drained in {drained.waited_seconds:.1f} s")
        if drained.caught_up and applied:
            return []
        detail = (
            f"outbox {drained.outbox_waiting}, writer lag {drained.kafka_lag}, "
            f"Ad Manager caught up: {applied}"
        )
        return [books.Check("the pipeline drained", False, detail)]

    def books(self, devices: Devices, campaign_ids: list[str]) -> list[books.Check]:
        """books reads the evidence and checks every invariant."""
        settings, db = self.settings, self.db
        answered = set(devices.transport.answered)
        receipts = dict(devices.transport.receipts)
        accounts = evidence.accounts(db, campaign_ids)
        checks = [
            books.served_rows(answered, evidence.served_request_ids(db, answered)),
            books.acknowledged_is_spent(receipts, accounts, evidence.charges(db, receipts)),
        ]
        billed = evidence.billed(settings, answered, campaign_ids)
        checks += [books.spent_is_billed(accounts, receipts, billed), books.billed_once(billed)]
        checks.append(books.within_budget(accounts))
        topic = settings.instructions_topic
        published = evidence.published(settings, self.starts[topic], set(campaign_ids))
        dead = evidence.dead_letters(settings, self.starts[settings.dead_letter_topic])
        partitions = {record.partition for record in published}
        committed = evidence.committed(settings, settings.instructions_group, topic, partitions)
        stored = evidence.stored(db, campaign_ids)
        checks.append(
            books.instructions_kept(self.api.accepted, published, dead, committed, stored)
        )
        not_back = [fault.name for fault, hit in self.struck if hit.recovered_at is None]
        checks.append(books.parts_came_back(not_back))
        return checks


async def _create_serving(
    api: CampaignApi,
    run_id: str,
    plan: Sequence[tuple[str, Window]],
    known: Callable[[Sequence[str]], list[str]],
    progress: Progress,
) -> list[str]:
    """_create_serving creates the run's serving campaigns (budget, window each) and waits."""
    ids = [f"chaos-{run_id}-s{number}" for number in range(len(plan))]
    bodies = [
        campaign_body(
            campaign_id,
            f"chaos {run_id} {campaign_id} #0",
            live,
            cpc=SERVING_CPC,
            cpa=SERVING_CPA,
            budget=budget,
        )
        for campaign_id, (budget, live) in zip(ids, plan, strict=True)
    ]
    created = await asyncio.gather(*(api.create(body, patience=60) for body in bodies))
    if not all(created):
        raise StackError("the campaign API did not accept the run's campaigns within 60 s")
    deadline = time.monotonic() + 60
    while len(await asyncio.to_thread(known, ids)) < len(ids):
        if time.monotonic() > deadline:
            raise StackError("the Ad Manager did not apply the run's campaigns within 60 s")
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.5)  # the AdServer's index refreshes within 1 s
    progress(f"{len(ids)} serving campaigns live: {ids[0]} ... {ids[-1]}")
    return ids


async def _strike(
    stack: inject.Parts,
    fault: Fault,
    managers: Managers,
    known: Callable[[Sequence[str]], list[str]],
    recovery_timeout: float,
) -> windows.FaultWindow:
    """_strike injects one fault and waits until its part serves again."""
    pid_before = stack.pid(fault.part)
    if pid_before is None:
        now = time.monotonic()
        return windows.FaultWindow(fault.name, now, now, None, None, None, "part not running")
    victim: int | None = None
    burst: asyncio.Task[Any] | None = None
    note = ""
    if fault.how == FREEZE:
        injected = time.monotonic()
        with inject.frozen(pid_before):
            await asyncio.sleep(fault.hold)
        released = time.monotonic()
    elif fault.how == ISOLATE:
        injected = time.monotonic()
        with stack.isolated(fault.part):  # type: ignore[attr-defined]
            await asyncio.sleep(fault.hold)
        released = time.monotonic()
    elif fault.during == "publishing":
        injected, victim, note = await _kill_mid_publish(stack, fault, pid_before)
        released = injected
    else:
        if fault.during == "instructions":
            burst = asyncio.create_task(managers.burst(BURST, known))
            note = await _mid_feed(managers, burst)
        injected = time.monotonic()
        victim = inject.kill(fault, pid_before)
        released = injected
    back, pid_after = await asyncio.to_thread(
        inject.wait_back, stack, fault, pid_before, victim, recovery_timeout
    )
    if burst is not None:
        await burst
    shown_before = victim if fault.target == "worker" else pid_before
    return windows.FaultWindow(fault.name, injected, released, back, shown_before, pid_after, note)


async def _mid_feed(managers: Managers, burst: asyncio.Task[Any]) -> str:
    """_mid_feed waits until the burst is under way, so the kill lands mid-feed."""
    before = len(managers.api.accepted)
    deadline = time.monotonic() + 30
    while len(managers.api.accepted) < before + BURST_HEAD and not burst.done():
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    accepted = len(managers.api.accepted) - before
    return f"(killed {accepted} instructions into a burst of {BURST})"


async def _kill_mid_publish(
    stack: inject.Parts, fault: Fault, pid_before: int
) -> tuple[float, int, str]:
    """_kill_mid_publish kills the relay's process while it waits on a frozen broker.

    Kafka is frozen for the moment it takes the outbox to hold unpublished events; the
    relay has sent them and waits for the broker's acknowledgement when its process dies.
    Those events reach Kafka when the broker resumes, unmarked in the outbox, and the next
    relay publishes them again: the archive must still bill each request id once.
    """
    kafka = stack.pid("kafka")
    if kafka is None:
        injected = time.monotonic()
        return injected, inject.kill(fault, pid_before), "(Kafka not running)"
    with inject.frozen(kafka):
        deadline = time.monotonic() + PUBLISHING_WAIT
        waiting = 0
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                waiting = await asyncio.to_thread(evidence.outbox_waiting, stack.settings)
            if waiting:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # the relay's next round sends them
        injected = time.monotonic()
        victim = inject.kill(fault, pid_before)
    return injected, victim, f"(outbox backlog {waiting} when killed)"
