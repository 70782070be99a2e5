"""Where the CA's files live in the data directory (``DATA_DIR/ca``).

========================  =====================================================  ======
file                      content                                                mode
========================  =====================================================  ======
``passphrase``            generated passphrase (only when none was given)        0600
``root.pem``              root CA certificate: what agents and browsers trust    0644
``root.key``              root CA key, encrypted PKCS#8                          0600
``issuing.pem``           issuing intermediate certificate                       0644
``issuing.key``           issuing intermediate key, encrypted                    0600
``server.pem``            broker TLS leaf + intermediate (full chain)            0644
``server.key``            broker TLS leaf key, **unencrypted** (``ssl`` loads    0600
                          it at start; 90-day, one-host key)
``audit.pem``             audit-recipient certificate (X25519)                   0644
``audit.key``             audit-recipient X25519 key, encrypted                  0600
``checkpoint.pem``        checkpoint-signer certificate (Ed25519)                0644
``checkpoint.key``        checkpoint-signing Ed25519 key, encrypted              0600
``.lock``                 ``flock`` so two starting brokers do not race          0600
``crl.pem``               CRL(s) of the issuing CA(s), published by the broker   0644
``revoked.json``          revoked serials with time and reason (CRL source)      0644
``issued/SERIAL.pem``     every certificate the CA issued (``certs list``)       0644
``bundle.pem``            trust bundle: every root agents should trust now       0644
``rotation/``             a staged rotation in progress (see certs.rotation)     0700
``retired/STAMP/``        retired roots, intermediates and leaf keys: old        0700
                          recordings still decrypt, old checkpoints verify
``audit.jsonl``           hash-chained log of every CA action                    0600
========================  =====================================================  ======

The folder itself is mode 0700. The root key may be moved offline after ``certs init``:
only ``rotate begin`` (cross-signing) and renewing the intermediate need it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["CaLayout"]


@dataclass(frozen=True)
class CaLayout:
    """Paths of the CA files under ``ca_dir`` (normally ``DATA_DIR/ca``)."""

    ca_dir: Path

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> CaLayout:
        """The layout of ``data_dir/ca``."""
        return cls(Path(data_dir) / "ca")

    @property
    def passphrase(self) -> Path:
        return self.ca_dir / "passphrase"

    @property
    def root_cert(self) -> Path:
        return self.ca_dir / "root.pem"

    @property
    def root_key(self) -> Path:
        return self.ca_dir / "root.key"

    @property
    def issuing_cert(self) -> Path:
        return self.ca_dir / "issuing.pem"

    @property
    def issuing_key(self) -> Path:
        return self.ca_dir / "issuing.key"

    @property
    def server_cert(self) -> Path:
        return self.ca_dir / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.ca_dir / "server.key"

    @property
    def audit_cert(self) -> Path:
        return self.ca_dir / "audit.pem"

    @property
    def audit_key(self) -> Path:
        return self.ca_dir / "audit.key"

    @property
    def checkpoint_cert(self) -> Path:
        return self.ca_dir / "checkpoint.pem"

    @property
    def checkpoint_key(self) -> Path:
        return self.ca_dir / "checkpoint.key"

    @property
    def lock(self) -> Path:
        return self.ca_dir / ".lock"

    @property
    def crl(self) -> Path:
        return self.ca_dir / "crl.pem"

    @property
    def revoked(self) -> Path:
        return self.ca_dir / "revoked.json"

    @property
    def issued_dir(self) -> Path:
        return self.ca_dir / "issued"

    @property
    def bundle(self) -> Path:
        return self.ca_dir / "bundle.pem"

    @property
    def rotation_dir(self) -> Path:
        return self.ca_dir / "rotation"

    @property
    def retired_dir(self) -> Path:
        return self.ca_dir / "retired"

    @property
    def audit_log(self) -> Path:
        return self.ca_dir / "audit.jsonl"
