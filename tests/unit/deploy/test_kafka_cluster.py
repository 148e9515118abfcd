"""Tests for a broker's configuration alone and as one of a 3-broker KRaft cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from deploy.stack.errors import StackError
from deploy.stack.kafka import (
    Kafka,
    Voter,
    check_replication,
    format_arguments,
    own_voter,
    parse_quorum,
    server_properties,
)
from servers.settings import Settings

QUORUM = "1@127.0.0.1:29093,2@127.0.0.1:29193,3@127.0.0.1:29293"
CLUSTER_ID = "MkU3OEVBNTcwNTJENDM2Qg"
DATA = Path("/srv/kafka/data")


def _alone(**overrides: Any) -> Settings:
    return Settings(kafka_port=29092, kafka_controller_port=29093, **overrides)


def _member(node_id: int = 2, **overrides: Any) -> Settings:
    """_member is broker node_id of the loopback cluster QUORUM describes."""
    fields: dict[str, Any] = {
        "kafka_node_id": node_id,
        "kafka_port": 29092 + 100 * (node_id - 1),
        "kafka_controller_port": 29093 + 100 * (node_id - 1),
        "kafka_controller_quorum": QUORUM,
        "kafka_cluster_id": CLUSTER_ID,
        "kafka_replication_factor": 3,
        "kafka_min_insync_replicas": 2,
        "kafka_bootstrap": "127.0.0.1:29092,127.0.0.1:29192,127.0.0.1:29292",
    }
    return Settings(**(fields | overrides))


def _properties(settings: Settings) -> dict[str, str]:
    lines = server_properties(settings, DATA).splitlines()
    return dict(line.split("=", 1) for line in lines)


# Quorum parsing ----------------------------------------------------------------------------


def test_quorum_lists_each_voter_in_order() -> None:
    assert parse_quorum(QUORUM) == [
        Voter(1, "127.0.0.1", 29093),
        Voter(2, "127.0.0.1", 29193),
        Voter(3, "127.0.0.1", 29293),
    ]


def test_quorum_reads_host_names_and_bracketed_ipv6() -> None:
    assert parse_quorum("7@kafka-1.example:9093, 8@[::1]:9093") == [
        Voter(7, "kafka-1.example", 9093),
        Voter(8, "[::1]", 9093),
    ]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("1@127.0.0.1", "not id@host:port"),
        ("127.0.0.1:9093", "not id@host:port"),
        ("x@127.0.0.1:9093", "not id@host:port"),
        ("1@:9093", "not id@host:port"),
        ("1@h:9093,,2@h:9094", "not id@host:port"),
        ("1@h1:9093,1@h2:9093", "node id appears twice"),
        ("1@h:9093,2@h:9093", "address appears twice"),
    ],
)
def test_a_malformed_quorum_is_refused(text: str, says: str) -> None:
    with pytest.raises(StackError, match=says):
        parse_quorum(text)


def test_own_voter_is_the_one_at_this_hosts_controller_listener() -> None:
    assert own_voter(_member(3)) == Voter(3, "127.0.0.1", 29293)
    assert own_voter(_alone()) is None
    elsewhere = _member(2, host="10.0.0.9")  # a client host of the cluster: no broker here
    assert own_voter(elsewhere) is None


# Who runs the broker -------------------------------------------------------------------------


def test_a_member_runs_its_broker_though_the_bootstrap_lists_three() -> None:
    kafka = Kafka(_member(2))
    assert kafka.managed()
    assert kafka.endpoint() == "kafka://127.0.0.1:29192"


def test_a_host_without_a_voter_uses_the_clusters_brokers() -> None:
    kafka = Kafka(_member(2, host="10.0.0.9"))
    assert not kafka.managed()
    assert kafka.endpoint() == "kafka://127.0.0.1:29092,127.0.0.1:29192,127.0.0.1:29292"


def test_the_lone_broker_is_managed_as_before() -> None:
    assert Kafka(_alone()).managed()
    assert Kafka(_alone()).endpoint() == "kafka://127.0.0.1:29092"
    assert not Kafka(_alone(kafka_bootstrap="10.0.0.5:9092")).managed()


# Properties -----------------------------------------------------------------------------------


def test_the_lone_broker_keeps_its_own_one_voter_quorum() -> None:
    properties = _properties(_alone())
    assert properties["node.id"] == "1"
    assert properties["controller.quorum.bootstrap.servers"] == "127.0.0.1:29093"
    assert "controller.quorum.voters" not in properties
    assert properties["listeners"] == ("PLAINTEXT://127.0.0.1:29092,CONTROLLER://127.0.0.1:29093")
    assert properties["log.dirs"] == str(DATA)
    replication = {key: value for key, value in properties.items() if "replication" in key}
    assert set(replication.values()) == {"1"}
    assert properties["min.insync.replicas"] == "1"
    assert properties["transaction.state.log.min.isr"] == "1"


def test_a_member_joins_the_static_quorum_under_its_own_node_id() -> None:
    properties = _properties(_member(2))
    assert properties["process.roles"] == "broker,controller"
    assert properties["node.id"] == "2"
    assert properties["controller.quorum.voters"] == QUORUM
    assert "controller.quorum.bootstrap.servers" not in properties
    assert properties["listeners"] == ("PLAINTEXT://127.0.0.1:29192,CONTROLLER://127.0.0.1:29193")
    assert properties["advertised.listeners"] == "PLAINTEXT://127.0.0.1:29192"


def test_a_members_topics_internal_ones_too_have_three_replicas_two_in_sync() -> None:
    properties = _properties(_member(1))
    for key in (
        "default.replication.factor",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "share.coordinator.state.topic.replication.factor",
    ):
        assert properties[key] == "3", key
    for key in (
        "min.insync.replicas",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.min.isr",
    ):
        assert properties[key] == "2", key


def test_a_member_listens_on_its_hosts_address() -> None:
    properties = _properties(_member(1, host="10.88.0.11"))
    assert properties["listeners"] == ("PLAINTEXT://10.88.0.11:29092,CONTROLLER://10.88.0.11:29093")
    assert properties["advertised.listeners"] == "PLAINTEXT://10.88.0.11:29092"


# Formatting ----------------------------------------------------------------------------------


def test_the_lone_broker_is_formatted_standalone_under_a_fresh_id() -> None:
    first = format_arguments(_alone(), "/x/server.properties")
    second = format_arguments(_alone(), "/x/server.properties")
    assert first[:2] == ["format", "--standalone"]
    assert "--config=/x/server.properties" in first
    assert "--ignore-formatted" in first
    ids = [next(a for a in args if a.startswith("--cluster-id=")) for args in (first, second)]
    assert ids[0] != ids[1]
    assert all(len(i.removeprefix("--cluster-id=")) == 22 for i in ids)


def test_every_member_is_formatted_with_the_shared_id_and_no_standalone() -> None:
    for node in (1, 2, 3):
        arguments = format_arguments(_member(node), "/x/server.properties")
        assert f"--cluster-id={CLUSTER_ID}" in arguments
        assert "--standalone" not in arguments


# Refused configurations -------------------------------------------------------------------------


def test_consistent_settings_pass() -> None:
    check_replication(_alone())
    for node in (1, 2, 3):
        check_replication(_member(node))


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        (lambda: _member(2, kafka_node_id=4), "node id 4 is not among the voters"),
        (lambda: _member(2, kafka_controller_port=29999), "voter 2 is at 127.0.0.1:29193"),
        (lambda: _member(2, kafka_cluster_id=None), "share one cluster id"),
        (lambda: _member(2, kafka_replication_factor=4), "replication factor 4"),
        (lambda: _member(2, kafka_min_insync_replicas=4), "4 in-sync replicas"),
        (lambda: _alone(kafka_replication_factor=3), "the quorum has 1"),
    ],
)
def test_inconsistent_settings_are_refused_before_formatting(settings: Any, says: str) -> None:
    with pytest.raises(StackError, match=says):
        check_replication(settings())
