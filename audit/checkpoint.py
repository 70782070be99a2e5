"""Signed checkpoints of a session log (SPEC §9).

A checkpoint is ``{"session_id", "seq", "hash", "at_ms", "key_id", "signature"}``: the
broker's Ed25519 audit key signs the canonical JSON of the five other fields, so the
signature binds the session, the position (seq) and the whole history before it (hash).
``signature`` is base64url without padding (SPEC §3), ``key_id`` is :func:`key_id` of the
signing key (``ed25519:`` + 16 hex digits of SHA-256 of the raw public key).

What the checks catch (:class:`~audit.chain.Reason`):

* a **forged** checkpoint: signature does not verify, or the key id is unknown;
* a checkpoint **replayed from another session**: its ``session_id`` is not this one;
* an **earlier checkpoint presented as final** (``final=True``): records after its seq
  are ``unsealed``; if those records were cut off too, the log no longer ends with
  ``session.ended`` and the checkpoint is ``not_final`` (the broker seals the final
  checkpoint right after writing ``session.ended`` and appends nothing after it);
* a checkpoint of **another history**: the record at its seq has another hash.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from audit.canonical import MAX_SAFE_INTEGER, canonical_json, unique_keys
from audit.chain import (
    ChainHead,
    Problem,
    Reason,
    Record,
    VerifyReport,
    verify_chain,
)
from audit.errors import CheckpointError, RecordFormatError

__all__ = [
    "FINAL_EVENT",
    "Checkpoint",
    "Keyring",
    "key_id",
    "load_checkpoint",
    "sign_checkpoint",
    "verify_checkpoint",
    "verify_sealed_log",
]

FINAL_EVENT = "session.ended"
Keyring = Mapping[str, ed25519.Ed25519PublicKey]


def key_id(public_key: ed25519.Ed25519PublicKey) -> str:
    """``ed25519:`` + the first 16 hex digits of SHA-256 of the raw public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64u(text: str) -> bytes:
    # Strict: only the canonical encoding is accepted (the stdlib decoder skips
    # stray characters and ignores the unused tail bits, so 16 different strings
    # would otherwise carry one signature).
    if not text or any(c in text for c in "=+/ \n"):
        raise ValueError("not base64url without padding")
    data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    if _b64u(data) != text:
        raise ValueError("not canonical base64url")
    return data


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed head of one session's log."""

    session_id: str
    seq: int
    hash: str
    at_ms: int
    key_id: str
    signature: str

    def signed_fields(self) -> dict[str, Any]:
        """The five fields the signature covers."""
        data = asdict(self)
        del data["signature"]
        return data

    def signed_bytes(self) -> bytes:
        """Canonical JSON of :meth:`signed_fields`: exactly what is signed."""
        return canonical_json(self.signed_fields())

    def to_dict(self) -> dict[str, Any]:
        """The checkpoint as JSON data (the ``checkpoint`` message's payload)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> Checkpoint:
        """Parse a checkpoint, checking field types (not the signature).

        Extra fields (e.g. a ``certificate`` the broker attaches) are ignored.
        """
        if not isinstance(data, Mapping):
            raise RecordFormatError("a checkpoint must be a JSON object")
        try:
            session_id, seq, digest = data["session_id"], data["seq"], data["hash"]
            at_ms, kid, signature = data["at_ms"], data["key_id"], data["signature"]
        except KeyError as exc:
            raise RecordFormatError(f"checkpoint field {exc.args[0]} missing") from None
        for name, value in (("seq", seq), ("at_ms", at_ms)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise RecordFormatError(f"checkpoint {name} must be an integer")
            if not 0 <= value <= MAX_SAFE_INTEGER:
                raise RecordFormatError(f"checkpoint {name} out of range")
        for name, value in (
            ("session_id", session_id),
            ("hash", digest),
            ("key_id", kid),
            ("signature", signature),
        ):
            if not isinstance(value, str) or not value or len(value) > 256:
                raise RecordFormatError(f"checkpoint {name} must be a non-empty string")
        return cls(session_id, seq, digest, at_ms, kid, signature)


def sign_checkpoint(
    private_key: ed25519.Ed25519PrivateKey,
    session_id: str,
    head: ChainHead,
    at_ms: int,
    *,
    signing_key_id: str | None = None,
) -> Checkpoint:
    """Sign ``head`` (``AuditChain.head``) of ``session_id``'s log at ``at_ms``.

    ``signing_key_id`` defaults to :func:`key_id` of the key (``BrokerPki.signing_key_id`` is
    the same value).
    """
    kid = key_id(private_key.public_key()) if signing_key_id is None else signing_key_id
    unsigned = Checkpoint(session_id, head.seq, head.hash, at_ms, kid, "")
    signature = private_key.sign(unsigned.signed_bytes())
    return Checkpoint(session_id, head.seq, head.hash, at_ms, kid, _b64u(signature))


def verify_checkpoint(
    checkpoint: Checkpoint,
    keys: ed25519.Ed25519PublicKey | Keyring,
    *,
    session_id: str | None = None,
) -> None:
    """Check the signature (and, if given, the session). Raises :class:`CheckpointError`.

    ``keys`` is the signer's public key (e.g. from a verified checkpoint-signer
    certificate) or a keyring by key id (keys rotate; old checkpoints keep verifying).
    """
    try:  # a Checkpoint built by hand (Checkpoint(**json)) may hold any types
        checkpoint = Checkpoint.from_dict(checkpoint.to_dict())
    except RecordFormatError as exc:
        raise CheckpointError(Reason.MALFORMED, exc.reason) from None
    if isinstance(keys, ed25519.Ed25519PublicKey):
        keyring: Keyring = {key_id(keys): keys}
    else:
        keyring = keys
    public = keyring.get(checkpoint.key_id)
    if public is None:
        raise CheckpointError(Reason.FORGED, f"unknown signing key {checkpoint.key_id!r}")
    try:
        signature = _unb64u(checkpoint.signature)
        public.verify(signature, checkpoint.signed_bytes())
    except (InvalidSignature, ValueError, binascii.Error):
        raise CheckpointError(Reason.FORGED, "the signature does not verify") from None
    if session_id is not None and checkpoint.session_id != session_id:
        raise CheckpointError(
            Reason.WRONG_SESSION,
            f"checkpoint of session {checkpoint.session_id!r}, not {session_id!r}",
        )


def verify_sealed_log(
    records: Sequence[Record | Mapping[str, Any]],
    checkpoint: Checkpoint,
    keys: ed25519.Ed25519PublicKey | Keyring,
    *,
    session_id: str,
    final: bool = True,
) -> VerifyReport:
    """Verify a log and its checkpoint together; never raises on bad input.

    The checkpoint's signature and session come first (a forged checkpoint proves
    nothing about the records), then the chain and the record at the checkpoint's seq;
    with ``final`` no record may follow it and the last record must be
    :data:`FINAL_EVENT`.
    """
    try:
        verify_checkpoint(checkpoint, keys, session_id=session_id)
    except CheckpointError as exc:
        seq = checkpoint.seq if isinstance(checkpoint.seq, int) else None
        problem = Problem(len(records), seq, Reason(exc.reason), exc.message)
        return VerifyReport(0, ChainHead(0, "0" * 64), problem)
    report = verify_chain(records, checkpoint=checkpoint if final else None)
    if not report.ok:
        return report
    if not final:
        # Only the covered prefix must match; later records are simply not sealed yet.
        upto = [r for r in records if _seq(r) <= checkpoint.seq]
        prefix = verify_chain(upto, checkpoint=checkpoint)
        if not prefix.ok:
            return prefix
        return VerifyReport(report.count, report.head, None, report.gaps, checkpoint.seq)
    last = records[-1] if records else None
    last_event = last.event if isinstance(last, Record) else (last or {}).get("event")
    if last_event != FINAL_EVENT:
        msg = f"the log does not end with {FINAL_EVENT}: an earlier checkpoint presented as final"
        problem = Problem(max(len(records) - 1, 0), checkpoint.seq, Reason.NOT_FINAL, msg)
        return VerifyReport(report.count, report.head, problem, report.gaps, checkpoint.seq)
    return report


def _seq(item: Record | Mapping[str, Any]) -> int:
    if isinstance(item, Record):
        return item.seq
    seq = item.get("seq")
    return seq if isinstance(seq, int) else 0


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint file: one JSON object (the agent's ``checkpoint.json``) or
    JSON lines of checkpoints (the broker's ``checkpoints.jsonl``: the last one wins).

    Raises :class:`~audit.errors.RecordFormatError` (also for unreadable files).
    """
    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RecordFormatError(f"cannot read {path}: {exc}") from None
    try:
        data = json.loads(text, object_pairs_hook=unique_keys)
    except ValueError:
        lines = [line for line in text.splitlines() if line.strip()]
        try:
            data = json.loads(lines[-1], object_pairs_hook=unique_keys) if lines else None
        except ValueError:
            raise RecordFormatError(f"{path}: not a checkpoint file") from None
    return Checkpoint.from_dict(data)
