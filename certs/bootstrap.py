"""The broker's PKI on first start: :func:`ensure_broker_pki`.

Idempotent. On the first start it creates, under ``DATA_DIR/ca`` (see
:mod:`certs.layout`): an ECDSA P-256 root (10 years), an ECDSA P-256 issuing
intermediate (3 years), the broker's TLS server certificate (90 days), the audit-recipient
certificate (X25519, 1 year) and the checkpoint-signer certificate (Ed25519, 1 year).
Later starts load them and renew only what needs it:

* the server certificate when the requested names differ from its SANs, when it is
  within 30 days of expiry, or when it no longer chains to the current intermediate;
* the audit-recipient and checkpoint-signer certificates within 30 days of expiry
  (keeping their keys: old recordings stay decryptable, old checkpoints verifiable);
* the intermediate within 180 days of expiry (the root, which agents pin, stays).

Passphrase: production passes it (the broker reads ``CLEARPANE_CA_PASSPHRASE``, see
:func:`passphrase_from_env`). With ``None`` a random one is generated once and kept in
``DATA_DIR/ca/passphrase`` (mode 0600) — convenient for a demo, but then the encrypted
keys and their passphrase sit side by side, so it protects only against copies of the
key files alone.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import ipaddress
import os
import secrets
import ssl
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

from certs import tls
from certs.ca import CertificateAuthority, Clock, IssuedCert, utc_now
from certs.errors import CertError, CertVerificationError, IssuanceError, KeyFileError
from certs.index import record_issued
from certs.keys import (
    PrivateKey,
    load_certificate,
    load_certificates,
    load_private_key,
    load_signing_key,
    write_certificates,
    write_private_key,
    write_private_key_unencrypted,
)
from certs.layout import CaLayout
from certs.offline import renew_external_audit
from certs.verify import verify_checkpoint_signer, verify_server_chain

__all__ = [
    "ORGANIZATION",
    "PASSPHRASE_ENV",
    "BrokerPki",
    "ca_lock",
    "ensure_broker_pki",
    "load_issuing_ca",
    "passphrase_from_env",
    "resolve_passphrase",
    "signing_key_id",
]

PASSPHRASE_ENV = "CLEARPANE_CA_PASSPHRASE"
ORGANIZATION = "Clearpane"
LEAF_RENEW_BEFORE = dt.timedelta(days=30)
INTERMEDIATE_RENEW_BEFORE = dt.timedelta(days=180)


def passphrase_from_env(environ: Mapping[str, str]) -> bytes | None:
    """The CA passphrase from ``CLEARPANE_CA_PASSPHRASE`` (None if unset or empty)."""
    value = environ.get(PASSPHRASE_ENV, "")
    return value.encode("utf-8") if value else None


def signing_key_id(public_key: ed25519.Ed25519PublicKey) -> str:
    """Key id of a checkpoint key: ``ed25519:`` + 16 hex of SHA-256(raw public key).

    Must equal ``audit.checkpoint.key_id`` (a test checks they agree).
    """
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class BrokerPki:
    """Paths and keys the broker needs. ``server_cert_path`` is the full chain."""

    ca_dir: Path
    ca_cert_path: Path
    intermediate_cert_path: Path
    server_cert_path: Path
    server_key_path: Path
    audit_cert_path: Path
    audit_key_path: Path
    signing_cert_path: Path
    signing_key: ed25519.Ed25519PrivateKey
    signing_key_id: str

    def server_ssl_context(self) -> ssl.SSLContext:
        """TLS ≥ 1.2 server context presenting the broker's leaf and intermediate."""
        return tls.server_context(self.server_cert_path, self.server_key_path)

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context trusting only this CA's root (tests, the CLI)."""
        return tls.client_context(self.ca_cert_path)

    def ca_pem(self) -> str:
        """The roots agents must trust as PEM text (the enrollment file's ``ca_pem``):
        the trust bundle during a staged rotation (``bundle.pem``), else the root."""
        bundle = self.ca_dir / "bundle.pem"
        if bundle.exists():
            return bundle.read_text("ascii")
        return self.ca_cert_path.read_text("ascii")

    def signing_cert_pem(self) -> str:
        """The checkpoint-signer certificate + intermediate as PEM: attach it to a
        ``checkpoint`` so the agent can verify the key against the pinned root."""
        return self.signing_cert_path.read_text("ascii")

    def audit_recipient_pem(self) -> str:
        """The audit-recipient certificate + intermediate as PEM (SPEC §3.4
        ``audit.recipient``): the agent verifies it against the pinned root."""
        return self.audit_cert_path.read_text("ascii")


@contextmanager
def ca_lock(layout: CaLayout) -> Iterator[None]:
    """Hold the CA directory's exclusive lock (``flock``) for the duration of the block."""
    layout.ca_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(layout.ca_dir, 0o700)
    fd = os.open(layout.lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def resolve_passphrase(layout: CaLayout, passphrase: bytes | None) -> bytes:
    """The CA passphrase: ``passphrase`` if given, else the stored passphrase file."""
    if passphrase is not None:
        if not passphrase:
            raise KeyFileError(layout.ca_dir, "the CA passphrase must not be empty")
        return passphrase
    if layout.passphrase.exists():
        st = layout.passphrase.stat()
        if st.st_mode & 0o077:
            raise KeyFileError(layout.passphrase, "mode is too open (want 600)")
        stored = layout.passphrase.read_bytes().strip()
        if not stored:
            raise KeyFileError(layout.passphrase, "empty passphrase file")
        return stored
    if layout.root_key.exists():
        raise KeyFileError(
            layout.root_key, f"CA exists but no passphrase was given (set {PASSPHRASE_ENV})"
        )
    generated = secrets.token_urlsafe(32).encode("ascii")
    fd = os.open(layout.passphrase, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, generated + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    return generated


def load_issuing_ca(
    data_dir: Path, passphrase: bytes | None, *, clock: Clock = utc_now
) -> CertificateAuthority:
    """Load the issuing intermediate (with its key) from ``data_dir/ca``.

    ``passphrase`` None reads ``data_dir/ca/passphrase``. The admin workflow issues
    client certificates through this.
    """
    layout = CaLayout.in_data_dir(data_dir)
    pw = resolve_passphrase(layout, passphrase) if passphrase is None else passphrase
    root = load_certificate(layout.root_cert)
    cert = load_certificate(layout.issuing_cert)
    key = load_signing_key(layout.issuing_key, pw)
    return CertificateAuthority(cert=cert, key=key, parents=(root,), clock=clock)


def _publish_crl(layout: CaLayout, issuing: CertificateAuthority) -> None:
    """A CRL for a fresh intermediate (mutual TLS refuses clients without one)."""
    from certs.crl import build_crl, load_crls, write_crls
    from certs.index import load_revoked

    previous = {c.issuer: c for c in load_crls(layout.crl)}
    revoked = load_revoked(layout)
    crl = build_crl(issuing, revoked.values(), previous=previous.get(issuing.cert.subject))
    write_crls(layout.crl, [crl])


def _expiring(cert: x509.Certificate, now: dt.datetime, margin: dt.timedelta) -> bool:
    return cert.not_valid_after_utc - now < margin


def _save_ca(ca: CertificateAuthority, cert_path: Path, key_path: Path, pw: bytes) -> None:
    write_private_key(key_path, ca.key, pw)  # key first: a cert without key is useless
    write_certificates(cert_path, [ca.cert])


def _load_or_create_cas(
    layout: CaLayout, pw: bytes, clock: Clock
) -> tuple[x509.Certificate, CertificateAuthority, bool]:
    """Root certificate and issuing CA; the bool says the intermediate is new (reissue
    leaves). The root *key* is read only when a CA must be created: after ``certs
    init`` an admin may keep it offline."""
    now = clock()
    if not layout.root_cert.exists():
        if layout.issuing_cert.exists() or layout.root_key.exists():
            raise KeyFileError(layout.root_cert, "missing while other CA files exist")
        root = CertificateAuthority.create_root(
            f"{ORGANIZATION} Root CA", organization=ORGANIZATION, clock=clock
        )
        _save_ca(root, layout.root_cert, layout.root_key, pw)
        root_cert = root.cert
    else:
        root_cert = load_certificate(layout.root_cert)
        if root_cert.not_valid_after_utc <= now:
            raise KeyFileError(layout.root_cert, "the root CA has expired: rotate the CA")
    if layout.issuing_cert.exists():
        issuing = CertificateAuthority(
            cert=load_certificate(layout.issuing_cert),
            key=load_signing_key(layout.issuing_key, pw),
            parents=(root_cert,),
            clock=clock,
        )
        chained = issuing.cert.issuer == root_cert.subject
        if chained and not _expiring(issuing.cert, now, INTERMEDIATE_RENEW_BEFORE):
            return root_cert, issuing, False
    if not layout.root_key.exists():
        raise KeyFileError(
            layout.root_key, "the issuing CA must be renewed: bring the root key back online"
        )
    root = CertificateAuthority(
        cert=root_cert, key=load_signing_key(layout.root_key, pw), clock=clock
    )
    issuing = root.create_intermediate(f"{ORGANIZATION} Issuing CA {now:%Y%m%d}")
    _save_ca(issuing, layout.issuing_cert, layout.issuing_key, pw)
    return root_cert, issuing, True


def _normalise_names(
    hostnames: Sequence[str], ip_addresses: Sequence[str]
) -> tuple[list[str], list[str]]:
    dns = sorted({h.rstrip(".").lower() for h in hostnames if h})
    try:
        ips = sorted({str(ipaddress.ip_address(ip)) for ip in ip_addresses if ip})
    except ValueError as exc:
        raise IssuanceError(str(exc)) from None
    if not dns and not ips:
        raise IssuanceError("the broker needs at least one hostname or IP address")
    return dns, ips


def _server_cert_ok(
    layout: CaLayout,
    root: x509.Certificate,
    issuing: CertificateAuthority,
    dns: list[str],
    ips: list[str],
    now: dt.datetime,
) -> bool:
    if not (layout.server_cert.exists() and layout.server_key.exists()):
        return False
    try:
        chain = load_certificates(layout.server_cert)
        load_private_key(layout.server_key, None)
    except CertError:
        return False
    leaf = chain[0]
    if _expiring(leaf, now, LEAF_RENEW_BEFORE):
        return False
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have_dns = sorted(san.get_values_for_type(x509.DNSName))
    have_ips = sorted(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    if (have_dns, have_ips) != (dns, ips):
        return False
    try:  # chains to the *current* intermediate and root, for the first name
        verify_server_chain(leaf, [issuing.cert], [root], (dns or ips)[0], at=now)
    except CertVerificationError:
        return False
    return True


def _ensure_leaf_cert(
    cert_path: Path,
    key_path: Path,
    pw: bytes,
    now: dt.datetime,
    issuing: CertificateAuthority,
    reissue: bool,
    issue: Callable[[PrivateKey | None], IssuedCert],
) -> PrivateKey:
    """Load or create a long-lived leaf key, renewing its certificate when needed."""
    key = load_private_key(key_path, pw) if key_path.exists() else None
    renew = reissue or key is None or not cert_path.exists()
    if key is not None and not renew:
        cert = load_certificate(cert_path)
        renew = (
            _expiring(cert, now, LEAF_RENEW_BEFORE)
            or cert.issuer != issuing.cert.subject
            or cert.public_key() != key.public_key()
        )
    if renew:
        issued = issue(key)
        if key is None:
            write_private_key(key_path, issued.key, pw)
        write_certificates(cert_path, issued.fullchain)
        record_issued(CaLayout(cert_path.parent), issued.cert)
        key = issued.key
    assert key is not None
    return key


def ensure_broker_pki(
    data_dir: Path,
    hostnames: Sequence[str],
    ip_addresses: Sequence[str],
    passphrase: bytes | None,
    *,
    clock: Clock = utc_now,
) -> BrokerPki:
    """Create (first start) or load (later starts) the broker's PKI under ``data_dir/ca``.

    ``hostnames`` and ``ip_addresses`` are the names clients use to reach the broker;
    they become the server certificate's SANs. See the module docstring for what is
    renewed and how the passphrase is handled. Raises :class:`~certs.errors.CertError`
    subclasses (wrong passphrase: :class:`~certs.errors.PassphraseError`).
    """
    layout = CaLayout.in_data_dir(Path(data_dir))
    dns, ips = _normalise_names(hostnames, ip_addresses)  # validate before we mutate
    with ca_lock(layout):
        pw = resolve_passphrase(layout, passphrase)
        now = clock()
        root, issuing, new_issuing = _load_or_create_cas(layout, pw, clock)

        if new_issuing or not _server_cert_ok(layout, root, issuing, dns, ips, now):
            server = issuing.issue_server(dns, ips)
            write_private_key_unencrypted(layout.server_key, server.key)
            write_certificates(layout.server_cert, server.fullchain)
            record_issued(layout, server.cert)

        def issue_audit(key: PrivateKey | None) -> IssuedCert:
            if key is not None and not isinstance(key, x25519.X25519PrivateKey):
                raise KeyFileError(layout.audit_key, "the audit key must be X25519")
            return issuing.issue_audit_recipient(key=key)

        def issue_signer(key: PrivateKey | None) -> IssuedCert:
            if key is not None and not isinstance(key, ed25519.Ed25519PrivateKey):
                raise KeyFileError(layout.checkpoint_key, "the checkpoint key must be Ed25519")
            return issuing.issue_checkpoint_signer(key=key)

        if layout.audit_cert.exists() and not layout.audit_key.exists():
            # The audit key lives with the reviewers (certs.offline): renew the
            # certificate from its own public key, never make a new key here.
            renew_external_audit(layout, issuing, now, force=new_issuing, margin=LEAF_RENEW_BEFORE)
        else:
            _ensure_leaf_cert(
                layout.audit_cert, layout.audit_key, pw, now, issuing, new_issuing, issue_audit
            )
        signing_key = _ensure_leaf_cert(
            layout.checkpoint_cert,
            layout.checkpoint_key,
            pw,
            now,
            issuing,
            new_issuing,
            issue_signer,
        )
        assert isinstance(signing_key, ed25519.Ed25519PrivateKey)
        # The signer certificate must verify: this also proves the files agree.
        signer_chain = load_certificates(layout.checkpoint_cert)
        verify_checkpoint_signer(signer_chain[0], signer_chain[1:], [root], at=now)
        if new_issuing or not layout.crl.exists():
            _publish_crl(layout, issuing)

    return BrokerPki(
        ca_dir=layout.ca_dir,
        ca_cert_path=layout.root_cert,
        intermediate_cert_path=layout.issuing_cert,
        server_cert_path=layout.server_cert,
        server_key_path=layout.server_key,
        audit_cert_path=layout.audit_cert,
        audit_key_path=layout.audit_key,
        signing_cert_path=layout.checkpoint_cert,
        signing_key=signing_key,
        signing_key_id=signing_key_id(signing_key.public_key()),
    )
