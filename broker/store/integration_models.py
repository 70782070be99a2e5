"""Tables of the help-desk integration (issue 18): API keys of integration accounts
and the stored responses of idempotent POSTs."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from broker.store.models import Base

__all__ = ["ApiKeyModel", "IdempotencyModel"]


class ApiKeyModel(Base):
    """An API key of an integration account; only the SHA-256 of the key is kept (the
    key is 256 random bits, so a slow password hash would add nothing)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # "cpk_" and 8 characters: recognisable
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    expires_at_ms: Mapped[int] = mapped_column(BigInteger)
    revoked_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    last_used_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class IdempotencyModel(Base):
    """One ``Idempotency-Key`` of one caller: the request's fingerprint and, once the
    request has succeeded, its response (replayed for 24 h). ``status`` 0: in progress."""

    __tablename__ = "idempotency_keys"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer, default=0)
    body: Mapped[str] = mapped_column(Text, default="")
    created_at_ms: Mapped[int] = mapped_column(BigInteger, index=True)
