"""Test helpers: a throw-away CA in memory and fixed clocks.

For tests only (like trustme, but with this package's production profiles).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from certs.ca import CertificateAuthority, Clock, utc_now

__all__ = ["MemoryPki", "fixed_clock"]


def fixed_clock(at: dt.datetime) -> Clock:
    """A clock that always returns ``at`` (timezone-aware)."""
    if at.tzinfo is None:
        raise ValueError("fixed_clock needs a timezone-aware datetime")

    def clock() -> dt.datetime:
        return at

    return clock


@dataclass(frozen=True)
class MemoryPki:
    """A root and an issuing intermediate held in memory."""

    root: CertificateAuthority
    issuing: CertificateAuthority

    @classmethod
    def create(cls, organization: str = "Test Org", *, clock: Clock | None = None) -> MemoryPki:
        """A fresh root + intermediate (ECDSA P-256), optionally on a fixed clock."""
        root = CertificateAuthority.create_root(
            f"{organization} Root", organization=organization, clock=clock or utc_now
        )
        return cls(root=root, issuing=root.create_intermediate(f"{organization} Issuing"))
