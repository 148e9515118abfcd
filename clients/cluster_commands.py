"""`adplatform cluster`: the platform on hosts of its own (network namespaces) on this machine."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from servers.settings import Settings


def _cluster(args: argparse.Namespace, settings: Settings) -> object:
    from deploy.cluster import launcher, topology

    return launcher.Cluster(topology.load(Path(args.topology)), settings)


def _up(args: argparse.Namespace, settings: Settings) -> int:
    from deploy.cluster import launcher

    seconds = launcher.up(_cluster(args, settings))  # type: ignore[arg-type]
    print(f"cluster up in {seconds:.0f} s; `eval $(adplatform cluster env)` to use it")
    return 0


def _down(args: argparse.Namespace, settings: Settings) -> int:
    from deploy.cluster import launcher

    launcher.down(_cluster(args, settings))  # type: ignore[arg-type]
    return 0


def _status(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console
    from rich.table import Table

    from deploy.cluster import launcher

    cluster = _cluster(args, settings)
    rows = launcher.status(cluster)  # type: ignore[arg-type]
    table = Table("host", "address", "link", "part", "state", "pid", "health", "endpoint")
    for row in rows:
        link = "up" if row.reachable else "[red]down[/]" if row.namespace else "[red]absent[/]"
        if not row.parts:
            table.add_row(row.host.name, row.host.address, link, "-", "-", "-", "-", "")
        for number, part in enumerate(row.parts):
            health = "[green]healthy[/]" if part.healthy else "[red]down[/]"
            first = number == 0
            table.add_row(
                row.host.name if first else "",
                row.host.address if first else "",
                link if first else "",
                part.name,
                part.state.lower(),
                str(part.pid or "-"),
                health,
                part.endpoint,
            )
    Console().print(table)
    healthy = all(row.reachable and all(part.healthy for part in row.parts) for row in rows)
    return 0 if healthy else 3


def _env(args: argparse.Namespace, settings: Settings) -> int:
    from deploy.cluster import launcher

    for name, value in launcher.exports(_cluster(args, settings)).items():  # type: ignore[arg-type]
        print(f"export {name}={shlex.quote(value)}")
    return 0


def register(areas: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """register adds the cluster commands."""
    from deploy.cluster.topology import DEFAULT_FILE

    cluster = areas.add_parser(
        "cluster", help="run the platform on hosts of its own (network namespaces, root)"
    ).add_subparsers(dest="command", required=True)
    for name, handler, text in (
        ("up", _up, "create the hosts and start every part on them"),
        ("down", _down, "stop every part and remove the hosts, links and bridge"),
        ("status", _status, "show each host's link and parts"),
        ("env", _env, "print export lines that point client commands at the cluster"),
    ):
        command = cluster.add_parser(name, help=text)
        command.add_argument(
            "--topology", default=str(DEFAULT_FILE), help=f"topology file (default {DEFAULT_FILE})"
        )
        command.set_defaults(handler=handler)
