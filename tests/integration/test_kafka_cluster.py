"""Three brokers of one KRaft cluster: every record survives a broker's crash, once each.

Three combined broker+controller Kafka parts (three voters) run on 127.0.0.1 with ports of
their own, each in a run directory of its own, started through the Part API as `cluster up`
starts them. The platform's topics must have three replicas, two of which acknowledge each
acks=all write. A producer keeps sending keyed records and a consumer group keeps reading
them while one broker is SIGKILLed (and kept down, as a lost host would be); every record
must be read exactly once, and the broker must rejoin every ISR once it is started again.

Run: .venv/bin/pytest -s -m cluster tests/integration/test_kafka_cluster.py (-s shows the
start, stall and rejoin times it measures).
"""

from __future__ import annotations

import base64
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    ConfigResource,
    ResourceType,
)

from deploy.stack.kafka import Kafka
from deploy.stack.net import free_port
from deploy.stack.process import alive
from servers.messaging.publisher import producer_config
from servers.settings import Settings
from tests.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

# Clients log each refused connection to the killed broker; the test reports what matters.
QUIET = logging.getLogger("adplatform.tests.kafka-cluster")
QUIET.addHandler(logging.NullHandler())
QUIET.propagate = False

BROKERS = 3
PARTITIONS = 3
BEFORE_KILL = 1000  # records delivered before the crash
AFTER_RECOVERY = 500  # records delivered after every partition took writes again
SEND_INTERVAL = 0.002  # seconds the producer serves delivery reports between two sends
RECOVERY_SECONDS = 90.0  # session timeout (9 s), a new controller and leaders, on a busy host
REJOIN_SECONDS = 120.0


@dataclass
class Cluster:
    """Cluster is the three brokers, their shared bootstrap list and how long they took."""

    brokers: list[Kafka]
    bootstrap: str
    start_seconds: float

    @property
    def settings(self) -> Settings:
        """settings are the first broker's (topic names and replication are the same on all)."""
        return self.brokers[0].settings

    def admin(self) -> AdminClient:
        """admin is an admin client on all three brokers."""
        return AdminClient({"bootstrap.servers": self.bootstrap, "socket.timeout.ms": 3000})

    def topics(self) -> list[str]:
        """topics are the platform's topics the brokers create."""
        s = self.settings
        return [s.instructions_topic, s.feedback_topic, s.dead_letter_topic]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """cluster is three running brokers of one quorum on loopback; stopped afterwards."""
    tmp_path = tmp_path_factory.mktemp("kafka-cluster")
    ports = [(free_port(), free_port()) for _ in range(BROKERS)]
    quorum = ",".join(f"{node}@127.0.0.1:{ctl}" for node, (_, ctl) in enumerate(ports, start=1))
    bootstrap = ",".join(f"127.0.0.1:{port}" for port, _ in ports)
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    brokers = [
        Kafka(
            Settings(
                run_dir=tmp_path / f"broker-{node}",
                kafka_node_id=node,
                kafka_port=port,
                kafka_controller_port=controller,
                kafka_controller_quorum=quorum,
                kafka_cluster_id=cluster_id,
                kafka_replication_factor=3,
                kafka_min_insync_replicas=2,
                kafka_bootstrap=bootstrap,
                kafka_heap="256m",
                topic_partitions=PARTITIONS,
            )
        )
        for node, (port, controller) in enumerate(ports, start=1)
    ]
    begun = time.monotonic()
    try:
        for broker in brokers:  # side by side: no broker's quorum is complete alone
            broker.start()
        for broker in brokers:
            broker.wait_ready()
        yield Cluster(brokers, bootstrap, time.monotonic() - begun)
    finally:
        for broker in brokers:
            broker.process.stop()


class Worker:
    """Worker is a test client running on a thread of its own until it is told to stop."""

    stopping: threading.Event
    thread: threading.Thread | None = None

    def run(self) -> None:
        """run is the client's loop; it returns soon after stopping is set."""
        raise NotImplementedError

    def start(self) -> None:
        """start runs the client on its thread."""
        self.thread = threading.Thread(target=self.run, name=type(self).__name__, daemon=True)
        self.thread.start()

    def stop(self, timeout: float = 150.0) -> bool:
        """stop tells the client to stop and waits; True when it has ended."""
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout)
        return self.thread is None or not self.thread.is_alive()


@dataclass
class Traffic(Worker):
    """Traffic sends numbered keyed records at a steady pace and notes when each is delivered."""

    bootstrap: str
    topic: str
    sent: dict[str, float] = field(default_factory=dict)  # key: when it was sent
    delivered: dict[str, tuple[int, float]] = field(default_factory=dict)  # key: partition, when
    failures: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        """run produces until stopping is set, then delivers what is queued."""
        config = producer_config(
            self.bootstrap, "cluster-test", **{"message.timeout.ms": 120_000, "logger": QUIET}
        )
        producer = Producer(config)
        number = 0
        while not self.stopping.is_set() and number < 1_000_000:
            key = f"key-{number:07d}"
            self.sent[key] = time.monotonic()
            producer.produce(self.topic, key=key, value=_value(key), on_delivery=self._report)
            producer.poll(SEND_INTERVAL)
            number += 1
        producer.flush(120)

    def _report(self, error: KafkaError | None, message: Message) -> None:
        key = (message.key() or b"").decode()
        if error is not None:
            self.failures.append(f"{key}: {error.str()}")
        else:
            self.delivered[key] = (message.partition() or 0, time.monotonic())

    def longest_wait(self) -> float:
        """longest_wait is the most seconds any record waited for its acknowledgement."""
        return max(at - self.sent[key] for key, (_, at) in self.delivered.items())

    def delivered_since(self, moment: float) -> dict[int, float]:
        """delivered_since maps each partition to its first delivery of a record sent after."""
        first: dict[int, float] = {}
        for key, (partition, at) in list(self.delivered.items()):
            if self.sent[key] > moment:
                first[partition] = min(at, first.get(partition, at))
        return first


@dataclass
class Reader(Worker):
    """Reader is a consumer group member on the three brokers noting every record it reads.

    Offsets are committed after each batch, before the next is read, so a rebalance or a
    coordinator moving to another broker resumes exactly after what was read.
    """

    bootstrap: str
    topic: str
    read: list[tuple[str, bytes]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        """run reads until stopping is set."""
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": "cluster-test",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "logger": QUIET,
            }
        )
        consumer.subscribe([self.topic])
        try:
            while not self.stopping.is_set():
                batch = consumer.consume(500, timeout=0.2)
                for message in batch:
                    if message.error() is not None:
                        self.errors.append(str(message.error()))
                        continue
                    self.read.append(((message.key() or b"").decode(), message.value() or b""))
                if batch:
                    self._commit(consumer)
        finally:
            consumer.close()

    def _commit(self, consumer: Consumer) -> None:
        """_commit commits the batch just read, retrying while its coordinator moves."""
        deadline = time.monotonic() + RECOVERY_SECONDS
        while True:
            try:
                consumer.commit(asynchronous=False)
                return
            except KafkaException as error:
                if time.monotonic() > deadline:
                    self.errors.append(f"commit: {error}")
                    return
                time.sleep(0.2)  # a retry's pause, not a synchronisation


def _value(key: str) -> bytes:
    return f"value of {key}".encode()


def _partitions(admin: AdminClient, topics: list[str]) -> list[tuple[str, int, list[int]]]:
    """_partitions lists every partition of topics with its replicas."""
    metadata = admin.list_topics(timeout=10)
    return [
        (topic, number, list(partition.replicas))
        for topic in topics
        for number, partition in metadata.topics[topic].partitions.items()
    ]


def _in_sync(admin: AdminClient, topics: list[str]) -> list[list[int]]:
    """_in_sync lists the in-sync replicas of every partition of topics."""
    metadata = admin.list_topics(timeout=10)
    return [
        sorted(partition.isrs)
        for topic in topics
        for partition in metadata.topics[topic].partitions.values()
    ]


def _min_insync(admin: AdminClient, topic: str) -> str:
    resource = ConfigResource(ResourceType.TOPIC, topic)
    configs = admin.describe_configs([resource])[resource].result(timeout=10)
    return str(configs["min.insync.replicas"].value)


def _leader(admin: AdminClient, topic: str, partition: int) -> int:
    return int(admin.list_topics(topic, timeout=10).topics[topic].partitions[partition].leader)


def test_three_brokers_hold_each_topic_in_three_replicas_two_in_sync(cluster: Cluster) -> None:
    print(f"\n{BROKERS} brokers ready, topics created, in {cluster.start_seconds:.1f} s")
    admin = cluster.admin()
    assert len(admin.list_topics(timeout=10).brokers) == BROKERS
    for topic, partition, replicas in _partitions(admin, cluster.topics()):
        assert sorted(replicas) == [1, 2, 3], (topic, partition)
    assert all(isr == [1, 2, 3] for isr in _in_sync(admin, cluster.topics()))
    for topic in cluster.topics():
        assert _min_insync(admin, topic) == "2", topic
    cluster.brokers[1].after_ready()  # a second broker's topic set-up finds them: no error


def test_a_broker_crash_loses_and_repeats_no_record(cluster: Cluster) -> None:
    config = producer_config(cluster.bootstrap, "probe")
    assert config["acks"] == "all" and config["enable.idempotence"] is True
    topic = cluster.settings.instructions_topic
    traffic = Traffic(cluster.bootstrap, topic)
    reader = Reader(cluster.bootstrap, topic)
    admin = cluster.admin()
    traffic.start()
    reader.start()
    try:
        eventually(lambda: len(traffic.delivered) >= BEFORE_KILL, timeout=60)
        leader = _leader(admin, topic, 0)
        victim = next(b for b in cluster.brokers if b.settings.kafka_node_id == leader)
        killed_at = _crash(victim)
        recovery = _writable_again(traffic, killed_at)
        eventually(
            lambda: all(isr == sorted({1, 2, 3} - {leader}) for isr in _in_sync(admin, [topic])),
            timeout=RECOVERY_SECONDS,
        )
        print(
            f"\nbroker {leader} killed; acks=all writes to every partition again after"
            f" {recovery:.1f} s, from the two in-sync replicas left"
        )
        survivor = next(b for b in cluster.brokers if b is not victim)
        survivor.after_ready()  # the topics exist: a degraded cluster's set-up does not wait
        recovered = len(traffic.delivered)
        eventually(lambda: len(traffic.delivered) >= recovered + AFTER_RECOVERY, timeout=60)
        eventually(lambda: len(reader.read) >= recovered, timeout=60)  # reading went on too

        restarted_at = time.monotonic()
        victim.start()
        victim.wait_ready()
        ready = time.monotonic() - restarted_at
        eventually(
            lambda: all(isr == [1, 2, 3] for isr in _in_sync(admin, cluster.topics())),
            timeout=REJOIN_SECONDS,
            interval=0.5,
        )
        print(
            f"broker {leader} restarted: healthy after {ready:.1f} s, back in every ISR"
            f" after {time.monotonic() - restarted_at:.1f} s"
        )
        assert traffic.stop(), "the producer did not deliver what it had queued"
        eventually(lambda: len(reader.read) >= len(traffic.delivered), timeout=60)
    finally:
        traffic.stop()
        reader.stop()
    print(
        f"{len(traffic.sent)} records sent; longest wait for an ack {traffic.longest_wait():.1f} s"
    )
    assert not traffic.failures, traffic.failures[:5]
    assert len(traffic.delivered) == len(traffic.sent)
    keys = [key for key, _ in reader.read]
    assert len(keys) == len(set(keys)), "records read twice"
    assert set(keys) == set(traffic.sent), "records lost"
    assert all(value == _value(key) for key, value in reader.read)
    assert not reader.errors, reader.errors[:5]
    offsets = _partitions(admin, ["__consumer_offsets"])
    assert offsets and all(len(replicas) == BROKERS for _, _, replicas in offsets)


def _crash(victim: Kafka) -> float:
    """_crash SIGKILLs a broker and keeps it down, as a lost host; returns when it died."""
    pid = victim.process.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    killed_at = time.monotonic()
    victim.process.stop()  # else supervisord starts it again at once
    assert victim.process.pid() is None and not alive(pid)
    return killed_at


def _writable_again(traffic: Traffic, killed_at: float) -> float:
    """_writable_again waits until every partition acknowledged a record sent after the crash."""

    def first_deliveries() -> dict[int, float]:
        first = traffic.delivered_since(killed_at)
        return first if len(first) == PARTITIONS else {}

    first = eventually(first_deliveries, timeout=RECOVERY_SECONDS, interval=0.1)
    return max(first.values()) - killed_at
