"""Each part of the local stack is real and reachable: Kafka, MariaDB, Spark/Hive, Envoy, gRPC."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import grpc
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]
from sqlalchemy import Engine, text

from deploy.stack import auth
from deploy.stack.envoy import Envoy
from deploy.stack.services import check_health
from servers.settings import Settings
from tests.integration import envoy

pytestmark = pytest.mark.integration

SERVER_PORTS = ("campaign_port", "adserver_port", "feedback_port", "admanager_port")
ENVOY_UPSTREAMS = ("campaign-service", "adserver", "feedback-service")


def test_kafka_round_trip(stack: Settings) -> None:
    topic = f"roundtrip-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": stack.bootstrap_servers})
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result()
    producer = Producer({"bootstrap.servers": stack.bootstrap_servers, "acks": "all"})
    producer.produce(topic, key=b"k", value=b"hello kafka")
    assert producer.flush(10) == 0
    consumer = Consumer(
        {
            "bootstrap.servers": stack.bootstrap_servers,
            "group.id": f"roundtrip-{topic}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    try:
        message = None
        for _ in range(100):
            message = consumer.poll(0.2)
            if message is not None and message.error() is None:
                break
        assert message is not None and message.error() is None
        assert (message.key(), message.value()) == (b"k", b"hello kafka")
    finally:
        consumer.close()


def test_platform_topics_exist(stack: Settings) -> None:
    topics = (
        AdminClient({"bootstrap.servers": stack.bootstrap_servers}).list_topics(timeout=5).topics
    )
    for name in (stack.instructions_topic, stack.feedback_topic, stack.dead_letter_topic):
        assert name in topics


def test_mariadb_answers_through_sqlalchemy(stack: Settings, database: Engine) -> None:
    with database.connect() as connection:
        version = connection.execute(text("SELECT VERSION()")).scalar_one()
        name = connection.execute(text("SELECT DATABASE()")).scalar_one()
    assert "MariaDB" in version
    assert name == stack.mysql_database


@pytest.mark.parametrize("port_field", SERVER_PORTS)
def test_server_health_directly(stack: Settings, port_field: str) -> None:
    assert check_health(f"{stack.host}:{getattr(stack, port_field)}")


@pytest.mark.parametrize("upstream", ENVOY_UPSTREAMS)
def test_server_health_through_envoy(stack: Settings, upstream: str) -> None:
    assert check_health(f"{stack.host}:{stack.envoy_port}", authority=upstream)
    assert Envoy(stack).upstream_health()[upstream] == "healthy"


def test_envoy_transcodes_json_and_maps_grpc_status(stack: Settings) -> None:
    token = auth.mint_token(stack)
    listed = envoy.call(stack, "GET", "/v1/campaigns?page_size=1", token=token)
    assert listed.status == 200
    assert "campaigns" in listed.json() or listed.json()["total_size"] == 0
    missing = envoy.call(stack, "GET", "/v1/campaigns/no-such-id", token=token)
    assert missing.status == 404  # gRPC NOT_FOUND
    assert missing.json()["code"] == grpc.StatusCode.NOT_FOUND.value[0]
    refused = envoy.call(stack, "GET", "/v1/campaigns?page_size=-1", token=token)
    assert refused.status == 400  # gRPC INVALID_ARGUMENT
    assert refused.json()["message"].startswith("page_size")


def test_envoy_unknown_path_is_json_404(stack: Settings) -> None:
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(f"{stack.envoy_url}/no/such/route", timeout=5)
    assert raised.value.code == 404
    assert json.loads(raised.value.read())["http_status"] == 404
