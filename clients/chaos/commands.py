"""`adplatform chaos`: kill and freeze the stack's parts under load, then prove the books.

    adplatform chaos                       # every fault, default holds (about 12 minutes)
    adplatform chaos --short               # CI: a worker kill, a MySQL freeze, a Kafka outage
    adplatform chaos --faults kafka,envoy --rate 30 --json

Run it on a running stack (`adplatform stack up`) that nothing else is using: it kills its
parts. Nothing here restarts a part; the stack's supervision must. Exit status: 0 when every
invariant held, 1 when one failed (the table says which), 2 for a fault list it cannot run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from servers.settings import Settings

# Measured on the 2-core test machine with the whole stack on it (docs/reliability.md): one
# ad (serve + feedback through Envoy, charged, archived) costs ~24 ms CPU between the device
# client (~6 ms) and the serving path (~18 ms), on top of the Spark writer's ~0.4 core; that
# leaves room for ~60 ads/s with the machine to itself. 25 ads/s (50 requests/s) keeps the
# headroom that retries after a fault and a restarting JVM take.
DEFAULT_RATE = 25.0
TABLE_WIDTH = 150


def _chaos(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console

    from clients.chaos import inject, plan, render
    from clients.chaos.run import Options, chaos

    known = plan.CLUSTER_NAMES if args.cluster else plan.NAMES
    try:
        names = plan.parse_names(args.faults, known) if args.faults else None
        holds = {
            "mariadb-freeze": args.mysql_freeze,
            "kafka-outage": args.kafka_outage,
            "serving-host": args.host_outage,
            "mariadb-replica": args.host_outage,
        }
        chosen = plan.plan(
            names,
            short=args.short,
            holds={name: hold for name, hold in holds.items() if hold is not None},
            cluster=args.cluster,
        )
    except plan.PlanError as error:
        print(f"adplatform chaos: {error}", file=sys.stderr)
        return 2
    options = Options(
        rate=args.rate,
        concurrency=args.concurrency,
        instruction_rate=args.instruction_rate,
        lead=args.lead if args.lead is not None else (5.0 if args.short else 15.0),
        settle=args.settle if args.settle is not None else (5.0 if args.short else 15.0),
        recovery_timeout=args.recovery_timeout,
        drain_timeout=args.drain_timeout,
        seed=args.seed,
    )
    console = Console(stderr=args.json)
    if not console.is_terminal:  # a log or CI: wide enough that the tables keep their rows
        console.width = max(console.width, TABLE_WIDTH)
    inject.thaw_on_sigterm()
    stack: inject.Parts | None = None
    if args.cluster:
        from clients.chaos.cluster import ClusterStack
        from deploy.cluster import launcher, topology

        stack = ClusterStack(launcher.Cluster(topology.load(Path(args.topology)), settings))
        settings = stack.settings
    try:
        outcome = asyncio.run(chaos(settings, chosen, options, console.log, stack))
    except asyncio.CancelledError:
        print("adplatform chaos: interrupted (every frozen part was thawed)", file=sys.stderr)
        return 1
    if args.json:
        json.dump(render.as_json(outcome), sys.stdout, indent=2)
        print()
    else:
        console.print(render.fault_table(outcome))
        console.print(render.checks_table(outcome))
    style = "green" if outcome.held else "bold red"
    console.print(render.summary_line(outcome), style=style, soft_wrap=True)
    return 0 if outcome.held else 1


def register(areas: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """register adds `adplatform chaos`."""
    from clients.chaos.plan import CLUSTER_NAMES, NAMES, SHORT
    from clients.simulator.commands import parse_duration
    from deploy.cluster.topology import DEFAULT_FILE

    chaos = areas.add_parser(
        "chaos",
        help="kill and freeze the stack's parts under load, then check the books",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    chaos.add_argument(
        "--faults",
        metavar="A,B,C",
        help=f"faults in order (default: all): {', '.join(NAMES)}",
    )
    chaos.add_argument(
        "--short",
        action="store_true",
        help=f"CI form: {', '.join(SHORT)} with short holds and leads",
    )
    chaos.add_argument(
        "--rate",
        type=float,
        default=DEFAULT_RATE,
        help="ad requests per second through Envoy (default %(default)g)",
    )
    chaos.add_argument("--concurrency", type=int, default=64, help="devices at once (default 64)")
    chaos.add_argument(
        "--instruction-rate",
        type=float,
        default=2.0,
        help="campaign instructions per second through the API (default %(default)g)",
    )
    chaos.add_argument(
        "--lead", type=parse_duration, help="steady traffic before each fault (15s; short 5s)"
    )
    chaos.add_argument(
        "--settle", type=parse_duration, help="steady traffic after each recovery (15s; short 5s)"
    )
    chaos.add_argument(
        "--mysql-freeze", type=parse_duration, help="how long MariaDB stays frozen (20s; short 8s)"
    )
    chaos.add_argument(
        "--kafka-outage", type=parse_duration, help="how long Kafka stays stopped (30s; short 10s)"
    )
    chaos.add_argument(
        "--recovery-timeout",
        type=parse_duration,
        default=180.0,
        help="how long a part may take to serve again (default 180s)",
    )
    chaos.add_argument(
        "--drain-timeout",
        type=parse_duration,
        default=300.0,
        help="how long the pipeline may take to drain after the traffic (default 300s)",
    )
    chaos.add_argument(
        "--cluster",
        action="store_true",
        help=f"strike a cluster's hosts (`cluster up`): {', '.join(CLUSTER_NAMES)}",
    )
    chaos.add_argument("--topology", default=str(DEFAULT_FILE), help="the cluster's topology")
    chaos.add_argument(
        "--host-outage",
        type=parse_duration,
        help="how long a cluster host stays off the network or stopped (20s)",
    )
    chaos.add_argument("--seed", type=int, default=1, help="the devices' random seed")
    chaos.add_argument("--json", action="store_true", help="print the outcome as JSON on stdout")
    chaos.set_defaults(handler=_chaos)
