"""Store queries of the help-desk integration (issue 18): API keys and idempotent
POSTs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from broker.errors import InvalidField, NotFound
from broker.store.db import Database
from broker.store.integration_models import ApiKeyModel, IdempotencyModel
from broker.store.models import UserModel
from broker.store.queries.values import new_id

__all__ = [
    "ApiKey",
    "StoredResponse",
    "create_api_key",
    "find_api_key",
    "finish_idempotent",
    "list_api_keys",
    "release_idempotent",
    "reserve_idempotent",
    "revoke_api_key",
    "touch_api_key",
]


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key as listed (never the key itself, nor its hash)."""

    id: str
    prefix: str
    user_id: str
    username: str
    name: str
    scopes: tuple[str, ...]
    created_at_ms: int
    expires_at_ms: int
    revoked_at_ms: int | None
    last_used_at_ms: int | None


def _to_key(m: ApiKeyModel, username: str) -> ApiKey:
    return ApiKey(
        m.id,
        m.prefix,
        m.user_id,
        username,
        m.name,
        tuple(m.scopes or ()),
        m.created_at_ms,
        m.expires_at_ms,
        m.revoked_at_ms,
        m.last_used_at_ms,
    )


async def create_api_key(
    db: Database,
    *,
    user_id: str,
    name: str,
    scopes: Sequence[str],
    key_hash: str,
    prefix: str,
    created_by: str | None,
    at: int,
    expires_at: int,
) -> ApiKey:
    """Store a key (by its hash) for an integration account; :class:`InvalidField` if
    the user is not one."""
    async with db.sessions.begin() as s:
        user = await s.get(UserModel, user_id)
        if user is None:
            raise InvalidField("user_id", "no such user")
        if user.role != "integration":
            raise InvalidField("user_id", "API keys are for users of role 'integration'")
        m = ApiKeyModel(
            id=new_id(),
            key_hash=key_hash,
            prefix=prefix,
            user_id=user_id,
            name=name,
            scopes=sorted(set(scopes)),
            created_by=created_by,
            created_at_ms=at,
            expires_at_ms=expires_at,
        )
        s.add(m)
        await s.flush()
        return _to_key(m, user.username)


async def list_api_keys(db: Database, *, user_id: str | None = None) -> list[ApiKey]:
    """Every API key (or one user's), newest first, revoked ones included."""
    query = select(ApiKeyModel, UserModel.username).join(
        UserModel, UserModel.id == ApiKeyModel.user_id
    )
    if user_id is not None:
        query = query.where(ApiKeyModel.user_id == user_id)
    query = query.order_by(ApiKeyModel.created_at_ms.desc(), ApiKeyModel.id)
    async with db.sessions() as s:
        return [_to_key(m, username) for m, username in (await s.execute(query)).all()]


async def find_api_key(db: Database, key_hash: str) -> ApiKey | None:
    """The key with this hash (revoked and expired ones too: the caller decides)."""
    query = (
        select(ApiKeyModel, UserModel.username)
        .join(UserModel, UserModel.id == ApiKeyModel.user_id)
        .where(ApiKeyModel.key_hash == key_hash)
    )
    async with db.sessions() as s:
        row = (await s.execute(query)).first()
        return _to_key(row[0], row[1]) if row else None


async def touch_api_key(db: Database, key_id: str, at: int) -> None:
    """Record the key's last use."""
    async with db.sessions.begin() as s:
        await s.execute(
            update(ApiKeyModel).where(ApiKeyModel.id == key_id).values(last_used_at_ms=at)
        )


async def revoke_api_key(db: Database, key_id: str, at: int) -> ApiKey:
    """Revoke a key (from its next request on); revoking twice keeps the first time."""
    async with db.sessions.begin() as s:
        m = await s.get(ApiKeyModel, key_id)
        if m is None:
            raise NotFound("no such API key")
        if m.revoked_at_ms is None:
            m.revoked_at_ms = at
        user = await s.get(UserModel, m.user_id)
        return _to_key(m, user.username if user else "")


# --- idempotency -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """What an earlier request with the same Idempotency-Key left: its fingerprint and
    its response (``status`` 0 while that request is still running)."""

    fingerprint: str
    status: int
    body: str


#: A claim still running after this long was left by a broker that stopped mid-request
#: (a crash, a kill): it is given up, else the key answered 409 for ``keep_ms`` (24 h).
ABANDONED_MS = 5 * 60_000


async def reserve_idempotent(
    db: Database, user_id: str, key: str, fingerprint: str, *, at: int, keep_ms: int
) -> StoredResponse | None:
    """Claim ``key`` for a new request (None), or return what an earlier request with
    it left. Keys older than ``keep_ms`` and abandoned claims (:data:`ABANDONED_MS`)
    are forgotten on the way."""
    async with db.sessions.begin() as s:
        await s.execute(
            delete(IdempotencyModel).where(IdempotencyModel.created_at_ms < at - keep_ms)
        )
        await s.execute(
            delete(IdempotencyModel).where(
                IdempotencyModel.status == 0, IdempotencyModel.created_at_ms < at - ABANDONED_MS
            )
        )
    try:
        async with db.sessions.begin() as s:
            s.add(
                IdempotencyModel(
                    user_id=user_id,
                    key=key,
                    fingerprint=fingerprint,
                    status=0,
                    body="",
                    created_at_ms=at,
                )
            )
        return None
    except IntegrityError:
        pass
    async with db.sessions() as s:
        m = await s.get(IdempotencyModel, (user_id, key))
        if m is None:  # it expired or failed in between: the caller may retry
            return StoredResponse(fingerprint, 0, "")
        return StoredResponse(m.fingerprint, m.status, m.body)


async def finish_idempotent(db: Database, user_id: str, key: str, status: int, body: str) -> None:
    """Store the response of the request that claimed ``key``."""
    async with db.sessions.begin() as s:
        await s.execute(
            update(IdempotencyModel)
            .where(IdempotencyModel.user_id == user_id, IdempotencyModel.key == key)
            .values(status=status, body=body)
        )


async def release_idempotent(db: Database, user_id: str, key: str) -> None:
    """Forget ``key`` (its request failed: a retry runs it again)."""
    async with db.sessions.begin() as s:
        await s.execute(
            delete(IdempotencyModel).where(
                IdempotencyModel.user_id == user_id, IdempotencyModel.key == key
            )
        )
