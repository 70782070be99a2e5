"""Tables of staff single sign-on with OpenID Connect (issue 18, broker/auth/oidc.py):
the logins under way (``state`` → nonce, PKCE verifier, the browser that started it)
and the link from a provider's subject to the local user."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from broker.store.models import Base

__all__ = ["OidcIdentityModel", "OidcLoginModel"]


class OidcLoginModel(Base):
    """One login started at the provider and not yet finished. Kept in the store, not
    in a node's memory, so the callback may land on any broker node; deleted when the
    callback uses it (a state works once)."""

    __tablename__ = "oidc_logins"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    browser_hash: Mapped[str] = mapped_column(String(64))  # of the binding cookie
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    return_to: Mapped[str] = mapped_column(String(300))
    created_at_ms: Mapped[int] = mapped_column(BigInteger, index=True)


class OidcIdentityModel(Base):
    """A provider's user (``issuer``, ``subject``) linked to a local user, and the ID
    token of their latest login (the ``id_token_hint`` of RP-initiated logout)."""

    __tablename__ = "oidc_identities"

    issuer: Mapped[str] = mapped_column(String(300), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), unique=True)
    last_id_token: Mapped[str] = mapped_column(Text, default="")
    last_login_ms: Mapped[int] = mapped_column(BigInteger)
