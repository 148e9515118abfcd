"""`adplatform simulate`: run simulated devices against the platform and summarise the run."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from pathlib import Path

from servers.settings import Settings

# devices at once by default: enough for several hundred whole ads a second while a serve and
# its feedback take up to about 100 ms together (a device waits for each answer)
DEVICES = 64
DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h)?$")


def parse_duration(text: str) -> float:
    """parse_duration reads 90, 90s, 15m or 1h as seconds."""
    match = DURATION.match(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 90s, 15m or 1h")
    number, unit = float(match.group(1)), match.group(2) or "s"
    return number * {"s": 1, "m": 60, "h": 3600}[unit]


def load_people(settings: Settings) -> list[object]:
    """load_people reads the simulated population from the users table."""
    from sqlalchemy import text

    from clients.simulator.behaviour import Person
    from servers.storage.db import TOOL_TIMEOUT_SECONDS, engine

    database = engine(settings.database_url, pool_size=1, timeout_seconds=TOOL_TIMEOUT_SECONDS)
    try:
        with database.connect() as connection:
            rows = connection.execute(text("SELECT id, device_type, age FROM users")).all()
    finally:
        database.dispose()
    return [Person(row.id, row.device_type, row.age) for row in rows]


async def simulate(settings: Settings, args: argparse.Namespace) -> dict[str, object]:
    """simulate runs one simulation with a live display and returns its summary."""
    from clients.simulator.behaviour import Behaviour
    from clients.simulator.display import live_display
    from clients.simulator.run import Simulation
    from clients.simulator.transports import EnvoyTransport, GrpcTransport, Transport

    people = load_people(settings)
    behaviour = Behaviour(people, seed=args.seed)  # type: ignore[arg-type]
    transport: Transport = (
        EnvoyTransport(settings, args.concurrency)
        if args.via == "envoy"
        else GrpcTransport(settings)
    )
    simulation = Simulation(
        transport,
        behaviour,
        duration=args.duration,
        concurrency=args.concurrency,
        rate=None if args.max else args.rate,
    )
    try:
        async with live_display(simulation, enabled=not args.quiet):
            stats = await simulation.run()
    finally:
        await transport.close()
    return stats.summary()


def _simulate(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console

    from clients.simulator.display import summary_table

    summary = asyncio.run(simulate(settings, args))
    Console().print(summary_table(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
        print(f"summary written to {args.json}")
    return 0


def register(areas: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """register adds `adplatform simulate`."""
    simulate_ = areas.add_parser("simulate", help="simulated devices requesting ads")
    simulate_.add_argument(
        "--duration",
        type=parse_duration,
        default=60.0,
        help="how long to run: 90s, 15m, 1h (default 60s)",
    )
    pace = simulate_.add_mutually_exclusive_group()
    pace.add_argument(
        "--rate", type=float, default=50.0, help="ad requests per second, open loop (default 50)"
    )
    pace.add_argument("--max", action="store_true", help="closed loop, as fast as it answers")
    simulate_.add_argument(
        "--concurrency",
        type=int,
        default=DEVICES,
        help=f"devices at once (default {DEVICES}): a rate needs rate x pair latency of them",
    )
    simulate_.add_argument(
        "--via",
        choices=("envoy", "grpc"),
        default="envoy",
        help="JSON through Envoy (default) or gRPC direct",
    )
    simulate_.add_argument("--seed", type=int, default=1, help="random seed of the run")
    simulate_.add_argument("--json", metavar="FILE", help="also write the summary as JSON")
    simulate_.add_argument("--quiet", action="store_true", help="no live display")
    simulate_.set_defaults(handler=_simulate)
