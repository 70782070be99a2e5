"""Tables of the security hardening (issue 14): organisations with their contract
tier, and the ids of single-use tokens already spent (viewer join tokens)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column

from broker.store.models import Base

__all__ = ["OrganisationModel", "SpentTokenModel"]


class OrganisationModel(Base):
    """A customer organisation; its contract decides the SLA tier of its tickets."""

    __tablename__ = "organisations"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    tier: Mapped[str] = mapped_column(ForeignKey("sla_tiers.name"))
    # A disabled organisation (contract ended) gets no new tickets or client requests.
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


class SpentTokenModel(Base):
    """A single-use token that was used once (its ``jti``), kept until it expires."""

    __tablename__ = "spent_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at_ms: Mapped[int] = mapped_column(BigInteger, index=True)
