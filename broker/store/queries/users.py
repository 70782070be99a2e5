"""Users and SLA tiers."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select

from broker.errors import Conflict, InvalidField, NotFound
from broker.store.db import Database
from broker.store.models import SlaTierModel, UserModel
from broker.store.queries.values import ROLES, SlaTier, User, new_id, to_user

__all__ = [
    "count_users",
    "create_user",
    "get_credentials",
    "get_tier",
    "get_user",
    "get_user_by_username",
    "list_tiers",
    "list_users",
    "set_tier",
    "update_user",
]


# --- users ---------------------------------------------------------------------------


async def create_user(
    db: Database,
    *,
    username: str,
    name: str,
    role: str,
    skills: Sequence[str],
    password_hash: str,
    at: int,
    organisations: Sequence[str] = (),
    must_change_password: bool = False,
) -> User:
    """Add a user; :class:`Conflict` if the username is taken."""
    if role not in ROLES:
        raise InvalidField("role", f"must be one of {', '.join(ROLES)}")
    async with db.sessions.begin() as s:
        taken = await s.scalar(select(UserModel.id).where(UserModel.username == username))
        if taken is not None:
            raise Conflict(f"username {username!r} is taken")
        m = UserModel(
            id=new_id(),
            username=username,
            name=name,
            role=role,
            skills=sorted(set(skills)),
            password_hash=password_hash,
            disabled=False,
            created_at_ms=at,
            organisations=sorted(set(organisations)),
            token_generation=0,
            mfa_recovery=[],
            must_change_password=must_change_password,
        )
        s.add(m)
        await s.flush()
        return to_user(m)


async def get_user(db: Database, user_id: str) -> User | None:
    """The user with this id, or None."""
    async with db.sessions() as s:
        m = await s.get(UserModel, user_id)
        return to_user(m) if m else None


async def get_user_by_username(db: Database, username: str) -> User | None:
    """The user with this username, or None."""
    found = await get_credentials(db, username)
    return found[0] if found else None


async def get_credentials(db: Database, username: str) -> tuple[User, str] | None:
    """The user and their password hash, for login; None if no such user."""
    async with db.sessions() as s:
        m = await s.scalar(select(UserModel).where(UserModel.username == username))
        return (to_user(m), m.password_hash) if m else None


async def list_users(db: Database) -> list[User]:
    """All users, by username."""
    async with db.sessions() as s:
        rows = await s.scalars(select(UserModel).order_by(UserModel.username))
        return [to_user(m) for m in rows]


async def count_users(db: Database, role: str | None = None) -> int:
    """How many users (of ``role``) exist."""
    async with db.sessions() as s:
        q = select(func.count()).select_from(UserModel)
        if role is not None:
            q = q.where(UserModel.role == role)
        return int(await s.scalar(q) or 0)


async def update_user(
    db: Database,
    user_id: str,
    *,
    name: str | None = None,
    role: str | None = None,
    skills: Sequence[str] | None = None,
    disabled: bool | None = None,
    password_hash: str | None = None,
    organisations: Sequence[str] | None = None,
    must_change_password: bool | None = None,
) -> User:
    """Change some of a user's fields (``None`` leaves a field as it is). A change of
    role or password, or a disable, revokes every token the user holds (the
    ``token_generation`` the policy checks on every request and WebSocket hello)."""
    if role is not None and role not in ROLES:
        raise InvalidField("role", f"must be one of {', '.join(ROLES)}")
    async with db.sessions.begin() as s:
        m = await s.get(UserModel, user_id)
        if m is None:
            raise NotFound("no such user")
        if name is not None:
            m.name = name
        if skills is not None:
            m.skills = sorted(set(skills))
        if disabled is not None:
            m.disabled = disabled
        if password_hash is not None:
            m.password_hash = password_hash
        if organisations is not None:
            m.organisations = sorted(set(organisations))
        role_changed = role is not None and role != m.role
        if role_changed or disabled or password_hash is not None:
            m.token_generation = (m.token_generation or 0) + 1
        if role is not None:
            m.role = role
        if must_change_password is not None:
            m.must_change_password = must_change_password
        return to_user(m)


# --- SLA tiers -----------------------------------------------------------------------


async def list_tiers(db: Database) -> list[SlaTier]:
    """All SLA tiers, fastest first."""
    async with db.sessions() as s:
        rows = await s.scalars(select(SlaTierModel).order_by(SlaTierModel.answer_within_s))
        return [SlaTier(m.name, m.answer_within_s) for m in rows]


async def get_tier(db: Database, name: str) -> SlaTier | None:
    """The tier called ``name``, or None."""
    async with db.sessions() as s:
        m = await s.get(SlaTierModel, name)
        return SlaTier(m.name, m.answer_within_s) if m else None


async def set_tier(db: Database, name: str, answer_within_s: int) -> SlaTier:
    """Create or change an SLA tier. Existing deadlines are kept; new requests use
    the new time to answer."""
    if answer_within_s <= 0:
        raise InvalidField("answer_within_s", "must be positive")
    async with db.sessions.begin() as s:
        m = await s.get(SlaTierModel, name)
        if m is None:
            s.add(SlaTierModel(name=name, answer_within_s=answer_within_s))
        else:
            m.answer_within_s = answer_within_s
        return SlaTier(name, answer_within_s)
