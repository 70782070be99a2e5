"""The agent's CA pin, refreshed from the broker so a CA rotation needs no reinstall.

The enrollment file pins a *bundle* of roots (``ca_pem``). Each time the agent
connects it may call :func:`refresh_trust`: ``GET /api/v1/trust-bundle`` over TLS that
the current pin authenticates, then :func:`accept_bundle` decides:

* a root already pinned stays if the broker still lists it;
* a NEW root is accepted only with an endorsement — a cross-certificate signed by a
  root already pinned (``certs.verify.verify_root_endorsement``, PolicyBuilder); a
  broker (or anyone holding its TLS key) cannot plant a root of its own;
* a root the broker no longer lists (retired) is dropped, but the pin never becomes
  empty: if nothing acceptable remains, the old pin is kept.

New roots are added to the live ``SSLContext`` (``load_verify_locations``), so the
reconnect that follows the broker's switch to the new chain succeeds, and the new pin
is written back to the enrollment file (atomically) for the next start.

Hook for agent-session (agent/session.py ``_run``, after ``make_ssl_context``)::

    cfg_pem = await trust.refresh_trust(cfg.broker_url, ssl_ctx, cfg.ca_pem, store=path)
"""

from __future__ import annotations

import json
import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from certs.errors import CertVerificationError
from certs.verify import verify_root_endorsement

__all__ = ["TrustUpdate", "accept_bundle", "fetch_trust_bundle", "refresh_trust"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TrustUpdate:
    """The outcome of :func:`accept_bundle`: the new pin and what changed."""

    ca_pem: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    rejected: tuple[str, ...]

    @property
    def changed(self) -> bool:
        """Whether the pin differs from before."""
        return bool(self.added or self.removed)


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _load(pem_text: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem_text.encode("ascii"))


def accept_bundle(current_pem: str, bundle: dict[str, Any]) -> TrustUpdate:
    """Apply the rules of the module docstring to a fetched trust bundle."""
    current = _load(current_pem)
    offered = [_load(p)[0] for p in bundle.get("roots", []) if isinstance(p, str)]
    endorsements = {}
    for item in bundle.get("endorsements", []):
        if isinstance(item, dict) and isinstance(item.get("root"), str):
            root = _load(item["root"])[0]
            endorsements[root.fingerprint(hashes.SHA256())] = (
                root,
                _load(str(item.get("cross")))[0],
            )
    pinned = {c.fingerprint(hashes.SHA256()): c for c in current}
    keep: list[x509.Certificate] = []
    added: list[str] = []
    rejected: list[str] = []
    for root in offered:
        fp = root.fingerprint(hashes.SHA256())
        if fp in pinned:
            keep.append(root)
            continue
        if fp not in endorsements:
            rejected.append(root.subject.rfc4514_string())
            continue
        try:
            verify_root_endorsement(root, endorsements[fp][1], current)
        except CertVerificationError:
            rejected.append(root.subject.rfc4514_string())
            continue
        keep.append(root)
        added.append(root.subject.rfc4514_string())
    if not keep:
        return TrustUpdate(current_pem, (), (), tuple(rejected))
    kept = {c.fingerprint(hashes.SHA256()) for c in keep}
    removed = tuple(
        c.subject.rfc4514_string() for c in current if c.fingerprint(hashes.SHA256()) not in kept
    )
    return TrustUpdate("".join(_pem(c) for c in keep), tuple(added), removed, tuple(rejected))


async def fetch_trust_bundle(
    base_url: str, ssl_ctx: ssl.SSLContext, timeout_s: float = 10.0
) -> dict[str, Any]:
    """``GET /api/v1/trust-bundle`` over the pinned TLS context."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.get(base_url.rstrip("/") + "/api/v1/trust-bundle", ssl=ssl_ctx) as resp,
    ):
        resp.raise_for_status()
        data = await resp.json()
    if not isinstance(data, dict):
        raise ValueError("the trust bundle is not a JSON object")
    return data


def _store_pin(path: Path, ca_pem: str) -> None:
    """Rewrite ``ca_pem`` in the enrollment file at ``path`` (atomically)."""
    data = json.loads(path.read_text("utf-8"))
    data["ca_pem"] = ca_pem
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", "utf-8")
    os.replace(tmp, path)


async def refresh_trust(
    base_url: str, ssl_ctx: ssl.SSLContext, ca_pem: str, *, store: Path | None = None
) -> TrustUpdate:
    """Fetch, check and apply the broker's trust bundle (see the module docstring).

    Network or format problems leave everything as it was (the pin still works).
    """
    try:
        bundle = await fetch_trust_bundle(base_url, ssl_ctx)
        update = accept_bundle(ca_pem, bundle)
    except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
        log.warning("could not refresh the CA pin: %s", exc)
        return TrustUpdate(ca_pem, (), (), ())
    if update.added:
        ssl_ctx.load_verify_locations(cadata=update.ca_pem)
        log.info("trusting new organisation root(s): %s", ", ".join(update.added))
    if update.rejected:
        log.warning("refused unendorsed root(s): %s", ", ".join(update.rejected))
    if update.changed and store is not None:
        try:
            _store_pin(store, update.ca_pem)
        except (OSError, ValueError) as exc:
            log.warning("could not save the new CA pin to %s: %s", store, exc)
    return update
