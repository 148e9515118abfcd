"""Alembic environment: runs the migrations online against the configured MySQL URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

url = context.config.get_main_option("sqlalchemy.url")
engine = create_engine(str(url))
with engine.connect() as connection:
    context.configure(connection=connection, transactional_ddl=False)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
