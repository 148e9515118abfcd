"""Chaos on a cluster (`adplatform chaos --cluster`): the stack's run, with host failures.

ClusterStack is inject.Stack for `adplatform cluster up`: its parts are named
``<host>/<part>`` (a `cluster status` row), found through each host's own supervisord, and a
host can be taken off the network (netns.isolate) and brought back. The run itself
(clients/chaos/run.py) is the same: steady traffic through Envoy, the faults one after
another, then the books.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from clients.chaos.inject import Stack
from deploy.cluster import launcher, netns
from deploy.cluster.launcher import Cluster
from deploy.stack.part import Part
from servers.settings import Settings


class ClusterStack(Stack):
    """ClusterStack is the running cluster's parts by ``host/part`` name."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.settings: Settings = cluster.client()
        self.parts: dict[str, Part] = {
            f"{host.name}/{part.name}": part
            for host in cluster.topology.hosts
            for part in cluster.parts(host)
        }

    def unhealthy(self) -> list[str]:
        """unhealthy names the parts not running and healthy now, and the hosts not reachable."""
        sick = []
        for row in launcher.status(self.cluster):
            if not row.reachable:
                sick.append(row.host.name)
            sick += [f"{row.host.name}/{part.name}" for part in row.parts if not part.healthy]
        return sick

    @contextlib.contextmanager
    def isolated(self, name: str) -> Iterator[None]:
        """isolated keeps the host of part `name` off the network until the block ends."""
        host = self.cluster.topology.host(name.partition("/")[0])
        netns.isolate(self.cluster.topology, host)
        try:
            yield
        finally:
            netns.rejoin(self.cluster.topology, host)
