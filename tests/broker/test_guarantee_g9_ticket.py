"""G9 (one ticket per session): the store itself refuses a session without a ticket.

Written by the guarantee verifier (docs/GUARANTEES.md): a migration that made
``sessions.ticket_id`` nullable, or a SQLite connection without foreign keys, let
every other broker test pass. These tests insert rows directly, below the query
functions, because the store is the last line that keeps G9 true whatever code path
creates a session. Runs on PostgreSQL too when CLEARPANE_TEST_DATABASE_URL is set.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.exc import IntegrityError

from broker.store import queries
from broker.store.db import Database
from broker.store.models import SessionModel


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database.open(database_url)
    await database.migrate()
    yield database
    await database.close()


def _session_row(sid: str, ticket_id: str | None) -> SessionModel:
    return SessionModel(
        id=sid,
        ticket_id=ticket_id,
        state="requested",
        origin="request",
        client_name="Client",
        created_at_ms=1,
        state_changed_at_ms=1,
        deadline_ms=2,
    )


async def test_a_session_row_without_a_ticket_is_refused(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.sessions.begin() as s:
            s.add(_session_row("s-no-ticket", None))
    assert await queries.get_session(db, "s-no-ticket") is None


async def test_a_session_row_on_a_missing_ticket_is_refused(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.sessions.begin() as s:
            s.add(_session_row("s-ghost-ticket", "no-such-ticket"))
    assert await queries.get_session(db, "s-ghost-ticket") is None


async def test_a_request_creates_its_session_on_its_own_ticket(db: Database) -> None:
    await queries.set_tier(db, "standard-g9", 3600)
    ticket, session = await queries.create_request(
        db,
        description="Printer offline\nsince this morning",
        client_name="Client",
        organisation="Acme",
        tier="standard-g9",
        at=1_000,
    )
    stored = await queries.get_session(db, session.id)
    assert stored is not None and stored.ticket_id == ticket.id
    listed = await queries.list_sessions(db, ticket_id=ticket.id)
    assert [s.id for s in listed] == [session.id]
