"""The hash-chained session log (SPEC §9).

A record is ``{"seq", "at_ms", "event", "actor", "detail", "prev", "hash"}``: ``hash``
is the SHA-256 hex of the canonical JSON (:mod:`audit.canonical`) of the other six
fields, ``prev`` the previous record's hash (:data:`GENESIS`, 64 zeros, for the first).
``seq`` starts at 1 and grows by one; an empty chain's head is ``(0, GENESIS)``.

:class:`AuditChain` builds a chain (validating before it mutates, so a refused append
leaves it unchanged); :func:`verify_chain` checks any list of records — including
arbitrary JSON read from a file — and names the *first* bad record and why.
"""

from __future__ import annotations

import copy
import enum
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from audit.canonical import MAX_SAFE_INTEGER, canonical_json
from audit.errors import AuditError, ChainError, RecordFormatError
from audit.events import check_event_name

__all__ = [
    "GENESIS",
    "AuditChain",
    "ChainHead",
    "Problem",
    "Reason",
    "Record",
    "SealPoint",
    "VerifyReport",
    "canonical_json",
    "record_hash",
    "verify_chain",
]

GENESIS = "0" * 64
MAX_ACTOR = 128
_FIELDS = ("seq", "at_ms", "event", "actor", "detail", "prev")
_HEX = frozenset("0123456789abcdef")


def _is_digest(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def record_hash(body: Mapping[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of a record's six non-hash fields."""
    return hashlib.sha256(canonical_json({k: body[k] for k in _FIELDS})).hexdigest()


@dataclass(frozen=True, slots=True)
class Record:
    """One record of the session log. Build with :meth:`AuditChain.append` or parse
    with :meth:`from_dict`; ``detail`` is a private copy (mutating it breaks the hash,
    which :func:`verify_chain` reports)."""

    seq: int
    at_ms: int
    event: str
    actor: str
    detail: dict[str, Any]
    prev: str
    hash: str

    def body(self) -> dict[str, Any]:
        """The six hashed fields."""
        return {
            "seq": self.seq,
            "at_ms": self.at_ms,
            "event": self.event,
            "actor": self.actor,
            "detail": self.detail,
            "prev": self.prev,
        }

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON data (SPEC §9), ``hash`` included. A deep copy."""
        data = copy.deepcopy(self.body())
        data["hash"] = self.hash
        return data

    def to_json(self) -> str:
        """The record as one line of canonical JSON (what the JSONL files hold)."""
        return canonical_json(self.to_dict()).decode("utf-8")

    def computed_hash(self) -> str:
        """The hash the content implies (equals :attr:`hash` for an untouched record)."""
        return record_hash(self.body())

    @classmethod
    def from_dict(cls, data: object) -> Record:
        """Parse a record from JSON data, checking every field's type (not the hash).

        Raises :class:`~audit.errors.RecordFormatError` (a ``ValueError``).
        """
        if not isinstance(data, Mapping):
            raise RecordFormatError("a record must be a JSON object")
        missing = [k for k in (*_FIELDS, "hash") if k not in data]
        if missing:
            raise RecordFormatError(f"missing {', '.join(missing)}")
        seq, at_ms = data["seq"], data["at_ms"]
        if not _is_int(seq) or not 1 <= seq <= MAX_SAFE_INTEGER:
            raise RecordFormatError("seq must be a positive integer")
        if not _is_int(at_ms) or not 0 <= at_ms <= MAX_SAFE_INTEGER:
            raise RecordFormatError("at_ms must be a non-negative integer")
        event, actor, detail = data["event"], data["actor"], data["detail"]
        try:
            check_event_name(event)
        except AuditError as exc:
            raise RecordFormatError(str(exc)) from None
        if not isinstance(actor, str) or not 0 < len(actor) <= MAX_ACTOR:
            raise RecordFormatError(f"actor must be a string of 1 to {MAX_ACTOR} characters")
        if not isinstance(detail, Mapping):
            raise RecordFormatError("detail must be a JSON object")
        if not _is_digest(data["prev"]) or not _is_digest(data["hash"]):
            raise RecordFormatError("prev and hash must be 64 lowercase hex digits")
        try:
            canonical_json(detail)
        except AuditError as exc:
            raise RecordFormatError(f"detail: {exc}") from None
        return cls(
            seq=seq,
            at_ms=at_ms,
            event=event,
            actor=actor,
            detail=json.loads(json.dumps(detail, default=dict)),  # private deep copy
            prev=data["prev"],
            hash=data["hash"],
        )


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The last record's ``seq`` and ``hash`` (``(0, GENESIS)`` for an empty chain)."""

    seq: int
    hash: str


class AuditChain:
    """An in-memory chain that appends well-formed records.

    ``AuditChain(records)`` continues an existing chain after verifying it
    (:class:`~audit.errors.ChainError` if it does not verify).
    """

    def __init__(self, records: Iterable[Record] = ()) -> None:
        existing = tuple(records)
        report = verify_chain(existing)
        if not report.ok:
            assert report.problem is not None
            raise ChainError(report.problem.seq or 0, str(report.problem))
        self._records: list[Record] = list(existing)

    @property
    def records(self) -> tuple[Record, ...]:
        """Every record, oldest first."""
        return tuple(self._records)

    @property
    def head(self) -> ChainHead:
        """The head (what a checkpoint signs)."""
        if not self._records:
            return ChainHead(0, GENESIS)
        last = self._records[-1]
        return ChainHead(last.seq, last.hash)

    def __len__(self) -> int:
        return len(self._records)

    def make_next(self, event: str, actor: str, detail: Mapping[str, Any], at_ms: int) -> Record:
        """Build (without appending) the record that would come next.

        Lets a writer make the record durable first and :meth:`accept` it afterwards.
        Raises :class:`~audit.errors.AuditError` subclasses for bad input.
        """
        head = self.head
        body = {
            "seq": head.seq + 1,
            "at_ms": at_ms,
            "event": event,
            "actor": actor,
            "detail": dict(detail) if isinstance(detail, Mapping) else detail,
            "prev": head.hash,
        }
        body["hash"] = GENESIS  # placeholder so from_dict validates every field
        record = Record.from_dict(body)
        return _with_hash(record)

    def accept(self, record: Record) -> None:
        """Append a record made elsewhere (or by :meth:`make_next`) if it continues
        this chain: right seq, right prev, hash matching its content."""
        head = self.head
        if record.seq != head.seq + 1:
            raise ChainError(record.seq, f"expected seq {head.seq + 1}")
        if record.prev != head.hash:
            raise ChainError(record.seq, "prev is not the hash of the last record")
        if record.computed_hash() != record.hash:
            raise ChainError(record.seq, "hash does not match the record's content")
        self._records.append(record)

    def append(self, event: str, actor: str, detail: Mapping[str, Any], at_ms: int) -> Record:
        """Append a new record and return it (the chain is unchanged if this raises)."""
        record = self.make_next(event, actor, detail, at_ms)
        self._records.append(record)
        return record


def _with_hash(record: Record) -> Record:
    return Record(
        seq=record.seq,
        at_ms=record.at_ms,
        event=record.event,
        actor=record.actor,
        detail=record.detail,
        prev=record.prev,
        hash=record.computed_hash(),
    )


class Reason(enum.StrEnum):
    """Why a log (or a checkpoint of it) does not verify."""

    MALFORMED = "malformed"  # not a record at all
    EDITED = "edited"  # content does not match its own hash
    DROPPED = "dropped"  # seq jumps forward: records missing
    REORDERED = "reordered"  # seq out of order or repeated
    BROKEN_LINK = "broken_link"  # prev is not the previous record's hash
    UNSEALED = "unsealed"  # a record after the checkpoint's seq
    CHECKPOINT_MISMATCH = "checkpoint_mismatch"  # record at checkpoint seq has another hash
    TRUNCATED = "truncated"  # the log ends before the checkpoint's seq
    NOT_FINAL = "not_final"  # the final checkpoint does not cover session.ended
    FORGED = "forged"  # bad signature or unknown key
    WRONG_SESSION = "wrong_session"  # checkpoint of another session


@dataclass(frozen=True, slots=True)
class Problem:
    """The first thing wrong: ``index`` in the list given, ``seq`` if it could be read."""

    index: int
    seq: int | None
    reason: Reason
    message: str

    def __str__(self) -> str:
        where = f"record #{self.index}" + (f" (seq {self.seq})" if self.seq is not None else "")
        return f"{where}: {self.reason.value}: {self.message}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Result of :func:`verify_chain`. ``head`` is that of the verified prefix."""

    count: int
    head: ChainHead
    problem: Problem | None = None
    gaps: tuple[tuple[int, int], ...] = field(default=())
    sealed_seq: int | None = None

    @property
    def ok(self) -> bool:
        """True when every record verified (and the checkpoint, if given, matched)."""
        return self.problem is None

    def __str__(self) -> str:
        if self.problem is not None:
            return f"NOT verified: {self.problem}"
        sealed = "" if self.sealed_seq is None else f", sealed at seq {self.sealed_seq}"
        gaps = f", {len(self.gaps)} gap(s)" if self.gaps else ""
        return f"verified: {self.count} records, head seq {self.head.seq}{sealed}{gaps}"


class SealPoint(Protocol):
    """Where a log was sealed: the seq and record hash a signed checkpoint covers.

    :class:`audit.checkpoint.Checkpoint` is one; the chain needs only these two fields,
    so it does not import the checkpoint module (which is built on the chain).
    """

    @property
    def seq(self) -> int:
        """The last sealed seq (0: the empty log)."""
        ...

    @property
    def hash(self) -> str:
        """The hash of the record at ``seq`` (``GENESIS`` for seq 0)."""
        ...


def _peek_seq(item: object) -> int | None:
    if isinstance(item, Record):
        return item.seq
    if isinstance(item, Mapping):
        seq = item.get("seq")
        return seq if _is_int(seq) else None
    return None


def verify_chain(
    records: Sequence[Record | Mapping[str, Any]],
    *,
    checkpoint: SealPoint | None = None,
    allow_gaps: bool = False,
) -> VerifyReport:
    """Verify a list of records (or raw JSON objects); never raises on bad input.

    Checks, record by record, stopping at the first failure: shape (``malformed``),
    hash against content (``edited``), seq (``dropped`` / ``reordered``), prev against
    the previous hash (``broken_link``). With ``checkpoint`` — whose *signature* must be
    checked separately (:func:`audit.checkpoint.verify_sealed_log` does both) — the
    record at its seq must carry its hash (``checkpoint_mismatch``/``truncated``) and
    any later record is reported ``unsealed``.

    ``allow_gaps`` accepts forward seq jumps (a client that missed records while
    disconnected); the link across a gap cannot be checked and is listed in ``gaps``.
    """
    head = ChainHead(0, GENESIS)
    gaps: list[tuple[int, int]] = []
    for index, item in enumerate(records):
        seq = _peek_seq(item)
        try:
            record = item if isinstance(item, Record) else Record.from_dict(item)
            computed = record.computed_hash()
        except AuditError as exc:
            return VerifyReport(index, head, Problem(index, seq, Reason.MALFORMED, str(exc)))
        if computed != record.hash:
            problem = Problem(
                index, record.seq, Reason.EDITED, "content does not match the record's hash"
            )
            return VerifyReport(index, head, problem)
        expected = head.seq + 1
        gap = False
        if record.seq != expected:
            later = any(_peek_seq(r) == expected for r in records[index + 1 :])
            if record.seq > expected and (allow_gaps and not later):
                gaps.append((expected, record.seq - 1))
                gap = True
            elif record.seq > expected and not later:
                msg = f"expected seq {expected}: records {expected}..{record.seq - 1} missing"
                return VerifyReport(
                    index, head, Problem(index, record.seq, Reason.DROPPED, msg), tuple(gaps)
                )
            else:
                msg = f"expected seq {expected}, found {record.seq} (out of order or repeated)"
                return VerifyReport(
                    index, head, Problem(index, record.seq, Reason.REORDERED, msg), tuple(gaps)
                )
        if not gap and record.prev != head.hash:
            msg = (
                "prev does not match the previous record's hash: "
                "a record before it was changed, replaced or removed"
            )
            return VerifyReport(
                index, head, Problem(index, record.seq, Reason.BROKEN_LINK, msg), tuple(gaps)
            )
        head = ChainHead(record.seq, record.hash)
    count = len(records)
    if checkpoint is None:
        return VerifyReport(count, head, None, tuple(gaps))
    return _check_against(records, head, checkpoint, tuple(gaps))


def _check_against(
    records: Sequence[Record | Mapping[str, Any]],
    head: ChainHead,
    checkpoint: SealPoint,
    gaps: tuple[tuple[int, int], ...],
) -> VerifyReport:
    count = len(records)
    if checkpoint.seq == 0:
        index = -1
    else:
        index = next((i for i, r in enumerate(records) if _peek_seq(r) == checkpoint.seq), -2)
    if index == -2 or checkpoint.seq > head.seq:
        msg = f"the checkpoint covers seq {checkpoint.seq} but the log ends at {head.seq}"
        problem = Problem(count, None, Reason.TRUNCATED, msg)
        return VerifyReport(count, head, problem, gaps, checkpoint.seq)
    digest = GENESIS if index == -1 else _record_hash_of(records[index])
    if digest != checkpoint.hash:
        msg = "the signed checkpoint carries another hash for this record"
        problem = Problem(max(index, 0), checkpoint.seq, Reason.CHECKPOINT_MISMATCH, msg)
        return VerifyReport(count, head, problem, gaps, checkpoint.seq)
    if index + 1 < count:
        first = index + 1
        msg = f"appended after the checkpoint at seq {checkpoint.seq}: not covered by a signature"
        problem = Problem(first, _peek_seq(records[first]), Reason.UNSEALED, msg)
        return VerifyReport(count, head, problem, gaps, checkpoint.seq)
    return VerifyReport(count, head, None, gaps, checkpoint.seq)


def _record_hash_of(item: Record | Mapping[str, Any]) -> str:
    return item.hash if isinstance(item, Record) else str(item.get("hash"))
