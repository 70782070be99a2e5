"""The end of a session: verify the client's log against the broker's checkpoint.

DESIGN §4 step 5 and G10: the broker seals the log with a signed checkpoint; the
agent checks it against its own copy and keeps both. The checkpoint key is
trusted only from a certificate the organisation CA issued (from the enrollment
file, or attached to the checkpoint) — an unverifiable signer proves nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent.locallog import LocalLog
from agent.observer import LogVerification

log = logging.getLogger(__name__)


def checkpoint_signer(
    configured_pem: str, checkpoint: Mapping[str, Any] | None, ca_pem: str
) -> Ed25519PublicKey | None:
    """The broker's checkpoint key, or None when no certificate chains to ``ca_pem``."""
    pem = configured_pem
    if not pem and checkpoint is not None:
        attached = checkpoint.get("certificate")
        pem = attached if isinstance(attached, str) else ""
    if not pem:
        return None
    try:
        from certs.verify import verify_checkpoint_signer

        certs = x509.load_pem_x509_certificates(pem.encode())
        roots = x509.load_pem_x509_certificates(ca_pem.encode())
        return verify_checkpoint_signer(certs[0], certs[1:] + roots, roots).public_key
    except Exception as exc:  # an unverifiable signer proves nothing
        log.warning("checkpoint signer certificate rejected: %s", exc)
        return None


def verify_local_log(
    local_log: LocalLog,
    checkpoint: dict[str, Any] | None,
    signer: Callable[[], Ed25519PublicKey | None],
    clock_ms: Callable[[], int],
) -> LogVerification:
    """Record the end, verify, record the result (not shown) and close the log."""
    local_log.record_local("session.ended", {}, clock_ms(), show=False)
    result = local_log.verify(checkpoint, signer())
    local_log.record_local(
        "log.verified",
        {"ok": result.ok, "summary": result.summary[:64]},
        clock_ms(),
        show=False,  # the end screen shows the result
    )
    local_log.close()
    return result
