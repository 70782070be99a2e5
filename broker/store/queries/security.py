"""Store queries of the security hardening (issue 14): spent token ids (logout,
single-use join tokens), organisations and their contract tier, MFA secrets."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from broker.errors import InvalidField, NotFound, OrganisationDisabled
from broker.store.db import Database
from broker.store.models import SlaTierModel, UserModel
from broker.store.security_models import OrganisationModel, SpentTokenModel

__all__ = [
    "Organisation",
    "bump_token_generation",
    "check_organisation_enabled",
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
    """A customer organisation, the SLA tier of its contract and whether it is disabled."""

    __slots__ = ("disabled", "name", "tier")

    def __init__(self, name: str, tier: str, disabled: bool = False) -> None:
        self.name = name
        self.tier = tier
        self.disabled = disabled


def _organisation(m: OrganisationModel) -> Organisation:
    return Organisation(m.name, m.tier, bool(m.disabled))


async def put_organisation(
    db: Database, name: str, tier: str, *, disabled: bool = False, at: int
) -> Organisation:
    """Create or change an organisation: its contract tier and whether it is disabled
    (admins)."""
    async with db.sessions.begin() as s:
        if await s.get(SlaTierModel, tier) is None:
            raise InvalidField("tier", f"unknown SLA tier {tier!r}")
        m = await s.get(OrganisationModel, name)
        if m is None:
            m = OrganisationModel(name=name, tier=tier, disabled=disabled, created_at_ms=at)
            s.add(m)
        else:
            m.tier = tier
            m.disabled = disabled
        return Organisation(name, tier, disabled)


async def get_organisation(db: Database, name: str) -> Organisation | None:
    """The organisation called ``name``, or None."""
    async with db.sessions() as s:
        m = await s.get(OrganisationModel, name)
        return _organisation(m) if m else None


async def check_organisation_enabled(db: Database, name: str) -> None:
    """Raise :class:`OrganisationDisabled` when ``name`` is a disabled organisation (an
    unknown or empty name is fine: tickets may name organisations without a contract)."""
    if not name:
        return
    org = await get_organisation(db, name)
    if org is not None and org.disabled:
        raise OrganisationDisabled(name)


async def list_organisations(db: Database) -> list[Organisation]:
    """Every organisation, by name."""
    async with db.sessions() as s:
        rows = await s.scalars(select(OrganisationModel).order_by(OrganisationModel.name))
        return [_organisation(m) for m in rows]


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
