"""The admin's CA on disk: :class:`CaStore` (init, issue, list, revoke, CRL, enrollment).

Every action validates its input before it touches a file, holds the CA's ``flock``
(the broker's start-up takes the same lock), writes files atomically, and reports one
event (``ca.initialized``, ``cert.issued``, ``cert.revoked``, ...) to an
:data:`EventSink` *before* its files are written, so an action that could not be
audited leaves nothing behind. ``certs`` stands on the ground floor (standard library
and ``cryptography`` only), so the sink is injected: the CLI and the broker pass one
that appends to ``DATA_DIR/ca/audit.jsonl`` through ``audit.jsonl.JsonlChainWriter``.

Staged rotation lives in :mod:`certs.rotation`; it uses this class.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

from certs import index, rotation_state
from certs.bootstrap import (
    ORGANIZATION,
    PASSPHRASE_ENV,
    ca_lock,
    resolve_passphrase,
)
from certs.ca import CertificateAuthority, Clock, IssuedCert, utc_now
from certs.crl import RevokedEntry, build_crl, load_crls, needs_refresh, write_crls
from certs.errors import CaStateError, IssuanceError, KeyFileError
from certs.index import CertRecord
from certs.keys import (
    load_certificate,
    load_certificates,
    load_private_key,
    load_signing_key,
    write_atomic,
    write_certificates,
    write_private_key,
    write_private_key_unencrypted,
)
from certs.layout import CaLayout

__all__ = ["CaStore", "EventSink", "TrustBundle", "pem"]

#: ``sink(event_name, detail)``: records a CA action; raising aborts the action.
EventSink = Callable[[str, Mapping[str, object]], None]

MAX_CLIENT_NAME = 64
CLIENT_KINDS = ("agent", "staff")


def pem(cert: x509.Certificate) -> str:
    """A certificate as PEM text."""
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _no_events(_event: str, _detail: Mapping[str, object]) -> None:
    return None


@dataclass(frozen=True)
class TrustBundle:
    """What agents should trust now (``GET /api/v1/trust-bundle``).

    ``roots``: every root to trust; ``endorsements``: for a root being introduced by a
    rotation, ``(new_root, cross_certificate)`` where the cross-certificate is signed by
    a root the agent already trusts (:func:`certs.verify.verify_root_endorsement`).
    """

    roots: tuple[x509.Certificate, ...]
    endorsements: tuple[tuple[x509.Certificate, x509.Certificate], ...]
    stage: str | None

    def to_json(self) -> dict[str, object]:
        """The JSON form served to agents."""
        return {
            "roots": [pem(r) for r in self.roots],
            "endorsements": [{"root": pem(r), "cross": pem(x)} for r, x in self.endorsements],
            "rotation_stage": self.stage,
        }

    def roots_pem(self) -> str:
        """The roots as one PEM string (an enrollment file's ``ca_pem``)."""
        return "".join(pem(r) for r in self.roots)


class CaStore:
    """The CA under ``data_dir/ca``; ``passphrase`` None reads the broker's generated
    ``passphrase`` file (demo set-ups) and fails if there is none."""

    def __init__(
        self,
        data_dir: Path,
        passphrase: bytes | None,
        *,
        clock: Clock = utc_now,
        events: EventSink | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.layout = CaLayout.in_data_dir(self.data_dir)
        self._passphrase = passphrase
        self.clock = clock
        self._events = events or _no_events

    # -- state ----------------------------------------------------------------------

    @property
    def initialised(self) -> bool:
        """Whether a root and issuing CA exist."""
        return self.layout.root_cert.exists() and self.layout.issuing_cert.exists()

    def _require_initialised(self) -> None:
        if not self.initialised:
            raise CaStateError(f"no CA in {self.layout.ca_dir}: run 'clearpane certs init' first")

    def passphrase(self) -> bytes:
        """The CA passphrase (given, or the broker's generated one)."""
        if self._passphrase is not None:
            if not self._passphrase:
                raise KeyFileError(self.layout.ca_dir, "the CA passphrase must not be empty")
            return self._passphrase
        if not self.layout.passphrase.exists():
            raise KeyFileError(
                self.layout.ca_dir, "no passphrase given (set CLEARPANE_CA_PASSPHRASE)"
            )
        return resolve_passphrase(self.layout, None)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the CA's lock (the broker's start-up takes it too)."""
        with ca_lock(self.layout):
            yield

    def emit(self, event: str, detail: Mapping[str, object]) -> None:
        """Report a CA action to the sink (before its files are written)."""
        self._events(event, detail)

    def root(self) -> x509.Certificate:
        """The current root certificate."""
        self._require_initialised()
        return load_certificate(self.layout.root_cert)

    def trusted_roots(self) -> list[x509.Certificate]:
        """Every root trusted now: the bundle during a rotation, else the root."""
        if self.layout.bundle.exists():
            return load_certificates(self.layout.bundle)
        return [self.root()]

    def issuing(self) -> CertificateAuthority:
        """The issuing CA with its key (decrypting it checks the passphrase)."""
        self._require_initialised()
        cert = load_certificate(self.layout.issuing_cert)
        key = load_signing_key(self.layout.issuing_key, self.passphrase())
        if cert.public_key() != key.public_key():
            raise KeyFileError(self.layout.issuing_key, "does not match issuing.pem")
        return CertificateAuthority(cert=cert, key=key, parents=(self.root(),), clock=self.clock)

    # -- init -----------------------------------------------------------------------

    def init(self, organization: str = ORGANIZATION) -> tuple[x509.Certificate, x509.Certificate]:
        """Create the root and the issuing intermediate (refuses if a CA exists)."""
        organization = organization.strip()
        if not 1 <= len(organization) <= 64:
            raise IssuanceError("organization must be 1 to 64 characters")
        pw = self.passphrase() if self._passphrase is not None else None
        if pw is None:
            raise KeyFileError(
                self.layout.ca_dir,
                f"init needs a passphrase (set {PASSPHRASE_ENV} or use --passphrase-file)",
            )
        with self.locked():
            if self.layout.root_cert.exists() or self.layout.root_key.exists():
                raise CaStateError(f"a CA already exists in {self.layout.ca_dir}")
            now = self.clock()
            root = CertificateAuthority.create_root(
                f"{organization} Root CA {now:%Y}", organization=organization, clock=self.clock
            )
            issuing = root.create_intermediate(f"{organization} Issuing CA {now:%Y%m%d}")
            self.emit(
                "ca.initialized",
                {
                    "root": index.serial_hex(root.cert.serial_number),
                    "issuing": index.serial_hex(issuing.cert.serial_number),
                    "organization": organization,
                },
            )
            write_private_key(self.layout.root_key, root.key, pw)
            write_private_key(self.layout.issuing_key, issuing.key, pw)
            write_certificates(self.layout.issuing_cert, [issuing.cert])
            write_certificates(self.layout.root_cert, [root.cert])  # last: "initialised"
            self._write_crls([issuing])
        return root.cert, issuing.cert

    # -- issue ----------------------------------------------------------------------

    def _issued(self, issued: IssuedCert, detail: Mapping[str, object]) -> None:
        cert = issued.cert
        self.emit(
            "cert.issued",
            {
                "serial": index.serial_hex(cert.serial_number),
                "profile": index.profile_of(cert),
                "subject": cert.subject.rfc4514_string(),
                "names": index.names_of(cert),
                "not_after": cert.not_valid_after_utc.isoformat(),
                **detail,
            },
        )
        index.record_issued(self.layout, cert)

    def issue_server(
        self,
        dns_names: Sequence[str],
        ip_addresses: Sequence[str],
        *,
        lifetime: dt.timedelta | None = None,
    ) -> IssuedCert:
        """A TLS server certificate (e.g. for another broker node or a proxy)."""
        issuing = self.issuing()
        issued = issuing.issue_server(list(dns_names), list(ip_addresses), lifetime=lifetime)
        with self.locked():
            self._issued(issued, {})
        return issued

    def issue_client(
        self, name: str, *, kind: str = "agent", lifetime: dt.timedelta | None = None
    ) -> IssuedCert:
        """A mutual-TLS client certificate for a managed agent or a staff member.

        The SAN is ``urn:clearpane:KIND:NAME``; ``name`` is 1-64 of ``[A-Za-z0-9._-]``.
        """
        if kind not in CLIENT_KINDS:
            raise IssuanceError(f"client kind must be one of {', '.join(CLIENT_KINDS)}")
        if not _valid_client_name(name):
            raise IssuanceError(f"invalid client name {name!r} (letters, digits, '.', '_', '-')")
        issuing = self.issuing()
        issued = issuing.issue_client(
            name, uris=[f"urn:clearpane:{kind}:{name}"], lifetime=lifetime
        )
        with self.locked():
            self._issued(issued, {"kind": kind})
        return issued

    def renew_broker_server(
        self,
        dns_names: Sequence[str] | None = None,
        ip_addresses: Sequence[str] | None = None,
        *,
        lifetime: dt.timedelta | None = None,
    ) -> IssuedCert:
        """Reissue the broker's own TLS certificate in place (``server.pem``/``.key``).

        Names default to the current certificate's. A running broker picks the new
        certificate up without dropping connections (broker/tls_reload.py).
        """
        if dns_names is None and ip_addresses is None:
            current = load_certificates(self.layout.server_cert)[0]
            names = index.names_of(current)
            ip_addresses = [n for n in names if _is_ip(n)]
            dns_names = [n for n in names if not _is_ip(n)]
        issuing = self.issuing()
        issued = issuing.issue_server(
            list(dns_names or ()), list(ip_addresses or ()), lifetime=lifetime
        )
        with self.locked():
            self._issued(issued, {"use": "broker-server"})
            write_private_key_unencrypted(self.layout.server_key, issued.key)
            write_certificates(self.layout.server_cert, issued.fullchain)
        return issued

    def renew_audit_recipient(self, *, lifetime: dt.timedelta | None = None) -> IssuedCert:
        """Reissue the audit-recipient certificate for the same X25519 key (recordings
        wrapped for it stay decryptable)."""
        pw = self.passphrase()
        key = load_private_key(self.layout.audit_key, pw)
        if not isinstance(key, x25519.X25519PrivateKey):
            raise KeyFileError(self.layout.audit_key, "the audit key must be X25519")
        issued = self.issuing().issue_audit_recipient(key=key, lifetime=lifetime)
        with self.locked():
            self._issued(issued, {"use": "audit-recipient"})
            write_certificates(self.layout.audit_cert, issued.fullchain)
        return issued

    def renew_checkpoint_signer(self, *, lifetime: dt.timedelta | None = None) -> IssuedCert:
        """Reissue the checkpoint-signer certificate for the same Ed25519 key."""
        key = load_private_key(self.layout.checkpoint_key, self.passphrase())
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise KeyFileError(self.layout.checkpoint_key, "the checkpoint key must be Ed25519")
        issued = self.issuing().issue_checkpoint_signer(key=key, lifetime=lifetime)
        with self.locked():
            self._issued(issued, {"use": "checkpoint-signer"})
            write_certificates(self.layout.checkpoint_cert, issued.fullchain)
        return issued

    # -- list and revoke --------------------------------------------------------------

    def records(self, *, now: dt.datetime | None = None) -> list[CertRecord]:
        """Every issued certificate with its status at ``now``."""
        self._require_initialised()
        when = now or self.clock()
        revoked = index.load_revoked(self.layout)
        return [index.describe(c, revoked, when) for c in index.load_issued(self.layout)]

    def revoke(self, serial: str, reason: str = "unspecified") -> CertRecord:
        """Revoke the certificate with ``serial`` and republish the CRL.

        Refuses unknown serials, a second revocation and unknown reasons, before
        anything is written.
        """
        number = index.parse_serial(serial)
        index.check_reason(reason)
        issuers = self._crl_issuers()  # checks the passphrase before we mutate
        with self.locked():
            cert = index.find_issued(self.layout, number)
            revoked = index.load_revoked(self.layout)
            if number in revoked:
                raise CaStateError(
                    f"certificate {index.serial_hex(number)} is already revoked "
                    f"(since {revoked[number].revoked_at:%Y-%m-%d %H:%M} UTC)"
                )
            now = self.clock()
            revoked[number] = RevokedEntry(number, now, reason)
            self.emit(
                "cert.revoked",
                {
                    "serial": index.serial_hex(number),
                    "subject": cert.subject.rfc4514_string(),
                    "reason": reason,
                },
            )
            index.save_revoked(self.layout, revoked)
            self._write_crls(issuers)
        return index.describe(cert, revoked, now)

    # -- CRL ------------------------------------------------------------------------

    def _crl_issuers(self) -> list[CertificateAuthority]:
        """Every issuing CA whose leaves may still be in use (two during a rotation)."""
        issuers = [self.issuing()]
        old_cert = self.layout.rotation_dir / "old-issuing.pem"
        if old_cert.exists():
            old_key = load_signing_key(
                self.layout.rotation_dir / "old-issuing.key", self.passphrase()
            )
            issuers.append(
                CertificateAuthority(
                    cert=load_certificate(old_cert),
                    key=old_key,
                    parents=(self.root(),),
                    clock=self.clock,
                )
            )
        return issuers

    def _write_crls(self, issuers: Sequence[CertificateAuthority]) -> None:
        """Sign and write one CRL per issuer (call with the lock held)."""
        revoked = index.load_revoked(self.layout)
        previous = {c.issuer: c for c in load_crls(self.layout.crl)}
        by_issuer: dict[x509.Name, list[RevokedEntry]] = {}
        for cert in index.load_issued(self.layout):
            if cert.serial_number in revoked:
                by_issuer.setdefault(cert.issuer, []).append(revoked[cert.serial_number])
        crls = [
            build_crl(
                ca, by_issuer.get(ca.cert.subject, []), previous=previous.get(ca.cert.subject)
            )
            for ca in issuers
        ]
        write_crls(self.layout.crl, crls)

    def publish_crl(self, *, force: bool = False) -> bool:
        """Re-sign the CRL(s) if they are missing or half-way to stale (or ``force``);
        return whether anything was written."""
        self._require_initialised()
        now = self.clock()
        crls = load_crls(self.layout.crl)
        if not force and crls and not any(needs_refresh(c, now) for c in crls):
            return False
        issuers = self._crl_issuers()
        with self.locked():
            self.emit("crl.published", {"issuers": len(issuers)})
            self._write_crls(issuers)
        return True

    # -- trust and enrollment ---------------------------------------------------------

    def trust_bundle(self) -> TrustBundle:
        """The roots agents should trust now, with endorsements for new ones."""
        return TrustBundle(
            tuple(self.trusted_roots()),
            tuple(rotation_state.endorsements(self.layout)),
            rotation_state.current_stage(self.layout),
        )

    def enrollment(self, broker_url: str) -> dict[str, str]:
        """An agent enrollment file's content: broker URL and the CA bundle pin."""
        url = broker_url.strip().rstrip("/")
        if not url.startswith("https://") or len(url) <= len("https://"):
            raise IssuanceError("the broker URL must start with https://")
        data = {"broker_url": url, "ca_pem": self.trust_bundle().roots_pem()}
        # The checkpoint signer lets the agent check the broker's signed log (G10).
        signer = self.layout.checkpoint_cert
        if signer.exists():
            data["checkpoint_signer_pem"] = signer.read_text()
        return data

    def write_enrollment(self, broker_url: str, out: Path) -> Path:
        """Write an enrollment file (refuses to overwrite) and audit it."""
        data = self.enrollment(broker_url)
        if out.exists():
            raise CaStateError(f"{out} exists: refusing to overwrite")
        self.emit("enrollment.created", {"broker_url": data["broker_url"], "file": out.name})
        write_atomic(out, (json.dumps(data, indent=2) + "\n").encode(), 0o644)
        return out

    # -- expiry -----------------------------------------------------------------------

    def expiry_warnings(self, *, now: dt.datetime | None = None) -> list[str]:
        """Human-readable warnings for CA and broker certificates close to expiry."""
        when = now or self.clock()
        warnings = []
        checks = [
            ("root CA", self.layout.root_cert, dt.timedelta(days=365)),
            ("issuing CA", self.layout.issuing_cert, dt.timedelta(days=180)),
            ("broker TLS certificate", self.layout.server_cert, index.EXPIRY_WARNING),
            ("audit-recipient certificate", self.layout.audit_cert, index.EXPIRY_WARNING),
            ("checkpoint-signer certificate", self.layout.checkpoint_cert, index.EXPIRY_WARNING),
        ]
        for label, path, margin in checks:
            if not path.exists():
                continue
            cert = load_certificates(path)[0]
            left = cert.not_valid_after_utc - when
            if left <= dt.timedelta(0):
                warnings.append(f"the {label} has expired ({cert.not_valid_after_utc:%Y-%m-%d})")
            elif left < margin:
                warnings.append(
                    f"the {label} expires in {left.days} days "
                    f"({cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC)"
                )
        return warnings

    def copy_to(self, target: Path, names: Sequence[str]) -> None:
        """Copy CA files ``names`` into ``target`` (mode preserved)."""
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name in names:
            src = self.layout.ca_dir / name
            if src.exists():
                shutil.copy2(src, target / name)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _valid_client_name(name: str) -> bool:
    return (
        0 < len(name) <= MAX_CLIENT_NAME
        and name.isascii()
        and all(ch.isalnum() or ch in "._-" for ch in name)
        and name[0].isalnum()
    )
