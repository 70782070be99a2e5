"""What every connector needs from Clearpane: a client of the public HTTP API (an API
key as bearer token, tickets upserted by the help desk's reference, ``Idempotency-Key``
on the POSTs it may retry) and the check of a webhook's signature.

The signature scheme is the one docs/webhooks.md documents: ``X-Clearpane-Signature:
v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`` over the raw body, the timestamp
within five minutes. It is written out here (not imported from the broker) because a
connector runs apart from it.
"""

from __future__ import annotations

import hashlib
import hmac
import ssl
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp

__all__ = ["ClearpaneClient", "ClearpaneError", "SignatureError", "verify_signature"]

API = "/api/v1"
SIGNATURE_TOLERANCE_S = 300.0


class ClearpaneError(Exception):
    """Clearpane answered with an error (``status``, its ``code`` and message)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"Clearpane answered {status} {code}: {message}")
        self.status, self.code = status, code


class SignatureError(Exception):
    """A webhook request that is not authentic or not fresh."""


def verify_signature(
    secret: str, timestamp: str, body: bytes, header: str, *, now: float,
    tolerance_s: float = SIGNATURE_TOLERANCE_S,
) -> None:  # fmt: skip
    """Raise :class:`SignatureError` unless ``header`` signs ``timestamp`` and ``body``
    under ``secret`` and the timestamp is within ``tolerance_s`` of ``now``."""
    text = timestamp.strip()
    if not text.isdigit() or len(text) > 12:
        raise SignatureError("the timestamp is not Unix seconds")
    if abs(now - int(text)) > tolerance_s:
        raise SignatureError("the timestamp is too old or in the future")
    expected = hmac.new(secret.encode(), text.encode() + b"." + body, hashlib.sha256).hexdigest()
    matched = False
    for part in header.split(","):
        scheme, _, value = part.strip().partition("=")
        if scheme == "v1":
            matched |= hmac.compare_digest(value.strip().encode(), expected.encode())
    if not matched:
        raise SignatureError("the signature does not match the body")


class ClearpaneClient:
    """Clearpane's public API, as an integration account."""

    def __init__(self, base_url: str, api_key: str, *, ca_file: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        context = ssl.create_default_context(cafile=ca_file)
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=aiohttp.ClientTimeout(total=30),
        )

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._http.close()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        missing_ok: bool = False,
    ) -> Any:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        async with self._http.request(
            method, self.base_url + API + path, json=json, params=params, headers=headers
        ) as response:
            body = await response.json(content_type=None) if response.content_length != 0 else None
            if response.status == 404 and missing_ok:
                return None
            if response.status >= 400:
                error = body.get("error", {}) if isinstance(body, dict) else {}
                raise ClearpaneError(
                    response.status, str(error.get("code", "")), str(error.get("message", ""))
                )
            return body

    async def upsert_ticket(self, source: str, external_ref: str, fields: Mapping[str, Any]) -> Any:
        """``PUT /tickets/by-ref/{source}/{ref}``: the one ticket of this reference,
        created or updated (idempotent by definition: safe to retry)."""
        path = f"/tickets/by-ref/{quote(source, safe='')}/{quote(external_ref, safe='')}"
        return await self._call("PUT", path, json=dict(fields))

    async def link_ticket(self, source: str, external_ref: str, *, clearpane_ticket_id: str) -> Any:
        """Give an existing Clearpane ticket (a client's own request) the help desk's
        reference: ``PUT /tickets/by-ref/{source}/{ref}`` ``{ticket_id}`` (repeatable)."""
        path = f"/tickets/by-ref/{quote(source, safe='')}/{quote(external_ref, safe='')}"
        return await self._call("PUT", path, json={"ticket_id": clearpane_ticket_id})

    async def invite(self, ticket_id: str, *, ttl_s: int, idempotency_key: str) -> Any:
        """``POST /tickets/{id}/invitations``: ``{code, expires_at, …}``."""
        return await self._call(
            "POST",
            f"/tickets/{ticket_id}/invitations",
            json={"ttl_s": ttl_s},
            idempotency_key=idempotency_key,
        )

    async def session(self, session_id: str) -> Any:
        """``GET /sessions/{id}``."""
        return await self._call("GET", f"/sessions/{session_id}")

    async def summary(self, session_id: str) -> Any:
        """The signed session summary, or None where the broker has none (yet)."""
        return await self._call("GET", f"/sessions/{session_id}/summary", missing_ok=True)

    async def register_webhook(self, url: str, events: list[str], description: str) -> str:
        """Register ``url`` for ``events``; return its signing secret (shown once)."""
        made = await self._call(
            "POST", "/webhooks", json={"url": url, "events": events, "description": description}
        )
        return str(made["secret"])
