"""`adplatform users`: seed the users table with a synthetic population and show its shape.

The population comes from clients/population.py; rows are upserted in batches of 1,000:

    adplatform users seed --count 100000 [--seed 42]   # idempotent: same seed, same rows
    adplatform users stats                             # the table's distributions, from MySQL
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from itertools import islice
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import func, select
from sqlalchemy.dialects.mysql import insert

from clients.population import AGE_BANDS, DEFAULT_SEED, User, generate
from servers.settings import Settings
from servers.storage.db import TOOL_TIMEOUT_SECONDS, engine
from servers.storage.schema import users

if TYPE_CHECKING:
    from rich.table import Table

BATCH_SIZE = 1000
PROFILE_COLUMNS = ("age", "gender", "income_bucket", "device_type", "city", "state")
STATS_COLUMNS = ("device_type", "gender", "income_bucket", "age_band", "city")

T = TypeVar("T")
Progress = Callable[[int], None]


@dataclass(frozen=True)
class SeedResult:
    """SeedResult is what a seed wrote and the device mix of the population it wrote."""

    rows: int
    devices: Counter[str]
    table_rows: int


def _batches(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """_batches cuts items into lists of at most size (itertools.batched is Python 3.12)."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def seed(
    settings: Settings,
    count: int,
    seed: int = DEFAULT_SEED,
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
) -> SeedResult:
    """seed upserts generate(count, seed) into users, one transaction per batch."""
    statement = insert(users)
    statement = statement.on_duplicate_key_update(
        {column: statement.inserted[column] for column in PROFILE_COLUMNS}
    )
    devices: Counter[str] = Counter()
    written = 0
    database = engine(settings.database_url, pool_size=1, timeout_seconds=TOOL_TIMEOUT_SECONDS)
    try:
        batch: list[User]
        for batch in _batches(generate(count, seed), batch_size):
            with database.begin() as connection:
                connection.execute(statement, [asdict(user) for user in batch])
            devices.update(user.device_type for user in batch)
            written += len(batch)
            if progress:
                progress(len(batch))
        with database.connect() as connection:
            table_rows = connection.execute(select(func.count()).select_from(users)).scalar_one()
    finally:
        database.dispose()
    return SeedResult(rows=written, devices=devices, table_rows=int(table_rows))


def _age_band(age: int) -> str:
    """_age_band names the population's age band holding age ("25-34")."""
    for first, last, _ in AGE_BANDS:
        if first <= age <= last:
            return f"{first}-{last}"
    return "other"


def distribution(settings: Settings) -> dict[str, Counter[str]]:
    """distribution counts the users table's rows by device, gender, income, age band and city."""
    counts: dict[str, Counter[str]] = {name: Counter() for name in STATS_COLUMNS}
    grouped = {
        "device_type": users.c.device_type,
        "gender": users.c.gender,
        "income_bucket": users.c.income_bucket,
        "age_band": users.c.age,
        "city": users.c.city,
    }
    database = engine(settings.database_url, pool_size=1, timeout_seconds=TOOL_TIMEOUT_SECONDS)
    try:
        with database.connect() as connection:
            for name, column in grouped.items():
                for value, rows in connection.execute(
                    select(column, func.count()).group_by(column)
                ):
                    key = _age_band(value) if name == "age_band" else str(value)
                    counts[name][key] += rows
    finally:
        database.dispose()
    return counts


def _share_table(title: str, counts: Counter[str], by_key: bool = False) -> Table:
    """_share_table renders counts as a rich table of rows and shares, largest first."""
    from rich.table import Table

    total = sum(counts.values()) or 1
    table = Table(title, "users", "share", title_justify="left")
    items = sorted(counts.items()) if by_key else counts.most_common()
    for key, rows in items:
        table.add_row(key, f"{rows:,}", f"{rows / total:.1%}")
    return table


def _seed(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    console = Console()
    columns = (
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(f"seeding users (seed {args.seed})", total=args.count)
        result = seed(
            settings, args.count, args.seed, progress=lambda rows: bar.advance(task, rows)
        )
    console.print(
        f"upserted {result.rows:,} users (seed {args.seed}); "
        f"the users table now holds {result.table_rows:,} rows"
    )
    console.print(_share_table("device_type", result.devices))
    return 0


def _stats(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console

    console = Console()
    counts = distribution(settings)
    total = sum(counts["device_type"].values())
    console.print(f"users table: {total:,} rows")
    if not total:
        console.print("empty: run `adplatform users seed --count N`")
        return 0
    for name in STATS_COLUMNS:
        console.print(_share_table(name, counts[name], by_key=name == "age_band"))
    return 0


def _count(text: str) -> int:
    """_count parses --count: a positive whole number."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"count must be positive, got {value}")
    return value


def register(areas: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """register adds the users commands."""
    commands = areas.add_parser("users", help="the synthetic user population").add_subparsers(
        dest="command", required=True
    )
    seeding = commands.add_parser(
        "seed", help="fill the users table with a reproducible population (idempotent)"
    )
    seeding.add_argument("--count", type=_count, required=True, help="how many users")
    seeding.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="random seed (default %(default)s)"
    )
    seeding.set_defaults(handler=_seed)
    commands.add_parser("stats", help="show the users table's distributions").set_defaults(
        handler=_stats
    )
