"""API keys of integration accounts (issue 18).

A key is ``cpk_`` and 43 URL-safe characters (256 random bits), shown once at creation;
the store keeps its SHA-256 (a slow password hash adds nothing to a random secret) and
its first 12 characters, so that a key found in a log can be recognised and revoked.
A key is sent as ``Authorization: Bearer cpk_…``; its expiry, its revocation and its
account's state are checked on every request, and it reaches only the routes of its
scopes (:func:`scope_of`).
"""

from __future__ import annotations

import hashlib
import secrets

__all__ = [
    "KEY_PREFIX",
    "SCOPES",
    "TOUCH_EVERY_MS",
    "display_prefix",
    "hash_key",
    "new_key",
    "scope_of",
]

KEY_PREFIX = "cpk_"
#: tickets: read and write tickets; invitations: invite a client to a ticket;
#: sessions:read: read sessions; webhooks: manage webhook subscriptions.
SCOPES = ("tickets", "invitations", "sessions:read", "webhooks")
#: The last use is written at most this often per key (not one write per request).
TOUCH_EVERY_MS = 60_000


def new_key() -> str:
    """A fresh API key."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """What the store keeps instead of the key."""
    return hashlib.sha256(b"clearpane-api-key\0" + key.encode()).hexdigest()


def display_prefix(key: str) -> str:
    """The recognisable start of a key (``cpk_`` and 8 characters)."""
    return key[: len(KEY_PREFIX) + 8]


def scope_of(method: str, route_path: str) -> str | None:
    """The scope an API key needs for the route ``route_path`` (its template, e.g.
    ``/api/v1/tickets/{ticket_id}``); None: no key may call it."""
    path = route_path.removeprefix("/api/v1")
    if path.endswith("/invitations") and path.startswith("/tickets/"):
        return "invitations"
    if path == "/tickets" or path.startswith("/tickets/"):
        return "tickets"
    if method == "GET" and (path == "/sessions" or path.startswith("/sessions/")):
        return "sessions:read"
    if path == "/webhooks" or path.startswith(("/webhooks/", "/webhook-schemas")):
        return "webhooks"
    return None
