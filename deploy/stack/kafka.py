"""A single-node KRaft Kafka broker from Maven Central jars, or existing bootstrap servers."""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from deploy.paths import DEPLOY_DIR
from deploy.stack.errors import StackError
from deploy.stack.java import classpath, java_binary
from deploy.stack.part import Part

_QUIET = logging.getLogger("adplatform.stack.kafka-probe")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False

JVM_FLAGS = (
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
)


class Kafka(Part):
    """Kafka carries campaign instructions and user feedback between the services."""

    name = "kafka"
    start_timeout = 90.0

    def managed(self) -> bool:
        """managed is false when ADPLATFORM_KAFKA_BOOTSTRAP names other brokers."""
        return self.settings.manages_kafka

    def ports(self) -> Sequence[int]:
        """ports are the client and controller listeners."""
        return (self.settings.kafka_port, self.settings.kafka_controller_port)

    def endpoint(self) -> str:
        """endpoint is the bootstrap server list."""
        return f"kafka://{self.settings.bootstrap_servers}"

    @property
    def properties_file(self) -> str:
        """properties_file is the broker's generated server.properties."""
        return str(self.state_dir / "server.properties")

    def _properties(self) -> str:
        """_properties is a one-node broker+controller configuration on loopback."""
        s = self.settings
        single = {
            "offsets.topic.replication.factor": 1,
            "transaction.state.log.replication.factor": 1,
            "transaction.state.log.min.isr": 1,
            "share.coordinator.state.topic.replication.factor": 1,
            "share.coordinator.state.topic.min.isr": 1,
        }
        lines = {
            "process.roles": "broker,controller",
            "node.id": 1,
            "controller.quorum.bootstrap.servers": f"{s.host}:{s.kafka_controller_port}",
            "listeners": (
                f"PLAINTEXT://{s.host}:{s.kafka_port},CONTROLLER://{s.host}:{s.kafka_controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://{s.host}:{s.kafka_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": self.state_dir / "data",
            "num.partitions": s.topic_partitions,
            "auto.create.topics.enable": "false",
            "group.initial.rebalance.delay.ms": 0,
            "log.retention.hours": 168,
            **single,
        }
        return "".join(f"{key}={value}\n" for key, value in lines.items())

    def prepare(self) -> None:
        """prepare writes server.properties and formats the storage once."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.properties_file, "w") as handle:
            handle.write(self._properties())
        if (self.state_dir / "data" / "meta.properties").exists():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        result = subprocess.run(
            [
                java_binary(),
                *self._jvm_base(),
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                f"--cluster-id={cluster_id}",  # ids may start with "-"
                f"--config={self.properties_file}",
                "--ignore-formatted",
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
        """command runs kafka.Kafka with a small heap suited to a 2-core machine."""
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
        """_admin is an admin client on the bootstrap servers."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.settings.bootstrap_servers,
            "socket.timeout.ms": 3000,
            "logger": _QUIET,  # refused connections while the broker boots are expected
        }
        return AdminClient(config)

    def healthy(self) -> bool:
        """healthy asks the broker for cluster metadata."""
        metadata = self._admin().list_topics(timeout=3)
        return len(metadata.brokers) > 0

    def after_ready(self) -> None:
        """after_ready creates the platform's topics if they are missing."""
        s = self.settings
        wanted = {
            s.instructions_topic: s.topic_partitions,
            s.feedback_topic: s.topic_partitions,
            s.dead_letter_topic: 1,
        }
        admin = self._admin()
        existing = set(admin.list_topics(timeout=10).topics)
        missing = [
            NewTopic(topic, num_partitions=parts, replication_factor=1)
            for topic, parts in wanted.items()
            if topic not in existing
        ]
        if not missing:
            return
        for topic, future in admin.create_topics(missing, operation_timeout=15).items():
            try:
                future.result()
            except Exception as error:
                if "TOPIC_ALREADY_EXISTS" not in str(error):
                    raise StackError(f"creating Kafka topic {topic} failed: {error}") from error
