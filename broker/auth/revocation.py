"""Server-side token revocation, checked on every request and every WebSocket
``hello`` (issue 14). Store-backed, so it holds on every broker node at once:

- every staff token (``access``, ``viewer``) carries the user's ``token_generation``
  (claim ``gen``); disabling the user or changing their password or role increments
  it, which revokes all their tokens;
- logout records the token's id (``jti``) as spent until the token expires;
- a viewer join token is single use: the ``hello`` spends its ``jti``, so a second
  socket with the same token is refused.
"""

from __future__ import annotations

from broker.auth.tokens import Claims
from broker.store import queries
from broker.store.db import Database

__all__ = ["GEN_CLAIM", "generation", "is_current", "revoke", "same_generation", "spend_once"]

GEN_CLAIM = "gen"


def generation(user: queries.User) -> dict[str, int]:
    """The claim to put into a new token of ``user``."""
    return {GEN_CLAIM: user.token_generation}


def same_generation(user: queries.User, claims: Claims) -> bool:
    """False for a token issued before the user's last disable, password or role change."""
    return bool(claims.extra.get(GEN_CLAIM, 0) == user.token_generation)


async def is_current(db: Database, user: queries.User, claims: Claims) -> bool:
    """False for a token of an older generation or one revoked by logout."""
    if not same_generation(user, claims):
        return False
    return not await queries.token_spent(db, claims.jti)


async def revoke(db: Database, claims: Claims, *, now_ms: int) -> None:
    """Revoke this one token (logout) until it would have expired anyway."""
    await queries.spend_token(db, claims.jti, expires_at_ms=claims.exp * 1000, now_ms=now_ms)


async def spend_once(db: Database, claims: Claims, *, now_ms: int) -> bool:
    """Use a single-use token: True the first time, False on any later use."""
    return await queries.spend_token(db, claims.jti, expires_at_ms=claims.exp * 1000, now_ms=now_ms)
