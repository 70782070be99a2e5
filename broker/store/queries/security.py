"""Store queries of the security hardening (issue 14): spent token ids (logout,
single-use join tokens), organisations and their contract tier, MFA secrets."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from broker.errors import InvalidField, NotFound
from broker.store.db import Database
from broker.store.models import SlaTierModel, UserModel
from broker.store.security_models import OrganisationModel, SpentTokenModel

__all__ = [
    "Organisation",
    "bump_token_generation",
    "get_mfa",
    "get_organisation",
    "list_organisations",
    "put_organisation",
    "set_mfa",
    "spend_token",
    "token_spent",
]


async def spend_token(db: Database, jti: str, *, expires_at_ms: int, now_ms: int) -> bool:
    """Mark token ``jti`` used; False if it already was (a second use). Rows of
    expired tokens are pruned on the way (their tokens are refused anyway)."""
    try:
        async with db.sessions.begin() as s:
            await s.execute(delete(SpentTokenModel).where(SpentTokenModel.expires_at_ms < now_ms))
            s.add(SpentTokenModel(jti=jti, expires_at_ms=expires_at_ms))
    except IntegrityError:
        return False
    return True


async def token_spent(db: Database, jti: str) -> bool:
    """Whether token ``jti`` was used up or revoked (logout)."""
    async with db.sessions() as s:
        return await s.get(SpentTokenModel, jti) is not None


async def bump_token_generation(db: Database, user_id: str) -> int:
    """Revoke every token of the user (they carry the old generation); the new one."""
    async with db.sessions.begin() as s:
        m = await s.get(UserModel, user_id, with_for_update=True)
        if m is None:
            raise NotFound("no such user")
        m.token_generation = (m.token_generation or 0) + 1
        return m.token_generation


# --- organisations --------------------------------------------------------------------


class Organisation:
    """A customer organisation and the SLA tier of its contract."""

    __slots__ = ("name", "tier")

    def __init__(self, name: str, tier: str) -> None:
        self.name = name
        self.tier = tier


async def put_organisation(db: Database, name: str, tier: str, *, at: int) -> Organisation:
    """Create or change an organisation's contract tier (admins)."""
    async with db.sessions.begin() as s:
        if await s.get(SlaTierModel, tier) is None:
            raise InvalidField("tier", f"unknown SLA tier {tier!r}")
        m = await s.get(OrganisationModel, name)
        if m is None:
            s.add(OrganisationModel(name=name, tier=tier, created_at_ms=at))
        else:
            m.tier = tier
    return Organisation(name, tier)


async def get_organisation(db: Database, name: str) -> Organisation | None:
    """The organisation called ``name``, or None."""
    async with db.sessions() as s:
        m = await s.get(OrganisationModel, name)
        return Organisation(m.name, m.tier) if m else None


async def list_organisations(db: Database) -> list[Organisation]:
    """Every organisation, by name."""
    async with db.sessions() as s:
        rows = await s.scalars(select(OrganisationModel).order_by(OrganisationModel.name))
        return [Organisation(m.name, m.tier) for m in rows]


# --- MFA -------------------------------------------------------------------------------


async def get_mfa(db: Database, user_id: str) -> tuple[str | None, list[str]]:
    """The user's TOTP secret (None: no MFA) and hashed unused recovery codes."""
    async with db.sessions() as s:
        m = await s.get(UserModel, user_id)
        if m is None:
            raise NotFound("no such user")
        return m.mfa_secret, list(m.mfa_recovery or [])


async def set_mfa(
    db: Database, user_id: str, *, secret: str | None, recovery: Sequence[str]
) -> None:
    """Store (or with None, clear) the user's TOTP secret and hashed recovery codes."""
    async with db.sessions.begin() as s:
        m = await s.get(UserModel, user_id, with_for_update=True)
        if m is None:
            raise NotFound("no such user")
        m.mfa_secret = secret
        m.mfa_recovery = list(recovery)
