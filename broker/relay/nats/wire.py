"""Subjects and frames of the NATS relay backend (pure: no I/O).

Per session ``S`` (its id, made subject-safe by :func:`token`):

* ``cp.s.S.req`` — requests to the session's **home** (the process running its
  core): ``attach_agent``, ``attach_viewer``, ``end``, ``keyframe`` (JSON in, JSON
  out).
* ``cp.s.S.to.E`` — home → the process holding endpoint ``E``: what the core sends
  to that WebSocket (:func:`text`, :func:`binary`, :func:`close`).
* ``cp.s.S.from.E`` — that process → home: what the WebSocket said (control text,
  binary frames as received) and finally :func:`detach`.

One publisher per subject and NATS's per-publisher order keep a session's order.
``cp.hb.N`` carries node ``N``'s heartbeat: a process holding endpoints of sessions
homed on ``N`` tells them the session failed when it stops (node failure).
"""

from __future__ import annotations

import re
import struct

__all__ = [
    "BINARY",
    "CLOSE",
    "DETACH",
    "HEARTBEAT_WILDCARD",
    "TEXT",
    "binary",
    "close",
    "detach",
    "from_subject",
    "from_wildcard",
    "heartbeat",
    "parse_close",
    "req_subject",
    "text",
    "to_subject",
    "token",
]

TEXT, BINARY, CLOSE, DETACH = b"t", b"b", b"c", b"d"
HEARTBEAT_WILDCARD = "cp.hb.*"
_SAFE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CODE = struct.Struct(">H")


def token(name: str) -> str:
    """``name`` as one subject token (hex-encoded when it has other characters)."""
    return name if _SAFE.fullmatch(name) else "x" + name.encode().hex()


def req_subject(sid: str) -> str:
    """Requests to the home of session ``sid``."""
    return f"cp.s.{token(sid)}.req"


def to_subject(sid: str, ep: str) -> str:
    """Deliveries to endpoint ``ep`` of ``sid``."""
    return f"cp.s.{token(sid)}.to.{ep}"


def from_subject(sid: str, ep: str) -> str:
    """What endpoint ``ep`` of ``sid`` said."""
    return f"cp.s.{token(sid)}.from.{ep}"


def from_wildcard(sid: str) -> str:
    """Every endpoint's input of ``sid`` (the home subscribes to it)."""
    return f"cp.s.{token(sid)}.from.*"


def heartbeat(node: str) -> str:
    """The heartbeat subject of ``node``."""
    return f"cp.hb.{token(node)}"


def text(t: str) -> bytes:
    """A text frame."""
    return TEXT + t.encode()


def binary(data: bytes) -> bytes:
    """A binary frame."""
    return BINARY + data


def close(code: int, reason: str) -> bytes:
    """Close the WebSocket with ``code`` and ``reason``."""
    return CLOSE + _CODE.pack(code) + reason.encode()[:120]


def parse_close(payload: bytes) -> tuple[int, str]:
    """``(code, reason)`` of a :func:`close` frame."""
    (code,) = _CODE.unpack_from(payload, 1)
    return code, payload[3:].decode(errors="replace")


def detach(reason: str) -> bytes:
    """The endpoint's WebSocket closed (``reason`` for a viewer: closed/disconnected)."""
    return DETACH + reason.encode()
