"""The broker's keys for `private_key_jwt` at One Login's token endpoint (OpenID Connect Core 1.0
section 9; RFC 7523 section 3): RSA, RS256 or PS256 as One Login accepts. The assertion itself
(audience the token endpoint, a fresh `jti`, five minutes' life) is made by Authlib's
`PrivateKeyJWT` (broker.one_login.callback)."""

from __future__ import annotations

from joserfc.jwk import RSAKey

from broker.config import OneLoginConfig

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_SECONDS = 300


def signing_key(config: OneLoginConfig) -> RSAKey:
    return RSAKey.import_key(config.signing_jwk)


def public_jwks(config: OneLoginConfig) -> dict:
    """Every configured client key's public part, for One Login to verify our assertions."""
    keys = []
    for item in config.signing_keys:
        key = RSAKey.import_key(item.jwk)
        keys.append({**key.as_dict(private=False), "kid": key.kid, "use": "sig",
                     "alg": config.client_assertion_alg})
    return {"keys": keys}
