"""STUN/TURN server configuration, shared in shape with the browser's ``RTCIceServer``.

``CLEARPANE_ICE_SERVERS`` holds a JSON list such as::

    [{"urls": ["stun:turn.example.com:3478"]},
     {"urls": ["turn:turn.example.com:3478?transport=udp",
               "turn:turn.example.com:3478?transport=tcp"],
      "username": "clearpane", "credential": "…"}]

An empty value or ``[]`` means host candidates only (fine on one LAN, and on
loopback in tests). :func:`turn_rest_credentials` makes the short-lived username and
password that coturn accepts with ``use-auth-secret`` (the "TURN REST API"), so a
broker can hand out credentials that expire instead of a fixed password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from aiortc import RTCIceServer

_SCHEMES = ("stun:", "stuns:", "turn:", "turns:")


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
        """A TURN relay with credentials (so media can be relay-only)."""
        has_turn = any(u.startswith(("turn:", "turns:")) for u in self.urls)
        return has_turn and bool(self.username) and bool(self.credential)

    def to_aiortc(self) -> RTCIceServer:
        """The aiortc configuration object."""
        return RTCIceServer(
            urls=list(self.urls), username=self.username, credential=self.credential
        )

    def to_json(self) -> dict[str, Any]:
        """The browser's ``RTCIceServer`` dictionary (for the viewer)."""
        out: dict[str, Any] = {"urls": list(self.urls)}
        if self.username is not None:
            out["username"] = self.username
        if self.credential is not None:
            out["credential"] = self.credential
        return out

    def __repr__(self) -> str:  # never show the credential in logs
        return f"IceServer(urls={self.urls!r}, username={self.username!r})"


def parse_ice_servers(text: str) -> tuple[IceServer, ...]:
    """Parse the JSON of ``CLEARPANE_ICE_SERVERS``; raises :class:`IceConfigError`."""
    if not text.strip():
        return ()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IceConfigError(f"not JSON: {exc.msg}") from exc
    if not isinstance(data, list):
        raise IceConfigError("must be a JSON list of {urls, username?, credential?}")
    servers = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise IceConfigError(f"entry {i} is not an object")
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
        if any(u.startswith(("turn:", "turns:")) for u in urls) and (
            username is None or credential is None
        ):
            raise IceConfigError(f"entry {i}: a TURN server needs username and credential")
        servers.append(IceServer(tuple(urls), username, credential))
    return tuple(servers)


def turn_rest_credentials(
    secret: str, user: str, *, now_s: int, ttl_s: int = 3600
) -> tuple[str, str]:
    """coturn ``use-auth-secret`` credentials: username ``EXPIRY:user`` and password
    ``base64(HMAC-SHA1(secret, username))``, valid until ``now_s + ttl_s``."""
    username = f"{now_s + ttl_s}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")
