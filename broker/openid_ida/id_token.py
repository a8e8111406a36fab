"""The provider's ID token: its signature verified against the provider's JWKS with the algorithms
its discovery document names (never `none`, never HMAC with a public key), fetching the JWKS again
once on failure (the provider may have rotated its keys); then the claims of OpenID Connect Core
3.1.3.7 with the shared registry (broker.upstreams.id_token).
"""

from __future__ import annotations

from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError

from broker.openid_ida.provider import OpenIdProvider, PublishedTrust
from broker.upstreams.id_token import IdTokenClaims

MAX_ID_TOKEN = 16 * 1024


class IdTokenRejected(Exception):
    """The ID token is not one the broker may believe for this flow; the message says why."""


def verified_id_token(value: Any, provider: OpenIdProvider, trust: PublishedTrust,
                      checks: IdTokenClaims) -> dict[str, Any]:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_TOKEN:
        raise IdTokenRejected("the token response has no ID token")
    algorithms = list(trust.provider.id_token_signing_algs)
    try:
        try:
            token = jwt.decode(value, trust.id_token_keys, algorithms=algorithms)
        except (JoseError, ValueError) as first:
            fresh = provider.refetch_for_unknown_key(trust)
            if fresh is None:
                raise first
            token = jwt.decode(value, fresh.id_token_keys, algorithms=algorithms)
    except (JoseError, ValueError, TypeError) as exc:
        raise IdTokenRejected(f"the ID token's signature does not verify: "
                              f"{type(exc).__name__}") from None
    if not isinstance(token.claims, dict):
        raise IdTokenRejected("the ID token's payload is not a JSON object")
    try:
        checks.validate(token.claims)
    except JoseError as exc:
        raise IdTokenRejected(f"the ID token is refused: {exc.description or exc.error}") from None
    return token.claims
