"""Fixtures for the CampaignService tests: its flow over the stack's MariaDB and Kafka.

Campaigns are stored as the Ad Manager would store them and deleted after each test; changes
are published to a topic of these tests' own (kept.TOPIC), created for them and deleted after.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, NewTopic
from sqlalchemy import Engine, delete

from servers.campaign_service.management import CampaignManagement
from servers.campaigns import store
from servers.campaigns.instructions import CampaignState, apply, resolve
from servers.campaigns.model import Action
from servers.campaigns.pricing import Weights
from servers.settings import Settings
from servers.storage.schema import campaigns
from tests.fixtures.campaigns import VALID_FIELDS
from tests.integration.campaign_service.kept import CAMPAIGN_ID, CATEGORY, TOPIC, TZ, KeptPublisher

KAFKA_TIMEOUT = 30.0


@pytest.fixture(scope="package")
def topic(stack: Settings) -> Iterator[str]:
    """topic is these tests' own instruction topic, created for them and deleted after."""
    admin = AdminClient({"bootstrap.servers": stack.bootstrap_servers})
    admin.create_topics([NewTopic(TOPIC, 1, 1)])[TOPIC].result(KAFKA_TIMEOUT)
    yield TOPIC
    admin.delete_topics([TOPIC])[TOPIC].result(KAFKA_TIMEOUT)


@pytest.fixture
def publisher(stack: Settings, topic: str) -> Iterator[KeptPublisher]:
    """publisher publishes to the stack's Kafka and keeps what Kafka confirmed."""
    kept = KeptPublisher(stack.bootstrap_servers)
    yield kept
    kept.close()


@pytest.fixture
def weights(stack: Settings) -> Weights:
    """weights are the stack's CPM weights."""
    return Weights.parse(stack.cpm_cpc_weight, stack.cpm_cpa_weight)


@pytest.fixture
def management(
    database: Engine, publisher: KeptPublisher, topic: str, weights: Weights
) -> CampaignManagement:
    """management is the campaign managers' flow over the stack's MariaDB and the publisher."""
    return CampaignManagement(database, publisher, topic, weights, TZ)


@pytest.fixture
def fields() -> Callable[..., dict[str, Any]]:
    """fields builds a valid campaign's API fields (this run's id and category), some overridden."""

    def build(**overrides: Any) -> dict[str, Any]:
        return {**VALID_FIELDS, "campaign_id": CAMPAIGN_ID, "category": CATEGORY, **overrides}

    return build


@pytest.fixture
def stored(
    database: Engine, weights: Weights
) -> Iterator[Callable[[Mapping[str, object]], CampaignState]]:
    """stored writes a campaign made from fields, as the Ad Manager would have; deleted after."""
    written: list[str] = []

    def write(fields: Mapping[str, object]) -> CampaignState:
        now = datetime.now(UTC)
        state = apply(None, resolve(None, Action.NEW, fields, sequence=7), now, TZ).state
        with database.begin() as connection:
            store.save(connection, store.to_row(state, weights, TZ, now))
        written.append(state.spec.campaign_id)
        return state

    yield write
    with database.begin() as connection:
        connection.execute(delete(campaigns).where(campaigns.c.campaign_id.in_(written)))
