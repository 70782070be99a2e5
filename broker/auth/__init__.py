"""Authentication and authorisation: argon2id password hashes (:mod:`.passwords`),
EdDSA JWTs with key ids and rotation (:mod:`.tokens`), login throttling and rate
limits (:mod:`.throttle`), and the one place where roles are checked
(:mod:`.policy`)."""

from broker.auth.tokens import AuthError, Claims, TokenService

__all__ = ["AuthError", "Claims", "TokenService"]
