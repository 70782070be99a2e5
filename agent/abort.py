"""Kill leaves nothing queued (G5, issue 13 finding 7).

Closing a TCP socket normally lets the kernel go on sending whatever it still holds
(a graceful FIN after the queued bytes): screen updates queued before a kill could
leave the machine after it, whenever the peer reads again. So the agent ends a
killed connection with a **reset**: ``SO_LINGER`` on with a zero timeout, then
``abort()`` — asyncio drops its own write buffer, and ``close()`` of a zero-linger
socket discards the kernel's send queue and sends RST.

The ``kill`` message itself is sent on the old connection only when *nothing* is
queued there (asyncio's buffer and the kernel's not-yet-sent bytes are both empty),
so it cannot carry older screen bytes out behind it; otherwise the connection is reset
at once and ``kill`` goes over a fresh connection (docs/guarantees: G5).
"""

from __future__ import annotations

import contextlib
import fcntl
import socket
import struct
from typing import Any

__all__ = ["queued_bytes", "reset"]

SIOCOUTQNSD = 0x894B  # Linux: bytes in the send queue not yet sent


def _socket(transport: Any) -> Any:
    return transport.get_extra_info("socket") if transport is not None else None


def queued_bytes(transport: Any) -> int:
    """Bytes still waiting to leave: asyncio's write buffer plus the kernel's unsent
    send queue (Linux; elsewhere only what asyncio reports, plus 1 if unknown)."""
    if transport is None or transport.is_closing():
        return 0
    pending = int(transport.get_write_buffer_size())
    sock = _socket(transport)
    if sock is None:
        return pending + 1
    try:
        raw = fcntl.ioctl(sock.fileno(), SIOCOUTQNSD, struct.pack("i", 0))
    except OSError:
        return pending + 1  # cannot tell: assume something is queued
    return pending + int(struct.unpack("i", raw)[0])


def reset(transport: Any) -> None:
    """End the connection with RST, discarding everything queued (never raises)."""
    if transport is None:
        return
    sock = _socket(transport)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(Exception):
        transport.abort()
