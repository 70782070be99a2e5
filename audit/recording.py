"""Session recordings: the relayed wire traffic of one session, on disk.

A recording is a sequence of ``(seq, t_ms, direction, wire bytes)`` (STYLE "audit/"):
exactly the frames the broker relayed — screen updates still encrypted end to end,
control messages as JSON text — so a recording made today replays with tomorrow's
viewer, which keeps every old decoder (DESIGN §5). Engineer input batches are never
recorded (no keystrokes in recordings, and the audit recipient could not open them).

Files in the session's folder (``DATA_DIR/sessions/<id>/``):

``recording.cprec``
    ``MAGIC`` (8 bytes) · u32 header length · header (canonical JSON
    ``{"version", "session_id", "started_ms"}``) · u32 CRC-32 of the header; then
    records, each ``u32 body length · body · u32 CRC-32 of body`` where body is
    ``u64 seq · u32 t_ms · u8 direction · u8 frame type · payload``. ``t_ms`` counts
    from ``started_ms``; ``seq`` starts at 1 and grows by one.
``recording.idx``
    The seek index: 25-byte entries ``u8 kind · u64 seq · u64 t_ms · u64 offset``,
    one per FULL screen update (kind 1: a frame that needs no earlier one) and one
    per second of recording time (kind 0: where that second starts). A player finds
    the last FULL update before the target and reads from there: a seek reads at
    most one keyframe interval, whatever the recording's length (P8).
``audit-keys.jsonl``
    The ``key.audit`` messages (SPEC §3.4): each epoch's content key wrapped for
    the audit recipient. Without the audit recipient's private key the recording
    is ciphertext.

All integers are big-endian. The writer buffers and writes a frame once it is
:data:`FLUSH_INTERVAL_MS` old (the broker's recorder ticks every half second), so a
crash of the process loses at most the last second (the OS holds what was written; an
fsync happens on close). The reader stops at the first record whose length
or CRC does not check (a torn tail after a crash) and says how many bytes it
ignored; :class:`RecordingWriter` reopens a file, cuts the torn tail and continues.
The CRC guards against torn writes, not against tampering: the evidence is the
hash-chained, signed session log (audit.chain, audit.checkpoint).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import struct
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from audit.canonical import canonical_json
from audit.errors import AuditError

__all__ = [
    "DIR_AGENT",
    "DIR_BROKER",
    "DIR_VIEWER",
    "FLUSH_INTERVAL_MS",
    "FRAME_BINARY",
    "FRAME_TEXT",
    "INDEX_FULL",
    "INDEX_SECOND",
    "MAGIC",
    "IndexEntry",
    "RecordedFrame",
    "Recording",
    "RecordingError",
    "RecordingSummary",
    "RecordingWriter",
    "SeekResult",
    "file_sha256",
    "open_recording",
    "read_audit_keys",
    "summarize",
]

MAGIC = b"CPREC\x00\x01\n"
RECORDING_FILE = "recording.cprec"
INDEX_FILE = "recording.idx"
KEYS_FILE = "audit-keys.jsonl"
FLUSH_INTERVAL_MS = 500
FLUSH_BYTES = 256 * 1024
MAX_PAYLOAD = 9 * 1024 * 1024  # > MAX_BINARY_MESSAGE: a length beyond this is corruption

DIR_AGENT = 0  # sent by the agent (screen updates, its control messages)
DIR_VIEWER = 1  # sent by a viewer (control messages only)
DIR_BROKER = 2  # sent by the broker (log.event, session.state, …)
FRAME_BINARY = 1
FRAME_TEXT = 2

INDEX_SECOND = 0
INDEX_FULL = 1

_BODY = struct.Struct(">QIBB")
_LEN = struct.Struct(">I")
_INDEX = struct.Struct(">BQQQ")
_SCREEN_UPDATE = 0x01
_INPUT = 0x02
_VIDEO_CHUNK = 0x04  # SPEC §4.4: its flag bit 0 (KEY) is the FULL of video
_SEEKABLE_KINDS = (_SCREEN_UPDATE, _VIDEO_CHUNK)
_FLAG_FULL = 0x01


class RecordingError(AuditError):
    """A recording cannot be read or written (``path`` and why)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(path, reason)
        self.path = path
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True, slots=True)
class RecordedFrame:
    """One recorded frame: ``offset`` is where its record starts in the file."""

    seq: int
    t_ms: int
    direction: int
    frame_type: int
    payload: bytes
    offset: int

    @property
    def is_full_update(self) -> bool:
        """True for a FULL screen update or a video keyframe (a seek target that
        needs nothing earlier)."""
        return (
            self.frame_type == FRAME_BINARY
            and len(self.payload) >= 2
            and self.payload[0] in _SEEKABLE_KINDS
            and bool(self.payload[1] & _FLAG_FULL)
        )

    def text(self) -> str:
        """The payload of a text frame as a string."""
        return self.payload.decode("utf-8")


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One seek-index entry (``kind`` :data:`INDEX_FULL` or :data:`INDEX_SECOND`)."""

    kind: int
    seq: int
    t_ms: int
    offset: int

    def __bytes__(self) -> bytes:
        return _INDEX.pack(self.kind, self.seq, self.t_ms, self.offset)


@dataclass(frozen=True, slots=True)
class SeekResult:
    """Where to start reading to show time ``t_ms``: the keyframe's offset and the
    offset of the first record after ``t_ms`` (``end`` = file size if none)."""

    start: int
    end: int
    keyframe_seq: int | None


def _header_bytes(session_id: str, started_ms: int) -> bytes:
    header = canonical_json({"version": 1, "session_id": session_id, "started_ms": started_ms})
    return MAGIC + _LEN.pack(len(header)) + header + _LEN.pack(zlib.crc32(header))


def _encode_record(seq: int, t_ms: int, direction: int, frame_type: int, payload: bytes) -> bytes:
    body = _BODY.pack(seq, t_ms, direction, frame_type) + payload
    return _LEN.pack(len(body)) + body + _LEN.pack(zlib.crc32(body))


def _read_header(data: bytes, path: Path) -> tuple[dict[str, Any], int]:
    if data[: len(MAGIC)] != MAGIC:
        raise RecordingError(path, "not a Clearpane recording (bad magic)")
    pos = len(MAGIC)
    if len(data) < pos + 4:
        raise RecordingError(path, "header cut short")
    (length,) = _LEN.unpack_from(data, pos)
    pos += 4
    if length > 4096 or len(data) < pos + length + 4:
        raise RecordingError(path, "header cut short")
    raw = data[pos : pos + length]
    (crc,) = _LEN.unpack_from(data, pos + length)
    if zlib.crc32(raw) != crc:
        raise RecordingError(path, "header CRC does not match")
    header = json.loads(raw)
    if not isinstance(header, dict) or header.get("version") != 1:
        raise RecordingError(path, "unsupported recording version")
    return header, pos + length + 4


def _iter_records(data: bytes, pos: int) -> Iterator[tuple[RecordedFrame, int]]:
    """Complete, CRC-checked records from ``pos``; stops at the first bad one."""
    size = len(data)
    while pos + 4 <= size:
        (length,) = _LEN.unpack_from(data, pos)
        if length < _BODY.size or length > MAX_PAYLOAD or pos + 8 + length > size:
            return
        body = data[pos + 4 : pos + 4 + length]
        (crc,) = _LEN.unpack_from(data, pos + 4 + length)
        if zlib.crc32(body) != crc:
            return
        seq, t_ms, direction, frame_type = _BODY.unpack_from(body)
        end = pos + 8 + length
        yield RecordedFrame(seq, t_ms, direction, frame_type, bytes(body[_BODY.size :]), pos), end
        pos = end


class Recording:
    """A recording read from disk (tolerant of a torn tail).

    ``frames`` are the complete records; ``valid_length`` the bytes they span (header
    included); ``torn_bytes`` what follows them (0 for a cleanly closed file).
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / RECORDING_FILE
        try:
            self.data = self.path.read_bytes()
        except OSError as exc:
            raise RecordingError(self.path, f"cannot read: {exc.strerror}") from None
        header, self.header_length = _read_header(self.data, self.path)
        self.session_id = str(header.get("session_id", ""))
        self.started_ms = int(header.get("started_ms", 0))
        self.frames: list[RecordedFrame] = []
        end = self.header_length
        for frame, frame_end in _iter_records(self.data, self.header_length):
            self.frames.append(frame)
            end = frame_end
        self.valid_length = end
        self.torn_bytes = len(self.data) - end
        self.index = build_index(self.frames)
        self._times = [f.t_ms for f in self.frames]

    @property
    def duration_ms(self) -> int:
        """Time of the last complete record."""
        return self.frames[-1].t_ms if self.frames else 0

    def seek(self, t_ms: int) -> SeekResult:
        """The byte range a player needs to show time ``t_ms`` (see :func:`seek_index`)."""
        return seek_index(self.index, t_ms, self.valid_length, self.header_length)

    def frames_between(self, start: int, end: int) -> list[RecordedFrame]:
        """The frames whose records lie in ``[start, end)`` (offsets from :meth:`seek`)."""
        return [frame for frame, _ in _iter_records(self.data[:end], start)]

    def frames_until(self, t_ms: int) -> list[RecordedFrame]:
        """Every frame at or before ``t_ms``."""
        return self.frames[: bisect.bisect_right(self._times, t_ms)]


@dataclass(frozen=True, slots=True)
class RecordingSummary:
    """What a player needs before the first seek (see :func:`summarize`)."""

    session_id: str
    started_ms: int
    header_length: int
    valid_length: int
    size: int
    duration_ms: int
    frames: int
    keyframes: int
    index: list[IndexEntry]


def summarize(folder: Path) -> RecordingSummary:
    """Header, index and the last second of a recording — without reading it all.

    The index says where the last second starts; only the records from there to the end
    are parsed (CRC-checked, so a torn tail is excluded). Falls back to a full read when
    there is no index.
    """
    folder = Path(folder)
    path = folder / RECORDING_FILE
    index_path = folder / INDEX_FILE
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(4096 + 16)
            header, header_length = _read_header(head, path)
            entries = parse_index(index_path.read_bytes()) if index_path.exists() else []
            tail_from = max((e.offset for e in entries), default=header_length)
            f.seek(tail_from)
            tail = f.read()
    except OSError as exc:
        raise RecordingError(path, f"cannot read: {exc.strerror}") from None
    if not entries:
        rec = Recording(folder)
        return RecordingSummary(
            rec.session_id,
            rec.started_ms,
            rec.header_length,
            rec.valid_length,
            size,
            rec.duration_ms,
            len(rec.frames),
            sum(1 for e in rec.index if e.kind == INDEX_FULL),
            rec.index,
        )
    last: RecordedFrame | None = None
    end = tail_from
    for frame, frame_end in _iter_records(tail, 0):
        last, end = frame, tail_from + frame_end
    return RecordingSummary(
        session_id=str(header.get("session_id", "")),
        started_ms=int(header.get("started_ms", 0)),
        header_length=header_length,
        valid_length=end,
        size=size,
        duration_ms=last.t_ms if last else 0,
        frames=last.seq if last else 0,
        keyframes=sum(1 for e in entries if e.kind == INDEX_FULL),
        index=entries,
    )


def build_index(frames: list[RecordedFrame]) -> list[IndexEntry]:
    """The seek index of ``frames`` (what the writer keeps in ``recording.idx``)."""
    entries: list[IndexEntry] = []
    next_second = 0
    for frame in frames:
        entries.extend(
            _index_entries(frame.seq, frame.t_ms, frame.offset, frame.is_full_update, next_second)
        )
        if frame.t_ms >= next_second:
            next_second = frame.t_ms // 1000 * 1000 + 1000
    return entries


def _index_entries(
    seq: int, t_ms: int, offset: int, full: bool, next_second: int
) -> list[IndexEntry]:
    out: list[IndexEntry] = []
    if t_ms >= next_second:
        out.append(IndexEntry(INDEX_SECOND, seq, t_ms, offset))
    if full:
        out.append(IndexEntry(INDEX_FULL, seq, t_ms, offset))
    return out


def parse_index(data: bytes) -> list[IndexEntry]:
    """Entries of a ``recording.idx`` file (a torn last entry is ignored)."""
    usable = len(data) - len(data) % _INDEX.size
    return [IndexEntry(*_INDEX.unpack_from(data, pos)) for pos in range(0, usable, _INDEX.size)]


def seek_index(index: list[IndexEntry], t_ms: int, file_end: int, first_record: int) -> SeekResult:
    """Byte range ``[start, end)`` to replay to show ``t_ms``.

    ``start`` is the last FULL update at or before ``t_ms`` (the first record if there
    is none); ``end`` the first second-mark after ``t_ms`` (so every record up to
    ``t_ms`` is inside), or ``file_end``.
    """
    start, key_seq = first_record, None
    end = file_end
    for entry in index:
        if entry.kind == INDEX_FULL and entry.t_ms <= t_ms:
            start, key_seq = entry.offset, entry.seq
        elif entry.kind == INDEX_SECOND and entry.t_ms > t_ms:
            end = entry.offset
            break
    return SeekResult(start, max(end, start), key_seq)


def file_sha256(folder: Path) -> str:
    """SHA-256 hex of ``recording.cprec`` (compare with the ``recording.sealed`` record)."""
    digest = hashlib.sha256()
    with (Path(folder) / RECORDING_FILE).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_audit_keys(folder: Path) -> list[dict[str, Any]]:
    """The ``key.audit`` messages stored for a recording (complete lines only)."""
    path = Path(folder) / KEYS_FILE
    if not path.exists():
        return []
    out: list[dict[str, Any]] = []
    for line in path.read_bytes().split(b"\n"):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue  # a torn last line
        if isinstance(value, dict):
            out.append(value)
    return out


def open_recording(folder: Path) -> Recording:
    """Read the recording in ``folder`` (``RecordingError`` if there is none)."""
    return Recording(folder)


class RecordingWriter:
    """Append frames to the recording in ``folder`` (created, or continued after a
    crash: a torn tail is cut off first).

    :meth:`append` buffers; :meth:`flush_due` writes when the oldest buffered frame
    is :data:`FLUSH_INTERVAL_MS` old (call it once a second); :meth:`close` flushes
    and fsyncs. Not thread-safe: one writer per session, on the event loop.
    """

    def __init__(
        self, folder: Path, session_id: str, started_ms: int, *, keep_open: bool = False
    ) -> None:
        self.folder = Path(folder)
        # keep_open: the recording file's descriptor stays open while the writer is,
        # so a write-through costs one write() instead of open + write + close (the
        # broker writes every relayed frame through at once: issue 16). The index
        # (written about once a second) is still opened per write.
        self._keep_open = keep_open
        self._fd: int | None = None
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = self.folder / RECORDING_FILE
        self.index_path = self.folder / INDEX_FILE
        self.keys_path = self.folder / KEYS_FILE
        self.repaired_bytes = 0
        self._buf: list[bytes] = []
        self._index_buf: list[bytes] = []
        self._buffered = 0
        self._oldest_ms: int | None = None
        self._seq = 0
        self._next_second = 0
        if self.path.exists() and self.path.stat().st_size > 0:
            existing = Recording(self.folder)
            self.session_id = existing.session_id
            self.started_ms = existing.started_ms
            if existing.torn_bytes:
                os.truncate(self.path, existing.valid_length)
                self.repaired_bytes = existing.torn_bytes
            self._offset = existing.valid_length
            self._sha = hashlib.sha256(existing.data[: existing.valid_length])
            if existing.frames:
                self._seq = existing.frames[-1].seq
                self._next_second = existing.frames[-1].t_ms // 1000 * 1000 + 1000
            # The index is derived data: rewrite it from the frames that survived.
            self.index_path.write_bytes(b"".join(bytes(e) for e in existing.index))
        else:
            self.session_id = session_id
            self.started_ms = started_ms
            header = _header_bytes(session_id, started_ms)
            self.path.write_bytes(header)
            self.path.chmod(0o600)
            self.index_path.write_bytes(b"")
            self.index_path.chmod(0o600)
            self._offset = len(header)
            self._sha = hashlib.sha256(header)
        # Without keep_open no descriptor stays open between flushes; with it, one per
        # live recording (the broker closes idle recordings after IDLE_CLOSE_S).
        self._open = True

    @property
    def last_seq(self) -> int:
        """The seq of the last frame appended (0 if none)."""
        return self._seq

    @property
    def written_bytes(self) -> int:
        """Size of the file once everything buffered is written."""
        return self._offset

    def sha256(self) -> str:
        """SHA-256 hex of the file as written so far (call after :meth:`flush` or
        :meth:`close` to cover every frame): what ``recording.sealed`` records."""
        return self._sha.hexdigest()

    def append(self, direction: int, frame_type: int, payload: bytes, now_ms: int) -> int:
        """Buffer one frame; returns its seq. Engineer input is refused (ValueError)."""
        if not self._open:
            raise RecordingError(self.path, "writer is closed")
        if frame_type == FRAME_BINARY and payload[:1] == bytes([_INPUT]):
            raise ValueError("input batches are never recorded")
        if len(payload) > MAX_PAYLOAD:
            raise ValueError("frame too large to record")
        t_ms = max(0, now_ms - self.started_ms)
        self._seq += 1
        record = _encode_record(self._seq, t_ms, direction, frame_type, payload)
        full = (
            frame_type == FRAME_BINARY
            and len(payload) >= 2
            and payload[0] in _SEEKABLE_KINDS
            and bool(payload[1] & _FLAG_FULL)
        )
        for entry in _index_entries(self._seq, t_ms, self._offset, full, self._next_second):
            self._index_buf.append(bytes(entry))
        if t_ms >= self._next_second:
            self._next_second = t_ms // 1000 * 1000 + 1000
        self._buf.append(record)
        self._offset += len(record)
        self._buffered += len(record)
        if self._oldest_ms is None:
            self._oldest_ms = now_ms
        if self._buffered >= FLUSH_BYTES:
            self.flush()
        return self._seq

    def add_audit_key(self, message: Mapping[str, Any]) -> None:
        """Store one ``key.audit`` message durably (fsync'd: without it, nothing decrypts)."""
        line = canonical_json(dict(message)) + b"\n"
        fd = os.open(self.keys_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def flush_due(self, now_ms: int) -> bool:
        """Write the buffer if its oldest frame is a flush interval old; True if written."""
        if self._oldest_ms is not None and now_ms - self._oldest_ms >= FLUSH_INTERVAL_MS:
            self.flush()
            return True
        return False

    def flush(self) -> None:
        """Write buffered frames, then their index entries (the index never points
        past the data)."""
        if not self._open:
            return
        if self._buf:
            data = b"".join(self._buf)
            self._buf.clear()
            if self._keep_open:
                if self._fd is None:
                    self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
                _write_all(self._fd, data)
            else:
                _append(self.path, data)
            self._sha.update(data)
        if self._index_buf:
            index = b"".join(self._index_buf)
            self._index_buf.clear()
            _append(self.index_path, index)
        self._buffered = 0
        self._oldest_ms = None

    def close(self) -> None:
        """Flush, fsync and close (idempotent)."""
        if not self._open:
            return
        try:
            self.flush()
            if self._fd is not None:
                os.fsync(self._fd)
        finally:
            self.abandon()
        paths = (self.index_path,) if self._keep_open else (self.path, self.index_path)
        for path in paths:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def abandon(self) -> None:
        """Stop without writing what is buffered (the file cannot be written: the
        next writer cuts a torn tail); releases the descriptor. Idempotent."""
        self._open = False
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _append(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
