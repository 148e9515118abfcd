"""Tests for deploy.cluster.topology: the topology file, its refusals and each host's settings."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deploy.cluster import topology
from deploy.cluster.topology import TopologyError
from servers.settings import Settings

CLUSTER_ID = "MkU3OEVBNTcwNTJENDM2Qk"
DIRECTORY = Path("/tmp/adplatform-cluster-test")


def _document() -> dict[str, Any]:
    return tomllib.loads(topology.DEFAULT_FILE.read_text())


def _refusal(document: dict[str, Any]) -> str:
    with pytest.raises(TopologyError) as refused:
        topology.parse(document)
    return str(refused.value)


def test_the_default_topology_has_every_role_the_issue_asks_for() -> None:
    found = topology.load()
    assert len(found.with_role("kafka")) == 3
    assert [host.name for host in found.with_role("adserver")] == ["serving-1", "serving-2"]
    assert found.with_role("adserver") == found.with_role("feedback-service")
    control = found.one("campaign-service")
    assert control == found.one("ad-manager") and control not in found.with_role("adserver")
    assert len(found.with_role("spark-worker")) == 2 and found.with_role("mariadb-replica")
    assert len({topology_host.address for topology_host in found.hosts}) == len(found.hosts)


def test_every_host_gets_its_address_namespace_and_run_directory() -> None:
    found = topology.load()
    for host in found.hosts:
        settings = topology.host_settings(found, host, Settings(), DIRECTORY, CLUSTER_ID)
        assert settings.host == host.address
        assert settings.netns == f"adp-{host.name}"
        assert settings.run_dir == DIRECTORY / "hosts" / host.name
        assert settings.kafka_cluster_id == CLUSTER_ID


def test_kafka_is_a_quorum_of_three_with_replication_three_and_two_in_sync() -> None:
    found = topology.load()
    brokers = found.with_role("kafka")
    ids = []
    for host in brokers:
        settings = topology.host_settings(found, host, Settings(), DIRECTORY, CLUSTER_ID)
        ids.append(settings.kafka_node_id)
        assert settings.kafka_replication_factor == 3
        assert settings.kafka_min_insync_replicas == 2
        assert settings.kafka_controller_quorum == (
            "1@10.77.0.11:19093,2@10.77.0.12:19093,3@10.77.0.13:19093"
        )
        assert settings.bootstrap_servers == "10.77.0.11:19092,10.77.0.12:19092,10.77.0.13:19092"
    assert ids == [1, 2, 3]


def test_servers_reach_the_primary_and_the_lag_tolerant_reads_the_replica() -> None:
    found = topology.load()
    settings = topology.host_settings(
        found, found.host("control"), Settings(), DIRECTORY, CLUSTER_ID
    )
    assert settings.mysql_endpoint == ("10.77.0.21", 13306, "adplatform")
    assert (
        settings.mysql_replica_url is not None
        and "@10.77.0.22:13307/" in settings.mysql_replica_url
    )
    assert settings.spark_master == "spark://10.77.0.31:17077"
    assert settings.metastore_host == "10.77.0.31"
    assert settings.spark_storage_dir == DIRECTORY / "shared"
    replica = topology.host_settings(
        found, found.host("db-replica"), Settings(), DIRECTORY, CLUSTER_ID
    )
    assert replica.mysql_server_id != settings.mysql_server_id


def test_envoy_balances_over_both_serving_hosts_and_clients_dial_envoy() -> None:
    found = topology.load()
    edge = topology.host_settings(found, found.one("envoy"), Settings(), DIRECTORY, CLUSTER_ID)
    assert edge.adserver_target == "10.77.0.41:17002,10.77.0.42:17002"
    assert edge.feedback_target == "10.77.0.41:17003,10.77.0.42:17003"
    assert edge.campaign_target == "10.77.0.51:17001"
    client = topology.client_settings(found, Settings(), DIRECTORY)
    assert client.envoy_url == "http://10.77.0.61:18080"
    assert client.adserver_target == client.feedback_target == "10.77.0.61:18080"
    exported = client.exports()
    local = Settings().exports()
    assert set(local) <= set(exported)  # `cluster env` sets everything `stack env` does
    assert exported["ADPLATFORM_KAFKA_BOOTSTRAP"].count(",") == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d.pop("network"), "network"),
        (lambda d: d["network"].update(gateway="10.77.0.1"), "network.gateway"),
        (lambda d: d["network"].update(gateway="127.0.0.1/8"), "network.gateway"),
        (lambda d: d["network"].update(bridge="a-bridge-name-too-long"), "network.bridge"),
        (lambda d: d["hosts"][0].update(address="10.78.0.5"), "hosts[0].address"),
        (lambda d: d["hosts"][1].update(address="10.77.0.11"), "hosts[1].address"),
        (lambda d: d["hosts"][1].update(name="kafka-1"), "hosts[1].name"),
        (lambda d: d["hosts"][2].update(roles=["kafka", "dns"]), "hosts[2].roles[1]"),
        (lambda d: d["hosts"][0].update(colour="red"), "hosts[0].colour"),
        (lambda d: d["hosts"][11].update(roles=["adserver"]), "envoy"),
        (lambda d: d["hosts"][2].update(roles=["adserver"]), "'kafka'"),
    ],
)
def test_a_bad_topology_is_refused_naming_the_field(change: Any, field: str) -> None:
    document = _document()
    change(document)
    assert field in _refusal(document)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(key=st.sampled_from(["network", "hosts"]), value=_json)
def test_any_value_in_a_topology_either_parses_or_is_refused(key: str, value: Any) -> None:
    document = copy.deepcopy(_DEFAULT)
    document[key] = value
    try:
        topology.parse(document)
    except TopologyError as error:
        assert str(error)


@given(index=st.integers(0, 11), field=st.sampled_from(["name", "address", "roles"]), value=_json)
def test_any_host_field_either_parses_or_is_refused(index: int, field: str, value: Any) -> None:
    document = copy.deepcopy(_DEFAULT)
    document["hosts"][index][field] = value
    try:
        topology.parse(document)
    except TopologyError as error:
        assert str(error).startswith(("hosts", "network"))


_DEFAULT = _document()
