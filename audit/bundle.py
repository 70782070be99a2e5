"""Evidence bundles: one session's log, checkpoints and certificates in one file (G10).

``clearpane audit export SESSION`` writes a bundle (a ZIP file) that anyone can check
offline with ``clearpane audit verify BUNDLE`` — an expert or a court needs neither the
broker nor the database. Members:

``manifest.json``           ``{"format", "session_id", "exported_at_ms", "files"}``
``log.jsonl``               the broker's copy of the session log, byte for byte
``checkpoints.jsonl``       every signed checkpoint of it, oldest first
``review.jsonl``            the session's review log (``replay.viewed``, ``recording.deleted``)
``review-checkpoints.jsonl`` its checkpoints (signed for session id ``<id>:review``)
``certs/root.pem``          the organisation CA's root certificate
``certs/signer.pem``        the checkpoint-signer certificate and its intermediate
``client.jsonl``            the client's copy, when given (the agent's ``broker.jsonl``)
``client-checkpoint.json``  the signed checkpoint the client kept, when given

Verification (:func:`verify_bundle`) stops at nothing: it lists every problem, each
naming the file, the line, the record's seq and the reason (``edited``, ``dropped``,
``missing``, ``extra``, ``duplicated``, ``reordered``, ``differs``, ``broken_link``,
``forged``, ``wrong_session``, ``replayed``, ``not_final``, ``unsealed``, ``truncated``,
``checkpoint_mismatch``), so a dispute turns on *which* record is wrong and why, not on
"the file is bad". With a client copy it classifies the pair (:mod:`audit.compare`:
identical, complete prefix, gap, diverged) and says what a reviewer may conclude.

Trust: the signer certificate must chain to a root. Pass the organisation's root you
already trust (``--ca``); without it the bundle's own root is used and the report says
so (a bundle's root proves nothing against the party that made the bundle).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519

from audit.chain import Reason, Record, verify_chain
from audit.checkpoint import Checkpoint, Keyring, key_id, sign_checkpoint, verify_sealed_log
from audit.compare import BROKER, CompareReport, compare_copies, inventory
from audit.errors import AuditError
from audit.jsonl import JsonlChainWriter

__all__ = [
    "BUNDLE_FORMAT",
    "BundleError",
    "BundleReport",
    "SignerCheck",
    "VerifiedSigner",
    "append_review_event",
    "export_bundle",
    "review_log_id",
    "verify_bundle",
]

BUNDLE_FORMAT = "clearpane-evidence/1"
LOG = "log.jsonl"
CHECKPOINTS = "checkpoints.jsonl"
REVIEW = "review.jsonl"
REVIEW_CHECKPOINTS = "review-checkpoints.jsonl"
CLIENT = "client.jsonl"
CLIENT_CHECKPOINT = "client-checkpoint.json"
ROOT = "certs/root.pem"
SIGNER = "certs/signer.pem"
MAX_MEMBER = 256 * 1024 * 1024


def review_log_id(session_id: str) -> str:
    """The id the review log's checkpoints sign (never equal to a session id)."""
    return f"{session_id}:review"


class BundleError(AuditError):
    """A bundle cannot be written or read at all (not: a record is wrong)."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(where, reason)
        self.where = where
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem: where (file, 1-based line, seq) and why (a Reason value)."""

    file: str
    line: int | None
    seq: int | None
    reason: str
    message: str

    def __str__(self) -> str:
        where = self.file + (f" line {self.line}" if self.line is not None else "")
        if self.seq is not None:
            where += f" (seq {self.seq})"
        return f"{where}: {self.reason}: {self.message}"


@dataclass(slots=True)
class BundleReport:
    """What :func:`verify_bundle` found. ``ok`` when ``findings`` is empty."""

    session_id: str = ""
    records: int = 0
    sealed_seq: int | None = None
    checkpoints: int = 0
    signer: str = ""
    trusted_root: str = ""
    client_compared: bool = False
    review_records: int = 0
    recording_checked: bool = False
    comparison: CompareReport | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.findings

    def add(self, file: str, line: int | None, seq: int | None, reason: str, msg: str) -> None:
        """Record one problem."""
        self.findings.append(Finding(file, line, seq, reason, msg))

    def __str__(self) -> str:
        if self.ok:
            lines = [
                f"VALID: session {self.session_id}: {self.records} records, "
                f"sealed at seq {self.sealed_seq} by {self.signer} "
                f"({self.checkpoints} checkpoint(s))",
                f"  trust: {self.trusted_root}",
            ]
            if self.comparison is not None:
                lines.extend(f"  client copy: {x}" for x in self.comparison.lines()[:1])
                lines.extend(f"  {x}" for x in self.comparison.lines()[1:])
            if self.review_records:
                lines.append(f"  review log: {self.review_records} record(s), verified")
            if self.recording_checked:
                lines.append("  the recording matches its seal")
            return "\n".join(lines)
        head = f"INVALID: session {self.session_id or '?'}: {len(self.findings)} problem(s)"
        tail: list[str] = []
        if self.comparison is not None:
            cmp = self.comparison
            tail.append(f"  client copy: {cmp.summary()}")
            tail.extend(f"    later: {r}" for r in cmp.later)
            tail.append(f"  conclusion: {cmp.conclusion}")
        return "\n".join([head, *(f"  {f}" for f in self.findings), *tail])


# -- the review log ----------------------------------------------------------------------


def append_review_event(
    folder: Path,
    session_id: str,
    event: str,
    actor: str,
    detail: Mapping[str, Any],
    at_ms: int,
    signing_key: ed25519.Ed25519PrivateKey | None,
    signing_key_id: str | None = None,
) -> dict[str, Any]:
    """Append ``event`` to the session's review log (``review.jsonl``), fsync'd, and —
    with ``signing_key`` — sign the new head at once (``review-checkpoints.jsonl``, for
    :func:`review_log_id`). Raises ``OSError`` / ``AuditError``: the caller must then
    refuse the action it records (fail closed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    with JsonlChainWriter(folder / REVIEW, repair_torn_tail=True) as writer:
        record = writer.append_event(event, actor, detail, at_ms)
        head = writer.head
    if signing_key is not None:
        cp = sign_checkpoint(
            signing_key, review_log_id(session_id), head, at_ms, signing_key_id=signing_key_id
        ).to_dict()
        line = (json.dumps(cp, sort_keys=True, separators=(",", ":")) + "\n").encode()
        fd = os.open(
            folder / REVIEW_CHECKPOINTS,
            os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
            0o600,
        )
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
    return record.to_dict()


# -- export ------------------------------------------------------------------------------


def export_bundle(
    data_dir: Path,
    session_id: str,
    out: Path,
    *,
    client_copy: Path | None = None,
    now_ms: int | None = None,
    actor: str | None = None,
    signing_key: ed25519.Ed25519PrivateKey | None = None,
    signing_key_id: str | None = None,
    client_checkpoint: Path | None = None,
) -> Path:
    """Write the evidence bundle of ``session_id`` from ``data_dir`` to ``out``.

    ``client_copy`` is the client's copy of the log: the agent's session folder (its
    ``broker.jsonl`` and ``checkpoint.json`` are taken) or the JSONL file itself, with
    ``client_checkpoint`` the checkpoint the client kept.

    With ``actor``, the export itself is first recorded as ``log.exported`` in the
    session's review log (signed with ``signing_key`` when given), so the bundle holds
    the record of its own making.
    """
    folder = Path(data_dir) / "sessions" / session_id
    if "/" in session_id or ".." in session_id or not (folder / LOG).is_file():
        raise BundleError(session_id, f"no session log in {folder}")
    at = now_ms if now_ms is not None else int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    if actor is not None:
        append_review_event(
            folder,
            session_id,
            "log.exported",
            actor,
            {"by": actor[:64], "client_copy": client_copy is not None},
            at,
            signing_key,
            signing_key_id,
        )
    ca = Path(data_dir) / "ca"
    members: dict[str, bytes] = {LOG: (folder / LOG).read_bytes()}
    for name in (CHECKPOINTS, REVIEW, REVIEW_CHECKPOINTS):
        if (folder / name).is_file():
            members[name] = (folder / name).read_bytes()
    for name, path in ((ROOT, ca / "root.pem"), (SIGNER, ca / "checkpoint.pem")):
        if not path.is_file():
            raise BundleError(str(path), "certificate missing from the data directory")
        members[name] = path.read_bytes()
    if client_copy is not None:
        copy_file, cp_file = client_copy_files(Path(client_copy))
        members[CLIENT] = copy_file.read_bytes()
        if client_checkpoint is not None:
            cp_file = Path(client_checkpoint)
        if cp_file is not None:
            members[CLIENT_CHECKPOINT] = cp_file.read_bytes()
    manifest = {
        "format": BUNDLE_FORMAT,
        "session_id": session_id,
        "exported_at_ms": at,
        "files": sorted(members),
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, sort_keys=True))
        for name, data in sorted(members.items()):
            zf.writestr(name, data)
    return out


def client_copy_files(path: Path) -> tuple[Path, Path | None]:
    """The client's copy and kept checkpoint from the agent's session folder (or the
    copy itself when ``path`` is a file)."""
    if path.is_dir():
        cp = path / "checkpoint.json"
        return path / "broker.jsonl", cp if cp.is_file() else None
    return path, None


# -- verify ------------------------------------------------------------------------------


class VerifiedSigner(Protocol):
    """A checkpoint-signer certificate found to chain to a trusted root."""

    @property
    def cert(self) -> x509.Certificate:
        """The signer's certificate."""
        ...

    @property
    def public_key(self) -> ed25519.Ed25519PublicKey:
        """The key its checkpoints are signed with."""
        ...


class SignerCheck(Protocol):
    """Verify a checkpoint-signer chain at time ``at``; raise if it does not chain to
    one of ``roots`` or is not a checkpoint signer (``certs.verify`` implements it)."""

    def __call__(
        self,
        cert: x509.Certificate,
        intermediates: Sequence[x509.Certificate],
        roots: Sequence[x509.Certificate],
        *,
        at: dt.datetime | None = None,
    ) -> VerifiedSigner:
        """The verified signer, or raise."""
        ...


def _read_members(bundle: Path) -> dict[str, bytes]:
    try:
        with zipfile.ZipFile(bundle) as zf:
            out: dict[str, bytes] = {}
            for info in zf.infolist():
                if info.file_size > MAX_MEMBER:
                    raise BundleError(info.filename, "member too large")
                out[info.filename] = zf.read(info)
            return out
    except (OSError, zipfile.BadZipFile) as exc:
        raise BundleError(str(bundle), f"not a readable bundle: {exc}") from None


def _jsonl(data: bytes, name: str, report: BundleReport) -> tuple[list[dict[str, Any]], list[int]]:
    """JSON objects of a JSONL member and their line numbers; bad lines are findings."""
    items: list[dict[str, Any]] = []
    lines: list[int] = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            report.add(name, number, None, Reason.MALFORMED, f"not JSON: {exc}")
            continue
        if not isinstance(value, dict):
            report.add(name, number, None, Reason.MALFORMED, "not a JSON object")
            continue
        items.append(value)
        lines.append(number)
    if data and not data.endswith(b"\n"):
        report.add(name, len(data.split(b"\n")), None, Reason.TRUNCATED, "last line cut short")
    return items, lines


def _keyring(
    members: dict[str, bytes],
    ca: Path | None,
    at_ms: int | None,
    report: BundleReport,
    signer_check: SignerCheck,
) -> Keyring:
    root_pem = Path(ca).read_bytes() if ca is not None else members.get(ROOT)
    report.trusted_root = (
        f"pinned root {ca}" if ca is not None else "the bundle's own root (pass --ca to pin yours)"
    )
    if root_pem is None or SIGNER not in members:
        report.add(SIGNER, None, None, Reason.FORGED, "no signer certificate or root")
        return {}
    try:
        roots = x509.load_pem_x509_certificates(root_pem)
        chain = x509.load_pem_x509_certificates(members[SIGNER])
    except ValueError as exc:
        report.add(SIGNER, None, None, Reason.MALFORMED, f"not PEM certificates: {exc}")
        return {}
    at = (
        dt.datetime.fromtimestamp(at_ms / 1000, dt.UTC)
        if at_ms is not None
        else dt.datetime.now(dt.UTC)
    )
    try:
        verified = signer_check(chain[0], chain[1:], roots, at=at)
    except Exception as exc:  # CertVerificationError and friends: a finding, not a crash
        report.add(SIGNER, None, None, Reason.FORGED, f"signer certificate rejected: {exc}")
        return {}
    public: ed25519.Ed25519PublicKey = verified.public_key
    kid = key_id(public)
    report.signer = f"{kid} ({verified.cert.subject.rfc4514_string()})"
    return {kid: public}


def _check_chain(
    name: str, items: Sequence[dict[str, Any]], lines: Sequence[int], report: BundleReport
) -> bool:
    result = verify_chain(items)
    if result.problem is None:
        return True
    p = result.problem
    line = lines[p.index] if p.index < len(lines) else None
    report.add(name, line, p.seq, p.reason, p.message)
    return False


def _check_checkpoints(
    name: str,
    cp_name: str,
    records: Sequence[dict[str, Any]],
    cps: Sequence[dict[str, Any]],
    cp_lines: Sequence[int],
    keys: Keyring,
    sid: str,
    *,
    final: bool,
    report: BundleReport,
) -> list[Checkpoint]:
    """Check every checkpoint; return the genuine ones that match, oldest first."""
    good: list[Checkpoint] = []
    last: Checkpoint | None = None
    seen: set[tuple[int, str]] = set()
    for data, line in zip(cps, cp_lines, strict=True):
        try:
            cp = Checkpoint.from_dict(data)
        except AuditError as exc:
            report.add(cp_name, line, None, Reason.MALFORMED, str(exc))
            continue
        if (cp.seq, cp.signature) in seen or (last is not None and cp.seq < last.seq):
            report.add(
                cp_name,
                line,
                cp.seq,
                "replayed",
                "a checkpoint repeated or older than the one before it",
            )
            continue
        seen.add((cp.seq, cp.signature))
        result = verify_sealed_log(records, cp, keys, session_id=sid, final=False)
        if result.problem is not None:
            p = result.problem
            if p.reason in (Reason.FORGED, Reason.WRONG_SESSION):
                report.add(cp_name, line, cp.seq, p.reason, p.message)
            else:
                report.add(
                    name, None, p.seq, p.reason, f"against {cp_name} line {line}: {p.message}"
                )
            continue
        last = cp
        good.append(cp)
    if final and last is not None:
        result = verify_sealed_log(records, last, keys, session_id=sid, final=True)
        if result.problem is not None:
            p = result.problem
            report.add(
                name, None, p.seq, p.reason, f"final checkpoint (seq {last.seq}): {p.message}"
            )
    return good


def verify_bundle(
    bundle: Path,
    *,
    signer_check: SignerCheck,
    ca: Path | None = None,
    client_copy: Path | None = None,
    recording: Path | None = None,
    client_checkpoint: Path | None = None,
) -> BundleReport:
    """Verify an evidence bundle; every problem becomes a :class:`Finding`.

    ``signer_check`` verifies the checkpoint signer's certificate chain against the
    trusted root (:func:`certs.verify.verify_checkpoint_signer`; passed in, so ``audit``
    does not import ``certs``).

    ``client_copy`` (the agent's session folder or its ``broker.jsonl``; else a
    ``client.jsonl`` inside the bundle) is compared with the broker's copy, record by
    record, and the pair classified (:class:`~audit.compare.Verdict`); a checkpoint the
    client kept (``client_checkpoint``, the folder's ``checkpoint.json`` or the bundle's
    ``client-checkpoint.json``) is checked against the broker's copy. ``recording`` (a ``recording.cprec`` file
    or its folder) is checked against the last ``recording.sealed`` record of the review
    log. Raises :class:`BundleError` only when the file is not a bundle at all.
    """
    members = _read_members(Path(bundle))
    report = BundleReport()
    try:
        manifest = json.loads(members["manifest.json"])
        sid = manifest["session_id"]
        if manifest.get("format") != BUNDLE_FORMAT or not isinstance(sid, str):
            raise ValueError("unknown format")
    except (KeyError, ValueError, TypeError) as exc:
        raise BundleError("manifest.json", f"missing or unreadable: {exc}") from None
    report.session_id = sid
    if LOG not in members:
        report.add(LOG, None, None, Reason.TRUNCATED, "the session log is missing")
        return report
    records, lines = _jsonl(members[LOG], LOG, report)
    report.records = len(records)
    cps, cp_lines = _jsonl(members.get(CHECKPOINTS, b""), CHECKPOINTS, report)
    last_at = max((c.get("at_ms", 0) for c in cps if isinstance(c.get("at_ms"), int)), default=None)
    keys = _keyring(members, ca, last_at, report, signer_check)
    chain_ok = _check_chain(LOG, records, lines, report)
    if not chain_ok:  # name every other problem of the broker's copy too, not only the first
        first = report.findings[-1]
        for f in inventory(records, BROKER).findings:
            if (f.seq, f.reason) != (first.seq, first.reason):
                report.add(LOG, _line(lines, f.position), f.seq, f.reason, f.message)
    if not cps:
        report.add(
            CHECKPOINTS, None, None, Reason.UNSEALED, "no signed checkpoint: nothing is sealed"
        )
    good: list[Checkpoint] = []
    if keys and chain_ok:
        good = _check_checkpoints(
            LOG, CHECKPOINTS, records, cps, cp_lines, keys, sid, final=True, report=report
        )
        report.checkpoints = len(cps)
        report.sealed_seq = good[-1].seq if good else None
    client_cp = client_checkpoint
    if client_copy is not None:
        copy_file, found_cp = client_copy_files(Path(client_copy))
        client_data: bytes | None = copy_file.read_bytes()
        client_cp = client_cp or found_cp
    else:
        client_data = members.get(CLIENT)
    if client_data is not None:
        _compare_client(members, client_data, client_cp, records, lines, good, keys, sid, report)
    review: list[dict[str, Any]] = []
    if REVIEW in members:
        review, review_lines = _jsonl(members[REVIEW], REVIEW, report)
        report.review_records = len(review)
        if _check_chain(REVIEW, review, review_lines, report) and keys:
            rcps, rcp_lines = _jsonl(
                members.get(REVIEW_CHECKPOINTS, b""), REVIEW_CHECKPOINTS, report
            )
            _check_checkpoints(
                REVIEW,
                REVIEW_CHECKPOINTS,
                review,
                rcps,
                rcp_lines,
                keys,
                review_log_id(sid),
                final=False,
                report=report,
            )
    if recording is not None:
        _check_recording(Path(recording), review, report)
    return report


def _line(lines: Sequence[int], position: int | None) -> int | None:
    return lines[position - 1] if position is not None and 0 < position <= len(lines) else None


def _compare_client(
    members: Mapping[str, bytes],
    client_data: bytes,
    client_checkpoint: Path | None,
    records: Sequence[dict[str, Any]],
    log_lines: Sequence[int],
    good: Sequence[Checkpoint],
    keys: Keyring,
    sid: str,
    report: BundleReport,
) -> None:
    """The client's copy against the broker's: every finding, and the verdict."""
    client_records, client_lines = _jsonl(client_data, CLIENT, report)
    cp_data = (
        Path(client_checkpoint).read_bytes()
        if client_checkpoint is not None
        else members.get(CLIENT_CHECKPOINT)
    )
    kept: Checkpoint | None = None
    if cp_data is not None:
        try:
            kept = Checkpoint.from_dict(json.loads(cp_data))
        except (ValueError, AuditError) as exc:
            report.add(CLIENT_CHECKPOINT, None, None, Reason.MALFORMED, str(exc))
    # The broker's checkpoints against its own copy are checked above; here they only
    # say which records a signature covers and which of two differing records it signed.
    cmp = compare_copies(
        client_records,
        records,
        keys=keys if keys else None,
        session_id=sid,
        checkpoints=good,
        client_checkpoint=kept,
    )
    report.client_compared = True
    report.comparison = cmp
    for f in cmp.findings:
        if f.copy == BROKER:
            if f.message.startswith("against the final checkpoint") or f.reason in (
                "edited", "duplicated", "reordered", "broken_link", "malformed",
            ):  # fmt: skip
                continue  # already reported against log.jsonl
            report.add(LOG, _line(log_lines, f.position), f.seq, f.reason, f.message)
            continue
        where = CLIENT_CHECKPOINT if f.message.startswith("the client's checkpoint") else CLIENT
        report.add(where, _line(client_lines, f.position), f.seq, f.reason, f.message)


def _check_recording(path: Path, review: Sequence[dict[str, Any]], report: BundleReport) -> None:
    """The recording file against its last seal in the review log."""
    import hashlib

    if path.is_dir():
        path = path / "recording.cprec"
    seals = [r for r in review if r.get("event") == "recording.sealed"]
    if not seals:
        report.add(
            path.name, None, None, Reason.UNSEALED, "the review log holds no recording.sealed"
        )
        return
    seal = seals[-1]
    detail = seal.get("detail") or {}
    want, size = detail.get("sha256"), detail.get("bytes")
    try:
        data = path.read_bytes()
    except OSError as exc:
        report.add(path.name, None, None, "unreadable", str(exc))
        return
    report.recording_checked = True
    if not isinstance(size, int) or len(data) < size:
        report.add(
            path.name, None, None, Reason.TRUNCATED,
            f"{len(data)} bytes, but {size} were sealed (review seq {seal.get('seq')})",
        )  # fmt: skip
        return
    if hashlib.sha256(data[:size]).hexdigest() != want:
        report.add(
            path.name, None, None, "recording_mismatch",
            f"the first {size} bytes do not match the SHA-256 sealed at review seq {seal.get('seq')}",
        )  # fmt: skip
        return
    if len(data) > size:
        report.add(
            path.name, None, None, Reason.UNSEALED,
            f"{len(data) - size} bytes after the last seal (written after it, or a crash)",
        )  # fmt: skip


def rewrite_member(bundle: Path, name: str, data: bytes) -> None:
    """Replace one member of a bundle (tests and demonstrations of tampering)."""
    members = _read_members(bundle)
    members[name] = data
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for member, content in members.items():
            zf.writestr(member, content)
    Path(bundle).write_bytes(buf.getvalue())


def records_of(data: bytes) -> list[Record]:
    """Parse a JSONL log (every line must be a record)."""
    return [Record.from_dict(json.loads(line)) for line in data.splitlines() if line.strip()]
