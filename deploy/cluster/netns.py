"""Netns: the cluster's hosts as Linux network namespaces on one bridge (root only).

`create` makes the bridge (with the gateway address, so this machine's clients reach every
host) and, for each host, a namespace whose eth0 is one end of a veth pair plugged into the
bridge, with the host's address, loopback up and a default route through the gateway. Every
name starts with the topology's bridge name or namespace prefix, so `remove` deletes exactly
what `create` made. A host "fails" by `isolate` (its link goes down: it answers nothing, as a
machine that lost power or network) and comes back with `rejoin`.

Each `ip` command has a timeout; a failure names the command and what it printed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence

from deploy.cluster.topology import Host, Topology
from deploy.stack.errors import StackError

COMMAND_SECONDS = 10.0
STOP_SECONDS = 10.0
LINK_GONE_SECONDS = 2.0


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """_ip runs `ip args...`; with check, a failure raises StackError with its output."""
    argv = ["ip", *args]
    try:
        done = subprocess.run(
            argv, check=False, capture_output=True, text=True, timeout=COMMAND_SECONDS
        )
    except subprocess.TimeoutExpired:
        raise StackError(f"`{' '.join(argv)}` did not finish in {COMMAND_SECONDS:g} s") from None
    if check and done.returncode != 0:
        raise StackError(f"`{' '.join(argv)}` failed: {done.stderr.strip() or done.stdout}")
    return done


def namespaces() -> set[str]:
    """namespaces are the network namespaces of this machine."""
    listed = _ip("netns", "list").stdout.splitlines()
    return {line.split()[0] for line in listed if line.strip()}


def link_exists(name: str) -> bool:
    """link_exists tells whether this (the root) namespace has a link called name."""
    return _ip("link", "show", "dev", name, check=False).returncode == 0


def create(topology: Topology) -> None:
    """create makes the bridge and every host's namespace and link; what exists is kept."""
    if os.geteuid() != 0:
        raise StackError("cluster up needs root: it creates network namespaces and a bridge")
    bridge, gateway = topology.bridge, topology.gateway
    if not link_exists(bridge):
        _ip("link", "add", bridge, "type", "bridge")
        _ip("addr", "add", str(gateway), "dev", bridge)
    _ip("link", "set", bridge, "up")
    existing = namespaces()
    for host in topology.hosts:
        namespace, veth = topology.namespace(host), topology.veth(host)
        if namespace not in existing:
            _ip("netns", "add", namespace)
        if not link_exists(veth):
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", namespace)
            _ip("link", "set", veth, "master", bridge)
            address = f"{host.address}/{gateway.network.prefixlen}"
            _ip("-n", namespace, "addr", "add", address, "dev", "eth0")
        _ip("link", "set", veth, "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        _ip("-n", namespace, "link", "set", "eth0", "up")
        _ip("-n", namespace, "route", "replace", "default", "via", str(gateway.ip))


def pids(namespace: str) -> list[int]:
    """pids are the processes running in namespace (ours: only the cluster starts them there)."""
    done = _ip("netns", "pids", namespace, check=False)
    return [int(pid) for pid in done.stdout.split() if pid.isdigit()]


def stop_processes(namespace: str, grace_seconds: float = STOP_SECONDS) -> list[int]:
    """stop_processes ends whatever still runs in namespace: SIGTERM, then SIGKILL; returns them."""
    found = pids(namespace)
    _signal(found, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while pids(namespace) and time.monotonic() < deadline:
        time.sleep(0.1)
    _signal(pids(namespace), signal.SIGKILL)
    return found


def _signal(targets: Sequence[int], signum: signal.Signals) -> None:
    for pid in targets:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def remove(topology: Topology) -> list[str]:
    """remove deletes every host's namespace and link and the bridge; returns what it removed.

    Processes still running in a namespace are stopped first (they are the cluster's).
    """
    removed: list[str] = []
    existing = namespaces()
    for host in topology.hosts:
        namespace, veth = topology.namespace(host), topology.veth(host)
        if namespace in existing:
            stop_processes(namespace)
            _ip("netns", "del", namespace)
            removed.append(namespace)
        # Deleting the namespace takes its veth pair along, a moment later.
        deadline = time.monotonic() + LINK_GONE_SECONDS
        while link_exists(veth) and time.monotonic() < deadline:
            time.sleep(0.05)
        if link_exists(veth) and _ip("link", "del", veth, check=False).returncode == 0:
            removed.append(veth)
    if link_exists(topology.bridge):
        _ip("link", "del", topology.bridge)
        removed.append(topology.bridge)
    return removed


def isolate(topology: Topology, host: Host) -> None:
    """isolate takes host off the network: its link goes down, its processes keep running."""
    _ip("-n", topology.namespace(host), "link", "set", "eth0", "down")


def rejoin(topology: Topology, host: Host) -> None:
    """rejoin brings host's link back up, with its route."""
    namespace = topology.namespace(host)
    _ip("-n", namespace, "link", "set", "eth0", "up")
    _ip("-n", namespace, "route", "replace", "default", "via", str(topology.gateway.ip))


def reachable(topology: Topology, host: Host) -> bool:
    """reachable tells whether host's link is up (isolate has not taken it down)."""
    done = _ip("-n", topology.namespace(host), "-o", "link", "show", "eth0", check=False)
    flags = done.stdout.partition("<")[2].partition(">")[0].split(",")
    return done.returncode == 0 and "UP" in flags
