"""`adplatform chaos --short` on the session stack: the books hold and every part came back.

The command runs as a user runs it, in its own process against the stack's settings: a
killed AdServer worker, MariaDB frozen, Kafka stopped, under device and campaign-manager
traffic. It must exit 0 (every invariant held); each fault's part must be serving again by
itself, a killed process replaced by a new one, a frozen one the same process; and no part
the run did not hit may have died on the way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import Engine, func, select

from clients import users_commands
from clients.chaos.plan import SHORT, plan
from deploy.stack import launcher
from servers.settings import Settings
from servers.storage.schema import users
from tests.integration.parts import processes, unchanged_except

pytestmark = pytest.mark.integration
RUN_TIMEOUT = 600  # the short form takes about 4 minutes on the 2-core test machine
POPULATION = 2_000


def _population(database: Engine) -> int:
    with database.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(users)).scalar_one())


def test_the_short_chaos_run_keeps_the_books_and_every_part_comes_back(
    stack: Settings, database: Engine
) -> None:
    if _population(database) < POPULATION:
        users_commands.seed(stack, POPULATION)
    before = processes(stack)
    env = {**os.environ, **stack.child_environment()}

    finished = subprocess.run(
        [sys.executable, "-m", "clients.cli", "chaos", "--short", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr[-3000:] + finished.stdout[-3000:]
    outcome = json.loads(finished.stdout)
    assert outcome["held"] is True
    assert {check["name"] for check in outcome["invariants"] if check["held"]} >= {
        "every ad answered 200 has its served-ads row",
        "Σ expenditure acknowledged = Σ MySQL spent",
        "Σ MySQL spent = Σ Hive billed",
        "no request id in Hive twice",
        "no campaign spent past its budget",
        "every accepted instruction applied or dead-lettered",
    }
    assert outcome["serve"]["answered"] > 0
    assert outcome["feedback"]["answered"] > 0
    assert outcome["instructions_accepted"] > 0

    rows = {row.name: row for row in launcher.status(stack)}
    faults = {fault.name: fault for fault in plan(short=True)}
    assert [struck["name"] for struck in outcome["faults"]] == list(SHORT)
    for struck in outcome["faults"]:
        fault = faults[struck["name"]]
        assert struck["back_after_seconds"] is not None, f"{fault.name} never came back"
        if fault.how == "kill":
            assert struck["pid_after"] != struck["pid_before"], struck
        else:
            assert struck["pid_after"] == struck["pid_before"], struck
        assert rows[fault.part].healthy, f"{fault.part} is not healthy after the run"
    unchanged_except(stack, before)  # a worker was replaced, not the AdServer
