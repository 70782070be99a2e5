"""Compare the client's copy of a session log with the broker's copy (G10).

Both copies must verify as chains; every record the client holds must be identical
(same hash) to the broker's record with the same seq — the client may have *fewer*
records (it missed some while disconnected: reported as gaps, not as tampering); and
the broker's signed checkpoint must match both copies. Either side quietly editing,
dropping or adding a record makes the two disagree, and the report says where.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from audit.chain import GENESIS, Record, VerifyReport, verify_chain
from audit.checkpoint import Checkpoint, Keyring, load_checkpoint, verify_sealed_log
from audit.errors import AuditError
from audit.jsonl import load_records

__all__ = ["CompareReport", "compare_copies", "compare_files"]


@dataclass(frozen=True, slots=True)
class CompareReport:
    """Result of :func:`compare_copies`. ``problems`` empty means the copies agree."""

    client: VerifyReport
    broker: VerifyReport
    common_seq: int  # the last seq both copies hold
    first_difference: int | None  # the first seq at which the copies differ
    missing_on_client: tuple[tuple[int, int], ...]  # seq ranges the client never received
    checkpoint_broker: VerifyReport | None  # the checkpoint against the broker copy
    checkpoint_matches_client: bool | None  # the signed hash is the client's at that seq
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True when both copies verify, agree, and match the checkpoint (if given)."""
        return not self.problems

    def __str__(self) -> str:
        if self.ok:
            return f"copies agree up to seq {self.common_seq}"
        return "copies DISAGREE: " + "; ".join(self.problems)


def _parse(records: Sequence[Record | Mapping[str, Any]]) -> list[Record] | None:
    try:
        return [r if isinstance(r, Record) else Record.from_dict(r) for r in records]
    except AuditError:
        return None


def compare_copies(
    client_records: Sequence[Record | Mapping[str, Any]],
    broker_records: Sequence[Record | Mapping[str, Any]],
    *,
    checkpoint: Checkpoint | None = None,
    keys: ed25519.Ed25519PublicKey | Keyring | None = None,
    session_id: str | None = None,
    final: bool = True,
) -> CompareReport:
    """Compare two copies of one session's log; never raises on bad input.

    With ``checkpoint``, ``keys`` and ``session_id`` are required: the checkpoint must
    be genuine, cover the broker's copy (``final``: all of it, ending with
    ``session.ended``), and match the client's copy at its seq.
    """
    problems: list[str] = []
    client_report = verify_chain(client_records, allow_gaps=True)
    broker_report = verify_chain(broker_records)
    if not client_report.ok:
        problems.append(f"client copy: {client_report}")
    if not broker_report.ok:
        problems.append(f"broker copy: {broker_report}")

    client = _parse(client_records) or []
    broker = _parse(broker_records) or []
    by_seq = {r.seq: r for r in broker}
    common, first_difference = 0, None
    for record in client:
        other = by_seq.get(record.seq)
        if other is None:
            if first_difference is None:
                first_difference = record.seq
            problems.append(f"seq {record.seq} is in the client copy only")
            break
        if other != record:  # content and hash: an edit that kept the old hash counts
            first_difference = record.seq
            problems.append(f"seq {record.seq} differs between the copies")
            break
        common = record.seq

    cp_broker: VerifyReport | None = None
    matches_client: bool | None = None
    if checkpoint is not None:
        if keys is None or session_id is None:
            raise ValueError("checking a checkpoint needs keys and session_id")
        cp_broker = verify_sealed_log(
            broker_records, checkpoint, keys, session_id=session_id, final=final
        )
        if not cp_broker.ok:
            problems.append(f"checkpoint vs broker copy: {cp_broker}")
        if checkpoint.seq == 0:
            held: str | None = GENESIS
        else:
            held = next((r.hash for r in client if r.seq == checkpoint.seq), None)
        matches_client = held == checkpoint.hash
        if held is None:
            problems.append(f"the client copy lacks seq {checkpoint.seq}, which is signed")
        elif not matches_client:
            problems.append(
                f"the checkpoint does not match the client copy at seq {checkpoint.seq}"
            )
    return CompareReport(
        client=client_report,
        broker=broker_report,
        common_seq=common,
        first_difference=first_difference,
        missing_on_client=client_report.gaps,
        checkpoint_broker=cp_broker,
        checkpoint_matches_client=matches_client,
        problems=tuple(problems),
    )


def compare_files(
    client_log: Path,
    broker_log: Path,
    *,
    session_id: str,
    checkpoint_path: Path | None = None,
    keys: ed25519.Ed25519PublicKey | Keyring | None = None,
    final: bool = True,
) -> CompareReport:
    """:func:`compare_copies` on two JSONL files (``clearpane audit verify``).

    ``keys`` come from the checkpoint-signer certificate verified against the
    organisation root (``certs.verify.verify_checkpoint_signer``). File errors (a torn
    or corrupt line, an unreadable checkpoint) raise :class:`~audit.errors.AuditError`.
    """
    checkpoint = load_checkpoint(checkpoint_path) if checkpoint_path is not None else None
    return compare_copies(
        load_records(client_log),
        load_records(broker_log),
        checkpoint=checkpoint,
        keys=keys,
        session_id=session_id,
        final=final,
    )
