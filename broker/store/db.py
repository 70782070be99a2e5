"""The database handle: an async engine plus a session factory, and the Alembic
migrations that bring an empty (or older) database to the current schema."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from broker.config import CONFIG

__all__ = [
    "DB",
    "MIGRATIONS_DIR",
    "Database",
    "alembic_config",
    "database_ctx",
    "import_all_models",
]

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for broker/migrations (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def import_all_models() -> None:
    """Import every module of broker/store so that ``Base.metadata`` knows all tables
    (models may live in several modules, e.g. review_models.py)."""
    import broker.store

    for info in pkgutil.iter_modules(broker.store.__path__):
        importlib.import_module(f"broker.store.{info.name}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Foreign keys are off by default in SQLite; WAL lets readers run during writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Database:
    """An async engine and its session factory. Create with :meth:`open`, close with
    :meth:`close` (the app does both in a cleanup context)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
            engine, expire_on_commit=False
        )

    @property
    def is_sqlite(self) -> bool:
        """True for the embedded SQLite store."""
        return self.engine.dialect.name == "sqlite"

    @classmethod
    def open(cls, url: str) -> Database:
        """Create the engine for ``url`` (``sqlite+aiosqlite://…`` or
        ``postgresql+asyncpg://…``). Connections are made lazily."""
        engine = create_async_engine(url, pool_pre_ping=not url.startswith("sqlite"))
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return cls(engine)

    async def migrate(self) -> None:
        """Apply every pending Alembic migration (``upgrade head``)."""

        def upgrade(connection: Connection) -> None:
            cfg = alembic_config()
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")

        async with self.engine.begin() as conn:
            await conn.run_sync(upgrade)
        log.info("database schema is up to date")

    async def close(self) -> None:
        """Dispose of the engine's connections."""
        await self.engine.dispose()


# The application's database (opened, migrated and closed by database_ctx).
DB = web.AppKey[Database]("db")


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: open the configured database, apply migrations, close it last."""
    db = Database.open(app[CONFIG].effective_database_url)
    try:
        await db.migrate()
        app[DB] = db
        yield
    finally:
        await db.close()
