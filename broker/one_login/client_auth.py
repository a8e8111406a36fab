"""`private_key_jwt` client authentication at One Login's token endpoint (OpenID Connect Core 1.0
section 9; RFC 7523 section 3): a short-lived JWT signed with the broker's RSA key, RS256 or PS256
as One Login accepts, whose audience is the token endpoint and whose `jti` is never reused."""

from __future__ import annotations

import secrets
import time

from joserfc import jwt
from joserfc.jwk import RSAKey

from broker.config import OneLoginConfig

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 300


def signing_key(config: OneLoginConfig) -> RSAKey:
    return RSAKey.import_key(config.signing_jwk)


def client_assertion(config: OneLoginConfig, token_endpoint: str, now: float | None = None) -> str:
    now = int(time.time() if now is None else now)
    key = signing_key(config)
    header = {"alg": config.client_assertion_alg, "kid": key.kid}
    claims = {"iss": config.client_id, "sub": config.client_id, "aud": token_endpoint,
              "jti": secrets.token_urlsafe(24), "iat": now,
              "exp": now + ASSERTION_LIFETIME_SECONDS}
    return jwt.encode(header, claims, key, algorithms=[config.client_assertion_alg])


def public_jwks(config: OneLoginConfig) -> dict:
    """Every configured client key's public part, for One Login to verify our assertions."""
    keys = []
    for item in config.signing_keys:
        key = RSAKey.import_key(item.jwk)
        keys.append({**key.as_dict(private=False), "kid": key.kid, "use": "sig",
                     "alg": config.client_assertion_alg})
    return {"keys": keys}
