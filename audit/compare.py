"""Compare the client's copy of a session log with the broker's copy (G10).

Verification proves *completeness*, not only integrity: every seq of either copy up to
its last record must be present, once, in order and identical, in the other copy. Each
copy is first examined on its own (:func:`inventory`: malformed, edited, duplicated,
reordered, broken links, missing seqs — every one, not only the first), then the two are
compared seq by seq, and the pair is classified (:class:`Verdict`):

``identical``  both copies hold the same records, 1..N, nothing else;
``prefix``     the client's copy is exactly the broker's records 1..N and the broker holds
               more (a kill while the broker hung, an outage): an honest shorter copy;
``gap``        every record the client holds matches, but some before its last are
               missing (lost in transit, or deleted from the client's copy);
``diverged``   the copies contradict each other, or one of them is damaged: the first
               bad record is named.

The verdict comes with :attr:`CompareReport.conclusion`, the sentence a reviewer may
write down. A signed checkpoint decides which copy is the broker's signed statement when
they diverge, and says whether the broker's records the client never received are
covered by a signature.
"""

from __future__ import annotations

import bisect
import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from audit.chain import GENESIS, Reason, Record, VerifyReport, verify_chain
from audit.checkpoint import Checkpoint, Keyring, load_checkpoint, verify_sealed_log
from audit.errors import AuditError, CheckpointError
from audit.jsonl import load_records

__all__ = [
    "CompareReport",
    "CopyFinding",
    "LaterRecord",
    "Verdict",
    "compare_copies",
    "compare_files",
    "inventory",
]

CLIENT = "client"
BROKER = "broker"


class Verdict(enum.StrEnum):
    """How the client's copy relates to the broker's."""

    IDENTICAL = "identical"
    PREFIX = "prefix"
    GAP = "gap"
    DIVERGED = "diverged"


# Reasons of a finding (besides audit.chain.Reason values: malformed, edited, broken_link).
MISSING = "missing"  # a seq the copy should hold (at or before its last) is absent
EXTRA = "extra"  # a record after the other copy's last record
DUPLICATED = "duplicated"  # the same seq twice in one copy
REORDERED = "reordered"  # a record out of seq order within its copy
DIFFERS = "differs"  # the two copies hold different records for one seq


@dataclass(frozen=True, slots=True)
class CopyFinding:
    """One thing wrong: which copy, its 1-based position in that copy (``None`` for a
    record it lacks), the seq, a reason and the words."""

    copy: str  # "client" or "broker"
    position: int | None
    seq: int | None
    reason: str
    message: str

    def __str__(self) -> str:
        where = f"{self.copy} copy"
        if self.position is not None:
            where += f" record #{self.position}"
        if self.seq is not None:
            where += f" (seq {self.seq})"
        return f"{where}: {self.reason}: {self.message}"


@dataclass(frozen=True, slots=True)
class LaterRecord:
    """A broker record after the end of the client's prefix."""

    seq: int
    event: str
    at_ms: int
    signed_by: int | None  # seq of a genuine checkpoint covering it, if any

    def __str__(self) -> str:
        cover = (
            f"covered by the signed checkpoint at seq {self.signed_by}"
            if self.signed_by is not None
            else "NOT covered by any signed checkpoint"
        )
        return f"seq {self.seq} {self.event} at {_when(self.at_ms)}: {cover}"


def _when(at_ms: int) -> str:
    moment = dt.datetime.fromtimestamp(at_ms / 1000, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at_ms % 1000:03d}Z"


@dataclass(slots=True)
class _Copy:
    """One copy examined on its own."""

    name: str
    by_seq: dict[int, Record] = field(default_factory=dict)  # first occurrence of each seq
    position: dict[int, int] = field(default_factory=dict)  # seq -> 1-based position
    findings: list[CopyFinding] = field(default_factory=list)
    edited: set[int] = field(default_factory=set)

    @property
    def last(self) -> int:
        return max(self.by_seq, default=0)


def _longest_increasing(seqs: Sequence[int]) -> set[int]:
    """Indexes of one longest strictly increasing subsequence (records in place)."""
    tails: list[int] = []
    tail_index: list[int] = []
    parent = [-1] * len(seqs)
    for i, s in enumerate(seqs):
        k = bisect.bisect_left(tails, s)
        if k == len(tails):
            tails.append(s)
            tail_index.append(i)
        else:
            tails[k] = s
            tail_index[k] = i
        parent[i] = tail_index[k - 1] if k else -1
    keep: set[int] = set()
    i = tail_index[-1] if tail_index else -1
    while i >= 0:
        keep.add(i)
        i = parent[i]
    return keep


def inventory(
    records: Sequence[Record | Mapping[str, Any]], name: str, *, missing: bool = True
) -> _Copy:
    """Examine one copy and name *every* problem in it: malformed or edited records,
    a seq held twice, records out of order, links that do not join, and (``missing``)
    the seqs absent before its last record."""
    copy = _Copy(name)
    placed: list[tuple[int, int, Record]] = []  # (position, seq, record), first occurrences
    for position, item in enumerate(records, start=1):
        try:
            record = item if isinstance(item, Record) else Record.from_dict(item)
        except AuditError as exc:
            copy.findings.append(CopyFinding(name, position, None, Reason.MALFORMED, str(exc)))
            continue
        if record.computed_hash() != record.hash:
            copy.edited.add(record.seq)
            copy.findings.append(
                CopyFinding(
                    name, position, record.seq, Reason.EDITED,
                    "its content does not match its own hash",
                )
            )  # fmt: skip
        if record.seq in copy.by_seq:
            first = copy.position[record.seq]
            same = "an exact repeat" if copy.by_seq[record.seq] == record else "a different record"
            copy.findings.append(
                CopyFinding(
                    name, position, record.seq, DUPLICATED,
                    f"seq {record.seq} already at record #{first}: {same}",
                )
            )  # fmt: skip
            continue
        copy.by_seq[record.seq] = record
        copy.position[record.seq] = position
        placed.append((position, record.seq, record))
    in_place = _longest_increasing([seq for _, seq, _ in placed])
    for i, (position, seq, _) in enumerate(placed):
        if i not in in_place:
            before = max((s for _, s, _ in placed[:i]), default=0)
            lower = min((s for _, s, _ in placed[i + 1 :] if s < seq), default=None)
            where = f"after seq {before}" if before > seq else f"before seq {lower}"
            copy.findings.append(
                CopyFinding(name, position, seq, REORDERED, f"out of order ({where})")
            )
    for seq in range(1, copy.last + 1):
        held = copy.by_seq.get(seq)
        if held is None:
            continue
        if seq == 1:
            expected: str | None = GENESIS
        else:
            previous = copy.by_seq.get(seq - 1)
            expected = previous.hash if previous is not None else None
        if expected is not None and held.prev != expected:
            copy.findings.append(
                CopyFinding(
                    name, copy.position[seq], seq, Reason.BROKEN_LINK,
                    f"prev is not the hash of seq {seq - 1}: a record before it was "
                    "changed, replaced or removed",
                )
            )  # fmt: skip
    absent = [s for s in range(1, copy.last + 1) if s not in copy.by_seq] if missing else []
    for first, last in _ranges(absent):
        what = f"seq {first}" if first == last else f"seqs {first}..{last}"
        copy.findings.append(
            CopyFinding(
                name, None, first, MISSING,
                f"{what} absent though the copy holds seq {copy.last}",
            )
        )  # fmt: skip
    return copy


def _ranges(values: Sequence[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for v in values:
        if out and out[-1][1] == v - 1:
            out[-1] = (out[-1][0], v)
        else:
            out.append((v, v))
    return out


@dataclass(frozen=True, slots=True)
class CompareReport:
    """Result of :func:`compare_copies`. ``ok`` when the verdict is identical or an
    honest prefix and nothing is wrong with either copy or the checkpoint."""

    verdict: Verdict
    client_last: int  # the client's last seq
    broker_last: int
    common_seq: int  # the copies agree on every record 1..common_seq
    first_difference: int | None  # the first seq at which the copies stop agreeing
    findings: tuple[CopyFinding, ...]
    later: tuple[LaterRecord, ...]  # the broker's records after the client's prefix
    missing_on_client: tuple[tuple[int, int], ...]
    conclusion: str
    client: VerifyReport
    broker: VerifyReport
    checkpoint_broker: VerifyReport | None = None  # the final checkpoint vs the broker copy
    checkpoint_matches_client: bool | None = None
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """True for ``identical`` or ``prefix`` with no problem at all."""
        return not self.problems

    def summary(self) -> str:
        """One line: the verdict in words."""
        if self.verdict is Verdict.IDENTICAL:
            return f"identical: both copies hold the same {self.broker_last} records"
        if self.verdict is Verdict.PREFIX:
            return (
                f"a complete prefix ending at seq {self.client_last}; "
                f"the broker holds {len(self.later)} later record(s)"
            )
        if self.verdict is Verdict.GAP:
            gaps = ", ".join(f"{a}..{b}" if a != b else str(a) for a, b in self.missing_on_client)
            return f"gap: the client copy lacks seq {gaps} before its last (seq {self.client_last})"
        bad = next((f for f in self.findings if f.reason != MISSING or f.copy == BROKER), None)
        first = f"seq {bad.seq} ({bad.copy} copy: {bad.reason})" if bad else "?"
        return f"diverged: first bad record {first}; the copies agree up to seq {self.common_seq}"

    def lines(self) -> list[str]:
        """Every line of the human report: verdict, findings, later records, conclusion."""
        out = [self.summary()]
        out.extend(f"  {f}" for f in self.findings)
        out.extend(f"  later: {r}" for r in self.later)
        out.append(f"  conclusion: {self.conclusion}")
        return out

    def __str__(self) -> str:
        if self.ok:
            return "copies agree: " + "\n".join(self.lines())
        return "copies DISAGREE: " + "; ".join(self.problems)


def _covering(seq: int, checkpoints: Sequence[Checkpoint]) -> int | None:
    return next((cp.seq for cp in sorted(checkpoints, key=lambda c: c.seq) if cp.seq >= seq), None)


def _genuine(
    cps: Sequence[Checkpoint], keys: ed25519.Ed25519PublicKey | Keyring | None, sid: str | None
) -> list[Checkpoint]:
    from audit.checkpoint import verify_checkpoint

    if keys is None or sid is None:
        return []
    out = []
    for cp in cps:
        try:
            verify_checkpoint(cp, keys, session_id=sid)
        except CheckpointError:
            continue
        out.append(cp)
    return out


def compare_copies(
    client_records: Sequence[Record | Mapping[str, Any]],
    broker_records: Sequence[Record | Mapping[str, Any]],
    *,
    checkpoint: Checkpoint | None = None,
    keys: ed25519.Ed25519PublicKey | Keyring | None = None,
    session_id: str | None = None,
    final: bool = True,
    checkpoints: Sequence[Checkpoint] = (),
    client_checkpoint: Checkpoint | None = None,
) -> CompareReport:
    """Compare two copies of one session's log; never raises on bad input.

    ``checkpoint`` is the broker's final checkpoint (with ``keys`` and ``session_id``,
    required then): it must be genuine, cover the broker's copy (``final``: all of it,
    ending with ``session.ended``) and match the client's copy where the client holds
    that seq. ``checkpoints`` are all the broker's checkpoints (to say which later
    records a signature covers); ``client_checkpoint`` is one the client kept — a
    genuine one the broker's copy contradicts proves the broker rewrote its copy.
    """
    if checkpoint is not None and (keys is None or session_id is None):
        raise ValueError("checking a checkpoint needs keys and session_id")
    client = inventory(client_records, CLIENT, missing=False)
    broker = inventory(broker_records, BROKER, missing=False)
    findings: list[CopyFinding] = [*client.findings, *broker.findings]
    bad_seqs: list[int] = [f.seq if f.seq is not None else 1 for f in findings]
    later: list[LaterRecord] = []
    signed = [
        cp
        for cp in _genuine([*checkpoints, *([checkpoint] if checkpoint else [])], keys, session_id)
        if cp.seq == 0 or (cp.seq in broker.by_seq and broker.by_seq[cp.seq].hash == cp.hash)
    ]
    missing_on_client: list[int] = []
    missing_on_broker: list[int] = []
    for seq in range(1, max(client.last, broker.last) + 1):
        mine, theirs = client.by_seq.get(seq), broker.by_seq.get(seq)
        if mine is not None and theirs is not None:
            if mine != theirs:
                findings.append(_differs(seq, mine, theirs, client, broker, signed))
                bad_seqs.append(seq)
            continue
        if mine is None and seq < client.last:
            missing_on_client.append(seq)
        if theirs is None and seq < broker.last:
            missing_on_broker.append(seq)
            bad_seqs.append(seq)
        if mine is None and theirs is not None and seq > client.last:
            later.append(LaterRecord(seq, theirs.event, theirs.at_ms, _covering(seq, signed)))
        if mine is not None and theirs is None and seq > broker.last:
            findings.append(
                CopyFinding(
                    CLIENT, client.position[seq], seq, EXTRA,
                    f"{mine.event}: after the broker's last record (seq {broker.last})",
                )
            )  # fmt: skip
            bad_seqs.append(seq)
    for copy, other, absent in (
        (CLIENT, broker, missing_on_client),
        (BROKER, client, missing_on_broker),
    ):
        for first, last in _ranges(absent):
            held = [s for s in range(first, last + 1) if s in other.by_seq]
            what = f"seq {first}" if first == last else f"seqs {first}..{last}"
            events = ", ".join(f"{s} {other.by_seq[s].event}" for s in held[:5])
            also = f"; the {other.name} copy holds {events}" if held else ""
            findings.append(
                CopyFinding(
                    copy, None, first, MISSING,
                    f"{what} absent, though this copy goes on to seq "
                    f"{client.last if copy == CLIENT else broker.last}{also}",
                )
            )  # fmt: skip

    cp_broker, matches_client = _final_checkpoint(
        checkpoint, keys, session_id, final, client, broker_records, findings, bad_seqs
    )
    if client_checkpoint is not None:
        _client_checkpoint(client_checkpoint, keys, session_id, client, broker, findings, bad_seqs)

    first_bad = min(bad_seqs) if bad_seqs else None
    first_gap = missing_on_client[0] if missing_on_client else None
    if first_bad is not None:
        verdict = Verdict.DIVERGED
    elif first_gap is not None:
        verdict = Verdict.GAP
    elif client.last < broker.last:
        verdict = Verdict.PREFIX
    else:
        verdict = Verdict.IDENTICAL
    stops = [s for s in (first_bad, first_gap) if s is not None]
    first_difference = min(stops) if stops else None
    if first_difference is None and later:
        first_difference = later[0].seq
    common = (first_difference - 1) if first_difference is not None else client.last
    problems = [str(f) for f in findings]
    if verdict is Verdict.GAP and not problems:  # pragma: no cover - gaps are findings
        problems.append("the client copy has gaps")
    return CompareReport(
        verdict=verdict,
        client_last=client.last,
        broker_last=broker.last,
        common_seq=max(common, 0),
        first_difference=first_difference,
        findings=tuple(sorted(findings, key=_order)),
        later=tuple(later),
        missing_on_client=tuple(_ranges(missing_on_client)),
        conclusion=_conclusion(verdict, client.last, broker.last, first_bad, later),
        client=verify_chain(client_records, allow_gaps=True),
        broker=verify_chain(broker_records),
        checkpoint_broker=cp_broker,
        checkpoint_matches_client=matches_client,
        problems=tuple(str(f) for f in sorted(findings, key=_order)),
    )


def _order(f: CopyFinding) -> tuple[int, int, str]:
    return (f.seq if f.seq is not None else 0, 0 if f.copy == CLIENT else 1, f.reason)


def _differs(
    seq: int,
    mine: Record,
    theirs: Record,
    client: _Copy,
    broker: _Copy,
    signed: Sequence[Checkpoint],
) -> CopyFinding:
    fields = [k for k, v in mine.body().items() if theirs.body()[k] != v] or ["hash"]
    why = f"the copies hold different records ({', '.join(fields)} differ"
    if seq in client.edited and seq not in broker.edited:
        why += "; the client's record does not match its own hash: the client's copy was edited"
    elif seq in broker.edited and seq not in client.edited:
        why += "; the broker's record does not match its own hash: the broker's copy was edited"
    else:
        signers = [cp for cp in signed if cp.seq == seq]
        if any(cp.hash == theirs.hash for cp in signers):
            why += "; the broker's record is the one it signed"
        elif any(cp.hash == mine.hash for cp in signers):
            why += "; the client's record is the one the broker signed"
    return CopyFinding(CLIENT, client.position.get(seq), seq, DIFFERS, why + ")")


def _final_checkpoint(
    checkpoint: Checkpoint | None,
    keys: ed25519.Ed25519PublicKey | Keyring | None,
    session_id: str | None,
    final: bool,
    client: _Copy,
    broker_records: Sequence[Record | Mapping[str, Any]],
    findings: list[CopyFinding],
    bad_seqs: list[int],
) -> tuple[VerifyReport | None, bool | None]:
    if checkpoint is None:
        return None, None
    assert keys is not None and session_id is not None
    report = verify_sealed_log(broker_records, checkpoint, keys, session_id=session_id, final=final)
    if not report.ok:
        assert report.problem is not None
        findings.append(
            CopyFinding(
                BROKER, None, report.problem.seq, report.problem.reason.value,
                f"against the final checkpoint: {report.problem.message}",
            )
        )  # fmt: skip
        bad_seqs.append(report.problem.seq or checkpoint.seq)
        if report.problem.reason in (Reason.FORGED, Reason.WRONG_SESSION):
            return report, None
    if checkpoint.seq == 0:
        held: str | None = GENESIS
    else:
        record = client.by_seq.get(checkpoint.seq)
        held = record.hash if record is not None else None
    if held is None:
        return report, None  # the client's copy ends before it (a prefix): nothing to match
    matches = held == checkpoint.hash
    if not matches:
        findings.append(
            CopyFinding(
                CLIENT, client.position.get(checkpoint.seq), checkpoint.seq,
                Reason.CHECKPOINT_MISMATCH.value,
                "the broker's signed checkpoint carries another hash for this record",
            )
        )  # fmt: skip
        bad_seqs.append(checkpoint.seq)
    return report, matches


def _client_checkpoint(
    cp: Checkpoint,
    keys: ed25519.Ed25519PublicKey | Keyring | None,
    session_id: str | None,
    client: _Copy,
    broker: _Copy,
    findings: list[CopyFinding],
    bad_seqs: list[int],
) -> None:
    from audit.checkpoint import verify_checkpoint

    if keys is None or session_id is None:
        return
    try:
        verify_checkpoint(cp, keys, session_id=session_id)
    except CheckpointError as exc:
        findings.append(
            CopyFinding(CLIENT, None, cp.seq if isinstance(cp.seq, int) else None,
                        exc.reason, f"the client's checkpoint: {exc.message}")
        )  # fmt: skip
        bad_seqs.append(cp.seq if isinstance(cp.seq, int) else 1)
        return
    theirs = broker.by_seq.get(cp.seq)
    if theirs is None and cp.seq > 0:
        findings.append(
            CopyFinding(
                BROKER, None, cp.seq, Reason.TRUNCATED.value,
                f"the client holds a genuine checkpoint the broker signed at seq {cp.seq}, "
                f"but the broker's copy ends at seq {broker.last}",
            )
        )  # fmt: skip
        bad_seqs.append(cp.seq)
    elif theirs is not None and theirs.hash != cp.hash:
        findings.append(
            CopyFinding(
                BROKER, broker.position.get(cp.seq), cp.seq, Reason.CHECKPOINT_MISMATCH.value,
                "the broker's copy contradicts a checkpoint the broker signed and the client "
                "kept: the broker's history was rewritten after signing",
            )
        )  # fmt: skip
        bad_seqs.append(cp.seq)


def _conclusion(
    verdict: Verdict,
    client_last: int,
    broker_last: int,
    first_bad: int | None,
    later: Sequence[LaterRecord],
) -> str:
    if verdict is Verdict.IDENTICAL:
        return (
            "both parties hold the same records; neither copy was edited, shortened, "
            "extended or reordered after the other was made."
        )
    if verdict is Verdict.PREFIX:
        unsigned = [r.seq for r in later if r.signed_by is None]
        signed = (
            "every one of them is covered by the broker's signature"
            if not unsigned
            else f"seq {unsigned[0]} onwards rest on the broker's word alone (no signature covers them)"
        )
        return (
            f"the client's copy is an unaltered beginning of the broker's log, complete up to "
            f"seq {client_last}; it neither confirms nor contradicts the broker's records "
            f"{client_last + 1}..{broker_last} (the client never received them: a kill, an "
            f"outage or a hung broker); {signed}. A shorter copy is not evidence of tampering."
        )
    if verdict is Verdict.GAP:
        return (
            "every record the client holds is genuine, but records before its last are "
            "absent: they were lost in transit or removed from the client's copy, and "
            "this cannot tell which; the missing records rest on the broker's copy and "
            "its signature alone."
        )
    return (
        f"the copies contradict each other from seq {first_bad}: at least one was altered "
        "(or is damaged); the findings name which, and a genuine signed checkpoint "
        "covering that seq decides which copy the broker signed."
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
