"""Alembic environment for the broker's store.

Run programmatically by :meth:`broker.store.db.Database.migrate`, which passes an open
connection in ``config.attributes["connection"]``; or from the ``alembic`` command with
``-x url=…`` or ``sqlalchemy.url`` (async URLs work: the engine is driven with
``run_sync``).
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from broker.store.db import import_all_models
from broker.store.models import Base

import_all_models()  # models in every broker/store module, for --autogenerate
MIGRATION_LOCK_KEY = 0x436C7061_6E650001
"""The PostgreSQL advisory lock taken around migrations: nodes that start at once wait
for the first to finish, then find the schema at head (DESIGN §8)."""
config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Held until this migration transaction commits; the version is read after it.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("alembic: pass -x url=sqlite+aiosqlite:///path or set sqlalchemy.url")
    return url


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        asyncio.run(_run_async(_url()))
