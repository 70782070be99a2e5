"""The broker's exceptions. Domain code raises these; one middleware
(broker/middleware.py) turns them into ``{"error": {"code", "message"}}`` responses.
"""

from __future__ import annotations

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
    "RateLimited",
    "Unauthorized",
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


class NotFound(BrokerError):
    """No such object (or not visible to the caller)."""

    code = "not_found"
    status = 404


class Conflict(BrokerError):
    """The object's state does not allow this (e.g. username taken, session ended)."""

    code = "conflict"
    status = 409


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
