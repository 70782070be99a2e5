"""Per-organisation integration policy (issue 18): whether the signed session summary
written back to the help desk carries the chat transcript. Kept apart from the
organisation's contract (tier, SLA) so that each has one owner; an organisation
without a row has the defaults (no transcript)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import BigInteger, Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from broker.store.db import Database
from broker.store.models import Base

__all__ = ["OrganisationPolicy", "OrganisationPolicyModel", "get_policy", "put_policy"]


class OrganisationPolicyModel(Base):
    """One organisation's policy."""

    __tablename__ = "organisation_policies"

    organisation: Mapped[str] = mapped_column(String(200), primary_key=True)
    summary_includes_chat: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)


@dataclass(frozen=True, slots=True)
class OrganisationPolicy:
    """An organisation's policy (defaults when it has none stored)."""

    organisation: str
    summary_includes_chat: bool = False
    updated_at_ms: int | None = None


async def get_policy(db: Database, organisation: str) -> OrganisationPolicy:
    """The policy of ``organisation`` (the defaults if none is stored)."""
    async with db.sessions() as s:
        m = await s.get(OrganisationPolicyModel, organisation)
        if m is None:
            return OrganisationPolicy(organisation)
        return OrganisationPolicy(m.organisation, m.summary_includes_chat, m.updated_at_ms)


async def put_policy(
    db: Database, organisation: str, *, summary_includes_chat: bool, at: int
) -> OrganisationPolicy:
    """Store the policy of ``organisation``."""
    async with db.sessions.begin() as s:
        m = await s.get(OrganisationPolicyModel, organisation)
        if m is None:
            m = OrganisationPolicyModel(organisation=organisation, updated_at_ms=at)
            s.add(m)
        m.summary_includes_chat = summary_includes_chat
        m.updated_at_ms = at
        return OrganisationPolicy(organisation, summary_includes_chat, at)
