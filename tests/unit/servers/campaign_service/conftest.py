"""Fixtures for the CampaignService's unit tests: the platform's tables in SQLite, a publisher.

SQLite stands in for MariaDB: the same tables (servers.storage.schema) and the same
queries (the campaign library's store and kpis), no server to start; the integration suite
runs them against MariaDB. The publisher keeps what it is given (stand_ins.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, insert

from servers.campaign_service.management import CampaignManagement
from servers.campaigns import store
from servers.campaigns.instructions import CampaignState, apply, resolve
from servers.campaigns.model import Action
from servers.campaigns.pricing import Weights
from servers.storage.schema import campaigns, metadata
from tests.unit.servers.campaign_service.stand_ins import TOPIC, TZ, KeptPublisher


@pytest.fixture
def tables_path(tmp_path: Path) -> Path:
    """tables_path is the SQLite file holding the platform's (empty) tables."""
    return tmp_path / "adplatform.sqlite"


@pytest.fixture
def tables(tables_path: Path) -> Iterator[Engine]:
    """tables is an engine on the platform's tables; reads run on threads, as in production."""
    # timeout: a read waits this long on a lock another connection holds (a "hung" database).
    engine = create_engine(
        f"sqlite:///{tables_path}", connect_args={"check_same_thread": False, "timeout": 5}
    )
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def publisher() -> KeptPublisher:
    """publisher keeps what is published."""
    return KeptPublisher()


@pytest.fixture
def management(tables: Engine, publisher: KeptPublisher) -> CampaignManagement:
    """management is the campaign managers' flow over the SQLite tables and the publisher."""
    return CampaignManagement(tables, publisher, TOPIC, Weights(), TZ)  # type: ignore[arg-type]


@pytest.fixture
def stored(tables: Engine) -> Callable[[Mapping[str, object]], CampaignState]:
    """stored writes a campaign made from fields, as the Ad Manager would have, and returns it."""

    def write(fields: Mapping[str, object]) -> CampaignState:
        now = datetime.now(UTC)
        state = apply(None, resolve(None, Action.NEW, fields, sequence=7), now, TZ).state
        with tables.begin() as connection:
            connection.execute(insert(campaigns).values(store.to_row(state, Weights(), TZ, now)))
        return state

    return write
