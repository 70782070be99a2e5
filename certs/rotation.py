"""Staged CA rotation without reinstalling agents.

Agents pin a *bundle* of roots (the enrollment file's ``ca_pem``) and refresh it from
``GET /api/v1/trust-bundle`` each time they connect, over TLS that the bundle they
already hold authenticates. A root is added to an agent's bundle only with an
*endorsement*: a cross-certificate of the new root signed by a root the agent already
trusts (:func:`certs.verify.verify_root_endorsement`) — so neither a stolen broker TLS
key nor a man in the middle can plant a root. The three stages:

1. ``begin`` — needs the old root key (it signs the endorsements). Creates the new root
   R2 and its issuing CA I2, a cross-certificate of R2 by R1, and a copy of I2 signed by
   R1 ("I2x": same name and key as I2). ``bundle.pem`` = R1 + R2: agents that connect
   now learn R2. Nothing the broker serves changes yet.
2. ``reissue`` — the broker's leaves (TLS server, audit recipient, checkpoint signer)
   are reissued by I2's key and presented with I2x, so they chain to R1 (agents that
   have not refreshed yet) *and*, after stage 3, to R2. A running broker picks up the
   new TLS certificate without dropping connections. The audit and checkpoint keys are
   kept by default (``new_keys=True`` replaces them; the old ones go to ``retired/``
   and :mod:`certs.keyring` still finds them). Client certificates issued by I1 should be
   reissued now: they stop working at stage 3.
3. ``finish`` — R2 becomes ``root.pem`` and the chains switch from I2x to I2 (the same
   leaves, no new keys), R1 and I1 move to ``retired/STAMP/``. Agents that refreshed
   during stages 1–2 keep working; the bundle they fetch now drops R1.

Give agents time between ``begin`` and ``finish`` (at least as long as the longest gap
between two connections of an agent you want to keep).
"""

from __future__ import annotations

import ipaddress
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
from cryptography.x509.oid import NameOID

from certs import index, rotation_state
from certs.bootstrap import ORGANIZATION
from certs.ca import CertificateAuthority
from certs.errors import CaStateError, KeyFileError
from certs.keys import (
    load_certificate,
    load_certificates,
    load_private_key,
    load_signing_key,
    write_certificates,
    write_private_key,
    write_private_key_unencrypted,
)
from certs.store import CaStore

__all__ = [
    "RotationStatus",
    "begin",
    "current_stage",
    "endorsements",
    "finish",
    "reissue",
    "status",
]

TRUSTING = rotation_state.TRUSTING
REISSUED = rotation_state.REISSUED


@dataclass(frozen=True, slots=True)
class RotationStatus:
    """Where a rotation stands; ``old_issuer_leaves`` are unexpired, unrevoked leaves
    still issued by the old issuing CA (they stop verifying at ``finish``)."""

    stage: str | None
    started_at: str | None
    new_root: str | None
    old_issuer_leaves: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict."""
        return {
            "stage": self.stage,
            "started_at": self.started_at,
            "new_root": self.new_root,
            "old_issuer_leaves": list(self.old_issuer_leaves),
        }


def _dir(store: CaStore) -> Path:
    return store.layout.rotation_dir


def _state(store: CaStore) -> dict[str, str] | None:
    return rotation_state.read_state(store.layout)


def _save_state(store: CaStore, state: dict[str, str]) -> None:
    rotation_state.write_state(store.layout, state)


def current_stage(store: CaStore) -> str | None:
    """``trusting``, ``reissued`` or None (no rotation in progress)."""
    return rotation_state.current_stage(store.layout)


def endorsements(store: CaStore) -> list[tuple[x509.Certificate, x509.Certificate]]:
    """``(new_root, cross_certificate)`` while a rotation is in progress."""
    return rotation_state.endorsements(store.layout)


def _organization(cert: x509.Certificate) -> str:
    orgs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(orgs[0].value) if orgs else ORGANIZATION


def begin(store: CaStore, *, root_key_path: Path | None = None) -> RotationStatus:
    """Stage 1: create R2, I2 and the endorsements; trust R1 + R2 (see module doc)."""
    store._require_initialised()
    if current_stage(store) is not None:
        raise CaStateError(f"a rotation is already in progress (stage {current_stage(store)})")
    key_path = root_key_path or store.layout.root_key
    if not key_path.exists():
        raise CaStateError(
            f"the root key is not at {key_path}: bring it back online (--root-key FILE)"
        )
    pw = store.passphrase()
    old_root_cert = store.root()
    old_key = load_signing_key(key_path, pw)
    if old_key.public_key() != old_root_cert.public_key():
        raise KeyFileError(key_path, "this key does not belong to root.pem")
    old_root = CertificateAuthority(cert=old_root_cert, key=old_key, clock=store.clock)
    org = _organization(old_root_cert)
    now = store.clock()
    tag = f"{now:%Y%m%d} {secrets.token_hex(2)}"
    new_root = CertificateAuthority.create_root(
        f"{org} Root CA {tag}", organization=org, clock=store.clock
    )
    new_issuing = new_root.create_intermediate(f"{org} Issuing CA {tag}")
    cross_root = old_root.cross_certify(new_root.cert)
    cross_issuing = old_root.cross_certify(new_issuing.cert)
    with store.locked():
        if current_stage(store) is not None:
            raise CaStateError("a rotation is already in progress")
        store.emit(
            "ca.rotation_started",
            {
                "old_root": index.serial_hex(old_root_cert.serial_number),
                "new_root": index.serial_hex(new_root.cert.serial_number),
                "new_issuing": index.serial_hex(new_issuing.cert.serial_number),
            },
        )
        d = _dir(store)
        d.mkdir(mode=0o700, exist_ok=True)
        write_private_key(d / "new-root.key", new_root.key, pw)
        write_private_key(d / "new-issuing.key", new_issuing.key, pw)
        write_certificates(d / "new-root.pem", [new_root.cert])
        write_certificates(d / "new-issuing.pem", [new_issuing.cert])
        write_certificates(d / "cross-root.pem", [cross_root])
        write_certificates(d / "cross-issuing.pem", [cross_issuing])
        write_certificates(store.layout.bundle, [old_root_cert, new_root.cert])
        _save_state(store, {"stage": TRUSTING, "started_at": now.isoformat()})
    return status(store)


def reissue(store: CaStore, *, new_keys: bool = False) -> RotationStatus:
    """Stage 2: reissue the broker's leaves under I2 (presented with I2x)."""
    if current_stage(store) != TRUSTING:
        raise CaStateError("reissue needs a rotation at stage 'trusting' (run 'rotate begin')")
    pw = store.passphrase()
    old_issuing = store.issuing()  # checks the passphrase
    d, layout = _dir(store), store.layout
    i2_key = load_signing_key(d / "new-issuing.key", pw)
    i2x = load_certificate(d / "cross-issuing.pem")
    ca = CertificateAuthority(cert=i2x, key=i2_key, parents=(store.root(),), clock=store.clock)
    names = index.names_of(load_certificates(layout.server_cert)[0])
    ips = [n for n in names if _is_ip(n)]
    server = ca.issue_server([n for n in names if not _is_ip(n)], ips)
    # The audit key may live with the reviewers (certs.offline): then the new
    # certificate is for the same public key, whatever new_keys says.
    external = not layout.audit_key.exists() and layout.audit_cert.exists()
    signer_key = None if new_keys else load_private_key(layout.checkpoint_key, pw)
    assert signer_key is None or isinstance(signer_key, ed25519.Ed25519PrivateKey)
    if external:
        public = load_certificate(layout.audit_cert).public_key()
        assert isinstance(public, x25519.X25519PublicKey)
        audit_cert, audit_chain = ca.issue_audit_recipient_for(public)
        new_audit_key: x25519.X25519PrivateKey | None = None
    else:
        audit_key = None if new_keys else load_private_key(layout.audit_key, pw)
        assert audit_key is None or isinstance(audit_key, x25519.X25519PrivateKey)
        audit = ca.issue_audit_recipient(key=audit_key)
        audit_cert, audit_chain = audit.cert, audit.chain
        assert isinstance(audit.key, x25519.X25519PrivateKey)
        new_audit_key = audit.key
    signer = ca.issue_checkpoint_signer(key=signer_key)
    with store.locked():
        store.emit(
            "ca.leaves_reissued",
            {
                "server": index.serial_hex(server.cert.serial_number),
                "audit_recipient": index.serial_hex(audit_cert.serial_number),
                "checkpoint_signer": index.serial_hex(signer.cert.serial_number),
                "new_keys": new_keys,
            },
        )
        if new_keys:
            store.copy_to(
                layout.retired_dir / f"keys-{store.clock():%Y%m%dT%H%M%S}",
                ["audit.pem", "audit.key", "checkpoint.pem", "checkpoint.key"],
            )
            if new_audit_key is not None:
                write_private_key(layout.audit_key, new_audit_key, pw)
            write_private_key(layout.checkpoint_key, signer.key, pw)
        shutil.copy2(layout.issuing_cert, d / "old-issuing.pem")
        shutil.copy2(layout.issuing_key, d / "old-issuing.key")
        write_private_key(layout.issuing_key, i2_key, pw)
        write_certificates(layout.issuing_cert, [i2x])
        for cert in (server.cert, audit_cert, signer.cert):
            index.record_issued(layout, cert)
        write_certificates(layout.audit_cert, (audit_cert, *audit_chain))
        write_certificates(layout.checkpoint_cert, signer.fullchain)
        write_private_key_unencrypted(layout.server_key, server.key)
        write_certificates(layout.server_cert, server.fullchain)
        _save_state(store, {**(_state(store) or {}), "stage": REISSUED})
        store._write_crls([ca, old_issuing])
    return status(store)


def finish(store: CaStore) -> RotationStatus:
    """Stage 3: R2 becomes the root, chains switch to I2, R1 and I1 are retired."""
    if current_stage(store) != REISSUED:
        raise CaStateError("finish needs a rotation at stage 'reissued' (run 'rotate reissue')")
    pw = store.passphrase()
    d, layout = _dir(store), store.layout
    new_root = load_certificate(d / "new-root.pem")
    new_issuing = load_certificate(d / "new-issuing.pem")
    i2_key = load_signing_key(d / "new-issuing.key", pw)
    new_ca = CertificateAuthority(
        cert=new_issuing, key=i2_key, parents=(new_root,), clock=store.clock
    )
    old_root = store.root()
    with store.locked():
        store.emit(
            "ca.rotated",
            {
                "retired_root": index.serial_hex(old_root.serial_number),
                "root": index.serial_hex(new_root.serial_number),
            },
        )
        retired = layout.retired_dir / f"root-{store.clock():%Y%m%dT%H%M%S}"
        store.copy_to(retired, ["root.pem", "root.key", "crl.pem"])
        for name in ("old-issuing.pem", "old-issuing.key", "cross-root.pem", "cross-issuing.pem"):
            shutil.copy2(d / name, retired / name)
        # Same leaves, new chain: leaf + I2 (which R2 signed).
        for path in (layout.server_cert, layout.audit_cert, layout.checkpoint_cert):
            leaf = load_certificates(path)[0]
            write_certificates(path, [leaf, new_issuing])
        write_certificates(layout.issuing_cert, [new_issuing])
        shutil.copy2(d / "new-root.key", layout.root_key)
        write_certificates(layout.root_cert, [new_root])
        layout.bundle.unlink(missing_ok=True)
        store._write_crls([new_ca])
        shutil.rmtree(d)
    return status(store)


def status(store: CaStore) -> RotationStatus:
    """The rotation's stage and what still depends on the old issuing CA."""
    state = _state(store)
    if state is None:
        return RotationStatus(None, None, None, ())
    new_root = load_certificate(_dir(store) / "new-root.pem")
    new_issuing = load_certificate(_dir(store) / "new-issuing.pem")
    now = store.clock()
    revoked = index.load_revoked(store.layout)
    pending = tuple(
        index.serial_hex(c.serial_number)
        for c in index.load_issued(store.layout)
        if c.issuer != new_issuing.subject
        and c.not_valid_after_utc > now
        and c.serial_number not in revoked
        and index.profile_of(c) != "ca"
    )
    return RotationStatus(
        state["stage"], state.get("started_at"), new_root.subject.rfc4514_string(), pending
    )


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
