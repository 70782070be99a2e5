"""SPEC §4.1, §4.2, §8.3: sealing and opening screen updates and input batches."""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from protocol.e2e.base import (
    MAX_PENDING_EPOCHS,
    PURPOSE_INPUT,
    PURPOSE_SCREEN,
    TAG_LEN,
    U32_MAX,
    U64_MAX,
    E2EError,
    check_key,
    check_u32,
    input_header,
    nonce,
    screen_header,
)
from protocol.media import FLAG_KEY, InputFrame, ScreenUpdateFrame, VideoChunkFrame


class FrameSealer:
    """Encrypts screen updates (agent). Owns the session's seq counter (SPEC §4.1).

    The counter starts at 1 and only moves forward, across epochs too
    (:meth:`rekey` keeps it), so seq stays strictly increasing per session and a
    nonce never repeats under a key.
    """

    def __init__(self, session_id: str, epoch: int, content_key: bytes) -> None:
        self._sid = session_id.encode("utf-8")
        self._epoch = check_u32(epoch, "epoch", minimum=1)
        self._aes = AESGCM(check_key(content_key, "content key"))
        self._last_seq = 0

    @property
    def epoch(self) -> int:
        """The epoch whose key seals the next frame."""
        return self._epoch

    @property
    def last_seq(self) -> int:
        """The seq of the last sealed frame (0 before the first)."""
        return self._last_seq

    def rekey(self, epoch: int, content_key: bytes) -> None:
        """Switch to a newer epoch's key; the seq counter continues."""
        if check_u32(epoch, "epoch", minimum=1) <= self._epoch:
            raise E2EError("wrong_state", "epochs only move forward")
        self._aes = AESGCM(check_key(content_key, "content key"))
        self._epoch = epoch

    def seal(self, flags: int, plaintext: bytes) -> ScreenUpdateFrame:
        """Encrypt one ``ScreenUpdate`` payload into the next frame (FULL = flags bit 0)."""
        if not 0 <= flags <= 0xFF:
            raise E2EError("invalid_field", "flags must fit in a byte")
        if self._last_seq >= U64_MAX:
            raise E2EError("exhausted", "seq counter exhausted")
        seq = self._last_seq + 1
        header = screen_header(flags, self._epoch, seq)
        ciphertext = self._aes.encrypt(nonce(PURPOSE_SCREEN, seq), plaintext, header + self._sid)
        # media validates the header fields; the counter moves only once the frame exists.
        frame = ScreenUpdateFrame(flags=flags, epoch=self._epoch, seq=seq, ciphertext=ciphertext)
        self._last_seq = seq
        return frame

    def seal_video(self, key: bool, plaintext: bytes) -> VideoChunkFrame:
        """Encrypt one ``VideoChunk`` payload into the next frame (SPEC §4.4).

        Same key, counter and nonce purpose as :meth:`seal`: chunks and updates
        share the session's seq space, so a nonce never repeats under a key.
        """
        if self._last_seq >= U64_MAX:
            raise E2EError("exhausted", "seq counter exhausted")
        seq = self._last_seq + 1
        flags = FLAG_KEY if key else 0
        header = VideoChunkFrame(flags, self._epoch, seq, b"").header()
        ciphertext = self._aes.encrypt(nonce(PURPOSE_SCREEN, seq), plaintext, header + self._sid)
        frame = VideoChunkFrame(flags=flags, epoch=self._epoch, seq=seq, ciphertext=ciphertext)
        self._last_seq = seq
        return frame


class FrameOpener:
    """Decrypts screen updates (viewer, replay). Keys arrive per epoch via ``key.wrap``.

    A frame is accepted only if ``(epoch, seq)`` is greater than the last accepted
    one: replays, reordering and going back to an older epoch are rejected, gaps
    are allowed (SPEC §6). Keys of epochs older than an accepted frame's are
    forgotten. Failure raises :class:`E2EError` and changes nothing.
    """

    def __init__(self, session_id: str) -> None:
        self._sid = session_id.encode("utf-8")
        self._keys: dict[int, AESGCM] = {}
        self._last: tuple[int, int] = (0, 0)

    @property
    def last_seq(self) -> int:
        """The seq of the last accepted frame (0 before the first)."""
        return self._last[1]

    def add_key(self, epoch: int, content_key: bytes) -> None:
        """Install ``K_e`` (from :func:`unwrap_content_key` or :func:`unwrap_for_audit`)."""
        check_u32(epoch, "epoch", minimum=1)
        aes = AESGCM(check_key(content_key, "content key"))
        if epoch < self._last[0]:
            raise E2EError("wrong_state", "epoch is older than frames already accepted")
        self._keys[epoch] = aes
        while len(self._keys) > MAX_PENDING_EPOCHS:
            del self._keys[min(self._keys)]

    def open(self, frame: ScreenUpdateFrame | VideoChunkFrame) -> bytes:
        """Authenticate and decrypt one frame; return its ``ScreenUpdate`` or
        ``VideoChunk`` plaintext (the kind byte is part of the AAD)."""
        epoch, seq = frame.epoch, frame.seq
        if not 0 < seq <= U64_MAX or not 0 < epoch <= U32_MAX or not 0 <= frame.flags <= 0xFF:
            raise E2EError("invalid_field", "header field out of range")
        if (epoch, seq) <= self._last:
            raise E2EError("replayed", "frame is not newer than the last accepted one")
        aes = self._keys.get(epoch)
        if aes is None:
            raise E2EError("unknown_epoch", "no content key for this epoch")
        if len(frame.ciphertext) < TAG_LEN:
            raise E2EError("decrypt_failed", "ciphertext shorter than its tag")
        if isinstance(frame, VideoChunkFrame):
            header = frame.header()
        else:
            header = screen_header(frame.flags, epoch, seq)
        try:
            plaintext = aes.decrypt(
                nonce(PURPOSE_SCREEN, seq), bytes(frame.ciphertext), header + self._sid
            )
        except InvalidTag as exc:
            raise E2EError("decrypt_failed", "screen update did not authenticate") from exc
        self._last = (epoch, seq)
        for old in [e for e in self._keys if e < epoch]:
            del self._keys[old]
        return plaintext


# --- §4.2 / §8.3 input batches ---------------------------------------------------


class InputSealer:
    """Encrypts input batches (viewer side) with ``K_input``; owns the seq counter."""

    def __init__(self, session_id: str, sender: int, input_key: bytes) -> None:
        self._sid = session_id.encode("utf-8")
        self._sender = check_u32(sender, "sender")
        self._aes = AESGCM(check_key(input_key, "input key"))
        self._last_seq = 0

    @property
    def last_seq(self) -> int:
        """The seq of the last sealed batch (0 before the first)."""
        return self._last_seq

    def seal(self, plaintext: bytes) -> InputFrame:
        """Encrypt one ``InputBatch`` payload into the next frame."""
        if self._last_seq >= U64_MAX:
            raise E2EError("exhausted", "seq counter exhausted")
        seq = self._last_seq + 1
        header = input_header(self._sender, seq)
        ciphertext = self._aes.encrypt(nonce(PURPOSE_INPUT, seq), plaintext, header + self._sid)
        frame = InputFrame(sender=self._sender, seq=seq, ciphertext=ciphertext)
        self._last_seq = seq
        return frame


class InputOpener:
    """Decrypts one viewer's input batches on the agent (G4: checks the sender too).

    Accepts a seq only if it is greater than the last accepted one; gaps are
    allowed (the broker may drop input sent while ``control`` was not granted).
    Failure raises :class:`E2EError` and changes nothing.
    """

    def __init__(self, session_id: str, sender: int, input_key: bytes) -> None:
        self._sid = session_id.encode("utf-8")
        self._sender = check_u32(sender, "sender")
        self._aes = AESGCM(check_key(input_key, "input key"))
        self._last_seq = 0

    @property
    def last_seq(self) -> int:
        """The seq of the last accepted batch (0 before the first)."""
        return self._last_seq

    def open(self, frame: InputFrame) -> bytes:
        """Authenticate and decrypt one input frame; return the ``InputBatch`` plaintext."""
        if frame.sender != self._sender:
            raise E2EError("wrong_sender", "input frame from another viewer")
        if not 0 < frame.seq <= U64_MAX:
            raise E2EError("invalid_field", "seq out of range")
        if frame.seq <= self._last_seq:
            raise E2EError("replayed", "input frame is not newer than the last accepted one")
        if len(frame.ciphertext) < TAG_LEN:
            raise E2EError("decrypt_failed", "ciphertext shorter than its tag")
        header = input_header(frame.sender, frame.seq)
        try:
            plaintext = self._aes.decrypt(
                nonce(PURPOSE_INPUT, frame.seq), bytes(frame.ciphertext), header + self._sid
            )
        except InvalidTag as exc:
            raise E2EError("decrypt_failed", "input batch did not authenticate") from exc
        self._last_seq = frame.seq
        return plaintext
