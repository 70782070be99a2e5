"""Protocol errors (SPEC §7).

:class:`ProtocolError` is the root exception of the package. It carries a
stable ``code`` (sent in ``error`` messages), a human ``message`` and the
WebSocket ``close_code`` to use when the error is fatal (``None``: the
connection stays open).
"""

from enum import StrEnum
from types import EllipsisType
from typing import Final


class ErrorCode(StrEnum):
    """Stable ``error.code`` values of SPEC §7."""

    MALFORMED_JSON = "malformed_json"
    MALFORMED_BINARY = "malformed_binary"
    INVALID_FIELD = "invalid_field"
    UNKNOWN_TYPE = "unknown_type"
    TOO_LARGE = "too_large"
    RATE_LIMITED = "rate_limited"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    WRONG_STATE = "wrong_state"
    NOT_GRANTED = "not_granted"
    SESSION_ENDED = "session_ended"
    SHUTTING_DOWN = "shutting_down"


MALFORMED_JSON: Final = ErrorCode.MALFORMED_JSON
MALFORMED_BINARY: Final = ErrorCode.MALFORMED_BINARY
INVALID_FIELD: Final = ErrorCode.INVALID_FIELD
UNKNOWN_TYPE: Final = ErrorCode.UNKNOWN_TYPE
TOO_LARGE: Final = ErrorCode.TOO_LARGE
RATE_LIMITED: Final = ErrorCode.RATE_LIMITED
UNAUTHORIZED: Final = ErrorCode.UNAUTHORIZED
FORBIDDEN: Final = ErrorCode.FORBIDDEN
WRONG_STATE: Final = ErrorCode.WRONG_STATE
NOT_GRANTED: Final = ErrorCode.NOT_GRANTED
SESSION_ENDED: Final = ErrorCode.SESSION_ENDED
SHUTTING_DOWN: Final = ErrorCode.SHUTTING_DOWN

CLOSE_CODES: Final[dict[str, int | None]] = {
    ErrorCode.MALFORMED_JSON: 4400,
    ErrorCode.MALFORMED_BINARY: 4400,
    ErrorCode.INVALID_FIELD: None,
    ErrorCode.UNKNOWN_TYPE: None,
    ErrorCode.TOO_LARGE: 1009,
    ErrorCode.RATE_LIMITED: 4429,
    ErrorCode.UNAUTHORIZED: 4401,
    ErrorCode.FORBIDDEN: 4403,
    ErrorCode.WRONG_STATE: None,
    ErrorCode.NOT_GRANTED: None,
    ErrorCode.SESSION_ENDED: 4000,
    ErrorCode.SHUTTING_DOWN: 1001,
}
"""SPEC §7: WebSocket close code per error code; ``None`` = not fatal."""


def close_code_for(code: str) -> int | None:
    """Return the SPEC §7 close code for ``code`` (``None`` if not fatal or unknown)."""
    return CLOSE_CODES.get(code)


class ProtocolError(Exception):
    """A peer broke the protocol (or an action is not allowed).

    ``code`` is a stable SPEC §7 code, ``message`` is for people, ``close_code``
    is the WebSocket close code when the error is fatal, else ``None``; left out,
    it is the SPEC §7 close code of ``code``.
    """

    def __init__(
        self, code: str, message: str, close_code: int | EllipsisType | None = ...
    ) -> None:
        # Left out, the close code is the SPEC §7 one for ``code``; pass None for "not fatal".
        resolved = CLOSE_CODES.get(code) if isinstance(close_code, EllipsisType) else close_code
        super().__init__(code, message, resolved)
        self.code = code
        self.message = message
        self.close_code: int | None = resolved

    @classmethod
    def of(cls, code: ErrorCode, message: str) -> "ProtocolError":
        """Build an error whose close code is the SPEC §7 default for ``code``."""
        return cls(code, message, CLOSE_CODES[code])

    @property
    def fatal(self) -> bool:
        """Whether the connection must be closed (``close_code`` is set)."""
        return self.close_code is not None

    def __str__(self) -> str:
        suffix = f" (close {self.close_code})" if self.close_code is not None else ""
        return f"{self.code}: {self.message}{suffix}"

    def __repr__(self) -> str:
        return f"ProtocolError({self.code!r}, {self.message!r}, {self.close_code!r})"
