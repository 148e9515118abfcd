"""The cluster launcher behind `adplatform cluster up | down | status | env`.

Each host of the topology (deploy/cluster/topology.py) is a network namespace (netns.py) with
its own run directory under cluster_dir/hosts/<name> and its own supervisord, started inside
the namespace, which runs that host's parts and restarts them when they exit, as systemd would
on a machine of its own. The parts are the local stack's (deploy/stack/): each gets the host's
settings (its address, where the engines on other hosts are), so the code that runs on one
machine is the code that runs on the cluster. `up` brings the roles up stage by stage
(topology.STAGES), applying the schema once the primary MariaDB answers; `down` stops every
part, then removes the namespaces, their links and the bridge.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql

from deploy.cluster import netns
from deploy.cluster.topology import STAGES, Host, Topology, client_settings, host_settings
from deploy.stack.envoy import Envoy
from deploy.stack.errors import StackError
from deploy.stack.kafka import Kafka
from deploy.stack.launcher import PartStatus
from deploy.stack.mariadb import MariaDB, MariaDBReplica
from deploy.stack.metastore import Metastore
from deploy.stack.part import Part
from deploy.stack.services import (
    AdManagerProcess,
    AdServerProcess,
    CampaignServer,
    FeedbackServer,
)
from deploy.stack.spark_cluster import SparkMaster, SparkWorker
from deploy.stack.spark_jobs import FeedbackWriter
from servers.settings import LOCAL_MYSQL_PASSWORD, LOCAL_MYSQL_USER, Settings
from servers.storage import migrate

Report = Callable[[str], None]


# The part each role runs, built from its host's settings.
PARTS: dict[str, Callable[[Settings], Part]] = {
    "kafka": Kafka,
    "mariadb": MariaDB,
    "mariadb-replica": MariaDBReplica,
    "metastore": Metastore,
    "spark-master": SparkMaster,
    "spark-worker": SparkWorker,
    "campaign-service": CampaignServer,
    "ad-manager": AdManagerProcess,
    "adserver": AdServerProcess,
    "feedback-service": FeedbackServer,
    "feedback-writer": FeedbackWriter,
    "envoy": Envoy,
}


@dataclass(frozen=True)
class HostStatus:
    """HostStatus is one host of `cluster status`: its link and its parts."""

    host: Host
    namespace: bool  # its namespace exists
    reachable: bool  # its link is up
    parts: list[PartStatus]


@dataclass(frozen=True)
class Cluster:
    """Cluster is a topology brought up on this machine, with its state under directory."""

    topology: Topology
    base: Settings

    @property
    def directory(self) -> Path:
        """directory holds every host's run directory and the cluster's shared storage."""
        return self.base.cluster_dir

    def cluster_id(self) -> str:
        """cluster_id is the Kafka cluster id every broker is formatted with, made once."""
        record = self.directory / "cluster.json"
        if record.exists():
            return str(json.loads(record.read_text())["kafka_cluster_id"])
        self.directory.mkdir(parents=True, exist_ok=True)
        made = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        record.write_text(json.dumps({"kafka_cluster_id": made}))
        return made

    def settings(self, host: Host) -> Settings:
        """settings are the settings of host's parts."""
        return host_settings(self.topology, host, self.base, self.directory, self.cluster_id())

    def client(self) -> Settings:
        """client is what client commands use to reach the cluster (`cluster env`)."""
        return client_settings(self.topology, self.base, self.directory)

    def part(self, host: Host, role: str) -> Part:
        """part is the part of role on host."""
        if role not in host.roles:
            raise StackError(f"{host.name} has no role {role!r} (roles: {', '.join(host.roles)})")
        return PARTS[role](self.settings(host))

    def parts(self, host: Host) -> list[Part]:
        """parts are host's parts in start order."""
        return [self.part(host, role) for stage in STAGES for role in stage if role in host.roles]

    def staged(self) -> Iterator[list[tuple[Host, Part]]]:
        """staged yields, stage by stage, every host's parts of that stage."""
        for stage in STAGES:
            yield [
                (host, self.part(host, role))
                for role in stage
                for host in self.topology.with_role(role)
            ]


def up(cluster: Cluster, report: Report = print) -> float:
    """up creates the hosts and starts whatever is not running; returns the seconds it took."""
    started = time.monotonic()
    netns.create(cluster.topology)
    report(f"{'network':<26} {cluster.topology.bridge} {cluster.topology.gateway}")
    for number, stage in enumerate(cluster.staged()):
        if number == 2:  # the primary answers: bring its schema to the newest version
            migrate.upgrade(cluster.client().database_url)
            report(f"{'schema':<26} migrations applied")
        starting = [(host, part) for host, part in stage if not part.process.running()]
        for _, part in starting:
            part.start()
        for host, part in stage:
            part.wait_ready()
            if isinstance(part, MariaDB):
                _admit_hosts(cluster, part)
            origin = "started" if (host, part) in starting else "running"
            report(f"{host.name + '/' + part.name:<26} {origin:<8} {part.endpoint()}")
    return time.monotonic() - started


def _admit_hosts(cluster: Cluster, server: MariaDB) -> None:
    """_admit_hosts lets the platform's user connect from every host of the cluster's subnet."""
    network = cluster.topology.gateway.network
    who = f"'{LOCAL_MYSQL_USER}'@'{network.network_address}/{network.netmask}'"
    database = server.settings.mysql_database
    statements = [
        f"CREATE USER IF NOT EXISTS {who} IDENTIFIED BY '{LOCAL_MYSQL_PASSWORD}'",
        f"GRANT ALL PRIVILEGES ON `{database}`.* TO {who}",
        f"GRANT SLAVE MONITOR ON *.* TO {who}",  # the replica's lag, for lag-tolerant reads
    ]
    connection = pymysql.connect(
        unix_socket=server.socket_path, user="root", password="", connect_timeout=5
    )
    with connection, connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def down(cluster: Cluster, report: Report = print) -> None:
    """down stops every part, newest first, then removes the namespaces, links and bridge."""
    existing = netns.namespaces()
    for stage in reversed(list(cluster.staged())):
        for host, part in reversed(stage):
            if cluster.topology.namespace(host) in existing and part.process.stop():
                report(f"{host.name + '/' + part.name:<26} stopped")
    for name in netns.remove(cluster.topology):
        report(f"{name:<26} removed")


def status(cluster: Cluster) -> list[HostStatus]:
    """status reports each host's link and each of its parts' process and health."""
    existing = netns.namespaces()
    rows = []
    for host in cluster.topology.hosts:
        present = cluster.topology.namespace(host) in existing
        reachable = present and netns.reachable(cluster.topology, host)
        parts = [_part_status(part) for part in cluster.parts(host)] if present else []
        rows.append(HostStatus(host, present, reachable, parts))
    return rows


def _part_status(part: Part) -> PartStatus:
    info = part.process.info()
    pid = part.process.pid()
    return PartStatus(
        name=part.name,
        managed=True,
        pid=pid,
        healthy=pid is not None and part._answers(),
        endpoint=part.endpoint(),
        state=part.process.state(),
        started_at=info.started_at if info else None,
    )


def exports(cluster: Cluster) -> dict[str, str]:
    """exports are `cluster env`'s variables: `stack env`'s, pointing at the cluster."""
    return cluster.client().exports() | {"ADPLATFORM_CLUSTER_DIR": str(cluster.directory)}
