"""The stack launcher behind `adplatform stack up | down | status | env`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from deploy.stack.envoy import Envoy
from deploy.stack.errors import StackError
from deploy.stack.java import java_binary
from deploy.stack.kafka import Kafka
from deploy.stack.mariadb import MariaDB
from deploy.stack.metastore import Metastore
from deploy.stack.part import Part
from deploy.stack.services import (
    AdManagerProcess,
    AdServerProcess,
    CampaignServer,
    FeedbackServer,
)
from deploy.stack.spark_jobs import BiServer, FeedbackWriter
from servers.settings import Settings
from servers.storage import migrate

Report = Callable[[str], None]
JAVA_PARTS = {"kafka", "metastore", "feedback-writer", "bi-server"}
FAILED_LOG_LINES = 10


@dataclass(frozen=True)
class PartStatus:
    """PartStatus is one row of `stack status`."""

    name: str
    managed: bool
    pid: int | None
    healthy: bool
    endpoint: str
    state: str = "EXTERNAL"  # supervisord's: RUNNING, STARTING, BACKOFF, FAILED, STOPPED, EXITED
    started_at: float | None = None  # when the running process started (a restart resets it)
    log_tail: str = ""  # the last lines of a FAILED part's log


def stages(settings: Settings) -> list[list[Part]]:
    """stages lists the parts in start order; parts of one stage start side by side."""
    return [
        [MariaDB(settings), Kafka(settings), Metastore(settings)],
        [
            CampaignServer(settings),
            AdServerProcess(settings),
            FeedbackServer(settings),
            AdManagerProcess(settings),
            FeedbackWriter(settings),  # needs Kafka, the metastore and the schema
        ],
        [Envoy(settings)],
        *bi_stage(settings),
    ]


def bi_stage(settings: Settings) -> list[list[Part]]:
    """bi_stage is the Thrift server's stage when asked for (`up --bi`) or already running."""
    server = BiServer(settings)
    return [[server]] if settings.bi_server or server.process.running() else []


def all_parts(settings: Settings) -> list[Part]:
    """all_parts lists every part in start order."""
    return [part for stage in stages(settings) for part in stage]


def preflight(settings: Settings) -> None:
    """preflight finds bad configuration before anything starts: Java, busy ports, dead URLs."""
    parts = all_parts(settings)
    if any(part.managed() and part.name in JAVA_PARTS for part in parts):
        java_binary()
    for part in parts:
        if part.managed() and not part.process.running():
            part.check_ports()
    for part in parts:
        if not part.managed():
            part.wait_ready()


def up(settings: Settings, report: Report = print) -> None:
    """up starts whatever is not running yet and waits until every part is healthy."""
    preflight(settings)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    for number, stage in enumerate(stages(settings)):
        if number == 1:  # the database is up: bring its schema to the newest version
            migrate.upgrade(settings.database_url)
            report(f"{'schema':<17} {'current':<8} migrations applied")
        starting = [part for part in stage if part.managed() and not part.process.running()]
        for part in starting:
            part.start()
        for part in stage:
            part.wait_ready()
            origin = "started" if part in starting else "running" if part.managed() else "external"
            report(f"{part.name:<17} {origin:<8} {part.endpoint()}")


def restart(settings: Settings, name: str, report: Report = print) -> None:
    """restart stops the named part, if the stack runs it, and starts it with settings."""
    part = next(part for part in all_parts(settings) if part.name == name)
    if not part.managed():
        return
    part.process.stop()
    part.start()
    part.wait_ready()
    report(f"{part.name:<17} {'restarted':<8} {part.endpoint()}")


def down(settings: Settings, report: Report = print) -> None:
    """down stops every process the stack started, newest first, and nothing else."""
    for part in reversed(all_parts(settings)):
        if part.managed() and part.process.stop():
            report(f"{part.name:<17} stopped")


def status(settings: Settings) -> list[PartStatus]:
    """status reports each part's process and health."""
    rows = []
    for part in all_parts(settings):
        if not part.managed():
            rows.append(PartStatus(part.name, False, None, part._answers(), part.endpoint()))
            continue
        info = part.process.info()
        state = part.process.state()
        pid = part.process.pid()
        rows.append(
            PartStatus(
                name=part.name,
                managed=True,
                pid=pid,
                healthy=pid is not None and part._answers(),
                endpoint=part.endpoint(),
                state=state,
                started_at=info.started_at if info else None,
                log_tail=part.process.log_tail(FAILED_LOG_LINES) if state == "FAILED" else "",
            )
        )
    return rows


__all__ = ["PartStatus", "StackError", "all_parts", "down", "status", "up"]
