"""Applies the schema migrations to the configured MySQL database (`stack up` runs it).

Run: `adplatform db migrate`. Concurrent runs are serialised by a MySQL named lock.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
LOCK = "adplatform_migrations"


def alembic_config(database_url: str) -> Config:
    """alembic_config points Alembic at our migrations and database, without an ini file."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    """upgrade brings the database to the newest schema; a no-op when it is current."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as lock:
            lock.execute(text("SELECT GET_LOCK(:name, 60)"), {"name": LOCK})
            try:
                command.upgrade(alembic_config(database_url), "head")
            finally:
                lock.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": LOCK})
    finally:
        engine.dispose()
