"""The organisation's certificate authority.

Root and issuing intermediate (:mod:`certs.ca`), server/client/audit-recipient/
checkpoint-signer leaf certificates, verification through ``cryptography``'s
``PolicyBuilder`` (:mod:`certs.verify`), TLS contexts (:mod:`certs.tls`) and the
broker's first-start PKI (:mod:`certs.bootstrap`). Revocation and staged rotation come
with the admin workflow. Code only: key material lives in the data directory
(:mod:`certs.layout`). Standard library and ``cryptography`` only.
"""

from certs.bootstrap import BrokerPki, ensure_broker_pki
from certs.ca import CertificateAuthority, IssuedCert
from certs.errors import CertError, CertVerificationError, IssuanceError, KeyFileError
from certs.keys import KeyType

__all__ = [
    "BrokerPki",
    "CertError",
    "CertVerificationError",
    "CertificateAuthority",
    "IssuanceError",
    "IssuedCert",
    "KeyFileError",
    "KeyType",
    "ensure_broker_pki",
]
