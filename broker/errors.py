"""The broker's exceptions. Domain code raises these; one middleware
(broker/middleware.py) turns them into ``{"error": {"code", "message"}}`` responses.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence

__all__ = [
    "BadRequest",
    "BrokerError",
    "ConfigError",
    "Conflict",
    "Forbidden",
    "Gone",
    "InvalidField",
    "NotFound",
    "OrganisationDisabled",
    "PasswordChangeRequired",
    "RateLimited",
    "Unauthorized",
    "Unavailable",
    "is_storage_failure",
]


class BrokerError(Exception):
    """Root of the broker's exceptions: a stable ``code``, an HTTP ``status`` and a
    message that tells the caller what to do."""

    code = "internal"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ConfigError(BrokerError):
    """The configuration is invalid; ``problems`` lists each bad value."""

    code = "config"

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


class BadRequest(BrokerError):
    """The body is not JSON, not an object, or otherwise unreadable."""

    code = "bad_request"
    status = 400


class InvalidField(BadRequest):
    """A field is missing, unknown, of the wrong type or out of range."""

    code = "invalid_field"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


class Unauthorized(BrokerError):
    """No valid credentials."""

    code = "unauthorized"
    status = 401


class Forbidden(BrokerError):
    """Valid credentials, but not allowed."""

    code = "forbidden"
    status = 403


class PasswordChangeRequired(Forbidden):
    """The caller signed in with a one-time password (the first admin's, a generated one,
    an admin's reset): nothing but replacing it (``POST /api/v1/auth/password``),
    reading ``/me``, enrolling MFA and logging out is allowed until then."""

    code = "password_change_required"


class NotFound(BrokerError):
    """No such object (or not visible to the caller)."""

    code = "not_found"
    status = 404


class Conflict(BrokerError):
    """The object's state does not allow this (e.g. username taken, session ended)."""

    code = "conflict"
    status = 409


class OrganisationDisabled(Conflict):
    """The request names an organisation an admin disabled (its contract ended)."""

    code = "organisation_disabled"

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"the organisation {name!r} is disabled; an admin can enable it again")


class Gone(BrokerError):
    """The object existed but is used up or expired (e.g. an invitation code)."""

    code = "gone"
    status = 410


class RateLimited(BrokerError):
    """Too many attempts; ``retry_after_s`` says when to try again."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class Unavailable(BrokerError):
    """The broker cannot store this now (disk full, database gone): retry later.
    Nothing of the request was kept."""

    code = "unavailable"
    status = 503


#: errno values that mean "the storage cannot take this write", not "a bug".
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EFBIG})


def is_storage_failure(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is the storage failing: a full or read-only
    disk, an I/O error, or the database unreachable or refusing writes."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in STORAGE_ERRNOS:
            return True
        name = type(current).__name__
        module = type(current).__module__
        # SQLAlchemy wraps every driver: OperationalError (SQLite "database or disk is
        # full", "disk I/O error", PostgreSQL connection lost), InterfaceError, and a
        # pool TimeoutError. Matched by name: errors.py must not import SQLAlchemy.
        if module.startswith("sqlalchemy") and name in (
            "OperationalError",
            "InterfaceError",
            "TimeoutError",
            "DisconnectionError",
        ):
            return True
        current = current.__cause__ or current.__context__
    return False
