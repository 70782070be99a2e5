"""EdDSA (Ed25519) JSON Web Tokens with key ids and rotation.

Token types (CONTRACTS.md): ``access`` (staff, carries ``role``), ``agent`` (one
session: ``sid``), ``viewer`` (one session: ``sid``, ``as`` = engineer|observer,
``perms`` asked). Expiry is checked against the injected clock, not PyJWT's.

Keys live in ``DATA_DIR/jwt/``: one PEM private key per ``kid`` (mode 0600) and
``keyring.json`` naming the current key and when older keys were retired. A retired
key keeps verifying until every token it signed has expired, then it is deleted.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from broker.clock import Clock
from broker.errors import Unauthorized
from broker.filelock import exclusive

__all__ = ["TOKEN_TYPES", "AuthError", "Claims", "TokenService"]

log = logging.getLogger(__name__)

TOKEN_TYPES = ("access", "agent", "viewer")
ISSUER = "clearpane-broker"
_RESERVED = frozenset({"iss", "sub", "role", "typ", "sid", "iat", "exp", "jti"})


class AuthError(Unauthorized):
    """A token is missing, malformed, forged, expired or of the wrong type."""


@dataclass(frozen=True, slots=True)
class Claims:
    """The verified contents of a token."""

    sub: str
    role: str
    typ: str
    sid: str | None
    iat: int
    exp: int
    jti: str
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def as_(self) -> str | None:
        """Viewer tokens: ``engineer`` or ``observer``."""
        value = self.extra.get("as")
        return value if isinstance(value, str) else None

    @property
    def perms(self) -> tuple[str, ...]:
        """Viewer tokens: the permissions the viewer asks the client for."""
        value = self.extra.get("perms")
        return tuple(str(p) for p in value) if isinstance(value, list) else ()


@dataclass(slots=True)
class _Key:
    kid: str
    private: Ed25519PrivateKey
    created_ms: int
    retired_ms: int | None = None

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()


class TokenService:
    """Issues and verifies the broker's tokens. Build with :meth:`load` (keys on
    disk) or :meth:`ephemeral` (tests that need a second, unrelated key)."""

    def __init__(
        self,
        keys: list[_Key],
        current: str,
        clock: Clock,
        *,
        key_dir: Path | None = None,
        max_ttl_s: int = 24 * 3600,
        default_ttl_s: Mapping[str, int] | None = None,
    ) -> None:
        self._keys = {k.kid: k for k in keys}
        self._current = current
        self._clock = clock
        self._key_dir = key_dir
        self._max_ttl_s = max_ttl_s
        self._default_ttl_s = dict(default_ttl_s or {"access": 3600, "agent": 600, "viewer": 60})
        self._reloaded_ms = -(10**15)

    # --- construction ----------------------------------------------------------------

    @classmethod
    def ephemeral(cls, clock: Clock, **kwargs: Any) -> TokenService:
        """A service with one in-memory key (never written to disk)."""
        key = _Key(secrets.token_hex(8), Ed25519PrivateKey.generate(), clock.now_ms())
        return cls([key], key.kid, clock, **kwargs)

    @classmethod
    def load(
        cls,
        key_dir: Path,
        clock: Clock,
        *,
        max_ttl_s: int,
        rotate_after_s: int,
        default_ttl_s: Mapping[str, int] | None = None,
    ) -> TokenService:
        """Load the keyring from ``key_dir`` (creating a first key if there is none),
        drop retired keys no token can need any more, rotate if the current key is
        older than ``rotate_after_s``."""
        key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Nodes sharing the data directory may start together: one loads (and maybe
        # creates or rotates) the keyring at a time, so no node's key is lost.
        with exclusive(key_dir / ".keyring.lock"):
            return cls._load_locked(
                key_dir,
                clock,
                max_ttl_s=max_ttl_s,
                rotate_after_s=rotate_after_s,
                default_ttl_s=default_ttl_s,
            )

    @classmethod
    def _load_locked(
        cls,
        key_dir: Path,
        clock: Clock,
        *,
        max_ttl_s: int,
        rotate_after_s: int,
        default_ttl_s: Mapping[str, int] | None,
    ) -> TokenService:
        current, keys = _read_keyring(key_dir)
        service = cls(
            keys,
            current,
            clock,
            key_dir=key_dir,
            max_ttl_s=max_ttl_s,
            default_ttl_s=default_ttl_s,
        )
        if not keys:
            service.rotate()
        else:
            service._prune()
            if clock.now_ms() - service._keys[current].created_ms > rotate_after_s * 1000:
                service.rotate()
        return service

    def _reload_keys(self) -> bool:
        """Learn keys another node added to the shared keyring (at most once a second,
        so tokens with made-up key ids cannot make us read the disk in a loop)."""
        now = self._clock.now_ms()
        if self._key_dir is None or now - self._reloaded_ms < 1000:
            return False
        self._reloaded_ms = now
        try:
            _, keys = _read_keyring(self._key_dir)
        except (OSError, ValueError, KeyError):
            return False
        added = [k for k in keys if k.kid not in self._keys]
        for key in added:
            self._keys[key.kid] = key
        return bool(added)

    def rotate(self) -> str:
        """Start signing with a new key; the old one keeps verifying until the
        longest token it could have signed has expired. Returns the new ``kid``."""
        now = self._clock.now_ms()
        old = self._keys.get(self._current)
        if old is not None:
            old.retired_ms = now
        key = _Key(secrets.token_hex(8), Ed25519PrivateKey.generate(), now)
        self._keys[key.kid] = key
        self._current = key.kid
        self._save()
        log.info("JWT signing key rotated (kid %s)", key.kid)
        return key.kid

    def _prune(self) -> None:
        horizon = self._clock.now_ms() - self._max_ttl_s * 1000
        for kid in [
            k.kid
            for k in self._keys.values()
            if k.retired_ms is not None and k.retired_ms < horizon and k.kid != self._current
        ]:
            del self._keys[kid]
            if self._key_dir is not None:
                (self._key_dir / f"{kid}.pem").unlink(missing_ok=True)
        self._save()

    def _save(self) -> None:
        if self._key_dir is None:
            return
        for key in self._keys.values():
            path = self._key_dir / f"{key.kid}.pem"
            if not path.exists():
                pem = key.private.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(pem)
        index = {
            "current": self._current,
            "keys": {
                k.kid: {"created_ms": k.created_ms, "retired_ms": k.retired_ms}
                for k in self._keys.values()
            },
        }
        tmp = self._key_dir / "keyring.json.tmp"
        tmp.write_text(json.dumps(index, indent=2))
        tmp.replace(self._key_dir / "keyring.json")

    # --- tokens ------------------------------------------------------------------------

    @property
    def current_kid(self) -> str:
        """The key id new tokens are signed with."""
        return self._current

    @property
    def kids(self) -> tuple[str, ...]:
        """Every key id that still verifies."""
        return tuple(self._keys)

    def issue(
        self,
        subject: str,
        role: str,
        typ: str,
        *,
        session_id: str | None = None,
        extra: Mapping[str, Any] | None = None,
        ttl_s: int | None = None,
    ) -> str:
        """Sign a token of type ``typ`` for ``subject``; ``ttl_s`` defaults to the
        configured lifetime of the type. ``agent`` and ``viewer`` need a session id."""
        if typ not in TOKEN_TYPES:
            raise ValueError(f"unknown token type {typ!r}")
        if typ != "access" and not session_id:
            raise ValueError(f"{typ} tokens are scoped to one session")
        if extra and _RESERVED & set(extra):
            raise ValueError("extra claims must not override registered claims")
        ttl = ttl_s if ttl_s is not None else self._default_ttl_s.get(typ, 60)
        if ttl > self._max_ttl_s:
            raise ValueError("ttl_s exceeds the longest lifetime the keyring keeps keys for")
        now_s = self._clock.now_ms() // 1000
        claims: dict[str, Any] = dict(extra or {})
        claims.update(
            iss=ISSUER,
            sub=subject,
            role=role,
            typ=typ,
            iat=now_s,
            exp=now_s + ttl,
            jti=secrets.token_urlsafe(12),
        )
        if session_id is not None:
            claims["sid"] = session_id
        key = self._keys[self._current]
        return jwt.encode(claims, key.private, algorithm="EdDSA", headers={"kid": key.kid})

    def expires_at_ms(self, token: str) -> int:
        """The expiry of a token this service issued (milliseconds)."""
        return self.verify_any(token).exp * 1000

    def verify(self, token: str, typ: str, *, allow_expired: bool = False) -> Claims:
        """Check signature, key id, issuer, expiry and type; raise :class:`AuthError`.
        ``allow_expired`` skips only the expiry check: the caller must bound the
        token's use by other means (the agent rating window after a session's end)."""
        claims = self.verify_any(token, allow_expired=allow_expired)
        if claims.typ != typ:
            raise AuthError(f"a {typ} token is required")
        return claims

    def verify_any(self, token: str, *, allow_expired: bool = False) -> Claims:
        """Like :meth:`verify` for any token type."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError("malformed token") from exc
        kid = header.get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None and isinstance(kid, str) and self._reload_keys():
            key = self._keys.get(kid)  # another node rotated since we loaded
        if key is None:
            raise AuthError("token signed with an unknown key")
        if header.get("alg") != "EdDSA":
            raise AuthError("token algorithm not accepted")
        try:
            raw = jwt.decode(
                token,
                key.public,
                algorithms=["EdDSA"],
                issuer=ISSUER,
                options={
                    "verify_exp": False,  # checked below against the injected clock
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["iss", "sub", "typ", "iat", "exp", "jti"],
                },
            )
        except jwt.PyJWTError as exc:
            raise AuthError("invalid token") from exc
        exp, iat = raw.get("exp"), raw.get("iat")
        if not isinstance(exp, int) or not isinstance(iat, int):
            raise AuthError("invalid token times")
        if not allow_expired and self._clock.now_ms() >= exp * 1000:
            raise AuthError("token expired")
        typ = raw.get("typ")
        if typ not in TOKEN_TYPES:
            raise AuthError("unknown token type")
        sid = raw.get("sid")
        if typ != "access" and not isinstance(sid, str):
            raise AuthError("session token without a session")
        extra = {k: v for k, v in raw.items() if k not in _RESERVED}
        return Claims(
            sub=str(raw["sub"]),
            role=str(raw.get("role", "")),
            typ=str(typ),
            sid=sid if isinstance(sid, str) else None,
            iat=iat,
            exp=exp,
            jti=str(raw["jti"]),
            extra=extra,
        )


def _read_keyring(key_dir: Path) -> tuple[str, list[_Key]]:
    """``(current kid, keys)`` from ``key_dir/keyring.json`` (``("", [])`` if none)."""
    index_path = key_dir / "keyring.json"
    keys: list[_Key] = []
    current = ""
    if index_path.exists():
        index = json.loads(index_path.read_text())
        current = str(index["current"])
        for kid, meta in index["keys"].items():
            pem = (key_dir / f"{kid}.pem").read_bytes()
            private = serialization.load_pem_private_key(pem, password=None)
            if not isinstance(private, Ed25519PrivateKey):
                raise ValueError(f"JWT key {kid} is not Ed25519")
            keys.append(_Key(kid, private, int(meta["created_ms"]), meta.get("retired_ms")))
    return current, keys
