"""The platform on hosts of its own: `cluster up` on the default topology, then proofs across hosts.

Brings up deploy/cluster/topology.toml (12 network namespaces: 3 Kafka brokers, MariaDB and
its replica, a Spark master with two workers, two serving hosts, the control host and the
edge) with the state under a temporary directory, and checks:

- what is exactly once on one machine stays so across hosts: concurrent charges for one
  campaign from both FeedbackService hosts, one request id arriving at both, and a Stop that
  reaches both AdServer hosts' indexes within a second;
- a second Ad Manager joins the consumer group on another host: partitions rebalance and no
  instruction is applied twice or lost;
- under steady traffic through Envoy, a Kafka broker is killed, a serving host goes off the
  network, a Spark worker is killed and the MariaDB replica stops; afterwards the books
  reconcile exactly (the chaos run's invariants, clients/chaos/books.py);
- `cluster down` leaves no namespace, link or process behind.

Needs root (namespaces, a bridge). Minutes long: marker `cluster`, left out of the default run.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import grpc
import pytest
from adplatform.v1 import (
    ad_server_pb2,
    ad_server_pb2_grpc,
    campaign_service_pb2,
    feedback_service_pb2,
    feedback_service_pb2_grpc,
)
from confluent_kafka.admin import AdminClient  # type: ignore[attr-defined]
from sqlalchemy import create_engine, select

from clients import channels
from clients.chaos import plan
from clients.chaos.cluster import ClusterStack
from clients.chaos.run import Options, chaos
from clients.users_commands import seed
from deploy.cluster import launcher, netns, topology
from deploy.cluster.launcher import Cluster
from deploy.stack.services import AdManagerProcess
from servers.settings import Settings
from servers.storage.schema import campaigns as campaigns_table
from tests.integration import campaigns
from tests.polling import eventually

pytestmark = [
    pytest.mark.integration,
    pytest.mark.cluster,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces and a bridge need root"),
]

FRESH_CONNECTIONS = 8  # new connections land on random workers: all are reached but for 2^-7
CHARGES_PER_HOST = 40
USERS = 1000


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """cluster is the default topology brought up under a temporary directory, then removed."""
    found = topology.load()
    if any(found.namespace(host) in netns.namespaces() for host in found.hosts):
        pytest.skip("a cluster with the default topology is already running on this machine")
    directory = tmp_path_factory.mktemp("cluster")
    running = Cluster(found, Settings(cluster_dir=directory, kafka_heap="256m"))
    try:
        seconds = launcher.up(running, report=print)
        print(f"\ncluster up in {seconds:.1f} s")
        seed(running.client(), USERS)
        yield running
    finally:
        launcher.down(running, report=print)
        _nothing_left(found)


def _nothing_left(found: topology.Topology) -> None:
    assert not {found.namespace(host) for host in found.hosts} & netns.namespaces()
    assert not netns.link_exists(found.bridge)
    assert all(not netns.link_exists(found.veth(host)) for host in found.hosts)


def _serve(target: str, country: str) -> str:
    """_serve asks one AdServer host over a new connection; the winner's id, or ""."""
    request = ad_server_pb2.ServeAdRequest(
        user_id=f"u-{uuid.uuid4().hex[:8]}", device_type="iPhone", city="Pune", country=country
    )
    with grpc.insecure_channel(target) as channel:
        reply = ad_server_pb2_grpc.AdServerStub(channel).ServeAd(request, timeout=5)
    return str(reply.campaign_id)


def _serving_targets(cluster: Cluster) -> list[str]:
    settings = cluster.client()
    return [
        f"{host.address}:{settings.adserver_port}"
        for host in cluster.topology.with_role("adserver")
    ]


def _feedback_targets(cluster: Cluster) -> list[str]:
    settings = cluster.client()
    return [
        f"{host.address}:{settings.feedback_port}"
        for host in cluster.topology.with_role("feedback-service")
    ]


def _answers(cluster: Cluster, country: str) -> list[str]:
    return [
        _serve(target, country)
        for target in _serving_targets(cluster)
        for _ in range(FRESH_CONNECTIONS)
    ]


def test_the_cluster_is_healthy_on_every_host(cluster: Cluster) -> None:
    rows = launcher.status(cluster)
    assert [row.host.name for row in rows] == cluster.topology.names()
    sick = [
        f"{row.host.name}/{part.name}" for row in rows for part in row.parts if not part.healthy
    ]
    assert all(row.reachable for row in rows) and not sick, sick
    exported = launcher.exports(cluster)
    assert exported["ADPLATFORM_KAFKA_BOOTSTRAP"].count(",") == 2
    assert exported["ADPLATFORM_ENVOY_URL"] == "http://10.77.0.61:18080"


def test_topics_have_three_replicas_and_two_in_sync(cluster: Cluster) -> None:
    settings = cluster.client()
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    metadata = admin.list_topics(timeout=10)
    for topic in (settings.instructions_topic, settings.feedback_topic):
        partitions = metadata.topics[topic].partitions.values()
        assert {len(partition.replicas) for partition in partitions} == {3}


def test_a_stop_reaches_both_serving_hosts_within_a_second(cluster: Cluster) -> None:
    settings = cluster.client()
    country = f"Clusterland-{uuid.uuid4().hex[:8]}"
    stopping = campaigns.create(settings, target_country=country)
    eventually(
        lambda: all(answer == stopping.campaign_id for answer in _answers(cluster, country)),
        timeout=30,
    )
    started = time.monotonic()
    channels.campaigns(settings).StopCampaign(
        campaign_service_pb2.StopCampaignRequest(campaign_id=stopping.campaign_id), timeout=10
    )
    eventually(lambda: not any(_answers(cluster, country)), timeout=1.0, interval=0.02)
    print(f"\nStop to no host serving: {time.monotonic() - started:.3f} s")
    assert not any(_answers(cluster, country))


def _served_request(settings: Settings, target: str, country: str) -> str:
    request = ad_server_pb2.ServeAdRequest(
        user_id=f"u-{uuid.uuid4().hex[:8]}", device_type="iPhone", city="Pune", country=country
    )
    with grpc.insecure_channel(target) as channel:
        reply = ad_server_pb2_grpc.AdServerStub(channel).ServeAd(request, timeout=5)
    assert reply.request_id, "no fill"
    return str(reply.request_id)


def _click(target: str, request_id: str) -> feedback_service_pb2.SubmitFeedbackResponse:
    request = feedback_service_pb2.SubmitFeedbackRequest(
        request_id=request_id, view=1, click=1, acquisition=0
    )
    with grpc.insecure_channel(target) as channel:
        stub = feedback_service_pb2_grpc.FeedbackServiceStub(channel)
        return stub.SubmitFeedback(request, timeout=10)


def _spent(settings: Settings, campaign_id: str) -> Decimal:
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            query = select(campaigns_table.c.spent).where(
                campaigns_table.c.campaign_id == campaign_id
            )
            return Decimal(connection.execute(query).scalar_one())
    finally:
        engine.dispose()


def test_charges_from_both_feedback_hosts_are_each_counted_once(cluster: Cluster) -> None:
    settings = cluster.client()
    country = f"Clusterland-{uuid.uuid4().hex[:8]}"
    charged = campaigns.create(settings, target_country=country, budget="1000")
    adservers, feedbacks = _serving_targets(cluster), _feedback_targets(cluster)
    eventually(
        lambda: all(answer == charged.campaign_id for answer in _answers(cluster, country)),
        timeout=30,
    )
    requests = [
        _served_request(settings, adservers[number % 2], country)
        for number in range(CHARGES_PER_HOST * 2)
    ]
    # Every request id twice at once, at both hosts: concurrent charges for one campaign from
    # two hosts, and each duplicate arriving at the other host.
    calls = [(target, request_id) for request_id in requests for target in feedbacks]
    with ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(lambda call: _click(*call), calls))
    by_request: dict[str, set[str]] = {}
    for (_, request_id), reply in zip(calls, replies, strict=True):
        by_request.setdefault(request_id, set()).add(reply.expenditure)
    # One charge per request id: both answers carry the first charge's amount, one of them
    # marked duplicate.
    assert all(len(amounts) == 1 for amounts in by_request.values()), by_request
    duplicates = sum(reply.duplicate for reply in replies)
    assert duplicates == len(requests), (duplicates, len(requests))
    acknowledged = sum(Decimal(next(iter(amounts))) for amounts in by_request.values())
    assert acknowledged > 0
    assert _spent(settings, charged.campaign_id) == acknowledged


def test_a_second_ad_manager_shares_the_partitions_and_applies_each_instruction_once(
    cluster: Cluster,
) -> None:
    settings = cluster.client()
    second_host = cluster.topology.host("serving-2")
    second = AdManagerProcess(cluster.settings(second_host))
    second.start()
    try:
        second.wait_ready()
        admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})

        def members() -> int:
            group = settings.instructions_group
            described = admin.describe_consumer_groups([group])[group].result(timeout=10)
            return len(described.members)

        eventually(lambda: members() == 2, timeout=60)
        country = f"Clusterland-{uuid.uuid4().hex[:8]}"
        created = [
            campaigns.live_campaign(target_country=country, budget=str(100 + number))
            for number in range(30)
        ]
        stub = channels.campaigns(settings)
        for campaign in created:
            stub.CreateCampaign(
                campaign_service_pb2.CreateCampaignRequest(campaign=campaign), timeout=10
            )
        for campaign in created:
            found = campaigns.wait_for(settings, campaign.campaign_id, timeout=60, status="ACTIVE")
            assert found.budget == campaign.budget
    finally:
        second.process.stop()
    eventually(lambda: members() == 1, timeout=60)


def test_host_failures_under_traffic_keep_the_books_exact(cluster: Cluster) -> None:
    stack = ClusterStack(cluster)
    faults = plan.plan(cluster=True, holds={"serving-host": 15.0, "mariadb-replica": 15.0})
    options = Options(
        rate=20.0,
        concurrency=32,
        instruction_rate=1.0,
        lead=8.0,
        settle=8.0,
        recovery_timeout=180.0,
        drain_timeout=300.0,
        seed=1,
    )
    outcome = asyncio.run(chaos(stack.settings, faults, options, print, stack))
    for fault, row in outcome.faults:
        print(f"{fault.name}: {row}")
    failed = [check for check in outcome.checks if not check.held]
    for check in outcome.checks:
        print(f"{check.name}: {'held' if check.held else 'FAILED'} {check.detail}")
    assert not failed, failed
    sick = stack.unhealthy()
    assert not sick, sick
