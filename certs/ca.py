"""The organisation CA: a root, an issuing intermediate, and leaf issuance.

Shape borrowed from trustme (a CA class, an issued-leaf class, a key-type enum, one
private builder helper) with production defaults instead of trustme's test defaults:

* times are timezone-aware UTC, taken from an injectable clock;
* lifetimes are bounded: root ~10 years, intermediate ~3 years, server leaves 90 days,
  client leaves 90 days, audit-recipient and checkpoint-signer certificates 1 year; a
  leaf never outlives its issuer (``not_after`` is clamped) and a request longer than
  the profile's maximum is refused;
* subject and authority key identifiers on every certificate, basic constraints with a
  path length (root 1, intermediate 0), separate key usages per profile.

Profiles (EKU = extended key usage):

=====================  ==============  ==========================  ======================
profile                key             key usage                   EKU
=====================  ==============  ==========================  ======================
server (TLS)           ECDSA P-256     digitalSignature            serverAuth
client (mutual TLS)    ECDSA P-256     digitalSignature            clientAuth
audit recipient        X25519          keyAgreement                AUDIT_RECIPIENT_EKU
checkpoint signer      Ed25519         digitalSignature            CHECKPOINT_SIGNER_EKU
=====================  ==============  ==========================  ======================

The two private EKUs are OIDs under ``2.25`` (ITU-T X.667: an OID made from a UUID,
valid without registering an arc). A certificate carrying ``AUDIT_RECIPIENT_EKU`` says
"the organisation CA vouches that recordings may be encrypted to this X25519 key"
(SPEC §8.2); ``CHECKPOINT_SIGNER_EKU`` says "this Ed25519 key signs session-log
checkpoints" (SPEC §9).

The CA chain that signs the server leaf is ECDSA P-256 because Chromium does not accept
Ed25519 anywhere in a TLS certificate chain.

Revocation (CRLs), rotation and the admin CLI are added on top of these classes later:
:meth:`CertificateAuthority.issue` is the single entry point they extend.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs.errors import IssuanceError
from certs.keys import KeyType, PrivateKey, SigningKey, generate_key

__all__ = [
    "AUDIT_RECIPIENT_EKU",
    "CHECKPOINT_SIGNER_EKU",
    "CertificateAuthority",
    "Clock",
    "IssuedCert",
    "LeafProfile",
    "utc_now",
]

Clock = Callable[[], dt.datetime]

AUDIT_RECIPIENT_EKU = x509.ObjectIdentifier("2.25.310274272998058392021915461903766105693")
CHECKPOINT_SIGNER_EKU = x509.ObjectIdentifier("2.25.86612099711596494703712207150359858853")

ROOT_LIFETIME = dt.timedelta(days=3652)
INTERMEDIATE_LIFETIME = dt.timedelta(days=3 * 365)
#: Certificates start this much before "now" so a peer whose clock is a little behind
#: still accepts them.
BACKDATE = dt.timedelta(minutes=5)

_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def utc_now() -> dt.datetime:
    """The default clock: the current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class _Profile:
    name: str
    key_type: KeyType
    default_lifetime: dt.timedelta
    max_lifetime: dt.timedelta
    key_usage: x509.KeyUsage
    eku: x509.ObjectIdentifier


def _usage(*, digital_signature: bool = False, key_agreement: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=key_agreement,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


class LeafProfile:
    """The leaf certificate profiles (see the module docstring's table)."""

    SERVER = _Profile(
        "server",
        KeyType.ECDSA_P256,
        dt.timedelta(days=90),
        dt.timedelta(days=397),
        _usage(digital_signature=True),
        ExtendedKeyUsageOID.SERVER_AUTH,
    )
    CLIENT = _Profile(
        "client",
        KeyType.ECDSA_P256,
        dt.timedelta(days=90),
        dt.timedelta(days=397),
        _usage(digital_signature=True),
        ExtendedKeyUsageOID.CLIENT_AUTH,
    )
    AUDIT_RECIPIENT = _Profile(
        "audit-recipient",
        KeyType.X25519,
        dt.timedelta(days=365),
        dt.timedelta(days=2 * 365),
        _usage(key_agreement=True),
        AUDIT_RECIPIENT_EKU,
    )
    CHECKPOINT_SIGNER = _Profile(
        "checkpoint-signer",
        KeyType.ED25519,
        dt.timedelta(days=365),
        dt.timedelta(days=2 * 365),
        _usage(digital_signature=True),
        CHECKPOINT_SIGNER_EKU,
    )


@dataclass(frozen=True)
class IssuedCert:
    """A leaf certificate, its private key and the intermediates that chain it to the root.

    ``chain`` lists the issuing CA certificates nearest first and excludes the root (the
    root is what peers trust; TLS servers send leaf + intermediates).
    """

    cert: x509.Certificate
    key: PrivateKey
    chain: tuple[x509.Certificate, ...]

    @property
    def fullchain(self) -> tuple[x509.Certificate, ...]:
        """The leaf followed by its intermediates: what a TLS server presents."""
        return (self.cert, *self.chain)

    def fullchain_pem(self) -> bytes:
        """:attr:`fullchain` as concatenated PEM."""
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.fullchain)


def _hash_for(key: SigningKey) -> hashes.SHA256 | None:
    # Ed25519 signs the message itself; ECDSA needs a digest.
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _check_dns_name(name: str) -> str:
    ascii_name = name.rstrip(".").lower()
    try:
        ascii_name.encode("ascii")
    except UnicodeEncodeError:
        raise IssuanceError(f"DNS name {name!r} must be ASCII (use its IDNA A-label)") from None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or not all(_DNS_LABEL.match(label) for label in labels):
        raise IssuanceError(f"invalid DNS name {name!r}")
    return ascii_name


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA that can issue certificates: the root or an (issuing) intermediate.

    ``parents`` are the CA certificates above this one, nearest first, ending with the
    root; empty for the root itself. ``clock`` supplies "now" for every issuance (inject
    a fixed clock in tests, e.g. to mint an already-expired leaf).
    """

    cert: x509.Certificate
    key: SigningKey
    parents: tuple[x509.Certificate, ...] = ()
    clock: Clock = field(default=utc_now, compare=False)

    # -- construction -------------------------------------------------------------

    @classmethod
    def create_root(
        cls,
        common_name: str,
        *,
        organization: str,
        key_type: KeyType = KeyType.ECDSA_P256,
        lifetime: dt.timedelta = ROOT_LIFETIME,
        clock: Clock = utc_now,
    ) -> CertificateAuthority:
        """Create a self-signed root CA (path length 1: one intermediate below it)."""
        key = cls._new_signing_key(key_type)
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            ]
        )
        now = _aware(clock())
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + _bounded(lifetime, ROOT_LIFETIME))
            .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
            .add_extension(_ca_usage(), critical=True)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
        )
        return cls(cert=builder.sign(key, _hash_for(key)), key=key, clock=clock)

    def create_intermediate(
        self,
        common_name: str,
        *,
        key_type: KeyType = KeyType.ECDSA_P256,
        lifetime: dt.timedelta = INTERMEDIATE_LIFETIME,
    ) -> CertificateAuthority:
        """Create an issuing CA signed by this one (path length 0: issues leaves only)."""
        constraints = self.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        if constraints.path_length == 0:
            raise IssuanceError("this CA has path length 0 and cannot create CAs")
        key = self._new_signing_key(key_type)
        cert = self._build(
            subject=self._subject(common_name),
            public_key=key.public_key(),
            lifetime=_bounded(lifetime, INTERMEDIATE_LIFETIME),
            extensions=[
                (x509.BasicConstraints(ca=True, path_length=0), True),
                (_ca_usage(), True),
            ],
        )
        return CertificateAuthority(
            cert=cert, key=key, parents=(self.cert, *self.parents), clock=self.clock
        )

    def cross_certify(
        self, other: x509.Certificate, *, lifetime: dt.timedelta = INTERMEDIATE_LIFETIME
    ) -> x509.Certificate:
        """Certify another CA's name and public key under this CA (a cross-certificate).

        Used by staged rotation (:mod:`certs.rotation`): the old root vouches for the new
        root (agents accept a new root only with such a proof) and for the new issuing
        CA (so one leaf chains to either root while both are trusted). The copy keeps
        ``other``'s basic constraints and key usage; its lifetime is clamped to ours.
        """
        constraints = other.extensions.get_extension_for_class(x509.BasicConstraints).value
        if not constraints.ca:
            raise IssuanceError("only CA certificates can be cross-certified")
        usage = other.extensions.get_extension_for_class(x509.KeyUsage).value
        return self._build(
            subject=other.subject,
            public_key=other.public_key(),
            lifetime=_bounded(lifetime, ROOT_LIFETIME),
            extensions=[(constraints, True), (usage, True)],
        )

    def with_clock(self, clock: Clock) -> CertificateAuthority:
        """This CA with another clock (tests; the admin CLI's ``--not-before``)."""
        return dataclasses.replace(self, clock=clock)

    @property
    def is_root(self) -> bool:
        """True for the self-signed root."""
        return not self.parents

    @property
    def root(self) -> x509.Certificate:
        """The root certificate this CA chains to."""
        return self.parents[-1] if self.parents else self.cert

    # -- leaves -------------------------------------------------------------------

    def issue_server(
        self,
        dns_names: Sequence[str] = (),
        ip_addresses: Sequence[str] = (),
        *,
        lifetime: dt.timedelta | None = None,
        key: PrivateKey | None = None,
    ) -> IssuedCert:
        """Issue a TLS server certificate for ``dns_names`` and ``ip_addresses``."""
        sans: list[x509.GeneralName] = [x509.DNSName(_check_dns_name(n)) for n in dns_names]
        for ip in ip_addresses:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(ip)))
            except ValueError:
                raise IssuanceError(f"invalid IP address {ip!r}") from None
        if not sans:
            raise IssuanceError("a server certificate needs at least one DNS name or IP")
        first = next(iter(dns_names), None) or ip_addresses[0]
        return self.issue(LeafProfile.SERVER, first, sans=sans, lifetime=lifetime, key=key)

    def issue_client(
        self,
        common_name: str,
        *,
        uris: Sequence[str] = (),
        lifetime: dt.timedelta | None = None,
        key: PrivateKey | None = None,
    ) -> IssuedCert:
        """Issue a client (mutual TLS) certificate.

        ``uris`` become URI subject alternative names (e.g. ``urn:clearpane:agent:ID``);
        without any, ``urn:clearpane:client:<common_name>`` is used, because verifiers
        identify clients by their SAN.
        """
        names = list(uris) or [f"urn:clearpane:client:{common_name}"]
        sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(u) for u in names]
        return self.issue(LeafProfile.CLIENT, common_name, sans=sans, lifetime=lifetime, key=key)

    def issue_audit_recipient(
        self,
        common_name: str = "Clearpane audit recipient",
        *,
        lifetime: dt.timedelta | None = None,
        key: x25519.X25519PrivateKey | None = None,
    ) -> IssuedCert:
        """Issue the audit-recipient certificate (X25519 key agreement, SPEC §8.2).

        Pass the existing ``key`` to renew the certificate without losing the ability to
        decrypt recordings wrapped for that key.
        """
        return self.issue(LeafProfile.AUDIT_RECIPIENT, common_name, lifetime=lifetime, key=key)

    def issue_audit_recipient_for(
        self,
        public_key: x25519.X25519PublicKey,
        common_name: str = "Clearpane audit recipient",
        *,
        lifetime: dt.timedelta | None = None,
    ) -> tuple[x509.Certificate, tuple[x509.Certificate, ...]]:
        """Certify an audit-recipient key made elsewhere (a reviewer's machine, issue 14):
        only its public half reaches the CA. Returns the certificate and its chain."""
        profile = LeafProfile.AUDIT_RECIPIENT
        lifetime = profile.default_lifetime if lifetime is None else lifetime
        if lifetime <= dt.timedelta(0) or lifetime > profile.max_lifetime:
            raise IssuanceError(
                f"{profile.name} lifetime must be within (0, {profile.max_lifetime.days} days]"
            )
        cert = self._build(
            subject=self._subject(common_name),
            public_key=public_key,
            lifetime=lifetime,
            extensions=[
                (x509.BasicConstraints(ca=False, path_length=None), True),
                (profile.key_usage, True),
                (x509.ExtendedKeyUsage([profile.eku]), False),
            ],
        )
        return cert, self._intermediates()

    def issue_checkpoint_signer(
        self,
        common_name: str = "Clearpane checkpoint signer",
        *,
        lifetime: dt.timedelta | None = None,
        key: ed25519.Ed25519PrivateKey | None = None,
    ) -> IssuedCert:
        """Issue a certificate for the Ed25519 key that signs session-log checkpoints."""
        return self.issue(LeafProfile.CHECKPOINT_SIGNER, common_name, lifetime=lifetime, key=key)

    def issue(
        self,
        profile: _Profile,
        common_name: str,
        *,
        sans: Sequence[x509.GeneralName] = (),
        lifetime: dt.timedelta | None = None,
        key: PrivateKey | None = None,
    ) -> IssuedCert:
        """Issue a leaf of ``profile``: the one entry point every leaf goes through.

        The request is validated before anything is signed (:class:`IssuanceError`).
        """
        lifetime = profile.default_lifetime if lifetime is None else lifetime
        if lifetime <= dt.timedelta(0) or lifetime > profile.max_lifetime:
            raise IssuanceError(
                f"{profile.name} lifetime must be within (0, {profile.max_lifetime.days} days]"
            )
        if not common_name or len(common_name) > 64:
            raise IssuanceError("common name must be 1 to 64 characters")
        if key is None:
            key = generate_key(profile.key_type)
        elif _key_type_of(key) is not profile.key_type:
            raise IssuanceError(f"{profile.name} certificates need a {profile.key_type.value} key")
        extensions: list[tuple[x509.ExtensionType, bool]] = [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (profile.key_usage, True),
            (x509.ExtendedKeyUsage([profile.eku]), False),
        ]
        if sans:
            extensions.append((x509.SubjectAlternativeName(list(sans)), False))
        cert = self._build(
            subject=self._subject(common_name),
            public_key=key.public_key(),
            lifetime=lifetime,
            extensions=extensions,
        )
        return IssuedCert(cert=cert, key=key, chain=self._intermediates())

    # -- helpers ------------------------------------------------------------------

    def _intermediates(self) -> tuple[x509.Certificate, ...]:
        return (self.cert, *self.parents)[:-1] if self.parents else ()

    def _subject(self, common_name: str) -> x509.Name:
        orgs = self.cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, str(orgs[0].value))] if orgs else []
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        return x509.Name(attrs)

    @staticmethod
    def _new_signing_key(key_type: KeyType) -> SigningKey:
        if not key_type.can_sign:
            raise IssuanceError(f"a CA key must be able to sign, not {key_type.value}")
        key = generate_key(key_type)
        assert not isinstance(key, x25519.X25519PrivateKey)
        return key

    def _build(
        self,
        *,
        subject: x509.Name,
        public_key: CertificatePublicKeyTypes,
        lifetime: dt.timedelta,
        extensions: Iterable[tuple[x509.ExtensionType, bool]],
    ) -> x509.Certificate:
        """The one builder every issued certificate goes through."""
        now = _aware(self.clock())
        not_after = min(now + lifetime, self.cert.not_valid_after_utc)
        if not_after <= now:
            raise IssuanceError("the issuing CA has expired")
        if now < self.cert.not_valid_before_utc:
            raise IssuanceError("the issuing CA is not valid yet")
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(max(now - BACKDATE, self.cert.not_valid_before_utc))
            .not_valid_after(not_after)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                    self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
                ),
                critical=False,
            )
        )
        for ext, critical in extensions:
            builder = builder.add_extension(ext, critical=critical)
        return builder.sign(self.key, _hash_for(self.key))


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _aware(now: dt.datetime) -> dt.datetime:
    if now.tzinfo is None:
        raise IssuanceError("the clock must return timezone-aware datetimes")
    return now.astimezone(dt.UTC)


def _bounded(lifetime: dt.timedelta, maximum: dt.timedelta) -> dt.timedelta:
    if lifetime <= dt.timedelta(0) or lifetime > maximum:
        raise IssuanceError(f"lifetime must be within (0, {maximum.days} days]")
    return lifetime


def _key_type_of(key: PrivateKey) -> KeyType | None:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return KeyType.ECDSA_P256 if isinstance(key.curve, ec.SECP256R1) else None
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return KeyType.ED25519
    return KeyType.X25519
