"""The broker's recorder: every session's relayed traffic, on disk (DESIGN §4.6).

``app[RECORDER]`` is a :class:`RecordingService`. The relay calls
:meth:`RecordingService.record` for every frame it relays — screen updates as the
ciphertext it forwards, control messages as their JSON text — and the recorder keeps
them in ``DATA_DIR/sessions/<id>/recording.cprec`` (format: :mod:`audit.recording`),
beside the session log. ``key.audit`` messages from the agent (the content keys
wrapped for the audit recipient) are also kept in ``audit-keys.jsonl``. Engineer input
is never recorded.

Evidence of what happened *to* a recording — its seal when it closes
(``recording.sealed``: SHA-256, size, frames), every replay (``replay.viewed``), every
export (``log.exported``) and every deletion by the retention policy
(``recording.deleted``) — goes to the session's
**review log** ``review.jsonl``: a hash chain like the session log, each record signed
at once by a checkpoint in ``review-checkpoints.jsonl`` for the id ``<id>:review``.
It is kept apart from the session log because that log is sealed by a *final*
checkpoint at the session's end, which both the client and the broker hold; reviews
happen later and must not reopen it.

A ticker in the cleanup context writes buffered frames every half second (a crash loses
at most the last second), closes recordings idle for :data:`IDLE_CLOSE_S`, and applies the
retention policy once an hour: a recording untouched for ``retention_days`` is deleted
(the session log and review log stay; they are the evidence).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import ed25519

from audit.bundle import REVIEW, append_review_event
from audit.errors import AuditError
from audit.jsonl import read_jsonl
from audit.recording import (
    DIR_AGENT,
    DIR_BROKER,
    DIR_VIEWER,
    FRAME_BINARY,
    FRAME_TEXT,
    INDEX_FILE,
    KEYS_FILE,
    RECORDING_FILE,
    RecordingWriter,
    read_audit_keys,
    summarize,
)
from broker.clock import CLOCK
from broker.config import CONFIG
from broker.filelock import exclusive
from broker.pki import PKI

__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "KEYFRAME_INTERVAL_MS",
    "RECORDER",
    "RecordingService",
    "recording_ctx",
]

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 90
KEYFRAME_INTERVAL_MS = 30_000  # ask the agent for a FULL update this often (seek, P8)
IDLE_CLOSE_S = 30
SWEEP_INTERVAL_S = 3600
PROBE_BYTES = 256 * 1024  # free space a paused recording needs before it resumes
TICK_S = 0.5  # with FLUSH_INTERVAL_MS: nothing waits in memory for more than a second
_DIRECTIONS = {"agent": DIR_AGENT, "viewer": DIR_VIEWER, "broker": DIR_BROKER}
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-")


@dataclass(slots=True)
class _Open:
    writer: RecordingWriter
    last_ms: int
    last_full_ms: int | None


class RecordingService:
    """Recordings of every session, plus each session's review log."""

    def __init__(
        self,
        data_dir: Path,
        signing_key: ed25519.Ed25519PrivateKey,
        signing_key_id: str | None = None,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        now_ms: Callable[[], int] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.retention_days = retention_days
        self._key = signing_key
        self._key_id = signing_key_id
        self._now_ms = now_ms or (lambda: int(time.time() * 1000))
        self._open: dict[str, _Open] = {}
        self._paused: dict[str, tuple[int, str]] = {}  # sid -> (since_ms, why): not writable
        self._gaps: dict[str, list[list[int]]] = {}  # sid -> [[from_ms, to_ms], ...]
        self.on_change: Callable[[str, bool], None] | None = None
        """Called with ``(sid, False)`` when a recording stops being writable outside
        :meth:`record` (a flush on the tick) and ``(sid, True)`` when it works again:
        the relay pauses and resumes the session's screen updates (G10)."""

    # -- paths -----------------------------------------------------------------------

    def folder(self, sid: str) -> Path:
        """``DATA_DIR/sessions/<sid>`` (``ValueError`` for an unsafe id)."""
        if not sid or len(sid) > 64 or not set(sid) <= _SAFE or ".." in sid or sid[0] == ".":
            raise ValueError("unsafe session id")
        return self.data_dir / "sessions" / sid

    def has_recording(self, sid: str) -> bool:
        """Whether a recording of ``sid`` exists on disk."""
        return (self.folder(sid) / RECORDING_FILE).is_file()

    # -- the relay's hook ---------------------------------------------------------

    def record(self, sid: str, direction: str | int, data: bytes | str, now_ms: int) -> bool:
        """Record one relayed frame: ``bytes`` = binary, ``str`` = control JSON.

        ``direction`` is ``"agent"``, ``"viewer"`` or ``"broker"`` (who sent it). Input
        batches are skipped. Returns False when the frame could NOT be recorded: the
        relay must then not relay it (fail closed, G10) and pauses the session's screen
        updates until :meth:`tick` finds the recording writable again. Written through
        to the file at once (one ``write``, no fsync: the file's descriptor stays open
        while the recording is), so a full disk is found before the frame leaves.
        """
        if sid in self._paused:
            return False
        if isinstance(data, str):
            frame_type, payload = FRAME_TEXT, data.encode("utf-8")
        else:
            frame_type, payload = FRAME_BINARY, bytes(data)
            if payload[:1] not in (b"\x01", b"\x04"):
                return True  # only the screen (updates, video chunks): no input, no acks
        d = _DIRECTIONS.get(direction, DIR_BROKER) if isinstance(direction, str) else direction
        try:
            entry = self._entry(sid, now_ms)
            entry.writer.append(d, frame_type, payload, now_ms)
            entry.writer.flush()
            entry.last_ms = now_ms
            if frame_type == FRAME_BINARY and len(payload) > 1 and payload[1] & 1:
                entry.last_full_ms = now_ms
            if frame_type == FRAME_TEXT and '"key.audit"' in data:
                message = json.loads(data)
                if isinstance(message, dict) and message.get("type") == "key.audit":
                    entry.writer.add_audit_key(message)
        except (OSError, ValueError, AuditError) as exc:
            self._pause(sid, now_ms, exc)
            return False
        return True

    def _pause(self, sid: str, now_ms: int, exc: BaseException) -> None:
        """The recording cannot be written: drop the writer (its tail is cut when the
        next segment opens) and remember since when."""
        log.error("session %s: recording cannot be written, screen updates paused: %s", sid, exc)
        entry = self._open.pop(sid, None)
        if entry is not None:
            entry.writer.abandon()  # its descriptor too
        self._paused[sid] = (now_ms, str(exc)[:200])

    def is_paused(self, sid: str) -> bool:
        """Whether ``sid``'s recording is waiting for the storage to work again."""
        return sid in self._paused

    def _try_resume(self, sid: str, now_ms: int) -> bool:
        """Open a new segment of a paused recording: reopen the file (cutting a torn
        tail), mark the gap in it (a ``recording.state`` frame) and write that through."""
        since, _ = self._paused[sid]
        writer: RecordingWriter | None = None
        try:
            _probe(self.folder(sid))  # cheap first: reopening reads the whole file
            writer = RecordingWriter(self.folder(sid), sid, now_ms, keep_open=True)
            marker = {
                "type": "recording.state",
                "state": "on",
                "reason": "recording_unavailable",
                "since_ms": since,
            }
            writer.append(DIR_BROKER, FRAME_TEXT, json.dumps(marker).encode(), now_ms)
            writer.flush()
        except (OSError, ValueError, AuditError):
            if writer is not None:
                writer.abandon()
            return False
        del self._paused[sid]
        self._gaps.setdefault(sid, []).append([since, now_ms])
        assert writer is not None
        self._open[sid] = _Open(writer, now_ms, None)  # no FULL yet: the relay asks one
        log.warning(
            "session %s: recording writable again after %d ms: new segment", sid, now_ms - since
        )
        return True

    def wants_keyframe(self, sid: str, now_ms: int) -> bool:
        """True when the relay should ask the agent for a FULL update (``refresh``):
        the last one is older than :data:`KEYFRAME_INTERVAL_MS`, so a seek never has
        to replay more than that (P8)."""
        entry = self._open.get(sid)
        if entry is None:
            return False
        last = entry.last_full_ms
        return last is None or now_ms - last >= KEYFRAME_INTERVAL_MS

    def finish(self, sid: str) -> None:
        """The session ended: write, close and seal its recording (a paused one is
        reopened first so that its seal covers everything, gaps marked)."""
        if sid in self._paused and not self._try_resume(sid, self._now_ms()):
            log.error("session %s: ended with its recording unwritable: left unsealed", sid)
            self._paused.pop(sid, None)
            return
        self._close(sid)
        self._gaps.pop(sid, None)

    def _entry(self, sid: str, now_ms: int) -> _Open:
        entry = self._open.get(sid)
        if entry is None:
            writer = RecordingWriter(self.folder(sid), sid, now_ms, keep_open=True)
            entry = _Open(writer, now_ms, None)
            self._open[sid] = entry
        return entry

    def _close(self, sid: str) -> None:
        """Close the recording and seal it: ``recording.sealed`` with the file's SHA-256
        goes to the review log (signed), so a later edit of the file is detectable."""
        entry = self._open.pop(sid, None)
        if entry is None:
            return
        writer = entry.writer
        try:
            writer.close()
            self.review_event(
                sid,
                "recording.sealed",
                "broker",
                {
                    "sha256": writer.sha256(),
                    "bytes": writer.written_bytes,
                    "frames": writer.last_seq,
                    # when the recording could not be written (no update was relayed)
                    "gaps": list(self._gaps.get(sid, [])),
                },
                self._now_ms(),
            )
        except (OSError, AuditError) as exc:
            log.error("session %s: closing or sealing the recording failed: %s", sid, exc)

    # -- ticking -------------------------------------------------------------------

    def tick(self, now_ms: int) -> list[str]:
        """Write what is a second old; close recordings idle for a while; try the
        paused ones again. Returns the sessions whose recording works again."""
        for sid, entry in list(self._open.items()):
            try:
                entry.writer.flush_due(now_ms)
            except OSError as exc:
                self._pause(sid, now_ms, exc)
                if self.on_change is not None:
                    self.on_change(sid, False)
                continue
            if now_ms - entry.last_ms >= IDLE_CLOSE_S * 1000:
                self._close(sid)
        resumed = [sid for sid in list(self._paused) if self._try_resume(sid, now_ms)]
        if self.on_change is not None:
            for sid in resumed:
                self.on_change(sid, True)
        return resumed

    def flush_all(self) -> None:
        """Write every buffered frame now (tests, shutdown)."""
        for entry in self._open.values():
            entry.writer.flush()

    def close_all(self) -> None:
        """Close every open recording."""
        for sid in list(self._open):
            self._close(sid)

    # -- the review log -------------------------------------------------------------

    def review_event(
        self, sid: str, event: str, actor: str, detail: Mapping[str, Any], now_ms: int
    ) -> dict[str, Any]:
        """Append ``event`` to the session's review log and sign the new head at once.

        Raises ``OSError`` / ``AuditError`` when it cannot be written: the caller must
        then refuse the action it records (fail closed).
        """
        folder = self.folder(sid)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Any node may serve a replay: one appender at a time keeps the chain whole.
        with exclusive(folder / REVIEW):
            return append_review_event(
                folder, sid, event, actor, detail, now_ms, self._key, self._key_id
            )

    def review_records(self, sid: str) -> list[dict[str, Any]]:
        """The review log of ``sid`` (empty if none)."""
        path = self.folder(sid) / REVIEW
        if not path.exists():
            return []
        return [r.to_dict() for r in read_jsonl(path).records]

    # -- reading for the player ---------------------------------------------------------

    def index_summary(self, sid: str) -> dict[str, Any]:
        """What the player needs first: start, duration, size, keyframes, audit keys."""
        folder = self.folder(sid)
        self._flush_if_open(sid)
        summary = summarize(folder)
        return {
            "session_id": summary.session_id,
            "started_ms": summary.started_ms,
            "duration_ms": summary.duration_ms,
            "size": summary.size,
            "valid_length": summary.valid_length,
            "header_length": summary.header_length,
            "frames": summary.frames,
            "keyframes": summary.keyframes,
            "audit_keys": read_audit_keys(folder),
        }

    def _flush_if_open(self, sid: str) -> None:
        entry = self._open.get(sid)
        if entry is not None:
            entry.writer.flush()

    def read_bytes(self, sid: str, name: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``[start, end)`` of the recording or its index (after a flush)."""
        if name not in (RECORDING_FILE, INDEX_FILE):
            raise ValueError("not a recording file")
        self._flush_if_open(sid)
        with (self.folder(sid) / name).open("rb") as f:
            f.seek(start)
            return f.read(-1 if end is None else max(0, end - start))

    # -- retention -----------------------------------------------------------------------

    def sweep(self, now_ms: int) -> list[str]:
        """Delete recordings untouched for ``retention_days`` (logged); returns their ids."""
        root = self.data_dir / "sessions"
        if not root.is_dir() or self.retention_days <= 0:
            return []
        limit_ms = now_ms - self.retention_days * 86_400_000
        deleted: list[str] = []
        for folder in sorted(root.iterdir()):
            sid = folder.name
            path = folder / RECORDING_FILE
            if sid in self._open or sid in self._paused or not path.is_file():
                continue
            if path.stat().st_mtime * 1000 >= limit_ms:
                continue
            try:
                size = path.stat().st_size
                # Log first (fail closed): a deletion nobody can see must not happen.
                self.review_event(
                    sid,
                    "recording.deleted",
                    "broker",
                    {"reason": "retention", "retention_days": self.retention_days, "bytes": size},
                    now_ms,
                )
                for name in (RECORDING_FILE, INDEX_FILE, KEYS_FILE):
                    with contextlib.suppress(FileNotFoundError):
                        (folder / name).unlink()
                deleted.append(sid)
                log.info("session %s: recording deleted by the retention policy", sid)
            except (OSError, AuditError) as exc:
                log.error("session %s: retention could not delete the recording: %s", sid, exc)
        return deleted


def _probe(folder: Path, size: int = PROBE_BYTES) -> None:
    """Raise ``OSError`` unless ``size`` bytes can be written in ``folder`` now."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / ".write-probe"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, b"\0" * size)
        finally:
            os.close(fd)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


RECORDER = web.AppKey[RecordingService]("recorder")
"""The application's recorder (present while the app runs)."""


async def recording_ctx(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: the recorder and its half-second ticker (flush, idle close,
    retention). Needs ``CONFIG`` and ``PKI`` (added after the PKI context)."""
    config = app[CONFIG]
    pki = app[PKI]
    clock = app[CLOCK]
    retention = config.recording_retention_days
    service = RecordingService(
        config.data_dir,
        pki.signing_key,
        pki.signing_key_id,
        retention_days=retention,
        now_ms=clock.now_ms,
    )
    app[RECORDER] = service

    async def ticker() -> None:
        last_sweep = 0.0
        while True:
            await asyncio.sleep(TICK_S)
            try:
                service.tick(clock.now_ms())
                if time.monotonic() - last_sweep >= SWEEP_INTERVAL_S:
                    last_sweep = time.monotonic()
                    service.sweep(clock.now_ms())  # on the loop: one writer per review log
            except Exception:
                log.exception("recording tick failed")

    task = asyncio.get_running_loop().create_task(ticker(), name="recording tick")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        service.close_all()
