"""STUN/TURN servers handed to viewers and agents for video calls (docs/video-calls.md).

``CLEARPANE_ICE_SERVERS`` holds a JSON list in the browser's ``RTCIceServer`` shape::

    [{"urls": ["stun:turn.example.com:3478"]},
     {"urls": ["turn:turn.example.com:3478?transport=udp"]}]

An empty value or ``[]`` means host candidates only. A TURN entry either carries a
fixed ``username`` and ``credential``, or none: then ``CLEARPANE_TURN_SECRET`` (coturn's
``static-auth-secret`` with ``use-auth-secret``) must be set, and each caller gets
short-lived "TURN REST API" credentials (:func:`turn_rest_credentials`) instead of a
shared password.

The same shape and the same credential function exist in ``agent.call.ice``; they are
written again here because the broker never imports the agent (separate packages).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "IceConfigError",
    "IceServer",
    "ice_servers_for",
    "parse_ice_servers",
    "turn_rest_credentials",
]

_SCHEMES = ("stun:", "stuns:", "turn:", "turns:")
_TURN = ("turn:", "turns:")


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
        """Whether any URL is a TURN server (which needs credentials)."""
        return any(u.startswith(_TURN) for u in self.urls)

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


def parse_ice_servers(text: str) -> tuple[IceServer, ...]:
    """Parse the JSON of ``CLEARPANE_ICE_SERVERS``; raise :class:`IceConfigError`.

    A TURN entry may leave out both ``username`` and ``credential`` (they then come
    from the TURN secret: :meth:`broker.config.BrokerConfig.check` requires it), but
    not only one of them.
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
        unknown = set(item) - {"urls", "username", "credential"}
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


def ice_servers_for(
    servers_json: str,
    turn_secret: str | None,
    user: str,
    *,
    now_s: int,
    ttl_s: int,
) -> list[dict[str, Any]]:
    """The ``RTCIceServer`` list for one caller (``user``: an opaque id, no ``:``).

    Entries with fixed credentials and STUN entries are passed on as configured;
    TURN entries without credentials get :func:`turn_rest_credentials` when
    ``turn_secret`` is set (and are left out otherwise: a TURN server without
    credentials is useless to a browser, which would reject the whole list).
    """
    out: list[dict[str, Any]] = []
    rest: tuple[str, str] | None = None
    for server in parse_ice_servers(servers_json):
        if not server.needs_rest_credentials:
            out.append(server.to_json())
            continue
        if turn_secret is None:
            continue
        if rest is None:
            rest = turn_rest_credentials(turn_secret, user, now_s=now_s, ttl_s=ttl_s)
        out.append(IceServer(server.urls, *rest).to_json())
    return out
