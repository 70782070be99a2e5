"""The organisation's certificate authority.

Root and issuing intermediate, server/client/audit-recipient leaf certificates,
revocation, staged rotation. Code only: key material lives in the data directory.
Standard library and ``cryptography`` only.
"""

__all__: list[str] = []
