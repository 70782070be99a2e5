"""Session logs on disk: one canonical-JSON record per line, fsync'd.

:class:`JsonlChainWriter` appends a record per line and ``fsync``\\ s before returning,
so a record the caller saw succeed survives a crash. Reopening a file continues its
chain after verifying it. A crash in the middle of a write leaves a *torn* last line
(bytes without the final newline): by default that is an error
(:class:`~audit.errors.TornTailError`) so nobody silently loses evidence; with
``repair_torn_tail=True`` the torn bytes — a record that was never acknowledged — are
cut off and their size kept in :attr:`JsonlChainWriter.repaired_bytes`.

Files are created with mode 0600: a session log is personal data.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from audit.canonical import unique_keys
from audit.chain import AuditChain, ChainHead, Record, verify_chain
from audit.errors import AuditError, ChainError, LogFileError, TornTailError

__all__ = ["JsonlChainWriter", "JsonlContents", "event_sink", "load_records", "read_jsonl"]


@dataclass(frozen=True, slots=True)
class JsonlContents:
    """What :func:`read_jsonl` found: the complete records and any torn tail."""

    records: tuple[Record, ...]
    valid_length: int  # bytes up to and including the last complete line
    torn_bytes: int  # bytes after it (0 when the file ends with a newline)


def read_jsonl(path: Path) -> JsonlContents:
    """Parse every complete line of ``path`` as a record.

    A malformed *complete* line is corruption, not a crash artefact:
    :class:`~audit.errors.LogFileError` names it. The chain is not verified here
    (use :func:`audit.chain.verify_chain`).
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LogFileError(path, 0, f"cannot read: {exc.strerror}") from None
    end = data.rfind(b"\n") + 1
    records: list[Record] = []
    for number, line in enumerate(data[:end].splitlines(), start=1):
        try:
            records.append(Record.from_dict(json.loads(line, object_pairs_hook=unique_keys)))
        except (ValueError, AuditError) as exc:  # JSONDecodeError, UnicodeDecodeError too
            raise LogFileError(path, number, f"not a record: {exc}") from None
    return JsonlContents(tuple(records), end, len(data) - end)


def load_records(path: Path) -> tuple[Record, ...]:
    """The records of a log file; raises :class:`TornTailError` on a torn last line."""
    contents = read_jsonl(path)
    if contents.torn_bytes:
        raise TornTailError(path, len(contents.records) + 1, contents.torn_bytes)
    return contents.records


class JsonlChainWriter:
    """Append records of one chain to ``path``; reopening continues the chain."""

    def __init__(self, path: Path, *, repair_torn_tail: bool = False) -> None:
        self.path = Path(path)
        self.repaired_bytes = 0
        records: tuple[Record, ...] = ()
        if self.path.exists():
            contents = read_jsonl(self.path)
            if contents.torn_bytes:
                if not repair_torn_tail:
                    raise TornTailError(self.path, len(contents.records) + 1, contents.torn_bytes)
                os.truncate(self.path, contents.valid_length)
                self.repaired_bytes = contents.torn_bytes
            records = contents.records
            report = verify_chain(records)
            if not report.ok:
                line = (report.problem.index + 1) if report.problem else 0
                raise LogFileError(self.path, line, f"cannot continue: {report}")
        self._chain = AuditChain(records)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        self._fd: int | None = os.open(
            self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600
        )
        if created or self.repaired_bytes:
            os.fsync(self._fd)
            _fsync_dir(self.path.parent)

    @property
    def records(self) -> tuple[Record, ...]:
        """Every record in the file, oldest first."""
        return self._chain.records

    @property
    def head(self) -> ChainHead:
        """The head of the file's chain."""
        return self._chain.head

    def append(self, record: Record) -> None:
        """Write ``record`` if it continues the file's chain (:class:`ChainError` if not)."""
        head = self._chain.head
        if record.seq != head.seq + 1 or record.prev != head.hash:
            raise ChainError(record.seq, f"does not continue {self.path.name} (head {head.seq})")
        if record.computed_hash() != record.hash:
            raise ChainError(record.seq, "hash does not match the record's content")
        self._write(record)
        self._chain.accept(record)

    def append_event(self, event: str, actor: str, detail: Mapping[str, Any], at_ms: int) -> Record:
        """Make the next record, write it durably, then return it (fail closed)."""
        record = self._chain.make_next(event, actor, detail, at_ms)
        self._write(record)
        self._chain.accept(record)
        return record

    def _write(self, record: Record) -> None:
        if self._fd is None:
            raise LogFileError(self.path, 0, "writer is closed")
        line = (record.to_json() + "\n").encode("utf-8")
        size = os.fstat(self._fd).st_size
        try:
            if os.write(self._fd, line) != len(line):
                raise OSError("short write")
            os.fsync(self._fd)
        except OSError as exc:
            # Leave no torn line behind for the next append to build on.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, size)
            raise LogFileError(self.path, len(self._chain) + 1, f"write failed: {exc}") from exc

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> JsonlChainWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def event_sink(path: Path, actor: str) -> Callable[[str, Mapping[str, object]], None]:
    """``sink(event, detail)`` appending each call as one record to the chained log at
    ``path`` by ``actor`` (opened and closed per event; raises if it cannot write).

    It has the shape of :data:`certs.store.EventSink`, so the CA's admin actions are
    logged in a hash chain without ``certs`` importing ``audit``: the caller (broker,
    ``clearpane certs``) plugs one into the other.
    """

    def sink(event: str, detail: Mapping[str, object]) -> None:
        with JsonlChainWriter(path) as writer:
            writer.append_event(event, actor, dict(detail), time.time_ns() // 1_000_000)

    return sink
