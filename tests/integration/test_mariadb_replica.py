"""A MariaDB replica follows the primary, serves the listing, and may stop without failing it.

A primary and a replica of their own (not the session stack's), each with its own settings and
run directory as a cluster's hosts would have: the schema is migrated on the primary before the
replica exists, so the replica starts empty and replays the primary's binary log from its
beginning. Run with -s to see the lag and the fallback time measured.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any, cast

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.exc import OperationalError

from deploy.stack.mariadb import MariaDB, MariaDBReplica
from deploy.stack.net import free_port
from servers.campaign_service.management import CampaignManagement
from servers.campaigns import store
from servers.campaigns.instructions import apply, resolve
from servers.campaigns.model import Action
from servers.campaigns.pricing import Weights
from servers.messaging.publisher import Publisher
from servers.settings import Settings
from servers.storage import migrate
from servers.storage.db import engine
from servers.storage.replica import RETRY_AFTER_SECONDS, replica_engine
from servers.storage.schema import campaigns
from tests.fixtures.campaigns import VALID_FIELDS
from tests.integration.campaign_service.kept import TZ
from tests.polling import eventually

pytestmark = pytest.mark.integration

WEIGHTS = Weights.parse(
    Settings.model_fields["cpm_cpc_weight"].default, Settings.model_fields["cpm_cpa_weight"].default
)
CATEGORY = f"replica-{uuid.uuid4().hex[:12]}"
REPLICATION_DEADLINE = 10.0


class Servers:
    """Servers are the primary and replica parts and an engine on each."""

    def __init__(self, primary: MariaDB, replica: MariaDBReplica) -> None:
        self.primary = primary
        self.replica = replica
        self.primary_engine = engine(primary.settings.database_url, pool_size=2)
        self.replica_url = (
            primary.settings.database_url.rsplit("@", 1)[0]
            + f"@{replica.settings.host}:{replica.settings.mysql_replica_port}"
            + f"/{replica.settings.mysql_database}"
        )
        self.replica_engine = replica_engine(self.replica_url)

    def dispose(self) -> None:
        """dispose closes both engines' pools."""
        self.primary_engine.dispose()
        self.replica_engine.dispose()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """servers are a migrated primary and a replica started after it, stopped at the end."""
    root = tmp_path_factory.mktemp("replica")
    primary_settings = Settings(run_dir=root / "primary", mysql_port=free_port())
    replica_settings = Settings(
        run_dir=root / "replica",
        mysql_url=primary_settings.local_mysql_url,
        mysql_replica_port=free_port(),
        mysql_server_id=2,
    )
    primary, replica = MariaDB(primary_settings), MariaDBReplica(replica_settings)
    found = None
    try:
        primary.start()
        primary.wait_ready()
        migrate.upgrade(primary_settings.database_url)
        started = time.monotonic()
        replica.start()
        replica.wait_ready()
        print(f"\nreplica started and replicating in {time.monotonic() - started:.1f}s")
        found = Servers(primary, replica)
        yield found
    finally:
        if found is not None:
            found.dispose()
        replica.process.stop()
        primary.process.stop()


def write_campaign(servers: Servers) -> str:
    """write_campaign stores a new campaign on the primary as the Ad Manager would; its id."""
    fields = {**VALID_FIELDS, "campaign_id": str(uuid.uuid4()), "category": CATEGORY}
    now = datetime.now(UTC)
    state = apply(None, resolve(None, Action.NEW, fields, sequence=1), now, TZ).state
    with servers.primary_engine.begin() as connection:
        store.save(connection, store.to_row(state, WEIGHTS, TZ, now))
    return state.spec.campaign_id


def on_replica(servers: Servers, campaign_id: str) -> bool:
    """on_replica tells whether the replica holds the campaign."""
    query = select(campaigns.c.campaign_id).where(campaigns.c.campaign_id == campaign_id)
    with servers.replica_engine.connect() as connection:
        return connection.execute(query).first() is not None


def management_on(servers: Servers) -> CampaignManagement:
    """management_on is the campaign managers' flow reading the primary and the replica.

    Only reads are made: nothing is published, so no Kafka is needed.
    """
    return CampaignManagement(
        servers.primary_engine,
        cast(Publisher, None),
        "unused",
        WEIGHTS,
        TZ,
        replica=servers.replica_engine,
    )


def statements_on(target: Engine) -> list[str]:
    """statements_on records every statement target's connections execute from now on."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(args[2])

    event.listen(target, "before_cursor_execute", record)
    return seen


def test_the_replica_runs_read_only_with_its_own_server_id(servers: Servers) -> None:
    """The platform's user may read the replica but not write to it."""
    with servers.replica_engine.connect() as connection:
        row = connection.exec_driver_sql("SELECT @@server_id, @@read_only").one()
        with pytest.raises(OperationalError, match="read-only"):
            connection.exec_driver_sql("CREATE TABLE written_on_the_replica (n INT)")
    assert tuple(row) == (2, 1)


def test_rows_written_on_the_primary_reach_the_replica(servers: Servers) -> None:
    """Campaigns stored on the primary are read on the replica, each within the deadline."""
    lags = []
    for _ in range(10):
        campaign_id = write_campaign(servers)
        committed = time.monotonic()
        eventually(partial(on_replica, servers, campaign_id), REPLICATION_DEADLINE, 0.002)
        lags.append(time.monotonic() - committed)
    lags.sort()
    median, worst = lags[len(lags) // 2] * 1000, lags[-1] * 1000
    print(f"\nreplication lag, commit to visible: median {median:.0f} ms, max {worst:.0f} ms")


def listed_ids(management: CampaignManagement) -> list[str]:
    """listed_ids lists this module's campaigns through the flow ListCampaigns calls."""
    page = asyncio.run(management.page(f"category={CATEGORY}", "", 100, ""))
    return [report.record.state.spec.campaign_id for report in page.reports]


def test_the_listing_and_kpis_are_read_from_the_replica(servers: Servers) -> None:
    """ListCampaigns' and GetCampaignKpis' reads go to the replica, which keeps up."""
    campaign_id = write_campaign(servers)
    eventually(lambda: on_replica(servers, campaign_id), REPLICATION_DEADLINE)
    seen = statements_on(servers.replica_engine)
    management = management_on(servers)

    assert campaign_id in listed_ids(management)
    assert any("FROM campaigns" in statement for statement in seen)
    assert asyncio.run(management.kpi_minutes(campaign_id, 0)) == []
    assert any("FROM campaign_kpis" in statement for statement in seen)
    assert management.lag_tolerant.state.lag == 0


def test_a_stopped_replica_leaves_the_listing_to_the_primary_until_it_catches_up(
    servers: Servers,
) -> None:
    """With the replica stopped the listing answers from the primary; started, it catches up."""
    management = management_on(servers)
    seen = statements_on(servers.replica_engine)
    before = write_campaign(servers)
    eventually(lambda: before in listed_ids(management), REPLICATION_DEADLINE)
    servers.replica.process.stop()

    missed = write_campaign(servers)  # written while the replica is down
    asked = time.monotonic()
    assert {before, missed} <= set(listed_ids(management))
    fallback = time.monotonic() - asked
    asked = time.monotonic()
    assert missed in listed_ids(management)
    skipped = time.monotonic() - asked
    print(f"\nlisting, replica down: first {fallback * 1000:.0f} ms, then {skipped * 1000:.0f} ms")
    assert management.lag_tolerant.state.failed_at is not None
    assert fallback < 2.0  # a refused connection, not a deadline

    started = time.monotonic()
    servers.replica.start()
    servers.replica.wait_ready()
    eventually(lambda: on_replica(servers, missed), REPLICATION_DEADLINE)
    print(f"replica restarted and caught up in {time.monotonic() - started:.1f}s")
    later = management.lag_tolerant.clock() + RETRY_AFTER_SECONDS
    management.lag_tolerant.clock = lambda: later  # the primary's turn is over
    seen.clear()
    assert missed in listed_ids(management)
    assert any("FROM campaigns" in statement for statement in seen)
