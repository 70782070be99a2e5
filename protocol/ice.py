"""STUN/TURN servers for video calls, in the browser's ``RTCIceServer`` shape.

The list is part of the call-signalling contract (SPEC §3.6): the broker hands it to
viewers and agents, the agent gives it to aiortc, the browser to
``RTCPeerConnection``. ``CLEARPANE_ICE_SERVERS`` holds it as JSON::

    [{"urls": ["stun:turn.example.com:3478"]},
     {"urls": ["turn:turn.example.com:3478?transport=udp"],
      "username": "clearpane", "credential": "…"}]

An empty value or ``[]`` means host candidates only. A TURN entry carries a fixed
``username`` and ``credential``, or — where the broker holds coturn's
``static-auth-secret`` — none, and each caller gets short-lived "TURN REST API"
credentials from :func:`turn_rest_credentials`. Pure code: the agent and the broker
both build on it (docs/video-calls.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

__all__ = ["IceConfigError", "IceServer", "parse_ice_servers", "turn_rest_credentials"]

_SCHEMES = ("stun:", "stuns:", "turn:", "turns:")
_TURN = ("turn:", "turns:")
_KEYS = frozenset({"urls", "username", "credential"})


class IceConfigError(ValueError):
    """``CLEARPANE_ICE_SERVERS`` is not a valid list of ICE servers."""


@dataclass(frozen=True, slots=True)
class IceServer:
    """One STUN or TURN server (the fields of the browser's ``RTCIceServer``)."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    @property
    def is_turn(self) -> bool:
        """Whether any URL is a TURN server."""
        return any(u.startswith(_TURN) for u in self.urls)

    @property
    def is_usable_relay(self) -> bool:
        """A TURN server with credentials: media can be relay-only through it."""
        return self.is_turn and bool(self.username) and bool(self.credential)

    @property
    def needs_rest_credentials(self) -> bool:
        """A TURN entry without fixed credentials: filled from the TURN secret."""
        return self.is_turn and self.username is None and self.credential is None

    def to_json(self) -> dict[str, Any]:
        """The browser's ``RTCIceServer`` dictionary."""
        out: dict[str, Any] = {"urls": list(self.urls)}
        if self.username is not None:
            out["username"] = self.username
        if self.credential is not None:
            out["credential"] = self.credential
        return out

    def __repr__(self) -> str:  # never show the credential in logs
        return f"IceServer(urls={self.urls!r}, username={self.username!r})"


def parse_ice_servers(
    text: str, *, require_turn_credentials: bool = False
) -> tuple[IceServer, ...]:
    """Parse the JSON list; raise :class:`IceConfigError` naming the bad entry.

    A TURN entry gives both ``username`` and ``credential`` or neither (the broker
    fills them from its TURN secret); ``require_turn_credentials`` refuses "neither"
    where nobody will fill them (the agent's own configuration).
    """
    if not text.strip():
        return ()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IceConfigError(f"not JSON: {exc.msg}") from None
    if not isinstance(data, list):
        raise IceConfigError("must be a JSON list of {urls, username?, credential?}")
    servers = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise IceConfigError(f"entry {i} is not an object")
        unknown = set(item) - _KEYS
        if unknown:
            raise IceConfigError(f"entry {i}: unknown keys {sorted(unknown)}")
        urls = item.get("urls")
        if isinstance(urls, str):
            urls = [urls]
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            raise IceConfigError(f"entry {i}: urls must be a string or a list of strings")
        for url in urls:
            if not url.startswith(_SCHEMES):
                raise IceConfigError(f"entry {i}: {url!r} is not a stun:/turn: URL")
        username, credential = item.get("username"), item.get("credential")
        for name, value in (("username", username), ("credential", credential)):
            if value is not None and not isinstance(value, str):
                raise IceConfigError(f"entry {i}: {name} must be a string")
        if (username is None) != (credential is None):
            raise IceConfigError(f"entry {i}: give both username and credential, or neither")
        server = IceServer(tuple(urls), username, credential)
        if require_turn_credentials and server.needs_rest_credentials:
            raise IceConfigError(f"entry {i}: a TURN server needs username and credential")
        servers.append(server)
    return tuple(servers)


def turn_rest_credentials(
    secret: str, user: str, *, now_s: int, ttl_s: int = 3600
) -> tuple[str, str]:
    """coturn ``use-auth-secret`` credentials: username ``EXPIRY:user`` and password
    ``base64(HMAC-SHA1(secret, username))``, valid until ``now_s + ttl_s``."""
    username = f"{now_s + ttl_s}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")
