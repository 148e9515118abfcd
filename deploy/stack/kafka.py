"""A KRaft Kafka broker from Maven Central jars: alone, one of a cluster, or existing servers.

Alone (no kafka_controller_quorum) the broker is its own one-voter quorum, formatted with a
fresh cluster id, as `stack up` runs it. As one broker of a cluster it is broker and controller
at once: formatted with the cluster id every broker shares (kafka_cluster_id) and its own node
id, it joins the static quorum kafka_controller_quorum ("1@h1:p,2@h2:p,3@h3:p"), and the
platform's topics and Kafka's internal ones get kafka_replication_factor replicas, of which
kafka_min_insync_replicas must acknowledge an acks=all write.
"""

from __future__ import annotations

import base64
import os
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from deploy.paths import DEPLOY_DIR
from deploy.stack.errors import StackError
from deploy.stack.java import classpath, java_binary
from deploy.stack.net import wait_until
from deploy.stack.part import Part
from servers.messaging import probes
from servers.settings import Settings

JVM_FLAGS = (
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
)
# The brokers of a cluster start side by side; the topics wait this long for enough of them.
BROKERS_SECONDS = 120.0


@dataclass(frozen=True)
class Voter:
    """Voter is one controller of a KRaft quorum: its node id and controller listener."""

    node_id: int
    host: str
    port: int


def parse_quorum(text: str) -> list[Voter]:
    """parse_quorum reads "1@host:port,2@host:port" into voters; ids and addresses are unique."""
    voters = []
    for entry in text.split(","):
        node, at, address = entry.strip().partition("@")
        host, colon, port = address.rpartition(":")
        if not (at and colon and host and node.isdigit() and port.isdigit()):
            raise StackError(f"kafka_controller_quorum: {entry!r} is not id@host:port")
        voters.append(Voter(int(node), host, int(port)))
    if len({voter.node_id for voter in voters}) < len(voters):
        raise StackError(f"kafka_controller_quorum: a node id appears twice in {text!r}")
    if len({(voter.host, voter.port) for voter in voters}) < len(voters):
        raise StackError(f"kafka_controller_quorum: an address appears twice in {text!r}")
    return voters


def own_voter(settings: Settings) -> Voter | None:
    """own_voter is the quorum's voter at this host's controller listener, if it names one."""
    if settings.kafka_controller_quorum is None:
        return None
    here = (settings.host, settings.kafka_controller_port)
    voters = parse_quorum(settings.kafka_controller_quorum)
    return next((voter for voter in voters if (voter.host, voter.port) == here), None)


def check_replication(settings: Settings) -> None:
    """check_replication refuses settings with which a broker could not start or keep its word.

    A broker of a cluster must be the voter its node id names, at its own controller listener,
    and share the cluster's id; no topic can have more replicas than there are brokers, nor
    need more in-sync replicas than it has.
    """
    s = settings
    voters = 1
    if s.kafka_controller_quorum is not None:
        quorum = parse_quorum(s.kafka_controller_quorum)
        voters = len(quorum)
        mine = next((voter for voter in quorum if voter.node_id == s.kafka_node_id), None)
        if mine is None:
            raise StackError(
                f"kafka: node id {s.kafka_node_id} is not among the voters "
                f"{s.kafka_controller_quorum} (ADPLATFORM_KAFKA_NODE_ID)"
            )
        if (mine.host, mine.port) != (s.host, s.kafka_controller_port):
            raise StackError(
                f"kafka: voter {mine.node_id} is at {mine.host}:{mine.port}, but this broker's "
                f"controller listens on {s.host}:{s.kafka_controller_port}"
            )
        if s.kafka_cluster_id is None:
            raise StackError(
                "kafka: the brokers of a quorum must share one cluster id "
                "(ADPLATFORM_KAFKA_CLUSTER_ID, 22 base64url characters)"
            )
    if s.kafka_replication_factor > voters:
        raise StackError(
            f"kafka: replication factor {s.kafka_replication_factor} needs as many brokers; "
            f"the quorum has {voters}"
        )
    if s.kafka_min_insync_replicas > s.kafka_replication_factor:
        raise StackError(
            f"kafka: {s.kafka_min_insync_replicas} in-sync replicas cannot be had from "
            f"{s.kafka_replication_factor} replicas (ADPLATFORM_KAFKA_MIN_INSYNC_REPLICAS)"
        )


def server_properties(settings: Settings, data_dir: Path) -> str:
    """server_properties is the broker+controller's server.properties, alone or in a quorum."""
    s = settings
    replicas, in_sync = s.kafka_replication_factor, s.kafka_min_insync_replicas
    controllers = (
        {"controller.quorum.voters": s.kafka_controller_quorum}
        if s.kafka_controller_quorum is not None
        else {"controller.quorum.bootstrap.servers": f"{s.host}:{s.kafka_controller_port}"}
    )
    replication = {
        "default.replication.factor": replicas,
        "min.insync.replicas": in_sync,
        "offsets.topic.replication.factor": replicas,
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": in_sync,
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": in_sync,
    }
    lines = {
        "process.roles": "broker,controller",
        "node.id": s.kafka_node_id,
        **controllers,
        "listeners": (
            f"PLAINTEXT://{s.host}:{s.kafka_port},CONTROLLER://{s.host}:{s.kafka_controller_port}"
        ),
        "advertised.listeners": f"PLAINTEXT://{s.host}:{s.kafka_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": data_dir,
        "num.partitions": s.topic_partitions,
        "auto.create.topics.enable": "false",
        "group.initial.rebalance.delay.ms": 0,
        "log.retention.hours": 168,
        **replication,
    }
    return "".join(f"{key}={value}\n" for key, value in lines.items())


def format_arguments(settings: Settings, properties_file: str) -> list[str]:
    """format_arguments are kafka.tools.StorageTool's to format a broker's empty log dir.

    A lone broker is formatted as its own quorum (--standalone) under a fresh cluster id; a
    broker of a cluster under the id they all share, its voters read from the properties.
    """
    fresh = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    cluster_id = settings.kafka_cluster_id or fresh
    standalone = [] if settings.kafka_controller_quorum is not None else ["--standalone"]
    return [
        "format",
        *standalone,
        f"--cluster-id={cluster_id}",  # ids may start with "-"
        f"--config={properties_file}",
        "--ignore-formatted",
    ]


class Kafka(Part):
    """Kafka carries campaign instructions and user feedback between the services."""

    name = "kafka"
    start_timeout = 90.0

    def managed(self) -> bool:
        """managed is true when the stack runs this broker: its own, or a voter at this host."""
        return self.settings.manages_kafka or own_voter(self.settings) is not None

    def ports(self) -> Sequence[int]:
        """ports are the client and controller listeners."""
        return (self.settings.kafka_port, self.settings.kafka_controller_port)

    def endpoint(self) -> str:
        """endpoint is this broker's address, or the bootstrap list of brokers run elsewhere."""
        return f"kafka://{self._address()}"

    def _address(self) -> str:
        """_address is where this part's admin calls go: its own broker, if it runs one."""
        if self.managed():
            return self.settings.local_kafka_bootstrap
        return self.settings.bootstrap_servers

    @property
    def properties_file(self) -> str:
        """properties_file is the broker's generated server.properties."""
        return str(self.state_dir / "server.properties")

    def prepare(self) -> None:
        """prepare writes server.properties and formats the storage once."""
        check_replication(self.settings)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.properties_file, "w") as handle:
            handle.write(server_properties(self.settings, self.state_dir / "data"))
        if (self.state_dir / "data" / "meta.properties").exists():
            return
        result = subprocess.run(
            [
                java_binary(),
                *self._jvm_base(),
                "kafka.tools.StorageTool",
                *format_arguments(self.settings, self.properties_file),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"formatting Kafka storage failed: {result.stdout}{result.stderr}")

    def _jvm_base(self) -> list[str]:
        """_jvm_base is the classpath and logging flags shared by the broker and its tools."""
        logs = self.settings.run_dir / "logs" / "kafka"
        logs.mkdir(parents=True, exist_ok=True)
        return [
            f"-Dlog4j2.configurationFile={DEPLOY_DIR / 'kafka' / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={logs}",
            "-cp",
            os.pathsep.join(str(jar) for jar in classpath("kafka")),
        ]

    def command(self) -> tuple[Sequence[str], Mapping[str, str]]:
        """command runs kafka.Kafka with a small heap: brokers share a 2-core machine."""
        heap = self.settings.kafka_heap
        argv = [
            java_binary(),
            f"-Xmx{heap}",
            f"-Xms{heap}",
            *JVM_FLAGS,
            *self._jvm_base(),
            "kafka.Kafka",
            self.properties_file,
        ]
        return argv, dict(os.environ)

    def _admin(self) -> AdminClient:
        """_admin is an admin client on this part's broker (or the bootstrap servers)."""
        config: dict[str, Any] = {
            "bootstrap.servers": self._address(),
            "socket.timeout.ms": 3000,
            "logger": probes.QUIET,  # refused connections while the broker boots are expected
        }
        return AdminClient(config)

    def healthy(self) -> bool:
        """healthy: our broker answers metadata naming itself live (others: any live broker)."""
        brokers = self._admin().list_topics(timeout=3).brokers
        if self.managed():
            return self.settings.kafka_node_id in brokers
        return len(brokers) > 0

    def after_ready(self) -> None:
        """after_ready creates the platform's topics if they are missing, fully replicated.

        The brokers of a cluster come up side by side; missing topics wait until enough of
        them are registered to hold every replica, rather than failing on the first to be
        ready. Topics that exist need nothing, so a broker rejoining a degraded cluster starts.
        """
        s = self.settings
        admin = self._admin()
        wanted = {
            s.instructions_topic: s.topic_partitions,
            s.feedback_topic: s.topic_partitions,
            s.dead_letter_topic: 1,
        }
        existing = set(admin.list_topics(timeout=10).topics)
        missing = [
            NewTopic(
                topic,
                num_partitions=parts,
                replication_factor=s.kafka_replication_factor,
                config={"min.insync.replicas": str(s.kafka_min_insync_replicas)},
            )
            for topic, parts in wanted.items()
            if topic not in existing
        ]
        if not missing:
            return
        self._await_brokers(admin, s.kafka_replication_factor)
        for topic, future in admin.create_topics(missing, operation_timeout=15).items():
            try:
                future.result()
            except Exception as error:
                if "TOPIC_ALREADY_EXISTS" not in str(error):
                    raise StackError(f"creating Kafka topic {topic} failed: {error}") from error

    def _await_brokers(self, admin: AdminClient, wanted: int) -> None:
        """_await_brokers waits until wanted brokers are registered, or says how many are."""
        registered = 0

        def enough() -> bool:
            nonlocal registered
            registered = len(admin.list_topics(timeout=5).brokers)
            return registered >= wanted

        if not wait_until(enough, BROKERS_SECONDS, interval=0.5):
            raise StackError(
                f"kafka: {registered} of the {wanted} brokers the topics' replicas need "
                f"registered within {BROKERS_SECONDS:.0f} s; are the cluster's other brokers "
                f"running?"
            )
