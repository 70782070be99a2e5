"""Store queries of staff single sign-on (broker/auth/oidc.py): logins under way and
the links from a provider's subjects to local users."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select

from broker.store.db import Database
from broker.store.models import UserModel
from broker.store.oidc_models import OidcIdentityModel, OidcLoginModel
from broker.store.queries.values import User, to_user

__all__ = [
    "OidcLogin",
    "find_oidc_user",
    "latest_id_token",
    "link_oidc_user",
    "start_oidc_login",
    "take_oidc_login",
]


@dataclass(frozen=True, slots=True)
class OidcLogin:
    """A login under way, as the callback needs it."""

    browser_hash: str
    nonce: str
    code_verifier: str
    return_to: str


async def start_oidc_login(
    db: Database,
    *,
    state_hash: str,
    browser_hash: str,
    nonce: str,
    code_verifier: str,
    return_to: str,
    at: int,
    keep_ms: int,
) -> None:
    """Remember a login sent to the provider; logins older than ``keep_ms`` go."""
    async with db.sessions.begin() as s:
        await s.execute(delete(OidcLoginModel).where(OidcLoginModel.created_at_ms < at - keep_ms))
        s.add(
            OidcLoginModel(
                state_hash=state_hash,
                browser_hash=browser_hash,
                nonce=nonce,
                code_verifier=code_verifier,
                return_to=return_to,
                created_at_ms=at,
            )
        )


async def take_oidc_login(
    db: Database, state_hash: str, *, at: int, keep_ms: int
) -> OidcLogin | None:
    """The login of ``state_hash``, removed (a state works once); None if unknown or
    older than ``keep_ms``."""
    async with db.sessions.begin() as s:
        m = await s.get(OidcLoginModel, state_hash)
        if m is None:
            return None
        await s.delete(m)
        if m.created_at_ms < at - keep_ms:
            return None
        return OidcLogin(m.browser_hash, m.nonce, m.code_verifier, m.return_to)


async def find_oidc_user(db: Database, issuer: str, subject: str) -> User | None:
    """The local user linked to the provider's ``subject``, or None."""
    query = (
        select(UserModel)
        .join(OidcIdentityModel, OidcIdentityModel.user_id == UserModel.id)
        .where(OidcIdentityModel.issuer == issuer, OidcIdentityModel.subject == subject)
    )
    async with db.sessions() as s:
        m = await s.scalar(query)
        return to_user(m) if m else None


async def link_oidc_user(
    db: Database, *, issuer: str, subject: str, user_id: str, id_token: str, at: int
) -> None:
    """Link (or re-link) the subject to ``user_id`` and keep its latest ID token."""
    async with db.sessions.begin() as s:
        m = await s.get(OidcIdentityModel, (issuer, subject))
        if m is None:
            s.add(
                OidcIdentityModel(
                    issuer=issuer,
                    subject=subject,
                    user_id=user_id,
                    last_id_token=id_token,
                    last_login_ms=at,
                )
            )
        else:
            m.user_id = user_id
            m.last_id_token = id_token
            m.last_login_ms = at


async def latest_id_token(db: Database, user_id: str) -> str | None:
    """The ID token of the user's latest single sign-on, or None (a local account)."""
    async with db.sessions() as s:
        m = await s.scalar(select(OidcIdentityModel).where(OidcIdentityModel.user_id == user_id))
        return m.last_id_token if m and m.last_id_token else None
