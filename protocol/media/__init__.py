"""Binary frames (SPEC §4) and their plaintext payloads.

Frames: :class:`ScreenUpdateFrame` (kind 0x01), :class:`InputFrame` (0x02),
:class:`AckFrame` (0x03), :class:`VideoChunkFrame` (0x04) and :class:`UnknownBinary` for kinds this version does
not know (skipped, not fatal). :func:`parse_binary` reads only the clear header;
the ciphertext is a zero-copy ``memoryview`` slice of the input (the relay reads
thousands of headers per second). ``header()`` is the AEAD associated-data
prefix; ``bytes(frame)`` is the wire form.

Plaintext payloads (inside the ciphertext): :class:`ScreenUpdate` and
:class:`InputBatch` and :class:`VideoChunk`, each with ``parse(data)`` and ``__bytes__()``. All limits of
SPEC §2 are checked on construction, so a payload object is always valid.

Layout (one module per concern, like aiortc's ``codecs/``): :mod:`.frames`
(frames and :func:`parse_binary`), :mod:`.screen` (:class:`ScreenUpdate`),
:mod:`.input` (:class:`InputBatch` and its events), :mod:`.video` (video chunks), ``_common`` (kinds, flags,
layouts, error helpers). Every name is importable from ``protocol.media``.
"""

from protocol.media._common import (
    CODEC_JPEG,
    CODEC_PNG,
    CODECS,
    FLAG_FULL,
    GCM_TAG_SIZE,
    KIND_ACK,
    KIND_INPUT,
    KIND_SCREEN_UPDATE,
    KNOWN_FLAGS,
    Buffer,
)
from protocol.media.frames import (
    AckFrame,
    BinaryMessage,
    InputFrame,
    ScreenUpdateFrame,
    UnknownBinary,
    parse_binary,
)
from protocol.media.input import (
    BUTTONS,
    EVENT_LAYOUTS,
    MODIFIER_ALT,
    MODIFIER_CTRL,
    MODIFIER_META,
    MODIFIER_SHIFT,
    MODIFIERS_MASK,
    ButtonDown,
    ButtonUp,
    InputBatch,
    InputEvent,
    KeyDown,
    KeyUp,
    PointerMove,
    Wheel,
)
from protocol.media.screen import EncodedImage, Rect, ScreenUpdate
from protocol.media.video import (
    FLAG_KEY,
    KIND_VIDEO_CHUNK,
    VIDEO_AV1,
    VIDEO_CODEC_NAMES,
    VIDEO_CODECS,
    VIDEO_H264,
    VIDEO_VP9,
    VideoChunk,
    VideoChunkFrame,
)

__all__ = [
    "BUTTONS",
    "CODECS",
    "CODEC_JPEG",
    "CODEC_PNG",
    "EVENT_LAYOUTS",
    "FLAG_FULL",
    "FLAG_KEY",
    "GCM_TAG_SIZE",
    "KIND_ACK",
    "KIND_INPUT",
    "KIND_SCREEN_UPDATE",
    "KIND_VIDEO_CHUNK",
    "KNOWN_FLAGS",
    "MODIFIERS_MASK",
    "MODIFIER_ALT",
    "MODIFIER_CTRL",
    "MODIFIER_META",
    "MODIFIER_SHIFT",
    "VIDEO_AV1",
    "VIDEO_CODECS",
    "VIDEO_CODEC_NAMES",
    "VIDEO_H264",
    "VIDEO_VP9",
    "AckFrame",
    "BinaryMessage",
    "Buffer",
    "ButtonDown",
    "ButtonUp",
    "EncodedImage",
    "InputBatch",
    "InputEvent",
    "InputFrame",
    "KeyDown",
    "KeyUp",
    "PointerMove",
    "Rect",
    "ScreenUpdate",
    "ScreenUpdateFrame",
    "UnknownBinary",
    "VideoChunk",
    "VideoChunkFrame",
    "Wheel",
    "parse_binary",
]
