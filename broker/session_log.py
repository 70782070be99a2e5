"""The company's copy of each session log (SPEC §9, G7, G10).

One hash-chained JSONL file per session, ``DATA_DIR/sessions/<session_id>/log.jsonl``
(:class:`audit.jsonl.JsonlChainWriter`: one canonical record per line, fsync'd
before ``append`` returns), and the signed checkpoints of its head in
``checkpoints.jsonl`` beside it. The relay core writes every event here
*before* the action takes effect and streams the returned record to the agent
and viewers as ``log.event``; :meth:`SessionLog.checkpoint` signs the head with
the broker's Ed25519 key (``certs.bootstrap.BrokerPki.signing_key``) for the
``checkpoint`` message.

Failure policy (fail closed): a record that cannot be written raises
:class:`broker.relay.actions.LogFailure` and the relay aborts the session; a
record whose *content* is not acceptable (for instance an agent's ``log.local``
detail that is not canonical JSON) raises ``ProtocolError(invalid_field)`` and
nothing happens. A log whose last record is ``session.ended`` is sealed:
opening it raises ``ProtocolError(session_ended)`` (G5: an ended session is final).

One writer at a time (DESIGN §8, logs on storage all nodes share): an open
``SessionLog`` holds an exclusive ``flock`` on its ``log.jsonl`` until :meth:`close`;
another process (another broker node) that opens it meanwhile gets ``LogFailure``.
The kernel drops the lock when the writer dies, which is how a surviving node
knows it may continue the file to seal it (broker/relay/nats, node failure).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from audit.checkpoint import FINAL_EVENT, sign_checkpoint
from audit.errors import AuditError
from audit.jsonl import JsonlChainWriter
from broker.relay.actions import LogFailure
from protocol.errors import ErrorCode, ProtocolError

__all__ = ["SessionLog", "session_dir"]

_SAFE_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.:-]{0,63}")


def session_dir(data_dir: Path, session_id: str) -> Path:
    """``DATA_DIR/sessions/<session_id>`` (the id is checked: it names a folder)."""
    if not _SAFE_ID.fullmatch(session_id) or ".." in session_id:
        raise ValueError(f"unsafe session id {session_id[:80]!r}")
    return Path(data_dir) / "sessions" / session_id


class SessionLog:
    """The :class:`broker.relay.actions.EventLog` of one session, on disk."""

    def __init__(
        self,
        data_dir: Path,
        session_id: str,
        signing_key: ed25519.Ed25519PrivateKey,
        signing_key_id: str | None = None,
    ) -> None:
        folder = session_dir(data_dir, session_id)
        self.session_id = session_id
        self.path = folder / "log.jsonl"
        self.checkpoints_path = folder / "checkpoints.jsonl"
        self._key = signing_key
        self._key_id = signing_key_id
        self._lock_fd: int | None = None
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._lock_fd = _lock(self.path)
            # A torn last line is a record nobody was told had happened: cut it.
            self._writer = JsonlChainWriter(self.path, repair_torn_tail=True)
        except (AuditError, OSError) as exc:
            self._unlock()
            raise LogFailure(f"cannot open the session log: {exc}") from exc
        records = self._writer.records
        if records and records[-1].event == FINAL_EVENT:
            # G5: the log was sealed; a relay (even after a restart) must not
            # continue a session that has ended.
            self._writer.close()
            self._unlock()
            raise ProtocolError.of(ErrorCode.SESSION_ENDED, "the session has ended")
        self._signed_seq = 0

    def append(
        self, event: str, actor: str, detail: Mapping[str, Any], at_ms: int
    ) -> dict[str, Any]:
        """Write one record durably and return it as JSON (fail closed)."""
        try:
            record = self._writer.append_event(event, actor, detail, at_ms)
        except ValueError as exc:  # RecordFormatError / CanonicalError: bad content
            raise ProtocolError.of(ErrorCode.INVALID_FIELD, f"not recordable: {exc}") from exc
        except (AuditError, OSError) as exc:
            raise LogFailure(f"session log write failed: {exc}") from exc
        return record.to_dict()

    def checkpoint(self, at_ms: int) -> dict[str, Any] | None:
        """Sign the head if it moved since the last checkpoint; keep it on disk too."""
        head = self._writer.head
        if head.seq == 0 or head.seq == self._signed_seq:
            return None
        cp = sign_checkpoint(
            self._key, self.session_id, head, at_ms, signing_key_id=self._key_id
        ).to_dict()
        line = (json.dumps(cp, sort_keys=True, separators=(",", ":")) + "\n").encode()
        try:
            fd = os.open(
                self.checkpoints_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600
            )
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise LogFailure(f"checkpoint write failed: {exc}") from exc
        self._signed_seq = head.seq
        return cp

    def records_after(self, seq: int) -> list[dict[str, Any]]:
        """Records with a seq above ``seq`` (what an agent that holds ``seq`` lacks)."""
        return [r.to_dict() for r in self._writer.records if r.seq > seq]

    @property
    def records(self) -> list[dict[str, Any]]:
        """Every record so far, as JSON (for the REST API and tests)."""
        return [r.to_dict() for r in self._writer.records]

    def close(self) -> None:
        """Close the file and let another writer have it (idempotent)."""
        self._writer.close()
        self._unlock()

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None


def _lock(path: Path) -> int:
    """An exclusive, non-blocking ``flock`` on ``path`` (created if missing)."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise OSError("the session log is being written by another broker process") from None
    except OSError:
        os.close(fd)
        raise
    return fd
