"""Topology: the hosts of `adplatform cluster up`, their roles, and each host's settings.

A topology file (deploy/cluster/topology.toml is the default) names a bridge and hosts; each
host is a network namespace with one address on that bridge and a list of roles. This module
reads and checks the file and derives, without touching the machine, the Settings every host's
parts run with: its own address and namespace, and where the engines on other hosts are
(Kafka's voters and bootstrap list, the MariaDB primary and replica, the metastore, the Spark
master, the serving hosts behind Envoy). Clients get the settings of `cluster env`.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deploy.paths import DEPLOY_DIR
from deploy.stack.errors import StackError
from servers.settings import LOCAL_MYSQL_PASSWORD, LOCAL_MYSQL_USER, Settings

DEFAULT_FILE = DEPLOY_DIR / "cluster" / "topology.toml"

# Roles, in the order their parts start; a role's part needs those of earlier stages.
STAGES: tuple[tuple[str, ...], ...] = (
    ("kafka", "mariadb", "metastore", "spark-master"),
    ("mariadb-replica", "spark-worker"),
    ("campaign-service", "ad-manager", "adserver", "feedback-service", "feedback-writer"),
    ("envoy",),
)
ROLES = frozenset(role for stage in STAGES for role in stage)
# Roles of which a cluster has exactly one, and roles it needs at least one of.
SINGLE = ("mariadb", "metastore", "spark-master", "campaign-service", "envoy", "feedback-writer")
REQUIRED = (
    *("kafka", "mariadb", "metastore", "campaign-service", "ad-manager", "adserver"),
    *("feedback-service", "feedback-writer", "envoy"),
)
MAX_HOSTS = 64
_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}")
_DEVICE = re.compile(r"[A-Za-z0-9_.-]{1,10}")  # a Linux interface name has at most 15 bytes


class TopologyError(StackError):
    """TopologyError says what is wrong with a topology file, naming the field."""


@dataclass(frozen=True)
class Host:
    """Host is one machine of the cluster: a namespace, an address and its roles."""

    name: str
    address: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Topology:
    """Topology is the bridge and the hosts of one cluster."""

    bridge: str
    gateway: ipaddress.IPv4Interface  # the bridge's address and the hosts' subnet
    namespace_prefix: str
    hosts: tuple[Host, ...]

    def namespace(self, host: Host) -> str:
        """namespace is the network namespace host runs in."""
        return f"{self.namespace_prefix}{host.name}"

    def veth(self, host: Host) -> str:
        """veth is the bridge side of host's link (the host side is eth0 in its namespace)."""
        return f"{self.bridge}-{self.hosts.index(host)}"

    def with_role(self, role: str) -> list[Host]:
        """with_role lists the hosts that run role, in file order."""
        return [host for host in self.hosts if role in host.roles]

    def one(self, role: str) -> Host:
        """one is the host of a role a cluster has exactly one of."""
        return self.with_role(role)[0]

    def host(self, name: str) -> Host:
        """host is the host called name."""
        for host in self.hosts:
            if host.name == name:
                return host
        raise TopologyError(f"no host named {name!r}; hosts: {', '.join(self.names())}")

    def names(self) -> list[str]:
        """names are the hosts' names, in file order."""
        return [host.name for host in self.hosts]


def load(path: Path = DEFAULT_FILE) -> Topology:
    """load reads and checks a topology file."""
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise TopologyError(f"{path}: {error}") from None
    return parse(document)


def parse(document: Mapping[str, Any]) -> Topology:
    """parse checks a topology document (the TOML as a mapping) and builds the Topology."""
    network = _table(document, "network")
    bridge = _text(network, "bridge", "network.bridge")
    if not _DEVICE.fullmatch(bridge):
        raise TopologyError("network.bridge: 1-10 letters, digits, . _ or -")
    text = _text(network, "gateway", "network.gateway")
    try:
        gateway = ipaddress.IPv4Interface(text)
    except ValueError:
        raise TopologyError(
            "network.gateway: an IPv4 address with its prefix, like 10.77.0.1/24"
        ) from None
    if gateway.network.prefixlen > 30 or gateway.ip in (
        gateway.network.network_address,
        gateway.network.broadcast_address,
    ):
        raise TopologyError("network.gateway: a host address of a subnet of at least 4 addresses")
    if gateway.ip.is_loopback or not gateway.ip.is_private:
        raise TopologyError("network.gateway: a private address (10/8, 172.16/12, 192.168/16)")
    prefix = _text(network, "namespace_prefix", "network.namespace_prefix")
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,15}", prefix):
        raise TopologyError("network.namespace_prefix: 1-16 lower-case letters, digits or -")
    rows = document.get("hosts")
    if not isinstance(rows, list) or not rows or len(rows) > MAX_HOSTS:
        raise TopologyError(f"hosts: a list of 1-{MAX_HOSTS} [[hosts]] tables")
    hosts = tuple(_host(row, index, gateway) for index, row in enumerate(rows))
    _check_unique(hosts, gateway)
    _check_roles(hosts)
    return Topology(bridge, gateway, prefix, hosts)


def _table(document: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = document.get(key)
    if not isinstance(value, Mapping):
        raise TopologyError(f"{key}: a [{key}] table is required")
    return value


def _text(table: Mapping[str, Any], key: str, path: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise TopologyError(f"{path}: a non-empty string is required")
    return value


def _host(row: Any, index: int, gateway: ipaddress.IPv4Interface) -> Host:
    """_host checks one [[hosts]] table."""
    where = f"hosts[{index}]"
    if not isinstance(row, Mapping):
        raise TopologyError(f"{where}: a table is required")
    unknown = set(row) - {"name", "address", "roles"}
    if unknown:
        raise TopologyError(f"{where}.{sorted(unknown)[0]}: not a host field")
    name = _text(row, "name", f"{where}.name")
    if not _NAME.fullmatch(name):
        raise TopologyError(f"{where}.name: 1-31 lower-case letters, digits or -, from a letter")
    text = _text(row, "address", f"{where}.address")
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError:
        raise TopologyError(f"{where}.address: an IPv4 address") from None
    if address not in gateway.network or address in (
        gateway.network.network_address,
        gateway.network.broadcast_address,
    ):
        raise TopologyError(f"{where}.address: a host address in {gateway.network}")
    roles = row.get("roles")
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        raise TopologyError(f"{where}.roles: a non-empty list of role names")
    for number, role in enumerate(roles):
        if role not in ROLES:
            raise TopologyError(
                f"{where}.roles[{number}]: {role[:40]!r} is not one of {', '.join(sorted(ROLES))}"
            )
    if len(set(roles)) != len(roles):
        raise TopologyError(f"{where}.roles: a role is listed twice")
    return Host(name, str(address), tuple(roles))


def _check_unique(hosts: Sequence[Host], gateway: ipaddress.IPv4Interface) -> None:
    seen_names: set[str] = set()
    seen_addresses = {str(gateway.ip)}
    for index, host in enumerate(hosts):
        if host.name in seen_names:
            raise TopologyError(f"hosts[{index}].name: {host.name!r} is used twice")
        if host.address in seen_addresses:
            raise TopologyError(f"hosts[{index}].address: {host.address} is used twice")
        seen_names.add(host.name)
        seen_addresses.add(host.address)


def _check_roles(hosts: Sequence[Host]) -> None:
    count = {role: sum(role in host.roles for host in hosts) for role in ROLES}
    for role in REQUIRED:
        if count[role] == 0:
            raise TopologyError(f"hosts: no host has the role {role!r}")
    for role in SINGLE:
        if count[role] > 1:
            raise TopologyError(f"hosts: {count[role]} hosts have the role {role!r}; one may")
    if count["mariadb-replica"] > 1:
        raise TopologyError("hosts: at most one host has the role 'mariadb-replica'")
    if count["spark-worker"] and not count["spark-master"]:
        raise TopologyError("hosts: spark-worker hosts need a host with the role 'spark-master'")
    if count["kafka"] not in (1, 3, 5):
        raise TopologyError("hosts: 1, 3 or 5 hosts have the role 'kafka' (a KRaft quorum)")
    for host in hosts:
        if "mariadb" in host.roles and "mariadb-replica" in host.roles:
            raise TopologyError(f"hosts: {host.name} cannot hold both the primary and replica")


# Settings --------------------------------------------------------------------------------


def cluster_settings(topology: Topology, base: Settings, cluster_dir: Path) -> dict[str, Any]:
    """cluster_settings are the settings every host and client of the cluster shares."""
    kafka = topology.with_role("kafka")
    voters = ",".join(
        f"{number}@{host.address}:{base.kafka_controller_port}"
        for number, host in enumerate(kafka, start=1)
    )
    db = topology.one("mariadb")
    shared: dict[str, Any] = {
        "mysql_url": (
            f"mysql+pymysql://{LOCAL_MYSQL_USER}:{LOCAL_MYSQL_PASSWORD}"
            f"@{db.address}:{base.mysql_port}/{base.mysql_database}"
        ),
        "kafka_bootstrap": ",".join(f"{host.address}:{base.kafka_port}" for host in kafka),
        "kafka_controller_quorum": voters,
        "kafka_replication_factor": min(3, len(kafka)),
        "kafka_min_insync_replicas": min(2, len(kafka)),
        "metastore_host": topology.one("metastore").address,
        "spark_storage_dir": cluster_dir / "shared",
    }
    replicas = topology.with_role("mariadb-replica")
    if replicas:
        shared["mysql_replica_url"] = (
            f"mysql+pymysql://{LOCAL_MYSQL_USER}:{LOCAL_MYSQL_PASSWORD}"
            f"@{replicas[0].address}:{base.mysql_replica_port}/{base.mysql_database}"
        )
    if topology.with_role("spark-master"):
        master = topology.one("spark-master")
        shared["spark_master"] = f"spark://{master.address}:{base.spark_master_port}"
    return shared


def host_settings(
    topology: Topology, host: Host, base: Settings, cluster_dir: Path, cluster_id: str
) -> Settings:
    """host_settings are the settings of the parts on host."""
    update = cluster_settings(topology, base, cluster_dir)
    update |= {
        "host": host.address,
        "netns": topology.namespace(host),
        "run_dir": cluster_dir / "hosts" / host.name,
        "kafka_cluster_id": cluster_id,
    }
    kafka = topology.with_role("kafka")
    if host in kafka:
        update["kafka_node_id"] = kafka.index(host) + 1
    if "mariadb-replica" in host.roles:
        update["mysql_server_id"] = 2
    if "envoy" in host.roles:  # Envoy balances over every serving host
        update |= _server_addresses(topology, base)
    return base.model_copy(update=update)


def client_settings(topology: Topology, base: Settings, cluster_dir: Path) -> Settings:
    """client_settings are what `cluster env` exports: every client command reaches the cluster.

    Devices and clients go through Envoy (host and envoy_port are the edge's); gRPC clients of
    the AdServer and FeedbackService dial Envoy too, which balances them over the serving
    hosts, and campaign managers' gRPC clients dial the CampaignService's host. The run
    directory is the edge host's: its Envoy checks the tokens minted from the keys there.
    A client's own Spark jobs (the report, the books) run in local mode and read the shared
    metastore: the standalone cluster's cores belong to the feedback writer.
    """
    edge = topology.one("envoy")
    front = f"{edge.address}:{base.envoy_port}"
    update = cluster_settings(topology, base, cluster_dir)
    update.pop("spark_master", None)
    update |= {
        "host": edge.address,
        "run_dir": cluster_dir / "hosts" / edge.name,
        "campaign_addr": f"{topology.one('campaign-service').address}:{base.campaign_port}",
        "adserver_addr": front,
        "feedback_addr": front,
    }
    return base.model_copy(update=update)


def _server_addresses(topology: Topology, base: Settings) -> dict[str, str]:
    """_server_addresses are the *_addr lists Envoy's clusters are built from."""

    def addresses(role: str, port: int) -> str:
        return ",".join(f"{host.address}:{port}" for host in topology.with_role(role))

    return {
        "campaign_addr": addresses("campaign-service", base.campaign_port),
        "adserver_addr": addresses("adserver", base.adserver_port),
        "feedback_addr": addresses("feedback-service", base.feedback_port),
    }
