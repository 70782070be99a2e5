"""Errors of the ``audit`` package.

One root, :class:`AuditError`; subclasses carry structured fields and build their text
in ``__str__``. Parsing errors also subclass :class:`ValueError` so callers that treat
"bad input" generically keep working.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AuditError",
    "CanonicalError",
    "ChainError",
    "CheckpointError",
    "EventError",
    "LogFileError",
    "RecordFormatError",
    "TornTailError",
]


class AuditError(Exception):
    """Root of every error raised by ``audit``."""


class CanonicalError(AuditError, ValueError):
    """A value cannot be written as canonical JSON (``where`` is a JSON path)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(where, reason)
        self.where = where
        self.reason = reason

    def __str__(self) -> str:
        return f"not canonical JSON at {self.where}: {self.reason}"


class RecordFormatError(AuditError, ValueError):
    """A record (or checkpoint) is not shaped as SPEC §9 says."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"malformed: {self.reason}"


class EventError(AuditError, ValueError):
    """An event name is malformed, unknown, or not allowed from this source."""

    def __init__(self, event: str, reason: str) -> None:
        super().__init__(event, reason)
        self.event = event
        self.reason = reason

    def __str__(self) -> str:
        return f"event {self.event!r}: {self.reason}"


class ChainError(AuditError):
    """A record does not continue the chain it is appended to."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(seq, reason)
        self.seq = seq
        self.reason = reason

    def __str__(self) -> str:
        return f"record seq {self.seq} rejected: {self.reason}"


class CheckpointError(AuditError, ValueError):
    """A checkpoint failed verification. ``reason`` is an ``audit.chain.Reason`` value."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(reason, message)
        self.reason = reason
        self.message = message

    def __str__(self) -> str:
        return f"checkpoint rejected ({self.reason}): {self.message}"


class LogFileError(AuditError):
    """A log file cannot be read or continued (``line`` is 1-based, 0 if not a line)."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        super().__init__(path, line, reason)
        self.path = path
        self.line = line
        self.reason = reason

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else str(self.path)
        return f"{where}: {self.reason}"


class TornTailError(LogFileError):
    """The file ends in a partial line: a write was cut short (crash, full disk)."""

    def __init__(self, path: Path, line: int, torn_bytes: int) -> None:
        super().__init__(path, line, f"torn last line ({torn_bytes} bytes without newline)")
        self.torn_bytes = torn_bytes
