"""The store: migrations on an empty database match the models; query functions the
relay relies on. Runs on PostgreSQL when CLEARPANE_TEST_DATABASE_URL is set."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from broker.errors import Conflict, Gone, InvalidField, NotFound
from broker.store import queries
from broker.store.db import Database, import_all_models
from broker.store.models import Base


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database.open(database_url)
    await database.migrate()
    yield database
    await database.close()


async def test_migrations_on_empty_database_match_models(database_url: str) -> None:
    import_all_models()
    database = Database.open(database_url)
    try:
        await database.migrate()
        await database.migrate()  # idempotent
        async with database.engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
            diff = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": True}), Base.metadata
                )
            )
        assert set(Base.metadata.tables) <= tables and "alembic_version" in tables
        assert diff == []
        tiers = {t.name: t.answer_within_s for t in await queries.list_tiers(database)}
        assert tiers == {"premium": 300, "standard": 1800, "basic": 14400}
    finally:
        await database.close()


async def _session(db: Database, at: int = 1_000) -> queries.SessionInfo:
    _, session = await queries.create_request(
        db, description="Help", client_name="C", organisation="", tier="premium", at=at
    )
    return session


async def _user(db: Database, username: str = "erin") -> queries.User:
    return await queries.create_user(
        db,
        username=username,
        name="E",
        role="engineer",
        skills=["b", "a", "a"],
        password_hash="h",
        at=1,
    )


async def test_request_sets_deadline_from_tier(db: Database) -> None:
    session = await _session(db, at=10_000)
    assert session.state == "requested" and session.deadline_ms == 10_000 + 300_000
    assert (await queries.get_session(db, session.id)) == session
    assert await queries.get_session(db, "missing") is None
    with pytest.raises(InvalidField):
        await queries.create_request(
            db, description="x", client_name="c", organisation="", tier="gold", at=1
        )


async def test_users(db: Database) -> None:
    user = await _user(db)
    assert user.skills == ("a", "b")
    assert await queries.get_user(db, user.id) == user
    with pytest.raises(Conflict):
        await _user(db)
    with pytest.raises(InvalidField):
        await queries.create_user(
            db, username="x", name="x", role="root", skills=(), password_hash="h", at=1
        )
    assert (await queries.update_user(db, user.id, disabled=True)).disabled
    with pytest.raises(NotFound):
        await queries.update_user(db, "nobody", name="x")


async def test_mark_answered_records_first_engineer_once(db: Database) -> None:
    session = await _session(db, at=1_000)
    a, b = await _user(db, "ann"), await _user(db, "bob")
    answered = await queries.mark_answered(db, session.id, a.id, 61_000)
    assert answered.engineer_id == a.id and answered.time_to_answer_ms == 60_000
    again = await queries.mark_answered(db, session.id, b.id, 99_000)
    assert again.engineer_id == a.id and again.answered_at_ms == 61_000
    ticket = await queries.get_ticket(db, session.ticket_id)
    assert ticket is not None and ticket.status == "in_progress"
    with pytest.raises(NotFound):
        await queries.mark_answered(db, "missing", a.id, 1)


async def test_states_and_end_are_final(db: Database) -> None:
    session = await _session(db)
    assert (await queries.set_session_state(db, session.id, "waiting", at=2)).state == "waiting"
    with pytest.raises(InvalidField):
        await queries.set_session_state(db, session.id, "ended", at=3)
    with pytest.raises(InvalidField):
        await queries.set_session_state(db, session.id, "flying", at=3)
    ended = await queries.mark_ended(db, session.id, "killed_by_client", 5)
    assert (ended.state, ended.end_reason, ended.ended_at_ms) == ("ended", "killed_by_client", 5)
    again = await queries.mark_ended(db, session.id, "timed_out", 9, "late note")
    assert again.end_reason == "killed_by_client" and again.ended_at_ms == 5  # first end wins
    with pytest.raises(Conflict):
        await queries.set_session_state(db, session.id, "live", at=6)
    with pytest.raises(InvalidField):
        await queries.mark_ended(db, session.id, "bored", 7)


async def test_rating(db: Database) -> None:
    session = await _session(db)
    rated = await queries.set_rating(db, session.id, 3, "ok")
    assert (rated.rating_score, rated.rating_comment) == (3, "ok")
    for bad in (0, 6):
        with pytest.raises(InvalidField):
            await queries.set_rating(db, session.id, bad, None)


async def test_invitation_redeemed_once(db: Database) -> None:
    user = await _user(db)
    ticket = await queries.create_ticket(
        db,
        title="T",
        description="",
        organisation="",
        tier="basic",
        external_ref=None,
        skills=(),
        created_by=user.id,
        at=1,
    )
    await queries.create_invitation(
        db, ticket_id=ticket.id, code_hash="h1", created_by=user.id, at=1, expires_at=100
    )
    _, session = await queries.redeem_invitation(db, code_hash="h1", client_name="C", at=50)
    assert session.assigned_engineer_id == user.id and session.origin == "invitation"
    assert session.deadline_ms == 50 + 14_400_000
    with pytest.raises(Gone):
        await queries.redeem_invitation(db, code_hash="h1", client_name="C", at=51)
    await queries.create_invitation(
        db, ticket_id=ticket.id, code_hash="h2", created_by=user.id, at=1, expires_at=100
    )
    with pytest.raises(Gone):
        await queries.redeem_invitation(db, code_hash="h2", client_name="C", at=100)
    with pytest.raises(NotFound):
        await queries.redeem_invitation(db, code_hash="h3", client_name="C", at=1)


async def test_ticket_search_escapes_wildcards(db: Database) -> None:
    for title in ("100% broken", "1000 broken", "under_score"):
        await queries.create_ticket(
            db,
            title=title,
            description="",
            organisation="",
            tier="basic",
            external_ref=None,
            skills=(),
            created_by=None,
            at=1,
        )
    assert [t.title for t in await queries.list_tickets(db, q="100%")] == ["100% broken"]
    assert [t.title for t in await queries.list_tickets(db, q="r_s")] == ["under_score"]
    assert len(await queries.list_tickets(db, q="BROKEN")) == 2
