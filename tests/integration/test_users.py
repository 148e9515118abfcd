"""`adplatform users seed` fills the stack's MariaDB with a reproducible population."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, bindparam, delete, func, select, text

from clients import cli, users_commands
from clients.population import generate
from servers.campaigns.model import KNOWN_DEVICES
from servers.settings import Settings
from servers.storage.schema import users

pytestmark = pytest.mark.integration

COUNT = 2000
SEED = 20_260_101  # a seed of this test's own, so its rows are known and removable


@pytest.fixture(autouse=True)
def _own_users_removed(database: Engine) -> Iterator[None]:
    """_own_users_removed removes this test's users from the stack's MySQL around each test."""
    ids = [user.id for user in generate(COUNT, SEED)]

    def remove() -> None:
        with database.begin() as connection:
            connection.execute(delete(users).where(users.c.id.in_(ids)))

    remove()
    try:
        yield
    finally:
        remove()


@pytest.fixture
def stack_env(stack: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """stack_env points the `adplatform` command at the test stack, as `stack env` would."""
    for name, value in stack.exports().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ADPLATFORM_CONFIG", raising=False)


def _rows(engine: Engine) -> dict[str, tuple[str, int]]:
    """_rows reads the seeded users the way the issue asks: SELECT id, device_type, age."""
    ids = [user.id for user in generate(COUNT, SEED)]
    query = text("SELECT id, device_type, age FROM users WHERE id IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    with engine.connect() as connection:
        return {
            row.id: (row.device_type, row.age) for row in connection.execute(query, {"ids": ids})
        }


def _total(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(users)).scalar_one())


@pytest.mark.usefixtures("stack_env")
def test_seed_command_fills_the_users_table(
    database: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _total(database)

    assert cli.main(["users", "seed", "--count", str(COUNT), "--seed", str(SEED)]) == 0

    output = capsys.readouterr().out
    assert f"upserted {COUNT:,} users" in output
    assert "Android Mobile" in output
    expected = {user.id: (user.device_type, user.age) for user in generate(COUNT, SEED)}
    assert _rows(database) == expected
    assert _total(database) == before + COUNT
    assert {device for device, _ in expected.values()} == set(KNOWN_DEVICES)


@pytest.mark.usefixtures("stack_env")
def test_reseeding_is_idempotent(database: Engine) -> None:
    assert cli.main(["users", "seed", "--count", str(COUNT), "--seed", str(SEED)]) == 0
    first = _rows(database)
    total = _total(database)
    with database.begin() as connection:  # someone edits a profile; a re-seed restores it
        connection.execute(
            users.update().where(users.c.id == next(iter(first))).values(age=99, city="Nowhere")
        )

    assert cli.main(["users", "seed", "--count", str(COUNT), "--seed", str(SEED)]) == 0

    assert _rows(database) == first
    assert _total(database) == total
    with database.connect() as connection:
        cities = connection.execute(
            select(users.c.city).where(users.c.id.in_(list(first)))
        ).scalars()
        assert "Nowhere" not in set(cities)


def test_seed_function_reports_what_it_wrote(stack: Settings, database: Engine) -> None:
    progressed: list[int] = []

    result = users_commands.seed(stack, COUNT, SEED, progress=progressed.append, batch_size=700)

    assert result.rows == COUNT == sum(progressed)
    assert progressed == [700, 700, 600]
    assert set(result.devices) == set(KNOWN_DEVICES)
    assert sum(result.devices.values()) == COUNT
    assert result.table_rows == _total(database)


def test_seeded_devices_are_exactly_the_feeds_five(stack: Settings, database: Engine) -> None:
    users_commands.seed(stack, COUNT, SEED)
    ids = list(_rows(database))
    with database.connect() as connection:
        devices = set(
            connection.execute(
                select(users.c.device_type).where(users.c.id.in_(ids)).distinct()
            ).scalars()
        )
    assert devices == set(KNOWN_DEVICES)
    counts = users_commands.distribution(stack)
    assert counts["device_type"]["Android Mobile"] >= 0.45 * COUNT
    assert sum(counts["device_type"].values()) == _total(database)


@pytest.mark.usefixtures("stack_env")
def test_stats_command_prints_the_distribution(
    database: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["users", "seed", "--count", str(COUNT), "--seed", str(SEED)]) == 0
    capsys.readouterr()

    assert cli.main(["users", "stats"]) == 0

    output = capsys.readouterr().out
    assert f"users table: {_total(database):,} rows" in output
    for heading in ("device_type", "gender", "income_bucket", "age_band", "city", "Macbook"):
        assert heading in output
