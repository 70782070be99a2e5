"""Where a root rotation stands, read from the CA directory alone.

:mod:`certs.store` needs this (the trust bundle names endorsements while a rotation is
in progress) and :mod:`certs.rotation` writes it; keeping it here, on the layout only,
lets the store not import the rotation workflow that is built on the store.
"""

from __future__ import annotations

import json

from cryptography import x509

from certs.errors import KeyFileError
from certs.keys import load_certificate, write_atomic
from certs.layout import CaLayout

__all__ = ["REISSUED", "TRUSTING", "current_stage", "endorsements", "read_state", "write_state"]

TRUSTING = "trusting"
REISSUED = "reissued"


def read_state(layout: CaLayout) -> dict[str, str] | None:
    """The rotation's ``state.json``, or None when no rotation is in progress."""
    path = layout.rotation_dir / "state.json"
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise KeyFileError(path, f"unreadable rotation state: {exc}") from None
    if not isinstance(data, dict):
        raise KeyFileError(path, "unreadable rotation state")
    return {str(k): str(v) for k, v in data.items()}


def write_state(layout: CaLayout, state: dict[str, str]) -> None:
    """Replace the rotation's ``state.json`` atomically."""
    write_atomic(layout.rotation_dir / "state.json", json.dumps(state).encode(), 0o600)


def current_stage(layout: CaLayout) -> str | None:
    """``trusting``, ``reissued`` or None (no rotation in progress)."""
    state = read_state(layout)
    return state["stage"] if state else None


def endorsements(layout: CaLayout) -> list[tuple[x509.Certificate, x509.Certificate]]:
    """``(new_root, cross_certificate)`` while a rotation is in progress."""
    if current_stage(layout) is None:
        return []
    d = layout.rotation_dir
    return [(load_certificate(d / "new-root.pem"), load_certificate(d / "cross-root.pem"))]
