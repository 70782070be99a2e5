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
========================  =====================================================  ======

The folder itself is mode 0700. The admin workflow (later) adds ``crl.pem``,
``issued/`` (an index of issued certificates) and ``retired/`` (rotated keys kept to
decrypt old recordings and verify old checkpoints) here.
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
