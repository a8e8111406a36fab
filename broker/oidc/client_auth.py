"""`private_key_jwt` client authentication (RFC 7523 section 2.2, OIDC Core section 9).

Authlib verifies the assertion; this module supplies what it leaves to us:
- the audience names only this server (draft-ietf-oauth-rfc7523bis, after the 2025
  audience-injection finding): the issuer or the endpoint the assertion is presented to (the
  token endpoint; at /par also the PAR endpoint), as a string or an array every member of which
  is one of those. An array holding anything else is refused, as is the PAR URL at /token.
- `exp` at most `oidc.client_assertion_max_lifetime_seconds` away (default 60 minutes: pyoidc
  signs for 10, Authlib for 60), and the `jti` replay check shared through Redis, each `jti`
  kept until its assertion expires.
- the client's keys, inline or from its `jwks_uri`.
"""

from __future__ import annotations

import logging
import threading
import time

import requests
from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import has_request_context, request
from joserfc.jwk import KeySet

log = logging.getLogger(__name__)

JWKS_CACHE_SECONDS = 300
JWKS_TIMEOUT = (2, 5)
MAX_JWKS_BYTES = 64 * 1024


class ClientKeys:
    """Public keys of `private_key_jwt` clients; `jwks_uri` documents are cached per process."""

    def __init__(self):
        self._cache: dict[str, tuple[float, KeySet]] = {}
        self._lock = threading.Lock()

    def for_client(self, client) -> KeySet:
        config = client.config
        if config.jwks is not None:
            return KeySet.import_key_set(config.jwks)
        with self._lock:
            cached = self._cache.get(config.client_id)
            if cached and time.time() - cached[0] < JWKS_CACHE_SECONDS:
                return cached[1]
        try:
            response = requests.get(config.jwks_uri, timeout=JWKS_TIMEOUT)
            response.raise_for_status()
            if len(response.content) > MAX_JWKS_BYTES:
                raise ValueError("JWKS document is too large")
            keys = KeySet.import_key_set(response.json())
        except (requests.RequestException, ValueError, KeyError) as exc:
            log.warning("could not fetch jwks_uri of client %s: %s", config.client_id,
                        type(exc).__name__)
            if cached:
                return cached[1]
            raise InvalidClientError(description="the client's jwks_uri could not be read") from None
        with self._lock:
            self._cache[config.client_id] = (time.time(), keys)
        return keys


class PrivateKeyJWTAuthentication(JWTBearerClientAssertion):
    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, broker, client_keys: ClientKeys):
        saml = broker.config.saml
        super().__init__(validate_jti=True, leeway=saml.clock_skew_seconds if saml else 30)
        self.broker = broker
        self.client_keys = client_keys

    def get_audiences(self) -> list[str]:
        issuer = self.broker.config.issuer
        audiences = [issuer, f"{issuer}/token"]
        if has_request_context() and request.endpoint == "oidc.pushed_authorization_request":
            audiences.append(f"{issuer}/par")
        return audiences

    def verify_claims(self, claims) -> None:
        audience = claims.get("aud")
        members = audience if isinstance(audience, list) else [audience]
        allowed = self.get_audiences()
        if not members or any(not isinstance(m, str) or m not in allowed for m in members):
            raise InvalidClientError(description="client assertion 'aud' must name only this "
                                                 "server: its issuer or token endpoint")
        super().verify_claims(claims)
        lifetime = self.broker.config.oidc.client_assertion_max_lifetime_seconds
        if not isinstance(claims["exp"], int | float) or \
                claims["exp"] > time.time() + lifetime + self.leeway:
            raise InvalidClientError(description=f"client assertion 'exp' is more than "
                                                 f"{lifetime} seconds away")

    def validate_jti(self, claims, jti) -> bool:
        ttl = int(claims["exp"] - time.time()) + self.leeway
        return self.broker.state.first_sighting("client-assertion", f"{claims['sub']}:{jti}", ttl)

    def resolve_client_public_key(self, client) -> KeySet:
        return self.client_keys.for_client(client)
