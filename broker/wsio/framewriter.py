"""Several WebSocket messages to one server socket in one ``transport.write``.

aiohttp's public API (``send_bytes`` / ``send_str``) writes one message per
``transport.write`` and is a coroutine per message; on TLS each write is one record
and one ``send`` system call (MACHINE-NOTES: ≈ 25 % of the broker's busy time). The
relay instead gathers a peer's outgoing messages during one loop turn and writes
them here as one buffer of whole frames (RFC 6455 §5.2: server frames, unmasked,
FIN set, no extension — the broker's sockets are made with ``compress=False``).

This is the **only** module that depends on aiohttp internals: the prepared
response's frame writer (``WebSocketResponse._writer``: its ``transport``,
``protocol`` and ``_closing``) and the protocol's ``_drain_helper()`` (wait until
the transport's buffer drains below its high-water mark). The test
``tests/broker/test_wsio_framewriter.py`` fails if aiohttp changes any of them.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

from aiohttp import web

__all__ = ["OP_BINARY", "OP_TEXT", "FrameWriter", "frame_header"]

OP_TEXT = 0x1
OP_BINARY = 0x2
JOIN_LIMIT = 256 * 1024
"""Up to this many payload bytes per write are joined into one buffer."""
_LEN1 = struct.Struct(">BB")
_LEN2 = struct.Struct(">BBH")
_LEN3 = struct.Struct(">BBQ")


def frame_header(opcode: int, length: int) -> bytes:
    """The header of one unmasked, final, uncompressed frame of ``length`` bytes."""
    first = 0x80 | opcode
    if length < 126:
        return _LEN1.pack(first, length)
    if length < 65536:
        return _LEN2.pack(first, 126, length)
    return _LEN3.pack(first, 127, length)


class FrameWriter:
    """Writes whole frames straight to a prepared ``WebSocketResponse``'s transport."""

    __slots__ = ("_protocol", "_transport", "_writer")

    def __init__(self, ws: web.WebSocketResponse) -> None:
        writer: Any = ws._writer  # aiohttp internal: the one place (module docstring)
        if writer is None:
            raise RuntimeError("the WebSocketResponse is not prepared")
        self._writer = writer
        self._transport: asyncio.Transport = writer.transport
        self._protocol: Any = writer.protocol

    @property
    def usable(self) -> bool:
        """False once aiohttp closes or starts closing the socket (nothing may follow
        a close frame)."""
        return not self._writer._closing and not self._transport.is_closing()

    @property
    def paused(self) -> bool:
        """The transport's buffer is above its high-water mark (the peer reads slowly)."""
        return bool(self._protocol.writing_paused)

    def write(self, frames: list[tuple[int, bytes]]) -> int:
        """Write ``(opcode, payload)`` frames in one ``transport.write``; return the
        payload bytes written."""
        parts: list[bytes] = []
        size = 0
        for opcode, payload in frames:
            parts.append(frame_header(opcode, len(payload)))
            parts.append(payload)
            size += len(payload)
        if size <= JOIN_LIMIT:
            # One buffer: TLS writes each buffer as its own record(s), so a separate
            # 2-byte header would cost a record of its own.
            self._transport.write(b"".join(parts))
        else:  # a big burst: no copy of megabytes
            self._transport.writelines(parts)
        return size

    async def drain(self) -> None:
        """Wait until the transport accepts more (returns at once when not paused)."""
        if self._protocol.writing_paused:
            await self._protocol._drain_helper()
