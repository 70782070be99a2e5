"""Staff single sign-on with OpenID Connect: the broker as a relying party
(authorization code flow with PKCE, ``state`` and ``nonce``; issue 18).

:class:`OidcClient` speaks to the provider: discovery, the authorization URL, the code
exchange, ID-token verification (signature against the provider's JWKS, then ``iss``,
``aud``, ``azp``, ``exp``, ``iat``, ``nonce`` and ``at_hash``), userinfo and the
RP-initiated logout URL. The protocol pieces are authlib's (``prepare_grant_uri``,
PKCE S256, ``CodeIDToken`` claim checks; joserfc, which authlib builds on, checks the
JWS); the HTTP is the broker's own aiohttp, because authlib's async clients need httpx
and the broker already runs aiohttp. broker/api/oidc_views.py runs the browser's side of
the flow. Settings: ``CLEARPANE_OIDC_*`` (docs/configuration.md).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
from aiohttp import web
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from broker.auth.oidc_roles import parse_role_map
from broker.clock import CLOCK, Clock
from broker.config import CONFIG, BrokerConfig
from broker.errors import BrokerError
from broker.store import queries
from broker.store.db import DB

__all__ = [
    "OIDC",
    "OidcClient",
    "OidcError",
    "OidcTokens",
    "end_session_url",
    "oidc_ctx",
    "public_origin",
]

log = logging.getLogger(__name__)

#: Signature algorithms accepted on ID tokens: asymmetric only (never ``none``, never
#: an HMAC keyed with the client secret).
ACCEPTED_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
METADATA_TTL_S = 3600.0
HTTP_TIMEOUT_S = 10.0
CLOCK_LEEWAY_S = 60


class OidcError(BrokerError):
    """Single sign-on failed; ``reason`` is the stable word the login page translates
    (``sso_state``, ``sso_provider``, ``sso_token``, ``sso_no_role``, ``sso_disabled``,
    ``sso_username``, ``sso_denied``)."""

    code = "unauthorized"  # never sent as such: the callback redirects with `reason`
    status = 401

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class OidcTokens:
    """What the provider's token endpoint answered, the ID token verified."""

    id_token: str
    access_token: str | None
    claims: Mapping[str, Any]


class OidcClient:
    """The broker's client at one provider (one per application, see :func:`oidc_ctx`)."""

    def __init__(self, config: BrokerConfig, http: aiohttp.ClientSession, clock: Clock) -> None:
        assert config.oidc_issuer is not None
        self.issuer = config.oidc_issuer
        self.client_id = config.oidc_client_id
        self._secret = config.oidc_client_secret
        self.scopes = tuple(dict.fromkeys(("openid", *config.oidc_scopes)))
        self.role_claim = config.oidc_role_claim
        self.role_map = parse_role_map(config.oidc_role_map)
        self.username_claim = config.oidc_username_claim
        self._allow_http = config.oidc_allow_http_loopback
        self._http = http
        self._clock = clock
        self._metadata: dict[str, Any] | None = None
        self._jwks: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    # --- provider metadata --------------------------------------------------------------

    def _check_url(self, url: Any, what: str) -> str:
        if not isinstance(url, str):
            raise OidcError("sso_provider", f"the provider's metadata has no {what}")
        loopback = url.startswith(("http://127.0.0.1:", "http://127.0.0.1/", "http://[::1]:"))
        if not url.startswith("https://") and not (self._allow_http and loopback):
            raise OidcError("sso_provider", f"the provider's {what} is not https://")
        return url

    async def _get_json(self, url: str, **kwargs: Any) -> Any:
        try:
            async with self._http.get(url, **kwargs) as response:
                if response.status != 200:
                    raise OidcError("sso_provider", f"{url} answered {response.status}")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise OidcError("sso_provider", f"the provider cannot be reached: {exc}") from exc

    async def metadata(self, *, refresh: bool = False) -> dict[str, Any]:
        """The provider's discovery document (and JWKS), cached for an hour."""
        async with self._lock:
            stale = self._clock.now_ms() / 1000 - self._fetched_at > METADATA_TTL_S
            if self._metadata is None or refresh or stale:
                url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
                meta = await self._get_json(url)
                if not isinstance(meta, dict) or meta.get("issuer") != self.issuer:
                    # OpenID Connect Discovery §4.3: the document names exactly our issuer.
                    raise OidcError("sso_provider", "the provider's metadata names another issuer")
                for what in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    self._check_url(meta.get(what), what)
                jwks = await self._get_json(meta["jwks_uri"])
                if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
                    raise OidcError("sso_provider", "the provider's JWKS is not a key set")
                self._metadata, self._jwks = meta, jwks
                self._fetched_at = self._clock.now_ms() / 1000
            return self._metadata

    # --- the flow ---------------------------------------------------------------------------

    async def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str
    ) -> str:
        """Where the browser goes to sign in (code flow, PKCE S256)."""
        meta = await self.metadata()
        url = prepare_grant_uri(
            meta["authorization_endpoint"],
            self.client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=" ".join(self.scopes),
            state=state,
            nonce=nonce,
            code_challenge=create_s256_code_challenge(code_verifier),
            code_challenge_method="S256",
        )
        return str(url)

    async def exchange(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str
    ) -> OidcTokens:
        """Trade the code for tokens and verify the ID token (against ``nonce``)."""
        meta = await self.metadata()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
            "client_id": self.client_id,
        }
        headers = {"Accept": "application/json"}
        if self._secret:  # client_secret_basic: RFC 6749 §2.3.1 form-encodes both parts
            pair = f"{quote(self.client_id, safe='')}:{quote(self._secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        try:
            async with self._http.post(
                meta["token_endpoint"], data=form, headers=headers
            ) as response:
                body = await response.json(content_type=None)
                if response.status != 200 or not isinstance(body, dict):
                    error = body.get("error") if isinstance(body, dict) else None
                    raise OidcError("sso_token", f"the provider refused the code ({error})")
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise OidcError("sso_provider", f"the provider cannot be reached: {exc}") from exc
        id_token = body.get("id_token")
        access = body.get("access_token")
        if not isinstance(id_token, str):
            raise OidcError("sso_token", "the provider sent no ID token")
        claims = await self.verify_id_token(
            id_token, nonce=nonce, access_token=access if isinstance(access, str) else None
        )
        return OidcTokens(id_token, access if isinstance(access, str) else None, claims)

    async def verify_id_token(
        self, id_token: str, *, nonce: str, access_token: str | None
    ) -> dict[str, Any]:
        """The ID token's claims once its signature and claims are checked."""
        meta = await self.metadata()
        offered = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
        algs = [a for a in offered if a in ACCEPTED_ALGS]
        registry = JWSRegistry(algorithms=algs, strict_check_header=False)
        try:
            try:
                token = jwt.decode(id_token, self._key_set(), registry=registry)
            except InvalidKeyIdError:  # the provider rotated its keys since we fetched them
                await self.metadata(refresh=True)
                token = jwt.decode(id_token, self._key_set(), registry=registry)
            params: dict[str, Any] = {"nonce": nonce, "client_id": self.client_id}
            if access_token:
                params["access_token"] = access_token
            options: dict[str, Any] = {
                "iss": {"essential": True, "value": self.issuer},
                "aud": {"essential": True, "value": self.client_id},
                "nonce": {"essential": True, "value": nonce},
            }
            checked = CodeIDToken(token.claims, token.header, options, params)
            checked.validate(now=self._clock.now_ms() // 1000, leeway=CLOCK_LEEWAY_S)
        except (JoseError, ValueError, TypeError) as exc:
            raise OidcError("sso_token", f"the ID token does not verify: {exc}") from exc
        return dict(checked)

    def _key_set(self) -> KeySet:
        jwks: Any = self._jwks or {"keys": []}  # checked to be {"keys": [...]} when fetched
        return KeySet.import_key_set(jwks)

    async def userinfo(self, access_token: str) -> dict[str, Any]:
        """The userinfo answer (for claims the ID token left out); {} if there is no
        userinfo endpoint."""
        meta = await self.metadata()
        url = meta.get("userinfo_endpoint")
        if not url:
            return {}
        found = await self._get_json(
            self._check_url(url, "userinfo_endpoint"),
            headers={"Authorization": f"Bearer {access_token}"},
        )
        return found if isinstance(found, dict) else {}

    async def logout_url(self, *, id_token: str, post_logout_redirect_uri: str) -> str | None:
        """The provider's RP-initiated logout URL, or None if it offers none."""
        try:
            meta = await self.metadata()
        except OidcError:
            return None  # the local logout stands; the provider is not reachable now
        endpoint = meta.get("end_session_endpoint")
        if not isinstance(endpoint, str):
            return None
        query = urlencode(
            {
                "id_token_hint": id_token,
                "post_logout_redirect_uri": post_logout_redirect_uri,
                "client_id": self.client_id,
            }
        )
        return f"{self._check_url(endpoint, 'end_session_endpoint')}?{query}"


# The application's OIDC client; absent when single sign-on is not configured.
OIDC = web.AppKey[OidcClient]("oidc")


def public_origin(request: web.Request) -> str:
    """The broker's URL as the browser sees it: ``CLEARPANE_PUBLIC_URL``, else the
    request's scheme and host (the provider checks every redirect URI against the
    ones registered for the client, so a forged Host header only gets a refusal)."""
    config = request.app[CONFIG]
    if config.public_url:
        return config.public_url.rstrip("/")
    return f"{request.scheme}://{request.host}"


async def end_session_url(request: web.Request, user: queries.User) -> str | None:
    """Where a single sign-on user's browser goes after the local logout to end the
    provider's session too (back to the viewer's login page afterwards); None when
    there is no provider, no ID token of theirs or no end-session endpoint."""
    client = request.app.get(OIDC)
    if client is None:
        return None
    id_token = await queries.latest_id_token(request.app[DB], user.id)
    if id_token is None:
        return None
    return await client.logout_url(
        id_token=id_token, post_logout_redirect_uri=public_origin(request) + "/"
    )


async def oidc_ctx(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: the provider client and its HTTP session (when configured)."""
    config = app[CONFIG]
    if config.oidc_issuer is None:
        yield
        return
    context = ssl.create_default_context(
        cafile=str(config.oidc_ca_file) if config.oidc_ca_file else None
    )
    http = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=context),
        timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S),
    )
    app[OIDC] = OidcClient(config, http, app[CLOCK])
    try:
        yield
    finally:
        await http.close()
